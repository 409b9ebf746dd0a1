"""Interop with Josev (PyPI ``iso15118``, EcoG-io's SECC and EVCC, EXI through Java) on a veth pair between two
network namespaces, IPv6 link-local only, both directions: our EVCC against Josev's SECC, Josev's EVCC against
our SECC, for DIN 70121 DC and ISO 15118-2 DC and AC with EIM.

Josev lives in its own venv (its pins clash with ours), built once under ``$XDG_CACHE_HOME/evcharge-tests``
with ``pip install iso15118==0.31.2 aiofile`` (aiofile: an import Josev does not declare, ecog-io/iso15118
#167/#222). It needs Java 17. Josev is slow on a loaded machine (about 0.5 s per message, JVM start-up), so
our car runs with ``--timeout-scale`` and a run takes 20-60 s: the DIN pair in each direction runs by
default, every pair with ``EVCHARGE_JOSEV_ALL=1``.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.interop, pytest.mark.netns]

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
ALL = os.environ.get("EVCHARGE_JOSEV_ALL", "") == "1"
REPO = Path(__file__).resolve().parents[3]
JOSEV_VERSION = "0.31.2"


def _skip_or_fail(problem: str) -> None:
    if IN_CI:
        pytest.fail(f"Josev interop cannot run in CI: {problem}")
    pytest.skip(problem)


def josev_venv() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "evcharge-tests"
    venv = base / f"josev-{JOSEV_VERSION}"
    python = venv / "bin" / "python"
    if (
        python.exists()
        and subprocess.run([str(python), "-c", "import iso15118.evcc.evcc_config"], capture_output=True).returncode == 0
    ):
        return venv
    base.mkdir(parents=True, exist_ok=True)
    for cmd in (
        [sys.executable, "-m", "venv", str(venv)],
        [str(venv / "bin" / "pip"), "install", "-q", f"iso15118=={JOSEV_VERSION}", "aiofile"],
    ):
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        if proc.returncode != 0:
            _skip_or_fail(f"building Josev's venv failed: {proc.stderr.strip()[-300:]}")
    return venv


@pytest.fixture(scope="module")
def josev() -> Path:
    if shutil.which("java") is None:
        _skip_or_fail("Josev needs Java (openjdk-17-jre-headless)")
    return josev_venv()


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True)


@pytest.fixture
def link() -> Iterator[dict[str, str]]:
    if shutil.which("ip") is None or os.geteuid() != 0:
        _skip_or_fail("network namespaces need root and iproute2")
    tag = f"{os.getpid() % 100000}"
    names = {"secc": f"jo-secc-{tag}", "evcc": f"jo-evcc-{tag}"}
    created: list[str] = []
    try:
        for ns in names.values():
            _ip("netns", "add", ns)
            created.append(ns)
        _ip("link", "add", f"joa{tag}", "type", "veth", "peer", "name", f"job{tag}")
        _ip("link", "set", f"joa{tag}", "netns", names["secc"], "name", "eth0")
        _ip("link", "set", f"job{tag}", "netns", names["evcc"], "name", "eth0")
        for ns in names.values():
            subprocess.run(
                ["ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.eth0.accept_dad=0"],
                check=True,
                capture_output=True,
            )
            _ip("-n", ns, "link", "set", "lo", "up")
            _ip("-n", ns, "link", "set", "eth0", "up")
        deadline = time.monotonic() + 10
        for ns in names.values():
            while (
                "fe80::"
                not in subprocess.run(
                    ["ip", "-n", ns, "-6", "addr", "show", "dev", "eth0", "scope", "link"],
                    capture_output=True,
                    text=True,
                ).stdout
            ):
                assert time.monotonic() < deadline, f"no link-local address in {ns}"
                time.sleep(0.05)
        yield names
    finally:
        for ns in reversed(created):
            # whatever this test started in its namespaces ends with them
            pids = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True).stdout.split()
            for pid in pids:
                with contextlib.suppress(ProcessLookupError, ValueError):
                    os.kill(int(pid), signal.SIGKILL)
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)


@contextlib.contextmanager
def _background(cmd: list[str], log: Path, **kw: Any) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, **kw)
        try:
            yield proc
        finally:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


def _wait_for(log: Path, text: bytes, proc: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while text not in log.read_bytes():
        assert proc.poll() is None, log.read_bytes()[-2000:].decode(errors="replace")
        assert time.monotonic() < deadline, f"no {text!r} in {log}"
        time.sleep(0.2)


CASES = [
    pytest.param("din", "dc", id="din-dc"),
    pytest.param("iso2", "dc", id="iso2-dc", marks=pytest.mark.skipif(not ALL, reason="EVCHARGE_JOSEV_ALL=1")),
    pytest.param("iso2", "ac", id="iso2-ac", marks=pytest.mark.skipif(not ALL, reason="EVCHARGE_JOSEV_ALL=1")),
]


@pytest.mark.parametrize(("protocol", "energy"), CASES)
def test_our_evcc_against_josev_secc(
    josev: Path, link: dict[str, str], tmp_path: Path, protocol: str, energy: str
) -> None:
    env = dict(
        os.environ,
        NETWORK_INTERFACE="eth0",
        AUTH_MODES="EIM",
        PROTOCOLS="DIN_SPEC_70121" if protocol == "din" else "ISO_15118_2",
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
                protocol,
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
    assert car.returncode == 0, car.stderr + log.read_bytes()[-3000:].decode(errors="replace")
    result = json.loads(car_json.read_text())
    # SDP (requests until the answer), then SupportedAppProtocol
    assert [m["name"] for m in result["messages"] if m["layer"] != "v2g" and m["name"] != "SdpReq"] == [
        "SdpRes",
        "SupportedAppProtocolReq",
        "SupportedAppProtocolRes",
    ]
    assert result["messages"][0]["name"] == "SdpReq"
    names = [m["name"] for m in result["messages"] if m["layer"] == "v2g"]
    loop = "CurrentDemandReq" if energy == "dc" else "ChargingStatusReq"
    # StopCharging comes with the third answer, when the fourth request is already on its way
    assert result["normal"] and names[-1] == "SessionStopRes" and names.count(loop) == 4
    # Josev saw our messages as valid: every answer OK
    for m in result["messages"]:
        if m["dir"] == "recv" and m["layer"] == "v2g":
            body = next(iter(m["message"]["V2G_Message"]["Body"].values()))
            assert body["ResponseCode"].startswith("OK"), m


JOSEV_EVCC_CONFIG = {
    ("din", "dc"): "DIN/evcc_config.json",
    ("iso2", "dc"): "iso15118_2/evcc_config_eim_dc.json",
    ("iso2", "ac"): "iso15118_2/evcc_config_eim_ac.json",
}


@pytest.mark.parametrize(("protocol", "energy"), CASES)
def test_josev_evcc_against_our_secc(
    josev: Path, link: dict[str, str], tmp_path: Path, protocol: str, energy: str
) -> None:
    site = next((josev / "lib").glob("python3*/site-packages"))
    config = site / "iso15118" / "shared" / "examples" / "evcc" / JOSEV_EVCC_CONFIG[(protocol, energy)]
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
            protocol,
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
    try:
        assert charger.stderr is not None
        assert "listening" in charger.stderr.readline()
        env = dict(os.environ, NETWORK_INTERFACE="eth0", EVCC_CONFIG_PATH=str(config))
        log = tmp_path / "josev-evcc.log"
        with _background(
            ["ip", "netns", "exec", link["evcc"], str(josev / "bin" / "python"), "-m", "iso15118.evcc.main"],
            log,
            env=env,
            cwd=tmp_path,
        ) as car:
            rc = charger.wait(timeout=280)
            car.wait(timeout=30)
        assert rc == 0, charger.stderr.read() + log.read_bytes()[-3000:].decode(errors="replace")
    finally:
        if charger.poll() is None:
            charger.kill()
            charger.wait()
    (session,) = json.loads(secc_json.read_text())
    assert session["normal"] and session["protocol"] == protocol
    assert [m["name"] for m in session["messages"] if m["layer"] == "sap"] == [
        "SupportedAppProtocolReq",
        "SupportedAppProtocolRes",
    ]
    names = [m["name"] for m in session["messages"] if m["layer"] == "v2g"]
    assert names[0] == "SessionSetupReq" and names[-1] == "SessionStopRes"
    assert ("CurrentDemandReq" if energy == "dc" else "ChargingStatusReq") in names
    # we answered every request of Josev's car OK
    for m in session["messages"]:
        if m["dir"] == "send" and m["layer"] == "v2g":
            body = next(iter(m["message"]["V2G_Message"]["Body"].values()))
            assert body["ResponseCode"].startswith("OK"), m


# -- Plug & Charge over TLS ---------------------------------------------------------------------------------

#: a -2 eMAID (15 characters, no separators) as the contract certificate's CN, so both stacks carry it as is
PNC_EMAID = "DEABCC123456789"
_JOSEV_NAMES = {
    "contract": "contractLeaf", "mo_sub2": "moSubCA2", "mo_sub1": "moSubCA1", "mo_root": "moRootCA",
    "secc": "seccLeaf", "cpo_sub2": "cpoSubCA2", "cpo_sub1": "cpoSubCA1", "v2g_root": "v2gRootCA",
    "cps": "cpsLeaf", "cps_sub2": "cpsSubCA2", "cps_sub1": "cpsSubCA1", "oem_prov": "oemLeaf",
    "oem_sub2": "oemSubCA2", "oem_sub1": "oemSubCA1", "oem_root": "oemRootCA",
}  # fmt: skip


def _pki_pair(tmp_path: Path) -> tuple[Path, Path]:
    """One test PKI in our layout and the same certificates and keys in Josev's (PKI_PATH/iso15118_2/...)."""
    from evcharge.iso15118.security.pki import PkiOptions, write_pki

    ours, theirs = tmp_path / "pki", tmp_path / "josev-pki"
    write_pki(ours, PkiOptions(emaid=PNC_EMAID, trees=("iso2",)))
    src, certs, keys = ours / "iso2", theirs / "iso15118_2" / "certs", theirs / "iso15118_2" / "private_keys"
    certs.mkdir(parents=True)
    keys.mkdir(parents=True)
    for name, josev_name in _JOSEV_NAMES.items():
        for ext in ("der", "pem"):
            shutil.copy(src / f"{name}.{ext}", certs / f"{josev_name}Cert.{ext}")
        shutil.copy(src / f"{name}.key.pem", keys / f"{josev_name}.key")
    shutil.copy(src / "secc_chain.pem", certs / "cpoCertChain.pem")
    shutil.copy(src / "oem_prov_chain.pem", certs / "oemCertChain.pem")
    for name in ("seccLeaf", "oemLeaf", "contractLeaf", "cpsLeaf", "moSubCA2Leaf"):
        (keys / f"{name}Password.txt").write_text("")  # our keys are not encrypted
    return ours, theirs


