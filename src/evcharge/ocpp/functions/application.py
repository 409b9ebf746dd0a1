"""The charge-point application as a sans-I/O core (issue 19): the boot and its retry, the CSMS's verdict on a
transaction's identifier (StopTxOnInvalidId), and :class:`ChargePointApp` (heartbeat, the flow of a card, the cable
and the faults, the connectors' StatusNotification, remote start and stop, availability, reset, the device-model
reactions).

:class:`BootCore` decides when the station sends its BootNotification and what the CSMS's answer means: the first
connection boots; ``Pending`` and ``Rejected`` answers are retried after the answer's ``interval`` (or
``BootConfig.retry_interval``) on the core's timer; ``Accepted`` opens the gate for transaction messages and
carries the heartbeat interval; a failed call (CALLERROR, timeout, lost connection) is retried on the next
connection.  The adapter (:class:`~evcharge.ocpp.functions.transport.station.Station`) makes the calls the core
asks for and reports their outcome; ``now`` is monotonic seconds.

.. code-block:: python

    from evcharge.ocpp.functions.application import (BootCore, BootConfig, CallAnswered, Connected, MakeCall)

    core = BootCore(BootConfig(payload={"reason": "PowerUp",
                                        "chargingStation": {"model": "m", "vendorName": "v"}}))
    core.send(Connected(), now=0.0)
    call = core.next_event()                       # MakeCall(action='BootNotification', payload={...})
    core.send(CallAnswered(action="BootNotification",
                           response={"status": "Pending", "interval": 30, "currentTime": "2024-05-01T12:00:00Z"}),
              now=0.5)
    assert core.get_timer() == 30.5                # ask again after the interval
    core.handle_timer(30.5)
    assert isinstance(core.next_event(), MakeCall)
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Final, Literal, TypeAlias

from evcharge.clock import WallClock
from evcharge.ocpp.errors import OcppError

from ._common import format_datetime
from .authorization import Authorization, AuthorizationConfig, Verdict, token_key
from .config import authorization_config, offline_queue_config, smart_charging_config, transaction_config
from .device_model import ComponentKey, DeviceModel
from .errors import FunctionsLocalError
from .offline_queue import OfflineQueueConfig
from .smart_charging import SmartChargingConfig
from .transactions import (
    Authorized,
    ChargerEvent,
    ChargingRateChanged,
    EnergyFlowing,
    EnergySuspended,
    EVConnected,
    EVDisconnected,
    PowerPathClosed,
    StopRequested,
    TransactionConfig,
)

__all__ = [
    "PNC_VENDOR_ID",
    "Answer",
    "AppCommand",
    "AppConfig",
    "AppEvent",
    "AuthorizationDone",
    "AuthorizationLapsed",
    "AuthorizeRemoteStart",
    "AuthorizeToken",
    "BootAccepted",
    "BootConfig",
    "BootCore",
    "BootState",
    "CacheVerdict",
    "CallAnswered",
    "CallFailed",
    "CallResult",
    "CancelReservationRequested",
    "CardPresented",
    "ChangeAvailabilityRequested",
    "ChargePointApp",
    "ChargerInput",
    "ChargerObserved",
    "ChargingAllowed",
    "ChargingEnded",
    "Connected",
    "Disconnected",
    "EnergyStateChanged",
    "FaultCleared",
    "FaultRaised",
    "MakeCall",
    "Plugged",
    "PowerPathChanged",
    "RateChanged",
    "Reconfigure",
    "RemoteStartRequested",
    "RemoteStopRequested",
    "RequestCall",
    "ReserveNowRequested",
    "ResetNow",
    "ResetRequested",
    "SetAvailability",
    "StopTransaction",
    "TokenVerdict",
    "TransactionClosed",
    "TransactionMessageAnswered",
    "TransactionOpened",
    "Unplugged",
    "VariableSet",
    "pnc_call",
    "pnc_data",
    "token_verdict",
]

#: The ``vendorId`` of the Open Charge Alliance's application note "Using ISO 15118 Plug & Charge with OCPP 1.6":
#: the OCPP 2.0.1 Plug & Charge messages travel in 1.6 DataTransfer, ``messageId`` the 2.0.1 action (Authorize,
#: Get15118EVCertificate, ...) and ``data`` the JSON text of the 2.0.1 payload (of the response too, when Accepted).
PNC_VENDOR_ID: Final = "org.openchargealliance.iso15118pnc"


def pnc_call(message_id: str, payload: Mapping[str, Any]) -> dict[str, str]:
    """The 1.6 DataTransfer request carrying the 2.0.1 ``message_id`` request ``payload`` (the application note of
    :data:`PNC_VENDOR_ID`)."""
    return {"vendorId": PNC_VENDOR_ID, "messageId": message_id, "data": json.dumps(payload, separators=(",", ":"))}


def pnc_data(text: Any) -> dict[str, Any] | None:
    """The 2.0.1 payload in a DataTransfer ``data`` of the application note (the JSON text of an object), ``None``
    when ``text`` is not one."""
    if not isinstance(text, str):
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


@dataclass(frozen=True, slots=True, kw_only=True)
class BootConfig:
    """The BootNotification payload and the retry delay when the CSMS's answer gives no ``interval``."""

    payload: Mapping[str, Any] = field(default_factory=dict)
    retry_interval: float = 10.0


class BootState(StrEnum):
    """Where the boot stands."""

    OFFLINE = "offline"  #: not connected, not booted
    BOOTING = "booting"  #: the BootNotification is on its way
    WAITING = "waiting"  #: answered Pending or Rejected, the retry timer runs
    ACCEPTED = "accepted"  #: the CSMS accepted the station (for the life of the process)


# commands (what happened at the adapter)
@dataclass(frozen=True, slots=True, kw_only=True)
class Connected:
    """The connection to the CSMS is up."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Disconnected:
    """The connection is gone."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CallAnswered:
    """The CSMS answered the call the core asked for (``response``: the CALLRESULT payload)."""

    action: str
    response: Mapping[str, Any]
    ref: str | None = None  #: the ``ref`` of the :class:`MakeCall`


@dataclass(frozen=True, slots=True, kw_only=True)
class CallFailed:
    """The call the core asked for got no usable answer (CALLERROR, timeout, lost connection)."""

    action: str
    reason: str
    ref: str | None = None  #: the ``ref`` of the :class:`MakeCall`


Command: TypeAlias = Connected | Disconnected | CallAnswered | CallFailed


# events (what the adapter must do or know)
@dataclass(frozen=True, slots=True, kw_only=True)
class MakeCall:
    """Send this CALL and report its outcome with :class:`CallAnswered` or :class:`CallFailed` (carrying ``ref``
    back when it is set: several calls of one action may be on their way, Authorize for two EVSEs)."""

    action: str
    payload: Mapping[str, Any]
    ref: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class BootAccepted:
    """The CSMS accepted the station: transaction messages may flow; ``interval`` is the heartbeat interval (0:
    none given)."""

    interval: int


Event: TypeAlias = MakeCall | BootAccepted

#: (state, command) -> next state; anything else is a LocalProtocolError (a CallAnswered for no call, ...)
_TABLE: Mapping[tuple[BootState, type], BootState] = {
    (BootState.OFFLINE, Connected): BootState.BOOTING,
    (BootState.BOOTING, Disconnected): BootState.OFFLINE,
    (BootState.WAITING, Disconnected): BootState.OFFLINE,
    (BootState.ACCEPTED, Connected): BootState.ACCEPTED,
    (BootState.ACCEPTED, Disconnected): BootState.ACCEPTED,
}


class BootCore:
    """Boot and its retry, pure: commands and time in, calls to make and events out."""

    def __init__(self, config: BootConfig) -> None:
        self.config = config
        self._state = BootState.OFFLINE
        self._events: deque[Event] = deque()
        self._retry_at: float | None = None

    @property
    def state(self) -> BootState:
        return self._state

    @property
    def accepted(self) -> bool:
        return self._state is BootState.ACCEPTED

    def send(self, command: Command, now: float) -> None:
        """What happened at the adapter; ``FunctionsLocalError`` for a command the state does not allow."""
        state = self._state
        if isinstance(command, CallAnswered | CallFailed):
            if state is not BootState.BOOTING or command.action != "BootNotification":
                raise FunctionsLocalError(f"{type(command).__name__} for {command.action} in state {state}")
            if isinstance(command, CallFailed):
                self._state = BootState.OFFLINE  # the next connection tries again
            else:
                self._answered(command.response, now)
            return
        nxt = _TABLE.get((state, type(command)))
        if nxt is None:
            raise FunctionsLocalError(f"{type(command).__name__} in state {state}")
        self._state = nxt
        if nxt is BootState.OFFLINE:
            self._retry_at = None
        elif nxt is BootState.BOOTING and state is not BootState.BOOTING:
            self._boot()

    def _boot(self) -> None:
        self._state = BootState.BOOTING
        self._events.append(MakeCall(action="BootNotification", payload=dict(self.config.payload)))

    def _answered(self, response: Mapping[str, Any], now: float) -> None:
        interval = response.get("interval")
        interval = interval if isinstance(interval, int) and not isinstance(interval, bool) and interval > 0 else 0
        if response.get("status") == "Accepted":
            self._state = BootState.ACCEPTED
            self._events.append(BootAccepted(interval=interval))
            return
        # Pending / Rejected: ask again after the interval (OCPP 2.0.1 B02.FR.01, B03.FR.01; 1.6 4.2)
        self._state = BootState.WAITING
        self._retry_at = now + (interval or self.config.retry_interval)

    def next_event(self) -> Event | None:
        return self._events.popleft() if self._events else None

    def get_timer(self) -> float | None:
        return self._retry_at if self._state is BootState.WAITING else None

    def handle_timer(self, now: float) -> None:
        if self._state is BootState.WAITING and self._retry_at is not None and now >= self._retry_at:
            self._retry_at = None
            self._boot()


