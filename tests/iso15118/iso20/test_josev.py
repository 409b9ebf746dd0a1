"""Interop with Josev's ISO 15118-20 (PyPI ``iso15118``, EcoG-io) on a veth pair between two network namespaces,
IPv6 link-local: our -20 EVCC against Josev's SECC and Josev's -20 EVCC against our SECC (EIM, scheduled mode).

Josev's venv, the veth pair and the process helpers are the ISO-2 interop test's
(``tests/iso15118/engines/test_josev.py``): Josev 0.31.2 in its own venv, Java 17 for its EXI codec.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ..engines.test_josev import REPO, _background, _wait_for, josev, link  # noqa: F401  (fixtures)

pytestmark = [pytest.mark.interop, pytest.mark.netns]

ALL = os.environ.get("EVCHARGE_JOSEV_ALL", "") == "1"
CASES = [
    pytest.param("dc", id="dc"),
    pytest.param("ac", id="ac", marks=pytest.mark.skipif(not ALL, reason="EVCHARGE_JOSEV_ALL=1")),
    pytest.param("dc-bpt", id="dc-bpt", marks=pytest.mark.skipif(not ALL, reason="EVCHARGE_JOSEV_ALL=1")),
]


@pytest.mark.parametrize("energy", CASES)
def test_our_evcc_against_josev_secc(josev: Path, link: dict[str, str], tmp_path: Path, energy: str) -> None:  # noqa: F811
    env = dict(
        os.environ,
        NETWORK_INTERFACE="eth0",
        AUTH_MODES="EIM",
        PROTOCOLS="ISO_15118_20_DC" if energy.startswith("dc") else "ISO_15118_20_AC",
    )
    log = tmp_path / "josev-secc.log"
    cmd = ["ip", "netns", "exec", link["secc"], str(josev / "bin" / "python"), "-m", "iso15118.secc.main"]
    with _background(cmd, log, env=env, cwd=tmp_path) as secc:
        _wait_for(log, b"UDP server started", secc, 120)
        car_json = tmp_path / "car.json"
        car = subprocess.run(
            [
                "ip",
                "netns",
                "exec",
                link["evcc"],
                sys.executable,
                "-m",
                "evcharge",
                "v2g",
                "evcc",
                "--iface",
                "eth0",
                "--protocol",
                "iso20",
                "--energy",
                energy,
                "--loops",
                "3",
                "--timeout-scale",
                "20",
                "--timeout",
                "240",
                "--json",
                str(car_json),
            ],
            capture_output=True,
            text=True,
            timeout=300,
            cwd=REPO,
        )
    detail = car.stderr + log.read_bytes()[-4000:].decode(errors="replace")
    assert car.returncode == 0, detail
    result = json.loads(car_json.read_text())
    names = [m["name"] for m in result["messages"] if m["layer"] == "v2g"]
    assert result["normal"] and names[-1] == "SessionStopRes", detail
    assert ("DC_ChargeLoopReq" if energy.startswith("dc") else "AC_ChargeLoopReq") in names
    for m in result["messages"]:
        if m["dir"] == "recv" and m["layer"] == "v2g":
            body = next(iter(m["message"].values()))
            assert body["ResponseCode"].startswith("OK"), m


JOSEV_EVCC_CONFIG = {"dc": "evcc_config_dc.json", "ac": "evcc_config_ac.json", "dc-bpt": "evcc_config_dc_bpt.json"}


@pytest.mark.parametrize("energy", CASES)
def test_josev_evcc_against_our_secc(josev: Path, link: dict[str, str], tmp_path: Path, energy: str) -> None:  # noqa: F811
    site = next((josev / "lib").glob("python3*/site-packages"))
    config = site / "iso15118" / "shared" / "examples" / "evcc" / "iso15118_20" / JOSEV_EVCC_CONFIG[energy]
    secc_json = tmp_path / "charger.json"
    charger = subprocess.Popen(
        [
            "ip",
            "netns",
            "exec",
            link["secc"],
            sys.executable,
            "-m",
            "evcharge",
            "v2g",
            "secc",
            "--iface",
            "eth0",
            "--protocols",
            "iso20",
            "--energy",
            energy,
            "--timeout",
            "240",
            "--json",
            str(secc_json),
        ],
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    log = tmp_path / "josev-evcc.log"
    try:
        assert charger.stderr is not None
        assert "listening" in charger.stderr.readline()
        env = dict(os.environ, NETWORK_INTERFACE="eth0", EVCC_CONFIG_PATH=str(config))
        with _background(
            ["ip", "netns", "exec", link["evcc"], str(josev / "bin" / "python"), "-m", "iso15118.evcc.main"],
            log,
            env=env,
            cwd=tmp_path,
        ) as car:
            rc = charger.wait(timeout=280)
            with contextlib.suppress(subprocess.TimeoutExpired):
                car.wait(timeout=10)  # Josev's -20 car keeps running after the session; the helper ends it
        assert rc == 0, charger.stderr.read() + log.read_bytes()[-4000:].decode(errors="replace")
    finally:
        if charger.poll() is None:
            charger.kill()
            charger.wait()
    (session,) = json.loads(secc_json.read_text())
    assert session["normal"] and session["protocol"] == "iso20", log.read_bytes()[-3000:].decode(errors="replace")
    names = [m["name"] for m in session["messages"] if m["layer"] == "v2g"]
    assert names[0] == "SessionSetupReq" and names[-1] == "SessionStopRes"
    for m in session["messages"]:
        if m["dir"] == "send" and m["layer"] == "v2g":
            body = next(iter(m["message"].values()))
            assert body["ResponseCode"].startswith("OK"), m
