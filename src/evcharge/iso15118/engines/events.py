"""Application events and commands of the V2G engines, both sides, protocol-neutral.

The engines (DIN 70121, ISO 15118-2, and the ISO 15118-20 engines built on the same machinery) speak to
the application only through these frozen dataclasses, in SI units (volts, amperes, watts, watt-hours,
seconds) and plain Python types; the message sets' ``PhysicalValue``/multiplier encoding never reaches
the application.

Charger (SECC): the engine tells the application what the car asks (:class:`AuthorizationRequested`,
:class:`ChargeParametersRequested`, :class:`CableCheckRequested`, :class:`PreChargeRequested`,
:class:`PowerDeliveryRequested`, :class:`ChargeLoopTargets`, ...). Every such *request event* carries the
performance ``deadline`` by which the response is due (25 ms for CurrentDemand, 1.5 s / 4.5 s for the
rest): the engine never waits on the application inside a state. The application pushes what the
responses need *before* they are needed (:class:`SetDcLimits`, :class:`SetPresentValues`,
:class:`SetIsolation`, :class:`Authorize`, :class:`SetSchedules`, :class:`SetMeter`); where the standard
has an ``EVSEProcessing=Ongoing`` answer the engine answers Ongoing until the application has decided.

Car (EVCC): the engine drives the request sequence itself from the car's state the application pushes
(:class:`UpdateEv`) and reports what the charger offers and answers (:class:`ServicesOffered`,
:class:`ChargeParametersOffered`, :class:`ChargeLoopStatus`, ...).

Both sides end with :class:`SessionEnded`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = [
    "AcLimits",
    "AnswerCertificate",
    "AuthorizationRequested",
    "AuthorizationResult",
    "Authorize",
    "CableCheckFinished",
    "CableCheckRequested",
    "CertificateRequested",
    "ChargeLoopStatus",
    "ChargeLoopTargets",
    "ChargeParametersOffered",
    "ChargeParametersRequested",
    "ChargingStatusRequested",
    "DcLimits",
    "EnergyMode",
    "EvLimits",
    "Isolation",
    "MeterReading",
    "MeteringReceiptReceived",
    "Notify",
    "OfferedService",
    "Payment",
    "PilotObserved",
    "PowerAction",
    "PowerDeliveryAnswered",
    "PowerDeliveryRequested",
    "PreChargeProgress",
    "PreChargeRequested",
    "Renegotiate",
    "RequestEvent",
    "RequestRejected",
    "Schedule",
    "ServiceDetailReceived",
    "ServicesOffered",
    "SessionEnded",
    "SessionStarted",
    "SessionStopRequested",
    "SetAcLimits",
    "SetDcLimits",
    "SetIsolation",
    "SetMeter",
    "SetPresentValues",
    "SetSchedules",
    "StopCharging",
    "Tariff",
    "TimingWarning",
    "UpdateEv",
    "WeldingDetectionRequested",
]


class EnergyMode(StrEnum):
    """Energy transfer modes (the ISO 15118-2 names; DIN knows the DC ones)."""

    AC_SINGLE_PHASE = "AC_single_phase_core"
    AC_THREE_PHASE = "AC_three_phase_core"
    DC_CORE = "DC_core"
    DC_EXTENDED = "DC_extended"
    DC_COMBO_CORE = "DC_combo_core"
    DC_UNIQUE = "DC_unique"

    @property
    def is_dc(self) -> bool:
        return self.value.startswith("DC")


class Payment(StrEnum):
    """How the session is paid: external identification (RFID, app, free) or Plug & Charge."""

    EIM = "ExternalPayment"
    PNC = "Contract"


class PowerAction(StrEnum):
    START = "Start"
    STOP = "Stop"
    RENEGOTIATE = "Renegotiate"


class Isolation(StrEnum):
    INVALID = "Invalid"
    VALID = "Valid"
    WARNING = "Warning"
    FAULT = "Fault"


# -- shared data ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Tariff:
    """A SalesTariff: price levels over time (relative seconds from the schedule start)."""

    tariff_id: int = 1
    price_levels: int = 1
    entries: tuple[tuple[int, int], ...] = ((0, 1),)  #: (start s, price level)
    description: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Schedule:
    """One SAScheduleTuple: a PMax schedule (start s, watts) and an optional tariff."""

    tuple_id: int = 1
    pmax: tuple[tuple[int, float], ...] = ((0, 50_000.0),)
    duration: int = 86_400  #: seconds the schedule covers (the last entry's duration)
    tariff: Tariff | None = None

    def pmax_at(self, t: int) -> float:
        """The power limit in force ``t`` seconds after the schedule start."""
        limit = self.pmax[0][1]
        for start, watts in self.pmax:
            if start <= t:
                limit = watts
        return limit


@dataclass(frozen=True, slots=True, kw_only=True)
class DcLimits:
    """The charger's DC limits (SECC) or, with ``min_*`` ignored, the car's."""

    max_voltage: float
    max_current: float
    max_power: float
    min_voltage: float = 0.0
    min_current: float = 0.0
    peak_current_ripple: float = 1.0
    regulation_tolerance: float | None = None
    energy_to_deliver: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class AcLimits:
    nominal_voltage: float = 230.0
    max_current: float = 32.0
    min_current: float = 6.0  #: DIN / ISO-2 EVSEMinCurrent where the schema has it


@dataclass(frozen=True, slots=True, kw_only=True)
class EvLimits:
    """What the car declares in ChargeParameterDiscoveryReq."""

    max_voltage: float
    max_current: float
    max_power: float | None = None
    min_current: float | None = None  #: AC
    energy_request: float | None = None  #: Wh
    energy_capacity: float | None = None  #: Wh
    departure_time: int | None = None  #: seconds from now
    soc: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class MeterReading:
    meter_id: str
    wh: int | None = None
    signature: bytes | None = None
    status: int | None = None
    t_meter: int | None = None  #: Unix time of the reading


# -- SECC events ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionStarted:
    """Both sides: SessionSetup succeeded."""

    protocol: str  #: "din", "iso2", ...
    session_id: bytes
    peer_id: bytes | str  #: EVCCID (SECC side) / EVSEID (EVCC side)
    resumed: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestEvent:
    """Base of the SECC's request events: which request, when it came, by when its answer is due."""

    request: str
    received_at: float
    deadline: float  #: performance deadline (monotonic) — the response should be sent by then


