"""The transaction manager: charger events to 1.6 Start/Stop/MeterValues and 2.0.1 TransactionEvent.

Every payload produced is checked against the official schema with the generated validators
(evcharge.ocpp.v16 / v201), and the expected message sequences follow OCPP 2.0.1 E01-E07 / 1.6 sections 4.8-4.10.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evcharge.ocpp import v16, v201
from evcharge.ocpp.functions._common import FunctionsLocalError
from evcharge.ocpp.functions.offline_queue import OfflineQueue
from evcharge.ocpp.functions.transactions import (
    Authorized,
    EnergyFlowing,
    EnergySuspended,
    EVConnected,
    EVDisconnected,
    OutgoingMessage,
    PowerPathClosed,
    StopRequested,
    TransactionConfig,
    TransactionEnded,
    TransactionManager,
    TransactionStarted,
    route,
)
from evcharge.ocpp.functions.transport.sqlite import SqliteStore

T0 = 1_717_243_200.0  # 2024-06-01T12:00:00Z
TOKEN = {"idToken": "04A1B2C3", "type": "ISO14443"}


def check201(msgs: list[OutgoingMessage]) -> list[dict[str, Any]]:
    for m in msgs:
        assert v201.validate(m.action, "request", m.payload) == [], (m.action, "request", m.payload)
    return [m.payload for m in msgs]


def summary(payloads: list[dict[str, Any]]) -> list[tuple[str, str, int]]:
    return [(p["eventType"], p["triggerReason"], p["seqNo"]) for p in payloads]


def test_default_points_full_session_201() -> None:
    # TxStartPoint PowerPathClosed, TxStopPoint EVConnected,Authorized (the default model's values)
    tm = TransactionManager(TransactionConfig(sampled_interval=60, aligned_interval=900), rng=random.Random(1))
    tm.set_online(True)
    tm.start_clock(T0)
    tm.update_meter(1, {"Energy.Active.Import.Register": 1000, "Power.Active.Import": 0}, T0)
    tm.handle(EVConnected(1), T0)
    tm.handle(Authorized(1, TOKEN), T0 + 5)
    assert tm.messages() == []  # neither is a start point
    tm.handle(PowerPathClosed(1), T0 + 6)
    started = check201(tm.messages())
    assert summary(started) == [("Started", "ChargingStateChanged", 0)]
    s = started[0]
    assert s["idToken"] == TOKEN and s["evse"] == {"id": 1, "connectorId": 1}
    assert s["meterValue"][0]["sampledValue"] == [{"value": 1000.0, "context": "Transaction.Begin",
                                                   "measurand": "Energy.Active.Import.Register",
                                                   "unitOfMeasure": {"unit": "Wh"}}]
    assert tm.next_event() == TransactionStarted(1, s["transactionInfo"]["transactionId"])
    tm.handle(EnergyFlowing(1), T0 + 7)
    tm.update_meter(1, {"Energy.Active.Import.Register": 1120, "Power.Active.Import": 7200}, T0 + 60)
    assert tm.get_timer() == T0 + 66  # 60 s after the start
    tm.handle_timer(T0 + 66)
    # the clock-aligned reading is due at the next quarter hour: 12:15:00
    assert tm.get_timer() == T0 + 126
    tm.handle_timer(T0 + 900)  # late: samples at 126..846 were missed, 906 is the next slot on the grid
    assert tm.get_timer() == T0 + 906
    tm.handle(StopRequested(1, "Local"), T0 + 950)
    rest = check201(tm.messages())
    assert summary(rest) == [
        ("Updated", "ChargingStateChanged", 1),
        ("Updated", "MeterValuePeriodic", 2),
        ("Updated", "MeterValuePeriodic", 3),
        ("Updated", "MeterValueClock", 4),
        ("Ended", "StopAuthorized", 5),
    ]
    assert rest[0]["transactionInfo"]["chargingState"] == "Charging"
    assert [v["measurand"] for v in rest[1]["meterValue"][0]["sampledValue"]] == [
        "Energy.Active.Import.Register", "Power.Active.Import"]
    assert rest[3]["meterValue"][0]["sampledValue"][0]["context"] == "Sample.Clock"
    assert rest[3]["meterValue"][0]["timestamp"] == "2024-06-01T12:15:00Z"
    ended = rest[4]
    assert ended["transactionInfo"]["stoppedReason"] == "Local"
    assert ended["transactionInfo"]["timeSpentCharging"] == 950 - 7  # energy flowed from T0+7 to the stop
    assert ended["meterValue"][0]["sampledValue"][0]["context"] == "Transaction.End"
    assert {p["transactionInfo"]["transactionId"] for p in rest} == {s["transactionInfo"]["transactionId"]}
    assert isinstance(tm.next_event(), TransactionEnded)
    assert tm.transaction_ref(1) is None


def test_start_on_plug_stop_on_unplug_201() -> None:
    cfg = TransactionConfig(tx_start_points=frozenset({"EVConnected"}), tx_stop_points=frozenset({"EVConnected"}),
                            sampled_interval=0, aligned_interval=0)
    tm = TransactionManager(cfg, rng=random.Random(2))
    tm.handle(EVConnected(1), T0)
    tm.handle(Authorized(1, TOKEN), T0 + 10)
    tm.handle(EnergyFlowing(1), T0 + 11)
    tm.handle(EnergySuspended(1, by_ev=True), T0 + 3600)
    tm.handle(StopRequested(1, "Local"), T0 + 3700)  # card presented: not a stop point here
    tm.handle(EVDisconnected(1), T0 + 3800)
    out = check201(tm.messages())
    assert summary(out) == [
        ("Started", "CablePluggedIn", 0),
        ("Updated", "Authorized", 1),
        ("Updated", "ChargingStateChanged", 2),
        ("Updated", "ChargingStateChanged", 3),
        ("Updated", "StopAuthorized", 4),
        ("Ended", "EVCommunicationLost", 5),
    ]
    assert "idToken" not in out[0] and out[1]["idToken"] == TOKEN
    assert [p["transactionInfo"].get("chargingState") for p in out] == [
        "EVConnected", None, "Charging", "SuspendedEV", "EVConnected", "Idle"]
    assert out[5]["transactionInfo"]["stoppedReason"] == "EVDisconnected"
    assert out[5]["transactionInfo"]["timeSpentCharging"] == 3600 - 11  # Charging from +11 until SuspendedEV
    assert all(p.get("offline") is True for p in out)  # never told it is online


def test_remote_start_and_remote_stop_201() -> None:
    cfg = TransactionConfig(tx_start_points=frozenset({"Authorized"}), sampled_interval=0, aligned_interval=0)
    tm = TransactionManager(cfg, rng=random.Random(3))
    tm.set_online(True)
    tm.handle(Authorized(1, {"idToken": "REMOTE", "type": "Central"}, remote_start_id=77), T0)
    tm.handle(EVConnected(1), T0 + 20)
    tm.handle(StopRequested(1, "Remote"), T0 + 30)
    out = check201(tm.messages())
    assert summary(out) == [("Started", "RemoteStart", 0), ("Updated", "CablePluggedIn", 1),
                            ("Ended", "RemoteStop", 2)]
    assert out[0]["transactionInfo"]["remoteStartId"] == 77
    assert out[2]["transactionInfo"]["stoppedReason"] == "Remote"


def test_two_evses_have_their_own_transactions_and_seqno() -> None:
    cfg = TransactionConfig(evse_count=2, tx_start_points=frozenset({"EVConnected"}), sampled_interval=0,
                            aligned_interval=0)
    tm = TransactionManager(cfg, rng=random.Random(4))
    tm.handle(EVConnected(1), T0)
    tm.handle(EVConnected(2), T0 + 1)
    tm.handle(EVDisconnected(1), T0 + 2)
    tm.handle(EVDisconnected(2), T0 + 3)
    out = check201(tm.messages())
    ids = [p["transactionInfo"]["transactionId"] for p in out]
    assert ids[0] == ids[2] and ids[1] == ids[3] and ids[0] != ids[1]
    assert [p["seqNo"] for p in out] == [0, 0, 1, 1]
    with pytest.raises(FunctionsLocalError):
        tm.handle(EVConnected(3), T0)


def test_aligned_values_outside_a_transaction_are_not_queued(tmp_path: Path) -> None:
    tm = TransactionManager(TransactionConfig(aligned_interval=900))
    tm.start_clock(T0 + 1)
    tm.update_meter(1, {"Energy.Active.Import.Register": 5}, T0)
    tm.handle_timer(T0 + 900)
    msgs = tm.messages()
    assert [(m.action, m.transactional) for m in msgs] == [("MeterValues", False)]
    assert v201.validate("MeterValues", "request", msgs[0].payload) == [], msgs[0].payload
    queue = OfflineQueue(store=SqliteStore(tmp_path / "q.sqlite"))
    assert route(msgs, queue, online=False) == [] and len(queue) == 0
    assert route(msgs, queue, online=True) == msgs and len(queue) == 0


def test_v16_session_through_the_offline_queue(tmp_path: Path) -> None:
    # Offline for the whole session: StartTransaction, MeterValues and StopTransaction wait in the queue without
    # a transactionId; when the StartTransaction.conf arrives with 4711 the queued messages get it.
    cfg = TransactionConfig(version="1.6", sampled_interval=300, aligned_interval=0,
                            sampled_measurands=("Energy.Active.Import.Register", "Current.Import"))
    tm = TransactionManager(cfg, rng=random.Random(5))
    queue = OfflineQueue(store=SqliteStore(tmp_path / "q.sqlite"))
    tm.update_meter(1, {"Energy.Active.Import.Register": 12345.0, "Current.Import": 15.5}, T0)
    tm.handle(Authorized(1, "TAG-1"), T0)
    tm.handle(EVConnected(1), T0 + 3)
    tm.update_meter(1, {"Energy.Active.Import.Register": 12800.0}, T0 + 300)
    tm.handle_timer(T0 + 303)
    tm.handle(EVDisconnected(1), T0 + 400)
    msgs = tm.messages()
    assert [m.action for m in msgs] == ["StartTransaction", "MeterValues", "StopTransaction"]
    assert len({m.tx_ref for m in msgs}) == 1
    route(msgs, queue, online=False)
    queue.connected(T0 + 500)
    sent = []
    while (m := queue.next_message(T0 + 500)) is not None:
        assert v16.validate(m.action, "request", m.payload) == [], (m.action, "request", m.payload)
        sent.append(m.payload)
        queue.acknowledged(m.message_id, {"transactionId": 4711, "idTagInfo": {"status": "Accepted"}}
                           if m.action == "StartTransaction" else {})
    start, meter, stop = sent
    assert start == {"connectorId": 1, "idTag": "TAG-1", "meterStart": 12345, "timestamp": "2024-06-01T12:00:03Z"}
    assert meter["transactionId"] == 4711
    assert meter["meterValue"][0]["sampledValue"] == [
        {"value": "12800", "context": "Sample.Periodic", "measurand": "Energy.Active.Import.Register", "unit": "Wh"},
        {"value": "15.5", "context": "Sample.Periodic", "measurand": "Current.Import", "unit": "A"},
    ]
    assert stop["transactionId"] == 4711 and stop["meterStop"] == 12800 and stop["reason"] == "EVDisconnected"
    assert stop["transactionData"][0]["sampledValue"][0]["context"] == "Transaction.End"


def test_v16_stop_by_card_keeps_cable_and_needs_new_authorization() -> None:
    cfg = TransactionConfig(version="1.6", sampled_interval=0, aligned_interval=0)
    tm = TransactionManager(cfg)
    tm.handle(EVConnected(1), T0)
    tm.handle(Authorized(1, "A"), T0 + 1)
    tm.handle(StopRequested(1, "Local", id_token="A"), T0 + 2)
    tm.handle(EVDisconnected(1), T0 + 3)
    tm.handle(EVConnected(1), T0 + 4)  # a new car, no authorization yet: no transaction
    msgs = tm.messages()
    assert [m.action for m in msgs] == ["StartTransaction", "StopTransaction"]
    assert msgs[1].payload["reason"] == "Local" and msgs[1].payload["idTag"] == "A"


def test_restart_resumes_or_recovers_persisted_transactions(tmp_path: Path) -> None:
    store = tmp_path / "tx.sqlite"
    cfg = TransactionConfig(tx_start_points=frozenset({"EVConnected"}), sampled_interval=60, aligned_interval=0)
    first = TransactionManager(cfg, store=SqliteStore(store), rng=random.Random(6))
    first.update_meter(1, {"Energy.Active.Import.Register": 50.0}, T0)
    first.handle(EVConnected(1), T0)
    first.handle(Authorized(1, TOKEN), T0 + 1)
    tx_id = first.transaction_ref(1)
    assert [m.payload["seqNo"] for m in first.messages()] == [0, 1]
    first.close()  # the process dies here

    resumed = TransactionManager(cfg, store=SqliteStore(store))
    assert resumed.interrupted_transactions() == {1: tx_id}
    resumed.resume(T0 + 100)
    assert resumed.get_timer() == T0 + 160
    resumed.handle(EVDisconnected(1), T0 + 120)
    out = check201(resumed.messages())
    assert [(p["seqNo"], p["transactionInfo"]["transactionId"]) for p in out] == [(2, tx_id)]
    resumed.close()
    assert TransactionManager(cfg, store=SqliteStore(store)).interrupted_transactions() == {}

    second = TransactionManager(cfg, store=SqliteStore(store), rng=random.Random(7))
    second.handle(EVConnected(1), T0 + 200)
    second.messages()
    second.close()
    rebooted = TransactionManager(cfg, store=SqliteStore(store))
    rebooted.recover(T0 + 300, "PowerLoss")
    out = check201(rebooted.messages())
    assert summary(out) == [("Ended", "AbnormalCondition", 1)]
    assert out[0]["transactionInfo"]["stoppedReason"] == "PowerLoss"


def test_meter_readings_must_be_numbers() -> None:
    tm = TransactionManager(TransactionConfig())
    with pytest.raises(FunctionsLocalError):
        tm.update_meter(1, {"Voltage": float("nan")}, T0)


def test_ev_connection_timeout() -> None:
    # 2.0.1 with TxStartPoint Authorized: the card starts the transaction; no cable within 30 s ends it with
    # trigger EVConnectTimeout and stoppedReason Timeout (E03 / TxCtrlr.EVConnectionTimeOut).
    cfg = TransactionConfig(tx_start_points=frozenset({"Authorized"}), sampled_interval=0, aligned_interval=0,
                            ev_connection_timeout=30)
    tm = TransactionManager(cfg, rng=random.Random(8))
    tm.handle(Authorized(1, TOKEN), T0)
    assert tm.get_timer() == T0 + 30
    tm.handle_timer(T0 + 29)
    tm.handle_timer(T0 + 30)
    out = check201(tm.messages())
    assert summary(out) == [("Started", "Authorized", 0), ("Ended", "EVConnectTimeout", 1)]
    assert out[1]["transactionInfo"]["stoppedReason"] == "Timeout"
    assert [type(e).__name__ for e in iter(tm.next_event, None)] == [
        "TransactionStarted", "TransactionEnded", "AuthorizationTimedOut"]
    # plugging in before the deadline disarms it
    tm.handle(Authorized(1, TOKEN), T0 + 100)
    tm.handle(EVConnected(1), T0 + 110)
    assert tm.get_timer() is None

    # 1.6: the authorization lapses silently; a later plug-in starts nothing
    tm16 = TransactionManager(TransactionConfig(version="1.6", sampled_interval=0, aligned_interval=0,
                                                ev_connection_timeout=30))
    tm16.handle(Authorized(1, "TAG"), T0)
    tm16.handle_timer(T0 + 30)
    tm16.handle(EVConnected(1), T0 + 40)
    assert tm16.messages() == []
    assert tm16.next_event() is not None  # AuthorizationTimedOut


EVENT_MAKERS = [
    lambda e: EVConnected(e), lambda e: EVDisconnected(e), lambda e: Authorized(e, TOKEN),
    lambda e: Authorized(e, TOKEN, remote_start_id=3), lambda e: PowerPathClosed(e), lambda e: EnergyFlowing(e),
    lambda e: EnergySuspended(e, by_ev=False), lambda e: StopRequested(e, "Local"),
    lambda e: StopRequested(e, "Remote"), lambda e: StopRequested(e, "EmergencyStop"),
]
POINTS = ["EVConnected", "Authorized", "PowerPathClosed", "EnergyTransfer", "ParkingBayOccupancy", "DataSigned"]


@pytest.mark.property
@settings(max_examples=150, deadline=None)
@given(
    st.sampled_from(["1.6", "2.0.1"]),
    st.sets(st.sampled_from(POINTS), min_size=1),
    st.sets(st.sampled_from(POINTS), min_size=1),
    st.booleans(),
    st.lists(st.tuples(st.integers(0, len(EVENT_MAKERS)), st.integers(1, 2), st.integers(0, 90)), max_size=40),
)
def test_any_event_sequence_gives_well_formed_transactions(
    version: str, start: set[str], stop: set[str], stop_on_unplug: bool, script: list[tuple[int, int, int]]
) -> None:
    # Whatever the charger does, in whatever order: every message passes the schema, each transaction's messages
    # start with Started / StartTransaction, count seqNo 0, 1, 2... and nothing follows its Ended / Stop.
    cfg = TransactionConfig(version=version, evse_count=2, tx_start_points=frozenset(start),  # type: ignore[arg-type]
                            tx_stop_points=frozenset(stop), stop_on_ev_side_disconnect=stop_on_unplug,
                            sampled_interval=30, aligned_interval=60, ev_connection_timeout=45)
    tm = TransactionManager(cfg, rng=random.Random(0))
    tm.start_clock(T0)
    now = T0
    for kind, evse, dt in script:
        now += dt
        while (due := tm.get_timer()) is not None and due <= now:
            tm.handle_timer(due)
        tm.update_meter(evse, {"Energy.Active.Import.Register": now - T0}, now)
        if kind < len(EVENT_MAKERS):
            tm.handle(EVENT_MAKERS[kind](evse), now)
    validate = v16.validate if version == "1.6" else v201.validate
    by_tx: dict[str, list[OutgoingMessage]] = {}
    for m in tm.messages():
        payload = dict(m.payload)
        if version == "1.6" and m.action != "StartTransaction" and m.transactional:
            payload["transactionId"] = 1  # the queue fills it in
        assert validate(m.action, "request", payload) == [], (m.action, payload)
        if m.transactional:
            assert m.tx_ref is not None
            by_tx.setdefault(m.tx_ref, []).append(m)
    for msgs in by_tx.values():
        if version == "1.6":
            actions = [m.action for m in msgs]
            assert actions[0] == "StartTransaction" and actions.count("StartTransaction") == 1
            assert "StopTransaction" not in actions[:-1]  # at most one, and nothing after it
            assert set(actions[1:-1]) <= {"MeterValues"}
        else:
            assert msgs[0].payload["eventType"] == "Started"
            assert [m.payload["seqNo"] for m in msgs] == list(range(len(msgs)))
            types = [m.payload["eventType"] for m in msgs]
            assert "Ended" not in types[:-1] and types.count("Started") == 1


def test_one_clock_now_for_timers_wall_clock_for_timestamps() -> None:
    # now is monotonic seconds (100 s after boot); the wall clock says that is 11:59:00Z
    from datetime import UTC, datetime

    from evcharge.clock import WallClock

    wall = WallClock.at(100.0, datetime(2024, 6, 1, 11, 59, tzinfo=UTC))
    cfg = TransactionConfig(tx_start_points=frozenset({"EVConnected"}), sampled_interval=0, aligned_interval=900)
    tm = TransactionManager(cfg, rng=random.Random(9), wall=wall)
    tm.set_online(True)
    tm.start_clock(100.0)
    assert tm.get_timer() == 160.0  # clock-aligned values on the quarter hours of the wall clock: 12:00:00Z
    wall.set_utc(130.0, datetime(2024, 6, 1, 13, 0, tzinfo=UTC))  # NTP corrects the wall clock by an hour
    assert tm.get_timer() == 160.0  # an armed timer does not jump with it
    tm.update_meter(1, {"Energy.Active.Import.Register": 10.0}, 130.0)
    tm.handle(EVConnected(1), 130.0)
    (started,) = check201(tm.messages())
    assert started["eventType"] == "Started" and started["timestamp"] == "2024-06-01T13:00:00Z"


def test_power_path_closed_in_a_running_transaction_changes_no_state_201() -> None:
    """TxStartPoint EVConnected: the contactor closing is no chargingState change (ChargingStateEnumType: it
    stays EVConnected until energy flows), so no TransactionEvent; the energy flowing is one (Charging)."""
    tm = TransactionManager(TransactionConfig(tx_start_points=frozenset({"EVConnected"})), rng=random.Random(1))
    tm.set_online(True)
    tm.handle(EVConnected(1), T0)
    tm.handle(Authorized(1, TOKEN), T0 + 1)
    assert summary(check201(tm.messages())) == [("Started", "CablePluggedIn", 0), ("Updated", "Authorized", 1)]
    tm.handle(PowerPathClosed(1), T0 + 2)
    assert tm.messages() == []
    tm.handle(EnergyFlowing(1), T0 + 3)
    (flowing,) = check201(tm.messages())
    assert flowing["triggerReason"] == "ChargingStateChanged"
    assert flowing["transactionInfo"]["chargingState"] == "Charging"
