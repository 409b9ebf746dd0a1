"""The modem-bridge recipe of docs/slac.rst, run as written (root and iproute2 needed, as for the netns tests)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.slac.test_netns import _require_root_and_ip

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "slac.rst"


def _bash_blocks() -> list[str]:
    text = GUIDE.read_text(encoding="utf-8")
    blocks = []
    for match in re.finditer(r"^\.\. code-block:: bash\n\n((?:   .*\n|\n)+)", text, re.MULTILINE):
        blocks.append("\n".join(line[3:] for line in match.group(1).splitlines()))
    return blocks


def test_the_guide_has_the_recipe() -> None:
    assert len(_bash_blocks()) == 1


@pytest.mark.netns
def test_modem_bridge_recipe_runs_and_both_sides_agree() -> None:
    _require_root_and_ip()
    env = dict(os.environ, PY=sys.executable,
               EVSE=f"{sys.executable} -m evcharge slac evse --iface eth0 --timeout 20 --json")
    proc = subprocess.run(["bash", "-c", _bash_blocks()[0]], capture_output=True, text=True, timeout=90, env=env)
    assert proc.returncode == 0, proc.stderr
    pev, evse = (json.loads(line) for line in proc.stdout.strip().splitlines()[-2:])
    assert pev["result"] == "matched" and evse["result"] == "matched", (pev, evse)
    assert (pev["nmk"], pev["nid"], pev["run_id"]) == (evse["nmk"], evse["nid"], evse["run_id"])
    assert pev["peer_mac"] == evse["mac"] and evse["peer_mac"] == pev["mac"]
    assert pev["attenuation_db"] == 17.0  # what the bridge reported for the car's sounds
    assert evse["candidates"] == [[pev["mac"], 17.0]]
