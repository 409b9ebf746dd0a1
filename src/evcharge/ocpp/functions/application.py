"""The charge-point application as a sans-I/O core (issue 19): the boot and its retry, the CSMS's verdict on a
transaction's identifier (StopTxOnInvalidId), and :class:`ChargePointApp` (heartbeat, remote start and stop,
availability, reset, the device-model reactions).

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

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, TypeAlias

from .errors import FunctionsLocalError

__all__ = [
    "Answer",
    "AppCommand",
    "AppConfig",
    "AppEvent",
    "AuthorizeRemoteStart",
    "BootAccepted",
    "BootConfig",
    "BootCore",
    "BootState",
    "CacheVerdict",
    "CallAnswered",
    "CallFailed",
    "ChangeAvailabilityRequested",
    "ChargePointApp",
    "Connected",
    "Disconnected",
    "MakeCall",
    "RemoteStartRequested",
    "RemoteStopRequested",
    "ResetNow",
    "ResetRequested",
    "SetAvailability",
    "StopTransaction",
    "TokenVerdict",
    "TransactionClosed",
    "TransactionMessageAnswered",
    "TransactionOpened",
    "VariableSet",
    "token_verdict",
]


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


@dataclass(frozen=True, slots=True, kw_only=True)
class CallFailed:
    """The call the core asked for got no usable answer (CALLERROR, timeout, lost connection)."""

    action: str
    reason: str


Command: TypeAlias = Connected | Disconnected | CallAnswered | CallFailed


# events (what the adapter must do or know)
@dataclass(frozen=True, slots=True, kw_only=True)
class MakeCall:
    """Send this CALL and report its outcome with :class:`CallAnswered` or :class:`CallFailed`."""

    action: str
    payload: Mapping[str, Any]


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
    BootNotification payload (``None``: the application boots the station itself, no boot core runs) and the boot
    retry delay."""

    version: str = "2.0.1"
    evse_count: int = 1
    boot: Mapping[str, Any] | None = None
    boot_retry_interval: float = 10.0


