"""Duty cycle <-> current, as IEC 61851-1 Annex A (Tables A.7 / A.8) and SAE J1772 tabulate it.

The charger side (:func:`duty_cycle_for_current`) and the vehicle side (:func:`current_for_duty_cycle`)
are exact inverses wherever the table is invertible.  Where it is not (51 A < I <= 52.5 A falls between
the two formulas) the charger advertises the largest current that does not exceed the one asked for:
a car never reads more than the charger meant.

That promise is kept exactly, not within a rounding error: both directions work in exact rational
arithmetic (:class:`fractions.Fraction`) and round once, to the nearest float; where the readback of
that duty cycle would still exceed ``amps`` it is stepped down by one unit in the last place.
So ``current_for_duty_cycle(duty_cycle_for_current(a)) <= a`` holds for every float ``a`` from 6 to 80,
and the readback is the float nearest to ``a`` that satisfies it.

Vehicle-side interpretation (percent duty cycle ``d``):

====================  ===========================================================
``d < 3``             no charging allowed (``None``)
``3 <= d <= 7``       high-level (digital) communication required; 5 % is nominal
``7 < d < 8``         no charging allowed
``8 <= d < 10``       6 A
``10 <= d <= 85``     ``d * 0.6`` A
``85 < d <= 96``      ``(d - 64) * 2.5`` A
``96 < d <= 97``      80 A
``d > 97``            no charging allowed (100 % is the steady +12 V of state X1)
====================  ===========================================================
"""

from __future__ import annotations

import math
from fractions import Fraction

#: the smallest current a PWM duty cycle can advertise (A)
MIN_CURRENT = 6.0
#: the largest current a PWM duty cycle can advertise (A)
MAX_CURRENT = 80.0
#: the duty cycle that requests high-level (digital) communication, ISO 15118 / DIN 70121 (percent)
HLC_DUTY_CYCLE = 5.0
#: upper end of the first (linear 0.6 A/%) segment
_SEGMENT1_MAX_DUTY = 85.0
_SEGMENT1_MAX_CURRENT = 51.0
#: the current where the second formula starts to give duty cycles above 85 %
_SEGMENT2_MIN_CURRENT = 52.5


def duty_cycle_for_current(amps: float) -> float:
    """The PWM duty cycle (percent) a charger sends to allow at most ``amps`` amperes.

    6 A ... 51 A: ``amps / 0.6``; 52.5 A ... 80 A: ``amps / 2.5 + 64``.  Above 51 A up to 52.5 A no
    duty cycle means exactly that current, so 85 % (51 A) is returned.

    :raises ValueError: ``amps`` below 6 A, above 80 A or not a finite number: not representable.
    """
    if not math.isfinite(amps):
        raise ValueError(f"current {amps!r} A is not a finite number")
    if amps < MIN_CURRENT:
        raise ValueError(f"{amps} A is below {MIN_CURRENT:g} A: no PWM duty cycle represents it (use X1 to stop)")
    if amps > MAX_CURRENT:
        raise ValueError(f"{amps} A is above {MAX_CURRENT:g} A: no PWM duty cycle represents it")
    if amps <= _SEGMENT1_MAX_CURRENT:
        exact = Fraction(amps) * 5 / 3  # amps / 0.6, with 0.6 as the exact 3/5 it stands for
    elif amps <= _SEGMENT2_MIN_CURRENT:
        return _SEGMENT1_MAX_DUTY
    else:
        exact = Fraction(amps) * 2 / 5 + 64  # amps / 2.5 + 64
    duty = float(exact)  # the nearest float
    while (read := current_for_duty_cycle(duty)) is not None and read > amps:
        duty = math.nextafter(duty, -math.inf)  # one ulp down (never more than once or twice)
    return duty


def current_for_duty_cycle(percent: float) -> float | None:
    """The current (A) a vehicle may draw when it measures ``percent`` duty cycle.

    ``None`` means no charging is allowed on the strength of the duty cycle alone: below 8 % (which
    includes the 3-7 % band of high-level communication, see :func:`hlc_required`), above 97 %, and
    for a value that is not a finite number.
    """
    if not math.isfinite(percent):
        return None
    if percent < 8.0 or percent > 97.0:
        return None
    if percent < 10.0:
        return MIN_CURRENT
    # exact arithmetic, one rounding at the end: 26.666666666666668 % reads as 16.0 A, not 16.000000000000004
    if percent <= _SEGMENT1_MAX_DUTY:
        return min(float(Fraction(percent) * 3 / 5), _SEGMENT1_MAX_CURRENT)
    if percent <= 96.0:
        return min(float((Fraction(percent) - 64) * 5 / 2), MAX_CURRENT)
    return MAX_CURRENT


def hlc_required(percent: float) -> bool:
    """True when ``percent`` lies in the 3-7 % band: high-level communication is required (5 % nominal)."""
    return math.isfinite(percent) and 3.0 <= percent <= 7.0
