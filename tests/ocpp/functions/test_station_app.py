"""The Station carrying out the application core's decisions over real websockets on loopback (2.0.1 and 1.6):
heartbeat on a changed HeartbeatInterval, ChangeAvailability and Reset OnIdle scheduled during a transaction and
carried out after it, remote start refused while a reset is pending, 1.6 Reset Soft stopping the transaction first.

Expected behaviour: OCPP 2.0.1 B01 (Heartbeat every HeartbeatInterval), B12.FR.01 (OnIdle with a transaction ongoing:
Scheduled, reset after it ended), G03 (ChangeAvailability: Scheduled during a transaction), F01 (RequestStart
refused for an unavailable EVSE); OCPP 1.6 5.14 (Reset: StopTransaction with reason SoftReset before the reset).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from evcharge.ocpp import v16, v201
from evcharge.ocpp.charge_point import BackoffConfig, ChargePointConfig
from evcharge.ocpp.csms import Csms, CsmsConfig, CsmsHandler
from evcharge.ocpp.functions.application import ResetNow
from evcharge.ocpp.functions.transactions import EVConnected, PowerPathClosed
from evcharge.ocpp.functions.transport.station import Station
from evcharge.ocpp.routing import on
from evcharge.ocpp.transport.websocket import ChargePointClient, serve_csms

from .test_station import GOOD, IDENTITY, handlers, teardown, until


class Recording(Station):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.resets: list[ResetNow] = []
        self.availability: list[tuple[int, bool]] = []

    def on_reset(self, reset: ResetNow) -> None:
        self.resets.append(reset)

    def on_availability(self, evse_id: int, operative: bool) -> None:
        super().on_availability(evse_id, operative)
        self.availability.append((evse_id, operative))


async def setup(tmp_path: Path, version: str, received: list[Any]) -> tuple[Any, Csms, Recording, Any, list[Any]]:
    base = handlers(received)
    h201: type[CsmsHandler] = base["2.0.1"]

    class H201(h201):  # type: ignore[valid-type,misc]
        @on("Heartbeat")
        def heartbeat(self, request: Any) -> dict[str, Any]:
            received.append(("Heartbeat", request.to_json()))
            return {"currentTime": "2024-05-01T12:00:00Z"}

    csms = Csms(CsmsConfig(versions=(v201, v16), ping_interval=None), {"2.0.1": H201, "1.6": base["1.6"]})
    server = await serve_csms(csms, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    station = Recording(IDENTITY, version=version, directory=tmp_path, evse_count=2)
    module = {"1.6": v16, "2.0.1": v201}[version]
    client = ChargePointClient(station, f"ws://127.0.0.1:{port}/ocpp", ChargePointConfig(
        versions=(module,), backoff=BackoffConfig(initial=0.05, maximum=0.2), ping_interval=None))
    tasks = [asyncio.create_task(client.run()), asyncio.create_task(station.run())]
    await until(lambda: IDENTITY in csms.connections and station.connected)  # both ends: the core is online
    return server, csms, station, client, tasks


def test_201_reset_on_idle_and_availability_wait_for_the_transaction(tmp_path: Path) -> None:
    async def main() -> None:
        received: list[tuple[str, dict[str, Any]]] = []
        server, csms, station, client, tasks = await setup(tmp_path, "2.0.1", received)

        async def call(action: str, payload: dict[str, Any]) -> dict[str, Any]:
            result: dict[str, Any] = (await csms.call(IDENTITY, payload, action=action)).to_json()
            return result

        # B01: a changed HeartbeatInterval takes effect at once
        got = await call("SetVariables", {"setVariableData": [
            {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"},
             "attributeValue": "1"}]})
        assert got["setVariableResult"][0]["attributeStatus"] == "Accepted"
        await until(lambda: any(k == "Heartbeat" for k, _ in received), timeout=5.0)

        assert await station.authorize(1, GOOD)
        station.charger_event(EVConnected(1))
        station.charger_event(PowerPathClosed(1))
        await until(lambda: any(k == "TransactionEvent" for k, _ in received))
        tx_id = station.transactions.transaction_ref(1)

        assert await call("ChangeAvailability", {"operationalStatus": "Inoperative", "evse": {"id": 1}}) == {
            "status": "Scheduled"}
        assert await call("Reset", {"type": "OnIdle"}) == {"status": "Scheduled"}  # B12.FR.01
        # no new transaction while the reset waits
        assert await call("RequestStartTransaction", {"idToken": GOOD, "remoteStartId": 3, "evseId": 2}) == {
            "status": "Rejected"}
        await asyncio.sleep(0.1)
        assert station.resets == [] and station.availability == []

        assert await call("RequestStopTransaction", {"transactionId": tx_id}) == {"status": "Accepted"}
        await until(lambda: bool(station.resets))
        assert station.resets == [ResetNow(kind="OnIdle", evse_id=None)]
        assert station.availability == [(1, False)]
        # the Ended message is on its way beside the StatusNotifications the core sends (Available, Unavailable)
        await until(lambda: any(k == "TransactionEvent" and p["eventType"] == "Ended" for k, p in received))
        ended = [p for k, p in received if k == "TransactionEvent" and p["eventType"] == "Ended"]
        assert len(ended) == 1 and ended[0]["transactionInfo"]["stoppedReason"] == "Remote"
        await teardown(server, station, client, tasks)

    asyncio.run(main())


def test_16_soft_reset_stops_the_transaction_first(tmp_path: Path) -> None:
    async def main() -> None:
        received: list[tuple[str, dict[str, Any]]] = []
        server, csms, station, client, tasks = await setup(tmp_path, "1.6", received)
        assert await station.authorize(1, "TAG1")
        station.charger_event(EVConnected(1))
        station.charger_event(PowerPathClosed(1))
        await until(lambda: any(k == "StartTransaction" for k, _ in received))
        response = await csms.call(IDENTITY, {"type": "Soft"}, action="Reset")
        assert response.to_json() == {"status": "Accepted"}
        # the StopTransaction is made (and kept in the persistent queue) before the reset; it reaches the CSMS
        await until(lambda: bool(station.resets) and any(k == "StopTransaction" for k, _ in received))
        assert station.transactions.transaction_ref(1) is None
        stops = [p for k, p in received if k == "StopTransaction"]
        assert len(stops) == 1 and stops[0]["reason"] == "SoftReset"  # 1.6 5.14
        assert station.resets == [ResetNow(kind="Soft", evse_id=None)]
        await teardown(server, station, client, tasks)

    asyncio.run(main())
