"""The seam between the charger machine and a board driver.

The charger emits :data:`~evcharge.iec61851.events.ChargerAction` values; a board applies them.
:class:`PilotBoard` is the small protocol :func:`apply_actions` needs -- any object with these six
methods will do, so a board driver (a PIONIX Yeti, a GPIO board, a simulation) is wired in with a thin
adapter written in the application, and this package imports no driver.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from .events import (
    ChargerAction,
    CloseContactors,
    OpenContactors,
    SelectPhases,
    SetPwm,
    SetStateE,
    SetStateF,
    SetX1,
)


class PilotBoard(Protocol):
    """What the charger machine needs from the hardware."""

    def pwm_on(self, duty_percent: float) -> None:
        """Drive the 1 kHz PWM with ``duty_percent`` (state X2)."""

    def cp_state_x1(self) -> None:
        """Drive a steady +12 V (X1)."""

    def cp_state_e(self) -> None:
        """Drive 0 V (state E)."""

    def cp_state_f(self) -> None:
        """Drive a steady -12 V (state F)."""

    def set_contactors(self, closed: bool, phases: int) -> None:
        """Close the contactors on ``phases`` phases, or open them (``phases`` is then the current count)."""

    def select_phases(self, phases: int) -> None:
        """Set the phase-selection relays (only called while the contactors are open)."""


def apply_action(action: ChargerAction, board: PilotBoard, *, phases: int = 3) -> None:
    """Apply one action; ``phases`` is what :meth:`PilotBoard.set_contactors` gets when opening."""
    match action:
        case SetPwm(duty=duty):
            board.pwm_on(duty)
        case SetX1():
            board.cp_state_x1()
        case SetStateE():
            board.cp_state_e()
        case SetStateF():
            board.cp_state_f()
        case CloseContactors(phases=n):
            board.set_contactors(True, n)
        case OpenContactors():
            board.set_contactors(False, phases)
        case SelectPhases(phases=n):
            board.select_phases(n)


def apply_actions(actions: Iterable[ChargerAction], board: PilotBoard, *, phases: int = 3) -> None:
    """Apply actions in order (pass :meth:`Charger.actions() <evcharge.iec61851.charger.Charger.actions>`)."""
    for action in actions:
        apply_action(action, board, phases=phases)
