"""The asyncio transports on ::1: SDP over UDP, then SAP and the engine seam over TCP, real sockets."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from typing import Any

import pytest

from evcharge.iso15118.handover import AppProtocol
from evcharge.iso15118.sdp import (
    SdpClient,
    SdpClientConfig,
    SdpDiscovered,
    SdpFailed,
    SdpServer,
    SdpServerConfig,
    Security,
)
from evcharge.iso15118.session import (
    EvccSession,
    EvccSessionConfig,
    ProtocolNegotiated,
    SeccSession,
    SeccSessionConfig,
    SessionClosed,
)
from evcharge.iso15118.transport.tcp import ConnectionInfo, V2gConnection, connect_evcc, start_secc_server
from evcharge.iso15118.transport.udp import discover, start_sdp_server
from evcharge.iso15118.v2gtp import encode_message

from .engines import Received, evcc_engines, secc_engines

LOOPBACK = "::1"


def _has_ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
            s.bind((LOOPBACK, 0))
        return True
    except OSError:
        return False


pytestmark = pytest.mark.skipif(not _has_ipv6_loopback(), reason="no IPv6 loopback")


def make_secc(info: ConnectionInfo) -> SeccSession:
    return SeccSession(SeccSessionConfig(), secc_engines(), now=info.now, tls=info.tls, extra={"peer": info.peer})


def make_evcc(info: ConnectionInfo) -> EvccSession:
    return EvccSession(EvccSessionConfig(), evcc_engines(), now=info.now, tls=info.tls)


async def _sdp_then_session() -> tuple[SdpDiscovered | SdpFailed, list[Any], list[Any]]:
    secc_events: list[Any] = []
    done = asyncio.Event()

    async def handler(conn: V2gConnection) -> None:
        async for event in conn.events():
            secc_events.append(event)
        done.set()

    server = await start_secc_server(make_secc, handler=handler, host=LOOPBACK, port=None)
    assert 49152 <= server.port <= 65535  # the dynamic range SDP announces
    sdp = await start_sdp_server(
        SdpServer(SdpServerConfig(address=ipaddress.IPv6Address(LOOPBACK), tcp_port=server.port)),
        host=LOOPBACK, port=0,
    )
    try:
        found = await discover(SdpClient(SdpClientConfig(security=Security.NO_TLS)), target=LOOPBACK, port=sdp.port)
        assert isinstance(found, SdpDiscovered)
        conn = await connect_evcc(make_evcc, host=str(found.response.address), port=found.response.port)
        evcc_events = [event async for event in conn.events()]
        await asyncio.wait_for(done.wait(), 5)
    finally:
        sdp.close()
        await server.close()
    return found, evcc_events, secc_events


def test_sdp_sap_and_engine_over_loopback() -> None:
    found, evcc_events, secc_events = asyncio.run(_sdp_then_session())
    assert isinstance(found, SdpDiscovered) and found.requests_sent == 1
    assert found.response.security is Security.NO_TLS
    assert isinstance(evcc_events[0], ProtocolNegotiated) and evcc_events[0].protocol is AppProtocol.ISO2
    assert [e.payload for e in evcc_events if isinstance(e, Received)] == [b"pong 0", b"pong 1", b"pong 2"]
    assert isinstance(evcc_events[-1], SessionClosed) and evcc_events[-1].error is None
    assert [e.payload for e in secc_events if isinstance(e, Received)] == [b"ping 0", b"ping 1", b"ping 2"]
    assert isinstance(secc_events[-1], SessionClosed)  # the EVCC closed: the SECC saw the connection end


async def _garbage_peer(payload: bytes) -> tuple[list[Any], bytes]:
    secc_events: list[Any] = []
    done = asyncio.Event()

    async def handler(conn: V2gConnection) -> None:
        async for event in conn.events():
            secc_events.append(event)
        done.set()

    server = await start_secc_server(make_secc, handler=handler, host=LOOPBACK, port=0)
    try:
        reader, writer = await asyncio.open_connection(LOOPBACK, server.port)
        writer.write(payload)
        await writer.drain()
        rest = await asyncio.wait_for(reader.read(), 5)  # the SECC closes: EOF, not a hang
        writer.close()
        await asyncio.wait_for(done.wait(), 5)
    finally:
        await server.close()
    return secc_events, rest


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"GET / HTTP/1.1\r\n\r\n", "version"),
        (encode_message(0x8001, b"\xff\xfe\xfd"), "does not decode"),
        (bytes.fromhex("01fe8001ffffffff"), "length"),
    ],
)
def test_a_garbage_peer_is_closed_with_a_reason(data: bytes, words: str) -> None:
    events, rest = asyncio.run(_garbage_peer(data))
    assert rest == b""
    closed = events[-1]
    assert isinstance(closed, SessionClosed) and closed.error is not None and words in closed.reason


async def _silent_peer() -> tuple[list[Any], float]:
    events: list[Any] = []
    loop = asyncio.get_running_loop()

    def quick(info: ConnectionInfo) -> SeccSession:
        return SeccSession(SeccSessionConfig(sap_timeout=0.3), secc_engines(), now=info.now)

    async def handler(conn: V2gConnection) -> None:
        async for event in conn.events():
            events.append(event)

    server = await start_secc_server(quick, handler=handler, host=LOOPBACK, port=0)
    try:
        start = loop.time()
        reader, writer = await asyncio.open_connection(LOOPBACK, server.port)
        assert await asyncio.wait_for(reader.read(), 5) == b""
        elapsed = loop.time() - start
        writer.close()
    finally:
        await server.close()
    return events, elapsed


def test_a_silent_peer_is_closed_at_the_sap_timeout() -> None:
    events, elapsed = asyncio.run(_silent_peer())
    assert 0.25 <= elapsed < 3.0
    assert isinstance(events[-1], SessionClosed) and "within the timeout" in events[-1].reason


async def _unanswered_discovery() -> SdpDiscovered | SdpFailed:
    with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as quiet:  # a port where nobody answers
        quiet.bind((LOOPBACK, 0))
        port = quiet.getsockname()[1]
        client = SdpClient(SdpClientConfig(response_timeout=0.02, max_requests=5))
        result = await discover(client, target=LOOPBACK, port=port)
        received = 0
        quiet.setblocking(False)
        while True:
            try:
                quiet.recv(100)
                received += 1
            except BlockingIOError:
                break
        assert received == 5
        return result


def test_discovery_gives_up_after_max_requests() -> None:
    result = asyncio.run(_unanswered_discovery())
    assert isinstance(result, SdpFailed) and result.requests_sent == 5


async def _buggy_engine() -> tuple[list[Any], list[Any], BaseException | None]:
    from evcharge.iso15118.handover import HandOver

    from .engines import EchoEngine

    class Buggy(EchoEngine):
        def receive_payload(self, payload_type: int, payload: bytes, now: float) -> None:
            raise ValueError("engine bug")

    secc_events: list[Any] = []
    errors: list[BaseException | None] = []

    def make(info: ConnectionInfo) -> SeccSession:
        def factory(handover: HandOver) -> Buggy:
            return Buggy(handover, role="secc")

        return SeccSession(SeccSessionConfig(), {p: factory for p in AppProtocol}, now=info.now)

    async def handler(conn: V2gConnection) -> None:
        async for event in conn.events():
            secc_events.append(event)
        errors.append(conn.error)

    server = await start_secc_server(make, handler=handler, host=LOOPBACK, port=0)
    try:
        conn = await connect_evcc(make_evcc, host=LOOPBACK, port=server.port)
        evcc_events = await asyncio.wait_for(_collect(conn), 5)
        for _ in range(50):
            if errors:
                break
            await asyncio.sleep(0.05)
    finally:
        await server.close()
    return secc_events, evcc_events, errors[0] if errors else None


async def _collect(conn: V2gConnection) -> list[Any]:
    return [e async for e in conn.events()]


def test_an_engine_bug_closes_the_connection_without_a_hang() -> None:
    secc_events, evcc_events, error = asyncio.run(_buggy_engine())
    assert isinstance(error, ValueError)
    assert isinstance(evcc_events[-1], SessionClosed)  # the car saw the connection close
    assert isinstance(secc_events[0], ProtocolNegotiated)


def test_link_local_address_of_a_missing_interface_is_an_oserror() -> None:
    from evcharge.iso15118.transport.udp import link_local_address

    with pytest.raises(OSError, match="no IPv6 link-local address"):
        link_local_address("nosuchif0", wait=0.1)
