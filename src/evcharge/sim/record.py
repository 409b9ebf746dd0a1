"""The session's event log: what happened, when (simulated seconds), as plain JSON-ready records."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["EventLog"]


@dataclass(slots=True)
class EventLog:
    """An append-only list of ``{"t": seconds, "type": kind, ...}`` records; the parts of the simulation write
    into it, the checks and the output read it."""

    events: list[dict[str, Any]] = field(default_factory=list)

    def add(self, now: float, kind: str, **fields: Any) -> None:
        """Record ``kind`` at simulated time ``now``."""
        self.events.append({"t": round(now, 3), "type": kind, **fields})

    def of(self, kind: str) -> list[dict[str, Any]]:
        """The records of one kind, in order."""
        return [e for e in self.events if e["type"] == kind]
