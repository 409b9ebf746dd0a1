"""The injected stores behave alike: memory (the default) and SQLite (a file, in transport/)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from evcharge.ocpp.functions.device_model import DeviceModel, default_template
from evcharge.ocpp.functions.offline_queue import OfflineQueue
from evcharge.ocpp.functions.storage import MemoryStore, StateStore
from evcharge.ocpp.functions.transport.sqlite import SqliteStore

Factory = Callable[[Path], StateStore]
STORES: list[Factory] = [lambda _p: MemoryStore(), lambda p: SqliteStore(p / "s.sqlite")]


@pytest.fixture(params=STORES, ids=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> StateStore:
    made: StateStore = request.param(tmp_path)
    assert isinstance(made, StateStore)
    return made


def test_values_are_json_copies(store: StateStore) -> None:
    value = {"a": [1, 2.5, None, "ü"]}
    store.put("t", "k", value)
    value["a"].append(3)  # a later change of the caller's dict is not seen
    assert store.get("t", "k") == {"a": [1, 2.5, None, "ü"]}
    assert store.get("t", "missing") is None and store.get("other", "k") is None
    with pytest.raises(ValueError):
        store.put("t", "nan", float("nan"))  # not JSON: refused by every store alike


def test_order_count_first_delete_clear(store: StateStore) -> None:
    for key in ("b", "c", "a"):
        store.put("t", key, key.upper())
    store.put("u", "z", 0)
    assert store.items("t") == [("a", "A"), ("b", "B"), ("c", "C")]
    assert store.first("t") == ("a", "A") and store.first("empty") is None
    assert store.count("t") == 3 and store.count("u") == 1
    assert store.delete("t", "a") and not store.delete("t", "a")
    store.clear("t")
    assert store.items("t") == [] and store.items("u") == [("z", 0)]


def test_transaction_is_all_or_nothing(store: StateStore) -> None:
    store.put("t", "kept", 1)
    with pytest.raises(RuntimeError), store.transaction():
        store.put("t", "new", 2)
        with store.transaction():  # nested blocks belong to the outer one
            store.delete("t", "kept")
        raise RuntimeError("abort")
    assert store.items("t") == [("kept", 1)]
    with store.transaction():
        store.put("t", "new", 2)
    assert store.items("t") == [("kept", 1), ("new", 2)]


def test_cores_default_to_memory_and_keep_state_in_a_file(tmp_path: Path) -> None:
    hb = ("OCPPCommCtrlr", "HeartbeatInterval")
    dm = DeviceModel(default_template(1))  # no file anywhere
    dm.set_local(*hb, "42")
    assert DeviceModel(default_template(1)).get(*hb) != "42"  # a new in-memory model starts from the template
    on_disk = DeviceModel(default_template(1), store=SqliteStore(tmp_path / "dm.sqlite"))
    on_disk.set_local(*hb, "42")
    on_disk.close()
    assert DeviceModel(default_template(1), store=SqliteStore(tmp_path / "dm.sqlite")).get(*hb) == "42"


def test_queue_sequence_survives_in_its_store(tmp_path: Path) -> None:
    q = OfflineQueue(store=SqliteStore(tmp_path / "q.sqlite"))
    first = q.enqueue("TransactionEvent", {"seqNo": 0})
    q.connected(0)
    assert q.next_message(0) == first
    q.acknowledged(first.message_id, {})
    q.close()
    again = OfflineQueue(store=SqliteStore(tmp_path / "q.sqlite"))
    # a sequence number is never reused, even after the message holding it left the queue
    assert again.enqueue("TransactionEvent", {"seqNo": 1}).seq > first.seq
