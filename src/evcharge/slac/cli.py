"""``evcharge slac evse|pev --iface IF``: run SLAC on a network interface and print the result.

Exit status: 0 matched, 1 SLAC failed or timed out, 2 the interface could not be opened.
Without a HomePlug modem on the interface (two hosts on plain Ethernet, a veth pair), pass
``--emulate-modem``: an emulated modem then answers CM_SET_KEY and produces the attenuation profiles.

Readiness: once the socket is open and the machine started, the command writes one line
``evcharge slac ROLE: listening on IFACE (MAC)`` to standard error and, with ``--ready-file PATH``,
creates PATH (a script waits for the file instead of reading stderr).  Only the standard library is
imported on the way there (the raw socket is a plain ``AF_PACKET`` socket, no scapy).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time

from evcharge.cli import output_file_arg
from evcharge.slac.messages import QCA_LOCAL_MAC, STATION_ID_LENGTH, mac_text, parse_mac


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the ``slac`` subcommand's arguments."""
    parser.add_argument("role", choices=("evse", "pev", "modem"),
                        help="run the charger (evse) or the vehicle (pev) side, or an emulated modem (modem) "
                             "bridging --iface (the host's side) and --line-iface")
    parser.add_argument("--iface", required=True, help="network interface of the powerline modem (e.g. eth1)")
    parser.add_argument("--timeout", type=float, default=60.0, help="give up after this many seconds (default 60)")
    parser.add_argument("--emulate-modem", action="store_true",
                        help="no HomePlug modem on the interface: emulate one (CM_SET_KEY, attenuation profiles)")
    parser.add_argument("--attenuation", type=int, default=20,
                        help="attenuation in dB the emulated modem reports for every M-sound (default 20)")
    parser.add_argument("--id", dest="station_id", default="",
                        help="EVSE ID (evse) or VIN (pev), at most 17 characters; default all zeros")
    parser.add_argument("--threshold", type=float, default=40.0,
                        help="pev: highest acceptable average attenuation in dB (default 40)")
    parser.add_argument("--modem-mac", default=mac_text(QCA_LOCAL_MAC),
                        help="where CM_SET_KEY.REQ goes (default the QCA local address 00:b0:52:00:00:01)")
    parser.add_argument("--qca-nonce", action="store_true",
                        help="send MyNonce 0xAAAAAAAA in CM_SET_KEY.REQ like the QCA tools (ISO 15118-3: zeros)")
    parser.add_argument("--linger", type=float, default=1.0,
                        help="evse: keep answering this many seconds after the match (a repeated CM_SLAC_MATCH.REQ, "
                             "or a PEV that lost every CM_SLAC_MATCH.CNF and restarts; the report is the last match)")
    parser.add_argument("--json", action="store_true", help="print the result as one JSON object")
    parser.add_argument("--line-iface", help="modem: the interface towards the other stations (the powerline)")
    parser.add_argument("--ready-file", metavar="PATH", type=output_file_arg(),
                        help="create PATH once the interface is open and SLAC is listening (for scripts to wait on)")
    parser.add_argument("--set-key-result", type=int, default=0,
                        help="modem: result code of CM_SET_KEY.CNF (default 0; some QCA firmware answers 1)")


