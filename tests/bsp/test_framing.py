"""COBS + CRC-32/JAMCRC framing of the Yeti link."""

from __future__ import annotations

import re
import zlib
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evcharge.bsp.errors import FramingError, LocalProtocolError
from evcharge.bsp.yeti.framing import (
    MAX_DECODED_SIZE,
    FrameDecoder,
    cobs_decode,
    cobs_encode,
    crc32_jamcrc,
    decode_block,
    encode_frame,
)


def golden(test_data: Path) -> list[tuple[str, bytes, int, bytes]]:
    rows = []
    for line in (test_data / "yeti" / "golden_frames.txt").read_text().splitlines():
        m = re.match(r"(.*): payload=([0-9a-f]+) crc=0x([0-9a-f]+) residue=0x0 frame=([0-9a-f]+)", line)
        assert m, line
        rows.append((m[1], bytes.fromhex(m[2]), int(m[3], 16), bytes.fromhex(m[4])))
    assert len(rows) >= 12
    return rows


def test_golden_frames_encode_and_decode(test_data: Path) -> None:
    for name, payload, crc, frame in golden(test_data):
        assert crc32_jamcrc(payload) == crc, name
        assert encode_frame(payload) == frame, name
        assert FrameDecoder().feed(frame) == [payload], name


def test_jamcrc_is_inverted_crc32_and_check_value() -> None:
    # CRC-32/JAMCRC catalogue check value for "123456789" is 0x340BC6D9
    assert crc32_jamcrc(b"123456789") == 0x340BC6D9
    assert crc32_jamcrc(b"abc") == zlib.crc32(b"abc") ^ 0xFFFFFFFF


def test_cobs_known_vectors() -> None:
    # vectors from the COBS paper / Wikipedia table
    assert cobs_encode(b"\x00") == b"\x01\x01"
    assert cobs_encode(b"\x00\x00") == b"\x01\x01\x01"
    assert cobs_encode(b"\x11\x22\x00\x33") == b"\x03\x11\x22\x02\x33"
    assert cobs_encode(b"\x11\x00\x00\x00") == b"\x02\x11\x01\x01\x01"
    assert cobs_decode(b"\x03\x11\x22\x02\x33") == b"\x11\x22\x00\x33"


def test_cobs_ends_a_final_254_byte_run_as_the_firmware_does() -> None:
    """The firmware's encoder (yeti-firmware MgmtLink.cpp cobsEncode) writes no empty block after a final
    0xFF block; both forms decode to the same bytes (the MCU's decoder and ours accept either)."""
    data = bytes(range(1, 255))  # 254 non-zero bytes
    assert cobs_encode(data) == b"\xff" + data
    assert cobs_decode(b"\xff" + data) == data
    assert cobs_decode(b"\xff" + data + b"\x01") == data
    assert cobs_encode(data + b"\x07") == b"\xff" + data + b"\x02\x07"
    # the largest frame the MCU accepts: 250 payload bytes + CRC = 254 decoded bytes
    payload = bytes(range(1, 251))
    frame = encode_frame(payload)
    assert len(frame) <= MAX_DECODED_SIZE + 2 and frame.endswith(b"\x00") and 0 not in frame[:-1]
    assert FrameDecoder().feed(frame) == [payload]


def test_cobs_decode_rejects_code_past_end_and_zero() -> None:
    with pytest.raises(FramingError):
        cobs_decode(b"\x05\x11\x22")
    with pytest.raises(FramingError):
        cobs_decode(b"\x03\x11\x00")


def test_stream_with_garbage_bad_crc_and_empty_frames() -> None:
    a, b = bytes.fromhex("b00601"), bytes.fromhex("c00601")
    bad = bytearray(encode_frame(bytes.fromhex("b80600")))
    bad[1] ^= 0x40  # payload byte changed: CRC no longer matches
    stream = b"\x00\x00" + b"\x13\x37\xff" + b"\x00" + encode_frame(a) + bytes(bad) + encode_frame(b)
    dec = FrameDecoder()
    assert dec.feed(stream) == [a, b]
    stats = dec.stats
    assert stats.frames == 2
    assert stats.crc_errors == 1
    assert stats.cobs_errors + stats.size_errors == 1  # the garbage block
    assert dec.pending == 0


def test_oversized_block_is_dropped_and_decoder_resynchronises() -> None:
    dec = FrameDecoder()
    assert dec.feed(b"\x01" * 1000) == []
    good = bytes.fromhex("b00601")
    assert dec.feed(b"\x00" + encode_frame(good)) == [good]
    assert dec.stats.size_errors == 1
    assert dec.stats.frames == 1


def test_size_limits() -> None:
    largest = b"\x01" * (MAX_DECODED_SIZE - 4)
    assert FrameDecoder().feed(encode_frame(largest)) == [largest]
    with pytest.raises(LocalProtocolError):
        encode_frame(largest + b"\x01")
    with pytest.raises(LocalProtocolError):
        encode_frame(b"")
    # a frame shorter than payload + CRC is refused by the decoder
    short = cobs_encode(b"\x01\x02\x03") + b"\x00"
    dec = FrameDecoder()
    assert dec.feed(short) == []
    assert dec.stats.size_errors == 1
    with pytest.raises(FramingError):
        decode_block(cobs_encode(b"\x01\x02\x03"))


