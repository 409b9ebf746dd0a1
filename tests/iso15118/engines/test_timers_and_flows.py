"""Every enforced timeout driven with injected time; pause and resume; renegotiation from both sides."""

from __future__ import annotations

from typing import Any

import pytest

from evcharge.iso15118.engines import Evcc, EvccConfig, Loopback, Secc, SeccState, SeccTimeouts
from evcharge.iso15118.engines import events as ev
from evcharge.iso15118.engines.config import Quirks
from evcharge.iso15118.engines.evcc import EvccState

from .conftest import AC, DC, Car, Charger, handover, run_session, secc_config


def _ended(events: list[Any]) -> ev.SessionEnded:
    (end,) = [e for e in events if isinstance(e, ev.SessionEnded)]
    return end


def test_secc_sequence_timeout() -> None:
    """V2G_SECC_Sequence_Timeout: 60 s after a response without a request the SECC ends the session."""
    ho = handover("iso2")
    secc = Secc(ho, secc_config())
    evcc = Evcc(ho, EvccConfig())
    stop_at: list[float] = []

    def tap(direction: str, ptype: int, payload: bytes) -> bytes | None:
        if direction == "to_secc" and secc.state is SeccState.CHARGE_PARAMETERS:
            stop_at.append(lb.now)
            return None  # the car goes quiet
        return payload

    lb = Loopback(secc, evcc, secc_app=Charger(), tap=tap)
    lb.run(until=lb.now)
    assert secc.get_timer() == pytest.approx(stop_at[0] + 60.0)
    secc.handle_timer(stop_at[0] + 59.99)
    assert secc.ended is None
    secc.handle_timer(stop_at[0] + 60.0)
    assert secc.ended is not None and "Sequence" in secc.ended.reason and not secc.ended.normal
    assert secc.next_event() == secc.ended
    assert secc.close_at == pytest.approx(stop_at[0] + 60.0)


def test_secc_communication_setup_timeout() -> None:
    ho = handover("din")
    ho = type(ho)(**{**{f: getattr(ho, f) for f in ho.__dataclass_fields__}, "setup_deadline": 18.0})
    secc = Secc(ho, secc_config())
    assert secc.get_timer() == 18.0
    secc.handle_timer(17.9)
    assert secc.ended is None
    secc.handle_timer(18.0)
    assert secc.ended is not None and "CommunicationSetup" in secc.ended.reason


def test_secc_ongoing_limit_55s_before_the_cars_60s() -> None:
    """No authorization: the SECC answers Ongoing, then FAILED at 55 s ([V2G2-712]); the car's 60 s never fires."""
    charger = Charger()
    cfg = secc_config(auto_authorize=False)
    _lb, secc, evcc = run_session("iso2", DC, secc_cfg=cfg, evcc_cfg=EvccConfig(ongoing_interval=1.0), charger=charger)
    assert secc.ended is not None and secc.ended.response_code == "FAILED"
    assert "Ongoing" in secc.ended.reason
    asked = [e for e in charger.events if isinstance(e, ev.AuthorizationRequested)]
    assert len(asked) == 1  # asked once, not once per Ongoing round
    assert secc.close_at is not None and 55.0 <= secc.close_at - secc.config.timeouts.close_delay < 56.0
    assert evcc.ended is not None and evcc.ended.response_code == "FAILED"


@pytest.mark.parametrize(
    ("secc_cfg", "charger_cls", "timer", "at"),
    [
        ("ongoing", None, "V2G_EVCC_Ongoing_Timeout", 60.0),
        ("cable_check", "no_isolation", "V2G_EVCC_CableCheck_Timeout", 40.0),
        ("pre_charge", "no_voltage", "V2G_EVCC_PreCharge_Timeout", 7.0),
    ],
)
def test_evcc_loop_timeouts(secc_cfg: str, charger_cls: str | None, timer: str, at: float) -> None:
    timeouts = SeccTimeouts(ongoing=1000, cable_check=1000, pre_charge=1000)
    cfg = secc_config(auto_authorize=charger_cls is not None, timeouts=timeouts)

    class Lazy(Charger):
        def __call__(self, engine: Any, event: Any, now: float) -> None:
            if charger_cls == "no_isolation" and isinstance(event, ev.CableCheckRequested):
                return
            if charger_cls == "no_voltage" and isinstance(event, ev.PreChargeRequested):
                return
            super().__call__(engine, event, now)

    lb, _secc, evcc = run_session("iso2", DC, secc_cfg=cfg, evcc_cfg=EvccConfig(ongoing_interval=0.5), charger=Lazy())
    assert evcc.ended is not None and evcc.ended.reason == timer
    # the car gave up ``at`` seconds after the first request of its loop
    first = {"ongoing": "Authorization", "cable_check": "CableCheck", "pre_charge": "PreCharge"}[secc_cfg]
    began = next(e.received_at for e in lb.secc_events if isinstance(e, ev.RequestEvent) and e.request == first)
    assert evcc.close_at == pytest.approx(began + at)


