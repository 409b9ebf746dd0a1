"""Certificate chain validation with the checks ISO 15118 names.

:func:`validate_chain` builds the path leaf -> sub-CA(s) -> a trusted root and checks, for every
certificate: the validity period at ``now`` (wall time: certificates are about the calendar), the
signature of its issuer, that every issuer is a CA (BasicConstraints) allowed to sign certificates
(KeyUsage keyCertSign) within its path length; for the leaf: not a CA, KeyUsage digitalSignature, and
the domain component of its role (``DC=CPO`` on the SECC certificate [V2G2-875], ``MO`` on a contract
certificate, ``OEM`` on a provisioning certificate, ``CPS`` on the provisioning service's). The chain
may hold at most two sub-CAs (ISO 15118-2 §7.9.2.1, -20 Annex B).

An Extended Key Usage on a root or sub-CA is accepted (Hubject's roots carry one; ecog-io/iso15118 #430).

The result says whether a certificate of the path expires within 14 days ([V2G20-2218]: the -20 SECC
tells the car, which may then update its contract).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import Enum

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.x509.oid import NameOID

from evcharge.iso15118.security.errors import CertificateError, CertificateExpiredError

__all__ = ["CertificateRole", "ChainResult", "load_certificates", "validate_chain"]

MAX_SUB_CAS = 2
EXPIRY_WARNING = dt.timedelta(days=14)


class CertificateRole(Enum):
    """What the leaf is for: the domain component it must carry."""

    SECC = "CPO"
    CONTRACT = "MO"
    OEM_PROVISIONING = "OEM"
    CPS = "CPS"
    ANY = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class ChainResult:
    path: tuple[x509.Certificate, ...]  #: leaf first, the trusted root last
    expires_soon: bool  #: a certificate of the path ends within 14 days ([V2G20-2218])
    not_after: dt.datetime  #: the earliest end of validity in the path

    @property
    def leaf(self) -> x509.Certificate:
        return self.path[0]

    @property
    def root(self) -> x509.Certificate:
        return self.path[-1]


def load_certificates(data: bytes | x509.Certificate | Iterable[bytes | x509.Certificate]) -> list[x509.Certificate]:
    """Certificates from DER or PEM bytes (a PEM bundle may hold several), or already loaded."""
    if isinstance(data, x509.Certificate):
        return [data]
    if isinstance(data, bytes | bytearray):
        raw = bytes(data)
        if raw.lstrip().startswith(b"-----BEGIN"):
            return list(x509.load_pem_x509_certificates(raw))
        try:
            return [x509.load_der_x509_certificate(raw)]
        except ValueError as exc:
            raise CertificateError(f"not a DER certificate: {exc}") from exc
    out: list[x509.Certificate] = []
    for item in data:
        out.extend(load_certificates(item))
    return out


def _ext(cert: x509.Certificate, kind: type[x509.ExtensionType]) -> x509.ExtensionType | None:
    try:
        return cert.extensions.get_extension_for_class(kind).value
    except x509.ExtensionNotFound:
        return None


def _describe(cert: x509.Certificate) -> str:
    return cert.subject.rfc4514_string()


def _check_validity(cert: x509.Certificate, now: dt.datetime) -> None:
    if now < cert.not_valid_before_utc:
        raise CertificateExpiredError(f"certificate {_describe(cert)} is not valid before {cert.not_valid_before_utc}")
    if now > cert.not_valid_after_utc:
        raise CertificateExpiredError(f"certificate {_describe(cert)} expired on {cert.not_valid_after_utc}")


def _signed_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    if cert.issuer != issuer.subject:
        return False
    try:
        cert.verify_directly_issued_by(issuer)
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


def _check_ca(cert: x509.Certificate, below: int) -> None:
    bc = _ext(cert, x509.BasicConstraints)
    if not isinstance(bc, x509.BasicConstraints) or not bc.ca:
        raise CertificateError(f"issuer {_describe(cert)} is not a CA (BasicConstraints)")
    if bc.path_length is not None and below > bc.path_length:
        raise CertificateError(f"issuer {_describe(cert)} allows {bc.path_length} sub-CA(s) below it, not {below}")
    ku = _ext(cert, x509.KeyUsage)
    if isinstance(ku, x509.KeyUsage) and not ku.key_cert_sign:
        raise CertificateError(f"issuer {_describe(cert)} may not sign certificates (KeyUsage)")


def _check_leaf(cert: x509.Certificate, role: CertificateRole) -> None:
    bc = _ext(cert, x509.BasicConstraints)
    if isinstance(bc, x509.BasicConstraints) and bc.ca:
        raise CertificateError(f"leaf {_describe(cert)} is a CA certificate")
    ku = _ext(cert, x509.KeyUsage)
    if not isinstance(ku, x509.KeyUsage) or not ku.digital_signature:
        raise CertificateError(f"leaf {_describe(cert)} lacks KeyUsage digitalSignature")
    if role is not CertificateRole.ANY:
        dcs = [str(a.value) for a in cert.subject.get_attributes_for_oid(NameOID.DOMAIN_COMPONENT)]
        if role.value not in dcs:
            hint = "FAILED_CertChainError"
            if role is CertificateRole.CONTRACT:
                hint = "FAILED_CertificateNotAllowedAtThisEVSE"
            raise CertificateError(
                f"leaf {_describe(cert)}: domain component {role.value} expected (has {dcs or 'none'})", hint=hint
            )


def validate_chain(
    leaf: bytes | x509.Certificate,
    intermediates: Sequence[bytes | x509.Certificate] | bytes,
    roots: Sequence[bytes | x509.Certificate] | bytes,
    *,
    now: dt.datetime,
    role: CertificateRole = CertificateRole.ANY,
    expiry_warning: dt.timedelta = EXPIRY_WARNING,
) -> ChainResult:
    """Check ``leaf`` up to one of ``roots`` through ``intermediates`` (in any order).

    Raises :class:`~evcharge.iso15118.security.errors.CertificateError` (hint
    ``FAILED_CertChainError``) or :class:`~evcharge.iso15118.security.errors.CertificateExpiredError`
    (``FAILED_CertificateExpired``).
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware (UTC)")
    (leaf_cert,) = load_certificates(leaf)[:1] or [None]  # type: ignore[list-item]
    if leaf_cert is None:
        raise CertificateError("no leaf certificate")
    pool = load_certificates(intermediates if not isinstance(intermediates, bytes) else [intermediates])
    anchors = load_certificates(roots if not isinstance(roots, bytes) else [roots])
    if not anchors:
        raise CertificateError("no trusted root to validate against")
    _check_leaf(leaf_cert, role)
    path = [leaf_cert]
    current = leaf_cert
    while True:
        _check_validity(current, now)
        root = next((r for r in anchors if _signed_by(current, r)), None)
        if root is not None:
            _check_validity(root, now)
            _check_ca(root, len(path) - 1)
            path.append(root)
            break
        if len(path) > MAX_SUB_CAS:
            raise CertificateError(f"no trusted root within {MAX_SUB_CAS} sub-CAs of {_describe(leaf_cert)}")
        issuer = next((c for c in pool if c not in path and _signed_by(current, c)), None)
        if issuer is None:
            raise CertificateError(f"no issuer of {_describe(current)} among the chain and the trusted roots")
        _check_ca(issuer, len(path) - 1)
        path.append(issuer)
        current = issuer
    not_after = min(c.not_valid_after_utc for c in path)
    return ChainResult(path=tuple(path), expires_soon=not_after - now < expiry_warning, not_after=not_after)
