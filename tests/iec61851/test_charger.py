"""The charger machine's rules, one by one, driven with pilot readings and a hand-held clock."""

from __future__ import annotations

import math

import pytest

from evcharge.iec61851.charger import Charger
from evcharge.iec61851.config import ChargerConfig
from evcharge.iec61851.errors import LocalProtocolError
from evcharge.iec61851.events import (
    AllowPower,
    ClearFault,
    CloseContactors,
    Disable,
    DutyCycleDeferred,
    Enable,
    FaultCleared,
    FaultRaised,
    OpenContactors,
    Pause,
    PhasesSelected,
    PowerOff,
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

from .helpers import charger_in, events, fresh

S = ChargerState


def test_start_puts_the_board_in_a_known_state() -> None:
    assert Charger().actions() == [OpenContactors(), SetX1()]
    assert Charger(ChargerConfig(phase_switching=True, phases=1)).actions() == [
        OpenContactors(), SelectPhases(phases=1), SetX1()]
    disabled = Charger(ChargerConfig(start_enabled=False))
    assert disabled.actions() == [OpenContactors(), SetX1(), SetStateF()]
    assert disabled.state is S.DISABLED and disabled.output is PilotOutput.F


def test_no_pwm_without_a_current_limit_then_pwm_with_the_table_duty() -> None:
    c = fresh()
    c.receive_cp_state(CPState.B, 1.0)
    assert c.state is S.CONNECTED and c.actions() == [] and c.sub_state == "B1"
    c.send(SetCurrentLimit(amps=16), 2.0)
    assert c.state is S.READY and c.actions() == [SetPwm(duty=pytest.approx(160 / 6))] and c.sub_state == "B2"


def test_no_pwm_in_state_a() -> None:
    c = fresh(initial_current=16)
    c.receive_cp_state(CPState.A, 1.0)
    assert c.state is S.IDLE and c.output is PilotOutput.X1 and c.actions() == []


def test_contactors_close_only_in_c2_and_at_once() -> None:
    c = fresh()
    c.receive_cp_state(CPState.C, 1.0)  # vehicle in C but no PWM yet (C1): no power
    assert c.actions() == [] and not c.contactors_closed and c.sub_state == "C1"
    c.send(SetCurrentLimit(amps=10), 1.5)  # PWM on, vehicle already in C: C2
    assert c.actions() == [SetPwm(duty=pytest.approx(100 / 6)), CloseContactors(phases=3)]
    assert c.state is S.CHARGING and c.contactors_closed


@pytest.mark.parametrize("leave", [CPState.B, CPState.A, CPState.E])
def test_contactors_open_at_once_when_the_vehicle_leaves_c(leave: CPState) -> None:
    c = charger_in(S.CHARGING)
    c.receive_cp_state(leave, 7.0)
    acts = c.actions()
    assert acts[0] == OpenContactors()
    assert not c.contactors_closed and c.get_timer() is None


def test_open_before_driving_f() -> None:
    for cmd in (Disable(), RaiseFault(reason="rcd"), Replug()):
        c = charger_in(S.CHARGING)
        c.send(cmd, 1.0)
        assert c.actions() == [OpenContactors(), SetStateF()], cmd


def test_forced_open_6s_after_the_pwm_stops_if_the_vehicle_stays_in_c() -> None:
    c = charger_in(S.CHARGING)
    c.send(Pause(), 10.0)
    assert c.actions() == [SetX1()] and c.contactors_closed and c.sub_state == "C1"
    assert c.get_timer() == pytest.approx(16.0)
    c.handle_timer(15.99)
    assert c.contactors_closed and c.actions() == []
    c.handle_timer(16.0)
    assert c.actions() == [OpenContactors()]
    assert not c.contactors_closed


def test_forced_open_reports_forced() -> None:
    c = charger_in(S.CHARGING)
    c.send(Pause(), 0.0)
    c.handle_timer(6.0)
    offs = [e for e in events(c) if isinstance(e, PowerOff)]
    assert len(offs) == 1 and offs[0].forced


def test_vehicle_going_to_b_within_6s_opens_then_and_cancels_the_timer() -> None:
    c = charger_in(S.CHARGING)
    c.send(Pause(), 0.0)
    c.actions()
    c.receive_cp_state(CPState.B, 2.5)
    assert c.actions() == [OpenContactors()]
    offs = [e for e in events(c) if isinstance(e, PowerOff)]
    assert len(offs) == 1 and not offs[0].forced
    assert c.get_timer() is None


def test_pwm_back_within_6s_keeps_the_contactors_closed() -> None:
    c = charger_in(S.CHARGING)
    c.send(Pause(), 0.0)
    c.send(Resume(), 2.0)
    assert c.actions() == [SetX1(), SetPwm(duty=pytest.approx(160 / 6))]
    assert c.contactors_closed and c.get_timer() is None


def test_fault_holds_f_for_300ms_even_when_cleared_at_once() -> None:
    c = charger_in(S.CHARGING)
    c.send(RaiseFault(reason="rcd"), 1.0)
    assert c.state is S.FAULT and c.fault is PilotFault.APPLICATION
    assert FaultRaised(fault=PilotFault.APPLICATION, detail="rcd") in events(c)
    c.send(ClearFault(), 1.1)
    assert c.state is S.FAULT and c.output is PilotOutput.F
    assert c.get_timer() == pytest.approx(1.3)
    c.handle_timer(1.29)
    assert c.state is S.FAULT
    c.actions()
    c.handle_timer(1.3)
    assert c.state is S.IDLE and c.actions() == [SetX1()] and c.fault is None
    assert FaultCleared(fault=PilotFault.APPLICATION) in events(c)


def test_fault_stays_until_cleared() -> None:
    c = charger_in(S.FAULT)
    c.handle_timer(100.0)
    assert c.state is S.FAULT and c.get_timer() is None
    c.send(ClearFault(), 200.0)
    assert c.state is S.IDLE


def test_a_second_fault_restarts_the_minimum_time() -> None:
    c = charger_in(S.FAULT)
    c.send(RaiseFault(reason="again"), 0.2)
    c.send(ClearFault(), 0.3)
    assert c.state is S.FAULT
    c.handle_timer(0.5)
    assert c.state is S.IDLE


def test_disable_during_fault_is_remembered() -> None:
    c = charger_in(S.FAULT)
    c.send(Disable(), 0.1)
    c.send(ClearFault(), 1.0)
    assert c.state is S.DISABLED
    c.send(Enable(), 2.0)
    assert c.state is S.IDLE and c.actions()[-1] == SetX1()


def test_d_is_refused_without_ventilation() -> None:
    c = fresh(initial_current=16)
    c.receive_cp_state(CPState.B, 0.0)
    c.receive_cp_state(CPState.D, 1.0)
    assert c.state is S.FAULT and c.fault is PilotFault.VENTILATION
    assert CloseContactors(phases=3) not in c.actions()


def test_d_with_ventilation_charges() -> None:
    c = fresh(initial_current=16, ventilation=True)
    c.receive_cp_state(CPState.B, 0.0)
    c.receive_cp_state(CPState.D, 1.0)
    assert c.state is S.CHARGING and c.contactors_closed and c.sub_state == "D2"


def test_c_to_d_while_charging_without_ventilation_opens_at_once() -> None:
    c = charger_in(S.CHARGING)
    c.receive_cp_state(CPState.D, 3.0)
    assert c.actions() == [OpenContactors(), SetStateF()]


def test_at_most_one_duty_change_per_5s_and_the_latest_wins() -> None:
    c = charger_in(S.READY)  # PWM started at t=0
    c.send(SetCurrentLimit(amps=10), 1.0)
    c.send(SetCurrentLimit(amps=13), 2.0)
    assert c.actions() == []
    deferred = [e for e in events(c) if isinstance(e, DutyCycleDeferred)]
    assert [d.at for d in deferred] == [5.0, 5.0]
    assert c.get_timer() == 5.0
    c.handle_timer(5.0)
    assert c.actions() == [SetPwm(duty=pytest.approx(130 / 6))]
    c.send(SetCurrentLimit(amps=20), 9.0)
    assert c.actions() == []
    c.handle_timer(10.0)
    assert c.actions() == [SetPwm(duty=pytest.approx(200 / 6))]


def test_limit_back_to_the_running_duty_cancels_the_deferred_change() -> None:
    c = charger_in(S.READY)
    c.send(SetCurrentLimit(amps=10), 1.0)
    c.send(SetCurrentLimit(amps=16), 2.0)
    assert c.get_timer() is None
    c.handle_timer(10.0)
    assert c.actions() == []


def test_pwm_restart_is_not_rate_limited() -> None:
    c = charger_in(S.READY)
    c.send(Pause(), 1.0)
    c.send(SetCurrentLimit(amps=10), 1.5)
    c.send(Resume(), 2.0)
    assert c.actions() == [SetX1(), SetPwm(duty=pytest.approx(100 / 6))]


def test_diode_fault_from_voltages() -> None:
    c = charger_in(S.READY)
    c.receive_voltages(8.8, -8.8, 1.0)
    assert c.state is S.FAULT and c.fault is PilotFault.DIODE
    assert c.actions() == [SetStateF()]


@pytest.mark.parametrize(("high", "low"), [(10.5, -12.0), (math.nan, None), (-12.0, -12.0), (20.0, None)])
def test_implausible_voltages_become_a_fault_never_an_exception(high: float, low: float | None) -> None:
    c = charger_in(S.CHARGING)
    c.receive_voltages(high, low, 1.0)
    assert c.state is S.FAULT and c.fault is PilotFault.IMPLAUSIBLE
    assert c.actions() == [OpenContactors(), SetStateF()]


def test_readings_are_ignored_while_driving_f() -> None:
    c = charger_in(S.FAULT)
    c.receive_voltages(-12.0, None, 0.1)
    c.receive_voltages(4.2, None, 0.1)
    c.receive_cp_state(CPState.C, 0.1)
    assert c.state is S.FAULT and c.actions() == [] and c.vehicle_state is None


def test_hlc_uses_5_percent_and_closes_only_when_power_is_allowed() -> None:
    c = fresh(mode=ChargingMode.HLC)
    c.receive_cp_state(CPState.B, 0.0)
    assert c.actions() == [SetPwm(duty=5.0)]
    c.receive_cp_state(CPState.C, 1.0)
    assert not c.contactors_closed
    c.send(AllowPower(allowed=True), 1.1)
    assert c.actions() == [CloseContactors(phases=3)]
    c.send(AllowPower(allowed=False), 20.0)  # the HLC stack stops: the vehicle gets 6 s to go to B
    assert c.contactors_closed and c.get_timer() == pytest.approx(26.0)
    c.receive_cp_state(CPState.B, 21.0)
    assert c.actions() == [OpenContactors()]


def test_allow_power_resets_on_unplug() -> None:
    c = fresh(mode=ChargingMode.HLC)
    c.receive_cp_state(CPState.B, 0.0)
    c.send(AllowPower(allowed=True), 0.5)
    c.receive_cp_state(CPState.A, 1.0)
    c.receive_cp_state(CPState.B, 2.0)
    c.receive_cp_state(CPState.C, 3.0)
    assert not c.contactors_closed


def test_nominal_to_5_percent_goes_through_x1_for_t_step_x1() -> None:
    c = charger_in(S.READY)
    c.send(RequestHlc(), 10.0)
    assert c.state is S.STEP_X1 and c.actions() == [SetX1()] and c.mode is ChargingMode.HLC
    assert c.get_timer() == pytest.approx(13.0)
    c.handle_timer(13.0)
    assert c.state is S.READY and c.actions() == [SetPwm(duty=5.0)]


def test_5_percent_to_nominal_through_x1() -> None:
    c = fresh(mode=ChargingMode.HLC, initial_current=16)
    c.receive_cp_state(CPState.B, 0.0)
    c.actions()
    c.send(RequestBasic(), 1.0)
    assert c.state is S.STEP_X1 and c.actions() == [SetX1()]
    c.handle_timer(4.0)
    assert c.actions() == [SetPwm(duty=pytest.approx(160 / 6))] and c.mode is ChargingMode.BASIC


def test_5_percent_to_nominal_through_f_for_t_step_ef() -> None:
    c = fresh(mode=ChargingMode.HLC, initial_current=16)
    c.receive_cp_state(CPState.B, 0.0)
    c.actions()
    c.send(RequestBasic(via=StepVia.EF), 1.0)
    assert c.state is S.STEP_EF and c.actions() == [SetStateF()]
    c.handle_timer(4.99)
    assert c.state is S.STEP_EF
    c.handle_timer(5.0)
    assert c.actions() == [SetX1()]  # vehicle state unknown after F: read it again first
    c.receive_cp_state(CPState.B, 5.01)
    assert c.actions() == [SetPwm(duty=pytest.approx(160 / 6))]


def test_retry_hlc_uses_e_when_configured() -> None:
    c = fresh(mode=ChargingMode.HLC, step_ef_output=PilotOutput.E)
    c.receive_cp_state(CPState.B, 0.0)
    c.actions()
    c.send(RetryHlc(), 30.0)
    assert c.actions() == [SetStateE()]
    c.handle_timer(34.0)
    c.receive_cp_state(CPState.B, 34.0)
    assert c.actions() == [SetX1(), SetPwm(duty=5.0)]


def test_phase_switch_goes_through_a_pause_with_contactors_open() -> None:
    c = charger_in(S.CHARGING)
    c.send(SwitchPhases(phases=1), 100.0)
    assert c.state is S.PHASE_SWITCH and c.actions() == [SetX1()]
    c.receive_cp_state(CPState.B, 101.0)
    assert c.actions() == [OpenContactors()]
    assert c.get_timer() == pytest.approx(111.0)
    c.handle_timer(111.0)
    assert c.actions() == [SelectPhases(phases=1), SetPwm(duty=pytest.approx(160 / 6))]
    assert PhasesSelected(phases=1) in events(c)
    c.receive_cp_state(CPState.C, 111.5)
    assert c.actions() == [CloseContactors(phases=1)] and c.phases == 1


def test_phase_switch_waits_for_forced_open() -> None:
    c = charger_in(S.CHARGING)
    c.send(SwitchPhases(phases=1), 0.0)
    c.handle_timer(6.0)
    assert c.actions() == [SetX1(), OpenContactors()]
    c.handle_timer(16.0)
    assert c.actions() == [SelectPhases(phases=1), SetPwm(duty=pytest.approx(160 / 6)), CloseContactors(phases=1)]


def test_phase_switch_without_vehicle_is_immediate() -> None:
    c = fresh(phase_switching=True)
    c.send(SwitchPhases(phases=1), 0.0)
    assert c.actions() == [SelectPhases(phases=1)] and c.phases == 1


def test_phase_switch_through_f_when_configured() -> None:
    c = charger_in(S.CHARGING, phase_switch_output=PilotOutput.F)
    c.send(SwitchPhases(phases=1), 0.0)
    assert c.actions() == [OpenContactors(), SetStateF()]
    c.handle_timer(10.0)
    assert c.actions() == [SelectPhases(phases=1), SetX1()]


def test_replug_drives_f_for_4s() -> None:
    c = charger_in(S.READY)
    c.send(Replug(), 50.0)
    assert c.state is S.REPLUG and c.actions() == [SetStateF()]
    c.handle_timer(53.9)
    assert c.state is S.REPLUG
    c.handle_timer(54.0)
    assert c.state is S.IDLE and c.actions() == [SetX1()]


@pytest.mark.parametrize(
    ("state", "command", "match"),
    [
        (S.READY, SetCurrentLimit(amps=5.9), "below 6 A"),
        (S.READY, SetCurrentLimit(amps=32.5), "32"),
        (S.READY, SetCurrentLimit(amps=math.nan), "not a number"),
        (S.IDLE, ClearFault(), "not allowed"),
        (S.IDLE, Replug(), "not allowed"),
        (S.READY, RetryHlc(), "hlc_mode"),
        (S.STEP_X1, RequestBasic(), "not allowed"),
        (S.REPLUG, SwitchPhases(phases=1), "not allowed"),
        (S.READY, SwitchPhases(phases=2), "1 or 3"),
    ],
)
def test_misuse_is_refused_and_changes_nothing(state: ChargerState, command: object, match: str) -> None:
    c = charger_in(state)
    before = (c.state, c.output, c.duty_cycle, c.contactors_closed, c.current_limit, c.mode, c.get_timer())
    with pytest.raises(LocalProtocolError, match=match):
        c.send(command, 1.0)  # type: ignore[arg-type]
    assert (c.state, c.output, c.duty_cycle, c.contactors_closed, c.current_limit, c.mode, c.get_timer()) == before
    assert c.actions() == [] and events(c) == []


def test_phase_switch_refused_in_hlc_and_without_relays() -> None:
    c = fresh(mode=ChargingMode.HLC, phase_switching=True)
    c.receive_cp_state(CPState.B, 0.0)
    with pytest.raises(LocalProtocolError, match="basic_mode"):
        c.send(SwitchPhases(phases=1), 1.0)
    with pytest.raises(LocalProtocolError, match="phase-selection"):
        fresh().send(SwitchPhases(phases=1), 1.0)


def test_time_must_not_go_backwards() -> None:
    c = fresh()
    c.receive_cp_state(CPState.B, 5.0)
    with pytest.raises(LocalProtocolError, match="backwards"):
        c.receive_cp_state(CPState.B, 4.0)
    with pytest.raises(LocalProtocolError, match="finite"):
        c.handle_timer(math.nan)


def test_not_a_reading() -> None:
    with pytest.raises(LocalProtocolError, match="not a pilot reading"):
        fresh().receive_cp_state(PilotFault.APPLICATION, 0.0)
    with pytest.raises(LocalProtocolError, match="not a charger command"):
        fresh().send("Pause", 0.0)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "kwargs",
    [dict(max_current=5.0), dict(max_current=81.0), dict(initial_current=40.0), dict(phases=2),
     dict(fault_min_time=0.1), dict(t_step_ef=3.0), dict(power_off_timeout=7.0), dict(replug_output=PilotOutput.X1),
     dict(step_ef_output=PilotOutput.X2), dict(phase_switch_output=PilotOutput.E), dict(t_step_x1=-1.0)],
)
def test_config_is_validated(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        ChargerConfig(**kwargs)  # type: ignore[arg-type]


def test_fault_readings_debounce() -> None:
    c = charger_in(S.CHARGING, fault_readings=3)
    c.receive_voltages(10.5, -12.0, 1.0)
    c.receive_voltages(8.8, -8.8, 1.001)
    c.receive_voltages(6.0, -12.0, 1.002)  # a good reading resets the count
    c.receive_voltages(10.5, -12.0, 1.003)
    c.receive_voltages(10.5, -12.0, 1.004)
    assert c.state is S.CHARGING and c.contactors_closed
    c.receive_voltages(8.8, -8.8, 1.005)
    assert c.state is S.FAULT and c.fault is PilotFault.DIODE


def test_levels_must_be_numbers() -> None:
    with pytest.raises(LocalProtocolError, match="numbers"):
        fresh().receive_voltages("9 V", None, 0.0)  # type: ignore[arg-type]
