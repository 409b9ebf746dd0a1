"""The reference CSMS with mobilityhouse's ``ocpp`` charge point, 2.0.1 and 1.6, over security profiles 1, 2 and 3."""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path
from typing import Any

import pytest
import websockets
from ocpp.routing import on as mh_on
from ocpp.v16 import ChargePoint as MhCp16
from ocpp.v16 import call as mcall16
from ocpp.v16 import call_result as mres16
from ocpp.v201 import ChargePoint as MhCp201
from ocpp.v201 import call as mcall201
from ocpp.v201 import call_result as mres201

from evcharge.csms import CsmsServer

from .helpers import PASSWORD, Pki, admin, basic, csr_for, make_pki, start_server

pytestmark = pytest.mark.interop
NOW = "2026-01-01T10:00:00Z"


class TheirCp201(MhCp201):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.received: list[tuple[str, dict[str, Any]]] = []

    @mh_on("Reset")
    def reset(self, **kw: Any) -> Any:
        self.received.append(("Reset", kw))
        return mres201.Reset(status="Accepted")

    @mh_on("CertificateSigned")
    def certificate_signed(self, **kw: Any) -> Any:
        self.received.append(("CertificateSigned", kw))
        return mres201.CertificateSigned(status="Accepted")


class TheirCp16(MhCp16):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.received: list[tuple[str, dict[str, Any]]] = []

    @mh_on("Reset")
    def reset(self, **kw: Any) -> Any:
        self.received.append(("Reset", kw))
        return mres16.Reset(status="Accepted")

    @mh_on("CertificateSigned")
    def certificate_signed(self, **kw: Any) -> Any:
        self.received.append(("CertificateSigned", kw))
        return mres16.CertificateSigned(status="Accepted")


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("mh-pki"))


def _connect_args(server: CsmsServer, pki: Pki, identity: str, profile: int) -> tuple[str, dict[str, Any]]:
    if profile == 1:
        return f"ws://127.0.0.1:{server.ports['ws']}/{identity}", {"additional_headers": basic(identity, PASSWORD)}
    ctx: ssl.SSLContext = pki.client_context(identity if profile == 3 else None)
    kw: dict[str, Any] = {"ssl": ctx}
    if profile == 2:
        kw["additional_headers"] = basic(identity, PASSWORD)
    return f"wss://localhost:{server.ports['wss']}/{identity}", kw


async def _wait(cp: Any, action: str) -> dict[str, Any]:
    for _ in range(1000):
        for name, kw in cp.received:
            if name == action:
                return dict(kw)
        await asyncio.sleep(0.01)
    raise AssertionError(f"no {action}")


