"""The SQLite adapter of :class:`~evcharge.csms.store.SqlStore` (the default: embedded, nothing to set up).

Statements run on the event loop's thread: each is a local file operation of well under a millisecond, and one
connection serialises them anyway.  WAL mode with ``synchronous=NORMAL``: every committed write survives a crash
of the process.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from evcharge.csms.store import MIGRATIONS, SqlStore

__all__ = ["SqliteStore"]


class SqliteStore(SqlStore):
    """A store in one SQLite file (``":memory:"`` for a throw-away one)."""

    serial_type = "INTEGER PRIMARY KEY AUTOINCREMENT"  # AUTOINCREMENT: ids are never reused (monotonic)

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._db: sqlite3.Connection | None = None

    @property
    def db(self) -> sqlite3.Connection:
        if self._db is None:
            raise RuntimeError("the store is not open")
        return self._db

    async def open(self) -> None:
        self.open_now()

    def open_now(self) -> None:
        """Open and migrate right away (SQLite needs no waiting: for callers outside a coroutine)."""
        if self._db is not None:
            return
        db = sqlite3.connect(self.path, isolation_level=None)  # autocommit; scripts open their own transaction
        db.row_factory = sqlite3.Row
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("PRAGMA foreign_keys=ON")
        db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        done = db.execute("SELECT MAX(version) FROM schema_version").fetchone()[0] or 0
        for number, script in enumerate(MIGRATIONS, start=1):  # as SqlStore.migrate, without awaiting
            if number > done:
                db.executescript("BEGIN;\n" + script.replace("{serial}", self.serial_type)
                                 + f";\nINSERT INTO schema_version (version) VALUES ({number});\nCOMMIT;")
        self._db = db

    async def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    async def _script(self, sql: str) -> None:
        self.db.executescript("BEGIN;\n" + sql + ";\nCOMMIT;")

    async def _execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        return self.db.execute(sql, tuple(params)).rowcount

    async def _fetch(self, sql: str, params: Sequence[Any] = ()) -> list[Mapping[str, Any]]:
        return list(self.db.execute(sql, tuple(params)).fetchall())
