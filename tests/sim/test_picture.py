"""What ``evcharge simulate`` shows a person (issue 13): the fault named in the summary and on the console, the
offline outage with its queued and replayed messages, a progress header and a line at least once per wall second,
a partial summary on Ctrl-C, and a plot with the scenario in the title, labelled events and the CSMS limit drawn."""

from __future__ import annotations

import itertools
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from evcharge.sim.record import EventLog


def simulate(tmp_path: Path, *args: str) -> tuple[int, str, str, dict[str, Any]]:
    log = tmp_path / "log.json"
    proc = subprocess.run([sys.executable, "-m", "evcharge", "simulate", "--time-scale", "400", "--duration", "5m",
                           "--json", str(log), *args], capture_output=True, text=True, timeout=150)
    return proc.returncode, proc.stdout, proc.stderr, json.loads(log.read_text()) if log.exists() else {}


@pytest.fixture(scope="module")
def rcd(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, str, str, dict[str, Any]]:
    return simulate(tmp_path_factory.mktemp("rcd"), "--scenario", "rcd-fault")


@pytest.fixture(scope="module")
def limit(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, str, str, dict[str, Any]]:
    return simulate(tmp_path_factory.mktemp("limit"), "--scenario", "limit-change", "--limit", "10")


def test_the_fault_is_named_in_the_summary_and_on_the_console(rcd: tuple[int, str, str, dict[str, Any]]) -> None:
    status, out, err, doc = rcd
    assert status == 0, out + err
    (trip,) = [e for e in doc["events"] if e["type"] == "board_error"]
    assert trip["error"] == "MREC2GroundFailure"
    assert re.search(r"^  fault +RCD tripped \(residual current\) at 0:\d\d:\d\d; relays opened \d\.\d s later",
                     out, re.M), out
    assert re.search(r"^  -- \d:\d\d:\d\d  FAULT: RCD tripped", err, re.M), err
    assert doc["summary"]["faults"] and doc["summary"]["scenario"] == "rcd-fault"
    # the unplug that follows is a separate, later notice: the fault does not look like an unplug
    assert err.index("FAULT: RCD tripped") < err.index("the cable is pulled")


def test_the_offline_summary_counts_queued_and_replayed(tmp_path: Path) -> None:
    status, out, err, doc = simulate(tmp_path, "--scenario", "offline", "--quiet")
    assert status == 0, out + err
    offline = doc["summary"]["offline"]
    tx = doc["csms"]["transactions"][0]
    assert offline["outages"] == 1 and offline["down_s"] > 0
    assert offline["queued"] >= 1
    assert offline["replayed"] == offline["queued"]  # nothing left behind (the run passed)
    # OCPP 2.0.1 marks each transaction message sent from the queue offline=true: the CSMS saw them as such
    assert offline["marked_offline"] == tx["offline_messages"] >= 1
    assert (f"{offline['queued']} messages queued offline, {offline['replayed']} replayed on reconnect"
            in out)


def test_progress_has_a_header_and_a_line_every_wall_second() -> None:
    # at 60x the old line came once per simulated minute (a line per second here anyway); at 10x once per 6 s
    proc = subprocess.Popen([sys.executable, "-m", "evcharge", "simulate", "--time-scale", "10", "--duration", "1m"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    stamps: list[float] = []
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 6.0
        while time.monotonic() < deadline:
            line = proc.stderr.readline()
            if not line:
                break
            lines.append(line)
            if re.match(r"^ *\d:\d\d:\d\d  ", line):
                stamps.append(time.monotonic())
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=30)
    assert lines[1].startswith("sim time  pilot  current"), lines[:3]  # after the one-line announcement
    assert "pilot: IEC 61851 state" in lines[1]
    assert len(stamps) >= 4, lines
    gaps = [b - a for a, b in itertools.pairwise(stamps)]
    assert max(gaps) < 1.6, gaps
    assert not any("?" in line for line in lines)


def test_ctrl_c_prints_what_ran_so_far() -> None:
    proc = subprocess.Popen([sys.executable, "-m", "evcharge", "simulate", "--time-scale", "20", "--duration", "10m"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert proc.stderr is not None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # wait until energy flows
        line = proc.stderr.readline()
        if " C2 " in line and " 0.000 kWh" not in line:
            break
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "interrupted at" in err
    assert "session summary (normal): PARTIAL, interrupted" in out
    energy = re.search(r"energy delivered +([\d.]+) kWh|energy delivered +-", out)
    assert energy is not None
    assert "Traceback" not in err


def test_the_plot_says_what_happened(rcd: tuple[int, str, str, dict[str, Any]],
                                     limit: tuple[int, str, str, dict[str, Any]]) -> None:
    pytest.importorskip("matplotlib")
    from evcharge.sim.plot import figure

    _, _, _, doc = rcd
    fig = figure(EventLog(doc["events"]), scenario="rcd-fault", charger_current=16.0)
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert fig.axes[0].get_title() == "evcharge simulate: scenario rcd-fault"
    assert any("FAULT: RCD tripped" in t for t in texts)
    assert any("the cable is pulled" in t for t in texts)

    status, out, err, doc = limit
    assert status == 0, out + err
    fig = figure(EventLog(doc["events"]), scenario="limit-change", charger_current=16.0)
    (offered,) = [line for line in fig.axes[0].lines if line.get_label().startswith("offered")]
    ys = list(offered.get_ydata())
    assert ys[0] == 16.0 and ys[-1] == 10.0  # the charger's maximum, then the CSMS's 10 A limit
    assert any(t.get_text() == "limit 10 A" for t in fig.axes[0].texts)
    assert fig.axes[0].get_title() == "evcharge simulate: scenario limit-change"


def test_the_plot_path_is_checked_before_the_session(tmp_path: Path) -> None:
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "evcharge", "simulate", "--plot", str(tmp_path / "x" / "a.png")],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "does not exist" in proc.stderr
    assert time.monotonic() - start < 10
