"""``evcharge simulate``: a whole AC charging session -- charger, car and CSMS -- on this machine.

The default run charges for 20 simulated minutes at 60x (20 s of real time) with OCPP 2.0.1 and an RFID card,
prints a live progress line and a summary, and exits 0 only when the session ended as the scenario expects.
Every option is checked before the session starts (values in range, output files writable and of the right
kind, certificate files readable, the CSMS URL well formed); an external CSMS that cannot be reached is said
within seconds (exit status 4); Ctrl-C prints the summary of what ran so far (exit status 130).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from dataclasses import asdict
from typing import Any
from urllib.parse import urlsplit

from evcharge.cli import (
    EXIT_CONNECTION,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    CommandError,
    float_range_arg,
    identity_arg,
    output_file_arg,
    readable_file_arg,
)

from .scenario import AuthMode, Scenario

#: The current per phase the Yeti board offers, in amperes; 6 A is the least IEC 61851-1 PWM can signal.
CHARGER_CURRENT_RANGE = (6.0, 32.0)

_UNITS = {"": 1.0, "s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}


def parse_duration(text: str) -> float:
    """``90``, ``90s``, ``20m``, ``1.5h`` -> seconds."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(s|m|min|h|)\s*", text)
    if m is None or float(m.group(1)) <= 0:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (use e.g. 90s, 20m, 1.5h)")
    return float(m.group(1)) * _UNITS[m.group(2)]


