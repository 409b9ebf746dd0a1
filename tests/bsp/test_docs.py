"""The Python examples of docs/bsp.rst, run as written (the serial one on a pseudo-terminal)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "bsp.rst"


def _python_blocks() -> list[str]:
    text = GUIDE.read_text(encoding="utf-8")
    return [
        "\n".join(line[4:] for line in match.group(1).splitlines())
        for match in re.finditer(r"^\.\. code-block:: python\n\n((?:    .*\n|\n)+)", text, re.MULTILINE)
    ]


def test_the_guide_has_its_examples() -> None:
    assert len(_python_blocks()) == 2


def test_sans_io_session_example_runs() -> None:
    exec(compile(_python_blocks()[0], str(GUIDE), "exec"), {"__name__": "bsp_doc"})


def test_serial_driver_example_runs_on_a_pty() -> None:
    pytest.importorskip("serial")
    exec(compile(_python_blocks()[1], str(GUIDE), "exec"), {"__name__": "bsp_doc"})
