"""ChargeParameterDiscovery: SAScheduleList with SalesTariff as the application pushed it, MaxEntriesSAScheduleTuple,
EVSEProcessing=Ongoing until the limits are known."""

from __future__ import annotations

from typing import Any

from evcharge.iso15118.engines import EvccConfig, SeccState
from evcharge.iso15118.engines import events as ev

from .conftest import AC, run_session, secc_config
from .test_failures import ask, drive

TARIFF = ev.Tariff(tariff_id=5, price_levels=3, entries=((0, 1), (1800, 3)), description="peak after 30 min")
SCHEDULES = (
    ev.Schedule(tuple_id=1, pmax=((0, 11_000.0), (1800, 7_000.0)), duration=7200, tariff=TARIFF),
    ev.Schedule(tuple_id=2, pmax=((0, 3_700.0),), duration=7200),
)


def test_schedules_and_sales_tariff_reach_the_car() -> None:
    class App:
        def __call__(self, engine: Any, event: Any, now: float) -> None:
            if isinstance(event, ev.SessionStarted):
                engine.send(ev.SetSchedules(schedules=SCHEDULES), now)

    _, secc, evcc = run_session(
        "iso2", AC, secc_cfg=secc_config(AC), charger=App(), evcc_cfg=EvccConfig(energy_mode=AC, trace=True)
    )
    res = next(
        t.message.body.charge_parameter_discovery_res for t in evcc.trace if t.name == "ChargeParameterDiscoveryRes"
    )
    tuples = res.sa_schedule_list.sa_schedule_tuple
    assert [t.sa_schedule_tuple_id for t in tuples] == [1, 2]
    first = tuples[0]
    entries = first.p_max_schedule.p_max_schedule_entry
    assert [(e.relative_time_interval.start, e.p_max.value * 10**e.p_max.multiplier) for e in entries] == [
        (0, 11_000),
        (1800, 7_000),
    ]
    assert entries[-1].relative_time_interval.duration == 7200 - 1800
    tariff = first.sales_tariff
    assert tariff.sales_tariff_id == 5 and tariff.num_e_price_levels == 3
    assert [(e.relative_time_interval.start, e.e_price_level) for e in tariff.sales_tariff_entry] == [(0, 1), (1800, 3)]
    assert tuples[1].sales_tariff is None
    assert evcc.schedule_id == 1 and secc.ended is not None and secc.ended.normal


def test_max_entries_and_ongoing_until_limits_are_known() -> None:
    secc, evcc, lb = drive("iso2", SeccState.CHARGE_PARAMETERS, AC, ac_limits=None, default_schedules=SCHEDULES)
    body = evcc._req_charge_parameter_discovery()
    import dataclasses

    body = dataclasses.replace(body, max_entries_sa_schedule_tuple=1)
    _, res = ask(secc, "ChargeParameterDiscovery", body, lb.now)
    assert res.response_code.value == "OK" and res.evse_processing.value == "Ongoing"
    assert secc.state is SeccState.CHARGE_PARAMETERS
    secc.send(ev.SetAcLimits(limits=ev.AcLimits(max_current=16)), lb.now)
    _, res = ask(secc, "ChargeParameterDiscovery", body, lb.now + 1)
    assert res.evse_processing.value == "Finished"
    assert [t.sa_schedule_tuple_id for t in res.sa_schedule_list.sa_schedule_tuple] == [1]
    assert res.ac_evse_charge_parameter.evse_max_current.value == 16
    assert secc.state is SeccState.POWER_DELIVERY