# ---------------------------------------------------------------- the CSMS's verdict on a transaction's identifier


@dataclass(frozen=True, slots=True, kw_only=True)
class TokenVerdict:
    """What the CSMS said of the identifier of a transaction message (1.6 StartTransaction ``idTagInfo``, 2.x
    TransactionEvent ``idTokenInfo``): ``token`` and ``info`` go into the authorization cache; ``stop`` says the
    transaction must end with ``DeAuthorized`` (StopTransactionOnInvalidId / TxCtrlr.StopTxOnInvalidId, for
    example a transaction started offline for an identifier the CSMS does not accept)."""

    token: Any
    info: Mapping[str, Any]
    stop: bool


def token_verdict(version: str, action: str, payload: Mapping[str, Any], response: Mapping[str, Any], *,
                  stop_tx_on_invalid_id: bool) -> TokenVerdict | None:
    """The verdict carried by the answer to a transaction message, or ``None`` when it carries none."""
    if version == "1.6":
        if action != "StartTransaction":
            return None
        token, info = payload.get("idTag"), response.get("idTagInfo")
    else:
        token, info = payload.get("idToken"), response.get("idTokenInfo")
    if token is None or not isinstance(info, Mapping) or "status" not in info:
        return None
    return TokenVerdict(token=token, info=info, stop=info["status"] != "Accepted" and stop_tx_on_invalid_id)


# ---------------------------------------------------------------- the charge-point application


@dataclass(frozen=True, slots=True, kw_only=True)
class AppConfig:
    """What the application core needs to know of the station: its OCPP version, the number of EVSEs, the
    BootNotification payload (``None``: the application boots the station itself, no boot core runs), the boot
    retry delay, whether the core sends the connectors' StatusNotification (``status_notifications``; turn it off
    for an application that sends its own) and the station's current limit (for the smart-charging configuration it
    rebuilds from the device model)."""

    version: str = "2.0.1"
    evse_count: int = 1
    boot: Mapping[str, Any] | None = None
    boot_retry_interval: float = 10.0
    status_notifications: bool = True
    max_current_a: float = 32.0


# local inputs (what happened at the station)
@dataclass(frozen=True, slots=True, kw_only=True)
class TransactionOpened:
    """A transaction began on ``evse_id`` (``tx_ref``: the transaction manager's reference).  ``authorized``:
    whether an identifier authorized it (True for a transaction resumed after a restart of the software);
    ``None``: authorized when the core has accepted an identifier for the EVSE -- a transaction that began with
    the cable alone (TxStartPoint EVConnected) allows no energy until one is (2.0.1 E02, C01)."""

    evse_id: int
    tx_ref: str
    authorized: bool | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class TransactionClosed:
    """The transaction on ``evse_id`` ended."""

    evse_id: int


@dataclass(frozen=True, slots=True, kw_only=True)
class VariableSet:
    """The CSMS changed a device-model variable (SetVariables, 1.6 ChangeConfiguration)."""

    component: str
    variable: str
    value: str


@dataclass(frozen=True, slots=True, kw_only=True)
class TransactionMessageAnswered:
    """The CSMS answered a transaction message (from the offline queue) of the transaction ``tx_ref``;
    ``stop_tx_on_invalid_id``: TxCtrlr.StopTxOnInvalidId (1.6 StopTransactionOnInvalidId); ``None``: read it from
    the core's device model (true without one)."""

    action: str
    payload: Mapping[str, Any]
    response: Mapping[str, Any]
    tx_ref: str | None
    stop_tx_on_invalid_id: bool | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Plugged:
    """The EV's cable was plugged into ``connector_id`` of ``evse_id``."""

    evse_id: int
    connector_id: int = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class Unplugged:
    """The cable was unplugged from ``evse_id``."""

    evse_id: int


@dataclass(frozen=True, slots=True, kw_only=True)
class CardPresented:
    """Someone presented ``token`` at ``evse_id`` (an RFID card: a 1.6 ``idTag`` string, a 2.x ``IdTokenType``
    dict).  With no session there it asks for one; during the session of the same identifier (or one of its group)
    it ends it."""

    evse_id: int
    token: Any


@dataclass(frozen=True, slots=True, kw_only=True)
class AuthorizeToken:
    """Authorize ``token`` for a session on ``evse_id`` (never ends one): the answer comes as
    :class:`AuthorizationDone` with the same ``ref``."""

    evse_id: int
    token: Any
    remote_start_id: int | None = None
    ref: str | None = None
    #: 2.x ``iso15118CertificateHashData`` (OCSPRequestDataType list) of a Plug & Charge contract certificate: the
    #: CSMS checks the certificate, so the identifier goes to it whenever the station is online and accepted
    hash_data: tuple[Mapping[str, Any], ...] | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestCall:
    """Make the CALL ``action`` with ``payload`` for the application: a call the core decides nothing on (2.0.1
    NotifyEVChargingNeeds, Get15118EVCertificate, NotifyEvent, a DataTransfer...).  The answer comes back as
    :class:`CallResult` with the same ``ref``; before the CSMS accepted the station (B02 / 1.6 4.2: nothing but
    the BootNotification) or while offline it fails at once."""

    action: str
    payload: Mapping[str, Any]
    ref: str


@dataclass(frozen=True, slots=True, kw_only=True)
class FaultRaised:
    """A fault on ``evse_id`` (0: the whole station).  A charger fault (``ev_side`` false) makes the connector
    Faulted and ends its transaction with ``stop_reason`` (default: from ``error_code``); an EV-side fault
    (``ev_side``: the vehicle or the link to it, 1.6 ``EVCommunicationError``) suspends the energy by the EVSE and
    the connector is not Faulted (1.6: SuspendedEVSE).  ``error_code``: the 1.6 ChargePointErrorCode."""

    evse_id: int
    error_code: str = "OtherError"
    ev_side: bool = False
    info: str | None = None
    stop_reason: str | None = None
    #: the charger's own code for it (2.x NotifyEvent ``techCode``: "rcd", "isolation", ...)
    tech_code: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class FaultCleared:
    """The charger fault (or, with ``ev_side``, the EV-side fault) on ``evse_id`` is gone."""

    evse_id: int
    ev_side: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class PowerPathChanged:
    """The contactor of ``evse_id`` closed (energy may flow) or opened."""

    evse_id: int
    closed: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class EnergyStateChanged:
    """Energy flows (``Charging``) or was suspended (``SuspendedEV``: by the EV, ``SuspendedEVSE``: by the
    charger) on ``evse_id``."""

    evse_id: int
    state: str


@dataclass(frozen=True, slots=True, kw_only=True)
class RateChanged:
    """The charging rate on ``evse_id`` changed (the charger applied a new limit of the CSMS, a renegotiated
    schedule): 2.x TransactionEvent Updated, triggerReason ChargingRateChanged."""

    evse_id: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ChargingEnded:
    """The charger ended the session on ``evse_id`` for ``reason`` (the EV stopped it through ISO 15118:
    ``StoppedByEV``; an abnormal end of the V2G session: ``Other``; a local stop button: ``Local``): the transaction
    ends (per TxStopPoint) with that stopped reason; ``trigger``: its 2.x triggerReason (``None``: from the
    reason)."""

    evse_id: int
    reason: str
    trigger: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class AuthorizationLapsed:
    """The identifier authorized on ``evse_id`` lapsed: no EV was plugged in within the connection timeout (the
    transaction manager's ``AuthorizationTimedOut``)."""

    evse_id: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ChargerObserved:
    """The application fed ``event`` to the transaction manager itself (the older way, bypassing
    :class:`Plugged` and the others): the core keeps track of the cable, the identifier and the energy from it
    without passing it on again."""

    event: ChargerEvent


AppCommand: TypeAlias = (Connected | Disconnected | CallAnswered | CallFailed | TransactionOpened | TransactionClosed
                         | VariableSet | TransactionMessageAnswered | Plugged | Unplugged | CardPresented
                         | AuthorizeToken | FaultRaised | FaultCleared | PowerPathChanged | EnergyStateChanged
                         | AuthorizationLapsed | ChargerObserved | RequestCall | RateChanged | ChargingEnded)


