"""V2GTP header and stream framer (ISO 15118-2 §7.8.3, -20 V2GTP, DIN 70121)."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evcharge.errors import RemoteProtocolError
from evcharge.iso15118.handover import PayloadType
from evcharge.iso15118.v2gtp import (
    KNOWN_PAYLOAD_TYPES,
    V2gtpError,
    V2gtpFault,
    V2gtpFramer,
    V2gtpMessage,
    decode_header,
    decode_message,
    encode_message,
)

# every payload type the standards define (facts/v2g_slac_iec61851.md §1), written out, not taken from the code
STANDARD_TYPES = {0x8001, 0x8002, 0x8003, 0x8004, 0x8005, 0x8006, 0x8101, 0x8102, 0x8103, 0x8104,
                  0x9000, 0x9001, 0x9002, 0x9003}


def test_header_layout() -> None:
    # version 0x01, inverse 0xFE, payload type u16 BE, length u32 BE, then the payload
    assert encode_message(0x8001, b"\x80\x98") == bytes.fromhex("01fe8001000000028098")
    assert encode_message(0x9000, b"\x10\x00") == bytes.fromhex("01fe9000000000021000")


def test_every_standard_payload_type_is_known() -> None:
    assert KNOWN_PAYLOAD_TYPES == STANDARD_TYPES
    for t in STANDARD_TYPES:
        assert decode_header(encode_message(t, b"")) == (t, 0)


@pytest.mark.parametrize(
    ("header", "fault"),
    [
        (bytes.fromhex("02fd800100000000"), V2gtpFault.VERSION),
        (bytes.fromhex("01ff800100000000"), V2gtpFault.VERSION),  # inverse does not match
        (bytes.fromhex("01fe800700000000"), V2gtpFault.PAYLOAD_TYPE),
        (bytes.fromhex("01fe000000000000"), V2gtpFault.PAYLOAD_TYPE),
        (bytes.fromhex("01fe8001ffffffff"), V2gtpFault.LENGTH),
    ],
)
def test_bad_header_is_refused_with_its_reason(header: bytes, fault: V2gtpFault) -> None:
    framer = V2gtpFramer()
    with pytest.raises(V2gtpError) as info:
        framer.receive_data(header)
    assert info.value.fault is fault
    assert isinstance(info.value, RemoteProtocolError) and info.value.hint is None
    assert fault.value.split()[0] in str(info.value)
    # the framer stays failed: the rest of the stream has no meaning
    with pytest.raises(V2gtpError):
        framer.receive_data(encode_message(0x8001, b"ok"))


def test_oversize_is_refused_from_the_header_alone() -> None:
    framer = V2gtpFramer(max_payload=1000)
    framer.receive_data(bytes.fromhex("01fe8001"))  # half a header: nothing to judge yet
    assert framer.next_message() is None
    with pytest.raises(V2gtpError) as info:
        framer.receive_data(struct.pack(">I", 1001))  # the length arrives: refused before any payload
    assert info.value.fault is V2gtpFault.LENGTH
    assert framer.buffered == 0
    ok = V2gtpFramer(max_payload=1000)
    ok.receive_data(encode_message(0x8001, bytes(1000)))
    assert ok.next_message() == V2gtpMessage(payload_type=0x8001, payload=bytes(1000))


def test_allowed_types_narrow_the_framer() -> None:
    framer = V2gtpFramer(allowed={0x8001})
    with pytest.raises(V2gtpError, match="unexpected here") as info:
        framer.receive_data(encode_message(0x9000, b"\x00\x00"))
    assert info.value.fault is V2gtpFault.PAYLOAD_TYPE


def test_datagram_length_must_match() -> None:
    with pytest.raises(V2gtpError) as info:
        decode_message(encode_message(0x9000, b"\x00\x00") + b"\x00")
    assert info.value.fault is V2gtpFault.LENGTH
    with pytest.raises(V2gtpError):
        decode_message(bytes.fromhex("01fe90"))


def test_several_messages_in_one_read_and_one_message_in_many() -> None:
    framer = V2gtpFramer()
    data = encode_message(0x8001, b"a") + encode_message(0x8002, b"") + encode_message(0x8004, b"ccc")
    framer.receive_data(data[:3])
    framer.receive_data(data[3:11])
    assert [m.payload for m in framer.messages()] == [b"a"]
    framer.receive_data(data[11:])
    assert framer.messages() == [
        V2gtpMessage(payload_type=0x8002, payload=b""),
        V2gtpMessage(payload_type=0x8004, payload=b"ccc"),
    ]
    assert framer.buffered == 0


messages_strategy = st.lists(
    st.tuples(st.sampled_from(sorted(STANDARD_TYPES)), st.binary(max_size=300)), max_size=12
)


@pytest.mark.property
@given(messages=messages_strategy, cuts=st.lists(st.integers(min_value=0, max_value=4000), max_size=30))
def test_any_chunking_gives_the_same_messages(messages: list[tuple[int, bytes]], cuts: list[int]) -> None:
    stream = b"".join(encode_message(t, p) for t, p in messages)
    points = sorted({c % (len(stream) + 1) for c in cuts})
    chunks = [stream[a:b] for a, b in zip([0, *points], [*points, len(stream)], strict=True)]
    framer = V2gtpFramer()
    got: list[tuple[int, bytes]] = []
    for chunk in chunks:
        framer.receive_data(chunk)
        got.extend((m.payload_type, m.payload) for m in framer.messages())
    assert got == messages
    assert framer.buffered == 0


@pytest.mark.fuzz
@given(data=st.binary(max_size=200), split=st.integers(min_value=0, max_value=200))
def test_fuzz_any_input_is_a_message_or_the_protocol_error(data: bytes, split: int) -> None:
    framer = V2gtpFramer(max_payload=64)
    try:
        framer.receive_data(data[:split])
        framer.receive_data(data[split:])
    except V2gtpError as exc:
        assert exc.fault in V2gtpFault
        return
    messages = framer.messages()
    # what came out re-encodes to a prefix of the input; the rest is an incomplete message
    consumed = b"".join(m.encode() for m in messages)
    assert data.startswith(consumed)
    assert framer.buffered == len(data) - len(consumed)


@pytest.mark.fuzz
@given(payload=st.binary(max_size=40), flip=st.integers(min_value=0, max_value=47))
def test_fuzz_mutated_headers(payload: bytes, flip: int) -> None:
    data = bytearray(encode_message(PayloadType.EXI, payload))
    data[flip // 8] ^= 1 << (flip % 8)
    framer = V2gtpFramer(max_payload=64)
    try:
        framer.receive_data(bytes(data))
    except V2gtpError:
        return
    for message in framer.messages():
        assert message.payload_type in STANDARD_TYPES
