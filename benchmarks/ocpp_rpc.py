"""CSMS Heartbeat round trips per second and memory per idle connection: evcharge vs mobilityhouse ``ocpp``.

Each CSMS runs alone in a child process (OCPP 2.0.1, schema validation on, the library's own websockets
server); this process is the load: N raw websocket clients, each sending Heartbeat CALLs back to back
and waiting for every answer, for a fixed time.  The same client code drives both servers.  Memory per
idle connection is the growth of the server process's resident set size while ``--idle`` connections
are open and quiet, divided by their number.

    python benchmarks/ocpp_rpc.py                         # 1, 100, 1000 clients; 1000 idle connections
    python benchmarks/ocpp_rpc.py --idle 10000            # the 10,000-connection target

The ratio is ours / theirs for round trips (above 1: we serve more) and theirs / ours for memory
(above 1: we use less).  With 2 shared cores the load generator competes with the server for CPU:
compare ratios, not absolute figures.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import subprocess
import sys
import time
from typing import Any

NOW = "2024-05-01T12:00:00Z"
SERVERS = ("evcharge", "mobilityhouse", "mobilityhouse-deflate")


def _raise_fd_limit() -> None:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


# --------------------------------------------------------------------------------------------- servers


async def serve_evcharge() -> Any:
    from evcharge.ocpp import v201
    from evcharge.ocpp.csms import Csms, CsmsConfig, CsmsHandler
    from evcharge.ocpp.routing import on
    from evcharge.ocpp.transport.websocket import serve_csms

    class Handler(CsmsHandler):
        @on(v201.Action.HEARTBEAT)
        def heartbeat(self, request: v201.HeartbeatRequest) -> v201.HeartbeatResponse:
            return v201.HeartbeatResponse(current_time=NOW)

    csms = Csms(CsmsConfig(versions=(v201,), ping_interval=None), Handler)
    return await serve_csms(csms, "127.0.0.1", 0, backlog=4096)


async def serve_mobilityhouse(deflate: bool) -> Any:
    import websockets
    from ocpp.routing import on
    from ocpp.v201 import ChargePoint, call_result

    class Handler(ChargePoint):
        @on("Heartbeat")
        def heartbeat(self) -> Any:
            return call_result.Heartbeat(current_time=NOW)

    async def on_connect(ws: Any) -> None:
        cp = Handler(ws.request.path.rsplit("/", 1)[-1], ws)
        with contextlib.suppress(websockets.ConnectionClosed):
            await cp.start()

    return await websockets.serve(on_connect, "127.0.0.1", 0, subprotocols=["ocpp2.0.1"], ping_interval=None,
                                  compression="deflate" if deflate else None, backlog=4096)


def run_server(kind: str) -> None:
    import logging

    logging.disable(logging.CRITICAL)
    _raise_fd_limit()

    async def main() -> None:
        if kind == "evcharge":
            server = await serve_evcharge()
        else:
            server = await serve_mobilityhouse(deflate=kind.endswith("deflate"))
        print(server.sockets[0].getsockname()[1], flush=True)
        await asyncio.Future()

    asyncio.run(main())


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


# --------------------------------------------------------------------------------------------- load


async def open_clients(port: int, n: int) -> list[Any]:
    from websockets.asyncio.client import connect

    sem = asyncio.Semaphore(200)

    async def one(i: int) -> Any:
        async with sem:
            return await connect(f"ws://127.0.0.1:{port}/ocpp/CP{i:05d}", subprotocols=["ocpp2.0.1"],  # type: ignore[list-item]
                                 compression=None, ping_interval=None, open_timeout=60, proxy=None)

    return list(await asyncio.gather(*(one(i) for i in range(n))))


async def round_trips(port: int, pid: int, clients: int, seconds: float) -> tuple[float, float]:
    """Round trips per second, and the server's CPU time per round trip in microseconds."""
    conns = await open_clients(port, clients)
    stop = False
    counts = [0] * clients

    async def loop(i: int, ws: Any) -> None:
        n = 0
        while not stop:
            n += 1
            await ws.send(f'[2,"{i}-{n}","Heartbeat",{{}}]')
            answer = json.loads(await ws.recv())
            if answer[0] != 3:
                raise RuntimeError(f"unexpected answer {answer}")
            counts[i] += 1

    tasks = [asyncio.create_task(loop(i, ws)) for i, ws in enumerate(conns)]
    await asyncio.sleep(min(1.0, seconds / 3))  # warm-up
    start_count, start, cpu = sum(counts), time.perf_counter(), cpu_seconds(pid)
    await asyncio.sleep(seconds)
    done, elapsed, cpu = sum(counts) - start_count, time.perf_counter() - start, cpu_seconds(pid) - cpu
    stop = True
    await asyncio.wait(tasks, timeout=10)
    await asyncio.gather(*(ws.close() for ws in conns), return_exceptions=True)
    return done / elapsed, cpu / done * 1e6