# incoming CALLs, as the core needs them (the adapter reads them off the typed request)
@dataclass(frozen=True, slots=True, kw_only=True)
class RemoteStartRequested:
    """2.x RequestStartTransaction / 1.6 RemoteStartTransaction; ``evse_id`` ``None``: the station chooses;
    ``authorize``: AuthCtrlr.AuthorizeRemoteStart (1.6 AuthorizeRemoteTxRequests), ``None``: read it from the
    core's device model (true without one)."""

    evse_id: int | None
    token: Any
    remote_start_id: int | None = None
    authorize: bool | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class RemoteStopRequested:
    """2.x RequestStopTransaction / 1.6 RemoteStopTransaction for the transaction the adapter found on
    ``evse_id`` (``None``: no transaction of that id runs here)."""

    evse_id: int | None


@dataclass(frozen=True, slots=True, kw_only=True)
class ChangeAvailabilityRequested:
    """ChangeAvailability: ``evse_id`` 0 is the whole station (2.x: no ``evse``; 1.6: ``connectorId`` 0)."""

    evse_id: int
    operative: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class ResetRequested:
    """Reset: 2.x ``Immediate`` / ``OnIdle`` (``evse_id`` ``None``: the station), 1.6 ``Hard`` / ``Soft``."""

    kind: str
    evse_id: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ReserveNowRequested:
    """ReserveNow (2.x ``id``, ``evseId``, ``idToken``, ``groupIdToken``, ``expiryDateTime``, ``connectorType``;
    1.6 ``reservationId``, ``connectorId``, ``idTag``, ``parentIdTag``, ``expiryDate``): keep ``evse_id`` for
    ``token`` (or any identifier of ``group``) until ``expiry`` (an aware datetime).  ``evse_id`` ``None`` (2.x: no
    ``evseId``) or 0 (1.6 ``connectorId`` 0): no EVSE named -- this core reserves named EVSEs only (Rejected, as
    2.0.1 H01.FR.19 without ReservationCtrlr.NonEvseSpecific and 1.6 without ReserveConnectorZeroSupported)."""

    reservation_id: int
    evse_id: int | None
    token: Any
    expiry: datetime
    group: Any = None
    connector_type: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CancelReservationRequested:
    """CancelReservation of ``reservation_id``."""

    reservation_id: int


Request: TypeAlias = (RemoteStartRequested | RemoteStopRequested | ChangeAvailabilityRequested | ResetRequested
                      | ReserveNowRequested | CancelReservationRequested)


@dataclass(frozen=True, slots=True, kw_only=True)
class Answer:
    """The status the response to an incoming CALL carries (``evse_id``: where a remote start goes)."""

    status: str
    evse_id: int | None = None


# actions for the station (events)
@dataclass(frozen=True, slots=True, kw_only=True)
class AuthorizeRemoteStart:
    """Start on ``evse_id`` for ``token``: ask the CSMS first when ``ask`` (then tell the transaction manager of
    an accepted token), else tell the transaction manager at once.  (No longer made by :class:`ChargePointApp`,
    which runs the authorization itself: a :class:`MakeCall` of Authorize, then :class:`ChargerInput`; an adapter
    may still carry it out.)"""

    evse_id: int
    token: Any
    remote_start_id: int | None
    ask: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class StopTransaction:
    """End the transaction on ``evse_id`` with ``reason`` (the stop reason of the transaction messages)."""

    evse_id: int
    reason: str
    trigger: str | None = None  #: the 2.x triggerReason (``None``: from the reason)


@dataclass(frozen=True, slots=True, kw_only=True)
class SetAvailability:
    """Make ``evse_id`` (0: the station) operative or not (the charger refuses new sessions when not)."""

    evse_id: int
    operative: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class ResetNow:
    """Reset now (``kind`` as requested; ``evse_id`` ``None``: the whole station): every transaction concerned has
    ended."""

    kind: str
    evse_id: int | None


