"""Every code block of the documentation (docs/*.rst and README.md) runs as written.

The convention, for every page, present and future:

* ``.. code-block:: python`` and plain ``::`` literal blocks are Python (Sphinx highlights ``::`` as Python too).
  A page's Python blocks run in order in one fresh interpreter, in an empty temporary folder, as one script: a
  later block sees the names an earlier block defined, as a reader does.
* ``.. code-block:: console``: each line starting with ``$`` is a command (a line ending in ``\\`` continues on
  the next); the lines after it are its output (shown, not compared).  The commands of a block run as one bash
  script (``set -euo pipefail``) in that folder with the installed ``evcharge`` on the PATH, as if typed in one
  terminal; ``sh`` / ``bash`` blocks are such scripts as they stand.  Every command must succeed within the time
  limit; jobs left in the background are stopped when the block ends.
* ``.. code-block:: text`` (or another language in :data:`blocks.NOT_CODE`: json, xml, ...) is not code:
  diagrams, output, file formats.
* A block of code that cannot run here (it needs hardware or root, or serves until stopped) is preceded by the
  comment ``.. no-run: <the reason>`` (in Markdown ``<!-- no-run: <the reason> -->``).  Keep them rare: this
  test fails when more than :data:`MAX_NO_RUN` blocks are skipped.  The README's set-up commands are run by
  ``.ci/run`` itself.
* A language outside these lists fails the test, so a block cannot hide behind a typo.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .blocks import NOT_CODE, PYTHON, SHELL, Block, all_blocks

MAX_NO_RUN = 12
TIMEOUT = 60.0
BLOCKS = all_blocks()


def _env(tmp_path: Path) -> dict[str, str]:
    bin_dir = str(Path(sys.executable).parent)
    path = os.environ.get("PATH", "")
    # the installed evcharge, as a reader has it (no PYTHONPATH to the source tree)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return {**env, "PATH": f"{bin_dir}{os.pathsep}{path}", "HOME": os.environ.get("HOME", str(tmp_path)),
            "COLUMNS": "120"}


def _pages() -> list[Path]:
    return sorted({b.path for b in BLOCKS})


def test_every_block_has_a_known_language() -> None:
    unknown = [f"{b.where} ({b.language})" for b in BLOCKS if b.language not in PYTHON | SHELL | NOT_CODE]
    assert not unknown, f"blocks in a language this test does not know: {unknown}"


def test_no_run_blocks_are_rare() -> None:
    skipped = [f"{b.where}: {b.no_run}" for b in BLOCKS if b.no_run is not None]
    assert len(skipped) <= MAX_NO_RUN, skipped


@pytest.mark.parametrize("page", _pages(), ids=lambda p: p.name)
def test_python_blocks_run(page: Path, tmp_path: Path) -> None:
    blocks = [b for b in BLOCKS if b.path == page and b.language in PYTHON and b.no_run is None]
    if not blocks:
        pytest.skip("no Python block on this page")
    script = []
    for b in blocks:
        code = b.code
        if b.language == "pycon":
            code = "\n".join(line[4:] for line in code.splitlines() if line.startswith((">>> ", "... ")))
        # each block is compiled on its own, so a syntax error names its own line in the page
        script.append(f"__block__ = {b.where!r}\nexec(compile({code!r}, {b.where!r}, 'exec'))\n")
    runner = tmp_path / "run_blocks.py"
    runner.write_text("\n".join(script))
    proc = subprocess.run([sys.executable, str(runner)], cwd=tmp_path, capture_output=True, text=True,
                          timeout=TIMEOUT * len(blocks), env=_env(tmp_path))
    assert proc.returncode == 0, f"{page.name}: a block failed\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"


def _script(block: Block) -> str:
    """The block as one bash script (a console block: its ``$`` lines, with their ``\\`` continuations), which
    stops every job it left in the background when it ends."""
    if block.language == "console":
        lines, continued = [], False
        for line in block.code.splitlines():
            if line.startswith("$") or continued:
                command = line[1:] if line.startswith("$") and not continued else line
                lines.append(command.strip() if not continued else command)
                continued = line.rstrip().endswith("\\")
        code = "\n".join(lines)
    else:
        code = block.code
    return "trap 'kill $(jobs -p) 2>/dev/null || true' EXIT\n" + code + "\n"


@pytest.mark.parametrize("block", [b for b in BLOCKS if b.language in SHELL and b.no_run is None],
                         ids=lambda b: b.where)
def test_shell_blocks_run(block: Block, tmp_path: Path) -> None:
    assert shutil.which("bash")
    script = _script(block)
    proc = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=tmp_path, capture_output=True, text=True,
                          timeout=TIMEOUT * max(1, script.count("\n")), env=_env(tmp_path))
    assert proc.returncode == 0, f"{block.where} failed\n{script}\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