# local inputs (what happened at the station)
@dataclass(frozen=True, slots=True, kw_only=True)
class TransactionOpened:
    """A transaction began on ``evse_id`` (``tx_ref``: the transaction manager's reference)."""

    evse_id: int
    tx_ref: str


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
    ``stop_tx_on_invalid_id``: TxCtrlr.StopTxOnInvalidId (1.6 StopTransactionOnInvalidId)."""

    action: str
    payload: Mapping[str, Any]
    response: Mapping[str, Any]
    tx_ref: str | None
    stop_tx_on_invalid_id: bool = True


AppCommand: TypeAlias = (Connected | Disconnected | CallAnswered | CallFailed | TransactionOpened | TransactionClosed
                         | VariableSet | TransactionMessageAnswered)


# incoming CALLs, as the core needs them (the adapter reads them off the typed request)
@dataclass(frozen=True, slots=True, kw_only=True)
class RemoteStartRequested:
    """2.x RequestStartTransaction / 1.6 RemoteStartTransaction; ``evse_id`` ``None``: the station chooses;
    ``authorize``: AuthCtrlr.AuthorizeRemoteStart (1.6 AuthorizeRemoteTxRequests)."""

    evse_id: int | None
    token: Any
    remote_start_id: int | None = None
    authorize: bool = True


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


Request: TypeAlias = RemoteStartRequested | RemoteStopRequested | ChangeAvailabilityRequested | ResetRequested


@dataclass(frozen=True, slots=True, kw_only=True)
class Answer:
    """The status the response to an incoming CALL carries (``evse_id``: where a remote start goes)."""

    status: str
    evse_id: int | None = None


# actions for the station (events)
@dataclass(frozen=True, slots=True, kw_only=True)
class AuthorizeRemoteStart:
    """Start on ``evse_id`` for ``token``: ask the CSMS first when ``ask`` (then tell the transaction manager of
    an accepted token), else tell the transaction manager at once."""

    evse_id: int
    token: Any
    remote_start_id: int | None
    ask: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class StopTransaction:
    """End the transaction on ``evse_id`` with ``reason`` (the stop reason of the transaction messages)."""

    evse_id: int
    reason: str


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


AppEvent: TypeAlias = (MakeCall | BootAccepted | AuthorizeRemoteStart | StopTransaction | SetAvailability | ResetNow
                       | CacheVerdict)

_STOP_REASON = {"Immediate": "ImmediateReset", "Hard": "HardReset", "Soft": "SoftReset"}


class ChargePointApp:
    """The charge point's application decisions, pure (issue 19): boot and its retry (:class:`BootCore`), the
    heartbeat, remote start and stop, availability, reset, and the device-model reactions.  Local inputs go in
    with :meth:`send`, incoming CALLs with :meth:`answer` (their response status comes back), the actions come out
    of :meth:`next_event`; timers (boot retry, heartbeat) on the station's monotonic clock."""

    def __init__(self, config: AppConfig) -> None:
        self.config = config
        self.boot = (BootCore(BootConfig(payload=dict(config.boot), retry_interval=config.boot_retry_interval))
                     if config.boot is not None else None)
        self._events: deque[AppEvent] = deque()
        self._tx: dict[int, str] = {}
        #: availability wished for each EVSE (0: the station) and the one in effect
        self._operative: dict[int, bool] = dict.fromkeys(range(config.evse_count + 1), True)
        self._wanted: dict[int, bool] = {}
        self._reset: ResetRequested | None = None
        self._online = False
        self._heartbeat_interval = 0
        self._heartbeat_at: float | None = None

    # ---------------------------------------------------------------- state

    @property
    def state(self) -> BootState:
        """Where the boot stands; always ``ACCEPTED`` when the application boots the station itself."""
        return self.boot.state if self.boot is not None else BootState.ACCEPTED

    @property
    def accepted(self) -> bool:
        """Whether transaction messages may flow (the CSMS accepted the station, or the application boots it)."""
        return self.boot is None or self.boot.accepted

    def operative(self, evse_id: int) -> bool:
        """Whether ``evse_id`` takes new sessions (it and the station are operative, no reset is pending)."""
        return self._operative.get(0, True) and self._operative.get(evse_id, False) and self._reset is None

    def transaction_ref(self, evse_id: int) -> str | None:
        """The reference of the transaction running on ``evse_id``, as reported with :class:`TransactionOpened`."""
        return self._tx.get(evse_id)

    # ---------------------------------------------------------------- local inputs

    def send(self, command: AppCommand, now: float) -> None:
        """What happened at the station; ``FunctionsLocalError`` for an answer to no call or an unknown EVSE."""
        if isinstance(command, TransactionOpened | TransactionClosed):
            if not 1 <= command.evse_id <= self.config.evse_count:
                raise FunctionsLocalError(f"no EVSE {command.evse_id}")
            if isinstance(command, TransactionOpened):
                self._tx[command.evse_id] = command.tx_ref
            else:
                self._tx.pop(command.evse_id, None)
                self._idle(command.evse_id)
            return
        if isinstance(command, VariableSet):
            self._variable_set(command, now)
            return
        if isinstance(command, TransactionMessageAnswered):
            self._transaction_answered(command)
            return
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

    def _transaction_answered(self, command: TransactionMessageAnswered) -> None:
        verdict = token_verdict(self.config.version, command.action, command.payload, command.response,
                                stop_tx_on_invalid_id=command.stop_tx_on_invalid_id)
        if verdict is None:
            return
        self._events.append(CacheVerdict(token=verdict.token, info=verdict.info))
        if verdict.stop and command.tx_ref is not None:
            # 2.0.1 E05 / C15 (StopTxOnInvalidId), 1.6 StopTransactionOnInvalidId: end it with DeAuthorized
            for evse_id, ref in sorted(self._tx.items()):
                if ref == command.tx_ref:
                    self._events.append(StopTransaction(evse_id=evse_id, reason="DeAuthorized"))

    def accepts_session(self, evse_id: int) -> bool:
        """Whether an identifier presented at ``evse_id`` may be authorized: the EVSE is operative, or a transaction
        already runs there (G03: no new session on an Unavailable EVSE, nor while a reset waits)."""
        return evse_id in self._tx or self.operative(evse_id)

    def _take_boot(self, now: float) -> None:
        assert self.boot is not None
        while (event := self.boot.next_event()) is not None:
            self._events.append(event)
            if isinstance(event, BootAccepted) and event.interval:
                self._arm_heartbeat(event.interval, now)

    def _variable_set(self, command: VariableSet, now: float) -> None:
        # 2.0.1 B01 / 1.6 9.1.10: a new HeartbeatInterval takes effect at once (the next Heartbeat is due after it)
        if command.variable == "HeartbeatInterval" and command.component in ("OCPPCommCtrlr", ""):
            try:
                interval = int(command.value)
            except ValueError:
                return
            self._arm_heartbeat(max(interval, 0), now)

    def _arm_heartbeat(self, interval: int, now: float) -> None:
        self._heartbeat_interval = interval
        self._heartbeat_at = now + interval if interval and self._online and self.accepted else None

    # ---------------------------------------------------------------- incoming CALLs

    def answer(self, request: Request, now: float) -> Answer:
        """Decide an incoming CALL: the status its response carries; the actions follow in :meth:`next_event`."""
        if isinstance(request, RemoteStartRequested):
            return self._remote_start(request)
        if isinstance(request, RemoteStopRequested):
            # 2.0.1 F03 / 1.6 5.12: Accepted and stopped when the transaction runs here, else Rejected
            if request.evse_id is None or request.evse_id not in self._tx:
                return Answer(status="Rejected")
            self._events.append(StopTransaction(evse_id=request.evse_id, reason="Remote"))
            return Answer(status="Accepted", evse_id=request.evse_id)
        if isinstance(request, ChangeAvailabilityRequested):
            return self._change_availability(request)
        return self._reset_requested(request)

    def _remote_start(self, request: RemoteStartRequested) -> Answer:
        n = self.config.evse_count
        if request.evse_id is None:  # the station chooses: the first free, operative EVSE
            free = [e for e in range(1, n + 1) if e not in self._tx and self.operative(e)]
            evse_id = free[0] if free else 1
        else:
            evse_id = request.evse_id
        # 2.0.1 F01 / 1.6 5.11: Rejected for an EVSE that does not exist, is not available (G03: Unavailable, a
        # reset is pending) or, in 1.6 (where RemoteStart carries no transactionId), already has a transaction
        if not 1 <= evse_id <= n or not self.operative(evse_id):
            return Answer(status="Rejected")
        if self.config.version == "1.6" and evse_id in self._tx:
            return Answer(status="Rejected")
        self._events.append(AuthorizeRemoteStart(evse_id=evse_id, token=request.token,
                                                 remote_start_id=request.remote_start_id, ask=request.authorize))
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
        self._events.append(SetAvailability(evse_id=evse_id, operative=operative))

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

    # ---------------------------------------------------------------- out, timers

    def next_event(self) -> AppEvent | None:
        """The next action for the station to carry out, oldest first; ``None`` when there is none."""
        return self._events.popleft() if self._events else None

    def get_timer(self) -> float | None:
        """The ``now`` of the next boot retry or heartbeat, or ``None``."""
        timers = [t for t in (self._heartbeat_at, self.boot.get_timer() if self.boot is not None else None)
                  if t is not None]
        return min(timers) if timers else None

    def handle_timer(self, now: float) -> None:
        """Let time pass: the boot retry and the heartbeat due at ``now``."""
        if self.boot is not None:
            self.boot.handle_timer(now)
            self._take_boot(now)
        if self._heartbeat_at is not None and now >= self._heartbeat_at:
            # 2.0.1 B01 / 1.6 4.6: a Heartbeat every HeartbeatInterval while connected
            self._events.append(MakeCall(action="Heartbeat", payload={}))
            self._heartbeat_at = now + self._heartbeat_interval
