"""The composed Station against a CSMS over real websockets on loopback (2.0.1 and 1.6).

The CSMS drives the station the way a real one does (Get/SetVariables, GetBaseReport -> NotifyReport,
SendLocalList, SetChargingProfile/GetCompositeSchedule, remote start/stop, GetConfiguration/ChangeConfiguration)
and the station's answers and messages are checked; then the CSMS goes away and the station authorizes offline.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from evcharge.ocpp import v16, v21, v201
from evcharge.ocpp.charge_point import BackoffConfig, ChargePointConfig
from evcharge.ocpp.csms import Csms, CsmsConfig, CsmsHandler
from evcharge.ocpp.functions.transactions import EVConnected, PowerPathClosed, TransactionConfig
from evcharge.ocpp.functions.transport.station import Station
from evcharge.ocpp.routing import on
from evcharge.ocpp.transport.websocket import ChargePointClient, serve_csms

IDENTITY = "CP-STATION"
GOOD = {"idToken": "GOOD", "type": "ISO14443"}


async def until(predicate: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


def handlers(received: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    class H201(CsmsHandler):
        @on("NotifyReport")
        def notify_report(self, request: Any) -> dict[str, Any]:
            received.append(("NotifyReport", request.to_json()))
            return {}

        @on("Authorize")
        def authorize(self, request: Any) -> dict[str, Any]:
            payload = request.to_json()
            received.append(("Authorize", payload))
            status = "Accepted" if payload["idToken"]["idToken"] == "GOOD" else "Invalid"
            return {"idTokenInfo": {"status": status}}

        @on("TransactionEvent")
        def transaction_event(self, request: Any) -> dict[str, Any]:
            received.append(("TransactionEvent", request.to_json()))
            return {}

    class H16(CsmsHandler):
        @on("Authorize")
        def authorize(self, request: Any) -> dict[str, Any]:
            received.append(("Authorize", request.to_json()))
            return {"idTagInfo": {"status": "Accepted"}}

        @on("StartTransaction")
        def start(self, request: Any) -> dict[str, Any]:
            received.append(("StartTransaction", request.to_json()))
            return {"transactionId": 321, "idTagInfo": {"status": "Accepted"}}

        @on("MeterValues")
        def meter(self, request: Any) -> dict[str, Any]:
            received.append(("MeterValues", request.to_json()))
            return {}

        @on("StopTransaction")
        def stop(self, request: Any) -> dict[str, Any]:
            received.append(("StopTransaction", request.to_json()))
            return {}

    return {"2.0.1": H201, "1.6": H16, "2.1": H201}


async def setup(tmp_path: Path, version: str, received: list[Any]) -> tuple[Any, Csms, Station, Any, list[Any]]:
    csms = Csms(CsmsConfig(versions=(v201, v16, v21), ping_interval=None), handlers(received))
    server = await serve_csms(csms, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    station = Station(IDENTITY, version=version, directory=tmp_path, evse_count=2)  # type: ignore[arg-type]
    module = {"1.6": v16, "2.0.1": v201, "2.1": v21}[version]
    client = ChargePointClient(station, f"ws://127.0.0.1:{port}/ocpp", ChargePointConfig(
        versions=(module,), backoff=BackoffConfig(initial=0.05, maximum=0.2), ping_interval=None))
    tasks = [asyncio.create_task(client.run()), asyncio.create_task(station.run())]
    await until(lambda: IDENTITY in csms.connections and station.connected)  # both ends: the core is online
    return server, csms, station, client, tasks


async def teardown(server: Any, station: Station, client: ChargePointClient, tasks: list[Any]) -> None:
    await client.stop()
    for t in tasks:
        t.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await t
    server.close()
    await server.wait_closed()
    station.close_stores()


def test_station_201(tmp_path: Path) -> None:
    async def main() -> None:
        received: list[tuple[str, dict[str, Any]]] = []
        server, csms, station, client, tasks = await setup(tmp_path, "2.0.1", received)

        async def call(action: str, payload: dict[str, Any]) -> dict[str, Any]:
            response = await csms.call(IDENTITY, payload, action=action)
            result: dict[str, Any] = response.to_json()
            return result

        got = await call("GetVariables", {"getVariableData": [
            {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}},
            {"component": {"name": "EVSE", "evse": {"id": 3}}, "variable": {"name": "Power"}}]})
        assert [(r["attributeStatus"], r.get("attributeValue")) for r in got["getVariableResult"]] == [
            ("Accepted", "300"), ("UnknownComponent", None)]
        got = await call("SetVariables", {"setVariableData": [
            {"component": {"name": "SampledDataCtrlr"}, "variable": {"name": "TxUpdatedInterval"},
             "attributeValue": "1"},
            {"component": {"name": "SecurityCtrlr"}, "variable": {"name": "Identity"}, "attributeValue": "CP-NEW"},
            {"component": {"name": "ChargingStation"}, "variable": {"name": "Model"}, "attributeValue": "x"}]})
        assert [r["attributeStatus"] for r in got["setVariableResult"]] == ["Accepted", "RebootRequired", "Rejected"]
        assert station.transactions.config.sampled_interval == 1  # the change took effect

        assert await call("GetBaseReport", {"requestId": 42, "reportBase": "FullInventory"}) == {"status": "Accepted"}
        await until(lambda: any(k == "NotifyReport" and not p["tbc"] for k, p in received))
        reports = [p for k, p in received if k == "NotifyReport"]
        assert [p["seqNo"] for p in reports] == list(range(len(reports)))
        assert sum(len(p["reportData"]) for p in reports) == len(station.device_model.variables())

        assert await call("SendLocalList", {"versionNumber": 1, "updateType": "Full", "localAuthorizationList": [
            {"idToken": {"idToken": "LOCAL", "type": "ISO14443"}, "idTokenInfo": {"status": "Accepted"}}]}) == {
            "status": "Accepted"}
        assert await call("GetLocalListVersion", {}) == {"versionNumber": 1}

        profile = {"evseId": 1, "chargingProfile": {
            "id": 5, "stackLevel": 0, "chargingProfilePurpose": "TxDefaultProfile", "chargingProfileKind": "Absolute",
            "chargingSchedule": [{"id": 1, "startSchedule": "2020-01-01T00:00:00Z", "chargingRateUnit": "A",
                                  "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 10.0}]}]}}
        assert await call("SetChargingProfile", profile) == {"status": "Accepted"}
        got = await call("GetVariables", {"getVariableData": [
            {"component": {"name": "SmartChargingCtrlr"},
             "variable": {"name": "Entries", "instance": "ChargingProfiles"}}]})
        assert got["getVariableResult"][0]["attributeValue"] == "1"
        got = await call("GetCompositeSchedule", {"evseId": 1, "duration": 300, "chargingRateUnit": "A"})
        assert got["schedule"]["chargingSchedulePeriod"] == [{"startPeriod": 0, "limit": 10.0, "numberPhases": 3}]

        # online: the station asks the CSMS, and the answer lands in the cache
        assert await station.authorize(1, GOOD)
        assert received[-1] == ("Authorize", {"idToken": GOOD})
        station.update_meter(1, {"Energy.Active.Import.Register": 10.0, "Power.Active.Import": 6900.0})
        station.charger_event(EVConnected(1))
        station.charger_event(PowerPathClosed(1))  # the default TxStartPoint
        await until(lambda: any(k == "TransactionEvent" and p["triggerReason"] == "MeterValuePeriodic"
                                for k, p in received))
        tx_id = station.transactions.transaction_ref(1)
        assert await call("RequestStopTransaction", {"transactionId": tx_id}) == {"status": "Accepted"}
        await until(lambda: any(k == "TransactionEvent" and p["eventType"] == "Ended" for k, p in received))
        events = [p for k, p in received if k == "TransactionEvent"]
        assert [p["seqNo"] for p in events] == list(range(len(events)))
        assert events[0]["eventType"] == "Started" and events[0]["idToken"] == GOOD
        assert events[-1]["triggerReason"] == "RemoteStop"
        assert station.smart_charging.limit_at(1, station_now()).value == 10

        # the CSMS goes away: local list and cache decide, unknown ids are refused (OfflineTxForUnknownIdEnabled)
        server.close()
        await server.wait_closed()
        await until(lambda: not station.connected)
        before = len(received)
        assert await station.authorize(2, {"idToken": "LOCAL", "type": "ISO14443"})
        assert await station.authorize(1, GOOD)  # from the cache
        assert not await station.authorize(1, {"idToken": "STRANGER", "type": "ISO14443"})
        assert len(received) == before
        await teardown(server, station, client, tasks)

    asyncio.run(main())


def station_now() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)


def test_station_16(tmp_path: Path) -> None:
    async def main() -> None:
        received: list[tuple[str, dict[str, Any]]] = []
        server, csms, station, client, tasks = await setup(tmp_path, "1.6", received)

        async def call(action: str, payload: dict[str, Any]) -> dict[str, Any]:
            response = await csms.call(IDENTITY, payload, action=action)
            result: dict[str, Any] = response.to_json()
            return result

        got = await call("GetConfiguration", {"key": ["MeterValueSampleInterval", "Nope"]})
        assert got == {"configurationKey": [{"key": "MeterValueSampleInterval", "readonly": False, "value": "60"}],
                       "unknownKey": ["Nope"]}
        assert await call("ChangeConfiguration", {"key": "MeterValueSampleInterval", "value": "1"}) == {
            "status": "Accepted"}
        assert station.transactions.config.sampled_interval == 1
        assert await call("ChangeConfiguration", {"key": "NumberOfConnectors", "value": "9"}) == {
            "status": "Rejected"}

        station.update_meter(2, {"Energy.Active.Import.Register": 500.0})
        station.charger_event(EVConnected(2))
        assert await call("RemoteStartTransaction", {"connectorId": 2, "idTag": "REMOTE"}) == {"status": "Accepted"}
        await until(lambda: any(k == "StartTransaction" for k, _ in received))
        assert ("Authorize", {"idTag": "REMOTE"}) in received  # AuthorizeRemoteTxRequests is true
        await until(lambda: any(k == "MeterValues" for k, _ in received))
        # a 1.6 TxProfile names the transactionId the CSMS gave (321)
        tx_profile = {"connectorId": 2, "csChargingProfiles": {
            "chargingProfileId": 9, "transactionId": 321, "stackLevel": 0, "chargingProfilePurpose": "TxProfile",
            "chargingProfileKind": "Relative",
            "chargingSchedule": {"chargingRateUnit": "A", "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 8}]}}}
        await until(lambda: station.queue.transaction_id_of(station.transactions.transaction_ref(2) or "") == 321)
        assert await call("SetChargingProfile", tx_profile) == {"status": "Accepted"}
        assert station.smart_charging.limit_at(2, station_now()).value == 8
        assert await call("RemoteStopTransaction", {"transactionId": 321}) == {"status": "Accepted"}
        assert await call("RemoteStopTransaction", {"transactionId": 999}) == {"status": "Rejected"}
        await until(lambda: any(k == "StopTransaction" for k, _ in received))
        start = next(p for k, p in received if k == "StartTransaction")
        assert start["connectorId"] == 2 and start["idTag"] == "REMOTE" and start["meterStart"] == 500
        stop = next(p for k, p in received if k == "StopTransaction")
        assert stop["transactionId"] == 321 and stop["reason"] == "Remote"
        assert all(p.get("transactionId") == 321 for k, p in received if k == "MeterValues")
        assert station.smart_charging.profiles == []  # the TxProfile ended with its transaction
        await teardown(server, station, client, tasks)

    asyncio.run(main())


def test_offline_unknown_id_is_stopped_when_the_csms_refuses_it(tmp_path: Path) -> None:
    # OfflineTxForUnknownIdEnabled: a stranger may start while offline.  Back online, the queued Started reaches the
    # CSMS, which answers idTokenInfo Invalid: with StopTxOnInvalidId the station ends the transaction (Deauthorized).
    async def main() -> None:
        received: list[tuple[str, dict[str, Any]]] = []
        server, csms, station, client, tasks = await setup(tmp_path, "2.0.1", received)
        port = server.sockets[0].getsockname()[1]
        got = (await csms.call(IDENTITY, {"setVariableData": [
            {"component": {"name": "AuthCtrlr"}, "variable": {"name": "OfflineTxForUnknownIdEnabled"},
             "attributeValue": "true"}]}, action="SetVariables")).to_json()
        assert got["setVariableResult"][0]["attributeStatus"] == "Accepted"
        server.close()
        await server.wait_closed()
        await until(lambda: not station.connected)
        stranger = {"idToken": "STRANGER", "type": "ISO14443"}
        assert await station.authorize(1, stranger)
        station.charger_event(EVConnected(1))
        station.charger_event(PowerPathClosed(1))
        assert len(station.queue) == 1 and station.queue.pending()[0].payload["offline"] is True

        class Refusing(CsmsHandler):
            @on("TransactionEvent")
            def transaction_event(self, request: Any) -> dict[str, Any]:
                payload = request.to_json()
                received.append(("TransactionEvent", payload))
                return {"idTokenInfo": {"status": "Invalid"}} if "idToken" in payload else {}

        server2 = await serve_csms(Csms(CsmsConfig(versions=(v201,), ping_interval=None), Refusing),
                                   "127.0.0.1", port)
        await until(lambda: any(k == "TransactionEvent" and p["eventType"] == "Ended" for k, p in received))
        events = [p for k, p in received if k == "TransactionEvent"]
        assert [(p["eventType"], p["triggerReason"]) for p in events] == [
            ("Started", "ChargingStateChanged"), ("Ended", "Deauthorized")]
        assert events[1]["transactionInfo"]["stoppedReason"] == "DeAuthorized"
        # the refusal is cached: the next offline attempt by the same card is rejected from the cache
        decision = station.authorization.decide(stranger, online=False, now=station.now())
        assert decision.status == "Invalid" and decision.verdict.value == "reject"
        await teardown(server2, station, client, tasks)

    asyncio.run(main())


def test_station_21(tmp_path: Path) -> None:
    # OCPP 2.1 behaves as 2.0.1 for these functions; profiles it cannot apply are refused, not errors
    async def main() -> None:
        received: list[tuple[str, dict[str, Any]]] = []
        server, csms, station, client, tasks = await setup(tmp_path, "2.1", received)
        assert station.version is v21

        async def call(action: str, payload: dict[str, Any]) -> dict[str, Any]:
            result: dict[str, Any] = (await csms.call(IDENTITY, payload, action=action)).to_json()
            return result

        got = await call("GetVariables", {"getVariableData": [
            {"component": {"name": "TxCtrlr"}, "variable": {"name": "TxStartPoint"}}]})
        assert got["getVariableResult"][0]["attributeValue"] == "PowerPathClosed"
        schedule = [{"id": 1, "startSchedule": "2020-01-01T00:00:00Z", "chargingRateUnit": "W",
                     "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 4600.0}]}]
        got = await call("SetChargingProfile", {"evseId": 0, "chargingProfile": {
            "id": 1, "stackLevel": 0, "chargingProfilePurpose": "PriorityCharging", "chargingProfileKind": "Absolute",
            "chargingSchedule": schedule}})
        assert got == {"status": "Rejected", "statusInfo": {"reasonCode": "UnsupportedProfile"}}
        got = await call("SetChargingProfile", {"evseId": 0, "chargingProfile": {
            "id": 2, "stackLevel": 0, "chargingProfilePurpose": "ChargingStationMaxProfile",
            "chargingProfileKind": "Absolute", "chargingSchedule": schedule}})
        assert got == {"status": "Accepted"}
        assert await station.authorize(2, GOOD)
        station.charger_event(EVConnected(2))
        station.charger_event(PowerPathClosed(2))
        await until(lambda: any(k == "TransactionEvent" for k, _ in received))
        assert next(p for k, p in received if k == "TransactionEvent")["evse"] == {"id": 2, "connectorId": 1}
        # 4600 W on three phases at 230 V = 6.7 A
        assert round(station.smart_charging.limit_at(2, station_now()).value, 1) == 6.7
        await teardown(server, station, client, tasks)

    asyncio.run(main())


def test_no_transaction_message_before_boot_is_accepted(tmp_path: Path) -> None:
    # B02: the CSMS answers Pending (interval 1 s), then Accepted.  A transaction started before the station ever
    # connected waits in the queue; its messages reach the CSMS only after the BootNotification was accepted.
    async def main() -> None:
        received: list[tuple[str, dict[str, Any]]] = []

        class Booting(CsmsHandler):
            @on("BootNotification")
            def boot(self, request: Any) -> dict[str, Any]:
                received.append(("BootNotification", request.to_json()))
                status = "Pending" if len([k for k, _ in received if k == "BootNotification"]) == 1 else "Accepted"
                return {"currentTime": "2024-01-01T00:00:00Z", "interval": 1 if status == "Pending" else 77,
                        "status": status}

            @on("TransactionEvent")
            def transaction_event(self, request: Any) -> dict[str, Any]:
                received.append(("TransactionEvent", request.to_json()))
                return {}

        csms = Csms(CsmsConfig(versions=(v201,), ping_interval=None), Booting)
        server = await serve_csms(csms, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        boot = {"reason": "PowerUp", "chargingStation": {"model": "AC22", "vendorName": "evcharge"}}
        station = Station(IDENTITY, version="2.0.1", directory=tmp_path, boot=boot)
        station.transactions.config = TransactionConfig(tx_start_points=frozenset({"EVConnected"}))
        station.charger_event(EVConnected(1))
        assert len(station.queue) == 1  # Started, queued while offline
        client = ChargePointClient(station, f"ws://127.0.0.1:{port}/ocpp", ChargePointConfig(
            versions=(v201,), backoff=BackoffConfig(initial=0.05, maximum=0.2), ping_interval=None))
        tasks = [asyncio.create_task(client.run()), asyncio.create_task(station.run())]
        await until(lambda: any(k == "TransactionEvent" for k, _ in received))
        assert [k for k, _ in received] == ["BootNotification", "BootNotification", "TransactionEvent"]
        assert received[0][1] == boot and station.booted
        assert station.device_model.get_int("OCPPCommCtrlr", "HeartbeatInterval") == 77
        await teardown(server, station, client, tasks)

    asyncio.run(main())
