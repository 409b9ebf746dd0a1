"""``evcharge v2g secc`` / ``evcharge v2g evcc``: a whole V2G session against any peer on an interface.

The charger side answers SDP on the interface, accepts the TCP connection, negotiates SupportedAppProtocol
and runs our :class:`~evcharge.iso15118.engines.Secc` with a simulated charger behind it (isolation
valid, the output follows the car's targets). The car side discovers the charger, connects, and runs our
:class:`~evcharge.iso15118.engines.Evcc` with a simulated car (charges a few loops, then stops).
``--json FILE`` writes every message with its receive/send time; exit status 0 when every session ended
normally (SessionStop), 1 when one did not, 2 for what is not built yet (TLS / Plug & Charge, ISO 15118-20).
"""

from __future__ import annotations

import argparse
import asyncio  # noqa: TID251 - the command is the application: it runs the event loop
import json
import sys
from typing import Any

from evcharge.iso15118.handover import AppProtocol

__all__ = ["configure_evcc", "configure_secc", "run_evcc", "run_secc"]

NOT_BUILT = 2


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--iface", default="lo", help="the network interface (lo: ::1 on this machine)")
    parser.add_argument("--energy", choices=("ac", "dc"), default="dc", help="AC or DC charging (default dc)")
    parser.add_argument("--payment", choices=("eim", "pnc"), default="eim", help="EIM or Plug & Charge")
    tls = parser.add_mutually_exclusive_group()
    tls.add_argument("--tls", dest="tls", action="store_true", default=False, help="TLS (needed for pnc)")
    tls.add_argument("--no-tls", dest="tls", action="store_false")
    parser.add_argument("--pki", help="the test PKI folder (evcharge v2g pki --out DIR) for TLS / pnc")
    parser.add_argument("--json", dest="json_file", help="write every message with its times here (- for stdout)")
    parser.add_argument("--timeout", type=float, default=120.0, help="give up after this many seconds")


def configure_secc(parser: argparse.ArgumentParser) -> None:
    parser.description = "Run a charger (SECC) with a simulated charger behind it."
    _common(parser)
    parser.add_argument("--protocols", default="din,iso2", help="comma-separated: din, iso2, iso20")
    parser.add_argument("--sessions", type=int, default=1, help="serve this many sessions, then exit")
    parser.add_argument("--port", type=int, default=None, help="the TCP port (default: a dynamic one)")


def configure_evcc(parser: argparse.ArgumentParser) -> None:
    parser.description = "Run a car (EVCC) with a simulated car behind it."
    _common(parser)
    parser.add_argument("--protocol", choices=("din", "iso2", "iso20"), default="iso2")
    parser.add_argument("--loops", type=int, default=10, help="charge-loop requests before the car stops")
    parser.add_argument("--pause", action="store_true", help="end with SessionStop(Pause) instead of Terminate")
    parser.add_argument(
        "--precharge-requests",
        type=int,
        default=5,
        help="the simulated car goes on after this many PreCharge requests (0: only at the voltage)",
    )
    parser.add_argument(
        "--timeout-scale",
        type=float,
        default=1.0,
        help="multiply every message timeout (a slow peer on a loaded machine; default 1)",
    )


def _not_built(args: argparse.Namespace, role: str, protocols: list[str]) -> str | None:
    if "iso20" in protocols and len(protocols) == 1:
        return f"evcharge v2g {role}: iso20: not built yet (the ISO 15118-20 engines come with their own issue)"
    if args.tls or args.payment == "pnc":
        return f"evcharge v2g {role}: TLS / Plug & Charge in the engines: not built yet"
    if args.protocol == "din" and args.energy == "ac" if role == "evcc" else False:
        return f"evcharge v2g {role}: DIN 70121 is DC only"
    return None


def _trace_json(engine: Any, protocol: str) -> list[dict[str, Any]]:
    from ._v2g import message_set

    ms = message_set(protocol)
    out = []
    for t in engine.trace or ():
        out.append(
            {
                "dir": "recv" if t.direction == "rx" else "send",
                "time": t.time,
                "name": t.name,
                "exi": t.exi.hex(),
                "message": ms.mod.to_dict(t.message) if t.message is not None else None,
            }
        )
    return out


