"""Wall time and CPU time of a complete SLAC match (our PEV against our EVSE).

Two cases:

* ``asyncio/socketpair``: both machines under the real asyncio driver, joined by a Unix socket pair,
  each behind an emulated modem, with real timers.  The wall time is what a car waits (dominated by
  TT_EV_atten_results, 1.2 s, which the PEV must wait out); the CPU time is what the match cost
  this process (both sides together).
* ``emulator/virtual-time``: the same match in the in-process powerline emulator, where no real time
  passes: the CPU cost of the protocol logic alone.

No peer library implements both sides (pyslac has only the charger side), so there is no ratio.

Usage: ``python benchmarks/slac_match.py [--runs N]``
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import time

from evcharge.slac.config import EvseConfig, PevConfig
from evcharge.slac.emulator import ModemConfig, ModemEmulator, PowerlineEmulator
from evcharge.slac.events import Matched, StartMatching
from evcharge.slac.evse import EvseSlac
from evcharge.slac.pev import PevSlac
from evcharge.slac.transport.asyncio import SlacDriver
from evcharge.slac.transport.socketpair import socketpair_links

EVSE_MAC = bytes.fromhex("02e5e5000001")
PEV_MAC = bytes.fromhex("02ee00000001")


def asyncio_match(seed: int) -> tuple[float, float, float]:
    """(wall s, cpu s, match time the PEV reported s) of one real-time match."""
    a, b = socketpair_links(EVSE_MAC, PEV_MAC)
    rng = random.Random(seed)
    evse = SlacDriver(EvseSlac(EvseConfig(), mac=a.mac, rng=rng), a,
                      modem=ModemEmulator(ModemConfig(mac=b"\x00\xb0\x52\x00\x00\x0a"), host_mac=a.mac))
    pev = SlacDriver(PevSlac(PevConfig(), mac=b.mac, rng=rng), b,
                     modem=ModemEmulator(ModemConfig(mac=b"\x00\xb0\x52\x00\x00\x0b"), host_mac=b.mac))

    async def both() -> list[object]:
        evse_task = asyncio.ensure_future(evse.run(timeout=10))
        await asyncio.sleep(0)  # the charger is listening before the car starts
        pev_result = await pev.run(timeout=10)
        return [await evse_task, pev_result]

    wall, cpu = time.perf_counter(), time.process_time()
    try:
        results = asyncio.run(both())
    finally:
        a.close()
        b.close()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    matched = [r for r in results if isinstance(r, Matched)]
    if len(matched) != 2:
        raise SystemExit(f"the match failed: {results}")
    return wall, cpu, matched[1].elapsed


def emulator_match(seed: int) -> float:
    """CPU seconds of one match in virtual time."""
    cpu = time.process_time()
    rng = random.Random(seed)
    emu = PowerlineEmulator(rng=rng)
    evse = emu.attach("evse", EvseSlac(EvseConfig(), mac=EVSE_MAC, rng=rng))
    pev = emu.attach("pev", PevSlac(PevConfig(), mac=PEV_MAC, rng=rng))
    evse.machine.send(StartMatching(), 0.0)  # type: ignore[attr-defined]
    pev.machine.send(StartMatching(), 0.1)  # type: ignore[attr-defined]
    emu.run(until=30.0, stop=lambda: any(isinstance(e, Matched) for e in pev.events))
    cpu = time.process_time() - cpu
    if not any(isinstance(e, Matched) for e in pev.events):
        raise SystemExit("the emulated match failed")
    return cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="real-time matches to run (default 5)")
    parser.add_argument("--virtual-runs", type=int, default=200, help="virtual-time matches (default 200)")
    args = parser.parse_args()

    asyncio_match(0)  # warm-up (imports, first event loop)
    runs = [asyncio_match(seed) for seed in range(1, args.runs + 1)]
    wall = statistics.median(r[0] for r in runs)
    cpu = statistics.median(r[1] for r in runs)
    reported = statistics.median(r[2] for r in runs)
    emulator_match(0)
    virtual = statistics.median(emulator_match(seed) for seed in range(1, args.virtual_runs + 1))

    print(f"slac match asyncio/socketpair : wall {wall:8.3f} s   cpu {cpu * 1e3:8.2f} ms   "
          f"(PEV-reported match time {reported:.3f} s; median of {args.runs})   peer: -   ratio: -")
    print(f"slac match emulator/virtual   : wall        -     cpu {virtual * 1e3:8.2f} ms   "
          f"(median of {args.virtual_runs})   peer: -   ratio: -")


if __name__ == "__main__":
    main()
