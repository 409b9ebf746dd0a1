"""The ISO 15118-20 vocabulary the DIN / ISO 15118-2 events do not have.

The -20 engines speak the protocol-neutral events and commands of :mod:`evcharge.iso15118.engines.events`
wherever they fit (:class:`~evcharge.iso15118.engines.events.SessionStarted`,
:class:`~evcharge.iso15118.engines.events.AuthorizationRequested`,
:class:`~evcharge.iso15118.engines.events.Authorize`, :class:`~evcharge.iso15118.engines.events.SetIsolation`,
:class:`~evcharge.iso15118.engines.events.SetPresentValues`,
:class:`~evcharge.iso15118.engines.events.SetMeter`, :class:`~evcharge.iso15118.engines.events.Notify`,
:class:`~evcharge.iso15118.engines.events.PowerDeliveryRequested`,
:class:`~evcharge.iso15118.engines.events.SessionEnded`, :class:`~evcharge.iso15118.engines.events.UpdateEv`,
:class:`~evcharge.iso15118.engines.events.StopCharging`,
:class:`~evcharge.iso15118.engines.events.Renegotiate`, ...). What is new in -20 is here: energy services
instead of energy transfer modes, power-based limits with discharging (BPT), the two control modes, power
schedules with discharging schedules, and the dynamic-mode targets.

Units are SI (W, A, V, Wh, s); a negative power or current is a discharge (BPT).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from ..events import RequestEvent

__all__ = [
    "AcdpDeviceAnswered",
    "AcdpDeviceRequested",
    "AcdpPositioningAnswered",
    "AcdpSystemStatusAnswered",
    "AcdpSystemStatusRequested",
    "AskAcdpSystemStatus",
    "ChargeLoopRequested",
    "ChargeParametersRequested20",
    "ControlMode",
    "EnergyRequest",
    "EnergyService",
    "EnterStandby",
    "ExitStandby",
    "Iso20ChargeLoopStatus",
    "Iso20ChargeParametersOffered",
    "Iso20ServicesOffered",
    "PowerLimits",
    "PowerSchedule",
    "ScheduleRequested",
    "SchedulesOffered",
    "ServiceSelected",
    "SetAcdpSystemStatus",
    "SetChargingDevice",
    "SetPowerDeliveryResult",
    "SetPowerLimits",
    "SetPowerSchedules",
    "SetTargetPower",
    "SetVehicleCheckIn",
    "SetVehicleCheckOut",
    "SetVehiclePosition",
    "VehicleCertificate",
    "VehicleCheckInAnswered",
    "VehicleCheckInRequested",
    "VehicleCheckOutAnswered",
    "VehicleCheckOutRequested",
    "VehiclePositioningRequested",
    "WarnWpt",
    "WptStepAnswered",
    "WptStepDone",
    "WptStepRequested",
    "WptWarned",
]


class EnergyService(IntEnum):
    """-20 energy transfer services by ServiceID (ISO 15118-20 Table 204; Josev's ``ServiceV20``)."""

    AC = 1
    DC = 2
    WPT = 3
    DC_ACDP = 4
    AC_BPT = 5
    DC_BPT = 6
    DC_ACDP_BPT = 7
    MCS = 8
    MCS_BPT = 9

    @property
    def is_dc(self) -> bool:
        return self in (EnergyService.DC, EnergyService.DC_BPT, EnergyService.DC_ACDP, EnergyService.DC_ACDP_BPT)

    @property
    def is_bpt(self) -> bool:
        return self.name.endswith("BPT")

    @property
    def cli_name(self) -> str:
        """``ac``, ``dc``, ``ac-bpt``, ``dc-bpt``, ``acdp``, ``acdp-bpt``, ``wpt``, ... (``--energy`` of
        ``evcharge v2g``; ACDP is DC by definition, its name drops the ``dc-``)."""
        return self.name.lower().replace("_", "-").removeprefix("dc-" if "ACDP" in self.name else "")

    @classmethod
    def from_cli(cls, name: str) -> EnergyService:
        """The service of a ``--energy`` value (``acdp`` and ``dc-acdp`` are DC_ACDP)."""
        key = name.upper().replace("-", "_")
        return cls["DC_" + key if key.startswith("ACDP") else key]


class ControlMode(IntEnum):
    """The ``ControlMode`` service parameter (1 scheduled, 2 dynamic)."""

    SCHEDULED = 1
    DYNAMIC = 2


@dataclass(frozen=True, slots=True, kw_only=True)
class PowerLimits:
    """Limits of either side (the EVSE's in ChargeParameterDiscoveryRes and the charge loop, the EV's in
    ChargeParameterDiscoveryReq). Currents and voltages are DC only; discharge values are BPT only."""

    max_charge_power: float
    min_charge_power: float = 0.0
    max_charge_current: float | None = None
    min_charge_current: float = 0.0
    max_voltage: float | None = None
    min_voltage: float = 0.0
    max_discharge_power: float | None = None
    min_discharge_power: float = 0.0
    max_discharge_current: float | None = None
    min_discharge_current: float = 0.0
    nominal_frequency: float = 50.0  #: AC (EVSE side)

    @property
    def bidirectional(self) -> bool:
        return self.max_discharge_power is not None


@dataclass(frozen=True, slots=True, kw_only=True)
class PowerSchedule:
    """One ScheduleTuple: a charging power schedule, an optional discharging one (BPT; watts as positive
    numbers) and optional price levels. Entries are ``(duration s, watts)`` from the schedule's start."""

    tuple_id: int = 1
    charging: tuple[tuple[int, float], ...] = ((86_400, 50_000.0),)
    discharging: tuple[tuple[int, float], ...] | None = None
    price_levels: tuple[tuple[int, int], ...] | None = None  #: (duration s, level)
    number_of_price_levels: int = 1
    #: the PowerTolerance (W) the car may deviate from the charging schedule, None when not offered
    power_tolerance: float | None = None

    def charge_power_at(self, t: float) -> float:
        return _at(self.charging, t)

    def discharge_power_at(self, t: float) -> float:
        return _at(self.discharging or ((0, 0.0),), t)


def _at(entries: tuple[tuple[int, float], ...], t: float) -> float:
    start = 0
    for duration, watts in entries:
        if t < start + duration:
            return watts
        start += duration
    return entries[-1][1]


@dataclass(frozen=True, slots=True, kw_only=True)
class EnergyRequest:
    """What the car needs (ScheduleExchangeReq; the dynamic charge loop): Wh and seconds from now."""

    target_energy: float = 20_000.0
    max_energy: float = 40_000.0
    min_energy: float = 0.0
    departure_time: int = 7_200
    target_soc: int | None = None
    min_soc: int | None = None
    max_v2x_energy: float | None = None  #: what the car may give back (BPT, dynamic mode)
    min_v2x_energy: float | None = None


# -- SECC events -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class ServiceSelected:
    """The car chose its energy service and control mode (ServiceSelectionReq)."""

    service: EnergyService
    control_mode: ControlMode
    parameter_set_id: int
    vas: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class ChargeParametersRequested20(RequestEvent):
    """AC/DC_ChargeParameterDiscoveryReq: the car's limits (answered at once with the EVSE's)."""

    service: EnergyService
    ev: PowerLimits
    target_soc: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ScheduleRequested(RequestEvent):
    """ScheduleExchangeReq. Scheduled mode: push :class:`SetPowerSchedules` (Ongoing until there are
    schedules); dynamic mode: answered at once, the charger steers in the charge loop."""

    control_mode: ControlMode
    energy: EnergyRequest | None
    max_supporting_points: int
    renegotiation: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class ChargeLoopRequested(RequestEvent):
    """AC/DC_ChargeLoopReq. DC scheduled: ``target_voltage``/``target_current`` (negative current:
    discharge). Dynamic: the car's limits and energy needs; the charger decides the power (DC: within
    the limits it answers; AC: :class:`SetTargetPower`). AC: ``present_power`` is the car's."""

    control_mode: ControlMode
    present_voltage: float | None = None
    target_voltage: float | None = None
    target_current: float | None = None
    present_power: float | None = None
    ev: PowerLimits | None = None
    energy: EnergyRequest | None = None
    soc: int | None = None
    meter_info_requested: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class VehicleCertificate:
    """TLS 1.3 mutual authentication: the vehicle's certificate (leaf first, DER) and the SHA-256 of its
    leaf, for the application (e.g. OCPP 2.x's ISO 15118 vehicle certificate hash data)."""

    sha256: bytes
    chain: tuple[bytes, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class VehicleCheckInRequested(RequestEvent):
    """VehicleCheckInReq (after ServiceSelection, before ChargeParameterDiscovery): the car parks. ``status`` is
    the car's EVCheckInStatus (``CheckIn``, ``Processing``, ``Completed``), ``parking_method`` its ParkingMethod
    (``AutoParking``, ``MVGuideManual``, ``Manual``). The answer is what the application pushed last with
    :class:`SetVehicleCheckIn` (push the next one now: the car asks again until it says ``Completed``)."""

    status: str
    parking_method: str
    vehicle_frame: int | None = None
    device_offset: int | None = None
    vehicle_travel: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class VehicleCheckOutRequested(RequestEvent):
    """VehicleCheckOutReq (after PowerDelivery(Stop), before SessionStop): the car wants to leave. ``status`` is its
    EVCheckOutStatus (``CheckOut``, ``Processing``, ``Completed``), ``check_out_time`` its CheckOutTime (Unix
    seconds). Answered with :class:`SetVehicleCheckOut` (pushed before; ``Completed`` by default)."""

    status: str
    check_out_time: int


@dataclass(frozen=True, slots=True, kw_only=True)
class VehiclePositioningRequested(RequestEvent):
    """ACDP_VehiclePositioningReq (ACDP, right after SessionSetup): the bus drives under the pantograph. Answered
    with what the application pushed last (:class:`SetVehiclePosition`); Ongoing until the bus says it is
    ``immobilized`` ([V2G20-4068], [V2G20-4069])."""

    immobilized: bool  #: EVMobilityStatus
    positioning_support: bool  #: EVPositioningSupport


@dataclass(frozen=True, slots=True, kw_only=True)
class AcdpDeviceRequested(RequestEvent):
    """Each ACDP_ConnectReq (``connect``) or ACDP_DisconnectReq: move the pantograph down (or home) and push
    :class:`SetChargingDevice` as it moves; each request is answered with what was pushed last, Ongoing until it
    is at its end position (connect) or home (disconnect) ([V2G20-4071], [V2G20-4072], [V2G20-4074],
    [V2G20-4075])."""

    connect: bool
    ev_status: str  #: EVElectricalChargingDeviceStatus (State_A ... State_D)


@dataclass(frozen=True, slots=True, kw_only=True)
class WptStepRequested(RequestEvent):
    """WPT (wireless): each WPT_FinePositioningSetupReq, WPT_FinePositioningReq, WPT_PairingReq and
    WPT_AlignmentCheckReq (``request``). A step goes on (Ongoing) until the car says it is ``finished`` or the
    application pushes :class:`WptStepDone` for it. ``ev_result``: the car's EVResultCode (None for the setup)."""

    finished: bool
    ev_result: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class AcdpSystemStatusRequested(RequestEvent):
    """ACDP_SystemStatusReq (ACDP, the side channel of V2GTP payload type 0x8103, at any time after SessionSetup):
    the bus's EVTechnicalStatus. Answered at once, beside the session's own request and response, with what the
    application pushed last (:class:`SetAcdpSystemStatus`, the pantograph of :class:`SetChargingDevice`, the position
    of :class:`SetVehiclePosition`); the session's state and timers do not move."""

    ready_to_charge: bool  #: EVReadyToCharge
    immobilization_request: bool  #: EVImmobilizationRequest
    immobilized: bool | None = None  #: EVImmobilized
    cp_status: str | None = None  #: EVCPStatus (StateA ... StateE)
    soc: int | None = None  #: EVSOC
    error_code: str | None = None  #: EVErrorCode, e.g. ``OK_NoEVError``
    timeout: bool | None = None  #: EVTimeout


# -- SECC commands ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class SetPowerLimits:
    """The EVSE's present limits (ChargeParameterDiscoveryRes, the dynamic charge loop)."""

    limits: PowerLimits


@dataclass(frozen=True, slots=True, kw_only=True)
class SetPowerSchedules:
    """The schedules to offer in scheduled mode (at most 3 tuples)."""

    schedules: tuple[PowerSchedule, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class SetTargetPower:
    """AC: the active power the charger wants now (negative: discharge), answered in AC_ChargeLoopRes."""

    watts: float


@dataclass(frozen=True, slots=True, kw_only=True)
class SetPowerDeliveryResult:
    """How the charger answers the next PowerDeliveryReq: ``None`` (OK), ``"FAILED_PowerDeliveryNotApplied"``
    (it cannot deliver now) or ``"FAILED_ContactorError"`` (a contactor did not close or open)."""

    response_code: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SetVehicleCheckIn:
    """How the charger answers the next VehicleCheckInReq: where to park (ParkingSpace, DeviceLocation,
    TargetDistance, all optional) or ``response_code`` ``"FAILED"`` (the check-in is refused; the session ends)."""

    parking_space: int | None = None
    device_location: int | None = None
    target_distance: int | None = None
    response_code: str | None = None  #: None: OK


@dataclass(frozen=True, slots=True, kw_only=True)
class SetVehicleCheckOut:
    """How the charger answers the next VehicleCheckOutReq: EVSECheckOutStatus ``"Completed"`` (the car may go) or
    ``"Scheduled"`` (not yet: the car asks again), or ``response_code`` ``"FAILED"`` (the session ends)."""

    status: str = "Completed"
    response_code: str | None = None  #: None: OK


@dataclass(frozen=True, slots=True, kw_only=True)
class SetVehiclePosition:
    """ACDP: what the positioning device sees, answered in every ACDP_VehiclePositioningRes (mm)."""

    positioning_support: bool = False  #: EVSEPositioningSupport
    x_deviation: int = 0  #: EVRelativeXDeviation
    y_deviation: int = 0  #: EVRelativeYDeviation
    contact_window_xc: int = 0
    contact_window_yc: int = 0
    in_charge_position: bool = False  #: EVInChargePosition


@dataclass(frozen=True, slots=True, kw_only=True)
class SetChargingDevice:
    """ACDP: where the pantograph is (``mechanical``: Home, Moving, EndPosition) and the conductive connection
    (``electrical``: State_A disconnected, State_B/C/D connected), answered in ACDP_Connect/DisconnectRes."""

    mechanical: str = "Home"
    electrical: str = "State_A"


@dataclass(frozen=True, slots=True, kw_only=True)
class SetAcdpSystemStatus:
    """ACDP: the charger's side of ACDP_SystemStatusRes (the pantograph's position comes from
    :class:`SetChargingDevice`, whether the bus is in charge position from :class:`SetVehiclePosition`).
    ``isolation`` is the EVSEIsolationStatus (Invalid, Safe, Warning, Fault)."""

    ready_to_charge: bool = False  #: EVSEReadyToCharge
    isolation: str = "Invalid"  #: EVSEIsolationStatus
    disabled: bool = False  #: EVSEDisabled
    utility_interrupt: bool = False  #: EVSEUtilityInterruptEvent
    emergency_shutdown: bool = False  #: EVSEEmergencyShutdown
    malfunction: bool = False  #: EVSEMalfunction
    associated: bool = True  #: EVAssociationStatus, True while the bus is associated with this charger (its WLAN)


@dataclass(frozen=True, slots=True, kw_only=True)
class WarnWpt:
    """WPT: answer the next ``request`` WARNING_WPT: ``"WPT_FinePositioning"`` (with Finished: the car sets the fine
    positioning up again or stops, [V2G20-5055]), ``"PowerDelivery"`` (a PowerDeliveryReq(Start): no power, the car
    sets the fine positioning up again or stops, [V2G20-5061]), ``"WPT_ChargeLoop"`` (the car checks the alignment
    again, pairs again or stops, [V2G20-5058]) or ``"WPT_ChargeParameterDiscovery"`` (the car's values allow only a
    limited power transfer, [V2G20-5066]; the session goes on)."""

    request: str


@dataclass(frozen=True, slots=True, kw_only=True)
class WptStepDone:
    """WPT: the primary device has finished ``step`` (``"WPT_FinePositioning"``, ``"WPT_Pairing"`` or
    ``"WPT_AlignmentCheck"``): the next request of that step is answered Finished."""

    step: str


# -- EVCC events -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Iso20ServicesOffered:
    services: tuple[EnergyService, ...]
    vas: tuple[int, ...] = ()
    renegotiation_supported: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Iso20ChargeParametersOffered:
    limits: PowerLimits


@dataclass(frozen=True, slots=True, kw_only=True)
class SchedulesOffered:
    control_mode: ControlMode
    schedules: tuple[PowerSchedule, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Iso20ChargeLoopStatus:
    """AC/DC_ChargeLoopRes as the car saw it."""

    present_voltage: float | None = None
    present_current: float | None = None
    target_power: float | None = None  #: EVSETargetActivePower (AC)
    limits: PowerLimits | None = None  #: the EVSE's limits now (DC, dynamic mode)
    current_limit_achieved: bool = False
    voltage_limit_achieved: bool = False
    power_limit_achieved: bool = False
    notification: str = "None"  #: EVSENotification (None, Pause, ExitStandby, Terminate, ScheduleRenegotiation, ...)
    meter_wh: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class VehicleCheckInAnswered:
    """VehicleCheckInRes as the car saw it (the status it had sent, where the charger wants it)."""

    status: str
    parking_space: int | None = None
    device_location: int | None = None
    target_distance: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class VehicleCheckOutAnswered:
    """VehicleCheckOutRes: the EVSECheckOutStatus (``Scheduled`` or ``Completed``)."""

    status: str
    evse_status: str


@dataclass(frozen=True, slots=True, kw_only=True)
class AcdpPositioningAnswered:
    """ACDP_VehiclePositioningRes as the bus saw it."""

    finished: bool
    in_charge_position: bool
    x_deviation: int = 0
    y_deviation: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class AcdpDeviceAnswered:
    """ACDP_ConnectRes (``connect``) / ACDP_DisconnectRes as the bus saw it."""

    connect: bool
    finished: bool
    mechanical: str
    electrical: str


@dataclass(frozen=True, slots=True, kw_only=True)
class AcdpSystemStatusAnswered:
    """ACDP_SystemStatusRes as the bus saw it (the answer to :class:`AskAcdpSystemStatus`)."""

    mechanical: str  #: EVSEMechanicalChargingDeviceStatus (Home, Moving, EndPosition)
    ready_to_charge: bool
    isolation: str  #: EVSEIsolationStatus
    disabled: bool
    utility_interrupt: bool
    emergency_shutdown: bool
    malfunction: bool
    in_charge_position: bool
    associated: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class WptStepAnswered:
    """WPT: the charger's answer to a WPT_FinePositioningSetup/FinePositioning/Pairing/AlignmentCheck request."""

    request: str
    finished: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class WptWarned:
    """WPT: the charger answered ``request`` WARNING_WPT; the car goes on with ``then`` (WPT_FinePositioningSetup,
    WPT_AlignmentCheck, ScheduleExchange after WPT_ChargeParameterDiscovery, or SessionStop once
    ``Iso20EvccConfig.wpt_recoveries`` are used up)."""

    request: str
    then: str


# -- EVCC commands ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class AskAcdpSystemStatus:
    """ACDP: send ACDP_SystemStatusReq now in the side channel (V2GTP 0x8103), beside the session's own request;
    the answer comes as :class:`AcdpSystemStatusAnswered`. The EVTechnicalStatus is the bus's: ready to charge
    once the pantograph is down, immobilized after positioning, its SoC; ``error_code`` an EVErrorCode."""

    immobilization_request: bool = False  #: EVImmobilizationRequest
    error_code: str = "OK_NoEVError"  #: EVErrorCode


@dataclass(frozen=True, slots=True, kw_only=True)
class EnterStandby:
    """PowerDelivery(Standby): the car keeps the session but takes no power."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ExitStandby:
    """PowerDelivery(Start) after a standby."""
