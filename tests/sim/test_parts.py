"""The simulation's pure parts, each alone: the car, the charger logic, the timeline, the CSMS's books, the checks."""

from __future__ import annotations

import argparse
from typing import Any

import pytest

from evcharge.bsp import events as bsp
from evcharge.bsp.events import Capabilities
from evcharge.iec61851 import CPState
from evcharge.ocpp.functions import application as cp
from evcharge.sim.car import Car, CarConfig
from evcharge.sim.checks import cp_sequence, verify
from evcharge.sim.cli import parse_duration
from evcharge.sim.csms import CsmsBooks
from evcharge.sim.record import EventLog
from evcharge.sim.scenario import (
    CutLink,
    Finish,
    PlugIn,
    PresentCard,
    RestoreLink,
    Scenario,
    Script,
    ScriptConfig,
    SendLimit,
    Status,
    StopCharging,
    Unplug,
)

CAPS = Capabilities(min_current_a=6, max_current_a=32, min_phases=1, max_phases=3,
                    supports_changing_phases_during_charging=True)


# ------------------------------------------------------------------------------------------------ the car

def test_car_follows_the_duty_cycle_after_its_reaction_time() -> None:
    car = Car(CarConfig(reaction_time=2.0))
    car.plug_in(0.0)
    assert car.pilot_level == 9.0  # B
    car.observe_pilot(2667, 1.0)  # 26.67 % = 16 A
    assert car.pilot_level == 6.0  # C: ready and allowed
    assert car.current_demand(16.0) == 0.0  # not before its reaction time
    car.observe_pilot(2667, 3.0)
    assert car.current_demand(16.0) == 16.0
    assert car.current_demand(10.0) == 10.0  # never more than offered


def test_car_battery_charges_and_stops_at_the_target() -> None:
    car = Car(CarConfig(capacity_kwh=10.0, soc=50.0, target_soc=60.0))
    car.plug_in(0.0)
    car.observe_pilot(2667, 0.0)
    car.charge(6000.0, 300.0, 300.0)  # 0.5 kWh = 5 % of 10 kWh
    assert car.soc == pytest.approx(55.0) and car.pilot_level == 6.0
    car.charge(6000.0, 300.0, 600.0)
    assert car.soc == pytest.approx(60.0)
    assert car.pilot_level == 9.0  # reached 60 %: the car opened S2 (B)
    car.charge(60000.0, 3600.0, 4200.0)
    assert car.soc == 100.0  # never above full


def test_car_draws_less_as_the_battery_fills() -> None:
    car = Car(CarConfig(capacity_kwh=10.0, soc=79.0, max_current=32.0, taper_from=80.0))
    car.plug_in(0.0)
    car.observe_pilot(5333, 0.0)  # 53.33 % = 32 A
    car.observe_pilot(5333, 5.0)
    assert car.current_demand(32.0) == pytest.approx(32.0, abs=0.01)
    car.charge(4000.0, 1800.0, 6.0)  # +2 kWh = +20 %: 99 %
    assert car.soc == pytest.approx(99.0)
    assert car.current_demand(32.0) == pytest.approx(32.0 * (0.1 + 0.9 * 0.05))


def test_car_rejects_impossible_configuration() -> None:
    with pytest.raises(ValueError):
        CarConfig(phases=2)
    with pytest.raises(ValueError):
        CarConfig(capacity_kwh=0)


# ------------------------------------------------------------------------------------------------ a recording board

class FakeBoard:
    """Records the BoardSupport calls (the board of the EVSE manager's property test in test_charger_property)."""

    capabilities = CAPS

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    def send(self, command: bsp.BoardCommand, now: float) -> None:
        match command:
            case bsp.EnablePort(enabled=enabled):
                self.calls.append(("enable", enabled))
            case bsp.PwmOn(duty_percent=duty):
                self.calls.append(("pwm", round(duty, 2)))
            case bsp.PilotX1():
                self.calls.append(("x1", None))
            case bsp.PilotF():
                self.calls.append(("f", None))
            case bsp.PilotE():
                self.calls.append(("e", None))
            case bsp.AllowPowerOn(allow=allow):
                self.calls.append(("allow", allow))
            case bsp.SetThreePhases(three_phases=three):
                self.calls.append(("3ph", three))
            case bsp.LockConnector(lock=lock):
                self.calls.append(("lock", lock))

    def next_event(self) -> None:
        return None


# ------------------------------------------------------------------------------------------------ timeline

def run_script(config: ScriptConfig, flowing_from: float, until: float) -> list[tuple[float, Any]]:
    script, out, t = Script(config), [], 0.0
    while t <= until:
        for action in script.step(Status(now=t, soc=30.0, flowing=t >= flowing_from, plugged_in=True)):
            out.append((round(t, 1), action))
        t += 0.5
    return out