@dataclass(frozen=True, slots=True, kw_only=True)
class CacheVerdict:
    """Keep the CSMS's verdict ``info`` on ``token`` in the authorization cache."""

    token: Any
    info: Mapping[str, Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class ChargerInput:
    """Tell the transaction manager that ``event`` happened (an identifier authorized, the cable plugged in, ...):
    the adapter feeds it to :meth:`~evcharge.ocpp.functions.transactions.TransactionManager.handle`."""

    event: ChargerEvent


@dataclass(frozen=True, slots=True, kw_only=True)
class AuthorizationDone:
    """The verdict on ``token`` at ``evse_id`` (``ref``: the one of :class:`AuthorizeToken`, ``None`` for a card
    or a remote start); ``status``: the authorization status (Accepted, Invalid, Blocked, Expired, Unknown, ...;
    ``NotAtThisTime`` when the EVSE takes no session now)."""

    evse_id: int
    token: Any
    accepted: bool
    status: str
    ref: str | None = None
    #: 2.x AuthorizeResponse ``certificateStatus`` (the contract certificate of :attr:`AuthorizeToken.hash_data`)
    certificate_status: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CallResult:
    """The answer to the application's :class:`RequestCall` ``ref``: ``response`` (the CALLRESULT payload), or
    ``None`` when the call failed (``reason``: CALLERROR, timeout, lost connection, not accepted, offline)."""

    action: str
    ref: str
    response: Mapping[str, Any] | None
    reason: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ChargingAllowed:
    """Whether the charger may deliver energy on ``evse_id`` (close the contactor, offer current): the cable is
    plugged in, an identifier is authorized or a transaction runs, no charger or EV-side fault, the EVSE is
    operative.  Made each time it changes."""

    evse_id: int
    allowed: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class Reconfigure:
    """The device model changed: the functions' configurations built again from it (apply each to its
    function)."""

    authorization: AuthorizationConfig
    transactions: TransactionConfig
    offline_queue: OfflineQueueConfig
    smart_charging: SmartChargingConfig


AppEvent: TypeAlias = (MakeCall | BootAccepted | AuthorizeRemoteStart | StopTransaction | SetAvailability | ResetNow
                       | CacheVerdict | ChargerInput | AuthorizationDone | ChargingAllowed | Reconfigure | CallResult)

_STOP_REASON = {"Immediate": "ImmediateReset", "Hard": "HardReset", "Soft": "SoftReset"}
#: the 2.x stoppedReason of a charger fault, by the 1.6 ChargePointErrorCode (1.6 StopTransaction has no such
#: reasons: "Other")
_FAULT_REASON = {"GroundFailure": "GroundFault", "OverCurrentFailure": "OvercurrentFault",
                 "UnderVoltage": "PowerQuality", "OverVoltage": "PowerQuality"}
_ENERGY_STATES = ("Charging", "SuspendedEV", "SuspendedEVSE")
_UNIX_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(slots=True)
class _Evse:
    """What the core knows of one EVSE."""

    plugged: bool = False
    connector_id: int = 1
    token: Any = None  # the identifier authorized here (waiting for the EV, or the running transaction's)
    group: Any = None  # its group (1.6 parentIdTag, 2.x groupIdToken) when known
    closed: bool = False  # the contactor
    energy: str | None = None  # Charging / SuspendedEV / SuspendedEVSE, as last reported
    fault: FaultRaised | None = None  # charger side
    ev_fault: FaultRaised | None = None
    finishing: bool = False  # a transaction ended with the cable still plugged in (1.6 Finishing)
    allowed: bool = False  # the last ChargingAllowed


@dataclass(frozen=True, slots=True)
class _Reservation:
    """A reservation the core accepted (ReserveNow)."""

    id: int
    evse_id: int
    token: Any
    group: Any
    expiry: datetime


@dataclass(frozen=True, slots=True)
class _Ask:
    """An Authorize call on its way."""

    evse_id: int
    token: Any
    remote_start_id: int | None
    ref: str | None  # the AuthorizeToken's
    stop: bool  # a card presented during a session: it ends it if it shares its group
    hash_data: tuple[Mapping[str, Any], ...] | None = None  # a contract certificate's (Plug & Charge)


class ChargePointApp:
    """The charge point's application decisions, pure (issue 19): boot and its retry (:class:`BootCore`), the
    heartbeat, the authorization of an identifier (local list, cache, Authorize; per
    :class:`~evcharge.ocpp.functions.authorization.Authorization`), the cable and the faults, the connectors'
    StatusNotification, remote start and stop, StopTxOnInvalidId, availability, reset, reservations (ReserveNow /
    CancelReservation of a named EVSE; 2.x ReservationCtrlr.Available / .Enabled and 1.6 SupportedFeatureProfiles
    are read when the device model has them, else reservations are taken) and the device-model reactions.  Local
    inputs go in with :meth:`send`, incoming CALLs with :meth:`answer` (their response status
    comes back), the actions come out of :meth:`next_event`; timers (boot retry, heartbeat) on the station's
    monotonic clock.

    ``authorization`` (read only: the core decides, the cache is written by carrying out :class:`CacheVerdict`) and
    ``device_model`` (AuthorizeRemoteStart, StopTxOnInvalidId, the configurations of :class:`Reconfigure`) are the
    station's; without them an in-memory authorization with the default policy and the defaults of the variables.
    ``wall`` maps ``now`` to the StatusNotification timestamps (without one ``now`` reads as UNIX seconds)."""

    def __init__(self, config: AppConfig, *, authorization: Authorization | None = None,
                 device_model: DeviceModel | None = None, wall: WallClock | None = None) -> None:
        self.config = config
        self.boot = (BootCore(BootConfig(payload=dict(config.boot), retry_interval=config.boot_retry_interval))
                     if config.boot is not None else None)
        version = _version(config.version)
        self.authorization = (authorization if authorization is not None
                              else Authorization(AuthorizationConfig(version=version)))
        self.device_model = device_model
        self.wall = wall if wall is not None else WallClock(_UNIX_EPOCH)
        self._events: deque[AppEvent] = deque()
        self._tx: dict[int, str] = {}
        #: availability wished for each EVSE (0: the station) and the one in effect
        self._operative: dict[int, bool] = dict.fromkeys(range(config.evse_count + 1), True)
        self._wanted: dict[int, bool] = {}
        self._reset: ResetRequested | None = None
        self._online = False
        self._heartbeat_interval = 0
        self._heartbeat_at: float | None = None
        self._evses = {e: _Evse() for e in range(0, config.evse_count + 1)}  # 0: the station (its faults)
        self._asking: dict[str, _Ask] = {}
        self._requested: dict[str, RequestCall] = {}  # the application's calls on their way, by the core's ref
        self._deferred: list[_Ask] = []  # identifiers presented while the BootNotification is on its way
        self._refs = 0
        self._events_sent = 0  # NotifyEvent eventIds
        self._unauthorized: set[int] = set()  # EVSEs whose transaction began without an identifier (not yet one)
        self._reservations: dict[int, _Reservation] = {}  # by reservation id
        #: the (status, errorCode) last sent for each connector (1.6 connector 0: the station)
        self._reported: dict[int, tuple[str, str]] = {}

    # ---------------------------------------------------------------- state

    @property
    def state(self) -> BootState:
        """Where the boot stands; always ``ACCEPTED`` when the application boots the station itself."""
        return self.boot.state if self.boot is not None else BootState.ACCEPTED

    @property
    def accepted(self) -> bool:
        """Whether transaction messages may flow (the CSMS accepted the station, or the application boots it)."""
        return self.boot is None or self.boot.accepted

    @property
    def online(self) -> bool:
        """Whether the connection to the CSMS is up (:class:`Connected` / :class:`Disconnected`)."""
        return self._online

    def operative(self, evse_id: int) -> bool:
        """Whether ``evse_id`` takes new sessions (it and the station are operative, no reset is pending)."""
        return self._operative.get(0, True) and self._operative.get(evse_id, False) and self._reset is None

    def transaction_ref(self, evse_id: int) -> str | None:
        """The reference of the transaction running on ``evse_id``, as reported with :class:`TransactionOpened`."""
        return self._tx.get(evse_id)

    def connector_status(self, evse_id: int) -> str:
        """The connector status of ``evse_id`` in the names of the configured version (1.6 ChargePointStatus:
        Available, Preparing, Charging, SuspendedEV, SuspendedEVSE, Finishing, Unavailable, Faulted; 2.x
        ConnectorStatusEnumType: Available, Occupied, Reserved, Unavailable, Faulted; 1.6 also Reserved); 1.6
        ``evse_id`` 0: the station."""
        return self._status(self._check_evse(evse_id, station=True))[0]

    # ---------------------------------------------------------------- local inputs

    def send(self, command: AppCommand, now: float) -> None:
        """What happened at the station; ``FunctionsLocalError`` for an answer to no call or an unknown EVSE."""
        self._expire(now)
        self._dispatch(command, now)
        self._after(now)

    def _dispatch(self, command: AppCommand, now: float) -> None:
        if isinstance(command, TransactionOpened | TransactionClosed):
            evse = self._evses[self._check_evse(command.evse_id)]
            if isinstance(command, TransactionOpened):
                self._tx[command.evse_id] = command.tx_ref
                evse.finishing = False
                if command.authorized is False or (command.authorized is None and evse.token is None):
                    self._unauthorized.add(command.evse_id)
                else:
                    self._unauthorized.discard(command.evse_id)
                fault = evse.fault or self._evses[0].fault
                if fault is not None:  # started on a faulted EVSE (the charger closed the contactor anyway): end it
                    self._events.append(StopTransaction(evse_id=command.evse_id, reason=self._fault_reason(fault),
                                                        trigger="AbnormalCondition"))
            else:
                self._tx.pop(command.evse_id, None)
                self._unauthorized.discard(command.evse_id)
                evse.token = evse.group = evse.energy = None
                evse.finishing = evse.plugged
                self._idle(command.evse_id)
            return
        if isinstance(command, VariableSet):
            self._variable_set(command, now)
            return
        if isinstance(command, TransactionMessageAnswered):
            self._transaction_answered(command)
            return
        if isinstance(command, Plugged | Unplugged | CardPresented | AuthorizeToken | FaultRaised | FaultCleared
                      | PowerPathChanged | EnergyStateChanged | AuthorizationLapsed | RateChanged | ChargingEnded):
            self._station_input(command, now)
            return
        if isinstance(command, ChargerObserved):
            self._observed(command.event)
            return
        if isinstance(command, RequestCall):
            self._request_call(command)
            return
        if isinstance(command, CallAnswered | CallFailed) and command.ref in self._requested:
            request = self._requested.pop(command.ref)
            self._events.append(CallResult(action=request.action, ref=request.ref,
                                           response=command.response if isinstance(command, CallAnswered) else None,
                                           reason=command.reason if isinstance(command, CallFailed) else None))
            return
        if isinstance(command, CallAnswered | CallFailed) and command.action == "Authorize":
            self._authorize_answered(command, now)
            return
        if isinstance(command, CallAnswered | CallFailed) and command.action == "DataTransfer" \
                and command.ref in self._asking:
            self._pnc_answered(command, now)
            return
        if isinstance(command, CallAnswered | CallFailed) and command.action in (
                "StatusNotification", "NotifyEvent", "ReservationStatusUpdate"):
            return  # nothing follows from its answer
        if isinstance(command, Connected | Disconnected):
            self._online = isinstance(command, Connected)
            self._heartbeat_at = (now + self._heartbeat_interval
                                  if self._online and self._heartbeat_interval and self.accepted else None)
        if isinstance(command, CallAnswered | CallFailed) and command.action == "Heartbeat":
            return  # the next one is already armed
        if self.boot is not None:
            self.boot.send(command, now)
            self._take_boot(now)
        elif isinstance(command, CallAnswered | CallFailed):
            raise FunctionsLocalError(f"{type(command).__name__} for {command.action}: no call was asked for")
        elif isinstance(command, Connected):
            self._reported.clear()  # no boot: every connection announces the connectors (as an accepted boot)

    def _transaction_answered(self, command: TransactionMessageAnswered) -> None:
        stop_tx = command.stop_tx_on_invalid_id
        if stop_tx is None:
            stop_tx = self._setting("TxCtrlr", "StopTxOnInvalidId", default=True)
        verdict = token_verdict(self.config.version, command.action, command.payload, command.response,
                                stop_tx_on_invalid_id=stop_tx)
        if verdict is None:
            return
        self._events.append(CacheVerdict(token=verdict.token, info=verdict.info))
        if verdict.stop and command.tx_ref is not None:
            # 2.0.1 E05 / C15 (StopTxOnInvalidId), 1.6 StopTransactionOnInvalidId: end it with DeAuthorized
            for evse_id, ref in sorted(self._tx.items()):
                if ref == command.tx_ref:
                    self._events.append(StopTransaction(evse_id=evse_id, reason="DeAuthorized"))

    def accepts_session(self, evse_id: int) -> bool:
        """Whether an identifier presented at ``evse_id`` may be authorized: the EVSE is operative and not faulted,
        or a transaction already runs there (G03: no new session on an Unavailable EVSE, nor while a reset
        waits)."""
        if evse_id in self._tx:
            return True
        evse = self._evses.get(evse_id)
        return (self.operative(evse_id) and evse is not None and evse.fault is None
                and self._evses[0].fault is None)

    def _take_boot(self, now: float) -> None:
        assert self.boot is not None
        while (event := self.boot.next_event()) is not None:
            self._events.append(event)
            if isinstance(event, BootAccepted):
                self._reported.clear()  # B01 / 1.6 4.9: after the boot, the status of every connector
                if event.interval:
                    self._arm_heartbeat(event.interval, now)

    def _variable_set(self, command: VariableSet, now: float) -> None:
        # 2.0.1 B01 / 1.6 9.1.10: a new HeartbeatInterval takes effect at once (the next Heartbeat is due after it)
        if command.variable == "HeartbeatInterval" and command.component in ("OCPPCommCtrlr", ""):
            try:
                interval = int(command.value)
            except ValueError:
                interval = -1
            if interval >= 0:
                self._arm_heartbeat(interval, now)
        dm = self.device_model
        if dm is None:
            return
        if self._events and isinstance(self._events[-1], Reconfigure):
            self._events.pop()  # built before this change: one built after it replaces it
        # every function's configuration is read off the device model: build them again
        version, n = _version(self.config.version), self.config.evse_count
        self._events.append(Reconfigure(
            authorization=authorization_config(dm, version=version),
            transactions=transaction_config(dm, version=version, evse_count=n),
            offline_queue=offline_queue_config(dm),
            smart_charging=smart_charging_config(dm, version=version, evse_count=n,
                                                 max_current_a=self.config.max_current_a)))

    def _arm_heartbeat(self, interval: int, now: float) -> None:
        self._heartbeat_interval = interval
        self._heartbeat_at = now + interval if interval and self._online and self.accepted else None

    def _setting(self, component: str, variable: str, *, default: bool) -> bool:
        if self.device_model is None:
            return default
        try:
            return self.device_model.get_bool(component, variable)
        except (OcppError, ValueError):
            return default

    # ---------------------------------------------------------------- the station's inputs: cable, cards, faults

    def _station_input(self, command: AppCommand, now: float) -> None:
        if isinstance(command, FaultRaised | FaultCleared):
            self._fault(command, now)
            return
        evse_id = self._check_evse(command.evse_id)  # type: ignore[union-attr]
        evse = self._evses[evse_id]
        if isinstance(command, Plugged):
            evse.plugged, evse.connector_id = True, command.connector_id
            self._events.append(ChargerInput(event=EVConnected(evse_id, command.connector_id)))
        elif isinstance(command, Unplugged):
            evse.plugged = evse.closed = evse.finishing = False
            evse.energy = None
            if evse_id not in self._tx:
                evse.token = evse.group = None
            self._events.append(ChargerInput(event=EVDisconnected(evse_id)))
        elif isinstance(command, CardPresented):
            self._card(evse_id, evse, command.token, now)
        elif isinstance(command, AuthorizeToken):
            self._authorize(_Ask(evse_id=evse_id, token=command.token, remote_start_id=command.remote_start_id,
                                 ref=command.ref, stop=False, hash_data=command.hash_data), now)
        elif isinstance(command, PowerPathChanged):
            evse.closed = command.closed
            if command.closed:
                self._events.append(ChargerInput(event=PowerPathClosed(evse_id)))
            else:
                evse.energy = None
        elif isinstance(command, EnergyStateChanged):
            if command.state not in _ENERGY_STATES:
                raise FunctionsLocalError(f"energy state {command.state!r}: not one of {', '.join(_ENERGY_STATES)}")
            evse.energy = command.state
            self._events.append(ChargerInput(event=EnergyFlowing(evse_id) if command.state == "Charging"
                                             else EnergySuspended(evse_id, by_ev=command.state == "SuspendedEV")))
        elif isinstance(command, AuthorizationLapsed):
            if evse_id not in self._tx:
                evse.token = evse.group = None
        elif isinstance(command, RateChanged):
            self._events.append(ChargerInput(event=ChargingRateChanged(evse_id)))
        elif isinstance(command, ChargingEnded):
            if evse_id not in self._tx:
                evse.token = evse.group = None
            self._events.append(ChargerInput(event=StopRequested(evse_id, command.reason, trigger=command.trigger)))

    def _observed(self, event: ChargerEvent) -> None:
        evse = self._evses[self._check_evse(event.evse_id)]
        if isinstance(event, EVConnected):
            evse.plugged, evse.connector_id = True, event.connector_id
        elif isinstance(event, EVDisconnected):
            evse.plugged = evse.closed = evse.finishing = False
            evse.energy = None
            if event.evse_id not in self._tx:
                evse.token = evse.group = None
        elif isinstance(event, Authorized):
            evse.token, evse.finishing = event.id_token, False
        elif isinstance(event, StopRequested):
            if event.evse_id not in self._tx:
                evse.token = evse.group = None
        elif isinstance(event, PowerPathClosed):
            evse.closed = True
        elif isinstance(event, EnergyFlowing):
            evse.energy = "Charging"
        elif isinstance(event, EnergySuspended):
            evse.energy = "SuspendedEV" if event.by_ev else "SuspendedEVSE"
        # (ChargingRateChanged: nothing the core keeps)

    def _fault(self, command: FaultRaised | FaultCleared, now: float) -> None:
        evse_id = self._check_evse(command.evse_id, station=True)
        evse = self._evses[evse_id]
        if isinstance(command, FaultCleared):
            if command.ev_side:
                evse.ev_fault = None
            else:
                if evse.fault is not None:
                    self._notify_problem(evse_id, evse.fault, now, cleared=True)
                evse.fault = None
            return
        if command.ev_side:
            evse.ev_fault = command
            if evse_id in self._tx and evse.energy != "SuspendedEVSE":
                # the charger stops the energy while the vehicle side is in error; the transaction goes on
                evse.energy = "SuspendedEVSE"
                self._events.append(ChargerInput(event=EnergySuspended(evse_id, by_ev=False)))
            return
        evse.fault = command
        self._drop_reservations(evse_id)  # 2.0.1 H01.FR.16: a Faulted EVSE keeps no reservation
        reason = self._fault_reason(command)
        for e in sorted(self._tx):
            if evse_id in (0, e):  # a charger fault ends the transactions it touches
                self._events.append(StopTransaction(evse_id=e, reason=reason, trigger="AbnormalCondition"))
        self._notify_problem(evse_id, command, now, cleared=False)

    def _notify_problem(self, evse_id: int, fault: FaultRaised, now: float, *, cleared: bool) -> None:
        """2.x: a charger fault is reported with NotifyEvent (the StatusNotification carries no error code): the
        Problem variable of the EVSE (or the station) turns true, and false when it is cleared (N07, Alerting;
        HardWiredNotification: the charger's own monitoring).  1.6: the StatusNotification's errorCode says it."""
        if self.config.version == "1.6" or not (self._online and self.accepted):
            return
        self._events_sent += 1
        stamp = format_datetime(self.wall.utc(now))
        component: dict[str, Any] = ({"name": "EVSE", "evse": {"id": evse_id}} if evse_id
                                     else {"name": "ChargingStation"})
        data: dict[str, Any] = {"eventId": self._events_sent, "timestamp": stamp, "trigger": "Alerting",
                                "actualValue": "false" if cleared else "true", "cleared": cleared,
                                "eventNotificationType": "HardWiredNotification", "component": component,
                                "variable": {"name": "Problem"}, "techCode": (fault.tech_code or fault.error_code)[:50]}
        if fault.info:
            data["techInfo"] = fault.info[:500]
        self._events.append(MakeCall(action="NotifyEvent", payload={"generatedAt": stamp, "seqNo": 0,
                                                                    "eventData": [data]}))

    def _fault_reason(self, fault: FaultRaised) -> str:
        if fault.stop_reason is not None:
            return fault.stop_reason
        return "Other" if self.config.version == "1.6" else _FAULT_REASON.get(fault.error_code, "Other")

    def _card(self, evse_id: int, evse: _Evse, token: Any, now: float) -> None:
        if evse.token is None:
            # no identifier here yet: it asks for a session, or authorizes the transaction that began without one
            # (2.0.1 E02, cable plugged in first with TxStartPoint EVConnected)
            self._authorize(_Ask(evse_id=evse_id, token=token, remote_start_id=None, ref=None, stop=False), now)
            return
        if evse.token is not None and _same_token(evse.token, token):
            # 1.6 3.5 / 2.0.1 E07: the identifier that started the session ends it (or withdraws the authorization
            # while no EV is plugged in)
            self._end_session(evse_id, evse, token)
            return
        # another identifier ends the session only when it belongs to the same group (1.6 parentIdTag, 2.0.1
        # C09 groupIdToken): known locally, or asked of the CSMS
        found = self.authorization.lookup(token, now)
        if found is not None and found.info is not None and evse.group is not None:
            if _same_token(_group(found.info), evse.group):
                self._end_session(evse_id, evse, token)
                return
        ask = _Ask(evse_id=evse_id, token=token, remote_start_id=None, ref=None, stop=True)
        if self._online and self.accepted and evse.group is not None:
            self._ask_csms(ask)
        else:
            self._events.append(AuthorizationDone(evse_id=evse_id, token=token, accepted=False, status="Invalid"))

    def _end_session(self, evse_id: int, evse: _Evse, token: Any) -> None:
        if evse_id not in self._tx:
            evse.token = evse.group = None
        self._events.append(ChargerInput(event=StopRequested(evse_id, "Local", id_token=token)))

    # ---------------------------------------------------------------- authorization

    def _authorize(self, ask: _Ask, now: float) -> None:
        """The flow of an identifier (1.6 3.5, 2.0.1 C01 / C12-C15): local list and cache per the offline policy,
        else Authorize; accepted, the transaction manager learns of it."""
        if not self.accepts_session(ask.evse_id):
            # G03 / 1.6 ChangeAvailability: no new session on an Unavailable (or faulted) EVSE, nor while a reset
            # waits
            self._done(ask, accepted=False, status="NotAtThisTime")
            return
        held = self._reservation_on(ask.evse_id)
        if held is not None and held.group is None and not _same_token(held.token, ask.token):
            # 2.0.1 H03 / 1.6 5.13: a reserved EVSE takes only the identifier it is reserved for (or one of the
            # reservation's group; without a group nothing needs to be asked)
            self._done(ask, accepted=False, status="NotAtThisTime")
            return
        if self._booting():
            # B02 / 1.6 4.2: nothing but the BootNotification before the CSMS accepted the station; its answer is
            # on its way: the identifier waits for it (Accepted: Authorize; Pending, Rejected, lost: offline)
            self._deferred.append(ask)
            return
        if ask.hash_data and self._online and self.accepted:
            # a contract certificate: only the CSMS can check it (C07; 1.6: the application note's DataTransfer)
            self._ask_csms(ask)
            return
        decision = self.authorization.decide(ask.token, online=self._online and self.accepted, now=now)
        if decision.verdict is Verdict.ASK_CSMS:
            self._ask_csms(ask)
        elif decision.verdict is Verdict.ACCEPT:
            self._accept(ask, decision.info)
        else:
            self._done(ask, accepted=False, status=decision.status)

    def _ask_csms(self, ask: _Ask, *, plain: bool = False) -> None:
        """Authorize ``ask.token`` at the CSMS.  With a contract certificate's hash data (Plug & Charge) 2.x
        sends them in Authorize; 1.6 sends the 2.0.1 AuthorizeRequest (idToken type eMAID, the hash data) in
        DataTransfer (:data:`PNC_VENDOR_ID`, messageId Authorize), unless ``plain``: Authorize(idTag)."""
        self._refs += 1
        ref = f"authorize-{self._refs}"
        self._asking[ref] = ask
        token = dict(ask.token) if isinstance(ask.token, Mapping) else ask.token
        if self.config.version == "1.6" and ask.hash_data and not plain:
            emaid = token.get("idToken") if isinstance(token, Mapping) else token
            request = {"idToken": {"idToken": str(emaid), "type": "eMAID"},
                       "iso15118CertificateHashData": [dict(h) for h in ask.hash_data]}
            self._events.append(MakeCall(action="DataTransfer", payload=pnc_call("Authorize", request), ref=ref))
            return
        key = "idTag" if self.config.version == "1.6" else "idToken"
        payload: dict[str, Any] = {key: token}
        if ask.hash_data and self.config.version != "1.6":
            payload["iso15118CertificateHashData"] = [dict(h) for h in ask.hash_data]
        self._events.append(MakeCall(action="Authorize", payload=payload, ref=ref))

    def _pnc_answered(self, command: CallAnswered | CallFailed, now: float) -> None:
        """The answer to a 1.6 DataTransfer Authorize of the application note (Plug & Charge on OCPP 1.6).

        Accepted with a 2.0.1 AuthorizeResponse in ``data``: its ``idTokenInfo.status`` and ``certificateStatus``
        decide (:class:`AuthorizationDone`), the cache keeps the 1.6 ``idTagInfo`` of the eMAID idTag.  A CSMS
        without the application note (UnknownVendorId, UnknownMessageId, Rejected, ``data`` that is no 2.0.1
        AuthorizeResponse, or a CALLERROR while the connection stays up): the plain 1.6 Authorize(idTag=eMAID)
        follows, whose verdict carries no certificate status.  Offline meanwhile: the authorization's offline
        rules, as for a failed Authorize."""
        ask = self._asking.pop(str(command.ref))
        got = None
        if isinstance(command, CallAnswered) and command.response.get("status") == "Accepted":
            got = pnc_data(command.response.get("data"))
        info = got.get("idTokenInfo") if got is not None else None
        if not isinstance(info, Mapping) or not isinstance(info.get("status"), str):
            if self._online and self.accepted:
                self._ask_csms(ask, plain=True)
            else:
                self._unanswered(ask, now)
            return
        assert got is not None
        certificate = got.get("certificateStatus")
        self._verdict(ask, _id_tag_info(info), str(info["status"]),
                      certificate if isinstance(certificate, str) else None)

    def _authorize_answered(self, command: CallAnswered | CallFailed, now: float) -> None:
        ask = self._asking.pop(command.ref, None) if command.ref is not None else None
        if ask is None:
            raise FunctionsLocalError(f"{type(command).__name__} for Authorize {command.ref!r}: no such call")
        info: Mapping[str, Any] | None = None
        if isinstance(command, CallAnswered):
            got = command.response.get("idTagInfo" if self.config.version == "1.6" else "idTokenInfo")
            info = got if isinstance(got, Mapping) and isinstance(got.get("status"), str) else None
        if info is None:
            self._unanswered(ask, now)
            return
        got = command.response.get("certificateStatus") if isinstance(command, CallAnswered) else None
        self._verdict(ask, info, str(info["status"]), got if isinstance(got, str) else None)

    def _unanswered(self, ask: _Ask, now: float) -> None:
        """No usable answer (connection lost, CALLERROR, timeout): decide offline (1.6 3.5, 2.0.1 C12-C15)."""
        if ask.stop:
            self._done(ask, accepted=False, status="Unknown")
            return
        decision = self.authorization.decide(ask.token, online=False, now=now)
        if decision.verdict is Verdict.ACCEPT and self.accepts_session(ask.evse_id):
            self._accept(ask, decision.info)
        else:
            self._done(ask, accepted=False, status=decision.status)

    def _verdict(self, ask: _Ask, info: Mapping[str, Any], status: str, certificate: str | None) -> None:
        """The CSMS's verdict ``status`` on ``ask`` (``info``: the idTagInfo / idTokenInfo the cache keeps).  A
        contract certificate the CSMS does not accept (``certificateStatus`` other than Accepted, or
        NoCertificateAvailable: no OCSP answer, the charger's own chain check stands) refuses the session whatever
        the identifier's status (2.0.1 C07), and the identifier's Accepted is not cached."""
        refused = ask.hash_data is not None and certificate not in (None, "Accepted", "NoCertificateAvailable")
        if not refused:
            self._events.append(CacheVerdict(token=ask.token, info=info))
        evse = self._evses[ask.evse_id]
        if ask.stop:
            if evse.group is not None and _same_token(_group(info), evse.group):
                self._end_session(ask.evse_id, evse, ask.token)
            else:
                self._done(ask, accepted=False, status=status)
            return
        if status != "Accepted" or refused:
            self._done(ask, accepted=False, status=status, certificate=certificate)
        elif not self.accepts_session(ask.evse_id):
            self._done(ask, accepted=False, status="NotAtThisTime", certificate=certificate)  # unavailable meanwhile
        else:
            self._accept(ask, info, certificate)

    def _accept(self, ask: _Ask, info: Mapping[str, Any] | None, certificate: str | None = None) -> None:
        evse = self._evses[ask.evse_id]
        reservation_id = None
        held = self._reservation_on(ask.evse_id)
        if held is not None:
            group = _group(info) if info is not None else None
            if not (_same_token(held.token, ask.token) or (held.group is not None and _same_token(group, held.group))):
                # 2.0.1 H03 (remark: an identifier matching neither the reservation nor its group is not authorized
                # to charge) / 1.6 5.13
                self._done(ask, accepted=False, status="NotAtThisTime", certificate=certificate)
                return
            # 2.0.1 H03.FR.09: the identifier (or one of its group) used the reservation; the transaction message
            # carrying it says so (H01.FR.15; 1.6 StartTransaction reservationId)
            del self._reservations[held.id]
            reservation_id = held.id
        evse.token, evse.group, evse.finishing = ask.token, _group(info) if info is not None else None, False
        self._unauthorized.discard(ask.evse_id)
        self._events.append(ChargerInput(event=Authorized(ask.evse_id, ask.token, ask.remote_start_id,
                                                          reservation_id=reservation_id)))
        self._done(ask, accepted=True, status="Accepted", certificate=certificate)

    def _done(self, ask: _Ask, *, accepted: bool, status: str, certificate: str | None = None) -> None:
        self._events.append(AuthorizationDone(evse_id=ask.evse_id, token=ask.token, accepted=accepted,
                                              status=status, ref=ask.ref, certificate_status=certificate))

    def _request_call(self, request: RequestCall) -> None:
        if not (self._online and self.accepted):
            # B02 / 1.6 4.2: nothing but the BootNotification before the CSMS accepted the station; offline: no call
            reason = "offline" if not self._online else "the CSMS has not accepted the station (BootNotification)"
            self._events.append(CallResult(action=request.action, ref=request.ref, response=None, reason=reason))
            return
        self._refs += 1
        ref = f"call-{self._refs}"
        self._requested[ref] = request
        self._events.append(MakeCall(action=request.action, payload=dict(request.payload), ref=ref))

    # ---------------------------------------------------------------- incoming CALLs

    def answer(self, request: Request, now: float) -> Answer:
        """Decide an incoming CALL: the status its response carries; the actions follow in :meth:`next_event`."""
        if isinstance(request, RemoteStartRequested):
            answer = self._remote_start(request, now)
        elif isinstance(request, RemoteStopRequested):
            # 2.0.1 F03 / 1.6 5.12: Accepted and stopped when the transaction runs here, else Rejected
            if request.evse_id is None or request.evse_id not in self._tx:
                return Answer(status="Rejected")
            self._events.append(StopTransaction(evse_id=request.evse_id, reason="Remote"))
            answer = Answer(status="Accepted", evse_id=request.evse_id)
        elif isinstance(request, ChangeAvailabilityRequested):
            answer = self._change_availability(request)
        elif isinstance(request, ReserveNowRequested):
            self._expire(now)
            answer = self._reserve(request, now)
        elif isinstance(request, CancelReservationRequested):
            self._expire(now)
            # 2.0.1 H02.FR.01 / FR.02, 1.6 5.2: Accepted (and the connector free again, H02.FR.03 / FR.04) for a
            # reservation the station holds, else Rejected
            found = self._reservations.pop(request.reservation_id, None)
            answer = Answer(status="Accepted" if found is not None else "Rejected",
                            evse_id=found.evse_id if found is not None else None)
        else:
            answer = self._reset_requested(request)
        self._after(now)
        return answer

    def _remote_start(self, request: RemoteStartRequested, now: float) -> Answer:
        n = self.config.evse_count
        if request.evse_id is None:  # the station chooses: the first free, operative EVSE (reserved: for this one)
            free = [e for e in range(1, n + 1) if e not in self._tx and self.accepts_session(e)
                    and self._may_use(e, request.token)]
            evse_id = free[0] if free else 1
        else:
            evse_id = request.evse_id
        # 2.0.1 F01 / 1.6 5.11: Rejected for an EVSE that does not exist, is not available (G03: Unavailable, a
        # reset is pending, faulted) or, in 1.6 (where RemoteStart carries no transactionId), already has a
        # transaction
        if not 1 <= evse_id <= n or not self.operative(evse_id) or not self.accepts_session(evse_id):
            return Answer(status="Rejected")
        if self.config.version == "1.6" and evse_id in self._tx:
            return Answer(status="Rejected")
        authorize = request.authorize
        if authorize is None:
            authorize = self._setting("AuthCtrlr", "AuthorizeRemoteStart", default=True)
        held = self._reservation_on(evse_id)
        if held is not None and not _same_token(held.token, request.token) and (held.group is None or not authorize):
            return Answer(status="Rejected")  # reserved for another identifier (H03; 1.6 5.13)
        ask = _Ask(evse_id=evse_id, token=request.token, remote_start_id=request.remote_start_id, ref=None,
                   stop=False)
        if authorize:
            # F02 / 1.6 AuthorizeRemoteTxRequests: the identifier goes through the authorization first (local
            # list / cache when LocalPreAuthorize, else Authorize)
            self._authorize(ask, now)
        else:
            self._accept(ask, None)
        return Answer(status="Accepted", evse_id=evse_id)

    def _change_availability(self, request: ChangeAvailabilityRequested) -> Answer:
        evse_id = request.evse_id
        if not 0 <= evse_id <= self.config.evse_count:
            return Answer(status="Rejected")
        busy = [e for e in self._tx if evse_id in (0, e)]
        if self._operative[evse_id] == request.operative and evse_id not in self._wanted:
            return Answer(status="Accepted")  # already so
        if request.operative or not busy:
            self._wanted.pop(evse_id, None)
            self._set_availability(evse_id, request.operative)
            return Answer(status="Accepted")
        # G03 (2.0.1) / 1.6 5.2: a transaction runs there: Scheduled, applied once it has ended
        self._wanted[evse_id] = request.operative
        return Answer(status="Scheduled")

    def _set_availability(self, evse_id: int, operative: bool) -> None:
        self._operative[evse_id] = operative
        if not operative:
            self._drop_reservations(evse_id)  # 2.0.1 H01.FR.17: an Unavailable EVSE keeps no reservation
        self._events.append(SetAvailability(evse_id=evse_id, operative=operative))

    # ---------------------------------------------------------------- reservations

    def reservation(self, evse_id: int) -> int | None:
        """The id of the reservation held on ``evse_id``, or ``None``."""
        held = self._reservation_on(evse_id)
        return held.id if held is not None else None

    def _reservation_on(self, evse_id: int) -> _Reservation | None:
        return next((r for r in self._reservations.values() if r.evse_id == evse_id), None)

    def _may_use(self, evse_id: int, token: Any) -> bool:
        held = self._reservation_on(evse_id)
        return held is None or _same_token(held.token, token)

    def _reservations_enabled(self) -> bool:
        """Whether the station takes reservations: 2.x ReservationCtrlr.Available and .Enabled (true when the
        device model has no such variables); 1.6 the Reservation profile in SupportedFeatureProfiles."""
        if self.config.version != "1.6":
            return (self._setting("ReservationCtrlr", "Available", default=True)
                    and self._setting("ReservationCtrlr", "Enabled", default=True))
        if self.device_model is None:
            return True
        try:
            return "Reservation" in self.device_model.get_list("OCPP16Ctrlr", "SupportedFeatureProfiles")
        except (OcppError, ValueError):
            return True

    def _connector_type(self, evse_id: int) -> str | None:
        if self.device_model is None:
            return None
        try:
            return self.device_model.get(ComponentKey("Connector", evse_id=evse_id,
                                                      connector_id=self._evses[evse_id].connector_id),
                                         "ConnectorType")
        except (OcppError, ValueError):
            return None

    def _reserve(self, request: ReserveNowRequested, now: float) -> Answer:
        evse_id = request.evse_id
        if not self._reservations_enabled():
            return Answer(status="Rejected")  # 2.0.1 H01.FR.01; 1.6 5.13: not configured to accept reservations
        if evse_id is None or evse_id == 0:
            # 2.0.1 H01.FR.19 (no ReservationCtrlr.NonEvseSpecific), 1.6 5.13 (no ReserveConnectorZeroSupported)
            return Answer(status="Rejected")
        if not 1 <= evse_id <= self.config.evse_count or request.expiry <= self.wall.utc(now):
            return Answer(status="Rejected")  # no such EVSE; a reservation that has expired already
        if request.connector_type is not None and self.config.version != "1.6":
            known = self._connector_type(evse_id)
            if known is not None and known != request.connector_type:
                return Answer(status="Rejected")  # the EVSE has no connector of that type
        evse = self._evses[evse_id]
        if evse.fault is not None or self._evses[0].fault is not None:
            return Answer(status="Faulted")
        if not self.operative(evse_id):
            return Answer(status="Unavailable")
        held = self._reservation_on(evse_id)
        if (evse_id in self._tx or evse.plugged or evse.token is not None
                or (held is not None and held.id != request.reservation_id)):
            return Answer(status="Occupied")  # in use, or reserved by another reservation
        # 2.0.1 H01.FR.02 / 1.6 5.13: a reservation of the same id is replaced by this one
        self._reservations.pop(request.reservation_id, None)
        self._reservations[request.reservation_id] = _Reservation(
            id=request.reservation_id, evse_id=evse_id, token=request.token, group=request.group,
            expiry=request.expiry.astimezone(UTC))
        return Answer(status="Accepted", evse_id=evse_id)

    def _drop_reservations(self, evse_id: int) -> None:
        """The reservations on ``evse_id`` (0: every EVSE) end because it became Faulted or Unavailable: 2.x
        ReservationStatusUpdate Removed (H01.FR.16 / FR.17); 1.6 (5.13) tells it with the connector's status."""
        for r in sorted(self._reservations.values(), key=lambda r: r.id):
            if evse_id in (0, r.evse_id):
                del self._reservations[r.id]
                self._reservation_update(r.id, "Removed")

    def _expire(self, now: float) -> None:
        """The reservations whose expiry has come end: 2.x ReservationStatusUpdate Expired (H04.FR.01); the
        connector is Available again (2.0.1 H04, 1.6 5.13)."""
        if not self._reservations:
            return
        wall = self.wall.utc(now)
        for r in sorted(self._reservations.values(), key=lambda r: r.id):
            if r.expiry <= wall:
                del self._reservations[r.id]
                self._reservation_update(r.id, "Expired")

    def _reservation_update(self, reservation_id: int, status: str) -> None:
        # not a transaction message: sent while online and accepted, else lost (as the StatusNotification, which
        # tells the CSMS the connector is free again when the connection is back)
        if self.config.version != "1.6" and self._online and self.accepted:
            self._events.append(MakeCall(action="ReservationStatusUpdate",
                                         payload={"reservationId": reservation_id,
                                                  "reservationUpdateStatus": status}))

    def _reset_requested(self, request: ResetRequested) -> Answer:
        kind, evse_id = request.kind, request.evse_id
        if kind not in ("Immediate", "OnIdle", "Hard", "Soft") or (
                evse_id is not None and not 1 <= evse_id <= self.config.evse_count):
            return Answer(status="Rejected")
        if self._reset is not None:
            return Answer(status="Rejected")  # one reset at a time
        busy = sorted(e for e in self._tx if evse_id in (None, e))
        if not busy:
            self._events.append(ResetNow(kind=kind, evse_id=evse_id))  # B11 / B12 / 1.6 5.14: none to wait for
            return Answer(status="Accepted")
        self._reset = request
        if kind == "OnIdle":
            # B12.FR.01: a transaction is ongoing: Scheduled; the reset waits until the transactions have ended
            # normally (B12.FR.07 for one EVSE) and no new one starts meanwhile
            return Answer(status="Scheduled")
        # B11 (Immediate) / 1.6 5.14 (Hard / Soft): stop the transactions first, then reset
        for e in busy:
            self._events.append(StopTransaction(evse_id=e, reason=_STOP_REASON[kind]))
        return Answer(status="Accepted")

    def _idle(self, evse_id: int) -> None:
        """A transaction ended: carry out what waited for it (scheduled availability changes, the reset)."""
        for e in sorted(self._wanted):
            if not any(t for t in self._tx if e in (0, t)):
                self._set_availability(e, self._wanted.pop(e))
        reset = self._reset
        if reset is not None and not any(e for e in self._tx if reset.evse_id in (None, e)):
            self._reset = None
            self._events.append(ResetNow(kind=reset.kind, evse_id=reset.evse_id))

    # ---------------------------------------------------------------- connector status, charging allowed

    def _status(self, evse_id: int) -> tuple[str, str]:
        """(status, 1.6 errorCode) of a connector now (1.6 4.9 / 2.0.1 G01)."""
        station, evse = self._evses[0], self._evses[evse_id]
        fault = evse.fault or station.fault
        shown = fault or evse.ev_fault
        error = shown.error_code if shown is not None else "NoError"
        if fault is not None:
            return "Faulted", error
        if evse_id == 0:  # 1.6 connector 0: the charge point itself
            return ("Available" if self._operative[0] and self._reset is None else "Unavailable"), error
        if self._reservation_on(evse_id) is not None and self.operative(evse_id):
            # 2.0.1 G01 / H01, 1.6 4.9: Reserved until the reservation is used, cancelled or expires; an EV plugged
            # in meanwhile changes nothing (2.0.1 G01.FR.09), nor a transaction begun without an identifier (H03)
            return "Reserved", error
        busy = evse_id in self._tx
        if busy and not evse.plugged and self._setting("TxCtrlr", "StopTxOnEVSideDisconnect", default=True):
            # the cable came out and the transaction ends for it (1.6 StopTransactionOnEVSideDisconnect, 2.0.1
            # E10): the connector is free, not a transaction without energy (1.6 Preparing) until the
            # transaction manager's end comes back as TransactionClosed
            return ("Available" if self.operative(evse_id) else "Unavailable"), error
        if not busy and not self.operative(evse_id):
            return "Unavailable", error  # G03 / 1.6 5.2 (and no new session while a reset waits)
        if self.config.version != "1.6":
            return ("Occupied" if evse.plugged or busy else "Available"), error
        if busy:
            if evse.ev_fault is not None:
                return "SuspendedEVSE", error  # 1.6 EVCommunicationError: not Faulted, SuspendedEVSE
            if evse.energy is not None:
                return evse.energy, error
            return ("Charging" if evse.closed else "Preparing"), error
        if evse.plugged and evse.finishing:
            return "Finishing", error
        if evse.plugged or evse.token is not None:
            return "Preparing", error
        return "Available", error

    def _booting(self) -> bool:
        return self._online and self.boot is not None and self.boot.state is BootState.BOOTING

    def _after(self, now: float) -> None:
        """After every input: the identifiers that waited for the boot's answer, the StatusNotifications of the
        connectors whose status changed, and the charger's permission to deliver energy."""
        if self._deferred and not self._booting():
            deferred, self._deferred = self._deferred, []
            for ask in deferred:
                self._authorize(ask, now)
        for evse_id in range(1, self.config.evse_count + 1):
            evse = self._evses[evse_id]
            allowed = (evse.plugged and (evse.token is not None or (evse_id in self._tx
                                                                   and evse_id not in self._unauthorized))
                       and evse.fault is None
                       and self._evses[0].fault is None and evse.ev_fault is None
                       and (evse_id in self._tx or self.operative(evse_id))
                       and self._reservation_on(evse_id) is None)  # reserved: no energy until it is used (H03)
            if allowed != evse.allowed:
                evse.allowed = allowed
                self._events.append(ChargingAllowed(evse_id=evse_id, allowed=allowed))
        if not (self.config.status_notifications and self._online and self.accepted):
            return  # offline: what changed meanwhile goes out on the next connection
        v16 = self.config.version == "1.6"
        for evse_id in range(0 if v16 else 1, self.config.evse_count + 1):
            status = self._status(evse_id)
            if not v16:
                status = (status[0], "")  # 2.x StatusNotification carries no error code (faults: NotifyEvent)
            if self._reported.get(evse_id) == status:
                continue
            self._reported[evse_id] = status
            timestamp = format_datetime(self.wall.utc(now))
            if v16:
                payload: dict[str, Any] = {"connectorId": evse_id, "errorCode": status[1], "status": status[0],
                                           "timestamp": timestamp}
                shown = self._evses[evse_id].fault or self._evses[evse_id].ev_fault
                if shown is not None and shown.info:
                    payload["info"] = shown.info[:50]
            else:
                payload = {"timestamp": timestamp, "connectorStatus": status[0], "evseId": evse_id,
                           "connectorId": self._evses[evse_id].connector_id}
            self._events.append(MakeCall(action="StatusNotification", payload=payload))

    def _check_evse(self, evse_id: int, *, station: bool = False) -> int:
        if not (0 if station else 1) <= evse_id <= self.config.evse_count:
            raise FunctionsLocalError(f"no EVSE {evse_id}")
        return evse_id

    # ---------------------------------------------------------------- out, timers

    def next_event(self) -> AppEvent | None:
        """The next action for the station to carry out, oldest first; ``None`` when there is none."""
        return self._events.popleft() if self._events else None

    def get_timer(self) -> float | None:
        """The ``now`` of the next boot retry, heartbeat or reservation expiry, or ``None``."""
        timers = [t for t in (self._heartbeat_at, self.boot.get_timer() if self.boot is not None else None)
                  if t is not None]
        # a reservation's expiry is a wall time: its ``now`` per the wall clock's present mapping
        timers += [(r.expiry - self.wall.epoch_at_zero).total_seconds() for r in self._reservations.values()]
        return min(timers) if timers else None

    def handle_timer(self, now: float) -> None:
        """Let time pass: the boot retry, the heartbeat and the reservation expiries due at ``now``."""
        self._expire(now)
        if self.boot is not None:
            self.boot.handle_timer(now)
            self._take_boot(now)
        if self._heartbeat_at is not None and now >= self._heartbeat_at:
            # 2.0.1 B01 / 1.6 4.6: a Heartbeat every HeartbeatInterval while connected
            self._events.append(MakeCall(action="Heartbeat", payload={}))
            self._heartbeat_at = now + self._heartbeat_interval
        self._after(now)


def _version(version: str) -> Literal["1.6", "2.0.1", "2.1"]:
    if version == "1.6":
        return "1.6"
    return "2.1" if version == "2.1" else "2.0.1"


#: the 1.6 AuthorizationStatus of a 2.0.1 AuthorizationStatusEnumType (1.6 has Accepted, Blocked, Expired, Invalid,
#: ConcurrentTx; a 2.0.1 refusal 1.6 cannot name is Invalid)
_STATUS_16 = {"Accepted": "Accepted", "Blocked": "Blocked", "Expired": "Expired", "Invalid": "Invalid",
              "ConcurrentTx": "ConcurrentTx"}


def _id_tag_info(info: Mapping[str, Any]) -> dict[str, Any]:
    """The 1.6 ``idTagInfo`` of a 2.0.1 ``idTokenInfo`` (status; ``cacheExpiryDateTime`` as ``expiryDate``;
    ``groupIdToken`` as ``parentIdTag``), for the authorization cache of a 1.6 charge point."""
    out: dict[str, Any] = {"status": _STATUS_16.get(str(info["status"]), "Invalid")}
    if isinstance(info.get("cacheExpiryDateTime"), str):
        out["expiryDate"] = info["cacheExpiryDateTime"]
    group = info.get("groupIdToken")
    if isinstance(group, Mapping) and isinstance(group.get("idToken"), str):
        out["parentIdTag"] = group["idToken"]
    return out


def _group(info: Mapping[str, Any]) -> Any:
    """The group of an identifier from its idTagInfo (1.6 ``parentIdTag``) or idTokenInfo (2.x ``groupIdToken``)."""
    return info.get("parentIdTag", info.get("groupIdToken"))


def _same_token(a: Any, b: Any) -> bool:
    """Whether two identifiers are the same (1.6 idTag strings, 2.x IdTokenType: type and id, ids without case)."""
    if a is None or b is None:
        return False
    try:
        return token_key(a) == token_key(b)
    except OcppError:
        return False
