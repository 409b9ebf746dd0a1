"""Our charge point against our CSMS over real websockets on loopback, under security profiles 1, 2 and 3."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from typing import Any

import pytest

from evcharge.ocpp import v16, v21, v201
from evcharge.ocpp.charge_point import BackoffConfig, ChargePoint, ChargePointConfig
from evcharge.ocpp.csms import Csms, CsmsConfig, CsmsHandler, CsmsSecurity
from evcharge.ocpp.errors import CallTimeoutError, NotConnectedError, OcppCallError
from evcharge.ocpp.routing import on
from evcharge.ocpp.transport.websocket import ChargePointClient, ClientSecurity, serve_csms

from .pki import Pki, make_pki
from .scenario import Cp16, Cp201, Csms16, Csms201, run_16_session, run_201_session

IDENTITY = "CP-0001"
PASSWORD = "0123456789abcdef"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"), IDENTITY)


def check_password(identity: str, password: str, info: Any) -> bool:
    return identity == IDENTITY and password == PASSWORD


def securities(pki: Pki, profile: int) -> tuple[CsmsSecurity, ClientSecurity, str]:
    if profile == 1:
        return (CsmsSecurity(profile=1, check_password=check_password),
                ClientSecurity(profile=1, password=PASSWORD), "ws")
    if profile == 2:
        return (CsmsSecurity(profile=2, check_password=check_password, ssl_context=pki.server_context(mutual=False)),
                ClientSecurity(profile=2, password=PASSWORD, ssl_context=pki.client_context(with_cert=False)), "wss")
    return (CsmsSecurity(profile=3, ssl_context=pki.server_context(mutual=True)),
            ClientSecurity(profile=3, ssl_context=pki.client_context(with_cert=True)), "wss")


class _Endpoint:
    def __init__(self, csms: Csms, server: Any) -> None:
        self.csms = csms
        self.server = server
        self.port: int = server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        self.server.close()
        await self.server.wait_closed()


async def start_csms(security: CsmsSecurity, factory: Callable[[str, Csms], CsmsHandler],
                     versions: tuple[Any, ...] = (v201, v16, v21), **cfg: Any) -> _Endpoint:
    csms = Csms(CsmsConfig(versions=versions, security=security, **cfg), factory)
    server = await serve_csms(csms, "127.0.0.1", 0)
    return _Endpoint(csms, server)


async def connect(cp: ChargePoint, url: str, versions: tuple[Any, ...], security: ClientSecurity, **cfg: Any
                  ) -> tuple[ChargePointClient, asyncio.Task[None]]:
    client = ChargePointClient(cp, url, ChargePointConfig(versions=versions, **cfg), security=security,
                               rng=random.Random(1))
    task = asyncio.create_task(client.run())
    await asyncio.wait_for(cp.wait_connected(), 10)
    return client, task


async def shutdown(client: ChargePointClient, task: asyncio.Task[None], endpoint: _Endpoint) -> None:
    await client.stop()
    await asyncio.wait_for(task, 10)
    await endpoint.close()


@pytest.mark.parametrize("profile", [1, 2, 3])
@pytest.mark.parametrize("version", ["2.0.1", "1.6"])
def test_full_session(pki: Pki, profile: int, version: str) -> None:
    async def main() -> None:
        server_sec, client_sec, scheme = securities(pki, profile)
        ep = await start_csms(server_sec, lambda ident, csms: (Csms201 if version == "2.0.1" else Csms16)(ident, csms))
        cp: Any = Cp201(IDENTITY) if version == "2.0.1" else Cp16(IDENTITY)
        offered = (v201,) if version == "2.0.1" else (v16,)
        client, task = await connect(cp, f"{scheme}://localhost:{ep.port}/ocpp", offered, client_sec)
        assert cp.version is offered[0]
        if profile == 3:
            peercert = client.session.websocket.transport.get_extra_info("peercert")  # type: ignore[union-attr]
            assert peercert is not None
        if version == "2.0.1":
            await run_201_session(cp, ep.csms, IDENTITY)
        else:
            await run_16_session(cp, ep.csms, IDENTITY)
        await shutdown(client, task, ep)
        assert not cp.connected and IDENTITY not in ep.csms.connections

    asyncio.run(main())


async def _expect_rejected(cp: ChargePoint, url: str, security: ClientSecurity) -> ChargePointClient:
    """The handshake fails every time: the client keeps retrying with backoff, never connects."""
    delays: list[float] = []
    attempts = asyncio.Event()

    async def fake_sleep(delay: float) -> None:
        delays.append(delay)
        if len(delays) >= 3:
            attempts.set()
            await asyncio.Future()  # park until cancelled
        await asyncio.sleep(0)

    client = ChargePointClient(cp, url, ChargePointConfig(versions=(v201,), backoff=BackoffConfig(jitter=0.0)),
                               security=security, sleep=fake_sleep)
    task = asyncio.create_task(client.run())
    await asyncio.wait_for(attempts.wait(), 20)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert client.connections == 0 and not cp.connected
    assert delays == [1.0, 2.0, 4.0]  # exponential backoff between the failed attempts
    return client


def test_profile_1_wrong_password(pki: Pki) -> None:
    async def main() -> None:
        ep = await start_csms(CsmsSecurity(profile=1, check_password=check_password), Csms201)
        await _expect_rejected(Cp201(IDENTITY), f"ws://127.0.0.1:{ep.port}/", ClientSecurity(profile=1, password="x"))
        await _expect_rejected(Cp201(IDENTITY), f"ws://127.0.0.1:{ep.port}/", ClientSecurity(profile=0))
        # the user name must be the identity: a valid password of another charge point does not do
        await _expect_rejected(Cp201("CP-0002"), f"ws://127.0.0.1:{ep.port}/",
                               ClientSecurity(profile=1, password=PASSWORD))
        await ep.close()

    asyncio.run(main())


def test_profile_2_untrusted_server(pki: Pki) -> None:
    async def main() -> None:
        server_sec, _, _ = securities(pki, 2)
        ep = await start_csms(server_sec, Csms201)
        untrusting = ClientSecurity(profile=2, password=PASSWORD,
                                    ssl_context=pki.client_context(with_cert=False, trust=pki.other_ca))
        await _expect_rejected(Cp201(IDENTITY), f"wss://localhost:{ep.port}/", untrusting)
        await ep.close()

    asyncio.run(main())


def test_profile_3_needs_client_certificate(pki: Pki) -> None:
    async def main() -> None:
        server_sec, _, _ = securities(pki, 3)
        ep = await start_csms(server_sec, Csms201)
        no_cert = ClientSecurity(profile=3, ssl_context=pki.client_context(with_cert=False))
        await _expect_rejected(Cp201(IDENTITY), f"wss://localhost:{ep.port}/", no_cert)
        # a valid certificate of another identity is refused too (CN must be the identity)
        with_cert = ClientSecurity(profile=3, ssl_context=pki.client_context(with_cert=True))
        await _expect_rejected(Cp201("CP-0002"), f"wss://localhost:{ep.port}/", with_cert)
        await ep.close()

    asyncio.run(main())


def test_security_config_checks(pki: Pki) -> None:
    from evcharge.ocpp.errors import LocalProtocolError

    with pytest.raises(LocalProtocolError):
        CsmsSecurity(profile=1)
    with pytest.raises(LocalProtocolError):
        CsmsSecurity(profile=3, ssl_context=pki.server_context(mutual=False))
    with pytest.raises(LocalProtocolError):
        ClientSecurity(profile=2, password=PASSWORD)
    with pytest.raises(LocalProtocolError, match="wss://"):
        ChargePointClient(Cp201(IDENTITY), "ws://localhost:1/", ChargePointConfig(versions=(v201,)),
                          security=ClientSecurity(profile=3, ssl_context=pki.client_context(with_cert=True)))


# ------------------------------------------------------------------------------------ negotiation


@pytest.mark.parametrize(
    ("offered", "expected"),
    [((v16,), "1.6"), ((v201,), "2.0.1"), ((v21, v201), "2.1"), ((v201, v21), "2.0.1"), ((v16, v201), "1.6")],
)
def test_subprotocol_negotiation_on_one_endpoint(offered: tuple[Any, ...], expected: str) -> None:
    async def main() -> None:
        seen: list[str] = []

        class Recorder(CsmsHandler):
            async def on_connected(self) -> None:
                assert self.version is not None
                seen.append(self.version.VERSION)

        ep = await start_csms(CsmsSecurity(), Recorder)
        cp = ChargePoint(IDENTITY)
        client, task = await connect(cp, f"ws://127.0.0.1:{ep.port}/ocpp/", offered, ClientSecurity())
        assert cp.version is not None and cp.version.VERSION == expected
        await asyncio.sleep(0.05)
        assert seen == [expected]
        await shutdown(client, task, ep)

    asyncio.run(main())


def test_no_common_subprotocol_is_refused() -> None:
    async def main() -> None:
        # a client offering only 1.6 to a 2.0.1-only endpoint: the server answers the handshake with HTTP 400
        ep = await start_csms(CsmsSecurity(), Csms201, versions=(v201,))
        status, head = await raw_handshake(ep.port, "/CP-X", "ocpp1.6")
        assert status == 400, head
        status, head = await raw_handshake(ep.port, "/CP-X", None)  # no Sec-WebSocket-Protocol at all
        assert status == 400, head
        assert "CP-X" not in ep.csms.connections
        await ep.close()
        # the old behaviour on request: accept, then close with 1002
        ep = await start_csms(CsmsSecurity(), Csms201, versions=(v201,), no_subprotocol="accept-close")
        status, head = await raw_handshake(ep.port, "/CP-X", "ocpp1.6", read_frame=True)
        assert status == 101, head
        assert head.endswith("close 1002")  # then the websocket is closed with 1002 (protocol error)
        await ep.close()

    asyncio.run(main())


async def raw_handshake(port: int, path: str, subprotocol: str | None, *, read_frame: bool = False
                        ) -> tuple[int, str]:
    """Send a websocket upgrade by hand; the server's status code and response head (with ``read_frame``, the
    first frame after it is read too and, if it is a close frame, ``close <code>`` is appended)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    proto = f"Sec-WebSocket-Protocol: {subprotocol}\r\n" if subprotocol else ""
    writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 f"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{proto}\r\n"
                 .encode())
    head = (await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)).decode()
    if read_frame:
        first = await asyncio.wait_for(reader.readexactly(2), 10)
        body = await asyncio.wait_for(reader.readexactly(first[1] & 0x7F), 10)  # a server's frames are unmasked
        if first[0] & 0x0F == 0x8:
            head += f"close {int.from_bytes(body[:2], 'big')}"
    writer.close()
    return int(head.split()[1]), head