@pytest.mark.parametrize("profile", [1, 2, 3])
def test_their_charge_point_201(pki: Pki, tmp_path: Path, profile: int) -> None:
    async def main() -> None:
        server = await start_server(pki, tmp_path / "csms.db", price_per_kwh=0.3)
        identity = f"MH201-{profile}"
        await admin(server, "PUT", f"/api/stations/{identity}", {"password": PASSWORD, "min_profile": profile})
        await admin(server, "PUT", "/api/tokens/MHTOKEN", {"status": "Accepted", "type": "ISO14443"})
        url, kw = _connect_args(server, pki, identity, profile)
        async with websockets.connect(url, subprotocols=["ocpp2.0.1"], proxy=None, **kw) as ws:  # type: ignore[list-item]
            cp = TheirCp201(identity, ws)
            reader = asyncio.create_task(cp.start())
            res = await cp.call(mcall201.BootNotification(charging_station={"vendor_name": "mh", "model": "m"},
                                                          reason="PowerUp"), suppress=False)
            assert res.status == "Accepted"
            res = await cp.call(mcall201.Authorize(id_token={"id_token": "MHTOKEN", "type": "ISO14443"}))
            assert res.id_token_info["status"] == "Accepted"
            res = await cp.call(mcall201.Authorize(id_token={"id_token": "NOPE", "type": "ISO14443"}))
            assert res.id_token_info["status"] == "Unknown"
            for seq, (event, wh) in enumerate((("Started", 100.0), ("Updated", 600.0), ("Ended", 1100.0))):
                res = await cp.call(mcall201.TransactionEvent(
                    event_type=event, timestamp=NOW, trigger_reason="MeterValuePeriodic", seq_no=seq,
                    transaction_info={"transaction_id": "mh-tx"}, evse={"id": 1, "connector_id": 1},
                    meter_value=[{"timestamp": NOW, "sampled_value": [
                        {"value": wh, "measurand": "Energy.Active.Import.Register"}]}]), suppress=False)
            assert res.total_cost == pytest.approx(0.3)  # 1 kWh
            status, answer = await admin(server, "POST", f"/api/stations/{identity}/call",
                                         {"action": "Reset", "payload": {"type": "OnIdle"}})
            assert (status, answer) == (200, {"result": {"status": "Accepted"}})
            assert cp.received[-1] == ("Reset", {"type": "OnIdle"})
            res = await cp.call(mcall201.SignCertificate(csr=csr_for(identity)), suppress=False)
            assert res.status == "Accepted"
            assert "BEGIN CERTIFICATE" in (await _wait(cp, "CertificateSigned"))["certificate_chain"]
            reader.cancel()
        _, txs = await admin(server, "GET", f"/api/transactions?station={identity}")
        assert [(t["transaction_id"], t["energy_wh"], t["messages"]) for t in txs] == [("mh-tx", 1000.0, 3)]
        await server.stop()

    asyncio.run(main())


@pytest.mark.parametrize("profile", [1, 2, 3])
def test_their_charge_point_16(pki: Pki, tmp_path: Path, profile: int) -> None:
    async def main() -> None:
        server = await start_server(pki, tmp_path / "csms.db")
        identity = f"MH16-{profile}"
        await admin(server, "PUT", f"/api/stations/{identity}", {"password": PASSWORD, "min_profile": profile})
        await admin(server, "PUT", "/api/tokens/MHTAG", {"status": "Accepted"})
        url, kw = _connect_args(server, pki, identity, profile)
        async with websockets.connect(url, subprotocols=["ocpp1.6"], proxy=None, **kw) as ws:  # type: ignore[list-item]
            cp = TheirCp16(identity, ws)
            reader = asyncio.create_task(cp.start())
            res = await cp.call(mcall16.BootNotification(charge_point_vendor="mh", charge_point_model="m"))
            assert res.status == "Accepted"
            res = await cp.call(mcall16.StartTransaction(connector_id=1, id_tag="MHTAG", meter_start=500,
                                                         timestamp=NOW))
            assert res.id_tag_info["status"] == "Accepted"
            tx = res.transaction_id
            await cp.call(mcall16.MeterValues(connector_id=1, transaction_id=tx, meter_value=[
                {"timestamp": NOW, "sampled_value": [{"value": "700", "measurand": "Energy.Active.Import.Register"}]}]))
            await cp.call(mcall16.StopTransaction(meter_stop=900, timestamp=NOW, transaction_id=tx), suppress=False)
            status, answer = await admin(server, "POST", f"/api/stations/{identity}/call",
                                         {"action": "Reset", "payload": {"type": "Hard"}})
            assert (status, answer) == (200, {"result": {"status": "Accepted"}})
            res = await cp.call(mcall16.SignCertificate(csr=csr_for(identity)), suppress=False)
            assert res.status == "Accepted"
            assert "BEGIN CERTIFICATE" in (await _wait(cp, "CertificateSigned"))["certificate_chain"]
            reader.cancel()
        _, detail = await admin(server, "GET", f"/api/transactions/{tx}")
        assert (detail["meter_start_wh"], detail["meter_stop_wh"], [v["value"] for v in detail["meter_values"]]) == (
            500.0, 900.0, [700.0])
        await server.stop()

    asyncio.run(main())
