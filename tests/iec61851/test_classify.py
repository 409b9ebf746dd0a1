"""Classification of pilot voltages: IEC 61851-1 Table A.4 bands, diode fault, implausible readings."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evcharge.iec61851.classify import PilotBands, classify, classify_high
from evcharge.iec61851.states import CPState, PilotFault

# band edges from Table A.4 (nominal +/- 1 V)
IN_BAND = [
    (13.0, CPState.A), (12.0, CPState.A), (11.0, CPState.A),
    (10.0, CPState.B), (9.0, CPState.B), (8.0, CPState.B),
    (7.0, CPState.C), (6.0, CPState.C), (5.0, CPState.C),
    (4.0, CPState.D), (3.0, CPState.D), (2.0, CPState.D),
    (1.0, CPState.E), (0.0, CPState.E), (-1.0, CPState.E),
    (-11.0, CPState.F), (-12.0, CPState.F), (-13.0, CPState.F),
]
BETWEEN = [13.01, 10.99, 10.5, 10.01, 7.99, 7.5, 7.01, 4.99, 4.01, 1.99, 1.01, -1.01, -6.0, -10.99, -13.01, 20.0]


@pytest.mark.parametrize(("volts", "state"), IN_BAND)
def test_band_edges_are_inclusive(volts: float, state: CPState) -> None:
    assert classify_high(volts) is state
    assert classify(volts) == classify(volts, None, pwm=True)
    assert classify(volts).state is state


@pytest.mark.parametrize("volts", [*BETWEEN, math.nan, math.inf, -math.inf])
def test_between_bands_is_an_implausible_fault(volts: float) -> None:
    result = classify(volts, -12.0, pwm=True)
    assert result.state is None
    assert result.fault is PilotFault.IMPLAUSIBLE
    assert result.detail


@pytest.mark.parametrize("state_volts", [9.0, 6.0, 3.0])
@pytest.mark.parametrize("low", [-10.99, -8.8, -5.6, 0.0, 3.0, -13.01])
def test_low_level_off_minus_12_while_pwm_is_a_diode_fault(state_volts: float, low: float) -> None:
    result = classify(state_volts, low, pwm=True)
    assert result.fault is PilotFault.DIODE
    assert result.state is None


@pytest.mark.parametrize("low", [-11.0, -12.0, -13.0])
def test_low_level_within_band_is_fine(low: float) -> None:
    assert classify(6.0, low, pwm=True).state is CPState.C


def test_low_level_is_not_checked_without_pwm() -> None:
    # with a steady +12 V there is no negative half-wave; a board may report anything there
    assert classify(9.0, 9.0, pwm=False).state is CPState.B


def test_low_level_not_a_number_is_implausible() -> None:
    assert classify(9.0, math.nan, pwm=True).fault is PilotFault.IMPLAUSIBLE


def test_wider_bands() -> None:
    yeti = PilotBands(tolerance=1.1, low_tolerance=1.1)
    assert classify(10.05, bands=yeti).state is CPState.B
    assert classify(10.05).fault is PilotFault.IMPLAUSIBLE
    assert classify(9.0, -10.95, pwm=True, bands=yeti).state is CPState.B


@pytest.mark.parametrize("tolerance", [0.0, -1.0, 1.5, 3.0, math.nan])
def test_overlapping_or_empty_bands_are_refused(tolerance: float) -> None:
    with pytest.raises(ValueError, match="tolerance"):
        PilotBands(tolerance=tolerance)


@pytest.mark.property
@given(st.floats(allow_nan=True, allow_infinity=True), st.one_of(st.none(), st.floats()), st.booleans())
def test_classify_never_raises_and_names_exactly_one_outcome(high: float, low: float | None, pwm: bool) -> None:
    result = classify(high, low, pwm=pwm)
    assert (result.state is None) != (result.fault is None)
