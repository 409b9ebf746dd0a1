"""The ``BoardSupport`` interface that charger logic drives.

Any board driver (the Yeti core, the Yeti serial driver, a simulated board, a future board) implements this
protocol; the IEC 61851 charger state machine talks only to it.  Commands go in as method calls, events come
out of :meth:`BoardSupport.next_event`.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from evcharge.bsp.events import BoardEvent, Capabilities, PowerReason


@runtime_checkable
class BoardSupport(Protocol):
    """What a charger needs from the power board (EVerest ``evse_board_support`` semantics)."""

    @property
    def capabilities(self) -> Capabilities | None:
        """The board's capabilities, ``None`` until the board has told them."""
        ...

    def enable(self, enabled: bool) -> None:
        """Enable or disable the charging port.

        Disabled: the pilot shows state F, power is withdrawn, CP events are held back; the last PWM
        command is remembered and re-applied on enable.
        """
        ...

    def pwm_on(self, duty_percent: float) -> None:
        """Generate the 1 kHz PWM with ``duty_percent`` (0 < duty <= 100)."""
        ...

    def cp_state_x1(self) -> None:
        """Constant +12 V on the pilot (state X1, no PWM)."""
        ...

    def cp_state_f(self) -> None:
        """Constant -12 V on the pilot (state F, EVSE not available)."""
        ...

    def cp_state_e(self) -> None:
        """0 V on the pilot (state E); only if ``capabilities.supports_cp_state_e``."""
        ...

    def allow_power_on(self, allow: bool, reason: PowerReason) -> None:
        """Permit (or withdraw permission for) closing the relays."""
        ...

    def set_three_phases(self, three_phases: bool) -> None:
        """Use three phases (``True``) or one phase for the next (or the running) charge."""
        ...

    def lock_connector(self, lock: bool) -> None:
        """Lock (``True``) or unlock the connector."""
        ...

    def next_event(self) -> BoardEvent | None:
        """The next pending event, or ``None`` when there is none."""
        ...
