"""Configuration of the ISO 15118-20 engines: timers, what each side offers, how the simulated car drives.

Timer values (``shared/facts/v2g_slac_iec61851.md`` §2.3; every one can be changed):

* EVCC message timeouts: Josev's published -20 values (``shared/messages/iso15118_20/timeouts.py``):
  2 s for most requests, 5 s for ServiceDetail and CertificateInstallation, 0.5 s for the AC/DC charge loop.
* SECC: V2G_SECC_Sequence_Timeout 60 s (Josev, libiso15118 ``TIMEOUT_SEQUENCE``); the Ongoing limits
  60 s (Josev), 55 s for ScheduleExchange and 180 s for EIM Authorization (libiso15118 ``d20/timeout.hpp``).
* Performance deadlines are not public for -20: the ISO 15118-2 values are kept (1.5 s / 4.5 s, and
  25 ms for the charge loop as for CurrentDemand); they are carried on the request events, never enforced.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from evcharge.clock import WallClock

from ..config import Quirks
from ..events import Payment
from .events import ControlMode, EnergyRequest, EnergyService, PowerLimits, PowerSchedule

__all__ = [
    "Iso20EvccConfig",
    "Iso20EvccTimeouts",
    "Iso20PerformanceTimes",
    "Iso20SeccConfig",
    "Iso20SeccTimeouts",
]

_LONG = frozenset({"ServiceDetail", "CertificateInstallation"})


@dataclass(frozen=True, slots=True, kw_only=True)
class Iso20PerformanceTimes:
    """By when the SECC should answer; shown as ``RequestEvent.deadline``, never enforced."""

    default: float = 1.5
    long: float = 4.5  #: ServiceDetail, CertificateInstallation, PowerDelivery
    charge_loop: float = 0.025
    #: the WPT charge loop's deadline, V2G_SECC_Msg_Performance_Time of WPT_ChargeLoopReq in Table 218 of
    #: ISO 15118-20 (0.25 s)
    wpt_charge_loop: float = 0.25
    long_requests: frozenset[str] = _LONG | {"PowerDelivery"}

    def for_request(self, request: str) -> float:
        if request == "ChargeLoop":
            return self.charge_loop
        if request == "WPT_ChargeLoop":
            return self.wpt_charge_loop
        return self.long if request in self.long_requests else self.default


@dataclass(frozen=True, slots=True, kw_only=True)
class Iso20SeccTimeouts:
    """Enforced on the charger side."""

    sequence: float = 60.0  #: V2G_SECC_Sequence_Timeout (Josev; libiso15118 TIMEOUT_SEQUENCE = 60000)
    ongoing: float = 60.0  #: Ongoing answers in CableCheck etc. (Josev, 60 s)
    schedule_exchange_ongoing: float = 55.0  #: libiso15118 TIMEOUT_ONGOING = 55000
    eim_ongoing: float = 180.0  #: libiso15118 TIMEOUT_EIM_ONGOING = 180000
    #: the provider's answer to a CertificateInstallationReq (EVCC waits 5 s)
    certificate: float = 4.5
    #: close TCP this long after SessionStopRes or a FAILED response (<= 5 s, [V2G20-1643])
    close_delay: float = 2.0

    def ongoing_for(self, request: str) -> float:
        if request == "ScheduleExchange":
            return self.schedule_exchange_ongoing
        if request == "Authorization":
            return self.eim_ongoing
        return self.ongoing


@dataclass(frozen=True, slots=True, kw_only=True)
class Iso20EvccTimeouts:
    """Enforced on the car side: Josev's -20 EVCC timeouts."""

    default: float = 2.0
    long: float = 5.0  #: ServiceDetail, CertificateInstallation
    charge_loop: float = 0.5  #: AC/DC_ChargeLoop (AC_CHARGE_LOOP_REQ / DC_CHARGE_LOOP_REQ = 0.5)
    ongoing: float = 60.0  #: V2G_EVCC_Ongoing_Timeout
    communication_setup: float = 20.0  #: used when HandOver has no setup deadline
    long_requests: frozenset[str] = _LONG

    def for_request(self, request: str) -> float:
        if request in ("ChargeLoop", "WPT_ChargeLoop"):  # WPT_ChargeLoopRes: 0.5 s too (Table 218)
            return self.charge_loop
        return self.long if request in self.long_requests else self.default


