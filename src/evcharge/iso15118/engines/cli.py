"""``evcharge v2g secc`` / ``evcharge v2g evcc``: a whole V2G session against any peer on an interface.

The charger side answers SDP on the interface, accepts the TCP connections on one port, negotiates
SupportedAppProtocol among every protocol of ``--protocols`` and runs the engine of the chosen one (our
:class:`~evcharge.iso15118.engines.Secc` for DIN / ISO 15118-2, the -20 one for ISO 15118-20 in the AC or DC
namespace of ``--energy``: AC, DC, ACDP for ``acdp``/``acdp-bpt``, WPT for ``wpt``) with a simulated charger behind
it (isolation valid, the output follows the car's targets; the bus is in position and the pantograph moves at once
(ACDP); the pad grants the car's power (WPT)). The car side discovers the charger, connects, and runs our
:class:`~evcharge.iso15118.engines.Evcc` with a simulated car (charges a few loops, then stops).
``--json FILE`` writes every message with its receive/send time; exit status 0 when every session ended
normally (SessionStop), 1 when one did not, 2 for what is not built yet or a wrong combination
(Plug & Charge without TLS). ``--tls --pki DIR`` runs over TLS with a test PKI (``evcharge v2g pki --out DIR``);
``--payment pnc`` installs the contract from the PKI through CertificateInstallation and signs with it.
``--tls`` with ``--protocols din,iso2,iso20`` serves every protocol on one TLS port: a car offering TLS 1.3 gets
the -20 PKI and may negotiate only -20, one offering TLS 1.2 the -2 PKI and only DIN / ISO 15118-2.
"""

from __future__ import annotations

import argparse
import sys

from evcharge.cli import output_file_arg

__all__ = ["configure_evcc", "configure_secc", "run_evcc", "run_secc"]

NOT_BUILT = 2


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--iface", default="lo", help="the network interface (lo: ::1 on this machine)")
    parser.add_argument(
        "--energy",
        choices=("ac", "dc", "ac-bpt", "dc-bpt", "acdp", "acdp-bpt", "wpt"),
        default="dc",
        help="AC or DC charging (default dc); ac-bpt/dc-bpt: bidirectional; acdp/acdp-bpt: DC through a pantograph"
        " (ACDP); wpt: wireless; the last five are ISO 15118-20 only",
    )
    parser.add_argument(
        "--control", choices=("scheduled", "dynamic"), default=None, help="ISO 15118-20 control mode (scheduled)"
    )
    parser.add_argument("--payment", choices=("eim", "pnc"), default="eim", help="EIM or Plug & Charge")
    tls = parser.add_mutually_exclusive_group()
    tls.add_argument("--tls", dest="tls", action="store_true", default=False, help="TLS (needed for pnc)")
    tls.add_argument("--no-tls", dest="tls", action="store_false")
    parser.add_argument("--pki", help="the test PKI folder (evcharge v2g pki --out DIR) for TLS / pnc")
    parser.add_argument(
        "--json",
        dest="json_file",
        type=output_file_arg(allow_stdout=True),
        metavar="FILE",
        help="write every message with its times here (- for stdout)",
    )
    parser.add_argument("--timeout", type=float, default=120.0, help="give up after this many seconds")


def configure_secc(parser: argparse.ArgumentParser) -> None:
    parser.description = "Run a charger (SECC) with a simulated charger behind it."
    _common(parser)
    parser.add_argument("--protocols", default="din,iso2", help="comma-separated: din, iso2, iso20")
    parser.add_argument("--sessions", type=int, default=1, help="serve this many sessions, then exit")
    parser.add_argument("--port", type=int, default=None, help="the TCP port (default: a dynamic one)")


def _service_ids(text: str) -> tuple[int, ...]:
    try:
        ids = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: comma-separated ServiceIDs (numbers), e.g. 2,3") from None
    if not ids or any(not 0 <= i <= 65535 for i in ids):
        raise argparse.ArgumentTypeError(f"{text!r}: ServiceIDs are 0-65535")
    return ids


def configure_evcc(parser: argparse.ArgumentParser) -> None:
    parser.description = "Run a car (EVCC) with a simulated car behind it."
    _common(parser)
    parser.add_argument("--protocol", choices=("din", "iso2", "iso20"), default="iso2")
    parser.add_argument("--loops", type=int, default=10, help="charge-loop requests before the car stops")
    parser.add_argument("--pause", action="store_true", help="end with SessionStop(Pause) instead of Terminate")
    parser.add_argument("--resume", metavar="HEX", help="offer this SessionID (of a paused session) in SessionSetupReq")
    parser.add_argument("--discharge", action="store_true", help="ac-bpt/dc-bpt/acdp-bpt: the car gives power back")
    parser.add_argument(
        "--service-details",
        type=_service_ids,
        default=(),
        metavar="IDS",
        help="ISO 15118-2: ask ServiceDetailReq for these ServiceIDs (comma-separated, e.g. 2 for the certificate"
        " service) before PaymentServiceSelection",
    )
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
    if "iso20" not in protocols and (args.energy not in ("ac", "dc") or args.control is not None):
        return f"evcharge v2g {role}: --energy {args.energy} / --control are ISO 15118-20 options (--protocol iso20)"
    if args.payment == "pnc" and not args.tls:
        return f"evcharge v2g {role}: Plug & Charge runs only over TLS: add --tls --pki DIR"
    if args.tls and not args.pki:
        return f"evcharge v2g {role}: --tls needs --pki DIR (evcharge v2g pki --out DIR writes one)"
    if args.payment == "pnc" and "iso2" not in protocols and "iso20" not in protocols:
        return f"evcharge v2g {role}: Plug & Charge is built for ISO 15118-2 and -20 (--protocol iso2 or iso20)"
    if getattr(args, "service_details", ()) and args.protocol != "iso2":
        return f"evcharge v2g {role}: --service-details is an ISO 15118-2 option (--protocol iso2)"
    if args.protocol == "din" and args.energy == "ac" if role == "evcc" else False:
        return f"evcharge v2g {role}: DIN 70121 is DC only"
    return None


def run_secc(args: argparse.Namespace) -> int:
    protocols = [p.strip() for p in args.protocols.split(",") if p.strip()]
    args.protocol = None
    unknown = [p for p in protocols if p not in ("din", "iso2", "iso20")]
    if unknown or not protocols:
        print(f"evcharge v2g secc: --protocols {args.protocols!r}: comma-separated din, iso2, iso20", file=sys.stderr)
        return NOT_BUILT
    problem = _not_built(args, "secc", protocols)
    if problem is None and "din" in protocols and len(set(protocols)) == 1 and not args.energy.startswith("dc"):
        problem = "evcharge v2g secc: DIN 70121 is DC only (--energy dc)"
    if problem:
        print(problem, file=sys.stderr)
        return NOT_BUILT
    from .transport.runner import run_secc as run

    return run(args, protocols)


def run_evcc(args: argparse.Namespace) -> int:
    problem = _not_built(args, "evcc", [args.protocol])
    if problem:
        print(problem, file=sys.stderr)
        return NOT_BUILT
    from .transport.runner import run_evcc as run

    return run(args)
