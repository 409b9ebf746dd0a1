"""WPT: the WARNING_WPT branches and the fine positioning after PowerDelivery(Start), as ISO 15118-20:2022 puts them:
WPT_FinePositioningRes WARNING_WPT (Finished): WPT_FinePositioningSetupReq or SessionStopReq next ([V2G20-5055]);
PowerDeliveryRes WARNING_WPT: the same ([V2G20-5061]); WPT_ChargeLoopRes WARNING_WPT: WPT_AlignmentCheckReq,
WPT_PairingReq or SessionStopReq ([V2G20-5058]); right after PowerDelivery(Start) the SECC takes WPT_ChargeLoopReq or
WPT_FinePositioningSetupReq ([V2G20-5123]), after a WPT_ChargeLoopReq only WPT_ChargeLoopReq or PowerDeliveryReq
([V2G20-5124]). Ours against ours."""

from __future__ import annotations

from typing import Any

import pytest

from evcharge.errors import LocalProtocolError
from evcharge.iso15118.engines import Loopback
from evcharge.iso15118.engines import events as ev
from evcharge.iso15118.engines._minimal import minimal
from evcharge.iso15118.engines.config import Quirks
from evcharge.iso15118.engines.iso20 import EnergyService, Iso20Secc, Iso20SeccConfig, Iso20SeccState, _msgs
from evcharge.iso15118.engines.iso20 import events as ev20
from evcharge.iso15118.iso20 import common, wpt

from .conftest import CLOCK, Charger, answers, drive_to, names
from .test_wpt import handover, pair

S = Iso20SeccState


class WarningPad(Charger):
    """A pad that answers one request WARNING_WPT: the first ``request`` it sees (pushed when the step before it comes,
    so that very request gets the warning)."""

    def __init__(self, request: str, before: type, when: Any = lambda e: True) -> None:
        super().__init__()
        self.request, self.before, self.when = request, before, when
        self.warned = False

    def __call__(self, engine: Any, event: Any, now: float) -> None:
        super().__call__(engine, event, now)
        if not self.warned and isinstance(event, self.before) and self.when(event):
            self.warned = True
            engine.send(ev20.WarnWpt(request=self.request), now)


def run(pad: Charger, **car: Any) -> tuple[Iso20Secc, Any, list[Any]]:
    secc, evcc = pair(**car)
    seen: list[Any] = []
    Loopback(secc, evcc, secc_app=pad, evcc_app=lambda engine, event, now: seen.append(event)).run()
    return secc, evcc, seen


def codes(engine: Any, element: str) -> list[str]:
    return [t.message.response_code.value for t in engine.trace or () if t.name == element]


def test_fine_positioning_warning_sets_up_again() -> None:
    """[V2G20-5055]: the pad warns on the first WPT_FinePositioningReq (answered WARNING_WPT, Finished); the car sends
    WPT_FinePositioningSetupReq again and the session goes on as usual."""
    pad = WarningPad("WPT_FinePositioning", ev20.WptStepRequested, lambda e: e.request == "WPT_FinePositioningSetup")
    secc, evcc, seen = run(pad)
    sent = names(evcc)
    assert secc.ended is not None and secc.ended.normal and evcc.ended is not None and evcc.ended.normal
    assert sent[:4] == [
        "SessionSetupReq",
        "WPT_FinePositioningSetupReq",
        "WPT_FinePositioningReq",
        "WPT_FinePositioningSetupReq",
    ]
    first = next(t.message for t in secc.trace or () if t.name == "WPT_FinePositioningRes")
    assert (first.response_code, first.evse_processing) == (wpt.ResponseCode.WARNING_WPT, wpt.Processing.Finished)
    assert sent.count("AuthorizationSetupReq") == 1 and sent[-1] == "SessionStopReq"
    assert [e for e in seen if isinstance(e, ev20.WptWarned)] == [
        ev20.WptWarned(request="WPT_FinePositioning", then="WPT_FinePositioningSetup")
    ]


