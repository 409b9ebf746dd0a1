"""What goes in and out of the EVSE manager (:class:`evcharge.charger.EvseManager`).

* **Commands** (the station's application -> manager), passed to ``manager.send(command, now)``: what a
  person or the CSMS wants (:class:`IdTokenPresented`, :class:`RemoteStart`, :class:`RemoteStop`,
  :class:`SetChargingProfile`, :class:`CsmsAnswered`, :class:`EnableEvse`).
* **Events** (manager -> application), drained with ``manager.next_event()``: the OCPP calls to make
  (:class:`OcppCall`, OCPP 2.0.1 payloads as plain dicts), and what happened on the power path
  (:class:`PowerSwitched`, :class:`FaultDetected`, :class:`V2gLinkReady`, :class:`SessionFinished`).

The manager never sends an OCPP message itself: it asks for one with :class:`OcppCall` and learns the
answer from :class:`CsmsAnswered` (same ``ref``). Any OCPP 2.0.1 charge point (``evcharge.ocpp``, or another
library) carries them; the CSMS's own calls become commands.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any

__all__ = [
    "CsmsAnswered",
    "EnableEvse",
    "FaultDetected",
    "FaultKind",
    "IdTokenPresented",
    "ManagerCommand",
    "ManagerEvent",
    "OcppCall",
    "PowerSwitched",
    "RemoteStart",
    "RemoteStop",
    "SessionFinished",
    "SetChargingProfile",
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


_STOPPED_REASON = {
    FaultKind.RCD: "GroundFault",
    FaultKind.ISOLATION: "GroundFault",
    FaultKind.OVER_VOLTAGE: "Other",
    FaultKind.OVER_CURRENT: "OvercurrentFault",
    FaultKind.PILOT: "Other",
    FaultKind.CONTACTOR: "Other",
}


# -- commands ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class IdTokenPresented:
    """An identifier from the RFID reader (or a local app): authorize it with the CSMS (EIM)."""

    id_token: str
    type: str = "ISO14443"


@dataclass(frozen=True, slots=True, kw_only=True)
class RemoteStart:
    """The CSMS's RequestStartTransaction: authorized with ``id_token`` (the CSMS has decided)."""

    id_token: str
    remote_start_id: int = 1
    type: str = "Central"


@dataclass(frozen=True, slots=True, kw_only=True)
class RemoteStop:
    """The CSMS's RequestStopTransaction (or a local stop button): stop charging and end the transaction."""

    reason: str = "Remote"


@dataclass(frozen=True, slots=True, kw_only=True)
class SetChargingProfile:
    """The CSMS's SetChargingProfile (OCPP 2.0.1 ``chargingProfile`` JSON object).

    The manager keeps the profiles by id, computes the composite limit (the highest ``stackLevel`` of the
    TxProfile, else of the TxDefaultProfile, in force now) and turns it into the PWM current (AC basic
    charging) or the SECC's limits and schedules (DC): a renegotiation where the protocol has one.
    """

    profile: dict[str, Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class CsmsAnswered:
    """The answer to the :class:`OcppCall` with ``ref`` (``payload`` is ``None`` on a CALLERROR or no answer)."""

    ref: int
    payload: dict[str, Any] | None
    error: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class EnableEvse:
    """Make the EVSE available (``True``) or unavailable (ChangeAvailability, or after a fault is repaired)."""

    enabled: bool


ManagerCommand = IdTokenPresented | RemoteStart | RemoteStop | SetChargingProfile | CsmsAnswered | EnableEvse


# -- events -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class OcppCall:
    """Send the OCPP 2.0.1 CALL ``action`` with ``payload``; answer with :class:`CsmsAnswered` (same ``ref``)."""

    ref: int
    action: str
    payload: dict[str, Any] = field(default_factory=dict)


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
    """The transaction is over (``stopped_reason`` as sent in TransactionEvent Ended)."""

    transaction_id: str
    stopped_reason: str
    energy_wh: float
    energy_returned_wh: float = 0.0  #: what the car gave back (DC_BPT)


ManagerEvent = OcppCall | V2gLinkReady | PowerSwitched | FaultDetected | SessionFinished
