"""``evcharge simulate``: a whole AC charging session -- charger, car and CSMS -- on this machine.

The default run charges for 20 simulated minutes at 60x (20 s of real time) with OCPP 2.0.1 and an RFID card,
prints a live progress line and a summary, and exits 0 only when the session ended as the scenario expects.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import asdict
from typing import Any

from .car import CarConfig
from .scenario import AuthMode, Scenario

_UNITS = {"": 1.0, "s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}


def parse_duration(text: str) -> float:
    """``90``, ``90s``, ``20m``, ``1.5h`` -> seconds."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(s|m|min|h|)\s*", text)
    if m is None or float(m.group(1)) <= 0:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (use e.g. 90s, 20m, 1.5h)")
    return float(m.group(1)) * _UNITS[m.group(2)]


def _percent(text: str) -> float:
    value = float(text)
    if not 0.0 < value <= 100.0:
        raise argparse.ArgumentTypeError(f"not a percentage between 0 and 100: {text!r}")
    return value


def _positive(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive: {text!r}")
    return value


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
    s.add_argument("--scenario", choices=[x.value for x in Scenario], default=Scenario.NORMAL.value,
                   help="normal | limit-change (the CSMS lowers the limit) | unplug-mid-session | rcd-fault | "
                        "offline (the CSMS connection drops and comes back)")
    s.add_argument("--ocpp", choices=["2.0.1", "1.6"], default="2.0.1", help="OCPP version of the station")
    s.add_argument("--auth", choices=[x.value for x in AuthMode], default=AuthMode.RFID.value,
                   help="rfid: a card on the simulated PN532 reader; remote: the CSMS starts the session")
    s.add_argument("--time-scale", type=float, default=60.0, metavar="X",
                   help="simulated seconds per real second (0: as fast as possible)")
    s.add_argument("--duration", type=parse_duration, default=None, metavar="T",
                   help="charging time, e.g. 20m, 90s, 1h (default 20m, or until --until-soc)")
    s.add_argument("--until-soc", type=_percent, default=None, metavar="PCT",
                   help="the car stops charging at this state of charge")
    s.add_argument("--charger-current", type=_positive, default=16.0, metavar="A",
                   help="the most the charger offers per phase (the Yeti allows 6 ... 32 A)")
    s.add_argument("--limit", type=_positive, default=10.0, metavar="A",
                   help="the charging profile's limit in the limit-change scenario")
    c = parser.add_argument_group("car")
    c.add_argument("--capacity", type=_positive, default=60.0, metavar="KWH", help="battery capacity")
    c.add_argument("--soc", type=float, default=20.0, metavar="PCT", help="state of charge at plug-in")
    c.add_argument("--car-current", type=_positive, default=32.0, metavar="A",
                   help="the car's maximum current per phase")
    c.add_argument("--phases", type=int, choices=[1, 3], default=3, help="phases the car charges on")
    o = parser.add_argument_group("operator (CSMS)")
    o.add_argument("--csms-url", default=None, metavar="URL",
                   help="connect to this OCPP server (ws:// or wss://) instead of the embedded CSMS")
    o.add_argument("--identity", default="SIM001", help="the charging station's identity")
    o.add_argument("--security-profile", type=int, choices=[0, 1, 2, 3], default=0,
                   help="OCPP security profile for --csms-url: 0 none, 1 basic auth, 2 TLS + basic auth, "
                        "3 mutual TLS")
    o.add_argument("--password", default=None, help="basic-auth password (profiles 1 and 2)")
    o.add_argument("--cafile", default=None, help="CA certificates to verify the CSMS (profiles 2 and 3)")
    o.add_argument("--certfile", default=None, help="the station's certificate chain, PEM (profile 3)")
    o.add_argument("--keyfile", default=None, help="the station's private key, PEM (profile 3)")
    o.add_argument("--drain-timeout", type=_positive, default=20.0, metavar="S",
                   help="real seconds to wait at the end for queued messages to reach the CSMS")
    out = parser.add_argument_group("output")
    out.add_argument("--json", default=None, metavar="FILE", help="write the full event log as JSON ('-': stdout)")
    out.add_argument("--plot", default=None, metavar="FILE.png",
                     help="draw current, power and state of charge over time (needs matplotlib: evcharge[plot])")
    out.add_argument("--quiet", action="store_true", help="no progress line")


def _fmt_time(seconds: float) -> str:
    m, s = divmod(int(seconds), 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}"


class _ProgressLine:
    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self.tty = bool(getattr(stream, "isatty", lambda: False)())
        self.last_line = float("-inf")

    def __call__(self, p: Any) -> None:
        text = (f"{_fmt_time(p.t)}  {p.state:<3} {p.current_a:5.1f} A  {p.power_w / 1000:5.2f} kW  "
                f"{p.energy_wh / 1000:6.3f} kWh  SoC {p.soc:5.1f} %  {'online' if p.online else 'OFFLINE'}")
        if self.tty:
            self.stream.write("\r" + text + "  ")
            self.stream.flush()
        elif p.t - self.last_line >= 60.0:  # a log-friendly line per simulated minute
            self.last_line = p.t
            self.stream.write(text + "\n")

    def done(self) -> None:
        if self.tty:
            self.stream.write("\n")


def run(args: argparse.Namespace) -> int:
    """Run the session; 0 when it ended as the scenario expects."""
    import asyncio

    try:
        from .checks import summarize, verify
        from .runner import Session, SimConfig
    except ModuleNotFoundError as exc:
        print(f"evcharge simulate needs {exc.name}: pip install 'evcharge[all]'", file=sys.stderr)
        return 3
    if args.plot:
        try:
            import matplotlib  # noqa: F401
        except ModuleNotFoundError:
            print("--plot needs matplotlib: pip install 'evcharge[plot]'", file=sys.stderr)
            return 3
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
        print(f"evcharge simulate: {exc}", file=sys.stderr)
        return 2
    amount = f"{duration / 60:g} min of charging" if args.duration or not args.until_soc \
        else f"charging to {args.until_soc:g} %"
    print(f"evcharge simulate: scenario {scenario.value}, OCPP {args.ocpp}, auth {args.auth}, {amount} "
          + (f"at {config.time_scale:g}x" if config.time_scale > 0 else "as fast as possible"), file=sys.stderr)
    try:
        result = asyncio.run(session.run())
    except ModuleNotFoundError as exc:  # pyserial (bsp) or websockets (ocpp) missing
        print(f"\nevcharge simulate needs {exc.name}: pip install 'evcharge[all]'", file=sys.stderr)
        return 3
    except (OSError, ValueError) as exc:
        print(f"\nevcharge simulate: {exc}", file=sys.stderr)
        return 3
    except KeyboardInterrupt:
        print("\nevcharge simulate: interrupted", file=sys.stderr)
        return 130
    finally:
        if not args.quiet:
            line.done()
    problems = verify(result.log, result.books, scenario=scenario, ocpp_version=args.ocpp,
                      finish_reason=result.finish_reason, limit_amps=args.limit, queued_left=result.queued_left)
    summary = summarize(result.log, result.books, peak_current=session.peak_current, soc=session.car.soc,
                        station_calls=session.station.calls_made, csms_calls=session.csms_calls)
    _print_summary(summary, problems, sys.stderr if args.json == "-" else sys.stdout)  # stdout may be the JSON
    if args.json:
        _write_json(args.json, config, summary, problems, result)
    if args.plot:
        from .plot import plot

        plot(result.log, args.plot)
        print(f"plot written to {args.plot}", file=sys.stderr)
    return 0 if not problems else 1


def _print_summary(summary: dict[str, Any], problems: list[str], out: Any) -> None:
    energy = summary["energy_wh"]
    duration = summary["duration_s"]
    calls = summary["ocpp_calls_from_station"] + summary["ocpp_calls_from_csms"]
    lines = [
        "session summary",
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
    if not problems:
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