# ------------------------------------------------------------------------------------ robustness


def test_reconnect_after_server_closes() -> None:
    async def main() -> None:
        connected: list[str] = []

        class H(CsmsHandler):
            async def on_connected(self) -> None:
                connected.append(self.identity)

        ep = await start_csms(CsmsSecurity(), H)
        cp = ChargePoint(IDENTITY)
        client, task = await connect(cp, f"ws://127.0.0.1:{ep.port}/", (v201,), ClientSecurity(),
                                     backoff=BackoffConfig(initial=0.05, maximum=0.2))
        assert client.connections == 1
        await ep.csms.connections[IDENTITY].close()
        for _ in range(2000):
            if client.connections == 2 and cp.connected and IDENTITY in ep.csms.connections:
                break
            await asyncio.sleep(0.01)
        assert client.connections == 2 and cp.connected
        assert connected == [IDENTITY, IDENTITY]
        await shutdown(client, task, ep)

    asyncio.run(main())


def test_timeout_unsupported_and_handler_errors() -> None:
    async def main() -> None:
        class SlowCp(ChargePoint):
            @on(v201.Action.RESET)
            async def reset(self, request: Any) -> Any:
                await asyncio.sleep(30)

            @on(v201.Action.GET_VARIABLES)
            def broken(self, request: Any) -> Any:
                raise ValueError("boom")

            @on(v201.Action.CLEAR_CACHE)
            def refuse(self, request: Any) -> Any:
                raise OcppCallError("SecurityError", "not you", {"why": "test"})

        ep = await start_csms(CsmsSecurity(), CsmsHandler)
        cp = SlowCp(IDENTITY)
        client, task = await connect(cp, f"ws://127.0.0.1:{ep.port}/", (v201,), ClientSecurity())
        for _ in range(2000):
            if IDENTITY in ep.csms.connections:
                break
            await asyncio.sleep(0.01)
        h = ep.csms.connections[IDENTITY]
        with pytest.raises(CallTimeoutError):  # a per-call timeout (the connection's is 30 s)
            await h.call(v201.ResetRequest(type=v201.ResetEnumType.IMMEDIATE), timeout=0.2)
        with pytest.raises(OcppCallError) as err:
            await h.call(v201.GetVariablesRequest.from_json(
                {"getVariableData": [{"component": {"name": "X"}, "variable": {"name": "Y"}}]}))
        assert err.value.code == "InternalError"
        with pytest.raises(OcppCallError) as err:
            await h.call(v201.ClearCacheRequest())
        assert (err.value.code, err.value.description, err.value.details) == ("SecurityError", "not you",
                                                                              {"why": "test"})
        with pytest.raises(OcppCallError) as err:  # no handler: NotSupported
            await h.call(v201.UnlockConnectorRequest(evse_id=1, connector_id=1))
        assert err.value.code == "NotSupported"
        # the CSMS base handler has no handlers either
        with pytest.raises(OcppCallError, match="NotSupported"):
            await cp.call(v201.HeartbeatRequest())
        await shutdown(client, task, ep)
        with pytest.raises(NotConnectedError):
            await cp.call(v201.HeartbeatRequest())

    asyncio.run(main())


