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

One TLS port for DIN / ISO 15118-2 (TLS 1.2, the -2 PKI) and ISO 15118-20 (TLS 1.3, its own PKI): Python's
``ssl`` takes one context per connection before the handshake, so the transport peeks at the first bytes
(``MSG_PEEK``), :func:`parse_client_hello` reads the ClientHello (pure, any bytes give a :class:`ClientHello`
or a :class:`ClientHelloError`), and a :class:`TlsSelector` picks the context: TLS 1.3 offered and -20
configured: the -20 one (the Ed448 tree when the client's signature_algorithms ask for Ed448 and not
ecdsa_secp521r1_sha512); otherwise the TLS 1.2 one. After SupportedAppProtocol only the protocols of that TLS
version may be chosen (:func:`evcharge.iso15118.engines.engines_for_tls`): -20 on TLS 1.3, DIN / -2 on TLS 1.2.
"""

from __future__ import annotations

import datetime as dt
import os
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from evcharge.errors import RemoteProtocolError
from evcharge.iso15118.security.chain import CertificateRole, load_certificates, validate_chain
from evcharge.iso15118.security.errors import CertificateError

__all__ = [
    "ISO2_CIPHERS",
    "ClientHello",
    "ClientHelloError",
    "ClientHelloIncomplete",
    "ClientTls",
    "TlsProfile",
    "TlsSelector",
    "evcc_context",
    "evcc_tls",
    "parse_client_hello",
    "secc_context",
]

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


# -- the ClientHello, for one port with two TLS versions ------------------------------------------------------

#: RFC 8446 numbers: ProtocolVersion, ExtensionType, SignatureScheme
TLS12 = 0x0303
TLS13 = 0x0304
_EXT_SERVER_NAME = 0
_EXT_SUPPORTED_GROUPS = 10
_EXT_SIGNATURE_ALGORITHMS = 13
_EXT_SUPPORTED_VERSIONS = 43
ED448 = 0x0808
ECDSA_SECP521R1_SHA512 = 0x0603
#: a ClientHello longer than this is refused (RFC 8446 allows 2^24 - 1; real ones are < 2 KiB, a few post-quantum
#: key shares < 8 KiB)
MAX_CLIENT_HELLO = 65536


class ClientHelloError(RemoteProtocolError):
    """The first bytes of a connection are not a TLS ClientHello (the answer: close the connection)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, hint=None)


class ClientHelloIncomplete(ClientHelloError):
    """A ClientHello so far, but cut short: ``needed`` bytes in all are wanted (peek again when they are there)."""

    def __init__(self, needed: int) -> None:
        super().__init__(f"the ClientHello needs {needed} bytes")
        self.needed = needed


@dataclass(frozen=True, slots=True, kw_only=True)
class ClientHello:
    """What a TLS ClientHello offers (RFC 8446 §4.1.2; TLS 1.2 ones too, RFC 5246 §7.4.1.2)."""

    legacy_version: int
    #: supported_versions (newest first as sent), or ``(legacy_version,)`` when the extension is absent
    versions: tuple[int, ...]
    cipher_suites: tuple[int, ...]
    signature_algorithms: tuple[int, ...] = ()
    groups: tuple[int, ...] = ()
    server_name: str | None = None
    length: int = 0  #: the bytes of the TLS records that carried it

    @property
    def offers_tls13(self) -> bool:
        return TLS13 in self.versions

    @property
    def offers_tls12(self) -> bool:
        return TLS12 in self.versions


class _Reader:
    __slots__ = ("data", "pos", "what")

    def __init__(self, data: bytes, what: str) -> None:
        self.data = data
        self.pos = 0
        self.what = what

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise ClientHelloError(f"{self.what}: {n} bytes wanted at {self.pos}, {len(self.data) - self.pos} left")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def uint(self, n: int) -> int:
        return int.from_bytes(self.take(n), "big")

    def vector(self, length_bytes: int, what: str) -> _Reader:
        n = self.uint(length_bytes)
        if self.pos + n > len(self.data):
            raise ClientHelloError(f"{what}: {n} bytes in a field with {len(self.data) - self.pos} left")
        return _Reader(self.take(n), what)

    def done(self) -> bool:
        return self.pos == len(self.data)

    def u16s(self) -> tuple[int, ...]:
        if len(self.data) % 2:
            raise ClientHelloError(f"{self.what}: an odd length")
        return tuple(int.from_bytes(self.data[i : i + 2], "big") for i in range(0, len(self.data), 2))


def _handshake_bytes(data: bytes) -> tuple[bytes, int]:
    """The handshake message at the start of ``data`` (joined from as many records as it spans) and the record
    bytes it took. Raises :class:`ClientHelloIncomplete` when more bytes are needed."""
    out = b""
    pos = 0
    wanted: int | None = None
    while wanted is None or len(out) < wanted:
        if len(data) < pos + 5:
            raise ClientHelloIncomplete(pos + 5)
        content_type, major, length = data[pos], data[pos + 1], int.from_bytes(data[pos + 3 : pos + 5], "big")
        if content_type != 22:
            raise ClientHelloError(f"TLS record type {content_type}, not a handshake (22)")
        if major != 3:
            raise ClientHelloError(f"record version {major}.{data[pos + 2]} is not TLS")
        if length == 0 or length > 2**14:
            raise ClientHelloError(f"TLS record length {length} (1 to 16384)")
        if len(data) < pos + 5 + length:
            raise ClientHelloIncomplete(pos + 5 + length)
        out += data[pos + 5 : pos + 5 + length]
        pos += 5 + length
        if wanted is None and len(out) >= 4:
            if out[0] != 1:
                raise ClientHelloError(f"handshake type {out[0]}, not ClientHello (1)")
            wanted = 4 + int.from_bytes(out[1:4], "big")
            if wanted > MAX_CLIENT_HELLO:
                raise ClientHelloError(f"a ClientHello of {wanted} bytes (at most {MAX_CLIENT_HELLO})")
    if len(out) > wanted:
        raise ClientHelloError("the record after the ClientHello carries more handshake bytes")
    return out, pos


