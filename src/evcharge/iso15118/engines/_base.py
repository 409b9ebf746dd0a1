"""Engine machinery shared by every V2G engine (DIN, ISO 15118-2, ISO 15118-20; SECC and EVCC).

:class:`EngineBase` is the :class:`evcharge.iso15118.handover.Engine` shape without any protocol in it:
the outgoing payload queue, the event queue, the timers, the trace, and how a session ends.

Timers come in two families (ARCHITECTURE.md, "ISO 15118 sessions"):

* **enforced timeouts** (``EngineBase._arm``): named deadlines that end the session when they fire
  (sequence, ongoing, communication setup, each EVCC message timeout, CableCheck, PreCharge). The engine
  subclass says what a firing means in ``_on_timeout``.
* **performance deadlines**: never armed; they are carried on the request events
  (:class:`~evcharge.iso15118.engines.events.RequestEvent.deadline`) for the application to see.

Time is always the ``now`` the transport passes (monotonic seconds).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any, Generic

from ._table import StateT
from .events import SessionEnded

__all__ = ["EngineBase", "TraceEntry"]


@dataclass(frozen=True, slots=True)
class TraceEntry:
    """One message as it went by (``engine.trace``, kept when the config says ``trace=True``)."""

    direction: str  #: "rx" or "tx"
    time: float  #: monotonic seconds
    name: str  #: e.g. "CurrentDemandReq"
    payload_type: int
    exi: bytes
    message: Any  #: the decoded message (None when it could not be decoded)


class EngineBase(Generic[StateT]):
    """Queues, timers and the end of a session; the protocol engines subclass it."""

    protocol: str = ""

    def __init__(self, *, state: StateT, trace: bool) -> None:
        self._state: StateT = state
        self._out: list[tuple[int, bytes]] = []
        self._events: deque[Any] = deque()
        self._timers: dict[str, float] = {}
        self._close_at: float | None = None
        self.ended: SessionEnded | None = None
        self.trace: list[TraceEntry] | None = [] if trace else None

    # -- the Engine protocol --------------------------------------------------------------------

    @property
    def state(self) -> StateT:
        return self._state

    @property
    def close_at(self) -> float | None:
        return self._close_at

    def payloads_to_send(self) -> list[tuple[int, bytes]]:
        out, self._out = self._out, []
        return out

    def next_event(self) -> Any | None:
        return self._events.popleft() if self._events else None

    def get_timer(self) -> float | None:
        return min(self._timers.values()) if self._timers else None

    def handle_timer(self, now: float) -> None:
        while self._timers:
            name, when = min(self._timers.items(), key=lambda kv: kv[1])
            if when > now:
                return
            del self._timers[name]
            self._on_timeout(name, now)

    # -- for subclasses -------------------------------------------------------------------------

    def _on_timeout(self, name: str, now: float) -> None:  # pragma: no cover - every engine overrides
        raise NotImplementedError

    def _arm(self, name: str, deadline: float) -> None:
        """Start (or restart) the enforced timeout ``name``."""
        self._timers[name] = deadline

    def _disarm(self, name: str) -> None:
        self._timers.pop(name, None)

    def _emit(self, event: Any) -> None:
        self._events.append(event)

    def _queue(self, payload_type: int, exi: bytes, name: str, message: Any, now: float) -> None:
        self._out.append((payload_type, exi))
        if self.trace is not None:
            self.trace.append(TraceEntry("tx", now, name, payload_type, exi, message))

    def _trace_rx(self, payload_type: int, exi: bytes, name: str, message: Any, now: float) -> None:
        if self.trace is not None:
            self.trace.append(TraceEntry("rx", now, name, payload_type, exi, message))

    def _end(
        self,
        now: float,
        state: StateT,
        *,
        reason: str,
        normal: bool,
        close_delay: float,
        paused: bool = False,
        session_id: bytes | None = None,
        response_code: str | None = None,
    ) -> None:
        """End the session: no timer runs any more, the connection closes by ``now + close_delay``."""
        if self.ended is not None:
            return
        self._timers.clear()
        self._state = state
        self._close_at = now + close_delay
        self.ended = SessionEnded(
            reason=reason, normal=normal, paused=paused, session_id=session_id, response_code=response_code
        )
        self._emit(self.ended)
