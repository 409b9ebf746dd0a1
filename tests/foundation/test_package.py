"""The package installs, every subpackage imports on its own, the command answers honestly."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

import evcharge
from evcharge import cli

EVCHARGE = str(Path(sys.executable).with_name("evcharge"))

SUBPACKAGES = ["iec61851", "slac", "_exi", "iso15118", "ocpp", "bsp", "sim"]


@pytest.mark.parametrize("name", SUBPACKAGES)
def test_subpackage_imports_in_a_fresh_interpreter(name: str) -> None:
    code = f"import evcharge.{name} as m; assert m.__doc__"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_version_flag(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"evcharge {evcharge.__version__}"


def test_console_script_is_installed() -> None:
    out = subprocess.run([EVCHARGE, "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == f"evcharge {evcharge.__version__}"


def test_unbuilt_subcommand_says_so_and_fails(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A planned command whose module does not exist answers plainly and exits 2; it never pretends."""
    planned = ("charge-point", "evcharge.not_built_yet_module", "a command of a later release")
    monkeypatch.setattr(cli, "COMMANDS", (*cli.COMMANDS, planned))
    assert cli.main(["charge-point", "--anything"]) == cli.NOT_BUILT_EXIT
    assert "not built yet" in capsys.readouterr().err


def test_every_listed_subcommand_is_built_and_has_help() -> None:
    for name, module, _help in cli.COMMANDS:
        assert cli._load(module) is not None, f"{name}: {module} does not exist"
        out = subprocess.run([EVCHARGE, name, "--help"], capture_output=True, text=True)
        assert out.returncode == 0 and "usage: evcharge " + name in out.stdout


def test_exi_backend_is_named() -> None:
    exi = importlib.import_module("evcharge._exi")
    assert exi.BACKEND in ("cython", "python")
    forced = os.environ.get("EVCHARGE_EXI_BACKEND")
    if forced:
        assert exi.BACKEND == forced


def test_forcing_the_pure_backend() -> None:
    env = dict(os.environ, EVCHARGE_EXI_BACKEND="python")
    out = subprocess.run(
        [sys.executable, "-c", "import evcharge._exi as e; print(e.BACKEND, e.runtime.COMPILED)"],
        env=env, capture_output=True, text=True, check=True,
    )
    assert out.stdout.split() == ["python", "False"]


def test_compiled_backend_is_built_in_ci() -> None:
    """CI installs with a compiler: the compiled runtime must be there and be the one loaded."""
    if not os.environ.get("CI"):
        pytest.skip("only asserted in CI, where the build has a C compiler")
    env = {k: v for k, v in os.environ.items() if k != "EVCHARGE_EXI_BACKEND"}
    out = subprocess.run(
        [sys.executable, "-c", "import evcharge._exi as e; print(e.BACKEND, e.runtime.COMPILED)"],
        env=env, capture_output=True, text=True, check=True,
    )
    assert out.stdout.split() == ["cython", "True"]
