"""evcharge csms with storage on: Heartbeat and TransactionEvent round trips per second with 1,000 stations, and
memory per idle station, beside a CSMS on mobilityhouse's ``ocpp`` doing the same work in the same run.

Each CSMS runs alone in a child process (OCPP 2.0.1, schema validation on):

* ``evcharge``: :class:`evcharge.csms.CsmsServer` on an SQLite file (WAL, ``synchronous=NORMAL``): every
  TransactionEvent is stored with its meter values, linked to its transaction, with the seqNo bookkeeping;
* ``mobilityhouse``: an ``ocpp.v201.ChargePoint`` per connection on ``websockets``, whose TransactionEvent handler
  stores the same rows in an SQLite file with the same settings (a transaction row upserted, one row per
  sampled value), so both servers do comparable storage work.

This process is the load: N minimal websocket clients, each sending its next CALL as soon as the previous one is
answered (Heartbeat, or TransactionEvent Updated with an energy reading and a growing seqNo), for a fixed time.
Memory per idle station is the growth of the server's resident set while ``--idle`` connections are open and
quiet (each made a BootNotification first), divided by their number.

    python benchmarks/csms.py                     # 1,000 stations
    python benchmarks/csms.py --stations 100 --seconds 5

The ratio is ours / theirs for round trips (above 1: we serve more) and theirs / ours for server CPU per round
trip and memory (above 1: we use less).  With 2 shared cores the load generator competes with the server for
CPU: compare ratios; the server CPU time per round trip is the steadiest figure.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import os
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from typing import Any

NOW = "2026-01-01T10:00:00Z"
SERVERS = ("evcharge", "mobilityhouse")


def _raise_fd_limit() -> None:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


# --------------------------------------------------------------------------------------------- servers


async def serve_evcharge(db: str) -> int:
    from evcharge.csms import CsmsServer, CsmsSettings, ServerConfig
    from evcharge.csms.transport.sqlite import SqliteStore

    server = CsmsServer(ServerConfig(port=0, admin_port=None, ping_interval=None, versions=("2.0.1",),
                                     settings=CsmsSettings(accept_unknown_tokens=True)), SqliteStore(db))
    await server.start()
    return server.ports["ws"]


async def serve_mobilityhouse(db: str) -> int:
    import websockets
    from ocpp.routing import on
    from ocpp.v201 import ChargePoint, call_result

    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("CREATE TABLE tx (station TEXT, id TEXT, seq INTEGER, PRIMARY KEY (station, id))")
    conn.execute("CREATE TABLE mv (station TEXT, tx TEXT, timestamp TEXT, measurand TEXT, value REAL)")

    class Handler(ChargePoint):
        @on("BootNotification")
        def boot(self, **kw: Any) -> Any:
            return call_result.BootNotification(current_time=NOW, interval=300, status="Accepted")

        @on("Heartbeat")
        def heartbeat(self) -> Any:
            return call_result.Heartbeat(current_time=NOW)

        @on("TransactionEvent")
        def transaction_event(self, transaction_info: dict[str, Any], seq_no: int, meter_value: Any = None,
                              **kw: Any) -> Any:
            tx = transaction_info["transaction_id"]
            conn.execute("INSERT INTO tx (station, id, seq) VALUES (?, ?, ?) ON CONFLICT (station, id) "
                         "DO UPDATE SET seq = EXCLUDED.seq", (self.id, tx, seq_no))
            for mv in meter_value or []:
                for sv in mv["sampled_value"]:
                    conn.execute("INSERT INTO mv VALUES (?, ?, ?, ?, ?)", (self.id, tx, mv["timestamp"],
                                                                           sv.get("measurand", ""), sv["value"]))
            return call_result.TransactionEvent()

    async def on_connect(ws: Any) -> None:
        cp = Handler(ws.request.path.rsplit("/", 1)[-1], ws)
        with contextlib.suppress(websockets.ConnectionClosed):
            await cp.start()

    server = await websockets.serve(on_connect, "127.0.0.1", 0, subprotocols=["ocpp2.0.1"], ping_interval=None,
                                    backlog=4096)
    return int(server.sockets[0].getsockname()[1])


def run_server(kind: str, db: str) -> None:
    import logging

    logging.disable(logging.CRITICAL)
    _raise_fd_limit()

    async def main() -> None:
        port = await (serve_evcharge(db) if kind == "evcharge" else serve_mobilityhouse(db))
        print(port, flush=True)
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


class Station(asyncio.Protocol):
    """A minimal websocket client sending one CALL at a time (just enough RFC 6455, zero mask), cheap for the load
    process.  ``kind`` is ``"Heartbeat"`` or ``"TransactionEvent"``."""

    def __init__(self, identity: str, connected: asyncio.Future[None]) -> None:
        self.identity = identity
        self.connected = connected
        self.transport: asyncio.Transport | None = None
        self.buffer = b""
        self.handshaken = False
        self.running = False
        self.kind = "Heartbeat"
        self.count = 0
        self.seq = 0
        self.answered: asyncio.Future[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        key = base64.b64encode(os.urandom(16)).decode()
        transport.write(
            f"GET /ocpp/{self.identity} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: ocpp2.0.1\r\n\r\n"
            .encode())

    def _frame(self, payload: bytes) -> None:
        assert self.transport is not None
        n = len(payload)
        head = bytes((0x81, 0x80 | n)) if n < 126 else bytes((0x81, 0x80 | 126)) + n.to_bytes(2, "big")
        self.transport.write(head + b"\0\0\0\0" + payload)

    def send_call(self) -> None:
        mid = f"{self.identity}-{self.count}"
        if self.kind == "Heartbeat":
            self._frame(f'[2,"{mid}","Heartbeat",{{}}]'.encode())
        elif self.kind == "BootNotification":
            self._frame(f'[2,"{mid}","BootNotification",{{"chargingStation":{{"vendorName":"bench","model":"b"}},'
                        f'"reason":"PowerUp"}}]'.encode())
        else:
            seq = self.seq
            self.seq += 1
            self._frame(
                (f'[2,"{mid}","TransactionEvent",{{"eventType":"{"Started" if seq == 0 else "Updated"}",'
                 f'"timestamp":"{NOW}","triggerReason":"MeterValuePeriodic","seqNo":{seq},'
                 f'"transactionInfo":{{"transactionId":"T-{self.identity}"}},"meterValue":[{{"timestamp":"{NOW}",'
                 f'"sampledValue":[{{"value":{1000 + seq},"measurand":"Energy.Active.Import.Register"}}]}}]}}]')
                .encode())

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
                    raise RuntimeError(f"unexpected answer {body[:200]!r}")
                self.count += 1
                if self.answered is not None and not self.answered.done():
                    self.answered.set_result(None)
                if self.running:
                    self.send_call()
        self.buffer = buf

    async def call_once(self, kind: str) -> None:
        self.kind = kind
        self.answered = asyncio.get_running_loop().create_future()
        self.send_call()
        await asyncio.wait_for(self.answered, 60)

    def start(self, kind: str) -> None:
        self.kind = kind
        self.running = True
        self.send_call()

    def close(self) -> None:
        self.running = False
        if self.transport is not None:
            self.transport.close()


async def open_stations(port: int, n: int, tag: str) -> list[Station]:
    loop = asyncio.get_running_loop()
    sem = asyncio.Semaphore(200)

    async def one(i: int) -> Station:
        async with sem:
            fut: asyncio.Future[None] = loop.create_future()
            _, proto = await loop.create_connection(lambda: Station(f"{tag}{i:05d}", fut), "127.0.0.1", port)
            await asyncio.wait_for(fut, 60)
            await proto.call_once("BootNotification")
            return proto

    return list(await asyncio.gather(*(one(i) for i in range(n))))


async def round_trips(port: int, pid: int, stations: list[Station], kind: str, seconds: float
                      ) -> tuple[float, float]:
    """Round trips per second, and the server's CPU time per round trip in microseconds."""
    for s in stations:
        s.start(kind)
    await asyncio.sleep(min(1.0, seconds / 3))  # warm-up
    start_count, start, cpu = sum(s.count for s in stations), time.perf_counter(), cpu_seconds(pid)
    await asyncio.sleep(seconds)
    done = sum(s.count for s in stations) - start_count
    elapsed, cpu = time.perf_counter() - start, cpu_seconds(pid) - cpu
    for s in stations:
        s.running = False
    await asyncio.sleep(1.0)  # the answers in flight come back
    return done / elapsed, cpu / max(done, 1) * 1e6


