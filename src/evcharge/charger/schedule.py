"""The CSMS's charging profiles turned into one limit (OCPP 2.0.1 composite schedule, the parts a charger
needs): per purpose the profile with the highest ``stackLevel`` wins; a TxProfile overrides the
TxDefaultProfile; ChargingStationMaxProfile caps both. Limits in W or A (``chargingRateUnit``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["Limit", "composite_limit", "periods"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Limit:
    value: float
    unit: str  #: "W" or "A"

    def watts(self, voltage: float, phases: int = 1) -> float:
        return self.value if self.unit == "W" else self.value * voltage * phases

    def amps(self, voltage: float, phases: int = 1) -> float:
        return self.value if self.unit == "A" else self.value / max(voltage * phases, 1.0)


def periods(profile: dict[str, Any]) -> tuple[str, tuple[tuple[int, float], ...]]:
    """The unit and the (startPeriod s, limit) list of a profile's first schedule."""
    schedule = profile["chargingSchedule"][0]
    unit = str(schedule.get("chargingRateUnit", "W"))
    return unit, tuple((int(p["startPeriod"]), float(p["limit"])) for p in schedule["chargingSchedulePeriod"])


def _limit_at(profile: dict[str, Any], t: float) -> Limit | None:
    unit, steps = periods(profile)
    found = None
    for start, value in steps:
        if start <= t:
            found = value
    duration = profile["chargingSchedule"][0].get("duration")
    if duration is not None and t >= float(duration):
        return None
    return None if found is None else Limit(value=found, unit=unit)


def composite_limit(profiles: list[dict[str, Any]], t: float) -> Limit | None:
    """The limit in force ``t`` seconds into the transaction (relative profiles) — ``None``: no limit."""
    chosen: dict[str, dict[str, Any]] = {}
    for p in profiles:
        purpose = p.get("chargingProfilePurpose", "TxProfile")
        if purpose not in chosen or int(p.get("stackLevel", 0)) >= int(chosen[purpose].get("stackLevel", 0)):
            chosen[purpose] = p
    tx = chosen.get("TxProfile") or chosen.get("TxDefaultProfile")
    limit = _limit_at(tx, t) if tx else None
    cap_profile = chosen.get("ChargingStationMaxProfile")
    cap = _limit_at(cap_profile, t) if cap_profile else None
    if cap is not None and (limit is None or (cap.unit == limit.unit and cap.value < limit.value)):
        limit = cap
    return limit
