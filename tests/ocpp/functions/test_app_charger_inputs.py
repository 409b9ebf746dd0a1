"""The charge-point core's inputs from the charger (commit 51f980b), composed without sockets with the pure
transaction manager (the bench of ``test_cp_core``, every message checked against the schema of its version), and
the Station's ``configure`` / ``on_charging_profile`` / ``on_stop_transaction`` over loopback websockets.

Expected behaviour (OCPP 2.0.1 part 2, OCPP 1.6 edition 2):

* TriggerReasonEnumType: ``ChargingRateChanged`` (the rate changed: a TransactionEvent Updated), ``AbnormalCondition``
  (a fault ended the transaction), ``RemoteStart`` (F01: the remote start joins a transaction begun by the cable,
  ``transactionInfo.remoteStartId`` names the RequestStartTransaction), ``Authorized`` (E02: a card authorizes a
  transaction begun without an identifier, the idToken in that Updated event), ``StopAuthorized`` / the reason's
  own trigger (``EnergyLimitReached``).  1.6 has no triggerReason and no TransactionEvent Updated: a rate change
  sends nothing.
* N07 (Alerting, HardWiredNotification): a charger fault is reported by NotifyEvent with the component (EVSE with
  its id, or ChargingStation), the variable ``Problem``, ``actualValue`` "true", ``cleared`` false,
  ``trigger`` Alerting, ``techCode`` / ``techInfo``; its clearing by a second NotifyEvent with ``actualValue``
  "false", ``cleared`` true; ``eventId`` distinct.  1.6 has no NotifyEvent: the StatusNotification's errorCode
  carries the fault.
* The StatusNotification of 2.0.1 carries no error code (G01): the fault is not lost, it is in the NotifyEvent.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from evcharge.ocpp import v16, v201
from evcharge.ocpp.charge_point import BackoffConfig, ChargePointConfig
from evcharge.ocpp.csms import Csms, CsmsConfig
from evcharge.ocpp.functions.application import (
    AuthorizationDone,
    AuthorizeToken,
    CardPresented,
    ChargingAllowed,
    ChargingEnded,
    FaultCleared,
    FaultRaised,
    Plugged,
    PowerPathChanged,
    RateChanged,
    RemoteStartRequested,
    StopTransaction,
)
from evcharge.ocpp.functions.transport.station import Station
from evcharge.ocpp.transport.websocket import ChargePointClient, serve_csms

from .test_cp_core import ACCEPTED, CARD, Bench, actions
from .test_station import IDENTITY, handlers, teardown, until

#: OCPP 2.0.1 TriggerReasonEnumType (part 3, TransactionEventRequest.json)
TRIGGERS = frozenset({
    "Authorized", "CablePluggedIn", "ChargingRateChanged", "ChargingStateChanged", "Deauthorized",
    "EnergyLimitReached", "EVCommunicationLost", "EVConnectTimeout", "MeterValueClock", "MeterValuePeriodic",
    "TimeLimitReached", "Trigger", "UnlockCommand", "StopAuthorized", "EVDeparted", "EVDetected", "RemoteStop",
    "RemoteStart", "AbnormalCondition", "SignedDataReceived", "ResetCommand"})


class Rig(Bench):
    """The bench of ``test_cp_core`` (it carries out a :class:`StopTransaction` with its ``trigger``, as the
    Station does, and records it in ``stops``), with a running session at hand."""

    def charging(self, version: str, evse_id: int = 1) -> None:
        """Booted, a card authorized, the cable in, the contactor closed: a transaction runs on ``evse_id``."""
        self.boot()
        self.send(AuthorizeToken(evse_id=evse_id, token=CARD[version]))
        self.reply("Authorize", {("idTagInfo" if version == "1.6" else "idTokenInfo"): ACCEPTED})
        self.send(Plugged(evse_id=evse_id))
        self.send(PowerPathChanged(evse_id=evse_id, closed=True))
        assert self.app.transaction_ref(evse_id) is not None
        self.take()
        self.events()


def events_of(sent: list[tuple[str, dict[str, Any]]], event_type: str | None = None) -> list[dict[str, Any]]:
    return [p for a, p in sent if a == "TransactionEvent" and (event_type is None or p["eventType"] == event_type)]


# ---------------------------------------------------------------- RateChanged


def test_201_rate_changed_is_an_updated_event_with_the_present_meter_values() -> None:
    b = Rig("2.0.1")
    b.charging("2.0.1")
    b.tm.update_meter(1, {"Energy.Active.Import.Register": 1500.0, "Power.Active.Import": 7200.0}, b.now)
    b.send(RateChanged(evse_id=1))
    (updated,) = events_of(b.take())
    assert updated["eventType"] == "Updated" and updated["triggerReason"] == "ChargingRateChanged"
    assert updated["transactionInfo"]["transactionId"] == b.app.transaction_ref(1)
    (value,) = updated["meterValue"]
    sampled = {s["measurand"]: s["value"] for s in value["sampledValue"]}
    assert sampled == {"Energy.Active.Import.Register": 1500.0, "Power.Active.Import": 7200.0}


def test_201_rate_changed_without_a_transaction_sends_nothing() -> None:
    b = Rig("2.0.1")
    b.boot()
    b.take()
    b.send(RateChanged(evse_id=1))
    assert b.take() == []


def test_16_rate_changed_sends_nothing() -> None:
    # 1.6 has no TransactionEvent Updated (nor a triggerReason): the next MeterValues tells the rate
    b = Rig("1.6")
    b.charging("1.6")
    b.send(RateChanged(evse_id=1))
    assert b.take() == []


# ---------------------------------------------------------------- ChargingEnded / StopTransaction.trigger


@pytest.mark.parametrize(("reason", "trigger", "expected"), [
    ("Local", None, "StopAuthorized"),                        # a local stop: the trigger of the reason
    ("EnergyLimitReached", None, "EnergyLimitReached"),       # the reason has its own TriggerReason value
    ("StoppedByEV", "ChargingStateChanged", "ChargingStateChanged"),  # the charger's trigger is kept
])
def test_201_charging_ended_ends_the_transaction_with_its_reason_and_trigger(reason: str, trigger: str | None,
                                                                           expected: str) -> None:
    b = Rig("2.0.1")
    b.charging("2.0.1")
    b.send(ChargingEnded(evse_id=1, reason=reason, trigger=trigger))
    (ended,) = events_of(b.take())
    assert ended["eventType"] == "Ended" and ended["transactionInfo"]["stoppedReason"] == reason
    assert ended["triggerReason"] == expected and expected in TRIGGERS
    assert b.app.transaction_ref(1) is None
    assert b.events() == [ChargingAllowed(evse_id=1, allowed=False)]


def test_16_charging_ended_is_a_stop_transaction_with_its_reason() -> None:
    b = Rig("1.6")
    b.charging("1.6")
    b.send(ChargingEnded(evse_id=1, reason="Local"))
    sent = b.take()
    (stop,) = [p for a, p in sent if a == "StopTransaction"]
    assert stop["reason"] == "Local"
    assert b.statuses(sent) == [(1, "Finishing")]  # 1.6 4.9: ended, the cable still in


def test_charging_ended_before_a_transaction_withdraws_the_authorization() -> None:
    b = Rig("2.0.1")
    b.boot()
    b.send(CardPresented(evse_id=1, token=CARD["2.0.1"]))
    b.reply("Authorize", {"idTokenInfo": ACCEPTED})
    b.take()
    b.send(ChargingEnded(evse_id=1, reason="Local"))
    b.send(Plugged(evse_id=1))
    # no identifier any more: the cable alone is not allowed to charge, no transaction starts
    assert ChargingAllowed(evse_id=1, allowed=True) not in b.events()
    assert events_of(b.take()) == []


@pytest.mark.parametrize(("error_code", "reason"), [("GroundFailure", "GroundFault"),
                                                    ("OverCurrentFailure", "OvercurrentFault"),
                                                    ("OtherError", "Other")])
def test_201_charger_fault_ends_the_transaction_with_abnormal_condition(error_code: str, reason: str) -> None:
    b = Rig("2.0.1")
    b.charging("2.0.1")
    b.send(FaultRaised(evse_id=1, error_code=error_code))
    assert b.stops == [StopTransaction(evse_id=1, reason=reason, trigger="AbnormalCondition")]
    (ended,) = events_of(b.take())
    assert ended["triggerReason"] == "AbnormalCondition" and ended["transactionInfo"]["stoppedReason"] == reason


def test_201_transaction_begun_on_a_faulted_evse_ends_with_abnormal_condition() -> None:
    """TxStartPoint EVConnected: a cable plugged into a Faulted EVSE starts a transaction, which the core ends at
    once, as any charger fault does (AbnormalCondition, the fault's stopped reason)."""
    b = Rig("2.0.1")
    b.boot()
    b.tm.config = replace(b.tm.config, tx_start_points=frozenset({"EVConnected"}))
    b.send(FaultRaised(evse_id=1, error_code="GroundFailure"))
    b.take()
    b.send(Plugged(evse_id=1))
    assert b.stops == [StopTransaction(evse_id=1, reason="GroundFault", trigger="AbnormalCondition")]
    started, ended = events_of(b.take())
    assert started["eventType"] == "Started" and ended["eventType"] == "Ended"
    assert ended["triggerReason"] == "AbnormalCondition" and ended["transactionInfo"]["stoppedReason"] == "GroundFault"


# ---------------------------------------------------------------- NotifyEvent on charger faults (N07)


def test_201_fault_and_its_clearing_are_notify_events() -> None:
    b = Rig("2.0.1", evse_count=2)
    b.boot()
    b.take()
    b.send(FaultRaised(evse_id=2, error_code="GroundFailure", tech_code="rcd", info="residual current 32 mA"))
    sent = b.take()
    assert b.statuses(sent) == [(2, "Faulted")]
    (raised,) = [p for a, p in sent if a == "NotifyEvent"]
    (data,) = raised["eventData"]
    assert data["component"] == {"name": "EVSE", "evse": {"id": 2}} and data["variable"] == {"name": "Problem"}
    assert (data["actualValue"], data["cleared"], data["trigger"]) == ("true", False, "Alerting")
    assert data["eventNotificationType"] == "HardWiredNotification"
    assert (data["techCode"], data["techInfo"]) == ("rcd", "residual current 32 mA")
    b.send(FaultCleared(evse_id=2))
    sent = b.take()
    assert b.statuses(sent) == [(2, "Available")]
    (cleared,) = [p for a, p in sent if a == "NotifyEvent"]
    (data2,) = cleared["eventData"]
    assert (data2["actualValue"], data2["cleared"], data2["variable"]) == ("false", True, {"name": "Problem"})
    assert data2["component"] == data["component"] and data2["eventId"] != data["eventId"]


def test_201_station_fault_names_the_charging_station_and_falls_back_to_the_error_code() -> None:
    b = Rig("2.0.1")
    b.boot()
    b.take()
    b.send(FaultRaised(evse_id=0, error_code="PowerMeterFailure"))
    (data,) = next(p for a, p in b.take() if a == "NotifyEvent")["eventData"]
    assert data["component"] == {"name": "ChargingStation"}
    assert data["techCode"] == "PowerMeterFailure" and "techInfo" not in data


def test_201_ev_side_fault_is_no_notify_event() -> None:
    # the EV-side fault is not a fault of the station (the energy is suspended, the connector not Faulted)
    b = Rig("2.0.1")
    b.charging("2.0.1")
    b.send(FaultRaised(evse_id=1, error_code="EVCommunicationError", ev_side=True))
    b.send(FaultCleared(evse_id=1, ev_side=True))
    assert "NotifyEvent" not in actions(b.take())


def test_16_fault_has_no_notify_event_but_the_error_code() -> None:
    b = Rig("1.6")
    b.boot()
    b.take()
    b.send(FaultRaised(evse_id=1, error_code="GroundFailure", tech_code="rcd"))
    sent = b.take()
    assert actions(sent) == ["StatusNotification"]
    assert (sent[0][1]["status"], sent[0][1]["errorCode"]) == ("Faulted", "GroundFailure")
    b.send(FaultCleared(evse_id=1))
    assert actions(b.take()) == ["StatusNotification"]


def test_201_fault_while_offline_sends_no_notify_event() -> None:
    b = Rig("2.0.1")
    b.boot()
    b.disconnect()
    b.take()
    b.send(FaultRaised(evse_id=1, error_code="GroundFailure"))
    assert b.take() == []
    b.connect()
    assert b.statuses(b.take()) == [(1, "Faulted")]  # the status goes out with the new connection


# ---------------------------------------------------------------- E02: a card authorizes the cable's transaction


def test_201_card_authorizes_the_transaction_begun_by_the_cable() -> None:
    b = Rig("2.0.1")
    b.boot()
    b.tm.config = replace(b.tm.config, tx_start_points=frozenset({"EVConnected"}))
    b.take()
    b.send(Plugged(evse_id=1))
    (started,) = events_of(b.take())
    assert started["triggerReason"] == "CablePluggedIn" and "idToken" not in started  # E02: no identifier yet
    # E02 / C01: the transaction runs, but no energy flows before an identifier is authorized
    assert ChargingAllowed(evse_id=1, allowed=True) not in b.events()
    b.send(CardPresented(evse_id=1, token=CARD["2.0.1"]))
    assert b.take() == [("Authorize", {"idToken": CARD["2.0.1"]})]  # asked, not taken for a stop
    b.reply("Authorize", {"idTokenInfo": ACCEPTED})
    (updated,) = events_of(b.take())
    assert updated["eventType"] == "Updated" and updated["triggerReason"] == "Authorized"
    assert updated["idToken"] == CARD["2.0.1"]
    assert updated["transactionInfo"]["transactionId"] == started["transactionInfo"]["transactionId"]
    after = b.events()
    assert AuthorizationDone(evse_id=1, token=CARD["2.0.1"], accepted=True, status="Accepted") in after
    assert ChargingAllowed(evse_id=1, allowed=True) in after  # authorized now: the charger may deliver energy
    # the same card now ends the session (E07: the identifier that authorized it)
    b.send(CardPresented(evse_id=1, token=CARD["2.0.1"]))
    (stopped,) = events_of(b.take())
    assert stopped["triggerReason"] == "StopAuthorized"


# ---------------------------------------------------------------- F01: remoteStartId in the Updated event


def test_201_remote_start_after_the_cable_names_its_remote_start_id() -> None:
    b = Rig("2.0.1")
    b.dm.set_local("AuthCtrlr", "AuthorizeRemoteStart", "false")
    b.boot()
    b.tm.config = replace(b.tm.config, tx_start_points=frozenset({"EVConnected"}))
    b.send(Plugged(evse_id=1))
    (started,) = events_of(b.take())
    assert "remoteStartId" not in started["transactionInfo"]
    assert b.answer(RemoteStartRequested(evse_id=1, token=CARD["2.0.1"], remote_start_id=77)) == "Accepted"
    (updated,) = events_of(b.take())
    assert updated["eventType"] == "Updated" and updated["triggerReason"] == "RemoteStart"
    assert updated["transactionInfo"]["remoteStartId"] == 77 and updated["idToken"] == CARD["2.0.1"]


# ---------------------------------------------------------------- the Station: configure and the two hooks


class Hooked(Station):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.profiles: list[tuple[Any, Any]] = []
        self.stopped: list[StopTransaction] = []

    def on_charging_profile(self, request: Any, response: Any) -> None:
        self.profiles.append((request, response))

    def on_stop_transaction(self, stop: StopTransaction) -> None:
        self.stopped.append(stop)


def _received(received: list[tuple[str, dict[str, Any]]], action: str) -> list[dict[str, Any]]:
    return [p for a, p in received if a == action]


def test_station_configure_hooks_201(tmp_path: Path) -> None:
    async def main() -> None:
        received: list[tuple[str, dict[str, Any]]] = []
        csms = Csms(CsmsConfig(versions=(v201,), ping_interval=None), {"2.0.1": handlers(received)["2.0.1"]})
        server = await serve_csms(csms, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        station = Hooked(IDENTITY, version="2.0.1", directory=tmp_path, evse_count=1)
        client = ChargePointClient(station, f"ws://127.0.0.1:{port}/ocpp", ChargePointConfig(
            versions=(v201,), backoff=BackoffConfig(initial=0.05, maximum=0.2), ping_interval=None))
        tasks = [asyncio.create_task(client.run()), asyncio.create_task(station.run())]
        await until(lambda: IDENTITY in csms.connections and station.connected)

        # configure: the charger's own values, stored and applied (E02: the cable starts the transaction)
        station.configure({("TxCtrlr", "TxStartPoint"): "EVConnected",
                           ("SampledDataCtrlr", "TxUpdatedMeasurands"): "Energy.Active.Import.Register"})
        assert station.device_model.get("TxCtrlr", "TxStartPoint") == "EVConnected"
        assert station.transactions.config.tx_start_points == frozenset({"EVConnected"})
        assert station.transactions.config.sampled_measurands == ("Energy.Active.Import.Register",)
        station.plug_in(1)
        await until(lambda: bool(_received(received, "TransactionEvent")))
        started = _received(received, "TransactionEvent")[0]
        assert started["eventType"] == "Started" and started["triggerReason"] == "CablePluggedIn"
        tx_id = station.transactions.transaction_ref(1)

        # on_charging_profile: the typed request and the answer the CSMS got
        profile = {"id": 5, "stackLevel": 0, "chargingProfilePurpose": "TxProfile", "chargingProfileKind": "Absolute",
                   "transactionId": tx_id,
                   "chargingSchedule": [{"id": 1, "chargingRateUnit": "A", "startSchedule": "2024-05-01T00:00:00Z",
                                         "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 10.0}]}]}
        got = await csms.call(IDENTITY, {"evseId": 1, "chargingProfile": profile}, action="SetChargingProfile")
        assert got.to_json()["status"] == "Accepted"
        ((request, response),) = station.profiles
        assert request.charging_profile.id == 5 and str(response.status) == "Accepted"

        # on_stop_transaction: a remote stop, decided by the core, reaches the application
        got = await csms.call(IDENTITY, {"transactionId": tx_id}, action="RequestStopTransaction")
        assert got.to_json() == {"status": "Accepted"}
        await until(lambda: bool(station.stopped))
        assert station.stopped == [StopTransaction(evse_id=1, reason="Remote")]
        await until(lambda: any(p["eventType"] == "Ended" for p in _received(received, "TransactionEvent")))
        (ended,) = [p for p in _received(received, "TransactionEvent") if p["eventType"] == "Ended"]
        assert ended["triggerReason"] == "RemoteStop" and ended["transactionInfo"]["stoppedReason"] == "Remote"
        await teardown(server, station, client, tasks)

    asyncio.run(main())


def test_station_fault_hook_carries_the_trigger_16(tmp_path: Path) -> None:
    async def main() -> None:
        received: list[tuple[str, dict[str, Any]]] = []
        csms = Csms(CsmsConfig(versions=(v16,), ping_interval=None), {"1.6": handlers(received)["1.6"]})
        server = await serve_csms(csms, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        station = Hooked(IDENTITY, version="1.6", directory=tmp_path, evse_count=1)
        client = ChargePointClient(station, f"ws://127.0.0.1:{port}/ocpp", ChargePointConfig(
            versions=(v16,), backoff=BackoffConfig(initial=0.05, maximum=0.2), ping_interval=None))
        tasks = [asyncio.create_task(client.run()), asyncio.create_task(station.run())]
        await until(lambda: IDENTITY in csms.connections and station.connected)
        assert await station.authorize(1, "TAG1")
        station.plug_in(1)
        station.power_path(1, True)
        await until(lambda: bool(_received(received, "StartTransaction")))
        station.fault(1, "GroundFailure")
        assert station.stopped == [StopTransaction(evse_id=1, reason="Other", trigger="AbnormalCondition")]
        await until(lambda: bool(_received(received, "StopTransaction")))
        assert _received(received, "StopTransaction")[0]["reason"] == "Other"  # 1.6 has no GroundFault reason
        assert station.profiles == []
        await teardown(server, station, client, tasks)

    asyncio.run(main())


@pytest.mark.parametrize("certificate", ["CertificateRevoked", "CertificateExpired", "ContractCancelled"])
def test_201_contract_certificate_refused_starts_no_session(certificate: str) -> None:
    """C07 (Plug & Charge): the CSMS accepts the eMAID but not the contract certificate: no session -- the verdict
    is not accepted, the transaction manager hears of no identifier, and the eMAID's Accepted is not cached."""
    from evcharge.ocpp.functions.application import AuthorizeToken

    b = Rig("2.0.1")
    b.boot()
    b.take()
    b.send(Plugged(evse_id=1))
    b.take()
    b.events()
    emaid = {"idToken": "DEABCC1234567X", "type": "eMAID"}
    hashes = ({"hashAlgorithm": "SHA256", "issuerNameHash": "00", "issuerKeyHash": "11", "serialNumber": "1",
               "responderURL": "http://localhost/ocsp"},)
    b.send(AuthorizeToken(evse_id=1, token=emaid, ref="pnc-1", hash_data=hashes))
    ((action, payload),) = b.take()
    assert action == "Authorize" and payload["iso15118CertificateHashData"]
    b.reply("Authorize", {"idTokenInfo": ACCEPTED, "certificateStatus": certificate})
    done = [e for e in b.events() if isinstance(e, AuthorizationDone)]
    assert len(done) == 1 and not done[0].accepted and done[0].certificate_status == certificate
    assert events_of(b.take()) == []  # no TransactionEvent Authorized
    assert b.app.authorization.lookup(emaid, 0.0) is None
