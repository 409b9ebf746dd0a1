"""Whole sessions: the charger and the vehicle joined by the simulated pilot line, on a fake clock."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from evcharge.iec61851.charger import Charger
from evcharge.iec61851.config import ChargerConfig, VehicleConfig
from evcharge.iec61851.events import (
    AllowPower,
    ClearFault,
    CloseContactors,
    FaultRaised,
    HlcRequested,
    OpenContactors,
    Pause,
    PowerOff,
    RaiseFault,
    Replug,
    RequestBasic,
    RequestHlc,
    Resume,
    RetryHlc,
    SelectPhases,
    SetCurrentLimit,
    SetDiodeFault,
    SetHlcPower,
    SetPwm,
    SetStateF,
    SetX1,
    SwitchPhases,
)
from evcharge.iec61851.line import PilotLine, pilot_voltages
from evcharge.iec61851.states import ChargerState, ChargingMode, CPState, PilotFault, PilotOutput, StepVia
from evcharge.iec61851.vehicle import Vehicle

S = ChargerState


def make_line(charger: dict[str, Any] | None = None, vehicle: dict[str, Any] | None = None) -> PilotLine:
    return PilotLine(Charger(ChargerConfig(**(charger or {}))), Vehicle(VehicleConfig(**(vehicle or {}))))


def action_times(line: PilotLine, kind: type) -> list[float]:
    return [t for t, a in line.record.actions if isinstance(a, kind)]


def assert_never_over_the_limit(line: PilotLine) -> None:
    """The vehicle draws at most the advertised current, except for its reaction time after a decrease."""
    reaction = line.vehicle.config.reaction_time
    decreases: list[float] = []
    last_allowed: float | None = None
    for t, allowed, demand, closed in line.record.samples:
        if allowed is not None and last_allowed is not None and allowed < last_allowed:
            decreases.append(t)
        if allowed is not None:
            last_allowed = allowed
        if closed and demand > 0 and allowed is not None and demand > allowed + 1e-9:
            assert any(0 <= t - d <= reaction + 1e-9 for d in decreases), f"{demand} A > {allowed} A at t={t}"


def test_line_voltages_follow_the_equivalent_circuit() -> None:
    # nominal 9 / 6 / 3 V per IEC 61851-1 Table A.3 within the Table A.4 bands; shorted diode shows on the low level
    assert pilot_voltages(PilotOutput.X2, CPState.B) == (pytest.approx(9.0, abs=0.1), -12.0)
    assert pilot_voltages(PilotOutput.X2, CPState.C)[0] == pytest.approx(6.0, abs=0.1)
    assert pilot_voltages(PilotOutput.X2, CPState.D)[0] == pytest.approx(3.0, abs=0.1)
    assert pilot_voltages(PilotOutput.X1, CPState.A) == (12.0, None)
    high, low = pilot_voltages(PilotOutput.X2, CPState.B, diode_ok=False)
    assert 8.0 <= high <= 10.0 and low is not None and low > -11.0


def test_plug_in_and_charge_at_16a_then_limit_10a() -> None:
    line = make_line({"initial_current": 16})
    line.run_until(2.0)
    line.plug_in()
    line.run_for(3.0)
    assert line.charger.state is S.CHARGING and line.charger.sub_state == "C2"
    assert line.current == pytest.approx(16.0)
    assert line.charger.duty_cycle == pytest.approx(160 / 6)
    c2_at = 2.0  # the vehicle is ready: C as soon as the PWM is on
    close = action_times(line, CloseContactors)
    assert close and 0 <= close[0] - c2_at <= 3.0
    line.run_until(60.0)
    line.send(SetCurrentLimit(amps=10))
    changed = line.now
    line.run_for(5.0 + line.vehicle.config.reaction_time)
    assert line.current == pytest.approx(10.0)
    pwm = [(t, a.duty) for t, a in line.record.actions if isinstance(a, SetPwm)]
    assert pwm[-1] == (pytest.approx(changed), pytest.approx(100 / 6))  # last change 58 s ago: applied at once
    assert_never_over_the_limit(line)


def test_limit_changes_in_quick_succession_are_spaced_5s() -> None:
    line = make_line({"initial_current": 32})
    line.plug_in()
    line.run_for(1.0)
    for amps in (20, 10, 16):
        line.send(SetCurrentLimit(amps=amps))
        line.run_for(0.5)
    line.run_for(20.0)
    pwm_times = action_times(line, SetPwm)
    assert all(b - a >= 5.0 for a, b in itertools.pairwise(pwm_times))
    assert line.current == pytest.approx(16.0)
    assert_never_over_the_limit(line)


def test_pause_and_resume() -> None:
    line = make_line({"initial_current": 16}, {"stop_time": 2.0})
    line.plug_in()
    line.run_until(10.0)
    line.send(Pause())
    assert line.output is PilotOutput.X1
    line.run_until(11.9)
    assert line.contactors_closed  # the vehicle is still ramping down: no opening under load
    line.run_until(12.5)
    assert not line.contactors_closed and line.vehicle.state is CPState.B
    offs = [e for _, e in line.record.charger_events if isinstance(e, PowerOff)]
    assert len(offs) == 1 and not offs[0].forced
    assert action_times(line, OpenContactors)[-1] == pytest.approx(12.0)
    line.run_until(30.0)
    line.send(Resume())
    line.run_for(2.0)
    assert line.charger.state is S.CHARGING and line.current == pytest.approx(16.0)


def test_unplug_while_charging_opens_at_once() -> None:
    line = make_line({"initial_current": 16})
    line.plug_in()
    line.run_until(20.0)
    line.unplug()
    assert not line.contactors_closed
    assert action_times(line, OpenContactors)[-1] == 20.0
    assert line.charger.state is S.IDLE and line.output is PilotOutput.X1


def test_vehicle_stays_in_c_after_pwm_stop_is_forced_open_at_6s() -> None:
    line = make_line({"initial_current": 16}, {"ignores_pwm_stop": True})
    line.plug_in()
    line.run_until(10.0)
    line.send(Pause())
    line.run_until(15.99)
    assert line.contactors_closed and line.current > 0
    line.run_until(30.0)
    assert not line.contactors_closed
    assert action_times(line, OpenContactors)[-1] == pytest.approx(16.0)
    offs = [e for _, e in line.record.charger_events if isinstance(e, PowerOff)]
    assert offs[-1].forced


def test_charger_fault_then_recovery() -> None:
    line = make_line({"initial_current": 16})
    line.plug_in()
    line.run_until(10.0)
    line.send(RaiseFault(reason="RCD tripped"))
    assert line.output is PilotOutput.F and not line.contactors_closed and line.vehicle.demand == 0
    line.send(ClearFault())
    line.run_until(10.29)
    assert line.output is PilotOutput.F
    line.run_until(12.0)
    x1 = [t for t, a in line.record.actions if isinstance(a, SetX1) and t >= 10.0]
    assert x1 and x1[0] == pytest.approx(10.3)
    assert line.charger.state is S.CHARGING and line.current == pytest.approx(16.0)


def test_diode_fault() -> None:
    line = make_line({"initial_current": 16})
    line.plug_in()
    line.run_until(5.0)
    line.vehicle.send(SetDiodeFault(fault=True), line.now)
    line.sync()
    assert line.charger.state is S.FAULT and line.charger.fault is PilotFault.DIODE
    assert not line.contactors_closed and line.output is PilotOutput.F
    raised = [e for _, e in line.record.charger_events if isinstance(e, FaultRaised)]
    assert raised[0].fault is PilotFault.DIODE and "low level" in raised[0].detail


def test_diode_fault_is_not_seen_without_pwm() -> None:
    line = make_line()
    line.plug_in()
    line.vehicle.send(SetDiodeFault(fault=True), line.now)
    line.sync()
    assert line.charger.state is S.CONNECTED  # X1: no negative half-wave to check
    line.send(SetCurrentLimit(amps=16))
    assert line.charger.state is S.FAULT and line.charger.fault is PilotFault.DIODE


def test_ventilation_request_refused_without_ventilation() -> None:
    line = make_line({"initial_current": 16}, {"needs_ventilation": True})
    line.plug_in()
    line.run_for(1.0)
    assert line.charger.state is S.FAULT and line.charger.fault is PilotFault.VENTILATION
    assert action_times(line, CloseContactors) == []


def test_ventilation_request_served_with_ventilation() -> None:
    line = make_line({"initial_current": 16, "ventilation": True}, {"needs_ventilation": True})
    line.plug_in()
    line.run_for(2.0)
    assert line.charger.sub_state == "D2" and line.current == pytest.approx(16.0)


def test_switch_from_3_to_1_phase_and_back() -> None:
    line = make_line({"initial_current": 16, "phase_switching": True})
    line.plug_in()
    line.run_until(30.0)
    assert line.phases == 3
    line.send(SwitchPhases(phases=1))
    line.run_until(60.0)
    assert line.phases == 1 and line.charger.state is S.CHARGING and line.current == pytest.approx(16.0)
    assert line.phase_currents == (pytest.approx(16.0), 0.0, 0.0)
    opened = action_times(line, OpenContactors)[-1]
    selected = action_times(line, SelectPhases)[-1]
    closed = action_times(line, CloseContactors)[-1]
    assert opened < selected <= closed and selected - opened >= 10.0
    assert [a.phases for _, a in line.record.actions if isinstance(a, CloseContactors)] == [3, 1]
    line.send(SwitchPhases(phases=3))
    line.run_until(90.0)
    assert line.phases == 3 and line.phase_currents == (pytest.approx(16.0),) * 3


def test_5_percent_handover_to_high_level_communication() -> None:
    line = make_line({"initial_current": 16})
    line.plug_in()
    line.run_until(10.0)
    line.send(RequestHlc())
    line.run_until(12.0)
    assert line.charger.state is S.STEP_X1 and line.current == 0.0  # the vehicle stopped on X1
    line.run_until(13.5)
    assert line.duty == 5.0 and line.vehicle.hlc_requested
    assert any(isinstance(e, HlcRequested) for _, e in line.record.vehicle_events)
    pwm = [(t, a.duty) for t, a in line.record.actions if isinstance(a, SetPwm)]
    assert pwm[-1] == (pytest.approx(13.0), 5.0)  # T_step_X1 = 3 s of X1 between nominal and 5 %
    assert line.vehicle.state is CPState.B  # 5 % alone allows no current
    line.vehicle.send(SetHlcPower(requested=True), line.now)  # ISO 15118 PowerDelivery(Start)
    line.sync()
    assert line.vehicle.state is CPState.C and not line.contactors_closed
    line.send(AllowPower(allowed=True))
    assert line.contactors_closed
    line.run_for(2.0)
    assert line.current == pytest.approx(line.vehicle.config.max_current)


def test_hlc_fails_and_falls_back_to_basic_through_t_step_ef() -> None:
    line = make_line({"mode": ChargingMode.HLC, "initial_current": 16})
    line.plug_in()
    line.run_until(5.0)
    assert line.duty == 5.0
    line.send(RetryHlc())  # SLAC did not start: E/F for T_step_EF, then 5 % again
    assert line.output is PilotOutput.F
    line.run_until(9.5)
    assert line.duty == 5.0
    f_at = action_times(line, SetStateF)[0]
    back = next(t for t, a in line.record.actions if isinstance(a, SetPwm) and t > f_at)
    assert back - f_at >= 4.0
    line.send(RequestBasic(via=StepVia.EF))
    line.run_for(5.0)
    assert line.charger.mode is ChargingMode.BASIC and line.current == pytest.approx(16.0)


def test_replug_wakes_the_vehicle() -> None:
    line = make_line({"initial_current": 16})
    line.plug_in()
    line.run_until(10.0)
    line.send(Replug())
    assert line.output is PilotOutput.F and not line.contactors_closed and line.vehicle.demand == 0
    line.run_until(13.9)
    assert line.output is PilotOutput.F
    line.run_until(16.0)
    assert line.charger.state is S.CHARGING and line.current == pytest.approx(16.0)


def test_pilot_shorted_to_pe_stops_charging() -> None:
    line = make_line({"initial_current": 16})
    line.plug_in()
    line.run_until(5.0)
    line.shorted_to_pe = True
    line.sync()
    assert not line.contactors_closed and line.charger.vehicle_state is CPState.E
    line.shorted_to_pe = False
    line.sync()
    line.run_for(2.0)
    assert line.charger.state is S.CHARGING and line.contactors_closed


def test_glitch_between_bands_is_a_fault_not_an_exception() -> None:
    line = make_line({"initial_current": 16})
    line.plug_in()
    line.run_until(5.0)
    line.inject(10.5, -12.0)
    assert line.charger.state is S.FAULT and line.charger.fault is PilotFault.IMPLAUSIBLE
    line.release()
    line.send(ClearFault())
    line.run_for(2.0)
    assert line.charger.state is S.CHARGING


def test_single_phase_vehicle_on_a_three_phase_charger() -> None:
    line = make_line({"initial_current": 16}, {"phases": 1})
    line.plug_in()
    line.run_for(2.0)
    assert line.phase_currents == (pytest.approx(16.0), 0.0, 0.0)


def test_status_snapshot() -> None:
    line = make_line({"initial_current": 16})
    line.plug_in()
    line.run_for(2.0)
    status = line.charger.status()
    assert (status.state, status.sub_state, status.contactors_closed, status.vehicle_state) == (
        S.CHARGING, "C2", True, CPState.C)
    assert status.duty_cycle == pytest.approx(160 / 6) and status.fault is None