def _write_json(path: str | None, data: Any) -> None:
    if path is None:
        return
    text = json.dumps(data, indent=1, default=str)
    if path == "-":
        print(text)
    else:
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(text + "\n")


def _address(iface: str) -> tuple[str, str | None]:
    """(host to bind/announce, interface for SDP scope)."""
    if iface == "lo":
        return "::1", None
    from evcharge.iso15118.transport.udp import link_local_address

    return f"{link_local_address(iface)}%{iface}", iface


# -- SECC ---------------------------------------------------------------------------------------------


def run_secc(args: argparse.Namespace) -> int:
    protocols = [p.strip() for p in args.protocols.split(",") if p.strip()]
    args.protocol = None
    problem = _not_built(args, "secc", protocols)
    if problem:
        print(problem, file=sys.stderr)
        return NOT_BUILT
    try:
        return asyncio.run(asyncio.wait_for(_secc_main(args, protocols), args.timeout))
    except TimeoutError:
        print(f"evcharge v2g secc: no session ended within {args.timeout} s", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"evcharge v2g secc: {exc}", file=sys.stderr)
        return 1


async def _secc_main(args: argparse.Namespace, protocols: list[str]) -> int:
    import ipaddress

    from evcharge.iso15118.sap import SupportedProtocol
    from evcharge.iso15118.sdp import SdpServer, SdpServerConfig
    from evcharge.iso15118.session import SeccSession, SeccSessionConfig, SessionClosed
    from evcharge.iso15118.transport.tcp import start_secc_server
    from evcharge.iso15118.transport.udp import start_sdp_server

    from . import events as ev
    from ._v2g import message_set
    from .config import SeccConfig
    from .secc import Secc

    dc = args.energy == "dc"
    mode = ev.EnergyMode.DC_EXTENDED if dc else ev.EnergyMode.AC_THREE_PHASE
    config = SeccConfig(
        energy_modes=(mode,),
        dc_limits=ev.DcLimits(max_voltage=500, max_current=200, max_power=100_000),
        ac_limits=ev.AcLimits(nominal_voltage=230, max_current=32),
        auto_authorize=True,
        trace=True,
    )
    app_protocols = {"din": AppProtocol.DIN, "iso2": AppProtocol.ISO2}
    engines = {app_protocols[p]: (lambda ho: Secc(ho, config)) for p in protocols if p in app_protocols}
    if not dc:
        engines.pop(AppProtocol.DIN, None)
    session_config = SeccSessionConfig(protocols=tuple(SupportedProtocol(protocol=p) for p in engines))
    for p in protocols:  # load the message sets now, not while the first car waits for SessionSetupRes
        if p in ("din", "iso2"):
            message_set(p)
    host, iface = _address(args.iface)
    results: list[dict[str, Any]] = []
    done = asyncio.Event()
    paused: dict[Any, bytes] = {}

    def make_session(info: Any) -> SeccSession:
        resume = paused.get(info.peer[0] if info.peer else None)
        return SeccSession(session_config, engines, now=info.now, tls=info.tls, resume_session_id=resume)

    async def handler(conn: Any) -> None:
        engine: Any = None
        closed: Any = None
        async for event in conn.events():
            engine = conn.session.engine or engine
            if isinstance(event, ev.CableCheckRequested):
                conn.send(ev.SetIsolation(level=ev.Isolation.VALID))
            elif isinstance(event, (ev.PreChargeRequested, ev.ChargeLoopTargets)):
                conn.send(ev.SetPresentValues(voltage=event.target_voltage, current=event.target_current))
            elif isinstance(event, ev.SessionEnded) and event.paused and event.session_id and conn.peer:
                paused[conn.peer[0]] = event.session_id
            elif isinstance(event, SessionClosed):
                closed = event
        end = getattr(engine, "ended", None)
        results.append(
            {
                "protocol": getattr(engine, "protocol", None),
                "normal": bool(end and end.normal),
                "reason": end.reason if end else (closed.reason if closed else "closed"),
                "messages": _trace_json(engine, engine.protocol) if engine is not None else [],
            }
        )
        if len(results) >= args.sessions:
            done.set()

    server = await start_secc_server(
        make_session, handler=handler, host=host.split("%")[0] if iface is None else host, port=args.port
    )
    sdp = SdpServer(SdpServerConfig(address=ipaddress.IPv6Address(host.split("%")[0]), tcp_port=server.port))
    sdp_transport = await start_sdp_server(sdp, interface=iface, host="::1" if iface is None else "::")
    print(f"evcharge v2g secc: listening on [{host}]:{server.port}", file=sys.stderr)
    try:
        await done.wait()
    finally:
        sdp_transport.close()
        await server.close()
    _write_json(args.json_file, results)
    return 0 if all(r["normal"] for r in results) else 1


