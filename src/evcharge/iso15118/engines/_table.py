"""The (state, request) table: the one place an engine's sequence is written down.

A :class:`Table` is built from :class:`Row` s. Each row says: in ``state``, the request ``request`` is
handled by the engine method ``handler``, which returns the next state, one of ``targets``. Anything not
in the table is answered with FAILED_SequenceError (only the mandatory fields, [V2G2-736]) by the
engine machinery, so an illegal transition cannot run. A row may ``require`` tags (``"din"``,
``"iso2"``, ``"ac"``, ``"dc"``, a quirk's name): one row list shared by DIN and ISO 15118-2 where the
standards agree, one :class:`Table` per engine variant (the set of tags it was built with). The state
enum is the engine's own (the -20 engines bring theirs).

The diagrams of the documentation are drawn from these tables (:mod:`evcharge.iso15118.engines.diagram`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum
from typing import Generic, TypeVar

__all__ = ["Row", "StateT", "Table"]

#: the state enum of an engine (each engine brings its own)
StateT = TypeVar("StateT", bound=Enum)


@dataclass(frozen=True, slots=True)
class Row(Generic[StateT]):
    state: StateT
    request: str
    handler: str
    targets: frozenset[StateT]
    requires: frozenset[str] = frozenset()  #: tags the table must have for this row (all of them)
    note: str = ""  #: shown in the diagram (a condition, a quirk's name)


class Table(Generic[StateT]):
    """The rows of one engine variant, indexed by (state, request)."""

    __slots__ = ("_rows", "name", "requests", "states", "tags")

    def __init__(self, name: str, tags: Iterable[str], states: type[StateT], rows: Iterable[Row[StateT]]) -> None:
        self.name = name
        self.tags = frozenset(tags)
        self.states: tuple[StateT, ...] = tuple(states)
        self._rows: dict[tuple[StateT, str], Row[StateT]] = {}
        requests: list[str] = []
        for row in rows:
            if not row.requires <= self.tags:
                continue
            key = (row.state, row.request)
            if key in self._rows:
                raise ValueError(f"{name}: two rows for {row.state.name}/{row.request}")
            self._rows[key] = row
            if row.request not in requests:
                requests.append(row.request)
        self.requests: tuple[str, ...] = tuple(requests)

    def lookup(self, state: StateT, request: str) -> Row[StateT] | None:
        return self._rows.get((state, request))

    def rows(self) -> tuple[Row[StateT], ...]:
        return tuple(self._rows.values())

    def allowed(self, state: StateT) -> tuple[str, ...]:
        """The requests the table accepts in ``state``."""
        return tuple(r for (s, r) in self._rows if s is state)

    def __contains__(self, key: tuple[StateT, str]) -> bool:
        return key in self._rows

    def __len__(self) -> int:
        return len(self._rows)
