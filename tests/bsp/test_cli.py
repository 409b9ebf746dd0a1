"""``evcharge yeti``: the simulator on a pty in a subprocess, the monitor and the RFID reader against it."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest

from evcharge.cli import main

pytest.importorskip("serial")


@pytest.fixture
def simulator() -> Iterator[subprocess.Popen[str]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "evcharge", "yeti", "simulate", "--pty", "--duration", "60"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    yield proc
    if proc.poll() is None:
        assert proc.stdin is not None
        proc.stdin.write("quit\n")
        proc.stdin.flush()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def ask(proc: subprocess.Popen[str], line: str) -> str:
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(line + "\n")
    proc.stdin.flush()
    return proc.stdout.readline().strip()


def test_simulate_and_monitor(simulator: subprocess.Popen[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert simulator.stdout is not None
    port = simulator.stdout.readline().strip()
    assert port.startswith("/dev/")
    assert ask(simulator, "plug") == "ok"
    assert main(["yeti", "monitor", "--port", port, "--duration", "2"]) == 0
    out = capsys.readouterr().out
    assert "BoardReady" in out and "firmware_version='2.0-1-g2d51638'" in out
    assert "PilotStateChanged(state=<PilotState.B" in out
    status = ask(simulator, "status")
    assert status.startswith("cp=STATE_B ")
    assert ask(simulator, "bogus").startswith("unknown command")


def test_monitor_refuses_old_firmware(capsys: pytest.CaptureFixture[str]) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "evcharge", "yeti", "simulate", "--pty", "--duration", "30", "--firmware", "1.2"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        port = proc.stdout.readline().strip()
        assert main(["yeti", "monitor", "--port", port, "--duration", "5"]) == 1
        assert "'1.2' is not supported" in capsys.readouterr().err
    finally:
        proc.kill()
        proc.wait()


def test_rfid_against_the_pn532_simulator(capsys: pytest.CaptureFixture[str]) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "evcharge", "yeti", "rfid-simulate", "--pty", "--card", "04a2b3c4d5e680",
         "--duration", "30"],
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        port = proc.stdout.readline().strip()
        assert main(["yeti", "rfid", "--port", port, "--duration", "2"]) == 0
        assert "card 04A2B3C4D5E680" in capsys.readouterr().out
    finally:
        proc.kill()
        proc.wait()


def test_no_action(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["yeti"]) == 2
    assert "choose an action" in capsys.readouterr().err
