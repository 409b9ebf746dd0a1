"""The asyncio side of ``evcharge v2g secc|evcc`` for DIN 70121, ISO 15118-2 and ISO 15118-20: SDP, TCP/TLS,
SupportedAppProtocol, the session, the simulated charger or car.

The charger listens on ONE port for every protocol of ``--protocols`` and hands each connection to the engine
of the protocol SupportedAppProtocol chose (:func:`evcharge.iso15118.engines.secc_engines`). ``--json`` has the
same entries for every protocol: SDP (``layer`` "sdp"), SupportedAppProtocol ("sap") and the session ("v2g").
The command-line part (arguments, what is not built) is :mod:`evcharge.iso15118.engines.cli`.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import sys
import time
from pathlib import Path
from typing import Any

from evcharge.iso15118.handover import AppProtocol

__all__ = ["SimulatedCharger", "run_evcc", "run_secc"]


@dataclasses.dataclass(frozen=True, slots=True)
class _SdpEntry:
    """One SDP datagram as it went by (``time``: the monotonic clock the sessions use)."""

    direction: str
    time: float
    name: str
    data: bytes
    message: Any


def _sdp_message(name: str, data: bytes) -> Any:
    from evcharge.iso15118 import sdp

    try:
        return sdp.decode_request(data) if name == "SdpReq" else sdp.decode_response(data)
    except Exception:  # a datagram that is not SDP: kept as bytes, message None
        return None


def _sdp_traced_client(config: Any, log: list[_SdpEntry]) -> Any:
    """An SDP client that logs each request it sends and each datagram it receives."""
    from evcharge.iso15118.sdp import SdpClient

    class TracedClient(SdpClient):
        def receive_data(self, data: bytes, now: float) -> None:
            log.append(_SdpEntry("rx", now, "SdpRes", data, _sdp_message("SdpRes", data)))
            super().receive_data(data, now)

        def data_to_send(self) -> list[bytes]:
            out = super().data_to_send()
            now = time.monotonic()  # discover()'s clock
            log.extend(_SdpEntry("tx", now, "SdpReq", d, _sdp_message("SdpReq", d)) for d in out)
            return out

    return TracedClient(config)


def _sdp_traced_server(config: Any, log: list[_SdpEntry]) -> Any:
    """An SDP server that logs each request it receives and each response it sends."""
    from evcharge.iso15118.sdp import SdpServer

    class TracedServer(SdpServer):
        def receive_data(self, data: bytes, now: float) -> None:
            log.append(_SdpEntry("rx", now, "SdpReq", data, _sdp_message("SdpReq", data)))
            super().receive_data(data, now)

        def data_to_send(self) -> list[bytes]:
            out = super().data_to_send()
            now = time.monotonic()  # start_sdp_server()'s clock
            log.extend(_SdpEntry("tx", now, "SdpRes", d, _sdp_message("SdpRes", d)) for d in out)
            return out

    return TracedServer(config)


def _trace_json(
    engine: Any, protocol: str | None, session: Any = None, sdp: list[_SdpEntry] | None = None
) -> list[dict[str, Any]]:
    """Every message of one connection in time order, each with its receive (``recv``) or send (``send``) time:
    SDP (``layer`` "sdp", the datagram as ``data``), SupportedAppProtocol ("sap") and the session's ("v2g")
    messages (their EXI as ``exi``)."""
    from evcharge.iso15118 import app_protocol as ap

    def side(direction: str) -> str:
        return "recv" if direction == "rx" else "send"

    out: list[dict[str, Any]] = []
    for e in sdp or ():
        message = dataclasses.asdict(e.message) if e.message is not None else None
        out.append(
            {
                "dir": side(e.direction),
                "time": e.time,
                "layer": "sdp",
                "name": e.name,
                "data": e.data.hex(),
                "message": message,
            }
        )
    for t in getattr(session, "trace", None) or ():
        out.append(
            {
                "dir": side(t.direction),
                "time": t.time,
                "layer": "sap",
                "name": t.name,
                "exi": t.exi.hex(),
                "message": ap.to_dict(t.message) if t.message is not None else None,
            }
        )
    if engine is not None and protocol is not None:
        for t in engine.trace or ():
            entry = {
                "dir": side(t.direction),
                "time": t.time,
                "layer": "v2g",
                "name": t.name,
                "exi": t.exi.hex(),
                "message": _v2g_dict(protocol, t),
            }
            if protocol == "iso20":
                entry["payload_type"] = t.payload_type  # -20: the schema is named by the V2GTP payload type
            out.append(entry)
    out.sort(key=lambda m: m["time"])  # stable: at one instant a request stays before its response
    return out


def _v2g_dict(protocol: str, t: Any) -> Any:
    """One engine trace entry's message as a dict (None when it did not decode)."""
    if t.message is None:
        return None
    if protocol == "iso20":
        from ..iso20 import _msgs

        # the side channel of the ACDP system status (0x8103) carries ACDP EXI
        ptype = _msgs.ACDP if t.payload_type == 0x8103 else t.payload_type
        if ptype not in (0x8002, 0x8003, 0x8004, 0x8005, 0x8006):
            return None
        # named by the root element: ACDP_DisconnectReq/Res share ACDP_ConnectReq/Res's class
        return _msgs.module_for(ptype).to_dict(t.message, t.name)
    from .._v2g import message_set

    return message_set(protocol).mod.to_dict(t.message)


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


