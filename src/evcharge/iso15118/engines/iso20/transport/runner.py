"""``evcharge v2g secc|evcc --protocol iso20``: SDP, TCP/TLS 1.3, SupportedAppProtocol and a -20 session with a
simulated charger or car behind it. The argument checks are in :mod:`evcharge.iso15118.engines.cli`; SDP,
the connection and the SAP hand-over are the communication layer's (:mod:`evcharge.iso15118.transport`).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from evcharge.iso15118.handover import AppProtocol

from ...transport.runner import _address, _write_json

__all__ = ["run_evcc20", "run_secc20", "trace_json"]


def trace_json(engine: Any) -> list[dict[str, Any]]:
    """Every message of a -20 engine's trace with its time, in the JSON form of the ISO-2 commands."""
    from .. import _msgs

    out = []
    for t in engine.trace or ():
        mod = _msgs.module_for(t.payload_type) if t.payload_type in (0x8002, 0x8003, 0x8004) else None
        out.append(
            {
                "dir": "recv" if t.direction == "rx" else "send",
                "time": t.time,
                "name": t.name,
                "payload_type": t.payload_type,
                "exi": t.exi.hex(),
                "message": mod.to_dict(t.message) if mod is not None and t.message is not None else None,
            }
        )
    return out


def _service(args: argparse.Namespace) -> Any:
    from ..events import EnergyService

    return EnergyService.from_cli(args.energy)


def _control(args: argparse.Namespace) -> Any:
    from ..events import ControlMode

    return ControlMode[(getattr(args, "control", None) or "scheduled").upper()]


# -- SECC ---------------------------------------------------------------------------------------------


def run_secc20(args: argparse.Namespace) -> int:
    try:
        return asyncio.run(asyncio.wait_for(_secc_main(args), args.timeout))
    except TimeoutError:
        print(f"evcharge v2g secc: no session ended within {args.timeout} s", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"evcharge v2g secc: {exc}", file=sys.stderr)
        return 1


class SimulatedCharger:
    """The charger behind the -20 SECC: authorizes, isolation valid, the output follows the car."""

    def __call__(self, engine: Any, event: Any, send: Any) -> None:
        from ... import events as ev
        from .. import events as ev20

        if isinstance(event, ev.AuthorizationRequested):
            send(ev.Authorize(accepted=True))
        elif isinstance(event, ev.CableCheckRequested):
            send(ev.SetIsolation(level=ev.Isolation.VALID))
        elif isinstance(event, ev.PreChargeRequested):
            send(ev.SetPresentValues(voltage=event.target_voltage))
        elif isinstance(event, ev20.ChargeLoopRequested) and event.target_voltage is not None:
            send(ev.SetPresentValues(voltage=event.target_voltage, current=event.target_current or 0.0))


async def _secc_main(args: argparse.Namespace) -> int:
    import ipaddress

    from evcharge.iso15118.sap import SupportedProtocol
    from evcharge.iso15118.sdp import SdpServer, SdpServerConfig
    from evcharge.iso15118.session import SeccSession, SeccSessionConfig, SessionClosed
    from evcharge.iso15118.transport.tcp import start_secc_server
    from evcharge.iso15118.transport.udp import start_sdp_server

    from ... import events as ev
    from ..config import Iso20SeccConfig
    from ..secc import Iso20Secc

    service = _service(args)
    ssl_context = None
    payments: tuple[ev.Payment, ...] = (ev.Payment.EIM,)
    pnc: dict[str, Any] = {}
    if args.tls:
        from evcharge.iso15118.security.tls import TlsProfile, secc_context

        ssl_context = secc_context(Path(args.pki), TlsProfile.ISO20)
        if args.payment == "pnc":
            from ..pnc import PncTrust

            payments = (ev.Payment.PNC, ev.Payment.EIM)
            pnc = {"pnc": PncTrust.from_pki(args.pki)}
    config = Iso20SeccConfig(services=(service,), payments=payments, auto_authorize=True, trace=True, **pnc)
    app = AppProtocol.ISO20_DC if service.is_dc else AppProtocol.ISO20_AC
    engines = {app: (lambda ho: Iso20Secc(ho, config))}
    session_config = SeccSessionConfig(protocols=(SupportedProtocol(protocol=app),))
    host, iface = _address(args.iface)
    results: list[dict[str, Any]] = []
    done = asyncio.Event()
    paused: dict[Any, bytes] = {}
    charger = SimulatedCharger()

    def make_session(info: Any) -> SeccSession:
        resume = paused.get(info.peer[0] if info.peer else None)
        return SeccSession(session_config, engines, now=info.now, tls=info.tls, resume_session_id=resume)

    async def handler(conn: Any) -> None:
        engine: Any = None
        closed: Any = None
        async for event in conn.events():
            engine = conn.session.engine or engine
            charger(engine, event, conn.send)
            if isinstance(event, ev.SessionEnded) and event.paused and event.session_id and conn.peer:
                paused[conn.peer[0]] = event.session_id
            elif isinstance(event, SessionClosed):
                closed = event
        end = getattr(engine, "ended", None)
        results.append(
            {
                "protocol": "iso20",
                "energy": service.cli_name,
                "normal": bool(end and end.normal),
                "paused": bool(end and end.paused),
                "reason": end.reason if end else (closed.reason if closed else "closed"),
                "vehicle_certificate_sha256": (getattr(engine, "vehicle_certificate_hash", None) or b"").hex() or None,
                "messages": trace_json(engine) if engine is not None else [],
            }
        )
        if len(results) >= args.sessions:
            done.set()

    server = await start_secc_server(
        make_session,
        handler=handler,
        host=host.split("%")[0] if iface is None else host,
        port=args.port,
        ssl=ssl_context,
    )
    address = ipaddress.IPv6Address(host.split("%")[0])
    if ssl_context is not None:
        sdp = SdpServer(SdpServerConfig(address=address, tls_port=server.port))
    else:
        sdp = SdpServer(SdpServerConfig(address=address, tcp_port=server.port))
    sdp_transport = await start_sdp_server(sdp, interface=iface, host="::1" if iface is None else "::")
    print(f"evcharge v2g secc: listening on [{host}]:{server.port} (ISO 15118-20 {service.name})", file=sys.stderr)
    try:
        await done.wait()
    finally:
        sdp_transport.close()
        await server.close()
    _write_json(args.json_file, results)
    return 0 if all(r["normal"] for r in results) else 1


