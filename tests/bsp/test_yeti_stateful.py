"""Hypothesis drives the charger side and the car at random; the safety rules must hold at every step."""

from __future__ import annotations

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from evcharge.bsp.errors import LocalProtocolError
from evcharge.bsp.events import (
    AllowPowerOn,
    EnablePort,
    PilotF,
    PilotState,
    PilotX1,
    PowerReason,
    PwmOn,
    SetThreePhases,
)
from evcharge.bsp.yeti import messages as pb
from evcharge.bsp.yeti.protocol import POWER_BLOCKING_ERRORS, YetiState

from .harness import Link

_CP = {
    pb.CpState.STATE_A: PilotState.A,
    pb.CpState.STATE_B: PilotState.B,
    pb.CpState.STATE_C: PilotState.C,
    pb.CpState.STATE_D: PilotState.D,
    pb.CpState.STATE_E: PilotState.E,
    pb.CpState.STATE_F: PilotState.F,
}


@pytest.mark.property
class YetiSafety(RuleBasedStateMachine):
    """Random sessions with faults on a lossless link: the core's view matches the board, trips cut power."""

    def __init__(self) -> None:
        super().__init__()
        self.link = Link()
        self.link.run(0.5)
        self.trip_seen_at: float | None = None

    # ---- the car
    @rule()
    def plug(self) -> None:
        self.link.car.plug_in()

    @rule()
    def unplug(self) -> None:
        self.link.car.unplug()

    @rule()
    def request_power(self) -> None:
        self.link.car.request_power()

    @rule()
    def stop_requesting(self) -> None:
        self.link.car.stop_requesting()

    @rule(fault=st.booleans())
    def diode(self, fault: bool) -> None:
        self.link.car.set_diode_fault(fault)

    # ---- the charger
    @rule(duty=st.floats(min_value=5.0, max_value=96.0))
    def pwm(self, duty: float) -> None:
        self.link.core.send(PwmOn(duty_percent=duty), self.link.now)

    @rule()
    def x1(self) -> None:
        self.link.core.send(PilotX1(), self.link.now)

    @rule()
    def f(self) -> None:
        self.link.core.send(PilotF(), self.link.now)

    @rule(allow=st.booleans())
    def allow(self, allow: bool) -> None:
        blocked = bool(self.link.core.active_errors & POWER_BLOCKING_ERRORS) or not self.link.core.enabled
        if allow and blocked:
            with pytest.raises(LocalProtocolError):
                self.link.core.send(AllowPowerOn(allow=True, reason=PowerReason.FULL_POWER_CHARGING), self.link.now)
        else:
            self.link.core.send(AllowPowerOn(allow=allow, reason=PowerReason.FULL_POWER_CHARGING), self.link.now)

    @rule(three=st.booleans())
    def phases(self, three: bool) -> None:
        self.link.core.send(SetThreePhases(three_phases=three), self.link.now)

    @rule(enabled=st.booleans())
    def enable(self, enabled: bool) -> None:
        self.link.core.send(EnablePort(enabled=enabled), self.link.now)

    # ---- faults
    @rule(milliamps=st.sampled_from([0.0, 10.0, 29.0, 31.0, 100.0]))
    def rcd(self, milliamps: float) -> None:
        self.link.sim.inject_rcd_leakage(milliamps)

    @rule(active=st.booleans())
    def over_current(self, active: bool) -> None:
        self.link.sim.inject_over_current(active)

    @rule()
    def spurious_reset(self) -> None:
        self.link.sim.spurious_reset(self.link.now)

    @rule()
    def garbage(self) -> None:
        self.link.sim.inject_garbage(b"\x01\x02\x00\xff\xfe\x00")

    # ---- time
    @rule(seconds=st.sampled_from([0.05, 0.2, 0.5, 1.0, 3.0]))
    def run(self, seconds: float) -> None:
        tripped_before = self.link.sim.flags.rcd_triggered or self.link.sim.flags.over_current
        self.link.run(seconds)
        if tripped_before and seconds >= 0.2:
            # a trip that existed before this step has been answered by the host within 200 ms
            assert not self.link.sim.allow_power_on
            assert not self.link.sim.relays_on

    @precondition(lambda self: self.link.core.state is YetiState.READY)
    @invariant()
    def views_agree(self) -> None:
        link = self.link
        link.run(0.1)  # let on-change messages arrive
        assert link.core.relays_on == link.sim.relays_on
        if link.core.pilot_state is not None:
            assert link.core.pilot_state == _CP[link.sim.cp_state]
        active = link.core.active_errors
        flags = link.sim.flags
        from evcharge.bsp.events import BoardErrorKind as K

        assert (K.RCD_TRIGGERED in active) == flags.rcd_triggered
        assert (K.OVER_CURRENT in active) == flags.over_current
        assert (K.DIODE_FAULT in active) == flags.diode_fault
        if active & POWER_BLOCKING_ERRORS:
            assert not link.sim.allow_power_on
        assert link.core.frame_stats.crc_errors == 0


YetiSafety.TestCase.settings = settings(max_examples=60, stateful_step_count=30, deadline=None)
test_yeti_safety = YetiSafety.TestCase
