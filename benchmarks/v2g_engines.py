"""V2G engine speed: SECC CurrentDemandReq -> Res turnaround and a whole DC session with zero delays.

    python benchmarks/v2g_engines.py [--josev]

Turnaround = receive_payload (EXI decode, table, handler, application event, EXI encode) until the
response is queued, measured per request with time.perf_counter_ns; the application callback (a
charger that sets the present values) runs inside it. The whole session is SessionSetup ->
SessionStop of our SECC against our EVCC in one process (Loopback), DIN and ISO 15118-2 DC, 10
CurrentDemand loops, zero physical delay. Targets (issue 17): p99 <= 1 ms, session <= 1 s.
Josev's published figures (ecog-io/iso15118 #157: CurrentDemandRes ~81 ms median, a whole session
9-27 s) are printed beside ours.

``--josev`` (root, iproute2, Java 17; Josev's venv as tests/iso15118/engines/test_josev.py builds it) also
measures on the wire, in the same run: our EVCC (``evcharge v2g evcc``) on a veth pair between two network
namespaces against Josev's SECC and against our SECC (``evcharge v2g secc``), DIN DC, 10 CurrentDemand
loops; from the car's message log: CurrentDemandReq -> Res round trip p50/p99 and SessionSetupReq ->
SessionStopRes.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

from evcharge.iso15118.engines import Evcc, EvccConfig, Loopback, Secc, SeccConfig, SeccState
from evcharge.iso15118.engines import events as ev
from evcharge.iso15118.handover import AppProtocol, HandOver, PayloadType

JOSEV_CURRENT_DEMAND_MEDIAN_MS = 81.0  # ecog-io/iso15118 #157 (field study)
JOSEV_SESSION_S = (9.0, 27.0)  # field study: Josev DC session SDP -> SessionStop


def _handover(protocol: str) -> HandOver:
    return HandOver(protocol=AppProtocol.DIN if protocol == "din" else AppProtocol.ISO2, schema_id=1,
                    version_minor=0, minor_deviation=False, tls=None, now=0.0)


def _config() -> SeccConfig:
    return SeccConfig(energy_modes=(ev.EnergyMode.DC_EXTENDED,), auto_authorize=True,
                      dc_limits=ev.DcLimits(max_voltage=500, max_current=200, max_power=100_000))


def charger(engine: Secc, event: object, now: float) -> None:
    if isinstance(event, ev.CableCheckRequested):
        engine.send(ev.SetIsolation(level=ev.Isolation.VALID), now)
    elif isinstance(event, (ev.PreChargeRequested, ev.ChargeLoopTargets)):
        engine.send(ev.SetPresentValues(voltage=event.target_voltage, current=event.target_current), now)


def turnaround(protocol: str, n: int) -> list[float]:
    """Drive a session to the charge loop, then time n CurrentDemandReq -> Res on the SECC."""
    ho = _handover(protocol)
    secc, evcc = Secc(ho, _config()), Evcc(ho, EvccConfig())
    held: list[bytes] = []

    def tap(direction: str, ptype: int, payload: bytes) -> bytes | None:
        if direction == "to_secc" and secc.state is SeccState.CHARGING and not held:
            held.append(payload)
            return None
        return payload

    Loopback(secc, evcc, secc_app=charger, tap=tap).run(until=0.0)
    request = held[0]
    out = []
    now = 0.0
    for _ in range(n):
        now += 0.1
        t0 = time.perf_counter_ns()
        secc.receive_payload(PayloadType.EXI, request, now)
        while (event := secc.next_event()) is not None:
            charger(secc, event, now)
        secc.payloads_to_send()
        out.append((time.perf_counter_ns() - t0) / 1e6)
    return out


def whole_session(protocol: str) -> float:
    ho = _handover(protocol)
    n = {"loops": 0}

    def car(engine: Evcc, event: object, now: float) -> None:
        if isinstance(event, ev.ChargeLoopStatus):
            n["loops"] += 1
            if n["loops"] == 10:
                engine.send(ev.StopCharging(), now)

    t0 = time.perf_counter()
    lb = Loopback(Secc(ho, _config()), Evcc(ho, EvccConfig()), secc_app=charger, evcc_app=car)
    lb.run()
    took = time.perf_counter() - t0
    assert lb.secc.ended is not None and lb.secc.ended.normal  # type: ignore[attr-defined]
    return took


def session_memory(protocol: str) -> int:
    ho = _handover(protocol)
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    secc = Secc(ho, _config())
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    del secc
    return sum(s.size_diff for s in after.compare_to(before, "filename"))


def _wire_run(secc_cmd: list[str], ready: bytes, tmp: Path, names: dict[str, str]) -> dict[str, float]:
    log = tmp / "secc.log"
    with log.open("wb") as out:
        secc = subprocess.Popen(["ip", "netns", "exec", names["secc"], *secc_cmd], stdout=out, stderr=subprocess.STDOUT,
                                cwd=tmp, env=dict(os.environ, NETWORK_INTERFACE="eth0", PROTOCOLS="DIN_SPEC_70121",
                                                  AUTH_MODES="EIM"))
        try:
            deadline = time.monotonic() + 120
            while ready not in log.read_bytes():
                if time.monotonic() > deadline or secc.poll() is not None:
                    raise RuntimeError(log.read_bytes()[-2000:].decode(errors="replace"))
                time.sleep(0.1)
            car_json = tmp / "car.json"
            subprocess.run(["ip", "netns", "exec", names["evcc"], sys.executable, "-m", "evcharge", "v2g", "evcc",
                            "--iface", "eth0", "--protocol", "din", "--loops", "10", "--timeout-scale", "20",
                            "--timeout", "300", "--json", str(car_json)], check=True, timeout=330)
        finally:
            secc.terminate()
            secc.wait(timeout=20)
    msgs = json.loads(car_json.read_text())["messages"]
    rtts = [(b["time"] - a["time"]) * 1000 for a, b in itertools.pairwise(msgs)
            if a["name"] == "CurrentDemandReq" and b["name"] == "CurrentDemandRes"]
    rtts.sort()
    return {"cd_p50_ms": statistics.median(rtts), "cd_p99_ms": rtts[min(len(rtts) - 1, int(len(rtts) * 0.99))],
            "session_s": msgs[-1]["time"] - msgs[0]["time"]}


def josev_on_the_wire() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.iso15118.engines.test_josev import josev_venv

    venv = josev_venv()
    tag = str(os.getpid() % 100000)
    names = {"secc": f"bj-secc-{tag}", "evcc": f"bj-evcc-{tag}"}

    def ip(*a: str) -> None:
        subprocess.run(["ip", *a], check=True, capture_output=True)

    try:
        for ns in names.values():
            ip("netns", "add", ns)
        ip("link", "add", f"bja{tag}", "type", "veth", "peer", "name", f"bjb{tag}")
        ip("link", "set", f"bja{tag}", "netns", names["secc"], "name", "eth0")
        ip("link", "set", f"bjb{tag}", "netns", names["evcc"], "name", "eth0")
        for ns in names.values():
            subprocess.run(["ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.eth0.accept_dad=0"], check=True)
            ip("-n", ns, "link", "set", "lo", "up")
            ip("-n", ns, "link", "set", "eth0", "up")
        time.sleep(1.0)
        with tempfile.TemporaryDirectory() as d:
            josev = _wire_run([str(venv / "bin" / "python"), "-m", "iso15118.secc.main"], b"UDP server started",
                              Path(d), names)
        with tempfile.TemporaryDirectory() as d:
            ours = _wire_run([sys.executable, "-m", "evcharge", "v2g", "secc", "--iface", "eth0", "--protocols", "din",
                              "--timeout", "300"], b"listening", Path(d), names)
    finally:
        for ns in names.values():
            for pid in subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True).stdout.split():
                subprocess.run(["kill", "-9", pid], capture_output=True)
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
    for key, label in (("cd_p50_ms", "CurrentDemand round trip p50"), ("cd_p99_ms", "CurrentDemand round trip p99"),
                       ("session_s", "SessionSetupReq -> SessionStopRes")):
        unit = "s" if key.endswith("_s") else "ms"
        print(f"wire, DIN DC, our EVCC vs SECC: {label}: ours {ours[key]:.2f} {unit}, Josev {josev[key]:.2f} {unit} "
              f"({josev[key] / ours[key]:.0f}x)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", type=int, default=5000)
    parser.add_argument("--josev", action="store_true", help="also measure beside Josev on a veth pair (root)")
    args = parser.parse_args()
    if args.josev:
        josev_on_the_wire()
    for protocol in ("din", "iso2"):
        whole_session(protocol)  # warm up (imports, grammar tables)
        t = sorted(turnaround(protocol, args.n))
        p50, p99 = statistics.median(t), t[int(len(t) * 0.99)]
        sessions = sorted(whole_session(protocol) for _ in range(20))
        print(f"{protocol}: CurrentDemandReq->Res p50 {p50 * 1000:.0f} us, p99 {p99 * 1000:.0f} us "
              f"(target p99 <= 1000 us; Josev median {JOSEV_CURRENT_DEMAND_MEDIAN_MS:.0f} ms: "
              f"{JOSEV_CURRENT_DEMAND_MEDIAN_MS / p50:.0f}x)")
        print(f"{protocol}: whole DC session (zero delays, 10 loops) median {sessions[10] * 1000:.1f} ms "
              f"(target <= 1 s; Josev {JOSEV_SESSION_S[0]:.0f}-{JOSEV_SESSION_S[1]:.0f} s: "
              f"{JOSEV_SESSION_S[0] / sessions[10]:.0f}x)")
        print(f"{protocol}: memory of one SECC engine {session_memory(protocol) / 1024:.1f} KiB")


if __name__ == "__main__":
    main()