@pytest.mark.property
@given(st.binary(max_size=600))
def test_cobs_round_trip(data: bytes) -> None:
    encoded = cobs_encode(data)
    assert 0 not in encoded
    assert cobs_decode(encoded) == data


@pytest.mark.property
@given(st.lists(st.binary(min_size=1, max_size=MAX_DECODED_SIZE - 4), max_size=8), st.data())
def test_frames_survive_any_chunking(payloads: list[bytes], data: st.DataObject) -> None:
    stream = b"".join(encode_frame(p) for p in payloads)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=10)))
    dec = FrameDecoder()
    out: list[bytes] = []
    prev = 0
    for cut in [*cuts, len(stream)]:
        out += dec.feed(stream[prev:cut])
        prev = cut
    assert out == payloads
    assert dec.stats.errors == 0


@pytest.mark.fuzz
@given(st.binary(max_size=2000), st.lists(st.binary(min_size=1, max_size=40), max_size=4))
def test_any_byte_stream_yields_frames_or_counted_errors(noise: bytes, payloads: list[bytes]) -> None:
    dec = FrameDecoder()
    frames = dec.feed(noise)
    stats = dec.stats
    assert stats.frames == len(frames)
    for f in frames:  # anything accepted really carries a valid CRC
        assert len(f) >= 1
    # after a delimiter the decoder is in sync again: good frames are never lost
    frames2 = dec.feed(b"\x00" + b"".join(encode_frame(p) for p in payloads))
    assert frames2[-len(payloads) :] == payloads if payloads else True
    assert len(frames2) >= len(payloads)


@pytest.mark.fuzz
@given(st.lists(st.binary(min_size=1, max_size=60), min_size=1, max_size=5), st.data())
def test_mutated_frames_are_dropped_not_misread(payloads: list[bytes], data: st.DataObject) -> None:
    stream = bytearray(b"".join(encode_frame(p) for p in payloads))
    pos = data.draw(st.integers(0, len(stream) - 1))
    stream[pos] ^= data.draw(st.integers(1, 255))
    dec = FrameDecoder()
    out = dec.feed(bytes(stream) + b"\x00")
    # every frame that comes out is one that was sent; a corrupted one is counted as an error -- except the
    # one case CRC-32/JAMCRC cannot see: it has no final XOR, so when a delimiter is corrupted into a COBS
    # code, the CRC's low byte is re-read as one more payload byte and the shifted register still matches.
    # The message layer refuses such a frame (test_payload_plus_crc_byte_is_refused_by_the_message_layer).
    for f in out:
        assert f in payloads or any(f == p + crc32_jamcrc(p).to_bytes(4, "little")[:1] for p in payloads)
    assert len(out) + dec.stats.errors >= len(payloads) - 1


def test_payload_plus_crc_byte_is_refused_by_the_message_layer(test_data: Path) -> None:
    """The JAMCRC aliasing above yields a real message followed by one byte: no Yeti message parses then."""
    from evcharge.bsp.yeti import messages as pb

    checked = 0
    rows = golden(test_data)
    for _name, payload, _crc, _frame in rows:
        for cls in (pb.McuToEverest, pb.EverestToMcu):
            try:
                cls.FromString(payload)
            except pb.DecodeError:
                continue
            for extra in range(256):
                with pytest.raises(pb.DecodeError):
                    cls.FromString(payload + bytes([extra]))
            checked += 1
    assert checked >= len(rows)


def test_resync_drops_a_partial_frame_silently() -> None:
    frame = encode_frame(bytes.fromhex("b00601"))
    dec = FrameDecoder()
    dec.resync()
    assert dec.feed(frame[3:]) == []  # joined in the middle of a frame
    assert dec.feed(frame) == [bytes.fromhex("b00601")]
    assert dec.stats.errors == 0
    dec2 = FrameDecoder()
    assert dec2.feed(frame[3:] + frame) == [bytes.fromhex("b00601")]
    assert dec2.stats.errors == 1  # without resync the fragment counts as a bad frame
    dec3 = FrameDecoder()
    dec3.resync()
    assert dec3.feed(frame) == [bytes.fromhex("b00601")]  # joined exactly at a frame start: nothing lost


def test_corrupted_delimiter_re_reads_the_crc_low_byte() -> None:
    """The case hypothesis found: ten zero bytes, the delimiter flipped to 0x01 (a COBS code)."""
    payload = bytes(10)
    stream = bytearray(encode_frame(payload))
    stream[-1] ^= 0x01
    (frame,) = FrameDecoder().feed(bytes(stream) + b"\x00")
    assert frame == payload + crc32_jamcrc(payload).to_bytes(4, "little")[:1]