@dataclass(frozen=True, slots=True, kw_only=True)
class AuthorizationRequested(RequestEvent):
    """The car asks to be authorized; answer with :class:`Authorize` (Ongoing until then)."""

    payment: Payment
    emaid: str | None = None
    contract_chain: tuple[bytes, ...] = ()  #: leaf first, DER (Plug & Charge)


@dataclass(frozen=True, slots=True, kw_only=True)
class CertificateRequested(RequestEvent):
    """CertificateInstallationReq / CertificateUpdateReq to relay to a provider (answer with
    :class:`AnswerCertificate` before ``deadline``, else the engine answers FAILED)."""

    kind: str  #: "installation" | "update"
    exi: bytes  #: the whole V2G message as received (its signature covers the request body)
    message: object


@dataclass(frozen=True, slots=True, kw_only=True)
class ChargeParametersRequested(RequestEvent):
    energy_mode: EnergyMode
    ev: EvLimits
    max_schedule_tuples: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CableCheckRequested(RequestEvent):
    """Run the insulation test; push :class:`SetIsolation` (Ongoing until Valid/Warning)."""

    soc: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class PreChargeRequested(RequestEvent):
    target_voltage: float
    target_current: float


@dataclass(frozen=True, slots=True, kw_only=True)
class PowerDeliveryRequested(RequestEvent):
    action: PowerAction
    schedule_id: int | None = None
    profile: tuple[tuple[int, float], ...] = ()  #: (start s, max watts) of the car's ChargingProfile
    #: With an ISO 15118-20 BPT service and PowerDelivery(Start), the car's BPT_ChannelSelection (True for
    #: Discharge, False for Charge); None for a service without BPT and for the other actions.
    discharge: bool | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ChargeLoopTargets(RequestEvent):
    """CurrentDemandReq (DC): the car's targets; push :class:`SetPresentValues` to answer with."""

    target_voltage: float
    target_current: float
    soc: int | None = None
    charging_complete: bool = False
    bulk_charging_complete: bool | None = None
    max_voltage: float | None = None
    max_current: float | None = None
    max_power: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ChargingStatusRequested(RequestEvent):
    """ChargingStatusReq (AC)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class MeteringReceiptReceived(RequestEvent):
    meter: MeterReading
    signed: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class WeldingDetectionRequested(RequestEvent):
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionStopRequested(RequestEvent):
    pause: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestRejected:
    """The engine answered a request with a FAILED response code (and ends the session)."""

    request: str
    response_code: str
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class TimingWarning:
    """A timing rule the car broke that the engine tolerates (a quirk switch), e.g. [V2G2-847]."""

    requirement: str
    detail: str


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionEnded:
    """The session is over; the transport closes the connection by the engine's ``close_at``.

    ``normal`` is True after a SessionStop exchange (terminate or pause); ``paused`` sessions can be
    resumed with ``session_id`` (:attr:`evcharge.iso15118.handover.HandOver.resume_session_id`).
    """

    reason: str
    normal: bool
    paused: bool = False
    session_id: bytes | None = None
    response_code: str | None = None


# -- EVCC events ------------------------------------------------------------------------------------


#: one ParameterSet of a service, as (ParameterSetID, ((parameter name, value), ...)); a value is a bool, an int
#: or a str (ISO 15118-2 ParameterType's boolValue, byte/short/intValue, stringValue); a physicalValue reads
#: as a float
ParameterSet = tuple[int, tuple[tuple[str, bool | int | float | str], ...]]

#: the certificate service's ParameterSets (ISO 15118-2 ServiceID 2, category ContractCertificate)
CERTIFICATE_PARAMETER_SETS: tuple[ParameterSet, ...] = (
    (1, (("Service", "Installation"),)),
    (2, (("Service", "Update"),)),
)


@dataclass(frozen=True, slots=True, kw_only=True)
class OfferedService:
    """A service the charger lists in ServiceDiscoveryRes beside the charge service (ISO 15118-2 ServiceList)
    and describes in ServiceDetailRes: the certificate service (ID 2) or a value-added service (Internet,
    custom). ``category`` is the schema's ServiceCategory (``"ContractCertificate"``, ``"Internet"``,
    ``"OtherCustom"``)."""

    service_id: int
    category: str = "OtherCustom"
    name: str | None = None
    free: bool = True
    parameter_sets: tuple[ParameterSet, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class ServicesOffered:
    payments: tuple[Payment, ...]
    energy_modes: tuple[EnergyMode, ...]
    services: tuple[OfferedService, ...] = ()  #: ISO 15118-2 ServiceList (without the charge service)


@dataclass(frozen=True, slots=True, kw_only=True)
class ServiceDetailReceived:
    """The car asked for a service's details (ServiceDetailReq) and the charger answered."""

    service_id: int
    parameter_sets: tuple[ParameterSet, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class AuthorizationResult:
    accepted: bool
    payment: Payment


@dataclass(frozen=True, slots=True, kw_only=True)
class ChargeParametersOffered:
    schedules: tuple[Schedule, ...]
    dc: DcLimits | None = None
    ac: AcLimits | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CableCheckFinished:
    isolation: Isolation | None


@dataclass(frozen=True, slots=True, kw_only=True)
class PreChargeProgress:
    present_voltage: float
    target_voltage: float


@dataclass(frozen=True, slots=True, kw_only=True)
class PowerDeliveryAnswered:
    action: PowerAction
    accepted: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class ChargeLoopStatus:
    """CurrentDemandRes (DC) or ChargingStatusRes (AC) as the car saw it."""

    present_voltage: float | None = None
    present_current: float | None = None
    max_current: float | None = None  #: AC EVSEMaxCurrent / DC EVSEMaximumCurrentLimit
    current_limit_achieved: bool = False
    voltage_limit_achieved: bool = False
    power_limit_achieved: bool = False
    notification: str = "None"  #: "None", "StopCharging", "ReNegotiation"
    meter: MeterReading | None = None
    receipt_required: bool = False


# -- SECC commands ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class SetDcLimits:
    limits: DcLimits


@dataclass(frozen=True, slots=True, kw_only=True)
class SetAcLimits:
    limits: AcLimits


@dataclass(frozen=True, slots=True, kw_only=True)
class SetPresentValues:
    """DC output as measured; also whether a limit is being hit."""

    voltage: float
    current: float = 0.0
    current_limit_achieved: bool = False
    voltage_limit_achieved: bool = False
    power_limit_achieved: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class SetIsolation:
    level: Isolation


@dataclass(frozen=True, slots=True, kw_only=True)
class Authorize:
    """The authorization decision (may be pushed before the car asks: free charging)."""

    accepted: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class SetSchedules:
    schedules: tuple[Schedule, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class SetMeter:
    meter: MeterReading
    receipt_required: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Notify:
    """Ask the car to stop (``"stop"``, the charger's pause or end) or to renegotiate (``"renegotiate"``)."""

    action: str
    max_delay: int = 0  #: NotificationMaxDelay, seconds


@dataclass(frozen=True, slots=True, kw_only=True)
class PilotObserved:
    """The control pilot state the station measured ("A", "B", "C", "D", ...), for the timing checks that
    need it: [V2G2-847] state C/D within 250 ms of the first PowerDeliveryReq(Start)."""

    state: str


@dataclass(frozen=True, slots=True, kw_only=True)
class AnswerCertificate:
    """The provider's answer to :class:`CertificateRequested`: the response body (the protocol's
    CertificateInstallationRes / CertificateUpdateRes), or ``None`` for FAILED."""

    body: object | None
    response_code: str | None = None  #: e.g. "FAILED_NoCertificateAvailable" when body is None
    signature: object | None = None  #: the header Signature (the provider signs the four elements)


# -- EVCC commands ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class UpdateEv:
    """The car's present state; ``None`` leaves a value as it was."""

    soc: int | None = None
    target_voltage: float | None = None
    target_current: float | None = None
    ready: bool | None = None
    charging_complete: bool | None = None
    present_voltage: float | None = None  #: the battery voltage (pre-charge target)


@dataclass(frozen=True, slots=True, kw_only=True)
class StopCharging:
    """End the charge loop: PowerDelivery(Stop), WeldingDetection (DC), SessionStop (Terminate/Pause)."""

    pause: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Renegotiate:
    """EV-initiated renegotiation: PowerDelivery(Renegotiate) then ChargeParameterDiscovery again."""
