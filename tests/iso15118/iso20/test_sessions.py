"""Whole -20 sessions, ours against ours, for AC, DC, AC_BPT, DC_BPT in both control modes (EIM)."""

from __future__ import annotations

import pytest

from evcharge.iso15118.engines import events as ev
from evcharge.iso15118.engines.iso20 import ControlMode, EnergyService, PowerSchedule
from evcharge.iso15118.engines.iso20 import events as ev20

from .conftest import Charger, engines, names, run

SERVICES = [EnergyService.AC, EnergyService.DC, EnergyService.AC_BPT, EnergyService.DC_BPT]
MODES = [ControlMode.SCHEDULED, ControlMode.DYNAMIC]

COMMON_START = [
    "SessionSetupReq",
    "AuthorizationSetupReq",
    "AuthorizationReq",  # Ongoing: the charger application decides on the event
    "AuthorizationReq",
    "ServiceDiscoveryReq",
    "ServiceDetailReq",
    "ServiceSelectionReq",
]


@pytest.mark.parametrize("mode", MODES, ids=lambda m: m.name.lower())
@pytest.mark.parametrize("service", SERVICES, ids=lambda s: s.cli_name)
def test_whole_session(service: EnergyService, mode: ControlMode) -> None:
    secc, evcc = engines(service, mode)
    charger = Charger()
    lb = run(secc, evcc, charger)
    sent = names(evcc)
    p = "DC_" if service.is_dc else "AC_"
    expected = [*COMMON_START, p + "ChargeParameterDiscoveryReq", "ScheduleExchangeReq"]
    if service.is_dc:
        # CableCheck Ongoing once (isolation pushed on the event), PreCharge Ongoing until the voltage is
        # there, then PreCharge(Finished) [V2G20-2005], then PowerDelivery [V2G20-2006]
        expected += ["DC_CableCheckReq", "DC_CableCheckReq", "DC_PreChargeReq", "DC_PreChargeReq", "DC_PreChargeReq"]
    expected += ["PowerDeliveryReq"] + [p + "ChargeLoopReq"] * 3 + ["PowerDeliveryReq"]
    if service.is_dc:
        expected += ["DC_WeldingDetectionReq"]
    expected += ["SessionStopReq"]
    assert sent == expected
    assert names(secc) == [n[:-3] + "Res" for n in expected]
    assert secc.ended is not None and secc.ended.normal and not secc.ended.paused
    assert evcc.ended is not None and evcc.ended.normal
    assert secc.service is service and secc.control_mode is mode
    assert lb.secc.close_at is not None
    selected = charger.of(ev20.ServiceSelected)
    assert selected == [ev20.ServiceSelected(service=service, control_mode=mode, parameter_set_id=int(mode))]
    loops = charger.of(ev20.ChargeLoopRequested)
    assert len(loops) == 3 and all(e.control_mode is mode for e in loops)
    if mode is ControlMode.DYNAMIC:
        assert all(e.ev is not None and e.energy is not None for e in loops)
        assert loops[0].energy.target_energy == 20_000.0
        if service.is_bpt:
            assert loops[0].ev.max_discharge_power == 11_000.0
    elif service.is_dc:
        assert loops[0].target_voltage == 400.0 and loops[0].target_current == 100.0
    else:
        assert loops[0].present_power == 11_000.0
    cpd = charger.of(ev20.ChargeParametersRequested20)[0]
    assert (cpd.ev.max_discharge_power is not None) is service.is_bpt


def test_dc_bpt_discharge_scheduled() -> None:
    """DC_BPT: the car discharges (negative target current), BPT_ChannelSelection=Discharge, the power profile
    is negative and within the offered discharging schedule, and the EVSE's discharge limits reach the car."""
    secc, evcc = engines(
        EnergyService.DC_BPT,
        ControlMode.SCHEDULED,
        evcc={"target_current": -20.0},
        secc={"schedules": (PowerSchedule(tuple_id=7, charging=((3600, 30_000.0),), discharging=((3600, 9_000.0),)),)},
    )
    charger = Charger()
    cars: list = []
    run(secc, evcc, charger, car=lambda e, event, now: cars.append(event))
    pd = next(t.message for t in secc.trace if t.name == "PowerDeliveryReq")
    assert pd.bpt_channel_selection.value == "Discharge"
    entries = pd.ev_power_profile.ev_power_profile_entries.ev_power_profile_entry
    assert [(e.duration, e.power.value * 10**e.power.exponent) for e in entries] == [(3600, -9000)]
    assert pd.ev_power_profile.scheduled_evppt_control_mode.selected_schedule_tuple_id == 7
    loops = charger.of(ev20.ChargeLoopRequested)
    assert {e.target_current for e in loops} == {-20.0}
    offered = next(e for e in cars if isinstance(e, ev20.SchedulesOffered))
    assert offered.schedules[0].discharging == ((3600, 9000.0),)
    params = next(e for e in cars if isinstance(e, ev20.Iso20ChargeParametersOffered))
    assert params.limits.max_discharge_power == 10_000.0
    statuses = [e for e in cars if isinstance(e, ev20.Iso20ChargeLoopStatus)]
    assert statuses[-1].present_current == -20.0  # the app pushed it after the first request
    assert secc.ended is not None and secc.ended.normal


