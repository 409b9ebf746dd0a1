"""The SQLite :class:`~evcharge.ocpp.functions.storage.StateStore`: the functions' tables in one file, committed
on every change, so a restarted charger picks up where it stopped, also after a power loss.

Durability: the file is in write-ahead-log mode with ``PRAGMA synchronous=FULL``.  A commit appends its pages to
the ``-wal`` file beside the database and syncs that file before it returns, so a committed change survives a
power loss (SQLite's documentation: in WAL mode, FULL syncs the WAL at every commit; NORMAL would not, and a
power loss could undo the last commits).  That is one ``fdatasync`` per commit, where the rollback journal
(``journal_mode=DELETE``) synced the journal, its header and the database: four per commit, plus creating and
deleting the journal.  The pages go back into the database at checkpoints, every 1000 pages, so until the store is
closed the last changes may live only in ``<path>-wal``: a backup copies the file with its ``-wal`` and ``-shm``.
A ``put`` of the value a key already holds writes nothing and commits nothing.

.. code-block:: python

    from evcharge.ocpp.functions.device_model import DeviceModel, default_template
    from evcharge.ocpp.functions.transport.sqlite import SqliteStore

    model = DeviceModel(default_template(1), store=SqliteStore(":memory:"))
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from ..storage import _ENCODE

__all__ = ["SqliteStore"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS kv (
    tbl TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (tbl, key)
) WITHOUT ROWID;
"""


_PUT = ("INSERT INTO kv (tbl, key, value) VALUES (?, ?, ?) "
        "ON CONFLICT (tbl, key) DO UPDATE SET value = excluded.value WHERE value != excluded.value")


class SqliteStore:
    """A :class:`~evcharge.ocpp.functions.storage.StateStore` in the SQLite file ``path`` (``":memory:"``: none)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self._loads = json.loads
        self._db = sqlite3.connect(os.fspath(path), isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")  # ":memory:" stays "memory": nothing to sync there
        self._db.execute("PRAGMA synchronous=FULL")  # the WAL is synced at every commit (see the module's notes)
        self._db.executescript(_SCHEMA)
        self._depth = 0

    def get(self, table: str, key: str) -> Any | None:
        row = self._db.execute("SELECT value FROM kv WHERE tbl=? AND key=?", (table, key)).fetchone()
        return None if row is None else self._loads(row[0])

    def put(self, table: str, key: str, value: Any) -> None:
        # an unchanged value is not written: no page changes, so its statement commits without touching the disk
        self._db.execute(_PUT, (table, key, _ENCODE(value)))

    def delete(self, table: str, key: str) -> bool:
        return self._db.execute("DELETE FROM kv WHERE tbl=? AND key=?", (table, key)).rowcount > 0

    def items(self, table: str) -> list[tuple[str, Any]]:
        rows = self._db.execute("SELECT key, value FROM kv WHERE tbl=? ORDER BY key", (table,))
        return [(k, self._loads(v)) for k, v in rows]

    def first(self, table: str) -> tuple[str, Any] | None:
        row = self._db.execute("SELECT key, value FROM kv WHERE tbl=? ORDER BY key LIMIT 1", (table,)).fetchone()
        return None if row is None else (row[0], self._loads(row[1]))

    def count(self, table: str) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM kv WHERE tbl=?", (table,)).fetchone()[0])

    def clear(self, table: str) -> None:
        self._db.execute("DELETE FROM kv WHERE tbl=?", (table,))

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        outer = self._depth == 0
        if outer:
            self._db.execute("BEGIN IMMEDIATE")
        self._depth += 1
        try:
            yield
        except BaseException:
            self._depth -= 1
            if outer:
                self._db.execute("ROLLBACK")
            raise
        else:
            self._depth -= 1
            if outer:
                self._db.execute("COMMIT")

    def transaction(self) -> AbstractContextManager[None]:
        return self._transaction()

    def close(self) -> None:
        self._db.close()
