"""SDP (ff02::1, scope id, hop limit 1) and SAP + the engine seam over TCP between two network namespaces
joined by a veth pair, each side in its own process, with IPv6 link-local addresses only.

Needs root and iproute2: in CI (CI=true) they must be there; elsewhere the tests skip without them.
The fixture creates the namespaces and always deletes them.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.netns

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
REPO = Path(__file__).resolve().parents[3]


def _require_root_and_ip() -> None:
    problem = None
    if shutil.which("ip") is None:
        problem = "iproute2 (ip) is not installed"
    elif os.geteuid() != 0:
        problem = "creating network namespaces needs root"
    if problem:
        if IN_CI:
            pytest.fail(f"netns test cannot run in CI: {problem}")
        pytest.skip(problem)


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True)


@pytest.fixture
def link() -> Iterator[dict[str, str]]:
    """Two namespaces, ``secc`` and ``evcc``, each with ``eth0`` (link-local IPv6 only) on one veth pair."""
    _require_root_and_ip()
    tag = f"{os.getpid() % 100000}"
    names = {"secc": f"v2g-secc-{tag}", "evcc": f"v2g-evcc-{tag}"}
    created: list[str] = []
    try:
        for ns in names.values():
            _ip("netns", "add", ns)
            created.append(ns)
        _ip("link", "add", f"v2a{tag}", "type", "veth", "peer", "name", f"v2b{tag}")
        _ip("link", "set", f"v2a{tag}", "netns", names["secc"], "name", "eth0")
        _ip("link", "set", f"v2b{tag}", "netns", names["evcc"], "name", "eth0")
        for ns in names.values():
            # no duplicate address detection: the link-local address is usable at once
            subprocess.run(["ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.eth0.accept_dad=0"],
                           check=True, capture_output=True)
            _ip("-n", ns, "link", "set", "lo", "up")
            _ip("-n", ns, "link", "set", "eth0", "up")
        _wait_link_local(names.values())
        yield names
    finally:
        for ns in reversed(created):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)


def _wait_link_local(namespaces: Any) -> None:
    deadline = time.monotonic() + 10
    for ns in namespaces:
        while True:
            out = subprocess.run(["ip", "-n", ns, "-6", "addr", "show", "dev", "eth0", "scope", "link"],
                                 capture_output=True, text=True).stdout
            if "fe80::" in out and "tentative" not in out:
                break
            if time.monotonic() > deadline:
                pytest.fail(f"no link-local address in {ns}: {out}")
            time.sleep(0.05)


def _peer(ns: str, role: str, *extra: str) -> subprocess.Popen[str]:
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    cmd = ["ip", "netns", "exec", ns, sys.executable, "-m", "tests.iso15118.comm.peers.echo_peer", role,
           "--iface", "eth0", *extra]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO, env=env)


def run_pair(link: dict[str, str], *extra: str) -> tuple[dict[str, Any], dict[str, Any]]:
    secc = _peer(link["secc"], "secc", *extra)
    evcc: subprocess.Popen[str] | None = None
    try:
        assert secc.stderr is not None
        first = secc.stderr.readline()
        assert first.strip() == "ready", first + secc.stderr.read()
        evcc = _peer(link["evcc"], "evcc", *extra)
        e_out, e_err = evcc.communicate(timeout=60)
        s_out, s_err = secc.communicate(timeout=60)
        assert evcc.returncode == 0, e_err
        assert secc.returncode == 0, s_err
        return json.loads(s_out), json.loads(e_out)
    finally:
        for proc in (secc, evcc):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.communicate(timeout=10)


def test_sdp_on_ff02_1_and_a_session_over_link_local_tcp(link: dict[str, str]) -> None:
    secc, evcc = run_pair(link)
    assert "error" not in evcc, evcc
    # the SECC announced its link-local address and its dynamic port; the first request was answered
    assert evcc["sdp"]["address"].startswith("fe80::")
    assert evcc["sdp"]["port"] == secc["port"] and 49152 <= secc["port"] <= 65535
    assert evcc["sdp"]["security"] == "NO_TLS" and secc["sdp_answers"] >= 1
    assert evcc["protocol"] == secc["protocol"] == "ISO2"
    assert evcc["received"] == ["pong 0", "pong 1", "pong 2"]
    assert secc["received"] == ["ping 0", "ping 1", "ping 2"]
    assert evcc["closed"] == "the engine ended the session"


@pytest.mark.parametrize("profile", ["iso2", "iso20"])
def test_sdp_asks_for_tls_and_the_session_runs_over_it(link: dict[str, str], pki: Path, profile: str) -> None:
    secc, evcc = run_pair(link, "--tls-dir", str(pki), "--profile", profile)
    assert "error" not in evcc, evcc
    assert evcc["sdp"]["security"] == "TLS"
    assert evcc["tls"] == secc["tls"] == ("TLSv1.2" if profile == "iso2" else "TLSv1.3")
    assert evcc["received"] == ["pong 0", "pong 1", "pong 2"]
