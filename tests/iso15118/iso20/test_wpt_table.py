"""Every (state, request) pair of a WPT session: outside the SECC's table FAILED_SequenceError (the response of that
request) and the session ends; inside it, never FAILED_SequenceError. The WPT states include the WARNING_WPT ones
([V2G20-5055], [V2G20-5058]) and the one right after PowerDelivery(Start) ([V2G20-5123])."""

from __future__ import annotations

from typing import Any

from evcharge.iso15118.engines._minimal import minimal
from evcharge.iso15118.engines.iso20 import Iso20SeccState, _msgs
from evcharge.iso15118.engines.iso20 import events as ev20
from evcharge.iso15118.iso20 import common

from .conftest import Charger, drive_to, request
from .test_wpt import pair
from .test_wpt_warning import WarningPad

S = Iso20SeccState
REQUESTS = [*_msgs.COMMON_REQUESTS, *_msgs.WPT_REQUESTS]
#: (state, the charger application that brings the session there)
STATES: list[tuple[S, Any]] = [
    *(
        (state, Charger)
        for state in (
            S.SESSION_SETUP,
            S.WPT_SETUP,
            S.WPT_POSITIONING,
            S.WPT_PAIRING,
            S.AUTHORIZATION_SETUP,
            S.AUTHORIZATION,
            S.SERVICE_DISCOVERY,
            S.SERVICE_SELECTION,
            S.CHARGE_PARAMETERS,
            S.SCHEDULE_EXCHANGE,
            S.WPT_ALIGNMENT,
            S.POWER_DELIVERY,
            S.WPT_STARTED,
            S.CHARGING,
            S.STOPPED,
        )
    ),
    (
        S.WPT_WARNED,
        lambda: WarningPad(
            "WPT_FinePositioning", ev20.WptStepRequested, lambda e: e.request == "WPT_FinePositioningSetup"
        ),
    ),
    (S.WPT_REALIGN, lambda: WarningPad("WPT_ChargeLoop", ev20.ChargeLoopRequested)),
]


def any_request(name: str, session_id: bytes) -> tuple[int, bytes]:
    """``name`` with only its mandatory fields (PowerDelivery: Stop), as (payload type, EXI)."""
    if name in _msgs.WPT_REQUESTS:
        mod = _msgs.module_for(_msgs.WPT)
        body = minimal(
            _msgs.request_class(_msgs.WPT, name),
            {"header": mod.MessageHeader(session_id=session_id, time_stamp=1), "natural_offset": 0},
        )
        return _msgs.WPT, _msgs.encode(_msgs.WPT, body, name + "Req")
    extra = {"charge_progress": common.ChargeProgress.Stop} if name == "PowerDelivery" else {}
    return request(name, False, session_id, **extra)


def test_every_pair_follows_the_table() -> None:
    checked = 0
    for state, app in STATES:
        for name in REQUESTS:
            secc, evcc = pair(wpt_step_requests=2)
            now = drive_to(secc, evcc, state, app())
            secc.payloads_to_send()
            while secc.next_event() is not None:
                pass
            ptype, exi = any_request(name, secc.session_id)
            secc.receive_payload(ptype, exi, now + 0.1)
            ((rtype, payload),) = secc.payloads_to_send()
            element, res = _msgs.module_for(rtype).codec.decode_with_name(payload)
            assert element == _msgs.element_name(ptype, name, "Res"), (state, name)
            if (state, name) in secc.table:
                assert res.response_code.value != "FAILED_SequenceError", (state, name)
            else:
                assert res.response_code.value == "FAILED_SequenceError", (state, name)
                assert secc.ended is not None and not secc.ended.normal
            checked += 1
    assert checked == len(STATES) * len(REQUESTS)
