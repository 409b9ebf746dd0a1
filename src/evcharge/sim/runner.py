"""One simulated AC charging session: the composition of the SDK's packages.

::

    car (iec61851.Vehicle + battery) ── inside ──> Yeti board simulator ─ pty ─> Yeti driver core (pyserial)
                                                                                     │ BoardSupport (logged)
    PN532 simulator ─ pty ─> PN532 reader core (pyserial)      charger.EvseManager (basic AC): iec61851.Charger
                 │ card (IdTokenPresented) ──────────────────────────────>  ▲        │ StationInput: plug, card,
                 │                   ChargingAllowed, AuthorizationDone,... │        ▼ power, energy, faults
                 └──────────────> station (ocpp.functions Station: the ChargePointApp core decides)
                                        │ websocket (through a cuttable relay)
                                  CSMS (embedded ocpp.csms, or --csms-url)

:class:`Session` owns the parts and advances the simulated clock in fixed steps (:attr:`SimConfig.step`);
:meth:`Session.step` is plain synchronous code -- pump the ptys, feed the driver's events to the charger logic,
the EVSE manager's inputs to the station's charge-point core and the core's decisions (ChargingAllowed,
AuthorizationDone, StopTransaction) back to the manager, the station's smart-charging limit to the manager
(:class:`~evcharge.charger.events.SetAcCurrentLimit`), run the scenario's due actions.  The charger is
:class:`evcharge.charger.EvseManager` in basic AC charging (IEC 61851-1, no high-level communication), the same
manager ``simulate --hlc`` composes; it drains the board's events itself, through :class:`LoggedBoard`, which
writes each one into the event log on its way.  Every OCPP decision (the card, the transaction, the connector's
status, the fault's stop) is the core's: the session only reports what happened.  :meth:`Session.run` paces the steps
against real time by ``time_scale`` and gives the asyncio loop (OCPP) its turn between them.  When the machine
is too slow for the requested scale, the simulated clock simply runs slower: no protocol timer ever fires
because real time ran away.  While the session waits for the CSMS on something the scenario depends on (an
authorization, the operator's call), the simulated clock stands still: at 400x a 100 ms network answer would
otherwise last 40 simulated seconds.
"""

from __future__ import annotations

import asyncio  # noqa: TID251 - evcharge.sim is the application that composes the cores: it runs the event loop
import contextlib
import logging
import random
import tempfile
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from evcharge.bsp import events as bsp
from evcharge.bsp.yak.pn532 import CardDetected, Pn532Reader
from evcharge.bsp.yak.pn532_simulator import Pn532Simulator, SimulatedCard
from evcharge.bsp.yeti.protocol import YetiProtocol
from evcharge.bsp.yeti.simulator import SimulatorConfig
from evcharge.charger import (
    EvseManager,
    EvseManagerConfig,
    FaultDetected,
    IdTokenPresented,
    SetAcCurrentLimit,
    StationInput,
)
from evcharge.clock import WallClock
from evcharge.errors import EvchargeError
from evcharge.iec61851 import ChargerConfig, ChargingMode
from evcharge.ocpp.functions import application as cp
from evcharge.ocpp.functions._common import format_datetime, from_timestamp

from . import scenario as sc
from .car import Car, CarConfig, CarOnBoard
from .csms import CsmsBooks, CsmsControl, make_csms
from .record import EventLog, describe
from .station import SimStation
from .transport import LinkRelay, PtyLine

__all__ = ["CsmsUnreachable", "LoggedBoard", "Progress", "Session", "SessionResult", "SimConfig",
           "manager_config"]

log = logging.getLogger("evcharge.sim")


