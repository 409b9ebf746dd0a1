"""-20 timers with injected time (both sides), pause/resume, schedule and service renegotiation, standby,
metering confirmation, performance deadlines on the request events."""

from __future__ import annotations

from typing import Any

import pytest

from evcharge.iso15118.engines import Loopback
from evcharge.iso15118.engines import events as ev
from evcharge.iso15118.engines.iso20 import (
    ControlMode,
    EnergyService,
    Iso20Evcc,
    Iso20EvccConfig,
    Iso20EvccTimeouts,
    Iso20Secc,
    Iso20SeccConfig,
    Iso20SeccState,
    Iso20SeccTimeouts,
)
from evcharge.iso15118.engines.iso20 import events as ev20

from .conftest import CLOCK, Charger, drive_to, engines, handover, names, request, run

S = Iso20SeccState


def _drop(name: str, nth: int = 1) -> Any:
    """A Loopback tap that drops the ``nth`` payload whose decoded class is ``name``."""
    from evcharge.iso15118.engines.iso20 import _msgs

    seen = {"n": 0}

    def tap(direction: str, ptype: int, payload: bytes) -> bytes | None:
        if type(_msgs.module_for(ptype).decode(payload)).__name__ == name:
            seen["n"] += 1
            if seen["n"] == nth:
                return None
        return payload

    return tap


# -- EVCC message timeouts (Josev's -20 values) ------------------------------------------------------


@pytest.mark.parametrize(
    "dropped,timeout",
    [
        ("SessionSetupRes", 2.0),
        ("AuthorizationSetupRes", 2.0),
        ("ServiceDiscoveryRes", 2.0),
        ("ServiceDetailRes", 5.0),
        ("ServiceSelectionRes", 2.0),
        ("DC_ChargeParameterDiscoveryRes", 2.0),
        ("ScheduleExchangeRes", 2.0),
        ("DC_CableCheckRes", 2.0),
        ("DC_PreChargeRes", 2.0),
        ("PowerDeliveryRes", 2.0),
        ("DC_ChargeLoopRes", 0.5),
        ("DC_WeldingDetectionRes", 2.0),
        ("SessionStopRes", 2.0),
    ],
)
def test_evcc_message_timeouts(dropped: str, timeout: float) -> None:
    secc, evcc = engines(EnergyService.DC)
    sent_at: list[float] = []
    lb = Loopback(secc, evcc, secc_app=Charger(), tap=_drop(dropped))
    lb.run(until=100.0)
    assert evcc.ended is not None and not evcc.ended.normal
    assert "V2G_EVCC_Msg_Timeout" in evcc.ended.reason
    # the request whose answer was dropped went out at the time of the last tx trace entry
    last_tx = [t.time for t in evcc.trace if t.direction == "tx"][-1]
    sent_at.append(last_tx)
    assert evcc.close_at == pytest.approx(last_tx + timeout)


def test_evcc_timeouts_are_configurable() -> None:
    secc, _ = engines(EnergyService.AC)
    evcc = Iso20Evcc(
        handover(False),
        Iso20EvccConfig(service=EnergyService.AC, clock=CLOCK, trace=True, timeouts=Iso20EvccTimeouts(charge_loop=0.1)),
    )
    Loopback(secc, evcc, secc_app=Charger(), tap=_drop("AC_ChargeLoopRes", 2)).run(until=100.0)
    last_tx = [t.time for t in evcc.trace if t.direction == "tx"][-1]
    assert evcc.close_at == pytest.approx(last_tx + 0.1)


def test_evcc_ongoing_timeout() -> None:
    """The charger never authorizes: the car gives up after V2G_EVCC_Ongoing_Timeout (60 s)."""
    secc, evcc = engines(
        EnergyService.AC, evcc={"ongoing_interval": 1.0}, secc={"timeouts": Iso20SeccTimeouts(eim_ongoing=1000.0)}
    )
    Loopback(secc, evcc, secc_app=Charger(authorize=None)).run(until=500.0)
    assert evcc.ended is not None and "Ongoing" in evcc.ended.reason
    first = next(t.time for t in evcc.trace if t.name == "AuthorizationRes")
    assert evcc.close_at == pytest.approx(first + 60.0)


def test_evcc_communication_setup_timeout() -> None:
    evcc = Iso20Evcc(handover(True), Iso20EvccConfig(clock=CLOCK))
    evcc.payloads_to_send()
    assert evcc.get_timer() == pytest.approx(2.0)  # SessionSetupRes timeout comes first
    evcc._disarm("response")  # only the communication-setup timer is left
    assert evcc.get_timer() == pytest.approx(20.0)
    evcc.handle_timer(20.0)
    assert evcc.ended is not None and "CommunicationSetup" in evcc.ended.reason


# -- SECC timers ----------------------------------------------------------------------------------------


