"""Shared parts of the end-to-end tests: a recording CSMS on real websockets, and a charge-point process.

The CSMS recognises a retransmitted transaction message (the answer to the first copy was lost with the
connection) by what identifies it: ``(transactionId, seqNo)`` in 2.0.1; the start ``timestamp`` and ``idTag`` of a
1.6 StartTransaction (it answers the same transactionId again), the ``transactionId`` and timestamp of 1.6
MeterValues / StopTransaction.  ``processed`` is what it acted on, exactly once each; ``raw`` is every copy.

Run as a module it is a charge-point process (used by the restart test):
``python -m tests.ocpp.functions.e2e URL DIR PHASE VERSION`` with PHASE ``first`` (start a transaction, produce 10
meter values, send) or ``second`` (resume the transaction from DIR's SQLite files, 5 more values, end it, drain,
exit), VERSION ``1.6`` or ``2.0.1``.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evcharge.ocpp import v16, v201
from evcharge.ocpp.charge_point import BackoffConfig, ChargePoint, ChargePointConfig
from evcharge.ocpp.csms import Csms, CsmsConfig, CsmsHandler
from evcharge.ocpp.functions.offline_queue import OfflineQueue, OfflineQueueConfig
from evcharge.ocpp.functions.transactions import (
    Authorized,
    EnergyFlowing,
    EVConnected,
    EVDisconnected,
    TransactionConfig,
    TransactionManager,
    route,
)
from evcharge.ocpp.functions.transport.sender import QueueSender
from evcharge.ocpp.functions.transport.sqlite import SqliteStore
from evcharge.ocpp.routing import on
from evcharge.ocpp.transport.websocket import ChargePointClient, serve_csms

IDENTITY = "CP-E2E"
T0 = 1_717_243_200.0
TOKEN = {"idToken": "04A1B2C3", "type": "ISO14443"}
FAST = BackoffConfig(initial=0.02, maximum=0.1)


def key_of(action: str, payload: dict[str, Any]) -> tuple[Any, ...]:
    """What identifies a transaction message independent of its transport copy."""
    if action == "TransactionEvent":
        return ("TransactionEvent", payload["transactionInfo"]["transactionId"], payload["seqNo"])
    if action == "StartTransaction":
        return ("StartTransaction", payload["idTag"], payload["timestamp"])
    if action == "MeterValues":
        return ("MeterValues", payload.get("transactionId"), payload["meterValue"][0]["timestamp"])
    return (action, payload.get("transactionId"), payload["timestamp"])


@dataclass
class Recorder:
    raw: list[tuple[Any, ...]] = field(default_factory=list)
    processed: list[tuple[Any, ...]] = field(default_factory=list)
    tx_ids: dict[tuple[Any, ...], int] = field(default_factory=dict)
    #: called with (handler, key, first_time) before answering; may abort the connection
    hook: Callable[[CsmsHandler, tuple[Any, ...], bool], Any] | None = None

    def record(self, action: str, payload: dict[str, Any]) -> tuple[tuple[Any, ...], bool]:
        key = key_of(action, payload)
        self.raw.append(key)
        first = key not in self.processed
        if first:
            self.processed.append(key)
        return key, first


def csms_handlers(rec: Recorder) -> dict[str, Any]:
    class H201(CsmsHandler):
        @on(v201.Action.TRANSACTION_EVENT)
        async def tx(self, request: v201.TransactionEventRequest) -> v201.TransactionEventResponse:
            key, first = rec.record("TransactionEvent", request.to_json())
            if rec.hook is not None:
                await rec.hook(self, key, first)
            return v201.TransactionEventResponse()

    class H16(CsmsHandler):
        @on(v16.Action.START_TRANSACTION)
        async def start(self, request: Any) -> Any:
            key, first = rec.record("StartTransaction", request.to_json())
            tx_id = rec.tx_ids.setdefault(key, 1000 + len(rec.tx_ids))
            if rec.hook is not None:
                await rec.hook(self, key, first)
            return v16.StartTransactionResponse.from_json({"transactionId": tx_id,
                                                           "idTagInfo": {"status": "Accepted"}})

        @on(v16.Action.METER_VALUES)
        async def meter(self, request: Any) -> Any:
            key, first = rec.record("MeterValues", request.to_json())
            if rec.hook is not None:
                await rec.hook(self, key, first)
            return v16.MeterValuesResponse.from_json({})

        @on(v16.Action.STOP_TRANSACTION)
        async def stop(self, request: Any) -> Any:
            key, first = rec.record("StopTransaction", request.to_json())
            if rec.hook is not None:
                await rec.hook(self, key, first)
            return v16.StopTransactionResponse.from_json({})

    return {"2.0.1": H201, "1.6": H16}


async def start_csms(rec: Recorder) -> tuple[Any, int]:
    csms = Csms(CsmsConfig(versions=(v201, v16), ping_interval=None), csms_handlers(rec))
    server = await serve_csms(csms, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    return server, port


def abort(handler: CsmsHandler) -> None:
    """Kill the TCP connection under the websocket: no close handshake, the answer is lost."""
    link: Any = handler._link
    link.websocket.transport.abort()


async def connect_cp(url: str, version: Any, queue: OfflineQueue) -> tuple[ChargePointClient, QueueSender,
                                                                          list[asyncio.Task[None]]]:
    cp = ChargePoint(IDENTITY)
    client = ChargePointClient(cp, url, ChargePointConfig(versions=(version,), backoff=FAST, ping_interval=None))
    sender = QueueSender(cp, queue)
    tasks = [asyncio.create_task(client.run()), asyncio.create_task(sender.run())]
    return client, sender, tasks


async def stop_cp(client: ChargePointClient, tasks: list[asyncio.Task[None]]) -> None:
    await client.stop()
    for t in tasks:
        t.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await t


# ---------------------------------------------------------------- the charge-point process of the restart test


async def _process(url: str, directory: Path, phase: str, version: str) -> None:
    v16_mode = version == "1.6"
    cfg = TransactionConfig(version="1.6" if v16_mode else "2.0.1", tx_start_points=frozenset({"EVConnected"}),
                            sampled_interval=1, aligned_interval=0)
    tm = TransactionManager(cfg, store=SqliteStore(directory / "tx.sqlite"))
    queue = OfflineQueue(OfflineQueueConfig(retry_interval=0.05), store=SqliteStore(directory / "queue.sqlite"))
    client, sender, tasks = await connect_cp(url, v16 if v16_mode else v201, queue)
    now = T0 if phase == "first" else T0 + 100
    tm.update_meter(1, {"Energy.Active.Import.Register": 0.0}, now)
    if phase == "first":
        tm.handle(EVConnected(1), now)
        tm.handle(Authorized(1, "TAG-1" if v16_mode else TOKEN), now)
        tm.handle(EnergyFlowing(1), now)
        count = 10
    else:
        assert list(tm.interrupted_transactions()) == [1]
        tm.resume(now)
        count = 5
    for _ in range(count):
        timer = tm.get_timer()
        assert timer is not None
        now = timer
        tm.update_meter(1, {"Energy.Active.Import.Register": now - T0}, now)
        tm.handle_timer(now)
        route(tm.messages(), queue, online=True)
        sender.wake()
    route(tm.messages(), queue, online=True)
    sender.wake()
    print("PRODUCED", flush=True)
    if phase == "second":
        tm.handle(EVDisconnected(1), now + 1)
        route(tm.messages(), queue, online=True)
        sender.wake()
        await asyncio.wait_for(sender.drained(), 60)
        await stop_cp(client, tasks)
        print("DRAINED", flush=True)
        return
    await asyncio.Event().wait()  # the test kills this process


if __name__ == "__main__":
    asyncio.run(_process(sys.argv[1], Path(sys.argv[2]), sys.argv[3], sys.argv[4]))
