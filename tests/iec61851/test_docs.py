"""The guide's code examples run and assert what the guide says."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "iec61851.rst"


def python_blocks(text: str) -> list[str]:
    blocks = []
    for match in re.finditer(r"\.\. code-block:: python\n\n((?:   .*\n|\n)+)", text):
        blocks.append(textwrap.dedent(match.group(1)))
    return blocks


BLOCKS = python_blocks(GUIDE.read_text(encoding="utf-8"))


def test_the_guide_has_its_examples() -> None:
    assert len(BLOCKS) >= 5


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_example_runs(index: int, capsys: pytest.CaptureFixture[str]) -> None:
    exec(compile(BLOCKS[index], f"{GUIDE.name}[block {index}]", "exec"), {"__name__": "guide"})