def run(args: argparse.Namespace) -> int:
    """Run the subcommand."""
    from evcharge.slac.config import EvseConfig, PevConfig
    from evcharge.slac.emulator import ModemConfig, ModemEmulator
    from evcharge.slac.events import Matched, SlacEvent, SlacFailed
    from evcharge.slac.evse import EvseSlac
    from evcharge.slac.pev import PevSlac
    from evcharge.slac.transport.asyncio import SlacDriver, run_driver
    from evcharge.slac.transport.rawsocket import RawSocketLink

    if args.role == "modem":
        return _run_modem(args)
    station_id = args.station_id.encode("ascii")
    if len(station_id) > STATION_ID_LENGTH:
        print(f"evcharge slac: --id is at most {STATION_ID_LENGTH} characters", file=sys.stderr)
        return 2
    station_id = station_id.ljust(STATION_ID_LENGTH, b"\x00")
    nonce = b"\xaa" * 4 if args.qca_nonce else bytes(4)
    try:
        modem_mac = parse_mac(args.modem_mac)
    except ValueError as exc:
        print(f"evcharge slac: --modem-mac: {exc}", file=sys.stderr)
        return 2
    try:
        link = RawSocketLink(args.iface)
    except (OSError, ValueError) as exc:
        print(f"evcharge slac: cannot open {args.iface}: {exc}", file=sys.stderr)
        return 2
    rng = random.SystemRandom()
    machine: EvseSlac | PevSlac
    if args.role == "evse":
        machine = EvseSlac(EvseConfig(evse_id=station_id, modem_mac=modem_mac, set_key_my_nonce=nonce),
                           mac=link.mac, rng=rng)
    else:
        machine = PevSlac(PevConfig(pev_id=station_id, modem_mac=modem_mac, set_key_my_nonce=nonce,
                                    attenuation_threshold_db=args.threshold), mac=link.mac, rng=rng)
    modem = None
    if args.emulate_modem:
        modem = ModemEmulator(ModemConfig(mac=b"\x00\xb0\x52" + link.mac[3:]), host_mac=link.mac)

    def show(event: SlacEvent) -> None:
        if not args.json:
            print(f"  {type(event).__name__}: {_describe(event)}", file=sys.stderr)

    driver = SlacDriver(machine, link, modem=modem, attenuation_db=args.attenuation, on_event=show)

    def ready() -> None:
        # the socket is open and the machine started: scripts may start the other side now
        print(f"evcharge slac {args.role}: listening on {args.iface} ({mac_text(link.mac)})", file=sys.stderr,
              flush=True)
        _touch(args.ready_file)

    wall, cpu = time.perf_counter(), time.process_time()
    try:
        linger = args.linger if args.role == "evse" else 0.0
        result = run_driver(driver, timeout=args.timeout, linger=linger, on_started=ready)
    finally:
        link.close()
    if isinstance(result, Matched):  # the EVSE may have matched again while it lingered (the PEV restarted)
        result = [e for e in driver.events if isinstance(e, Matched)][-1]
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    report: dict[str, object] = {
        "role": args.role,
        "iface": args.iface,
        "mac": mac_text(link.mac),
        "frames_in": driver.frames_in,
        "frames_out": driver.frames_out,
        "wall_s": round(wall, 4),
        "cpu_s": round(cpu, 4),
    }
    if isinstance(result, Matched):
        report.update(
            result="matched",
            nid=result.nid.hex(),
            nmk=result.nmk.hex(),
            peer_mac=mac_text(result.peer_mac),
            run_id=result.run_id.hex(),
            attenuation_db=round(result.attenuation_db, 2),
            sounds=result.sounds,
            match_time_s=round(result.elapsed, 4),
            candidates=[[mac_text(mac), round(db, 2)] for mac, db in result.candidates],
        )
    elif isinstance(result, SlacFailed):
        report.update(result="failed", reason=result.reason)
    else:
        report.update(result="timeout", reason=f"no result within {args.timeout} s")
    if args.json:
        print(json.dumps(report, sort_keys=True))
    else:
        for key, value in report.items():
            print(f"{key}: {value}")
    return 0 if isinstance(result, Matched) else 1


def _run_modem(args: argparse.Namespace) -> int:
    from evcharge.slac.emulator import ModemConfig
    from evcharge.slac.transport.asyncio import ModemBridge, run_bridge
    from evcharge.slac.transport.rawsocket import RawSocketLink

    if not args.line_iface:
        print("evcharge slac modem: --line-iface is required", file=sys.stderr)
        return 2
    try:
        host = RawSocketLink(args.iface)
        line = RawSocketLink(args.line_iface)
    except (OSError, ValueError) as exc:
        print(f"evcharge slac: cannot open {args.iface} / {args.line_iface}: {exc}", file=sys.stderr)
        return 2
    config = ModemConfig(mac=b"\x00\xb0\x52" + line.mac[3:], set_key_result=args.set_key_result)
    bridge = ModemBridge(host, line, config, attenuation_db=args.attenuation)
    print(f"evcharge slac modem: listening on {args.iface} <-> {args.line_iface}", file=sys.stderr, flush=True)
    _touch(args.ready_file)
    try:
        run_bridge(bridge, timeout=args.timeout)
    except KeyboardInterrupt:
        pass
    finally:
        host.close()
        line.close()
    report = {"role": "modem", "to_line": bridge.to_line, "to_host": bridge.to_host,
              "nmk": bridge.modem.nmk.hex() if bridge.modem and bridge.modem.nmk else None}
    print(json.dumps(report, sort_keys=True) if args.json else report)
    return 0


def _touch(path: str | None) -> None:
    if path:
        with open(path, "w", encoding="ascii") as ready_file:
            ready_file.write("ready\n")


def _text(value: object) -> str:
    if isinstance(value, bytes):
        return mac_text(value) if len(value) == 6 else value.hex()
    if isinstance(value, tuple):
        return "(" + ", ".join(_text(v) for v in value) + ")"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def _describe(event: object) -> str:
    return ", ".join(f"{name}={_text(getattr(event, name))}" for name in getattr(event, "__slots__", ()))