def run_secc(args: argparse.Namespace, protocols: list[str]) -> int:
    try:
        return asyncio.run(asyncio.wait_for(_secc_main(args, protocols), args.timeout))
    except TimeoutError:
        print(f"evcharge v2g secc: no session ended within {args.timeout} s", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"evcharge v2g secc: {exc}", file=sys.stderr)
        return 1


class SimulatedCharger:
    """The charger behind every engine: isolation valid, the output follows the car's targets; the -20 engine
    is also told the car is authorized (the DIN / ISO-2 engines authorize by themselves: ``auto_authorize``).
    ACDP: the positioning device sees the bus in position at once; the pantograph answers Moving to the first
    ACDP_Connect (ACDP_Disconnect) request and is at its end position (home) from the next one on; the system
    status says ready to charge, isolation Safe while it is down. WPT: the pad
    lets the car finish each step and grants its power request (the engine's defaults)."""

    def __init__(self) -> None:
        self._pantograph: dict[int, str] = {}  # engine id -> Moving / EndPosition (Home: not in it)

    def __call__(self, engine: Any, event: Any, send: Any) -> None:
        from .. import events as ev
        from ..iso20 import events as ev20

        iso20 = getattr(engine, "protocol", None) == "iso20"
        if isinstance(event, ev20.VehiclePositioningRequested):
            send(ev20.SetVehiclePosition(positioning_support=True, in_charge_position=True))
        elif isinstance(event, ev20.AcdpDeviceRequested):
            where = self._pantograph.get(id(engine), "Home")
            target = "EndPosition" if event.connect else "Home"
            if where == target:
                return
            if where != "Moving":
                self._pantograph[id(engine)] = "Moving"
                send(ev20.SetChargingDevice(mechanical="Moving", electrical="State_A"))
            elif event.connect:
                self._pantograph[id(engine)] = target
                send(ev20.SetChargingDevice(mechanical=target, electrical="State_B"))
                send(ev20.SetAcdpSystemStatus(ready_to_charge=True, isolation="Safe"))
            else:
                del self._pantograph[id(engine)]
                send(ev20.SetChargingDevice(mechanical=target, electrical="State_A"))
                send(ev20.SetAcdpSystemStatus())
        elif isinstance(event, ev.AuthorizationRequested) and iso20:
            send(ev.Authorize(accepted=True))
        elif isinstance(event, ev.CableCheckRequested):
            send(ev.SetIsolation(level=ev.Isolation.VALID))
        elif isinstance(event, ev.PreChargeRequested):
            if iso20:
                send(ev.SetPresentValues(voltage=event.target_voltage))
            else:
                send(ev.SetPresentValues(voltage=event.target_voltage, current=event.target_current))
        elif isinstance(event, ev.ChargeLoopTargets):
            send(ev.SetPresentValues(voltage=event.target_voltage, current=event.target_current))
        elif isinstance(event, ev20.ChargeLoopRequested) and event.target_voltage is not None:
            send(ev.SetPresentValues(voltage=event.target_voltage, current=event.target_current or 0.0))


