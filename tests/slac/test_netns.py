"""SLAC over real raw sockets: `evcharge slac evse|pev` in separate network namespaces joined by veth pairs.

The fixtures create the namespaces and links (unique names per process) and always remove them.
Needs root and iproute2: in CI (CI=true) they must be there; elsewhere the tests skip without them.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

pytestmark = pytest.mark.netns

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


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


def _mac(ns: str, dev: str) -> str:
    out = subprocess.run(["ip", "-n", ns, "-j", "link", "show", dev], check=True, capture_output=True, text=True)
    return str(json.loads(out.stdout)[0]["address"])


@dataclass
class Medium:
    """Namespaces, each with one interface ``eth0`` on a shared Ethernet segment."""

    namespaces: dict[str, str]  # role name -> namespace name
    processes: list[subprocess.Popen[str]] = field(default_factory=list)

    def mac(self, name: str) -> str:
        return _mac(self.namespaces[name], "eth0")

    def spawn(self, name: str, *args: str) -> subprocess.Popen[str]:
        cmd = ["ip", "netns", "exec", self.namespaces[name], sys.executable, "-m", "evcharge", "slac", *args,
               "--iface", "eth0", "--emulate-modem", "--json"]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.processes.append(proc)
        assert proc.stderr is not None
        first = proc.stderr.readline()  # blocks until the raw socket is open (or the process died)
        assert "listening on eth0" in first, first + proc.stderr.read()
        return proc


def _make_medium(names: list[str]) -> Iterator[Medium]:
    _require_root_and_ip()
    tag = f"{os.getpid() % 100000}"
    created: list[str] = []
    bridge_ns = f"evcs-br-{tag}"
    try:
        namespaces = {}
        if len(names) == 2:
            a, b = (f"evcs-{n}-{tag}" for n in names)
            for ns in (a, b):
                _ip("netns", "add", ns)
                created.append(ns)
            _ip("link", "add", f"va{tag}", "type", "veth", "peer", "name", f"vb{tag}")
            _ip("link", "set", f"va{tag}", "netns", a, "name", "eth0")
            _ip("link", "set", f"vb{tag}", "netns", b, "name", "eth0")
            namespaces = {names[0]: a, names[1]: b}
        else:
            _ip("netns", "add", bridge_ns)
            created.append(bridge_ns)
            _ip("-n", bridge_ns, "link", "add", "br0", "type", "bridge")
            _ip("-n", bridge_ns, "link", "set", "br0", "up")
            for i, name in enumerate(names):
                ns = f"evcs-{name}-{tag}"
                _ip("netns", "add", ns)
                created.append(ns)
                _ip("-n", bridge_ns, "link", "add", f"p{i}", "type", "veth", "peer", "name", "eth0", "netns", ns)
                _ip("-n", bridge_ns, "link", "set", f"p{i}", "master", "br0", "up")
                namespaces[name] = ns
        for ns in namespaces.values():
            _ip("-n", ns, "link", "set", "eth0", "up")
            _ip("-n", ns, "link", "set", "lo", "up")
        medium = Medium(namespaces)
        try:
            yield medium
        finally:
            for proc in medium.processes:
                if proc.poll() is None:
                    proc.kill()
                    proc.communicate(timeout=10)
    finally:
        for ns in reversed(created):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)


@pytest.fixture
def veth_pair() -> Iterator[Medium]:
    yield from _make_medium(["evse", "pev"])


@pytest.fixture
def bridged_three() -> Iterator[Medium]:
    yield from _make_medium(["near", "far", "car"])


def _result(proc: subprocess.Popen[str], timeout: float = 60) -> dict[str, object]:
    out, err = proc.communicate(timeout=timeout)
    assert out.strip(), f"no output; stderr: {err}"
    report = json.loads(out.strip().splitlines()[-1])
    assert isinstance(report, dict)
    report["_rc"] = proc.returncode
    report["_stderr"] = err
    return report


def test_match_over_a_veth_pair_between_two_namespaces(veth_pair: Medium) -> None:
    evse = veth_pair.spawn("evse", "evse", "--timeout", "20", "--id", "DE*EVC*E0001")
    pev = veth_pair.spawn("pev", "pev", "--timeout", "20", "--id", "WVWZZZ1JZXW000001")
    p, e = _result(pev), _result(evse)
    assert p["result"] == "matched", p
    assert e["result"] == "matched", e
    assert p["_rc"] == 0 and e["_rc"] == 0
    assert p["nid"] == e["nid"] and p["nmk"] == e["nmk"] and p["run_id"] == e["run_id"]
    assert p["peer_mac"] == veth_pair.mac("evse") == e["mac"]
    assert e["peer_mac"] == veth_pair.mac("pev") == p["mac"]
    # all 10 sounds arrive unless the machine is so loaded that some miss the 600 ms window
    assert 1 <= int(e["sounds"]) <= 10  # type: ignore[call-overload]
    # PARM.REQ, 3 START_ATTEN, 10 sounds, ATTEN_CHAR.RSP, MATCH.REQ (more only if a repetition was needed)
    assert int(p["frames_out"]) >= 1 + 3 + 10 + 1 + 1  # type: ignore[call-overload]


def test_crosstalk_over_a_bridge_the_car_picks_the_nearer_charger(bridged_three: Medium) -> None:
    near = bridged_three.spawn("near", "evse", "--timeout", "20", "--attenuation", "15")
    far = bridged_three.spawn("far", "evse", "--timeout", "20", "--attenuation", "33", "--linger", "0")
    car = bridged_three.spawn("car", "pev", "--timeout", "20")
    c = _result(car)
    n = _result(near)
    far.terminate()  # it waits TT_EVSE_match_session for a request that never comes
    far.communicate(timeout=10)
    assert c["result"] == "matched" and n["result"] == "matched", (c, n)
    assert c["peer_mac"] == bridged_three.mac("near")
    assert c["nmk"] == n["nmk"]
    assert c["candidates"] == [[bridged_three.mac("near"), 15.0], [bridged_three.mac("far"), 33.0]]


def test_missing_interface_is_reported(veth_pair: Medium) -> None:
    cmd = ["ip", "netns", "exec", veth_pair.namespaces["evse"], sys.executable, "-m", "evcharge", "slac", "evse",
           "--iface", "nosuch0", "--timeout", "1"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2
    assert "cannot open nosuch0" in proc.stderr


LOSSY_RELAY = Path(__file__).with_name("peers") / "lossy_relay.py"


@pytest.fixture
def lossy_link() -> Iterator[Medium]:
    """evse (eth0) ==== (ra) relay (rb) ==== (eth0) pev: the relay namespace forwards frames and drops some."""
    _require_root_and_ip()
    tag = f"{os.getpid() % 100000}"
    names = {role: f"evcl-{role}-{tag}" for role in ("evse", "relay", "pev")}
    created: list[str] = []
    try:
        for ns in names.values():
            _ip("netns", "add", ns)
            created.append(ns)
        relay = names["relay"]
        _ip("-n", relay, "link", "add", "name", "ra", "type", "veth", "peer", "name", "eth0", "netns", names["evse"])
        _ip("-n", relay, "link", "add", "name", "rb", "type", "veth", "peer", "name", "eth0", "netns", names["pev"])
        for ns, dev in ((relay, "ra"), (relay, "rb"), (names["evse"], "eth0"), (names["pev"], "eth0")):
            _ip("-n", ns, "link", "set", dev, "up")
        medium = Medium({"evse": names["evse"], "pev": names["pev"], "relay": names["relay"]})
        try:
            yield medium
        finally:
            for proc in medium.processes:
                if proc.poll() is None:
                    proc.kill()
                    proc.communicate(timeout=10)
    finally:
        for ns in reversed(created):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)


def test_matches_through_a_relay_that_drops_30_percent_of_every_frame(lossy_link: Medium) -> None:
    runs, loss = 5, 0.3
    relay = subprocess.Popen(
        ["ip", "netns", "exec", lossy_link.namespaces["relay"], sys.executable, str(LOSSY_RELAY), "ra", "rb", str(loss),
         "21", "600"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lossy_link.processes.append(relay)
    assert relay.stderr is not None and "listening" in relay.stderr.readline()
    matched = 0
    for _ in range(runs):
        # the EVSE lingers so that a car that lost every CM_SLAC_MATCH.CNF and restarts is matched again
        evse = lossy_link.spawn("evse", "evse", "--timeout", "15", "--linger", "2")
        pev = lossy_link.spawn("pev", "pev", "--timeout", "15")
        p, e = _result(pev), _result(evse)
        if p["result"] == "matched":
            assert e["result"] == "matched" and (p["nmk"], p["run_id"]) == (e["nmk"], e["run_id"]), (p, e)
            matched += 1
    relay.kill()
    relay.communicate(timeout=10)
    # the emulator's 1,000-seed figure at 30 % loss is 98 %; 4 of 5 leaves room for a slow CI machine
    assert matched >= runs - 1, f"{matched}/{runs} matched through a relay losing {loss:.0%} of every frame"
