"""Errors of the control-pilot package.

The pilot has no byte-level peer: what the vehicle "says" is a measured voltage, and a reading that
makes no sense is reported as a fault (:class:`~evcharge.iec61851.events.FaultRaised`), never raised.
So the exceptions here are local ones: :class:`LocalProtocolError` (the application asked for something
the standard or the current state does not allow) and :class:`ActionsRefused` (the board refused some
of the charger's actions).  Both are ``evcharge.errors.LocalProtocolError``, so one ``except``
catches misuse across the library.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from evcharge import errors as _root

if TYPE_CHECKING:
    from .events import ChargerAction

__all__ = ["ActionsRefused", "LocalProtocolError", "PilotError"]


class PilotError(_root.EvchargeError):
    """Base class of every error of :mod:`evcharge.iec61851`."""


class LocalProtocolError(PilotError, _root.LocalProtocolError):
    """The application misused the API (for example asked for 3 A, or cleared a fault that is not there)."""


class ActionsRefused(LocalProtocolError):
    """The board refused one or more actions of a batch given to :func:`~evcharge.iec61851.driver.apply_actions`.

    Raised after the whole batch was tried.  ``refused`` pairs each action that was not applied with the
    reason (the board's exception, or why it was held back); ``applied`` lists the actions the board took,
    in order.  ``__cause__`` is the first exception the board raised.
    """

    def __init__(
        self, refused: tuple[tuple[ChargerAction, BaseException | str], ...], applied: tuple[ChargerAction, ...]
    ) -> None:
        lines = "; ".join(f"{type(action).__name__}: {reason}" for action, reason in refused)
        super().__init__(f"the board refused {len(refused)} of {len(refused) + len(applied)} actions: {lines}")
        self.refused = refused
        self.applied = applied
