"""Shared parts of the reference-CSMS tests: certificates, a running server, an admin client, our station."""

from __future__ import annotations

import asyncio
import base64
import datetime
import ipaddress
import json
import ssl
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from evcharge.csms import CsmsServer, CsmsSettings, ServerConfig
from evcharge.csms.pki import CertificateAuthority, StaticContractProvider
from evcharge.csms.transport.sqlite import SqliteStore
from evcharge.ocpp.charge_point import ChargePoint
from evcharge.ocpp.routing import on

PASSWORD = "0123456789abcdef-pw"


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _key_pem(key: Any) -> bytes:
    return bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                   serialization.NoEncryption()))


@dataclass
class Pki:
    folder: Path
    ca_cert: x509.Certificate
    ca_key: Any

    @property
    def ca_pem(self) -> Path:
        return self.folder / "ca.pem"

    @property
    def ca_key_pem(self) -> Path:
        return self.folder / "ca.key"

    def leaf(self, cn: str, *, server: bool) -> tuple[Path, Path]:
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        builder = (
            x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(self.ca_cert.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH if server
                                                  else ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False))
        if server:
            builder = builder.add_extension(x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        cert = builder.sign(self.ca_key, hashes.SHA256())
        cert_path, key_path = self.folder / f"{cn}.pem", self.folder / f"{cn}.key"
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_path.write_bytes(_key_pem(key))
        return cert_path, key_path

    def server_context(self) -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(*self.leaf("localhost", server=True))
        ctx.verify_mode = ssl.CERT_OPTIONAL  # profile 3 stations present one, profile 2 stations need not
        ctx.load_verify_locations(self.ca_pem)
        return ctx

    def client_context(self, cn: str | None = None) -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(self.ca_pem)
        if cn is not None:
            ctx.load_cert_chain(*self.leaf(cn, server=False))
        return ctx


def make_pki(folder: Path) -> Pki:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(_name("evcharge test CA")).issuer_name(_name("evcharge test CA"))
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(key, hashes.SHA256()))
    (folder / "ca.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "ca.key").write_bytes(_key_pem(key))
    return Pki(folder, cert, key)


def csr_for(cn: str) -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    csr = x509.CertificateSigningRequestBuilder().subject_name(_name(cn)).sign(key, hashes.SHA256())
    return csr.public_bytes(serialization.Encoding.PEM).decode()


def start_server_config(pki: Pki, **settings: Any) -> ServerConfig:
    settings.setdefault("contract_provider", StaticContractProvider("AAEC"))
    return ServerConfig(port=0, tls_port=0, ssl_context=pki.server_context(), admin_port=0,
                        settings=CsmsSettings(ca=CertificateAuthority(pki.ca_pem, pki.ca_key_pem), **settings))


async def start_server(pki: Pki, db: Path | str, store: Any = None, **settings: Any) -> CsmsServer:
    server = CsmsServer(start_server_config(pki, **settings), store if store is not None else SqliteStore(db))
    await server.start()
    return server


async def admin(server: CsmsServer, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    """One admin API request over real HTTP."""
    url = f"http://127.0.0.1:{server.ports['admin']}{path}"
    data = json.dumps(body).encode() if body is not None else None

    def go() -> tuple[int, Any]:
        req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=20) as resp:
                raw = resp.read()
                return resp.status, json.loads(raw) if raw else None
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            return exc.code, json.loads(raw) if raw else None

    return await asyncio.to_thread(go)


def basic(identity: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{identity}:{password}".encode()).decode()}


class Station(ChargePoint):
    """Our charge point, answering what the CSMS sends and keeping it."""

    def __init__(self, identity: str) -> None:
        super().__init__(identity)
        self.received: list[tuple[str, dict[str, Any]]] = []
        self.got = asyncio.Event()

    def _keep(self, action: str, request: Any, answer: dict[str, Any]) -> Any:
        self.received.append((action, request.to_json()))
        self.got.set()
        assert self.version is not None
        return self.version.response_class(action).from_json(answer)

    async def wait_for(self, action: str, timeout: float = 10.0) -> dict[str, Any]:
        async def look() -> dict[str, Any]:
            while True:
                for name, payload in self.received:
                    if name == action:
                        return payload
                self.got.clear()
                await self.got.wait()

        return await asyncio.wait_for(look(), timeout)

    @on("Reset")
    def reset(self, request: Any) -> Any:
        return self._keep("Reset", request, {"status": "Accepted"})

    @on("CertificateSigned")
    def certificate_signed(self, request: Any) -> Any:
        return self._keep("CertificateSigned", request, {"status": "Accepted"})

    @on("GetTransactionStatus")
    def transaction_status(self, request: Any) -> Any:
        return self._keep("GetTransactionStatus", request, {"messagesInQueue": False, "ongoingIndicator": True})

    @on("SetChargingProfile")
    def set_profile(self, request: Any) -> Any:
        return self._keep("SetChargingProfile", request, {"status": "Accepted"})

    @on("TriggerMessage")
    def trigger(self, request: Any) -> Any:
        return self._keep("TriggerMessage", request, {"status": "Accepted"})

    @on("CostUpdated")
    def cost_updated(self, request: Any) -> Any:
        return self._keep("CostUpdated", request, {})

    @on("SendLocalList")
    def local_list(self, request: Any) -> Any:
        return self._keep("SendLocalList", request, {"status": "Accepted"})
