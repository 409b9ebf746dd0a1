"""The charge-point core composed without sockets: :class:`ChargePointApp` with the pure transaction manager,
authorization and device model, the CSMS's answers given by hand.  Every message the station would send is checked
against the OCPP JSON schema of its version, and the statuses are the ones the standard names.

Expected behaviour (OCPP 1.6 edition 2 and 2.0.1 part 2):

* 1.6 4.9 / 2.0.1 G01: StatusNotification on every change of a connector's status; 1.6 ChargePointStatus
  (Available, Preparing, Charging, SuspendedEV, SuspendedEVSE, Finishing, Unavailable, Faulted; connector 0 is the
  charge point), 2.0.1 ConnectorStatusEnumType (Available, Occupied, Unavailable, Faulted); 1.6 errorCode
  EVCommunicationError "not a real error ... SuspendedEVSE" instead of Faulted.
* B01 / B02 / 1.6 4.2: nothing but the BootNotification while Pending; after Accepted the status of every
  connector.
* 1.6 3.5, 2.0.1 C01 / C12-C15: an identifier goes to the CSMS (Authorize) while online; offline the local list /
  cache decides (LocalAuthorizeOffline), an unknown one only with AllowOfflineTxForUnknownId; a failed Authorize
  is decided offline.  The identifier that started a transaction ends it (reason Local); so does one of its
  group (1.6 parentIdTag, 2.0.1 groupIdToken).
* 1.6 StartTransaction on (authorized and plugged) in either order; 2.0.1 E01/E02 TransactionEvent Started at
  TxStartPoint (PowerPathClosed by default).
* StopTransactionOnInvalidId / TxCtrlr.StopTxOnInvalidId: reason DeAuthorized (2.0.1 trigger Deauthorized).
* F01/F02, 1.6 5.11 with AuthorizeRemoteStart / AuthorizeRemoteTxRequests; G03 / 1.6 5.2 ChangeAvailability
  Scheduled during a transaction, Unavailable when it ended; B12 Reset OnIdle.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from evcharge.clock import WallClock
from evcharge.ocpp import v16, v201
from evcharge.ocpp.functions.application import (
    AppConfig,
    AuthorizationDone,
    AuthorizationLapsed,
    AuthorizeToken,
    CacheVerdict,
    CallAnswered,
    CallFailed,
    CallResult,
    CardPresented,
    ChangeAvailabilityRequested,
    ChargePointApp,
    ChargerInput,
    ChargingAllowed,
    Connected,
    Disconnected,
    EnergyStateChanged,
    FaultCleared,
    FaultRaised,
    MakeCall,
    Plugged,
    PowerPathChanged,
    Reconfigure,
    RemoteStartRequested,
    RemoteStopRequested,
    RequestCall,
    ResetNow,
    ResetRequested,
    SetAvailability,
    StopTransaction,
    TransactionClosed,
    TransactionMessageAnswered,
    TransactionOpened,
    Unplugged,
    VariableSet,
)
from evcharge.ocpp.functions.authorization import Authorization, AuthorizationConfig
from evcharge.ocpp.functions.device_model import DeviceModel, default_template
from evcharge.ocpp.functions.errors import FunctionsLocalError
from evcharge.ocpp.functions.transactions import (
    AuthorizationTimedOut,
    StopRequested,
    TransactionConfig,
    TransactionEnded,
    TransactionManager,
    TransactionStarted,
)

BOOT: dict[str, dict[str, Any]] = {"1.6": {"chargePointVendor": "v", "chargePointModel": "m"},
        "2.0.1": {"reason": "PowerUp", "chargingStation": {"model": "m", "vendorName": "v"}}}
CARD: dict[str, Any] = {"1.6": "04A1B2C3", "2.0.1": {"idToken": "04A1B2C3", "type": "ISO14443"}}
OTHER: dict[str, Any] = {"1.6": "DEADBEEF", "2.0.1": {"idToken": "DEADBEEF", "type": "ISO14443"}}
ACCEPTED = {"status": "Accepted"}


class Bench:
    """The core with the pure functions around it; the test plays the CSMS (:meth:`reply`)."""

    def __init__(self, version: str, *, evse_count: int = 1, boot: bool = True,
                 auth: AuthorizationConfig | None = None) -> None:
        self.version = version
        self.now = 0.0
        self.wall = WallClock(datetime(2024, 5, 1, tzinfo=UTC))
        self.dm = DeviceModel(default_template(evse_count))
        self.auth = Authorization(auth or AuthorizationConfig(version=version), wall=self.wall)  # type: ignore[arg-type]
        self.tm = TransactionManager(TransactionConfig(version=version, evse_count=evse_count),  # type: ignore[arg-type]
                                     wall=self.wall)
        config = AppConfig(version=version, evse_count=evse_count, boot=BOOT[version] if boot else None,
                           status_notifications=True)
        self.app = ChargePointApp(config,
                                  authorization=self.auth, device_model=self.dm, wall=self.wall)
        self.sent: list[tuple[str, dict[str, Any]]] = []  # every CALL the station makes, in order
        self.calls: list[MakeCall] = []  # the core's calls not answered yet
        self.other: list[object] = []  # the core's events for the charger / the application
        self.stops: list[StopTransaction] = []  # the transaction ends the core decided
        self.tx_messages: list[tuple[str, dict[str, Any], str | None]] = []

    # ---------------------------------------------------------------- inputs
    def send(self, command: Any, dt: float = 1.0) -> None:
        self.now += dt
        self.app.send(command, self.now)
        self.run()

    def answer(self, request: Any) -> str:
        self.now += 1.0
        status = self.app.answer(request, self.now).status
        self.run()
        return status

    def connect(self) -> None:
        self.tm.set_online(True)
        self.send(Connected())

    def disconnect(self) -> None:
        self.tm.set_online(False)
        self.send(Disconnected())

    def boot(self) -> None:
        self.connect()
        self.reply("BootNotification", {"status": "Accepted", "interval": 300,
                                        "currentTime": "2024-05-01T00:00:00Z"})
        self.events()  # BootAccepted

    def reply(self, action: str, response: Mapping[str, Any] | None) -> None:
        """Answer the oldest call of ``action`` (``None``: it failed)."""
        call = next(c for c in self.calls if c.action == action)
        self.calls.remove(call)
        self.send(CallAnswered(action=action, response=response, ref=call.ref) if response is not None
                  else CallFailed(action=action, reason="lost", ref=call.ref))

    def answer_tx(self, response: Mapping[str, Any]) -> None:
        """The CSMS answers the first transaction message that carries an identifier."""
        action, payload, ref = next(m for m in self.tx_messages if "idTag" in m[1] or "idToken" in m[1])
        self.send(TransactionMessageAnswered(action=action, payload=payload, response=response, tx_ref=ref))

    # ---------------------------------------------------------------- the adapter's part
    def _call(self, action: str, payload: dict[str, Any]) -> None:
        module = v16 if self.version == "1.6" else v201
        checked = payload
        if self.version == "1.6" and action in ("StopTransaction", "MeterValues") and "transactionId" not in payload:
            checked = {**payload, "transactionId": 7}  # the offline queue puts in the CSMS's id (its own tests)
        assert module.validate(action, "request", checked) == [], (action, payload)
        self.sent.append((action, payload))

    def run(self) -> None:
        while (event := self.app.next_event()) is not None:
            if isinstance(event, MakeCall):
                self._call(event.action, dict(event.payload))
                self.calls.append(event)
            elif isinstance(event, ChargerInput | StopTransaction):
                if isinstance(event, StopTransaction):  # carried out as the Station does, with its trigger
                    self.stops.append(event)
                    charger: Any = StopRequested(event.evse_id, event.reason, trigger=event.trigger)
                else:
                    charger = event.event
                self.tm.handle(charger, self.now)
                for m in self.tm.messages():
                    self._call(m.action, m.payload)
                    self.tx_messages.append((m.action, m.payload, m.tx_ref))
                while (tx := self.tm.next_event()) is not None:
                    if isinstance(tx, TransactionStarted):
                        self.app.send(TransactionOpened(evse_id=tx.evse_id, tx_ref=tx.tx_ref), self.now)
                    elif isinstance(tx, TransactionEnded):
                        self.app.send(TransactionClosed(evse_id=tx.evse_id), self.now)
                    elif isinstance(tx, AuthorizationTimedOut):
                        self.app.send(AuthorizationLapsed(evse_id=tx.evse_id), self.now)
            elif isinstance(event, CacheVerdict):
                self.auth.update_cache(event.token, event.info, self.now)
            elif isinstance(event, Reconfigure):
                self.auth.config = event.authorization
                self.tm.config = event.transactions
            else:
                self.other.append(event)

    # ---------------------------------------------------------------- what came out
    def take(self) -> list[tuple[str, dict[str, Any]]]:
        out, self.sent = self.sent, []
        return out

    def statuses(self, sent: list[tuple[str, dict[str, Any]]]) -> list[tuple[int, str]]:
        key = "status" if self.version == "1.6" else "connectorStatus"
        id_key = "connectorId" if self.version == "1.6" else "evseId"
        return [(p[id_key], p[key]) for a, p in sent if a == "StatusNotification"]

    def events(self) -> list[object]:
        out, self.other = self.other, []
        return out


def actions(sent: list[tuple[str, dict[str, Any]]]) -> list[str]:
    return [a for a, _ in sent]


def test_boot_pending_sends_no_status_then_every_connector_after_accepted() -> None:
    b = Bench("1.6", evse_count=2)
    b.connect()
    assert actions(b.take()) == ["BootNotification"]
    b.reply("BootNotification", {"status": "Pending", "interval": 10, "currentTime": "2024-05-01T00:00:00Z"})
    b.send(Plugged(evse_id=1))
    assert b.take() == []  # B02 / 1.6 4.2: Pending: nothing but the BootNotification
    b.now = 20.0
    b.app.handle_timer(b.now)
    b.run()
    assert actions(b.take()) == ["BootNotification"]
    b.reply("BootNotification", {"status": "Accepted", "interval": 300, "currentTime": "2024-05-01T00:00:00Z"})
    sent = b.take()
    # 1.6 4.9: the charge point (connector 0) and each connector, the plugged one Preparing
    assert b.statuses(sent) == [(0, "Available"), (1, "Preparing"), (2, "Available")]
    assert all(p["errorCode"] == "NoError" and p["timestamp"] == "2024-05-01T00:00:21Z" for _, p in sent)


def test_201_card_before_plug_in() -> None:
    b = Bench("2.0.1")
    b.boot()
    assert b.statuses(b.take()) == [(1, "Available")]
    b.send(CardPresented(evse_id=1, token=CARD["2.0.1"]))
    assert b.take() == [("Authorize", {"idToken": CARD["2.0.1"]})]  # C01: online, ask the CSMS
    b.reply("Authorize", {"idTokenInfo": ACCEPTED})
    assert b.take() == []  # no cable yet: no transaction (TxStartPoint PowerPathClosed), still Available
    assert b.events() == [AuthorizationDone(evse_id=1, token=CARD["2.0.1"], accepted=True, status="Accepted")]
    assert b.auth.lookup(CARD["2.0.1"], b.now) is not None  # the verdict went into the cache
    b.send(Plugged(evse_id=1))
    assert b.statuses(b.take()) == [(1, "Occupied")]
    assert b.events() == [ChargingAllowed(evse_id=1, allowed=True)]  # the charger may close the contactor
    b.send(PowerPathChanged(evse_id=1, closed=True))
    b.send(EnergyStateChanged(evse_id=1, state="Charging"))
    sent = b.take()
    started, charging = [p for a, p in sent if a == "TransactionEvent"]
    assert started["eventType"] == "Started" and started["idToken"] == CARD["2.0.1"]
    assert charging["transactionInfo"]["chargingState"] == "Charging"
    assert b.statuses(sent) == []  # still Occupied
    b.send(CardPresented(evse_id=1, token={"idToken": "04a1b2c3", "type": "ISO14443"}))  # the same card
    sent = b.take()
    (ended,) = [p for a, p in sent if a == "TransactionEvent"]
    assert ended["eventType"] == "Ended" and ended["transactionInfo"]["stoppedReason"] == "Local"
    assert ended["triggerReason"] == "StopAuthorized"
    assert b.events() == [ChargingAllowed(evse_id=1, allowed=False)]
    b.send(Unplugged(evse_id=1))
    assert b.statuses(b.take()) == [(1, "Available")]


def test_16_plug_in_before_card_and_the_charging_states() -> None:
    b = Bench("1.6")
    b.boot()
    b.take()
    b.send(Plugged(evse_id=1))
    assert b.statuses(b.take()) == [(1, "Preparing")]
    b.send(CardPresented(evse_id=1, token=CARD["1.6"]))
    assert b.take() == [("Authorize", {"idTag": CARD["1.6"]})]
    b.reply("Authorize", {"idTagInfo": ACCEPTED})
    # authorized and plugged: StartTransaction at once (1.6)
    assert actions(b.take()) == ["StartTransaction"]
    b.send(PowerPathChanged(evse_id=1, closed=True))
    b.send(EnergyStateChanged(evse_id=1, state="SuspendedEV"))
    b.send(EnergyStateChanged(evse_id=1, state="Charging"))
    assert b.statuses(b.take()) == [(1, "Charging"), (1, "SuspendedEV"), (1, "Charging")]
    b.send(CardPresented(evse_id=1, token=CARD["1.6"]))
    sent = b.take()
    assert actions(sent) == ["StopTransaction", "StatusNotification"]
    assert sent[0][1]["reason"] == "Local" and sent[0][1]["idTag"] == CARD["1.6"]
    assert b.statuses(sent) == [(1, "Finishing")]  # 1.6 4.9: the cable is still in
    b.send(Unplugged(evse_id=1))
    assert b.statuses(b.take()) == [(1, "Available")]


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
def test_offline_card_decided_by_the_cache_and_statuses_sent_on_reconnection(version: str) -> None:
    b = Bench(version)
    b.boot()
    b.auth.update_cache(CARD[version], ACCEPTED, b.now)
    b.disconnect()
    b.take()
    b.send(CardPresented(evse_id=1, token=OTHER[version]))  # unknown, offline: refused (no OfflineTxForUnknownId)
    assert b.events() == [AuthorizationDone(evse_id=1, token=OTHER[version], accepted=False, status="Unknown")]
    b.send(CardPresented(evse_id=1, token=CARD[version]))  # LocalAuthorizeOffline: the cache accepts it
    assert [e for e in b.events() if isinstance(e, AuthorizationDone)] == [
        AuthorizationDone(evse_id=1, token=CARD[version], accepted=True, status="Accepted")]
    b.send(Plugged(evse_id=1))
    b.send(PowerPathChanged(evse_id=1, closed=True))
    sent = b.take()
    assert "Authorize" not in actions(sent) and "StatusNotification" not in actions(sent)  # offline
    first = sent[0][1]
    assert actions(sent) == ["StartTransaction" if version == "1.6" else "TransactionEvent"]
    if version == "2.0.1":
        assert first["offline"] is True
    b.connect()
    # what changed while offline goes out on the new connection
    assert b.statuses(b.take()) == [(1, "Charging" if version == "1.6" else "Occupied")]


def test_failed_authorize_is_decided_offline() -> None:
    b = Bench("2.0.1", auth=AuthorizationConfig(version="2.0.1", allow_offline_tx_for_unknown_id=True))
    b.boot()
    b.send(Plugged(evse_id=1))
    b.send(CardPresented(evse_id=1, token=CARD["2.0.1"]))
    b.events()
    b.reply("Authorize", None)  # the connection dropped with the call on its way
    # decided offline: unknown, but OfflineTxForUnknownIdEnabled lets it charge
    assert b.events() == [AuthorizationDone(evse_id=1, token=CARD["2.0.1"], accepted=True, status="Accepted"),
                          ChargingAllowed(evse_id=1, allowed=True)]
    b.take()
    # another card during the session, no group known: it neither ends the session nor is asked about
    b.send(CardPresented(evse_id=1, token=OTHER["2.0.1"]))
    assert b.take() == []
    assert b.events() == [AuthorizationDone(evse_id=1, token=OTHER["2.0.1"], accepted=False, status="Invalid")]


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
def test_invalid_id_during_the_transaction_stops_it(version: str) -> None:
    # a transaction started offline for an unknown identifier; the CSMS refuses it when the queue replays
    b = Bench(version, auth=AuthorizationConfig(version=version, allow_offline_tx_for_unknown_id=True))  # type: ignore[arg-type]
    b.boot()
    b.disconnect()
    b.send(Plugged(evse_id=1))
    b.send(CardPresented(evse_id=1, token=CARD[version]))
    b.send(PowerPathChanged(evse_id=1, closed=True))
    b.connect()
    b.take()
    info = "idTagInfo" if version == "1.6" else "idTokenInfo"
    b.answer_tx({info: {"status": "Invalid"}, **({"transactionId": 7} if version == "1.6" else {})})
    sent = b.take()
    if version == "1.6":
        stop = next(p for a, p in sent if a == "StopTransaction")
        assert stop["reason"] == "DeAuthorized"
        assert b.statuses(sent) == [(1, "Finishing")]
    else:
        ended = next(p for a, p in sent if a == "TransactionEvent")
        assert ended["eventType"] == "Ended" and ended["triggerReason"] == "Deauthorized"
        assert ended["transactionInfo"]["stoppedReason"] == "DeAuthorized"
    assert b.app.transaction_ref(1) is None
    assert b.auth.lookup(CARD[version], b.now).status == "Invalid"  # type: ignore[union-attr]


def test_invalid_id_kept_running_when_stop_tx_on_invalid_id_is_false() -> None:
    b = Bench("2.0.1", auth=AuthorizationConfig(version="2.0.1", allow_offline_tx_for_unknown_id=True))
    b.dm.set_local("TxCtrlr", "StopTxOnInvalidId", "false")
    b.boot()
    b.disconnect()
    b.send(Plugged(evse_id=1))
    b.send(CardPresented(evse_id=1, token=CARD["2.0.1"]))
    b.send(PowerPathChanged(evse_id=1, closed=True))
    b.connect()
    b.answer_tx({"idTokenInfo": {"status": "Invalid"}})
    assert b.app.transaction_ref(1) is not None


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
def test_availability_change_during_a_transaction(version: str) -> None:
    b = Bench(version, evse_count=2)
    b.boot()
    b.send(AuthorizeToken(evse_id=1, token=CARD[version]))
    b.reply("Authorize", {("idTagInfo" if version == "1.6" else "idTokenInfo"): ACCEPTED})
    b.send(Plugged(evse_id=1))
    b.send(PowerPathChanged(evse_id=1, closed=True))
    b.take()
    # G03 / 1.6 5.2: the whole station Inoperative while EVSE 1 charges: Scheduled; EVSE 2 is not in a transaction
    # but the change waits for the station's (2.0.1 evse omitted / 1.6 connectorId 0)
    assert b.answer(ChangeAvailabilityRequested(evse_id=0, operative=False)) == "Scheduled"
    assert b.take() == []
    assert b.answer(ChangeAvailabilityRequested(evse_id=2, operative=False)) == "Accepted"
    assert b.statuses(b.take()) == [(2, "Unavailable")]
    tx = b.app.transaction_ref(1)
    assert b.answer(RemoteStopRequested(evse_id=1)) == "Accepted"
    sent = b.take()
    assert actions(sent)[0] == ("StopTransaction" if version == "1.6" else "TransactionEvent")
    expected = [(0, "Unavailable"), (1, "Unavailable")] if version == "1.6" else [(1, "Unavailable")]
    assert b.statuses(sent) == expected  # the scheduled change, once the transaction ended
    assert SetAvailability(evse_id=0, operative=False) in b.events() and tx is not None
    b.send(CardPresented(evse_id=1, token=CARD[version]))  # no new session on an Unavailable EVSE
    assert b.take() == []
    assert b.events()[-1] == AuthorizationDone(evse_id=1, token=CARD[version], accepted=False,
                                               status="NotAtThisTime")
    assert b.answer(ChangeAvailabilityRequested(evse_id=0, operative=True)) == "Accepted"
    # 1.6 Finishing: the transaction ended, the cable is still in; EVSE 2 stays Unavailable on its own account
    assert b.statuses(b.take()) == ([(0, "Available"), (1, "Finishing")] if version == "1.6"
                                    else [(1, "Occupied")])


def test_reset_on_idle_blocks_new_sessions_then_resets() -> None:
    b = Bench("2.0.1", evse_count=2)
    b.boot()
    b.send(AuthorizeToken(evse_id=1, token=CARD["2.0.1"]))
    b.reply("Authorize", {"idTokenInfo": ACCEPTED})
    b.send(Plugged(evse_id=1))
    b.send(PowerPathChanged(evse_id=1, closed=True))
    b.take()
    assert b.answer(ResetRequested(kind="OnIdle")) == "Scheduled"  # B12.FR.01
    assert b.statuses(b.take()) == [(2, "Unavailable")]  # no new session while the reset waits
    assert b.answer(RemoteStartRequested(evse_id=2, token=OTHER["2.0.1"], remote_start_id=1)) == "Rejected"
    b.send(Unplugged(evse_id=1))  # TxStopPoint EVConnected: the transaction ends
    assert ResetNow(kind="OnIdle", evse_id=None) in b.events()


@pytest.mark.parametrize("authorize_remote_start", [True, False])
def test_remote_start_201(authorize_remote_start: bool) -> None:
    b = Bench("2.0.1")
    b.dm.set_local("AuthCtrlr", "AuthorizeRemoteStart", "true" if authorize_remote_start else "false")
    b.boot()
    b.take()
    assert b.answer(RemoteStartRequested(evse_id=1, token=CARD["2.0.1"], remote_start_id=42)) == "Accepted"
    if authorize_remote_start:  # F02: Authorize first
        assert b.take() == [("Authorize", {"idToken": CARD["2.0.1"]})]
        b.reply("Authorize", {"idTokenInfo": ACCEPTED})
    b.send(Plugged(evse_id=1))
    b.send(PowerPathChanged(evse_id=1, closed=True))
    (started,) = [p for a, p in b.take() if a == "TransactionEvent" and p["eventType"] == "Started"]
    assert started["transactionInfo"]["remoteStartId"] == 42 and started["triggerReason"] == "ChargingStateChanged"


def test_remote_start_16_refused_identifier_starts_nothing() -> None:
    b = Bench("1.6")
    b.boot()
    b.send(Plugged(evse_id=1))
    b.take()
    assert b.answer(RemoteStartRequested(evse_id=1, token=OTHER["1.6"])) == "Accepted"
    assert b.take() == [("Authorize", {"idTag": OTHER["1.6"]})]  # AuthorizeRemoteTxRequests: true by default
    b.reply("Authorize", {"idTagInfo": {"status": "Blocked"}})
    assert b.take() == [] and b.app.transaction_ref(1) is None
    assert b.events()[-1] == AuthorizationDone(evse_id=1, token=OTHER["1.6"], accepted=False, status="Blocked")


def test_charger_fault_ends_the_transaction_and_faults_the_connector() -> None:
    b = Bench("2.0.1")
    b.boot()
    b.send(AuthorizeToken(evse_id=1, token=CARD["2.0.1"]))
    b.reply("Authorize", {"idTokenInfo": ACCEPTED})
    b.send(Plugged(evse_id=1))
    b.send(PowerPathChanged(evse_id=1, closed=True))
    b.take()
    b.events()
    b.send(FaultRaised(evse_id=1, error_code="GroundFailure"))
    sent = b.take()
    ended = next(p for a, p in sent if a == "TransactionEvent")
    assert ended["transactionInfo"]["stoppedReason"] == "GroundFault"
    assert b.statuses(sent) == [(1, "Faulted")]
    assert b.events() == [ChargingAllowed(evse_id=1, allowed=False)]
    b.send(CardPresented(evse_id=1, token=CARD["2.0.1"]))
    assert b.events()[-1].accepted is False  # type: ignore[attr-defined]  # no session on a faulted EVSE
    b.send(FaultCleared(evse_id=1))
    assert b.statuses(b.take()) == [(1, "Occupied")]


def test_16_ev_side_fault_is_suspended_evse_not_faulted() -> None:
    b = Bench("1.6")
    b.boot()
    b.send(Plugged(evse_id=1))
    b.send(AuthorizeToken(evse_id=1, token=CARD["1.6"]))
    b.reply("Authorize", {"idTagInfo": ACCEPTED})
    b.send(PowerPathChanged(evse_id=1, closed=True))
    b.take()
    b.send(FaultRaised(evse_id=1, error_code="EVCommunicationError", ev_side=True, info="pilot state E"))
    (status,) = [p for a, p in b.take() if a == "StatusNotification"]
    assert (status["status"], status["errorCode"], status["info"]) == ("SuspendedEVSE", "EVCommunicationError",
                                                                       "pilot state E")
    assert b.app.transaction_ref(1) is not None  # the transaction goes on
    b.send(FaultCleared(evse_id=1, ev_side=True))
    b.send(EnergyStateChanged(evse_id=1, state="Charging"))
    assert [(p["status"], p["errorCode"]) for a, p in b.take() if a == "StatusNotification"] == [
        ("SuspendedEVSE", "NoError"), ("Charging", "NoError")]  # the error is gone, then the energy flows again


def test_card_of_the_same_group_ends_the_session() -> None:
    b = Bench("1.6")
    b.boot()
    b.send(Plugged(evse_id=1))
    b.send(CardPresented(evse_id=1, token=CARD["1.6"]))
    b.reply("Authorize", {"idTagInfo": {"status": "Accepted", "parentIdTag": "FLEET"}})
    b.take()
    b.send(CardPresented(evse_id=1, token="STRANGER"))
    b.reply("Authorize", {"idTagInfo": {"status": "Accepted"}})  # no group: it does not end the session
    assert "StopTransaction" not in actions(b.take())
    b.send(CardPresented(evse_id=1, token=OTHER["1.6"]))
    assert b.take() == [("Authorize", {"idTag": OTHER["1.6"]})]
    b.reply("Authorize", {"idTagInfo": {"status": "Accepted", "parentIdTag": "FLEET"}})
    stop = next(p for a, p in b.take() if a == "StopTransaction")
    assert stop["reason"] == "Local" and stop["idTag"] == OTHER["1.6"]


def test_variable_change_reconfigures_the_functions() -> None:
    b = Bench("2.0.1")
    b.boot()
    assert b.auth.config.local_pre_authorize is False
    b.dm.set_local("AuthCtrlr", "LocalPreAuthorize", "true")
    b.send(VariableSet(component="AuthCtrlr", variable="LocalPreAuthorize", value="true"))
    assert b.auth.config.local_pre_authorize is True  # the core's Reconfigure, carried out by the bench
    b.auth.update_cache(CARD["2.0.1"], ACCEPTED, b.now)
    b.take()
    b.send(CardPresented(evse_id=1, token=CARD["2.0.1"]))
    assert b.take() == []  # LocalPreAuthorize: the cache accepts it without Authorize


def test_misuse() -> None:
    app = ChargePointApp(AppConfig(evse_count=1))
    with pytest.raises(FunctionsLocalError):
        app.send(Plugged(evse_id=2), 0.0)
    with pytest.raises(FunctionsLocalError):
        app.send(EnergyStateChanged(evse_id=1, state="Flowing"), 0.0)
    with pytest.raises(FunctionsLocalError):
        app.send(CallAnswered(action="Authorize", response={}, ref="authorize-9"), 0.0)


@pytest.mark.parametrize("boot_status", ["Accepted", "Pending"])
def test_card_while_the_boot_is_on_its_way_waits_for_its_answer(boot_status: str) -> None:
    b = Bench("2.0.1", auth=AuthorizationConfig(version="2.0.1", allow_offline_tx_for_unknown_id=True))
    b.connect()
    b.send(Plugged(evse_id=1))
    b.send(CardPresented(evse_id=1, token=CARD["2.0.1"]))
    assert actions(b.take()) == ["BootNotification"]  # B02: no Authorize before the CSMS accepted the station
    assert [e for e in b.events() if isinstance(e, AuthorizationDone)] == []
    b.reply("BootNotification", {"status": boot_status, "interval": 300, "currentTime": "2024-05-01T00:00:00Z"})
    sent = b.take()
    if boot_status == "Accepted":
        assert ("Authorize", {"idToken": CARD["2.0.1"]}) in sent
        assert b.statuses(sent) == [(1, "Occupied")]
    else:  # Pending: still nothing but the BootNotification; decided offline (OfflineTxForUnknownIdEnabled)
        assert sent == []
        assert AuthorizationDone(evse_id=1, token=CARD["2.0.1"], accepted=True, status="Accepted") in b.events()


def test_16_authorization_lapses_without_a_cable() -> None:
    # 1.6 4.9: Preparing -> Available when no cable comes within ConnectionTimeOut (2.0.1 TxCtrlr.EVConnectionTimeOut)
    b = Bench("1.6")
    b.tm.config = replace(b.tm.config, ev_connection_timeout=30.0)
    b.boot()
    b.take()
    b.send(CardPresented(evse_id=1, token=CARD["1.6"]))
    b.reply("Authorize", {"idTagInfo": ACCEPTED})
    assert b.statuses(b.take()) == [(1, "Preparing")]
    due = b.tm.get_timer()
    assert due is not None
    b.now = due
    b.tm.handle_timer(b.now)
    while (tx := b.tm.next_event()) is not None:
        assert isinstance(tx, AuthorizationTimedOut)
        b.send(AuthorizationLapsed(evse_id=tx.evse_id), dt=0.0)
    assert b.statuses(b.take()) == [(1, "Available")]
    b.send(Plugged(evse_id=1))  # the authorization is gone: the cable alone starts nothing
    assert actions(b.take()) == ["StatusNotification"]


def test_201_ev_side_fault_suspends_the_energy() -> None:
    b = Bench("2.0.1")
    b.boot()
    b.send(AuthorizeToken(evse_id=1, token=CARD["2.0.1"]))
    b.reply("Authorize", {"idTokenInfo": ACCEPTED})
    b.send(Plugged(evse_id=1))
    b.send(PowerPathChanged(evse_id=1, closed=True))
    b.send(EnergyStateChanged(evse_id=1, state="Charging"))
    b.take()
    b.events()
    b.send(FaultRaised(evse_id=1, error_code="EVCommunicationError", ev_side=True))
    sent = b.take()
    (updated,) = [p for a, p in sent if a == "TransactionEvent"]
    assert updated["eventType"] == "Updated" and updated["transactionInfo"]["chargingState"] == "SuspendedEVSE"
    assert b.statuses(sent) == []  # 2.0.1 has no SuspendedEVSE status: the connector stays Occupied, not Faulted
    assert b.events() == [ChargingAllowed(evse_id=1, allowed=False)]
    assert b.app.transaction_ref(1) is not None


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
def test_cable_pulled_during_the_transaction_frees_the_connector(version: str) -> None:
    """1.6 StopTransactionOnEVSideDisconnect / 2.0.1 TxCtrlr.StopTxOnEVSideDisconnect (true by default): the cable
    out ends the transaction (reason EVDisconnected) and the connector goes straight to Available -- no 1.6
    Preparing (a transaction waiting for its energy) in between."""
    b = Bench(version)
    b.boot()
    b.take()
    b.send(Plugged(evse_id=1))
    b.send(CardPresented(evse_id=1, token=CARD[version]))
    b.reply("Authorize", {"idTagInfo" if version == "1.6" else "idTokenInfo": ACCEPTED})
    b.send(PowerPathChanged(evse_id=1, closed=True))
    b.send(EnergyStateChanged(evse_id=1, state="Charging"))
    b.take()
    b.send(Unplugged(evse_id=1))
    sent = b.take()
    assert b.statuses(sent) == [(1, "Available")]
    if version == "1.6":
        (stop,) = [p for a, p in sent if a == "StopTransaction"]
        assert stop["reason"] == "EVDisconnected"
    else:
        (ended,) = [p for a, p in sent if a == "TransactionEvent"]
        assert ended["eventType"] == "Ended" and ended["transactionInfo"]["stoppedReason"] == "EVDisconnected"


HASH_DATA = ({"hashAlgorithm": "SHA256", "issuerNameHash": "a" * 64, "issuerKeyHash": "b" * 64,
              "serialNumber": "0123456789ABCDEF", "responderURL": "http://ocsp.example/"},)
PNC_TOKEN = {"idToken": "DEMOUFOO0001234", "type": "eMAID"}


def test_201_plug_and_charge_contract_goes_to_the_csms_with_its_hash_data() -> None:
    """2.0.1 C07: the contract certificate's OCSP hash data go in Authorize (iso15118CertificateHashData, checked
    against the schema by the bench) and the CSMS's certificateStatus comes back with the verdict; a contract is
    asked of the CSMS even when the identifier is in the cache."""
    b = Bench("2.0.1")
    b.boot()
    b.take()
    b.auth.update_cache(PNC_TOKEN, ACCEPTED, b.now)  # known locally: a plain identifier would not be asked
    b.send(Plugged(evse_id=1))
    b.take()
    b.send(AuthorizeToken(evse_id=1, token=PNC_TOKEN, ref="pnc", hash_data=HASH_DATA))
    (authorize,) = b.take()
    assert authorize == ("Authorize", {"idToken": PNC_TOKEN, "iso15118CertificateHashData": list(HASH_DATA)})
    b.reply("Authorize", {"idTokenInfo": ACCEPTED, "certificateStatus": "Accepted"})
    done = [e for e in b.events() if isinstance(e, AuthorizationDone)]
    assert done == [AuthorizationDone(evse_id=1, token=PNC_TOKEN, accepted=True, status="Accepted", ref="pnc",
                                      certificate_status="Accepted")]


def test_201_contract_refused_by_the_csms() -> None:
    b = Bench("2.0.1")
    b.boot()
    b.take()
    b.send(AuthorizeToken(evse_id=1, token=PNC_TOKEN, ref="pnc", hash_data=HASH_DATA))
    b.reply("Authorize", {"idTokenInfo": {"status": "Invalid"}, "certificateStatus": "CertificateRevoked"})
    done = [e for e in b.events() if isinstance(e, AuthorizationDone)]
    assert done == [AuthorizationDone(evse_id=1, token=PNC_TOKEN, accepted=False, status="Invalid", ref="pnc",
                                      certificate_status="CertificateRevoked")]
    b.send(Plugged(evse_id=1))
    assert ChargingAllowed(evse_id=1, allowed=True) not in b.events()


def test_application_call_goes_out_only_once_accepted_and_its_answer_comes_back() -> None:
    """A call the core decides nothing on (NotifyEVChargingNeeds): failed at once before the boot was accepted
    (B02: nothing but BootNotification while Pending), made once it was, its answer handed back by ref."""
    needs = {"evseId": 1, "chargingNeeds": {"requestedEnergyTransfer": "DC",
                                            "dcChargingParameters": {"evMaxCurrent": 125, "evMaxVoltage": 450}}}
    b = Bench("2.0.1")
    b.connect()
    b.reply("BootNotification", {"status": "Pending", "interval": 10, "currentTime": "2024-05-01T00:00:00Z"})
    b.take()
    b.send(RequestCall(action="NotifyEVChargingNeeds", payload=needs, ref="needs-1"))
    assert b.take() == []
    (failed,) = b.events()
    assert isinstance(failed, CallResult) and failed.ref == "needs-1" and failed.response is None
    b.now = 20.0
    b.app.handle_timer(b.now)
    b.run()
    b.reply("BootNotification", {"status": "Accepted", "interval": 300, "currentTime": "2024-05-01T00:00:00Z"})
    b.take()
    b.events()
    b.send(RequestCall(action="NotifyEVChargingNeeds", payload=needs, ref="needs-2"))
    assert b.take() == [("NotifyEVChargingNeeds", needs)]
    b.reply("NotifyEVChargingNeeds", {"status": "Accepted"})
    assert b.events() == [CallResult(action="NotifyEVChargingNeeds", ref="needs-2", response={"status": "Accepted"})]
    b.send(RequestCall(action="Get15118EVCertificate", payload={"iso15118SchemaVersion": "urn:iso:15118:2:2013:MsgDef",
                                                              "action": "Install", "exiRequest": "AAAA"}, ref="c"))
    b.reply("Get15118EVCertificate", None)
    (lost,) = b.events()
    assert lost == CallResult(action="Get15118EVCertificate", ref="c", response=None, reason="lost")
