"""The CSMS role gaps of issue 20, each shown over real websockets (and real TLS where it matters).

1. profiles 2 and 3 on one wss endpoint, a per-station minimum profile, the password check sees the TLS state;
2. an extra handshake check and the TLS context given to ``serve_csms`` (no ``TypeError``);
4. a second connection of a station: keep or replace;
5. after-answer hooks run once the answer is on the wire;
6. the frame trace of a session;
7. a duplicate message id never gets a second answer, even while the first call's handler runs.
(3, HTTP 400 for no supported subprotocol, is in test_loopback.py.)
"""

from __future__ import annotations

import asyncio
import base64
import http
import json
import ssl
from typing import Any

import pytest
import websockets

from evcharge.ocpp import v201
from evcharge.ocpp.charge_point import BackoffConfig, ChargePoint, ChargePointConfig
from evcharge.ocpp.csms import Csms, CsmsConfig, CsmsHandler, CsmsSecurity, HandshakeInfo, after
from evcharge.ocpp.routing import on
from evcharge.ocpp.transport.websocket import ChargePointClient, ClientSecurity, serve_csms

from .pki import Pki, make_pki

NOW = "2024-05-01T12:00:00Z"
CERT_ID = "CP-CERT"  # the identity of the test client certificate


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"), CERT_ID)


class Hb(CsmsHandler):
    @on("Heartbeat")
    def heartbeat(self, request: Any) -> Any:
        return {"currentTime": NOW}


