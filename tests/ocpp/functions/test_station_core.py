"""The Station as the core's adapter over real websockets on loopback: the cable, the card and the contactor go
in as core commands, the StatusNotifications the core decides reach the CSMS (2.0.1 and 1.6), and the offline
queue's retry back-off runs on the station's injected clock.

Expected behaviour: OCPP 2.0.1 B01 (after Accepted, StatusNotification of every connector), G01 (Occupied when
the cable is in), C01 (Authorize online), E07 (the same identifier ends the transaction: stoppedReason Local),
G03 (ChangeAvailability Scheduled, Unavailable after the transaction); OCPP 1.6 4.9 (Preparing, Charging,
Finishing), 3.5; 2.0.1 E13 / 1.6 4.10 (a transaction message the CSMS could not process is retried after
MessageAttemptInterval / TransactionMessageRetryInterval times the attempt).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from evcharge.ocpp import v16, v201
from evcharge.ocpp.charge_point import BackoffConfig, ChargePointConfig
from evcharge.ocpp.csms import Csms, CsmsConfig, CsmsHandler
from evcharge.ocpp.functions.application import AuthorizationDone, CallResult
from evcharge.ocpp.functions.transactions import Authorized, EVConnected, PowerPathClosed
from evcharge.ocpp.functions.transport.station import Station
from evcharge.ocpp.routing import on
from evcharge.ocpp.transport.websocket import ChargePointClient, serve_csms

from .test_station import IDENTITY, teardown, until

BOOT: dict[str, dict[str, Any]] = {"1.6": {"chargePointVendor": "v", "chargePointModel": "m"},
        "2.0.1": {"reason": "PowerUp", "chargingStation": {"model": "m", "vendorName": "v"}}}
GOOD: dict[str, Any] = {"1.6": "GOOD", "2.0.1": {"idToken": "GOOD", "type": "ISO14443"}}


class Recording(Station):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.allowed: list[tuple[int, bool]] = []
        self.verdicts: list[AuthorizationDone] = []
        self.results: list[CallResult] = []

    def on_call_result(self, result: CallResult) -> None:
        self.results.append(result)

    def on_charging_allowed(self, evse_id: int, allowed: bool) -> None:
        self.allowed.append((evse_id, allowed))

    def on_authorization(self, done: AuthorizationDone) -> None:
        self.verdicts.append(done)


def csms_handlers(received: list[tuple[str, dict[str, Any]]], fail_first: set[str]) -> dict[str, Any]:
    """A CSMS that records every call; the first call of each action in ``fail_first`` gets a CALLERROR."""

    def record(action: str, request: Any) -> dict[str, Any]:
        payload: dict[str, Any] = request.to_json()
        received.append((action, payload))
        if action in fail_first:
            fail_first.discard(action)
            raise RuntimeError("the CSMS could not process it")
        return payload

    class H201(CsmsHandler):
        @on("BootNotification")
        def boot(self, request: Any) -> dict[str, Any]:
            record("BootNotification", request)
            return {"status": "Accepted", "interval": 300, "currentTime": "2024-05-01T00:00:00Z"}

        @on("StatusNotification")
        def status(self, request: Any) -> dict[str, Any]:
            record("StatusNotification", request)
            return {}

        @on("Authorize")
        def authorize(self, request: Any) -> dict[str, Any]:
            record("Authorize", request)
            return {"idTokenInfo": {"status": "Accepted"}}

        @on("TransactionEvent")
        def transaction_event(self, request: Any) -> dict[str, Any]:
            record("TransactionEvent", request)
            return {}

        @on("NotifyEVChargingNeeds")
        def needs(self, request: Any) -> dict[str, Any]:
            record("NotifyEVChargingNeeds", request)
            return {"status": "Accepted"}

    class H16(CsmsHandler):
        @on("BootNotification")
        def boot(self, request: Any) -> dict[str, Any]:
            record("BootNotification", request)
            return {"status": "Accepted", "interval": 300, "currentTime": "2024-05-01T00:00:00Z"}

        @on("StatusNotification")
        def status(self, request: Any) -> dict[str, Any]:
            record("StatusNotification", request)
            return {}

        @on("Authorize")
        def authorize(self, request: Any) -> dict[str, Any]:
            record("Authorize", request)
            return {"idTagInfo": {"status": "Accepted"}}

        @on("StartTransaction")
        def start(self, request: Any) -> dict[str, Any]:
            record("StartTransaction", request)
            return {"transactionId": 321, "idTagInfo": {"status": "Accepted"}}

        @on("StopTransaction")
        def stop(self, request: Any) -> dict[str, Any]:
            record("StopTransaction", request)
            return {}

    return {"2.0.1": H201, "1.6": H16}


class FakeClock:
    """The station's injected clock: moves only when the test says."""

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


