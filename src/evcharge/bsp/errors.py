"""Errors raised by the board drivers.

``LocalProtocolError`` means the application misused the API (a duty cycle out of range, a command the
board cannot do); ``RemoteProtocolError`` means the board sent something the driver cannot accept.
"""

from __future__ import annotations


class BspError(Exception):
    """Base class of every error raised by :mod:`evcharge.bsp`."""


class LocalProtocolError(BspError):
    """The application asked for something invalid (misuse of the API)."""


class RemoteProtocolError(BspError):
    """The board (or its simulator) sent bytes or messages the driver cannot accept."""


class FramingError(RemoteProtocolError):
    """A frame on the wire is malformed (COBS, CRC or size)."""


class DecodeError(RemoteProtocolError):
    """A frame's payload is not a valid message."""


class UnsupportedFirmwareError(RemoteProtocolError):
    """The board runs firmware this driver does not speak (e.g. Yeti firmware 1.x)."""
