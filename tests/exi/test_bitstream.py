"""The EXI bit stream against EXI 1.0 section 7 encodings, on both backends."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evcharge._exi import ExiDecodeError, _runtime

try:
    from evcharge._exi import _runtime_c  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - no compiler
    _runtime_c = None

BACKENDS = [pytest.param(_runtime, id="python")]
if _runtime_c is not None:
    BACKENDS.append(pytest.param(_runtime_c, id="cython"))


@pytest.fixture(params=BACKENDS)
def rt(request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    return request.param


def test_bits_are_msb_first(rt) -> None:  # type: ignore[no-untyped-def]
    w = rt.BitWriter()
    w.write_bits(1, 1)
    w.write_bits(0, 1)
    w.write_bits(0b101, 3)
    assert w.getvalue() == bytes([0b10101000])
    assert w.bit_length == 5


@pytest.mark.parametrize(
    ("value", "octets"),
    [(0, "00"), (1, "01"), (127, "7f"), (128, "8001"), (300, "ac02"), (16384, "808001")],
)
def test_unsigned_integer_is_7_bit_groups_least_significant_first(rt, value: int, octets: str) -> None:  # type: ignore[no-untyped-def]
    w = rt.BitWriter()
    w.write_uint(value)
    assert w.getvalue().hex() == octets
    assert rt.BitReader(bytes.fromhex(octets)).read_uint() == value


def test_negative_integer_stores_minus_value_minus_one(rt) -> None:  # type: ignore[no-untyped-def]
    w = rt.BitWriter()
    w.write_int(-1)
    # sign bit 1, magnitude 0 -> 1 0000000 0 (9 bits)
    assert w.getvalue() == bytes([0x80, 0x00])
    assert rt.BitReader(w.getvalue()).read_int() == -1


@given(st.lists(st.tuples(st.integers(0, 32), st.integers(0, 2**32 - 1)), max_size=40))
def test_bits_round_trip(fields: list[tuple[int, int]]) -> None:
    for mod in [p.values[0] for p in BACKENDS]:
        w = mod.BitWriter()
        for n, v in fields:
            w.write_bits(v, n)
        r = mod.BitReader(w.getvalue())
        assert [r.read_bits(n) for n, _ in fields] == [v & ((1 << n) - 1) for n, v in fields]


@given(st.integers(-(2**200), 2**200), st.binary(max_size=50), st.text(max_size=30))
def test_values_round_trip_and_backends_agree(i: int, b: bytes, s: str) -> None:
    outputs = []
    for mod in [p.values[0] for p in BACKENDS]:
        w = mod.BitWriter()
        w.write_bool(True)
        w.write_int(i)
        w.write_binary(b)
        w.write_uint(len(s))
        w.write_string_chars(s)
        data = w.getvalue()
        outputs.append(data)
        r = mod.BitReader(data)
        assert r.read_bool() is True
        if abs(i) < 2**270:
            assert r.read_int() == i
            assert r.read_binary(1000) == b
            assert r.read_string_chars(r.read_length(1000)) == s
    assert len(set(outputs)) == 1


def test_reading_past_the_end_is_a_decode_error(rt) -> None:  # type: ignore[no-untyped-def]
    r = rt.BitReader(b"\xff")
    r.read_bits(5)
    with pytest.raises(ExiDecodeError) as exc:
        r.read_bits(4)
    assert exc.value.bit_offset == 5


def test_endless_unsigned_integer_is_rejected(rt) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ExiDecodeError):
        rt.BitReader(b"\xff" * 64).read_uint()  # more than 40 continuation octets


def test_length_beyond_limit_is_rejected(rt) -> None:  # type: ignore[no-untyped-def]
    w = rt.BitWriter()
    w.write_uint(5000)
    with pytest.raises(ExiDecodeError, match="exceeds"):
        rt.BitReader(w.getvalue()).read_binary(100)