def test_secc_sequence_timeout() -> None:
    secc, evcc = engines(EnergyService.DC)
    now = drive_to(secc, evcc, S.SERVICE_DISCOVERY)
    assert secc.get_timer() == pytest.approx(now + 60.0)
    secc.handle_timer(now + 59.9)
    assert secc.ended is None
    secc.handle_timer(now + 60.0)
    assert secc.ended is not None and "Sequence" in secc.ended.reason and secc.close_at == now + 60.0


def test_secc_sequence_timeout_configurable() -> None:
    secc = Iso20Secc(handover(True, now=5.0), Iso20SeccConfig(clock=CLOCK, timeouts=Iso20SeccTimeouts(sequence=3.0)))
    assert secc.get_timer() == pytest.approx(8.0)


def test_secc_communication_setup_deadline() -> None:
    from evcharge.iso15118.handover import AppProtocol, HandOver

    ho = HandOver(
        protocol=AppProtocol.ISO20_DC,
        schema_id=1,
        version_minor=0,
        minor_deviation=False,
        tls=None,
        now=1.0,
        setup_deadline=19.0,
    )
    secc = Iso20Secc(ho, Iso20SeccConfig(clock=CLOCK))
    assert secc.get_timer() == 19.0
    secc.handle_timer(19.0)
    assert secc.ended is not None and "CommunicationSetup" in secc.ended.reason


@pytest.mark.parametrize(
    "state,request_name,limit,field",
    [
        (S.AUTHORIZATION, "Authorization", 180.0, "eim_ongoing"),
        (S.CABLE_CHECK, "CableCheck", 60.0, "ongoing"),
    ],
)
def test_secc_ongoing_limits(state: S, request_name: str, limit: float, field: str) -> None:
    """Ongoing for longer than the SECC's limit: the next request is answered FAILED and the session ends."""
    secc, evcc = engines(EnergyService.DC)
    charger = Charger(authorize=None)

    def app(engine: Any, event: Any, now: float) -> None:
        if not isinstance(event, ev.CableCheckRequested):
            charger(engine, event, now)

    if state is S.CABLE_CHECK:
        secc.send(ev.Authorize(accepted=True), 0.0)
    now = drive_to(secc, evcc, state, app)  # type: ignore[arg-type]
    secc.payloads_to_send()
    t0 = now
    secc.receive_payload(*request(request_name, True, secc.session_id), t0)
    assert secc.payloads_to_send() and secc.ended is None
    secc.receive_payload(*request(request_name, True, secc.session_id), t0 + limit)
    assert secc.ended is None
    secc.payloads_to_send()
    secc.receive_payload(*request(request_name, True, secc.session_id), t0 + limit + 0.5)
    assert secc.ended is not None and secc.ended.response_code == "FAILED"


def test_secc_schedule_exchange_ongoing_limit() -> None:
    secc, evcc = engines(EnergyService.AC, secc={"schedules": None})
    now = drive_to(secc, evcc, S.SCHEDULE_EXCHANGE)
    secc.payloads_to_send()
    secc.receive_payload(*request("ScheduleExchange", False, secc.session_id), now)
    secc.payloads_to_send()
    secc.receive_payload(*request("ScheduleExchange", False, secc.session_id), now + 55.0)
    assert secc.ended is None
    secc.payloads_to_send()
    secc.receive_payload(*request("ScheduleExchange", False, secc.session_id), now + 55.1)
    assert secc.ended is not None and secc.ended.response_code == "FAILED"


def test_performance_deadlines_on_request_events() -> None:
    secc, evcc = engines(EnergyService.DC)
    charger = Charger()
    run(secc, evcc, charger)
    loops = charger.of(ev20.ChargeLoopRequested)
    assert all(e.deadline == pytest.approx(e.received_at + 0.025) for e in loops)
    pd = charger.of(ev.PowerDeliveryRequested)
    assert all(e.deadline == pytest.approx(e.received_at + 4.5) for e in pd)
    cpd = charger.of(ev20.ChargeParametersRequested20)
    assert cpd[0].deadline == pytest.approx(cpd[0].received_at + 1.5)


# -- flows --------------------------------------------------------------------------------------------


def test_pause_and_resume() -> None:
    secc, evcc = engines(EnergyService.DC, evcc={"charge_loop_requests": None})

    def car(engine: Any, event: Any, now: float) -> None:
        if isinstance(event, ev20.Iso20ChargeLoopStatus) and engine.loops == 2:
            engine.send(ev.StopCharging(pause=True), now)

    run(secc, evcc, car=car)
    assert secc.ended is not None and secc.ended.paused and secc.ended.normal
    assert evcc.ended is not None and evcc.ended.paused
    stop = next(t.message for t in secc.trace if t.name == "SessionStopReq")
    assert stop.charging_session.value == "Pause"
    paused_id = secc.ended.session_id
    assert paused_id is not None

    secc2, evcc2 = engines(EnergyService.DC, resume=paused_id)
    charger = Charger()
    run(secc2, evcc2, charger, car=None)
    setup = next(t.message for t in secc2.trace if t.name == "SessionSetupRes")
    assert setup.response_code.value == "OK_OldSessionJoined"
    assert secc2.session_id == paused_id
    started = charger.of(ev.SessionStarted)[0]
    assert started.resumed and started.session_id == paused_id
    assert secc2.ended is not None and secc2.ended.normal and not secc2.ended.paused


