"""The compiled runtime's fast paths (C integers, inline simple elements, strings made once) at their edges.

Each case states what EXI 1.0 and the schema's facets require; both backends must give the same answer, and the
values that leave a fast path (beyond 64 bits, outside the facets, an empty value as a second-level EE) must get
the same answer as on the general path.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from evcharge._exi import ExiDecodeError, ExiEncodeError

from .codecs import RUNTIMES, codec

BACKENDS = sorted(RUNTIMES)
D_UINT, D_INT, D_NBIT = 1, 2, 3


def _dt(c: Any, kind: int, lo: int | None, hi: int | None) -> int:
    """The index of an ISO-2 datatype of this kind and bounds (xs:short, xs:unsignedLong, ...)."""
    for i, d in enumerate(c._dts):
        if d[0] == kind and d[2] == lo and d[3] == hi:
            return i
    raise LookupError((kind, lo, hi))


def _read(backend: str, dt_of: tuple[int, int | None, int | None], write: Any) -> Any:
    c = codec("ISO2", backend)
    rt = RUNTIMES[backend]
    w = rt.BitWriter()
    write(w)
    return c._grammar.read_value(rt.BitReader(w.getvalue()), _dt(c, *dt_of))


SHORT = (D_INT, -32768, 32767)
ULONG = (D_UINT, 0, 2**64 - 1)
LONG = (D_INT, -(2**63), 2**63 - 1)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("value", [-32768, -1, 0, 1, 127, 128, 32767])
def test_short_values_at_and_inside_their_bounds_decode(backend: str, value: int) -> None:
    assert _read(backend, SHORT, lambda w: w.write_int(value)) == value


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("value", [-32769, 32768, 2**63, 2**70, -(2**70)])
def test_short_values_outside_their_bounds_are_decode_errors_naming_the_value(backend: str, value: int) -> None:
    # 2**63 and beyond take 10 or more octets: the fast path hands them to the general one, which says the same
    with pytest.raises(ExiDecodeError, match=rf"value {value} outside \[-32768, 32767\]"):
        _read(backend, SHORT, lambda w: w.write_int(value))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(("dt", "value"), [(ULONG, 2**64 - 1), (ULONG, 2**63), (LONG, -(2**63)), (LONG, 2**63 - 1)])
def test_64_bit_bounds_decode_whole(backend: str, dt: tuple[int, int, int], value: int) -> None:
    write = (lambda w: w.write_uint(value)) if dt[0] == D_UINT else (lambda w: w.write_int(value))
    assert _read(backend, dt, write) == value


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    ("code_points", "text"), [([0x41, 0x7F], "A\x7f"), ([0xE9, 0x1F600, 0x10FFFF], "é😀\U0010ffff")]
)
def test_strings_are_their_code_points(backend: str, code_points: list[int], text: str) -> None:
    rt = RUNTIMES[backend]
    w = rt.BitWriter()
    for cp in code_points:
        w.write_uint(cp)
    assert rt.BitReader(w.getvalue()).read_string_chars(len(code_points)) == text


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("cp", [0xD800, 0xDFFF, 0x110000, 2**63, 2**70])
def test_a_code_point_that_is_no_character_is_a_decode_error(backend: str, cp: int) -> None:
    rt = RUNTIMES[backend]
    w = rt.BitWriter()
    w.write_uint(0x41)
    w.write_uint(cp)
    with pytest.raises(ExiDecodeError, match=f"invalid code point {cp}"):
        rt.BitReader(w.getvalue()).read_string_chars(2)


def _demand(c: Any, **value: Any) -> Any:
    """An ISO-2 CurrentDemandReq whose EVTargetCurrent has these PhysicalValue fields."""
    d = {"V2G_Message": {"Header": {"SessionID": "41FE1835EEB99776"}, "Body": {"CurrentDemandReq": {
        "DC_EVStatus": {"EVReady": True, "EVErrorCode": "NO_ERROR", "EVRESSSOC": 55},
        "EVTargetCurrent": {"Multiplier": 0, "Unit": "A", "Value": 10},
        "EVTargetVoltage": {"Multiplier": 0, "Unit": "V", "Value": 400},
        "ChargingComplete": False,
    }}}}
    msg = c.from_dict(d)
    req = msg.body.current_demand_req
    current = dataclasses.replace(req.ev_target_current, **value)
    return dataclasses.replace(msg, body=dataclasses.replace(msg.body, current_demand_req=dataclasses.replace(
        req, ev_target_current=current)))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    ("field", "value"), [("value", -32768), ("value", 32767), ("multiplier", -3), ("multiplier", 3)]
)
def test_bounds_encode_and_come_back(backend: str, field: str, value: int) -> None:
    c = codec("ISO2", backend)
    msg = _demand(c, **{field: value})
    assert c.decode(c.encode(msg)) == msg


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("value", 32768, r"Value: value 32768 outside \[-32768, 32767\]"),
        ("value", 2**63, rf"Value: value {2**63} outside"),
        ("value", -(2**70), rf"Value: value {-(2**70)} outside"),
        ("multiplier", 4, r"Multiplier: value 4 outside \[-3, 3\]"),
        ("value", True, "Value: expected an int, got bool"),
        ("value", 1.0, "Value: expected an int, got float"),
    ],
)
def test_values_beyond_the_facets_or_of_another_type_are_encode_errors(
    backend: str, field: str, value: object, error: str
) -> None:
    c = codec("ISO2", backend)
    with pytest.raises(ExiEncodeError, match=rf"EVTargetCurrent\.{error}"):
        c.encode(_demand(c, **{field: value}))


def _uint_bits(n: int) -> str:
    """EXI 1.0 7.1.6 Unsigned Integer: groups of 7 bits, least significant first, bit 8 set on all but the last."""
    groups = []
    while True:
        low, n = n & 0x7F, n >> 7
        groups.append(format(low | (0x80 if n else 0), "08b"))
        if not n:
            return "".join(groups)


def _packed(bits: str) -> bytes:
    bits += "0" * (-len(bits) % 8)
    return bytes(int(bits[i:i + 8], 2) for i in range(0, len(bits), 8))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("shift", range(8))
@pytest.mark.parametrize("size", [0, 1, 2, 8, 127, 128, 300])
def test_binary_values_at_every_bit_offset(backend: str, shift: int, size: int) -> None:
    # EXI 1.0 7.1.1 Binary: the length as an Unsigned Integer, then the octets, here from any bit offset (bit-packed);
    # the bits are laid out by hand, not by the writer, and the value ends exactly at the end of the input or not
    value = bytes((37 * i + 11) & 0xFF for i in range(size))
    for tail in ("", "1"):
        bits = "1" * shift + _uint_bits(size) + "".join(format(b, "08b") for b in value) + tail
        r = RUNTIMES[backend].BitReader(_packed(bits), shift)
        assert r.read_binary(1000) == value
        assert r.bit_offset == len(bits) - len(tail)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("shift", [0, 3])
def test_binary_length_errors(backend: str, shift: int) -> None:
    rt = RUNTIMES[backend]
    with pytest.raises(ExiDecodeError, match="length 9 exceeds the allowed maximum 8"):
        rt.BitReader(_packed("1" * shift + _uint_bits(9) + "0" * 72), shift).read_binary(8)
    with pytest.raises(ExiDecodeError, match="non-minimal form"):  # 0 written as 0x80 0x00
        rt.BitReader(_packed("1" * shift + "1000000000000000" + "0" * 8), shift).read_binary(8)
    with pytest.raises(ExiDecodeError, match="unexpected end of input"):  # 4 octets announced, 3 present
        rt.BitReader(_packed("1" * shift + _uint_bits(4) + "0" * 24), shift).read_binary(8)
    with pytest.raises(ExiDecodeError, match="exceeds the allowed maximum"):  # a length of 10 octets (2**63)
        rt.BitReader(_packed("1" * shift + _uint_bits(2**63) + "0" * 8), shift).read_binary(8)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    "value", [0, 127, 128, 16383, 16384, 32767, -1, -128, -129, -16384, -16385, -32768]
)
def test_short_values_encode_with_the_octets_exi_requires(backend: str, value: int) -> None:
    # the encoder writes a simple element's event codes and a bounded int in one step; EXI 1.0 7.1.5/7.1.6: a sign
    # bit, then the magnitude (-(v + 1) when negative) in 7-bit groups, so 1, 2 or 3 octets: the message grows by
    # exactly the octets beyond the first, its other bits stay where they were, and it decodes back the same
    c = codec("ISO2", backend)
    msg = _demand(c, value=value)
    data = c.encode(msg)
    magnitude = -value - 1 if value < 0 else value
    octets = 1 if magnitude < 0x80 else 2 if magnitude < 0x4000 else 3
    assert len(data) == len(c.encode(_demand(c, value=0))) + octets - 1
    assert c.decode(data) == msg
    assert data == codec("ISO2", "python").encode(_demand(codec("ISO2", "python"), value=value))



@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("unit", ["h", "m", "s", "A", "V", "W", "Wh"])
def test_enumerations_written_inline_come_back(backend: str, unit: str) -> None:
    c = codec("ISO2", backend)
    unit_type = type(_demand(c).body.current_demand_req.ev_target_current.unit)
    msg = _demand(c, unit=unit_type(unit))
    assert c.decode(c.encode(msg)) == msg
    with pytest.raises(ExiEncodeError, match=r"EVTargetCurrent\.Unit: 'k' is not one of \['h', 'm', 's', 'A', 'V'"):
        c.encode(_demand(c, unit="k"))
