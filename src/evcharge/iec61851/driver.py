"""The seam between the charger machine and a board driver.

The charger emits :data:`~evcharge.iec61851.events.ChargerAction` values; a board applies them.
:class:`PilotBoard` is the small protocol :func:`apply_actions` needs -- any object with these six
methods will do, so a board driver (a PIONIX Yeti, a GPIO board, a simulation) is wired in with a thin
adapter written in the application, and this package imports no driver.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from .errors import ActionsRefused
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
    """Apply every action in order (pass :meth:`Charger.actions() <evcharge.iec61851.charger.Charger.actions>`).

    A board may refuse an action by raising (a Yeti refuses to allow power while a fault is up).  The
    actions after a refused one are still applied -- most of them are what makes the outlet safe (X1, F,
    opening the contactors) -- except :class:`~evcharge.iec61851.events.CloseContactors`: power is never
    switched on in a batch where something was refused.  Nothing is skipped silently: when anything was
    refused, :class:`~evcharge.iec61851.errors.ActionsRefused` is raised once the whole batch was tried,
    naming every refused action with its reason and every applied one.
    """
    refused: list[tuple[ChargerAction, BaseException | str]] = []
    applied: list[ChargerAction] = []
    first: BaseException | None = None
    for action in actions:
        if refused and isinstance(action, CloseContactors):
            refused.append((action, "held back: an earlier action of the batch was refused"))
            continue
        try:
            apply_action(action, board, phases=phases)
        except Exception as exc:  # every refusal is reported below, with its exception
            refused.append((action, exc))
            first = first or exc
        else:
            applied.append(action)
    if refused:
        raise ActionsRefused(tuple(refused), tuple(applied)) from first
