"""Errors raised by the board drivers, rooted in ``evcharge.errors``.

``LocalProtocolError`` means the application misused the API (a duty cycle out of range, a command the
board cannot do); ``RemoteProtocolError`` means the board sent something the driver cannot accept.  Both are
the library-wide classes' subclasses, so ``except evcharge.errors.LocalProtocolError`` catches them too.
The Yeti core never lets a ``RemoteProtocolError`` escape except :class:`UnsupportedFirmwareError` (the board
runs firmware it cannot drive): bad frames become :class:`~evcharge.bsp.events.ProtocolViolation` events.
"""

from __future__ import annotations

from evcharge import errors as _root


class BspError(_root.EvchargeError):
    """Base class of every error raised by :mod:`evcharge.bsp`."""


class LocalProtocolError(BspError, _root.LocalProtocolError):
    """The application asked for something invalid (misuse of the API)."""


class RemoteProtocolError(BspError, _root.RemoteProtocolError):
    """The board (or its simulator) sent bytes or messages the driver cannot accept.

    ``hint`` is ``None``: the Yeti protocol has no error answer; a bad frame is dropped.
    """


class FramingError(RemoteProtocolError):
    """A frame on the wire is malformed (COBS, CRC or size)."""


class DecodeError(RemoteProtocolError):
    """A frame's payload is not a valid message."""


class UnsupportedFirmwareError(RemoteProtocolError):
    """The board runs firmware this driver does not speak (e.g. Yeti firmware 1.x)."""
