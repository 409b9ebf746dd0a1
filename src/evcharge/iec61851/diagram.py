"""Render the charger's transition table as a documentation page (text state diagram + tables).

``python -m evcharge.iec61851.diagram`` prints the page; ``docs/iec61851-transitions.rst`` is that
output, and a test fails when the two differ.  ``--check FILE`` exits 1 when FILE is out of date,
``--write FILE`` rewrites it.
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path

from .states import (
    GUARD_TEXT,
    SETTLE,
    SETTLE_RULES,
    TRANSITIONS,
    ChargerState,
    Transition,
)

_HEADER = """\
.. This page is generated from evcharge.iec61851.states by ``python -m evcharge.iec61851.diagram``.
.. Do not edit: tests/iec61851/test_states.py fails when it is out of date.
"""


def _edges(state: ChargerState) -> list[tuple[str, str, str]]:
    """(label, target, note) for one source state, in table order; rows with the same outcome merged.

    A trigger with several rows shows its guard (``[guard]``) on each guarded row and ``otherwise`` on
    its fallback, so the diagram keeps the table's order of evaluation.
    """
    rows = [r for r in TRANSITIONS if r.source is state]
    counts: dict[str, int] = {}
    for r in rows:
        counts[r.trigger] = counts.get(r.trigger, 0) + 1
    merged: dict[tuple[str, str, str, str], list[str]] = {}
    for r in rows:
        target = "(settle)" if r.target == SETTLE else ("(stay)" if r.target == state else str(r.target))
        cond = f"[{r.guard}]" if r.guard is not None else ("otherwise" if counts[r.trigger] > 1 else "")
        # a fallback is never merged with other triggers: it must stay below its own guarded rows
        alone = str(r.trigger) if cond == "otherwise" else ""
        merged.setdefault((cond, target, r.note, alone), []).append(str(r.trigger))
    return [(", ".join(t) + (f" {key[0]}" if key[0] else ""), key[1], key[2]) for key, t in merged.items()]


def render_diagram(width: int = 46) -> str:
    """The text state diagram: one block per state, one arrow per outcome, in evaluation order."""
    lines: list[str] = []
    for state in ChargerState:
        lines.append(str(state))
        edges = _edges(state)
        for i, (label, target, note) in enumerate(edges):
            last = i == len(edges) - 1
            parts = textwrap.wrap(label, width, break_on_hyphens=False) or [""]
            for j, part in enumerate(parts):
                if j == 0:
                    prefix = "  └─ " if last else "  ├─ "
                else:
                    prefix = "     " if last else "  │  "
                if j == len(parts) - 1:
                    tail = f" ──▶ {target}" + (f"   ({note})" if note else "")
                    lines.append(f"{prefix}{part.ljust(width)}{tail}")
                else:
                    lines.append(f"{prefix}{part}")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    out = [".. list-table::", "   :header-rows: 1", ""]
    for row in [header, *rows]:
        out.append(f"   * - {row[0] or '..'}")
        out.extend(f"     - {cell or '..'}" for cell in row[1:])
    return "\n".join(out) + "\n"


def _cell(row: Transition) -> list[str]:
    target = "*settle*" if row.target == SETTLE else f"``{row.target}``"
    return [f"``{row.source}``", f"``{row.trigger}``", f"``{row.guard}``" if row.guard else "", target, row.note]


def render_rst() -> str:
    """The whole documentation page."""
    diagram = "\n".join(f"   {line}" if line else "" for line in render_diagram().splitlines())
    settle = _table(["Order", "Condition", "State"],
                    [[str(i), GUARD_TEXT[r.guard], f"``{r.target}``"] for i, r in enumerate(SETTLE_RULES, 1)])
    guards = _table(["Guard", "Holds when"], [[f"``{g}``", text] for g, text in GUARD_TEXT.items()])
    table = _table(["From", "Trigger", "Guard", "To", "Note"], [_cell(r) for r in TRANSITIONS])
    return f"""{_HEADER}
Charger transition table
========================

Generated from :data:`evcharge.iec61851.states.TRANSITIONS`, the table the charger machine runs on.
For a state and a trigger the rows are tried top to bottom; the first whose guard holds wins.
*(settle)* means "the state the situation calls for", picked by the settle rules below; *(stay)*
keeps the state (a remembered flag, or an ignored reading).  A command with no row in a state is
refused with :class:`~evcharge.iec61851.errors.LocalProtocolError`.  While the charger drives E or F
(DISABLED, STEP_EF, REPLUG, FAULT, and PHASE_SWITCH when configured with F) pilot readings are ignored;
``CP_INVALID`` and ``DIODE_FAULT`` count only after ``ChargerConfig.fault_readings`` in a row (default 1).

State diagram
-------------

.. code-block:: text

{diagram}

Settle rules
------------

{settle}
Guards
------

{guards}
All rows
--------

{table}"""


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evcharge.iec61851.diagram", description=__doc__)
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--check", type=Path, metavar="FILE", help="exit 1 if FILE differs from the rendered page")
    group.add_argument("--write", type=Path, metavar="FILE", help="write the rendered page to FILE")
    args = parser.parse_args(argv)
    page = render_rst()
    if args.check is not None:
        current = args.check.read_text(encoding="utf-8") if args.check.exists() else ""
        if current != page:
            print(f"{args.check} is out of date: run python -m evcharge.iec61851.diagram --write {args.check}",
                  file=sys.stderr)
            return 1
        return 0
    if args.write is not None:
        args.write.write_text(page, encoding="utf-8")
        return 0
    sys.stdout.write(page)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