def test_normal_timeline() -> None:
    actions = run_script(ScriptConfig(duration=100.0), flowing_from=10.0, until=200.0)
    kinds = [type(a) for _, a in actions]
    assert kinds[:2] == [PlugIn, PresentCard]
    stop = next(t for t, a in actions if isinstance(a, StopCharging))
    assert stop == 110.0
    assert [t for t, a in actions if isinstance(a, Unplug)] == [115.0]
    assert isinstance(actions[-1][1], Finish) and actions[-1][1].reason == ""


def test_limit_change_and_offline_timelines() -> None:
    limit = run_script(ScriptConfig(scenario=Scenario.LIMIT_CHANGE, duration=90.0), 10.0, 200.0)
    assert [(t, a.amps) for t, a in limit if isinstance(a, SendLimit)] == [(40.0, 10.0)]
    offline = run_script(ScriptConfig(scenario=Scenario.OFFLINE, duration=100.0), 10.0, 200.0)
    assert [t for t, a in offline if isinstance(a, CutLink | RestoreLink)] == [35.0, 70.0]


def test_no_energy_ends_the_session_with_a_reason() -> None:
    actions = run_script(ScriptConfig(start_timeout=30.0), flowing_from=1e9, until=60.0)
    finish = [a for _, a in actions if isinstance(a, Finish)]
    assert len(finish) == 1 and "no energy" in finish[0].reason


# ------------------------------------------------------------------------------------------------ CSMS books

def test_books_recognise_a_resent_transaction_event() -> None:
    books = CsmsBooks(lambda: 5.0)
    started = {"eventType": "Started", "timestamp": "2026-01-01T00:00:00Z", "triggerReason": "Authorized",
               "seqNo": 0, "transactionInfo": {"transactionId": "T1"},
               "meterValue": [{"timestamp": "2026-01-01T00:00:00Z",
                               "sampledValue": [{"value": 10.0, "measurand": "Energy.Active.Import.Register"}]}]}
    books.receive("TransactionEvent", started)
    books.receive("TransactionEvent", started)  # the answer was lost: the station sends it again, unchanged
    ended = dict(started, eventType="Ended", seqNo=1,
                 transactionInfo={"transactionId": "T1", "stoppedReason": "EVDisconnected"},
                 meterValue=[{"timestamp": "2026-01-01T00:10:00Z",
                              "sampledValue": [{"value": 1.5, "measurand": "Energy.Active.Import.Register",
                                                "unitOfMeasure": {"unit": "kWh"}}]}])
    books.receive("TransactionEvent", ended)
    tx_ = books.transactions["T1"]
    assert (tx_.messages, tx_.duplicates, tx_.seq_nos) == (2, 1, [0, 1])
    assert (tx_.meter_start_wh, tx_.meter_stop_wh, tx_.stop_reason) == (10.0, 1500.0, "EVDisconnected")
    assert [m["duplicate"] for m in books.messages] == [False, True, False]


def test_books_give_a_resent_16_start_the_same_id() -> None:
    books = CsmsBooks(lambda: 0.0)
    start = {"connectorId": 1, "idTag": "ABC", "meterStart": 5, "timestamp": "2026-01-01T00:00:00Z"}
    first = books.receive("StartTransaction", start)
    again = books.receive("StartTransaction", start)
    assert first["transactionId"] == again["transactionId"] == 1
    books.receive("StopTransaction", {"transactionId": 1, "meterStop": 905, "timestamp": "2026-01-01T01:00:00Z",
                                      "reason": "EVDisconnected"})
    (only,) = books.ended()
    assert (only.meter_stop_wh - only.meter_start_wh, only.duplicates) == (900.0, 1)


# ------------------------------------------------------------------------------------------------ checks

def good_log() -> EventLog:
    log = EventLog()
    for t, kind, fields in [
        (1, "cp", {"state": "B"}), (2, "pilot", {"output": "X2", "duty": 26.67}), (2.2, "cp", {"state": "C"}),
        (2.4, "relays", {"closed": True}), (2.4, "transaction_started", {"transaction_id": "T", "meter_wh": 0.0}),
        (50, "cp", {"state": "B"}), (50, "relays", {"closed": False}), (55, "cp", {"state": "A"}),
        (55, "transaction_ended", {"transaction_id": "T", "meter_wh": 120.0}),
    ]:
        log.add(t, kind, **fields)
    return log


