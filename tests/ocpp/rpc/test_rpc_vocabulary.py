"""The RPC core speaks the vocabulary of every core: bytes in and out, commands, state, one message per call."""

from __future__ import annotations

import json

import pytest

from evcharge.ocpp import rpc, v201
from evcharge.ocpp.errors import LocalProtocolError
from evcharge.sansio import WireCore


def test_bytes_out_are_utf8_json_text() -> None:
    c = rpc.RpcConnection(v201)
    c.receive_data(b'[2,"m1","Heartbeat",{}]', 0.0)
    ev = c.next_event()
    assert isinstance(ev, rpc.CallReceived) and ev.message_id == "m1"
    c.send(rpc.SendResult(message_id="m1", response=v201.HeartbeatResponse(current_time="2024-05-01T12:00:00Z")), 0.0)
    (out,) = c.data_to_send()
    assert isinstance(out, bytes)
    assert json.loads(out.decode("utf-8")) == [3, "m1", {"currentTime": "2024-05-01T12:00:00Z"}]
    assert c.data_to_send() == []  # emptied


def test_non_ascii_text_is_utf8() -> None:
    c = rpc.RpcConnection(v201)
    c.receive_data('[2,"m1","Heartbeat",{}]', 0.0)  # a str, as websockets hands a text frame over
    c.next_event()
    c.send(rpc.SendError(message_id="m1", code="GenericError", description="Störung"), 0.0)
    (out,) = c.data_to_send()
    assert "Störung".encode() in out


def test_state_follows_our_call() -> None:
    c = rpc.RpcConnection(v201)
    assert isinstance(c, WireCore)
    assert c.state is rpc.RpcState.IDLE
    mid = c.new_message_id()
    c.send(rpc.StartCall(message_id=mid, action="Heartbeat", request={}), 0.0)
    assert c.state is rpc.RpcState.AWAITING_ANSWER
    c.receive_data(f'[3,"{mid}",{{"currentTime":"2024-05-01T12:00:00Z"}}]'.encode(), 1.0)
    assert c.state is rpc.RpcState.IDLE
    c.connection_closed()
    assert c.state is rpc.RpcState.CLOSED


def test_not_a_command() -> None:
    c = rpc.RpcConnection(v201)
    with pytest.raises(LocalProtocolError):
        c.send("Heartbeat", 0.0)  # type: ignore[arg-type]


def test_frame_error_hint_is_the_error_code() -> None:
    with pytest.raises(rpc.FrameError) as info:
        rpc.parse_frame(b"not json")
    assert info.value.hint == "FormatViolation"
    # OCPP 1.6 spells it FormationViolation (OCPP-J 1.6 section 4.2.3)
    assert rpc.translate_code("1.6", info.value.hint) == "FormationViolation"
    assert rpc.translate_code("2.0.1", "OccurrenceConstraintViolation") == "OccurrenceConstraintViolation"
    assert rpc.translate_code("1.6", "OccurrenceConstraintViolation") == "OccurenceConstraintViolation"
    assert rpc.translate_code("2.0.1", "NoSuchCode") is None
