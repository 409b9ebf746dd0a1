"""Fuzzing the CSMS-facing handlers: any payload is either answered or refused with FunctionsRemoteError.

The payloads are random JSON shaped like the real requests (right top-level keys, random values and nesting),
so the handlers' parsing paths are reached; nothing else may come out (no KeyError, TypeError, ValueError...).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evcharge.ocpp.functions.authorization import Authorization, AuthorizationConfig
from evcharge.ocpp.functions.device_model import DeviceModel, default_template
from evcharge.ocpp.functions.errors import FunctionsRemoteError
from evcharge.ocpp.functions.smart_charging import SmartCharging, SmartChargingConfig
from evcharge.ocpp.functions.transport.sqlite import SqliteStore

pytestmark = pytest.mark.fuzz
NOW = datetime(2024, 1, 1, tzinfo=UTC)

scalars = st.one_of(st.none(), st.booleans(), st.integers(-(2**40), 2**40),
                    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12),
                    st.sampled_from(["Actual", "MaxSet", "TxDefaultProfile", "TxProfile", "ChargePointMaxProfile",
                                     "ChargingStationMaxProfile", "Absolute", "Recurring", "Relative", "Daily",
                                     "Weekly", "A", "W", "Full", "Differential", "EVSE", "OCPPCommCtrlr",
                                     "HeartbeatInterval", "2024-01-01T00:00:00Z", "Accepted", "FullInventory"]))
KEYS = ["component", "variable", "name", "instance", "evse", "id", "connectorId", "attributeType", "attributeValue",
        "chargingProfile", "csChargingProfiles", "chargingProfileId", "stackLevel", "chargingProfilePurpose",
        "chargingProfileKind", "recurrencyKind", "validFrom", "validTo", "chargingSchedule", "chargingRateUnit",
        "chargingSchedulePeriod", "startPeriod", "limit", "numberPhases", "startSchedule", "duration",
        "transactionId", "idTag", "idTagInfo", "idToken", "idTokenInfo", "type", "status", "expiryDate",
        "cacheExpiryDateTime", "requestId", "reportBase", "componentVariable", "componentCriteria", "key", "value"]
json_values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.sampled_from(KEYS), inner, max_size=6)), max_leaves=25)


def shaped(*top: str) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({}, optional={k: json_values for k in top})


def answered_or_refused(handler: Callable[[Any], Any], payload: Any) -> None:
    try:
        result = handler(payload)
    except FunctionsRemoteError:
        return
    assert isinstance(result, dict | tuple)


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> tuple[DeviceModel, Authorization, Authorization]:
    d = tmp_path_factory.mktemp("fuzz")
    return (DeviceModel(default_template(2), store=SqliteStore(Path(d) / "dm.sqlite")),
            Authorization(AuthorizationConfig(version="1.6"), store=SqliteStore(Path(d) / "a16.sqlite")),
            Authorization(AuthorizationConfig(version="2.0.1"), store=SqliteStore(Path(d) / "a201.sqlite")))


FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@FUZZ
@given(shaped("getVariableData"), shaped("setVariableData"), shaped("requestId", "reportBase"),
       shaped("requestId", "componentVariable", "componentCriteria"), shaped("key"), shaped("key", "value"))
def test_device_model_handlers(stores: Any, get: Any, set_: Any, base: Any, report: Any, conf: Any,
                               change: Any) -> None:
    dm = stores[0]
    answered_or_refused(dm.handle_get_variables, get)
    answered_or_refused(dm.handle_set_variables, set_)
    answered_or_refused(dm.handle_get_base_report, base)
    answered_or_refused(dm.handle_get_report, report)
    answered_or_refused(dm.handle_get_configuration, conf)
    answered_or_refused(dm.handle_change_configuration, change)


@FUZZ
@given(shaped("listVersion", "updateType", "localAuthorizationList"),
       shaped("versionNumber", "updateType", "localAuthorizationList"))
def test_local_list_handlers(stores: Any, v16_payload: Any, v201_payload: Any) -> None:
    answered_or_refused(stores[1].handle_send_local_list, v16_payload)
    answered_or_refused(stores[2].handle_send_local_list, v201_payload)


@FUZZ
@given(shaped("connectorId", "csChargingProfiles"), shaped("evseId", "chargingProfile"),
       shaped("connectorId", "duration", "chargingRateUnit"), shaped("evseId", "duration", "chargingRateUnit"),
       shaped("id", "connectorId", "chargingProfilePurpose", "stackLevel"),
       shaped("chargingProfileId", "chargingProfileCriteria"))
def test_smart_charging_handlers(set16: Any, set201: Any, comp16: Any, comp201: Any, clear16: Any,
                                 clear201: Any) -> None:
    for version, set_p, comp_p, clear_p in (("1.6", set16, comp16, clear16), ("2.0.1", set201, comp201, clear201)):
        sc = SmartCharging(SmartChargingConfig(version=version, evse_count=2))  # type: ignore[arg-type]
        answered_or_refused(lambda p, sc=sc: sc.handle_set_charging_profile(p, NOW.timestamp()), set_p)
        answered_or_refused(lambda p, sc=sc: sc.handle_get_composite_schedule(p, NOW.timestamp()), comp_p)
        answered_or_refused(sc.handle_clear_charging_profile, clear_p)


VALID = {
    "set201": {"evseId": 1, "chargingProfile": {
        "id": 1, "stackLevel": 0, "chargingProfilePurpose": "TxDefaultProfile", "chargingProfileKind": "Recurring",
        "recurrencyKind": "Daily", "validFrom": "2023-01-01T00:00:00Z",
        "chargingSchedule": [{"id": 1, "startSchedule": "2023-06-01T22:00:00Z", "chargingRateUnit": "W",
                              "duration": 3600, "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 6000.0},
                                                                           {"startPeriod": 60, "limit": 4000.0,
                                                                            "numberPhases": 1}]}]}},
    "set16": {"connectorId": 0, "csChargingProfiles": {
        "chargingProfileId": 3, "stackLevel": 1, "chargingProfilePurpose": "ChargePointMaxProfile",
        "chargingProfileKind": "Absolute", "chargingSchedule": {
            "chargingRateUnit": "A", "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16}]}}},
    "setvar": {"setVariableData": [{"component": {"name": "EVSE", "evse": {"id": 1}}, "variable": {"name": "Power"},
                                    "attributeType": "Actual", "attributeValue": "1"},
                                   {"component": {"name": "TxCtrlr"}, "variable": {"name": "TxStopPoint"},
                                    "attributeValue": "EVConnected"}]},
    "list201": {"versionNumber": 5, "updateType": "Differential", "localAuthorizationList": [
        {"idToken": {"idToken": "A", "type": "ISO14443"},
         "idTokenInfo": {"status": "Accepted", "cacheExpiryDateTime": "2030-01-01T00:00:00Z"}},
        {"idToken": {"idToken": "B", "type": "ISO14443"}}]},
}


def mutate(value: Any, data: st.DataObject, depth: int = 0) -> Any:
    """Replace, drop or keep parts of a valid payload, recursively."""
    choice = data.draw(st.integers(0, 5), label=f"op{depth}")
    if choice == 0:
        return data.draw(json_values, label=f"new{depth}")
    if isinstance(value, dict) and value:
        out = {}
        for k, v in value.items():
            if data.draw(st.integers(0, 9), label=f"drop{depth}") == 0:
                continue
            out[k] = mutate(v, data, depth + 1)
        return out
    if isinstance(value, list):
        return [mutate(v, data, depth + 1) for v in value]
    return value


@FUZZ
@given(st.data())
def test_mutated_valid_payloads(stores: Any, data: st.DataObject) -> None:
    sc201 = SmartCharging(SmartChargingConfig(version="2.0.1"))
    sc16 = SmartCharging(SmartChargingConfig(version="1.6"))
    answered_or_refused(lambda p: sc201.handle_set_charging_profile(p, NOW.timestamp()), mutate(VALID["set201"], data))
    answered_or_refused(lambda p: sc16.handle_set_charging_profile(p, NOW.timestamp()), mutate(VALID["set16"], data))
    answered_or_refused(stores[0].handle_set_variables, mutate(VALID["setvar"], data))
    answered_or_refused(stores[2].handle_send_local_list, mutate(VALID["list201"], data))
    # whatever got installed, evaluating it never fails
    for sc in (sc201, sc16):
        sc.composite_schedule(1, NOW, 7 * 86400)
        sc.limit_at(0, NOW)
