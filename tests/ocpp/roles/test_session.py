"""The asyncio session over real websockets: 2.1 SEND, queued concurrent calls, a peer that breaks the rules."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import websockets

from evcharge.ocpp import v21, v201
from evcharge.ocpp.charge_point import ChargePoint, ChargePointConfig
from evcharge.ocpp.csms import Csms, CsmsConfig, CsmsHandler
from evcharge.ocpp.routing import on
from evcharge.ocpp.transport.websocket import ChargePointClient, serve_csms

NOW = "2024-05-01T12:00:00Z"


class Recorder(CsmsHandler):
    def __init__(self, identity: str, csms: Csms) -> None:
        super().__init__(identity, csms)
        self.streams: list[Any] = []
        self.in_handler = 0
        self.max_in_handler = 0
        self.violations: list[str] = []

    @on("NotifyPeriodicEventStream")
    def stream(self, request: Any) -> None:
        self.streams.append(request)

    @on("Heartbeat")
    async def heartbeat(self, request: Any) -> Any:
        self.in_handler += 1
        self.max_in_handler = max(self.max_in_handler, self.in_handler)
        await asyncio.sleep(0.001)
        self.in_handler -= 1
        assert self.version is not None
        return self.version.response_class("Heartbeat").from_json({"currentTime": NOW})

    def on_protocol_violation(self, description: str) -> None:
        self.violations.append(description)


async def _setup(versions: tuple[Any, ...]) -> tuple[Csms, Any, ChargePoint, ChargePointClient, asyncio.Task[None]]:
    csms = Csms(CsmsConfig(versions=versions), Recorder)
    server = await serve_csms(csms, "127.0.0.1", 0)
    cp = ChargePoint("S-1")
    client = ChargePointClient(cp, f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}/",
                               ChargePointConfig(versions=versions))
    task = asyncio.create_task(client.run())
    await asyncio.wait_for(cp.wait_connected(), 10)
    for _ in range(2000):
        if "S-1" in csms.connections:
            break
        await asyncio.sleep(0.01)
    return csms, server, cp, client, task


def test_send_2_1_over_websocket() -> None:
    async def main() -> None:
        csms, server, cp, client, task = await _setup((v21,))
        payload = {"id": 4, "pending": 0, "basetime": NOW, "data": [{"t": 0.0, "v": "11.5"}, {"t": 1.0, "v": "11.7"}]}
        await cp.send(v21.NotifyPeriodicEventStreamRequest.from_json(payload))
        handler = csms.connections["S-1"]
        assert isinstance(handler, Recorder)
        for _ in range(2000):
            if handler.streams:
                break
            await asyncio.sleep(0.01)
        assert [s.to_json() for s in handler.streams] == [payload]
        await client.stop()
        await task
        server.close()

    asyncio.run(main())


def test_concurrent_calls_are_queued_one_at_a_time() -> None:
    async def main() -> None:
        csms, server, cp, client, task = await _setup((v201,))
        results = await asyncio.gather(*(cp.call(v201.HeartbeatRequest()) for _ in range(50)))
        assert [r.current_time for r in results] == [NOW] * 50
        handler = csms.connections["S-1"]
        assert isinstance(handler, Recorder)
        assert handler.max_in_handler == 1  # the CSMS never saw two of our calls outstanding at once
        await client.stop()
        await task
        server.close()

    asyncio.run(main())


def test_rule_breaking_peer_over_websocket() -> None:
    async def main() -> None:
        csms = Csms(CsmsConfig(versions=(v201,)), Recorder)
        server = await serve_csms(csms, "127.0.0.1", 0)
        url = f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}/raw-1"
        async with websockets.connect(url, subprotocols=["ocpp2.0.1"]) as ws:  # type: ignore[list-item]
            await ws.send("this is not json")
            assert json.loads(await ws.recv())[:3] == [4, "-1", "FormatViolation"]
            await ws.send('[3, "never-asked", {}]')  # an answer to nothing: never answered
            await ws.send('[2, "ok-1", "Heartbeat", {}]')
            assert json.loads(await ws.recv()) == [3, "ok-1", {"currentTime": NOW}]
            await ws.send('[2, "ok-1", "Heartbeat", {}]')  # a duplicate id: not answered a second time
            await ws.send('[2, "ok-2", "Heartbeat", {}]')
            assert json.loads(await ws.recv()) == [3, "ok-2", {"currentTime": NOW}]
            handler = csms.connections["raw-1"]
            assert isinstance(handler, Recorder) and len(handler.violations) == 3
        server.close()

    asyncio.run(main())


def test_dead_peer_is_dropped_by_ping_timeout() -> None:
    async def main() -> None:
        gone = asyncio.Event()

        class Watch(CsmsHandler):
            async def on_disconnected(self) -> None:
                gone.set()

        csms = Csms(CsmsConfig(versions=(v201,), ping_interval=0.05, ping_timeout=0.1, close_timeout=0.2),
                    Watch)
        server = await serve_csms(csms, "127.0.0.1", 0)
        # a raw TCP peer: completes the websocket handshake, then never answers anything (no pongs)
        reader, writer = await asyncio.open_connection("127.0.0.1", server.sockets[0].getsockname()[1])
        writer.write(b"GET /dead-1 HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
                     b"Sec-WebSocket-Protocol: ocpp2.0.1\r\n\r\n")
        assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 101")
        for _ in range(2000):
            if "dead-1" in csms.connections:
                break
            await asyncio.sleep(0.01)
        assert "dead-1" in csms.connections
        await asyncio.wait_for(gone.wait(), 10)  # no pong within ping_timeout: the CSMS dropped it
        assert "dead-1" not in csms.connections
        writer.close()
        server.close()

    asyncio.run(main())
