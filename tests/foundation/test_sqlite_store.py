"""SqliteStore keeps every commit against a crash and a power loss, with one sync per commit and none for a no-op.

Power loss itself cannot be pulled here; what SQLite's documentation makes it depend on can: the journal mode and
the synchronous level read back from the open file, and the system calls each commit makes (strace).
"""

from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from evcharge.ocpp.functions.transport.sqlite import SqliteStore


def test_the_file_is_in_wal_mode_with_full_sync(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "s.sqlite")
    try:
        db = store._db
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        # 2 = FULL: in WAL mode the WAL is synced at every commit (1 = NORMAL would not be durable)
        assert db.execute("PRAGMA synchronous").fetchone()[0] == 2
    finally:
        store.close()


def test_an_unchanged_put_keeps_the_value_and_a_changed_one_replaces_it(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "s.sqlite")
    try:
        store.put("t", "k", {"a": 1})
        store.put("t", "k", {"a": 1})
        assert store.items("t") == [("k", {"a": 1})] and store.count("t") == 1
        store.put("t", "k", {"a": 2})
        assert store.get("t", "k") == {"a": 2}
    finally:
        store.close()
    again = SqliteStore(tmp_path / "s.sqlite")
    try:
        assert again.get("t", "k") == {"a": 2}
    finally:
        again.close()


_CHILD = textwrap.dedent("""
    import os, signal, sys
    from evcharge.ocpp.functions.transport.sqlite import SqliteStore
    store = SqliteStore(sys.argv[1])
    store.put("queue", "00000001", {"action": "TransactionEvent", "seq": 1})
    with store.transaction():
        store.put("queue", "00000002", {"action": "TransactionEvent", "seq": 2})
        store.put("tx", "T1", {"state": "charging"})
    tx = store.transaction()
    tx.__enter__()  # a transaction that never commits: the process dies inside it
    store.put("queue", "00000003", {"action": "MeterValues", "seq": 3})
    print("committed", flush=True)
    os.kill(os.getpid(), signal.SIGKILL)
""")


def test_committed_changes_survive_a_kill_and_an_open_transaction_leaves_nothing(tmp_path: Path) -> None:
    path = tmp_path / "q.sqlite"
    proc = subprocess.run([sys.executable, "-c", _CHILD, str(path)], capture_output=True, text=True, timeout=60)
    assert proc.stdout.strip() == "committed" and proc.returncode == -signal.SIGKILL, proc.stderr
    store = SqliteStore(path)
    try:
        assert [k for k, _ in store.items("queue")] == ["00000001", "00000002"]
        assert store.get("tx", "T1") == {"state": "charging"}
    finally:
        store.close()


_SYNCS = textwrap.dedent("""
    import os, sys
    from evcharge.ocpp.functions.transport.sqlite import SqliteStore
    def mark(name):
        try:
            os.unlink("/nonexistent-evcharge-mark-" + name)
        except OSError:
            pass
    store = SqliteStore(sys.argv[1])
    mark("changed")
    for i in range(20):
        store.put("t", "k", i)  # 20 commits, each a change
    mark("unchanged")
    for _ in range(20):
        store.put("t", "k", 19)  # the same value: nothing to commit
    mark("transaction")
    with store.transaction():  # one transaction of 20 changes: one commit
        for i in range(20):
            store.put("t", f"x{i}", i)
    mark("end")
    store.close()
""")


@pytest.mark.skipif(shutil.which("strace") is None, reason="needs strace (apt package strace)")
def test_one_sync_per_commit_and_none_for_an_unchanged_value(tmp_path: Path) -> None:
    trace = tmp_path / "trace"
    proc = subprocess.run(["strace", "-f", "-qq", "-o", str(trace), "-e", "trace=fsync,fdatasync,unlink",
                           sys.executable, "-c", _SYNCS, str(tmp_path / "s.sqlite")],
                          capture_output=True, text=True, timeout=120)
    if proc.returncode != 0 and "ptrace" in proc.stderr:
        pytest.skip(f"strace cannot trace here: {proc.stderr.strip()}")
    assert proc.returncode == 0, proc.stderr
    syncs: dict[str, int] = {}
    phase = "setup"
    for line in trace.read_text().splitlines():
        mark = re.search(r'unlink\("/nonexistent-evcharge-mark-(\w+)"', line)
        if mark:
            phase = mark.group(1)
        elif re.search(r"\b(fsync|fdatasync)\(", line):
            syncs[phase] = syncs.get(phase, 0) + 1
    # every commit reaches the disk before put() returns (durability), once (the cut from four); a checkpoint may add
    # a few syncs of the database file
    assert 20 <= syncs.get("changed", 0) <= 24, json.dumps(syncs)
    assert syncs.get("unchanged", 0) == 0, json.dumps(syncs)
    assert 1 <= syncs.get("transaction", 0) <= 3, json.dumps(syncs)
