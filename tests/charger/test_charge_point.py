"""The EVSE manager composed with the charge-point core: the OCPP messages of a DC session are the core's and the
transaction manager's, in OCPP 1.6 or 2.0.1, and the core's decisions (a remote stop, a card, availability) reach the
charging. Every message is checked against the JSON schema of its version."""

from __future__ import annotations

from typing import Any

import pytest

from evcharge.charger import EvseManagerConfig, IdTokenPresented, ManagerState
from evcharge.charger.sim.bench import Bench
from evcharge.charger.sim.car import CarConfig

from .ocpp_check import checked_calls


def _statuses(bench: Bench) -> list[str]:
    return [p.get("status", p.get("connectorStatus")) for p in checked_calls(bench, "StatusNotification")]


def _dedup(values: list[Any]) -> list[Any]:
    return [v for i, v in enumerate(values) if i == 0 or values[i - 1] != v]


def _charge_until_energy(bench: Bench) -> None:
    bench.plug_in()
    bench.send(IdTokenPresented(id_token="04A2B3C4"))
    bench.run(until=60.0, stop=lambda: bench.manager.state is ManagerState.CHARGING and bench.power.present_current > 0)
    bench.run(until=bench.now + 5.0)
    assert bench.power.present_current > 0


def test_ocpp16_dc_session() -> None:
    """OCPP 1.6: StartTransaction once plugged in and authorized (1.6 section 5.3 / 4.8), MeterValues of the
    transaction with its id and the state of charge, StopTransaction with meterStop; the connector goes
    Available -> Preparing -> Charging -> SuspendedEV -> Finishing -> Available (1.6 section 4.9)."""
    bench = Bench(EvseManagerConfig(ocpp_version="1.6"), CarConfig(protocol="iso2", charge_seconds=25.0))
    bench.plug_in()
    bench.run(until=2.0)
    bench.send(IdTokenPresented(id_token="04A2B3C4"))
    bench.run(until=90.0, stop=lambda: bench.car.ended is not None)
    bench.run(until=bench.now + 3.0)
    bench.unplug()
    assert bench.car.ended is not None and bench.car.ended.normal
    assert checked_calls(bench, "Authorize") == [{"idTag": "04A2B3C4"}]
    (start,) = checked_calls(bench, "StartTransaction")
    assert start["idTag"] == "04A2B3C4" and start["connectorId"] == 1 and start["meterStart"] == 0
    (stop,) = checked_calls(bench, "StopTransaction")
    assert stop["transactionId"] == 1  # the id the CSMS gave in its StartTransaction answer
    assert stop["meterStop"] == round(bench.manager.energy_wh) > 0
    samples = [(mv["transactionId"], sv["measurand"]) for mv in checked_calls(bench, "MeterValues")
               for m in mv["meterValue"] for sv in m["sampledValue"]]
    assert (1, "SoC") in samples and (1, "Voltage") in samples
    assert _dedup(_statuses(bench)) == ["Available", "Preparing", "Charging", "SuspendedEV", "Finishing", "Available"]
    # 1.6 has no NotifyEVChargingNeeds: the SECC got the charger's own limits at once
    assert not checked_calls(bench, "NotifyEVChargingNeeds")


def test_ocpp16_isolation_fault() -> None:
    """1.6: the fault is the StatusNotification's errorCode (GroundFailure) with the connector Faulted (4.9); the
    transaction stops with reason Other (1.6 has no GroundFault reason); there is no NotifyEvent in 1.6."""
    bench = Bench(EvseManagerConfig(ocpp_version="1.6"), CarConfig(protocol="din"))
    bench.imd.inject_fault(10_000.0)
    bench.plug_in()
    bench.send(IdTokenPresented(id_token="04A2B3C4"))
    bench.run(until=20.0, stop=lambda: bench.car.ended is not None)
    faulted = [p for p in checked_calls(bench, "StatusNotification") if p["status"] == "Faulted"]
    assert faulted and faulted[0]["errorCode"] == "GroundFailure" and "isolation" in faulted[0]["info"]
    assert checked_calls(bench, "StopTransaction")[0]["reason"] == "Other"
    assert not checked_calls(bench, "NotifyEvent")
    bench.run(until=bench.now + 1.0)
    bench.unplug()
    assert _statuses(bench)[-1] == "Available"


