"""The EVSE manager in basic AC charging (IEC 61851-1, no high-level communication), composed without sockets: a
basic-only :class:`~evcharge.iec61851.Vehicle` on the :class:`~evcharge.charger.sim.board.SimBoard`, the outlet's
:class:`~evcharge.charger.sim.board.AcMeterSim`, and the charge point's OCPP side
(:class:`~evcharge.charger.sim.station.LocalStation`: the charge-point core and the transaction manager).

The facts checked come from IEC 61851-1 (Annex A: duty cycle = current / 0.6 A for 6 ... 51 A, no duty cycle below
6 A, at most one duty change per 5 s, the contactor closed only in C with the PWM on, F for at least 300 ms after
a fault) and OCPP (1.6 section 4.9 StatusNotification, 4.10 StopTransaction reasons; 2.0.1 E07 an identifier ends
the transaction it started, stoppedReason Local).
"""

from __future__ import annotations

import random
from datetime import UTC, datetime
from typing import Any

import pytest

from evcharge.bsp.events import BoardErrorKind
from evcharge.charger import (
    EvseManager,
    EvseManagerConfig,
    IdTokenPresented,
    ManagerState,
    MeterUpdate,
    SetAcCurrentLimit,
    StationInput,
)
from evcharge.charger.sim.board import AcMeterSim, SimBoard
from evcharge.charger.sim.station import LocalStation, OcppCall, accept_all
from evcharge.clock import WallClock
from evcharge.errors import LocalProtocolError
from evcharge.iec61851 import ChargerConfig, ChargingMode, PlugIn, SetReady, Unplug, Vehicle, VehicleConfig
from evcharge.iec61851.events import SetDiodeFault
from evcharge.ocpp.functions import application as cp

from .ocpp_check import checked_calls

CARD = "04A1B2C3"


class Rig:
    """Charger and basic-only car on one virtual clock."""

    def __init__(self, *, version: str = "2.0.1", free_charging: bool = False, max_current: float = 16.0,
                 csms: Any = accept_all, trip_stop_reason: str | None = None) -> None:
        self.now = 0.0
        clock = WallClock.at(0.0, datetime(2026, 1, 1, tzinfo=UTC))
        self.vehicle = Vehicle(VehicleConfig(hlc=False, max_current=32.0, phases=3), now=0.0)
        self.board = SimBoard(self.vehicle)
        self.meter = AcMeterSim(self.board)
        pilot = ChargerConfig(mode=ChargingMode.BASIC, max_current=max_current, initial_current=max_current,
                              start_paused=True)
        self.config = EvseManagerConfig(energy="ac", ac_max_current=max_current, pilot=pilot, ocpp_version=version,
                                        free_charging=free_charging, trip_stop_reason=trip_stop_reason)
        self.manager = EvseManager(self.config, board=self.board, clock=clock, rng=random.Random(1), now=0.0,
                                   meter=self.meter)
        self.station = LocalStation(csms, version=version, wall=clock)
        self.inputs: list[tuple[float, cp.AppCommand]] = []  #: what the manager told the core
        self.pump()

    # -- driving ----------------------------------------------------------------------------------

    def pump(self) -> None:
        now = self.now
        for _ in range(1000):
            self.board.sync(now)
            self.station.now = now
            load = (self.vehicle.demand, self.vehicle.phases)
            self.meter.set_load(*load)
            moved = False
            while self.station.results:
                moved = True
                self.manager.send(self.station.results.popleft(), now)
            self.manager.update(now)
            while (event := self.manager.next_event()) is not None:
                moved = True
                if isinstance(event, StationInput):
                    self.inputs.append((now, event.command))
                    self.station.app_input(event.command)
                elif isinstance(event, MeterUpdate):
                    self.station.update_meter(event.evse_id, event.readings)
            while self.vehicle.next_event() is not None:
                moved = True
            if not moved and (self.vehicle.demand, self.vehicle.phases) == load:
                return
        raise AssertionError("the parts did not settle")

    def run(self, until: float) -> None:
        """Advance to ``until``, firing every timer on the way."""
        while True:
            parts: list[Any] = [self.vehicle, self.board, self.manager, self.station]
            timers = [t for t in (p.get_timer() for p in parts) if t is not None]
            target = min([until, *timers])
            self.now = max(self.now, target)
            for part in parts:
                timer = part.get_timer()
                if timer is not None and timer <= self.now:
                    part.handle_timer(self.now)
            self.pump()
            if self.now >= until and not any(t <= self.now for t in
                                             (p.get_timer() for p in parts) if t is not None):
                return

    def act(self, command: Any) -> None:
        """A vehicle command now."""
        self.vehicle.send(command, self.now)
        self.pump()

    def send(self, command: Any) -> None:
        """A manager command now."""
        self.manager.send(command, self.now)
        self.pump()

    # -- reading ----------------------------------------------------------------------------------

    def calls(self, action: str | None = None) -> list[dict[str, Any]]:
        """The station's calls (each request and answer valid for its version), those of ``action``."""
        return checked_calls(self.station, action)

    def statuses(self) -> list[tuple[str, str | None]]:
        """Connector 1's StatusNotifications: (status, 1.6 errorCode), repeats removed."""
        out: list[tuple[str, str | None]] = []
        for p in self.calls("StatusNotification"):
            if p["connectorId"] != 1:
                continue
            item = (p.get("connectorStatus") or p["status"], p.get("errorCode"))
            if not out or out[-1] != item:
                out.append(item)
        return out

    def pilot_since(self, t: float) -> list[tuple[float, str, float | None]]:
        return [e for e in self.board.pilot_log if e[0] >= t]

    def energy_states(self) -> list[str]:
        return [c.state for _, c in self.inputs if isinstance(c, cp.EnergyStateChanged)]