def _secc_engines(args: argparse.Namespace, protocols: list[str]) -> tuple[dict[AppProtocol, Any], Any]:
    """The engine mapping of the one listener (and the TLS context, None for plain TCP)."""
    from .. import events as ev
    from .. import secc_engines
    from ..config import SeccConfig
    from ..iso20.config import Iso20SeccConfig
    from ..iso20.events import EnergyService

    service = EnergyService.from_cli(args.energy)
    # DIN / ISO-2 charge unidirectionally on the same kind of output as the -20 service (a dc-bpt charger
    # charges a DIN car on its DC output)
    mode = ev.EnergyMode.DC_EXTENDED if service.is_dc else ev.EnergyMode.AC_THREE_PHASE
    pnc: dict[str, Any] = {}
    pnc20: dict[str, Any] = {}
    payments: tuple[ev.Payment, ...] = (ev.Payment.EIM,)
    ssl_context: Any = None
    if args.tls:
        from evcharge.iso15118.security.tls import TlsProfile, TlsSelector, secc_context

        pki = Path(args.pki)
        iso20 = "iso20" in protocols
        legacy = bool({"din", "iso2"} & set(protocols))
        if iso20 and legacy:  # one port: TLS 1.3 with the -20 PKI or TLS 1.2 with the -2 PKI, by the ClientHello
            ssl_context = TlsSelector(
                iso2=secc_context(pki, TlsProfile.ISO2), iso20=secc_context(pki, TlsProfile.ISO20)
            )
        else:
            ssl_context = secc_context(pki, TlsProfile.ISO20 if iso20 else TlsProfile.ISO2)
        if args.payment == "pnc":
            payments = (ev.Payment.PNC, ev.Payment.EIM)
            if iso20:
                from ..iso20.pnc import PncTrust

                pnc20 = {"pnc": PncTrust.from_pki(args.pki)}
            if legacy:
                from ..pnc import LocalTestProvider, PkiContractVerifier

                pnc = {
                    "payments": payments,
                    "contract_verifier": PkiContractVerifier(pki / "iso2" / "mo_roots.pem"),
                    "certificate_provider": LocalTestProvider(pki),
                }
    config = SeccConfig(
        energy_modes=(mode,),
        dc_limits=ev.DcLimits(max_voltage=500, max_current=200, max_power=100_000),
        ac_limits=ev.AcLimits(nominal_voltage=230, max_current=32),
        auto_authorize=True,
        trace=True,
        **pnc,
    )
    config20 = Iso20SeccConfig(services=(service,), payments=payments, auto_authorize=True, trace=True, **pnc20)
    return secc_engines(config, config20, protocols=protocols), ssl_context


async def _secc_main(args: argparse.Namespace, protocols: list[str]) -> int:
    import ipaddress

    from evcharge.iso15118.sap import SupportedProtocol
    from evcharge.iso15118.sdp import SdpServerConfig
    from evcharge.iso15118.security.tls import TlsSelector
    from evcharge.iso15118.session import SeccSession, SeccSessionConfig, SessionClosed
    from evcharge.iso15118.transport.tcp import start_secc_server
    from evcharge.iso15118.transport.udp import start_sdp_server

    from .. import engines_for_tls
    from .. import events as ev
    from .._v2g import message_set

    engines, ssl_context = _secc_engines(args, protocols)
    session_config = SeccSessionConfig(protocols=tuple(SupportedProtocol(protocol=p) for p in engines))
    for p in protocols:  # load the message sets now, not while the first car waits for SessionSetupRes
        if p in ("din", "iso2"):
            message_set(p)
    host, iface = _address(args.iface)
    results: list[dict[str, Any]] = []
    done = asyncio.Event()
    paused: dict[Any, bytes] = {}
    sdp_log: list[_SdpEntry] = []  # SDP since the last connection: it belongs to the next one
    sdp_of: dict[int, list[_SdpEntry]] = {}
    charger = SimulatedCharger()

    def make_session(info: Any) -> SeccSession:
        resume = paused.get(info.peer[0] if info.peer else None)
        # -20 only over TLS 1.3, DIN / ISO-2 only over TLS 1.2: else SupportedAppProtocol answers Failed_NoNegotiation
        allowed = engines_for_tls(engines, info.tls)
        session = SeccSession(session_config, allowed, now=info.now, tls=info.tls, resume_session_id=resume, trace=True)
        sdp_of[id(session)] = sdp_log[:]
        sdp_log.clear()
        return session

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
        protocol = getattr(engine, "protocol", None)
        result: dict[str, Any] = {
            "protocol": protocol,
            "app_protocol": engine.handover.protocol.name if engine is not None else None,
            "normal": bool(end and end.normal),
            "paused": bool(end and end.paused),
            "reason": end.reason if end else (closed.reason if closed else "closed"),
        }
        if protocol == "iso20":
            result["energy"] = args.energy
            hash_ = getattr(engine, "vehicle_certificate_hash", None)
            result["vehicle_certificate_sha256"] = hash_.hex() if hash_ else None
        result["messages"] = _trace_json(engine, protocol, conn.session, sdp_of.pop(id(conn.session), []))
        results.append(result)
        if len(results) >= args.sessions:
            done.set()

    server = await start_secc_server(
        make_session,
        handler=handler,
        host=host.split("%")[0] if iface is None else host,
        port=args.port,
        ssl=None if isinstance(ssl_context, TlsSelector) else ssl_context,
        ssl_select=ssl_context if isinstance(ssl_context, TlsSelector) else None,
    )
    address = ipaddress.IPv6Address(host.split("%")[0])
    if ssl_context is not None:
        sdp = _sdp_traced_server(SdpServerConfig(address=address, tls_port=server.port), sdp_log)
    else:
        sdp = _sdp_traced_server(SdpServerConfig(address=address, tcp_port=server.port), sdp_log)
    sdp_transport = await start_sdp_server(sdp, interface=iface, host="::1" if iface is None else "::")
    offered = ", ".join(p.name for p in engines)
    print(f"evcharge v2g secc: listening on [{host}]:{server.port} ({offered})", file=sys.stderr)
    try:
        await done.wait()
    finally:
        sdp_transport.close()
        await server.close()
    _write_json(args.json_file, results)
    return 0 if all(r["normal"] for r in results) else 1


