"""Build the function configurations from the device model (2.0.1 variables, which are also the 1.6 keys).

Every function takes a frozen config; these helpers read it off a :class:`.DeviceModel`, so a
SetVariables / ChangeConfiguration from the CSMS takes effect by building the config again.
A variable missing from the model keeps the config class's default.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, TypeVar

from ._common import FunctionsLocalError
from .authorization import AuthorizationConfig
from .device_model import ComponentKey, DeviceModel, VariableKey
from .offline_queue import OfflineQueueConfig
from .smart_charging import ChargingRateUnit, SmartChargingConfig
from .transactions import TransactionConfig

Version = Literal["1.6", "2.0.1", "2.1"]
_T = TypeVar("_T")

__all__ = [
    "authorization_config",
    "offline_queue_config",
    "smart_charging_config",
    "transaction_config",
]


def _read(read: Callable[[], _T], default: _T) -> _T:
    try:
        return read()
    except (FunctionsLocalError, ValueError):
        return default


def transaction_config(dm: DeviceModel, *, version: Version, evse_count: int) -> TransactionConfig:
    """TxCtrlr, SampledDataCtrlr and AlignedDataCtrlr variables -> :class:`.TransactionConfig`."""
    d = TransactionConfig()
    sampled_on = _read(lambda: dm.get_bool("SampledDataCtrlr", "Enabled"), True)
    aligned_on = _read(lambda: dm.get_bool("AlignedDataCtrlr", "Enabled"), True)
    return TransactionConfig(
        version=version,
        evse_count=evse_count,
        sampled_interval=_read(lambda: dm.get_int("SampledDataCtrlr", "TxUpdatedInterval"), int(d.sampled_interval))
        if sampled_on else 0,
        sampled_measurands=tuple(_read(lambda: dm.get_list("SampledDataCtrlr", "TxUpdatedMeasurands"),
                                       list(d.sampled_measurands))),
        started_measurands=tuple(_read(lambda: dm.get_list("SampledDataCtrlr", "TxStartedMeasurands"),
                                       list(d.started_measurands))),
        ended_measurands=tuple(_read(lambda: dm.get_list("SampledDataCtrlr", "TxEndedMeasurands"),
                                     list(d.ended_measurands))),
        aligned_interval=_read(lambda: dm.get_int("AlignedDataCtrlr", "Interval"), int(d.aligned_interval))
        if aligned_on else 0,
        aligned_measurands=tuple(_read(lambda: dm.get_list("AlignedDataCtrlr", "Measurands"),
                                       list(d.aligned_measurands))),
        tx_start_points=frozenset(_read(lambda: dm.get_list("TxCtrlr", "TxStartPoint"), list(d.tx_start_points))),
        tx_stop_points=frozenset(_read(lambda: dm.get_list("TxCtrlr", "TxStopPoint"), list(d.tx_stop_points))),
        stop_on_ev_side_disconnect=_read(lambda: dm.get_bool("TxCtrlr", "StopTxOnEVSideDisconnect"),
                                         d.stop_on_ev_side_disconnect),
        ev_connection_timeout=float(_read(lambda: dm.get_int("TxCtrlr", "EVConnectionTimeOut"),
                                          int(d.ev_connection_timeout))),
    )


def authorization_config(dm: DeviceModel, *, version: Version) -> AuthorizationConfig:
    """AuthCtrlr, AuthCacheCtrlr and LocalAuthListCtrlr variables -> :class:`.AuthorizationConfig`."""
    d = AuthorizationConfig()
    lifetime = _read(lambda: dm.get_int("AuthCacheCtrlr", "LifeTime"), 0)
    return AuthorizationConfig(
        version=version,
        local_authorize_offline=_read(lambda: dm.get_bool("AuthCtrlr", "LocalAuthorizeOffline"),
                                      d.local_authorize_offline),
        local_pre_authorize=_read(lambda: dm.get_bool("AuthCtrlr", "LocalPreAuthorize"), d.local_pre_authorize),
        allow_offline_tx_for_unknown_id=_read(lambda: dm.get_bool("AuthCtrlr", "OfflineTxForUnknownIdEnabled"),
                                              d.allow_offline_tx_for_unknown_id),
        cache_enabled=_read(lambda: dm.get_bool("AuthCacheCtrlr", "Enabled"), d.cache_enabled),
        local_list_enabled=_read(lambda: dm.get_bool("LocalAuthListCtrlr", "Enabled"), d.local_list_enabled),
        cache_lifetime=float(lifetime) if lifetime > 0 else None,
        local_list_max_entries=_read(lambda: dm.get_int("LocalAuthListCtrlr", "Entries", "MaxSet"),
                                     d.local_list_max_entries),
        send_local_list_max_length=_read(lambda: dm.get_int("LocalAuthListCtrlr", "ItemsPerMessage"),
                                         d.send_local_list_max_length),
    )


def smart_charging_config(dm: DeviceModel, *, version: Version, evse_count: int, max_current_a: float = 32.0,
                          station_max_current_a: float | None = None,
                          nominal_voltage: float = 230.0) -> SmartChargingConfig:
    """SmartChargingCtrlr variables (and the hardware limits you pass) -> :class:`.SmartChargingConfig`."""
    d = SmartChargingConfig()
    units = _read(lambda: dm.get_list("SmartChargingCtrlr", "RateUnit"), ["A", "W"])
    phases = _read(lambda: dm.get_int("ChargingStation", "SupplyPhases"), d.default_number_phases)
    return SmartChargingConfig(
        version=version,
        evse_count=evse_count,
        nominal_voltage=nominal_voltage,
        default_number_phases=phases if phases in (1, 2, 3) else 3,
        max_current_a=max_current_a,
        station_max_current_a=station_max_current_a,
        max_stack_level=_read(lambda: dm.get_int("SmartChargingCtrlr", "ProfileStackLevel"), d.max_stack_level),
        max_periods_per_schedule=_read(lambda: dm.get_int("SmartChargingCtrlr", "PeriodsPerSchedule"),
                                       d.max_periods_per_schedule),
        max_profiles=_read(lambda: dm.get_int(ComponentKey("SmartChargingCtrlr"),
                                              VariableKey("Entries", "ChargingProfiles"), "MaxSet"), d.max_profiles),
        allowed_units=frozenset(ChargingRateUnit(u) for u in units if u in ("A", "W")) or d.allowed_units,
    )


def offline_queue_config(dm: DeviceModel) -> OfflineQueueConfig:
    """OCPPCommCtrlr MessageAttempts / MessageAttemptInterval (TransactionEvent) -> :class:`.OfflineQueueConfig`."""
    d = OfflineQueueConfig()
    return OfflineQueueConfig(
        retry_attempts=max(1, _read(lambda: dm.get_int(ComponentKey("OCPPCommCtrlr"),
                                                       VariableKey("MessageAttempts", "TransactionEvent")),
                                    d.retry_attempts)),
        retry_interval=float(_read(lambda: dm.get_int(ComponentKey("OCPPCommCtrlr"),
                                                      VariableKey("MessageAttemptInterval", "TransactionEvent")),
                                   int(d.retry_interval))),
        max_messages=d.max_messages,
    )
