"""``evcharge ocpp csms`` and ``evcharge ocpp cp`` as separate processes talking over loopback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from .pki import make_pki


def test_cli_csms_and_cp() -> None:
    csms = subprocess.Popen([sys.executable, "-m", "evcharge.cli", "ocpp", "csms", "--port", "0"],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert csms.stdout is not None
        first = json.loads(csms.stdout.readline())
        assert first["event"] == "listening"
        cp = subprocess.run(
            [sys.executable, "-m", "evcharge.cli", "ocpp", "cp", "--url", first["url"] + "ocpp", "--id", "CLI-1",
             "--versions", "1.6", "--duration", "1.5", "--heartbeat", "0.3"],
            capture_output=True, text=True, timeout=60,
        )
        assert cp.returncode == 0, cp.stderr
        results = [json.loads(line) for line in cp.stdout.splitlines()]
        assert results[0]["action"] == "BootNotification" and results[0]["payload"]["status"] == "Accepted"
        assert results[0]["version"] == "1.6"
        assert any(r["action"] == "Heartbeat" for r in results[1:])
    finally:
        csms.terminate()
        out, _ = csms.communicate(timeout=30)
    seen = [json.loads(line) for line in out.splitlines()]
    assert {"event": "connected", "identity": "CLI-1", "version": "1.6"} in seen
    boots = [s for s in seen if s.get("action") == "BootNotification"]
    assert boots and boots[0]["payload"] == {"chargePointVendor": "evcharge", "chargePointModel": "cli"}


def test_cli_profile_3(tmp_path: Path) -> None:
    pki = make_pki(tmp_path, "CLI-TLS")
    csms = subprocess.Popen(
        [sys.executable, "-m", "evcharge.cli", "ocpp", "csms", "--port", "0", "--profile", "3",
         "--cert", str(pki.server_cert), "--key", str(pki.server_key), "--ca", str(pki.ca)],
        stdout=subprocess.PIPE, text=True)
    try:
        assert csms.stdout is not None
        first = json.loads(csms.stdout.readline())
        assert first["url"].startswith("wss://")
        cp = subprocess.run(
            [sys.executable, "-m", "evcharge.cli", "ocpp", "cp", "--url", first["url"], "--id", "CLI-TLS",
             "--duration", "3.0", "--profile", "3", "--cert", str(pki.client_cert), "--key", str(pki.client_key),
             "--ca", str(pki.ca)],
            capture_output=True, text=True, timeout=60,
        )
        assert cp.returncode == 0, cp.stderr
        results = [json.loads(line) for line in cp.stdout.splitlines()]
        assert results and results[0]["action"] == "BootNotification" and results[0]["version"] == "2.0.1"
    finally:
        csms.terminate()
        csms.communicate(timeout=30)
