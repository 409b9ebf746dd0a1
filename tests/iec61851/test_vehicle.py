"""The vehicle model on its own: resistor states, reaction to the pilot, timing, misuse."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evcharge.iec61851.config import VehicleConfig
from evcharge.iec61851.errors import LocalProtocolError
from evcharge.iec61851.events import (
    AllowedCurrentChanged,
    HlcRequested,
    PlugIn,
    SetHlcPower,
    SetReady,
    Unplug,
    VehicleEvent,
)
from evcharge.iec61851.states import CPState, PilotOutput
from evcharge.iec61851.vehicle import Vehicle


def drain(v: Vehicle) -> list[VehicleEvent]:
    out = []
    while (e := v.next_event()) is not None:
        out.append(e)
    return out


def plugged(**config: object) -> Vehicle:
    v = Vehicle(VehicleConfig(**config))  # type: ignore[arg-type]
    v.send(PlugIn(), 0.0)
    drain(v)
    return v


def test_unplugged_is_a_and_plugged_is_b() -> None:
    v = Vehicle()
    assert v.state is CPState.A
    v.send(PlugIn(), 0.0)
    assert v.state is CPState.B


def test_goes_to_c_only_with_pwm() -> None:
    v = plugged()
    v.receive_pilot(PilotOutput.X1, None, 1.0)
    assert v.state is CPState.B
    v.receive_pilot(PilotOutput.X2, 100 / 6, 2.0)
    assert v.state is CPState.C and v.allowed_current == pytest.approx(10.0)


def test_not_ready_stays_in_b() -> None:
    v = plugged()
    v.send(SetReady(ready=False), 0.0)
    v.receive_pilot(PilotOutput.X2, 50.0, 1.0)
    assert v.state is CPState.B and v.demand == 0.0
    v.send(SetReady(ready=True), 2.0)
    assert v.state is CPState.C


def test_draws_at_most_the_advertised_current_and_its_own_maximum() -> None:
    v = plugged(max_current=16.0, reaction_time=1.0)
    v.receive_pilot(PilotOutput.X2, 50.0, 0.0)  # 30 A advertised
    v.handle_timer(1.0)
    assert v.demand == 16.0
    v.receive_pilot(PilotOutput.X2, 100 / 6, 10.0)  # 10 A
    assert v.demand == 16.0 and v.get_timer() == pytest.approx(11.0)  # may take up to its reaction time
    v.handle_timer(11.0)
    assert v.demand == pytest.approx(10.0)


def test_stops_after_stop_time_on_x1() -> None:
    v = plugged(stop_time=2.0)
    v.receive_pilot(PilotOutput.X2, 100 / 6, 0.0)
    v.handle_timer(1.0)
    v.receive_pilot(PilotOutput.X1, None, 5.0)
    assert v.state is CPState.C and v.demand > 0
    v.handle_timer(7.0)
    assert v.state is CPState.B and v.demand == 0.0


@pytest.mark.parametrize("output", [PilotOutput.E, PilotOutput.F])
def test_stops_at_once_on_e_or_f(output: PilotOutput) -> None:
    v = plugged()
    v.receive_pilot(PilotOutput.X2, 100 / 6, 0.0)
    v.handle_timer(1.0)
    v.receive_pilot(output, None, 2.0)
    assert v.state is CPState.B and v.demand == 0.0


def test_ventilation_uses_d() -> None:
    v = plugged(needs_ventilation=True)
    v.receive_pilot(PilotOutput.X2, 100 / 6, 0.0)
    assert v.state is CPState.D


def test_recognises_5_percent_and_waits_for_its_hlc_stack() -> None:
    v = plugged()
    v.receive_pilot(PilotOutput.X2, 5.0, 0.0)
    assert v.hlc_requested and HlcRequested() in drain(v)
    assert v.state is CPState.B and v.allowed_current is None
    v.send(SetHlcPower(requested=True), 5.0)
    assert v.state is CPState.C
    v.send(SetHlcPower(requested=False), 9.0)
    assert v.state is CPState.B and v.demand == 0.0


def test_basic_only_vehicle_ignores_5_percent() -> None:
    v = plugged(hlc=False)
    v.receive_pilot(PilotOutput.X2, 5.0, 0.0)
    assert not v.hlc_requested and v.state is CPState.B
    assert not any(isinstance(e, HlcRequested) for e in drain(v))


def test_duty_outside_the_table_allows_nothing() -> None:
    v = plugged()
    v.receive_pilot(PilotOutput.X2, 98.0, 0.0)
    assert v.state is CPState.B and AllowedCurrentChanged(amps=None) not in drain(v)


def test_misuse() -> None:
    v = plugged()
    with pytest.raises(LocalProtocolError, match="already plugged"):
        v.send(PlugIn(), 1.0)
    with pytest.raises(LocalProtocolError, match="duty"):
        v.receive_pilot(PilotOutput.X2, None, 1.0)
    with pytest.raises(LocalProtocolError, match="time"):
        v.handle_timer(0.5)
    v.send(Unplug(), 2.0)
    with pytest.raises(LocalProtocolError, match="not plugged"):
        v.send(Unplug(), 3.0)


@pytest.mark.parametrize("kwargs", [dict(phases=4), dict(reaction_time=6.0), dict(max_current=0.0)])
def test_config_is_validated(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        VehicleConfig(**kwargs)  # type: ignore[arg-type]


pilot_step = st.one_of(
    st.tuples(st.just("pilot"), st.sampled_from(list(PilotOutput)), st.floats(0.0, 100.0)),
    st.tuples(st.just("ready"), st.booleans(), st.just(0.0)),
    st.tuples(st.just("hlc"), st.booleans(), st.just(0.0)),
)


@pytest.mark.property
@given(st.lists(st.tuples(pilot_step, st.floats(0.0, 3.0)), max_size=40), st.floats(6.0, 80.0))
def test_vehicle_respects_the_pilot(steps: list[tuple[tuple[str, object, float], float]], vmax: float) -> None:
    v = plugged(max_current=vmax, reaction_time=1.0, stop_time=1.0)
    now = 0.0
    lowered_at = -10.0
    last_allowed: float | None = None
    for (kind, value, duty), dt in steps:
        target = now + dt
        while (t := v.get_timer()) is not None and t <= target:
            v.handle_timer(t)
        now = target
        if kind == "pilot":
            v.receive_pilot(value, duty if value is PilotOutput.X2 else None, now)  # type: ignore[arg-type]
        elif kind == "ready":
            v.send(SetReady(ready=bool(value)), now)
        else:
            v.send(SetHlcPower(requested=bool(value)), now)
        allowed = v.allowed_current
        if allowed is not None and (last_allowed is None or allowed < last_allowed):
            lowered_at = now
        last_allowed = allowed if allowed is not None else last_allowed
        # C/D only while PWM is on, or while winding down after it stopped
        if v.state is CPState.C and v.get_timer() is None:
            assert v.allowed_current is not None or v.hlc_requested
        assert v.demand <= vmax + 1e-9
        if allowed is not None and not v.hlc_requested and now - lowered_at > 1.0 + 1e-9:
            assert v.demand <= allowed + 1e-9


def test_no_increase_after_the_pwm_stops() -> None:
    v = plugged(reaction_time=1.0, stop_time=2.0)
    v.receive_pilot(PilotOutput.X2, 100 / 6, 0.0)  # 10 A, reached at t=1
    v.receive_pilot(PilotOutput.X1, None, 0.5)
    v.handle_timer(1.0)
    assert v.demand == 0.0
    v.handle_timer(2.5)
    assert v.state is CPState.B and v.demand == 0.0
