"""The charge-point application as a sans-I/O core, first parts: the boot and its retry, the CSMS's verdict on a
transaction's identifier (StopTxOnInvalidId) (issue 19).

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
    "BootAccepted",
    "BootConfig",
    "BootCore",
    "BootState",
    "CallAnswered",
    "CallFailed",
    "Connected",
    "Disconnected",
    "MakeCall",
    "TokenVerdict",
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
