"""An incoming OCPP 2.1 SEND takes the CALL's path: the RPC core parses and validates the payload and builds the
typed request once (``RpcConnection._check_payload``, the same function as for a CALL), and the session hands that
object to the handler the ``@on`` table names; a SEND is never answered (OCPP 2.1 part 4, SEND message type 6)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import websockets

from evcharge.ocpp import v21
from evcharge.ocpp.csms import Csms, CsmsConfig, CsmsHandler
from evcharge.ocpp.routing import on
from evcharge.ocpp.transport.websocket import serve_csms

NOW = "2024-05-01T12:00:00Z"
STREAM = {"id": 4, "pending": 0, "basetime": NOW, "data": [{"t": 0.0, "v": "11.5"}, {"t": 1.0, "v": "11.7"}]}


class Streams(CsmsHandler):
    def __init__(self, identity: str, csms: Csms) -> None:
        super().__init__(identity, csms)
        self.received: list[Any] = []
        self.violations: list[str] = []

    @on("NotifyPeriodicEventStream")
    def stream(self, request: Any) -> None:
        self.received.append(request)

    @on("Heartbeat")
    def heartbeat(self, request: Any) -> Any:
        return v21.HeartbeatResponse.from_json({"currentTime": NOW})

    def on_protocol_violation(self, description: str) -> None:
        self.violations.append(description)


async def _exchange() -> tuple[Streams, list[Any]]:
    csms = Csms(CsmsConfig(versions=(v21,)), Streams)
    server = await serve_csms(csms, "127.0.0.1", 0)
    answers: list[Any] = []
    try:
        url = f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}/send-1"
        async with websockets.connect(url, subprotocols=["ocpp2.1"]) as ws:  # type: ignore[list-item]
            await ws.send(json.dumps([6, "s1", "NotifyPeriodicEventStream", STREAM]))
            await ws.send(json.dumps([6, "s2", "NotifyPeriodicEventStream", {**STREAM, "id": "four"}]))  # invalid
            await ws.send(json.dumps([6, "s3", "SecurityEventNotification",  # valid, but nobody handles it
                                      {"type": "StartupOfTheDevice", "timestamp": NOW}]))
            await ws.send(json.dumps([2, "c1", "Heartbeat", {}]))
            # the CALL's answer is the first frame back: none of the SENDs was answered
            answers.append(json.loads(await asyncio.wait_for(ws.recv(), 20)))
            handler = csms.connections["send-1"]
            assert isinstance(handler, Streams)
            for _ in range(2000):
                if handler.received:
                    break
                await asyncio.sleep(0.01)
    finally:
        server.close()
        await server.wait_closed()
    return handler, answers


def test_a_send_reaches_its_handler_as_the_typed_request_and_is_never_answered() -> None:
    handler, answers = asyncio.run(_exchange())
    assert answers == [[3, "c1", {"currentTime": NOW}]]
    assert len(handler.received) == 1
    request = handler.received[0]
    assert type(request) is v21.NotifyPeriodicEventStreamRequest  # the generated class, not a dict
    assert request == v21.NotifyPeriodicEventStreamRequest.from_json(STREAM)
    assert request.data[1].v == "11.7" and request.basetime == NOW
    # the invalid SEND never reached the handler: it was reported as a violation (and not answered)
    assert len(handler.violations) == 1 and "NotifyPeriodicEventStream" in handler.violations[0]
