"""What goes in and out of the EVSE manager (:class:`evcharge.charger.EvseManager`).

* **Commands** (the station's application -> manager), passed to ``manager.send(command, now)``: what a
  person or the CSMS wants (:class:`IdTokenPresented`, :class:`SetChargingProfile`, :class:`EnableEvse`), and the
  charge-point core's decisions (:mod:`evcharge.ocpp.functions.application`): ``AuthorizationDone`` (the verdict on
  an identifier: a card, a remote start, a Plug & Charge contract), ``CallResult`` (the answer to a call the
  manager asked for), ``StopTransaction`` and ``ChargingAllowed`` (stop charging: a remote stop, a card, a fault,
  deauthorization), ``SetAvailability``.
* **Events** (manager -> application), drained with ``manager.next_event()``: :class:`StationInput` (a
  protocol-neutral input for the charge-point core: the cable, an identifier to authorize, a fault, the energy,
  a call such as NotifyEVChargingNeeds), :class:`MeterUpdate` (the meter's present values), and what happened on
  the power path (:class:`PowerSwitched`, :class:`FaultDetected`, :class:`V2gLinkReady`, :class:`SessionFinished`).

The manager writes no OCPP transaction message itself: the charge-point core
(:class:`~evcharge.ocpp.functions.application.ChargePointApp`) and the transaction manager turn its inputs into
OCPP 1.6 or 2.0.1 messages (StatusNotification, Authorize, StartTransaction / TransactionEvent with their ids,
sequence numbers and trigger reasons, NotifyEvent), through the offline queue. The adapter passes
``StationInput.command`` to :meth:`~evcharge.ocpp.functions.transport.station.Station.app_input` and
``MeterUpdate`` to :meth:`~evcharge.ocpp.functions.transport.station.Station.update_meter`, and hands the core's
decisions back with ``manager.send``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

from evcharge.ocpp.functions.application import (
    AppCommand,
    AuthorizationDone,
    CallResult,
    ChargingAllowed,
    SetAvailability,
    StopTransaction,
)

__all__ = [
    "EnableEvse",
    "FaultDetected",
    "FaultKind",
    "IdTokenPresented",
    "ManagerCommand",
    "ManagerEvent",
    "MeterUpdate",
    "PowerSwitched",
    "SessionFinished",
    "SetAcCurrentLimit",
    "SetChargingProfile",
    "SetPowerSetpoint",
    "StationInput",
    "V2gLinkReady",
]


class FaultKind(Enum):
    """The faults the manager turns into power off."""

    RCD = "rcd"  #: residual current device tripped (AC, or the DC side's residual current monitor)
    ISOLATION = "isolation"  #: the isolation monitor measured a fault (DC)
    OVER_VOLTAGE = "over_voltage"  #: DC output above the car's (or the charger's) maximum voltage
    OVER_CURRENT = "over_current"
    PILOT = "pilot"  #: control pilot fault (diode, short, implausible level)
    CONTACTOR = "contactor"  #: welded or stuck contactor

    @property
    def stopped_reason(self) -> str:
        """The OCPP 2.0.1 ``ReasonEnumType`` of a transaction this fault ends."""
        return _STOPPED_REASON[self]

    @property
    def error_code(self) -> str:
        """The OCPP 1.6 ``ChargePointErrorCode`` of the fault (its StatusNotification)."""
        return _ERROR_CODE[self]


_STOPPED_REASON = {
    FaultKind.RCD: "GroundFault",
    FaultKind.ISOLATION: "GroundFault",
    FaultKind.OVER_VOLTAGE: "Other",
    FaultKind.OVER_CURRENT: "OvercurrentFault",
    FaultKind.PILOT: "Other",
    FaultKind.CONTACTOR: "Other",
}
_ERROR_CODE = {
    FaultKind.RCD: "GroundFailure",
    FaultKind.ISOLATION: "GroundFailure",
    FaultKind.OVER_VOLTAGE: "OverVoltage",
    FaultKind.OVER_CURRENT: "OverCurrentFailure",
    FaultKind.PILOT: "OtherError",  # 1.6 has no code of its own for the control pilot
    FaultKind.CONTACTOR: "PowerSwitchFailure",
}


# -- commands ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class IdTokenPresented:
    """An identifier from the RFID reader (or a local app): authorize it with the CSMS (EIM)."""

    id_token: str
    type: str = "ISO14443"


@dataclass(frozen=True, slots=True, kw_only=True)
class SetChargingProfile:
    """The CSMS's SetChargingProfile (OCPP 2.0.1 ``chargingProfile`` JSON object).

    The manager keeps the profiles by id, computes the composite limit (the highest ``stackLevel`` of the
    TxProfile, else of the TxDefaultProfile, in force now) and turns it into the PWM current (AC basic
    charging) or the SECC's limits and schedules (DC): a renegotiation where the protocol has one.
    """

    profile: dict[str, Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class SetAcCurrentLimit:
    """Basic AC charging: the present current limit per phase (A) the charge point's smart charging computed (the
    ``Station``'s composite schedule: the station stays the one owner of the CSMS's profiles).

    The manager offers ``min(amps, ac_max_current)`` as the PWM duty cycle (IEC 61851-1 Table A.8, applied at
    most once per 5 s by the pilot machine); below 6 A no duty cycle stands for a current, so the manager
    pauses the PWM (X1) until a limit of at least 6 A comes. Only for an EVSE in basic AC charging (a session
    with high-level communication takes :class:`SetChargingProfile`).
    """

    amps: float


@dataclass(frozen=True, slots=True, kw_only=True)
class EnableEvse:
    """Make the EVSE available (``True``) or unavailable (ChangeAvailability, or after a fault is repaired)."""

    enabled: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class SetPowerSetpoint:
    """The power the site wants at this EVSE in ISO 15118-20 dynamic control mode, in W (negative: discharge the
    car, DC_BPT); ``None``: charge as fast as the limits allow.

    In dynamic mode the charger, not the car, decides the power of every charge loop, within the car's limits
    (DC_BPT: its discharge limits), its own and the CSMS's. OCPP 2.0.1 gives the CSMS no discharge setpoint, so
    the setpoint comes from the site: a local energy manager, or an OCPP 2.1 V2X control the application carries.
    """

    watts: float | None


ManagerCommand = (IdTokenPresented | SetChargingProfile | SetAcCurrentLimit | SetPowerSetpoint | EnableEvse
                  | AuthorizationDone | CallResult | StopTransaction | ChargingAllowed | SetAvailability)


# -- events -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class StationInput:
    """Tell the charge-point core ``command`` (a :mod:`evcharge.ocpp.functions.application` command: ``Plugged``,
    ``Unplugged``, ``CardPresented``, ``AuthorizeToken``, ``PowerPathChanged``, ``EnergyStateChanged``,
    ``RateChanged``, ``ChargingEnded``, ``FaultRaised``, ``FaultCleared``, ``RequestCall``)."""

    command: AppCommand


@dataclass(frozen=True, slots=True, kw_only=True)
class MeterUpdate:
    """The present values of the EVSE's meter, by OCPP measurand (``Energy.Active.Import.Register`` Wh,
    ``Power.Active.Import`` W, ``Voltage`` V, ``Current.Import`` A, ``SoC`` %, ...): for the transaction messages'
    meter values."""

    evse_id: int
    readings: Mapping[str, float]


@dataclass(frozen=True, slots=True, kw_only=True)
class V2gLinkReady:
    """SLAC matched: the car's modem joined the charger's network; SDP and the V2G TCP connection come next.

    The transport answers SDP and, when the car connects, calls :meth:`evcharge.charger.EvseManager.connection_made`.
    """

    peer_mac: bytes
    nid: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class PowerSwitched:
    """The power path was switched on or off (contactors, DC output), with why."""

    on: bool
    reason: str
    at: float


@dataclass(frozen=True, slots=True, kw_only=True)
class FaultDetected:
    """A fault was seen at ``at``; the power was off by ``power_off_at`` (the same instant in this manager)."""

    kind: FaultKind
    detail: str
    at: float
    power_off_at: float
    phase: str  #: the manager's state when the fault came (``"cable_check"``, ``"charging"``, ...)


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionFinished:
    """The charging session is over (``stopped_reason``: why, as the manager told the charge-point core; the
    transaction messages carry it, in the names of the OCPP version)."""

    stopped_reason: str
    energy_wh: float
    energy_returned_wh: float = 0.0  #: what the car gave back (DC_BPT)


ManagerEvent = StationInput | MeterUpdate | V2gLinkReady | PowerSwitched | FaultDetected | SessionFinished
