"""OCPP 2.1 on the reference CSMS with our 2.1 charge point: CostUpdated with the running cost (a tariff set), the
2.1-only messages a station sends answered schema-valid (the charge point validates every answer against the 2.1
schemas) and what matters stored: settlements, DER and battery-swap notifications, VAT numbers, periodic event
streams (a SEND), dynamic schedule pulls, certificate chain status by OCSP against a local responder."""

from __future__ import annotations

import asyncio
import datetime
import json
from pathlib import Path
from typing import Any

import pytest

from evcharge.csms.ocsp import OcspChecker
from evcharge.ocpp import v21, v201

from .helpers import Pki, Station, admin, make_pki, start_server
from .test_end_to_end import NOW, station
from .test_ocsp import Responder, _cert, hash_data


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("csms-pki-21"))


def _event(tx: str, kind: str, seq: int, wh: float) -> Any:
    return {"eventType": kind, "timestamp": NOW, "triggerReason": "MeterValuePeriodic", "seqNo": seq,
            "transactionInfo": {"transactionId": tx}, "evse": {"id": 1, "connectorId": 1},
            "meterValue": [{"timestamp": NOW, "sampledValue": [
                {"value": wh, "measurand": "Energy.Active.Import.Register", "unitOfMeasure": {"unit": "Wh"}}]}]}


async def _costs(cp: Station, count: int) -> list[tuple[str, float]]:
    async def enough() -> None:
        while len([a for a, _ in cp.received if a == "CostUpdated"]) < count:
            cp.got.clear()
            await cp.got.wait()

    await asyncio.wait_for(enough(), 10)
    return [(p["transactionId"], p["totalCost"]) for a, p in cp.received if a == "CostUpdated"]


@pytest.mark.parametrize("version", [v21, v201])
def test_cost_updated_with_the_running_cost(pki: Pki, tmp_path: Path, version: Any) -> None:
    async def main() -> None:
        server = await start_server(pki, tmp_path / "csms.db", price_per_kwh=0.25)
        async with station(server, pki, "COST-1", 1, version) as cp:
            def event(kind: str, seq: int, wh: float) -> Any:
                return version.TransactionEventRequest.from_json(_event("tx-C", kind, seq, wh))

            await cp.call(event("Started", 0, 1000.0))
            assert await _costs(cp, 1) == [("tx-C", 0.0)]
            await cp.call(event("Updated", 1, 2000.0))
            assert await _costs(cp, 2) == [("tx-C", 0.0), ("tx-C", 0.25)]  # 1 kWh at 0.25
            await cp.call(event("Updated", 2, 2000.0))  # no energy since: the same cost is not sent again
            await cp.call(event("Updated", 3, 3000.0))
            assert await _costs(cp, 3) == [("tx-C", 0.0), ("tx-C", 0.25), ("tx-C", 0.5)]
            end = await cp.call(event("Ended", 4, 3000.0))
            assert end.total_cost == pytest.approx(0.5)  # the final cost in the answer, not in a CostUpdated
            await asyncio.sleep(0.3)
            assert len(await _costs(cp, 3)) == 3
            tx = await server.store.get_transaction("COST-1", "tx-C")
            assert tx is not None and tx.cost == 0.5 and tx.cost_sent == 0.5
        await server.stop()

    asyncio.run(main())


def test_no_cost_updated_without_a_tariff(pki: Pki, tmp_path: Path) -> None:
    async def main() -> None:
        server = await start_server(pki, tmp_path / "csms.db")
        async with station(server, pki, "FREE-1", 1, v21) as cp:
            await cp.call(v21.TransactionEventRequest.from_json(_event("tx-F", "Started", 0, 1000.0)))
            await cp.call(v21.TransactionEventRequest.from_json(_event("tx-F", "Updated", 1, 5000.0)))
            await asyncio.sleep(0.3)
            assert [a for a, _ in cp.received] == []
        await server.stop()

    asyncio.run(main())


