"""The ``evcharge`` command.

Each subcommand lives in the package it belongs to, as a module with two functions:
``configure(parser: argparse.ArgumentParser) -> None`` and ``run(args: argparse.Namespace) -> int``.
Such a module imports its optional dependencies inside ``run`` so that ``evcharge --help`` works
with any set of extras installed.  A subcommand whose module does not exist yet says so and exits
with status 2: it never pretends to work.

A command-line user gets one line on standard error and a non-zero exit status for every failure, never
a traceback: a subcommand raises :class:`CommandError` (the line and the status) for what it can name, and
:func:`evcharge.cli.main` turns the library's own errors (:class:`~evcharge.errors.MissingDependencyError`,
:class:`~evcharge.errors.EvchargeError`, :class:`OSError`) into such a line too.  The exit statuses are the
same for every command and are listed at the end of every ``--help``:

====== =====================================================================================
status meaning
====== =====================================================================================
0      done
1      the work ran but failed (a simulated session did not end as expected, a decode failed)
2      bad input: an option, a value, a file (the line says which, and what to give instead)
3      an optional dependency is missing (the line names the extra to install)
4      could not connect or listen (refused, unresolvable, TLS, rejected credentials, port in use)
130    interrupted (Ctrl-C)
====== =====================================================================================

The ``*_arg`` helpers below are ``type=`` functions for :mod:`argparse` that refuse a bad value before any
work starts.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from types import ModuleType
from typing import NoReturn

from evcharge import __version__
from evcharge.errors import EvchargeError, MissingDependencyError

__all__ = [
    "EXIT_CONNECTION",
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_MISSING_DEPENDENCY",
    "EXIT_OK",
    "EXIT_USAGE",
    "CommandError",
    "float_range_arg",
    "host_arg",
    "identity_arg",
    "main",
    "output_file_arg",
    "port_arg",
    "readable_file_arg",
]

#: (subcommand, module, one-line help)
COMMANDS: tuple[tuple[str, str, str], ...] = (
    ("simulate", "evcharge.sim.cli", "run a simulated charging session: AC, or ISO 15118 DC and AC with --hlc"
                                     " (charger, car and CSMS on this machine)"),
    ("slac", "evcharge.slac.cli", "run SLAC (ISO 15118-3) as EVSE or PEV on a network interface"),
    ("exi", "evcharge.iso15118.cli", "encode and decode V2G EXI messages"),
    ("ocpp", "evcharge.ocpp.cli", "run an OCPP charge point or CSMS"),
    ("yeti", "evcharge.bsp.cli", "talk to a Yeti power board or run its simulator"),
    ("v2g", "evcharge.iso15118.v2g_cli", "run an ISO 15118 / DIN 70121 charger (SECC) or car (EVCC); make a test PKI"),
    ("csms", "evcharge.csms.cli", "run a reference OCPP CSMS to test a charger against"),
)

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_MISSING_DEPENDENCY = 3
EXIT_CONNECTION = 4
EXIT_INTERRUPTED = 130
NOT_BUILT_EXIT = EXIT_USAGE

EXIT_STATUS_HELP = (
    "exit status: 0 done; 1 the work ran but failed; 2 bad input (the message says which option or value, and "
    "what to give instead); 3 an optional dependency is missing (the message names the extra to install); "
    "4 could not connect or listen (refused, unresolvable, TLS, rejected credentials, port in use); "
    "130 interrupted."
)


class CommandError(EvchargeError):
    """A failure the user can act on: ``message`` is the one line printed (after ``evcharge COMMAND:``),
    ``status`` the exit status (see the module docstring)."""

    def __init__(self, message: str, status: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.status = status


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line: what is wrong, and where the help is."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: {message} (see {self.prog} --help)\n")


# ---------------------------------------------------------------------------------------------- argument types


def port_arg(text: str) -> int:
    """A TCP port, 0 ... 65535 (0: any free port)."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r} (give 0 ... 65535)") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port {port} is out of range (give 0 ... 65535; 0 picks a free port)")
    return port


def host_arg(text: str) -> str:
    """A host name or address to listen on; an empty name is refused."""
    if not text.strip():
        raise argparse.ArgumentTypeError("an empty host (give an address such as 127.0.0.1 or 0.0.0.0)")
    return text


_IDENTIFIER_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789*-_=:+|@.")


def identity_arg(text: str) -> str:
    """A charging station identity: OCPP 2.0.1's identifierString, 1 ... 48 characters of ``A-Z a-z 0-9 * - _ = :
    + | @ .`` (``:`` is refused with basic auth, where it separates the user name from the password)."""
    bad = sorted(set(text) - _IDENTIFIER_CHARS)
    if not text or len(text) > 48 or bad:
        why = "empty" if not text else (f"{len(text)} characters" if len(text) > 48 else f"has {''.join(bad)!r}")
        raise argparse.ArgumentTypeError(f"not a charging station identity: {text!r} is {why} "
                                         "(give 1 ... 48 of A-Z a-z 0-9 * - _ = : + | @ .)".replace(" is has", " has"))
    return text


