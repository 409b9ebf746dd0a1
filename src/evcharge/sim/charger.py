"""The charger's application logic: the glue a vendor writes between the board, IEC 61851 and OCPP.

:class:`ChargerApp` is sans-I/O.  Board events (from any :class:`~evcharge.bsp.interface.BoardSupport`, here the
Yeti driver core) go in with :meth:`ChargerApp.board_event`; the IEC 61851 :class:`~evcharge.iec61851.charger.Charger`
decides; its actions go out to the board through :class:`~evcharge.bsp.adapters.PilotBoardAdapter` (the same
adapter :class:`evcharge.charger.EvseManager` uses); what OCPP must hear comes out of
:meth:`ChargerApp.station_inputs` as the charge-point core's protocol-neutral commands
(:mod:`evcharge.ocpp.functions.application`: the cable plugged in or out, the contactor, the energy, a fault), which
decides the rest (authorization, transactions, StatusNotification).  The OCPP side tells it
:meth:`~ChargerApp.authorized` / :meth:`~ChargerApp.deauthorized` (the core's ``ChargingAllowed``) and
:meth:`~ChargerApp.set_limit`.

The rules it adds on top of the parts:

* no PWM before the core allows charging (the charger starts paused); ``ChargingAllowed`` resumes it, its end
  (the transaction over, a fault, the cable out) pauses it (X1);
* a residual-current (RCD) or over-current trip pauses the charger, raises its fault (F, contactors open at
  once) and reports it to the core (which ends the transaction, the connector Faulted); the fault is cleared
  after the standard's minimum time in F, but no PWM is offered again until the board reports the trip cleared
  (it does in state A, when the car was unplugged); a pilot fault on the vehicle's side is reported as one;
* energy flowing / suspended is read off the meter.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from evcharge.bsp import events as bsp
from evcharge.bsp.adapters import PilotBoardAdapter
from evcharge.bsp.events import BoardErrorKind
from evcharge.bsp.interface import BoardSupport
from evcharge.iec61851 import Charger, ChargerConfig, CPState, apply_actions
from evcharge.iec61851 import events as iec
from evcharge.iec61851.errors import LocalProtocolError
from evcharge.iec61851.states import ChargerState, PilotFault
from evcharge.ocpp.functions import application as cp

from .record import EventLog

__all__ = ["ChargerApp", "ChargerAppConfig"]

_TRIPS = (BoardErrorKind.RCD_TRIGGERED, BoardErrorKind.OVER_CURRENT)
#: the 1.6 ChargePointErrorCode of a trip
_ERROR_CODES = {BoardErrorKind.RCD_TRIGGERED: "GroundFailure", BoardErrorKind.OVER_CURRENT: "OverCurrentFailure"}


@dataclass(frozen=True, slots=True, kw_only=True)
class ChargerAppConfig:
    """The charger's settings."""

    evse_id: int = 1
    max_current: float = 32.0  #: the hardware's limit per phase, A
    phases: int = 3
    flowing_w: float = 100.0  #: metered power above which energy counts as flowing
    stop_reason_on_trip: str = "GroundFault"  #: the transaction's stop reason on an RCD trip


