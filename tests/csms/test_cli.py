"""``evcharge csms`` as its own process: a station connects with ``evcharge ocpp cp``, the admin API sees it."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from pathlib import Path

# the console script (under ``python -m evcharge.cli`` the command's CommandError is another module's class)
EVCHARGE = str(Path(sys.executable).parent / "evcharge")


def _evcharge(*args: str, **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([EVCHARGE, *args], capture_output=True, text=True, timeout=60,
                          **kw)  # type: ignore[call-overload,no-any-return]


def test_csms_command_serves_a_station(tmp_path: Path) -> None:
    csms = subprocess.Popen([EVCHARGE, "csms", "--port", "0", "--admin-port", "0",
                             "--db", str(tmp_path / "cli.db"), "--trace"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert csms.stdout is not None
        first = json.loads(csms.stdout.readline())
        assert first["event"] == "listening" and first["ws"].startswith("ws://")
        cp = _evcharge("ocpp", "cp", "--url", first["ws"] + "ocpp", "--id", "CLI-CS", "--versions", "1.6",
                       "--duration", "3", "--heartbeat", "0.5")
        assert cp.returncode == 0, cp.stderr
        results = [json.loads(line) for line in cp.stdout.splitlines()]
        assert results[0]["action"] == "BootNotification" and results[0]["payload"]["status"] == "Accepted"
        with urllib.request.urlopen(first["admin"] + "stations", timeout=20) as resp:
            stations = json.loads(resp.read())
        assert [(s["id"], s["ocpp_version"], s["vendor"]) for s in stations] == [("CLI-CS", "1.6", "evcharge")]
    finally:
        csms.terminate()
        out, err = csms.communicate(timeout=30)
    frames = [json.loads(line) for line in out.splitlines()]  # what followed the "listening" line
    actions = [json.loads(f["frame"])[2] for f in frames if f["direction"] == "in" and f["frame"].startswith("[2,")]
    assert actions[0] == "BootNotification" and "Heartbeat" in actions
    assert "Traceback" not in err


def test_csms_command_errors_are_one_line(tmp_path: Path) -> None:
    bad = _evcharge("csms", "--tls-port", "0", "--port", "0", "--admin-port", "0", "--db", str(tmp_path / "x.db"))
    assert bad.returncode == 2 and bad.stderr.strip() == "evcharge csms: --tls-port needs --cert and --key"
    unreachable = _evcharge("csms", "--port", "0", "--admin-port", "0", "--db", "postgresql://nobody@127.0.0.1:1/x")
    assert unreachable.returncode == 4, unreachable.stderr
    assert len(unreachable.stderr.strip().splitlines()) == 1 and "Traceback" not in unreachable.stderr
