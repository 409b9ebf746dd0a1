"""Duty cycle <-> current, as IEC 61851-1 Annex A (Tables A.7 / A.8) and SAE J1772 tabulate it.

The charger side (:func:`duty_cycle_for_current`) and the vehicle side (:func:`current_for_duty_cycle`)
are exact inverses wherever the table is invertible.  Where it is not (51 A < I <= 52.5 A falls between
the two formulas) the charger advertises the largest current that does not exceed the one asked for:
a car never reads more than the charger meant.

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
        # amps * 5 / 3 instead of amps / 0.6: exact for whole and tenth amperes at the boundaries
        return min(amps * 5.0 / 3.0, _SEGMENT1_MAX_DUTY)
    if amps <= _SEGMENT2_MIN_CURRENT:
        return _SEGMENT1_MAX_DUTY
    return min(amps / 2.5 + 64.0, 96.0)


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
    if percent <= _SEGMENT1_MAX_DUTY:
        return min(percent * 3.0 / 5.0, _SEGMENT1_MAX_CURRENT)
    if percent <= 96.0:
        return min((percent - 64.0) * 2.5, MAX_CURRENT)
    return MAX_CURRENT


def hlc_required(percent: float) -> bool:
    """True when ``percent`` lies in the 3-7 % band: high-level communication is required (5 % nominal)."""
    return math.isfinite(percent) and 3.0 <= percent <= 7.0
