"""Live progress of ``evcharge simulate --hlc`` on stderr: a header, then a line at least once per wall-clock second
(rewritten in place on a terminal), and a line of its own for every change of the EVSE manager's state and every
fault. ``--quiet`` silences it."""

from __future__ import annotations

import time
from typing import Any

__all__ = ["HLC_PROGRESS_HEADER", "HlcProgress"]

HLC_PROGRESS_HEADER = ("  sim time  state         voltage  current     power     energy      SoC  V2G request    "
                       "(state: the EVSE manager's phase; AC: voltage and current per phase)")


def _fmt_time(seconds: float) -> str:
    """Simulated time as h:mm:ss.s (the phases of a session with no physical delay are tenths of a second apart)."""
    tenths = round(seconds * 10)
    m, s = divmod(tenths // 10, 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}.{tenths % 10}"


class HlcProgress:
    """Call it with the bench after every step of the simulation (see the module documentation)."""

    def __init__(self, stream: Any, *, interval: float = 1.0, clock: Any = time.monotonic) -> None:
        self.stream = stream
        self.tty = bool(getattr(stream, "isatty", lambda: False)())
        self.interval = interval
        self.clock = clock
        self.last_line = float("-inf")
        self.last_draw = float("-inf")
        self.pending = False
        self.header = False
        self.state: str | None = None
        self.faults = 0

    def __call__(self, bench: Any, *, last: bool = False) -> None:
        """Print what changed, and the progress line when it is due (``last``: the session's end, always)."""
        if not self.header:
            self.header = True
            self.stream.write(HLC_PROGRESS_HEADER + "\n")
        manager = bench.manager
        notices = []
        state = manager.state.value
        if state != self.state:
            if self.state is not None:
                notices.append(f"{_fmt_time(bench.now)} {self.state} -> {state}")
            self.state = state
        for fault in manager.faults[self.faults:]:
            notices.append(f"{_fmt_time(fault.at)} fault: {fault.kind.value} in {fault.phase} ({fault.detail})")
        self.faults = len(manager.faults)
        for notice in notices:
            self.stream.write(("\r\033[K" if self.tty and self.pending else "") + f"  -- {notice}\n")
            self.pending = False
        now = self.clock()
        if last:
            self.stream.write(("\r" if self.tty else "") + self._line(bench) + ("  \n" if self.tty else "\n"))
            self.pending = False
        elif self.tty:
            if notices or now - self.last_draw >= 0.1:
                self.last_draw = now
                self.stream.write("\r" + self._line(bench) + "  ")
                self.pending = True
        elif now - self.last_line >= self.interval:
            self.last_line = now
            self.stream.write(self._line(bench) + "\n")
        self.stream.flush()

    def _line(self, bench: Any) -> str:
        _, volts, amps, soc = bench.samples[-1] if bench.samples else (0.0, 0.0, 0.0, None)
        watts = volts * amps * bench.phases
        energy = bench.manager.energy_wh - bench.manager.energy_returned_wh
        secc = bench.manager.secc
        trace = getattr(secc.engine, "trace", None) if secc is not None and secc.engine is not None else None
        last = next((x.name for x in reversed(trace or []) if x.direction == "rx"), "-")
        return (f"{_fmt_time(bench.now):>10}  {self.state or '-':<12} {volts:6.1f} V {amps:6.1f} A  "
                f"{watts / 1000:6.2f} kW  {energy / 1000:6.3f} kWh  {soc or 0.0:5.1f} %  {last}")