class CsmsUnreachable(EvchargeError):
    """The station's first connection to the CSMS failed (refused, unresolvable, TLS, rejected credentials):
    the session does not start.  ``reason`` is the failed attempt's ``ConnectionFailed.reason``
    (:mod:`evcharge.ocpp.transport.websocket`)."""

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, slots=True, kw_only=True)
class SimConfig:
    """Everything about one simulated session."""

    scenario: sc.Scenario = sc.Scenario.NORMAL
    auth: sc.AuthMode = sc.AuthMode.RFID
    ocpp_version: str = "2.0.1"  #: "2.0.1" or "1.6"
    time_scale: float = 60.0  #: simulated seconds per real second, 0 for as fast as the machine goes
    duration: float = 1200.0  #: charging time, simulated seconds
    until_soc: float | None = None  #: stop charging at this state of charge, %
    car: CarConfig = field(default_factory=CarConfig)
    charger_current: float = 16.0  #: the most the charger offers per phase, A (the Yeti allows 32)
    step: float = 0.1  #: simulated seconds per step
    meter_log_interval: float = 0.5  #: simulated seconds between meter samples in the event log
    identity: str = "SIM001"
    csms_url: str | None = None  #: an external CSMS; None runs the embedded one on loopback
    security_profile: int = 0  #: 0 none, 1 basic auth, 2 TLS + basic auth, 3 mutual TLS (with --csms-url)
    password: str | None = None
    cafile: str | None = None  #: CA bundle to verify the external CSMS's certificate (profiles 2 and 3)
    certfile: str | None = None  #: the station's certificate chain (profile 3)
    keyfile: str | None = None  #: the station's private key (profile 3)
    drain_timeout: float = 20.0  #: real seconds to wait at the end for queued messages to reach the CSMS
    limit_amps: float = 10.0  #: the limit-change scenario's profile, A

    def script_config(self) -> sc.ScriptConfig:
        """The scenario timeline's settings (a remote start from an external CSMS is given an hour: a person may
        have to click it)."""
        waits_for_person = self.auth is sc.AuthMode.REMOTE and self.csms_url is not None
        return sc.ScriptConfig(scenario=self.scenario, auth=self.auth, duration=self.duration,
                               until_soc=self.until_soc, limit_amps=self.limit_amps,
                               start_timeout=3600.0 if waits_for_person else 120.0)


@dataclass(frozen=True, slots=True)
class Progress:
    """A snapshot for the live progress line."""

    t: float
    state: str  #: the IEC 61851 sub-state (A1, B2, C2, F ...)
    current_a: float
    power_w: float
    energy_wh: float
    soc: float
    online: bool
    notices: tuple[str, ...] = ()  #: what happened since the last snapshot, in words (faults, link changes...)


@dataclass(slots=True)
class SessionResult:
    """What a finished session hands back."""

    config: SimConfig
    log: EventLog
    books: CsmsBooks | None  #: None with an external CSMS
    finish_reason: str
    queued_left: int = 0  #: transaction messages that never reached the CSMS
    connected: bool = False  #: whether the station was connected to the CSMS at the end
    queued_offline: int = 0  #: messages the station queued while the CSMS link was down
    replayed: int = 0  #: of those, how many it sent after the link came back


def manager_config(config: SimConfig) -> EvseManagerConfig:
    """The EVSE manager of the AC simulation: IEC 61851-1 basic charging on three phases at the charger's current
    (at most the Yeti's 32 A), paused (X1) until the charge-point core allows charging."""
    amps = min(config.charger_current, 32.0)
    return EvseManagerConfig(
        energy="ac", ac_max_current=amps, ac_phases=3,
        pilot=ChargerConfig(mode=ChargingMode.BASIC, max_current=amps, initial_current=amps, phases=3,
                            start_paused=True),
        ocpp_version="1.6" if config.ocpp_version == "1.6" else "2.0.1",
        # a 1.6 StopTransaction has no GroundFault reason: a trip's stop is an EmergencyStop there
        trip_stop_reason="EmergencyStop" if config.ocpp_version == "1.6" else None)


