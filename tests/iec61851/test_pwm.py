"""Duty cycle <-> current at every boundary of IEC 61851-1 Annex A (Tables A.7/A.8) and SAE J1772."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evcharge.iec61851.pwm import current_for_duty_cycle, duty_cycle_for_current, hlc_required

# (duty %, current the vehicle may draw) typed from the standard's table, not computed by the code
VEHICLE_TABLE = [
    (0.0, None),
    (2.99, None),  # below 3 %: no charging
    (3.0, None),  # 3-7 %: digital communication required, no current by duty cycle
    (5.0, None),
    (7.0, None),
    (7.01, None),  # 7-8 %: no charging
    (7.99, None),
    (8.0, 6.0),  # 8-10 %: 6 A
    (9.99, 6.0),
    (10.0, 6.0),  # 10-85 %: d x 0.6 A
    (16.0, 9.6),
    (25.0, 15.0),
    (50.0, 30.0),
    (80.0, 48.0),
    (85.0, 51.0),
    (85.4, 53.5),  # 85-96 %: (d - 64) x 2.5 A
    (90.0, 65.0),
    (96.0, 80.0),
    (96.5, 80.0),  # 96-97 %: 80 A
    (97.0, 80.0),
    (97.01, None),  # above 97 %: no charging
    (100.0, None),
    (-5.0, None),
]

# (current asked for, duty the charger must send)
CHARGER_TABLE = [
    (6.0, 10.0),
    (10.0, 100.0 / 6.0),
    (13.0, 130.0 / 6.0),
    (16.0, 160.0 / 6.0),
    (20.0, 200.0 / 6.0),
    (30.0, 50.0),
    (32.0, 320.0 / 6.0),
    (48.0, 80.0),
    (51.0, 85.0),
    (51.5, 85.0),  # 51-52.5 A: not representable, the largest current not above it is 51 A
    (52.5, 85.0),
    (55.0, 86.0),
    (63.0, 89.2),
    (70.0, 92.0),
    (80.0, 96.0),
]


@pytest.mark.parametrize(("duty", "amps"), VEHICLE_TABLE)
def test_current_for_duty_cycle_table(duty: float, amps: float | None) -> None:
    got = current_for_duty_cycle(duty)
    if amps is None:
        assert got is None
    else:
        assert got == pytest.approx(amps, abs=1e-9)


@pytest.mark.parametrize(("amps", "duty"), CHARGER_TABLE)
def test_duty_cycle_for_current_table(amps: float, duty: float) -> None:
    assert duty_cycle_for_current(amps) == pytest.approx(duty, abs=1e-9)


def test_segment_boundary_is_exact() -> None:
    # 51 A must give exactly 85 %: anything above would be read with the second formula as 52.5 A
    assert duty_cycle_for_current(51.0) <= 85.0
    assert current_for_duty_cycle(duty_cycle_for_current(51.0)) == pytest.approx(51.0)


@pytest.mark.parametrize("amps", [0.0, 5.0, 5.99, 80.01, 100.0, -6.0, math.nan, math.inf, -math.inf])
def test_unrepresentable_current_raises_value_error(amps: float) -> None:
    with pytest.raises(ValueError, match="A"):
        duty_cycle_for_current(amps)


@pytest.mark.parametrize(
    ("duty", "expected"),
    [(2.99, False), (3.0, True), (5.0, True), (7.0, True), (7.01, False), (10.0, False), (math.nan, False)],
)
def test_hlc_band(duty: float, expected: bool) -> None:
    assert hlc_required(duty) is expected


@pytest.mark.parametrize("duty", [math.nan, math.inf, -math.inf])
def test_non_numbers_allow_nothing(duty: float) -> None:
    assert current_for_duty_cycle(duty) is None


def _check_readback(amps: float) -> None:
    duty = duty_cycle_for_current(amps)
    read = current_for_duty_cycle(duty)
    assert read is not None
    # the promise, exactly: never more than asked (a float comparison is exact; Fraction says it twice)
    assert read <= amps and Fraction(read) <= Fraction(amps), (amps, duty, read)
    if amps <= 51.0 or amps > 52.5:
        assert read == pytest.approx(amps, rel=1e-15, abs=0)
    else:
        assert read == 51.0


@pytest.mark.property
@given(st.floats(min_value=6.0, max_value=80.0))
def test_charger_never_advertises_more_than_asked(amps: float) -> None:
    _check_readback(amps)


def test_readback_never_exceeds_the_request_on_the_centiamp_grid() -> None:
    # the field report: 92 points between 52.8 A and 80 A read back ~1e-14 A above the request
    for centiamps in range(600, 8001):
        _check_readback(centiamps / 100)


@pytest.mark.property
@given(st.floats(allow_nan=True, allow_infinity=True))
def test_vehicle_interpretation_is_total(duty: float) -> None:
    amps = current_for_duty_cycle(duty)
    assert amps is None or 6.0 <= amps <= 80.0
    if hlc_required(duty):
        assert amps is None


@pytest.mark.property
@given(st.floats(min_value=8.0, max_value=97.0), st.floats(min_value=8.0, max_value=97.0))
def test_more_duty_never_means_less_current(a: float, b: float) -> None:
    lo, hi = sorted((a, b))
    ca, cb = current_for_duty_cycle(lo), current_for_duty_cycle(hi)
    assert ca is not None and cb is not None
    assert ca <= cb + 1e-9