@pytest.mark.parametrize("request_name", ["SessionSetup", "ChargeParameterDiscovery", "PowerDelivery", "CurrentDemand"])
@pytest.mark.parametrize("protocol", ["din", "iso2"])
def test_evcc_message_timeout(protocol: str, request_name: str) -> None:
    """V2G_EVCC_Msg_Timeout per request (Table 109): 2 s, 5 s (DIN PowerDelivery: 2 s), CurrentDemand 0.25 s."""
    expected = {
        "SessionSetup": 2.0,
        "ChargeParameterDiscovery": 2.0,
        "CurrentDemand": 0.25,
        "PowerDelivery": 2.0 if protocol == "din" else 5.0,
    }[request_name]
    ho = handover(protocol)
    secc = Secc(ho, secc_config())
    evcc = Evcc(ho, EvccConfig())
    sent_at: list[float] = []

    def tap(direction: str, ptype: int, payload: bytes) -> bytes | None:
        if direction == "to_secc" and evcc.state is EvccState(request_name):
            sent_at.append(lb.now)
            return None  # the charger never answers
        return payload

    lb = Loopback(secc, evcc, secc_app=Charger(), tap=tap)
    lb.run(until=30)
    assert evcc.ended is not None and evcc.ended.reason.startswith("V2G_EVCC_Msg_Timeout")
    assert evcc.close_at == pytest.approx(sent_at[0] + expected)


@pytest.mark.parametrize("mode", [DC, AC])
def test_pause_and_resume_with_the_old_session_id(mode: ev.EnergyMode) -> None:
    _lb, secc, evcc = run_session("iso2", mode, car=Car(loops=2, pause=True))
    assert secc.ended is not None and secc.ended.paused and secc.ended.normal
    assert evcc.ended is not None and evcc.ended.paused
    old = secc.ended.session_id
    assert old is not None and old == evcc.ended.session_id
    # a new connection: the car offers the old SessionID, the charger kept it
    lb2, secc2, evcc2 = run_session("iso2", mode, resume=old, evcc_cfg=EvccConfig(energy_mode=mode, trace=True))
    started = [e for e in lb2.secc_events if isinstance(e, ev.SessionStarted)]
    assert started[0].resumed and started[0].session_id == old
    res = evcc2.trace[1].message.body.session_setup_res
    assert res.response_code.value == "OK_OldSessionJoined"
    assert secc2.ended is not None and secc2.ended.normal and not secc2.ended.paused


def test_unknown_old_session_gets_a_new_one() -> None:
    _, secc, evcc = run_session("iso2", DC, resume=b"\x42" * 8)  # the car offers it, the charger kept another
    ho = handover("iso2", resume=b"\x42" * 8)
    secc = Secc(
        type(ho)(**{**{f: getattr(ho, f) for f in ho.__dataclass_fields__}, "resume_session_id": b"\x43" * 8}),
        secc_config(),
    )
    evcc = Evcc(ho, EvccConfig())
    lb = Loopback(secc, evcc, secc_app=Charger(), evcc_app=Car())
    lb.run()
    started = [e for e in lb.secc_events if isinstance(e, ev.SessionStarted)]
    assert not started[0].resumed and started[0].session_id not in (b"\x42" * 8, b"\x43" * 8)


def _renegotiating_car(trigger: str) -> Car:
    def on_loop(engine: Any, count: int, now: float) -> None:
        if count == 2 and trigger == "ev":
            engine.send(ev.Renegotiate(), now)

    return Car(loops=6, on_loop=on_loop)