# -- EVCC ---------------------------------------------------------------------------------------------


def run_evcc20(args: argparse.Namespace) -> int:
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

    from ... import events as ev
    from .. import events as ev20
    from ..config import Iso20EvccConfig, Iso20EvccTimeouts
    from ..evcc import Iso20Evcc

    service = _service(args)
    t = Iso20EvccTimeouts()
    scale = args.timeout_scale
    timeouts = Iso20EvccTimeouts(
        default=t.default * scale, long=t.long * scale, charge_loop=t.charge_loop * scale, ongoing=t.ongoing * scale
    )
    client_tls = None
    pnc: dict[str, Any] = {}
    if args.tls:
        from evcharge.iso15118.security.tls import TlsProfile, evcc_tls

        client_tls = evcc_tls(Path(args.pki), TlsProfile.ISO20)
        if args.payment == "pnc":
            from ..pnc import EvccContract

            pnc = {"payment": ev.Payment.PNC, "contract": EvccContract.from_pki(args.pki)}
    config = Iso20EvccConfig(
        service=service,
        control_mode=_control(args),
        trace=True,
        timeouts=timeouts,
        pre_charge_max_requests=args.precharge_requests or None,
        target_current=-20.0 if service.is_bpt and getattr(args, "discharge", False) else 100.0,
        target_power=-7_000.0 if service.is_bpt and getattr(args, "discharge", False) else 11_000.0,
        **pnc,
    )
    app = AppProtocol.ISO20_DC if service.is_dc else AppProtocol.ISO20_AC
    _, iface = _address(args.iface)
    target = "::1" if iface is None else "ff02::1"
    security = Security.TLS if client_tls is not None else Security.NO_TLS
    found = await discover(SdpClient(SdpClientConfig(security=security)), interface=iface, target=target)
    if not isinstance(found, SdpDiscovered):
        print("evcharge v2g evcc: no charger answered SDP", file=sys.stderr)
        return 1
    peer = str(found.response.address)
    if iface is not None:
        peer = f"{peer}%{iface}"
    session_config = EvccSessionConfig(protocols=(OfferedProtocol(protocol=app, schema_id=1, priority=1),))
    engines = {app: (lambda ho: Iso20Evcc(ho, config))}

    resume = bytes.fromhex(args.resume) if getattr(args, "resume", None) else None

    def make_session(info: Any) -> EvccSession:
        return EvccSession(session_config, engines, now=info.now, tls=info.tls, resume_session_id=resume)

    if client_tls is not None:
        conn = await connect_evcc(
            make_session,
            host=peer,
            port=found.response.port,
            ssl=client_tls.context,
            verify_peer=client_tls.verify_peer,
        )
    else:
        conn = await connect_evcc(make_session, host=peer, port=found.response.port)
    loops = 0
    engine: Any = None
    async for event in conn.events():
        engine = conn.session.engine or engine
        if isinstance(event, ev20.Iso20ChargeLoopStatus):
            loops += 1
            if loops == args.loops:
                conn.send(ev.StopCharging(pause=args.pause))
    end = getattr(engine, "ended", None)
    closed = "the connection closed before the session ended" if engine is not None else "closed before the hand-over"
    _write_json(
        args.json_file,
        {
            "protocol": "iso20",
            "energy": service.cli_name,
            "control": _control(args).name.lower(),
            "normal": bool(end and end.normal),
            "paused": bool(end and end.paused),
            "session_id": end.session_id.hex() if end and end.session_id else None,
            "reason": end.reason if end else closed,
            "messages": trace_json(engine) if engine is not None else [],
        },
    )
    if end is not None and end.paused and end.session_id:
        print(f"evcharge v2g evcc: paused; resume with --resume {end.session_id.hex()}", file=sys.stderr)
    if end is None or not end.normal:
        print(
            f"evcharge v2g evcc: the session did not end normally: {end.reason if end else 'closed'}", file=sys.stderr
        )
        return 1
    return 0
