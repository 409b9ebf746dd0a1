"""Adapters between :class:`~evcharge.bsp.interface.BoardSupport` and charger logic.

:class:`PilotBoardAdapter` presents any board as the small "pilot board" interface the IEC 61851 charger machine
drives (``pwm_on``, ``cp_state_x1/e/f``, ``set_contactors(closed, phases)``, ``select_phases(phases)``), so
``evcharge.iec61851.driver.apply_actions(charger.actions(), PilotBoardAdapter(board))`` runs a charger on a Yeti,
its simulator or any other board.  It relies on structure only and imports nothing from the charger package.
"""

from __future__ import annotations

from evcharge.bsp.errors import LocalProtocolError
from evcharge.bsp.events import PowerReason
from evcharge.bsp.interface import BoardSupport


class PilotBoardAdapter:
    """Contactor and phase commands mapped onto ``allow_power_on`` and ``set_three_phases``.

    Closing asks the board to *allow* power: a board like the Yeti then closes its relays itself when the
    vehicle is in C/D and the PWM is on, and reports :class:`~evcharge.bsp.events.PowerOn`.
    """

    def __init__(self, board: BoardSupport, *, reason: PowerReason = PowerReason.FULL_POWER_CHARGING) -> None:
        self.board = board
        self.reason = reason

    def pwm_on(self, duty_percent: float) -> None:
        """PWM at ``duty_percent``."""
        self.board.pwm_on(duty_percent)

    def cp_state_x1(self) -> None:
        """Constant +12 V."""
        self.board.cp_state_x1()

    def cp_state_e(self) -> None:
        """0 V (only on boards that support it)."""
        self.board.cp_state_e()

    def cp_state_f(self) -> None:
        """Constant -12 V."""
        self.board.cp_state_f()

    def set_contactors(self, closed: bool, phases: int) -> None:
        """Allow power on ``phases`` phases, or withdraw it."""
        if closed:
            self.select_phases(phases)
            self.board.allow_power_on(True, self.reason)
        else:
            self.board.allow_power_on(False, PowerReason.POWER_OFF)

    def select_phases(self, phases: int) -> None:
        """One or three phases (boards switch between those two)."""
        if phases not in (1, 3):
            raise LocalProtocolError(f"{phases} phases: a board switches between 1 and 3 phases")
        self.board.set_three_phases(phases == 3)