def float_range_arg(low: float | None, high: float | None, *, what: str = "value") -> Callable[[str], float]:
    """A ``type=`` function accepting a number within ``[low, high]`` (``None``: unbounded)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if value != value or (low is not None and value < low) or (high is not None and value > high):
            if low is not None and high is not None:
                allowed = f"{low:g} ... {high:g}"
            elif low is not None:
                allowed = f"at least {low:g}"
            else:
                allowed = f"at most {high:g}"
            raise argparse.ArgumentTypeError(f"{what} {text} is out of range (give {allowed})")
        return value

    return parse


def readable_file_arg(text: str) -> str:
    """A file that exists and can be read (certificates, keys, inputs)."""
    if not os.path.exists(text):
        raise argparse.ArgumentTypeError(f"no such file: {text}")
    if os.path.isdir(text):
        raise argparse.ArgumentTypeError(f"{text} is a directory, not a file")
    if not os.access(text, os.R_OK):
        raise argparse.ArgumentTypeError(f"cannot read {text} (permission denied)")
    return text


def output_file_arg(*suffixes: str, allow_stdout: bool = False) -> Callable[[str], str]:
    """A ``type=`` function for an output file: its folder exists and is writable, and its name ends in one of
    ``suffixes`` (when given), so that a result is never lost at the end of a long run."""

    def parse(text: str) -> str:
        if allow_stdout and text == "-":
            return text
        if os.path.isdir(text):
            raise argparse.ArgumentTypeError(f"{text} is a directory: give a file name")
        if suffixes and not text.lower().endswith(tuple(s.lower() for s in suffixes)):
            raise argparse.ArgumentTypeError(
                f"{text}: the file name must end in {' or '.join(suffixes)} (that is the format written)")
        folder = os.path.dirname(os.path.abspath(text))
        if not os.path.isdir(folder):
            raise argparse.ArgumentTypeError(f"{text}: the folder {folder} does not exist")
        if not os.access(folder, os.W_OK) or (os.path.exists(text) and not os.access(text, os.W_OK)):
            raise argparse.ArgumentTypeError(f"{text}: cannot write there (permission denied)")
        return text

    return parse


# ---------------------------------------------------------------------------------------------- the command


class _Broken:
    """Stands for a subcommand module that failed to import: the other commands and ``--help`` still work, and
    the command itself says what is wrong."""

    def __init__(self, error: BaseException) -> None:
        self.error = error

    def configure(self, parser: argparse.ArgumentParser) -> None:
        """Any arguments: the command says what is wrong with it instead."""

    def run(self, args: argparse.Namespace) -> int:
        if isinstance(self.error, MissingDependencyError):
            raise self.error
        raise CommandError(f"cannot load this command ({type(self.error).__name__}: {self.error}); "
                           "reinstall evcharge or report it", EXIT_FAILED)


def _load(module: str) -> ModuleType | _Broken | None:
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name is not None and (module == exc.name or module.startswith(exc.name + ".")):
            return None  # the module (or its package) does not exist yet
        return _Broken(exc)
    except Exception as exc:
        return _Broken(exc)


def _add_epilog(parser: argparse.ArgumentParser) -> None:
    """The exit statuses at the end of this parser's and every nested parser's ``--help``."""
    if not parser.epilog:
        parser.epilog = EXIT_STATUS_HELP
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                _add_epilog(child)


def _exists(module: str) -> bool:
    """Whether an ``evcharge.*`` module's file is there, without importing its packages (some are heavy)."""
    base = os.path.dirname(os.path.abspath(__file__))
    parts = module.split(".")[1:]
    path = os.path.join(base, *parts)
    return os.path.isfile(path + ".py") or os.path.isfile(os.path.join(path, "__init__.py"))


def build_parser(commands: Iterable[str] | None = None
                 ) -> tuple[argparse.ArgumentParser, dict[str, ModuleType | _Broken | None]]:
    """The ``evcharge`` parser; only the subcommands in ``commands`` (default: all) are imported and configured, the
    others are listed by name (importing every stack costs a second at each start)."""
    wanted = None if commands is None else set(commands)
    parser = _Parser(
        prog="evcharge",
        description="evcharge: the protocol stacks inside an EV charger, and a simulated charging session.",
    )
    parser.add_argument("--version", action="version", version=f"evcharge {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    modules: dict[str, ModuleType | _Broken | None] = {}
    for name, module_name, help_text in COMMANDS:
        if wanted is not None and name not in wanted:
            built = _exists(module_name)
            sub.add_parser(name, help=help_text if built else f"{help_text} [not built yet]", description=help_text)
            continue
        module = _load(module_name)
        modules[name] = module
        sp = sub.add_parser(name, help=help_text if module else f"{help_text} [not built yet]", description=help_text)
        if module is not None:
            module.configure(sp)
    _add_epilog(parser)
    return parser, modules


def _describe_os_error(exc: OSError) -> str:
    text = exc.strerror or str(exc) or type(exc).__name__
    if exc.filename is not None:
        text = f"{exc.filename}: {text}"
    return text


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``evcharge`` with ``argv`` (default: the process's arguments); return the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    names = {name for name, _, _ in COMMANDS}
    requested = next((a for a in argv if not a.startswith("-")), None)
    parser, modules = build_parser([requested] if requested in names else [])
    args, extra = parser.parse_known_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_OK
    module = modules[args.command]
    if module is not None and not isinstance(module, _Broken) and extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    name = f"evcharge {args.command}"
    if module is None:
        print(f"{name}: not built yet in evcharge {__version__}. "
              "See the package table in the README for what is available.", file=sys.stderr)
        return NOT_BUILT_EXIT
    try:
        result: int = module.run(args)
    except CommandError as exc:
        print(f"{name}: {exc}", file=sys.stderr)
        return exc.status
    except MissingDependencyError as exc:
        print(f"{name}: {exc}", file=sys.stderr)
        return EXIT_MISSING_DEPENDENCY
    except KeyboardInterrupt:
        print(f"\n{name}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except EvchargeError as exc:
        print(f"{name}: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except OSError as exc:
        print(f"{name}: {_describe_os_error(exc)}", file=sys.stderr)
        return EXIT_FAILED
    except Exception as exc:  # a bug: still one line, but one that says so
        print(f"{name}: internal error, please report it: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_FAILED
    return result


def _entry() -> None:  # pragma: no cover - console script shim
    sys.exit(main())


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
