"""The guide's code blocks run, and the state-table page is the tables' drawing."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from evcharge.iso15118.engines import diagram

DOCS = Path(__file__).resolve().parents[3] / "docs"


def _blocks() -> list[str]:
    text = (DOCS / "v2g-engines.rst").read_text(encoding="utf-8")
    out = []
    for m in re.finditer(r"\.\. code-block:: python\n\n((?:    .*\n|\n)+)", text):
        out.append("\n".join(line[4:] for line in m.group(1).splitlines()))
    return out


@pytest.mark.parametrize("index", range(len(_blocks())))
def test_guide_blocks_run(index: int) -> None:
    exec(compile(_blocks()[index], f"v2g-engines.rst block {index}", "exec"), {})


def test_tables_page_is_up_to_date() -> None:
    assert diagram.main(["--check", str(DOCS / "v2g-engine-tables.rst")]) == 0