def test_ocpp201_fault_notify_event_and_clearing() -> None:
    """2.0.1: the charger fault is a NotifyEvent of the EVSE's Problem variable (N07: trigger Alerting,
    actualValue true), cleared with actualValue false and cleared true when the EVSE is whole again; the
    StatusNotification carries Faulted, then Available."""
    bench = Bench(EvseManagerConfig(), CarConfig(protocol="din"))
    bench.imd.inject_fault(10_000.0)
    bench.plug_in()
    bench.send(IdTokenPresented(id_token="04A2B3C4"))
    bench.run(until=20.0, stop=lambda: bench.car.ended is not None)
    bench.run(until=bench.now + 1.0)
    bench.unplug()
    raised, cleared = (p["eventData"][0] for p in checked_calls(bench, "NotifyEvent"))
    assert raised["trigger"] == "Alerting" and raised["actualValue"] == "true" and raised["techCode"] == "isolation"
    assert raised["component"] == {"name": "EVSE", "evse": {"id": 1}} and raised["variable"] == {"name": "Problem"}
    assert cleared["actualValue"] == "false" and cleared["cleared"] is True
    assert _dedup(_statuses(bench))[-2:] == ["Faulted", "Available"]


def test_remote_stop_ends_the_v2g_session() -> None:
    """2.0.1 F03: RequestStopTransaction of the running transaction is Accepted; the transaction ends with
    stoppedReason Remote (triggerReason RemoteStop) and the charger stops the energy: the car is asked to stop
    (EVSENotification StopCharging), its session ends and the output goes off."""
    bench = Bench(EvseManagerConfig(), CarConfig(protocol="iso2", charge_seconds=120.0))
    _charge_until_energy(bench)
    assert bench.station.remote_stop() == "Accepted"
    bench.run(until=bench.now + 15.0, stop=lambda: bench.car.ended is not None)
    bench.run(until=bench.now + 3.0)
    ended = checked_calls(bench, "TransactionEvent")[-1]
    assert ended["eventType"] == "Ended" and ended["triggerReason"] == "RemoteStop"
    assert ended["transactionInfo"]["stoppedReason"] == "Remote"
    assert bench.car.ended is not None and bench.now < 120.0
    assert not bench.power.on and bench.power.present_current == 0.0
    assert bench.manager.state is ManagerState.FINISHED


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
def test_the_same_card_ends_the_session(version: str) -> None:
    """1.6 section 3.5 / 2.0.1 E07: the identifier that started the session ends it when presented again (1.6
    StopTransaction reason Local; 2.0.1 Ended, stoppedReason Local, triggerReason StopAuthorized); the charger
    stops the energy. Another card, not of the same group, ends nothing."""
    bench = Bench(EvseManagerConfig(ocpp_version=version), CarConfig(protocol="iso2", charge_seconds=120.0))
    _charge_until_energy(bench)
    bench.send(IdTokenPresented(id_token="FFFF0001"))  # somebody else's card
    bench.run(until=bench.now + 3.0)
    assert bench.power.present_current > 0 and bench.car.ended is None
    assert not bench.manager.awaiting_csms  # its verdict came
    bench.send(IdTokenPresented(id_token="04A2B3C4"))
    bench.run(until=bench.now + 15.0, stop=lambda: bench.car.ended is not None)
    bench.run(until=bench.now + 3.0)
    if version == "1.6":
        assert checked_calls(bench, "StopTransaction")[-1]["reason"] == "Local"
    else:
        ended = checked_calls(bench, "TransactionEvent")[-1]
        assert ended["eventType"] == "Ended" and ended["transactionInfo"]["stoppedReason"] == "Local"
        assert ended["triggerReason"] == "StopAuthorized"
    assert bench.car.ended is not None and not bench.power.on
    assert not bench.manager.awaiting_csms  # the card that ended the session gets no verdict: nothing is awaited


