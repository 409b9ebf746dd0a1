"""End to end over real websockets on loopback: transaction manager -> offline queue -> charge point -> CSMS.

* the websocket is killed 20 times (TCP abort, no close handshake) during a transaction with meter values, half of
  the times before the CSMS acts on the message in flight, half after (so the answer is lost and the message is
  sent again): every transaction message reaches the CSMS's processing exactly once and in order, and the raw
  stream never goes backwards except to repeat the message whose answer was lost;
* the charge-point process is SIGKILLed mid-transaction with a message in flight; a new process on the same SQLite
  files resumes the transaction and replays the queue.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from evcharge.ocpp import v16, v201
from evcharge.ocpp.csms import CsmsHandler
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
from evcharge.ocpp.functions.transport.sqlite import SqliteStore

from .e2e import T0, Recorder, abort, connect_cp, key_of, start_csms, stop_cp

KILLS = 20
ROOT = Path(__file__).resolve().parents[3]


def assert_in_order_with_only_repeats(raw: list[Any], processed: list[Any]) -> None:
    """Each raw arrival is either the next new message or a repeat of the previous arrival."""
    seen = 0
    for i, key in enumerate(raw):
        if seen < len(processed) and key == processed[seen]:
            seen += 1
        else:
            assert i > 0 and key == raw[i - 1], f"arrival {i} {key} is neither the next message nor a repeat"
    assert seen == len(processed)


@pytest.mark.parametrize("version", [v201, v16], ids=["2.0.1", "1.6"])
def test_kill_websocket_20_times_during_a_transaction(tmp_path: Path, version: Any) -> None:
    async def main() -> None:
        rec = Recorder()
        kills = {"before": 0, "after": 0, "seen": 0}

        async def killer(handler: CsmsHandler, key: tuple[Any, ...], first: bool) -> None:
            kills["seen"] += 1
            if kills["before"] + kills["after"] < KILLS and kills["seen"] % 3 == 0:
                # alternate: the request "lost" (forget we processed it) or the answer lost (keep it)
                if kills["before"] <= kills["after"] and first:
                    rec.processed.remove(key)
                    kills["before"] += 1
                else:
                    kills["after"] += 1
                abort(handler)
                await asyncio.sleep(30)  # never answers: the session cancels this handler

        rec.hook = killer
        server, port = await start_csms(rec)
        v16_mode = version is v16
        cfg = TransactionConfig(version="1.6" if v16_mode else "2.0.1", tx_start_points=frozenset({"EVConnected"}),
                                sampled_interval=10, aligned_interval=0)
        tm = TransactionManager(cfg, store=SqliteStore(tmp_path / "tx.sqlite"))
        queue = OfflineQueue(OfflineQueueConfig(retry_interval=0.05), store=SqliteStore(tmp_path / "queue.sqlite"))
        client, sender, tasks = await connect_cp(f"ws://127.0.0.1:{port}/ocpp", version, queue)
        produced = []

        def flush() -> None:
            msgs = tm.messages()
            produced.extend(msgs)
            route(msgs, queue, online=True)
            sender.wake()

        now = T0
        tm.update_meter(1, {"Energy.Active.Import.Register": 0.0, "Power.Active.Import": 7000.0}, now)
        tm.handle(EVConnected(1), now)
        tm.handle(Authorized(1, "TAG-1" if v16_mode else {"idToken": "TAG-1", "type": "ISO14443"}), now + 1)
        tm.handle(EnergyFlowing(1), now + 2)
        flush()
        for _ in range(80):
            timer = tm.get_timer()
            assert timer is not None
            now = timer
            tm.update_meter(1, {"Energy.Active.Import.Register": (now - T0) * 2.0}, now)
            tm.handle_timer(now)
            flush()
            await asyncio.sleep(0.002)  # messages keep coming while the link dies and comes back
        tm.handle(EVDisconnected(1), now + 1)
        flush()
        await asyncio.wait_for(sender.drained(), 120)
        await stop_cp(client, tasks)
        server.close()
        await server.wait_closed()

        assert kills["before"] + kills["after"] == KILLS and kills["before"] >= 5 and kills["after"] >= 5
        assert client.connections >= KILLS + 1
        expected = [m for m in produced if m.transactional]
        if v16_mode:
            # the queue wrote the transactionId the CSMS gave into every later message of the transaction
            tx_id = next(iter(rec.tx_ids.values()))
            keys = [key_of(m.action, {**m.payload, **({"transactionId": tx_id} if m.action != "StartTransaction"
                                                      else {})}) for m in expected]
        else:
            keys = [key_of(m.action, m.payload) for m in expected]
        # 2.0.1: Started, Updated (Authorized), Updated (Charging), 80 meter values, Ended; 1.6: Start, 80, Stop
        assert len(keys) == (82 if v16_mode else 84)
        assert rec.processed == keys  # exactly once, in order
        assert_in_order_with_only_repeats(rec.raw, rec.processed)
        assert len(rec.raw) > len(keys)  # there were retransmissions to recognise
        assert len(queue) == 0 and queue.dead_letters() == []

    asyncio.run(main())


@pytest.mark.parametrize("version", ["2.0.1", "1.6"])
def test_restart_the_charge_point_process_mid_transaction(tmp_path: Path, version: str) -> None:
    async def main() -> None:
        rec = Recorder()
        blocked = asyncio.Event()

        async def block_at_seq_5(handler: CsmsHandler, key: tuple[Any, ...], first: bool) -> None:
            if first and len(rec.processed) == 6:  # the sixth message of the transaction
                blocked.set()
                await asyncio.sleep(3600)  # no answer: seqNo 5 stays in flight until the process dies

        rec.hook = block_at_seq_5
        server, port = await start_csms(rec)
        url = f"ws://127.0.0.1:{port}/ocpp"
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        argv = [sys.executable, "-m", "tests.ocpp.functions.e2e", url, str(tmp_path), "first", version]
        first = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            await asyncio.wait_for(blocked.wait(), 60)
            await asyncio.sleep(0.2)  # let the first process produce all of its messages
            first.send_signal(signal.SIGKILL)
            await asyncio.to_thread(first.wait, 30)
        finally:
            if first.poll() is None:
                first.kill()
        assert first.returncode == -signal.SIGKILL, first.stderr.read() if first.stderr else ""
        rec.hook = None
        second = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tests.ocpp.functions.e2e", url, str(tmp_path), "second", version,
            cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await asyncio.wait_for(second.communicate(), 120)
        assert second.returncode == 0, err.decode()
        assert "DRAINED" in out.decode()
        server.close()
        await server.wait_closed()

        if version == "1.6":
            # StartTransaction, 10 MeterValues before the kill, 5 MeterValues and StopTransaction after the restart,
            # all with the transactionId the CSMS gave, each processed once, in order of their timestamps
            assert [k[0] for k in rec.processed] == ["StartTransaction"] + ["MeterValues"] * 15 + ["StopTransaction"]
            tx_id = next(iter(rec.tx_ids.values()))
            assert {k[1] for k in rec.processed[1:]} == {tx_id}
            stamps = [k[2] for k in rec.processed]
            assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)
        else:
            assert len({k[1] for k in rec.processed}) == 1
            # Started, Authorized and ChargingStateChanged updates (0-2), 10 meter values (3-12) before the kill,
            # 5 meter values (13-17) and Ended (18) after the restart: each processed once, in order
            assert [k[2] for k in rec.processed] == list(range(19))
        assert rec.raw.count(rec.processed[5]) == 2  # the message in flight at the kill was replayed
        assert_in_order_with_only_repeats(rec.raw, rec.processed)
        queue = OfflineQueue(store=SqliteStore(tmp_path / "queue.sqlite"))
        assert len(queue) == 0
        restarted = TransactionManager(TransactionConfig(), store=SqliteStore(tmp_path / "tx.sqlite"))
        assert restarted.interrupted_transactions() == {}

    asyncio.run(main())