def _percent(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0.0 < value <= 100.0:
        raise argparse.ArgumentTypeError(f"not a percentage between 0 and 100: {text!r}")
    return value


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number: {text!r}")
    return value


def _csms_url(text: str) -> str:
    parts = urlsplit(text)
    if parts.scheme not in ("ws", "wss") or not parts.hostname:
        raise argparse.ArgumentTypeError(f"not a websocket URL: {text!r} (give e.g. ws://127.0.0.1:9000/ocpp)")
    try:
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        raise argparse.ArgumentTypeError(f"bad port in {text!r} (give 1 ... 65535)") from None
    return text


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows defaults, except the ones that mean "not given"."""

    def _get_help_string(self, action: argparse.Action) -> str:
        if action.default in (None, False):
            return action.help or ""
        return super()._get_help_string(action) or ""


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the ``simulate`` options."""
    parser.formatter_class = _HelpFormatter
    s = parser.add_argument_group("session")
    from .hlc import HLC_SCENARIOS  # the --hlc scenarios (issue 19)

    s.add_argument("--scenario", choices=[x.value for x in Scenario] + [x for x in HLC_SCENARIOS
                                                                         if x not in {y.value for y in Scenario}],
                   default=Scenario.NORMAL.value,
                   help="normal | limit-change (the CSMS lowers the limit) | unplug-mid-session | rcd-fault | "
                        "offline (the CSMS connection drops and comes back)")
    s.add_argument("--ocpp", choices=["2.0.1", "1.6"], default="2.0.1", help="OCPP version of the station")
    s.add_argument("--auth", choices=[x.value for x in AuthMode], default=AuthMode.RFID.value,
                   help="rfid: a card on the simulated PN532 reader; remote: the CSMS starts the session")
    s.add_argument("--time-scale", type=float_range_arg(0.0, 1e6, what="time scale"), default=60.0, metavar="X",
                   help="simulated seconds per real second (0: as fast as possible)")
    s.add_argument("--duration", type=parse_duration, default=None, metavar="T",
                   help="charging time, e.g. 20m, 90s, 1h (default 20m, or until --until-soc)")
    s.add_argument("--until-soc", type=_percent, default=None, metavar="PCT",
                   help="the car stops charging at this state of charge")
    s.add_argument("--charger-current", type=float_range_arg(*CHARGER_CURRENT_RANGE, what="charger current"),
                   default=16.0, metavar="A", help="the most the charger offers per phase (the Yeti allows 6 ... 32 A)")
    s.add_argument("--limit", type=_positive, default=10.0, metavar="A",
                   help="the charging profile's limit in the limit-change scenario")
    c = parser.add_argument_group("car")
    c.add_argument("--capacity", type=_positive, default=60.0, metavar="KWH", help="battery capacity")
    c.add_argument("--soc", type=float_range_arg(0.0, 100.0, what="state of charge"), default=20.0, metavar="PCT",
                   help="state of charge at plug-in")
    c.add_argument("--car-current", type=_positive, default=32.0, metavar="A",
                   help="the car's maximum current per phase")
    c.add_argument("--phases", type=int, choices=[1, 3], default=3, help="phases the car charges on")
    o = parser.add_argument_group("operator (CSMS)")
    o.add_argument("--csms-url", type=_csms_url, default=None, metavar="URL",
                   help="connect to this OCPP server (ws:// or wss://) instead of the embedded CSMS")
    o.add_argument("--identity", type=identity_arg, default="SIM001", help="the charging station's identity")
    o.add_argument("--security-profile", type=int, choices=[0, 1, 2, 3], default=0,
                   help="OCPP security profile for --csms-url: 0 none, 1 basic auth, 2 TLS + basic auth, "
                        "3 mutual TLS")
    o.add_argument("--password", default=None, help="basic-auth password (profiles 1 and 2)")
    o.add_argument("--cafile", type=readable_file_arg, default=None,
                   help="CA certificates to verify the CSMS (profiles 2 and 3)")
    o.add_argument("--certfile", type=readable_file_arg, default=None,
                   help="the station's certificate chain, PEM (profile 3)")
    o.add_argument("--keyfile", type=readable_file_arg, default=None,
                   help="the station's private key, PEM (profile 3)")
    o.add_argument("--drain-timeout", type=_positive, default=20.0, metavar="S",
                   help="real seconds to wait at the end for queued messages to reach the CSMS")
    out = parser.add_argument_group("output")
    out.add_argument("--json", type=output_file_arg(allow_stdout=True), default=None, metavar="FILE",
                     help="write the full event log as JSON ('-': stdout)")
    out.add_argument("--plot", type=output_file_arg(".png", ".svg", ".pdf"), default=None, metavar="FILE.png",
                     help="draw current, power and state of charge over time (needs matplotlib: evcharge[plot])")
    out.add_argument("--quiet", action="store_true", help="no progress line")
    from .hlc import configure as configure_hlc  # --hlc: DC sessions with ISO 15118 / DIN 70121 (issue 19)

    configure_hlc(parser)


def _fmt_time(seconds: float) -> str:
    m, s = divmod(int(seconds), 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}"


PROGRESS_HEADER = ("sim time  pilot  current    power     energy      SoC  CSMS      "
                   "(pilot: IEC 61851 state, A unplugged / B plugged / C charging / F fault; "
                   "1 no PWM, 2 PWM offered; - before the board reports)")


class _ProgressLine:
    """The live progress: a header, then a line rewritten in place on a terminal, or a new line at least once per
    wall-clock second otherwise; notable events (faults, link changes, limits) each on a line of their own."""

    def __init__(self, stream: Any, *, interval: float = 1.0) -> None:
        self.stream = stream
        self.tty = bool(getattr(stream, "isatty", lambda: False)())
        self.interval = interval
        self.last_line = float("-inf")
        self.header = False
        self.pending = False

    def __call__(self, p: Any) -> None:
        if not self.header:
            self.header = True
            self.stream.write(PROGRESS_HEADER + "\n")
        state = p.state if p.state and "?" not in p.state else "-"
        text = (f"{_fmt_time(p.t):>8}  {state:<5} {p.current_a:5.1f} A  {p.power_w / 1000:5.2f} kW  "
                f"{p.energy_wh / 1000:6.3f} kWh  {p.soc:5.1f} %  {'online' if p.online else 'OFFLINE'}")
        for notice in getattr(p, "notices", ()):
            self.stream.write(("\r\033[K" if self.tty and self.pending else "") + f"  -- {notice}\n")
            self.pending = False
        if self.tty:
            self.stream.write("\r" + text + "  ")
            self.pending = True
        elif time.monotonic() - self.last_line >= self.interval:
            self.last_line = time.monotonic()
            self.stream.write(text + "\n")
        self.stream.flush()

    def done(self) -> None:
        if self.tty and self.pending:
            self.stream.write("\n")
            self.pending = False


def run(args: argparse.Namespace) -> int:
    """Run the session; 0 when it ended as the scenario expects."""
    import asyncio  # noqa: TID251 - evcharge.sim is the application that composes the cores: it runs the event loop

    from evcharge.errors import require

    for module, extra in (("serial", "bsp"), ("websockets", "ocpp")):
        require(module, extra, feature="evcharge simulate")
    if args.plot:
        require("matplotlib", "plot", feature="--plot")
    _check_security(args)
    if getattr(args, "hlc", None):
        from .hlc import run as run_hlc

        return run_hlc(args)
    if args.scenario not in {x.value for x in Scenario}:
        raise CommandError(f"--scenario {args.scenario} is a high-level-communication scenario: "
                           "add --hlc din|iso2|iso20")
    from .car import CarConfig
    from .checks import summarize, verify
    from .runner import CsmsUnreachable, Session, SimConfig

    scenario = Scenario(args.scenario)
    duration = args.duration if args.duration is not None else (86400.0 if args.until_soc else 1200.0)
    try:
        car = CarConfig(capacity_kwh=args.capacity, soc=args.soc, max_current=args.car_current, phases=args.phases)
        config = SimConfig(
            scenario=scenario, auth=AuthMode(args.auth), ocpp_version=args.ocpp, time_scale=max(0.0, args.time_scale),
            duration=duration, until_soc=args.until_soc, car=car, charger_current=args.charger_current,
            identity=args.identity, csms_url=args.csms_url, security_profile=args.security_profile,
            password=args.password, cafile=args.cafile, certfile=args.certfile, keyfile=args.keyfile,
            limit_amps=args.limit, drain_timeout=args.drain_timeout,
        )
        line = _ProgressLine(sys.stderr)
        session = Session(config, progress=None if args.quiet else line)
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    amount = f"{duration / 60:g} min of charging" if args.duration or not args.until_soc \
        else f"charging to {args.until_soc:g} %"
    print(f"evcharge simulate: scenario {scenario.value}, OCPP {args.ocpp}, auth {args.auth}, {amount} "
          + (f"at {config.time_scale:g}x" if config.time_scale > 0 else "as fast as possible"), file=sys.stderr)
    out = sys.stderr if args.json == "-" else sys.stdout  # stdout may be the JSON
    try:
        result = asyncio.run(session.run())
    except CsmsUnreachable as exc:
        raise CommandError(f"{exc} (check --csms-url, --security-profile and the credentials)",
                           EXIT_CONNECTION) from None
    except (OSError, ValueError) as exc:
        raise CommandError(str(exc), EXIT_FAILED) from None
    except KeyboardInterrupt:
        if not args.quiet:
            line.done()
        print(f"\nevcharge simulate: interrupted at {_fmt_time(session.t)} of simulated time; "
              "what ran so far:", file=sys.stderr)
        summary = summarize(session.log, session.books, peak_current=session.peak_current, soc=session.car.soc,
                            station_calls=getattr(getattr(session, "station", None), "calls_made", 0),
                            csms_calls=session.csms_calls, scenario=scenario)
        _print_summary(summary, [], out, partial=True)
        return EXIT_INTERRUPTED
    finally:
        if not args.quiet:
            line.done()
    problems = verify(result.log, result.books, scenario=scenario, ocpp_version=args.ocpp,
                      finish_reason=result.finish_reason, limit_amps=args.limit, queued_left=result.queued_left)
    summary = summarize(result.log, result.books, peak_current=session.peak_current, soc=session.car.soc,
                        station_calls=session.station.calls_made, csms_calls=session.csms_calls, scenario=scenario,
                        queued_offline=result.queued_offline, replayed=result.replayed)
    _print_summary(summary, problems, out)
    if args.json:
        _write_json(args.json, config, summary, problems, result)
    if args.plot:
        from .plot import plot

        plot(result.log, args.plot, scenario=scenario.value, charger_current=config.charger_current)
        print(f"plot written to {args.plot}", file=sys.stderr)
    return 0 if not problems else 1


def _check_security(args: argparse.Namespace) -> None:
    """Refuse options that cannot work together, before the session starts."""
    profile = args.security_profile
    if args.csms_url is None:
        if profile or args.password or args.cafile or args.certfile or args.keyfile:
            raise CommandError("--security-profile, --password, --cafile, --certfile and --keyfile are for an "
                               "external CSMS: give --csms-url too")
        return
    scheme = urlsplit(args.csms_url).scheme
    want = "wss" if profile >= 2 else "ws"
    if scheme != want:
        raise CommandError(f"security profile {profile} needs a {want}:// URL, not {scheme}:// "
                           "(change --csms-url or --security-profile)")
    if profile in (1, 2) and not args.password:
        raise CommandError(f"security profile {profile} needs --password (basic auth)")
    if profile in (1, 2) and ":" in args.identity:
        raise CommandError("with basic auth the identity cannot contain ':' (it separates user and password)")
    if profile == 3 and not args.certfile:
        raise CommandError("security profile 3 needs the station's certificate: --certfile (and --keyfile)")


def _print_summary(summary: dict[str, Any], problems: list[str], out: Any, *, partial: bool = False) -> None:
    energy = summary["energy_wh"]
    duration = summary["duration_s"]
    calls = summary["ocpp_calls_from_station"] + summary["ocpp_calls_from_csms"]
    lines = [
        f"session summary ({summary.get('scenario', '-')})" + (": PARTIAL, interrupted" if partial else ""),
        f"  energy delivered   {'-' if energy is None else f'{energy / 1000:.3f} kWh'}",
        f"  duration           {'-' if duration is None else _fmt_time(duration)}",
        f"  peak current       {summary['peak_current_a']:.1f} A",
        f"  final SoC          {summary['final_soc']:.1f} %",
        f"  OCPP messages      {2 * calls} ({summary['ocpp_calls_from_station']} calls from the station, "
        f"{summary['ocpp_calls_from_csms']} from the CSMS, each with its answer)",
        f"  transaction        {summary['transaction_id'] or '-'}"
        + (f" (stopped: {summary['stop_reason']})" if summary["stop_reason"] else ""),
    ]
    if summary["csms_energy_wh"] is not None:
        lines.append(f"  energy at the CSMS {summary['csms_energy_wh'] / 1000:.3f} kWh")
    lines.append(f"  control pilot      {summary['cp_sequence']}")
    for fault in summary.get("faults", []):
        lines.append(f"  fault              {fault}")
    offline = summary.get("offline")
    if offline:
        lines.append(f"  CSMS link down     {offline['outages']} time(s), {_fmt_time(offline['down_s'])} in all; "
                     f"{offline['queued']} messages queued offline, {offline['replayed']} replayed on reconnect"
                     + (f", {offline['marked_offline']} marked offline at the CSMS"
                        if offline.get("marked_offline") is not None else ""))
    if partial:
        pass
    elif not problems:
        lines.append("OK: the session ended as the scenario expects")
    print("\n".join(lines), file=out)
    if problems:
        print("FAILED: " + "; ".join(problems), file=sys.stderr)


def _write_json(path: str, config: Any, summary: dict[str, Any], problems: list[str], result: Any) -> None:
    books = result.books
    document = {
        "config": {**asdict(config), "password": None if config.password is None else "***"},
        "result": {"ok": not problems, "problems": problems},
        "summary": summary,
        "events": result.log.events,
        "csms": None if books is None else {
            "transactions": [tx.to_json() for tx in books.transactions.values()],
            "messages": books.messages,
        },
    }
    text = json.dumps(document, indent=1, default=str)
    if path == "-":
        sys.stdout.write(text + "\n")
    else:
        with open(path, "w", encoding="utf-8") as f:
            f.write(text + "\n")