def test_power_delivery_warning_positions_again() -> None:
    """[V2G20-5061]: PowerDeliveryReq(Start) answered WARNING_WPT: no power; the car sets the fine positioning up
    again, pairs, checks the alignment and asks for power again (authorization and parameters still hold: no second
    AuthorizationSetup, our reading); then it charges."""
    pad = WarningPad("PowerDelivery", ev20.WptStepRequested, lambda e: e.request == "WPT_AlignmentCheck")
    secc, evcc, _ = run(pad)
    sent = names(evcc)
    assert secc.ended is not None and secc.ended.normal and evcc.ended is not None and evcc.ended.normal
    first_pd = sent.index("PowerDeliveryReq")
    second_pd = sent.index("PowerDeliveryReq", first_pd + 1)
    # each step: one Ongoing request, then Finished (wpt_step_requests=1)
    assert sent[first_pd + 1 : second_pd] == [
        "WPT_FinePositioningSetupReq",
        *["WPT_FinePositioningReq"] * 2,
        *["WPT_PairingReq"] * 2,
        *["WPT_AlignmentCheckReq"] * 2,
    ]
    assert sent.count("AuthorizationSetupReq") == 1 and sent.count("ScheduleExchangeReq") == 1
    assert codes(secc, "PowerDeliveryRes")[:2] == ["WARNING_WPT", "OK"]
    starts = [e.action for e in pad.of(ev.PowerDeliveryRequested)]
    assert starts == [ev.PowerAction.START, ev.PowerAction.STOP]  # the warned request started nothing
    assert "WPT_ChargeLoopReq" in sent and sent[-2:] == ["PowerDeliveryReq", "SessionStopReq"]


def test_charge_loop_warning_checks_the_alignment_again() -> None:
    """[V2G20-5058]: WPT_ChargeLoopRes WARNING_WPT; the car checks the alignment again and asks for power again."""
    pad = WarningPad("WPT_ChargeLoop", ev20.ChargeLoopRequested)
    secc, evcc, seen = run(pad)
    sent = names(evcc)
    assert secc.ended is not None and secc.ended.normal and evcc.ended is not None and evcc.ended.normal
    assert codes(secc, "WPT_ChargeLoopRes")[:2] == ["OK", "WARNING_WPT"]  # pushed with the first, on the second
    second = [i for i, n in enumerate(sent) if n == "WPT_ChargeLoopReq"][1]
    assert sent[second + 1 : second + 3] == ["WPT_AlignmentCheckReq", "WPT_AlignmentCheckReq"]
    assert sent[second + 3] == "PowerDeliveryReq" and sent[second + 4] == "WPT_ChargeLoopReq"
    assert ev20.WptWarned(request="WPT_ChargeLoop", then="WPT_AlignmentCheck") in seen


def test_limited_power_is_a_warning_and_the_session_goes_on() -> None:
    """[V2G20-5066]: WPT_ChargeParameterDiscoveryRes WARNING_WPT when the car's values allow only limited power; the
    car goes on to ScheduleExchange with the limits it was given (our reading: no requirement sends it elsewhere)."""
    pad = WarningPad("WPT_ChargeParameterDiscovery", ev20.ServiceSelected)
    secc, evcc, seen = run(pad)
    sent = names(evcc)
    assert secc.ended is not None and secc.ended.normal and evcc.ended is not None and evcc.ended.normal
    assert codes(secc, "WPT_ChargeParameterDiscoveryRes") == ["WARNING_WPT"]
    i = sent.index("WPT_ChargeParameterDiscoveryReq")
    assert sent[i + 1] == "ScheduleExchangeReq" and "WPT_ChargeLoopReq" in sent
    assert ev20.WptWarned(request="WPT_ChargeParameterDiscovery", then="ScheduleExchange") in seen


