"""SLAC: match time per phase, CPU per match, and the match rate under frame loss.

Three parts:

* ``asyncio/socketpair``: our EVSE and our PEV, each under the real asyncio driver behind an emulated
  modem, joined by a Unix socket pair, with real timers (no standard timer shortened).  The wall time
  is what the car waits, from ``StartMatching`` to ``Matched``; it is split into phases from the
  PEV's side of the link (when each frame left or arrived):

  - ``parm``       StartMatching -> first CM_SLAC_PARM.CNF received
  - ``sounding``   -> last CM_MNBC_SOUND.IND sent (3 START_ATTEN_CHAR + 10 sounds, TP_EV_batch_msg_interval apart)
  - ``atten_char`` -> CM_ATTEN_CHAR.IND received (the EVSE closes its window when the 10th profile arrived)
  - ``match``      -> CM_SLAC_MATCH.CNF received
  - ``join``       -> Matched (CM_SET_KEY.REQ / .CNF with the PEV's own modem)

  The "baseline" line is the same match with ``PevConfig(atten_results_early=False)``: a PEV that
  always waits TT_EV_atten_results (1.2 s) out, as this PEV did before; the ratio is baseline / now.
* ``emulator/virtual-time``: the same match in the in-process powerline emulator (no real time passes):
  the CPU cost of the protocol logic alone.
* ``loss``: the emulator with every line frame (all message types, both directions) lost with the
  given probability, fixed seeds 0..N-1; "matched" means the PEV joined the network its charger last
  handed out.  The PEV restarts per ISO 15118-3 (TT_matching_rate, C_conn_max_match = 3 attempts within
  TT_matching_repetition).  Also prints the match time percentiles under loss (virtual seconds).

Usage: ``python benchmarks/slac_match.py [--runs N] [--virtual-runs N] [--loss-runs N]``
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import time

from evcharge.slac.config import EvseConfig, PevConfig
from evcharge.slac.emulator import Impairment, ModemConfig, ModemEmulator, PowerlineEmulator
from evcharge.slac.events import Matched, StartMatching
from evcharge.slac.evse import EvseSlac
from evcharge.slac.messages import MMType
from evcharge.slac.pev import PevSlac
from evcharge.slac.transport.asyncio import SlacDriver
from evcharge.slac.transport.socketpair import SocketPairLink, socketpair_links

EVSE_MAC = bytes.fromhex("02e5e5000001")
PEV_MAC = bytes.fromhex("02ee00000001")
PHASES = ("parm", "sounding", "atten_char", "match", "join")


class TimedLink:
    """A link that notes (time, direction, MMTYPE) of every frame."""

    def __init__(self, link: SocketPairLink) -> None:
        self.link = link
        self.mac = link.mac
        self.log: list[tuple[float, str, int]] = []

    def fileno(self) -> int:
        return self.link.fileno()

    def recv_frame(self) -> bytes | None:
        data = self.link.recv_frame()
        if data is not None:
            self.log.append((time.monotonic(), "in", data[15] | data[16] << 8))
        return data

    def send_frame(self, data: bytes) -> None:
        self.log.append((time.monotonic(), "out", data[15] | data[16] << 8))
        self.link.send_frame(data)


def asyncio_match(seed: int, *, early: bool = True) -> tuple[float, float, dict[str, float]]:
    """(match time the car waits s, cpu s of both sides, seconds per phase) of one real-time match."""
    a, b = socketpair_links(EVSE_MAC, PEV_MAC)
    pev_link = TimedLink(b)
    rng = random.Random(seed)
    evse = SlacDriver(EvseSlac(EvseConfig(), mac=a.mac, rng=rng), a,
                      modem=ModemEmulator(ModemConfig(mac=b"\x00\xb0\x52\x00\x00\x0a"), host_mac=a.mac))
    pev = SlacDriver(PevSlac(PevConfig(atten_results_early=early), mac=b.mac, rng=rng), pev_link,
                     modem=ModemEmulator(ModemConfig(mac=b"\x00\xb0\x52\x00\x00\x0b"), host_mac=b.mac))
    started: list[float] = []

    async def both() -> list[object]:
        evse_task = asyncio.ensure_future(evse.run(timeout=10, linger=0.05))
        await asyncio.sleep(0.05)  # the charger is listening (and its modem keyed) before the car starts
        started.append(time.monotonic())
        pev_result = await pev.run(timeout=10)
        ended = time.monotonic()
        started.append(ended)
        return [await evse_task, pev_result]

    cpu = time.process_time()
    try:
        results = asyncio.run(both())
    finally:
        a.close()
        b.close()
    cpu = time.process_time() - cpu
    matched = [r for r in results if isinstance(r, Matched)]
    if len(matched) != 2:
        raise SystemExit(f"the match failed: {results}")
    start, end = started

    def first(direction: str, mmtype: int, *, last: bool = False) -> float:
        times = [t for t, d, m in pev_link.log if d == direction and m == mmtype]
        return times[-1] if last else times[0]

    marks = [start, first("in", MMType.CM_SLAC_PARM_CNF), first("out", MMType.CM_MNBC_SOUND_IND, last=True),
             first("in", MMType.CM_ATTEN_CHAR_IND), first("in", MMType.CM_SLAC_MATCH_CNF), end]
    phases = {name: marks[i + 1] - marks[i] for i, name in enumerate(PHASES)}
    return end - start, cpu, phases


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


def lossy_match(seed: int, loss: float) -> float | None:
    """Virtual seconds from the car's start to its match, or None when it stayed unmatched."""
    rng = random.Random(seed)
    emu = PowerlineEmulator(rng=rng, impairments=[Impairment(drop_probability=loss)], attenuation_jitter=5)
    evse = emu.attach("evse", EvseSlac(EvseConfig(), mac=EVSE_MAC, rng=rng))
    pev = emu.attach("pev", PevSlac(PevConfig(), mac=PEV_MAC, rng=rng))
    evse.machine.send(StartMatching(), 0.0)  # type: ignore[attr-defined]
    emu.run(until=0.5)
    pev.machine.send(StartMatching(), emu.now)  # type: ignore[attr-defined]
    emu.run(until=40.0, stop=lambda: any(isinstance(e, Matched) for e in pev.events))
    emu.run(until=emu.now + 1.0)
    p = [e for e in pev.events if isinstance(e, Matched)]
    e = [e for e in evse.events if isinstance(e, Matched)]
    if p and e and p[0].nmk == e[-1].nmk == pev.modem.nmk == evse.modem.nmk:
        return p[0].elapsed
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="real-time matches to run (default 5)")
    parser.add_argument("--virtual-runs", type=int, default=200, help="virtual-time matches (default 200)")
    parser.add_argument("--loss-runs", type=int, default=1000, help="seeds per loss level (default 1000)")
    parser.add_argument("--loss", type=float, nargs="*", default=[0.1, 0.2, 0.3, 0.4], help="loss levels")
    args = parser.parse_args()

    asyncio_match(0)  # warm-up (imports, first event loop)
    runs = [asyncio_match(seed) for seed in range(1, args.runs + 1)]
    base = [asyncio_match(seed, early=False) for seed in range(1, args.runs + 1)]
    wall = statistics.median(r[0] for r in runs)
    cpu = statistics.median(r[1] for r in runs)
    base_wall = statistics.median(r[0] for r in base)
    print(f"slac match asyncio/socketpair : wall {wall:8.3f} s   cpu {cpu * 1e3:8.2f} ms   (median of {args.runs})   "
          f"baseline (waits TT_EV_atten_results out): {base_wall:.3f} s   ratio: {base_wall / wall:.2f}")
    print("  per phase (median s):  " + "   ".join(
        f"{name} {statistics.median(r[2][name] for r in runs):.3f}" for name in PHASES))
    print("  baseline per phase:    " + "   ".join(
        f"{name} {statistics.median(r[2][name] for r in base):.3f}" for name in PHASES))
    emulator_match(0)
    virtual = statistics.median(emulator_match(seed) for seed in range(1, args.virtual_runs + 1))
    print(f"slac match emulator/virtual   : wall        -     cpu {virtual * 1e3:8.2f} ms   "
          f"(median of {args.virtual_runs})   peer: -   ratio: -")
    for loss in args.loss:
        times = [lossy_match(seed, loss) for seed in range(args.loss_runs)]
        ok = sorted(t for t in times if t is not None)
        rate = len(ok) / len(times)
        pct = (f"match time p50 {ok[len(ok) // 2]:.2f} s  p95 {ok[int(len(ok) * 0.95)]:.2f} s  max {ok[-1]:.2f} s"
               if ok else "")
        print(f"slac loss {loss:4.0%} of every frame : matched {len(ok):5d}/{len(times)} = {rate:7.2%}   {pct}")


if __name__ == "__main__":
    main()
