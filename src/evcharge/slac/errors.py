"""Errors of the SLAC stack, rooted in ``evcharge.errors``.

``LocalProtocolError`` means the application misused the API (a command in the wrong state, a
field value that does not fit its bytes).  ``RemoteProtocolError`` means a frame from the medium
broke the rules; :class:`MessageError` and its subclasses name the field that was wrong.  The state
machines never let a ``RemoteProtocolError`` escape: a bad frame is ignored (and reported as a
:class:`~evcharge.slac.events.FrameIgnored` event), as ISO 15118-3 asks -- so its ``hint`` (what the
protocol answers) is ``None``: SLAC does not answer a bad frame.

Each class is also the library-wide one (``evcharge.slac.errors.LocalProtocolError`` is an
``evcharge.errors.LocalProtocolError``), so one ``except`` catches misuse or a bad peer in any package.
"""

from __future__ import annotations

from evcharge import errors as _root

__all__ = [
    "InvalidField",
    "LocalProtocolError",
    "MessageError",
    "RemoteProtocolError",
    "SlacError",
    "TruncatedFrame",
    "UnknownMessageType",
    "UnsupportedVersion",
]


class SlacError(_root.EvchargeError):
    """Base class of every SLAC error."""


class LocalProtocolError(SlacError, _root.LocalProtocolError):
    """The application misused the API."""


class RemoteProtocolError(SlacError, _root.RemoteProtocolError):
    """A frame from the medium is not acceptable."""


class MessageError(RemoteProtocolError):
    """A frame could not be decoded; ``field`` names the offending field (``"mmtype"``, ``"run_id"``, ...)."""

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__(f"{field}: {reason}")


class TruncatedFrame(MessageError):
    """The frame ends before the named field does."""


class UnsupportedVersion(MessageError):
    """The management message version (MMV) is not one this message type is sent with."""


class UnknownMessageType(MessageError):
    """The MMTYPE is not one this package knows."""


class InvalidField(MessageError):
    """A field holds a value its definition forbids (a fixed length, a fixed constant)."""
