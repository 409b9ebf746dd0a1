"""Find the code blocks of the documentation (reStructuredText pages and the README's Markdown)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"

#: languages whose blocks run as Python, and as shell commands
PYTHON = {"python", "python3", "py", "pycon"}
SHELL = {"sh", "bash", "shell", "console"}
#: a block in one of these is not code: output, diagrams, formats, configuration
NOT_CODE = {"text", "none", "output", "json", "xml", "ini", "toml", "yaml", "c", "protobuf", "proto", "diff",
            "http", "rst", "csv", "abnf", "asn1"}

_DIRECTIVE = re.compile(r"^(\s*)\.\. (?:code-block|code|sourcecode)::\s*(\S*)\s*$")
_NO_RUN = re.compile(r"^\s*\.\. no-run:\s*(.+)$")
_FENCE = re.compile(r"^```(\S*)\s*$")


@dataclass(frozen=True)
class Block:
    path: Path
    line: int  #: 1-based line of the block's first code line
    language: str
    code: str
    no_run: str | None  #: the reason given in a ``.. no-run:`` comment right before it

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _body(lines: list[str], start: int, base: int) -> tuple[int, list[str]]:
    """The indented body after ``start`` (options and blank lines first); returns (first line index, lines)."""
    i = start
    while i < len(lines) and (not lines[i].strip() or _is_option(lines, start, i, base)):
        i += 1
    first = i
    body = []
    while i < len(lines) and (not lines[i].strip() or _indent(lines[i]) > base):
        body.append(lines[i])
        i += 1
    while body and not body[-1].strip():
        body.pop()
    if not body:
        return first, []
    cut = min(_indent(b) for b in body if b.strip())
    return first, [b[cut:] for b in body]


def _is_option(lines: list[str], start: int, i: int, base: int) -> bool:
    """A directive option line (``:caption: ...``) before the code starts."""
    return lines[i].strip().startswith(":") and _indent(lines[i]) > base and not _seen_code(lines, start, i)


def _seen_code(lines: list[str], start: int, i: int) -> bool:
    return any(lines[j].strip() and not lines[j].strip().startswith(":") for j in range(start, i))


def _no_run_before(lines: list[str], i: int) -> str | None:
    j = i - 1
    while j >= 0 and not lines[j].strip():
        j -= 1
    if j >= 0 and (m := _NO_RUN.match(lines[j])):
        return m.group(1).strip()
    return None


def rst_blocks(path: Path) -> list[Block]:
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks = []
    for i, line in enumerate(lines):
        m = _DIRECTIVE.match(line)
        literal = line.rstrip().endswith("::") and not line.lstrip().startswith("..") and not m
        if not m and not literal:
            continue
        base = _indent(line)
        first, body = _body(lines, i + 1, base)
        if not body:
            continue
        language = (m.group(2) or "python") if m else "python"
        blocks.append(Block(path, first + 1, language.lower(), "\n".join(body) + "\n", _no_run_before(lines, i)))
    return blocks


def markdown_blocks(path: Path) -> list[Block]:
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks = []
    i = 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        start = i
        i += 1
        body = []
        while i < len(lines) and not lines[i].startswith("```"):
            body.append(lines[i])
            i += 1
        marker = lines[start - 1].strip() if start else ""
        no_run = None
        if (nm := re.match(r"<!-- no-run: (.+) -->", marker)) is not None:
            no_run = nm.group(1)
        elif marker in ("<!-- simulate-command -->", "<!-- test-command -->"):
            no_run = "run by .ci/run (from a fresh virtual environment)"
        blocks.append(Block(path, start + 2, (m.group(1) or "text").lower(), "\n".join(body) + "\n", no_run))
        i += 1
    return blocks


def all_blocks() -> list[Block]:
    out = []
    for page in sorted(DOCS.glob("*.rst")):
        out += rst_blocks(page)
    out += markdown_blocks(ROOT / "README.md")
    return out
