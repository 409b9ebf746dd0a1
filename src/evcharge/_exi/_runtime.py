"""EXI bit-packed stream reader and writer.

This file is written in Cython's pure-Python mode: ``setup.py`` compiles it to the extension
``evcharge._exi._runtime_c``; without a compiler the very same file runs as plain Python.
:mod:`evcharge._exi._backend` picks one of the two, in one place.

Everything here follows W3C EXI 1.0, section 7 (built-in datatype representations) with the
bit-packed alignment that the V2G profile uses.
"""

from __future__ import annotations

import cython

from evcharge._exi.errors import ExiDecodeError, ExiEncodeError

COMPILED: bool = cython.compiled

# Upper bound on any length prefix (string, binary, list) accepted while decoding.  The largest
# V2G messages are a few kilobytes; a length beyond the remaining input is rejected anyway.
_MAX_UINT_OCTETS = 10  # 70 bits: more than any value the V2G schemas allow


@cython.cclass
class BitWriter:
    """Append-only bit-packed output (most significant bit first)."""

    _buf: bytearray
    _acc: cython.ulonglong
    _nacc: cython.int

    def __init__(self) -> None:
        self._buf = bytearray()
        self._acc = 0
        self._nacc = 0

    @cython.ccall
    def write_bits(self, value: cython.ulonglong, n: cython.int) -> None:
        """Write the ``n`` low bits of ``value`` (0 <= n <= 32)."""
        if n == 0:
            return
        self._acc = (self._acc << n) | (value & ((cython.cast(cython.ulonglong, 1) << n) - 1))
        self._nacc += n
        while self._nacc >= 8:
            self._nacc -= 8
            self._buf.append(cython.cast(cython.int, (self._acc >> self._nacc) & 0xFF))
        self._acc &= (cython.cast(cython.ulonglong, 1) << self._nacc) - 1

    @cython.ccall
    def write_bool(self, value: cython.bint) -> None:
        self.write_bits(1 if value else 0, 1)

    @cython.ccall
    def write_uint(self, value: object) -> None:
        """EXI Unsigned Integer: little-endian groups of 7 bits, bit 8 set on all but the last."""
        v: cython.ulonglong
        if value < 0:
            raise ExiEncodeError(f"unsigned integer {value} is negative")
        if value < 0x8000000000000000:
            v = value
            while v >= 0x80:
                self.write_bits((v & 0x7F) | 0x80, 8)
                v >>= 7
            self.write_bits(v, 8)
            return
        big = int(value)
        while big >= 0x80:
            self.write_bits((big & 0x7F) | 0x80, 8)
            big >>= 7
        self.write_bits(big, 8)

    @cython.ccall
    def write_int(self, value: object) -> None:
        """EXI Integer: a sign bit, then the magnitude (negative values store -(v + 1))."""
        if value < 0:
            self.write_bits(1, 1)
            self.write_uint(-value - 1)
        else:
            self.write_bits(0, 1)
            self.write_uint(value)

    @cython.ccall
    def write_binary(self, value: bytes) -> None:
        """EXI Binary: length, then the octets."""
        i: cython.Py_ssize_t
        n: cython.Py_ssize_t = len(value)
        self.write_uint(n)
        for i in range(n):
            self.write_bits(value[i], 8)

    @cython.ccall
    def write_string_chars(self, value: str) -> None:
        """The characters of a string, each as an Unsigned Integer code point (no length)."""
        ch: cython.Py_UCS4
        for ch in value:
            self.write_uint(ord(ch))

    def getvalue(self) -> bytes:
        """The bytes written so far, the last one padded with zero bits."""
        out = bytearray(self._buf)
        if self._nacc:
            out.append(cython.cast(cython.int, (self._acc << (8 - self._nacc)) & 0xFF))
        return bytes(out)

    @property
    def bit_length(self) -> int:
        return len(self._buf) * 8 + self._nacc