# -- EVCC ---------------------------------------------------------------------------------------------


def run_evcc(args: argparse.Namespace) -> int:
    problem = _not_built(args, "evcc", [args.protocol])
    if problem:
        print(problem, file=sys.stderr)
        return NOT_BUILT
    try:
        return asyncio.run(asyncio.wait_for(_evcc_main(args), args.timeout))
    except TimeoutError:
        print(f"evcharge v2g evcc: the session did not end within {args.timeout} s", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"evcharge v2g evcc: {exc}", file=sys.stderr)
        return 1


async def _evcc_main(args: argparse.Namespace) -> int:
    from evcharge.iso15118.sap import OfferedProtocol
    from evcharge.iso15118.sdp import SdpClient, SdpClientConfig, SdpDiscovered, Security
    from evcharge.iso15118.session import EvccSession, EvccSessionConfig
    from evcharge.iso15118.transport.tcp import connect_evcc
    from evcharge.iso15118.transport.udp import discover

    from . import events as ev
    from ._v2g import message_set
    from .config import EvccConfig, EvccTimeouts
    from .evcc import Evcc

    message_set(args.protocol)

    mode = ev.EnergyMode.DC_EXTENDED if args.energy == "dc" else ev.EnergyMode.AC_THREE_PHASE
    t = EvccTimeouts()
    scale = args.timeout_scale
    timeouts = EvccTimeouts(
        default=t.default * scale,
        long=t.long * scale,
        current_demand=t.current_demand * scale,
        din_power_delivery=t.din_power_delivery * scale,
        ongoing=t.ongoing * scale,
        cable_check=t.cable_check * scale,
        pre_charge=t.pre_charge * scale,
    )
    config = EvccConfig(
        energy_mode=mode, trace=True, timeouts=timeouts, pre_charge_max_requests=args.precharge_requests or None
    )
    app = AppProtocol.DIN if args.protocol == "din" else AppProtocol.ISO2
    _, iface = _address(args.iface)
    target = "::1" if iface is None else "ff02::1"
    found = await discover(SdpClient(SdpClientConfig(security=Security.NO_TLS)), interface=iface, target=target)
    if not isinstance(found, SdpDiscovered):
        print("evcharge v2g evcc: no charger answered SDP", file=sys.stderr)
        return 1
    peer = str(found.response.address)
    if iface is not None:
        peer = f"{peer}%{iface}"
    session_config = EvccSessionConfig(protocols=(OfferedProtocol(protocol=app, schema_id=1, priority=1),))
    engines = {app: (lambda ho: Evcc(ho, config))}

    def make_session(info: Any) -> EvccSession:
        return EvccSession(session_config, engines, now=info.now, tls=info.tls)

    conn = await connect_evcc(make_session, host=peer, port=found.response.port)
    loops = 0
    engine: Any = None
    async for event in conn.events():
        engine = conn.session.engine or engine
        if isinstance(event, ev.ChargeLoopStatus):
            loops += 1
            if loops == args.loops:
                conn.send(ev.StopCharging(pause=args.pause))
    end = getattr(engine, "ended", None)
    closed = "the connection closed before the session ended" if engine is not None else "closed before the hand-over"
    _write_json(
        args.json_file,
        {
            "protocol": args.protocol,
            "normal": bool(end and end.normal),
            "reason": end.reason if end else closed,
            "messages": _trace_json(engine, engine.protocol) if engine is not None else [],
        },
    )
    if end is None or not end.normal:
        print(
            f"evcharge v2g evcc: the session did not end normally: {end.reason if end else 'closed'}", file=sys.stderr
        )
        return 1
    return 0
