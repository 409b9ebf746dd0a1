"""The shortcuts of the Heartbeat path (scanner-only decoding, the prebuilt encoder, the CALLRESULT written without
its frame object, the date-time check) behave as the standards say, on the edges the shortcuts skip."""

from __future__ import annotations

import dataclasses
import json

import pytest

from evcharge.ocpp import rpc
from evcharge.ocpp import v201 as V201
from evcharge.ocpp.errors import LocalProtocolError
from evcharge.ocpp.rpc import RpcConnection
from evcharge.ocpp.rpc.frames import CallResult, encode_frame

NOW = "2024-05-01T12:00:00Z"


def answer_heartbeat(c: RpcConnection, frame: str | bytes, current_time: str = NOW) -> list[bytes]:
    c.receive_data(frame, 0.0)
    ev = c.next_event()
    assert isinstance(ev, rpc.CallReceived), ev
    c.send(rpc.SendResult(message_id=ev.message_id, response=V201.HeartbeatResponse(current_time=current_time)),
           0.0)
    return c.data_to_send()


@pytest.mark.parametrize("frame", ['[2,"m1","Heartbeat",{}]', ' \t[2,"m1","Heartbeat",{}]\r\n',
                                   b'\n[2, "m1", "Heartbeat", {}] ', b'[2,"m1","Heartbeat",{}]'])
def test_white_space_around_the_message_is_insignificant(frame: str | bytes) -> None:
    """RFC 8259 section 2: white space is allowed before or after any JSON value."""
    out = answer_heartbeat(RpcConnection(V201), frame)
    assert out == [b'[3,"m1",{"currentTime":"2024-05-01T12:00:00Z"}]']


@pytest.mark.parametrize("frame", ['[2,"m1","Heartbeat",{}]x', '[2,"m1","Heartbeat",{}][2,"m2","Heartbeat",{}]',
                                   '[2,"m1","Heartbeat",{"customData":{"vendorId":"v","x":NaN}}]',
                                   '[2,"m1","Heartbeat",{"customData":{"vendorId":"v","x":Infinity}}]'])
def test_extra_data_or_non_json_constants_are_a_format_violation(frame: str) -> None:
    """One websocket message is one JSON value (OCPP-J 4.1); NaN and Infinity are not JSON (RFC 8259 section 6)."""
    c = RpcConnection(V201)
    c.receive_data(frame, 0.0)
    out = [json.loads(m) for m in c.data_to_send()]
    assert out[0][:3] == [4, "-1", "FormatViolation"]
    assert isinstance(c.next_event(), rpc.ProtocolViolation)


def test_callresult_bytes_are_compact_utf8_json() -> None:
    """The answer is UTF-8 (RFC 8259 section 8.1) and the same bytes as encode_frame(CallResult(...))."""
    c = RpcConnection(V201)
    c.receive_data('[2,"é-1","Heartbeat",{}]', 0.0)
    ev = c.next_event()
    assert isinstance(ev, rpc.CallReceived)
    c.send(rpc.SendResult(message_id=ev.message_id, response={"currentTime": NOW}), 0.0)
    (out,) = c.data_to_send()
    assert out == encode_frame(CallResult("é-1", {"currentTime": NOW}))
    assert out == '[3,"é-1",{"currentTime":"2024-05-01T12:00:00Z"}]'.encode()


def test_encoder_refuses_what_json_cannot_carry() -> None:
    with pytest.raises(ValueError):
        encode_frame(CallResult("m", {"x": float("nan")}))
    with pytest.raises(TypeError):
        encode_frame(CallResult("m", {"x": object()}))
    loop: dict[str, object] = {}
    loop["self"] = loop
    with pytest.raises(ValueError):
        encode_frame(CallResult("m", loop))
    # a failed encoding leaves nothing behind: the same (acyclic) objects encode afterwards
    inner = {"a": [1, 2]}
    with pytest.raises(TypeError):
        encode_frame(CallResult("m", {"ok": inner, "bad": object()}))
    assert encode_frame(CallResult("m", {"ok": inner})) == b'[3,"m",{"ok":{"a":[1,2]}}]'


@pytest.mark.parametrize(("current_time", "valid"), [
    ("2024-01-28T00:00:00Z", True), ("2024-01-31T00:00:00Z", True), ("2024-02-29T00:00:00Z", True),
    ("2023-02-29T00:00:00Z", False), ("2100-02-29T00:00:00Z", False), ("2000-02-29T00:00:00Z", True),
    ("2024-04-30T00:00:00Z", True), ("2024-04-31T00:00:00Z", False), ("2024-01-00T00:00:00Z", False),
    ("2024-01-32T00:00:00Z", False), ("0000-01-01T00:00:00Z", False), ("0001-01-01T00:00:00Z", True),
])
def test_outgoing_current_time_is_an_rfc3339_date(current_time: str, valid: bool) -> None:
    """RFC 3339 section 5.7: the day is 01-28, 29, 30 or 31 by month and (Gregorian) leap year; year 0000 is
    refused as the reference JSON Schema validator refuses it (its date-time check goes through Python's datetime,
    which starts at year 1)."""
    c = RpcConnection(V201)
    if valid:
        assert answer_heartbeat(c, '[2,"m1","Heartbeat",{}]', current_time)
    else:
        with pytest.raises(LocalProtocolError):
            answer_heartbeat(c, '[2,"m1","Heartbeat",{}]', current_time)
        assert c.data_to_send() == []


def test_events_and_commands_stay_frozen_and_keyword_only() -> None:
    ev = rpc.CallReceived(message_id="m", action="Heartbeat", request=V201.HeartbeatRequest(), payload={})
    assert ev.warnings == ()
    assert ev == rpc.CallReceived(message_id="m", action="Heartbeat", request=V201.HeartbeatRequest(), payload={},
                                  warnings=())
    cmd = rpc.SendResult(message_id="m", response={})
    for obj, name in ((ev, "action"), (cmd, "response")):
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(obj, name, "x")
    with pytest.raises(TypeError):
        rpc.SendResult("m", {})  # type: ignore[misc]
    with pytest.raises(TypeError):
        rpc.CallReceived(message_id="m", action="Heartbeat")  # type: ignore[call-arg]


def test_deep_nesting_is_answered_not_raised() -> None:
    """A peer's message nested 100,000 deep is bad input: answered with a CALLERROR (FormatViolation), never an
    exception out of receive_data."""
    c = RpcConnection(V201)
    c.receive_data('[2,"m1","Heartbeat",{"customData":' + "[" * 100_000 + "]" * 100_000 + "}]", 0.0)
    out = [json.loads(m) for m in c.data_to_send()]
    assert out[0][:3] == [4, "-1", "FormatViolation"]
    assert isinstance(c.next_event(), rpc.ProtocolViolation)
