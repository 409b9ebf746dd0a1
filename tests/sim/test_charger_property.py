"""Whatever the board reports and OCPP asks, in any order, the EVSE manager in IEC 61851-1 basic AC charging (what
``evcharge simulate`` composes) permits power only in C with PWM (or for the 6 s a car in C has after the PWM
stopped), never again after an RCD trip while the car stays plugged in, and never raises."""

from __future__ import annotations

import random
from collections import deque
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evcharge.bsp import events as bsp
from evcharge.bsp.events import BoardErrorKind
from evcharge.charger import EvseManager, EvseManagerConfig, SetAcCurrentLimit
from evcharge.clock import WallClock
from evcharge.iec61851 import ChargerConfig, ChargingMode
from evcharge.ocpp.functions.application import ChargingAllowed

from .test_parts import FakeBoard

STEPS = st.lists(
    st.one_of(
        st.tuples(st.just("cp"), st.sampled_from(list(bsp.PilotState))),
        st.tuples(st.just("authorized"), st.none()),
        st.tuples(st.just("deauthorized"), st.none()),
        st.tuples(st.just("limit"), st.floats(min_value=0.0, max_value=40.0)),
        st.tuples(st.just("rcd"), st.none()),
        st.tuples(st.just("power"), st.booleans()),
        st.tuples(st.just("wait"), st.floats(min_value=0.01, max_value=8.0)),
    ),
    max_size=40,
)


class QueueBoard(FakeBoard):
    """A FakeBoard whose events the EVSE manager drains itself."""

    def __init__(self) -> None:
        super().__init__()
        self.events: deque[bsp.BoardEvent] = deque()

    def next_event(self) -> bsp.BoardEvent | None:  # type: ignore[override]
        return self.events.popleft() if self.events else None


@pytest.mark.property
@given(STEPS)
def test_the_evse_manager_in_basic_ac_powers_only_in_c_with_pwm(steps: list[tuple[str, Any]]) -> None:
    """IEC 61851-1 Table A.6: the contactor closes only in C (or D) with the PWM on; after an RCD trip no PWM and
    no power until the car is unplugged (the board clears its flag in A)."""
    board = QueueBoard()
    config = EvseManagerConfig(energy="ac", ac_max_current=16.0, pilot=ChargerConfig(
        mode=ChargingMode.BASIC, max_current=16.0, initial_current=16.0, start_paused=True))
    manager = EvseManager(config, board=board, clock=WallClock.at(0.0, datetime(2026, 1, 1, tzinfo=UTC)),
                          rng=random.Random(1), now=0.0)
    now = 0.0
    cp, pwm, allowed, tripped = bsp.PilotState.A, False, False, False
    pwm_off_at = 0.0
    for kind, value in steps:
        now += 0.1
        before = len(board.calls)
        if kind == "cp":
            board.events.append(bsp.PilotStateChanged(value, now))
            cp = value
            if value is bsp.PilotState.A and tripped:  # the board clears its RCD flag in A, and says so
                board.events.append(bsp.ErrorCleared(BoardErrorKind.RCD_TRIGGERED, now))
                tripped = False
        elif kind in ("authorized", "deauthorized"):
            manager.send(ChargingAllowed(evse_id=1, allowed=kind == "authorized"), now)
        elif kind == "limit":
            manager.send(SetAcCurrentLimit(amps=value), now)
        elif kind == "rcd":
            board.events.append(bsp.ErrorRaised(BoardErrorKind.RCD_TRIGGERED, "tripped", now))
            tripped = True
        elif kind == "power":
            board.events.append(bsp.RelaysClosed(now) if value else bsp.RelaysOpened(now))
        else:
            now += value
            timer = manager.get_timer()
            while timer is not None and timer <= now:
                manager.handle_timer(now)
                timer = manager.get_timer()
        manager.update(now)
        while manager.next_event() is not None:
            pass
        for name, arg in board.calls[before:]:
            if name == "pwm":
                pwm = True
                assert not tripped, "PWM offered again after an RCD trip with the car still plugged in"
            elif name in ("x1", "f", "e"):
                if pwm:
                    pwm_off_at = now
                pwm = False
            elif name == "allow":
                allowed = arg
                if arg:
                    assert cp in (bsp.PilotState.C, bsp.PilotState.D) and pwm, board.calls
                    assert not tripped, "power allowed again after an RCD trip with the car still plugged in"
        if allowed:
            assert cp in (bsp.PilotState.C, bsp.PilotState.D), board.calls
            # the PWM may have stopped with the car still in C: IEC 61851-1 gives it 6 s to go to B
            assert pwm or now - pwm_off_at <= 6.0, board.calls