def parse_client_hello(data: bytes) -> ClientHello:
    """The ClientHello at the start of ``data`` (the first bytes a TLS client sends).

    Returns a :class:`ClientHello`; raises :class:`ClientHelloIncomplete` (``needed``: the byte count to wait
    for) when ``data`` is a valid beginning but too short, :class:`ClientHelloError` for anything else. Pure:
    no socket, no ``ssl``."""
    message, length = _handshake_bytes(bytes(data))
    r = _Reader(message[4:], "ClientHello")
    legacy_version = r.uint(2)
    if legacy_version >> 8 != 3:
        raise ClientHelloError(f"ClientHello version 0x{legacy_version:04x} is not TLS")
    r.take(32)  # random
    session_id = r.vector(1, "legacy_session_id")
    if len(session_id.data) > 32:
        raise ClientHelloError("a session id longer than 32 bytes")
    suites = r.vector(2, "cipher_suites")
    if not suites.data:
        raise ClientHelloError("no cipher suite")
    cipher_suites = suites.u16s()
    if not r.vector(1, "legacy_compression_methods").data:
        raise ClientHelloError("no compression method")
    fields: dict[str, object] = {}
    versions: tuple[int, ...] = (legacy_version,)
    if not r.done():
        extensions = r.vector(2, "extensions")
        if not r.done():
            raise ClientHelloError("bytes after the extensions")
        seen: set[int] = set()
        while not extensions.done():
            kind = extensions.uint(2)
            body = extensions.vector(2, f"extension {kind}")
            if kind in seen:
                raise ClientHelloError(f"extension {kind} twice")
            seen.add(kind)
            if kind == _EXT_SUPPORTED_VERSIONS:
                listed = body.vector(1, "supported_versions")
                versions = listed.u16s()
                if not versions or not body.done():
                    raise ClientHelloError("an empty or malformed supported_versions")
            elif kind == _EXT_SIGNATURE_ALGORITHMS:
                fields["signature_algorithms"] = body.vector(2, "signature_algorithms").u16s()
                if not body.done():
                    raise ClientHelloError("bytes after signature_algorithms")
            elif kind == _EXT_SUPPORTED_GROUPS:
                fields["groups"] = body.vector(2, "supported_groups").u16s()
                if not body.done():
                    raise ClientHelloError("bytes after supported_groups")
            elif kind == _EXT_SERVER_NAME and body.data:
                names = body.vector(2, "server_name_list")
                while not names.done():
                    name_type = names.uint(1)
                    name = names.vector(2, "host_name").data
                    if name_type == 0 and "server_name" not in fields:
                        fields["server_name"] = name.decode("ascii", "replace")
    return ClientHello(
        legacy_version=legacy_version,
        versions=versions,
        cipher_suites=cipher_suites,
        length=length,
        **fields,  # type: ignore[arg-type]
    )


@dataclass(frozen=True, slots=True)
class TlsSelector:
    """The server context for a connection, chosen from its ClientHello: ``iso20`` (TLS 1.3) when the client
    offers TLS 1.3 (``iso20_ed448`` instead when it asks for Ed448 signatures and not ecdsa_secp521r1_sha512),
    else ``iso2`` (TLS 1.2). ``None`` when nothing configured fits (the transport closes the connection)."""

    iso2: ssl.SSLContext | None = None
    iso20: ssl.SSLContext | None = None
    iso20_ed448: ssl.SSLContext | None = None

    def profile(self, hello: ClientHello) -> TlsProfile | None:
        if hello.offers_tls13 and (self.iso20 is not None or self.iso20_ed448 is not None):
            sigs = hello.signature_algorithms
            wants_ed448 = ED448 in sigs and ECDSA_SECP521R1_SHA512 not in sigs
            if self.iso20_ed448 is not None and (wants_ed448 or self.iso20 is None):
                return TlsProfile.ISO20_ED448
            if self.iso20 is not None:
                return TlsProfile.ISO20
        if hello.offers_tls12 and self.iso2 is not None:
            return TlsProfile.ISO2
        return None

    def context(self, profile: TlsProfile) -> ssl.SSLContext:
        found = {TlsProfile.ISO2: self.iso2, TlsProfile.ISO20: self.iso20, TlsProfile.ISO20_ED448: self.iso20_ed448}
        context = found[profile]
        if context is None:
            raise KeyError(profile)
        return context

    def __call__(self, hello: ClientHello) -> ssl.SSLContext | None:
        profile = self.profile(hello)
        return None if profile is None else self.context(profile)
