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


# -- one TLS port: Josev's -20 car (TLS 1.3) and Josev's ISO-2 car (TLS 1.2) against one port of ours -----------


def _josev_pki(tree: Path, theirs: Path) -> Path:
    """Our PKI tree ``tree`` in Josev's layout (``PKI_PATH/iso15118_2/...``, the only folder it reads)."""
    import shutil

    from ..engines.test_josev import _JOSEV_NAMES

    certs, keys = theirs / "iso15118_2" / "certs", theirs / "iso15118_2" / "private_keys"
    certs.mkdir(parents=True)
    keys.mkdir(parents=True)
    for name, josev_name in _JOSEV_NAMES.items():
        for ext in ("der", "pem"):
            shutil.copy(tree / f"{name}.{ext}", certs / f"{josev_name}Cert.{ext}")
        shutil.copy(tree / f"{name}.key.pem", keys / f"{josev_name}.key")
    shutil.copy(tree / "secc_chain.pem", certs / "cpoCertChain.pem")
    shutil.copy(tree / "oem_prov_chain.pem", certs / "oemCertChain.pem")
    for name in ("seccLeaf", "oemLeaf", "contractLeaf", "cpsLeaf", "moSubCA2Leaf"):
        (keys / f"{name}Password.txt").write_text("")  # our keys are not encrypted
    return theirs


def test_josev_iso20_and_iso2_evccs_against_one_tls_port(josev: Path, link: dict[str, str], tmp_path: Path) -> None:  # noqa: F811
    """``evcharge v2g secc --tls --protocols iso2,iso20``, two Josev cars at once: the -20 one (ENABLE_TLS_1_3: it
    offers TLS 1.3 and 1.2 and presents its OEM chain) gets TLS 1.3 with the -20 PKI and a -20 session, the ISO-2 one
    (TLS 1.2 only) TLS 1.2 with the -2 PKI and an ISO-2 session, on the same port of the same charger process."""
    from evcharge.iso15118.security.pki import PkiOptions, write_pki

    ours = tmp_path / "pki"
    write_pki(ours, PkiOptions(trees=("iso2", "iso20")))
    cars = [
        ("ISO_15118_20_DC", {"ENABLE_TLS_1_3": "true"}, _josev_pki(ours / "iso20", tmp_path / "josev-pki-20")),
        ("ISO_15118_2", {"ENABLE_TLS_1_3": "false"}, _josev_pki(ours / "iso2", tmp_path / "josev-pki-2")),
    ]
    secc_json = tmp_path / "charger.json"
    cmd = ["ip", "netns", "exec", link["secc"], sys.executable, "-m", "evcharge", "v2g", "secc", "--iface", "eth0"]
    tls = ["--protocols", "iso2,iso20", "--tls", "--pki", str(ours)]
    charger = subprocess.Popen(
        [*cmd, *tls, "--sessions", "2", "--timeout", "280", "--json", str(secc_json)],
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    logs = [tmp_path / f"josev-evcc{i}.log" for i in range(len(cars))]
    detail = ""
    try:
        assert charger.stderr is not None
        assert "listening" in charger.stderr.readline()
        with contextlib.ExitStack() as stack:  # both cars at once, each its own process in the car's namespace
            for i, (protocol, tls_env, josev_pki) in enumerate(cars):
                config = tmp_path / f"evcc{i}.json"
                settings: dict[str, object] = {
                    "supportedProtocols": [protocol],
                    "supportedEnergyServices": ["DC"],
                    "isCertInstallNeeded": False,
                    "useTls": True,
                }
                if protocol == "ISO_15118_2":
                    settings.update(energyTransferMode="DC_extended", chargeLoopCycle=5)
                config.write_text(json.dumps(settings))
                env = dict(
                    os.environ,
                    NETWORK_INTERFACE="eth0",
                    EVCC_CONFIG_PATH=str(config),
                    PKI_PATH=str(josev_pki) + "/",
                    **tls_env,
                )
                josev_car = ["ip", "netns", "exec", link["evcc"], str(josev / "bin" / "python"), "-m"]
                stack.enter_context(_background([*josev_car, "iso15118.evcc.main"], logs[i], env=env, cwd=tmp_path))
            rc = charger.wait(timeout=280)  # the charger ends after its two sessions; the helper ends the cars
        detail = "".join(log.read_bytes()[-3000:].decode(errors="replace") for log in logs)
        assert rc == 0, charger.stderr.read() + detail
    finally:
        if charger.poll() is None:
            charger.kill()
            charger.wait()
    sessions = json.loads(secc_json.read_text())
    assert sorted(s["protocol"] for s in sessions) == ["iso2", "iso20"], detail
    assert all(s["normal"] for s in sessions), detail
    # TLS 1.3 with mutual authentication: Josev's OEM provisioning certificate reached the -20 engine
    iso20 = next(s for s in sessions if s["protocol"] == "iso20")
    assert iso20["vehicle_certificate_sha256"]
    sap = [m for m in iso20["messages"] if m["layer"] == "sap"]
    assert "urn:iso:std:iso:15118:-20:DC" in json.dumps(sap[0]["message"])