def test_resume_with_an_unknown_session_id_starts_a_new_session() -> None:
    evcc2 = Iso20Evcc(handover(True, resume=b"\x07" * 8), Iso20EvccConfig(clock=CLOCK, charge_loop_requests=1))
    secc2 = Iso20Secc(handover(True), Iso20SeccConfig(clock=CLOCK, trace=True))
    run(secc2, evcc2)
    setup = next(t.message for t in secc2.trace if t.name == "SessionSetupRes")
    assert setup.response_code.value == "OK_NewSessionEstablished" and secc2.session_id != b"\x07" * 8


@pytest.mark.parametrize("by", ["ev", "evse"])
def test_schedule_renegotiation(by: str) -> None:
    secc, evcc = engines(EnergyService.DC, evcc={"charge_loop_requests": 6})
    charger = Charger()
    done = {"n": 0}

    def car(engine: Any, event: Any, now: float) -> None:
        if by == "ev" and isinstance(event, ev20.Iso20ChargeLoopStatus) and engine.loops == 2 and not done["n"]:
            done["n"] = 1
            engine.send(ev.Renegotiate(), now)

    def app(engine: Any, event: Any, now: float) -> None:
        charger(engine, event, now)
        if by == "evse" and isinstance(event, ev20.ChargeLoopRequested) and not done["n"]:
            done["n"] = 1
            engine.send(ev.Notify(action="renegotiate"), now)
        if isinstance(event, ev20.ScheduleRequested) and event.renegotiation:
            engine.send(ev.Notify(action="none"), now)

    run(secc, evcc, app, car=car)
    sent = names(evcc)
    pds = [t.message.charge_progress.value for t in secc.trace if t.name == "PowerDeliveryReq"]
    assert pds == ["Start", "ScheduleRenegotiation", "Start", "Stop"]
    i = sent.index("PowerDeliveryReq", sent.index("PowerDeliveryReq") + 1)
    # after the renegotiation: ScheduleExchange, then straight to PowerDelivery (no CableCheck/PreCharge again)
    assert sent[i + 1 : i + 3] == ["ScheduleExchangeReq", "PowerDeliveryReq"]
    assert sent.count("DC_CableCheckReq") == 2
    assert [e.renegotiation for e in charger.of(ev20.ScheduleRequested)] == [False, True]
    assert secc.ended is not None and secc.ended.normal


def test_a_schedule_renegotiation_notice_is_taken_up_once() -> None:
    """The charger asks once and never clears the notice itself: after the car's PowerDelivery
    (ScheduleRenegotiation) the notice is spent, so the car renegotiates exactly once."""
    secc, evcc = engines(EnergyService.DC, evcc={"charge_loop_requests": 6})
    charger = Charger()
    asked = {"n": 0}

    def app(engine: Any, event: Any, now: float) -> None:
        charger(engine, event, now)
        if isinstance(event, ev20.ChargeLoopRequested) and not asked["n"]:
            asked["n"] = 1
            engine.send(ev.Notify(action="renegotiate"), now)

    run(secc, evcc, app)
    pds = [t.message.charge_progress.value for t in secc.trace if t.name == "PowerDeliveryReq"]
    assert pds == ["Start", "ScheduleRenegotiation", "Start", "Stop"]
    assert secc.ended is not None and secc.ended.normal


def test_standby_and_exit() -> None:
    secc, evcc = engines(EnergyService.AC, evcc={"charge_loop_requests": 4})
    log: list[Any] = []

    def car(engine: Any, event: Any, now: float) -> None:
        log.append(event)
        if (
            isinstance(event, ev20.Iso20ChargeLoopStatus)
            and engine.loops == 1
            and not any(isinstance(e, ev.PowerDeliveryAnswered) and e.action is ev.PowerAction.STOP for e in log)
        ):
            engine.send(ev20.EnterStandby(), now)
        if isinstance(event, ev.PowerDeliveryAnswered) and event.action is ev.PowerAction.STOP and engine.loops < 4:
            engine.send(ev20.ExitStandby(), now)

    run(secc, evcc, car=car)
    pds = [t.message.charge_progress.value for t in secc.trace if t.name == "PowerDeliveryReq"]
    assert pds[:3] == ["Start", "Standby", "Start"]
    assert secc.ended is not None and secc.ended.normal


