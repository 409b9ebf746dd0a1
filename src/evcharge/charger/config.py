"""Configuration of the EVSE manager: one frozen dataclass, defaults from the standards."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from evcharge.iec61851 import ChargerConfig, ChargingMode
from evcharge.iso15118.engines.config import SeccConfig
from evcharge.iso15118.engines.events import DcLimits, EnergyMode, Payment
from evcharge.iso15118.session import SeccSessionConfig
from evcharge.slac.config import EvseConfig

__all__ = ["EvseManagerConfig"]


@dataclass(frozen=True, slots=True, kw_only=True)
class EvseManagerConfig:
    """What one EVSE of a charger is and how its manager behaves.

    ``energy`` is ``"dc"`` (a DC power supply and an isolation monitor are given to the manager), ``"dc-bpt"``
    (DC with bidirectional power transfer, ISO 15118-20) or ``"ac"``. ``payments``: what the SECC offers
    (Plug & Charge only over TLS). ``free_charging``: authorize every session without asking the CSMS (the charge
    point hears of no identifier: a 2.x transaction runs without one from the plug-in, TxStartPoint EVConnected; a
    1.6 charge point starts none, 1.6 StartTransaction needs an idTag -- give it one with a card or a remote start).
    ``profile_wait``: how long ChargeParameterDiscovery stays ``Ongoing`` after NotifyEVChargingNeeds for
    the CSMS's SetChargingProfile (then the charger's own limits are offered). ``meter_interval``: how often the
    manager reports its meter's values (:class:`~evcharge.charger.events.MeterUpdate`) while a car is plugged in;
    the transaction messages sample them at their own interval (:meth:`ocpp_settings`). ``ocpp_version``: the
    OCPP version of the charge point the manager's inputs go to (the identifiers' shape: a 1.6 ``idTag`` string, a
    2.x ``IdTokenType``; the 2.x-only calls NotifyEVChargingNeeds and Get15118EVCertificate).
    """

    evse_id: int = 1
    connector_id: int = 1
    energy: str = "dc"
    dc_limits: DcLimits = field(
        default_factory=lambda: DcLimits(max_voltage=920.0, max_current=200.0, max_power=150_000.0,
                                         min_voltage=150.0, min_current=0.0, peak_current_ripple=2.0)
    )
    ac_max_current: float = 32.0
    ac_phases: int = 3
    ac_voltage: float = 230.0
    payments: tuple[Payment, ...] = (Payment.EIM,)
    free_charging: bool = False
    #: the SECC engine's base configuration (EVSEID, timers, quirks, trace); energy modes, payments and limits
    #: are set by the manager
    secc: SeccConfig = field(default_factory=SeccConfig)
    #: ISO 15118-20 Plug & Charge trust (an :class:`~evcharge.iso15118.engines.iso20.pnc.PncTrust`: the MO roots;
    #: its ``provider`` None sends CertificateInstallation to the CSMS as Get15118EVCertificate); None: no -20 PnC
    iso20_pnc: Any = None
    session: SeccSessionConfig = field(default_factory=SeccSessionConfig)
    slac: EvseConfig = field(default_factory=EvseConfig)
    pilot: ChargerConfig = field(default_factory=lambda: ChargerConfig(mode=ChargingMode.HLC))
    profile_wait: float = 1.0
    meter_interval: float = 1.0
    ocpp_version: str = "2.0.1"
    #: the transaction messages' meter-value period (SampledDataCtrlr.TxUpdatedInterval, 1.6
    #: MeterValueSampleInterval), set by :meth:`ocpp_settings`
    tx_updated_interval: int = 10
    #: the voltage of the CableCheck isolation test, or None for the lower of the car's and the charger's
    #: maximum voltage
    cable_check_voltage: float | None = None
    #: the PreCharge current limit, at most 2 A in IEC 61851-23
    pre_charge_current: float = 2.0
    #: the output trips above the car's maximum voltage plus this margin, in volts
    over_voltage_margin: float = 10.0
    #: in basic AC charging (``energy`` ``"ac"`` with ``pilot.mode`` BASIC) the metered power in watts above which
    #: energy counts as flowing (EnergyStateChanged Charging, below it SuspendedEV or SuspendedEVSE)
    ac_flowing_w: float = 100.0
    #: the stop reason of a transaction an RCD or over-current trip ends, or None for the fault's OCPP 2.0.1
    #: ``ReasonEnumType`` (GroundFault, OvercurrentFault); a 1.6 station writes the reasons 1.6 does not have as
    #: Other, so a 1.6 station may want EmergencyStop here
    trip_stop_reason: str | None = None

    @property
    def energy_modes(self) -> tuple[EnergyMode, ...]:
        if self.energy == "ac":
            return (EnergyMode.AC_THREE_PHASE if self.ac_phases == 3 else EnergyMode.AC_SINGLE_PHASE,)
        return (EnergyMode.DC_EXTENDED, EnergyMode.DC_CORE)

    def __post_init__(self) -> None:
        if self.energy not in ("ac", "dc", "dc-bpt"):
            raise ValueError(f"energy {self.energy!r}: ac, dc or dc-bpt")
        if self.ocpp_version not in ("1.6", "2.0.1", "2.1"):
            raise ValueError(f"ocpp_version {self.ocpp_version!r}: 1.6, 2.0.1 or 2.1")

    def ocpp_settings(self) -> dict[tuple[str, str], str]:
        """The charge point's device-model settings this EVSE expects (``{(component, variable): value}``, for
        :meth:`~evcharge.ocpp.functions.transport.station.Station.configure`): the transaction starts when the
        cable is plugged in (TxCtrlr.TxStartPoint ``EVConnected``: SLAC, the V2G session, its authorization and
        its needs belong to it) and its meter values carry the state of charge, voltage, current and power
        (SampledDataCtrlr.TxUpdatedMeasurands every :attr:`tx_updated_interval` s; TxEndedMeasurands), and the
        energy given back by a DC_BPT car."""
        energy = ["Energy.Active.Import.Register"] + (["Energy.Active.Export.Register"] if self.energy == "dc-bpt"
                                                      else [])
        updated = [*energy, "Power.Active.Import", "Voltage", "Current.Import", "SoC"]
        return {("TxCtrlr", "TxStartPoint"): "EVConnected",
                ("SampledDataCtrlr", "TxUpdatedMeasurands"): ",".join(updated),
                ("SampledDataCtrlr", "TxUpdatedInterval"): str(self.tx_updated_interval),
                ("SampledDataCtrlr", "TxEndedMeasurands"): ",".join([*energy, "SoC"])}
