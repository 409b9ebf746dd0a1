"""``evcharge ocpp csms`` and ``evcharge ocpp cp`` as separate processes talking over loopback."""

from __future__ import annotations

import json
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .pki import make_pki

#: a ceiling, not a budget: the tests wait for the messages themselves and stop as soon as they have them (a
#: loaded machine needs seconds for a TLS handshake and a boot, an idle one a fraction of a second)
CEILING = 45.0


def _run_cp_until(args: list[str], done: Callable[[list[dict[str, Any]]], bool]
                  ) -> tuple[int, list[dict[str, Any]], str]:
    """Run ``evcharge ocpp cp`` until its JSON lines satisfy ``done`` (or CEILING passes), then interrupt it.

    Returns the exit status, the JSON lines and stderr."""
    cp = subprocess.Popen([sys.executable, "-m", "evcharge.cli", "ocpp", "cp", *args],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        assert cp.stdout is not None
        for line in cp.stdout:
            lines.put(line)
        lines.put(None)

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    results: list[dict[str, Any]] = []
    deadline = time.monotonic() + CEILING
    try:
        while not done(results):
            try:
                line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            if line is None:  # the command ended by itself
                break
            results.append(json.loads(line))
    finally:
        if cp.poll() is None:
            cp.send_signal(signal.SIGINT)  # Ctrl-C: the command stops and says so with its exit status
        try:
            _, err = cp.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            cp.kill()
            _, err = cp.communicate()
        reader.join(timeout=5)
    while not lines.empty():  # what it printed while stopping
        if (line := lines.get_nowait()) is not None:
            results.append(json.loads(line))
    return cp.returncode, results, err


def test_cli_csms_and_cp() -> None:
    csms = subprocess.Popen([sys.executable, "-m", "evcharge.cli", "ocpp", "csms", "--port", "0"],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert csms.stdout is not None
        first = json.loads(csms.stdout.readline())
        assert first["event"] == "listening"
        rc, results, err = _run_cp_until(
            ["--url", first["url"] + "ocpp", "--id", "CLI-1", "--versions", "1.6", "--heartbeat", "0.3"],
            lambda results: any(r.get("action") == "Heartbeat" for r in results),
        )
        assert rc == 130, err  # interrupted once it had booted and sent a heartbeat (not a failure of its own)
        assert results, err
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
        rc, results, err = _run_cp_until(
            ["--url", first["url"], "--id", "CLI-TLS", "--profile", "3", "--cert", str(pki.client_cert),
             "--key", str(pki.client_key), "--ca", str(pki.ca)],
            lambda results: any(r.get("action") == "BootNotification" for r in results),
        )
        assert rc == 130, err
        assert results and results[0]["action"] == "BootNotification" and results[0]["version"] == "2.0.1"
        assert results[0]["payload"]["status"] == "Accepted"
    finally:
        csms.terminate()
        csms.communicate(timeout=30)
