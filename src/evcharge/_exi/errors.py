"""Errors raised by the EXI codec.

Both are part of the one error root of evcharge (:mod:`evcharge.errors`):

* :class:`ExiDecodeError` is a :class:`~evcharge.errors.RemoteProtocolError`: the bytes came from the peer and are
  not a valid message.  Its ``hint`` is ``None``: an undecodable message has no response type to answer with
  (the response code needs the request's message type), so DIN 70121 and ISO 15118-2/-20 peers end the
  communication session instead; the engines close the connection.
* :class:`ExiEncodeError` is a :class:`~evcharge.errors.LocalProtocolError`: our own message breaks its schema
  (a value outside its facets, a required field missing, a bad JSON form).  Nothing was sent.

Both also derive from :class:`ExiError`, so ``except ExiError`` catches either.
"""

from __future__ import annotations

from evcharge.errors import EvchargeError, LocalProtocolError, RemoteProtocolError


class ExiError(EvchargeError):
    """Base class of every EXI codec error."""


class ExiDecodeError(ExiError, RemoteProtocolError):
    """The input is not a valid EXI stream for the grammar in use.

    ``bit_offset`` is the position (in bits from the start of the stream) where decoding stopped,
    ``path`` the grammar path (element names from the root) being decoded at that moment.
    ``hint`` is ``None``: the protocol's answer to an undecodable message is to close the connection.
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
        RemoteProtocolError.__init__(self, f"{message} ({', '.join(where)})" if where else message, hint=None)


class ExiEncodeError(ExiError, LocalProtocolError, ValueError):
    """A value cannot be encoded: it is outside its facets, or a required field is missing; or a dict or XML
    form does not fit the schema (``from_dict``, ``from_xml``).  It is also a ``ValueError``, as those
    conversions raised before.

    ``path`` names the field (``V2G_Message.Body.CurrentDemandReq.EVTargetVoltage.Value``).
    """

    def __init__(self, message: str, *, path: str | None = None) -> None:
        self.reason = message
        self.path = path
        LocalProtocolError.__init__(self, f"{path}: {message}" if path else message)
