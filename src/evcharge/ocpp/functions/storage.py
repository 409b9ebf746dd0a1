"""Where the charge-point functions keep what must survive a restart: an injected :class:`StateStore`.

The function cores (device model, authorization, offline queue, smart charging, transactions) are sans-I/O: they
read and write tables of JSON values through a :class:`StateStore` passed in, never a file.  :class:`MemoryStore` is
the default (tests, simulations, a charger that keeps nothing);
:class:`evcharge.ocpp.functions.transport.sqlite.SqliteStore` keeps the same tables in a SQLite file, committed on
every change, for a charger that must pick up where it stopped.  Every store behaves alike: values go in and come
out as JSON (a stored dict is a copy), ``items`` are ordered by key, and :meth:`StateStore.transaction` is
all-or-nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any, Protocol, runtime_checkable

__all__ = ["MemoryStore", "StateStore"]


@runtime_checkable
class StateStore(Protocol):
    """Tables of JSON values under string keys."""

    def get(self, table: str, key: str) -> Any | None:
        """The value under ``key``, or ``None``."""

    def put(self, table: str, key: str, value: Any) -> None:
        """Store a JSON value (a copy: later changes of ``value`` are not seen)."""

    def delete(self, table: str, key: str) -> bool:
        """Remove ``key``; whether it was there."""

    def items(self, table: str) -> list[tuple[str, Any]]:
        """Every ``(key, value)`` of ``table``, ordered by key."""

    def first(self, table: str) -> tuple[str, Any] | None:
        """The entry with the smallest key, or ``None`` when the table is empty."""

    def count(self, table: str) -> int:
        """How many entries ``table`` holds."""

    def clear(self, table: str) -> None:
        """Empty ``table``."""

    def transaction(self) -> AbstractContextManager[None]:
        """A block whose changes all happen or, if it raises, none does (blocks nest)."""

    def close(self) -> None:
        """Release the storage (a file store closes its file)."""


_ENCODE = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode


class MemoryStore:
    """A :class:`StateStore` in memory: nothing survives the process (values are kept as JSON text, like a file
    store keeps them, so a value that is not JSON is refused here too)."""

    def __init__(self) -> None:
        self._tables: dict[str, dict[str, str]] = {}
        self._depth = 0
        self._snapshot: dict[str, dict[str, str]] | None = None

    def get(self, table: str, key: str) -> Any | None:
        text = self._tables.get(table, {}).get(key)
        return None if text is None else json.loads(text)

    def put(self, table: str, key: str, value: Any) -> None:
        self._tables.setdefault(table, {})[key] = _ENCODE(value)

    def delete(self, table: str, key: str) -> bool:
        return self._tables.get(table, {}).pop(key, None) is not None

    def items(self, table: str) -> list[tuple[str, Any]]:
        rows = self._tables.get(table, {})
        return [(k, json.loads(rows[k])) for k in sorted(rows)]

    def first(self, table: str) -> tuple[str, Any] | None:
        rows = self._tables.get(table)
        if not rows:
            return None
        key = min(rows)
        return key, json.loads(rows[key])

    def count(self, table: str) -> int:
        return len(self._tables.get(table, ()))

    def clear(self, table: str) -> None:
        self._tables.pop(table, None)

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        outer = self._depth == 0
        if outer:
            self._snapshot = {name: dict(rows) for name, rows in self._tables.items()}
        self._depth += 1
        try:
            yield
        except BaseException:
            if outer and self._snapshot is not None:
                self._tables = self._snapshot
            raise
        finally:
            self._depth -= 1
            if outer:
                self._snapshot = None

    def transaction(self) -> AbstractContextManager[None]:
        return self._transaction()

    def close(self) -> None:
        self._tables = {}
