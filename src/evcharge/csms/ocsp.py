"""OCSP (RFC 6960) for the CSMS: the request built from OCPP's ``OCSPRequestDataType``, the response read.

OCPP hands the CSMS hash data, not certificates (2.0.1 Authorize ``iso15118CertificateHashData``,
GetCertificateStatus ``ocspRequestData``): hash algorithm, issuer name hash, issuer key hash, serial number (hex)
and the responder URL.  :func:`build_request` makes the DER OCSPRequest of exactly that CertID (``cryptography``'s
``add_certificate_by_hash``); :func:`read_response` maps the responder's DER answer to ``Good``, ``Revoked``,
``Unknown`` or ``Failed``, checking that it speaks of the CertID asked about and, given the issuer or responder
certificates, that its signature verifies.  :class:`OcspChecker` adds the HTTP POST
(``transport/ocsp_http.py``).
"""

from __future__ import annotations

import base64
import datetime
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from evcharge.errors import require

__all__ = ["OcspChecker", "Poster", "build_request", "next_update", "read_response"]

_HASHES = ("SHA256", "SHA384", "SHA512")


def _hash(name: str) -> Any:
    from cryptography.hazmat.primitives import hashes

    if name not in _HASHES:
        raise ValueError(f"hashAlgorithm {name!r} is not one of {', '.join(_HASHES)}")
    return {"SHA256": hashes.SHA256(), "SHA384": hashes.SHA384(), "SHA512": hashes.SHA512()}[name]


def build_request(hash_data: dict[str, Any]) -> bytes:
    """The DER OCSPRequest for one OCPP ``OCSPRequestDataType`` (JSON names); ``ValueError`` if unusable."""
    require("cryptography", "csms", feature="OCSP")
    from cryptography.hazmat.primitives import serialization
    from cryptography.x509 import ocsp

    builder = ocsp.OCSPRequestBuilder().add_certificate_by_hash(
        bytes.fromhex(hash_data["issuerNameHash"]), bytes.fromhex(hash_data["issuerKeyHash"]),
        int(hash_data["serialNumber"], 16), _hash(hash_data["hashAlgorithm"]))
    return bytes(builder.build().public_bytes(serialization.Encoding.DER))


def read_response(der: bytes, hash_data: dict[str, Any], *, trusted: Sequence[Any] = (),
                  now: datetime.datetime | None = None) -> str:
    """``Good``, ``Revoked``, ``Unknown`` (the responder does not know it) or ``Failed`` (unreadable, not
    successful, about another certificate, stale, or -- with ``trusted`` certificates -- a bad signature)."""
    from cryptography.x509 import ocsp

    try:
        response = ocsp.load_der_ocsp_response(der)
    except ValueError:
        return "Failed"
    if response.response_status != ocsp.OCSPResponseStatus.SUCCESSFUL:
        return "Failed"
    try:
        if (response.serial_number != int(hash_data["serialNumber"], 16)
                or response.issuer_name_hash != bytes.fromhex(hash_data["issuerNameHash"])
                or response.issuer_key_hash != bytes.fromhex(hash_data["issuerKeyHash"])):
            return "Failed"
    except (KeyError, ValueError):
        return "Failed"
    now = now or datetime.datetime.now(datetime.UTC)
    next_update = response.next_update_utc
    if next_update is not None and next_update < now:
        return "Failed"
    if trusted and not _signature_ok(response, trusted):
        return "Failed"
    return {ocsp.OCSPCertStatus.GOOD: "Good", ocsp.OCSPCertStatus.REVOKED: "Revoked"}.get(
        response.certificate_status, "Unknown")


def next_update(der: bytes) -> str | None:
    """The ``nextUpdate`` of a DER OCSP response (OCPP date-time), or None (none given, or unreadable)."""
    from cryptography.x509 import ocsp

    try:
        when = ocsp.load_der_ocsp_response(der).next_update_utc
    except ValueError:
        return None
    return when.strftime("%Y-%m-%dT%H:%M:%SZ") if when is not None else None


def _signature_ok(response: Any, trusted: Sequence[Any]) -> bool:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

    signers = list(trusted) + [c for c in response.certificates
                               if any(c.issuer == t.subject for t in trusted)]  # a delegated responder
    for cert in signers:
        key = cert.public_key()
        try:
            if isinstance(key, ec.EllipticCurvePublicKey):
                key.verify(response.signature, response.tbs_response_bytes,
                           ec.ECDSA(response.signature_hash_algorithm))
            elif isinstance(key, rsa.RSAPublicKey):
                key.verify(response.signature, response.tbs_response_bytes, padding.PKCS1v15(),
                           response.signature_hash_algorithm)
            else:
                continue
        except InvalidSignature:
            continue
        return True
    return False


#: POSTs a DER OCSP request to a responder URL; the DER response (``transport.ocsp_http.post_ocsp``).
Poster = Callable[[str, bytes], Awaitable[bytes]]


class OcspChecker:
    """Checks certificate hash data with the responder it names (or ``default_url``).

    Used as :attr:`~evcharge.csms.handlers.CsmsSettings.certificate_checker` (Authorize) and, through
    :meth:`relay`, as :attr:`~evcharge.csms.handlers.CsmsSettings.ocsp_relay` (GetCertificateStatus).
    """

    def __init__(self, *, default_url: str | None = None, trusted: Sequence[Any] = (), post: Poster | None = None
                 ) -> None:
        if post is None:
            from evcharge.csms.transport.ocsp_http import post_ocsp

            post = post_ocsp
        self.default_url = default_url
        self.trusted = tuple(trusted)
        self._post = post

    async def _ask(self, hash_data: dict[str, Any]) -> bytes:
        url = hash_data.get("responderURL") or self.default_url
        if not url:
            raise ValueError("no responder URL")
        return await self._post(str(url), build_request(hash_data))

    async def __call__(self, hash_data: dict[str, Any]) -> str:
        try:
            der = await self._ask(hash_data)
        except (OSError, ValueError, KeyError, TimeoutError):
            return "Failed"
        return read_response(der, hash_data, trusted=self.trusted)

    async def relay(self, hash_data: dict[str, Any]) -> tuple[str, str | None]:
        """GetCertificateStatus: ``("Accepted", base64 DER response)`` or ``("Failed", None)``."""
        try:
            der = await self._ask(hash_data)
        except (OSError, ValueError, KeyError, TimeoutError):
            return "Failed", None
        if read_response(der, hash_data, trusted=self.trusted) == "Failed":
            return "Failed", None
        return "Accepted", base64.b64encode(der).decode("ascii")
