"""The EVSE manager against a simulated car, in one process: DIN 70121 and ISO 15118-2 DC, EIM, faults."""

from __future__ import annotations

import pytest

from evcharge.charger import (
    EvseManagerConfig,
    FaultDetected,
    FaultKind,
    IdTokenPresented,
    ManagerState,
    PowerSwitched,
)
from evcharge.charger.sim.bench import Bench
from evcharge.charger.sim.car import CarConfig

from .ocpp_check import checked_calls


def _calls(bench: Bench, action: str) -> list[dict]:
    return checked_calls(bench, action)


def _tx(bench: Bench) -> list[dict]:
    return _calls(bench, "TransactionEvent")


@pytest.mark.parametrize("protocol", ["din", "iso2", "iso20"])
def test_dc_eim_session_with_rfid(protocol: str) -> None:
    bench = Bench(EvseManagerConfig(), CarConfig(protocol=protocol, charge_seconds=20.0, capacity_wh=10_000.0))
    bench.plug_in()
    bench.run(until=2.0)
    # no token yet: the SECC answers Authorization with Ongoing, nothing is powered
    assert bench.manager.state is ManagerState.V2G
    assert not bench.power.on
    bench.send(IdTokenPresented(id_token="04A2B3C4"))
    bench.run(until=60.0, stop=lambda: bench.car.ended is not None)
    bench.run(until=bench.now + 3.0)
    assert bench.car.ended is not None and bench.car.ended.normal
    assert bench.manager.state is ManagerState.FINISHED
    events = _tx(bench)
    assert events[0]["eventType"] == "Started" and events[-1]["eventType"] == "Ended"
    assert events[-1]["transactionInfo"]["stoppedReason"] == "StoppedByEV"
    # seqNo counts up from 0 without gaps (OCPP 2.0.1 E01.FR.16 / E03)
    assert [e["seqNo"] for e in events] == list(range(len(events)))
    authorized = [e for e in events if e["triggerReason"] == "Authorized"]
    assert authorized and authorized[0]["idToken"] == {"idToken": "04A2B3C4", "type": "ISO14443"}
    assert _calls(bench, "Authorize")[0]["idToken"]["idToken"] == "04A2B3C4"
    # the state of charge travels in the transaction's meter values
    socs = [sv["value"] for e in events for mv in e.get("meterValue", []) for sv in mv["sampledValue"]
            if sv["measurand"] == "SoC"]
    assert socs and socs[-1] > socs[0]
    energy = next(sv["value"] for mv in events[-1]["meterValue"] for sv in mv["sampledValue"]
                  if sv["measurand"] == "Energy.Active.Import.Register")
    assert energy > 100.0
    # NotifyEVChargingNeeds carried the car's DC needs
    needs = _calls(bench, "NotifyEVChargingNeeds")[0]["chargingNeeds"]
    assert needs["dcChargingParameters"]["evMaxVoltage"] == 500.0
    # the output is off and the contactors open at the end
    assert not bench.power.on and not bench.board.relays_closed
    # PreCharge never exceeded 2 A (IEC 61851-23) and the output never exceeded the car's maximum voltage
    assert max(v for _, v, _, _ in bench.samples) <= 500.0


