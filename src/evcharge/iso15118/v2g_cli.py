"""``evcharge v2g``: run an SECC or an EVCC, or make a test PKI.

    evcharge v2g pki --out DIR        # the whole ISO 15118-2 and -20 test PKI (V2G, CPO, OEM, MO chains)
    evcharge v2g secc ...             # a charger (the protocol engines' command)
    evcharge v2g evcc ...             # a car

``secc`` and ``evcc`` live in :mod:`evcharge.iso15118.engines.cli` (functions ``configure_secc``,
``run_secc``, ``configure_evcc``, ``run_evcc``); while that module is missing they answer
"not built yet" with exit status 2.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from types import ModuleType

NOT_BUILT_EXIT = 2
_ENGINES_CLI = "evcharge.iso15118.engines.cli"


def _engines_cli() -> ModuleType | None:
    try:
        return importlib.import_module(_ENGINES_CLI)
    except ModuleNotFoundError as exc:
        if exc.name in (_ENGINES_CLI, "evcharge.iso15118.engines"):
            return None
        raise


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="v2g_command", metavar="ACTION", required=True)
    pki = sub.add_parser("pki", help="write a test PKI for ISO 15118-2 and -20 (V2G, CPO, OEM, MO chains)",
                         description="Write the whole test PKI of ISO 15118-2 and -20 into a folder: "
                                     "certificates (PEM and DER), private keys (PEM), and the chains.")
    pki.add_argument("--out", required=True, type=_output_folder, metavar="DIR",
                     help="the folder to write (created if missing)")
    pki.add_argument("--emaid", default="NL-TNM-000122045-U", help="the eMAID of the contract certificate")
    pki.add_argument("--evcc-id", default="WMIV1234567890ABCDEX", help="the vehicle's id (OEM leaf CN)")
    pki.add_argument("--secc-id", default="DE*ABC*E1234567*1", help="the EVSE id (SECC leaf CN)")
    pki.add_argument("--days", type=_positive_days, default=365, help="validity of the leaf certificates in days")
    pki.add_argument("--force", action="store_true", help="overwrite files in a folder that is not empty")
    engines = _engines_cli()
    for role in ("secc", "evcc"):
        what = "a charger (SECC)" if role == "secc" else "a car (EVCC)"
        if engines is None:
            sp = sub.add_parser(role, help=f"run {what} [not built yet]", add_help=False, prefix_chars="\x01")
            sp.add_argument("rest", nargs=argparse.REMAINDER)
        else:
            sp = sub.add_parser(role, help=f"run {what}")
            getattr(engines, f"configure_{role}")(sp)


def run(args: argparse.Namespace) -> int:
    if args.v2g_command == "pki":
        return _run_pki(args)
    engines = _engines_cli()
    if engines is None:
        print(f"evcharge v2g {args.v2g_command}: not built yet (the protocol engines are missing)", file=sys.stderr)
        return NOT_BUILT_EXIT
    result: int = getattr(engines, f"run_{args.v2g_command}")(args)
    return result


def _output_folder(text: str) -> str:
    """An output folder: a folder, or a name that can be created (its nearest existing parent is a writable
    folder)."""
    if os.path.exists(text) and not os.path.isdir(text):
        raise argparse.ArgumentTypeError(f"{text} is a file: give a folder to write the PKI into")
    existing = os.path.abspath(text)
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        raise argparse.ArgumentTypeError(f"{text}: {existing} is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise argparse.ArgumentTypeError(f"{text}: cannot write in {existing} (permission denied)")
    return text


def _positive_days(text: str) -> int:
    try:
        days = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of days") from None
    if days < 1:
        raise argparse.ArgumentTypeError("the validity must be at least one day")
    return days


def _run_pki(args: argparse.Namespace) -> int:
    """Missing ``cryptography`` and unwritable folders reach :func:`evcharge.cli.main`, which prints one
    line (exit 3, 1); a folder that is not empty is bad input (exit 2)."""
    from evcharge.cli import CommandError
    from evcharge.iso15118.security.pki import PkiOptions, write_pki

    try:
        written = write_pki(
            args.out,
            PkiOptions(emaid=args.emaid, evcc_id=args.evcc_id, secc_id=args.secc_id, leaf_days=args.days),
            overwrite=args.force,
        )
    except ValueError as exc:
        raise CommandError(str(exc)) from exc
    print(f"wrote {len(written)} files to {args.out}")
    return 0
