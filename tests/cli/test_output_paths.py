"""Issue 13: an output path is checked before the work starts. A folder that does not exist, a folder given
for a file (or a file for a folder) ends ``evcharge slac``, ``evcharge csms`` and ``evcharge v2g`` at once
with one line naming the option and the path, and exit status 2 (bad input): never after a session has run."""

from __future__ import annotations

from pathlib import Path

import pytest

from .helpers import Outcome, run_cli

USAGE = 2


def _refused(r: Outcome, option: str, path: str) -> str:
    line = r.one_line()
    assert r.status == USAGE, (r.status, line)
    assert f"argument {option}" in line and path in line, line
    assert r.seconds < 5.0, r.seconds  # at parse time, not at the end of a session
    return line


def test_slac_ready_file_in_a_missing_folder_or_a_folder(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    missing = str(tmp_path / "no-such-folder" / "ready")
    line = _refused(run_cli(capsys, "slac", "evse", "--iface", "lo", "--ready-file", missing), "--ready-file", missing)
    assert "does not exist" in line
    line = _refused(run_cli(capsys, "slac", "evse", "--iface", "lo", "--ready-file", str(tmp_path)), "--ready-file",
                    str(tmp_path))
    assert "is a directory" in line
    assert list(tmp_path.iterdir()) == []


def test_csms_db_in_a_missing_folder_or_a_folder(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    missing = str(tmp_path / "no-such-folder" / "csms.db")
    # port 0: if the path were not checked first, the server would start on a free port and run
    line = _refused(run_cli(capsys, "csms", "--port", "0", "--admin-port", "0", "--db", missing), "--db", missing)
    assert "does not exist" in line
    line = _refused(run_cli(capsys, "csms", "--port", "0", "--admin-port", "0", "--db", f"sqlite:///{missing}"),
                    "--db", missing)
    assert "does not exist" in line
    line = _refused(run_cli(capsys, "csms", "--port", "0", "--admin-port", "0", "--db", str(tmp_path)), "--db",
                    str(tmp_path))
    assert "is a directory" in line
    assert list(tmp_path.iterdir()) == []


def test_v2g_json_and_pki_folder(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    missing = str(tmp_path / "no-such-folder" / "messages.json")
    for role in ("secc", "evcc"):
        line = _refused(run_cli(capsys, "v2g", role, "--json", missing), "--json", missing)
        assert "does not exist" in line
    line = _refused(run_cli(capsys, "v2g", "evcc", "--json", str(tmp_path)), "--json", str(tmp_path))
    assert "is a directory" in line
    a_file = tmp_path / "pki"
    a_file.write_text("not a folder\n")
    line = _refused(run_cli(capsys, "v2g", "pki", "--out", str(a_file)), "--out", str(a_file))
    assert "is a file" in line
    nested = str(a_file / "sub")  # its nearest existing parent is that file
    _refused(run_cli(capsys, "v2g", "pki", "--out", nested), "--out", nested)
    assert [p.name for p in tmp_path.iterdir()] == ["pki"] and a_file.read_text() == "not a folder\n"