@pytest.mark.skipif(not ALL, reason="EVCHARGE_JOSEV_ALL=1")
def test_pnc_our_evcc_against_josev_secc(josev: Path, link: dict[str, str], tmp_path: Path) -> None:
    """TLS, CertificateInstallation answered by Josev (its signature checked by our car against the V2G root),
    PaymentDetails, AuthorizationReq signed by our car and checked by Josev."""
    ours, theirs = _pki_pair(tmp_path)
    env = dict(
        os.environ, NETWORK_INTERFACE="eth0", AUTH_MODES="PNC,EIM", PROTOCOLS="ISO_15118_2", PKI_PATH=str(theirs) + "/"
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
                "iso2",
                "--tls",
                "--pki",
                str(ours),
                "--payment",
                "pnc",
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
    assert car.returncode == 0, car.stderr + log.read_bytes()[-3000:].decode(errors="replace")
    names = [m["name"] for m in json.loads(car_json.read_text())["messages"] if m["layer"] == "v2g"]
    assert names[6:12] == [
        "CertificateInstallationReq",
        "CertificateInstallationRes",
        "PaymentDetailsReq",
        "PaymentDetailsRes",
        "AuthorizationReq",
        "AuthorizationRes",
    ]


@pytest.mark.skipif(not ALL, reason="EVCHARGE_JOSEV_ALL=1")
def test_pnc_josev_evcc_against_our_secc(josev: Path, link: dict[str, str], tmp_path: Path) -> None:
    """TLS (Josev checks our SECC chain), CertificateInstallation from our LocalTestProvider (Josev checks its
    signature and decrypts the key), Josev's contract chain and signed AuthorizationReq checked by our SECC."""
    ours, theirs = _pki_pair(tmp_path)
    config = tmp_path / "evcc.json"
    config.write_text(
        json.dumps(
            {
                "supportedProtocols": ["ISO_15118_2"],
                "supportedEnergyServices": ["DC"],
                "energyTransferMode": "DC_extended",
                "isCertInstallNeeded": True,
                "useTls": True,
                "chargeLoopCycle": 5,
            }
        )
    )
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
            "iso2",
            "--tls",
            "--pki",
            str(ours),
            "--payment",
            "pnc",
            "--timeout",
            "240",
            "--json",
            str(secc_json),
        ],
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    try:
        assert charger.stderr is not None
        assert "listening" in charger.stderr.readline()
        env = dict(os.environ, NETWORK_INTERFACE="eth0", EVCC_CONFIG_PATH=str(config), PKI_PATH=str(theirs) + "/")
        log = tmp_path / "josev-evcc.log"
        with _background(
            ["ip", "netns", "exec", link["evcc"], str(josev / "bin" / "python"), "-m", "iso15118.evcc.main"],
            log,
            env=env,
            cwd=tmp_path,
        ) as car:
            rc = charger.wait(timeout=280)
            car.wait(timeout=30)
        assert rc == 0, charger.stderr.read() + log.read_bytes()[-3000:].decode(errors="replace")
    finally:
        if charger.poll() is None:
            charger.kill()
            charger.wait()
    (session,) = json.loads(secc_json.read_text())
    assert session["normal"]
    names = [m["name"] for m in session["messages"] if m["layer"] == "v2g"]
    # we list the certificate service (ID 2) with Plug & Charge: Josev's car asks its details first
    assert names[2:7] == [
        "ServiceDiscoveryReq",
        "ServiceDiscoveryRes",
        "ServiceDetailReq",
        "ServiceDetailRes",
        "PaymentServiceSelectionReq",
    ]
    detail = next(m for m in session["messages"] if m["name"] == "ServiceDetailRes")["message"]
    assert detail["V2G_Message"]["Body"]["ServiceDetailRes"]["ServiceID"] == 2
    i = names.index("PaymentServiceSelectionRes") + 1
    assert names[i : i + 6] == [
        "CertificateInstallationReq",
        "CertificateInstallationRes",
        "PaymentDetailsReq",
        "PaymentDetailsRes",
        "AuthorizationReq",
        "AuthorizationRes",
    ]