def test_ping_pong() -> None:
    async def main() -> None:
        ep = await start_csms(CsmsSecurity(), CsmsHandler, ping_interval=0.05, ping_timeout=10.0)
        cp = ChargePoint(IDENTITY)
        client, task = await connect(cp, f"ws://127.0.0.1:{ep.port}/", (v201,), ClientSecurity(),
                                     ping_interval=0.05, ping_timeout=10.0)
        ws: Any = client.session.websocket  # type: ignore[union-attr]
        for _ in range(2000):
            if ws.latency > 0:
                break
            await asyncio.sleep(0.01)
        assert ws.latency > 0  # our ping was answered with a pong
        await shutdown(client, task, ep)

    asyncio.run(main())


def test_same_identity_replaces_old_connection() -> None:
    async def main() -> None:
        ep = await start_csms(CsmsSecurity(), CsmsHandler)
        first, second = ChargePoint(IDENTITY), ChargePoint(IDENTITY)
        c1, t1 = await connect(first, f"ws://127.0.0.1:{ep.port}/", (v201,), ClientSecurity(),
                               backoff=BackoffConfig(initial=30.0, maximum=30.0))
        for _ in range(2000):
            if IDENTITY in ep.csms.connections:
                break
            await asyncio.sleep(0.01)
        old = ep.csms.connections[IDENTITY]
        c2, t2 = await connect(second, f"ws://127.0.0.1:{ep.port}/", (v201,), ClientSecurity())
        for _ in range(2000):
            if not first.connected and ep.csms.connections.get(IDENTITY) not in (None, old):
                break
            await asyncio.sleep(0.01)
        assert not first.connected and second.connected  # the CSMS closed the older connection
        assert ep.csms.connections[IDENTITY] is not old
        await c1.stop()
        t1.cancel()
        await shutdown(c2, t2, ep)

    asyncio.run(main())
