"""The charge-point application core (:class:`ChargePointApp`) driven without sockets: boot pending, offline and
heartbeat, reset (OnIdle during a transaction, Immediate), remote start and stop, availability.

Expected behaviour from OCPP 2.0.1 part 2: B01/B02 (boot, heartbeat every HeartbeatInterval after Accepted), B11
(Reset Immediate: stop the transactions, then reset), B12 (B12.FR.01: OnIdle with a transaction ongoing answers
Scheduled and resets after it ended; B12.FR.07: an OnIdle reset of one EVSE waits for that EVSE's transaction only),
F01/F02 (RequestStartTransaction, AuthorizeRemoteStart), F03 (RequestStopTransaction: Rejected for a transaction not
running here), G03 (ChangeAvailability: Scheduled while a transaction runs, applied after it); and OCPP 1.6 sections
4.6 (Heartbeat), 5.2 (ChangeAvailability: same status already: Accepted), 5.11/5.12 (RemoteStart/Stop), 5.14 (Reset
Hard/Soft stops the transactions with reason HardReset/SoftReset first).
"""

from __future__ import annotations

import pytest

from evcharge.ocpp.functions.application import (
    Answer,
    AppCommand,
    AppConfig,
    AppEvent,
    AuthorizationDone,
    BootAccepted,
    BootState,
    CacheVerdict,
    CallAnswered,
    ChangeAvailabilityRequested,
    ChargePointApp,
    ChargerInput,
    Connected,
    Disconnected,
    MakeCall,
    RemoteStartRequested,
    RemoteStopRequested,
    ResetNow,
    ResetRequested,
    SetAvailability,
    StopTransaction,
    TransactionClosed,
    TransactionMessageAnswered,
    TransactionOpened,
    VariableSet,
)
from evcharge.ocpp.functions.errors import FunctionsLocalError
from evcharge.ocpp.functions.transactions import Authorized
from evcharge.sansio import Core

BOOT = {"reason": "PowerUp", "chargingStation": {"model": "m", "vendorName": "v"}}
TOKEN = {"idToken": "04A1B2C3", "type": "ISO14443"}


def events(app: ChargePointApp) -> list[object]:
    out: list[object] = []
    while (ev := app.next_event()) is not None:
        out.append(ev)
    return out


def booted(version: str = "2.0.1", evse_count: int = 2, interval: int = 60, now: float = 0.0) -> ChargePointApp:
    app = ChargePointApp(AppConfig(version=version, evse_count=evse_count, boot=BOOT, status_notifications=False))
    app.send(Connected(), now)
    assert events(app) == [MakeCall(action="BootNotification", payload=BOOT)]
    app.send(CallAnswered(action="BootNotification", response={"status": "Accepted", "interval": interval}), now)
    assert events(app) == [BootAccepted(interval=interval)]
    return app


def test_it_is_a_core() -> None:
    app: Core[AppCommand, AppEvent, BootState] = ChargePointApp(AppConfig())  # mypy holds it to the shape
    assert isinstance(app, Core) and isinstance(app, ChargePointApp)
    assert app.state is BootState.ACCEPTED and app.get_timer() is None  # no boot core: the application boots


def test_boot_pending_then_heartbeat_on_the_interval() -> None:
    app = ChargePointApp(AppConfig(boot=BOOT, status_notifications=False))
    app.send(Connected(), 0.0)
    assert events(app) == [MakeCall(action="BootNotification", payload=BOOT)]
    app.send(CallAnswered(action="BootNotification", response={"status": "Pending", "interval": 20}), 1.0)
    # B02: Pending: nothing but the retried BootNotification, no heartbeat yet
    assert app.get_timer() == 21.0 and not app.accepted
    app.handle_timer(21.0)
    assert events(app) == [MakeCall(action="BootNotification", payload=BOOT)]
    app.send(CallAnswered(action="BootNotification", response={"status": "Accepted", "interval": 50}), 22.0)
    assert events(app) == [BootAccepted(interval=50)]
    assert app.get_timer() == 72.0  # B01 / 1.6 4.6: a Heartbeat after HeartbeatInterval
    app.handle_timer(71.9)
    assert events(app) == []
    app.handle_timer(72.0)
    assert events(app) == [MakeCall(action="Heartbeat", payload={})]
    app.send(CallAnswered(action="Heartbeat", response={"currentTime": "2024-05-01T12:00:00Z"}), 72.2)
    assert app.get_timer() == 122.0


def test_offline_no_heartbeat_and_reconnect_rearms() -> None:
    app = booted(interval=60, now=0.0)
    app.send(Disconnected(), 30.0)
    assert app.get_timer() is None
    app.handle_timer(1000.0)
    assert events(app) == []  # no call while offline
    app.send(Connected(), 1000.0)
    assert events(app) == []  # accepted once for the life of the process: no new BootNotification
    assert app.get_timer() == 1060.0


