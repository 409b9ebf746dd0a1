"""The -20 guide's Python blocks run."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[3] / "docs"


def _blocks() -> list[str]:
    text = (DOCS / "v2g-iso20.rst").read_text(encoding="utf-8")
    return [
        "\n".join(line[4:] for line in m.group(1).splitlines())
        for m in re.finditer(r"\.\. code-block:: python\n\n((?:    .*\n|\n)+)", text)
    ]


def test_there_are_blocks() -> None:
    assert len(_blocks()) == 2


@pytest.mark.parametrize("index", range(len(_blocks())))
def test_guide_blocks_run(index: int) -> None:
    exec(compile(_blocks()[index], f"v2g-iso20.rst block {index}", "exec"), {})


def test_tables_page_is_up_to_date() -> None:
    from evcharge.iso15118.engines.iso20 import diagram

    assert diagram.main(["--check", str(DOCS / "v2g-iso20-tables.rst")]) == 0
