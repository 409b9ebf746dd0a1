"""VehicleCheckIn / VehicleCheckOut (-20 CommonMessages): after ServiceSelection and before SessionStop, the charger
application answers (parking space, check-out status), a FAILED answer ends the session, out of order is
FAILED_SequenceError."""

from __future__ import annotations

from typing import Any

import pytest

from evcharge.errors import LocalProtocolError
from evcharge.iso15118.engines import events as ev
from evcharge.iso15118.engines.iso20 import ControlMode, EnergyService, Iso20EvccState, Iso20SeccState, _msgs
from evcharge.iso15118.engines.iso20 import events as ev20
from evcharge.iso15118.iso20 import common

from .conftest import Charger, answers, drive_to, engines, names, request, run

S = Iso20SeccState


class ParkingCharger(Charger):
    """Parks the car in space 7 at 120 (device location 3), lets it leave after one Scheduled answer."""

    def __init__(self, *, check_in: ev20.SetVehicleCheckIn | None = None, scheduled: int = 1) -> None:
        super().__init__()
        self.check_in = check_in or ev20.SetVehicleCheckIn(parking_space=7, device_location=3, target_distance=120)
        self.scheduled = scheduled

    def __call__(self, engine: Any, event: Any, now: float) -> None:
        super().__call__(engine, event, now)
        if isinstance(event, ev20.ServiceSelected):
            engine.send(self.check_in, now)
        elif isinstance(event, ev.PowerDeliveryRequested) and event.action is ev.PowerAction.STOP:
            engine.send(ev20.SetVehicleCheckOut(status="Scheduled" if self.scheduled else "Completed"), now)
        elif isinstance(event, ev20.VehicleCheckOutRequested):
            self.scheduled -= 1
            engine.send(ev20.SetVehicleCheckOut(status="Scheduled" if self.scheduled > 0 else "Completed"), now)


@pytest.mark.parametrize("service", [EnergyService.AC, EnergyService.DC], ids=lambda s: s.cli_name)
def test_check_in_and_out_in_a_whole_session(service: EnergyService) -> None:
    secc, evcc = engines(
        service,
        evcc={"vehicle_check_in": "AutoParking", "check_in_processing": 2, "vehicle_check_out": True},
    )
    charger = ParkingCharger(scheduled=2)
    car: list[Any] = []
    run(secc, evcc, charger, lambda engine, event, now: car.append(event))
    sent = names(evcc)
    p = "DC_" if service.is_dc else "AC_"
    i = sent.index("ServiceSelectionReq")
    # CheckIn, Processing twice, Completed; then ChargeParameterDiscovery
    assert sent[i + 1 : i + 6] == ["VehicleCheckInReq"] * 4 + [p + "ChargeParameterDiscoveryReq"]
    # after PowerDelivery(Stop) (and welding detection): CheckOut answered Scheduled twice, then Completed
    assert sent[-4:] == ["VehicleCheckOutReq"] * 3 + ["SessionStopReq"]
    assert names(secc) == [n[:-3] + "Res" for n in sent]
    assert secc.ended is not None and secc.ended.normal and evcc.ended is not None and evcc.ended.normal

    check_ins = charger.of(ev20.VehicleCheckInRequested)
    assert [e.status for e in check_ins] == ["CheckIn", "Processing", "Processing", "Completed"]
    assert {e.parking_method for e in check_ins} == {"AutoParking"}
    assert all(e.deadline == pytest.approx(e.received_at + 1.5) for e in check_ins)
    answered = [e for e in car if isinstance(e, ev20.VehicleCheckInAnswered)]
    assert [(e.parking_space, e.device_location, e.target_distance) for e in answered] == [(7, 3, 120)] * 4
    check_outs = charger.of(ev20.VehicleCheckOutRequested)
    assert [e.status for e in check_outs] == ["CheckOut", "Processing", "Processing"]
    # CheckOutTime: the car's Unix time (the test clock starts 2026-12-07 12:00 UTC)
    assert all(e.check_out_time >= 1_796_644_800 for e in check_outs)
    outs = [e for e in car if isinstance(e, ev20.VehicleCheckOutAnswered)]
    assert [e.evse_status for e in outs] == ["Scheduled", "Scheduled", "Completed"]


def test_no_check_in_unless_the_car_wants_it() -> None:
    secc, evcc = engines(EnergyService.DC)
    run(secc, evcc, ParkingCharger())
    assert not {"VehicleCheckInReq", "VehicleCheckOutReq"} & set(names(evcc))


def test_pause_does_not_check_out() -> None:
    """SessionStop(Pause): the car stays, so it does not check out."""
    secc, evcc = engines(EnergyService.AC, evcc={"vehicle_check_out": True})

    def car(engine: Any, event: Any, now: float) -> None:
        if isinstance(event, ev20.Iso20ChargeLoopStatus):
            engine.send(ev.StopCharging(pause=True), now)

    run(secc, evcc, ParkingCharger(), car)
    assert "VehicleCheckOutReq" not in names(evcc)
    assert secc.ended is not None and secc.ended.paused


