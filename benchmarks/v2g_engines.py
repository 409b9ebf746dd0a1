"""V2G engine speed: SECC CurrentDemandReq -> Res turnaround and a whole DC session with zero delays.

    python benchmarks/v2g_engines.py [--josev]

Turnaround = receive_payload (EXI decode, table, handler, application event, EXI encode) until the
response is queued, measured per request with time.perf_counter_ns; the application callback (a
charger that sets the present values) runs inside it. The whole session is SessionSetup ->
SessionStop of our SECC against our EVCC in one process (Loopback), DIN and ISO 15118-2 DC, 10
CurrentDemand loops, zero physical delay. Targets (issue 17): p99 <= 1 ms, session <= 1 s.
Josev's published figures (ecog-io/iso15118 #157: CurrentDemandRes ~81 ms median, a whole session
9-27 s) are printed beside ours; ``--josev`` is where a measured Josev run goes once it is built here.
"""

from __future__ import annotations

import argparse
import statistics
import time
import tracemalloc

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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", type=int, default=5000)
    args = parser.parse_args()
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