def _charging(rig: Rig) -> None:
    """Plug in, present the card, charge for a minute."""
    rig.run(1.0)
    rig.act(PlugIn())
    rig.run(3.0)
    rig.send(IdTokenPresented(id_token=CARD))
    rig.run(60.0)


def _relays_only_in_c_with_pwm(rig: Rig) -> None:
    """IEC 61851-1 Table A.6: the contactor closes only with the car in C and the PWM on (each closing)."""
    for t, closed in rig.board.relay_log:
        if closed:
            output = [e for e in rig.board.pilot_log if e[0] <= t][-1]
            assert output[1] == "X2", (t, output)


@pytest.mark.parametrize("version", ["2.0.1", "1.6"])
def test_card_pwm_charge_card_stop_and_unplug(version: str) -> None:
    rig = Rig(version=version)
    rig.run(1.0)
    rig.act(PlugIn())
    rig.run(3.0)
    # plugged in, not authorized: X1 (state B1), no energy offered
    assert [e[1] for e in rig.board.pilot_log] == ["X1"]
    assert rig.manager.state is ManagerState.PLUGGED
    rig.send(IdTokenPresented(id_token=CARD))
    # accepted: PWM at 16 A, duty 16 / 0.6 = 26.67 % (IEC 61851-1 Table A.8)
    (pwm,) = [e for e in rig.board.pilot_log if e[1] == "X2"]
    assert pwm[0] == 3.0 and pwm[2] == pytest.approx(16 / 0.6)
    rig.run(60.0)
    # the car went to C, the contactor closed (well within 3 s of C2), the meter saw 16 A on three phases
    assert rig.vehicle.state.value == "C"
    (closed_at, closed), = rig.board.relay_log
    assert closed and closed_at - pwm[0] <= 3.0
    _relays_only_in_c_with_pwm(rig)
    assert rig.meter.current == pytest.approx(16.0)
    assert rig.manager.state is ManagerState.CHARGING and rig.manager.flowing
    assert rig.energy_states() == ["Charging"]
    # the same card again ends the session (OCPP 2.0.1 E07, 1.6 section 3.5): the PWM stops (X1), the car
    # stops drawing and goes back to B, the contactor opens
    stop_at = rig.now
    rig.send(IdTokenPresented(id_token=CARD))
    assert rig.board.output.name == "X1"
    rig.run(70.0)
    assert rig.board.relay_log[-1][1] is False
    assert rig.board.relay_log[-1][0] - stop_at <= 6.0  # IEC 61851-1 seq. 10.2: off within 6 s of the PWM's end
    assert rig.energy_states() == ["Charging", "SuspendedEVSE"]  # the charger withdrew the energy
    rig.act(Unplug())
    rig.run(75.0)
    if version == "1.6":
        (stop,) = rig.calls("StopTransaction")
        assert stop["reason"] == "Local"  # 1.6 section 4.10: stopped by a local idTag
        assert rig.statuses() == [(s, "NoError") for s in
                                  ("Available", "Preparing", "Charging", "Finishing", "Available")]
    else:
        ended = [p for p in rig.calls("TransactionEvent") if p["eventType"] == "Ended"]
        assert len(ended) == 1
        assert ended[0]["transactionInfo"]["stoppedReason"] == "Local"
        assert ended[0]["triggerReason"] == "StopAuthorized"
        assert rig.statuses() == [("Available", None), ("Occupied", None), ("Available", None)]
    # the next car waits for its own authorization: X1 again after the unplug
    assert rig.manager.state is ManagerState.AVAILABLE
    rig.act(PlugIn())
    rig.run(80.0)
    assert rig.board.output.name == "X1"


