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

from evcharge.slac.emulator import ModemConfig, ModemEmulator
from evcharge.slac.events import Matched, SlacEvent, SlacFailed, StartMatching
from evcharge.slac.evse import EvseSlac
from evcharge.slac.messages import AAG_GROUPS
from evcharge.slac.pev import PevSlac

__all__ = ["FrameLink", "ModemBridge", "SlacDriver", "run_bridge", "run_driver"]


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

    async def run(
        self, *, timeout: float, linger: float = 0.0, start: bool = True, on_started: Callable[[], None] | None = None
    ) -> SlacEvent | None:
        """Start the machine and serve it until Matched / SlacFailed or ``timeout`` seconds (then None).

        ``linger`` keeps serving that long after the result: the EVSE answers a repeated
        CM_SLAC_MATCH.REQ when its first CNF was lost, and matches a PEV again that restarts.
        ``on_started`` is called once the link is read and the machine started (a readiness signal).
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
            if on_started is not None:
                on_started()
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
                self.machine.receive_data(frame, self._now())
        self._pump()

    def _deliver_from_modem(self, data: bytes) -> None:
        self.machine.receive_data(data, self._now())
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


class ModemBridge:
    """An emulated powerline modem between two interfaces: a host's and the "line".

    Frames from the host go through
    :meth:`~evcharge.slac.emulator.ModemEmulator.host_to_line` (CM_SET_KEY and vendor requests are
    answered on the host side, the rest goes to the line); frames from the line go through
    :meth:`~evcharge.slac.emulator.ModemEmulator.line_to_host` (an M-sound also yields a
    CM_ATTEN_PROFILE.IND).  This lets any SLAC implementation that expects a QCA modem (pyslac,
    EVerest, open-plc-utils) run on plain Ethernet.  The host's MAC is learned from its first frame
    unless given.
    """

    def __init__(
        self,
        host: FrameLink,
        line: FrameLink,
        config: ModemConfig,
        *,
        host_mac: bytes | None = None,
        attenuation_db: int = 20,
    ) -> None:
        self.host = host
        self.line = line
        self.config = config
        self.modem: ModemEmulator | None = None if host_mac is None else ModemEmulator(config, host_mac=host_mac)
        self.profile = (attenuation_db,) * AAG_GROUPS
        self.to_line = 0
        self.to_host = 0

    async def run(self, *, timeout: float) -> None:
        """Bridge for ``timeout`` seconds (cancel the task to stop earlier)."""
        loop = asyncio.get_running_loop()
        loop.add_reader(self.host.fileno(), self._from_host)
        loop.add_reader(self.line.fileno(), self._from_line)
        try:
            await asyncio.sleep(timeout)
        finally:
            loop.remove_reader(self.host.fileno())
            loop.remove_reader(self.line.fileno())

    def _from_host(self) -> None:
        while (data := self.host.recv_frame()) is not None:
            if self.modem is None:
                if len(data) < 12 or data[6:12] == self.config.mac:
                    continue
                self.modem = ModemEmulator(self.config, host_mac=data[6:12])
            to_line, to_host = self.modem.host_to_line(data)
            for frame in to_line:
                self.to_line += 1
                self.line.send_frame(frame)
            for frame in to_host:
                self.to_host += 1
                self.host.send_frame(frame)

    def _from_line(self) -> None:
        while (data := self.line.recv_frame()) is not None:
            frames = self.modem.line_to_host(data, self.profile) if self.modem is not None else [data]
            for frame in frames:
                self.to_host += 1
                self.host.send_frame(frame)


def run_driver(
    driver: SlacDriver, *, timeout: float, linger: float = 0.0, on_started: Callable[[], None] | None = None
) -> SlacEvent | None:
    """:meth:`SlacDriver.run` in a new event loop (the command line's entry point)."""
    return asyncio.run(driver.run(timeout=timeout, linger=linger, on_started=on_started))


def run_bridge(bridge: ModemBridge, *, timeout: float) -> None:
    """:meth:`ModemBridge.run` in a new event loop."""
    asyncio.run(bridge.run(timeout=timeout))