def test_isolation_fault_during_cable_check() -> None:
    bench = Bench(EvseManagerConfig(free_charging=True), CarConfig(protocol="din"))
    bench.imd.inject_fault(10_000.0)  # 10 kohm at 500 V = 20 ohm/V: a fault
    bench.plug_in()
    bench.run(until=20.0, stop=lambda: bench.car.ended is not None)
    bench.run(until=bench.now + 3.0)
    faults = [e for _, e in bench.events if isinstance(e, FaultDetected)]
    assert len(faults) == 1 and faults[0].kind is FaultKind.ISOLATION and faults[0].phase == "cable_check"
    assert faults[0].power_off_at - faults[0].at <= 0.1
    assert not bench.power.on and not bench.board.relays_closed
    # the SECC answers CableCheck with FAILED and the pilot shows F: the car's session ends, nothing was charged
    assert bench.car.evcc is not None and bench.car.evcc.state.value == "closed"
    assert bench.car.ended is None or not bench.car.ended.normal
    assert bench.power.present_current == 0.0 and bench.manager.energy_wh == 0.0
    events = _tx(bench)
    assert events[-1]["eventType"] == "Ended"
    assert events[-1]["triggerReason"] == "AbnormalCondition"
    assert events[-1]["transactionInfo"]["stoppedReason"] == "GroundFault"
    assert _calls(bench, "StatusNotification")[-1]["connectorStatus"] == "Faulted"
    assert _calls(bench, "NotifyEvent")[0]["eventData"][0]["techCode"] == "isolation"
    assert bench.manager.state is ManagerState.FAULTED
    bench.run(until=bench.now + 1.0)  # F for at least 300 ms, then X1: the pilot sees the unplug
    assert bench.manager.pilot.output.value == "X1"
    bench.unplug()
    assert bench.manager.state is ManagerState.AVAILABLE
    assert _calls(bench, "StatusNotification")[-1]["connectorStatus"] == "Available"


def test_over_voltage_in_the_charge_loop() -> None:
    bench = Bench(EvseManagerConfig(free_charging=True), CarConfig(protocol="iso2", charge_seconds=30.0))
    bench.power.inject_over_voltage(150.0, at=10.0)
    bench.plug_in()
    bench.run(until=40.0, stop=lambda: bench.car.ended is not None)
    faults = [e for _, e in bench.events if isinstance(e, FaultDetected)]
    assert len(faults) == 1 and faults[0].kind is FaultKind.OVER_VOLTAGE and faults[0].phase == "charging"
    assert 10.0 <= faults[0].at <= 10.3
    offs = [e for _, e in bench.events if isinstance(e, PowerSwitched) and not e.on]
    assert offs and offs[0].at == faults[0].at
    assert not bench.power.on
    assert _tx(bench)[-1]["transactionInfo"]["stoppedReason"] == "Other"


def test_rcd_trip_while_charging() -> None:
    bench = Bench(EvseManagerConfig(free_charging=True), CarConfig(protocol="din", charge_seconds=30.0))
    bench.board.inject_rcd(at=8.0)
    bench.plug_in()
    bench.run(until=8.1)
    faults = [e for _, e in bench.events if isinstance(e, FaultDetected)]
    assert faults and faults[0].kind is FaultKind.RCD and faults[0].at == 8.0
    assert not bench.power.on and not bench.board.relays_closed
    assert bench.manager.pilot.output.value == "F"  # the pilot shows F: EVSE not available
    assert _tx(bench)[-1]["transactionInfo"]["stoppedReason"] == "GroundFault"


def test_csms_that_never_answers_authorize_keeps_power_off() -> None:
    bench = Bench(EvseManagerConfig(), CarConfig(protocol="din"),
                  csms=lambda call, now: None if call.action == "Authorize" else {})
    bench.plug_in()
    bench.send(IdTokenPresented(id_token="CAFE"))
    bench.run(until=30.0)
    assert bench.manager.awaiting_csms
    assert [call.action for call in bench.unanswered] == ["Authorize"]
    assert not bench.power.on and not _calls(bench, "NotifyEVChargingNeeds")


def test_iso2_pause_and_resume() -> None:
    bench = Bench(EvseManagerConfig(free_charging=True),
                  CarConfig(protocol="iso2", pause_after=10.0, charge_seconds=10.0))
    bench.plug_in()
    bench.run(until=60.0, stop=lambda: bench.car.ended is not None)
    assert bench.car.ended is not None and bench.car.ended.paused
    bench.run(until=bench.now + 5.0)
    assert bench.manager.state is ManagerState.FINISHED and not bench.power.on
    states = [e["transactionInfo"]["chargingState"] for e in _tx(bench) if "chargingState" in e["transactionInfo"]]
    assert states[-1] == "SuspendedEV" and _tx(bench)[-1]["eventType"] == "Updated"
    bench.resume()
    bench.run(until=bench.now + 60.0, stop=lambda: bench.car.ended is not None)
    bench.run(until=bench.now + 3.0)
    from evcharge.iso15118.engines import events as ev

    started = [e for _, e in bench.car.events if isinstance(e, ev.SessionStarted)]
    assert len(started) == 2 and started[1].resumed and started[1].session_id == started[0].session_id
    events = _tx(bench)
    assert sum(e["eventType"] == "Started" for e in events) == 1  # one transaction across the pause
    assert events[-1]["eventType"] == "Ended" and events[-1]["transactionInfo"]["stoppedReason"] == "StoppedByEV"
    states = [e["transactionInfo"].get("chargingState") for e in events]
    assert states.index("SuspendedEV") < len(states) - 1 - states[::-1].index("Charging")