def test_check_in_refused_is_failed() -> None:
    secc, evcc = engines(EnergyService.DC, evcc={"vehicle_check_in": "Manual"})
    charger = ParkingCharger(check_in=ev20.SetVehicleCheckIn(response_code="FAILED"))
    run(secc, evcc, charger)
    assert names(secc)[-1] == "VehicleCheckInRes"
    res = secc.trace[-1].message
    assert res.response_code is common.ResponseCode.FAILED
    # [V2G2-736] style body: only the mandatory fields
    assert (res.parking_space, res.device_location, res.target_distance) == (None, None, None)
    assert secc.ended is not None and not secc.ended.normal and secc.ended.response_code == "FAILED"
    assert evcc.ended is not None and not evcc.ended.normal and evcc.ended.response_code == "FAILED"
    assert [e.response_code for e in charger.of(ev.RequestRejected)] == ["FAILED"]


def test_check_out_refused_is_failed() -> None:
    secc, evcc = engines(EnergyService.AC, evcc={"vehicle_check_out": True})

    class Refusing(Charger):
        def __call__(self, engine: Any, event: Any, now: float) -> None:
            super().__call__(engine, event, now)
            if isinstance(event, ev.PowerDeliveryRequested) and event.action is ev.PowerAction.STOP:
                engine.send(ev20.SetVehicleCheckOut(response_code="FAILED"), now)

    run(secc, evcc, Refusing())
    assert names(evcc)[-1] == "VehicleCheckOutReq" and names(secc)[-1] == "VehicleCheckOutRes"
    assert secc.trace[-1].message.response_code is common.ResponseCode.FAILED
    assert evcc.ended is not None and evcc.ended.response_code == "FAILED"


def test_check_out_scheduled_forever_ends_on_the_ongoing_timeout() -> None:
    secc, evcc = engines(
        EnergyService.AC,
        evcc={"vehicle_check_out": True, "ongoing_interval": 1.0},
    )
    run(secc, evcc, ParkingCharger(scheduled=10**9))
    assert evcc.ended is not None and not evcc.ended.normal
    assert evcc.ended.reason.startswith("V2G_EVCC_Ongoing_Timeout")
    assert 55 <= names(evcc).count("VehicleCheckOutReq") <= 62  # one a second for 60 s


def test_check_in_response_timeout() -> None:
    """The car waits 2 s for VehicleCheckInRes (Josev's -20 default for it)."""
    secc, evcc = engines(EnergyService.DC, evcc={"vehicle_check_in": "Manual"})
    drive_to(secc, evcc, S.CHARGE_PARAMETERS)
    for ptype, payload in secc.payloads_to_send():
        evcc.receive_payload(ptype, payload, 0.0)
    assert evcc.state is Iso20EvccState.VEHICLE_CHECK_IN  # the request sent, its response withheld
    assert evcc.get_timer() == pytest.approx(2.0)
    evcc.handle_timer(2.0)
    assert evcc.ended is not None and "VehicleCheckInRes" in evcc.ended.reason


@pytest.mark.parametrize(
    ("state", "name"),
    [
        (S.SERVICE_SELECTION, "VehicleCheckIn"),  # before ServiceSelection
        (S.SCHEDULE_EXCHANGE, "VehicleCheckIn"),  # after ChargeParameterDiscovery
        (S.CHARGE_PARAMETERS, "VehicleCheckOut"),
        (S.CHARGING, "VehicleCheckOut"),  # before PowerDelivery(Stop)
        (S.CHARGING, "VehicleCheckIn"),
        (S.STOPPED, "VehicleCheckIn"),
    ],
)
def test_out_of_order_is_a_sequence_error(state: Iso20SeccState, name: str) -> None:
    secc, evcc = engines(EnergyService.DC)
    now = drive_to(secc, evcc, state)
    secc.payloads_to_send()
    ptype, exi = request(name, True, secc.session_id)
    secc.receive_payload(ptype, exi, now)
    (res,) = answers(secc)
    assert _msgs.response_name(res) == name and res.response_code is common.ResponseCode.FAILED_SequenceError
    assert secc.ended is not None and not secc.ended.normal


@pytest.mark.parametrize(("state", "name"), [(S.CHARGE_PARAMETERS, "VehicleCheckIn"), (S.STOPPED, "VehicleCheckOut")])
def test_switched_off_is_a_sequence_error(state: Iso20SeccState, name: str) -> None:
    secc, evcc = engines(EnergyService.DC, secc={"vehicle_check_in_out": False})
    now = drive_to(secc, evcc, state)
    secc.payloads_to_send()
    ptype, exi = request(name, True, secc.session_id)
    secc.receive_payload(ptype, exi, now)
    (res,) = answers(secc)
    assert res.response_code is common.ResponseCode.FAILED_SequenceError


def test_in_order_they_are_answered_ok() -> None:
    secc, evcc = engines(EnergyService.DC, ControlMode.DYNAMIC)
    now = drive_to(secc, evcc, S.CHARGE_PARAMETERS)
    secc.payloads_to_send()
    ptype, exi = request("VehicleCheckIn", True, secc.session_id)
    secc.receive_payload(ptype, exi, now)
    (res,) = answers(secc)
    assert res.response_code is common.ResponseCode.OK and secc.state is S.CHARGE_PARAMETERS
    assert secc.ended is None


def test_application_misuse() -> None:
    secc, _ = engines(EnergyService.DC)
    with pytest.raises(LocalProtocolError):
        secc.send(ev20.SetVehicleCheckOut(status="Done"), 0.0)
    with pytest.raises(LocalProtocolError):
        secc.send(ev20.SetVehicleCheckIn(response_code="NOPE"), 0.0)