class LoggedBoard:
    """The Yeti driver core as the EVSE manager's :class:`~evcharge.bsp.interface.BoardSupport`, writing what passes
    into the event log: every board event on its way to the manager (``board_ready``, ``cp``, ``relays``,
    ``board_error``, ``board_error_cleared``, ``board_reset``) and every pilot command from it (``pilot``,
    ``allow_power``).  The manager's commands wait until the board said it is ready (the driver refuses them
    before).  The last meter reading is kept: it is the manager's :class:`~evcharge.charger.power.AcMeter` and the
    station's meter (the board's energy register).  Set ``now`` (the log's time) before handing the manager control."""

    def __init__(self, driver: YetiProtocol, log: EventLog) -> None:
        self.driver = driver
        self.log = log
        self.now = 0.0
        self.ready = False
        self.meter: bsp.MeterReading | None = None  #: the board's last meter reading
        self._held: list[bsp.BoardCommand] = []

    @property
    def capabilities(self) -> bsp.Capabilities | None:
        return self.driver.capabilities

    def send(self, command: bsp.BoardCommand, now: float) -> None:
        match command:
            case bsp.PwmOn(duty_percent=duty):
                self.log.add(now, "pilot", output="X2", duty=round(duty, 2))
            case bsp.PilotX1():
                self.log.add(now, "pilot", output="X1")
            case bsp.PilotF():
                self.log.add(now, "pilot", output="F")
            case bsp.PilotE():
                self.log.add(now, "pilot", output="E")
            case bsp.AllowPowerOn(allow=allow):
                self.log.add(now, "allow_power", allowed=allow)
            case _:
                pass
        if self.ready:
            self.driver.send(command, now)
        else:
            self._held.append(command)

    def next_event(self) -> bsp.BoardEvent | None:
        event = self.driver.next_event()
        now = self.now
        match event:
            case bsp.BoardReady(capabilities=caps):
                self.log.add(now, "board_ready", firmware=caps.firmware_version, max_current=caps.max_current_a)
                self.ready = True
                held, self._held = self._held, []
                for command in held:
                    self.driver.send(command, now)
            case bsp.PilotStateChanged(state=state):
                self.log.add(now, "cp", state=state.value)
            case bsp.RelaysClosed():
                self.log.add(now, "relays", closed=True)
            case bsp.RelaysOpened():
                self.log.add(now, "relays", closed=False)
            case bsp.MeterReading():
                self.meter = event
            case bsp.ErrorRaised(kind=kind, detail=detail):
                self.log.add(now, "board_error", error=kind.value, detail=detail)
            case bsp.ErrorCleared(kind=kind):
                self.log.add(now, "board_error_cleared", error=kind.value)
            case bsp.BoardReset(reason=reason, spurious=spurious):
                self.log.add(now, "board_reset", reason=reason.value, spurious=spurious)
            case _:
                pass
        return event

    # the manager's AcMeter
    @property
    def voltage(self) -> float:
        return 0.0 if self.meter is None else max(self.meter.voltage_v)

    @property
    def current(self) -> float:
        return 0.0 if self.meter is None else max(self.meter.current_a)

    @property
    def power_w(self) -> float:
        return 0.0 if self.meter is None else self.meter.total_power_w


