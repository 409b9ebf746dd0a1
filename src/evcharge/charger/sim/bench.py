"""A test bench: an :class:`~evcharge.charger.EvseManager` and a :class:`~evcharge.charger.sim.car.SimCar`
joined in one process on a virtual clock, with no sockets: the pilot through
:class:`~evcharge.charger.sim.board.SimBoard`, SLAC through the powerline
emulator (:class:`evcharge.slac.emulator.PowerlineEmulator`), the V2G TCP stream handed from one session
core to the other, and the manager's station inputs carried to the charge point's OCPP side: by default a
:class:`~evcharge.charger.sim.station.LocalStation` whose calls ``csms`` answers (a function;
:func:`~evcharge.charger.sim.station.accept_all` by default), or any ``station`` with the two methods
``app_input`` and ``update_meter`` and a ``results`` queue of the core's decisions (the simulation's
websocket :class:`~evcharge.ocpp.functions.transport.station.Station`).

No physical delay is simulated beyond what the cores ask for (their timers, the emulator's latency): a
whole DC session runs in a fraction of a second of wall time.
"""

from __future__ import annotations

import random
import ssl
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from evcharge.clock import WallClock
from evcharge.errors import LocalProtocolError, RemoteProtocolError
from evcharge.iso15118.handover import TlsInfo
from evcharge.slac.emulator import PowerlineEmulator

from ..config import EvseManagerConfig
from ..events import ManagerEvent, MeterUpdate, StationInput, V2gLinkReady
from ..manager import EvseManager
from .board import AcMeterSim, SimBoard
from .car import CarConfig, SimCar
from .dc import IsolationMonitorSim, PowerSupplySim, PowerSupplySimConfig
from .station import Answerer, LocalStation, OcppCall, accept_all

__all__ = ["Bench", "OcppCall", "accept_all"]


class _SlacPort:
    """The SLAC machine as the emulator sees it: frames and timers, but events stay with their owner."""

    def __init__(self, machine: Any) -> None:
        self.machine = machine
        self.mac = machine.mac

    def receive_data(self, data: bytes, now: float) -> None:
        self.machine.receive_data(data, now)

    def data_to_send(self) -> list[bytes]:
        return list(self.machine.data_to_send())

    def next_event(self) -> None:
        return None

    def get_timer(self) -> float | None:
        t: float | None = self.machine.get_timer()
        return t

    def handle_timer(self, now: float) -> None:
        self.machine.handle_timer(now)


