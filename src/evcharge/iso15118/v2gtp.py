"""V2G Transfer Protocol (V2GTP) framing: the 8-byte header of DIN 70121, ISO 15118-2 and ISO 15118-20.

A V2GTP message is a header followed by the payload::

    +---------+-----------------+-----------------+-------------------+--------------------+
    | version | inverse version | payload type    | payload length    | payload            |
    | 0x01    | 0xFE            | u16 big endian  | u32 big endian    | ``length`` bytes   |
    +---------+-----------------+-----------------+-------------------+--------------------+

(ISO 15118-2 §7.8.3, ISO 15118-20 §V2GTP, DIN 70121 §8.x; the payload types are
:class:`~evcharge.iso15118.handover.PayloadType`.)

:class:`V2gtpFramer` is the stream side: it takes TCP data in chunks of any size (a partial header, a
message split anywhere, several messages in one read) and hands back whole messages. It checks each
header as soon as its eight bytes are there and refuses a wrong version, an unknown or unexpected
payload type, or a length above its limit with a :class:`V2gtpError` that says which, *before* it
waits for or stores the claimed payload. A TCP read is never taken to be one message (the weakness
of ``reader.read(7000)`` seen in the field, ``facts/v2g_slac_iec61851.md`` §1).

Pure: no sockets, no time.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum

from evcharge.errors import LocalProtocolError, RemoteProtocolError
from evcharge.iso15118.handover import PayloadType

__all__ = [
    "DEFAULT_MAX_PAYLOAD",
    "HEADER_LENGTH",
    "INVERSE_VERSION",
    "KNOWN_PAYLOAD_TYPES",
    "SDP_PAYLOAD_TYPES",
    "TCP_PAYLOAD_TYPES",
    "VERSION",
    "V2gtpError",
    "V2gtpFault",
    "V2gtpFramer",
    "V2gtpMessage",
    "decode_header",
    "decode_message",
    "encode_header",
    "encode_message",
]

VERSION = 0x01
INVERSE_VERSION = 0xFE
HEADER_LENGTH = 8
#: The largest payload the framer accepts unless told otherwise. The largest V2G messages are the
#: certificate installation and update responses (a few certificate chains and an encrypted key:
#: some kilobytes); 64 KiB leaves room for -20 chains while bounding what a peer can make us hold.
DEFAULT_MAX_PAYLOAD = 65536

_HEADER = struct.Struct(">BBHI")
_new = object.__new__
_set = object.__setattr__

#: every payload type of DIN 70121, ISO 15118-2 and ISO 15118-20
KNOWN_PAYLOAD_TYPES: frozenset[int] = frozenset(int(p) for p in PayloadType)
#: the payload types that travel on UDP (SECC Discovery Protocol)
SDP_PAYLOAD_TYPES: frozenset[int] = frozenset({0x9000, 0x9001, 0x9002, 0x9003})
#: the payload types that travel on the TCP/TLS connection
TCP_PAYLOAD_TYPES: frozenset[int] = KNOWN_PAYLOAD_TYPES - SDP_PAYLOAD_TYPES


class V2gtpFault(Enum):
    """Which check of the V2GTP header failed."""

    VERSION = "version"  #: protocol version is not 0x01 or its inverse is not 0xFE
    PAYLOAD_TYPE = "payload type"  #: a payload type no V2G standard defines, or one not expected here
    LENGTH = "length"  #: the payload length is above the limit (or does not match a datagram)


class V2gtpError(RemoteProtocolError):
    """The peer sent a V2GTP header we must refuse. ``fault`` says which check failed.

    The standards' answer is to discard the message (SDP over UDP) or to close the TCP connection,
    so ``hint`` is ``None``.
    """

    def __init__(self, message: str, *, fault: V2gtpFault) -> None:
        super().__init__(message, hint=None)
        self.fault = fault


@dataclass(frozen=True, slots=True, kw_only=True)
class V2gtpMessage:
    """One whole V2GTP message: its payload type and payload (the header is implied)."""

    payload_type: int
    payload: bytes

    def encode(self) -> bytes:
        return encode_message(self.payload_type, self.payload)


def encode_header(payload_type: int, length: int) -> bytes:
    """The 8-byte header for a payload of ``length`` bytes."""
    if not 0 <= payload_type <= 0xFFFF:
        raise LocalProtocolError(f"V2GTP payload type {payload_type!r} does not fit in 16 bits")
    if not 0 <= length <= 0xFFFFFFFF:
        raise LocalProtocolError(f"V2GTP payload length {length!r} does not fit in 32 bits")
    return _HEADER.pack(VERSION, INVERSE_VERSION, payload_type, length)


def encode_message(payload_type: int, payload: bytes) -> bytes:
    """Header + payload."""
    return encode_header(payload_type, len(payload)) + bytes(payload)


def _check(
    version: int, inverse: int, payload_type: int, length: int, allowed: frozenset[int], max_payload: int
) -> None:
    if version != VERSION or inverse != INVERSE_VERSION:
        raise V2gtpError(
            f"V2GTP header: protocol version 0x{version:02X} / inverse 0x{inverse:02X}, "
            f"expected 0x{VERSION:02X} / 0x{INVERSE_VERSION:02X}",
            fault=V2gtpFault.VERSION,
        )
    if payload_type not in allowed:
        what = "unknown" if payload_type not in KNOWN_PAYLOAD_TYPES else "unexpected here"
        raise V2gtpError(f"V2GTP header: payload type 0x{payload_type:04X} is {what}", fault=V2gtpFault.PAYLOAD_TYPE)
    if length > max_payload:
        raise V2gtpError(
            f"V2GTP header: payload length {length} exceeds the limit of {max_payload} bytes",
            fault=V2gtpFault.LENGTH,
        )


def decode_header(
    data: bytes, *, allowed: Iterable[int] | None = None, max_payload: int = DEFAULT_MAX_PAYLOAD
) -> tuple[int, int]:
    """Check the first 8 bytes of ``data`` and return ``(payload_type, payload_length)``."""
    if len(data) < HEADER_LENGTH:
        raise V2gtpError(f"V2GTP header: {len(data)} bytes, need {HEADER_LENGTH}", fault=V2gtpFault.LENGTH)
    version, inverse, payload_type, length = _HEADER.unpack_from(data, 0)
    _check(version, inverse, payload_type, length, _allowed(allowed), max_payload)
    return payload_type, length


def decode_message(
    data: bytes, *, allowed: Iterable[int] | None = None, max_payload: int = DEFAULT_MAX_PAYLOAD
) -> V2gtpMessage:
    """One whole message in ``data`` (a UDP datagram): the length must match exactly."""
    payload_type, length = decode_header(data, allowed=allowed, max_payload=max_payload)
    if len(data) - HEADER_LENGTH != length:
        raise V2gtpError(
            f"V2GTP header: payload length {length} but the datagram holds {len(data) - HEADER_LENGTH} payload bytes",
            fault=V2gtpFault.LENGTH,
        )
    return V2gtpMessage(payload_type=payload_type, payload=bytes(data[HEADER_LENGTH:]))


def _allowed(allowed: Iterable[int] | None) -> frozenset[int]:
    if allowed is None:
        return KNOWN_PAYLOAD_TYPES
    return allowed if isinstance(allowed, frozenset) else frozenset(allowed)


class V2gtpFramer:
    """Stream de-framer: bytes in any chunking -> whole :class:`V2gtpMessage` objects, in order.

    ``allowed`` restricts the payload types (default: every type of DIN, -2 and -20; a session
    narrows it to the chosen protocol's types); ``max_payload`` bounds the length field. After a
    :class:`V2gtpError` the framer stays failed: every later call raises the same error (the
    connection must be closed; the bytes after a bad header have no defined meaning).
    """

    __slots__ = ("_allowed", "_buffer", "_error", "_max_payload", "_messages", "_need_length", "_need_type")

    def __init__(self, *, allowed: Iterable[int] | None = None, max_payload: int = DEFAULT_MAX_PAYLOAD) -> None:
        if max_payload < 0:
            raise LocalProtocolError("max_payload must not be negative")
        self._allowed = _allowed(allowed)
        self._max_payload = max_payload
        self._buffer = bytearray()
        self._messages: list[V2gtpMessage] = []
        self._error: V2gtpError | None = None
        self._need_type = -1  # payload type of the message being collected (-1: waiting for a header)
        self._need_length = 0

    @property
    def allowed(self) -> frozenset[int]:
        return self._allowed

    @allowed.setter
    def allowed(self, value: Iterable[int]) -> None:
        """Change the accepted payload types for every header not yet checked."""
        self._allowed = frozenset(value)

    @property
    def buffered(self) -> int:
        """Bytes held that do not yet make a whole message."""
        return len(self._buffer)

    def receive_data(self, data: bytes) -> None:
        """Feed a chunk. Raises :class:`V2gtpError` as soon as a header fails a check."""
        if self._error is not None:
            raise self._error
        if not data:
            return
        if self._buffer:
            self._buffer += data
            consumed = self._parse(self._buffer)
            del self._buffer[:consumed]
        else:  # the common case: the chunk starts at a message boundary; slice it without copying twice
            consumed = self._parse(bytes(data))
            if consumed < len(data):
                self._buffer = bytearray(data[consumed:])

    def next_message(self) -> V2gtpMessage | None:
        """The next whole message, or ``None``."""
        if self._messages:
            return self._messages.pop(0)
        return None

    def messages(self) -> list[V2gtpMessage]:
        """All whole messages received so far; empties the queue."""
        out, self._messages = self._messages, []
        return out

    def _parse(self, buf: bytes | bytearray) -> int:
        """Take every whole message out of ``buf``; return how many bytes were consumed."""
        pos = 0
        end = len(buf)
        out = self._messages
        allowed = self._allowed
        limit = self._max_payload
        unpack = _HEADER.unpack_from
        need_type = self._need_type
        need_length = self._need_length
        try:
            while True:
                if need_type < 0:
                    if end - pos < HEADER_LENGTH:
                        break
                    version, inverse, need_type, need_length = unpack(buf, pos)
                    if not (version == VERSION and inverse == INVERSE_VERSION and need_type in allowed
                            and need_length <= limit):
                        _check(version, inverse, need_type, need_length, allowed, limit)
                    pos += HEADER_LENGTH
                if end - pos < need_length:
                    break
                stop = pos + need_length
                message = _new(V2gtpMessage)  # the dataclass __init__, without its keyword-call cost
                _set(message, "payload_type", need_type)
                _set(message, "payload", bytes(buf[pos:stop]))
                out.append(message)
                pos = stop
                need_type = -1
        except V2gtpError as exc:
            self._error = exc
            self._buffer = bytearray()
            raise
        self._need_type = need_type
        self._need_length = need_length
        return pos
