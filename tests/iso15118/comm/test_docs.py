"""The example of docs/v2g-communication.rst runs as written and prints what the page says it prints."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

GUIDE = Path(__file__).resolve().parents[3] / "docs" / "v2g-communication.rst"


def _blocks(kind: str) -> list[str]:
    text = GUIDE.read_text(encoding="utf-8")
    # the output block: "It prints::" or "It prints:" followed by a text code-block
    head = r"^\.\. code-block:: python" if kind == "python" else r"^It prints:(?::|\n\n\.\. code-block:: text)"
    pattern = head + r"\n\n((?:    .*\n|\n)+)"
    return ["\n".join(line[4:] for line in m.group(1).splitlines()) for m in re.finditer(pattern, text, re.MULTILINE)]


def test_the_example_runs_and_prints_what_the_page_says() -> None:
    (code,) = _blocks("python")
    (expected,) = _blocks("output")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == expected.strip()