def measure(kind: str, stations: int, seconds: float, idle: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as folder:
        proc = subprocess.Popen([sys.executable, __file__, "--serve", kind, "--db", os.path.join(folder, "b.db")],
                                stdout=subprocess.PIPE, text=True)
        try:
            assert proc.stdout is not None
            port = int(proc.stdout.readline())
            out: dict[str, float] = {}

            async def main() -> None:
                if idle:
                    await asyncio.sleep(0.5)
                    before = rss_kib(proc.pid)
                    conns = await open_stations(port, idle, "IDLE")
                    await asyncio.sleep(1.5)
                    out["idle"] = (rss_kib(proc.pid) - before) / idle
                    for c in conns:
                        c.close()
                    await asyncio.sleep(0.5)
                conns = await open_stations(port, stations, "LOAD")
                for what in ("Heartbeat", "TransactionEvent"):
                    out[f"rt-{what}"], out[f"cpu-{what}"] = await round_trips(port, proc.pid, conns, what, seconds)
                for c in conns:
                    c.close()

            asyncio.run(main())
            return out
        finally:
            proc.terminate()
            proc.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stations", type=int, default=1000, help="stations sending at once")
    parser.add_argument("--seconds", type=float, default=5.0, help="measured time per run")
    parser.add_argument("--idle", type=int, default=1000, help="idle stations for the memory figure (0: skip)")
    parser.add_argument("--serve", choices=SERVERS, help=argparse.SUPPRESS)
    parser.add_argument("--db", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        run_server(args.serve, args.db)
        return
    _raise_fd_limit()
    ours = measure("evcharge", args.stations, args.seconds, args.idle)
    theirs = measure("mobilityhouse", args.stations, args.seconds, args.idle)
    print(f"OCPP 2.0.1 CSMS with storage (SQLite), {args.stations} stations, {os.cpu_count()} CPUs, "
          f"{args.seconds:g} s per run")
    print(f"{'case':<40}{'evcharge csms':>15}{'mobilityhouse':>15}{'ratio':>9}")
    for what in ("Heartbeat", "TransactionEvent"):
        a, b = ours[f"rt-{what}"], theirs[f"rt-{what}"]
        print(f"{what + ' round trips/s':<40}{a:>15,.0f}{b:>15,.0f}{a / b:>8.2f}x")
        a, b = ours[f"cpu-{what}"], theirs[f"cpu-{what}"]
        print(f"{'  server CPU us per round trip':<40}{a:>15,.0f}{b:>15,.0f}{b / a:>8.2f}x")
    if args.idle:
        a, b = ours["idle"], theirs["idle"]
        print(f"{f'KiB per idle station ({args.idle})':<40}{a:>15.1f}{b:>15.1f}{b / a:>8.2f}x")


if __name__ == "__main__":
    main()
