"""Smart charging: charging profiles, the composite schedule and the limit to apply now (OCPP 1.6 and 2.0.1).

The :class:`SmartCharging` object is a pure state machine: the CSMS's ``SetChargingProfile`` /
``ClearChargingProfile`` / ``GetCompositeSchedule`` requests go in (typed, or as OCPP JSON dicts), answers come
out; the charger asks :meth:`SmartCharging.limit_at` what to apply now and :meth:`SmartCharging.next_change`
when to ask again.  ``now`` is monotonic seconds, mapped to UTC by the manager's :class:`~evcharge.clock.WallClock`;
the schedule queries take the aware UTC :class:`~datetime.datetime` they are about.

How profiles merge (OCPP 1.6 section 3.13, OCPP 2.0.1 K08):

* Within one purpose the valid profile with the highest ``stackLevel`` whose schedule covers the instant wins;
  when it does not cover the instant (before its first period, after its ``duration``, outside
  ``validFrom``/``validTo``) the next lower stack level is looked at.
* A profile installed on the EVSE/connector is preferred over one installed on EVSE 0 with the same purpose
  (EVSE 0 is the default for every EVSE).
* ``TxProfile`` (only while a transaction runs on the EVSE) overrides ``TxDefaultProfile``.
* The limit applied is the minimum of the station maximum (``ChargePointMaxProfile`` /
  ``ChargingStationMaxProfile``), the external constraints (2.0.1), the transaction profile and the hardware
  limit of the EVSE from :class:`SmartChargingConfig`.
* A in W and back: ``W = A * nominal_voltage * numberPhases`` (``numberPhases`` defaults to 3).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Literal

from evcharge.clock import WallClock

from ._common import (
    FunctionsLocalError,
    FunctionsRemoteError,
    format_datetime,
    models_of,
    optional,
    parse_datetime,
    require,
)
from .storage import MemoryStore, StateStore

DAY = 86_400
WEEK = 7 * DAY


class ChargingProfilePurpose(StrEnum):
    """Profile purposes, 2.0.1 spelling; 1.6 ``ChargePointMaxProfile`` maps to ``CHARGING_STATION_MAX``."""

    CHARGING_STATION_MAX = "ChargingStationMaxProfile"
    CHARGING_STATION_EXTERNAL_CONSTRAINTS = "ChargingStationExternalConstraints"
    TX_DEFAULT = "TxDefaultProfile"
    TX = "TxProfile"


class ChargingProfileKind(StrEnum):
    """How a schedule is anchored in time."""

    ABSOLUTE = "Absolute"
    RECURRING = "Recurring"
    RELATIVE = "Relative"


class RecurrencyKind(StrEnum):
    """The period of a Recurring profile."""

    DAILY = "Daily"
    WEEKLY = "Weekly"


class ChargingRateUnit(StrEnum):
    """Unit of a schedule: amperes per phase or watts."""

    A = "A"
    W = "W"


_PURPOSE_16 = {
    "ChargePointMaxProfile": ChargingProfilePurpose.CHARGING_STATION_MAX,
    "TxDefaultProfile": ChargingProfilePurpose.TX_DEFAULT,
    "TxProfile": ChargingProfilePurpose.TX,
}


@dataclass(frozen=True, slots=True, kw_only=True)
class SchedulePeriod:
    """One period of a charging schedule: ``start_period`` seconds after the schedule start."""

    start_period: int
    limit: float
    number_phases: int | None = None
    phase_to_use: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ChargingSchedule:
    """A charging schedule: periods in ``unit`` from ``start_schedule`` (Absolute, Recurring) or from the
    transaction start (Relative)."""

    unit: ChargingRateUnit
    periods: tuple[SchedulePeriod, ...]
    start_schedule: datetime | None = None
    duration: int | None = None
    min_charging_rate: float | None = None
    id: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ChargingProfile:
    """A charging profile, version-neutral.  Only the first schedule of a 2.0.1 profile is used."""

    id: int
    stack_level: int
    purpose: ChargingProfilePurpose
    kind: ChargingProfileKind
    schedule: ChargingSchedule
    recurrency_kind: RecurrencyKind | None = None
    valid_from: datetime | None = None
    valid_to: datetime | None = None
    transaction_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SmartChargingConfig:
    """Tunables of smart charging; the names in comments are the 1.6 keys / 2.0.1 variables."""

    version: Literal["1.6", "2.0.1", "2.1"] = "2.0.1"
    evse_count: int = 1
    nominal_voltage: float = 230.0
    default_number_phases: int = 3
    max_current_a: float = 32.0  # hardware limit of one EVSE, per phase
    station_max_current_a: float | None = None  # grid connection; None: evse_count * max_current_a
    max_stack_level: int = 10  # ChargeProfileMaxStackLevel / SmartChargingCtrlr.ProfileStackLevel
    max_periods_per_schedule: int = 24  # ChargingScheduleMaxPeriods / SmartChargingCtrlr.PeriodsPerSchedule
    max_profiles: int = 20  # MaxChargingProfilesInstalled / SmartChargingCtrlr.Entries
    allowed_units: frozenset[ChargingRateUnit] = frozenset({ChargingRateUnit.A, ChargingRateUnit.W})


@dataclass(frozen=True, slots=True)
class Limit:
    """A limit in one unit; ``number_phases`` is the phase count used for A<->W conversion."""

    value: float
    unit: ChargingRateUnit
    number_phases: int


@dataclass(frozen=True, slots=True)
class CompositeSchedule:
    """The merged schedule of an EVSE (0: the grid connection) from ``start`` for ``duration`` seconds."""

    evse_id: int
    start: datetime
    duration: int
    unit: ChargingRateUnit
    periods: tuple[SchedulePeriod, ...]

    def to_v201_json(self) -> dict[str, Any]:
        """The ``schedule`` of a 2.0.1 ``GetCompositeScheduleResponse``."""
        return {
            "evseId": self.evse_id,
            "duration": self.duration,
            "scheduleStart": format_datetime(self.start),
            "chargingRateUnit": self.unit.value,
            "chargingSchedulePeriod": [_period_json(p) for p in self.periods],
        }

    def to_v16_json(self) -> dict[str, Any]:
        """The body of a 1.6 ``GetCompositeSchedule.conf`` (without ``status``)."""
        return {
            "connectorId": self.evse_id,
            "scheduleStart": format_datetime(self.start),
            "chargingSchedule": {
                "duration": self.duration,
                "startSchedule": format_datetime(self.start),
                "chargingRateUnit": self.unit.value,
                "chargingSchedulePeriod": [_period_json(p) for p in self.periods],
            },
        }


@dataclass(frozen=True, slots=True)
class InstallResult:
    """Answer to SetChargingProfile: ``status`` is ``Accepted`` or ``Rejected`` (1.6 also ``NotSupported``)."""

    status: str
    reason: str = ""


@dataclass(slots=True)
class _Transaction:
    transaction_id: str
    start: datetime


@dataclass(slots=True)
class _Installed:
    evse_id: int
    profile: ChargingProfile
    installed_at: datetime


def _period_json(p: SchedulePeriod) -> dict[str, Any]:
    out: dict[str, Any] = {"startPeriod": p.start_period, "limit": p.limit}
    if p.number_phases is not None:
        out["numberPhases"] = p.number_phases
    if p.phase_to_use is not None:
        out["phaseToUse"] = p.phase_to_use
    return out


# ---------------------------------------------------------------- parsing


def _parse_schedule(data: Mapping[str, Any], where: str) -> ChargingSchedule:
    unit_text = require(data, "chargingRateUnit", str, where)
    try:
        unit = ChargingRateUnit(unit_text)
    except ValueError as exc:
        raise FunctionsRemoteError(f"{where}.chargingRateUnit: unknown unit {unit_text!r}") from exc
    raw_periods = require(data, "chargingSchedulePeriod", list, where)
    periods = []
    for i, raw in enumerate(raw_periods):
        pw = f"{where}.chargingSchedulePeriod[{i}]"
        periods.append(
            SchedulePeriod(
                start_period=require(raw, "startPeriod", int, pw),
                limit=float(require(raw, "limit", (int, float), pw)),
                number_phases=optional(raw, "numberPhases", int, pw),
                phase_to_use=optional(raw, "phaseToUse", int, pw),
            )
        )
    start = optional(data, "startSchedule", str, where)
    rate = optional(data, "minChargingRate", (int, float), where)
    return ChargingSchedule(
        unit=unit,
        periods=tuple(periods),
        start_schedule=None if start is None else parse_datetime(start, f"{where}.startSchedule"),
        duration=optional(data, "duration", int, where),
        min_charging_rate=None if rate is None else float(rate),
        id=optional(data, "id", int, where),
    )


def _parse_common(data: Mapping[str, Any], where: str, purpose: ChargingProfilePurpose, pid: int,
                  schedule: ChargingSchedule, tx: Any) -> ChargingProfile:
    kind_text = require(data, "chargingProfileKind", str, where)
    try:
        kind = ChargingProfileKind(kind_text)
    except ValueError as exc:
        raise FunctionsRemoteError(f"{where}.chargingProfileKind: unknown kind {kind_text!r}") from exc
    rec_text = optional(data, "recurrencyKind", str, where)
    try:
        rec = None if rec_text is None else RecurrencyKind(rec_text)
    except ValueError as exc:
        raise FunctionsRemoteError(f"{where}.recurrencyKind: unknown kind {rec_text!r}") from exc
    vf = optional(data, "validFrom", str, where)
    vt = optional(data, "validTo", str, where)
    return ChargingProfile(
        id=pid,
        stack_level=require(data, "stackLevel", int, where),
        purpose=purpose,
        kind=kind,
        schedule=schedule,
        recurrency_kind=rec,
        valid_from=None if vf is None else parse_datetime(vf, f"{where}.validFrom"),
        valid_to=None if vt is None else parse_datetime(vt, f"{where}.validTo"),
        transaction_id=None if tx is None else str(tx),
    )


def profile_from_v16_json(data: Mapping[str, Any]) -> ChargingProfile:
    """Parse a 1.6 ``csChargingProfiles`` object."""
    where = "csChargingProfiles"
    purpose_text = require(data, "chargingProfilePurpose", str, where)
    if purpose_text not in _PURPOSE_16:
        raise FunctionsRemoteError(f"{where}.chargingProfilePurpose: unknown purpose {purpose_text!r}")
    schedule = _parse_schedule(require(data, "chargingSchedule", Mapping, where), f"{where}.chargingSchedule")
    return _parse_common(data, where, _PURPOSE_16[purpose_text], require(data, "chargingProfileId", int, where),
                         schedule, optional(data, "transactionId", int, where))


class UnsupportedProfileError(FunctionsRemoteError):
    """A valid OCPP 2.1 profile this implementation does not apply (purposes PriorityCharging and
    LocalGeneration, kind Dynamic): SetChargingProfile answers Rejected."""


_UNSUPPORTED_21 = frozenset({"PriorityCharging", "LocalGeneration", "Dynamic"})


def profile_from_v201_json(data: Mapping[str, Any]) -> ChargingProfile:
    """Parse a 2.0.1 (or 2.1) ``chargingProfile`` object (the first of its schedules is used)."""
    where = "chargingProfile"
    purpose_text = require(data, "chargingProfilePurpose", str, where)
    for value in (purpose_text, data.get("chargingProfileKind")):
        if isinstance(value, str) and value in _UNSUPPORTED_21:
            raise UnsupportedProfileError(f"{where}: {value} profiles are not supported")
    try:
        purpose = ChargingProfilePurpose(purpose_text)
    except ValueError as exc:
        raise FunctionsRemoteError(f"{where}.chargingProfilePurpose: unknown purpose {purpose_text!r}") from exc
    schedules = require(data, "chargingSchedule", list, where)
    if not schedules:
        raise FunctionsRemoteError(f"{where}.chargingSchedule: at least one schedule is required")
    schedule = _parse_schedule(schedules[0], f"{where}.chargingSchedule[0]")
    return _parse_common(data, where, purpose, require(data, "id", int, where), schedule,
                         optional(data, "transactionId", str, where))


def _schedule_of(data: Any) -> ChargingSchedule:
    """A typed ``ChargingSchedule(Type)`` (validated by the RPC core) as a :class:`ChargingSchedule`."""
    start = data.start_schedule
    rate = data.min_charging_rate
    return ChargingSchedule(
        unit=ChargingRateUnit(data.charging_rate_unit),
        periods=tuple(SchedulePeriod(start_period=p.start_period, limit=float(p.limit), number_phases=p.number_phases,
                                     phase_to_use=getattr(p, "phase_to_use", None))
                      for p in data.charging_schedule_period),
        start_schedule=None if start is None else parse_datetime(start, "startSchedule"),
        duration=data.duration,
        min_charging_rate=None if rate is None else float(rate),
        id=getattr(data, "id", None),
    )


def _common_of(data: Any, purpose: ChargingProfilePurpose, pid: int, schedule: ChargingSchedule) -> ChargingProfile:
    vf, vt, tx, rec = data.valid_from, data.valid_to, data.transaction_id, data.recurrency_kind
    return ChargingProfile(
        id=pid, stack_level=data.stack_level, purpose=purpose, kind=ChargingProfileKind(data.charging_profile_kind),
        schedule=schedule, recurrency_kind=None if rec is None else RecurrencyKind(rec),
        valid_from=None if vf is None else parse_datetime(vf, "validFrom"),
        valid_to=None if vt is None else parse_datetime(vt, "validTo"),
        transaction_id=None if tx is None else str(tx),
    )


def profile_of(data: Any) -> ChargingProfile:
    """A typed charging profile of any version (1.6 ``CsChargingProfiles``, 2.x ``ChargingProfileType``, validated
    by the RPC core) as a :class:`ChargingProfile`; :class:`UnsupportedProfileError` for the 2.1 kinds and purposes
    this implementation does not apply."""
    if hasattr(data, "charging_profile_id"):  # 1.6
        return _common_of(data, _PURPOSE_16[data.charging_profile_purpose], data.charging_profile_id,
                          _schedule_of(data.charging_schedule))
    for value in (data.charging_profile_purpose, data.charging_profile_kind):
        if value in _UNSUPPORTED_21:
            raise UnsupportedProfileError(f"chargingProfile: {value} profiles are not supported")
    return _common_of(data, ChargingProfilePurpose(data.charging_profile_purpose), data.id,
                      _schedule_of(data.charging_schedule[0]))


def profile_to_v201_json(p: ChargingProfile) -> dict[str, Any]:
    """A profile in the 2.0.1 ``ChargingProfileType`` JSON form (also how profiles are stored)."""
    sched: dict[str, Any] = {"chargingRateUnit": p.schedule.unit.value,
                             "chargingSchedulePeriod": [_period_json(x) for x in p.schedule.periods]}
    if p.schedule.id is not None:  # a 1.6 schedule has none
        sched["id"] = p.schedule.id
    if p.schedule.start_schedule is not None:
        sched["startSchedule"] = format_datetime(p.schedule.start_schedule)
    if p.schedule.duration is not None:
        sched["duration"] = p.schedule.duration
    if p.schedule.min_charging_rate is not None:
        sched["minChargingRate"] = p.schedule.min_charging_rate
    out: dict[str, Any] = {"id": p.id, "stackLevel": p.stack_level, "chargingProfilePurpose": p.purpose.value,
                           "chargingProfileKind": p.kind.value, "chargingSchedule": [sched]}
    if p.recurrency_kind is not None:
        out["recurrencyKind"] = p.recurrency_kind.value
    if p.valid_from is not None:
        out["validFrom"] = format_datetime(p.valid_from)
    if p.valid_to is not None:
        out["validTo"] = format_datetime(p.valid_to)
    if p.transaction_id is not None:
        out["transactionId"] = p.transaction_id
    return out


# ---------------------------------------------------------------- the manager


_UNIX_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_TABLE = "charging_profiles"  # position (8 digits, installation order) -> evse_id, profile (2.0.1 JSON), installed_at


class SmartCharging:
    """Installed charging profiles of a charging station, and what they mean for each EVSE."""

    def __init__(self, config: SmartChargingConfig, *, store: StateStore | None = None, wall: WallClock | None = None
                 ) -> None:
        """``store`` keeps the installed profiles across a restart, as OCPP requires
        (:class:`~evcharge.ocpp.functions.storage.MemoryStore` when ``None``).  ``now`` arguments are monotonic
        seconds; ``wall`` maps them to UTC (without it ``now`` is read as UNIX seconds).  The schedule queries
        (:meth:`limit_at`, :meth:`next_change`, :meth:`composite_schedule`) take the wall-clock instant they are
        about."""
        self.wall = wall if wall is not None else WallClock(_UNIX_EPOCH)
        if config.evse_count < 1:
            raise FunctionsLocalError("evse_count must be at least 1")
        self.config = config
        self._installed: list[_Installed] = []
        self._transactions: dict[int, _Transaction] = {}
        self._db: StateStore = store if store is not None else MemoryStore()
        for _, row in self._db.items(_TABLE):
            self._installed.append(_Installed(int(row["evse_id"]), profile_from_v201_json(row["profile"]),
                                              parse_datetime(row["installed_at"], "installed_at")))

    def close(self) -> None:
        """Close the store."""
        self._db.close()

    def _persist(self) -> None:
        with self._db.transaction():
            self._db.clear(_TABLE)
            for pos, i in enumerate(self._installed):
                self._db.put(_TABLE, f"{pos:08d}", {"evse_id": i.evse_id, "profile": profile_to_v201_json(i.profile),
                                                    "installed_at": format_datetime(i.installed_at)})

    # ------------------------------------------------------------ transactions

    def transaction_started(self, evse_id: int, transaction_id: str | int, now: float) -> None:
        """Tell the manager a transaction runs on ``evse_id`` from ``now`` (TxProfile and Relative profiles need
        it)."""
        self._check_evse(evse_id, allow_zero=False)
        self._transactions[evse_id] = _Transaction(str(transaction_id), self.wall.utc(now))

    def transaction_id_assigned(self, evse_id: int, transaction_id: str | int) -> None:
        """1.6: the CSMS gave the running transaction its id (StartTransaction.conf); its start stays."""
        tx = self._transactions.get(evse_id)
        if tx is not None:
            tx.transaction_id = str(transaction_id)

    def transaction_ended(self, evse_id: int) -> None:
        """The transaction on ``evse_id`` ended: its TxProfiles are deleted (1.6 3.13.4, 2.0.1 K01.FR.05)."""
        self._transactions.pop(evse_id, None)
        before = len(self._installed)
        self._installed = [
            i for i in self._installed if not (i.evse_id == evse_id and i.profile.purpose is ChargingProfilePurpose.TX)
        ]
        if len(self._installed) != before:
            self._persist()

    # ------------------------------------------------------------ installing

    @property
    def profiles(self) -> list[tuple[int, ChargingProfile]]:
        """``(evse_id, profile)`` for every installed profile."""
        return [(i.evse_id, i.profile) for i in self._installed]

    def install(self, evse_id: int, profile: ChargingProfile, now: float, *, local: bool = False) -> InstallResult:
        """Validate and install a profile at ``now`` as SetChargingProfile does; never raises for a bad profile.

        ``local=True`` is for the station's own energy manager: it may install ChargingStationExternalConstraints
        profiles, which the CSMS may not (2.0.1 K01.FR.22).
        """
        when = self.wall.utc(now)
        reason = self._reject_reason(evse_id, profile, local=local)
        if reason:
            return InstallResult("Rejected", reason)
        if profile.kind is ChargingProfileKind.ABSOLUTE and profile.schedule.start_schedule is None:
            # 1.6 allows it; the schedule then starts when the profile is received
            profile = replace(profile, schedule=replace(profile.schedule, start_schedule=when))
        v16 = self.config.version == "1.6"
        kept = []
        for i in self._installed:
            if i.profile.id == profile.id:
                continue  # same id: replaced (both versions)
            same_slot = (
                i.evse_id == evse_id
                and i.profile.purpose is profile.purpose
                and i.profile.stack_level == profile.stack_level
            )
            if same_slot and v16:
                continue  # 1.6: same stackLevel + purpose + connector replaces
            if same_slot and _validity_overlaps(i.profile, profile) and not (
                profile.purpose is ChargingProfilePurpose.TX and i.profile.transaction_id != profile.transaction_id
            ):
                return InstallResult("Rejected", "DuplicateProfile")  # 2.0.1 K01.FR.39
            kept.append(i)
        if len(kept) >= self.config.max_profiles:
            return InstallResult("Rejected", "TooManyProfiles")
        kept.append(_Installed(evse_id, profile, when))
        self._installed = kept
        self._persist()
        return InstallResult("Accepted")

    def _reject_reason(self, evse_id: int, p: ChargingProfile, *, local: bool) -> str:
        cfg = self.config
        if not 0 <= evse_id <= cfg.evse_count:
            return "UnknownEVSE"
        if p.purpose is ChargingProfilePurpose.CHARGING_STATION_EXTERNAL_CONSTRAINTS and not local:
            return "ExternalConstraintsNotSettable"  # 2.0.1 K01.FR.22
        if p.purpose is ChargingProfilePurpose.CHARGING_STATION_MAX and evse_id != 0:
            return "StationMaxOnlyOnEVSE0"
        if p.purpose is ChargingProfilePurpose.TX:
            if evse_id == 0:
                return "TxProfileOnEVSE0"
            tx = self._transactions.get(evse_id)
            if tx is None:
                return "NoTransaction"
            if p.transaction_id is None and cfg.version != "1.6":
                return "MissingTransactionId"  # 2.0.1 K01.FR.03
            if p.transaction_id is not None and p.transaction_id != tx.transaction_id:
                return "TransactionIdMismatch"
        if not 0 <= p.stack_level <= cfg.max_stack_level:
            return "StackLevelOutOfRange"
        s = p.schedule
        if s.unit not in cfg.allowed_units:
            return "UnitNotAllowed"
        if not s.periods or len(s.periods) > cfg.max_periods_per_schedule:
            return "PeriodCount"
        if s.periods[0].start_period != 0:
            return "FirstPeriodNotZero"
        if any(b.start_period <= a.start_period for a, b in zip(s.periods, s.periods[1:], strict=False)):
            return "PeriodsNotIncreasing"
        if any(x.limit < 0 or not math.isfinite(x.limit) for x in s.periods):
            return "NegativeLimit"
        if any(x.number_phases is not None and x.number_phases not in (1, 2, 3) for x in s.periods):
            return "InvalidNumberPhases"
        if s.duration is not None and s.duration <= 0:
            return "InvalidDuration"
        if p.kind is ChargingProfileKind.RECURRING:
            if p.recurrency_kind is None or s.start_schedule is None:
                return "RecurringNeedsKindAndStart"
        elif p.kind is ChargingProfileKind.ABSOLUTE:
            if s.start_schedule is None and cfg.version != "1.6":
                return "AbsoluteNeedsStartSchedule"
        elif s.start_schedule is not None and cfg.version != "1.6":
            return "RelativeWithStartSchedule"  # 2.0.1 K01.FR.41
        if p.valid_from is not None and p.valid_to is not None and p.valid_to <= p.valid_from:
            return "InvalidValidity"
        return ""

    def clear(self, *, profile_id: int | None = None, evse_id: int | None = None,
              purpose: ChargingProfilePurpose | None = None, stack_level: int | None = None) -> bool:
        """ClearChargingProfile: remove matching profiles; ``False`` (status ``Unknown``) when none matched.

        With ``profile_id`` only that profile is cleared (the other criteria are ignored, as 1.6 says).
        """
        def match(i: _Installed) -> bool:
            if profile_id is not None:
                return i.profile.id == profile_id
            return (
                (evse_id is None or i.evse_id == evse_id)
                and (purpose is None or i.profile.purpose is purpose)
                and (stack_level is None or i.profile.stack_level == stack_level)
            )

        before = len(self._installed)
        self._installed = [i for i in self._installed if not match(i)]
        if len(self._installed) != before:
            self._persist()
        return len(self._installed) != before

    # ------------------------------------------------------------ evaluation

    def limit_at(self, evse_id: int, when: datetime, unit: ChargingRateUnit = ChargingRateUnit.A) -> Limit:
        """The limit the EVSE (or the station for ``evse_id`` 0) must respect at ``when``, in ``unit``."""
        self._check_evse(evse_id, allow_zero=True)
        t = _seconds(when)
        return self._limit(evse_id, t, unit, relative_start=t)

    def next_change(self, evse_id: int, when: datetime, horizon: int = WEEK) -> datetime | None:
        """The first instant after ``when`` at which :meth:`limit_at` may change (``None`` within ``horizon``)."""
        self._check_evse(evse_id, allow_zero=True)
        t = _seconds(when)
        points = [p for p in self._breakpoints(evse_id, t, t + horizon, relative_start=t) if p > t]
        if not points:
            return None
        return when + timedelta(seconds=min(points) - t)

    def composite_schedule(self, evse_id: int, start: datetime, duration: int,
                           unit: ChargingRateUnit | None = None) -> CompositeSchedule:
        """The merged schedule of every applicable profile over ``[start, start + duration)``."""
        self._check_evse(evse_id, allow_zero=True)
        if duration <= 0:
            raise FunctionsLocalError("duration must be positive")
        unit = unit or ChargingRateUnit.A
        s = _seconds(start)
        # Relative profiles without a transaction start with the requested schedule.
        points = sorted({s, *(p for p in self._breakpoints(evse_id, s, s + duration, relative_start=s)
                              if s < p < s + duration)})
        periods: list[SchedulePeriod] = []
        for p in points:
            lim = self._limit(evse_id, p, unit, relative_start=s)
            value = round(lim.value, 1)
            if periods and periods[-1].limit == value and periods[-1].number_phases == lim.number_phases:
                continue
            periods.append(SchedulePeriod(start_period=p - s, limit=value, number_phases=lim.number_phases))
        return CompositeSchedule(evse_id, start, duration, unit, tuple(periods))

    # ------------------------------------------------------------ message helpers

    def set_charging_profile(self, request: Any, now: float) -> Any:
        """SetChargingProfile: typed request (validated by the RPC core) -> typed response of its version."""
        m = models_of(request)
        if self.config.version == "1.6":
            return m.SetChargingProfileResponse(
                status=self.install(request.connector_id, profile_of(request.cs_charging_profiles), now).status)
        try:
            profile = profile_of(request.charging_profile)
        except UnsupportedProfileError:
            if self.config.version != "2.1":
                raise
            return m.SetChargingProfileResponse(status="Rejected",
                                                status_info=m.StatusInfoType(reason_code="UnsupportedProfile"))
        result = self.install(request.evse_id, profile, now)
        return m.SetChargingProfileResponse(
            status=result.status,
            status_info=m.StatusInfoType(reason_code=result.reason[:20]) if result.reason else None)

    def clear_charging_profile(self, request: Any) -> Any:
        """ClearChargingProfile: typed request -> typed response."""
        m = models_of(request)
        if self.config.version == "1.6":
            purpose = request.charging_profile_purpose
            found = self.clear(profile_id=request.id, evse_id=request.connector_id,
                               purpose=None if purpose is None else _PURPOSE_16[purpose],
                               stack_level=request.stack_level)
        else:
            crit = request.charging_profile_criteria
            purpose = None if crit is None else crit.charging_profile_purpose
            found = self.clear(profile_id=request.charging_profile_id,
                               evse_id=None if crit is None else crit.evse_id,
                               purpose=None if purpose is None else ChargingProfilePurpose(purpose),
                               stack_level=None if crit is None else crit.stack_level)
        return m.ClearChargingProfileResponse(status="Accepted" if found else "Unknown")

    def get_composite_schedule(self, request: Any, now: float) -> Any:
        """GetCompositeSchedule: typed request -> typed response; the schedule starts at ``now``."""
        m = models_of(request)
        evse_id = request.connector_id if self.config.version == "1.6" else request.evse_id
        unit = None if request.charging_rate_unit is None else ChargingRateUnit(request.charging_rate_unit)
        if (not 0 <= evse_id <= self.config.evse_count or request.duration <= 0
                or (unit is not None and unit not in self.config.allowed_units)):
            return m.GetCompositeScheduleResponse(status="Rejected")
        schedule = self.composite_schedule(evse_id, self.wall.utc(now).replace(microsecond=0), request.duration, unit)
        # the composite schedule is computed here, not received: its JSON form is built once, as the response's
        if self.config.version == "1.6":
            return m.GetCompositeScheduleResponse.from_json({"status": "Accepted", **schedule.to_v16_json()})
        return m.GetCompositeScheduleResponse.from_json({"status": "Accepted", "schedule": schedule.to_v201_json()})

    def handle_set_charging_profile(self, payload: Mapping[str, Any], now: float) -> dict[str, Any]:
        """SetChargingProfile request (JSON) -> response (JSON), for the configured version."""
        if self.config.version == "1.6":
            evse_id = require(payload, "connectorId", int, "SetChargingProfile")
            profile = profile_from_v16_json(require(payload, "csChargingProfiles", Mapping, "SetChargingProfile"))
            return {"status": self.install(evse_id, profile, now).status}
        evse_id = require(payload, "evseId", int, "SetChargingProfile")
        try:
            profile = profile_from_v201_json(require(payload, "chargingProfile", Mapping, "SetChargingProfile"))
        except UnsupportedProfileError:
            if self.config.version != "2.1":
                raise
            return {"status": "Rejected", "statusInfo": {"reasonCode": "UnsupportedProfile"}}
        result = self.install(evse_id, profile, now)
        out: dict[str, Any] = {"status": result.status}
        if result.reason:
            out["statusInfo"] = {"reasonCode": result.reason[:20]}
        return out

    def handle_clear_charging_profile(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        """ClearChargingProfile request (JSON) -> response (JSON)."""
        where = "ClearChargingProfile"
        if self.config.version == "1.6":
            purpose_text = optional(payload, "chargingProfilePurpose", str, where)
            if purpose_text is not None and purpose_text not in _PURPOSE_16:
                raise FunctionsRemoteError(f"{where}.chargingProfilePurpose: unknown purpose {purpose_text!r}")
            found = self.clear(
                profile_id=optional(payload, "id", int, where),
                evse_id=optional(payload, "connectorId", int, where),
                purpose=None if purpose_text is None else _PURPOSE_16[purpose_text],
                stack_level=optional(payload, "stackLevel", int, where),
            )
        else:
            crit = optional(payload, "chargingProfileCriteria", Mapping, where) or {}
            purpose_text = optional(crit, "chargingProfilePurpose", str, where)
            try:
                purpose = None if purpose_text is None else ChargingProfilePurpose(purpose_text)
            except ValueError as exc:
                raise FunctionsRemoteError(f"{where}: unknown purpose {purpose_text!r}") from exc
            found = self.clear(
                profile_id=optional(payload, "chargingProfileId", int, where),
                evse_id=optional(crit, "evseId", int, where),
                purpose=purpose,
                stack_level=optional(crit, "stackLevel", int, where),
            )
        return {"status": "Accepted" if found else "Unknown"}

    def handle_get_composite_schedule(self, payload: Mapping[str, Any], now: float) -> dict[str, Any]:
        """GetCompositeSchedule request (JSON) -> response (JSON); the schedule starts at ``now``."""
        where = "GetCompositeSchedule"
        key = "connectorId" if self.config.version == "1.6" else "evseId"
        evse_id = require(payload, key, int, where)
        duration = require(payload, "duration", int, where)
        unit_text = optional(payload, "chargingRateUnit", str, where)
        if not 0 <= evse_id <= self.config.evse_count or duration <= 0:
            return {"status": "Rejected"}
        try:
            unit = ChargingRateUnit(unit_text) if unit_text is not None else None
        except ValueError as exc:
            raise FunctionsRemoteError(f"{where}.chargingRateUnit: unknown unit {unit_text!r}") from exc
        if unit is not None and unit not in self.config.allowed_units:
            return {"status": "Rejected"}
        schedule = self.composite_schedule(evse_id, self.wall.utc(now).replace(microsecond=0), duration, unit)
        if self.config.version == "1.6":
            return {"status": "Accepted", **schedule.to_v16_json()}
        return {"status": "Accepted", "schedule": schedule.to_v201_json()}

    # ------------------------------------------------------------ internals

    def _check_evse(self, evse_id: int, *, allow_zero: bool) -> None:
        if not (0 if allow_zero else 1) <= evse_id <= self.config.evse_count:
            raise FunctionsLocalError(f"no EVSE {evse_id} (evse_count={self.config.evse_count})")

    def _hardware(self, evse_id: int) -> float:
        if evse_id == 0:
            cfg = self.config
            return cfg.station_max_current_a if cfg.station_max_current_a is not None else (
                cfg.max_current_a * cfg.evse_count)
        return self.config.max_current_a

    def _groups(self, evse_id: int) -> list[list[list[_Installed]]]:
        """Per purpose: the candidate groups, most specific first."""

        def on(e: int, purpose: ChargingProfilePurpose) -> list[_Installed]:
            items = [i for i in self._installed if i.evse_id == e and i.profile.purpose is purpose]
            return sorted(items, key=lambda i: -i.profile.stack_level)

        station = [
            [on(0, ChargingProfilePurpose.CHARGING_STATION_MAX)],
            [on(evse_id, ChargingProfilePurpose.CHARGING_STATION_EXTERNAL_CONSTRAINTS)]
            + ([on(0, ChargingProfilePurpose.CHARGING_STATION_EXTERNAL_CONSTRAINTS)] if evse_id else []),
        ]
        if evse_id == 0:
            return station
        tx = self._transactions.get(evse_id)
        tx_profiles = [
            i for i in on(evse_id, ChargingProfilePurpose.TX)
            if tx is not None and (i.profile.transaction_id is None or i.profile.transaction_id == tx.transaction_id)
        ]
        return [*station, [tx_profiles, on(evse_id, ChargingProfilePurpose.TX_DEFAULT),
                           on(0, ChargingProfilePurpose.TX_DEFAULT)]]

    def _limit(self, evse_id: int, t: int, unit: ChargingRateUnit, relative_start: int) -> Limit:
        cfg = self.config
        best = Limit(self._to_unit(self._hardware(evse_id), ChargingRateUnit.A, cfg.default_number_phases, unit),
                     unit, cfg.default_number_phases)
        for groups in self._groups(evse_id):
            found = self._first_covering(groups, evse_id, t, relative_start)
            if found is None:
                continue
            period, p_unit = found
            phases = period.number_phases or cfg.default_number_phases
            value = self._to_unit(period.limit, p_unit, phases, unit)
            if value < best.value:
                best = Limit(value, unit, phases)
        return best

    def _first_covering(self, groups: Iterable[list[_Installed]], evse_id: int, t: int,
                        relative_start: int) -> tuple[SchedulePeriod, ChargingRateUnit] | None:
        for group in groups:
            for item in group:
                period = self._period_at(item.profile, evse_id, t, relative_start)
                if period is not None:
                    return period, item.profile.schedule.unit
        return None

    def _relative_start(self, evse_id: int, fallback: int) -> int:
        tx = self._transactions.get(evse_id)
        return _seconds(tx.start) if tx is not None else fallback

    def _occurrence_start(self, p: ChargingProfile, evse_id: int, t: int, relative_start: int) -> int | None:
        s = p.schedule
        if p.kind is ChargingProfileKind.RELATIVE:
            return self._relative_start(evse_id, relative_start)
        assert s.start_schedule is not None  # checked on install
        base = _seconds(s.start_schedule)
        if p.kind is ChargingProfileKind.ABSOLUTE:
            return base
        if t < base:
            return None
        period = DAY if p.recurrency_kind is RecurrencyKind.DAILY else WEEK
        return base + ((t - base) // period) * period

    def _period_at(self, p: ChargingProfile, evse_id: int, t: int, relative_start: int) -> SchedulePeriod | None:
        if p.valid_from is not None and t < _seconds(p.valid_from):
            return None
        if p.valid_to is not None and t >= _seconds(p.valid_to):
            return None
        start = self._occurrence_start(p, evse_id, t, relative_start)
        if start is None:
            return None
        offset = t - start
        if offset < 0 or (p.schedule.duration is not None and offset >= p.schedule.duration):
            return None
        current = None
        for period in p.schedule.periods:
            if period.start_period > offset:
                break
            current = period
        return current

    def _breakpoints(self, evse_id: int, start: int, end: int, relative_start: int) -> set[int]:
        points: set[int] = set()
        for groups in self._groups(evse_id):
            for group in groups:
                for item in group:
                    points |= self._profile_points(item.profile, evse_id, start, end, relative_start)
        return points

    def _profile_points(self, p: ChargingProfile, evse_id: int, start: int, end: int, relative_start: int) -> set[int]:
        out: set[int] = set()
        for v in (p.valid_from, p.valid_to):
            if v is not None:
                out.add(_seconds(v))
        s = p.schedule
        if p.kind is ChargingProfileKind.RECURRING:
            assert s.start_schedule is not None
            base = _seconds(s.start_schedule)
            period = DAY if p.recurrency_kind is RecurrencyKind.DAILY else WEEK
            first = max(0, (start - base) // period)
            last = max(0, (end - base) // period)
            occurrences = [base + k * period for k in range(first, last + 1)]
        else:
            first_start = self._occurrence_start(p, evse_id, start, relative_start)
            occurrences = [] if first_start is None else [first_start]
        for o in occurrences:
            out.update(o + x.start_period for x in s.periods)
            if s.duration is not None:
                out.add(o + s.duration)
        return out

    def _to_unit(self, value: float, src: ChargingRateUnit, phases: int, dst: ChargingRateUnit) -> float:
        if src is dst:
            return value
        factor = self.config.nominal_voltage * phases
        return value * factor if dst is ChargingRateUnit.W else value / factor


def _seconds(when: datetime) -> int:
    if when.tzinfo is None:
        raise FunctionsLocalError("naive datetime: pass an aware datetime (UTC)")
    return math.floor(when.timestamp())


def _validity_overlaps(a: ChargingProfile, b: ChargingProfile) -> bool:
    a_from = _seconds(a.valid_from) if a.valid_from else -math.inf
    b_from = _seconds(b.valid_from) if b.valid_from else -math.inf
    a_to = _seconds(a.valid_to) if a.valid_to else math.inf
    b_to = _seconds(b.valid_to) if b.valid_to else math.inf
    return a_from < b_to and b_from < a_to


__all__ = [
    "ChargingProfile",
    "ChargingProfileKind",
    "ChargingProfilePurpose",
    "ChargingRateUnit",
    "ChargingSchedule",
    "CompositeSchedule",
    "InstallResult",
    "Limit",
    "RecurrencyKind",
    "SchedulePeriod",
    "SmartCharging",
    "SmartChargingConfig",
    "UnsupportedProfileError",
    "profile_from_v16_json",
    "profile_from_v201_json",
    "profile_to_v201_json",
]
