"""One time convention: ``now`` is monotonic seconds; wall time is derived from it in one place.

Every core takes ``now`` (a ``float`` of monotonic seconds). Messages that carry wall time (OCPP
timestamps, ISO 15118 schedule start times, certificate validity) get it from a :class:`WallClock`,
which maps ``now`` to UTC. When the wall clock is corrected (NTP, the CSMS's ``currentTime``),
:meth:`WallClock.set_utc` moves the mapping; timers keep running on ``now`` and do not jump.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

__all__ = ["WallClock"]


@dataclass(slots=True)
class WallClock:
    """Maps monotonic ``now`` to UTC: ``utc(now) = epoch_at_zero + now``.

    ``WallClock.at(now, utc)`` builds one from one reading of both clocks (``time.monotonic()``,
    ``datetime.now(UTC)``) in the transport; a simulation passes its own start time.
    """

    epoch_at_zero: datetime

    @classmethod
    def at(cls, now: float, utc: datetime) -> WallClock:
        if utc.tzinfo is None:
            raise ValueError("utc must be timezone-aware")
        return cls(utc - timedelta(seconds=now))

    def utc(self, now: float) -> datetime:
        """The UTC time at monotonic ``now``."""
        return self.epoch_at_zero + timedelta(seconds=now)

    def unix(self, now: float) -> float:
        """UNIX seconds at monotonic ``now``."""
        return self.utc(now).timestamp()

    def set_utc(self, now: float, utc: datetime) -> None:
        """The wall clock was corrected: at ``now`` it is ``utc``. Timers on ``now`` do not move."""
        if utc.tzinfo is None:
            raise ValueError("utc must be timezone-aware")
        self.epoch_at_zero = utc.astimezone(UTC) - timedelta(seconds=now)
