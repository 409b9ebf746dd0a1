"""What the EVSE and PEV machines share: the out-queue, the event queue, named timers, frame decoding."""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Mapping
from enum import Enum
from typing import Generic, TypeVar

from evcharge.slac.errors import LocalProtocolError, MessageError
from evcharge.slac.events import FrameIgnored, SlacEvent
from evcharge.slac.messages import Frame, Message, decode_frame, encode_frame

#: The state enum of a machine (:class:`~evcharge.slac.states.EvseState` or :class:`~evcharge.slac.states.PevState`).
S = TypeVar("S", bound=Enum)


class MachineBase(Generic[S]):
    """Bytes in, bytes and events out; time is an argument; nothing here sleeps or opens a socket."""

    _TRANSITIONS: Mapping[S, frozenset[S]]
    _ACCEPTS: Mapping[S, frozenset[int]]

    def __init__(self, *, mac: bytes, rng: random.Random, initial: S) -> None:
        if len(mac) != 6:
            raise LocalProtocolError("mac must be the 6-byte MAC address of this host")
        self.mac = bytes(mac)
        self._rng = rng
        self._state: S = initial
        self._out: list[bytes] = []
        self._events: deque[SlacEvent] = deque()
        self._timers: dict[str, float] = {}

    # ------------------------------------------------------------------ public surface
    @property
    def state(self) -> S:
        """The present state."""
        return self._state

    def data_to_send(self) -> list[bytes]:
        """Frames to write to the interface, oldest first; the queue is emptied."""
        out, self._out = self._out, []
        return out

    def next_event(self) -> SlacEvent | None:
        """The oldest event not yet taken, or None."""
        return self._events.popleft() if self._events else None

    def get_timer(self) -> float | None:
        """When :meth:`handle_timer` must be called next (same clock as ``now``), or None."""
        return min(self._timers.values()) if self._timers else None

    def handle_timer(self, now: float) -> None:
        """Run every timer that is due at ``now``."""
        while self._timers:
            name, deadline = min(self._timers.items(), key=lambda item: item[1])
            if deadline > now:
                return
            del self._timers[name]
            self._on_timer(name, now)

    def receive_data(self, data: bytes, now: float) -> None:
        """Feed one Ethernet frame read from the interface.  Never raises for a peer's bad frame."""
        try:
            frame = decode_frame(data)
        except MessageError as exc:
            self._events.append(FrameIgnored(reason=str(exc), mmtype=_peek_mmtype(data)))
            return
        if frame.src == self.mac:
            return  # our own frame, looped back by the interface
        if frame.dst != self.mac and frame.dst != b"\xff" * 6:
            self._events.append(FrameIgnored(reason="frame is addressed to another host", mmtype=frame.message.MMTYPE))
            return
        accepted = self._ACCEPTS[self._state]
        if frame.message.MMTYPE not in accepted:
            self._ignore(frame, f"{frame.message.NAME} is not expected in state {self._state.name}")
            return
        self._on_frame(frame, now)

    # ------------------------------------------------------------------ helpers for the subclasses
    def _on_frame(self, frame: Frame, now: float) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _on_timer(self, name: str, now: float) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _goto(self, new: S) -> None:
        if new not in self._TRANSITIONS[self._state]:
            raise AssertionError(f"transition {self._state.name} -> {new.name} is not in the table")
        self._state = new

    def _send(self, dst: bytes, message: Message) -> None:
        self._out.append(encode_frame(dst, self.mac, message))

    def _ignore(self, frame: Frame, reason: str) -> None:
        self._events.append(FrameIgnored(reason=reason, mmtype=frame.message.MMTYPE))

    def _set_timer(self, name: str, deadline: float) -> None:
        self._timers[name] = deadline

    def _cancel(self, *names: str) -> None:
        for name in names:
            self._timers.pop(name, None)


def _peek_mmtype(data: bytes) -> int | None:
    if len(data) >= 17:
        return data[15] | (data[16] << 8)
    return None
