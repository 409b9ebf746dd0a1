"""CSMS Heartbeat round trips per second and memory per idle connection: evcharge vs mobilityhouse ``ocpp``.

Each CSMS runs alone in a child process (OCPP 2.0.1, schema validation on, the library's own websockets
server); this process is the load: N minimal websocket clients, each sending a Heartbeat CALL as soon as the
previous one is answered, for a fixed time (the load generator is kept far cheaper than the servers, so the
servers are what is measured).  The same client code drives both servers.  Memory per
idle connection is the growth of the server process's resident set size while ``--idle`` connections
are open and quiet, divided by their number.

    python benchmarks/ocpp_rpc.py                         # 1, 100, 1000 clients; 1000 idle connections
    python benchmarks/ocpp_rpc.py --idle 10000            # the 10,000-connection target

The ratio is ours / theirs for round trips (above 1: we serve more) and theirs / ours for memory
(above 1: we use less).  With 2 shared cores the load generator competes with the server for CPU:
compare ratios, not absolute figures; the server CPU time per round trip is the steadiest figure.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
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


class LoadClient(asyncio.Protocol):
    """A minimal websocket client: one Heartbeat CALL at a time, as cheap as possible for the load process.

    It speaks just enough RFC 6455 for the job (the HTTP upgrade, text frames of under 126 bytes with an
    all-zero mask, unmasked server frames), so the load generator costs far less CPU than the servers it
    measures.  Every CALL has a fresh message id.
    """

    def __init__(self, path: str, connected: asyncio.Future[None]) -> None:
        self.path = path
        self.connected = connected
        self.transport: asyncio.Transport | None = None
        self.buffer = b""
        self.handshaken = False
        self.running = False
        self.count = 0
        self.prefix = path.rsplit("/", 1)[-1].encode()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        key = base64.b64encode(os.urandom(16)).decode()
        transport.write(
            f"GET {self.path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: ocpp2.0.1\r\n\r\n"
            .encode()
        )

    def send_call(self) -> None:
        assert self.transport is not None
        payload = b'[2,"' + self.prefix + b"-" + str(self.count).encode() + b'","Heartbeat",{}]'
        self.transport.write(bytes((0x81, 0x80 | len(payload))) + b"\0\0\0\0" + payload)

    def data_received(self, data: bytes) -> None:
        buf = self.buffer + data
        if not self.handshaken:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                self.buffer = buf
                return
            if not buf.startswith(b"HTTP/1.1 101"):
                self.connected.set_exception(RuntimeError(buf[:end].decode(errors="replace")))
                return
            self.handshaken = True
            buf = buf[end + 4:]
            self.connected.set_result(None)
        while len(buf) >= 2:
            length, header = buf[1] & 0x7F, 2
            if length == 126:
                length, header = int.from_bytes(buf[2:4], "big"), 4
            elif length == 127:
                length, header = int.from_bytes(buf[2:10], "big"), 10
            if len(buf) < header + length:
                break
            opcode, body = buf[0] & 0x0F, buf[header:header + length]
            buf = buf[header + length:]
            if opcode == 1:
                if not body.startswith(b"[3,"):
                    raise RuntimeError(f"unexpected answer {body!r}")
                self.count += 1
                if self.running:
                    self.send_call()
        self.buffer = buf

    def start(self) -> None:
        self.running = True
        self.send_call()

    def close(self) -> None:
        self.running = False
        if self.transport is not None:
            self.transport.close()


async def open_clients(port: int, n: int) -> list[LoadClient]:
    loop = asyncio.get_running_loop()
    sem = asyncio.Semaphore(200)

    async def one(i: int) -> LoadClient:
        async with sem:
            fut: asyncio.Future[None] = loop.create_future()
            _, proto = await loop.create_connection(lambda: LoadClient(f"/ocpp/CP{i:05d}", fut), "127.0.0.1", port)
            await asyncio.wait_for(fut, 60)
            return proto

    return list(await asyncio.gather(*(one(i) for i in range(n))))


async def round_trips(port: int, pid: int, clients: int, seconds: float) -> tuple[float, float]:
    """Round trips per second, and the server's CPU time per round trip in microseconds."""
    conns = await open_clients(port, clients)
    for c in conns:
        c.start()
    await asyncio.sleep(min(1.0, seconds / 3))  # warm-up
    start_count, start, cpu = sum(c.count for c in conns), time.perf_counter(), cpu_seconds(pid)
    await asyncio.sleep(seconds)
    done = sum(c.count for c in conns) - start_count
    elapsed, cpu = time.perf_counter() - start, cpu_seconds(pid) - cpu
    for c in conns:
        c.close()
    await asyncio.sleep(0.5)
    return done / elapsed, cpu / done * 1e6


async def idle_memory(port: int, pid: int, n: int) -> float:
    await asyncio.sleep(0.5)
    before = rss_kib(pid)
    conns = await open_clients(port, n)
    await asyncio.sleep(1.5)
    after = rss_kib(pid)
    for c in conns:
        c.close()
    await asyncio.sleep(0.5)
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


# --------------------------------------------------------------------------------------------- core, no sockets

