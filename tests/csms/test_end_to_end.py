"""The reference CSMS end to end with our charge point: profiles 1, 2 and 3, 2.0.1 and 1.6, and its admin API."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID

from evcharge.csms import CsmsServer
from evcharge.ocpp import v16, v201
from evcharge.ocpp.charge_point import BackoffConfig, ChargePointConfig
from evcharge.ocpp.errors import OcppCallError
from evcharge.ocpp.transport.websocket import ChargePointClient, ClientSecurity

from .helpers import PASSWORD, Pki, Station, admin, csr_for, make_pki, start_server

NOW = "2026-01-01T10:00:00Z"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("csms-pki"))


@asynccontextmanager
async def station(server: CsmsServer, pki: Pki, identity: str, profile: int, version: Any
                  ) -> AsyncIterator[Station]:
    cp = Station(identity)
    if profile == 1:
        url, sec = f"ws://127.0.0.1:{server.ports['ws']}/ocpp", ClientSecurity(profile=1, password=PASSWORD)
    elif profile == 2:
        url = f"wss://localhost:{server.ports['wss']}/ocpp"
        sec = ClientSecurity(profile=2, password=PASSWORD, ssl_context=pki.client_context())
    else:
        url = f"wss://localhost:{server.ports['wss']}/ocpp"
        sec = ClientSecurity(profile=3, ssl_context=pki.client_context(identity))
    client = ChargePointClient(cp, url, ChargePointConfig(versions=(version,),
                                                          backoff=BackoffConfig(initial=0.05, maximum=0.2)),
                               security=sec, rng=random.Random(1))
    task = asyncio.create_task(client.run())
    try:
        await asyncio.wait_for(cp.wait_connected(), 10)
        yield cp
    finally:
        await client.stop()
        await asyncio.wait_for(task, 10)


def _mv(wh: float, extra: bool = True) -> list[dict[str, Any]]:
    sampled: list[dict[str, Any]] = [{"value": wh, "measurand": "Energy.Active.Import.Register",
                                      "unitOfMeasure": {"unit": "Wh"}}]
    if extra:
        sampled.append({"value": 230.1, "measurand": "Voltage", "phase": "L1-N", "unitOfMeasure": {"unit": "V"}})
    return [{"timestamp": NOW, "sampledValue": sampled}]


async def _session_201(cp: Station, server: CsmsServer, identity: str) -> None:
    boot = await cp.call(v201.BootNotificationRequest.from_json(
        {"chargingStation": {"vendorName": "evcharge", "model": "T1", "serialNumber": "S-9"}, "reason": "PowerUp"}))
    assert boot.status == "Accepted" and boot.interval == 300
    ok = await cp.call(v201.AuthorizeRequest.from_json({"idToken": {"idToken": "GOOD", "type": "ISO14443"}}))
    assert ok.id_token_info.status == "Accepted"
    assert ok.to_json()["idTokenInfo"]["groupIdToken"]["idToken"] == "FLEET"
    assert (await cp.call(v201.AuthorizeRequest.from_json(
        {"idToken": {"idToken": "OLD", "type": "ISO14443"}}))).id_token_info.status == "Expired"
    assert (await cp.call(v201.AuthorizeRequest.from_json(
        {"idToken": {"idToken": "NOBODY", "type": "ISO14443"}}))).id_token_info.status == "Unknown"
    assert (await cp.call(v201.AuthorizeRequest.from_json(
        {"idToken": {"idToken": "STOLEN", "type": "ISO14443"}}))).id_token_info.status == "Blocked"
    base = {"transactionInfo": {"transactionId": "tx-A"}, "evse": {"id": 1, "connectorId": 1}}
    await cp.call(v201.TransactionEventRequest.from_json(
        {**base, "eventType": "Started", "timestamp": NOW, "triggerReason": "Authorized", "seqNo": 0,
         "idToken": {"idToken": "GOOD", "type": "ISO14443"}, "meterValue": _mv(1000.0)}))
    upd = {**base, "eventType": "Updated", "timestamp": NOW, "triggerReason": "MeterValuePeriodic", "seqNo": 1,
           "meterValue": _mv(1500.0)}
    await cp.call(v201.TransactionEventRequest.from_json(upd))
    await cp.call(v201.TransactionEventRequest.from_json(upd))  # sent again: answered, counted once
    end = await cp.call(v201.TransactionEventRequest.from_json(
        {**base, "eventType": "Ended", "timestamp": NOW, "triggerReason": "StopAuthorized", "seqNo": 2,
         "transactionInfo": {"transactionId": "tx-A", "stoppedReason": "Local"}, "meterValue": _mv(3000.0)}))
    assert end.total_cost == pytest.approx(0.5)  # 2 kWh at 0.25 per kWh
    status, txs = await admin(server, "GET", f"/api/transactions?station={identity}")
    assert status == 200 and len(txs) == 1
    tx = txs[0]
    assert (tx["transaction_id"], tx["meter_start_wh"], tx["meter_stop_wh"], tx["energy_wh"], tx["messages"],
            tx["stop_reason"], tx["id_token"]) == ("tx-A", 1000.0, 3000.0, 2000.0, 3, "Local", "GOOD")
    status, detail = await admin(server, "GET", f"/api/transactions/{tx['id']}")
    energy = [v["value"] for v in detail["meter_values"] if v["measurand"] == "Energy.Active.Import.Register"]
    assert energy == [1000.0, 1500.0, 3000.0]  # every value linked to its transaction, none twice
    assert len(detail["meter_values"]) == 6


async def _session_16(cp: Station, server: CsmsServer, identity: str) -> None:
    boot = await cp.call(v16.BootNotificationRequest(charge_point_vendor="evcharge", charge_point_model="T1"))
    assert boot.status == "Accepted"
    assert (await cp.call(v16.AuthorizeRequest(id_tag="GOOD"))).id_tag_info.status == "Accepted"
    assert (await cp.call(v16.AuthorizeRequest(id_tag="NOBODY"))).id_tag_info.status == "Invalid"
    start = await cp.call(v16.StartTransactionRequest(connector_id=1, id_tag="GOOD", meter_start=2000,
                                                      timestamp=NOW))
    again = await cp.call(v16.StartTransactionRequest(connector_id=1, id_tag="GOOD", meter_start=2000,
                                                      timestamp=NOW))  # its answer was lost: the same id
    assert again.transaction_id == start.transaction_id
    await cp.call(v16.MeterValuesRequest.from_json({"connectorId": 1, "transactionId": start.transaction_id,
                                                    "meterValue": [{"timestamp": NOW, "sampledValue": [
                                                        {"value": "2.5", "unit": "kWh"}]}]}))
    await cp.call(v16.StopTransactionRequest(meter_stop=3000, timestamp=NOW, transaction_id=start.transaction_id,
                                             reason="EVDisconnected"))
    status, tx = await admin(server, "GET", f"/api/transactions/{start.transaction_id}")
    assert status == 200
    assert (tx["station_id"], tx["meter_start_wh"], tx["meter_stop_wh"], tx["energy_wh"], tx["stop_reason"],
            tx["cost"]) == (identity, 2000.0, 3000.0, 1000.0, "EVDisconnected", 0.25)
    assert [(v["value"], v["unit"]) for v in tx["meter_values"]] == [(2.5, "kWh")]


async def _setup_registry(server: CsmsServer, identity: str, profile: int) -> None:
    assert (await admin(server, "PUT", f"/api/stations/{identity}",
                        {"password": PASSWORD, "min_profile": profile}))[0] == 200
    for token, body in {"GOOD": {"status": "Accepted", "group_id": "FLEET"},
                        "OLD": {"status": "Accepted", "expiry": "2020-01-01T00:00:00Z"},
                        "STOLEN": {"status": "Blocked"}}.items():
        assert (await admin(server, "PUT", f"/api/tokens/{token}", body))[0] == 200


@pytest.mark.parametrize("profile", [1, 2, 3])
@pytest.mark.parametrize("version", [v201, v16], ids=["2.0.1", "1.6"])
def test_our_station_every_profile(pki: Pki, tmp_path: Path, profile: int, version: Any) -> None:
    async def main() -> None:
        server = await start_server(pki, tmp_path / "csms.db", price_per_kwh=0.25)
        identity = f"CS-{profile}-{version.VERSION}"
        await _setup_registry(server, identity, profile)
        async with station(server, pki, identity, profile, version) as cp:
            if version is v201:
                await _session_201(cp, server, identity)
            else:
                await _session_16(cp, server, identity)
            # any CALL through the admin API, and its answer
            payload = {"type": "Immediate"} if version is v201 else {"type": "Soft"}
            status, answer = await admin(server, "POST", f"/api/stations/{identity}/call",
                                         {"action": "Reset", "payload": payload})
            assert (status, answer) == (200, {"result": {"status": "Accepted"}})
            assert cp.received[-1] == ("Reset", payload)
            status, stations = await admin(server, "GET", "/api/stations")
            [me] = [s for s in stations if s["id"] == identity]
            assert me["connected"] and me["profile"] == profile and me["version"] == version.VERSION
            assert me["has_password"] and "password" not in me
        await server.stop()

    asyncio.run(main())


def test_minimum_profile_and_wrong_password(pki: Pki, tmp_path: Path) -> None:
    from .helpers import basic

    async def status_of(url: str, **kw: Any) -> int:
        import websockets

        try:
            async with websockets.connect(url, subprotocols=["ocpp2.0.1"], proxy=None, **kw):  # type: ignore[list-item]
                return 101
        except websockets.InvalidStatus as exc:
            return int(exc.response.status_code)

    async def main() -> None:
        server = await start_server(pki, tmp_path / "csms.db", auto_register=False)
        await admin(server, "PUT", "/api/stations/HI", {"password": PASSWORD, "min_profile": 3})
        await admin(server, "PUT", "/api/stations/MID", {"password": PASSWORD, "min_profile": 2})
        ws, wss = f"ws://127.0.0.1:{server.ports['ws']}", f"wss://localhost:{server.ports['wss']}"
        tls = pki.client_context()
        assert await status_of(f"{wss}/HI", ssl=tls, additional_headers=basic("HI", PASSWORD)) == 403
        assert await status_of(f"{wss}/HI", ssl=pki.client_context("HI")) == 101
        assert await status_of(f"{ws}/MID", additional_headers=basic("MID", PASSWORD)) == 403  # 1 < 2
        assert await status_of(f"{wss}/MID", ssl=tls, additional_headers=basic("MID", PASSWORD)) == 101
        assert await status_of(f"{wss}/MID", ssl=tls, additional_headers=basic("MID", "x" * 16)) == 401
        assert await status_of(f"{ws}/MID") == 401 or await status_of(f"{ws}/MID") == 403  # no password at all
        assert await status_of(f"{ws}/STRANGER") == 403  # not registered, and registration is closed
        await server.stop()

    asyncio.run(main())


def test_pending_and_rejected_boot(pki: Pki, tmp_path: Path) -> None:
    async def main() -> None:
        server = await start_server(pki, tmp_path / "csms.db")
        await admin(server, "PUT", "/api/stations/P-1", {"password": PASSWORD, "boot_status": "Pending"})
        async with station(server, pki, "P-1", 1, v201) as cp:
            boot = await cp.call(v201.BootNotificationRequest.from_json(
                {"chargingStation": {"vendorName": "v", "model": "m"}, "reason": "PowerUp"}))
            assert (boot.status, boot.interval) == ("Pending", 30)
            # OCPP 2.0.1 B02.FR.09: while Pending, a CALL the CSMS did not ask for is answered with SecurityError
            with pytest.raises(OcppCallError) as refused:
                await cp.call(v201.HeartbeatRequest())
            assert refused.value.code == "SecurityError"
            _, answer = await admin(server, "POST", "/api/stations/P-1/call", {
                "action": "TriggerMessage", "payload": {"requestedMessage": "StatusNotification"}})
            assert answer == {"result": {"status": "Accepted"}}
            await cp.call(v201.StatusNotificationRequest.from_json(  # asked for: answered
                {"timestamp": NOW, "connectorStatus": "Available", "evseId": 1, "connectorId": 1}))
            await admin(server, "PUT", "/api/stations/P-1", {"boot_status": "Rejected"})
            boot = await cp.call(v201.BootNotificationRequest.from_json(
                {"chargingStation": {"vendorName": "v", "model": "m"}, "reason": "PowerUp"}))
            assert boot.status == "Rejected"
            await admin(server, "PUT", "/api/stations/P-1", {"boot_status": "Accepted"})
            boot = await cp.call(v201.BootNotificationRequest.from_json(
                {"chargingStation": {"vendorName": "v", "model": "m"}, "reason": "PowerUp"}))
            assert (boot.status, boot.interval) == ("Accepted", 300)
        assert (await admin(server, "PUT", "/api/stations/P-1", {"boot_status": "Maybe"}))[0] == 400
        assert (await admin(server, "PUT", "/api/stations/P-1", {"password": "short"}))[0] == 400
        await server.stop()

    asyncio.run(main())


@pytest.mark.parametrize("version", [v201, v16], ids=["2.0.1", "1.6"])
def test_sign_certificate_then_certificate_signed(pki: Pki, tmp_path: Path, version: Any) -> None:
    async def main() -> None:
        server = await start_server(pki, tmp_path / "csms.db")
        await admin(server, "PUT", "/api/stations/SIGN-1", {"password": PASSWORD})
        async with station(server, pki, "SIGN-1", 2, version) as cp:
            answer = await cp.call(version.request_class("SignCertificate").from_json({"csr": csr_for("SIGN-1")}))
            assert answer.status == "Accepted"
            chain = (await cp.wait_for("CertificateSigned"))["certificateChain"]
            leaf = x509.load_pem_x509_certificates(chain.encode())[0]
            assert leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "SIGN-1"
            leaf.verify_directly_issued_by(pki.ca_cert)  # signed by the configured CA
            # a CSR for another identity is refused, and nothing follows
            refused = await cp.call(version.request_class("SignCertificate").from_json({"csr": csr_for("OTHER")}))
            assert refused.status == "Rejected"
        await server.stop()

    asyncio.run(main())


def test_seq_no_gap_asks_get_transaction_status(pki: Pki, tmp_path: Path) -> None:
    async def main() -> None:
        server = await start_server(pki, tmp_path / "csms.db", accept_unknown_tokens=True)
        await admin(server, "PUT", "/api/stations/GAP-1", {"password": PASSWORD})
        async with station(server, pki, "GAP-1", 1, v201) as cp:
            base = {"transactionInfo": {"transactionId": "g1"}, "timestamp": NOW, "triggerReason": "Authorized"}
            await cp.call(v201.TransactionEventRequest.from_json({**base, "eventType": "Started", "seqNo": 0}))
            await cp.call(v201.TransactionEventRequest.from_json({**base, "eventType": "Updated", "seqNo": 1}))
            assert not [a for a, _ in cp.received if a == "GetTransactionStatus"]
            await cp.call(v201.TransactionEventRequest.from_json({**base, "eventType": "Updated", "seqNo": 4}))
            assert await cp.wait_for("GetTransactionStatus") == {"transactionId": "g1"}
        await server.stop()

    asyncio.run(main())


def test_charging_needs_then_profile_and_schedule_check(pki: Pki, tmp_path: Path) -> None:
    async def main() -> None:
        server = await start_server(pki, tmp_path / "csms.db", max_power_w=11_000.0)
        await admin(server, "PUT", "/api/stations/SC-1", {"password": PASSWORD})
        async with station(server, pki, "SC-1", 1, v201) as cp:
            needs = {"evseId": 1, "chargingNeeds": {"requestedEnergyTransfer": "DC", "dcChargingParameters": {
                "evMaxCurrent": 200, "evMaxVoltage": 500, "evMaxPower": 50_000}}}
            assert (await cp.call(v201.NotifyEVChargingNeedsRequest.from_json(needs))).status == "Accepted"
            sent = await cp.wait_for("SetChargingProfile")
            assert sent["evseId"] == 1
            profile = sent["chargingProfile"]
            assert profile["chargingProfilePurpose"] == "TxProfile"
            assert profile["chargingSchedule"][0]["chargingSchedulePeriod"] == [{"startPeriod": 0, "limit": 11000.0}]

            def schedule(limit: float) -> Any:
                return v201.NotifyEVChargingScheduleRequest.from_json({"evseId": 1, "timeBase": NOW,
                                                                       "chargingSchedule": {
                                                                           "id": 1, "chargingRateUnit": "W",
                                                                           "chargingSchedulePeriod": [
                                                                               {"startPeriod": 0, "limit": limit}]}})

            assert (await cp.call(schedule(10_000.0))).status == "Accepted"
            assert (await cp.call(schedule(20_000.0))).status == "Rejected"  # above what the CSMS granted
        await server.stop()

    asyncio.run(main())


def test_ev_certificate_relayed_and_local_list(pki: Pki, tmp_path: Path) -> None:
    async def main() -> None:
        server = await start_server(pki, tmp_path / "csms.db")
        await admin(server, "PUT", "/api/stations/EV-1", {"password": PASSWORD})
        await admin(server, "PUT", "/api/tokens/GOOD", {"status": "Accepted", "type": "ISO14443"})
        await admin(server, "PUT", "/api/tokens/BAD", {"status": "Blocked", "type": "ISO14443"})
        async with station(server, pki, "EV-1", 1, v201) as cp:
            res = await cp.call(v201.Get15118EVCertificateRequest.from_json(
                {"iso15118SchemaVersion": "urn:iso:15118:2:2013:MsgDef", "action": "Install", "exiRequest": "AAAA"}))
            assert (res.status, res.exi_response) == ("Accepted", "AAEC")
            provider: Any = server.service.settings.contract_provider
            assert provider.requests == [("EV-1", "urn:iso:15118:2:2013:MsgDef", "Install", "AAAA")]
            status, answer = await admin(server, "POST", "/api/stations/EV-1/local-list")
            assert status == 200 and answer["result"] == {"status": "Accepted"} and answer["version"] == 1
            sent = await cp.wait_for("SendLocalList")
            assert sent["versionNumber"] == 1 and sent["updateType"] == "Full"
            assert {(e["idToken"]["idToken"], e["idTokenInfo"]["status"]) for e in sent["localAuthorizationList"]} \
                == {("GOOD", "Accepted"), ("BAD", "Blocked")}
            # an answer the station refuses comes back as the CALLERROR
            status, answer = await admin(server, "POST", "/api/stations/EV-1/call",
                                         {"action": "ClearCache", "payload": {}})
            assert status == 200 and answer["error"]["code"] == "NotSupported"
        status, _ = await admin(server, "POST", "/api/stations/EV-1/call", {"action": "ClearCache", "payload": {}})
        assert status == 404  # not connected any more
        await server.stop()

    asyncio.run(main())


def test_restart_sqlite_loses_nothing(pki: Pki, tmp_path: Path) -> None:
    async def main() -> None:
        db = tmp_path / "csms.db"
        server = await start_server(pki, db)
        await _setup_registry(server, "R-1", 1)
        async with station(server, pki, "R-1", 1, v16) as cp:
            await cp.call(v16.BootNotificationRequest(charge_point_vendor="v", charge_point_model="m"))
            first = await cp.call(v16.StartTransactionRequest(connector_id=1, id_tag="GOOD", meter_start=10,
                                                              timestamp=NOW))
            await cp.call(v16.MeterValuesRequest.from_json({"connectorId": 1, "transactionId": first.transaction_id,
                                                            "meterValue": [{"timestamp": NOW, "sampledValue": [
                                                                {"value": "20"}]}]}))
        before = {p: (await admin(server, "GET", p))[1] for p in ("/api/stations", "/api/tokens", "/api/transactions",
                                                                   f"/api/transactions/{first.transaction_id}")}
        await server.stop()
        server = await start_server(pki, db)  # a new process would see the same file
        after = {p: (await admin(server, "GET", p))[1] for p in before}
        for p in before:
            if p == "/api/stations":
                for s in before[p] + after[p]:
                    s["connected"] = False
                    s["profile"] = s["version"] = None
            assert after[p] == before[p], p
        async with station(server, pki, "R-1", 1, v16) as cp:  # the password survived (only as a hash)
            second = await cp.call(v16.StartTransactionRequest(connector_id=1, id_tag="GOOD", meter_start=30,
                                                               timestamp="2026-01-01T11:00:00Z"))
            assert second.transaction_id > first.transaction_id  # monotonic across the restart
        await server.stop()

    asyncio.run(main())


def test_ocpp_21_station(pki: Pki, tmp_path: Path) -> None:
    """2.1 on the same endpoints: the 2.0.1 answers hold (the role has 2.1; the payloads used here are shared)."""
    from evcharge.ocpp import v21

    async def main() -> None:
        server = await start_server(pki, tmp_path / "csms.db", price_per_kwh=0.25)
        await _setup_registry(server, "CS-21", 2)
        async with station(server, pki, "CS-21", 2, v21) as cp:
            assert cp.version is v21
            boot = await cp.call(v21.BootNotificationRequest.from_json(
                {"chargingStation": {"vendorName": "evcharge", "model": "T21"}, "reason": "PowerUp"}))
            assert boot.status == "Accepted"
            ok = await cp.call(v21.AuthorizeRequest.from_json({"idToken": {"idToken": "GOOD", "type": "ISO14443"}}))
            assert ok.id_token_info.status == "Accepted"
            base = {"transactionInfo": {"transactionId": "tx-21"}, "evse": {"id": 1, "connectorId": 1},
                    "timestamp": NOW, "triggerReason": "Authorized"}
            await cp.call(v21.TransactionEventRequest.from_json({**base, "eventType": "Started", "seqNo": 0,
                                                                 "meterValue": _mv(0.0, extra=False)}))
            end = await cp.call(v21.TransactionEventRequest.from_json({**base, "eventType": "Ended", "seqNo": 1,
                                                                       "meterValue": _mv(4000.0, extra=False)}))
            assert end.total_cost == pytest.approx(1.0)
            status, answer = await admin(server, "POST", "/api/stations/CS-21/call",
                                         {"action": "Reset", "payload": {"type": "Immediate"}})
            assert (status, answer) == (200, {"result": {"status": "Accepted"}})
        _, stations = await admin(server, "GET", "/api/stations")
        assert [s["ocpp_version"] for s in stations if s["id"] == "CS-21"] == ["2.1"]
        await server.stop()

    asyncio.run(main())


def test_admin_api_refuses_plainly(pki: Pki, tmp_path: Path) -> None:
    import dataclasses
    import http.client
    import json

    from evcharge.csms import CsmsServer
    from evcharge.csms.transport.sqlite import SqliteStore

    from .helpers import start_server_config

    async def main() -> None:
        config = dataclasses.replace(start_server_config(pki), admin_token="s3cret")
        guarded = CsmsServer(config, SqliteStore(tmp_path / "g.db"))
        await guarded.start()
        port = guarded.ports["admin"]

        def raw(method: str, path: str, body: bytes | None = None, token: str | None = None) -> tuple[int, Any]:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            conn.request(method, path, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            conn.close()
            return resp.status, json.loads(data) if data else None

        assert (await asyncio.to_thread(raw, "GET", "/api/stations"))[0] == 401
        assert (await asyncio.to_thread(raw, "GET", "/api/stations", None, "wrong"))[0] == 401
        assert await asyncio.to_thread(raw, "GET", "/api/stations", None, "s3cret") == (200, [])
        assert (await asyncio.to_thread(raw, "GET", "/api/nothing", None, "s3cret"))[0] == 404
        assert (await asyncio.to_thread(raw, "PUT", "/api/tokens/X", b"{not json", "s3cret"))[0] == 400
        assert (await asyncio.to_thread(raw, "PUT", "/api/tokens/X", b'{"status": "Maybe"}', "s3cret"))[0] == 400
        assert (await asyncio.to_thread(raw, "POST", "/api/stations/X/call", b'{"payload": {}}', "s3cret"))[0] == 400
        assert (await asyncio.to_thread(raw, "GET", "/api/transactions/abc", None, "s3cret"))[0] == 400
        assert (await asyncio.to_thread(raw, "DELETE", "/api/tokens/NONE", None, "s3cret"))[0] == 404
        await guarded.stop()

    asyncio.run(main())


def test_seq_no_ranges() -> None:
    from evcharge.csms.handlers import seq_ranges, seq_text

    text = ""
    for seq in (0, 1, 2, 5, 3, 4, 9, 2):
        text = seq_text(seq_ranges(text), seq)
    assert text == "0-5,9"
    assert seq_ranges(text) == [(0, 5), (9, 9)]


def test_one_connection_per_station_across_both_endpoints(pki: Pki, tmp_path: Path) -> None:
    """A station reconnecting on the other endpoint replaces its first connection (one table for ws:// and wss://)."""

    async def main() -> None:
        server = await start_server(pki, tmp_path / "csms.db")
        await admin(server, "PUT", "/api/stations/TWO", {"password": PASSWORD})
        async with station(server, pki, "TWO", 1, v201) as first:
            old = server.csms.connections["TWO"]
            assert old.handshake is not None and old.handshake.profile == 1
            async with station(server, pki, "TWO", 2, v201) as second:
                for _ in range(500):
                    if not first.connected or server.csms.connections.get("TWO") is not old:
                        break
                    await asyncio.sleep(0.01)
                new = server.csms.connections["TWO"]
                assert new is not old and new.handshake is not None and new.handshake.profile == 2
                assert second.connected
        await server.stop()

    asyncio.run(main())
