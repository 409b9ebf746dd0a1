"""The ``BoardSupport`` interface that charger logic drives.

Any board driver (the Yeti core, the Yeti serial driver, a simulated board, a future board) implements this
protocol; the IEC 61851 charger state machine talks only to it.  Commands go in as frozen dataclasses through
:meth:`BoardSupport.send` (:data:`~evcharge.bsp.events.BoardCommand`), events come out of
:meth:`BoardSupport.next_event` (:data:`~evcharge.bsp.events.BoardEvent`).
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from evcharge.bsp.events import BoardCommand, BoardEvent, Capabilities


@runtime_checkable
class BoardSupport(Protocol):
    """What a charger needs from the power board (EVerest ``evse_board_support`` semantics)."""

    @property
    def capabilities(self) -> Capabilities | None:
        """The board's capabilities, ``None`` until the board has told them."""
        ...

    def send(self, command: BoardCommand, now: float) -> None:
        """The charger's wish (:data:`~evcharge.bsp.events.BoardCommand`); misuse raises ``LocalProtocolError``."""
        ...

    def next_event(self) -> BoardEvent | None:
        """The next pending event, or ``None`` when there is none."""
        ...