class Bench:
    """Charger and car on one virtual clock (see the module documentation)."""

    def __init__(
        self,
        config: EvseManagerConfig,
        car: CarConfig,
        *,
        seed: int = 1,
        csms: Answerer = accept_all,
        station: Any = None,
        slac_latency: float = 0.0,
        self_test_time: float = 0.5,
        start: datetime | None = None,
        tls: tuple[ssl.SSLContext, ssl.SSLContext] | None = None,
        evse_mac: bytes = b"\x02\x00\x00\x00\x00\x0a",
        ev_mac: bytes = b"\x02\x00\x00\x00\x00\x01",
    ) -> None:
        """``tls``: (SECC context, EVCC context) to run the V2G connection over real TLS in memory
        (:func:`evcharge.iso15118.security.tls.secc_context` / ``evcc_context`` of a test PKI). ``evse_mac``,
        ``ev_mac``: the host MACs of the two SLAC machines."""
        self.now = 0.0
        rng = random.Random(seed)
        self.clock = WallClock.at(0.0, start or datetime(2026, 1, 1, tzinfo=UTC))
        self.car = SimCar(car, rng=rng, now=0.0, mac=ev_mac)
        self.board = SimBoard(self.car.vehicle)
        self.power = PowerSupplySim(PowerSupplySimConfig(bidirectional=config.energy == "dc-bpt"))
        self.imd = IsolationMonitorSim(self_test_time=self_test_time)
        self.ac = config.energy == "ac"
        #: AC: the meter at the outlet (what the car draws while the relays are closed)
        self.meter = AcMeterSim(self.board, voltage=config.ac_voltage)
        self.phases = car.ac_phases if self.ac else 1  #: AC samples are per phase: power is V x A x phases
        self.manager = EvseManager(config, board=self.board, clock=self.clock, rng=rng, now=0.0,
                                   power=self.power if not self.ac else None,
                                   imd=self.imd if not self.ac else None,
                                   meter=self.meter if self.ac else None, slac_mac=evse_mac)
        #: the charge point's OCPP side: the manager's inputs go to it, its decisions come back
        self.station: Any = station if station is not None else LocalStation(
            csms, version=config.ocpp_version, settings=config.ocpp_settings(), wall=self.clock, seed=seed)
        self.emulator = PowerlineEmulator(rng=rng, latency=slac_latency)
        self.emulator.attach("evse", _SlacPort(self.manager.slac))
        self.emulator.attach("ev", _SlacPort(self.car.pev))
        self.events: list[tuple[float, ManagerEvent]] = []  #: every manager event with its time
        #: the V2G TCP stream, as (now, "ev->evse" or "evse->ev", bytes)
        self.v2g: list[tuple[float, str, bytes]] = []
        self.errors: list[RemoteProtocolError] = []
        #: (now, volts, amps, soc): the DC output, or AC per phase
        self.samples: list[tuple[float, float, float, float | None]] = []
        self.connected_at: float | None = None
        self.tls = tls
        self._tls: dict[str, Any] = {}  #: side -> (SSLObject, incoming BIO, outgoing BIO)
        #: what went over the wire when TLS runs, as (now, direction, bytes) (``v2g`` holds the plaintext)
        self.wire: list[tuple[float, str, bytes]] = []
        #: what the SECC's side knew of the last TLS handshake (version, cipher, the car's chain in -20)
        self.secc_tls: TlsInfo | None = None
        self._pump()

    # -- driving ---------------------------------------------------------------------------------

    def plug_in(self) -> None:
        self.car.plug_in(self.now)
        self._pump()

    def unplug(self) -> None:
        self.car.unplug(self.now)
        self._pump()

    def resume(self) -> None:
        """The car comes back after a pause: a new V2G connection that resumes the paused session."""
        secc_info, evcc_info = self._handshake(self.now) if self.tls is not None else (None, None)
        self.secc_tls = secc_info
        self.car.resume(self.now, tls=evcc_info)
        self.manager.connection_made(self.now, tls=secc_info)
        self._pump()

    def send(self, command: Any) -> None:
        """A command to the manager now (a token, a remote start, a charging profile)."""
        self.manager.send(command, self.now)
        self._pump()

    @property
    def calls(self) -> list[tuple[float, OcppCall, dict[str, Any] | None]]:
        """The OCPP calls the :class:`~evcharge.charger.sim.station.LocalStation` made, with their answers (none
        for another station: it keeps its own log)."""
        return list(getattr(self.station, "calls", ()))

    def answer(self, ref: str, payload: dict[str, Any] | None) -> None:
        """Answer an OCPP call ``csms`` left unanswered."""
        self.station.answer(ref, payload)
        self._pump()

    def run(self, *, until: float, stop: Callable[[], bool] | None = None) -> None:
        """Advance the virtual clock to ``until`` (or until ``stop()``), firing every timer on the way."""
        while not (stop and stop()):
            if not self.step(until=until):
                break

    @property
    def unanswered(self) -> list[OcppCall]:
        """OCPP calls ``csms`` did not answer (answer them with :meth:`answer`)."""
        return list(getattr(self.station, "unanswered", ()))

    def _timers(self) -> list[float]:
        parts = [self.manager.get_timer(), self.car.get_timer(), self.board.get_timer()]
        if isinstance(self.station, LocalStation):
            parts.append(self.station.get_timer())
        return [t for t in parts if t is not None]

    def step(self, *, until: float) -> bool:
        """Move everything due now, then advance to the next timer (at most ``until``); False at ``until``."""
        self._pump()
        target = min([until, *self._timers()])
        before = (self.manager.slac.state, self.car.pev.state)
        self.emulator.now = max(self.emulator.now, self.now)

        def slac_moved() -> bool:
            return (self.manager.slac.state, self.car.pev.state) != before

        self.emulator.run(until=target, stop=slac_moved)
        if (self.manager.slac.state, self.car.pev.state) != before:
            self.now = max(self.now, self.emulator.now)
        else:
            self.now = max(self.now, target)
            self.emulator.now = self.now
        self._fire(self.now)
        self._pump()
        return not (self.now >= until and not self._busy())

    def _busy(self) -> bool:
        return any(t <= self.now for t in self._timers())

    def _fire(self, now: float) -> None:
        parts: list[Any] = [self.board, self.manager, self.car]
        if isinstance(self.station, LocalStation):
            parts.append(self.station)
        for part in parts:
            t = part.get_timer()
            if t is not None and t <= now:
                part.handle_timer(now)

    # -- moving things at the present time -------------------------------------------------------

    def pump(self) -> None:
        """Move everything due at the present time (the station's decisions included); :meth:`step` and the
        commands do it themselves."""
        self._pump()

    def _pump(self) -> None:
        now = self.now
        for _ in range(10_000):
            moved = False
            self.board.sync(now)
            if isinstance(self.station, LocalStation):
                self.station.now = now
            while self.station.results:  # the charge-point core's decisions for the manager
                moved = True
                self.manager.send(self.station.results.popleft(), now)
            self.manager.update(now)
            while (event := self.manager.next_event()) is not None:
                moved = True
                self.events.append((now, event))
                self._on_manager(event, now)
            if self.car.update(now):
                moved = True
            self.power.load_on = self.car.drawing and self.board.relays_closed
            if self.ac:
                self.car.supplied = self.board.relays_closed
                self.meter.set_load(self.car.ac_current, self.phases)
            moved |= self._move_v2g(now)
            if not moved:
                break
        else:  # the parts answer each other without time passing: a livelock, never a silent hang
            raise LocalProtocolError(f"the simulated parts exchanged 10000 rounds at t={now:.3f} s without time "
                                     f"passing (a livelock between the charger and the car)")
        if self.ac:
            self.samples.append((now, self.meter.voltage, self.meter.current, self.car.battery.soc))
        else:
            self.samples.append((now, self.power.present_voltage, self.power.present_current,
                                 self.car.battery.soc))

    def _on_manager(self, event: ManagerEvent, now: float) -> None:
        if isinstance(event, StationInput):
            self.station.app_input(event.command)
        elif isinstance(event, MeterUpdate):
            self.station.update_meter(event.evse_id, event.readings)
        elif isinstance(event, V2gLinkReady):
            # SDP and the TCP handshake take no time here: the car connects at once
            self.connected_at = now
            secc_info, evcc_info = self._handshake(now) if self.tls is not None else (None, None)
            self.secc_tls = secc_info
            self.car.connect(now, tls=evcc_info)
            self.manager.connection_made(now, tls=secc_info)

    def _handshake(self, now: float) -> tuple[TlsInfo | None, TlsInfo | None]:
        """A TLS handshake between the two contexts through memory BIOs (no socket, no time): what each side
        knows of it (SECC, EVCC), with the chain its peer sent (ISO 15118-20: the car's OEM provisioning chain)."""
        from evcharge.iso15118.transport.tcp import tls_info

        assert self.tls is not None
        secc_ctx, evcc_ctx = self.tls
        for side, ctx, server in (("evse", secc_ctx, True), ("ev", evcc_ctx, False)):
            incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
            self._tls[side] = (ctx.wrap_bio(incoming, outgoing, server_side=server), incoming, outgoing)
        done = {"evse": False, "ev": False}
        for _ in range(20):
            for side in ("ev", "evse"):
                obj = self._tls[side][0]
                if not done[side]:
                    try:
                        obj.do_handshake()
                        done[side] = True
                    except ssl.SSLWantReadError:
                        pass
            moved = self._shuttle(now)
            if all(done.values()) and not moved:
                break
        return tls_info(self._tls["evse"][0]), tls_info(self._tls["ev"][0])

    def _shuttle(self, now: float) -> bool:
        """Move TLS records from each side's outgoing BIO to the other's incoming one."""
        moved = False
        for src, dst, direction in (("ev", "evse", "ev->evse"), ("evse", "ev", "evse->ev")):
            data = self._tls[src][2].read()
            if data:
                moved = True
                self.wire.append((now, direction, data))
                self._tls[dst][1].write(data)
        return moved

    def _move_v2g(self, now: float) -> bool:
        evcc, secc = self.car.evcc, self.manager.secc
        if evcc is None or secc is None:
            return False
        moved = False
        for src, dst, direction in ((evcc, secc, "ev->evse"), (secc, evcc, "evse->ev")):
            for chunk in src.data_to_send():
                moved = True
                self.v2g.append((now, direction, chunk))
                if self._tls:
                    self._tls["ev" if direction == "ev->evse" else "evse"][0].write(chunk)
                    self._shuttle(now)
                    chunk = self._tls_read("evse" if direction == "ev->evse" else "ev")
                if dst.state.value == "closed":
                    continue
                try:
                    dst.receive_data(chunk, now)
                except RemoteProtocolError as exc:
                    self.errors.append(exc)
        # a side that closed closes the TCP (TLS) connection: the other one sees it
        for a, b in ((evcc, secc), (secc, evcc)):
            if a.state.value == "closed" and b.state.value != "closed":
                close_at = a.close_at
                if close_at is None or close_at <= now:
                    b.connection_lost(now)
                    moved = True
        return moved

    def _tls_read(self, side: str) -> bytes:
        out = b""
        obj = self._tls[side][0]
        while True:
            try:
                data = obj.read(65536)
            except ssl.SSLWantReadError:
                break
            if not data:
                break
            out += data
        return out
