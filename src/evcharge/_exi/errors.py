"""Errors raised by the EXI codec."""

from __future__ import annotations


class ExiError(Exception):
    """Base class of every EXI codec error."""


class ExiDecodeError(ExiError):
    """The input is not a valid EXI stream for the grammar in use.

    ``bit_offset`` is the position (in bits from the start of the stream) where decoding stopped,
    ``path`` the grammar path (element names from the root) being decoded at that moment.
    """

    def __init__(self, message: str, *, bit_offset: int | None = None, path: str | None = None) -> None:
        self.reason = message
        self.bit_offset = bit_offset
        self.path = path
        where = []
        if path:
            where.append(f"at {path}")
        if bit_offset is not None:
            where.append(f"bit offset {bit_offset}")
        super().__init__(f"{message} ({', '.join(where)})" if where else message)


class ExiEncodeError(ExiError):
    """A value cannot be encoded: it is outside its facets, or a required field is missing.

    ``path`` names the field (``V2G_Message.Body.CurrentDemandReq.EVTargetVoltage.Value``).
    """

    def __init__(self, message: str, *, path: str | None = None) -> None:
        self.reason = message
        self.path = path
        super().__init__(f"{path}: {message}" if path else message)