def test_change_availability_waits_for_the_session() -> None:
    """2.0.1 G03 / 1.6 5.2: ChangeAvailability Inoperative during a transaction is Scheduled; once the transaction
    ended the EVSE becomes Unavailable (StatusNotification) and the manager takes no new session."""
    bench = Bench(EvseManagerConfig(), CarConfig(protocol="din", charge_seconds=10.0))
    _charge_until_energy(bench)
    assert bench.station.change_availability(1, operative=False) == "Scheduled"
    bench.run(until=bench.now + 60.0, stop=lambda: bench.car.ended is not None)
    bench.run(until=bench.now + 3.0)
    bench.unplug()
    assert _statuses(bench)[-1] == "Unavailable"
    assert bench.manager.state is ManagerState.UNAVAILABLE
    assert bench.station.change_availability(1, operative=True) == "Accepted"
    bench.run(until=bench.now + 1.0)
    assert bench.manager.state is ManagerState.AVAILABLE and _statuses(bench)[-1] == "Available"


def test_charging_rate_changed_after_a_new_profile() -> None:
    """2.0.1: a new limit applied during the charge loop is a TransactionEvent Updated with triggerReason
    ChargingRateChanged (TriggerReasonEnumType), with the meter's present values."""
    from evcharge.charger import SetChargingProfile

    bench = Bench(EvseManagerConfig(), CarConfig(protocol="iso2", charge_seconds=60.0))
    _charge_until_energy(bench)
    bench.send(SetChargingProfile(profile={
        "id": 7, "stackLevel": 1, "chargingProfilePurpose": "TxProfile", "chargingProfileKind": "Relative",
        "chargingSchedule": [{"id": 7, "chargingRateUnit": "W",
                              "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 5000.0}]}]}))
    changed = [e for e in checked_calls(bench, "TransactionEvent") if e["triggerReason"] == "ChargingRateChanged"]
    assert len(changed) == 1 and changed[0]["eventType"] == "Updated"
    measurands = {sv["measurand"] for m in changed[0]["meterValue"] for sv in m["sampledValue"]}
    assert {"Energy.Active.Import.Register", "Power.Active.Import", "SoC"} <= measurands


def test_bpt_charge_channel_takes_no_energy_back() -> None:
    """ISO 15118-20 DC_BPT: the direction is the BPT_ChannelSelection of PowerDelivery(Start); a car that asks for
    a negative current while on the Charge channel gets none (the charger does not discharge against the
    channel the car chose)."""
    bench = Bench(EvseManagerConfig(energy="dc-bpt", free_charging=True),
                  CarConfig(protocol="iso20", charge_seconds=30.0, discharge_after=10.0,
                            discharge_by_power_delivery=False))
    bench.plug_in()
    bench.run(until=90.0, stop=lambda: bench.car.ended is not None)
    assert min(a for _, _, a, _ in bench.samples) >= 0.0
    assert bench.manager.energy_returned_wh == 0.0 and bench.manager.energy_wh > 0


def test_dynamic_bpt_follows_the_site_setpoint() -> None:
    """ISO 15118-20 DC_BPT in dynamic control mode: the charger decides the power of each charge loop within the
    car's limits (BPT_Dynamic_DC_CLReqControlMode: EVMaximumDischargePower / -Current); a negative setpoint of the
    site discharges the car, bounded by its discharge limits; None charges again."""
    from evcharge.charger import SetPowerSetpoint
    from evcharge.iso15118.engines.iso20 import ControlMode

    car = CarConfig(protocol="iso20", charge_seconds=60.0, discharge_after=1_000.0, control_mode=ControlMode.DYNAMIC,
                    max_discharge_current=30.0, max_discharge_power=11_000.0)
    bench = Bench(EvseManagerConfig(energy="dc-bpt", free_charging=True), car)
    bench.plug_in()
    bench.run(until=60.0, stop=lambda: bench.manager.state is ManagerState.CHARGING and bench.power.present_current > 0)
    bench.run(until=bench.now + 3.0)
    assert bench.power.present_current > 0
    bench.send(SetPowerSetpoint(watts=-4_000.0))
    bench.run(until=bench.now + 3.0)
    volts, amps = bench.power.present_voltage, bench.power.present_current
    assert amps < 0 and abs(volts * amps) == pytest.approx(4_000.0, rel=0.02)
    bench.send(SetPowerSetpoint(watts=-50_000.0))  # more than the car gives: its 30 A / 11 kW bound it
    bench.run(until=bench.now + 3.0)
    assert bench.power.present_current == pytest.approx(-min(30.0, 11_000.0 / bench.power.present_voltage), rel=0.02)
    bench.send(SetPowerSetpoint(watts=None))
    bench.run(until=bench.now + 3.0)
    assert bench.power.present_current > 0
    assert bench.manager.energy_returned_wh > 0
