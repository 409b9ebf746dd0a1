"""The PostgreSQL adapter of :class:`~evcharge.csms.store.SqlStore`, through ``asyncpg`` (``evcharge[csms]``).

The schema and migrations are the SQLite ones (:data:`~evcharge.csms.store.MIGRATIONS`); ``?`` placeholders
become ``$1, $2, ...`` here, and the auto-numbered key is a ``BIGINT GENERATED ALWAYS AS IDENTITY`` (never
reused: transaction ids stay monotonic).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from evcharge.csms.store import SqlStore
from evcharge.errors import require

__all__ = ["PostgresStore"]

_MARK = re.compile(r"\?")


def _numbered(sql: str) -> str:
    count = 0

    def next_mark(_: re.Match[str]) -> str:
        nonlocal count
        count += 1
        return f"${count}"

    return _MARK.sub(next_mark, sql)


class PostgresStore(SqlStore):
    """A store in a PostgreSQL database, ``postgresql://user:password@host:port/database``."""

    serial_type = "INTEGER GENERATED ALWAYS AS IDENTITY PRIMARY KEY"

    def __init__(self, dsn: str, *, min_size: int = 1, max_size: int = 10) -> None:
        self.dsn = dsn
        self.min_size = min_size
        self.max_size = max_size
        self._pool: Any = None
        self._sql: dict[str, str] = {}

    async def open(self) -> None:
        asyncpg: Any = require("asyncpg", "csms", feature="the CSMS's PostgreSQL storage")
        self._pool = await asyncpg.create_pool(self.dsn, min_size=self.min_size, max_size=self.max_size)
        await self.migrate()

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    def _convert(self, sql: str) -> str:
        converted = self._sql.get(sql)
        if converted is None:
            converted = self._sql[sql] = _numbered(sql)
        return converted

    async def _script(self, sql: str) -> None:
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(sql)

    async def _execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        status: str = await self._pool.execute(self._convert(sql), *params)
        last = status.rsplit(" ", 1)[-1]
        return int(last) if last.isdigit() else 0

    async def _fetch(self, sql: str, params: Sequence[Any] = ()) -> list[Mapping[str, Any]]:
        rows: list[Mapping[str, Any]] = await self._pool.fetch(self._convert(sql), *params)
        return rows