def test_ac_bpt_dynamic_discharge_target_power() -> None:
    """AC_BPT dynamic: the charger sets the active power (negative: discharge) in every AC_ChargeLoopRes."""
    secc, evcc = engines(EnergyService.AC_BPT, ControlMode.DYNAMIC)
    statuses: list = []

    def charger(engine, event, now):  # type: ignore[no-untyped-def]
        Charger()(engine, event, now)
        if isinstance(event, ev20.ChargeLoopRequested):
            engine.send(ev20.SetTargetPower(watts=-7_400.0), now)

    run(secc, evcc, charger, car=lambda e, event, now: statuses.append(event))
    loop = [e for e in statuses if isinstance(e, ev20.Iso20ChargeLoopStatus)]
    # the first response was built before the application's answer to the first request
    assert [s.target_power for s in loop][1:] == [-7400.0, -7400.0]
    assert secc.ended is not None and secc.ended.normal


def test_scheduled_mode_waits_for_schedules() -> None:
    """No schedules configured: ScheduleExchange is answered Ongoing until the application pushes them."""
    secc, evcc = engines(EnergyService.AC, secc={"schedules": None})
    pushed: list = []

    def charger(engine, event, now):  # type: ignore[no-untyped-def]
        Charger()(engine, event, now)
        if isinstance(event, ev20.ScheduleRequested):
            pushed.append(event)
            engine.send(
                ev20.SetPowerSchedules(schedules=(PowerSchedule(tuple_id=3, charging=((7200, 7_000.0),)),)), now
            )

    run(secc, evcc, charger)
    assert names(evcc).count("ScheduleExchangeReq") == 2
    res = [t.message for t in secc.trace if t.name == "ScheduleExchangeRes"]
    assert [r.evse_processing.value for r in res] == ["Ongoing", "Finished"]
    assert pushed[0].energy.target_energy == 20_000.0 and pushed[0].control_mode is ControlMode.SCHEDULED
    assert secc.schedule_id == 3


def test_stop_from_the_application() -> None:
    secc, evcc = engines(EnergyService.DC, evcc={"charge_loop_requests": None})

    def car(engine, event, now):  # type: ignore[no-untyped-def]
        if isinstance(event, ev20.Iso20ChargeLoopStatus) and engine.loops == 5:
            engine.send(ev.StopCharging(), now)

    run(secc, evcc, car=car)
    # the car had sent its 6th request when the application saw the 5th answer; the stop comes after it
    assert names(evcc).count("DC_ChargeLoopReq") == 6
    assert secc.ended is not None and secc.ended.normal


def test_evse_terminate_notification() -> None:
    secc, evcc = engines(EnergyService.AC, evcc={"charge_loop_requests": None})

    def charger(engine, event, now):  # type: ignore[no-untyped-def]
        Charger()(engine, event, now)
        if isinstance(event, ev20.ChargeLoopRequested):
            engine.send(ev.Notify(action="stop"), now)

    run(secc, evcc, charger)
    res = [t.message for t in secc.trace if t.name == "AC_ChargeLoopRes"]
    assert res[-1].evse_status.evse_notification.value == "Terminate"
    assert names(evcc)[-2:] == ["PowerDeliveryReq", "SessionStopReq"]
    assert evcc.ended is not None and evcc.ended.normal


def test_the_engines_factories_build_the_iso20_engines() -> None:
    from evcharge.iso15118.engines import evcc_factory, secc_factory
    from evcharge.iso15118.engines.iso20 import Iso20Evcc, Iso20Secc, Iso20SeccConfig

    from .conftest import handover

    assert isinstance(secc_factory(iso20=Iso20SeccConfig())(handover(True)), Iso20Secc)
    assert isinstance(evcc_factory()(handover(True)), Iso20Evcc)