async def idle_memory(port: int, pid: int, n: int) -> float:
    await asyncio.sleep(0.5)
    before = rss_kib(pid)
    conns = await open_clients(port, n)
    await asyncio.sleep(1.5)
    after = rss_kib(pid)
    await asyncio.gather(*(ws.close() for ws in conns), return_exceptions=True)
    return (after - before) / n


def measure(kind: str, client_counts: list[int], seconds: float, idle: int) -> dict[str, float]:
    proc = subprocess.Popen([sys.executable, __file__, "--serve", kind], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline())
        out: dict[str, float] = {}

        async def main() -> None:
            if idle:
                out["idle"] = await idle_memory(port, proc.pid, idle)
            if kind != "mobilityhouse-deflate":
                for n in client_counts:
                    out[f"rt{n}"], out[f"cpu{n}"] = await round_trips(port, proc.pid, n, seconds)

        asyncio.run(main())
        return out
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", default="1,100,1000", help="client counts for the round-trip runs")
    parser.add_argument("--seconds", type=float, default=3.0, help="measured time per run")
    parser.add_argument("--idle", type=int, default=1000, help="idle connections for the memory figure (0: skip)")
    parser.add_argument("--serve", choices=SERVERS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        run_server(args.serve)
        return
    _raise_fd_limit()
    counts = [int(c) for c in args.clients.split(",") if c]
    ours = measure("evcharge", counts, args.seconds, args.idle)
    theirs = measure("mobilityhouse", counts, args.seconds, args.idle)
    theirs_deflate = measure("mobilityhouse-deflate", [], args.seconds, args.idle) if args.idle else {}

    print(f"OCPP 2.0.1 CSMS, Heartbeat round trips per second (validation on), {os.cpu_count()} CPUs, "
          f"{args.seconds:g} s per run")
    print(f"{'case':<34}{'evcharge':>14}{'mobilityhouse':>16}{'ratio':>9}")
    for n in counts:
        a, b = ours[f"rt{n}"], theirs[f"rt{n}"]
        print(f"{f'round trips/s, {n} clients':<34}{a:>14,.0f}{b:>16,.0f}{a / b:>8.2f}x")
        a, b = ours[f"cpu{n}"], theirs[f"cpu{n}"]
        print(f"{'  server CPU us per round trip':<34}{a:>14,.0f}{b:>16,.0f}{b / a:>8.2f}x")
    if args.idle:
        a, b = ours["idle"], theirs["idle"]
        print(f"{f'KiB per idle connection ({args.idle})':<34}{a:>14.1f}{b:>16.1f}{b / a:>8.2f}x")
        c = theirs_deflate["idle"]
        print(f"{'  mobilityhouse with deflate':<34}{'':>14}{c:>16.1f}{c / a:>8.2f}x")


if __name__ == "__main__":
    main()
