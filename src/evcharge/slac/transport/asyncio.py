"""Drive a SLAC machine on a link with asyncio: reads through ``loop.add_reader``, timers through ``loop.call_at``.

::

    link = RawSocketLink("eth1")
    evse = EvseSlac(EvseConfig(), mac=link.mac, rng=random.SystemRandom())
    result = await SlacDriver(evse, link).run(timeout=60)   # Matched or SlacFailed

The machine's clock is ``loop.time()``.  With ``modem=ModemEmulator(...)`` the driver puts an
emulated powerline modem between the machine and the link (answers CM_SET_KEY, turns M-sounds into
CM_ATTEN_PROFILE.IND), so two hosts on an Ethernet link can run SLAC without HomePlug hardware.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Protocol

from evcharge.slac.emulator import ModemEmulator
from evcharge.slac.events import Matched, SlacEvent, SlacFailed, StartMatching
from evcharge.slac.evse import EvseSlac
from evcharge.slac.messages import AAG_GROUPS
from evcharge.slac.pev import PevSlac

__all__ = ["FrameLink", "SlacDriver"]


class FrameLink(Protocol):
    """What the driver needs from a transport (:class:`~evcharge.slac.transport.rawsocket.RawSocketLink`)."""

    mac: bytes

    def fileno(self) -> int: ...
    def recv_frame(self) -> bytes | None: ...
    def send_frame(self, data: bytes) -> None: ...


class SlacDriver:
    """Runs one machine on one link until it matches or fails."""

    def __init__(
        self,
        machine: EvseSlac | PevSlac,
        link: FrameLink,
        *,
        modem: ModemEmulator | None = None,
        attenuation_db: int = 20,
        on_event: Callable[[SlacEvent], None] | None = None,
    ) -> None:
        self.machine = machine
        self.link = link
        self.modem = modem
        self.profile = (attenuation_db,) * AAG_GROUPS
        self.on_event = on_event
        self.events: list[SlacEvent] = []
        self.frames_in = 0
        self.frames_out = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._result: asyncio.Future[SlacEvent] | None = None

    async def run(self, *, timeout: float, linger: float = 0.0, start: bool = True) -> SlacEvent | None:
        """Start the machine and serve it until Matched / SlacFailed or ``timeout`` seconds (then None).

        ``linger`` keeps serving that long after the result: the EVSE answers a repeated
        CM_SLAC_MATCH.REQ when its first CNF was lost.
        """
        loop = asyncio.get_running_loop()
        self._loop = loop
        self._result = loop.create_future()
        fd = self.link.fileno()
        loop.add_reader(fd, self._on_readable)
        try:
            if start:
                self.machine.send(StartMatching(), loop.time())
            self._pump()
            try:
                result: SlacEvent | None = await asyncio.wait_for(asyncio.shield(self._result), timeout)
            except TimeoutError:
                result = None
            if linger > 0:
                await asyncio.sleep(linger)
            return result
        finally:
            loop.remove_reader(fd)
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None

    # ------------------------------------------------------------------ plumbing
    def _now(self) -> float:
        assert self._loop is not None
        return self._loop.time()

    def _on_readable(self) -> None:
        while (data := self.link.recv_frame()) is not None:
            self.frames_in += 1
            frames = self.modem.line_to_host(data, self.profile) if self.modem else [data]
            for frame in frames:
                self.machine.receive_frame(frame, self._now())
        self._pump()

    def _deliver_from_modem(self, data: bytes) -> None:
        self.machine.receive_frame(data, self._now())
        self._pump()

    def _on_timer(self) -> None:
        self._timer = None
        self.machine.handle_timer(self._now())
        self._pump()

    def _pump(self) -> None:
        assert self._loop is not None and self._result is not None
        for data in self.machine.data_to_send():
            to_line: list[bytes]
            to_host: list[bytes]
            if self.modem is None:
                to_line, to_host = [data], []
            else:
                to_line, to_host = self.modem.host_to_line(data)
            for frame in to_line:
                self.frames_out += 1
                self.link.send_frame(frame)
            for frame in to_host:
                self._loop.call_soon(self._deliver_from_modem, frame)
        while (event := self.machine.next_event()) is not None:
            self.events.append(event)
            if self.on_event is not None:
                self.on_event(event)
            if isinstance(event, Matched | SlacFailed) and not self._result.done():
                self._result.set_result(event)
        deadline = self.machine.get_timer()
        if self._timer is not None and (deadline is None or self._timer.when() != deadline):
            self._timer.cancel()
            self._timer = None
        if deadline is not None and self._timer is None:
            self._timer = self._loop.call_at(deadline, self._on_timer)
