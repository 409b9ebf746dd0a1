"""A simulated power board: the :class:`~evcharge.bsp.interface.BoardSupport` of a charger wired to an
:class:`evcharge.iec61851.vehicle.Vehicle` (the car's side of the control pilot).

It does what a Yeti does: classifies the pilot from the vehicle's resistors and the driven output, closes
its relays only when power is allowed, the PWM runs and the vehicle is in C/D, and opens them at once
otherwise; :meth:`SimBoard.inject_rcd` makes the residual current device trip (the trip stands, and blocks the
relays, until the vehicle is unplugged: then the board reports it cleared, as a Yeti does).
"""

from __future__ import annotations

from collections import deque

from evcharge.bsp.events import (
    AllowPowerOn,
    BoardCommand,
    BoardErrorKind,
    BoardEvent,
    Capabilities,
    EnablePort,
    ErrorCleared,
    ErrorRaised,
    LockConnector,
    PilotE,
    PilotF,
    PilotState,
    PilotStateChanged,
    PilotX1,
    PwmOn,
    RelaysClosed,
    RelaysOpened,
    SetThreePhases,
)
from evcharge.errors import LocalProtocolError
from evcharge.iec61851 import CPState, PilotOutput, Vehicle

__all__ = ["AcMeterSim", "SimBoard"]


class AcMeterSim:
    """An AC meter at the outlet (an :class:`~evcharge.charger.power.AcMeter`): the simulation sets what the car
    draws (``set_load``); nothing flows while the board's relays are open."""

    def __init__(self, board: SimBoard, *, voltage: float = 230.0) -> None:
        self.board = board
        self.nominal_voltage = voltage
        self._amps = 0.0
        self._phases = 3

    def set_load(self, amps: float, phases: int) -> None:
        """The car draws ``amps`` per phase on ``phases`` phases (when the relays are closed)."""
        self._amps, self._phases = amps, phases

    @property
    def voltage(self) -> float:
        return self.nominal_voltage if self.board.relays_closed else 0.0

    @property
    def current(self) -> float:
        return self._amps if self.board.relays_closed else 0.0

    @property
    def power_w(self) -> float:
        return self.voltage * self.current * self._phases


class SimBoard:
    """A board wired to ``vehicle`` (see the module documentation). Call :meth:`sync` after the vehicle moved."""

    def __init__(self, vehicle: Vehicle, *, max_current: float = 32.0) -> None:
        self.vehicle = vehicle
        self._caps = Capabilities(min_current_a=6.0, max_current_a=max_current, min_phases=1, max_phases=3,
                                  supports_changing_phases_during_charging=False, supports_cp_state_e=True)
        self.output = PilotOutput.X1
        self.duty: float | None = None
        self.allowed = False
        self.enabled = True
        self.relays_closed = False
        self.three_phases = True
        self._pilot: PilotState | None = None
        self._events: deque[BoardEvent] = deque()
        self._rcd_at: float | None = None
        self._trip_kind = BoardErrorKind.RCD_TRIGGERED
        self.tripped = False  #: a trip (RCD, over-current) the vehicle was not unplugged since
        self.relay_log: list[tuple[float, bool]] = []  #: (now, closed) of every switching
        #: (now, output, duty %) of every change of the pilot the board drives
        self.pilot_log: list[tuple[float, str, float | None]] = []

    @property
    def capabilities(self) -> Capabilities | None:
        return self._caps

    def send(self, command: BoardCommand, now: float) -> None:
        match command:
            case PwmOn(duty_percent=duty):
                self.output, self.duty = (PilotOutput.X1, None) if duty >= 100 else (PilotOutput.X2, duty)
            case PilotX1():
                self.output, self.duty = PilotOutput.X1, None
            case PilotF():
                self.output, self.duty = PilotOutput.F, None
            case PilotE():
                self.output, self.duty = PilotOutput.E, None
            case AllowPowerOn(allow=allow):
                self.allowed = allow
            case SetThreePhases(three_phases=three):
                self.three_phases = three
            case EnablePort(enabled=enabled):
                self.enabled = enabled
            case LockConnector():
                pass
            case _:
                raise LocalProtocolError(f"the board does not take {command!r}")
        if not self.pilot_log or self.pilot_log[-1][1:] != (self.output.name, self.duty):
            self.pilot_log.append((now, self.output.name, self.duty))
        self.sync(now)

    def next_event(self) -> BoardEvent | None:
        return self._events.popleft() if self._events else None

    def get_timer(self) -> float | None:
        return self._rcd_at

    def handle_timer(self, now: float) -> None:
        if self._rcd_at is not None and now >= self._rcd_at:
            self._rcd_at = None
            detail = "residual current 30 mA" if self._trip_kind is BoardErrorKind.RCD_TRIGGERED else "over-current"
            self._events.append(ErrorRaised(kind=self._trip_kind, detail=detail, now=now))
            self.tripped = True
            self._switch(False, now)  # the RCD opens the circuit by itself
        self.sync(now)

    def inject_rcd(self, at: float) -> None:
        """The residual current device trips at ``at``."""
        self.inject_trip(at, BoardErrorKind.RCD_TRIGGERED)

    def inject_trip(self, at: float, kind: BoardErrorKind) -> None:
        """A protective trip at ``at``: ``RCD_TRIGGERED`` or ``OVER_CURRENT`` (the relays open by themselves)."""
        self._rcd_at, self._trip_kind = at, kind

    def sync(self, now: float) -> None:
        """Show the vehicle the pilot, read its state back, switch the relays as the rules say."""
        self.vehicle.receive_pilot(self.output, self.duty, now)
        state = self._classify()
        if state is not self._pilot:
            self._pilot = state
            self._events.append(PilotStateChanged(state=state, now=now))
            if state is PilotState.A and self.tripped:
                self.tripped = False
                self._events.append(ErrorCleared(kind=self._trip_kind, now=now))
        want = (self.allowed and self.enabled and self.output is PilotOutput.X2 and not self.tripped
                and state in (PilotState.C, PilotState.D))
        self._switch(want, now)

    def _classify(self) -> PilotState:
        if self.output is PilotOutput.E:
            return PilotState.E
        if self.output is PilotOutput.F:
            return PilotState.F
        if self.output is PilotOutput.X2 and not self.vehicle.diode_ok:
            return PilotState.F
        return PilotState(CPState(self.vehicle.state).value)

    def _switch(self, closed: bool, now: float) -> None:
        if closed != self.relays_closed:
            self.relays_closed = closed
            self.relay_log.append((now, closed))
            self._events.append(RelaysClosed(now=now) if closed else RelaysOpened(now=now))