class ChargerApp:
    """Board events in, board commands and the charge-point core's commands out (see the module docstring)."""

    def __init__(self, config: ChargerAppConfig, board: BoardSupport, log: EventLog) -> None:
        self.config = config
        self.board = board
        self.log = log
        self.charger = Charger(ChargerConfig(max_current=config.max_current, initial_current=config.max_current,
                                             phases=config.phases, start_paused=True))
        self._pilot = PilotBoardAdapter(board)  # the bsp adapter (it checks the phases), as evcharge.charger uses
        self._tx: deque[cp.AppCommand] = deque()
        self.cp: CPState | None = None
        self.relays_on = False
        self.flowing = False
        self.authorized_now = False
        self.meter: bsp.MeterReading | None = None
        self._trip_clear_at: float | None = None
        self.trips: set[BoardErrorKind] = set()  #: RCD / over-current trips the board still reports
        self._limit = config.max_current
        self._board_ready = False
        self._held: list[iec.ChargerAction] = []  # actions made before the board was ready
        self._faults_reported: dict[bool, bool] = {}  # the faults the core was told of (key: ev_side)
        self._flush(0.0)

    # ------------------------------------------------------------------ inputs
    def board_event(self, event: bsp.BoardEvent, now: float) -> None:
        """One event from the board driver."""
        eid = self.config.evse_id
        match event:
            case bsp.BoardReady(capabilities=caps):
                self.log.add(now, "board_ready", firmware=caps.firmware_version, max_current=caps.max_current_a)
                self._board_ready = True
            case bsp.PilotStateChanged(state=state):
                self._cp(CPState(state.value), now)
            case bsp.RelaysClosed():
                self.relays_on = True
                self.log.add(now, "relays", closed=True)
                self._tx.append(cp.PowerPathChanged(evse_id=eid, closed=True))
            case bsp.RelaysOpened():
                # the core hears the end of the energy (below), not the contactor: an opened power path would
                # forget why the energy stopped (SuspendedEV / SuspendedEVSE)
                self.relays_on = False
                self.log.add(now, "relays", closed=False)
                self._flow(False, now)
            case bsp.MeterReading():
                self.meter = event
                self._flow(self.relays_on and event.total_power_w > self.config.flowing_w, now)
            case bsp.ErrorRaised(kind=kind, detail=detail):
                self.log.add(now, "board_error", error=kind.value, detail=detail)
                if kind in _TRIPS:
                    self._trip(kind, now)
            case bsp.ErrorCleared(kind=kind):
                self.log.add(now, "board_error_cleared", error=kind.value)
                if kind in self.trips:
                    self.trips.discard(kind)
                    self._resume_if_allowed(now)
            case bsp.BoardReset(reason=reason, spurious=spurious):
                self.log.add(now, "board_reset", reason=reason.value, spurious=spurious)
            case _:
                pass
        self._flush(now)

    def authorized(self, now: float) -> None:
        """The identifier was accepted: offer current (PWM)."""
        self.authorized_now = True
        self.log.add(now, "authorized")
        self._resume_if_allowed(now)
        self._flush(now)

    def deauthorized(self, now: float) -> None:
        """The transaction ended (or authorization was withdrawn): stop offering current (X1)."""
        self.authorized_now = False
        self._pause(now)
        self._flush(now)

    def set_limit(self, amps: float, now: float) -> None:
        """The current limit from OCPP smart charging (per phase, A); below 6 A charging pauses."""
        amps = min(amps, self.config.max_current)
        if amps == self._limit:
            return
        self._limit = amps
        self.log.add(now, "limit", amps=amps)
        if amps >= 6.0:
            self.charger.send(iec.SetCurrentLimit(amps=amps), now)
            self._resume_if_allowed(now)
        else:
            self._pause(now)
        self._flush(now)

    def get_timer(self) -> float | None:
        """When :meth:`handle_timer` must run."""
        times = [t for t in (self.charger.get_timer(), self._trip_clear_at) if t is not None]
        return min(times) if times else None

    def handle_timer(self, now: float) -> None:
        """Run the machine's timers (duty-cycle deferral, forced power-off, fault minimum time)."""
        timer = self.charger.get_timer()
        if timer is not None and timer <= now:
            self.charger.handle_timer(now)
        if self._trip_clear_at is not None and self._trip_clear_at <= now:
            self._trip_clear_at = None
            if self.charger.state is ChargerState.FAULT:
                self.charger.send(iec.ClearFault(), now)
        self._flush(now)

    # ------------------------------------------------------------------ outputs
    def station_inputs(self) -> list[cp.AppCommand]:
        """What the charge-point core must hear (its ``app_input`` commands), in order."""
        out = list(self._tx)
        self._tx.clear()
        return out

    # ------------------------------------------------------------------ internals
    def _cp(self, state: CPState, now: float) -> None:
        previous, self.cp = self.cp, state
        self.log.add(now, "cp", state=state.value)
        eid = self.config.evse_id
        if state is CPState.F and self.charger.output.value == "F":
            return  # the board reads back the F we drive: nothing the vehicle did
        self.charger.receive_cp_state(state, now)
        if previous in (None, CPState.A) and state in (CPState.B, CPState.C, CPState.D):
            self._tx.append(cp.Plugged(evse_id=eid))
        elif state is CPState.A and previous not in (None, CPState.A):
            self._tx.append(cp.Unplugged(evse_id=eid))
            self.authorized_now = False
            self._pause(now)

    def _flow(self, flowing: bool, now: float) -> None:
        if flowing == self.flowing:
            return
        self.flowing = flowing
        eid = self.config.evse_id
        if flowing:
            self._tx.append(cp.EnergyStateChanged(evse_id=eid, state="Charging"))
        elif self.cp is not CPState.A:
            by_ev = self.cp is CPState.B and self.charger.output.value == "X2"
            self._tx.append(cp.EnergyStateChanged(evse_id=eid, state="SuspendedEV" if by_ev else "SuspendedEVSE"))

    def _resume_if_allowed(self, now: float) -> None:
        """Offer current again: authorized, a limit of at least 6 A, no trip active, not in a fault."""
        if (self.authorized_now and not self.trips and self._limit >= 6.0 and self.charger.paused
                and self.charger.state is not ChargerState.FAULT):
            self.charger.send(iec.Resume(), now)

    def _trip(self, kind: BoardErrorKind, now: float) -> None:
        self.trips.add(kind)
        self._pause(now)
        if self.charger.state is not ChargerState.FAULT:
            self.charger.send(iec.RaiseFault(reason=kind.value), now)
            self._trip_clear_at = now + self.charger.config.fault_min_time
        self.authorized_now = False
        if not self._faults_reported.get(False):
            # the core makes the connector Faulted and ends the transaction (with the configured stop reason)
            self._faults_reported[False] = True
            self._tx.append(cp.FaultRaised(evse_id=self.config.evse_id, error_code=_ERROR_CODES[kind],
                                           info=kind.value, stop_reason=self.config.stop_reason_on_trip))

    def _pause(self, now: float) -> None:
        if not self.charger.paused and self.charger.state is not ChargerState.FAULT:
            try:
                self.charger.send(iec.Pause(), now)
            except LocalProtocolError:  # a state that does not pause (e.g. a step): it ends in X1 anyway
                pass

    def _flush(self, now: float) -> None:
        actions = self.charger.actions()
        for action in actions:
            match action:
                case iec.SetPwm(duty=duty):
                    self.log.add(now, "pilot", output="X2", duty=round(duty, 2))
                case iec.SetX1():
                    self.log.add(now, "pilot", output="X1")
                case iec.SetStateF():
                    self.log.add(now, "pilot", output="F")
                case iec.SetStateE():
                    self.log.add(now, "pilot", output="E")
                case iec.CloseContactors() | iec.OpenContactors():
                    self.log.add(now, "allow_power", allowed=isinstance(action, iec.CloseContactors))
                case _:
                    pass
        self._held += actions
        if self._board_ready:
            self._pilot.now = now
            apply_actions(self._held, self._pilot, phases=self.charger.phases)
            self._held.clear()
        while (event := self.charger.next_event()) is not None:
            match event:
                case iec.StateChanged(state=state):
                    self.log.add(now, "charger_state", state=state.value, sub_state=self.charger.sub_state)
                case iec.FaultRaised(fault=fault, detail=detail):
                    self.log.add(now, "charger_fault", fault=fault.value, detail=detail)
                    if fault is not PilotFault.APPLICATION and not self._faults_reported.get(True):
                        # the vehicle's side of the pilot (diode, an implausible state, ventilation): the core
                        # suspends the energy; the transaction goes on until the cable comes out
                        self._faults_reported[True] = True
                        self._tx.append(cp.FaultRaised(evse_id=self.config.evse_id, ev_side=True,
                                                       error_code="EVCommunicationError", info=fault.value))
                case iec.FaultCleared(fault=fault):
                    self.log.add(now, "charger_fault_cleared", fault=fault.value)
                    for ev_side in sorted(self._faults_reported):
                        self._tx.append(cp.FaultCleared(evse_id=self.config.evse_id, ev_side=ev_side))
                    self._faults_reported.clear()
                case iec.DutyCycleDeferred(duty=duty, at=at):
                    self.log.add(now, "duty_deferred", duty=round(duty, 2), until=round(at, 3))
                case _:
                    pass
