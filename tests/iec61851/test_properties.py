"""Every state x every input, and random input sequences: never an uncaught exception, never an unsafe output.

A small board model applies the charger's actions in order and checks, at every step, what IEC 61851-1
requires of the outputs (see the module docstring of evcharge.iec61851.charger).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evcharge.iec61851.charger import Charger
from evcharge.iec61851.errors import LocalProtocolError
from evcharge.iec61851.events import (
    AllowPower,
    ChargerAction,
    ClearFault,
    CloseContactors,
    Disable,
    Enable,
    FaultRaised,
    OpenContactors,
    Pause,
    RaiseFault,
    Replug,
    RequestBasic,
    RequestHlc,
    Resume,
    RetryHlc,
    SelectPhases,
    SetCurrentLimit,
    SetPwm,
    SetStateE,
    SetStateF,
    SetX1,
    SwitchPhases,
)
from evcharge.iec61851.states import ChargerState, ChargingMode, CPState, PilotFault, PilotOutput, StepVia

from .helpers import charger_in, events

COMMANDS = [
    Enable(), Disable(), Pause(), Resume(),
    SetCurrentLimit(amps=6), SetCurrentLimit(amps=16), SetCurrentLimit(amps=32),
    SetCurrentLimit(amps=5.0), SetCurrentLimit(amps=100.0), SetCurrentLimit(amps=math.nan),
    AllowPower(allowed=True), AllowPower(allowed=False),
    RequestHlc(), RequestBasic(), RequestBasic(via=StepVia.EF), RetryHlc(),
    SwitchPhases(phases=1), SwitchPhases(phases=3),
    SwitchPhases(phases=2), RaiseFault(reason="x"), ClearFault(), Replug(),
]
READINGS: list[CPState | PilotFault] = [*CPState, PilotFault.DIODE, PilotFault.IMPLAUSIBLE]
VOLTAGES: list[tuple[float, float | None]] = [
    (12.0, -12.0), (9.0, -12.0), (6.0, -12.0), (3.0, -12.0), (0.0, 0.0), (-12.0, -12.0), (9.0, -8.8),
    (10.5, None), (math.nan, math.nan), (6.0, None),
]


@dataclass
class Board:
    """Applies actions like a board and asserts the safety rules on them."""

    charger: Charger
    output: PilotOutput = PilotOutput.X1
    duty: float | None = None
    pwm_set_at: float = -math.inf
    closed: bool = False
    fault_at: float | None = None
    unsafe_since: float | None = None
    log: list[tuple[float, ChargerAction]] = field(default_factory=list)

    def apply(self, now: float) -> None:
        c = self.charger
        for ev in events(c):
            if isinstance(ev, FaultRaised):
                self.fault_at = now
        for action in c.actions():
            self.log.append((now, action))
            match action:
                case SetPwm(duty=duty):
                    if self.output is PilotOutput.X2 and c.mode is ChargingMode.BASIC and duty != 5.0 \
                            and self.duty != 5.0:
                        # the charger's timer fires at pwm_set_at + 5 s; subtracting back can lose an ulp (1e-9 s slack)
                        assert now - self.pwm_set_at >= c.config.duty_change_interval - 1e-9, "duty changed within 5 s"
                    self._leave_f(now)
                    self.output, self.duty, self.pwm_set_at = PilotOutput.X2, duty, now
                case SetX1():
                    self._leave_f(now)
                    self.output, self.duty = PilotOutput.X1, None
                case SetStateE() | SetStateF():
                    assert not self.closed, "E/F driven with contactors closed"
                    self.output = PilotOutput.E if isinstance(action, SetStateE) else PilotOutput.F
                    self.duty = None
                case CloseContactors():
                    assert self.output is PilotOutput.X2, "contactors closed without PWM"
                    assert c.state is ChargerState.CHARGING
                    assert c.vehicle_state in (CPState.C, CPState.D)
                    assert c.vehicle_state is CPState.C or c.config.ventilation
                    self.closed = True
                case OpenContactors():
                    self.closed = False
                case SelectPhases():
                    assert not self.closed, "phase relays switched under load"
        # the charger's own view matches what it told the board
        assert c.output is self.output and c.contactors_closed is self.closed
        if c.output is PilotOutput.X2:
            assert c.duty_cycle == self.duty
        may_charge = c.state is ChargerState.CHARGING and self.output is PilotOutput.X2 and (
            c.vehicle_state is CPState.C or (c.vehicle_state is CPState.D and c.config.ventilation)) and (
            c.mode is ChargingMode.BASIC or c.power_allowed)
        if may_charge:
            assert self.closed, "C2 with charging allowed but the contactors are open (3 s limit)"
        if self.closed:
            assert self.output in (PilotOutput.X1, PilotOutput.X2)
            assert c.vehicle_state in (CPState.C, CPState.D)
            allowed = c.state is ChargerState.CHARGING and self.output is PilotOutput.X2 and (
                c.mode is ChargingMode.BASIC or c.power_allowed)
            if allowed:
                self.unsafe_since = None
            else:
                self.unsafe_since = now if self.unsafe_since is None else self.unsafe_since
                assert now - self.unsafe_since <= c.config.power_off_timeout + 1e-9, "closed > 6 s after PWM stop"
        else:
            self.unsafe_since = None

    def _leave_f(self, now: float) -> None:
        if self.output is PilotOutput.F and self.fault_at is not None:
            assert now - self.fault_at >= self.charger.config.fault_min_time - 1e-9, "F shorter than 300 ms"
            self.fault_at = None


def run_timers(board: Board, until: float) -> None:
    c = board.charger
    for _ in range(100):
        t = c.get_timer()
        if t is None or t > until:
            return
        c.handle_timer(t)
        board.apply(t)
    raise AssertionError("timers keep firing")


def feed(board: Board, kind: str, value: object, now: float) -> None:
    c = board.charger
    run_timers(board, now)
    snapshot = (c.state, c.output, c.duty_cycle, c.contactors_closed, c.mode, c.phases, c.paused, c.enabled)
    if kind == "cmd":
        try:
            c.send(value, now)  # type: ignore[arg-type]
        except LocalProtocolError:
            assert (c.state, c.output, c.duty_cycle, c.contactors_closed, c.mode, c.phases, c.paused,
                    c.enabled) == snapshot
    elif kind == "cp":
        c.receive_cp_state(value, now)  # type: ignore[arg-type]
    else:
        high, low = value  # type: ignore[misc]
        c.receive_voltages(high, low, now)
    assert isinstance(c.state, ChargerState)
    board.apply(now)


INPUTS = [("cmd", x) for x in COMMANDS] + [("cp", x) for x in READINGS] + [("volts", x) for x in VOLTAGES]


@pytest.mark.parametrize("state", list(ChargerState))
@pytest.mark.parametrize(("kind", "value"), INPUTS, ids=[f"{k}-{v}" for k, v in INPUTS])
def test_every_state_x_every_input(state: ChargerState, kind: str, value: object) -> None:
    c = charger_in(state)
    board = Board(c, output=c.output, duty=c.duty_cycle, closed=c.contactors_closed, pwm_set_at=0.0,
                  fault_at=0.0 if state is ChargerState.FAULT else None)
    feed(board, kind, value, 0.5)
    # and the machine keeps working: time passes, timers run out, nothing is left dangling
    run_timers(board, 1000.0)
    assert c.get_timer() is None or c.get_timer() > 1000.0


step = st.tuples(st.sampled_from(INPUTS), st.one_of(st.just(0.0), st.floats(0.0, 0.5), st.floats(0.0, 8.0)))


@pytest.mark.property
@settings(max_examples=300)
@given(st.sampled_from(list(ChargerState)), st.lists(step, max_size=40), st.booleans(), st.booleans())
def test_random_sequences_keep_every_rule(start: ChargerState, steps: list[tuple[tuple[str, object], float]],
                                          ventilation: bool, hlc: bool) -> None:
    c = charger_in(start, ventilation=ventilation, mode=ChargingMode.HLC if hlc else ChargingMode.BASIC) \
        if start not in (ChargerState.CONNECTED, ChargerState.READY, ChargerState.CHARGING, ChargerState.PHASE_SWITCH,
                         ChargerState.STEP_X1) \
        else charger_in(start, ventilation=ventilation)
    board = Board(c, output=c.output, duty=c.duty_cycle, closed=c.contactors_closed, pwm_set_at=0.0,
                  fault_at=0.0 if start is ChargerState.FAULT else None)
    now = 0.0
    for (kind, value), dt in steps:
        now += dt
        feed(board, kind, value, now)
    run_timers(board, now + 100.0)


@pytest.mark.fuzz
@given(
    st.sampled_from(list(ChargerState)),
    st.lists(st.tuples(st.floats(allow_nan=True, allow_infinity=True),
                       st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True)),
                       st.floats(min_value=0.0, max_value=2.0)), max_size=30),
)
def test_any_voltages_from_any_state_never_raise(start: ChargerState,
                                                 samples: list[tuple[float, float | None, float]]) -> None:
    c = charger_in(start)
    board = Board(c, output=c.output, duty=c.duty_cycle, closed=c.contactors_closed, pwm_set_at=0.0,
                  fault_at=0.0 if start is ChargerState.FAULT else None)
    now = 0.0
    for high, low, dt in samples:
        now += dt
        feed(board, "volts", (high, low), now)
