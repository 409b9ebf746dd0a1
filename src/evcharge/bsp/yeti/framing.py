"""Yeti serial framing: COBS over (payload || CRC-32/JAMCRC little-endian), terminated by 0x00.

Sans-I/O: :func:`encode_frame` turns a protobuf payload into wire bytes; :class:`FrameDecoder` takes any byte
stream and returns the payloads of the good frames.  COBS is the ``cobs`` package's C codec (it encodes exactly as
the firmware's ``MgmtLink.cpp`` does; ``benchmarks/bsp_messages.py`` compares it with the pure-Python codec it
replaced).  Garbage, bad CRCs, COBS errors and frames larger or smaller
than the microcontroller accepts are dropped and counted, never raised: a flaky UART must not stop the driver.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Any

from evcharge.bsp.errors import FramingError, LocalProtocolError
from evcharge.errors import require

_cobs: Any = require("cobs.cobs", "bsp", feature="the Yeti framing")

#: Largest decoded block (payload + 4 CRC bytes) the MCU's 256-byte COBS buffer can hold.
MAX_DECODED_SIZE = 254
#: Smallest decoded block (one payload byte and the CRC).
MIN_DECODED_SIZE = 5
#: Largest encoded block (without the delimiter) a valid frame can have.
MAX_ENCODED_SIZE = MAX_DECODED_SIZE + 1 + (MAX_DECODED_SIZE // 254)
CRC_SIZE = 4
DELIMITER = b"\x00"


def crc32_jamcrc(data: bytes) -> int:
    """CRC-32/JAMCRC: reflected polynomial 0xEDB88320, init 0xFFFFFFFF, no final XOR (the STM32 hardware CRC)."""
    return (~zlib.crc32(data)) & 0xFFFFFFFF


def cobs_encode(data: bytes) -> bytes:
    """Consistent Overhead Byte Stuffing (the ``cobs`` package's C codec): the result contains no zero byte.

    Like the firmware's encoder, a final run of 254 non-zero bytes ends with its 0xFF block (no empty block after).
    """
    return _cobs.encode(data)  # type: ignore[no-any-return]


def cobs_decode(data: bytes) -> bytes:
    """Undo :func:`cobs_encode`.

    Raises :class:`CobsError` (a :class:`~evcharge.bsp.errors.FramingError`) on a zero byte or a code past the end.
    """
    try:
        return _cobs.decode(data)  # type: ignore[no-any-return]
    except _cobs.DecodeError as exc:
        raise CobsError(f"COBS: {exc}") from None


def encode_frame(payload: bytes) -> bytes:
    """Wire bytes for one message: COBS(payload || CRC32 LE) || 0x00."""
    size = len(payload) + CRC_SIZE
    if size > MAX_DECODED_SIZE:
        raise LocalProtocolError(f"payload of {len(payload)} bytes exceeds the MCU limit of {MAX_DECODED_SIZE - 4}")
    if not payload:
        raise LocalProtocolError("empty payload: the MCU ignores empty frames")
    crc = crc32_jamcrc(payload)
    return cobs_encode(payload + crc.to_bytes(4, "little")) + DELIMITER


def decode_block(block: bytes) -> bytes:
    """Decode one COBS block (without the delimiter) into a payload, checking size limits and the CRC."""
    if len(block) > MAX_ENCODED_SIZE:
        raise FrameSizeError(f"frame of {len(block)} encoded bytes exceeds the limit of {MAX_ENCODED_SIZE}")
    decoded = cobs_decode(block)
    if len(decoded) < MIN_DECODED_SIZE:
        raise FrameSizeError(f"frame of {len(decoded)} decoded bytes is shorter than payload + CRC")
    if len(decoded) > MAX_DECODED_SIZE:
        raise FrameSizeError(f"frame of {len(decoded)} decoded bytes exceeds the limit of {MAX_DECODED_SIZE}")
    payload, crc = decoded[:-CRC_SIZE], int.from_bytes(decoded[-CRC_SIZE:], "little")
    expected = crc32_jamcrc(payload)
    if crc != expected:
        raise BadCrcError(f"CRC mismatch: frame says 0x{crc:08x}, payload gives 0x{expected:08x}")
    return payload


class BadCrcError(FramingError):
    """The CRC of a frame does not match its payload."""


class CobsError(FramingError):
    """A block is not valid COBS."""


class FrameSizeError(FramingError):
    """A frame is shorter or longer than the MCU accepts."""


@dataclass(frozen=True, slots=True)
class FrameStats:
    """Counters of a :class:`FrameDecoder`."""

    frames: int = 0
    crc_errors: int = 0
    cobs_errors: int = 0
    size_errors: int = 0
    bytes_discarded: int = 0

    @property
    def errors(self) -> int:
        """All dropped frames."""
        return self.crc_errors + self.cobs_errors + self.size_errors


class FrameDecoder:
    """Streaming frame splitter: feed bytes in, get the payloads of the good frames out.

    A block longer than :data:`MAX_ENCODED_SIZE` is discarded up to the next delimiter (resynchronisation).
    Empty blocks (two delimiters in a row) are ignored silently, as the firmware does.
    """

    def __init__(self) -> None:
        self._buf = bytearray()
        self._overflow = False
        self._hunting = False
        self._frames = 0
        self._crc = 0
        self._cobs = 0
        self._size = 0
        self._discarded = 0
        self.last_error: str | None = None

    @property
    def stats(self) -> FrameStats:
        """A snapshot of the counters."""
        return FrameStats(self._frames, self._crc, self._cobs, self._size, self._discarded)

    @property
    def error_count(self) -> int:
        """Dropped frames so far (``stats.errors`` without building the snapshot)."""
        return self._crc + self._cobs + self._size

    @property
    def pending(self) -> int:
        """Bytes received after the last delimiter."""
        return len(self._buf)

    def reset(self) -> None:
        """Forget a partly received frame."""
        self._discarded += len(self._buf)
        self._buf.clear()
        self._overflow = False

    def resync(self) -> None:
        """Joining a running stream: up to the first delimiter, a block that does not decode is not an error."""
        self.reset()
        self._hunting = True

    def feed(self, data: bytes) -> list[bytes]:
        """Consume ``data``; return the payloads of the complete, valid frames in it."""
        out: list[bytes] = []
        start = 0
        if self._hunting:
            idx = data.find(0)
            if idx < 0:
                self._append(data)
                return out
            self._append(data[:idx])
            self._hunting = False
            start = idx + 1
            block, self._buf = bytes(self._buf), bytearray()
            overflow, self._overflow = self._overflow, False
            try:
                if not overflow and block:
                    out.append(decode_block(block))
                    self._frames += 1
            except FramingError:
                self._discarded += len(block) + 1  # the tail of a frame sent before we joined: not an error
        while True:
            idx = data.find(0, start)
            if idx < 0:
                self._append(data[start:])
                return out
            if self._buf or self._overflow:
                self._append(data[start:idx])
                payload = self._finish()
            elif idx > start:  # the common case: a whole frame inside this chunk
                payload = self._check(data[start:idx])
            else:
                payload = None  # an empty block (two delimiters in a row)
            if payload is not None:
                out.append(payload)
            start = idx + 1

    def _append(self, chunk: bytes) -> None:
        if self._overflow:
            self._discarded += len(chunk)
            return
        self._buf += chunk
        if len(self._buf) > MAX_ENCODED_SIZE:
            self._discarded += len(self._buf)
            self._buf.clear()
            self._overflow = True

    def _finish(self) -> bytes | None:
        if self._overflow:
            self._overflow = False
            self._size += 1
            self.last_error = f"frame longer than {MAX_ENCODED_SIZE} encoded bytes dropped"
            return None
        block = bytes(self._buf)
        self._buf.clear()
        if not block:
            return None
        return self._check(block)

    def _check(self, block: bytes) -> bytes | None:
        try:
            payload = decode_block(block)
        except BadCrcError as exc:
            self._crc += 1
            self._discarded += len(block) + 1
            self.last_error = str(exc)
            return None
        except CobsError as exc:
            self._cobs += 1
            self._discarded += len(block) + 1
            self.last_error = str(exc)
            return None
        except FrameSizeError as exc:
            self._size += 1
            self._discarded += len(block) + 1
            self.last_error = str(exc)
            return None
        self._frames += 1
        return payload
