"""Control-pilot machine cost: time per pilot reading, and wall time of a simulated charging session.

No peer library exists for this in Python, so the figures stand alone (like slac_match.py).
Run: python benchmarks/iec61851_session.py [--readings N]
"""

from __future__ import annotations

import argparse
import statistics
import time

from evcharge.iec61851 import Charger, ChargerConfig, PilotLine, Vehicle
from evcharge.iec61851.events import Pause, Resume, SetCurrentLimit


def per_reading(n: int) -> float:
    """Seconds per receive_voltages() call on a charger in C2 (the steady state of a session)."""
    charger = Charger(ChargerConfig(initial_current=16))
    charger.receive_voltages(9.0, None, 0.0)
    charger.receive_voltages(6.0, -12.0, 0.0)
    charger.actions()
    t0 = time.perf_counter()
    for i in range(n):
        charger.receive_voltages(6.0, -12.0, i * 0.001)
    return (time.perf_counter() - t0) / n


def session() -> float:
    """Wall time of a one-hour simulated session with limit changes and a pause."""
    t0 = time.perf_counter()
    line = PilotLine(Charger(ChargerConfig(initial_current=32)), Vehicle())
    line.plug_in()
    for minute in range(60):
        line.run_until(minute * 60.0)
        line.send(SetCurrentLimit(amps=6 + (minute * 7) % 26))
        if minute == 30:
            line.send(Pause())
        if minute == 35:
            line.send(Resume())
    line.run_until(3600.0)
    line.unplug()
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--readings", type=int, default=20000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    per_reading(1000)  # warm-up
    reading = statistics.median(per_reading(args.readings) for _ in range(args.repeat))
    sess = statistics.median(session() for _ in range(args.repeat))
    print(f"iec61851 receive_voltages (C2 steady state)   {reading * 1e6:8.2f} us/reading   peer: -")
    print(f"iec61851 one-hour simulated session            {sess * 1e3:8.2f} ms/session   peer: -")


if __name__ == "__main__":
    main()
