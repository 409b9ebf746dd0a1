"""Adapters between :class:`~evcharge.bsp.interface.BoardSupport` and charger logic.

:class:`PilotBoardAdapter` presents any board as the small "pilot board" interface the IEC 61851 charger machine
drives (``pwm_on``, ``cp_state_x1/e/f``, ``set_contactors(closed, phases)``, ``select_phases(phases)``), so
``evcharge.iec61851.driver.apply_actions(charger.actions(), PilotBoardAdapter(board))`` runs a charger on a Yeti,
its simulator or any other board.  It relies on structure only and imports nothing from the charger package.
The charger's actions carry no time: set :attr:`PilotBoardAdapter.now` to the present ``now`` before applying them.
"""

from __future__ import annotations

from evcharge.bsp.errors import LocalProtocolError
from evcharge.bsp.events import AllowPowerOn, PilotE, PilotF, PilotX1, PowerReason, PwmOn, SetThreePhases
from evcharge.bsp.interface import BoardSupport


class PilotBoardAdapter:
    """Contactor and phase commands mapped onto ``allow_power_on`` and ``set_three_phases``.

    Closing asks the board to *allow* power: a board like the Yeti then closes its relays itself when the
    vehicle is in C/D and the PWM is on, and reports :class:`~evcharge.bsp.events.RelaysClosed`.
    """

    def __init__(
        self, board: BoardSupport, *, reason: PowerReason = PowerReason.FULL_POWER_CHARGING, now: float = 0.0
    ) -> None:
        self.board = board
        self.reason = reason
        self.now = now  #: the ``now`` the commands are sent with

    def pwm_on(self, duty_percent: float) -> None:
        """PWM at ``duty_percent``."""
        self.board.send(PwmOn(duty_percent=duty_percent), self.now)

    def cp_state_x1(self) -> None:
        """Constant +12 V."""
        self.board.send(PilotX1(), self.now)

    def cp_state_e(self) -> None:
        """0 V (only on boards that support it)."""
        self.board.send(PilotE(), self.now)

    def cp_state_f(self) -> None:
        """Constant -12 V."""
        self.board.send(PilotF(), self.now)

    def set_contactors(self, closed: bool, phases: int) -> None:
        """Allow power on ``phases`` phases, or withdraw it."""
        if closed:
            self.select_phases(phases)
            self.board.send(AllowPowerOn(allow=True, reason=self.reason), self.now)
        else:
            self.board.send(AllowPowerOn(allow=False, reason=PowerReason.POWER_OFF), self.now)

    def select_phases(self, phases: int) -> None:
        """One or three phases (boards switch between those two)."""
        if phases not in (1, 3):
            raise LocalProtocolError(f"{phases} phases: a board switches between 1 and 3 phases")
        self.board.send(SetThreePhases(three_phases=phases == 3), self.now)

