"""The SQLite :class:`~evcharge.ocpp.functions.storage.StateStore`: the functions' tables in one file, committed
on every change (``PRAGMA synchronous=FULL``), so a restarted charger picks up where it stopped.

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


class SqliteStore:
    """A :class:`~evcharge.ocpp.functions.storage.StateStore` in the SQLite file ``path`` (``":memory:"``: none)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self._loads = json.loads
        self._db = sqlite3.connect(os.fspath(path), isolation_level=None)
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        self._depth = 0

    def get(self, table: str, key: str) -> Any | None:
        row = self._db.execute("SELECT value FROM kv WHERE tbl=? AND key=?", (table, key)).fetchone()
        return None if row is None else self._loads(row[0])

    def put(self, table: str, key: str, value: Any) -> None:
        self._db.execute("INSERT OR REPLACE INTO kv (tbl, key, value) VALUES (?, ?, ?)", (table, key, _ENCODE(value)))

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
