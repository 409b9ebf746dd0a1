"""``evcharge simulate --csms-url`` against ``evcharge csms``: the simulated station's whole session is stored."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

EVCHARGE = str(Path(sys.executable).parent / "evcharge")


@pytest.mark.parametrize("version", ["2.0.1", "1.6"])
def test_simulate_against_evcharge_csms(tmp_path: Path, version: str) -> None:
    csms = subprocess.Popen([EVCHARGE, "csms", "--port", "0", "--admin-port", "0", "--db", str(tmp_path / "c.db"),
                             "--accept-unknown-tokens"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert csms.stdout is not None
        urls = json.loads(csms.stdout.readline())
        log = tmp_path / "log.json"
        sim = subprocess.run([EVCHARGE, "simulate", "--time-scale", "400", "--duration", "5m", "--ocpp", version,
                              "--csms-url", urls["ws"] + "ocpp", "--json", str(log), "--quiet",
                              "--drain-timeout", "15"], capture_output=True, text=True, timeout=150)
        assert sim.returncode == 0, sim.stdout + sim.stderr
        doc = json.loads(log.read_text())
        with urllib.request.urlopen(urls["admin"] + "transactions", timeout=20) as resp:
            txs = json.loads(resp.read())
    finally:
        csms.terminate()
        csms.communicate(timeout=30)
    [started] = [e for e in doc["events"] if e["type"] == "transaction_started"]
    [tx] = txs
    assert tx["station_id"] == "SIM001" and tx["ended_at"] is not None and tx["stop_reason"]
    if version == "2.0.1":
        assert tx["transaction_id"] == started["transaction_id"]
    assert tx["energy_wh"] > 0
