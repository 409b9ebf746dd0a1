"""The transition table is complete where it must be, has no dead rows, and the docs page matches it."""

from __future__ import annotations

from pathlib import Path

import pytest

from evcharge.iec61851 import diagram
from evcharge.iec61851.states import (
    COMMAND_TRIGGERS,
    GUARD_TEXT,
    LISTENING_STATES,
    READING_TRIGGERS,
    SETTLE,
    SETTLE_RULES,
    TIMER_TRIGGERS,
    TRANSITIONS,
    ChargerState,
    CPState,
    Guard,
    PilotOutput,
    Trigger,
    rows_for,
    sub_state,
)

DOC = Path(__file__).resolve().parents[2] / "docs" / "iec61851-transitions.rst"


def test_triggers_are_partitioned() -> None:
    groups = [set(READING_TRIGGERS), set(COMMAND_TRIGGERS), set(TIMER_TRIGGERS)]
    assert set().union(*groups) == set(Trigger)
    assert sum(len(g) for g in groups) == len(Trigger)


@pytest.mark.parametrize("state", LISTENING_STATES)
@pytest.mark.parametrize("trigger", READING_TRIGGERS)
def test_every_reading_has_a_fallback_row_where_the_pilot_is_read(state: ChargerState, trigger: Trigger) -> None:
    rows = rows_for(state, trigger)
    assert rows, f"{state} x {trigger} has no row"
    assert rows[-1].guard is None, f"{state} x {trigger}: the last row must be unconditional"


def test_no_dead_rows() -> None:
    for row in TRANSITIONS:
        rows = rows_for(row.source, row.trigger)
        unconditional = [i for i, r in enumerate(rows) if r.guard is None]
        assert len(unconditional) <= 1 and (not unconditional or unconditional[0] == len(rows) - 1), rows


def test_implausible_and_diode_readings_lead_to_fault() -> None:
    for state in LISTENING_STATES:
        for trigger in (Trigger.CP_F, Trigger.CP_INVALID, Trigger.DIODE_FAULT):
            assert rows_for(state, trigger)[-1].target is ChargerState.FAULT


def test_fault_command_is_accepted_everywhere() -> None:
    for state in ChargerState:
        assert rows_for(state, Trigger.FAULT)[-1].target is ChargerState.FAULT


def test_only_fault_state_can_clear() -> None:
    for state in ChargerState:
        assert bool(rows_for(state, Trigger.CLEAR_FAULT)) == (state is ChargerState.FAULT)


def test_guards_are_documented() -> None:
    assert set(GUARD_TEXT) == set(Guard)
    used = {r.guard for r in TRANSITIONS if r.guard} | {r.guard for r in SETTLE_RULES}
    assert used == set(Guard)


def test_settle_rules_cover_every_state_a_settle_can_reach() -> None:
    targets = {r.target for r in SETTLE_RULES}
    assert targets == {ChargerState.FAULT, ChargerState.DISABLED, ChargerState.IDLE, ChargerState.CONNECTED,
                       ChargerState.READY, ChargerState.CHARGING}
    assert all(r.target == SETTLE or isinstance(r.target, ChargerState) for r in TRANSITIONS)


@pytest.mark.parametrize(
    ("vehicle", "output", "name"),
    [
        (CPState.B, PilotOutput.X1, "B1"), (CPState.B, PilotOutput.X2, "B2"), (CPState.C, PilotOutput.X1, "C1"),
        (CPState.C, PilotOutput.X2, "C2"), (CPState.D, PilotOutput.X2, "D2"), (CPState.A, PilotOutput.X2, "A2"),
        (CPState.B, PilotOutput.F, "F"), (None, PilotOutput.E, "E"), (CPState.E, PilotOutput.X1, "E"),
        (None, PilotOutput.X1, "?1"),
    ],
)
def test_sub_state_names(vehicle: CPState | None, output: PilotOutput, name: str) -> None:
    assert sub_state(vehicle, output) == name


def test_docs_page_is_rendered_from_the_table() -> None:
    assert DOC.read_text(encoding="utf-8") == diagram.render_rst(), (
        "docs/iec61851-transitions.rst is stale: run python -m evcharge.iec61851.diagram --write <that file>"
    )


def test_diagram_lists_every_row_outcome() -> None:
    text = diagram.render_diagram()
    for state in ChargerState:
        assert f"\n{state}\n" in f"\n{text}"
    # every guarded row shows its guard, every fallback of a guarded trigger says "otherwise"
    for row in TRANSITIONS:
        if row.guard is not None:
            assert f"[{row.guard}]" in text


def test_diagram_check_mode(tmp_path: Path) -> None:
    page = tmp_path / "page.rst"
    assert diagram.main(["--write", str(page)]) == 0
    assert diagram.main(["--check", str(page)]) == 0
    page.write_text("stale", encoding="utf-8")
    assert diagram.main(["--check", str(page)]) == 1
