"""Our PEV against pyslac's EVSE (the Python peer), over real raw sockets, through our emulated modem.

Topology (one network namespace each, veth links)::

    pyslac EVSE (eth0) ==== (eth0) evcharge slac modem (eth1) ==== (eth0) evcharge slac pev --emulate-modem

pyslac expects a QCA modem: ``evcharge slac modem`` answers its CM_SET_KEY.REQ and turns our M-sounds
into CM_ATTEN_PROFILE.IND for it.  Needs root, iproute2 and pyslac (test extra); in CI all must be there.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evcharge.slac.messages import nid_from_nmk
from tests.slac.test_netns import IN_CI, _ip, _mac, _require_root_and_ip

pytestmark = pytest.mark.interop

PYSLAC_EVSE = Path(__file__).with_name("peers") / "pyslac_evse.py"


def _require_pyslac() -> None:
    if importlib.util.find_spec("pyslac") is None:
        if IN_CI:
            pytest.fail("pyslac (test extra) is not installed")
        pytest.skip("pyslac is not installed")


@pytest.fixture
def three_hops() -> Iterator[dict[str, str]]:
    _require_root_and_ip()
    _require_pyslac()
    tag = f"{os.getpid() % 100000}"
    names = {role: f"evcp-{role}-{tag}" for role in ("evse", "modem", "pev")}
    created: list[str] = []
    procs: list[subprocess.Popen[str]] = []
    try:
        for ns in names.values():
            _ip("netns", "add", ns)
            created.append(ns)
        _ip("link", "add", f"pa{tag}", "type", "veth", "peer", "name", f"pb{tag}")
        _ip("link", "set", f"pa{tag}", "netns", names["evse"], "name", "eth0")
        _ip("link", "set", f"pb{tag}", "netns", names["modem"], "name", "eth0")
        _ip("link", "add", f"pc{tag}", "type", "veth", "peer", "name", f"pd{tag}")
        _ip("link", "set", f"pc{tag}", "netns", names["modem"], "name", "eth1")
        _ip("link", "set", f"pd{tag}", "netns", names["pev"], "name", "eth0")
        for ns, dev in ((names["evse"], "eth0"), (names["modem"], "eth0"), (names["modem"], "eth1"),
                        (names["pev"], "eth0")):
            _ip("-n", ns, "link", "set", dev, "up")
        yield names
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
        for ns in reversed(created):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)


def _spawn(ns: str, *cmd: str) -> subprocess.Popen[str]:
    return subprocess.Popen(["ip", "netns", "exec", ns, *cmd], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


class _StderrReader:
    """Reads a process's stderr on a thread (so a chatty peer never blocks on a full pipe)."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        self._proc = proc
        self._seen = threading.Condition()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        assert self._proc.stderr is not None
        for line in self._proc.stderr:
            with self._seen:
                self.lines.append(line)
                self._seen.notify_all()
        with self._seen:
            self.lines.append("")  # EOF marker
            self._seen.notify_all()

    def wait_for(self, text: str, timeout: float = 60) -> None:
        with self._seen:
            ok = self._seen.wait_for(lambda: any(text in line for line in self.lines) or "" in self.lines, timeout)
        if not ok or not any(text in line for line in self.lines):
            raise AssertionError(f"{text!r} never came; stderr:\n{''.join(self.lines[-40:])}")

    def text(self) -> str:
        self._thread.join(timeout=10)
        return "".join(self.lines)


@pytest.mark.property
@given(st.binary(min_size=16, max_size=16))
def test_nid_derivation_agrees_with_pyslac(nmk: bytes) -> None:
    _require_pyslac()
    from pyslac.utils import generate_nid  # pyslac took its derivation from QCA's open-plc-utils

    assert nid_from_nmk(nmk) == generate_nid(nmk)


@pytest.mark.netns
def test_our_pev_matches_pyslac_evse(three_hops: dict[str, str]) -> None:
    modem = _spawn(three_hops["modem"], sys.executable, "-m", "evcharge", "slac", "modem", "--iface", "eth0",
                   "--line-iface", "eth1", "--attenuation", "17", "--timeout", "60")
    evse = None
    try:
        _StderrReader(modem).wait_for("listening on eth0")
        evse = _spawn(three_hops["evse"], sys.executable, str(PYSLAC_EVSE), "eth0", "30")
        evse_log = _StderrReader(evse)
        evse_log.wait_for("waiting for CM_SLAC_PARM.REQ")  # after pyslac's CM_SET_KEY and 10 s settle time
        pev = subprocess.run(
            ["ip", "netns", "exec", three_hops["pev"], sys.executable, "-m", "evcharge", "slac", "pev",
             "--iface", "eth0", "--emulate-modem", "--json", "--timeout", "20"],
            capture_output=True, text=True, timeout=60,
        )
        assert evse.stdout is not None
        out = evse.stdout.read()
        evse.wait(timeout=60)
        err = evse_log.text()
    finally:
        for proc in (modem, evse):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)
    ours = json.loads(pev.stdout.strip().splitlines()[-1])
    theirs = json.loads(out.strip().splitlines()[-1])
    assert ours["result"] == "matched", (ours, pev.stderr)
    assert theirs["state"] == 2, (theirs, err[-3000:])  # pyslac STATE_MATCHED
    # both sides agree on the network the car joins and on the run
    assert ours["nmk"] == theirs["nmk"] and ours["nid"] == theirs["nid"]
    assert ours["run_id"] == theirs["run_id"]
    assert ours["peer_mac"] == _mac(three_hops["evse"], "eth0")
    assert theirs["pev_mac"] == ours["mac"].replace(":", "")
    # pyslac averaged the profiles our emulated modem made from our sounds
    assert 1 <= theirs["num_sounds"] <= 10 and ours["attenuation_db"] == 17.0