async def setup(tmp_path: Path, version: str, received: list[Any], *, fail_first: set[str] | None = None,
                clock: FakeClock | None = None) -> tuple[Any, Csms, Recording, Any, list[Any]]:
    csms = Csms(CsmsConfig(versions=(v201, v16), ping_interval=None), csms_handlers(received, fail_first or set()))
    server = await serve_csms(csms, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    extra: dict[str, Any] = {"clock": clock} if clock is not None else {}
    station = Recording(IDENTITY, version=version, directory=tmp_path, evse_count=2,
                        boot=BOOT[version], status_notifications=True, **extra)
    module = {"1.6": v16, "2.0.1": v201}[version]
    client = ChargePointClient(station, f"ws://127.0.0.1:{port}/ocpp", ChargePointConfig(
        versions=(module,), backoff=BackoffConfig(initial=0.05, maximum=0.2), ping_interval=None))
    tasks = [asyncio.create_task(client.run()), asyncio.create_task(station.run())]
    await until(lambda: IDENTITY in csms.connections and station.connected)  # both ends: the core is online
    return server, csms, station, client, tasks


def statuses(received: list[tuple[str, dict[str, Any]]], version: str) -> list[tuple[int, str]]:
    key, id_key = ("status", "connectorId") if version == "1.6" else ("connectorStatus", "evseId")
    return [(p[id_key], p[key]) for a, p in received if a == "StatusNotification"]


def test_201_station_card_plug_and_statuses(tmp_path: Path) -> None:
    async def main() -> None:
        received: list[tuple[str, dict[str, Any]]] = []
        server, csms, station, client, tasks = await setup(tmp_path, "2.0.1", received)
        await until(lambda: len(statuses(received, "2.0.1")) == 2)
        assert statuses(received, "2.0.1") == [(1, "Available"), (2, "Available")]  # B01, after Accepted
        assert received[0][0] == "BootNotification"

        station.plug_in(1)
        await until(lambda: len(statuses(received, "2.0.1")) == 3)
        assert statuses(received, "2.0.1")[-1] == (1, "Occupied")
        station.present_card(1, GOOD["2.0.1"])
        await until(lambda: bool(station.verdicts))
        assert [a for a, _ in received].count("Authorize") == 1 and station.verdicts[0].accepted
        assert station.allowed == [(1, True)]  # the core lets the charger close the contactor
        station.power_path(1, True)
        await until(lambda: any(a == "TransactionEvent" for a, _ in received))
        tx_id = station.transactions.transaction_ref(1)

        response = await csms.call(IDENTITY, {"operationalStatus": "Inoperative", "evse": {"id": 1}},
                                   action="ChangeAvailability")
        assert response.to_json() == {"status": "Scheduled"}  # G03: the transaction runs there
        station.present_card(1, GOOD["2.0.1"])  # the same card ends it
        await until(lambda: (1, "Unavailable") in statuses(received, "2.0.1"))
        ended = [p for a, p in received if a == "TransactionEvent" and p["eventType"] == "Ended"]
        assert len(ended) == 1 and ended[0]["transactionInfo"] == {
            **ended[0]["transactionInfo"], "transactionId": tx_id, "stoppedReason": "Local"}
        assert station.allowed == [(1, True), (1, False)]
        await teardown(server, station, client, tasks)

    asyncio.run(main())


def test_16_station_plug_first_then_card(tmp_path: Path) -> None:
    async def main() -> None:
        received: list[tuple[str, dict[str, Any]]] = []
        server, _csms, station, client, tasks = await setup(tmp_path, "1.6", received)
        await until(lambda: len(statuses(received, "1.6")) == 3)
        assert statuses(received, "1.6") == [(0, "Available"), (1, "Available"), (2, "Available")]
        station.plug_in(2)
        station.present_card(2, GOOD["1.6"])
        await until(lambda: any(a == "StartTransaction" for a, _ in received))
        station.power_path(2, True)
        await until(lambda: (2, "Charging") in statuses(received, "1.6"))
        station.present_card(2, GOOD["1.6"])
        await until(lambda: (2, "Finishing") in statuses(received, "1.6"))
        stop = next(p for a, p in received if a == "StopTransaction")
        assert stop["reason"] == "Local" and stop["transactionId"] == 321
        station.unplug(2)
        await until(lambda: statuses(received, "1.6")[-1] == (2, "Available"))
        assert [s for e, s in statuses(received, "1.6") if e == 2] == [
            "Available", "Preparing", "Charging", "Finishing", "Available"]
        await teardown(server, station, client, tasks)

    asyncio.run(main())


def test_queue_retry_runs_on_the_station_clock(tmp_path: Path) -> None:
    async def main() -> None:
        received: list[tuple[str, dict[str, Any]]] = []
        clock = FakeClock()
        server, _csms, station, client, tasks = await setup(tmp_path, "2.0.1", received, clock=clock,
                                                           fail_first={"TransactionEvent"})
        await until(lambda: len(statuses(received, "2.0.1")) == 2)
        station.plug_in(1)
        station.present_card(1, GOOD["2.0.1"])
        await until(lambda: bool(station.verdicts))
        station.power_path(1, True)  # TransactionEvent Started: the CSMS answers CALLERROR
        await until(lambda: any(a == "TransactionEvent" for a, _ in received))
        # the retry waits MessageAttemptInterval on the station's clock, which stands still
        await asyncio.sleep(0.3)
        assert [a for a, _ in received].count("TransactionEvent") == 1
        interval = station.queue.config.retry_interval
        clock.t += interval - 1.0
        station.tick()
        await asyncio.sleep(0.3)
        assert [a for a, _ in received].count("TransactionEvent") == 1  # not yet
        clock.t += 1.0
        station.tick()  # the back-off ended on the station's clock: the sender goes on
        await until(lambda: [a for a, _ in received].count("TransactionEvent") == 2, timeout=5.0)
        first, again = [p for a, p in received if a == "TransactionEvent"]
        assert first == again and first["eventType"] == "Started"  # the same message, unchanged
        await teardown(server, station, client, tasks)

    asyncio.run(main())


def test_resumed_transaction_is_charging_for_the_core(tmp_path: Path) -> None:
    # the process restarted while the EV kept charging: the resumed transaction's connector is Charging (1.6 4.9)
    first = Station(IDENTITY, version="1.6", directory=tmp_path, status_notifications=True)
    first.charger_event(EVConnected(1, 1))
    first.charger_event(Authorized(1, "TAG"))
    first.charger_event(PowerPathClosed(1))
    assert first.app.connector_status(1) == "Charging"
    first.close_stores()
    again = Station(IDENTITY, version="1.6", directory=tmp_path, status_notifications=True)
    assert again.app.connector_status(1) == "Available"  # it knows nothing yet
    again.resume_transactions()
    assert again.app.transaction_ref(1) == again.transactions.transaction_ref(1) is not None
    assert again.app.connector_status(1) == "Charging"
    again.close_stores()


def test_201_application_calls_and_a_contract_through_the_station(tmp_path: Path) -> None:
    """The calls the core decides nothing on (here NotifyEVChargingNeeds) go out through the station and their
    answer comes back by ref; a Plug & Charge contract's hash data reach the CSMS in Authorize."""
    needs = {"evseId": 1, "chargingNeeds": {"requestedEnergyTransfer": "DC",
                                            "dcChargingParameters": {"evMaxCurrent": 125, "evMaxVoltage": 450}}}
    hash_data = [{"hashAlgorithm": "SHA256", "issuerNameHash": "a" * 64, "issuerKeyHash": "b" * 64,
                  "serialNumber": "0123456789ABCDEF", "responderURL": "http://ocsp.example/"}]

    async def main() -> None:
        received: list[tuple[str, dict[str, Any]]] = []
        server, _csms, station, client, tasks = await setup(tmp_path, "2.0.1", received)
        await until(lambda: station.booted)
        station.request_call("NotifyEVChargingNeeds", needs, "needs-1")
        await until(lambda: bool(station.results))
        assert station.results == [CallResult(action="NotifyEVChargingNeeds", ref="needs-1",
                                              response={"status": "Accepted"})]
        assert ("NotifyEVChargingNeeds", needs) in received
        token = {"idToken": "DEMOUFOO0001234", "type": "eMAID"}
        assert await station.authorize(1, token, hash_data=hash_data)
        (authorize,) = [p for a, p in received if a == "Authorize"]
        assert authorize == {"idToken": token, "iso15118CertificateHashData": hash_data}
        await teardown(server, station, client, tasks)

    asyncio.run(main())
