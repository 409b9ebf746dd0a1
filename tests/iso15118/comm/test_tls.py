"""TLS: our SECC against `openssl s_client`, our EVCC against `openssl s_server`, with the ISO 15118-2 profile
(TLS 1.2, ECDHE-ECDSA-AES128-SHA256, secp256r1, server authentication) and the -20 profile (TLS 1.3, mutual
authentication); SAP runs over the TLS connection. Plus: Hubject-style roots, the handshake timeout, the key log.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import ssl
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("cryptography")

from evcharge.iso15118 import app_protocol as ap
from evcharge.iso15118.sap import build_request
from evcharge.iso15118.security.errors import CertificateError
from evcharge.iso15118.security.tls import TlsProfile, evcc_tls, secc_context
from evcharge.iso15118.session import (
    DEFAULT_EVCC_OFFERS,
    EvccSession,
    EvccSessionConfig,
    ProtocolNegotiated,
    SeccSession,
    SeccSessionConfig,
)
from evcharge.iso15118.transport.tcp import ConnectionInfo, connect_evcc, start_secc_server
from evcharge.iso15118.v2gtp import V2gtpFramer, encode_message

from .engines import secc_engines

pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed"),
]

SAP_REQ = ap.encode(ap.SupportedAppProtocolReq(app_protocol=[ap.AppProtocol(
    protocol_namespace="urn:iso:15118:2:2013:MsgDef", version_number_major=2, version_number_minor=0, schema_id=7,
    priority=1)]))
SAP_FRAME = encode_message(0x8001, SAP_REQ)
EVCC_SAP_FRAME = encode_message(0x8001, ap.encode(build_request(DEFAULT_EVCC_OFFERS)))


def free_port() -> int:
    with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
        s.bind(("::1", 0))
        return int(s.getsockname()[1])


def subs(folder: Path, prefix: str) -> Path:
    path = folder / f"{prefix}_subs_for_openssl.pem"
    path.write_bytes((folder / f"{prefix}_sub2.pem").read_bytes() + (folder / f"{prefix}_sub1.pem").read_bytes())
    return path


async def _our_secc_vs_s_client(pki: Path, profile: TlsProfile, client_args: list[str],
                                keylog: Path) -> tuple[list[Any], bytes, int | None]:
    folder = pki / profile.value
    seen: list[Any] = []

    def make(info: ConnectionInfo) -> SeccSession:
        seen.append(info.tls)
        return SeccSession(SeccSessionConfig(), secc_engines(), now=info.now, tls=info.tls)

    server = await start_secc_server(make, host="::1", port=0, ssl=secc_context(pki, profile, keylog=keylog))
    proc = await asyncio.create_subprocess_exec(
        "openssl", "s_client", "-connect", f"[::1]:{server.port}", "-quiet", "-verify_return_error",
        "-CAfile", str(folder / "v2g_roots.pem"), *client_args,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(SAP_FRAME)
    await proc.stdin.drain()
    data = b""
    try:
        with contextlib.suppress(asyncio.TimeoutError):
            while len(data) < 12:
                chunk = await asyncio.wait_for(proc.stdout.read(100), 5)
                if not chunk:
                    break
                data += chunk
    finally:
        if proc.returncode is None:
            proc.kill()
        await proc.wait()
        await server.close()
    return seen, data, proc.returncode


def _sap_answer(data: bytes) -> ap.SupportedAppProtocolRes:
    framer = V2gtpFramer()
    framer.receive_data(data)
    message = framer.messages()[0]
    assert message.payload_type == 0x8001
    response = ap.decode(message.payload)
    assert isinstance(response, ap.SupportedAppProtocolRes)
    return response


def test_our_secc_with_openssl_s_client_iso2(pki: Path, tmp_path: Path) -> None:
    keylog = tmp_path / "keys.log"
    seen, data, _ = asyncio.run(_our_secc_vs_s_client(
        pki, TlsProfile.ISO2, ["-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-SHA256", "-groups", "P-256"], keylog))
    assert seen and seen[0].version == "TLSv1.2" and seen[0].cipher == "ECDHE-ECDSA-AES128-SHA256"
    assert seen[0].peer_chain == ()  # -2: server authentication only
    response = _sap_answer(data)
    assert response.response_code is ap.ResponseCode.OK_SuccessfulNegotiation and response.schema_id == 7
    assert "CLIENT_RANDOM " in keylog.read_text()  # SSLKEYLOGFILE format, TLS 1.2


def test_our_secc_refuses_other_ciphers_and_versions(pki: Path, tmp_path: Path) -> None:
    for args in (["-tls1_2", "-cipher", "ECDHE-ECDSA-AES256-GCM-SHA384"], ["-tls1_3"]):
        seen, data, _ = asyncio.run(_our_secc_vs_s_client(pki, TlsProfile.ISO2, args, tmp_path / "k"))
        assert seen == [] and data == b""


def test_our_secc_with_openssl_s_client_tls13_mutual(pki: Path, tmp_path: Path) -> None:
    folder = pki / "iso20"
    keylog = tmp_path / "keys.log"
    args = ["-tls1_3", "-cert", str(folder / "oem_prov.pem"), "-key", str(folder / "oem_prov.key.pem"),
            "-cert_chain", str(subs(folder, "oem"))]
    seen, data, _ = asyncio.run(_our_secc_vs_s_client(pki, TlsProfile.ISO20, args, keylog))
    assert seen and seen[0].version == "TLSv1.3"
    assert len(seen[0].peer_chain) == 3  # the EV's OEM provisioning certificate and its two sub-CAs
    assert _sap_answer(data).response_code is ap.ResponseCode.OK_SuccessfulNegotiation
    assert "CLIENT_HANDSHAKE_TRAFFIC_SECRET " in keylog.read_text()  # TLS 1.3 secrets
    # without a client certificate the -20 SECC does not let the handshake finish
    seen, data, _ = asyncio.run(_our_secc_vs_s_client(pki, TlsProfile.ISO20, ["-tls1_3"], tmp_path / "k2"))
    assert seen == [] and data == b""


async def _our_evcc_vs_s_server(pki: Path, profile: TlsProfile, server_args: list[str], *,
                                tolerate_root_eku: bool = False) -> tuple[Any, bytes]:
    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        "openssl", "s_server", "-accept", f"[::1]:{port}", "-naccept", "1", *server_args,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    assert proc.stdout is not None
    out = b""
    try:
        while b"ACCEPT" not in out:
            line = await asyncio.wait_for(proc.stdout.readline(), 10)
            if not line:
                raise AssertionError("openssl s_server did not start: " + (await proc.stderr.read()).decode())  # type: ignore[union-attr]
            out += line
        tls = evcc_tls(pki, profile, tolerate_root_eku=tolerate_root_eku)
        conn = await connect_evcc(_evcc, host="::1", port=port, ssl=tls.context, verify_peer=tls.verify_peer)
        info = conn.session.tls
        with contextlib.suppress(asyncio.TimeoutError):
            while EVCC_SAP_FRAME not in out:
                chunk = await asyncio.wait_for(proc.stdout.read(200), 5)
                if not chunk:
                    break
                out += chunk
        conn.close()
        await conn.wait_closed()
    finally:
        if proc.returncode is None:
            proc.kill()
        await proc.wait()
    return info, out


def _evcc(info: ConnectionInfo) -> EvccSession:
    from .engines import evcc_engines

    return EvccSession(EvccSessionConfig(), evcc_engines(), now=info.now, tls=info.tls)


def test_our_evcc_with_openssl_s_server_iso2(pki: Path) -> None:
    folder = pki / "iso2"
    args = ["-cert", str(folder / "secc.pem"), "-key", str(folder / "secc.key.pem"),
            "-cert_chain", str(subs(folder, "cpo")), "-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-SHA256"]
    info, out = asyncio.run(_our_evcc_vs_s_server(pki, TlsProfile.ISO2, args))
    assert info.version == "TLSv1.2" and info.cipher == "ECDHE-ECDSA-AES128-SHA256"
    assert len(info.peer_chain) == 3
    assert EVCC_SAP_FRAME in out  # our SupportedAppProtocolReq came out of s_server's end of the tunnel


def test_our_evcc_with_openssl_s_server_tls13_mutual(pki: Path) -> None:
    folder = pki / "iso20"
    args = ["-cert", str(folder / "secc.pem"), "-key", str(folder / "secc.key.pem"),
            "-cert_chain", str(subs(folder, "cpo")), "-tls1_3", "-Verify", "3", "-verify_return_error",
            "-CAfile", str(folder / "oem_roots.pem")]
    info, out = asyncio.run(_our_evcc_vs_s_server(pki, TlsProfile.ISO20, args))
    assert info.version == "TLSv1.3" and len(info.peer_chain) == 3
    assert EVCC_SAP_FRAME in out  # s_server accepted our OEM chain (-verify_return_error) and got the request


def test_hubject_style_root_needs_the_switch(pki: Path) -> None:
    folder = pki / "iso2" / "hubject"
    args = ["-cert", str(folder / "secc.pem"), "-key", str(folder / "secc.key.pem"),
            "-cert_chain", str(subs(folder, "cpo")), "-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-SHA256"]
    with pytest.raises(ssl.SSLCertVerificationError, match="purpose"):
        _hubject(folder, args, False)
    info = _hubject(folder, args, True)
    assert info.version == "TLSv1.2"


def _hubject(folder: Path, args: list[str], tolerate: bool) -> Any:
    # a PKI folder whose V2G root is the Hubject-style one
    return asyncio.run(_our_evcc_vs_s_server(folder, TlsProfile.ISO2, args, tolerate_root_eku=tolerate))[0]


def test_the_secc_certificate_must_carry_dc_cpo(pki: Path) -> None:
    # an OEM chain presented by the server: OpenSSL is told to trust the OEM root, our DC=CPO check still refuses
    folder = pki / "iso2"
    args = ["-cert", str(folder / "oem_prov.pem"), "-key", str(folder / "oem_prov.key.pem"),
            "-cert_chain", str(subs(folder, "oem")), "-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-SHA256"]
    fake = folder.parent / "oem-as-v2g"
    fake.mkdir(exist_ok=True)
    (fake / "v2g_roots.pem").write_bytes((folder / "oem_root.pem").read_bytes())
    with pytest.raises(CertificateError, match="domain component CPO"):
        asyncio.run(_our_evcc_vs_s_server(fake, TlsProfile.ISO2, args))


async def _silent_tls_client(pki: Path) -> float:
    loop = asyncio.get_running_loop()
    server = await start_secc_server(
        lambda info: SeccSession(SeccSessionConfig(), secc_engines(), now=info.now, tls=info.tls),
        host="::1", port=0, ssl=secc_context(pki, TlsProfile.ISO2), ssl_handshake_timeout=0.3)
    try:
        reader, writer = await asyncio.open_connection("::1", server.port)
        start = loop.time()
        assert await asyncio.wait_for(reader.read(), 5) == b""  # closed by the SECC, not a hang
        elapsed = loop.time() - start
        writer.close()
    finally:
        await server.close()
    return elapsed


def test_tls_handshake_timeout(pki: Path) -> None:
    elapsed = asyncio.run(_silent_tls_client(pki))
    assert 0.2 <= elapsed < 3.0


async def _negotiated_over_tls(pki: Path) -> list[Any]:
    server = await start_secc_server(
        lambda info: SeccSession(SeccSessionConfig(), secc_engines(), now=info.now, tls=info.tls),
        host="::1", port=0, ssl=secc_context(pki, TlsProfile.ISO20))
    try:
        tls = evcc_tls(pki, TlsProfile.ISO20)
        conn = await connect_evcc(_evcc, host="::1", port=server.port, ssl=tls.context, verify_peer=tls.verify_peer)
        return [e async for e in conn.events()]
    finally:
        await server.close()


def test_sap_and_engine_over_our_tls13(pki: Path) -> None:
    events = asyncio.run(_negotiated_over_tls(pki))
    assert isinstance(events[0], ProtocolNegotiated)
    started = events[1]
    assert started.handover.tls is not None and started.handover.tls.version == "TLSv1.3"
    assert len(started.handover.tls.peer_chain) == 3  # the EVCC sees the SECC's chain
