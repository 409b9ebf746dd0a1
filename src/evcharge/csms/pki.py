"""The CSMS's certificate authority (SignCertificate -> CertificateSigned) and the contract-certificate seam.

:class:`CertificateAuthority` signs a station's PKCS#10 request with a configured CA certificate and key: it
checks the request's signature and that its common name is the station's identity (a station must not obtain a
certificate for another one), and issues a client-and-server certificate for ``validity_days``.

:class:`ContractCertificateProvider` is what Get15118EVCertificate is relayed to (a mobility operator's or
a Plug & Charge ecosystem's service). :class:`~evcharge.csms.contract.TestPkiContractProvider` is the local
test provider on a test PKI (a real CertificateInstallationRes / CertificateUpdateRes for each request);
:class:`StaticContractProvider` answers every request with a fixed EXI response (for tests of the relay).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from evcharge.errors import require

__all__ = ["CertificateAuthority", "ContractCertificateProvider", "ContractResponse", "CsrRefused",
           "IssuedCertificate", "StaticContractProvider"]


class CsrRefused(ValueError):
    """The certificate signing request cannot be signed (unreadable, bad signature, wrong identity)."""


@dataclass(frozen=True, slots=True)
class IssuedCertificate:
    """A certificate the CA issued."""

    serial: str  #: hex
    pem_chain: str  #: the new certificate, then the CA's


class CertificateAuthority:
    """Signs station CSRs with ``ca_cert`` / ``ca_key`` (PEM files or bytes)."""

    def __init__(self, ca_cert: bytes | Path, ca_key: bytes | Path, *, validity_days: int = 365,
                 key_password: bytes | None = None) -> None:
        require("cryptography", "csms", feature="the CSMS's certificate authority")
        from cryptography import x509
        from cryptography.hazmat.primitives import serialization

        cert_pem = ca_cert.read_bytes() if isinstance(ca_cert, Path) else ca_cert
        key_pem = ca_key.read_bytes() if isinstance(ca_key, Path) else ca_key
        self.certificate = x509.load_pem_x509_certificate(cert_pem)
        self.key: Any = serialization.load_pem_private_key(key_pem, password=key_password)
        self.validity_days = validity_days
        self.ca_pem = self.certificate.public_bytes(serialization.Encoding.PEM).decode()

    def sign(self, csr_pem: str, identity: str, now: datetime.datetime | None = None) -> IssuedCertificate:
        """Sign ``csr_pem`` for the station ``identity``; :class:`CsrRefused` if it must not be signed."""
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

        text = csr_pem.strip()
        if not text.startswith("-----BEGIN"):
            text = "-----BEGIN CERTIFICATE REQUEST-----\n" + text + "\n-----END CERTIFICATE REQUEST-----"
        try:
            csr = x509.load_pem_x509_csr(text.encode())
        except ValueError as exc:
            raise CsrRefused(f"unreadable CSR: {exc}") from exc
        if not csr.is_signature_valid:
            raise CsrRefused("the CSR's signature does not verify")
        names = csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        if not names or names[0].value != identity:
            raise CsrRefused(f"the CSR's common name is not the station identity {identity!r}")
        now = now or datetime.datetime.now(datetime.UTC)
        serial = x509.random_serial_number()
        cert = (
            x509.CertificateBuilder().subject_name(csr.subject).issuer_name(self.certificate.subject)
            .public_key(csr.public_key()).serial_number(serial)
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=self.validity_days))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.SERVER_AUTH]),
                           critical=False)
            .sign(self.key, hashes.SHA256())
        )
        pem = cert.public_bytes(serialization.Encoding.PEM).decode()
        return IssuedCertificate(format(serial, "x"), pem + self.ca_pem)


@dataclass(frozen=True, slots=True, kw_only=True)
class ContractResponse:
    """The provider's answer to Get15118EVCertificate."""

    status: str  #: Accepted or Failed
    exi_response: str  #: base64 EXI of the CertificateInstallationRes / CertificateUpdateRes


class ContractCertificateProvider(Protocol):
    """Where the CSMS relays a vehicle's certificate installation or update request."""

    async def get_ev_certificate(self, station_id: str, schema_version: str, action: str, exi_request: str
                                 ) -> ContractResponse: ...


class StaticContractProvider:
    """A local provider for tests: answers every request with ``exi_response`` (and keeps what it was asked)."""

    def __init__(self, exi_response: str = "", status: str = "Accepted") -> None:
        self.exi_response = exi_response
        self.status = status
        self.requests: list[tuple[str, str, str, str]] = []

    async def get_ev_certificate(self, station_id: str, schema_version: str, action: str, exi_request: str
                                 ) -> ContractResponse:
        self.requests.append((station_id, schema_version, action, exi_request))
        return ContractResponse(status=self.status, exi_response=self.exi_response)