def test_the_car_stopping_is_suspended_ev() -> None:
    rig = Rig(version="1.6")
    _charging(rig)
    rig.act(SetReady(ready=False))  # the car is full: it leaves C with the PWM still on
    rig.run(65.0)
    assert rig.board.output.name == "X2" and rig.vehicle.state.value == "B"
    assert rig.energy_states() == ["Charging", "SuspendedEV"]
    assert rig.statuses()[-1] == ("SuspendedEV", "NoError")  # 1.6 section 4.9: the EV does not take energy


def test_a_limit_below_6_a_pauses_and_6_a_or_more_resumes() -> None:
    rig = Rig()
    _charging(rig)
    t0 = rig.now
    rig.send(SetAcCurrentLimit(amps=5.0))
    # no duty cycle stands for less than 6 A (IEC 61851-1 Table A.8): X1 at once; the charger withdrew the energy
    assert rig.board.output.name == "X1"
    assert rig.energy_states() == ["Charging", "SuspendedEVSE"]
    rig.run(t0 + 10.0)
    assert rig.board.relays_closed is False and rig.meter.current == 0.0
    t1 = rig.now
    rig.send(SetAcCurrentLimit(amps=10.0))
    rig.run(t1 + 20.0)
    duties = [e[2] for e in rig.pilot_since(t1) if e[1] == "X2"]
    assert duties and duties[0] == pytest.approx(10 / 0.6)  # 16.67 %
    assert rig.board.relays_closed and rig.meter.current == pytest.approx(10.0)
    _relays_only_in_c_with_pwm(rig)


def test_a_lower_limit_waits_five_seconds_after_the_last_duty_change() -> None:
    rig = Rig()
    rig.run(1.0)
    rig.act(PlugIn())
    rig.run(2.0)
    rig.send(IdTokenPresented(id_token=CARD))  # PWM at 2.0 s
    rig.run(3.0)
    rig.send(SetAcCurrentLimit(amps=10.0))
    rig.run(20.0)
    changes = [e for e in rig.board.pilot_log if e[1] == "X2"]
    assert [round(e[2], 2) for e in changes] == [26.67, 16.67]
    # IEC 61851-1 (EVerest IEC_PWM_MAX_UPDATE_INTERVAL): at least 5 s between two duty cycles
    assert changes[1][0] - changes[0][0] == pytest.approx(5.0)


@pytest.mark.parametrize("phase", ["plugged", "offered", "charging"])
def test_rcd_trip_in_each_phase(phase: str) -> None:
    rig = Rig(version="1.6", trip_stop_reason="EmergencyStop")
    rig.run(1.0)
    rig.act(PlugIn())
    rig.run(3.0)
    if phase == "offered":
        rig.act(SetReady(ready=False))  # PWM on, the car stays in B
    if phase in ("offered", "charging"):
        rig.send(IdTokenPresented(id_token=CARD))
    rig.run(30.0)
    assert rig.board.relays_closed is (phase == "charging")
    rig.board.inject_rcd(30.0)
    rig.run(30.0)
    # power off at the instant of the trip, F shown (an EVSE error), the connector Faulted (1.6 GroundFailure)
    assert rig.board.relays_closed is False and rig.board.output.name == "F"
    (fault,) = rig.manager.faults
    assert fault.power_off_at == fault.at == 30.0
    raised = [c for _, c in rig.inputs if isinstance(c, cp.FaultRaised)]
    assert [(c.error_code, c.ev_side) for c in raised] == [("GroundFailure", False)]
    # F for at least 300 ms (IEC 61851-1:2017 Table A.5), then X1: no PWM while the RCD stays tripped
    rig.run(40.0)
    f_at, = [e[0] for e in rig.board.pilot_log if e[1] == "F"]
    after = rig.pilot_since(f_at)
    assert after[1][1] == "X1" and after[1][0] - f_at >= 0.3
    assert [e[1] for e in after] == ["F", "X1"]
    statuses = rig.statuses()
    assert ("Faulted", "GroundFailure") in statuses
    if phase != "plugged":  # a transaction ran: the trip ended it (the reason the station was configured with)
        (stop,) = rig.calls("StopTransaction")
        assert stop["reason"] == "EmergencyStop"
    # a card now does not bring the PWM back while the car stays plugged in
    rig.send(IdTokenPresented(id_token="0BADCAFE"))
    rig.run(50.0)
    assert rig.board.output.name == "X1" and not rig.board.relays_closed
    # the unplug clears the trip (the board says so); the next session charges again
    rig.act(Unplug())
    rig.run(52.0)
    assert not rig.board.tripped
    assert rig.statuses()[-1] == ("Available", "NoError")
    rig.act(SetReady(ready=True))
    rig.act(PlugIn())
    rig.run(53.0)
    rig.send(IdTokenPresented(id_token=CARD))
    rig.run(70.0)
    assert rig.board.relays_closed and rig.meter.current == pytest.approx(16.0)
    _relays_only_in_c_with_pwm(rig)


