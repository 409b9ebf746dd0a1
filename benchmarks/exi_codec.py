"""EXI codec benchmark: evcharge (compiled and pure-Python backends) beside EXIficient driven the way
Josev drives it (py4j), on the same messages, in the same run.

    python benchmarks/exi_codec.py            # everything (starts one JVM; about a minute)
    python benchmarks/exi_codec.py --no-peer  # evcharge only
    python benchmarks/exi_codec.py --imports  # only the import time and RSS of each message set
    python benchmarks/exi_codec.py --no-peer --libcbv2g ~/src/libcbv2g  # with libcbv2g (C) in the same run
    valgrind --tool=callgrind --dump-before=time_sleep --compress-strings=no \
        python benchmarks/exi_codec.py --segments 1000   # instructions per call (see segments())

Per message it prints the time of one encode (Python object -> EXI bytes) and one decode (EXI bytes
-> Python object), as the best of repeated runs, and the ratio peer / evcharge (above 1: we are
faster).  With ``--libcbv2g DIR`` (a checkout of EVerest's libcbv2g) it compiles that C codec with
gcc -O2 and ``benchmarks/libcbv2g_peer.c``, and times its decode (bytes -> C struct) and encode
(C struct -> bytes) of the same bytes in the same run: "vs C" is then our time / its time.  Without it, "vs C"
uses the libcbv2g figures recorded once in the project's facts (two messages only), which depend on the
machine's speed at that time: compare only same-run ratios.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

_REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(_REPO))

from tests.exi import corpus  # noqa: E402
from tests.exi.codecs import RUNTIMES, codec  # noqa: E402

#: libcbv2g, gcc -O2, as recorded once in the project's facts (microseconds); not same-run figures
LIBCBV2G = {"ISO-2 CurrentDemandReq (38 B)": (0.52, 0.61), "-20 ScheduleExchangeRes (673 B)": (7.6, 9.2)}
#: the libcbv2g families the peer program links (benchmarks/libcbv2g_peer.c)
_CBV2G_SOURCES = ("common/*.c", "din/*.c", "iso_2/*.c", "iso_20/iso20_DC_*.c", "iso_20/iso20_CommonMessages_*.c")


def libcbv2g_times(checkout: str, vectors: list[corpus.ExiVector]) -> list[tuple[float, float] | None]:
    """(encode, decode) seconds per call of libcbv2g for each vector (None: it could not decode or re-encode it)."""
    import glob
    import shutil
    import subprocess
    import tempfile

    lib = Path(checkout).expanduser() / "lib" / "cbv2g"
    sources = sorted(f for pattern in _CBV2G_SOURCES for f in glob.glob(str(lib / pattern)))
    if not sources or shutil.which("gcc") is None:
        raise SystemExit(f"--libcbv2g: no libcbv2g sources under {lib}, or no gcc")
    with tempfile.TemporaryDirectory() as tmp:
        exe = str(Path(tmp) / "libcbv2g_peer")
        subprocess.run(["gcc", "-O2", "-std=c99", "-D_POSIX_C_SOURCE=199309L", "-I", str(lib.parent.parent / "include"),
                        "-o", exe, str(_REPO / "benchmarks" / "libcbv2g_peer.c"), *sources], check=True)
        feed = "".join(f"{v.family} {v.hex}\n" for v in vectors)
        lines = subprocess.run([exe], input=feed, capture_output=True, text=True, check=True).stdout.splitlines()
    out: list[tuple[float, float] | None] = []
    for line in lines:
        enc, dec, same = line.split()[:3]
        out.append((float(enc) * 1e-9, float(dec) * 1e-9) if same == "1" else None)
    return out


def cases() -> list[tuple[str, corpus.ExiVector]]:
    vs = {v.origin: v for v in corpus.vectors()}
    loop_res = _dc_charge_loop_res()
    return [
        ("ISO-2 CurrentDemandReq (38 B)", vs["vec8"]),
        ("DIN CurrentDemandRes", vs["vec6"]),
        ("ISO-2 ChargeParameterDiscoveryRes + SalesTariff", vs["vec9"]),
        ("  the same, SignatureValue of 64 B", _signed(vs["vec9"])),
        ("-20 DC_ChargeLoopReq", vs["vec15"]),
        (f"-20 DC_ChargeLoopRes ({len(loop_res.data)} B)", loop_res),
        ("-20 ScheduleExchangeRes (673 B)", vs["vec14"]),
    ]


def _signed(vector: corpus.ExiVector) -> corpus.ExiVector:
    """``vector`` with a 64-byte header SignatureValue instead of its empty one.  libcbv2g refuses the empty value
    as EXIficient writes it (a second-level EE, which libcbv2g does not read), so this variant gives the message a
    same-run C figure."""
    import base64

    c = codec(vector.family, "python")
    msg = c.to_dict(c.decode(bytes.fromhex(vector.hex)))
    msg["V2G_Message"]["Header"]["Signature"]["SignatureValue"] = {"value": base64.b64encode(bytes(range(64))).decode()}
    data = c.encode(c.from_dict(msg))
    return corpus.ExiVector(family=vector.family, namespace=c.namespace, hex=data.hex(), expected_json=msg,
                            source="built by benchmarks/exi_codec.py", origin="bench")


def _dc_charge_loop_res() -> corpus.ExiVector:
    """A typical charger answer in the DC loop (no capture of one is in the corpus): built, then encoded."""
    msg = {"DC_ChargeLoopRes": {
        "Header": {"SessionID": "5A2CDE53F701D4AC", "TimeStamp": 1718607535},
        "ResponseCode": "OK",
        "EVSEPresentCurrent": {"Exponent": 0, "Value": 20},
        "EVSEPresentVoltage": {"Exponent": 0, "Value": 398},
        "EVSEPowerLimitAchieved": False, "EVSECurrentLimitAchieved": False, "EVSEVoltageLimitAchieved": False,
        "Scheduled_DC_CLResControlMode": {},
    }}
    c = codec("ISO20-DC", "python")
    data = c.encode(c.from_dict(msg))
    return corpus.ExiVector(family="ISO20-DC", namespace=c.namespace, hex=data.hex(), expected_json=msg,
                            source="built by benchmarks/exi_codec.py", origin="bench")


def per_call(fn: Callable[[], Any], budget: float = 0.2, repeats: int = 9) -> float:
    """Seconds per call: the best of ``repeats`` runs of about ``budget`` seconds each (the run least
    disturbed by other load on the machine, as ``timeit`` recommends)."""
    fn()
    n = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        dt = time.perf_counter() - t0
        if dt > budget / 10 or n > 1 << 22:
            break
        n *= 4
    n = max(1, int(n * (budget / max(dt, 1e-9))))
    runs = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        runs.append((time.perf_counter() - t0) / n)
    return min(runs)


def fmt(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 1e-3:
        return f"{seconds * 1e6:8.2f} us"
    return f"{seconds * 1e3:8.2f} ms"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--no-peer", action="store_true", help="skip EXIficient (no JVM)")
    ap.add_argument("--imports", action="store_true", help="only the import cost of each message set")
    ap.add_argument("--libcbv2g", metavar="DIR", help="a libcbv2g checkout: build it and time it in the same run")
    ap.add_argument("--segments", type=int, metavar="N", help="N calls per case and operation (compiled backend), "
                    "each run between two time.sleep(0) markers, for callgrind --dump-before=time_sleep")
    args = ap.parse_args()
    if args.imports:
        import_costs()
        return 0
    if args.segments is not None:
        segments(args.segments)
        return 0
    peer = None
    if not args.no_peer:
        from benchmarks._exificient import JosevPath

        peer = JosevPath()
    c_times: dict[str, tuple[float, float] | None] = {}
    if args.libcbv2g:
        todo = cases()
        measured = libcbv2g_times(args.libcbv2g, [v for _, v in todo])
        c_times = dict(zip([name for name, _ in todo], measured, strict=True))
    print(f"{'message':48s} {'op':6s} {'cython':>11s} {'python':>11s} {'Josev/py4j':>11s} {'ratio':>9s} "
          f"{'libcbv2g':>9s} {'vs C':>6s}")
    try:
        for name, v in cases():
            row: dict[str, dict[str, float | None]] = {"encode": {}, "decode": {}}
            for backend in sorted(RUNTIMES):
                c = codec(v.family, backend)
                obj = c.decode(v.data)
                assert c.encode(obj) == v.data
                row["encode"][backend] = per_call(partial(c.encode, obj))
                row["decode"][backend] = per_call(partial(c.decode, v.data))
            if peer is not None and v.expected_json is not None:
                fns = peer.callables(v.namespace, v.expected_json)
                row["encode"]["peer"] = per_call(fns["josev encode (obj -> EXI)"], budget=1.0, repeats=3)
                row["decode"]["peer"] = per_call(fns["josev decode (EXI -> obj)"], budget=1.0, repeats=3)
            for op in ("encode", "decode"):
                r = row[op]
                ours = r.get("cython") or r.get("python")
                p = r.get("peer")
                ratio = f"{p / ours:8.0f}x" if p and ours else "-"
                c_ref = c_times.get(name) if args.libcbv2g else LIBCBV2G.get(name)
                if c_ref is not None and args.libcbv2g:
                    c_ref = (c_ref[0] * 1e6, c_ref[1] * 1e6)
                cref = c_ref[0 if op == "encode" else 1] * 1e-6 if c_ref else None
                vs_c = f"{ours / cref:5.1f}x" if cref and ours else "-"
                print(f"{name if op == 'encode' else '':48s} {op:6s} {fmt(r.get('cython')):>11s} "
                      f"{fmt(r.get('python')):>11s} {fmt(p):>11s} {ratio:>9s} {fmt(cref):>9s} {vs_c:>6s}")
    finally:
        if peer is not None:
            peer.close()
    print("\nratio = Josev/py4j time / evcharge (compiled) time; vs C = evcharge (compiled) / libcbv2g time "
          + ("(libcbv2g timed in this run)" if args.libcbv2g else "(libcbv2g figures recorded once, not this run)"))
    print()
    import_costs()
    return 0


def _nothing(_: object) -> None:
    return None


def segments(n: int) -> None:
    """Instruction counts, which stay stable on a loaded machine where wall time does not.

    Under ``valgrind --tool=callgrind --dump-before=time_sleep`` every ``time.sleep(0)`` closes one
    profile part: part 1 is the setup, part 2 ``n`` calls of an empty Python function (the loop's own
    cost), then one part per case and operation (encode, decode), in the order printed.  Instructions
    per public call = (part total - part 2 total) / n.
    """
    setup = []
    for name, v in cases():
        c = codec(v.family, "cython")
        obj = c.decode(v.data)
        setup.append((name, c.encode, obj, c.decode, v.data))
    time.sleep(0)
    for _ in range(n):
        _nothing(None)
    time.sleep(0)
    for _name, enc, obj, dec, data in setup:
        for _ in range(n):
            enc(obj)
        time.sleep(0)
        for _ in range(n):
            dec(data)
        time.sleep(0)
    print("parts 3.. : " + ", ".join(f"{name} encode, decode" for name, *_ in setup))


#: one message set per family, as an application imports it
IMPORTS = ("app_protocol", "din", "iso2", "iso20.common", "iso20.ac", "iso20.dc", "iso20.wpt", "iso20.acdp")
_IMPORT_PROBE = """
import os, sys, time
import dataclasses, enum, typing  # the standard library an application has loaded anyway
import evcharge, evcharge._exi  # the runtime (shared by every message set)
def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
rss0 = rss()
t0 = time.perf_counter()
__import__("evcharge.iso15118." + sys.argv[1])
t1 = time.perf_counter()
print(t1 - t0, rss() - rss0)
"""


def import_costs(repeats: int = 5) -> None:
    """Import time and RSS growth of each message set, each in a fresh interpreter (best of ``repeats``), with
    byte-code caches warm (a first import compiles the generated modules once)."""
    import os
    import subprocess
    import tempfile

    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = os.path.join(tempfile.gettempdir(), "evcharge-bench-pycache")  # not in the tree
    print(f"{'import of one message set':32s} {'time':>9s} {'RSS':>8s}")
    for mod in IMPORTS:
        best_t, best_rss = float("inf"), float("inf")
        for _ in range(repeats + 1):
            out = subprocess.run([sys.executable, "-c", _IMPORT_PROBE, mod], capture_output=True, text=True,
                                 check=True, cwd=_REPO, env=env).stdout.split()
            best_t, best_rss = min(best_t, float(out[0])), min(best_rss, float(out[1]))
        print(f"evcharge.iso15118.{mod:14s} {best_t * 1e3:7.1f} ms {best_rss / 2**20:5.1f} MB")


if __name__ == "__main__":
    sys.exit(main())
