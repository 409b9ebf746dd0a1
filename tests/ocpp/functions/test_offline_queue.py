"""The offline queue: order, no duplicates, no loss, retries, 1.6 transactionId binding, process restarts."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evcharge.ocpp.errors import LocalProtocolError
from evcharge.ocpp.functions.offline_queue import (
    MessageDropped,
    OfflineQueue,
    OfflineQueueConfig,
    is_transaction_message,
)
from evcharge.ocpp.functions.transport.sqlite import SqliteStore


def q(tmp_path: Path, **kw: Any) -> OfflineQueue:
    return OfflineQueue(OfflineQueueConfig(**kw), store=SqliteStore(tmp_path / "queue.sqlite"))


def test_in_order_and_acknowledged_never_resent(tmp_path: Path) -> None:
    queue = q(tmp_path)
    for i in range(3):
        queue.enqueue("TransactionEvent", {"seqNo": i})
    assert queue.next_message(0) is None  # offline: nothing goes out
    queue.connected(0)
    sent = []
    while (m := queue.next_message(0)) is not None:
        assert queue.next_message(0) is None  # one outstanding CALL at a time
        sent.append(m.payload["seqNo"])
        queue.acknowledged(m.message_id, {})
    assert sent == [0, 1, 2]
    assert len(queue) == 0
    queue.disconnected(1)
    queue.connected(2)
    assert queue.next_message(2) is None


def test_lost_connection_resends_same_message_without_counting_attempt(tmp_path: Path) -> None:
    queue = q(tmp_path)
    first = queue.enqueue("TransactionEvent", {"seqNo": 0})
    queue.connected(0)
    assert queue.next_message(0) == first
    queue.disconnected(1)
    queue.connected(2)
    again = queue.next_message(2)
    assert again is not None
    assert (again.message_id, again.attempts) == (first.message_id, 0)
    with pytest.raises(LocalProtocolError):
        queue.acknowledged("some-other-id")


def test_retries_with_growing_interval_then_dead_letter(tmp_path: Path) -> None:
    # 3 attempts, interval 60 s: fail at 100 -> retry not before 160; fail at 160 -> not before 160 + 2*60 = 280;
    # the third failure drops the message into the dead letters with an event, and the next message goes out.
    queue = q(tmp_path, retry_attempts=3, retry_interval=60)
    a = queue.enqueue("TransactionEvent", {"seqNo": 0})
    b = queue.enqueue("TransactionEvent", {"seqNo": 1})
    queue.connected(0)
    assert queue.next_message(100) == a
    assert queue.failed(a.message_id, 100) is None
    assert queue.get_timer() == 160
    assert queue.next_message(159.9) is None
    m = queue.next_message(160)
    assert m is not None and m.message_id == a.message_id and m.attempts == 1
    assert queue.failed(a.message_id, 160) is None
    assert queue.get_timer() == 280
    assert queue.next_message(279) is None
    assert queue.next_message(280) is not None
    dropped = queue.failed(a.message_id, 280, "InternalError")
    assert isinstance(dropped, MessageDropped)
    assert dropped.message.attempts == 3 and "InternalError" in dropped.reason
    assert queue.next_event() == dropped
    assert [m.message_id for m, _ in queue.dead_letters()] == [a.message_id]
    assert queue.next_message(280) == b


def test_v16_transaction_id_filled_in_after_start_acknowledged(tmp_path: Path) -> None:
    queue = q(tmp_path)
    start = queue.enqueue("StartTransaction", {"connectorId": 1, "idTag": "A", "meterStart": 0,
                                               "timestamp": "2024-01-01T00:00:00Z"}, tx_ref="local-1")
    queue.enqueue("MeterValues", {"connectorId": 1, "meterValue": []}, tx_ref="local-1")
    queue.connected(0)
    assert queue.next_message(0) == start
    queue.acknowledged(start.message_id, {"transactionId": 42, "idTagInfo": {"status": "Accepted"}})
    stop = queue.enqueue("StopTransaction", {"meterStop": 10, "timestamp": "2024-01-01T01:00:00Z"}, tx_ref="local-1")
    assert stop.payload["transactionId"] == 42
    assert [m.payload["transactionId"] for m in queue.pending()] == [42, 42]
    assert queue.transaction_id_of("local-1") == 42


def test_dropped_start_transaction_takes_its_dependents_along_loudly(tmp_path: Path) -> None:
    queue = q(tmp_path, retry_attempts=1)
    start = queue.enqueue("StartTransaction", {"connectorId": 1}, tx_ref="t")
    queue.enqueue("StopTransaction", {"meterStop": 1}, tx_ref="t")
    other = queue.enqueue("StartTransaction", {"connectorId": 2}, tx_ref="u")
    queue.connected(0)
    queue.next_message(0)
    queue.failed(start.message_id, 0)
    events = [queue.next_event(), queue.next_event(), queue.next_event()]
    assert [e.message.action for e in events if e] == ["StartTransaction", "StopTransaction"]
    assert queue.next_message(0) == other


def test_full_queue_refuses_instead_of_dropping(tmp_path: Path) -> None:
    queue = q(tmp_path, max_messages=2)
    queue.enqueue("TransactionEvent", {})
    queue.enqueue("TransactionEvent", {})
    with pytest.raises(LocalProtocolError, match="full"):
        queue.enqueue("TransactionEvent", {})
    assert len(queue) == 2


def test_which_messages_are_queued() -> None:
    assert is_transaction_message("1.6", "StartTransaction", {})
    assert is_transaction_message("1.6", "MeterValues", {"transactionId": 3})
    assert not is_transaction_message("1.6", "MeterValues", {"connectorId": 0})
    assert not is_transaction_message("1.6", "StatusNotification", {})
    assert is_transaction_message("2.0.1", "TransactionEvent", {})
    assert not is_transaction_message("2.0.1", "Heartbeat", {})


def test_survives_a_killed_process(tmp_path: Path) -> None:
    # A child process enqueues 30 messages, has 10 acknowledged, one more in flight, and is SIGKILLed.
    # A new queue on the same file must hold exactly messages 10..29, in order, the in-flight one included.
    path = tmp_path / "q.sqlite"
    script = textwrap.dedent(f"""
        import os, signal
        from evcharge.ocpp.functions.offline_queue import OfflineQueue
        from evcharge.ocpp.functions.transport.sqlite import SqliteStore
        queue = OfflineQueue(store=SqliteStore({str(path)!r}))
        for i in range(30):
            queue.enqueue("TransactionEvent", {{"seqNo": i}})
        queue.connected(0)
        for i in range(10):
            m = queue.next_message(0)
            queue.acknowledged(m.message_id, {{}})
        print(queue.next_message(0).message_id, flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    in_flight_id = proc.stdout.strip()
    queue = OfflineQueue(store=SqliteStore(path))
    assert [m.payload["seqNo"] for m in queue.pending()] == list(range(10, 30))
    queue.connected(0)
    m = queue.next_message(0)
    assert m is not None and m.message_id == in_flight_id


@pytest.mark.property
@settings(max_examples=25, deadline=None)
@given(st.lists(st.sampled_from(["enqueue", "send", "ack", "lose_request", "lose_answer", "restart", "callerror"]),
                max_size=80))
def test_exactly_once_over_a_lossy_link(tmp_path_factory: pytest.TempPathFactory, script: list[str]) -> None:
    # A fake CSMS that processes every CALL it receives and recognises retransmissions by message id.
    # Whatever happens to the link (requests lost, answers lost, CALLERRORs, charge-point restarts), the CSMS
    # processes each message exactly once and in enqueue order, and once the link is good the queue drains.
    path = tmp_path_factory.mktemp("lossy") / "q.sqlite"
    queue = OfflineQueue(OfflineQueueConfig(retry_attempts=1000, retry_interval=0), store=SqliteStore(path))
    processed: list[int] = []
    seen_ids: set[str] = set()
    counter = 0
    queue.connected(0)
    in_flight = None
    for step in script:
        if step == "enqueue":
            queue.enqueue("TransactionEvent", {"seqNo": counter})
            counter += 1
        elif step == "send" and in_flight is None:
            in_flight = queue.next_message(0)
        elif in_flight is not None and step in ("ack", "lose_answer", "callerror"):
            if in_flight.message_id not in seen_ids and step != "callerror":
                seen_ids.add(in_flight.message_id)
                processed.append(in_flight.payload["seqNo"])
            if step == "ack":
                queue.acknowledged(in_flight.message_id, {})
            elif step == "callerror":
                queue.failed(in_flight.message_id, 0)
            else:
                queue.disconnected(0)
                queue.connected(0)
            in_flight = None
        elif step == "lose_request" and in_flight is not None:
            queue.disconnected(0)
            queue.connected(0)
            in_flight = None
        elif step == "restart":
            queue.close()
            queue = OfflineQueue(OfflineQueueConfig(retry_attempts=1000, retry_interval=0), store=SqliteStore(path))
            queue.connected(0)
            in_flight = None
    # the link becomes good: whatever was in flight is sent again, then everything drains
    queue.disconnected(0)
    queue.connected(0)
    while (m := queue.next_message(0)) is not None:
        if m.message_id not in seen_ids:
            seen_ids.add(m.message_id)
            processed.append(m.payload["seqNo"])
        queue.acknowledged(m.message_id, {})
    assert processed == list(range(counter))
    assert len(queue) == 0
    queue.close()
    os.remove(path)