class Session:
    """The composed charger, car and CSMS (see the module docstring)."""

    def __init__(self, config: SimConfig, *, progress: Callable[[Progress], None] | None = None,
                 workdir: Path | None = None) -> None:
        self.config = config
        self.progress = progress
        self.log = EventLog()
        self.t = 0.0
        self.epoch = time.time()  # simulated wall clock = epoch + t
        self.workdir = workdir
        self.script = sc.Script(config.script_config())
        car_config = config.car
        if config.until_soc is not None:
            car_config = replace(car_config, target_soc=config.until_soc)
        self.car = Car(car_config)
        self.board_sim = CarOnBoard(self.car, SimulatorConfig())
        self.reader_sim = Pn532Simulator()
        self.driver = YetiProtocol()
        self.reader = Pn532Reader()
        self.board = LoggedBoard(self.driver, self.log)
        mconfig = manager_config(config)
        self.max_current = mconfig.ac_max_current
        self.manager = EvseManager(mconfig, board=self.board,
                                   clock=WallClock.at(0.0, datetime.fromtimestamp(self.epoch, UTC)),
                                   rng=random.Random(1), now=0.0, meter=self.board)
        self._limit = self.max_current  # the limit last given to the manager
        self._pilot_state: str | None = None  # the IEC 61851 machine's state last logged
        self._fault_kind = ""  # the last fault logged
        self.books: CsmsBooks | None = None
        self.control: CsmsControl | None = None
        self.finish_reason: str | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._tx_ref: str | None = None
        self._next_meter_log = 0.0
        self._next_limit_poll = 0.0
        self._station_energy: float | None = None
        self._fed_meter: bsp.MeterReading | None = None
        self.peak_current = 0.0
        self.csms_calls = 0
        self._waiting = 0  # calls to the CSMS the scenario waits for
        self._online = False
        self._was_online = False
        self.notices: deque[str] = deque(maxlen=50)  #: notable events in words, for the console
        self._described = 0  # events of the log already turned into notices
        self._backlog = 0  # the offline queue's peak length during the present outage
        self.queued_offline = 0

    # ------------------------------------------------------------------ clocks
    def sim_time(self) -> float:
        """Simulated seconds since the start."""
        return self.t

    def wall_clock(self) -> float:
        """The simulated UNIX time (what the station stamps its messages with)."""
        return self.epoch + self.t

    # ------------------------------------------------------------------ one step
    def step(self, now: float) -> None:
        """Advance everything to ``now`` (simulated seconds)."""
        self.t = now
        self.board_line.device_step(now)
        self.reader_line.device_step(now)
        self._feed_station(now)  # what the core decided on the CSMS's answers since the last step
        self._drive_board(now)
        self._drive_reader(now)
        self.station.tick()
        if now >= self._next_limit_poll:
            self._next_limit_poll = now + 1.0
            limit = self.station.smart_charging.limit_at(1, from_timestamp(self.wall_clock()))
            self._set_limit(limit.value, now)
        self._watch(now)
        status = sc.Status(now=now, soc=self.car.soc, flowing=self.manager.flowing, plugged_in=self.car.plugged_in)
        for action in self.script.step(status):
            self._act(action, now)
        self._describe_new_events()

    def _describe_new_events(self) -> None:
        events = self.log.events
        for e in events[self._described:]:
            text = describe(e)
            if text is not None:
                self.notices.append(f"{_clock(e['t'])}  {text}")
        self._described = len(events)

    def _drive_board(self, now: float) -> None:
        driver = self.driver
        data = self.board_line.host_read()
        if data:
            driver.receive_data(data, now)
        timer = driver.get_timer()
        if timer is not None and timer <= now:
            driver.handle_timer(now)
        self.board.now = now
        self.manager.update(now)  # the manager drains the board's events (logged by LoggedBoard)
        self._feed_station(now)
        timer = self.manager.get_timer()
        if timer is not None and timer <= now:
            self.manager.handle_timer(now)
            self._feed_station(now)
        self.board_line.host_write(b"".join(driver.data_to_send()))

    def _set_limit(self, amps: float, now: float) -> None:
        """The station's smart-charging limit (per phase, A) to the manager, when it changed; below 6 A the
        manager pauses the PWM.  (The station keeps the CSMS's profiles: one owner of them.)"""
        amps = min(amps, self.max_current)
        if amps == self._limit:
            return
        self._limit = amps
        self.log.add(now, "limit", amps=amps)
        self.board.now = now
        self.manager.send(SetAcCurrentLimit(amps=amps), now)
        self._feed_station(now)

    def _sync_meter(self) -> None:
        """The board's latest meter reading to the station (its energy register), once per reading."""
        reading = self.board.meter
        if reading is None or reading is self._fed_meter:
            return
        self._fed_meter = reading
        self._station_energy = reading.energy_wh_import
        self.station.update_meter(1, {
            "Energy.Active.Import.Register": reading.energy_wh_import,
            "Power.Active.Import": reading.total_power_w,
            "Current.Import": max(reading.current_a),
        })

    def _feed_station(self, now: float) -> None:
        """The manager's inputs to the charge-point core, the core's decisions back, until both are quiet.  The
        manager's own meter updates are not passed on: the station reads the board's energy register."""
        self.board.now = now
        while True:
            self._sync_meter()
            moved = False
            while (event := self.manager.next_event()) is not None:
                moved = True
                if isinstance(event, StationInput):
                    self._log_input(event.command, now)
                    self.station.app_input(event.command)
                    self._transaction_boundary(now)
                elif isinstance(event, FaultDetected):
                    self._fault_kind = event.kind.value
                    self.log.add(now, "charger_fault", fault=event.kind.value, detail=event.detail)
            while self.station.verdicts:
                done = self.station.verdicts.popleft()
                token = done.token.get("idToken") if isinstance(done.token, dict) else done.token
                self.log.add(now, "authorize", token=token, accepted=done.accepted, status=done.status)
            while self.station.results:
                moved = True
                result = self.station.results.popleft()
                if isinstance(result, cp.ChargingAllowed) and result.allowed:
                    self.log.add(now, "authorized")
                self.manager.send(result, now)
            self._log_pilot_state(now)
            if not moved:
                return

    def _log_input(self, command: cp.AppCommand, now: float) -> None:
        """The faults the manager reports, in the event log."""
        if isinstance(command, cp.FaultRaised) and command.ev_side:
            self._fault_kind = command.info or "vehicle"
            self.log.add(now, "charger_fault", fault=self._fault_kind, detail=command.error_code)
        elif isinstance(command, cp.FaultCleared):
            self.log.add(now, "charger_fault_cleared", fault=self._fault_kind if not command.ev_side else "vehicle")

    def _log_pilot_state(self, now: float) -> None:
        """The IEC 61851 machine's state when it changed."""
        pilot = self.manager.pilot
        if pilot.state.value != self._pilot_state:
            self._pilot_state = pilot.state.value
            self.log.add(now, "charger_state", state=pilot.state.value, sub_state=pilot.sub_state)

    def _drive_reader(self, now: float) -> None:
        data = self.reader_line.host_read()
        if data:
            self.reader.receive_data(data, now)
        timer = self.reader.get_timer()
        if timer is not None and timer <= now:
            self.reader.handle_timer(now)
        while (event := self.reader.next_event()) is not None:
            if isinstance(event, CardDetected):
                self.log.add(now, "card", token=event.token)
                # the manager hands it to the core, which decides: authorize it (local list, cache, Authorize), or
                # end the session it started
                self.board.now = now
                self.manager.send(IdTokenPresented(id_token=event.token, type="ISO14443"), now)
                self._feed_station(now)
        self.reader_line.host_write(b"".join(self.reader.data_to_send()))

    def _transaction_boundary(self, now: float) -> None:
        """Log a transaction's start or end with the meter reading the station used."""
        ref = self.station.transactions.transaction_ref(1)
        if ref != self._tx_ref:
            energy = None if self._station_energy is None else round(self._station_energy, 3)
            if self._tx_ref is not None:
                self.log.add(now, "transaction_ended", transaction_id=self._tx_ref, meter_wh=energy)
            if ref is not None:
                self.log.add(now, "transaction_started", transaction_id=ref, meter_wh=energy)
            self._tx_ref = ref

    def _watch(self, now: float) -> None:
        """Log meter samples, transaction boundaries and the link's changes."""
        meter = self.board.meter
        if meter is not None:
            self.peak_current = max(self.peak_current, *meter.current_a)
            if now >= self._next_meter_log:
                self._next_meter_log = now + self.config.meter_log_interval
                self.log.add(now, "meter", energy_wh=round(meter.energy_wh_import, 3),
                             power_w=round(meter.total_power_w, 1), current_a=[round(i, 2) for i in meter.current_a],
                             soc=round(self.car.soc, 3))
        self._transaction_boundary(now)
        self._log_link_changes(now)
        if self._was_online and not self._online:
            self._backlog = max(self._backlog, len(self.station.queue))

    # ------------------------------------------------------------------ the scenario's actions
    def _act(self, action: sc.Action, now: float) -> None:
        fields = {k: (v.hex().upper() if isinstance(v, bytes) else v) for k, v in asdict(action).items()}
        self.log.add(now, "scenario", action=type(action).__name__, **fields)
        match action:
            case sc.PlugIn():
                self.car.plug_in(now)
            case sc.Unplug():
                self.car.unplug(now)
            case sc.StopCharging():
                self.car.stop_charging(now)
            case sc.PresentCard(uid=uid):
                self.reader_sim.present_card(SimulatedCard(uid))
            case sc.RemoveCard():
                self.reader_sim.remove_card()
            case sc.RemoteStart(token=token):
                if self.control is not None:
                    self._spawn(self._csms_call("remote_start", self.control.remote_start(token)))
                else:
                    self.log.add(now, "note", text="waiting for a remote start from the external CSMS")
            case sc.SendLimit(amps=amps):
                if self.control is not None:
                    start = format_datetime(from_timestamp(self.wall_clock()))
                    self._spawn(self._csms_call("set_charging_profile", self.control.set_limit(amps, start)))
                else:
                    self.log.add(now, "note", text="the external CSMS decides on charging profiles")
            case sc.InjectRcd(milliamps=ma):
                self.board_sim.board.inject_rcd_leakage(ma)
            case sc.ClearRcd():
                self.board_sim.board.inject_rcd_leakage(0.0)
            case sc.CutLink():
                if self.relay is not None:
                    self.relay.cut()
                    # the sockets close on a later turn of the event loop: at a high time scale the
                    # outage would otherwise be over before the station noticed it
                    self._hold_until(lambda: not self.station.connected, "the station to see the link cut")
            case sc.RestoreLink():
                if self.relay is not None:
                    self.relay.restore()
                    # the station's reconnection backoff counts real seconds, hundreds of simulated
                    # ones at a high time scale: the clock waits for it, as it waits for the CSMS
                    self._hold_until(lambda: self.station.connected, "the station to reconnect")
            case sc.Finish(reason=reason):
                self.finish_reason = reason

    def _log_link_changes(self, now: float) -> None:
        while self.station.link_changes:
            self._online = self.station.link_changes.popleft()
            if self._online and self._was_online:  # back after an outage: what waited in the queue
                self._backlog = max(self._backlog, len(self.station.queue))
                self.queued_offline += self._backlog
                self.log.add(now, "ocpp_link", connected=True, queued=self._backlog)
                self._backlog = 0
            else:
                self.log.add(now, "ocpp_link", connected=self._online)
            self._was_online = self._was_online or self._online

    def _hold_until(self, done: Callable[[], bool], what: str, limit: float = 10.0) -> None:
        """Stand the simulated clock still until ``done()`` (at most ``limit`` real seconds)."""
        self._waiting += 1

        async def wait() -> None:
            try:
                loop = asyncio.get_running_loop()
                deadline = loop.time() + limit
                while not done() and loop.time() < deadline:
                    await asyncio.sleep(0.002)
                if not done():
                    self.log.add(self.t, "note", text=f"gave up waiting for {what}")
            finally:
                self._waiting -= 1

        self._spawn(wait())

    async def _csms_call(self, what: str, call: Any) -> None:
        self.csms_calls += 1
        self._waiting += 1
        try:
            status = await call
        except Exception as exc:  # the CSMS's call failed: the checks will say what is missing
            self.log.add(self.t, "csms_call", call=what, error=f"{type(exc).__name__}: {exc}")
        else:
            self.log.add(self.t, "csms_call", call=what, status=status)
        finally:
            self._waiting -= 1

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def snapshot(self) -> Progress:
        """The live numbers."""
        meter = self.board.meter
        return Progress(
            t=self.t, state=self.manager.pilot.sub_state,
            current_a=0.0 if meter is None else max(meter.current_a),
            power_w=0.0 if meter is None else meter.total_power_w,
            energy_wh=0.0 if meter is None else meter.energy_wh_import,
            soc=self.car.soc, online=self.station.connected, notices=tuple(self._take_notices()),
        )

    def _take_notices(self) -> list[str]:
        taken = list(self.notices)
        self.notices.clear()
        return taken

    # ------------------------------------------------------------------ running
    async def run(self) -> SessionResult:
        """Run the session to its end; the ports, servers and files are closed afterwards."""
        with tempfile.TemporaryDirectory(prefix="evcharge-sim-") as tmp:
            return await self._run(Path(self.workdir or tmp))

    async def _run(self, directory: Path) -> SessionResult:
        from evcharge.ocpp import v16, v201
        from evcharge.ocpp.charge_point import BackoffConfig, ChargePointConfig
        from evcharge.ocpp.transport.websocket import ChargePointClient, serve_csms

        cfg = self.config
        version: Any = v16 if cfg.ocpp_version == "1.6" else v201
        self.station = SimStation(cfg.identity, version="1.6" if cfg.ocpp_version == "1.6" else "2.0.1",
                                directory=directory, max_current_a=min(cfg.charger_current, 32.0),
                                clock=self.wall_clock)
        server = None
        self.relay: LinkRelay | None = None
        if cfg.csms_url is None:
            self.books = CsmsBooks(self.sim_time, self.epoch)
            csms = make_csms(self.books, (v201, v16))
            server = await serve_csms(csms, "127.0.0.1", 0)
            port = server.sockets[0].getsockname()[1]
            self.control = CsmsControl(csms, cfg.identity, cfg.ocpp_version)
            self.relay = LinkRelay("127.0.0.1", port)
            url = f"ws://127.0.0.1:{await self.relay.start()}/ocpp"
        else:
            url = cfg.csms_url
            if cfg.scenario is sc.Scenario.OFFLINE:
                url = await self._relay_external(url)
        client = ChargePointClient(
            self.station, url,
            ChargePointConfig(versions=(version,), backoff=BackoffConfig(initial=0.25, maximum=2.0)),
            security=_client_security(cfg),
        )
        self.board_line = PtyLine(self.board_sim)
        self.reader_line = PtyLine(self.reader_sim)
        self.board_line.open(0.0)
        self.reader_line.open(0.0)
        self.board_line.device_step(0.0)  # the board boots as it powers up; a driver that opens
        self.board_line.host_read()  # the port later discards those bytes (stale), and so do we
        tasks = [asyncio.create_task(client.run()), asyncio.create_task(self.station.run())]
        try:
            self.driver.send(bsp.Start(), 0.0)
            self.reader.send(bsp.Start(), 0.0)
            self.log.add(0.0, "start", board_port=self.board_line.port, reader_port=self.reader_line.port, csms=url)
            await self._first_connection(client, tasks[0])
            await self._pace()
            await self._drain()
            queued_left, connected = len(self.station.queue), self.station.connected
        finally:
            await client.stop()
            for task in tasks + list(self._tasks):
                task.cancel()
            for task in tasks + list(self._tasks):
                with contextlib.suppress(BaseException):
                    await task
            if server is not None:
                server.close()
                with contextlib.suppress(Exception):
                    await server.wait_closed()
            if self.relay is not None:
                await self.relay.close()
            self.board_line.close()
            self.reader_line.close()
            self.station.close_stores()
        self.log.add(self.t, "end", reason=self.finish_reason or "", queued_left=queued_left)
        self._describe_new_events()
        return SessionResult(cfg, self.log, self.books, self.finish_reason or "", queued_left, connected,
                             self.queued_offline, max(0, self.queued_offline - queued_left))

    async def _first_connection(self, client: Any, runner: asyncio.Task[None], timeout: float = 10.0) -> None:
        """Wait until the station is connected; a failed first attempt ends the session at once (an external
        CSMS that refuses, cannot be resolved, fails TLS or rejects the credentials is said within seconds)."""
        connected = asyncio.ensure_future(self.station.wait_connected())
        failed = asyncio.ensure_future(client.next_failure())
        try:
            done, _ = await asyncio.wait({connected, failed, runner}, timeout=timeout,
                                         return_when=asyncio.FIRST_COMPLETED)
        finally:
            connected.cancel()
            failed.cancel()
        if runner in done:
            runner.result()  # the client stopped on an error that is not the network's: raise it
        if failed in done and not failed.cancelled() and not self.station.connected:
            failure = failed.result()
            url, reason, message = failure.url, failure.reason, failure.message
            upstream = self.relay.upstream_error if self.relay is not None else None
            if self.config.csms_url is not None and upstream is not None:  # through the offline scenario's relay
                from evcharge.ocpp.transport.websocket import describe_connection_error

                url = self.config.csms_url
                reason, message = describe_connection_error(upstream)
            raise CsmsUnreachable(f"cannot connect to the CSMS at {url}: {message}", reason=reason)
        if not done:
            raise CsmsUnreachable(f"no connection to the CSMS within {timeout:g} s ({client.url})", reason="timeout")

    async def _relay_external(self, url: str) -> str:
        from urllib.parse import urlsplit, urlunsplit

        parts = urlsplit(url)
        if parts.scheme != "ws":
            raise ValueError("the offline scenario with --csms-url needs a ws:// URL (a relay cannot cut TLS "
                             "without breaking the host name check)")
        self.relay = LinkRelay(parts.hostname or "127.0.0.1", parts.port or 80)
        port = await self.relay.start()
        return urlunsplit(("ws", f"127.0.0.1:{port}", parts.path, parts.query, ""))

    async def _pace(self) -> None:
        cfg = self.config
        loop = asyncio.get_running_loop()
        real0 = loop.time()
        last_progress = 0.0
        limit = cfg.duration + 3600.0  # a guard: no scenario runs an hour past its charging time
        steps = 0
        while self.finish_reason is None:
            real0 += await self._hold()
            self._log_link_changes(self.t)  # what happened while the clock stood still
            steps += 1
            now = round(steps * cfg.step, 6)
            self.step(now)
            if now > limit and self.finish_reason is None:
                self.finish_reason = "the scenario did not end"
            if self.progress is not None and loop.time() - last_progress >= 0.25:
                last_progress = loop.time()
                self.progress(self.snapshot())
            delay = real0 + now / cfg.time_scale - loop.time() if cfg.time_scale > 0 else 0.0
            await asyncio.sleep(max(0.0, delay))

    async def _hold(self, limit: float = 30.0) -> float:
        """Stand still while the scenario waits for the CSMS (at most ``limit`` real seconds); return how long."""
        if not (self._waiting or self.station.authorizing):
            return 0.0
        loop = asyncio.get_running_loop()
        start = loop.time()
        while (self._waiting or self.station.authorizing) and loop.time() - start < limit:
            await asyncio.sleep(0.002)
        return loop.time() - start

    async def _drain(self) -> None:
        """Keep the simulation going until the queued transaction messages reached the CSMS."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.config.drain_timeout
        while loop.time() < deadline:
            books_done = self.books is None or all(tx.ended_t is not None for tx in self.books.transactions.values())
            if self.station.connected and len(self.station.queue) == 0 and books_done and not self._tasks:
                break
            self.step(round(self.t + self.config.step, 6))
            await asyncio.sleep(0.01)
        self._log_link_changes(self.t)
        if self.progress is not None:
            self.progress(self.snapshot())


def _clock(seconds: float) -> str:
    m, s = divmod(int(seconds), 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}"


def _client_security(cfg: SimConfig) -> Any:
    from evcharge.ocpp.transport.websocket import ClientSecurity

    context = None
    if cfg.security_profile >= 2:
        import ssl

        context = ssl.create_default_context(cafile=cfg.cafile)
        if cfg.security_profile == 3:
            if cfg.certfile is None:
                raise ValueError("security profile 3 needs the station's certificate (--certfile)")
            context.load_cert_chain(cfg.certfile, cfg.keyfile)
    return ClientSecurity(profile=cfg.security_profile, password=cfg.password,  # type: ignore[arg-type]
                          ssl_context=context)
