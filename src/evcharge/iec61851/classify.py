"""Classification of measured control-pilot voltages into a CP state.

A board samples the pilot twice per PWM period: the *high* level (the vehicle's resistors pull the
+12 V down to 9, 6 or 3 V) and, while PWM runs, the *low* level, which must stay at -12 V because the
vehicle's diode blocks the negative half-wave.  A low level above that band means the diode is missing
or shorted (*diode fault*).  A reading that fits no band is *implausible*.  Neither case raises: the
result names the fault, and the charger machine turns it into state F.

Default bands are IEC 61851-1 Table A.4 (nominal +/- 1 V): A 11..13 V, B 8..10 V, C 5..7 V, D 2..4 V,
E -1..+1 V, F -13..-11 V.  Boards with a less accurate front end widen them through :class:`PilotBands`
(PIONIX Yeti uses +/- 1.1 V).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .states import CPState, PilotFault

#: nominal positive level per CP state (V)
NOMINAL_HIGH: dict[CPState, float] = {
    CPState.A: 12.0,
    CPState.B: 9.0,
    CPState.C: 6.0,
    CPState.D: 3.0,
    CPState.E: 0.0,
    CPState.F: -12.0,
}
#: nominal low level while PWM runs and the vehicle's diode is present (V)
NOMINAL_LOW = -12.0


@dataclass(frozen=True, slots=True, kw_only=True)
class PilotBands:
    """Acceptance bands: a level matches a state when ``|measured - nominal| <= tolerance``.

    ``tolerance`` applies to the high level of every state, ``low_tolerance`` to the -12 V low level
    checked for the diode while PWM runs.
    """

    tolerance: float = 1.0
    low_tolerance: float = 1.0

    def __post_init__(self) -> None:
        for name in ("tolerance", "low_tolerance"):
            value = getattr(self, name)
            # adjacent nominal levels are 3 V apart: a tolerance of 1.5 V or more would make bands overlap
            if not (math.isfinite(value) and 0.0 < value < 1.5):
                raise ValueError(f"{name} must be > 0 and < 1.5 V (bands would overlap), got {value!r}")


IEC_BANDS = PilotBands()


@dataclass(frozen=True, slots=True)
class Classification:
    """The outcome of :func:`classify`: exactly one of ``state`` and ``fault`` is set."""

    state: CPState | None
    fault: PilotFault | None = None
    detail: str = ""


def classify_high(high: float, bands: PilotBands = IEC_BANDS) -> CPState | None:
    """The CP state whose band contains the positive level ``high``, or ``None`` if none does."""
    if not math.isfinite(high):
        return None
    for state, nominal in NOMINAL_HIGH.items():
        if abs(high - nominal) <= bands.tolerance:
            return state
    return None


def classify(
    high: float, low: float | None = None, *, pwm: bool = False, bands: PilotBands = IEC_BANDS
) -> Classification:
    """Classify one pilot sample.

    :param high: the measured positive level (V)
    :param low: the measured negative level (V), ``None`` when the board did not sample it
    :param pwm: whether the charger was running PWM when the sample was taken; only then is the low level
        checked for the diode (with a steady +12 V there is no negative half-wave)
    """
    state = classify_high(high, bands)
    if state is None:
        return Classification(None, PilotFault.IMPLAUSIBLE, f"high level {high!r} V fits no CP state band")
    if pwm and low is not None and state in (CPState.B, CPState.C, CPState.D):
        if not math.isfinite(low):
            return Classification(None, PilotFault.IMPLAUSIBLE, f"low level {low!r} V is not a number")
        if abs(low - NOMINAL_LOW) > bands.low_tolerance:
            return Classification(
                None, PilotFault.DIODE, f"low level {low:.2f} V is not {NOMINAL_LOW:g} V while PWM runs (state {state})"
            )
    return Classification(state)