def test_heartbeat_interval_change_rearms_the_timer() -> None:
    app = booted(interval=300, now=0.0)
    assert app.get_timer() == 300.0
    app.send(VariableSet(component="OCPPCommCtrlr", variable="HeartbeatInterval", value="10"), 5.0)
    assert app.get_timer() == 15.0
    app.send(VariableSet(component="OCPPCommCtrlr", variable="HeartbeatInterval", value="0"), 6.0)
    assert app.get_timer() is None  # 0: no heartbeat
    app.send(VariableSet(component="OCPPCommCtrlr", variable="OfflineThreshold", value="10"), 7.0)
    assert app.get_timer() is None


def test_reset_on_idle_during_a_transaction_is_scheduled() -> None:
    app = booted()
    app.send(TransactionOpened(evse_id=1, tx_ref="tx-1"), 10.0)
    # B12.FR.01: Scheduled, and no reset while the transaction runs
    assert app.answer(ResetRequested(kind="OnIdle"), 11.0) == Answer(status="Scheduled")
    assert events(app) == []
    # no new transaction meanwhile (the station resets as soon as it is idle)
    assert app.answer(RemoteStartRequested(evse_id=2, token=TOKEN), 12.0).status == "Rejected"
    app.send(TransactionClosed(evse_id=1), 20.0)
    assert events(app) == [ResetNow(kind="OnIdle", evse_id=None)]


def test_reset_on_idle_of_one_evse_waits_for_that_evse_only() -> None:
    app = booted()
    app.send(TransactionOpened(evse_id=1, tx_ref="tx-1"), 0.0)
    app.send(TransactionOpened(evse_id=2, tx_ref="tx-2"), 0.0)
    assert app.answer(ResetRequested(kind="OnIdle", evse_id=2), 1.0).status == "Scheduled"
    app.send(TransactionClosed(evse_id=1), 2.0)
    assert events(app) == []  # B12.FR.07: EVSE 2's transaction still runs
    app.send(TransactionClosed(evse_id=2), 3.0)
    assert events(app) == [ResetNow(kind="OnIdle", evse_id=2)]


def test_reset_immediate_stops_the_transactions_first() -> None:
    app = booted()
    app.send(TransactionOpened(evse_id=2, tx_ref="tx-2"), 0.0)
    assert app.answer(ResetRequested(kind="Immediate"), 1.0).status == "Accepted"
    assert events(app) == [StopTransaction(evse_id=2, reason="ImmediateReset")]  # B11: stoppedReason
    app.send(TransactionClosed(evse_id=2), 2.0)
    assert events(app) == [ResetNow(kind="Immediate", evse_id=None)]


def test_reset_without_transaction_is_at_once() -> None:
    app = booted()
    assert app.answer(ResetRequested(kind="OnIdle"), 0.0).status == "Accepted"
    assert events(app) == [ResetNow(kind="OnIdle", evse_id=None)]
    assert app.answer(ResetRequested(kind="Immediate", evse_id=9), 0.0).status == "Rejected"  # no such EVSE


def test_reset_16_soft_stops_with_soft_reset() -> None:
    app = booted(version="1.6", evse_count=1)
    app.send(TransactionOpened(evse_id=1, tx_ref="tx-1"), 0.0)
    assert app.answer(ResetRequested(kind="Soft"), 1.0).status == "Accepted"
    assert events(app) == [StopTransaction(evse_id=1, reason="SoftReset")]  # 1.6 5.14
    app.send(TransactionClosed(evse_id=1), 2.0)
    assert events(app) == [ResetNow(kind="Soft", evse_id=None)]


@pytest.mark.parametrize("authorize", [True, False])
def test_remote_start_201(authorize: bool) -> None:
    app = booted()
    answer = app.answer(RemoteStartRequested(evse_id=2, token=TOKEN, remote_start_id=7, authorize=authorize), 0.0)
    assert answer == Answer(status="Accepted", evse_id=2)
    started = ChargerInput(event=Authorized(2, TOKEN, 7))
    if authorize:
        # F02 / AuthCtrlr.AuthorizeRemoteStart: online, the identifier goes to the CSMS (Authorize) first
        assert events(app) == [MakeCall(action="Authorize", payload={"idToken": TOKEN}, ref="authorize-1")]
        app.send(CallAnswered(action="Authorize", ref="authorize-1",
                              response={"idTokenInfo": {"status": "Accepted"}}), 0.5)
        assert events(app) == [CacheVerdict(token=TOKEN, info={"status": "Accepted"}), started,
                               AuthorizationDone(evse_id=2, token=TOKEN, accepted=True, status="Accepted")]
    else:  # F01: without it the transaction manager learns of the identifier at once
        assert events(app) == [started, AuthorizationDone(evse_id=2, token=TOKEN, accepted=True, status="Accepted")]
    assert app.answer(RemoteStartRequested(evse_id=3, token=TOKEN), 0.0).status == "Rejected"  # no such EVSE


def test_remote_start_without_evse_picks_a_free_one() -> None:
    app = booted()
    app.send(TransactionOpened(evse_id=1, tx_ref="tx-1"), 0.0)
    assert app.answer(RemoteStartRequested(evse_id=None, token=TOKEN), 1.0) == Answer(status="Accepted", evse_id=2)