def test_a_2_0_1_trip_ends_the_transaction_with_ground_fault() -> None:
    rig = Rig(version="2.0.1")
    _charging(rig)
    rig.board.inject_rcd(rig.now)
    rig.run(rig.now + 5.0)
    ended = [p for p in rig.calls("TransactionEvent") if p["eventType"] == "Ended"]
    assert ended and ended[0]["transactionInfo"]["stoppedReason"] == "GroundFault"  # 2.0.1 ReasonEnumType
    # Faulted while F is shown, then Occupied: the transaction is over and the cable still in
    assert rig.statuses() == [("Available", None), ("Occupied", None), ("Faulted", None), ("Occupied", None)]


def test_a_missing_diode_is_a_vehicle_side_fault() -> None:
    rig = Rig(version="1.6")
    _charging(rig)
    rig.act(SetDiodeFault(fault=True))
    rig.run(rig.now + 2.0)
    raised = [c for _, c in rig.inputs if isinstance(c, cp.FaultRaised)]
    assert len(raised) == 1 and raised[0].ev_side and raised[0].error_code == "EVCommunicationError"
    assert not rig.board.relays_closed
    # 1.6 section 4.9: an EV-side problem is SuspendedEVSE with errorCode EVCommunicationError, not Faulted
    assert rig.statuses()[-1] == ("SuspendedEVSE", "EVCommunicationError")
    assert "Faulted" not in [s for s, _ in rig.statuses()]
    rig.act(Unplug())
    rig.run(rig.now + 2.0)
    cleared = [c for _, c in rig.inputs if isinstance(c, cp.FaultCleared)]
    assert [c.ev_side for c in cleared] == [True]
    assert rig.statuses()[-1] == ("Available", "NoError")


def test_free_charging_offers_pwm_at_plug_in() -> None:
    rig = Rig(free_charging=True)
    rig.run(1.0)
    rig.act(PlugIn())
    rig.run(10.0)
    assert rig.board.relays_closed and rig.meter.current == pytest.approx(16.0)
    assert not rig.calls("Authorize")


def test_a_refused_card_offers_nothing() -> None:
    def refuse(call: OcppCall, now: float) -> dict[str, Any] | None:
        if call.action == "Authorize":
            return {"idTokenInfo": {"status": "Invalid"}}
        return accept_all(call, now)

    rig = Rig(csms=refuse)
    rig.run(1.0)
    rig.act(PlugIn())
    rig.run(3.0)
    rig.send(IdTokenPresented(id_token=CARD))
    rig.run(30.0)
    assert [e[1] for e in rig.board.pilot_log] == ["X1"] and not rig.board.relay_log


def test_remote_start_offers_pwm() -> None:
    rig = Rig()
    rig.run(1.0)
    rig.act(PlugIn())
    rig.run(3.0)
    assert rig.station.remote_start({"idToken": CARD, "type": "Central"}, remote_start_id=7) == "Accepted"
    rig.pump()
    rig.run(30.0)
    assert rig.board.relays_closed and rig.meter.current == pytest.approx(16.0)


def test_set_current_limit_is_for_basic_charging_only() -> None:
    board = SimBoard(Vehicle(VehicleConfig()))
    manager = EvseManager(EvseManagerConfig(energy="ac"), board=board, clock=WallClock.at(0.0, datetime(
        2026, 1, 1, tzinfo=UTC)), rng=random.Random(1), now=0.0, meter=AcMeterSim(board))
    with pytest.raises(LocalProtocolError):
        manager.send(SetAcCurrentLimit(amps=10.0), 0.0)


def test_an_over_current_trip_is_a_fault_too() -> None:
    rig = Rig(version="2.0.1")
    _charging(rig)
    rig.board.inject_trip(rig.now, BoardErrorKind.OVER_CURRENT)
    rig.run(rig.now + 0.1)
    raised = [c for _, c in rig.inputs if isinstance(c, cp.FaultRaised)]
    assert [(c.error_code, c.stop_reason) for c in raised] == [("OverCurrentFailure", "OvercurrentFault")]
    assert rig.board.output.name == "F" and not rig.board.relays_closed