def test_checks_accept_a_good_session_and_name_what_is_wrong() -> None:
    assert cp_sequence(good_log()) == ["A", "B", "C", "B", "A"]
    assert verify(good_log(), None, scenario=Scenario.NORMAL, ocpp_version="2.0.1") == []
    late = good_log()
    late.events[6]["t"] = 52.0  # relays opened 2 s after the car went to B
    assert any("relays opened 2.00 s" in p for p in verify(late, None, scenario=Scenario.NORMAL,
                                                           ocpp_version="2.0.1"))
    assert any("expected A-B-C-A" in p for p in verify(good_log(), None, scenario=Scenario.UNPLUG,
                                                      ocpp_version="2.0.1"))
    assert verify(good_log(), None, scenario=Scenario.NORMAL, ocpp_version="2.0.1", queued_left=2) == [
        "2 transaction messages never reached the CSMS"]


def test_duration_parsing() -> None:
    assert parse_duration("90") == parse_duration("90s") == 90.0
    assert parse_duration("20m") == 1200.0 and parse_duration("1.5h") == 5400.0
    with pytest.raises(argparse.ArgumentTypeError):
        parse_duration("soon")


def test_cp_state_mapping_is_one_to_one() -> None:
    assert {s.value for s in bsp.PilotState} == {s.value for s in CPState}


# ------------------------------------------------------------------------------------------------ composed, no I/O

def test_the_runner_composition_evse_manager_on_the_yeti_without_io() -> None:
    """What ``evcharge simulate`` composes (no --hlc), without pty or sockets: the EVSE manager in IEC 61851-1 basic
    AC charging on the Yeti driver core, through the runner's LoggedBoard (which writes the board's events and the
    pilot commands into the event log); the charge-point core's decision is handed in as ``ChargingAllowed``."""
    import random
    from datetime import UTC, datetime

    from evcharge.bsp.yeti.protocol import YetiProtocol
    from evcharge.charger import EvseManager, StationInput
    from evcharge.clock import WallClock
    from evcharge.sim.car import CarOnBoard
    from evcharge.sim.runner import LoggedBoard, SimConfig, manager_config

    car = Car(CarConfig(reaction_time=1.0))
    board, driver, log = CarOnBoard(car), YetiProtocol(), EventLog()
    tap = LoggedBoard(driver, log)
    manager = EvseManager(manager_config(SimConfig(charger_current=16.0)), board=tap,
                          clock=WallClock.at(0.0, datetime(2026, 1, 1, tzinfo=UTC)), rng=random.Random(1), now=0.0,
                          meter=tap)
    assert log.of("pilot") and not tap.ready  # X1 waits until the board is ready (the driver is not started)
    board.power_up(0.0)
    board.data_to_send()
    driver.send(bsp.Start(), 0.0)
    inputs: list[Any] = []

    def run_until(end: float, now: float) -> float:
        while now < end:
            now = round(now + 0.05, 3)
            board.receive_data(b"".join(driver.data_to_send()), now)
            timer = board.get_timer()
            if timer is not None and timer <= now:
                board.handle_timer(now)
            driver.receive_data(board.data_to_send(), now)
            timer = driver.get_timer()
            if timer is not None and timer <= now:
                driver.handle_timer(now)
            tap.now = now
            manager.update(now)
            timer = manager.get_timer()
            if timer is not None and timer <= now:
                manager.handle_timer(now)
            while (event := manager.next_event()) is not None:
                if isinstance(event, StationInput):
                    inputs.append(event.command)
        return now

    now = run_until(1.0, 0.0)
    assert len(log.of("board_ready")) == 1
    car.plug_in(now)
    now = run_until(3.0, now)
    # no PWM before the core allows charging (the manager starts paused: B1)
    assert manager.pilot.sub_state == "B1" and [e["output"] for e in log.of("pilot")] == ["X1"]
    manager.send(cp.ChargingAllowed(evse_id=1, allowed=True), now)
    now = run_until(63.0, now)
    assert [e["duty"] for e in log.of("pilot") if e["output"] == "X2"] == [pytest.approx(16 / 0.6, abs=0.01)]
    assert tap.meter is not None and tap.meter.current_a == pytest.approx((16.0, 16.0, 16.0), abs=0.01)
    assert manager.flowing
    car.stop_charging(now)
    now = run_until(65.0, now)
    car.unplug(now)
    run_until(67.0, now)
    assert cp_sequence(log) == ["A", "B", "C", "B", "A"]
    assert [e["closed"] for e in log.of("relays")] == [True, False]
    assert [type(c).__name__ for c in inputs] == ["Plugged", "PowerPathChanged", "EnergyStateChanged",
                                                 "EnergyStateChanged", "Unplugged"]
    assert [c.state for c in inputs if isinstance(c, cp.EnergyStateChanged)] == ["Charging", "SuspendedEV"]