def _basic(identity: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{identity}:{password}".encode()).decode()}


async def _status(url: str, *, headers: dict[str, str] | None = None, ctx: ssl.SSLContext | None = None,
                  subprotocols: tuple[str, ...] = ("ocpp2.0.1",)) -> int:
    """101 if the handshake succeeds, else the HTTP status the server refused it with."""
    try:
        async with websockets.connect(url, subprotocols=list(subprotocols),  # type: ignore[arg-type]
                                      additional_headers=headers or {}, ssl=ctx, proxy=None):
            return 101
    except websockets.InvalidStatus as exc:
        return int(exc.response.status_code)


def _mutual_optional(pki: Pki) -> ssl.SSLContext:
    ctx = pki.server_context(mutual=True)
    ctx.verify_mode = ssl.CERT_OPTIONAL  # a certificate is asked for, not demanded: basic auth stays possible
    return ctx


# ------------------------------------------------------------------------------------------------ gap 1


def test_profiles_2_and_3_on_one_endpoint_with_minimum_profile(pki: Pki) -> None:
    seen: list[tuple[str, bool, int]] = []
    minimum = {CERT_ID: 3, "CP-PW": 2, "CP-LOW": 2}

    def check_password(identity: str, password: str, info: HandshakeInfo) -> bool:
        seen.append((identity, info.tls, info.profile))
        return info.tls and password == "secret-" + identity  # this CSMS accepts passwords only over TLS

    async def main() -> None:
        sec = CsmsSecurity(profiles=(2, 3), check_password=check_password, ssl_context=_mutual_optional(pki),
                           minimum_profile=minimum.get)
        csms = Csms(CsmsConfig(versions=(v201,), security=sec), Hb)
        server = await serve_csms(csms, "127.0.0.1", 0)
        base = f"wss://localhost:{server.sockets[0].getsockname()[1]}"
        with_cert = pki.client_context(with_cert=True)
        without = pki.client_context(with_cert=False)
        # profile 3: a valid certificate and no Authorization header
        assert await _status(f"{base}/{CERT_ID}", ctx=with_cert) == 101
        # profile 2 on the same endpoint: basic auth, no certificate
        assert await _status(f"{base}/CP-PW", ctx=without, headers=_basic("CP-PW", "secret-CP-PW")) == 101
        assert await _status(f"{base}/CP-PW", ctx=without, headers=_basic("CP-PW", "wrong")) == 401
        # nothing presented at all
        assert await _status(f"{base}/CP-PW", ctx=without) == 401
        # the certificate's station below its minimum profile (it must use 3): refused although the password is right
        assert await _status(f"{base}/{CERT_ID}", ctx=without, headers=_basic(CERT_ID, "secret-" + CERT_ID)) == 403
        # a certificate of another identity does not make profile 3
        assert await _status(f"{base}/CP-LOW", ctx=with_cert) == 403
        assert ("CP-PW", True, 2) in seen and all(tls for _, tls, _ in seen)
        server.close()
        await server.wait_closed()

    asyncio.run(main())


def test_password_check_sees_plain_connection() -> None:
    infos: list[HandshakeInfo] = []

    def check_password(identity: str, password: str, info: HandshakeInfo) -> bool:
        infos.append(info)
        return password == "pw"

    async def main() -> None:
        sec = CsmsSecurity(profiles=(0, 1), check_password=check_password, minimum_profile={"CP-1": 1}.get)
        csms = Csms(CsmsConfig(versions=(v201,), security=sec), Hb)
        server = await serve_csms(csms, "127.0.0.1", 0)
        base = f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        assert await _status(f"{base}/CP-1", headers=_basic("CP-1", "pw")) == 101
        assert await _status(f"{base}/CP-1") == 403  # profile 0 below its minimum
        assert await _status(f"{base}/CP-0") == 101  # no minimum: profile 0 served here
        assert [(i.identity, i.tls, i.profile) for i in infos] == [("CP-1", False, 1)]
        server.close()
        await server.wait_closed()

    asyncio.run(main())


# ------------------------------------------------------------------------------------------------ gap 2


def test_extra_handshake_check_and_tls_context(pki: Pki) -> None:
    async def main() -> None:
        checked: list[tuple[str, int]] = []

        def deny_blocked(connection: Any, request: Any) -> Any:
            info: HandshakeInfo = connection.handshake_info
            checked.append((info.identity, info.profile))
            if info.identity == "BLOCKED":
                return connection.respond(http.HTTPStatus.FORBIDDEN, "blocked\n")
            return None

        # the security config names no TLS context for profile 3 here: it is given to serve_csms
        sec = CsmsSecurity(profile=3, ssl_context=pki.server_context(mutual=True))
        csms = Csms(CsmsConfig(versions=(v201,), security=sec), Hb)
        server = await serve_csms(csms, "127.0.0.1", 0, ssl=pki.server_context(mutual=True),
                                  process_request=deny_blocked)
        base = f"wss://localhost:{server.sockets[0].getsockname()[1]}"
        assert await _status(f"{base}/{CERT_ID}", ctx=pki.client_context(with_cert=True)) == 101
        server.close()
        await server.wait_closed()
        # a plain endpoint whose TLS comes only from serve_csms's ssl argument
        csms = Csms(CsmsConfig(versions=(v201,)), Hb)
        server = await serve_csms(csms, "127.0.0.1", 0, ssl=pki.server_context(mutual=False),
                                  process_request=deny_blocked)
        base = f"wss://localhost:{server.sockets[0].getsockname()[1]}"
        assert await _status(f"{base}/BLOCKED", ctx=pki.client_context(with_cert=False)) == 403
        assert await _status(f"{base}/FREE", ctx=pki.client_context(with_cert=False)) == 101
        assert checked == [(CERT_ID, 3), ("BLOCKED", 0), ("FREE", 0)]  # TLS without a profile: 0
        server.close()
        await server.wait_closed()

    asyncio.run(main())


# ------------------------------------------------------------------------------------------------ gap 4


@pytest.mark.parametrize("mode", ["keep", "replace"])
def test_second_connection_keep_or_replace(mode: str) -> None:
    async def main() -> None:
        csms = Csms(CsmsConfig(versions=(v201,), duplicate_connection=mode), Hb)  # type: ignore[arg-type]
        server = await serve_csms(csms, "127.0.0.1", 0)
        url = f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}/DUP-1"
        first = await websockets.connect(url, subprotocols=["ocpp2.0.1"])  # type: ignore[list-item]
        for _ in range(500):
            if "DUP-1" in csms.connections:
                break
            await asyncio.sleep(0.01)
        old = csms.connections["DUP-1"]
        if mode == "keep":
            assert await _status(url) == 409
            assert csms.connections["DUP-1"] is old
            await first.send('[2, "a", "Heartbeat", {}]')
            assert json.loads(await first.recv()) == [3, "a", {"currentTime": NOW}]  # the first one still works
        else:
            second = await websockets.connect(url, subprotocols=["ocpp2.0.1"])  # type: ignore[list-item]
            await asyncio.wait_for(first.wait_closed(), 10)  # the server closed the older connection
            await second.send('[2, "b", "Heartbeat", {}]')
            assert json.loads(await second.recv()) == [3, "b", {"currentTime": NOW}]
            assert csms.connections["DUP-1"] is not old
            await second.close()
        await first.close()
        server.close()
        await server.wait_closed()

    asyncio.run(main())


# ------------------------------------------------------------------------------------------------ gaps 5, 6


class SignThenSend(CsmsHandler):
    """SignCertificate is answered first; CertificateSigned follows from the after-hook."""

    def __init__(self, identity: str, csms: Csms) -> None:
        super().__init__(identity, csms)
        self.signed: list[str] = []

    @on("SignCertificate")
    def sign(self, request: Any) -> Any:
        return {"status": "Accepted"}

    @after("SignCertificate")
    async def send_certificate(self, request: Any, response: Any) -> None:
        answer = await self.call(v201.CertificateSignedRequest(certificate_chain="-----BEGIN CERTIFICATE-----"))
        self.signed.append(answer.status)

    @on("Heartbeat")
    def heartbeat(self, request: Any) -> Any:
        raise ValueError("no after-hook for a CALLERROR")

    @after("Heartbeat")
    def never(self, request: Any, response: Any) -> None:
        raise AssertionError("after-hook ran for a call answered with a CALLERROR")


