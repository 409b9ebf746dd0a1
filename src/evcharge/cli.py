"""The ``evcharge`` command.

Each subcommand lives in the package it belongs to, as a module with two functions:
``configure(parser: argparse.ArgumentParser) -> None`` and ``run(args: argparse.Namespace) -> int``.
Such a module imports its optional dependencies inside ``run`` so that ``evcharge --help`` works
with any set of extras installed.  A subcommand whose module does not exist yet says so and exits
with status 2: it never pretends to work.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from types import ModuleType

from evcharge import __version__

#: (subcommand, module, one-line help)
COMMANDS: tuple[tuple[str, str, str], ...] = (
    ("simulate", "evcharge.sim.cli", "run a simulated AC charging session (charger, car and CSMS on this machine)"),
    ("slac", "evcharge.slac.cli", "run SLAC (ISO 15118-3) as EVSE or PEV on a network interface"),
    ("exi", "evcharge.iso15118.cli", "encode and decode V2G EXI messages"),
    ("ocpp", "evcharge.ocpp.cli", "run an OCPP charge point or CSMS"),
    ("yeti", "evcharge.bsp.cli", "talk to a Yeti power board or run its simulator"),
    ("v2g", "evcharge.iso15118.v2g_cli", "run an ISO 15118 / DIN 70121 charger (SECC) or car (EVCC); make a test PKI"),
    ("csms", "evcharge.csms.cli", "run a reference OCPP CSMS to test a charger against"),
)

NOT_BUILT_EXIT = 2


def _load(module: str) -> ModuleType | None:
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name == module:
            return None
        raise


def build_parser() -> tuple[argparse.ArgumentParser, dict[str, ModuleType | None]]:
    parser = argparse.ArgumentParser(
        prog="evcharge",
        description="evcharge: the protocol stacks inside an EV charger, and a simulated charging session.",
    )
    parser.add_argument("--version", action="version", version=f"evcharge {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    modules: dict[str, ModuleType | None] = {}
    for name, module_name, help_text in COMMANDS:
        module = _load(module_name)
        modules[name] = module
        sp = sub.add_parser(name, help=help_text if module else f"{help_text} [not built yet]", description=help_text)
        if module is not None:
            module.configure(sp)
    return parser, modules


def main(argv: Sequence[str] | None = None) -> int:
    parser, modules = build_parser()
    args, extra = parser.parse_known_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    module = modules[args.command]
    if module is not None and extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if module is None:
        print(
            f"evcharge {args.command}: not built yet in evcharge {__version__}. "
            "See the package table in the README for what is available.",
            file=sys.stderr,
        )
        return NOT_BUILT_EXIT
    result: int = module.run(args)
    return result


def _entry() -> None:  # pragma: no cover - console script shim
    sys.exit(main())


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