def test_remote_start_16_busy_connector_is_rejected() -> None:
    app = booted(version="1.6", evse_count=1)
    app.send(TransactionOpened(evse_id=1, tx_ref="tx-1"), 0.0)
    assert app.answer(RemoteStartRequested(evse_id=1, token="TAG"), 1.0).status == "Rejected"
    assert events(app) == []


def test_remote_stop() -> None:
    app = booted()
    app.send(TransactionOpened(evse_id=1, tx_ref="tx-1"), 0.0)
    assert app.answer(RemoteStopRequested(evse_id=None), 1.0).status == "Rejected"  # F03: unknown transaction
    assert app.answer(RemoteStopRequested(evse_id=2), 1.0).status == "Rejected"  # nothing runs on EVSE 2
    assert events(app) == []
    assert app.answer(RemoteStopRequested(evse_id=1), 1.0).status == "Accepted"
    assert events(app) == [StopTransaction(evse_id=1, reason="Remote")]


def test_availability_scheduled_during_a_transaction() -> None:
    app = booted()
    app.send(TransactionOpened(evse_id=1, tx_ref="tx-1"), 0.0)
    # G03 / 1.6 5.2: Inoperative while a transaction runs there: Scheduled, applied after it
    assert app.answer(ChangeAvailabilityRequested(evse_id=1, operative=False), 1.0).status == "Scheduled"
    assert events(app) == [] and app.operative(1)
    # another EVSE is free: at once
    assert app.answer(ChangeAvailabilityRequested(evse_id=2, operative=False), 1.0).status == "Accepted"
    assert events(app) == [SetAvailability(evse_id=2, operative=False)] and not app.operative(2)
    assert app.answer(RemoteStartRequested(evse_id=2, token=TOKEN), 2.0).status == "Rejected"
    app.send(TransactionClosed(evse_id=1), 3.0)
    assert events(app) == [SetAvailability(evse_id=1, operative=False)] and not app.operative(1)
    # already Inoperative: Accepted, nothing to do (1.6 5.2)
    assert app.answer(ChangeAvailabilityRequested(evse_id=1, operative=False), 4.0).status == "Accepted"
    assert events(app) == []
    assert app.answer(ChangeAvailabilityRequested(evse_id=1, operative=True), 5.0).status == "Accepted"
    assert events(app) == [SetAvailability(evse_id=1, operative=True)] and app.operative(1)


def test_station_inoperative_blocks_every_evse() -> None:
    app = booted()
    assert app.answer(ChangeAvailabilityRequested(evse_id=0, operative=False), 0.0).status == "Accepted"
    assert events(app) == [SetAvailability(evse_id=0, operative=False)]
    assert not app.operative(1) and not app.operative(2)
    assert app.answer(ChangeAvailabilityRequested(evse_id=3, operative=False), 0.0).status == "Rejected"


def test_misuse_is_refused() -> None:
    app = ChargePointApp(AppConfig(evse_count=1))
    with pytest.raises(FunctionsLocalError):
        app.send(TransactionOpened(evse_id=2, tx_ref="x"), 0.0)
    with pytest.raises(FunctionsLocalError):
        app.send(CallAnswered(action="BootNotification", response={"status": "Accepted"}), 0.0)


def test_refused_identifier_stops_its_transaction() -> None:
    # 2.0.1 TxCtrlr.StopTxOnInvalidId / 1.6 StopTransactionOnInvalidId: a transaction whose identifier the CSMS
    # refuses (for example one started offline) ends with DeAuthorized; the verdict goes into the cache either way
    app = booted()
    app.send(TransactionOpened(evse_id=2, tx_ref="tx-2"), 0.0)
    payload = {"eventType": "Started", "idToken": TOKEN}
    app.send(TransactionMessageAnswered(action="TransactionEvent", payload=payload, tx_ref="tx-2",
                                        response={"idTokenInfo": {"status": "Invalid"}}), 1.0)
    assert events(app) == [CacheVerdict(token=TOKEN, info={"status": "Invalid"}),
                           StopTransaction(evse_id=2, reason="DeAuthorized")]
    app.send(TransactionMessageAnswered(action="TransactionEvent", payload=payload, tx_ref="tx-2",
                                        response={"idTokenInfo": {"status": "Invalid"}},
                                        stop_tx_on_invalid_id=False), 2.0)
    assert events(app) == [CacheVerdict(token=TOKEN, info={"status": "Invalid"})]  # kept running


def test_no_new_session_on_an_unavailable_evse() -> None:
    app = booted()
    app.send(TransactionOpened(evse_id=1, tx_ref="tx-1"), 0.0)
    app.answer(ChangeAvailabilityRequested(evse_id=0, operative=False), 1.0)  # Scheduled: EVSE 1 is busy
    app.answer(ChangeAvailabilityRequested(evse_id=2, operative=False), 1.0)
    assert app.accepts_session(1)  # the running transaction goes on (a card may still end it)
    assert not app.accepts_session(2)  # G03: Unavailable
