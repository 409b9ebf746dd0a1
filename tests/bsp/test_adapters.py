"""The IEC 61851 charger machine driving the Yeti core (and its simulated board) through the adapter."""

from __future__ import annotations

import pytest

from evcharge.bsp.adapters import PilotBoardAdapter
from evcharge.bsp.errors import LocalProtocolError
from evcharge.bsp.events import MeterReading, PilotStateChanged, RelaysClosed, RelaysOpened, Start

from .harness import Link

iec = pytest.importorskip("evcharge.iec61851.charger")


def test_iec61851_charger_runs_a_session_on_the_simulated_yeti() -> None:
    from evcharge.iec61851.config import ChargerConfig
    from evcharge.iec61851.driver import apply_actions
    from evcharge.iec61851.states import CPState

    link = Link()
    link.run(0.5)
    charger = iec.Charger(ChargerConfig(initial_current=16), now=link.now)
    board = PilotBoardAdapter(link.core)
    seen: list[object] = []

    def step(seconds: float) -> None:
        end = link.now + seconds
        while link.now < end:
            link.run(0.05)
            for event in link.take():
                seen.append(event)
                if isinstance(event, PilotStateChanged):
                    charger.receive_cp_state(CPState(event.state.value), link.now)
            timer = charger.get_timer()
            if timer is not None and timer <= link.now:
                charger.handle_timer(link.now)
            board.now = link.now
            apply_actions(charger.actions(), board)

    step(1.0)
    link.car.plug_in()
    step(1.0)
    assert link.sim.pwm_units == round(100 * 16 / 0.6)  # 16 A advertised: 26.67 %
    link.car.request_power()
    step(3.0)
    assert any(isinstance(e, RelaysClosed) for e in seen)
    meters = [e for e in seen if isinstance(e, MeterReading)]
    assert meters[-1].current_a[0] == pytest.approx(16.0, abs=0.1)
    assert meters[-1].energy_wh_import > meters[0].energy_wh_import
    link.car.unplug()
    step(1.0)
    assert isinstance([e for e in seen if isinstance(e, RelaysClosed | RelaysOpened)][-1], RelaysOpened)
    assert not link.sim.relays_on and not link.sim.allow_power_on


def test_adapter_maps_contactors_and_phases() -> None:
    link = Link()
    link.run(0.5)
    board = PilotBoardAdapter(link.core)
    board.set_contactors(True, 1)
    link.pump()
    assert link.sim.three_phases is False and link.sim.allow_power_on
    board.set_contactors(False, 1)
    link.pump()
    assert not link.sim.allow_power_on
    with pytest.raises(LocalProtocolError):
        board.select_phases(2)
    with pytest.raises(LocalProtocolError):
        board.cp_state_e()  # the Yeti cannot


def test_full_stack_iec61851_charger_and_vehicle_around_the_simulated_yeti() -> None:
    """Charger machine -> Yeti core -> bytes -> simulated Yeti -> IEC 61851 vehicle model, and back."""
    from evcharge.bsp.yeti.simulator import YetiSimulator
    from evcharge.bsp.yeti.vehicle import Iec61851Vehicle
    from evcharge.iec61851.config import ChargerConfig, VehicleConfig
    from evcharge.iec61851.driver import apply_actions
    from evcharge.iec61851.events import PlugIn, Unplug
    from evcharge.iec61851.states import CPState
    from evcharge.iec61851.vehicle import Vehicle

    link = Link(start=False)
    car = Vehicle(VehicleConfig(max_current=32.0, phases=1, hlc=False), now=link.now)
    link.sim = YetiSimulator(vehicle=Iec61851Vehicle(car))
    link.sim.power_up(link.now)
    link.core.send(Start(), link.now)
    link.run(0.5)
    charger = iec.Charger(ChargerConfig(initial_current=10), now=link.now)
    board = PilotBoardAdapter(link.core)
    seen: list[object] = []

    def step(seconds: float) -> None:
        end = link.now + seconds
        while link.now < end:
            link.run(0.05)
            for event in link.take():
                seen.append(event)
                if isinstance(event, PilotStateChanged):
                    charger.receive_cp_state(CPState(event.state.value), link.now)
            timer = charger.get_timer()
            if timer is not None and timer <= link.now:
                charger.handle_timer(link.now)
            board.now = link.now
            apply_actions(charger.actions(), board)

    step(0.5)
    car.send(PlugIn(), link.now)
    step(5.0)  # B, PWM 16.7 % (10 A), the vehicle answers with C by itself, power on, current ramps
    assert any(isinstance(e, RelaysClosed) for e in seen)
    meter = [e for e in seen if isinstance(e, MeterReading)][-1]
    assert meter.current_a == pytest.approx((10.0, 0.0, 0.0), abs=0.1)  # one-phase car, 10 A advertised
    car.send(Unplug(), link.now)
    step(1.0)
    assert not link.sim.relays_on
    assert [e.state.value for e in seen if isinstance(e, PilotStateChanged)][-1] == "A"