def strict() -> Iso20Secc:
    return Iso20Secc(
        handover(),
        Iso20SeccConfig(
            services=(EnergyService.WPT,), clock=CLOCK, trace=True, quirks=Quirks(session_stop_in_any_state=False)
        ),
    )


def test_a_car_out_of_recoveries_stops() -> None:
    """With no recovery left the car ends with SessionStop, which the strict table takes after WARNING_WPT."""
    secc = strict()
    _, evcc = pair(wpt_recoveries=0)
    pad = WarningPad("WPT_FinePositioning", ev20.WptStepRequested, lambda e: e.request == "WPT_FinePositioningSetup")
    seen: list[Any] = []
    Loopback(secc, evcc, secc_app=pad, evcc_app=lambda engine, event, now: seen.append(event)).run()
    assert names(evcc) == [
        "SessionSetupReq",
        "WPT_FinePositioningSetupReq",
        "WPT_FinePositioningReq",
        "SessionStopReq",
    ]
    assert secc.ended is not None and secc.ended.normal and evcc.ended is not None and evcc.ended.normal
    assert ev20.WptWarned(request="WPT_FinePositioning", then="SessionStop") in seen


def setup_req(session_id: bytes) -> tuple[int, bytes]:
    body = minimal(
        _msgs.request_class(0x8006, "WPT_FinePositioningSetup"),
        {"header": wpt.MessageHeader(session_id=session_id, time_stamp=1), "natural_offset": 0},
    )
    return 0x8006, _msgs.encode(0x8006, body, "WPT_FinePositioningSetupReq")


def test_fine_positioning_right_after_power_delivery_start() -> None:
    """[V2G20-5123]: right after PowerDelivery(Start) WPT_FinePositioningSetupReq is taken (the steps start over)."""
    secc = strict()
    _, evcc = pair()
    now = drive_to(secc, evcc, S.WPT_STARTED)
    (res,) = answers(secc)
    assert type(res).__name__ == "PowerDeliveryRes" and res.response_code is common.ResponseCode.OK
    secc.receive_payload(*setup_req(secc.session_id), now)
    (res,) = answers(secc)
    assert type(res).__name__ == "WPT_FinePositioningSetupRes" and res.response_code is wpt.ResponseCode.OK
    assert secc.state is S.WPT_POSITIONING and secc.ended is None


def test_no_fine_positioning_once_the_loop_runs() -> None:
    """[V2G20-5124]: after a WPT_ChargeLoopReq the next is WPT_ChargeLoopReq or PowerDeliveryReq: a setup is out of
    sequence; so is WPT_FinePositioningReq after WARNING_WPT ([V2G20-5055]: setup or SessionStop)."""
    secc = strict()
    _, evcc = pair()
    now = drive_to(secc, evcc, S.CHARGING)
    answers(secc)
    secc.receive_payload(*setup_req(secc.session_id), now)
    (res,) = answers(secc)
    assert res.response_code is wpt.ResponseCode.FAILED_SequenceError and secc.ended is not None

    secc = strict()
    _, evcc = pair()
    pad = WarningPad("WPT_FinePositioning", ev20.WptStepRequested, lambda e: e.request == "WPT_FinePositioningSetup")
    now = drive_to(secc, evcc, S.WPT_WARNED, pad)
    answers(secc)
    body = wpt.WPT_FinePositioningReq(
        header=wpt.MessageHeader(session_id=secc.session_id, time_stamp=1),
        ev_processing=wpt.Processing.Ongoing,
        ev_result_code=wpt.WPT_EVResult.EVResultUnknown,
    )
    secc.receive_payload(0x8006, _msgs.encode(0x8006, body, "WPT_FinePositioningReq"), now)
    (res,) = answers(secc)
    assert res.response_code is wpt.ResponseCode.FAILED_SequenceError


def test_warn_wpt_names_a_request_that_can_be_warned() -> None:
    with pytest.raises(LocalProtocolError):
        strict().send(ev20.WarnWpt(request="WPT_Pairing"), 0.0)  # no requirement warns a pairing
