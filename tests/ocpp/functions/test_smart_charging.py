"""Smart charging: composite schedules against hand-computed expectations.

Every expected schedule below is worked out by hand in the comment above it, from the merge rules of
OCPP 1.6 section 3.13 and OCPP 2.0.1 K08: highest stack level wins within a purpose, an EVSE-specific
profile beats one on EVSE 0, TxProfile beats TxDefaultProfile, and the result is the minimum of the station
maximum, the transaction profile and the hardware limit.  W = A * 230 V * phases.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evcharge.ocpp.functions._common import FunctionsLocalError, FunctionsRemoteError
from evcharge.ocpp.functions.smart_charging import (
    ChargingProfile,
    ChargingProfileKind,
    ChargingProfilePurpose,
    ChargingRateUnit,
    ChargingSchedule,
    RecurrencyKind,
    SchedulePeriod,
    SmartCharging,
    SmartChargingConfig,
    profile_from_v201_json,
)
from evcharge.ocpp.functions.transport.sqlite import SqliteStore
from tests.conftest import ocpp_schema_dir

SCHEMAS = ocpp_schema_dir()
A = ChargingRateUnit.A
W = ChargingRateUnit.W
TXD = ChargingProfilePurpose.TX_DEFAULT
MAX = ChargingProfilePurpose.CHARGING_STATION_MAX
TX = ChargingProfilePurpose.TX


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def profile(pid: int, purpose: ChargingProfilePurpose, periods: list[tuple[int, float] | tuple[int, float, int]], *,
            stack: int = 0, kind: ChargingProfileKind = ChargingProfileKind.ABSOLUTE, start: datetime | None = None,
            duration: int | None = None, unit: ChargingRateUnit = A, recurrency: RecurrencyKind | None = None,
            valid_from: datetime | None = None, valid_to: datetime | None = None,
            tx: str | None = None) -> ChargingProfile:
    sp = tuple(
        SchedulePeriod(start_period=p[0], limit=p[1], number_phases=p[2] if len(p) > 2 else None)  # type: ignore[misc]
        for p in periods
    )
    return ChargingProfile(
        id=pid, stack_level=stack, purpose=purpose, kind=kind, recurrency_kind=recurrency,
        valid_from=valid_from, valid_to=valid_to, transaction_id=tx,
        schedule=ChargingSchedule(unit=unit, periods=sp, start_schedule=start, duration=duration),
    )


def periods(sc: SmartCharging, evse: int, start: datetime, duration: int, unit: ChargingRateUnit = A) -> list[Any]:
    return [(p.start_period, p.limit) for p in sc.composite_schedule(evse, start, duration, unit).periods]


def accept(sc: SmartCharging, evse: int, p: ChargingProfile, now: datetime | None = None) -> None:
    result = sc.install(evse, p, (now or utc(2024, 1, 1)).timestamp())
    assert result.status == "Accepted", result


def test_stack_levels_overlap_and_station_max() -> None:
    # TxDefault stack 0 from 00:00: 16 A for ever.
    # TxDefault stack 1 from 01:00 for one hour: 10 A, 6 A after 30 min; then it no longer covers -> stack 0 again.
    # StationMax: 20 A, 8 A from 02:30.  Hardware 32 A.
    #   00:00-01:00 min(16, 20) = 16      01:00-01:30 min(10, 20) = 10     01:30-02:00 6
    #   02:00-02:30 min(16, 20) = 16      02:30-      min(16, 8)  = 8
    sc = SmartCharging(SmartChargingConfig())
    accept(sc, 1, profile(1, TXD, [(0, 16)], start=utc(2024, 1, 1)))
    accept(sc, 1, profile(2, TXD, [(0, 10), (1800, 6)], stack=1, start=utc(2024, 1, 1, 1), duration=3600))
    accept(sc, 0, profile(3, MAX, [(0, 20), (9000, 8)], start=utc(2024, 1, 1)))
    assert periods(sc, 1, utc(2024, 1, 1), 3 * 3600) == [(0, 16), (3600, 10), (5400, 6), (7200, 16), (9000, 8)]
    assert sc.limit_at(1, utc(2024, 1, 1, 1, 45)).value == 6
    assert sc.next_change(1, utc(2024, 1, 1, 1, 45)) == utc(2024, 1, 1, 2)


def test_evse_specific_profile_beats_evse0_default() -> None:
    # TxDefault on EVSE 0 (stack 5) 12 A applies to every EVSE; TxDefault on EVSE 2 (stack 0) 20 A beats it on EVSE 2
    # even with a lower stack level, while EVSE 1 keeps 12 A.
    sc = SmartCharging(SmartChargingConfig(evse_count=2))
    accept(sc, 0, profile(1, TXD, [(0, 12)], stack=5, start=utc(2024, 1, 1)))
    accept(sc, 2, profile(2, TXD, [(0, 20)], stack=0, start=utc(2024, 1, 1)))
    assert periods(sc, 1, utc(2024, 1, 2), 600) == [(0, 12)]
    assert periods(sc, 2, utc(2024, 1, 2), 600) == [(0, 20)]


def test_daily_recurrence_across_midnight() -> None:
    # Daily from 22:00 (first day 2024-01-01): 6 A for 8 h, then 16 A until the next 22:00.
    # Composite from 2024-01-03 20:00 for 12 h:
    #   20:00 is 22 h into the occurrence of Jan 2 22:00 -> 16 A
    #   22:00 new occurrence -> 6 A  (start 7200)
    #   06:00 on Jan 4 (8 h later) -> 16 A  (start 36000)
    sc = SmartCharging(SmartChargingConfig())
    accept(sc, 0, profile(1, TXD, [(0, 6), (8 * 3600, 16)], kind=ChargingProfileKind.RECURRING,
                          recurrency=RecurrencyKind.DAILY, start=utc(2024, 1, 1, 22)))
    assert periods(sc, 1, utc(2024, 1, 3, 20), 12 * 3600) == [(0, 16), (7200, 6), (36000, 16)]
    assert sc.limit_at(1, utc(2024, 1, 4, 0, 30)).value == 6


def test_daily_recurrence_with_duration_falls_back_to_lower_stack() -> None:
    # Stack 1 daily from 23:00, 4 A, duration 2 h (so 23:00-01:00); stack 0 absolute 16 A.
    # Composite from 22:00 for 4 h: 22:00 16, 23:00 4 (3600), 01:00 16 (10800).
    sc = SmartCharging(SmartChargingConfig())
    accept(sc, 1, profile(1, TXD, [(0, 16)], start=utc(2024, 1, 1)))
    accept(sc, 1, profile(2, TXD, [(0, 4)], stack=1, kind=ChargingProfileKind.RECURRING,
                          recurrency=RecurrencyKind.DAILY, start=utc(2024, 1, 1, 23), duration=7200))
    assert periods(sc, 1, utc(2024, 3, 10, 22), 4 * 3600) == [(0, 16), (3600, 4), (10800, 16)]


def test_weekly_recurrence_across_week_boundary() -> None:
    # Weekly from Monday 2024-01-01 00:00: 32 A, from Saturday 00:00 (5 days) 10 A.  Hardware 16 A.
    # Composite from Sunday 2024-01-07 12:00 for 2 days:
    #   Sunday 12:00 is 6.5 days in -> 10 A;  Monday 2024-01-08 00:00 (12 h later) new week -> min(32, 16) = 16 A.
    sc = SmartCharging(SmartChargingConfig(max_current_a=16))
    accept(sc, 0, profile(1, TXD, [(0, 32), (5 * 86400, 10)], kind=ChargingProfileKind.RECURRING,
                          recurrency=RecurrencyKind.WEEKLY, start=utc(2024, 1, 1)))
    assert utc(2024, 1, 7).weekday() == 6  # a Sunday
    assert periods(sc, 1, utc(2024, 1, 7, 12), 2 * 86400) == [(0, 10), (43200, 16)]
    # and the following Saturday goes back to 10 A
    assert sc.limit_at(1, utc(2024, 1, 13, 0, 0, 1)).value == 10


def test_recurring_before_its_first_start_does_not_apply() -> None:
    sc = SmartCharging(SmartChargingConfig())
    accept(sc, 1, profile(1, TXD, [(0, 6)], kind=ChargingProfileKind.RECURRING, recurrency=RecurrencyKind.DAILY,
                          start=utc(2024, 1, 10, 8)))
    # before 2024-01-10 08:00 only the 32 A hardware limit holds
    assert periods(sc, 1, utc(2024, 1, 10, 6), 4 * 3600) == [(0, 32), (7200, 6)]


def test_amps_and_watts() -> None:
    # StationMax 11040 W (= 16 A * 230 V * 3).  TxDefault: 20 A on 3 phases, after 1 h 10 A on 1 phase.
    # In A:  0: min(32, 11040/690 = 16, 20) = 16 (3 ph)   3600: min(32, 16, 10) = 10 (1 ph)
    # In W:  0: min(22080, 11040, 20*690 = 13800) = 11040 (3 ph)   3600: min(22080, 11040, 10*230 = 2300) = 2300 (1 ph)
    sc = SmartCharging(SmartChargingConfig())
    accept(sc, 0, profile(1, MAX, [(0, 11040)], unit=W, start=utc(2024, 1, 1)))
    accept(sc, 1, profile(2, TXD, [(0, 20, 3), (3600, 10, 1)], start=utc(2024, 1, 1)))
    comp_a = sc.composite_schedule(1, utc(2024, 1, 1), 7200, A).periods
    assert [(p.start_period, p.limit, p.number_phases) for p in comp_a] == [(0, 16, 3), (3600, 10, 1)]
    comp_w = sc.composite_schedule(1, utc(2024, 1, 1), 7200, W).periods
    assert [(p.start_period, p.limit, p.number_phases) for p in comp_w] == [(0, 11040, 3), (3600, 2300, 1)]
    lim = sc.limit_at(1, utc(2024, 1, 1, 1, 30), W)
    assert (lim.value, lim.unit, lim.number_phases) == (2300, W, 1)


def test_tx_profile_relative_to_transaction_start_overrides_default() -> None:
    # TxDefault 16 A.  Transaction starts 10:00; relative TxProfile 8 A, 12 A after 600 s, duration 1200 s.
    # Composite from 10:05 for 30 min: 8 A (offset 300 in the profile), 10:10 12 A (300), 10:20 profile over: 16 A (900)
    sc = SmartCharging(SmartChargingConfig())
    accept(sc, 1, profile(1, TXD, [(0, 16)], start=utc(2024, 1, 1)))
    tx_profile = profile(2, TX, [(0, 8), (600, 12)], kind=ChargingProfileKind.RELATIVE, duration=1200, tx="tx-1")
    assert sc.install(1, tx_profile, utc(2024, 1, 1, 10).timestamp()).reason == "NoTransaction"
    sc.transaction_started(1, "tx-1", utc(2024, 1, 1, 10).timestamp())
    accept(sc, 1, tx_profile)
    assert periods(sc, 1, utc(2024, 1, 1, 10, 5), 1800) == [(0, 8), (300, 12), (900, 16)]
    # a TxProfile with a higher limit still overrides the default (it is not a min of the two)
    accept(sc, 1, profile(3, TX, [(0, 25)], stack=1, kind=ChargingProfileKind.RELATIVE, tx="tx-1"))
    assert sc.limit_at(1, utc(2024, 1, 1, 10, 1)).value == 25
    sc.transaction_ended(1)
    assert [pid for _, p in sc.profiles for pid in [p.id]] == [1]
    assert sc.limit_at(1, utc(2024, 1, 1, 10, 1)).value == 16


def test_validity_window() -> None:
    # 10 A valid from 01:00 to 02:00 only; otherwise hardware 32 A.
    sc = SmartCharging(SmartChargingConfig())
    accept(sc, 1, profile(1, TXD, [(0, 10)], start=utc(2024, 1, 1), valid_from=utc(2024, 1, 1, 1),
                          valid_to=utc(2024, 1, 1, 2)))
    assert periods(sc, 1, utc(2024, 1, 1), 3 * 3600) == [(0, 32), (3600, 10), (7200, 32)]


def test_station_composite_for_evse0() -> None:
    # Two EVSEs, 32 A each: the grid connection (EVSE 0) is limited by the 40 A StationMax only.
    sc = SmartCharging(SmartChargingConfig(evse_count=2))
    accept(sc, 0, profile(1, MAX, [(0, 40)], start=utc(2024, 1, 1)))
    accept(sc, 1, profile(2, TXD, [(0, 6)], start=utc(2024, 1, 1)))
    assert periods(sc, 0, utc(2024, 1, 2), 60) == [(0, 40)]
    assert periods(sc, 1, utc(2024, 1, 2), 60) == [(0, 6)]
    assert periods(sc, 2, utc(2024, 1, 2), 60) == [(0, 32)]


@pytest.mark.parametrize(
    ("evse", "prof", "reason"),
    [
        (1, profile(1, MAX, [(0, 10)], start=utc(2024, 1, 1)), "StationMaxOnlyOnEVSE0"),
        (0, profile(1, TX, [(0, 10)], kind=ChargingProfileKind.RELATIVE, tx="a"), "TxProfileOnEVSE0"),
        (1, profile(1, TXD, [(10, 10)], start=utc(2024, 1, 1)), "FirstPeriodNotZero"),
        (1, profile(1, TXD, [(0, 10), (0, 12)], start=utc(2024, 1, 1)), "PeriodsNotIncreasing"),
        (1, profile(1, TXD, [(0, 10)], stack=11, start=utc(2024, 1, 1)), "StackLevelOutOfRange"),
        (1, profile(1, TXD, [(0, 10)]), "AbsoluteNeedsStartSchedule"),
        (1, profile(1, TXD, [(0, 10)], kind=ChargingProfileKind.RECURRING, start=utc(2024, 1, 1)),
         "RecurringNeedsKindAndStart"),
        (3, profile(1, TXD, [(0, 10)], start=utc(2024, 1, 1)), "UnknownEVSE"),
        (1, profile(1, ChargingProfilePurpose.CHARGING_STATION_EXTERNAL_CONSTRAINTS, [(0, 10)], start=utc(2024, 1, 1)),
         "ExternalConstraintsNotSettable"),
    ],
)
def test_rejected_profiles(evse: int, prof: ChargingProfile, reason: str) -> None:
    sc = SmartCharging(SmartChargingConfig())
    result = sc.install(evse, prof, utc(2024, 1, 1).timestamp())
    assert (result.status, result.reason) == ("Rejected", reason)
    assert sc.profiles == []


def test_same_stack_level_201_rejected_but_16_replaces() -> None:
    a = profile(1, TXD, [(0, 10)], start=utc(2024, 1, 1))
    b = profile(2, TXD, [(0, 12)], start=utc(2024, 1, 1))
    sc = SmartCharging(SmartChargingConfig())
    accept(sc, 1, a)
    assert sc.install(1, b, utc(2024, 1, 1).timestamp()).reason == "DuplicateProfile"
    # same id replaces in 2.0.1
    accept(sc, 1, profile(1, TXD, [(0, 14)], start=utc(2024, 1, 1)))
    assert sc.limit_at(1, utc(2024, 1, 1, 1)).value == 14
    sc16 = SmartCharging(SmartChargingConfig(version="1.6"))
    accept(sc16, 1, a)
    accept(sc16, 1, b)
    assert [p.id for _, p in sc16.profiles] == [2]


def test_clear_profiles() -> None:
    sc = SmartCharging(SmartChargingConfig(evse_count=2))
    accept(sc, 1, profile(1, TXD, [(0, 10)], start=utc(2024, 1, 1)))
    accept(sc, 2, profile(2, TXD, [(0, 10)], start=utc(2024, 1, 1)))
    accept(sc, 0, profile(3, MAX, [(0, 10)], start=utc(2024, 1, 1)))
    assert sc.handle_clear_charging_profile({"chargingProfileCriteria": {"evseId": 2}}) == {"status": "Accepted"}
    assert sc.handle_clear_charging_profile({"chargingProfileId": 99}) == {"status": "Unknown"}
    assert sc.handle_clear_charging_profile({"chargingProfileCriteria": {"chargingProfilePurpose": "TxDefaultProfile"}})
    assert [p.id for _, p in sc.profiles] == [3]


def _validator(version: str, name: str) -> Any:
    schema = json.loads((SCHEMAS / version / name).read_text())
    return jsonschema.Draft202012Validator(schema) if version == "v201" else jsonschema.Draft4Validator(schema)


def test_v16_messages_round_trip_and_validate() -> None:
    sc = SmartCharging(SmartChargingConfig(version="1.6"))
    request = {
        "connectorId": 0,
        "csChargingProfiles": {
            "chargingProfileId": 7, "stackLevel": 0, "chargingProfilePurpose": "ChargePointMaxProfile",
            "chargingProfileKind": "Recurring", "recurrencyKind": "Daily",
            "chargingSchedule": {"startSchedule": "2024-01-01T18:00:00Z", "duration": 14400,
                                 "chargingRateUnit": "W",
                                 "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 6900.0, "numberPhases": 3}]},
        },
    }
    _validator("v16", "SetChargingProfile.json").validate(request)
    assert sc.handle_set_charging_profile(request, utc(2024, 1, 1).timestamp()) == {"status": "Accepted"}
    # a TxProfile while no transaction runs on the connector -> Rejected (1.6 section 5.16)
    tx = {"connectorId": 1, "csChargingProfiles": {
        "chargingProfileId": 8, "stackLevel": 0, "chargingProfilePurpose": "TxProfile",
        "chargingProfileKind": "Relative",
        "chargingSchedule": {"chargingRateUnit": "A", "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 6}]}}}
    assert sc.handle_set_charging_profile(tx, utc(2024, 1, 1).timestamp()) == {"status": "Rejected"}
    # Composite at 17:00 for 6 h in A: 17:00 32 A, 18:00 6900 W / 690 = 10 A, 22:00 32 A
    answer = sc.handle_get_composite_schedule({"connectorId": 1, "duration": 6 * 3600, "chargingRateUnit": "A"},
                                              utc(2024, 2, 3, 17).timestamp())
    _validator("v16", "GetCompositeScheduleResponse.json").validate(answer)
    assert answer["status"] == "Accepted"
    assert answer["scheduleStart"] == "2024-02-03T17:00:00Z"
    assert [(p["startPeriod"], p["limit"]) for p in answer["chargingSchedule"]["chargingSchedulePeriod"]] == [
        (0, 32.0), (3600, 10.0), (5 * 3600, 32.0)]
    assert sc.handle_get_composite_schedule({"connectorId": 5, "duration": 60}, utc(2024, 1, 1).timestamp()) == {
        "status": "Rejected"}


def test_v201_messages_validate() -> None:
    sc = SmartCharging(SmartChargingConfig(version="2.0.1"))
    request = {"evseId": 1, "chargingProfile": {
        "id": 1, "stackLevel": 0, "chargingProfilePurpose": "TxDefaultProfile", "chargingProfileKind": "Absolute",
        "chargingSchedule": [{"id": 1, "startSchedule": "2024-01-01T00:00:00Z", "chargingRateUnit": "A",
                              "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 13.5}]}]}}
    _validator("v201", "SetChargingProfileRequest.json").validate(request)
    response = sc.handle_set_charging_profile(request, utc(2024, 1, 1).timestamp())
    _validator("v201", "SetChargingProfileResponse.json").validate(response)
    assert response == {"status": "Accepted"}
    bad = sc.handle_set_charging_profile({**request, "evseId": 0, "chargingProfile": {
        **request["chargingProfile"], "id": 2, "chargingProfilePurpose": "TxProfile", "transactionId": "x"}},
        utc(2024, 1, 1).timestamp())
    _validator("v201", "SetChargingProfileResponse.json").validate(bad)
    assert bad["status"] == "Rejected"
    answer = sc.handle_get_composite_schedule({"evseId": 1, "duration": 300, "chargingRateUnit": "W"},
                                              utc(2024, 1, 5, 12, 0, 0, 500000).timestamp())
    _validator("v201", "GetCompositeScheduleResponse.json").validate(answer)
    assert answer["schedule"]["scheduleStart"] == "2024-01-05T12:00:00Z"
    assert answer["schedule"]["chargingSchedulePeriod"] == [{"startPeriod": 0, "limit": 9315.0, "numberPhases": 3}]


def test_malformed_payloads_raise_remote_error() -> None:
    sc = SmartCharging(SmartChargingConfig())
    with pytest.raises(FunctionsRemoteError, match=r"chargingProfile\.stackLevel"):
        profile_from_v201_json({"id": 1, "chargingProfilePurpose": "TxProfile", "chargingProfileKind": "Absolute",
                                "chargingSchedule": [{"chargingRateUnit": "A", "chargingSchedulePeriod": []}]})
    with pytest.raises(FunctionsRemoteError, match="startSchedule"):
        sc.handle_set_charging_profile({"evseId": 1, "chargingProfile": {
            "id": 1, "stackLevel": 0, "chargingProfilePurpose": "TxDefaultProfile", "chargingProfileKind": "Absolute",
            "chargingSchedule": [{"id": 1, "startSchedule": "yesterday", "chargingRateUnit": "A",
                                  "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 1}]}]}},
            utc(2024, 1, 1).timestamp())
    with pytest.raises(FunctionsLocalError):
        sc.limit_at(1, datetime(2024, 1, 1))  # naive


@pytest.mark.property
@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from([TXD, MAX]),
            st.integers(0, 3),  # stack level
            st.sampled_from(list(ChargingProfileKind)),
            st.sampled_from(list(RecurrencyKind)),
            st.integers(0, 3 * 86400),  # start offset from 2024-01-01
            st.one_of(st.none(), st.integers(60, 2 * 86400)),  # duration
            st.lists(st.tuples(st.integers(1, 20000), st.integers(0, 64)), min_size=0, max_size=4),
            st.sampled_from([A, W]),
        ),
        max_size=5,
    ),
    st.integers(0, 10 * 86400),
    st.integers(60, 3 * 86400),
    st.lists(st.integers(0, 10**6), min_size=1, max_size=10),
)
def test_composite_matches_limit_at_everywhere(
    raw: list[Any], start_off: int, duration: int, probes: list[int]
) -> None:
    # The composite schedule and the instant-limit evaluation must agree at every probed second: this proves the
    # breakpoint search misses no change (recurrence, validity, duration ends, period starts).
    sc = SmartCharging(SmartChargingConfig(version="1.6", max_stack_level=3))
    base = utc(2024, 1, 1)
    for pid, (purpose, stack, kind, rec, off, dur, extra, unit) in enumerate(raw):
        offsets = sorted({0, *(e[0] for e in extra)})
        limits = [30.0, *(float(e[1]) for e in extra)]
        pr = profile(pid, purpose, list(zip(offsets, limits, strict=False)), stack=stack, kind=kind,
                     recurrency=rec if kind is ChargingProfileKind.RECURRING else None,
                     start=None if kind is ChargingProfileKind.RELATIVE else base + timedelta(seconds=off),
                     duration=dur, unit=unit)
        sc.install(0 if purpose is MAX else 1, pr, base.timestamp())
    start = base + timedelta(seconds=start_off)
    for unit in (A, W):
        comp = sc.composite_schedule(1, start, duration, unit)
        assert comp.periods[0].start_period == 0
        for probe in probes:
            t = probe % duration
            current = [p for p in comp.periods if p.start_period <= t][-1]
            # relative profiles without a transaction start at the composite start: evaluate them the same way
            expected = sc._limit(1, int(start.timestamp()) + t, unit, relative_start=int(start.timestamp()))
            assert current.limit == round(expected.value, 1)


def test_profiles_survive_a_restart(tmp_path: Path) -> None:
    # profiles are kept in SQLite: a new manager on the same file computes the same composite schedule
    store = tmp_path / "sc.sqlite"
    sc = SmartCharging(SmartChargingConfig(evse_count=2), store=SqliteStore(store))
    accept(sc, 0, profile(1, MAX, [(0, 20), (3600, 12.5)], start=utc(2024, 1, 1)))
    accept(sc, 1, profile(2, TXD, [(0, 6), (8 * 3600, 16)], kind=ChargingProfileKind.RECURRING,
                          recurrency=RecurrencyKind.DAILY, start=utc(2024, 1, 1, 22), duration=86400,
                          valid_to=utc(2025, 1, 1)))
    accept(sc, 2, profile(3, TXD, [(0, 11000)], unit=W, start=utc(2024, 1, 1)))
    before = [sc.composite_schedule(e, utc(2024, 1, 3, 20), 12 * 3600) for e in (0, 1, 2)]
    assert sc.clear(profile_id=3)
    sc.close()
    again = SmartCharging(SmartChargingConfig(evse_count=2), store=SqliteStore(store))
    assert [(e, p.id) for e, p in again.profiles] == [(0, 1), (1, 2)]
    assert [again.composite_schedule(e, utc(2024, 1, 3, 20), 12 * 3600) for e in (0, 1)] == before[:2]
    assert again.profiles[1][1] == sc.profiles[1][1]  # the parsed profile is the one installed


def test_external_constraints_from_the_local_energy_manager() -> None:
    # The station's own energy manager limits EVSE 1 to 16 A from 18:00 to 21:00 (an external constraint the CSMS
    # may not set).  TxDefault 20 A.  Composite from 17:00 for 5 h: 20 A, 18:00 16 A (3600), 21:00 20 A (14400).
    sc = SmartCharging(SmartChargingConfig())
    accept(sc, 1, profile(1, TXD, [(0, 20)], start=utc(2024, 1, 1)))
    external = profile(2, ChargingProfilePurpose.CHARGING_STATION_EXTERNAL_CONSTRAINTS, [(0, 16)],
                       start=utc(2024, 5, 1, 18), duration=3 * 3600)
    assert sc.install(1, external, utc(2024, 5, 1).timestamp()).reason == "ExternalConstraintsNotSettable"
    assert sc.install(1, external, utc(2024, 5, 1).timestamp(), local=True).status == "Accepted"
    assert periods(sc, 1, utc(2024, 5, 1, 17), 5 * 3600) == [(0, 20), (3600, 16), (14400, 20)]
