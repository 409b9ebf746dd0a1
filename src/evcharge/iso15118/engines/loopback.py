"""Two engines wired together in one process, on a simulated clock.

:class:`Loopback` passes each side's payloads to the other and, when both are quiet, moves the clock to
the next timer. An application callback per side sees every event (and may send commands). No I/O: the
tests, the benchmarks and the guide's examples run whole sessions this way.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["Loopback"]


class Loopback:
    """Run ``secc`` and ``evcc`` against each other from ``now``.

    ``secc_app(engine, event, now)`` and ``evcc_app(...)`` get every event. ``latency`` is added to
    the clock for every payload (0: zero physical delay). ``tap(direction, payload_type, payload)``
    may replace a payload in flight (``"to_secc"``/``"to_evcc"``; return None to drop it).
    """

    def __init__(
        self,
        secc: Any,
        evcc: Any,
        *,
        now: float = 0.0,
        secc_app: Callable[[Any, Any, float], None] | None = None,
        evcc_app: Callable[[Any, Any, float], None] | None = None,
        latency: float = 0.0,
        tap: Callable[[str, int, bytes], bytes | None] | None = None,
    ) -> None:
        self.secc = secc
        self.evcc = evcc
        self.now = now
        self.secc_app = secc_app
        self.evcc_app = evcc_app
        self.latency = latency
        self.tap = tap
        self.secc_events: list[Any] = []
        self.evcc_events: list[Any] = []
        self.exchanged = 0

    def _drain_events(self) -> None:
        for engine, app, store in (
            (self.secc, self.secc_app, self.secc_events),
            (self.evcc, self.evcc_app, self.evcc_events),
        ):
            while (event := engine.next_event()) is not None:
                store.append(event)
                if app is not None:
                    app(engine, event, self.now)

    def step(self) -> bool:
        """Move every queued payload once; False when nothing moved."""
        moved = False
        self._drain_events()
        for src, dst, direction in ((self.evcc, self.secc, "to_secc"), (self.secc, self.evcc, "to_evcc")):
            for ptype, payload in src.payloads_to_send():
                moved = True
                self.now += self.latency
                data: bytes | None = payload
                if self.tap is not None:
                    data = self.tap(direction, ptype, payload)
                if data is not None and dst.close_at is None:
                    dst.receive_payload(ptype, data, self.now)
                    self.exchanged += 1
                self._drain_events()
        return moved

    def run(self, *, until: float = 3600.0, max_steps: int = 1_000_000) -> None:
        """Until the connection closes (one side's ``close_at`` has come) or ``until`` on the clock."""
        for _ in range(max_steps):
            if self.step():
                continue
            closing = [t for t in (self.secc.close_at, self.evcc.close_at) if t is not None]
            if closing and min(closing) <= self.now:
                return
            timers = [t for t in (self.secc.get_timer(), self.evcc.get_timer(), *closing) if t is not None]
            if not timers:
                return
            nxt = max(self.now, min(timers))
            if nxt > until:
                self.now = until
                return
            self.now = nxt
            self.secc.handle_timer(self.now)
            self.evcc.handle_timer(self.now)