def test_after_hook_runs_once_the_answer_is_written_and_trace_sees_every_frame() -> None:
    async def main() -> None:
        frames: list[tuple[str, str, Any]] = []
        csms = Csms(CsmsConfig(versions=(v201,)), SignThenSend,
                    trace=lambda ident, direction, msg: frames.append((ident, direction, json.loads(msg))))
        server = await serve_csms(csms, "127.0.0.1", 0)
        url = f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}/AFTER-1"
        async with websockets.connect(url, subprotocols=["ocpp2.0.1"]) as ws:  # type: ignore[list-item]
            await ws.send(json.dumps([2, "s1", "SignCertificate", {"csr": "x" * 10}]))
            first = json.loads(await ws.recv())
            second = json.loads(await ws.recv())
            assert first == [3, "s1", {"status": "Accepted"}]  # the answer comes first...
            assert second[0] == 2 and second[2] == "CertificateSigned"  # ... then the hook's CALL
            await ws.send(json.dumps([3, second[1], {"status": "Accepted"}]))
            await ws.send(json.dumps([2, "h1", "Heartbeat", {}]))
            assert json.loads(await ws.recv())[:3] == [4, "h1", "InternalError"]
            handler = csms.connections["AFTER-1"]
            assert isinstance(handler, SignThenSend)
            for _ in range(500):
                if handler.signed:
                    break
                await asyncio.sleep(0.01)
            assert handler.signed == ["Accepted"]
        assert [(d, m[0], m[1]) for _, d, m in frames] == [
            ("in", 2, "s1"), ("out", 3, "s1"), ("out", 2, second[1]), ("in", 3, second[1]),
            ("in", 2, "h1"), ("out", 4, "h1")]
        assert {ident for ident, _, _ in frames} == {"AFTER-1"}
        server.close()
        await server.wait_closed()

    asyncio.run(main())


# ------------------------------------------------------------------------------------------------ gap 7


def test_duplicate_id_during_slow_handler_gets_one_answer() -> None:
    release = asyncio.Event()

    class Slow(CsmsHandler):
        @on("Heartbeat")
        async def heartbeat(self, request: Any) -> Any:
            await release.wait()
            return {"currentTime": NOW}

    async def main() -> None:
        csms = Csms(CsmsConfig(versions=(v201,)), Slow)
        server = await serve_csms(csms, "127.0.0.1", 0)
        url = f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}/DUPID"
        async with websockets.connect(url, subprotocols=["ocpp2.0.1"]) as ws:  # type: ignore[list-item]
            await ws.send('[2, "same", "Heartbeat", {}]')
            await asyncio.sleep(0.05)
            await ws.send('[2, "same", "Heartbeat", {}]')  # while the first handler still runs
            await asyncio.sleep(0.05)
            release.set()
            answers = [json.loads(await asyncio.wait_for(ws.recv(), 5))]
            with pytest.raises(TimeoutError):
                answers.append(json.loads(await asyncio.wait_for(ws.recv(), 0.3)))
            assert answers == [[3, "same", {"currentTime": NOW}]]  # one answer, the handler's
        server.close()
        await server.wait_closed()

    asyncio.run(main())


def test_charge_point_client_still_connects_under_mixed_profiles(pki: Pki) -> None:
    """Our own client with profile 3 and profile 2 against the mixed endpoint."""

    async def main() -> None:
        sec = CsmsSecurity(profiles=(2, 3), ssl_context=_mutual_optional(pki),
                           check_password=lambda i, p, info: p == "0123456789abcdef")
        csms = Csms(CsmsConfig(versions=(v201,), security=sec), Hb)
        server = await serve_csms(csms, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        for identity, security in (
            (CERT_ID, ClientSecurity(profile=3, ssl_context=pki.client_context(with_cert=True))),
            ("CP-PW", ClientSecurity(profile=2, password="0123456789abcdef",
                                     ssl_context=pki.client_context(with_cert=False))),
        ):
            cp = ChargePoint(identity)
            client = ChargePointClient(cp, f"wss://localhost:{port}/", ChargePointConfig(
                versions=(v201,), backoff=BackoffConfig(initial=0.05, maximum=0.1)), security=security)
            task = asyncio.create_task(client.run())
            await asyncio.wait_for(cp.wait_connected(), 10)
            answer = await cp.call(v201.HeartbeatRequest())
            assert answer.current_time == NOW
            handler = csms.connections[identity]
            assert handler.handshake is not None
            assert handler.handshake.profile == security.profile
            await client.stop()
            await asyncio.wait_for(task, 10)
        server.close()
        await server.wait_closed()

    asyncio.run(main())