# -- EVCC ---------------------------------------------------------------------------------------------


def _iso20_app(service: Any) -> AppProtocol:
    """The -20 namespace of an energy service (AC, DC, ACDP, WPT)."""
    if service.name.startswith("DC_ACDP"):
        return AppProtocol.ISO20_ACDP
    if service.name == "WPT":
        return AppProtocol.ISO20_WPT
    return AppProtocol.ISO20_DC if service.is_dc else AppProtocol.ISO20_AC


def run_evcc(args: argparse.Namespace) -> int:
    try:
        return asyncio.run(asyncio.wait_for(_evcc_main(args), args.timeout))
    except TimeoutError:
        print(f"evcharge v2g evcc: the session did not end within {args.timeout} s", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"evcharge v2g evcc: {exc}", file=sys.stderr)
        return 1


def _evcc_engine(args: argparse.Namespace, client_tls: bool) -> tuple[AppProtocol, Any, dict[str, Any]]:
    """(the AppProtocol the car offers, its engine factory, the protocol's own fields of the JSON)."""
    from .. import events as ev

    scale = args.timeout_scale
    discharge = bool(getattr(args, "discharge", False))
    if args.protocol == "iso20":
        from ..iso20.config import Iso20EvccConfig, Iso20EvccTimeouts
        from ..iso20.evcc import Iso20Evcc
        from ..iso20.events import ControlMode, EnergyService

        service = EnergyService.from_cli(args.energy)
        control = ControlMode[(getattr(args, "control", None) or "scheduled").upper()]
        t20 = Iso20EvccTimeouts()
        pnc20: dict[str, Any] = {}
        if client_tls and args.payment == "pnc":
            from ..iso20.pnc import EvccContract

            pnc20 = {"payment": ev.Payment.PNC, "contract": EvccContract.from_pki(args.pki)}
        config20 = Iso20EvccConfig(
            service=service,
            control_mode=control,
            trace=True,
            timeouts=Iso20EvccTimeouts(
                default=t20.default * scale,
                long=t20.long * scale,
                charge_loop=t20.charge_loop * scale,
                ongoing=t20.ongoing * scale,
            ),
            pre_charge_max_requests=args.precharge_requests or None,
            target_current=-20.0 if service.is_bpt and discharge else 100.0,
            target_power=-7_000.0 if service.is_bpt and discharge else 11_000.0,
            **pnc20,
        )
        app = _iso20_app(service)
        fields = {"energy": service.cli_name, "control": control.name.lower()}
        return app, (lambda ho: Iso20Evcc(ho, config20)), fields

    from .._v2g import message_set
    from ..config import EvccConfig, EvccTimeouts
    from ..evcc import Evcc

    message_set(args.protocol)
    t = EvccTimeouts()
    timeouts = EvccTimeouts(
        default=t.default * scale,
        long=t.long * scale,
        current_demand=t.current_demand * scale,
        din_power_delivery=t.din_power_delivery * scale,
        ongoing=t.ongoing * scale,
        cable_check=t.cable_check * scale,
        pre_charge=t.pre_charge * scale,
    )
    pnc: dict[str, Any] = {}
    if client_tls and args.payment == "pnc":
        from ..pnc import Provisioning

        pnc = {
            "payment": ev.Payment.PNC,
            "provisioning": Provisioning.from_pki(args.pki),
            "v2g_roots": (Path(args.pki) / "iso2" / "v2g_roots.pem").read_bytes(),  # checks the response's signer
        }
    config = EvccConfig(
        energy_mode=ev.EnergyMode.DC_EXTENDED if args.energy == "dc" else ev.EnergyMode.AC_THREE_PHASE,
        trace=True,
        timeouts=timeouts,
        pre_charge_max_requests=args.precharge_requests or None,
        service_details=tuple(getattr(args, "service_details", ())),
        **pnc,
    )
    app = AppProtocol.DIN if args.protocol == "din" else AppProtocol.ISO2
    return app, (lambda ho: Evcc(ho, config)), {}