def _default_schedule() -> tuple[PowerSchedule, ...]:
    return (PowerSchedule(tuple_id=1, charging=((86_400, 50_000.0),), discharging=((86_400, 50_000.0),)),)


@dataclass(frozen=True, slots=True, kw_only=True)
class Iso20SeccConfig:
    """What the charger offers and how its -20 engine behaves."""

    evse_id: str = "DE*EVC*E0001"
    #: the energy services offered (those of the negotiated namespace are used, AC/AC_BPT or DC/DC_BPT)
    services: tuple[EnergyService, ...] = (
        EnergyService.DC,
        EnergyService.DC_BPT,
        EnergyService.AC,
        EnergyService.AC_BPT,
    )
    #: the control modes offered in ServiceDetailRes (the car picks one in ServiceSelection)
    control_modes: tuple[ControlMode, ...] = (ControlMode.SCHEDULED, ControlMode.DYNAMIC)
    vas: tuple[int, ...] = ()  #: value-added services by ServiceID (65 Internet, 66 ParkingStatus, ...)
    payments: tuple[Payment, ...] = (Payment.EIM, Payment.PNC)  #: Plug & Charge is offered over TLS only
    free_service: bool = False
    certificate_installation_service: bool = True  #: offered over TLS only
    limits: PowerLimits | None = None  #: the EVSE's limits known at start (else SetPowerLimits)
    #: schedules offered when the application pushed none (None answers Ongoing until it does)
    schedules: tuple[PowerSchedule, ...] | None = field(default_factory=_default_schedule)
    service_renegotiation_supported: bool = True
    schedule_renegotiation_allowed: bool = True
    pause_allowed: bool = True
    standby_allowed: bool = True
    #: a schedule without price levels is sent with a flat one-level PriceLevelSchedule (level 1 for its whole
    #: length); the schema makes prices optional, Josev's EVCC refuses a ChargingSchedule without one
    #: (iso15118 0.31.2 ``ChargingSchedule`` validator)
    flat_price_levels: bool = True
    #: a schedule offered with a PowerTolerance must be confirmed by the car (PowerToleranceAcceptance); False
    #: answers an unconfirmed one WARNING_PowerToleranceNotConfirmed, True FAILED_PowerToleranceNotConfirmed
    require_power_tolerance_confirmation: bool = False
    #: accept PowerDeliveryReq right after a DC_PreChargeReq(EVProcessing=Ongoing), without the
    #: DC_PreChargeReq(Finished) [V2G20-2005] asks for; Josev's EVCC (iso15118 0.31.2) goes straight to
    #: PowerDelivery (EVerest/EVerest #2305 discusses the rule). False is the strict sequencing.
    power_delivery_after_precharge_ongoing: bool = True
    auto_authorize: bool = False
    #: answer VehicleCheckInReq (after ServiceSelection) and VehicleCheckOutReq (after PowerDelivery(Stop)); False
    #: leaves them out of the table (FAILED_SequenceError)
    vehicle_check_in_out: bool = True
    #: the WPT primary device's power class (PDInputPowerClass, MF-WPT1 3.7 kVA to MF-WPT4 22 kVA) and its
    #: largest coil current in A, answered in WPT_ChargeParameterDiscoveryRes
    wpt_power_class: str = "MF-WPT3"
    wpt_max_coil_current: float = 60.0
    #: tolerated excess (W) of the car's EVPowerProfile over the chosen power schedule
    profile_tolerance: float = 0.0
    #: Plug & Charge trust (a :class:`~evcharge.iso15118.engines.iso20.pnc.PncTrust` with MO roots, certificate
    #: provider); PnC and CertificateInstallation are offered only with it and over TLS
    pnc: Any = None
    timeouts: Iso20SeccTimeouts = field(default_factory=Iso20SeccTimeouts)
    performance: Iso20PerformanceTimes = field(default_factory=Iso20PerformanceTimes)
    quirks: Quirks = field(default_factory=Quirks)
    #: maps ``now`` to the Unix time of the message headers (None reads it once at hand-over)
    clock: WallClock | None = None
    trace: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Iso20EvccConfig:
    """The simulated or real car's side of a -20 session."""

    evcc_id: str = "WMIV1234567890ABCDEX"
    service: EnergyService = EnergyService.DC
    control_mode: ControlMode = ControlMode.SCHEDULED
    payment: Payment = Payment.EIM
    vas: tuple[int, ...] = ()  #: value-added services to select when offered
    limits: PowerLimits = field(
        default_factory=lambda: PowerLimits(
            max_charge_power=150_000.0,
            min_charge_power=0.0,
            max_charge_current=300.0,
            max_voltage=500.0,
            min_voltage=200.0,
            max_discharge_power=11_000.0,
            max_discharge_current=30.0,
        )
    )
    energy: EnergyRequest = field(default_factory=EnergyRequest)
    soc: int = 30
    battery_voltage: float = 400.0
    target_current: float = 100.0  #: DC scheduled charge-loop target (negative to discharge, BPT)
    target_power: float = 11_000.0  #: AC present active power the car draws (negative to discharge)
    #: PreCharge is done when EVSEPresentVoltage is this close to the battery voltage (volts)
    pre_charge_tolerance: float = 20.0
    pre_charge_max_requests: int | None = None
    #: the simulated car stops after this many charge-loop requests (None stops only on StopCharging or the
    #: EVSE's notification)
    charge_loop_requests: int | None = None
    ongoing_interval: float = 0.0
    loop_interval: float = 0.0
    welding_detection_requests: int = 1
    maximum_supporting_points: int = 1024
    #: VehicleCheckIn after ServiceSelection with this ParkingMethod (``"AutoParking"``, ``"MVGuideManual"``,
    #: ``"Manual"``); None: no check-in. The car sends CheckIn, ``check_in_processing`` times Processing, then
    #: Completed, and goes on with ChargeParameterDiscovery.
    vehicle_check_in: str | None = None
    check_in_processing: int = 0
    #: how many Ongoing requests the car sends in each WPT step (fine positioning, pairing, the alignment check)
    #: before it says Finished (the charger may finish a step earlier)
    wpt_step_requests: int = 1
    #: how many times the car takes a WARNING_WPT up (back to WPT_FinePositioningSetup after WPT_FinePositioningRes
    #: or PowerDeliveryRes, to WPT_AlignmentCheck after WPT_ChargeLoopRes) before it ends with SessionStop
    wpt_recoveries: int = 3
    #: VehicleCheckOut before SessionStop(Terminate) when True. The car sends CheckOut, then Processing while the
    #: charger answers Scheduled (under the Ongoing timeout), and SessionStop once it answers Completed.
    vehicle_check_out: bool = False
    #: PowerToleranceAcceptance in the scheduled EVPowerProfile (optional in the schema; Josev's SECC refuses a
    #: PowerDeliveryReq without it, iso15118 0.31.2 ``ScheduledEVPowerProfile``); None leaves it out
    power_tolerance_acceptance: str | None = "PowerToleranceConfirmed"
    #: Plug & Charge material (an :class:`~evcharge.iso15118.engines.iso20.pnc.EvccContract`); used over TLS
    contract: Any = None
    timeouts: Iso20EvccTimeouts = field(default_factory=Iso20EvccTimeouts)
    clock: WallClock | None = None
    trace: bool = False
