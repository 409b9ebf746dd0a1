"""A whole simulated DC session, all layers, zero physical delays: wall time.

    python benchmarks/charger_session.py [--runs N]

Two measurements, DIN 70121 and ISO 15118-2:

* **bench** -- :class:`evcharge.charger.sim.bench.Bench`: plug-in -> pilot B -> 5 % -> SLAC over the powerline
  emulator -> SupportedAppProtocol -> SessionSetup ... CableCheck (isolation monitor) -> PreCharge (DC supply)
  -> 240 CurrentDemand loops (60 s of charging at 4 Hz, simulated) -> WeldingDetection -> SessionStop ->
  unplug, the EVSE manager making every OCPP 2.0.1 call (answered in process);
* **simulate** -- ``evcharge simulate --hlc <p> --scenario dc-normal`` as a user runs it (in this process, so
  without the interpreter start): the same, plus the embedded CSMS over a real websocket (BootNotification,
  Authorize, NotifyEVChargingNeeds -> SetChargingProfile, the TransactionEvents) and the JSON log.

Target (issue 19): <= 2 s. The peer: Josev's DC session takes 9-27 s wall (field study), EVerest's SIL needs
a C++ build and Josev as the car; the ratio printed is against Josev's lower figure.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import statistics
import tempfile
import time
from pathlib import Path

from evcharge.charger import EvseManagerConfig
from evcharge.charger.sim.bench import Bench
from evcharge.charger.sim.car import CarConfig
from evcharge.cli import main

JOSEV_SESSION_S = 9.0  # field study: Josev DC session SDP -> SessionStop, lower figure
TARGET_S = 2.0


def bench_session(protocol: str) -> tuple[float, int]:
    started = time.perf_counter()
    bench = Bench(EvseManagerConfig(free_charging=True), CarConfig(protocol=protocol, charge_seconds=60.0))
    bench.plug_in()
    bench.run(until=120.0, stop=lambda: bench.car.ended is not None)
    bench.run(until=bench.now + 3.0)
    bench.unplug()
    elapsed = time.perf_counter() - started
    assert bench.car.ended is not None and bench.car.ended.normal, bench.car.ended
    return elapsed, len(bench.v2g)


def simulate_session(protocol: str, folder: Path) -> float:
    started = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        code = main(["simulate", "--hlc", protocol, "--scenario", "dc-normal", "--quiet",
                     "--json", str(folder / "log.json")])
    assert code == 0
    return time.perf_counter() - started


def main_() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    print(f"whole DC session, zero physical delays, {args.runs} runs, median wall time (target <= {TARGET_S} s)")
    with tempfile.TemporaryDirectory() as tmp:
        for protocol in ("din", "iso2"):
            bench_session(protocol)  # warm-up (imports, codec tables)
            simulate_session(protocol, Path(tmp))
            runs = [bench_session(protocol) for _ in range(args.runs)]
            b = statistics.median(r[0] for r in runs)
            s = statistics.median(simulate_session(protocol, Path(tmp)) for _ in range(args.runs))
            print(f"  {protocol:4}  bench {b:6.3f} s ({runs[0][1]} V2GTP messages)   simulate {s:6.3f} s   "
                  f"Josev {JOSEV_SESSION_S:.0f} s: {JOSEV_SESSION_S / s:5.1f}x   "
                  f"{'OK' if s <= TARGET_S else 'OVER TARGET'}")


if __name__ == "__main__":
    main_()
