"""TLS contexts for the SECC and the EVCC, built from a PKI folder (``evcharge v2g pki --out DIR``).

=========  ==========================================  ============================================
profile    TLS                                         authentication
=========  ==========================================  ============================================
``ISO2``   TLS 1.2 only, ECDHE-ECDSA-AES128-SHA256,    server only (the SECC's chain to the V2G
           secp256r1 (ISO 15118-2 §7.7.3; DIN 70121)   root); the EVCC sends no certificate
``ISO20``  TLS 1.3 only                                mutual: the SECC's chain to the V2G root,
                                                       the EVCC's OEM chain to the OEM root
=========  ==========================================  ============================================

(The static-ECDH suite TLS_ECDH_ECDSA_WITH_AES_128_CBC_SHA256 that -2 also lists does not exist in
OpenSSL >= 1.1; Josev and EVerest offer ECDHE only: ``facts/v2g_slac_iec61851.md`` §2.4.)

``keylog``: a file where the TLS secrets are appended in the SSLKEYLOGFILE format (CLIENT_RANDOM lines
for TLS 1.2, the traffic secrets for TLS 1.3), so that Wireshark decrypts the session. Give it only on a
test bench: anyone with the file reads the session.

The handshake timeout is the transport's (``ssl_handshake_timeout`` of
:func:`~evcharge.iso15118.transport.tcp.start_secc_server` / :func:`~evcharge.iso15118.transport.tcp.connect_evcc`).

Hubject-style roots: a root with an Extended Key Usage that lacks serverAuth fails OpenSSL's purpose
check (ecog-io/iso15118 #430). :func:`evcc_tls` with ``tolerate_root_eku=True`` turns OpenSSL's chain
check off and checks the SECC's chain with :func:`~evcharge.iso15118.security.chain.validate_chain`
instead (the transport calls ``verify_peer`` right after the handshake, before any V2G byte is sent).
"""

from __future__ import annotations

import datetime as dt
import os
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from evcharge.iso15118.security.chain import CertificateRole, load_certificates, validate_chain
from evcharge.iso15118.security.errors import CertificateError

__all__ = ["ISO2_CIPHERS", "ClientTls", "TlsProfile", "evcc_context", "evcc_tls", "secc_context"]

ISO2_CIPHERS = "ECDHE-ECDSA-AES128-SHA256"
ISO2_CURVE = "prime256v1"


class TlsProfile(Enum):
    ISO2 = "iso2"  #: DIN 70121 and ISO 15118-2
    ISO20 = "iso20"  #: ISO 15118-20 (secp521r1 PKI)
    ISO20_ED448 = "iso20-ed448"  #: ISO 15118-20 with the Ed448 PKI


def _tree(folder: str | os.PathLike[str], profile: TlsProfile) -> Path:
    base = Path(folder)
    sub = base / profile.value
    tree = sub if sub.is_dir() else base
    if not (tree / "v2g_roots.pem").exists():
        raise FileNotFoundError(f"{tree} is not a PKI folder of evcharge v2g pki (no v2g_roots.pem)")
    return tree


def _common(context: ssl.SSLContext, profile: TlsProfile, keylog: str | os.PathLike[str] | None) -> None:
    if profile is TlsProfile.ISO2:
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.maximum_version = ssl.TLSVersion.TLSv1_2
        context.set_ciphers(ISO2_CIPHERS)
        context.set_ecdh_curve(ISO2_CURVE)
    else:
        context.minimum_version = ssl.TLSVersion.TLSv1_3
        context.maximum_version = ssl.TLSVersion.TLSv1_3
    if keylog is not None:
        context.keylog_filename = os.fspath(keylog)


def secc_context(
    folder: str | os.PathLike[str],
    profile: TlsProfile = TlsProfile.ISO2,
    *,
    keylog: str | os.PathLike[str] | None = None,
    cert_chain: str | os.PathLike[str] | None = None,
    key: str | os.PathLike[str] | None = None,
) -> ssl.SSLContext:
    """The SECC's server context: its certificate chain (``secc_chain.pem`` + ``secc.key.pem`` of the
    tree unless given); for -20 it requires the EVCC's certificate, checked against ``oem_roots.pem``."""
    tree = _tree(folder, profile)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    _common(context, profile, keylog)
    context.load_cert_chain(cert_chain or tree / "secc_chain.pem", key or tree / "secc.key.pem")
    if profile is TlsProfile.ISO2:
        context.verify_mode = ssl.CERT_NONE
    else:
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(cafile=tree / "oem_roots.pem")
    return context


def evcc_context(
    folder: str | os.PathLike[str],
    profile: TlsProfile = TlsProfile.ISO2,
    *,
    keylog: str | os.PathLike[str] | None = None,
    verify: bool = True,
) -> ssl.SSLContext:
    """The EVCC's client context: trusts ``v2g_roots.pem`` (no host name check: the SECC is found by
    SDP, its certificate names the EVSE); for -20 it presents ``oem_prov_chain.pem``."""
    tree = _tree(folder, profile)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    _common(context, profile, keylog)
    context.check_hostname = False
    if verify:
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(cafile=tree / "v2g_roots.pem")
    else:
        context.verify_mode = ssl.CERT_NONE
    if profile is not TlsProfile.ISO2:
        context.load_cert_chain(tree / "oem_prov_chain.pem", tree / "oem_prov.key.pem")
    return context


@dataclass(frozen=True, slots=True)
class ClientTls:
    """An EVCC context and, when OpenSSL's chain check is off, the check the transport runs instead."""

    context: ssl.SSLContext
    verify_peer: Callable[[tuple[bytes, ...]], None] | None = None


def evcc_tls(
    folder: str | os.PathLike[str],
    profile: TlsProfile = TlsProfile.ISO2,
    *,
    keylog: str | os.PathLike[str] | None = None,
    tolerate_root_eku: bool = False,
    roots: str | os.PathLike[str] | None = None,
    clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
) -> ClientTls:
    """:func:`evcc_context` plus ``verify_peer``: the ISO 15118 chain checks of the SECC's chain (DC=CPO
    included, which OpenSSL does not know) against ``roots`` (default: the tree's ``v2g_roots.pem``).
    With ``tolerate_root_eku`` OpenSSL's own chain check is off and ``verify_peer`` is the only one."""
    tree = _tree(folder, profile)
    anchors = load_certificates(Path(roots or tree / "v2g_roots.pem").read_bytes())

    def verify_peer(chain: tuple[bytes, ...]) -> None:
        if not chain:
            raise CertificateError("the SECC sent no certificate")
        validate_chain(chain[0], list(chain[1:]), anchors, now=clock(), role=CertificateRole.SECC)

    context = evcc_context(folder, profile, keylog=keylog, verify=not tolerate_root_eku)
    return ClientTls(context, verify_peer)