@pytest.mark.parametrize("mode", [DC, AC])
@pytest.mark.parametrize("trigger", ["ev", "evse"])
def test_renegotiation(mode: ev.EnergyMode, trigger: str) -> None:
    class Renegotiator(Charger):
        loops = 0

        def __call__(self, engine: Any, event: Any, now: float) -> None:
            super().__call__(engine, event, now)
            if isinstance(event, (ev.ChargeLoopTargets, ev.ChargingStatusRequested)):
                self.loops += 1
                if self.loops == 2 and trigger == "evse":
                    engine.send(ev.Notify(action="renegotiate"), now)

    charger = Renegotiator()
    _lb, secc, evcc = run_session(
        "iso2",
        mode,
        charger=charger,
        car=_renegotiating_car(trigger),
        evcc_cfg=EvccConfig(energy_mode=mode, trace=True),
    )
    assert secc.ended is not None and secc.ended.normal
    sent = [t.name for t in evcc.trace if t.direction == "tx"]
    actions = [e.action for e in charger.events if isinstance(e, ev.PowerDeliveryRequested)]
    assert actions == [ev.PowerAction.START, ev.PowerAction.RENEGOTIATE, ev.PowerAction.START, ev.PowerAction.STOP]
    assert sent.count("ChargeParameterDiscoveryReq") == 2
    if mode.is_dc:  # CableCheck is not repeated (cable_check_skipped_on_renegotiation)
        assert sent.count("CableCheckReq") == 2 and sent.count("PreChargeReq") == 2


def test_renegotiation_with_cable_check_required() -> None:
    """Quirk off: after renegotiation the charger wants CableCheck; a car that skips it gets FAILED_SequenceError."""
    cfg = secc_config(quirks=Quirks(cable_check_skipped_on_renegotiation=False))
    _, secc, _ = run_session("iso2", DC, secc_cfg=cfg, car=_renegotiating_car("ev"))
    assert secc.ended is not None and secc.ended.response_code == "FAILED_SequenceError"
    _lb, secc, _ = run_session(
        "iso2",
        DC,
        secc_cfg=cfg,
        car=_renegotiating_car("ev"),
        evcc_cfg=EvccConfig(cable_check_on_renegotiation=True),
    )
    assert secc.ended is not None and secc.ended.normal


@pytest.mark.parametrize("protocol", ["din", "iso2"])
def test_charger_stops_the_session(protocol: str) -> None:
    class Stopper(Charger):
        def __call__(self, engine: Any, event: Any, now: float) -> None:
            super().__call__(engine, event, now)
            if isinstance(event, ev.ChargeLoopTargets) and len(self.events) > 12:
                engine.send(ev.Notify(action="stop"), now)

    lb, secc, evcc = run_session("iso2", DC, charger=Stopper(), car=Car(loops=10_000))
    assert secc.ended is not None and secc.ended.normal and evcc.ended is not None and evcc.ended.normal
    status = [e for e in lb.evcc_events if isinstance(e, ev.ChargeLoopStatus)]
    assert status[-1].notification == "StopCharging"


@pytest.mark.parametrize("as_warning", [True, False])
def test_state_c_after_power_delivery_start(as_warning: bool) -> None:
    """[V2G2-847]: C/D within 250 ms of the first PowerDeliveryReq(Start); late is a warning or the end."""
    from .test_failures import drive

    secc, _, lb = drive("iso2", SeccState.PRE_CHARGE, quirks=Quirks(state_c_timing_as_warning=as_warning))
    held = Evcc(handover("iso2"), EvccConfig())
    held.schedule_id = 1
    held._pd_action = ev.PowerAction.START
    msg = secc.ms.message(secc.session_id, "power_delivery_req", held._req_power_delivery())
    secc.receive_payload(0x8001, secc.ms.encode(msg), 10.0)
    assert secc.state is SeccState.CHARGING
    secc.send(ev.PilotObserved(state="C"), 10.4)
    events = []
    while (e := secc.next_event()) is not None:
        events.append(e)
    if as_warning:
        assert [e.requirement for e in events if isinstance(e, ev.TimingWarning)] == ["V2G2-847"]
        assert secc.ended is None
    else:
        assert secc.ended is not None and "V2G2-847" in secc.ended.reason
    # in time: nothing to say
    secc2, _, _ = drive("iso2", SeccState.PRE_CHARGE)
    secc2.receive_payload(
        0x8001,
        secc2.ms.encode(secc2.ms.message(secc2.session_id, "power_delivery_req", held._req_power_delivery())),
        10.0,
    )
    secc2.send(ev.PilotObserved(state="C"), 10.2)
    assert not any(isinstance(e, ev.TimingWarning) for e in iter(secc2.next_event, None)) and secc2.ended is None
    del lb