def test_standby_not_allowed_keeps_charging() -> None:
    secc, evcc = engines(EnergyService.AC, evcc={"charge_loop_requests": 4}, secc={"standby_allowed": False})

    def car(engine: Any, event: Any, now: float) -> None:
        if isinstance(event, ev20.Iso20ChargeLoopStatus) and engine.loops == 1:
            engine.send(ev20.EnterStandby(), now)

    run(secc, evcc, car=car)
    res = [t.message for t in secc.trace if t.name == "PowerDeliveryRes"]
    assert res[1].response_code.value == "WARNING_StandbyNotAllowed"
    assert names(evcc).count("AC_ChargeLoopReq") >= 4
    assert secc.ended is not None and secc.ended.normal


def test_service_renegotiation() -> None:
    """The charger asks for a service renegotiation: Stop, welding, SessionStop(ServiceRenegotiation),
    then ServiceDiscovery again and a second charge in the same session."""
    secc, evcc = engines(EnergyService.DC, evcc={"charge_loop_requests": 2})
    charger = Charger()
    asked = {"n": 0}

    def app(engine: Any, event: Any, now: float) -> None:
        charger(engine, event, now)
        if isinstance(event, ev20.ChargeLoopRequested) and not asked["n"]:
            asked["n"] = 1
            engine.send(ev.Notify(action="service_renegotiation"), now)

    run(secc, evcc, app)
    stops = [t.message.charging_session.value for t in secc.trace if t.name == "SessionStopReq"]
    assert stops == ["ServiceRenegotiation", "Terminate"]
    assert names(evcc).count("ServiceDiscoveryReq") == 2
    assert len(charger.of(ev20.ServiceSelected)) == 2
    assert len({t.message.header.session_id for t in secc.trace if t.direction == "rx"} - {b"\x00" * 8}) == 1


def test_metering_confirmation() -> None:
    secc, evcc = engines(EnergyService.AC, evcc={"charge_loop_requests": 3})
    charger = Charger()

    def app(engine: Any, event: Any, now: float) -> None:
        charger(engine, event, now)
        if isinstance(event, ev20.ChargeLoopRequested) and not charger.of(ev.MeteringReceiptReceived):
            engine.send(ev.SetMeter(meter=ev.MeterReading(meter_id="M1", wh=1234)), now)
            engine.send(ev.Notify(action="metering_confirmation"), now)

    run(secc, evcc, app)
    got = charger.of(ev.MeteringReceiptReceived)
    assert got and got[0].meter.meter_id == "M1" and got[0].meter.wh == 1234
    assert "MeteringConfirmationReq" in names(evcc)
    assert secc.ended is not None and secc.ended.normal


def test_session_stop_in_any_state_quirk() -> None:
    """Cars stop after CableCheck (ecog-io/iso15118 #184, #432): accepted by default, FAILED_SequenceError when
    the quirk is switched off."""
    from evcharge.iso15118.engines.config import Quirks
    from evcharge.iso15118.iso20 import common

    for quirk, code in ((True, "OK"), (False, "FAILED_SequenceError")):
        secc, evcc = engines(EnergyService.DC, secc={"quirks": Quirks(session_stop_in_any_state=quirk)})
        now = drive_to(secc, evcc, S.PRE_CHARGE)
        secc.payloads_to_send()
        secc.receive_payload(
            *request("SessionStop", True, secc.session_id, charging_session=common.ChargingSession.Terminate), now
        )
        from .conftest import answers

        (res,) = answers(secc)
        assert res.response_code.value == code


def test_dynamic_mode_charger_limits_in_every_loop() -> None:
    """Dynamic DC: the EVSE's present limits (pushed by the application) are in every DC_ChargeLoopRes."""
    from evcharge.iso15118.engines.iso20 import PowerLimits

    secc, evcc = engines(EnergyService.DC_BPT, ControlMode.DYNAMIC)
    seen: list[Any] = []

    def app(engine: Any, event: Any, now: float) -> None:
        Charger()(engine, event, now)
        if isinstance(event, ev20.ChargeLoopRequested):
            engine.send(
                ev20.SetPowerLimits(
                    limits=PowerLimits(
                        max_charge_power=20_000,
                        max_charge_current=50,
                        max_voltage=450,
                        max_discharge_power=5_000,
                        max_discharge_current=12,
                    )
                ),
                now,
            )

    run(secc, evcc, app, car=lambda e, event, now: seen.append(event))
    loops = [e for e in seen if isinstance(e, ev20.Iso20ChargeLoopStatus)]
    assert loops[-1].limits is not None
    assert loops[-1].limits.max_charge_power == 20_000 and loops[-1].limits.max_discharge_power == 5_000
