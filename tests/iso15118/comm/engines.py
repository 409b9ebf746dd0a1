"""A small engine that shows the seam of evcharge.iso15118.handover works (the real engines are another issue).

The EVCC engine sends ``ping <n>`` payloads; the SECC engine answers each with ``pong <n>``. After
``rounds`` pongs the EVCC engine sets ``close_at`` (as after SessionStopRes). Commands: ``Say(text)``
makes either side send a payload of its own. Events record what arrived, with the hand-over.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from enum import Enum
from typing import Any

from evcharge.errors import LocalProtocolError, RemoteProtocolError
from evcharge.iso15118.handover import AppProtocol, Engine, HandOver, PayloadType


class EchoState(Enum):
    RUNNING = "running"
    DONE = "done"


@dataclass(frozen=True, slots=True, kw_only=True)
class Started:
    handover: HandOver


@dataclass(frozen=True, slots=True, kw_only=True)
class Received:
    payload_type: int
    payload: bytes
    now: float


@dataclass(frozen=True, slots=True, kw_only=True)
class Say:
    text: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class TimerFired:
    now: float


def payload_type_for(protocol: AppProtocol) -> int:
    return int(PayloadType.ISO20_COMMON if protocol.is_iso20 else PayloadType.EXI)


class EchoEngine:
    """Both roles; ``role`` is "secc" or "evcc"."""

    def __init__(self, handover: HandOver, *, role: str, rounds: int = 3, timer_after: float | None = None) -> None:
        self.handover = handover
        self.role = role
        self.rounds = rounds
        self._type = payload_type_for(handover.protocol)
        self._out: list[tuple[int, bytes]] = []
        self._events: deque[Any] = deque([Started(handover=handover)])
        self._state = EchoState.RUNNING
        self._close_at: float | None = None
        self._timer = None if timer_after is None else handover.now + timer_after
        self._seen = 0
        if role == "evcc":
            self._out.append((self._type, b"ping 0"))

    def receive_payload(self, payload_type: int, payload: bytes, now: float) -> None:
        if payload_type != self._type:
            raise RemoteProtocolError(f"echo engine: payload type 0x{payload_type:04X}")
        if payload.startswith(b"bad"):
            raise RemoteProtocolError("echo engine: the peer said bad", hint="FAILED")
        self._events.append(Received(payload_type=payload_type, payload=payload, now=now))
        if self.role == "secc" and payload.startswith(b"ping "):
            self._out.append((self._type, b"pong " + payload[5:]))
        elif self.role == "evcc" and payload.startswith(b"pong "):
            self._seen += 1
            if self._seen >= self.rounds:
                self._state = EchoState.DONE
                self._close_at = now
            else:
                self._out.append((self._type, b"ping %d" % self._seen))

    def payloads_to_send(self) -> list[tuple[int, bytes]]:
        out, self._out = self._out, []
        return out

    def send(self, command: Any, now: float) -> None:
        if not isinstance(command, Say):
            raise LocalProtocolError(f"echo engine: unknown command {command!r}")
        self._out.append((self._type, command.text))

    def next_event(self) -> Any | None:
        return self._events.popleft() if self._events else None

    def get_timer(self) -> float | None:
        return self._timer

    def handle_timer(self, now: float) -> None:
        if self._timer is not None and now >= self._timer:
            self._timer = None
            self._events.append(TimerFired(now=now))
            self._close_at = now + 0.05

    @property
    def state(self) -> EchoState:
        return self._state

    @property
    def close_at(self) -> float | None:
        return self._close_at


def secc_engines(**kwargs: Any) -> dict[AppProtocol, Any]:
    def make(handover: HandOver) -> Engine:
        return EchoEngine(handover, role="secc", **kwargs)

    return {p: make for p in AppProtocol}


def evcc_engines(**kwargs: Any) -> dict[AppProtocol, Any]:
    def make(handover: HandOver) -> Engine:
        return EchoEngine(handover, role="evcc", **kwargs)

    return {p: make for p in AppProtocol}
