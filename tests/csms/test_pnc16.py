"""The reference CSMS answering Plug & Charge on OCPP 1.6 per the Open Charge Alliance's application note "Using
ISO 15118 Plug & Charge with OCPP 1.6": DataTransfer with vendorId ``org.openchargealliance.iso15118pnc``,
messageId the 2.0.1 action and ``data`` the JSON text of the 2.0.1 request; the answer Accepted with the JSON text
of the 2.0.1 response in ``data`` (UnknownMessageId / UnknownVendorId / Rejected otherwise).

The decisions are the ones the same CSMS makes for a 2.0.1 station (Authorize with its certificateStatus,
Get15118EVCertificate from its contract provider): both are asked over real websockets and compared.  Every outer
message is valid for the 1.6 schema, every inner ``data`` for the 2.0.1 schema of its messageId."""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path
from typing import Any

import pytest

from evcharge.ocpp import v16, v201
from evcharge.ocpp.functions.application import PNC_VENDOR_ID

from .helpers import Pki, admin, make_pki, start_server
from .test_end_to_end import station

pytest.importorskip("cryptography")

HASH = {"hashAlgorithm": "SHA256", "issuerNameHash": "a" * 64, "issuerKeyHash": "b" * 64,
        "serialNumber": "1a2b", "responderURL": "http://ocsp.example/"}
REVOKED = {**HASH, "serialNumber": "dead"}
EXI = base64.b64encode(b"\x80\x98\x02\x10").decode()


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("csms-pki"))


async def _checker(hash_data: dict[str, Any]) -> str:
    """OCSP stand-in: the serial number decides."""
    return "Revoked" if hash_data["serialNumber"] == "dead" else "Good"


async def _transfer(cp: Any, payload: dict[str, Any]) -> dict[str, Any]:
    """A 1.6 DataTransfer; its answer, the request and the answer valid for the 1.6 schema."""
    assert v16.validate("DataTransfer", "request", payload) == [], payload
    answer: dict[str, Any] = (await cp.call(v16.DataTransferRequest.from_json(payload))).to_json()
    assert v16.validate("DataTransfer", "response", answer) == [], answer
    return answer


async def _pnc(cp: Any, message_id: str, request: dict[str, Any]) -> dict[str, Any]:
    """The application note's call of ``message_id``: the 2.0.1 response carried by an Accepted answer."""
    assert v201.validate(message_id, "request", request) == [], request
    answer = await _transfer(cp, {"vendorId": PNC_VENDOR_ID, "messageId": message_id, "data": json.dumps(request)})
    assert answer["status"] == "Accepted", answer
    inner: dict[str, Any] = json.loads(answer["data"])
    assert v201.validate(message_id, "response", inner) == [], inner
    return inner


def _run(pki: Pki, tmp: Path, test: Any, **settings: Any) -> None:
    async def main() -> None:
        server = await start_server(pki, tmp / "csms.db", **settings)
        try:
            for identity in ("PNC16", "PNC201"):
                assert (await admin(server, "PUT", f"/api/stations/{identity}", {"password": "0123456789abcdef-pw"})
                        )[0] == 200
            for token, body in {"EMAID1": {"status": "Accepted", "type": "eMAID"},
                                "EMAID2": {"status": "Blocked", "type": "eMAID"}}.items():
                assert (await admin(server, "PUT", f"/api/tokens/{token}", body))[0] == 200
            async with station(server, pki, "PNC16", 1, v16) as cp16, station(server, pki, "PNC201", 1, v201) as cp201:
                await cp16.call(v16.BootNotificationRequest(charge_point_vendor="evcharge", charge_point_model="T1"))
                await cp201.call(v201.BootNotificationRequest.from_json(
                    {"chargingStation": {"vendorName": "evcharge", "model": "T1"}, "reason": "PowerUp"}))
                await test(cp16, cp201)
        finally:
            await server.stop()

    asyncio.run(main())


