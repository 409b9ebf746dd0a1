"""The sans-I/O RPC core: every edge case of OCPP-J framing, without sockets."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from evcharge.ocpp import rpc
from evcharge.ocpp import v16 as V16
from evcharge.ocpp import v21 as V21
from evcharge.ocpp import v201 as V201
from evcharge.ocpp.errors import LocalProtocolError
from evcharge.ocpp.rpc import RpcConfig, RpcConnection
from tests.ocpp.rpc._commands import call, error, result, result_error, unconfirmed

VERSIONS = (V16, V201, V21)

NOW = "2024-05-01T12:00:00Z"


def boot_request(v: Any) -> dict[str, Any]:
    if v.VERSION == "1.6":
        return {"chargePointVendor": "evcharge", "chargePointModel": "test"}
    return {"chargingStation": {"vendorName": "evcharge", "model": "test"}, "reason": "PowerUp"}


def boot_response() -> dict[str, Any]:
    return {"status": "Accepted", "currentTime": NOW, "interval": 300}


def conn(v: Any, **cfg: Any) -> RpcConnection:
    return RpcConnection(v, RpcConfig(**cfg), rng=random.Random(7))


def sent(c: RpcConnection) -> list[list[Any]]:
    return [json.loads(m) for m in c.data_to_send()]


def only_event(c: RpcConnection) -> rpc.Event:
    evs = c.events()
    assert len(evs) == 1, evs
    return evs[0]


ids = [v.VERSION for v in VERSIONS]
FORMAT = {"1.6": "FormationViolation", "2.0.1": "FormatViolation", "2.1": "FormatViolation"}
OCCURRENCE = {"1.6": "OccurenceConstraintViolation", "2.0.1": "OccurrenceConstraintViolation",
              "2.1": "OccurrenceConstraintViolation"}
FRAME = {"1.6": "ProtocolError", "2.0.1": "RpcFrameworkError", "2.1": "RpcFrameworkError"}


# ----------------------------------------------------------------------------------------- outgoing calls


@pytest.mark.parametrize("v", VERSIONS, ids=ids)
def test_call_frame_and_result(v: Any) -> None:
    c = conn(v)
    mid = call(c, "Heartbeat", {}, now=0.0)
    assert 0 < len(mid) <= 36
    assert sent(c) == [[2, mid, "Heartbeat", {}]]
    c.receive_data(json.dumps([3, mid, {"currentTime": NOW}]), 1.0)
    ev = only_event(c)
    assert isinstance(ev, rpc.ResultReceived)
    assert ev.message_id == mid and ev.action == "Heartbeat"
    assert ev.response.to_json() == {"currentTime": NOW}
    assert c.outstanding_call is None and c.get_timer() is None
    assert sent(c) == []


@pytest.mark.parametrize("v", VERSIONS, ids=ids)
def test_message_ids_are_unique(v: Any) -> None:
    c = conn(v)
    got = set()
    for i in range(200):
        mid = call(c, "Heartbeat", {}, now=float(i))
        got.add(mid)
        c.receive_data(json.dumps([3, mid, {"currentTime": NOW}]), float(i))
    assert len(got) == 200 and all(len(m) <= 36 for m in got)


def test_explicit_message_ids_checked() -> None:
    c = conn(V201)
    with pytest.raises(LocalProtocolError, match="longer than 36"):
        call(c, "Heartbeat", {}, now=0, message_id="x" * 37)
    call(c, "Heartbeat", {}, now=0, message_id="x" * 36)
    with pytest.raises(LocalProtocolError, match="already in use"):
        call(c, "Heartbeat", {}, now=0, message_id="x" * 36)
    with pytest.raises(LocalProtocolError):
        call(c, "Heartbeat", {}, now=0, message_id="")
    assert sent(c) == [[2, "x" * 36, "Heartbeat", {}]]


@pytest.mark.parametrize("v", VERSIONS, ids=ids)
def test_one_outstanding_call_and_queue(v: Any) -> None:
    c = conn(v)
    a = call(c, "Heartbeat", {}, now=0.0)
    b = call(c, "BootNotification", boot_request(v), now=0.0)
    d = call(c, "Heartbeat", {}, now=0.0)
    assert [f[1] for f in sent(c)] == [a]
    assert c.queued_calls == 2
    # the answer to a releases b; a CALLERROR to b releases d
    c.receive_data(json.dumps([3, a, {"currentTime": NOW}]), 1.0)
    assert [f[1:3] for f in sent(c)] == [[b, "BootNotification"]]
    c.receive_data(json.dumps([4, b, "InternalError", "oops", {"x": 1}]), 2.0)
    assert [f[1] for f in sent(c)] == [d]
    evs = c.events()
    assert isinstance(evs[0], rpc.ResultReceived)
    assert evs[1] == rpc.ErrorReceived(message_id=b, action="BootNotification", error_code="InternalError",
                                 error_description="oops", error_details={"x": 1})


def test_queue_limit() -> None:
    c = conn(V16, max_queued_calls=2)
    call(c, "Heartbeat", {}, now=0)
    call(c, "Heartbeat", {}, now=0)
    call(c, "Heartbeat", {}, now=0)
    with pytest.raises(LocalProtocolError, match="queued"):
        call(c, "Heartbeat", {}, now=0)


@pytest.mark.parametrize("v", VERSIONS, ids=ids)
def test_response_timeout_then_late_answer(v: Any) -> None:
    c = conn(v, response_timeout=10.0)
    a = call(c, "Heartbeat", {}, now=100.0)
    b = call(c, "Heartbeat", {}, now=101.0)
    sent(c)
    assert c.get_timer() == 110.0
    c.handle_timer(109.9)
    assert c.events() == [] and c.outstanding_call == a
    c.handle_timer(110.0)
    assert only_event(c) == rpc.CallTimedOut(message_id=a, action="Heartbeat")
    # the queued call goes out now, with its own timeout
    assert [f[1] for f in sent(c)] == [b]
    assert c.get_timer() == 120.0
    # a late answer to a is reported, never answered
    c.receive_data(json.dumps([3, a, {"currentTime": NOW}]), 111.0)
    ev = only_event(c)
    assert isinstance(ev, rpc.ProtocolViolation) and ev.answer is None and "gave up" in ev.description
    assert sent(c) == [] and c.outstanding_call == b


@pytest.mark.parametrize("v", VERSIONS, ids=ids)
def test_invalid_outgoing_request_is_local_error(v: Any) -> None:
    c = conn(v)
    with pytest.raises(LocalProtocolError):
        call(c, "BootNotification", {}, now=0)
    with pytest.raises(LocalProtocolError, match="no action"):
        call(c, "NoSuchAction", {}, now=0)
    assert sent(c) == [] and c.outstanding_call is None


@pytest.mark.parametrize("v", VERSIONS, ids=ids)
def test_invalid_result(v: Any) -> None:
    c = conn(v)
    a = call(c, "BootNotification", boot_request(v), now=0)
    nxt = call(c, "Heartbeat", {}, now=0)
    sent(c)
    c.receive_data(json.dumps([3, a, {"status": "Accepted", "interval": 300}]), 1.0)  # currentTime missing
    ev = c.events()[0]
    assert isinstance(ev, rpc.ResponseInvalid)
    assert ev.message_id == a and ev.error_code == OCCURRENCE[v.VERSION]
    out = sent(c)
    if v.VERSION == "2.1":  # the CALL's sender tells the peer with a CALLRESULTERROR
        assert out[0][:3] == [5, a, "OccurrenceConstraintViolation"]
        out = out[1:]
    # never a CALLERROR in answer to a CALLRESULT; the queue moves on
    assert [f[0] for f in out] == [2] and out[0][1] == nxt


@pytest.mark.parametrize("v", VERSIONS, ids=ids)
def test_unmatched_or_malformed_answers_are_never_answered(v: Any) -> None:
    c = conn(v)
    a = call(c, "Heartbeat", {}, now=0)
    sent(c)
    for frame in (
        [3, "nope", {"currentTime": NOW}],
        [4, "nope", "GenericError", "", {}],
        [3, a],  # too short
        [3, a, {}, {}],  # too long
        [3, a, "not an object"],
        [4, a, "GenericError"],
        [4, a, 5, "", {}],
    ):
        c.receive_data(json.dumps(frame), 1.0)
        assert sent(c) == [], frame
        ev = only_event(c)
        assert isinstance(ev, rpc.ProtocolViolation) and ev.answer is None
    assert c.outstanding_call == a


# ----------------------------------------------------------------------------------------- incoming calls


@pytest.mark.parametrize("v", VERSIONS, ids=ids)
def test_incoming_call_and_answer(v: Any) -> None:
    c = conn(v)
    c.receive_data(json.dumps([2, "m1", "BootNotification", boot_request(v)]), 0)
    ev = only_event(c)
    assert isinstance(ev, rpc.CallReceived) and ev.action == "BootNotification" and ev.message_id == "m1"
    assert ev.request.to_json() == boot_request(v)
    assert c.pending_incoming == {"m1"}
    result(c, "m1", v.response_class("BootNotification").from_json(boot_response()))
    assert sent(c) == [[3, "m1", boot_response()]]
    with pytest.raises(LocalProtocolError, match="no CALL"):
        result(c, "m1", boot_response())
    with pytest.raises(LocalProtocolError, match="no CALL"):
        error(c, "m1", "GenericError")


@pytest.mark.parametrize("v", VERSIONS, ids=ids)
def test_application_errors(v: Any) -> None:
    c = conn(v)
    c.receive_data(json.dumps([2, "m1", "Heartbeat", {}]), 0)
    c.receive_data(json.dumps([2, "m2", "Heartbeat", {}]), 0)
    c.events()
    with pytest.raises(LocalProtocolError):  # our response breaks the schema
        result(c, "m1", {"currentTime": 5})
    wrong = "FormatViolation" if v.VERSION == "1.6" else "FormationViolation"
    with pytest.raises(LocalProtocolError, match="error code"):
        error(c, "m1", wrong)
    error(c, "m1", FORMAT[v.VERSION], "desc", {"k": "v"})
    result(c, "m2", {"currentTime": NOW})
    assert sent(c) == [[4, "m1", FORMAT[v.VERSION], "desc", {"k": "v"}], [3, "m2", {"currentTime": NOW}]]


@pytest.mark.parametrize("v", VERSIONS, ids=ids)
@pytest.mark.parametrize(
    ("payload", "kind"),
    [
        ("missing", "occurrence"),
        ("wrongtype", "type"),
        ("badenum", "property"),
    ],
)
def test_invalid_incoming_payload_error_codes(v: Any, payload: str, kind: str) -> None:
    req = boot_request(v)
    if payload == "missing":
        req.pop("chargePointModel" if v.VERSION == "1.6" else "reason")
    elif payload == "wrongtype":
        if v.VERSION == "1.6":
            req["chargePointModel"] = 42
        else:
            req["chargingStation"] = "not an object"
    else:
        if v.VERSION == "1.6":
            req = {"idTag": "abc"}
        else:
            req["reason"] = "Bored"
    action = "Authorize" if payload == "badenum" and v.VERSION == "1.6" else "BootNotification"
    if action == "Authorize":
        # 1.6 has no enum in a request with a simple payload: use maxLength (also a property violation)
        req = {"idTag": "x" * 21}
    c = conn(v)
    c.receive_data(json.dumps([2, "m1", action, req]), 0)
    expected = {
        "occurrence": OCCURRENCE[v.VERSION],
        "type": "TypeConstraintViolation",
        "property": "PropertyConstraintViolation",
    }[kind]
    out = sent(c)
    assert len(out) == 1 and out[0][:3] == [4, "m1", expected]
    ev = only_event(c)
    assert isinstance(ev, rpc.ProtocolViolation) and ev.answer is not None
    assert c.pending_incoming == frozenset()


@pytest.mark.parametrize("v", VERSIONS, ids=ids)
def test_payload_not_an_object_is_format_violation(v: Any) -> None:
    c = conn(v)
    c.receive_data('[2, "m1", "Heartbeat", []]', 0)
    assert sent(c)[0][:3] == [4, "m1", FORMAT[v.VERSION]]


@pytest.mark.parametrize("v", VERSIONS, ids=ids)
def test_unknown_action_is_not_implemented(v: Any) -> None:
    c = conn(v)
    c.receive_data(json.dumps([2, "m1", "MakeCoffee", {}]), 0)
    assert sent(c)[0][:3] == [4, "m1", "NotImplemented"]


@pytest.mark.parametrize("v", VERSIONS, ids=ids)
def test_not_json(v: Any) -> None:
    c = conn(v)
    for text in ("[2, 'm1', 'Heartbeat', {}]", "", "[2, \"m1\", \"Heartbeat\", {\"a\": NaN}]", b"\xff\xfe"):
        c.receive_data(text, 0)
        out = sent(c)
        assert len(out) == 1 and out[0][:3] == [4, "-1", FORMAT[v.VERSION]], text
        assert isinstance(only_event(c), rpc.ProtocolViolation)


@pytest.mark.parametrize("v", VERSIONS, ids=ids)
@pytest.mark.parametrize("text", ['{"a": 1}', "[]", '"x"', '["2", "m1", "Heartbeat", {}]', '[2, 17, "Heartbeat", {}]',
                                  '[2, "", "Heartbeat", {}]', '[2.0, "m", "Heartbeat", {}]'])
def test_not_an_rpc_frame(v: Any, text: str) -> None:
    c = conn(v)
    c.receive_data(text, 0)
    out = sent(c)
    assert len(out) == 1 and out[0][:3] == [4, "-1", FRAME[v.VERSION]]


@pytest.mark.parametrize("v", VERSIONS, ids=ids)
def test_malformed_call_with_readable_id(v: Any) -> None:
    c = conn(v)
    c.receive_data('[2, "m1", "Heartbeat"]', 0)
    c.receive_data('[2, "m2", 7, {}]', 0)
    assert [f[:3] for f in sent(c)] == [[4, "m1", FRAME[v.VERSION]], [4, "m2", FRAME[v.VERSION]]]


@pytest.mark.parametrize("v", VERSIONS, ids=ids)
def test_unknown_message_type(v: Any) -> None:
    c = conn(v)
    c.receive_data('[9, "m1", "Heartbeat", {}]', 0)
    out = sent(c)
    if v.VERSION == "1.6":
        assert out == []  # 1.6 has no code for it and the frame is no CALL: no answer
    else:
        assert out[0][:3] == [4, "m1", "MessageTypeNotSupported"]
    assert isinstance(only_event(c), rpc.ProtocolViolation)


@pytest.mark.parametrize("v", VERSIONS, ids=ids)
def test_over_long_incoming_id(v: Any) -> None:
    c = conn(v)
    long_id = "y" * 37
    c.receive_data(json.dumps([2, long_id, "Heartbeat", {}]), 0)
    out = sent(c)
    assert out[0][:3] == [4, long_id, FRAME[v.VERSION]]
    assert c.pending_incoming == frozenset()
    c.receive_data(json.dumps([2, "y" * 36, "Heartbeat", {}]), 0)
    assert sent(c) == [] and c.pending_incoming == {"y" * 36}


@pytest.mark.parametrize("v", VERSIONS, ids=ids)
def test_duplicate_incoming_ids(v: Any) -> None:
    c = conn(v)
    c.receive_data('[2, "dup", "Heartbeat", {}]', 0)
    c.events()
    # the same id while the first is unanswered: no answer, or the peer could take it for the first call's
    c.receive_data('[2, "dup", "Heartbeat", {}]', 0)
    assert sent(c) == []
    assert [type(e).__name__ for e in c.events()] == ["ProtocolViolation"]
    assert c.pending_incoming == {"dup"}  # the first call still waits for its answer
    result(c, "dup", {"currentTime": NOW})
    assert [m[:2] for m in sent(c)] == [[3, "dup"]]  # exactly one answer under "dup"
    # and again after it was answered: a second answer under one id is never sent
    c.receive_data('[2, "dup", "Heartbeat", {}]', 0)
    assert sent(c) == []


def test_duplicate_id_history_is_bounded() -> None:
    c = conn(V201, id_history=3)
    for i in range(5):
        c.receive_data(json.dumps([2, f"m{i}", "Heartbeat", {}]), 0)
        result(c, f"m{i}", {"currentTime": NOW})
    sent(c)
    c.receive_data('[2, "m0", "Heartbeat", {}]', 0)  # forgotten: accepted
    c.receive_data('[2, "m4", "Heartbeat", {}]', 0)  # remembered: refused, without a second answer
    assert sent(c) == []
    assert c.pending_incoming == {"m0"}


def test_lenient_mode_accepts_long_strings_with_warning() -> None:
    strict = conn(V16)
    strict.receive_data(json.dumps([2, "m1", "Authorize", {"idTag": "x" * 25}]), 0)
    assert sent(strict)[0][2] == "PropertyConstraintViolation"
    lenient = conn(V16, lenient=True)
    lenient.receive_data(json.dumps([2, "m1", "Authorize", {"idTag": "x" * 25}]), 0)
    ev = only_event(lenient)
    assert isinstance(ev, rpc.CallReceived) and ev.warnings
    assert sent(lenient) == []


def test_validation_off() -> None:
    c = conn(V201, validate_incoming=False, validate_outgoing=False)
    c.receive_data(json.dumps([2, "m1", "Heartbeat", {}]), 0)
    assert isinstance(only_event(c), rpc.CallReceived)


# ----------------------------------------------------------------------------------------- OCPP 2.1 frames


def test_send_frames_2_1() -> None:
    c = conn(V21)
    payload = {"id": 1, "pending": 0, "basetime": NOW, "data": [{"t": 0.5, "v": "230.1"}]}
    mid = unconfirmed(c, "NotifyPeriodicEventStream", payload)
    assert sent(c) == [[6, mid, "NotifyPeriodicEventStream", payload]]
    assert c.outstanding_call is None and c.get_timer() is None  # a SEND waits for nothing
    c.receive_data(json.dumps([6, "s1", "NotifyPeriodicEventStream", payload]), 0)
    ev = only_event(c)
    assert isinstance(ev, rpc.SendReceived) and ev.request.to_json() == payload
    c.receive_data(json.dumps([6, "s2", "NotifyPeriodicEventStream", {"id": "x"}]), 0)
    assert sent(c) == []  # an invalid SEND is reported, never answered
    assert isinstance(only_event(c), rpc.ProtocolViolation)


@pytest.mark.parametrize("v", [V16, V201], ids=["1.6", "2.0.1"])
def test_2_1_frames_do_not_exist_before_2_1(v: Any) -> None:
    c = conn(v)
    with pytest.raises(LocalProtocolError):
        unconfirmed(c, "Heartbeat", {})
    with pytest.raises(LocalProtocolError):
        result_error(c, "m1", "GenericError")
    c.receive_data('[6, "s1", "Heartbeat", {}]', 0)
    c.receive_data('[5, "s2", "GenericError", "", {}]', 0)
    out = sent(c)
    if v.VERSION == "1.6":
        assert out == []
    else:
        assert [f[:3] for f in out] == [[4, "s1", "MessageTypeNotSupported"], [4, "s2", "MessageTypeNotSupported"]]


def test_callresulterror_received_2_1() -> None:
    c = conn(V21)
    c.receive_data('[2, "m1", "Heartbeat", {}]', 0)
    c.events()
    result(c, "m1", {"currentTime": NOW})
    sent(c)
    c.receive_data('[5, "m1", "PropertyConstraintViolation", "bad time", {}]', 0)
    assert only_event(c) == rpc.ResultErrorReceived(
        message_id="m1", action="Heartbeat", error_code="PropertyConstraintViolation", error_description="bad time",
        error_details={})
    c.receive_data('[5, "zz", "GenericError", "", {}]', 0)
    assert sent(c) == []  # never answered
    assert isinstance(only_event(c), rpc.ProtocolViolation)


# ----------------------------------------------------------------------------------------- lifecycle


def test_connection_closed_aborts_calls() -> None:
    c = conn(V16)
    a = call(c, "Heartbeat", {}, now=0)
    b = call(c, "Heartbeat", {}, now=0)
    c.connection_closed()
    assert c.events() == [rpc.CallAborted(message_id=a, action="Heartbeat", reason="connection closed"),
                          rpc.CallAborted(message_id=b, action="Heartbeat", reason="connection closed")]
    with pytest.raises(LocalProtocolError):
        call(c, "Heartbeat", {}, now=0)
    with pytest.raises(LocalProtocolError):
        c.receive_data("[]", 0)


def test_cancel() -> None:
    c = conn(V16)
    a = call(c, "Heartbeat", {}, now=0)
    b = call(c, "Heartbeat", {}, now=0)
    d = call(c, "Heartbeat", {}, now=0)
    sent(c)
    c.send(rpc.CancelCall(message_id=b), 1)
    c.send(rpc.CancelCall(message_id=a), 1)
    assert c.events() == [rpc.CallAborted(message_id=b, action="Heartbeat", reason="cancelled"),
                          rpc.CallAborted(message_id=a, action="Heartbeat", reason="cancelled")]
    assert [f[1] for f in sent(c)] == [d]
    c.send(rpc.CancelCall(message_id="nope"), 1)  # nothing pending under that id: nothing happens
    assert c.events() == [] and sent(c) == [] and c.outstanding_call == d


def test_error_codes_per_version() -> None:
    assert rpc.error_code("1.6", "format") == "FormationViolation"
    assert rpc.error_code("1.6", "occurrence") == "OccurenceConstraintViolation"
    assert rpc.error_code("2.0.1", "occurrence") == "OccurrenceConstraintViolation"
    assert rpc.error_code("2.1", "frame") == "RpcFrameworkError"
    assert "RpcFrameworkError" not in rpc.ERROR_CODES["1.6"]
    assert len(rpc.ERROR_CODES["1.6"]) == 10 and len(rpc.ERROR_CODES["2.0.1"]) == 12


# ----------------------------------------------------------------------------------------- two cores joined


@pytest.mark.parametrize("v", VERSIONS, ids=ids)
def test_two_cores_call_each_other(v: Any) -> None:
    cp, csms = conn(v), RpcConnection(v, rng=random.Random(8))

    def pump() -> None:
        for m in cp.data_to_send():
            csms.receive_data(m, 0)
        for m in csms.data_to_send():
            cp.receive_data(m, 0)

    boot = call(cp, "BootNotification", boot_request(v), now=0)
    hb = call(csms, "Heartbeat", {}, now=0) if v.VERSION == "2.1" else None  # a call in the other direction too
    pump()
    ev = csms.next_event()
    assert isinstance(ev, rpc.CallReceived) and ev.message_id == boot
    result(csms, boot, boot_response())
    if hb is not None:
        hb_ev = cp.next_event()
        assert isinstance(hb_ev, rpc.CallReceived) and hb_ev.message_id == hb
        result(cp, hb, {"currentTime": NOW})
    pump()
    pump()
    res = cp.next_event()
    assert isinstance(res, rpc.ResultReceived) and res.response.to_json() == boot_response()
    if hb is not None:
        assert isinstance(csms.next_event(), rpc.ResultReceived)


def test_per_call_timeout_counts_from_sending() -> None:
    c = conn(V201, response_timeout=30.0)
    a = call(c, "Heartbeat", {}, now=0.0)
    b = call(c, "Heartbeat", {}, now=0.0, timeout=2.0)
    with pytest.raises(LocalProtocolError):
        call(c, "Heartbeat", {}, now=0.0, timeout=0)
    assert c.get_timer() == 30.0
    c.receive_data(json.dumps([3, a, {"currentTime": NOW}]), 10.0)
    assert c.outstanding_call == b and c.get_timer() == 12.0  # 2 s from when b went out
    c.handle_timer(12.0)
    assert c.events()[-1] == rpc.CallTimedOut(message_id=b, action="Heartbeat")