async def _evcc_main(args: argparse.Namespace) -> int:
    from evcharge.iso15118.sap import OfferedProtocol
    from evcharge.iso15118.sdp import SdpClientConfig, SdpDiscovered, Security
    from evcharge.iso15118.session import EvccSession, EvccSessionConfig
    from evcharge.iso15118.transport.tcp import connect_evcc
    from evcharge.iso15118.transport.udp import discover

    from .. import events as ev
    from ..iso20 import events as ev20

    client_tls = None
    if args.tls:
        from evcharge.iso15118.security.tls import TlsProfile, evcc_tls

        profile = TlsProfile.ISO20 if args.protocol == "iso20" else TlsProfile.ISO2
        client_tls = evcc_tls(Path(args.pki), profile)
    app, factory, fields = _evcc_engine(args, client_tls is not None)
    _, iface = _address(args.iface)
    target = "::1" if iface is None else "ff02::1"
    security = Security.TLS if client_tls is not None else Security.NO_TLS
    sdp_log: list[_SdpEntry] = []
    found = await discover(
        _sdp_traced_client(SdpClientConfig(security=security), sdp_log), interface=iface, target=target
    )
    if not isinstance(found, SdpDiscovered):
        reason = "no charger answered SDP"
        _write_json(
            args.json_file,
            {
                "protocol": args.protocol,
                **fields,
                "normal": False,
                "reason": reason,
                "paused": False,
                "session_id": None,
                "messages": _trace_json(None, None, None, sdp_log),
            },
        )
        print(f"evcharge v2g evcc: {reason}", file=sys.stderr)
        return 1
    peer = str(found.response.address)
    if iface is not None:
        peer = f"{peer}%{iface}"
    session_config = EvccSessionConfig(protocols=(OfferedProtocol(protocol=app, schema_id=1, priority=1),))
    engines = {app: factory}
    resume = bytes.fromhex(args.resume) if getattr(args, "resume", None) else None

    def make_session(info: Any) -> EvccSession:
        return EvccSession(session_config, engines, now=info.now, tls=info.tls, resume_session_id=resume, trace=True)

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
        if isinstance(event, ev20.AcdpDeviceAnswered) and event.connect and event.finished:
            conn.send(ev20.AskAcdpSystemStatus())  # the bus checks the depot once the pantograph is down
        if isinstance(event, (ev.ChargeLoopStatus, ev20.Iso20ChargeLoopStatus)):
            loops += 1
            if loops == args.loops:
                conn.send(ev.StopCharging(pause=args.pause))
    end = getattr(engine, "ended", None)
    closed = "the connection closed before the session ended" if engine is not None else "closed before the hand-over"
    _write_json(
        args.json_file,
        {
            "protocol": args.protocol,
            **fields,
            "normal": bool(end and end.normal),
            "reason": end.reason if end else closed,
            "paused": bool(end and end.paused),
            "session_id": end.session_id.hex() if end and end.session_id else None,
            "messages": _trace_json(engine, getattr(engine, "protocol", None), conn.session, sdp_log),
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