@cython.cclass
class BitReader:
    """Bit-packed input (most significant bit first) that never reads past its end."""

    _data: bytes
    _pos: cython.Py_ssize_t
    _end: cython.Py_ssize_t

    def __init__(self, data: bytes, start_bit: int = 0) -> None:
        self._data = bytes(data)
        self._pos = start_bit
        self._end = len(self._data) * 8

    @property
    def bit_offset(self) -> int:
        return self._pos

    @property
    def bits_left(self) -> int:
        return self._end - self._pos

    @cython.ccall
    def _eof(self, n: cython.Py_ssize_t) -> None:
        raise ExiDecodeError(
            f"unexpected end of input: {n} more bit(s) needed, {self._end - self._pos} left",
            bit_offset=self._pos,
        )

    @cython.ccall
    def read_bits(self, n: cython.int) -> cython.ulonglong:
        """Read ``n`` bits (0 <= n <= 32) as an unsigned number."""
        result: cython.ulonglong = 0
        pos: cython.Py_ssize_t = self._pos
        byte: cython.uint
        take: cython.int
        avail: cython.int
        if n == 0:
            return 0
        if pos + n > self._end:
            self._eof(n)
        while n > 0:
            byte = self._data[pos >> 3]
            avail = 8 - (pos & 7)
            take = n if n < avail else avail
            result = (result << take) | ((byte >> (avail - take)) & ((1 << take) - 1))
            pos += take
            n -= take
        self._pos = pos
        return result

    @cython.ccall
    def read_bool(self) -> cython.bint:
        return self.read_bits(1) != 0

    @cython.ccall
    def read_uint(self) -> object:
        """EXI Unsigned Integer (arbitrary size, but at most 10 octets are accepted)."""
        result: cython.ulonglong = 0
        shift: cython.int = 0
        octet: cython.ulonglong
        count: cython.int = 0
        while True:
            octet = self.read_bits(8)
            count += 1
            if count > 9:
                return self._read_big_uint(result, octet, count)
            result |= (octet & 0x7F) << shift
            if not (octet & 0x80):
                return result
            shift += 7

    def _read_big_uint(self, low: int, octet: int, count: int) -> int:
        value = int(low)
        shift = 7 * (count - 1)
        while True:
            value |= (octet & 0x7F) << shift
            if not (octet & 0x80):
                return value
            if count >= _MAX_UINT_OCTETS:
                raise ExiDecodeError("unsigned integer longer than 10 octets", bit_offset=self._pos)
            shift += 7
            octet = self.read_bits(8)
            count += 1

    @cython.ccall
    def read_int(self) -> object:
        if self.read_bits(1):
            return -self.read_uint() - 1
        return self.read_uint()

    @cython.ccall
    def read_length(self, limit: cython.Py_ssize_t) -> cython.Py_ssize_t:
        """A length prefix, checked against ``limit`` and against the bits that remain."""
        n = self.read_uint()
        if n > limit:
            raise ExiDecodeError(f"length {n} exceeds the allowed maximum {limit}", bit_offset=self._pos)
        return n

    @cython.ccall
    def read_binary(self, limit: cython.Py_ssize_t) -> bytes:
        n: cython.Py_ssize_t = self.read_length(limit)
        i: cython.Py_ssize_t
        if n * 8 > self._end - self._pos:
            self._eof(n * 8)
        out = bytearray(n)
        for i in range(n):
            out[i] = self.read_bits(8)
        return bytes(out)

    @cython.ccall
    def read_string_chars(self, n: cython.Py_ssize_t) -> str:
        """``n`` characters, each an Unsigned Integer code point."""
        i: cython.Py_ssize_t
        cp: object
        if n * 8 > self._end - self._pos:
            self._eof(n * 8)
        chars = []
        for i in range(n):
            cp = self.read_uint()
            if cp > 0x10FFFF or 0xD800 <= cp <= 0xDFFF:
                raise ExiDecodeError(f"invalid code point {cp}", bit_offset=self._pos)
            chars.append(chr(cp))
        return "".join(chars)
