"""A process that runs one side of SDP + SAP + the echo engine on an interface (for the netns tests).

    python -m tests.iso15118.comm.peers.echo_peer secc --iface eth0 [--tls-dir PKI]
    python -m tests.iso15118.comm.peers.echo_peer evcc --iface eth0 [--tls-dir PKI]

The SECC prints ``ready`` on stderr once its SDP and TCP servers listen, serves one session and prints a
JSON summary on stdout; the EVCC discovers, runs one session and prints its summary.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

from evcharge.iso15118.sdp import SdpClient, SdpClientConfig, SdpDiscovered, SdpServer, SdpServerConfig, Security
from evcharge.iso15118.session import (
    EvccSession,
    EvccSessionConfig,
    ProtocolNegotiated,
    SeccSession,
    SeccSessionConfig,
    SessionClosed,
)
from evcharge.iso15118.transport.tcp import ConnectionInfo, V2gConnection, connect_evcc, start_secc_server
from evcharge.iso15118.transport.udp import discover, link_local_address, start_sdp_server

from ..engines import Received, evcc_engines, secc_engines


def summary(events: list[Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"received": [], "protocol": None, "closed": None, "tls": None}
    for e in events:
        if isinstance(e, ProtocolNegotiated):
            out["protocol"] = e.protocol.name
        elif isinstance(e, Received):
            out["received"].append(e.payload.decode())
        elif isinstance(e, SessionClosed):
            out["closed"] = e.reason
    return out


def _contexts(args: argparse.Namespace, role: str) -> Any:
    if not args.tls_dir:
        return None
    from evcharge.iso15118.security.tls import TlsProfile, evcc_tls, secc_context

    profile = TlsProfile(args.profile)
    return secc_context(args.tls_dir, profile) if role == "secc" else evcc_tls(args.tls_dir, profile)


async def secc(args: argparse.Namespace) -> dict[str, Any]:
    address = link_local_address(args.iface)
    ssl = _contexts(args, "secc")
    events: list[Any] = []
    done = asyncio.Event()
    tls_seen: list[Any] = []

    def make(info: ConnectionInfo) -> SeccSession:
        tls_seen.append(info.tls)
        return SeccSession(SeccSessionConfig(), secc_engines(), now=info.now, tls=info.tls)

    async def handler(conn: V2gConnection) -> None:
        async for event in conn.events():
            events.append(event)
        done.set()

    server = await start_secc_server(make, handler=handler, host=f"{address}%{args.iface}", port=None, ssl=ssl)
    port = server.port
    config = SdpServerConfig(address=address, tls_port=port if ssl else None, tcp_port=None if ssl else port)
    answered: list[Any] = []
    sdp = await start_sdp_server(SdpServer(config), interface=args.iface, on_event=answered.append)
    print("ready", file=sys.stderr, flush=True)
    try:
        await asyncio.wait_for(done.wait(), args.timeout)
    finally:
        sdp.close()
        await server.close()
    result = summary(events)
    result["sdp_answers"] = len(answered)
    result["port"] = port
    result["tls"] = tls_seen[0].version if tls_seen and tls_seen[0] else None
    return result


async def evcc(args: argparse.Namespace) -> dict[str, Any]:
    tls = _contexts(args, "evcc")
    security = Security.TLS if tls else Security.NO_TLS
    found = await discover(SdpClient(SdpClientConfig(security=security)), interface=args.iface)
    if not isinstance(found, SdpDiscovered):
        return {"error": f"no SDP answer after {found.requests_sent} requests"}
    host = f"{found.response.address}%{args.iface}"

    def make(info: ConnectionInfo) -> EvccSession:
        return EvccSession(EvccSessionConfig(), evcc_engines(), now=info.now, tls=info.tls)

    conn = await connect_evcc(make, host=host, port=found.response.port, ssl=tls.context if tls else None,
                              verify_peer=tls.verify_peer if tls else None)
    events = [e async for e in conn.events()]
    result = summary(events)
    result["sdp"] = {"address": str(found.response.address), "port": found.response.port,
                     "security": found.response.security.name, "requests": found.requests_sent}
    result["tls"] = conn.session.tls.version if conn.session.tls else None
    return result


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("role", choices=["secc", "evcc"])
    parser.add_argument("--iface", required=True)
    parser.add_argument("--tls-dir")
    parser.add_argument("--profile", default="iso2")
    parser.add_argument("--timeout", type=float, default=30.0)
    args = parser.parse_args()
    result = asyncio.run(secc(args) if args.role == "secc" else evcc(args))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
