"""OCSP against a local responder (RFC 6960 over HTTP, run here): good and revoked, through Authorize's
15118 certificate hash data and GetCertificateStatus, with our station on the reference CSMS."""

from __future__ import annotations

import asyncio
import base64
import datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import ocsp
from cryptography.x509.oid import NameOID

from evcharge.csms.ocsp import OcspChecker, build_request, read_response
from evcharge.ocpp import v201

from .helpers import PASSWORD, Pki, admin, make_pki, start_server
from .test_end_to_end import station


def _cert(pki: Pki, cn: str) -> x509.Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    return (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
            .issuer_name(pki.ca_cert.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=1))
            .sign(pki.ca_key, hashes.SHA256()))


def hash_data(cert: x509.Certificate, issuer: x509.Certificate, url: str) -> dict[str, Any]:
    """OCPP's OCSPRequestDataType of ``cert``, computed here independently of the code under test."""
    digest = hashes.Hash(hashes.SHA256())
    digest.update(issuer.subject.public_bytes())
    name_hash = digest.finalize()
    spki = issuer.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    # the key hash is over the subjectPublicKey BIT STRING's contents; for P-256 that is the last 65 bytes
    point = issuer.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    assert spki.endswith(point)
    digest = hashes.Hash(hashes.SHA256())
    digest.update(point)
    return {"hashAlgorithm": "SHA256", "issuerNameHash": name_hash.hex(), "issuerKeyHash": digest.finalize().hex(),
            "serialNumber": format(cert.serial_number, "x"), "responderURL": url}


class Responder:
    """A minimal OCSP responder over HTTP: ``revoked`` serials are Revoked, every other one is Good."""

    def __init__(self, pki: Pki) -> None:
        self.pki = pki
        self.revoked: set[int] = set()
        self.requests: list[ocsp.OCSPRequest] = []
        self.server: asyncio.Server | None = None

    async def start(self) -> str:
        self.server = await asyncio.start_server(self._client, "127.0.0.1", 0)
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}/ocsp"

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = (await reader.readuntil(b"\r\n\r\n")).decode()
        length = int(next(line.split(":")[1] for line in head.split("\r\n")
                          if line.lower().startswith("content-length")))
        assert head.startswith("POST /ocsp HTTP/1.1") and "application/ocsp-request" in head
        request = ocsp.load_der_ocsp_request(await reader.readexactly(length))
        self.requests.append(request)
        now = datetime.datetime.now(datetime.UTC)
        revoked = request.serial_number in self.revoked
        response = ocsp.OCSPResponseBuilder().add_response_by_hash(
            issuer_name_hash=request.issuer_name_hash, issuer_key_hash=request.issuer_key_hash,
            serial_number=request.serial_number, algorithm=request.hash_algorithm,
            cert_status=ocsp.OCSPCertStatus.REVOKED if revoked else ocsp.OCSPCertStatus.GOOD,
            this_update=now, next_update=now + datetime.timedelta(hours=1),
            revocation_time=now - datetime.timedelta(hours=1) if revoked else None,
            revocation_reason=x509.ReasonFlags.key_compromise if revoked else None,
        ).responder_id(ocsp.OCSPResponderEncoding.HASH, self.pki.ca_cert).sign(self.pki.ca_key, hashes.SHA256())
        der = response.public_bytes(serialization.Encoding.DER)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/ocsp-response\r\nContent-Length: "
                     + str(len(der)).encode() + b"\r\n\r\n" + der)
        await writer.drain()
        writer.close()


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("ocsp-pki"))


def test_request_is_the_cert_id_asked_for(pki: Pki) -> None:
    cert = _cert(pki, "EMAID-1")
    data = hash_data(cert, pki.ca_cert, "http://127.0.0.1/")
    request = ocsp.load_der_ocsp_request(build_request(data))
    # the same CertID cryptography computes from the certificates themselves
    reference = ocsp.OCSPRequestBuilder().add_certificate(cert, pki.ca_cert, hashes.SHA256()).build()
    assert (request.issuer_name_hash, request.issuer_key_hash, request.serial_number) == (
        reference.issuer_name_hash, reference.issuer_key_hash, reference.serial_number)
    assert read_response(b"garbage", data) == "Failed"


def test_good_and_revoked_through_the_csms(pki: Pki, tmp_path: Path) -> None:
    async def main() -> None:
        responder = Responder(pki)
        url = await responder.start()
        good, revoked = _cert(pki, "GOOD-EMAID"), _cert(pki, "REVOKED-EMAID")
        responder.revoked.add(revoked.serial_number)
        checker = OcspChecker(trusted=[pki.ca_cert])
        server = await start_server(pki, tmp_path / "csms.db", certificate_checker=checker, ocsp_relay=checker.relay)
        await admin(server, "PUT", "/api/stations/OCSP-1", {"password": PASSWORD})
        await admin(server, "PUT", "/api/tokens/EMAID1", {"status": "Accepted", "type": "eMAID"})
        async with station(server, pki, "OCSP-1", 1, v201) as cp:
            def authorize(cert: x509.Certificate) -> Any:
                return v201.AuthorizeRequest.from_json({"idToken": {"idToken": "EMAID1", "type": "eMAID"},
                                                        "iso15118CertificateHashData": [
                                                            hash_data(cert, pki.ca_cert, url)]})

            ok = await cp.call(authorize(good))
            assert (ok.certificate_status, ok.id_token_info.status) == ("Accepted", "Accepted")
            bad = await cp.call(authorize(revoked))
            assert bad.certificate_status == "CertificateRevoked" and bad.id_token_info.status != "Accepted"
            assert [r.serial_number for r in responder.requests] == [good.serial_number, revoked.serial_number]

            status = await cp.call(v201.GetCertificateStatusRequest.from_json(
                {"ocspRequestData": hash_data(revoked, pki.ca_cert, url)}))
            assert status.status == "Accepted"
            relayed = ocsp.load_der_ocsp_response(base64.b64decode(status.ocsp_result))
            assert relayed.certificate_status == ocsp.OCSPCertStatus.REVOKED
            assert relayed.serial_number == revoked.serial_number
            # a responder that is not there: Failed, not a hang or a crash
            gone = hash_data(good, pki.ca_cert, "http://127.0.0.1:1/ocsp")
            assert (await cp.call(v201.GetCertificateStatusRequest.from_json(
                {"ocspRequestData": gone}))).status == "Failed"
        await server.stop()
        assert responder.server is not None
        responder.server.close()

    asyncio.run(main())


def test_response_signed_by_someone_else_fails(pki: Pki, tmp_path: Path) -> None:
    other = make_pki(tmp_path)

    async def main() -> None:
        responder = Responder(other)  # signs with a CA the checker does not trust
        url = await responder.start()
        cert = _cert(pki, "X")
        checker = OcspChecker(trusted=[pki.ca_cert])
        assert await checker(hash_data(cert, pki.ca_cert, url)) == "Failed"
        assert await OcspChecker()(hash_data(cert, pki.ca_cert, url)) == "Good"  # no trust anchors: not checked
        assert responder.server is not None
        responder.server.close()

    asyncio.run(main())