def test_authorize_is_the_201_decision_with_its_certificate_status(pki: Pki, tmp_path: Path) -> None:
    """C07 through DataTransfer: a Good contract Accepted, a revoked one CertificateRevoked and Invalid, a blocked
    eMAID Blocked -- each the answer a 2.0.1 station gets for the same AuthorizeRequest."""
    async def test(cp16: Any, cp201: Any) -> None:
        cases = [("EMAID1", HASH, "Accepted", "Accepted"), ("EMAID1", REVOKED, "Invalid", "CertificateRevoked"),
                 ("EMAID2", HASH, "Blocked", "Accepted")]
        for emaid, hash_data, status, certificate in cases:
            request = {"idToken": {"idToken": emaid, "type": "eMAID"}, "iso15118CertificateHashData": [hash_data]}
            inner = await _pnc(cp16, "Authorize", request)
            assert (inner["idTokenInfo"]["status"], inner["certificateStatus"]) == (status, certificate)
            same = (await cp201.call(v201.AuthorizeRequest.from_json(request))).to_json()
            assert inner == same

    _run(pki, tmp_path, test, certificate_checker=_checker)


def test_authorize_without_ocsp_is_no_certificate_available(pki: Pki, tmp_path: Path) -> None:
    async def test(cp16: Any, cp201: Any) -> None:
        inner = await _pnc(cp16, "Authorize", {"idToken": {"idToken": "EMAID1", "type": "eMAID"},
                                               "iso15118CertificateHashData": [HASH]})
        assert inner == {"idTokenInfo": {"status": "Accepted"}, "certificateStatus": "NoCertificateAvailable"}

    _run(pki, tmp_path, test)


def test_ev_certificate_is_the_contract_providers_answer(pki: Pki, tmp_path: Path) -> None:
    """Get15118EVCertificate through DataTransfer: the provider's status and exiResponse, as for 2.0.1 (helpers'
    StaticContractProvider answers every request alike)."""
    async def test(cp16: Any, cp201: Any) -> None:
        request = {"iso15118SchemaVersion": "urn:iso:15118:2:2013:MsgDef", "action": "Install", "exiRequest": EXI}
        inner = await _pnc(cp16, "Get15118EVCertificate", request)
        assert inner["status"] == "Accepted" and inner["exiResponse"]
        same = (await cp201.call(v201.Get15118EVCertificateRequest.from_json(request))).to_json()
        assert inner == same

    _run(pki, tmp_path, test)


def test_ev_certificate_without_provider_is_failed(pki: Pki, tmp_path: Path) -> None:
    async def test(cp16: Any, cp201: Any) -> None:
        inner = await _pnc(cp16, "Get15118EVCertificate", {"iso15118SchemaVersion": "urn:iso:15118:2:2013:MsgDef",
                                                           "action": "Install", "exiRequest": EXI})
        assert inner == {"status": "Failed", "exiResponse": ""}

    _run(pki, tmp_path, test, contract_provider=None)


def test_what_it_does_not_carry(pki: Pki, tmp_path: Path) -> None:
    """Another vendorId: UnknownVendorId; a messageId of the note this CSMS does not answer (SignCertificate goes
    through the security extension's own 1.6 message) or none: UnknownMessageId; data that is no valid 2.0.1
    request: Rejected."""
    async def test(cp16: Any, cp201: Any) -> None:
        assert (await _transfer(cp16, {"vendorId": "com.example", "messageId": "Authorize", "data": "{}"}))[
            "status"] == "UnknownVendorId"
        for message_id in ("GetCertificateStatus", "Frobnicate"):
            assert (await _transfer(cp16, {"vendorId": PNC_VENDOR_ID, "messageId": message_id, "data": "{}"}))[
                "status"] == "UnknownMessageId"
        assert (await _transfer(cp16, {"vendorId": PNC_VENDOR_ID}))["status"] == "UnknownMessageId"
        for data in ("not json", "[]", json.dumps({"idToken": {"idToken": "EMAID1"}})):  # (type is required)
            assert (await _transfer(cp16, {"vendorId": PNC_VENDOR_ID, "messageId": "Authorize", "data": data}))[
                "status"] == "Rejected"
        assert (await _transfer(cp16, {"vendorId": PNC_VENDOR_ID, "messageId": "Authorize"}))["status"] == "Rejected"

    _run(pki, tmp_path, test)
