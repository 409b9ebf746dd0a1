"""AC with high-level communication through the EVSE manager: the pilot at 5 %, the relays closed from
PowerDelivery(Start) to PowerDelivery(Stop), the meter's power integrated into the transaction's energy."""

from __future__ import annotations

import pytest

from evcharge.charger import EvseManagerConfig
from evcharge.charger.sim.bench import Bench
from evcharge.charger.sim.car import CarConfig
from evcharge.charger.sim.station import OcppCall
from evcharge.iso15118.engines import SeccConfig
from evcharge.iso15118.engines import events as ev


@pytest.mark.parametrize("protocol", ["iso2", "iso20"])
def test_ac_energy_is_the_metered_power_over_the_relay_time(protocol: str) -> None:
    bench = Bench(EvseManagerConfig(energy="ac", free_charging=True, secc=SeccConfig(trace=True)),
                  CarConfig(protocol=protocol, energy_mode=ev.EnergyMode.AC_THREE_PHASE, charge_seconds=10.0,
                            ac_max_current=16.0))
    bench.plug_in()
    bench.run(until=60.0, stop=lambda: bench.car.ended is not None)
    assert bench.car.ended is not None and bench.car.ended.normal, bench.errors
    # IEC 61851-1: with digital communication the PWM stays at 5 %; the contactors close once, open once
    assert {duty for _, output, duty in bench.board.pilot_log if output == "X2"} == {5.0}
    (closed_at, closed), (opened_at, opened) = bench.board.relay_log
    assert closed and not opened
    # no CSMS limit: the car's 16 A on three phases at 230 V, all the time the relays were closed
    watts = 230.0 * 16.0 * 3
    assert bench.manager.energy_wh == pytest.approx(watts * (opened_at - closed_at) / 3600.0, rel=1e-6)
    ended = [c.payload for _, c, _ in bench.calls if isinstance(c, OcppCall) and c.action == "TransactionEvent"][-1]
    values = {v["measurand"]: v["value"] for m in ended["meterValue"] for v in m["sampledValue"]}
    assert values["Energy.Active.Import.Register"] == round(bench.manager.energy_wh, 1)