CORE_CASES: dict[str, tuple[str, dict[str, Any]]] = {
    "Heartbeat": ("Heartbeat", {}),
    "GetVariables x4": ("GetVariables", {"getVariableData": [
        {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}},
        {"component": {"name": "AuthCtrlr"}, "variable": {"name": "AuthorizeRemoteStart"}},
        {"component": {"name": "TxCtrlr"}, "variable": {"name": "StopTxOnInvalidId"}},
        {"component": {"name": "NoSuchThing"}, "variable": {"name": "Nothing"}},
    ]}),
    "SetChargingProfile": ("SetChargingProfile", {"evseId": 0, "chargingProfile": {
        "id": 7, "stackLevel": 0, "chargingProfilePurpose": "ChargingStationMaxProfile",
        "chargingProfileKind": "Absolute", "chargingSchedule": [{
            "id": 1, "chargingRateUnit": "A", "startSchedule": "2024-05-01T00:00:00Z",
            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16.0}, {"startPeriod": 3600, "limit": 10.0}]}]}}),
}


def core_evcharge(action: str, payload: dict[str, Any], n: int, storage: str = "sqlite") -> tuple[float, float]:
    """CPU and wall microseconds per CALL -> typed request -> Station handler -> CALLRESULT frame, on the RPC core
    (``storage``: the station's stores in SQLite files, or in memory; the wall time includes the SQLite syncs)."""
    import json
    import tempfile

    from evcharge.ocpp import rpc, v201
    from evcharge.ocpp.functions.transport.station import Station

    with tempfile.TemporaryDirectory() as d:
        station = Station("CP1", version="2.0.1", directory=d if storage == "sqlite" else None)
        conn = rpc.RpcConnection(v201)
        frames = [json.dumps([2, f"m{i}", action, payload]) for i in range(n)]
        handler = station.handler_for(action)
        if handler is None:  # the CSMS side's Heartbeat
            def handler(request: Any) -> Any:
                return v201.HeartbeatResponse(current_time=NOW)
        start, wall = time.process_time(), time.perf_counter()
        for i, frame in enumerate(frames):
            conn.receive_data(frame, float(i))
            ev = conn.next_event()
            assert isinstance(ev, rpc.CallReceived)
            conn.send(rpc.SendResult(message_id=ev.message_id, response=handler(ev.request)), float(i))
            conn.data_to_send()
        spent, wall = time.process_time() - start, time.perf_counter() - wall
        station.close_stores()
    return spent / n * 1e6, wall / n * 1e6


def core_mobilityhouse(action: str, payload: dict[str, Any], n: int) -> float:
    """The same for mobilityhouse ``ocpp`` (route_message -> @on handler -> the CALLRESULT written)."""
    import json

    from ocpp.routing import on
    from ocpp.v201 import ChargePoint, call_result

    class Sink:
        async def send(self, message: str) -> None:
            pass

    class Handler(ChargePoint):
        @on("Heartbeat")
        def heartbeat(self) -> Any:
            return call_result.Heartbeat(current_time=NOW)

        @on("GetVariables")
        def get_variables(self, get_variable_data: list[dict[str, Any]]) -> Any:
            return call_result.GetVariables(get_variable_result=[
                {"attribute_status": "UnknownComponent", "component": d["component"], "variable": d["variable"]}
                for d in get_variable_data])

        @on("SetChargingProfile")
        def set_charging_profile(self, evse_id: int, charging_profile: dict[str, Any]) -> Any:
            return call_result.SetChargingProfile(status="Accepted")

    cp = Handler("CP1", Sink())
    frames = [json.dumps([2, f"m{i}", action, payload]) for i in range(n)]

    async def run() -> float:
        start = time.process_time()
        for frame in frames:
            await cp.route_message(frame)
        return time.process_time() - start

    return asyncio.run(run()) / n * 1e6


def core_main(n: int) -> None:
    print(f"OCPP 2.0.1 charge point, CPU per CALL -> handler -> CALLRESULT on the core (no sockets), {n} messages")
    print("(evcharge: the Station's handlers with their SQLite stores, and with the in-memory stores)")
    print("(sqlite wall: the same with the time spent waiting for the disk, one fdatasync per commit)")
    print(f"{'message':<24}{'sqlite us':>12}{'sqlite wall':>13}{'memory us':>12}{'mobilityhouse us':>18}{'ratio':>9}")
    for name, (action, payload) in CORE_CASES.items():
        runs = [core_evcharge(action, payload, n) for _ in range(3)]
        a, w = min(r[0] for r in runs), min(r[1] for r in runs)
        m = min(core_evcharge(action, payload, n, "memory")[0] for _ in range(3))
        b = min(core_mobilityhouse(action, payload, n) for _ in range(3))
        print(f"{name:<24}{a:>12.1f}{w:>13.1f}{m:>12.1f}{b:>18.1f}{b / a:>8.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", default="1,100,1000", help="client counts for the round-trip runs")
    parser.add_argument("--seconds", type=float, default=3.0, help="measured time per run")
    parser.add_argument("--idle", type=int, default=1000, help="idle connections for the memory figure (0: skip)")
    parser.add_argument("--serve", choices=SERVERS, help=argparse.SUPPRESS)
    parser.add_argument("--core", type=int, metavar="N", default=0,
                        help="only the RPC core: CPU per CALL -> handler -> CALLRESULT over N messages, no sockets")
    args = parser.parse_args()
    if args.serve:
        run_server(args.serve)
        return
    if args.core:
        core_main(args.core)
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
