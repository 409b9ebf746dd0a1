"""apply_actions: every action tried in order, every refusal reported, power never switched on after one."""

from __future__ import annotations

import pytest

from evcharge import errors as root
from evcharge.iec61851.charger import Charger
from evcharge.iec61851.config import ChargerConfig
from evcharge.iec61851.driver import apply_actions
from evcharge.iec61851.errors import ActionsRefused, LocalProtocolError
from evcharge.iec61851.events import (
    CloseContactors,
    OpenContactors,
    SelectPhases,
    SetCurrentLimit,
    SetPwm,
    SetStateF,
    SetX1,
)
from evcharge.iec61851.states import CPState


class FaultyBoard:
    """A board that, like a Yeti, refuses to allow power while a fault flag is up; it records what it did."""

    def __init__(self, *, fault: bool = False, refuse_pwm: bool = False) -> None:
        self.fault = fault
        self.refuse_pwm = refuse_pwm
        self.done: list[str] = []

    def pwm_on(self, duty_percent: float) -> None:
        if self.refuse_pwm:
            raise root.LocalProtocolError(f"duty cycle {duty_percent} refused")
        self.done.append(f"pwm {duty_percent:.1f}")

    def cp_state_x1(self) -> None:
        self.done.append("x1")

    def cp_state_e(self) -> None:
        self.done.append("e")

    def cp_state_f(self) -> None:
        self.done.append("f")

    def set_contactors(self, closed: bool, phases: int) -> None:
        if closed and self.fault:
            raise root.LocalProtocolError("cannot allow power while rcd_triggered is active")
        self.done.append(f"contactors {'closed' if closed else 'open'} {phases}")

    def select_phases(self, phases: int) -> None:
        self.done.append(f"phases {phases}")


def test_a_clean_batch_is_applied_in_order() -> None:
    board = FaultyBoard()
    batch = [OpenContactors(), SelectPhases(phases=1), SetPwm(duty=16.0), CloseContactors(phases=1)]
    apply_actions(batch, board, phases=3)
    assert board.done == ["contactors open 3", "phases 1", "pwm 16.0", "contactors closed 1"]


def test_refused_power_on_does_not_stop_the_rest_and_is_reported() -> None:
    board = FaultyBoard(fault=True)
    batch = [CloseContactors(phases=3), SetX1(), SetStateF(), OpenContactors()]
    with pytest.raises(ActionsRefused) as info:
        apply_actions(batch, board)
    # everything after the refusal was still applied (X1, F, open): nothing silently skipped
    assert board.done == ["x1", "f", "contactors open 3"]
    err = info.value
    assert [a for a, _r in err.refused] == [CloseContactors(phases=3)]
    assert err.applied == (SetX1(), SetStateF(), OpenContactors())
    assert isinstance(err.__cause__, root.LocalProtocolError) and "rcd_triggered" in str(err)
    # one except catches it across the library
    assert isinstance(err, LocalProtocolError) and isinstance(err, root.LocalProtocolError)


def test_no_power_on_after_a_refusal_in_the_same_batch() -> None:
    board = FaultyBoard(refuse_pwm=True)
    with pytest.raises(ActionsRefused) as info:
        apply_actions([SetPwm(duty=20.0), CloseContactors(phases=3), SetX1()], board)
    assert board.done == ["x1"]
    refused = dict((type(a).__name__, r) for a, r in info.value.refused)
    assert set(refused) == {"SetPwm", "CloseContactors"}
    assert "held back" in str(refused["CloseContactors"])
    assert "2 of 3 actions" in str(info.value)


def test_the_chargers_own_batch_under_a_fault() -> None:
    # the charger closes the contactors in C2; the board has a fault flag up and refuses
    charger = Charger(ChargerConfig())
    board = FaultyBoard(fault=True)
    apply_actions(charger.actions(), board)
    charger.send(SetCurrentLimit(amps=16), 0.0)
    charger.receive_cp_state(CPState.B, 0.0)
    charger.receive_cp_state(CPState.C, 0.1)
    batch = charger.actions()
    assert any(isinstance(a, CloseContactors) for a in batch)
    with pytest.raises(ActionsRefused) as info:
        apply_actions(batch, board)
    assert [type(a) for a, _r in info.value.refused] == [CloseContactors]
    assert len(info.value.applied) == len(batch) - 1