def test_remote_start_authorizes_without_a_token() -> None:
    bench = Bench(EvseManagerConfig(), CarConfig(protocol="din", charge_seconds=5.0))
    bench.plug_in()
    bench.run(until=3.0)
    assert not bench.power.on
    # the CSMS's RequestStartTransaction, decided by the charge-point core (AuthorizeRemoteStart false)
    assert bench.station.remote_start({"idToken": "APP-42", "type": "Central"}, remote_start_id=9) == "Accepted"
    bench.run(until=60.0, stop=lambda: bench.car.ended is not None)
    assert bench.car.ended is not None and bench.car.ended.normal
    remote = [e for e in _tx(bench) if e["triggerReason"] == "RemoteStart"]
    assert remote and remote[0]["transactionInfo"]["remoteStartId"] == 9
    assert remote[0]["idToken"] == {"idToken": "APP-42", "type": "Central"}
    assert not _calls(bench, "Authorize")  # the CSMS decided already: no Authorize (OCPP 2.0.1 F01)


@pytest.mark.parametrize("phase", ["slac", "v2g", "cable_check", "pre_charge", "charging"])
@pytest.mark.parametrize("kind", ["rcd", "isolation"])
def test_a_fault_in_each_phase_powers_off(phase: str, kind: str) -> None:
    """Whatever the phase, a fault ends with the output off, the contactors open, the pilot in F, the
    transaction Ended with the fault's reason, StatusNotification Faulted and a NotifyEvent."""
    bench = Bench(EvseManagerConfig(free_charging=True),
                  CarConfig(protocol="iso2", charge_seconds=5.0), self_test_time=1.0)
    bench.plug_in()
    if phase != "slac":
        bench.run(until=120.0, stop=lambda: bench.manager.state.value == phase)
    assert bench.manager.state.value == phase
    at = bench.now
    if kind == "rcd":
        bench.board.inject_rcd(at=at)
    else:  # the monitor keeps measuring while the output is on; before CableCheck it is not running yet
        bench.imd.running = True
        bench.imd.inject_fault(1_000.0, at=at)
    bench.run(until=at + 0.05)
    faults = [e for _, e in bench.events if isinstance(e, FaultDetected)]
    if kind == "isolation" and phase in ("slac", "v2g"):
        # no DC voltage is applied in these phases: nothing to measure against (the fault is seen at the
        # next CableCheck); the output stays off either way
        assert not bench.power.on
        return
    assert len(faults) == 1 and faults[0].phase == phase and faults[0].at == at
    assert faults[0].power_off_at == at
    assert not bench.power.on and not bench.board.relays_closed
    assert bench.manager.pilot.output.value == "F"
    ended = _tx(bench)[-1]
    assert ended["eventType"] == "Ended" and ended["triggerReason"] == "AbnormalCondition"
    assert ended["transactionInfo"]["stoppedReason"] == "GroundFault"
    assert _calls(bench, "StatusNotification")[-1]["connectorStatus"] == "Faulted"
    assert _calls(bench, "NotifyEvent")[-1]["eventData"][0]["techCode"] == kind
    # the car's session ends too (the SECC answered FAILED or the EVSE asked to stop), and no energy flows
    bench.run(until=at + 10.0)
    assert bench.power.present_current == 0.0
    if phase != "slac":
        assert bench.car.evcc is not None and bench.car.evcc.state.value == "closed"
        assert bench.manager.secc is not None and bench.manager.secc.state.value == "closed"