def test_v21_station_messages(pki: Pki, tmp_path: Path) -> None:
    async def main() -> None:
        responder = Responder(pki)
        ocsp_url = await responder.start()
        good, revoked = _cert(pki, "GOOD"), _cert(pki, "REVOKED")
        responder.revoked.add(revoked.serial_number)
        checker = OcspChecker(trusted=[pki.ca_cert])
        server = await start_server(pki, tmp_path / "csms.db", certificate_checker=checker, ocsp_relay=checker.relay)
        store = server.store
        async with station(server, pki, "CS-21", 1, v21) as cp:
            async def call(action: str, payload: dict[str, Any]) -> dict[str, Any]:
                answer = await cp.call(getattr(v21, action + "Request").from_json(payload))
                return dict(answer.to_json())

            await call("TransactionEvent", _event("tx-S", "Started", 0, 10.0))

            # NotifySettlement: stored, linked to its transaction; the same pspRef again replaces it
            settle = {"transactionId": "tx-S", "pspRef": "PSP-1", "status": "Failed", "settlementAmount": 1.5,
                      "settlementTime": NOW}
            assert await call("NotifySettlement", settle) == {}
            assert await call("NotifySettlement", {**settle, "status": "Settled", "receiptId": "R-7",
                                                   "vatNumber": "NL123456789B01"}) == {}
            tx = await store.get_transaction("CS-21", "tx-S")
            assert tx is not None
            [kept] = await store.list_settlements("CS-21")
            assert (kept.psp_ref, kept.status, kept.amount, kept.transaction_ref, kept.receipt_id, kept.vat_number) \
                == ("PSP-1", "Settled", 1.5, tx.id, "R-7", "NL123456789B01")

            # notifications the CSMS keeps as they came
            notes = [
                ("NotifyDERAlarm", {"controlType": "HVMustTrip", "timestamp": NOW, "gridEventFault": "OverVoltage"}),
                ("NotifyDERStartStop", {"controlId": "der-1", "started": True, "timestamp": NOW}),
                ("ReportDERControl", {"requestId": 7, "tbc": False}),
                ("NotifyPriorityCharging", {"transactionId": "tx-S", "activated": True}),
                ("BatterySwap", {"eventType": "BatteryIn", "requestId": 3,
                                 "idToken": {"idToken": "SWAP-1", "type": "ISO14443"},
                                 "batteryData": [{"evseId": 1, "serialNumber": "B-1", "soC": 80.0, "soH": 97.5}]}),
            ]
            for action, payload in notes:
                assert await call(action, payload) == {}, action
            events = await store.list_events("CS-21")
            assert [(e.action, json.loads(e.payload)) for e in events if e.action != "NotifySettlement"] == notes
            status, listed = await admin(server, "GET", "/api/events?station=CS-21&action=BatterySwap")
            assert status == 200 and [e["payload"] for e in listed] == [notes[-1][1]]
            status, listed = await admin(server, "GET", "/api/settlements?station=CS-21")
            assert status == 200 and [(s["psp_ref"], s["status"]) for s in listed] == [("PSP-1", "Settled")]

            # VatNumberValidation: a format check, the EVSE echoed
            assert await call("VatNumberValidation", {"vatNumber": "DE123456789", "evseId": 1}) == {
                "vatNumber": "DE123456789", "status": "Accepted", "evseId": 1}
            assert (await call("VatNumberValidation", {"vatNumber": "12"}))["status"] == "Rejected"

            # a periodic event stream: opened, fed by SEND (no answer), closed
            stream = {"id": 5, "variableMonitoringId": 12, "params": {"interval": 10, "values": 2}}
            assert await call("OpenPeriodicEventStream", {"constantStreamData": stream}) == {"status": "Accepted"}
            await cp.send(v21.NotifyPeriodicEventStreamRequest.from_json(
                {"id": 5, "pending": 0, "basetime": NOW, "data": [{"t": 0, "v": "11.5"}, {"t": 1.5, "v": "11.7"}]}))
            for _ in range(100):
                if server.service.streams[("CS-21", 5)].received:
                    break
                await asyncio.sleep(0.02)
            open_stream = server.service.streams[("CS-21", 5)]
            assert open_stream.constant == stream
            assert [v["v"] for _, v in open_stream.values] == ["11.5", "11.7"]
            assert await call("ClosePeriodicEventStream", {"id": 5}) == {}
            assert ("CS-21", 5) not in server.service.streams

            # PullDynamicScheduleUpdate: the limit of the profile the CSMS sent after the charging needs
            unknown = await call("PullDynamicScheduleUpdate", {"chargingProfileId": 1001})
            assert unknown["status"] == "Rejected"
            await call("NotifyEVChargingNeeds", {"evseId": 1, "chargingNeeds": {
                "requestedEnergyTransfer": "DC",
                "dcChargingParameters": {"evMaxCurrent": 100, "evMaxVoltage": 500, "evMaxPower": 11000}}})
            sent = await cp.wait_for("SetChargingProfile")
            profile_id = sent["chargingProfile"]["id"]
            assert await call("PullDynamicScheduleUpdate", {"chargingProfileId": profile_id}) == {
                "status": "Accepted", "scheduleUpdate": {"limit": 11000.0}}

            # GetCertificateChainStatus: OCSP through the relay, CRL not fetched
            def asked(cert: Any, source: str) -> dict[str, Any]:
                data = hash_data(cert, pki.ca_cert, ocsp_url)
                del data["responderURL"]
                return {"certificateHashData": data, "source": source, "urls": [ocsp_url]}

            answer = await call("GetCertificateChainStatus", {"certificateStatusRequests": [
                asked(good, "OCSP"), asked(revoked, "OCSP"), asked(good, "CRL")]})
            statuses = answer["certificateStatus"]
            assert [(s["source"], s["status"]) for s in statuses] == [("OCSP", "Good"), ("OCSP", "Revoked"),
                                                                      ("CRL", "Failed")]
            assert [s["certificateHashData"]["serialNumber"] for s in statuses] == [
                format(c.serial_number, "x") for c in (good, revoked, good)]
            next_update = datetime.datetime.fromisoformat(statuses[0]["nextUpdate"])
            assert next_update > datetime.datetime.now(datetime.UTC)  # the responder's nextUpdate (in 1 h)
            assert len(responder.requests) == 2
        await server.stop()
        assert responder.server is not None
        responder.server.close()

    asyncio.run(main())


def test_a_201_subclass_serves_21_with_the_21_additions() -> None:
    """``handler_factories(h201=...)`` (as the embedded CSMS of ``evcharge simulate`` does): its 2.1 connections
    get the subclass's behaviour and the 2.1 handlers."""
    from evcharge.csms.handlers import CsmsService, Handler21, Handler201
    from evcharge.csms.transport.sqlite import SqliteStore

    class Recording(Handler201):
        pass

    factories = CsmsService(SqliteStore(":memory:")).handler_factories(h201=Recording)
    handler: Any = factories["2.1"]("CS-X", None)  # type: ignore[arg-type]
    assert isinstance(handler, Recording) and isinstance(handler, Handler21)
    assert handler.handler_for("NotifySettlement") is not None
    assert not isinstance(factories["2.0.1"]("CS-X", None), Handler21)  # type: ignore[arg-type]
