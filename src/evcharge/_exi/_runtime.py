"""EXI bit-packed stream reader and writer.

This file is written in Cython's pure-Python mode: ``setup.py`` compiles it to the extension
``evcharge._exi._runtime_c``; without a compiler the very same file runs as plain Python.
:mod:`evcharge._exi._backend` picks one of the two, in one place.

Everything here follows W3C EXI 1.0, section 7 (built-in datatype representations) with the
bit-packed alignment that the V2G profile uses.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from itertools import pairwise

import cython

from evcharge._exi.errors import ExiDecodeError, ExiEncodeError

COMPILED: bool = cython.compiled

# Upper bound on any length prefix (string, binary, list) accepted while decoding.  The largest
# V2G messages are a few kilobytes; a length beyond the remaining input is rejected anyway.
_MAX_UINT_OCTETS = 40  # 280 bits: X509 serial numbers (xs:integer) are up to 160 bits

if cython.compiled:
    from cython.cimports.cpython.bytearray import PyByteArray_AS_STRING, PyByteArray_FromStringAndSize
    from cython.cimports.cpython.bytes import PyBytes_AS_STRING, PyBytes_FromStringAndSize
    from cython.cimports.cpython.unicode import PyUnicode_4BYTE_KIND, PyUnicode_FromKindAndData


@cython.final
@cython.cclass
class BitWriter:
    """Append-only bit-packed output (most significant bit first)."""

    _buf: bytearray  # room for the output: the first _len bytes are written (no resize per byte)
    _p: cython.p_uchar  # compiled backend: the bytes of _buf (moves when _buf grows)
    _cap: cython.Py_ssize_t
    _len: cython.Py_ssize_t
    _acc: cython.ulonglong
    _nacc: cython.int

    def __init__(self) -> None:
        self._buf = bytearray(64)
        self._cap = 64
        if cython.compiled:
            self._p = cython.cast(cython.p_uchar, PyByteArray_AS_STRING(self._buf))
        self._len = 0
        self._acc = 0
        self._nacc = 0

    @cython.cfunc
    @cython.exceptval(-1)
    def _grow(self) -> cython.int:
        self._buf.extend(bytearray(self._cap))
        self._cap = len(self._buf)
        if cython.compiled:
            self._p = cython.cast(cython.p_uchar, PyByteArray_AS_STRING(self._buf))
        return 0

    @cython.ccall
    @cython.exceptval(-1)
    def write_bits(self, value: cython.ulonglong, n: cython.int) -> cython.int:
        """Write the ``n`` low bits of ``value`` (0 <= n <= 56)."""
        return self._put(value, n)

    @cython.cfunc
    @cython.inline
    @cython.exceptval(-1)
    def _put(self, value: cython.ulonglong, n: cython.int) -> cython.int:
        nacc: cython.int
        acc: cython.ulonglong
        if self._len + 8 > self._cap:  # at most 63 bits are pending after the shift: 7 whole bytes
            self._grow()
        acc = (self._acc << n) | (value & ((cython.cast(cython.ulonglong, 1) << n) - 1))
        nacc = self._nacc + n
        while nacc >= 8:
            nacc -= 8
            if cython.compiled:
                self._p[self._len] = cython.cast(cython.uchar, acc >> nacc)
            else:
                self._buf[self._len] = (acc >> nacc) & 0xFF
            self._len += 1
        self._nacc = nacc
        self._acc = acc & ((cython.cast(cython.ulonglong, 1) << nacc) - 1)
        return 0

    @cython.cfunc
    @cython.exceptval(-1)
    def _write_u64(self, v: cython.ulonglong) -> cython.int:
        """An EXI Unsigned Integer below 2**63: two octets in one write when they fit."""
        if v < 0x80:
            return self._put(v, 8)
        if v < 0x4000:
            return self._put((((v & 0x7F) | 0x80) << 8) | (v >> 7), 16)
        while v >= 0x80:
            self._put((v & 0x7F) | 0x80, 8)
            v >>= 7
        return self._put(v, 8)

    @cython.ccall
    def write_bool(self, value: cython.bint) -> None:
        self._put(1 if value else 0, 1)

    @cython.ccall
    def write_uint(self, value: int) -> None:
        """EXI Unsigned Integer: little-endian groups of 7 bits, bit 8 set on all but the last."""
        v: cython.ulonglong
        if value < 0:
            raise ExiEncodeError(f"unsigned integer {value} is negative")
        if value < 0x8000000000000000:
            v = value
            while v >= 0x80:
                self._put((v & 0x7F) | 0x80, 8)
                v >>= 7
            self._put(v, 8)
            return
        big = int(value)
        while big >= 0x80:
            self._put((big & 0x7F) | 0x80, 8)
            big >>= 7
        self._put(big, 8)

    @cython.ccall
    def write_int(self, value: int) -> None:
        """EXI Integer: a sign bit, then the magnitude (negative values store -(v + 1))."""
        if value < 0:
            self._put(1, 1)
            self.write_uint(-value - 1)
        else:
            self._put(0, 1)
            self.write_uint(value)

    @cython.ccall
    def write_binary(self, value: bytes) -> None:
        """EXI Binary: length, then the octets."""
        i: cython.Py_ssize_t = 0
        n: cython.Py_ssize_t = len(value)
        self._write_u64(n)
        b0: cython.uchar
        b1: cython.uchar
        b2: cython.uchar
        b3: cython.uchar
        while i + 4 <= n:  # four octets per write (each taken as an unsigned C char first)
            b0 = value[i]
            b1 = value[i + 1]
            b2 = value[i + 2]
            b3 = value[i + 3]
            self._put((cython.cast(cython.ulonglong, b0) << 24) | (cython.cast(cython.ulonglong, b1) << 16)
                      | (cython.cast(cython.ulonglong, b2) << 8) | b3, 32)
            i += 4
        while i < n:
            self._put(value[i], 8)
            i += 1

    @cython.ccall
    def write_string_chars(self, value: str) -> None:
        """The characters of a string, each as an Unsigned Integer code point (no length)."""
        ch: cython.Py_UCS4
        cp: cython.ulonglong
        for ch in value:
            cp = ord(ch)
            if 0xD800 <= cp <= 0xDFFF:
                raise ExiEncodeError(f"lone surrogate U+{cp:04X} in a string")
            self._write_u64(cp)

    @cython.ccall
    def getvalue(self) -> bytes:
        """The bytes written so far, the last one padded with zero bits."""
        n: cython.Py_ssize_t = self._len
        if self._nacc:
            if n == self._cap:
                self._grow()
            self._buf[n] = cython.cast(cython.int, (self._acc << (8 - self._nacc)) & 0xFF)
            n += 1
        if cython.compiled:
            return PyBytes_FromStringAndSize(PyByteArray_AS_STRING(self._buf), n)
        return bytes(self._buf[:n])

    @property
    def bit_length(self) -> int:
        return self._len * 8 + self._nacc


@cython.final
@cython.cclass
class BitReader:
    """Bit-packed input (most significant bit first) that never reads past its end."""

    _data: bytes
    _p: cython.p_uchar  # compiled backend: the bytes of _data
    _pos: cython.Py_ssize_t
    _end: cython.Py_ssize_t

    def __init__(self, data: bytes, start_bit: int = 0) -> None:
        self._data = bytes(data)
        if cython.compiled:
            self._p = cython.cast(cython.p_uchar, PyBytes_AS_STRING(self._data))
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
    @cython.exceptval(-1)
    def read_bits(self, n: cython.int) -> cython.longlong:
        """Read ``n`` bits (0 <= n <= 32) as an unsigned number."""
        return self._bits(n)

    @cython.cfunc
    @cython.inline
    @cython.exceptval(-1)
    def _bits(self, n: cython.int) -> cython.longlong:
        acc: cython.ulonglong
        pos: cython.Py_ssize_t = self._pos
        end: cython.Py_ssize_t = pos + n
        i: cython.Py_ssize_t
        last: cython.Py_ssize_t
        if n == 0:
            return 0
        if end > self._end:
            self._eof(n)
        # the octets that hold bits [pos, end), at most 5 (39 bits), then the bits after `end` shifted out
        i = pos >> 3
        last = (end - 1) >> 3
        if cython.compiled:
            acc = self._p[i] & (0xFF >> (pos & 7))
            while i < last:
                i += 1
                acc = (acc << 8) | self._p[i]
        else:
            acc = self._data[i] & (0xFF >> (pos & 7))
            while i < last:
                i += 1
                acc = (acc << 8) | self._data[i]
        self._pos = end
        return acc >> (((last + 1) << 3) - end)

    @cython.ccall
    def read_bool(self) -> cython.bint:
        return self._bits(1) != 0

    @cython.ccall
    def read_uint(self) -> int:
        """EXI Unsigned Integer (arbitrary size, but at most 10 octets are accepted)."""
        result: cython.ulonglong = 0
        shift: cython.int = 0
        octet: cython.ulonglong
        count: cython.int = 0
        while True:
            octet = self._bits(8)
            count += 1
            if count > 9:
                return self._read_big_uint(result, octet, count)
            result |= (octet & 0x7F) << shift
            if not (octet & 0x80):
                if octet == 0 and count > 1:
                    self._overlong()
                return result
            shift += 7

    @cython.cfunc
    @cython.exceptval(-1)
    def _read_small_uint(self) -> cython.longlong:
        """An EXI Unsigned Integer of at most 9 octets (below 2**63); -2 when it is longer."""
        result: cython.longlong
        shift: cython.int = 7
        octet: cython.longlong = self._bits(8)
        count: cython.int = 1
        if octet < 0x80:  # one octet: most values of a V2G message
            return octet
        result = octet & 0x7F
        while True:
            octet = self._bits(8)
            count += 1
            if count > 9:
                return -2  # 2**63 or more: the caller reads it again the general way
            result |= (octet & 0x7F) << shift
            if not (octet & 0x80):
                if octet == 0 and count > 1:
                    self._overlong()
                return result
            shift += 7

    @cython.ccall
    def _overlong(self) -> None:
        # 0x80 0x00 for 0: a longer form than the minimal one every encoder writes; it would not re-encode
        raise ExiDecodeError("unsigned integer in a non-minimal form (a trailing zero octet)", bit_offset=self._pos)

    def _read_big_uint(self, low: int, octet: int, count: int) -> int:
        value = int(low)
        shift = 7 * (count - 1)
        while True:
            value |= (octet & 0x7F) << shift
            if not (octet & 0x80):
                if octet == 0:
                    self._overlong()
                return value
            if count >= _MAX_UINT_OCTETS:
                raise ExiDecodeError(f"unsigned integer longer than {_MAX_UINT_OCTETS} octets", bit_offset=self._pos)
            shift += 7
            octet = self._bits(8)
            count += 1

    @cython.ccall
    def read_int(self) -> int:
        if self._bits(1):
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
        n: cython.Py_ssize_t
        i: cython.Py_ssize_t
        if cython.compiled:
            before: cython.Py_ssize_t = self._pos
            c: cython.longlong = self._read_small_uint()
            if c < 0 or c > limit:  # too long or too large: read again the general way, which says why
                self._pos = before
                n = self.read_length(limit)
            else:
                n = c
        else:
            n = self.read_length(limit)
        if n * 8 > self._end - self._pos:
            self._eof(n * 8)
        if cython.compiled:
            res: bytes = PyBytes_FromStringAndSize(cython.NULL, n)
            p: cython.p_uchar = cython.cast(cython.p_uchar, PyBytes_AS_STRING(res))
            # n whole octets from bit offset pos: octet k is the low 8 bits of (src[k] << sh) | (src[k + 1] >> (8 - sh))
            # with sh > 0 the last of them, src[n], holds the last bits read, so it is inside the data
            src: cython.p_uchar = self._p + (self._pos >> 3)
            sh: cython.int = self._pos & 7
            if sh == 0:
                for i in range(n):
                    p[i] = src[i]
            else:
                for i in range(n):
                    p[i] = cython.cast(cython.uchar, (src[i] << sh) | (src[i + 1] >> (8 - sh)))
            self._pos += n * 8
            return res
        out = bytearray(n)
        for i in range(n):
            out[i] = self._bits(8)
        return bytes(out)

    @cython.ccall
    def read_string_chars(self, n: cython.Py_ssize_t) -> str:
        """``n`` characters, each an Unsigned Integer code point."""
        cp: int
        if n * 8 > self._end - self._pos:
            self._eof(n * 8)
        if cython.compiled:
            # the code points into a UCS4 buffer, the str made once from it
            i: cython.Py_ssize_t
            c: cython.longlong
            before: cython.Py_ssize_t
            buf: bytes = PyBytes_FromStringAndSize(cython.NULL, 4 * n + 4)
            ucs: cython.pointer[cython.Py_UCS4] = cython.cast(cython.pointer[cython.Py_UCS4], PyBytes_AS_STRING(buf))
            for i in range(n):
                before = self._pos
                c = self._read_small_uint()
                if c < 0 or c > 0x10FFFF or 0xD800 <= c <= 0xDFFF:
                    if c < 0:  # longer than 9 octets: read it again whole for the message
                        self._pos = before
                        cp = self.read_uint()
                    else:
                        cp = c
                    raise ExiDecodeError(f"invalid code point {cp}", bit_offset=self._pos)
                ucs[i] = cython.cast(cython.Py_UCS4, c)
            return PyUnicode_FromKindAndData(PyUnicode_4BYTE_KIND, ucs, n)
        chars = []
        for _ in range(n):
            cp = self.read_uint()
            if cp > 0x10FFFF or 0xD800 <= cp <= 0xDFFF:
                raise ExiDecodeError(f"invalid code point {cp}", bit_offset=self._pos)
            chars.append(chr(cp))
        return "".join(chars)


# ---------------------------------------------------------------------------------------------
# The grammar interpreter
# ---------------------------------------------------------------------------------------------
# Production kinds (tables produced by evcharge._exi.codegen)
P_EE = cython.declare(cython.int, 0)
P_SE = cython.declare(cython.int, 1)
P_AT = cython.declare(cython.int, 2)
P_CH = cython.declare(cython.int, 3)
P_UNSUPPORTED = cython.declare(cython.int, 4)  # wildcards: decoded as an error
P_MIXED = cython.declare(cython.int, 5)  # a chunk of text in mixed content (CH [untyped value]): a string

# Datatype kinds
D_BOOL = cython.declare(cython.int, 0)
D_UINT = cython.declare(cython.int, 1)
D_INT = cython.declare(cython.int, 2)
D_NBIT = cython.declare(cython.int, 3)
D_STRING = cython.declare(cython.int, 4)
D_BINARY = cython.declare(cython.int, 5)
D_ENUM = cython.declare(cython.int, 6)

# Type kinds
T_COMPLEX = cython.declare(cython.int, 0)
T_SIMPLE = cython.declare(cython.int, 1)

MAX_DEPTH = cython.declare(cython.int, 48)
_PTR_SIZE = struct.calcsize("P")  # the size of a slot (a PyObject pointer)


if cython.compiled:
    from cython.cimports.cpython.long import PyLong_AsLongLongAndOverflow
    from cython.cimports.cpython.type import PyType_GenericAlloc
    from cython.cimports.evcharge._exi._capi import slot_fill_none, slot_get, slot_offset, slot_set, slots_fill_none


@cython.cfunc
def _new(cls: type) -> object:
    """An instance of a generated (slotted) class with no slot set, without running __init__."""
    if cython.compiled:
        return PyType_GenericAlloc(cls, 0)
    return object.__new__(cls)


def _path_error(exc: Exception, name: str) -> None:
    """Prefix the path of an error raised below ``name`` and re-raise it."""
    if isinstance(exc, ExiDecodeError):
        exc.path = name if not exc.path else f"{name}.{exc.path}"
        exc.args = (f"{exc.reason} (at {exc.path}, bit offset {exc.bit_offset})",)
    elif isinstance(exc, ExiEncodeError):
        exc.path = name if not exc.path else f"{name}.{exc.path}"
        exc.args = (f"{exc.path}: {exc.reason}",)
    raise exc


@cython.cfunc
def _check_end(r: BitReader) -> None:
    """The document has ended: only the padding bits of its last byte may follow."""
    left: cython.Py_ssize_t = r._end - r._pos
    if left >= 8:
        raise ExiDecodeError(f"{left // 8} byte(s) left after the end of the document", bit_offset=r._pos)


@cython.cfunc
def _reader(data: bytes, start: cython.Py_ssize_t) -> BitReader:
    """``BitReader(data, start)`` without the Python call (``data`` is exactly ``bytes``)."""
    r: BitReader = BitReader.__new__(BitReader)
    r._data = data
    if cython.compiled:
        r._p = cython.cast(cython.p_uchar, PyBytes_AS_STRING(data))
    r._pos = start
    r._end = len(data) * 8
    return r


@cython.cfunc
def _writer() -> BitWriter:
    """``BitWriter()`` without the Python call."""
    w: BitWriter = BitWriter.__new__(BitWriter)
    if cython.compiled:
        w._buf = PyByteArray_FromStringAndSize(cython.NULL, 64)
        w._p = cython.cast(cython.p_uchar, PyByteArray_AS_STRING(w._buf))
    else:
        w._buf = bytearray(64)
    w._cap = 64
    w._len = 0
    w._acc = 0
    w._nacc = 0
    return w


def _simple_shape(states: Sequence, prods: Sequence, t: Sequence) -> tuple[int, int, int, int, int] | None:
    """(CH width, CH code, datatype, EE width, EE code) of simple type ``t``'s usual content, or None.

    None unless the type is simple, its first state has exactly one CH production and the state after
    it exactly one first-level EE: then reading that CH code, the value and that EE code is the same as
    running the grammar (anything else is left to it).
    """
    if t[0] != T_SIMPLE:
        return None
    s = states[t[1]]
    chs = [i for i in range(s[1]) if prods[s[4] + i][0] == P_CH]
    if len(chs) != 1:
        return None
    ch = prods[s[4] + chs[0]]
    s2 = states[ch[3]]
    ees = [i for i in range(s2[1]) if prods[s2[4] + i][0] == P_EE]
    if len(ees) != 1:
        return None
    return (s[0], chs[0], ch[2], s2[0], ees[0])


@cython.final
@cython.cclass
class Grammar:
    """One schema family's EXI grammars as flat tables, and the interpreter that runs them.

    The tables come from the generated module of the family (see :mod:`evcharge._exi.codegen`).
    """

    # states
    st_w1: cython.int[::1]
    st_n1: cython.int[::1]
    st_w2: cython.int[::1]
    st_ee2: cython.int[::1]
    st_p0: cython.int[::1]
    st_e0: cython.int[::1]
    # productions
    pr_kind: cython.int[::1]
    pr_slot: cython.int[::1]
    pr_arg: cython.int[::1]
    pr_next: cython.int[::1]
    # encoder lookup: for state s, enc[st_e0[s] + slot] = production or -1; the entry after the
    # type's slots is the first-level EE production (or -1)
    enc: cython.int[::1]
    # types
    ty_kind: cython.int[::1]
    ty_start: cython.int[::1]
    ty_dt: cython.int[::1]
    ty_nslots: cython.int[::1]
    ty_value_slot: cython.int[::1]
    ty_class: list
    ty_names: list  # per type: tuple of slot attribute names
    ty_xsd: list  # per type: tuple of slot XSD names (for error paths)
    ty_islist: list  # per type: tuple of bools
    ty_required: list  # per type: tuple of bools
    ty_maxocc: list  # per type: tuple of ints (-1 = unbounded)
    ty_slot0: cython.int[::1]  # per type: index of its first slot in slot_off
    sl_islist: cython.int[::1]  # per slot (ty_slot0[t] + slot): 1 when the field is a list
    # the usual content of a simple type t (CH, then EE), when its grammar has exactly one way to write it:
    # sc_ok[t], the width and code of the CH event, its datatype, the width and code of the EE after it
    sc_ok: cython.int[::1]
    sc_w1: cython.int[::1]
    sc_ch: cython.int[::1]
    sc_dt: cython.int[::1]
    sc_w2: cython.int[::1]
    sc_ee: cython.int[::1]
    # sw_ok[t]: sc_ok[t], and the encoder's productions for that content are that very CH and EE, so an
    # encode may write the SE code, the CH code, the value and the EE code in one step (_put_simple)
    sw_ok: cython.int[::1]
    slot_off: cython.longlong[::1]  # compiled backend: byte offset of each slot in its object
    ty_run: cython.longlong[::1]  # per type: the offset of its first slot when its slots are consecutive, else -1
    # datatypes
    dt_kind: cython.int[::1]
    dt_nbits: cython.int[::1]
    dt_min: list
    dt_max: list
    dt_minlen: list
    dt_maxlen: list
    dt_enum: list
    dt_enum_index: list
    # integer datatypes whose bounds both fit a C long long: checked and written without Python ints
    dt_cbound: cython.int[::1]
    dt_clo: cython.longlong[::1]
    dt_chi: cython.longlong[::1]
    # documents and fragments
    doc_width: cython.int
    doc_types: list  # index -> type id (or -1)
    doc_names: list
    frag_width: cython.int
    frag_types: list
    frag_names: list
    # encode_message: class -> document index, and the slow path (explicit element, errors)
    root_of: dict
    fallback: object
    # encode_message / decode_message: a reader and a writer reused from call to call
    _rd: BitReader
    _rd_busy: cython.bint
    _wr: BitWriter
    _wr_busy: cython.bint

    def __init__(self, tables: dict) -> None:
        from array import array

        def ia(values: list) -> object:
            return array("i", values)

        states = tables["states"]
        self.st_w1 = ia([s[0] for s in states])
        self.st_n1 = ia([s[1] for s in states])
        self.st_w2 = ia([s[2] for s in states])
        self.st_ee2 = ia([s[3] for s in states])
        self.st_p0 = ia([s[4] for s in states])
        self.st_e0 = ia([s[5] for s in states])
        prods = tables["productions"]
        self.pr_kind = ia([p[0] for p in prods])
        self.pr_slot = ia([p[1] for p in prods])
        self.pr_arg = ia([p[2] for p in prods])
        self.pr_next = ia([p[3] for p in prods])
        self.enc = ia(list(tables["enc"]))
        types = tables["types"]
        self.ty_kind = ia([t[0] for t in types])
        self.ty_start = ia([t[1] for t in types])
        self.ty_dt = ia([t[2] for t in types])
        self.ty_nslots = ia([len(t[4]) for t in types])
        self.ty_value_slot = ia([t[5] for t in types])
        self.ty_class = [t[3] for t in types]
        self.ty_names = [tuple(t[4]) for t in types]
        self.ty_xsd = [tuple(t[6]) for t in types]
        self.ty_islist = [tuple(t[7]) for t in types]
        self.ty_required = [tuple(t[8]) for t in types]
        self.ty_maxocc = [tuple(t[9]) for t in types]
        firsts = []
        offsets: list[int] = []
        listflags: list[int] = []
        for t in types:
            firsts.append(len(offsets))
            cls = t[3]
            listflags.extend(1 if f else 0 for f in t[7])
            for name in t[4]:
                offsets.append(slot_offset(cls.__dict__[name]) if cython.compiled and cls is not None else 0)
        self.ty_slot0 = ia(firsts)
        self.slot_off = array("q", offsets or [0])
        runs = []
        for i, t in enumerate(types):
            offs = offsets[firsts[i]:firsts[i] + len(t[4])]
            consecutive = cython.compiled and len(offs) > 0 and offs[0] > 0 and all(
                b - a == _PTR_SIZE for a, b in pairwise(offs))
            runs.append(offs[0] if consecutive else -1)
        self.ty_run = array("q", runs or [0])
        assert len(listflags) == len(offsets)
        self.sl_islist = ia(listflags or [0])
        sc = [_simple_shape(states, prods, t) for t in types]
        self.sc_ok = ia([1 if c is not None else 0 for c in sc] or [0])
        self.sc_w1 = ia([c[0] if c is not None else 0 for c in sc] or [0])
        self.sc_ch = ia([c[1] if c is not None else 0 for c in sc] or [0])
        self.sc_dt = ia([c[2] if c is not None else 0 for c in sc] or [0])
        self.sc_w2 = ia([c[3] if c is not None else 0 for c in sc] or [0])
        self.sc_ee = ia([c[4] if c is not None else 0 for c in sc] or [0])
        enc_tab = tables["enc"]

        def sw(t: tuple, c: tuple | None) -> bool:
            if c is None or t[5] < 0:
                return False
            s0 = states[t[1]]
            p = enc_tab[s0[5] + t[5]]
            if p != s0[4] + c[1]:
                return False
            s1 = states[prods[p][3]]
            return bool(enc_tab[s1[5] + len(t[4])] == s1[4] + c[4])

        self.sw_ok = ia([1 if sw(t, c) else 0 for t, c in zip(types, sc, strict=True)] or [0])
        dts = tables["datatypes"]
        self.dt_kind = ia([d[0] for d in dts])
        self.dt_nbits = ia([d[1] for d in dts])
        self.dt_min = [d[2] for d in dts]
        self.dt_max = [d[3] for d in dts]
        self.dt_minlen = [d[4] for d in dts]
        self.dt_maxlen = [d[5] for d in dts]
        self.dt_enum = [tuple(d[6]) if d[6] is not None else None for d in dts]
        self.dt_enum_index = [{m: i for i, m in enumerate(d[6])} if d[6] is not None else None for d in dts]

        def cbound(d: tuple) -> bool:
            return d[0] in (D_NBIT, D_UINT, D_INT) and d[2] is not None and d[3] is not None and (
                -(1 << 62) <= d[2] <= d[3] < (1 << 62))

        self.dt_cbound = ia([1 if cbound(d) else 0 for d in dts] or [0])
        self.dt_clo = array("q", [d[2] if cbound(d) else 0 for d in dts] or [0])
        self.dt_chi = array("q", [d[3] if cbound(d) else 0 for d in dts] or [0])
        self.doc_width = tables["doc_width"]
        self.doc_types = list(tables["doc_types"])
        self.doc_names = list(tables["doc_names"])
        self.frag_width = tables["frag_width"]
        self.frag_types = list(tables["frag_types"])
        self.frag_names = list(tables["frag_names"])
        self._rd = _reader(b"", 0)
        self._rd_busy = False
        self._wr = _writer()
        self._wr_busy = False

    # -- values ------------------------------------------------------------------------------
    @cython.cfunc
    def _read_value(self, r: BitReader, dt: cython.int) -> object:
        kind: cython.int = self.dt_kind[dt]
        if kind == D_BOOL:
            return r._bits(1) != 0
        if kind == D_ENUM:
            members: tuple = self.dt_enum[dt]
            i: cython.Py_ssize_t = r._bits(self.dt_nbits[dt])
            if i >= len(members):
                raise ExiDecodeError(f"enumeration index {i} out of range ({len(members)} values)", bit_offset=r._pos)
            return members[i]
        if kind == D_NBIT and self.dt_cbound[dt]:
            nv: cython.longlong = r._bits(self.dt_nbits[dt]) + self.dt_clo[dt]
            if nv > self.dt_chi[dt]:
                raise ExiDecodeError(f"value {nv} above the maximum {self.dt_max[dt]}", bit_offset=r._pos)
            return nv
        if kind == D_NBIT:
            v = r._bits(self.dt_nbits[dt]) + self.dt_min[dt]
            if v > self.dt_max[dt]:
                raise ExiDecodeError(f"value {v} above the maximum {self.dt_max[dt]}", bit_offset=r._pos)
            return v
        if (kind == D_UINT or kind == D_INT) and self.dt_cbound[dt]:
            start: cython.Py_ssize_t = r._pos
            cv: cython.longlong
            negative: cython.bint = kind == D_INT and r._bits(1) != 0
            cv = r._read_small_uint()
            if cv == -2:
                r._pos = start  # too long for the fast path: the general path below reads it and says why
            else:
                if negative:
                    cv = -1 - cv
                if cv < self.dt_clo[dt] or cv > self.dt_chi[dt]:
                    raise ExiDecodeError(
                        f"value {cv} outside [{self.dt_min[dt]}, {self.dt_max[dt]}]", bit_offset=r._pos
                    )
                return cv
        if kind == D_UINT or kind == D_INT:
            v = r.read_uint() if kind == D_UINT else r.read_int()
            lo = self.dt_min[dt]
            hi = self.dt_max[dt]
            if (lo is not None and v < lo) or (hi is not None and v > hi):
                raise ExiDecodeError(f"value {v} outside [{lo}, {hi}]", bit_offset=r._pos)
            return v
        if kind == D_STRING:
            n = r.read_uint()
            if n < 2:
                raise ExiDecodeError(
                    "string value table hit, but the V2G profile keeps no value tables", bit_offset=r._pos
                )
            n -= 2
            hi = self.dt_maxlen[dt]
            if hi is not None and n > hi:
                raise ExiDecodeError(f"string of {n} characters exceeds maxLength {hi}", bit_offset=r._pos)
            lo = self.dt_minlen[dt]
            if lo is not None and n < lo:
                raise ExiDecodeError(f"string of {n} characters is shorter than minLength {lo}", bit_offset=r._pos)
            if n * 8 > r._end - r._pos:
                raise ExiDecodeError(f"string of {n} characters is longer than the input left", bit_offset=r._pos)
            return r.read_string_chars(n)
        if kind == D_BINARY:
            hi = self.dt_maxlen[dt]
            b = r.read_binary(hi if hi is not None else (r._end - r._pos) >> 3)
            lo = self.dt_minlen[dt]
            if lo is not None and len(b) < lo:
                raise ExiDecodeError(f"{len(b)} bytes, fewer than minLength {lo}", bit_offset=r._pos)
            return b
        raise ExiDecodeError(f"unsupported datatype kind {kind}", bit_offset=r._pos)

    @cython.cfunc
    def _write_value(self, w: BitWriter, dt: cython.int, v: object) -> None:
        kind: cython.int = self.dt_kind[dt]
        if kind == D_BOOL:
            if not isinstance(v, bool):
                raise ExiEncodeError(f"expected a bool, got {type(v).__name__}")
            w._put(1 if v else 0, 1)
            return
        if kind == D_ENUM:
            idx = cython.cast(dict, self.dt_enum_index[dt]).get(v)
            if idx is None:
                raise ExiEncodeError(f"{v!r} is not one of {[m.value for m in self.dt_enum[dt]]}")
            w._put(idx, self.dt_nbits[dt])
            return
        if self.dt_cbound[dt] and type(v) is int:
            cv: cython.longlong
            overflow: cython.int = 0
            if cython.compiled:
                cv = PyLong_AsLongLongAndOverflow(v, cython.address(overflow))
            elif -(2**63) <= v < 2**63:
                cv = v
            else:
                overflow = 1
            if overflow == 0 and self.dt_clo[dt] <= cv <= self.dt_chi[dt]:
                if kind == D_NBIT:
                    w._put(cv - self.dt_clo[dt], self.dt_nbits[dt])
                elif kind == D_UINT:
                    w._write_u64(cv)
                elif cv < 0:
                    w._put(1, 1)
                    w._write_u64(-1 - cv)
                else:
                    w._put(0, 1)
                    w._write_u64(cv)
                return
        if kind == D_NBIT or kind == D_UINT or kind == D_INT:
            if not isinstance(v, int) or isinstance(v, bool):
                raise ExiEncodeError(f"expected an int, got {type(v).__name__}")
            lo = self.dt_min[dt]
            hi = self.dt_max[dt]
            if (lo is not None and v < lo) or (hi is not None and v > hi):
                raise ExiEncodeError(f"value {v} outside [{lo}, {hi}]")
            if kind == D_NBIT:
                w._put(v - lo, self.dt_nbits[dt])
            elif kind == D_UINT:
                w.write_uint(v)
            else:
                w.write_int(v)
            return
        if kind == D_STRING:
            if not isinstance(v, str):
                raise ExiEncodeError(f"expected a str, got {type(v).__name__}")
            self._check_length(dt, len(v), "characters")
            w._write_u64(len(v) + 2)
            w.write_string_chars(v)
            return
        if kind == D_BINARY:
            if not isinstance(v, (bytes, bytearray)):
                raise ExiEncodeError(f"expected bytes, got {type(v).__name__}")
            self._check_length(dt, len(v), "bytes")
            w.write_binary(v if type(v) is bytes else bytes(v))
            return
        raise ExiEncodeError(f"unsupported datatype kind {kind}")

    @cython.cfunc
    def _check_length(self, dt: cython.int, n: cython.Py_ssize_t, unit: str) -> None:
        lo = self.dt_minlen[dt]
        hi = self.dt_maxlen[dt]
        if lo is not None and n < lo:
            raise ExiEncodeError(f"{n} {unit}, fewer than the minimum {lo}")
        if hi is not None and n > hi:
            raise ExiEncodeError(f"{n} {unit}, more than the maximum {hi}")

    # -- decoding ----------------------------------------------------------------------------
    @cython.cfunc
    def _decode_type(self, r: BitReader, t: cython.int, depth: cython.int) -> object:
        """Decode one element's content with the grammar of type ``t``.

        A complex type's values go straight into the slots of a new instance of its class (no
        temporary list); a simple type's value is returned as it is.
        """
        s: cython.int = self.ty_start[t]
        code: cython.int
        p: cython.int
        kind: cython.int
        slot: cython.int
        c: cython.int
        w: cython.int
        start: cython.Py_ssize_t
        vstart: cython.Py_ssize_t
        dt: cython.int
        dk: cython.int
        nv: cython.longlong
        ei: cython.Py_ssize_t
        neg: cython.bint
        ok: cython.bint
        vok: cython.bint
        members: tuple
        nslots: cython.int = self.ty_nslots[t]
        base: cython.int = self.ty_slot0[t]
        simple: cython.bint = self.ty_kind[t] == T_SIMPLE
        value: object = None
        obj: object = None
        if depth > MAX_DEPTH:
            raise ExiDecodeError("nesting too deep", bit_offset=r._pos)
        if not simple:
            obj = _new(self.ty_class[t])
        early_end: cython.bint = False
        seen_child: cython.bint = False
        last_se: cython.int = -1
        slot = -1
        try:
            while True:
                code = r._bits(self.st_w1[s])
                if code < self.st_n1[s]:
                    p = self.st_p0[s] + code
                    kind = self.pr_kind[p]
                    if kind == P_EE:
                        break
                    slot = self.pr_slot[p]
                    if kind == P_SE:
                        if slot < last_se:
                            # a repeated choice (xmldsig KeyInfo, X509Data) in an order the typed object,
                            # one list per element name, cannot keep: refused rather than reordered
                            raise ExiDecodeError(
                                f"{self.ty_xsd[t][slot]} after {self.ty_xsd[t][last_se]}: this element order "
                                "is not supported by this codec",
                                bit_offset=r._pos,
                            )
                        last_se = slot
                        c = self.pr_arg[p]
                        if self.sc_ok[c] and depth < MAX_DEPTH:
                            # the usual content of a simple type (CH, its value, EE) read inline; anything
                            # else (an empty value as a second-level EE, an error) rewinds the reader and
                            # takes the general path, so errors and their positions are the same
                            start = r._pos
                            w = self.sc_w1[c]
                            ok = start + w <= r._end and r._bits(w) == self.sc_ch[c]
                            if ok:
                                # the commonest datatypes read here, with the very reads _read_value makes
                                # (so the same errors at the same offsets); a value out of its range, and
                                # the other datatypes, read (again) by _read_value
                                dt = self.sc_dt[c]
                                dk = self.dt_kind[dt]
                                vstart = r._pos
                                vok = False
                                if dk == D_NBIT and self.dt_cbound[dt]:
                                    nv = r._bits(self.dt_nbits[dt]) + self.dt_clo[dt]
                                    if nv <= self.dt_chi[dt]:
                                        v = nv
                                        vok = True
                                elif dk == D_ENUM:
                                    members = self.dt_enum[dt]
                                    ei = r._bits(self.dt_nbits[dt])
                                    if ei < len(members):
                                        v = members[ei]
                                        vok = True
                                elif dk == D_BOOL:
                                    v = r._bits(1) != 0
                                    vok = True
                                elif (dk == D_UINT or dk == D_INT) and self.dt_cbound[dt]:
                                    neg = dk == D_INT and r._bits(1) != 0
                                    nv = r._read_small_uint()
                                    if nv != -2:
                                        if neg:
                                            nv = -1 - nv
                                        if self.dt_clo[dt] <= nv <= self.dt_chi[dt]:
                                            v = nv
                                            vok = True
                                if not vok:
                                    r._pos = vstart
                                    v = self._read_value(r, dt)
                                w = self.sc_w2[c]
                                ok = r._pos + w <= r._end and r._bits(w) == self.sc_ee[c]
                            if not ok:
                                r._pos = start
                                v = self._decode_type(r, c, depth + 1)
                        else:
                            v = self._decode_type(r, c, depth + 1)
                        seen_child = True
                    elif kind == P_AT or kind == P_CH:
                        v = self._read_value(r, self.pr_arg[p])
                    elif kind == P_MIXED:
                        if seen_child:
                            raise ExiDecodeError(
                                "text after a child element in mixed content is not supported by this codec",
                                bit_offset=r._pos,
                            )
                        v = self._read_value(r, self.pr_arg[p])
                    else:
                        raise ExiDecodeError(
                            "wildcard or untyped content is not supported by this codec", bit_offset=r._pos
                        )
                    if simple:
                        value = v
                    elif self.sl_islist[base + slot]:
                        lst = self._load(obj, t, base, slot)
                        if lst is None:
                            self._store(obj, t, base, slot, [v])
                        else:
                            maxocc = self.ty_maxocc[t][slot]
                            if 0 <= maxocc <= len(lst):
                                raise ExiDecodeError(
                                    f"more than the {maxocc} items the schema allows", bit_offset=r._pos
                                )
                            lst.append(v)
                    else:
                        self._store(obj, t, base, slot, v)
                    slot = -1
                    s = self.pr_next[p]
                elif code == self.st_n1[s]:
                    code = r._bits(self.st_w2[s])
                    if code != self.st_ee2[s]:
                        raise ExiDecodeError(
                            f"second-level event {code} (a schema deviation) is not supported", bit_offset=r._pos
                        )
                    # a second-level EE is how EXIficient writes an empty string or binary value (an element
                    # with no text); anywhere else it ends an element before its schema allows
                    if self.ty_value_slot[t] < 0 or (simple and value is not None) or (
                        not simple and self._load(obj, t, base, self.ty_value_slot[t]) is not None
                    ):
                        raise ExiDecodeError(
                            "the element ends before its content is complete (a schema deviation)", bit_offset=r._pos
                        )
                    early_end = True
                    break
                else:
                    raise ExiDecodeError(f"event code {code} does not exist in this state", bit_offset=r._pos)
        except ExiDecodeError as exc:
            if slot >= 0 and not simple:  # a simple type's one value is the element itself
                _path_error(exc, self.ty_xsd[t][slot])
            raise
        if simple:
            if early_end and value is None:
                value = self._empty_value(t, 0, r)
            return value
        if cython.compiled and not early_end:
            if self.ty_run[t] >= 0:
                slots_fill_none(obj, self.ty_run[t], nslots)
            else:
                for slot in range(nslots):
                    slot_fill_none(obj, self.slot_off[base + slot])
            return obj
        for slot in range(nslots):
            if self._load(obj, t, base, slot) is None:
                self._store(obj, t, base, slot, self._empty_value(t, slot, r) if early_end else None)
        return obj

    @cython.cfunc
    @cython.inline
    def _load(self, obj: object, t: cython.int, base: cython.int, slot: cython.int) -> object:
        """A slot of a generated message object (None when unset)."""
        if cython.compiled:
            return slot_get(obj, self.slot_off[base + slot])
        return getattr(obj, self.ty_names[t][slot], None)

    @cython.cfunc
    @cython.inline
    def _store(self, obj: object, t: cython.int, base: cython.int, slot: cython.int, v: object) -> None:
        if cython.compiled:
            slot_set(obj, self.slot_off[base + slot], v)
        else:
            object.__setattr__(obj, self.ty_names[t][slot], v)

    @cython.cfunc
    def _empty_value(self, t: cython.int, slot: cython.int, r: BitReader) -> object:
        """What a field absent after a second-level EE holds.

        EXIficient writes an empty string or binary value (an XML element with no text) as a
        second-level EE: the value is then empty.  A missing optional field is None; any other
        missing required content is an error.
        """
        if not self.ty_required[t][slot]:
            return None
        if slot == self.ty_value_slot[t]:
            kind: cython.int = self.dt_kind[self.ty_dt[t]]
            lo = self.dt_minlen[self.ty_dt[t]]
            if (kind == D_STRING or kind == D_BINARY) and lo is not None and lo > 0:
                raise ExiDecodeError(f"empty value, shorter than minLength {lo}", bit_offset=r._pos)
            if kind == D_STRING:
                return ""
            if kind == D_BINARY:
                return b""
        raise ExiDecodeError(f"element ends before its required {self.ty_xsd[t][slot]}", bit_offset=r._pos)

    def decode(self, data: bytes) -> object:
        """Decode an EXI document (header byte 0x80, then one root element)."""
        return self._decode_doc(bytes(data))

    @cython.cfunc
    def _decode_doc(self, data: bytes) -> object:
        # the grammar's own reader, unless a decode is already running on it (a finaliser run by the
        # garbage collector in the middle of one could decode again): then a new one
        r: BitReader
        if self._rd_busy:
            return self._decode_with(_reader(data, 0), data)
        r = self._rd
        r._data = data
        if cython.compiled:
            r._p = cython.cast(cython.p_uchar, PyBytes_AS_STRING(data))
        r._pos = 0
        r._end = len(data) * 8
        self._rd_busy = True
        try:
            return self._decode_with(r, data)
        finally:
            self._rd_busy = False
            r._data = b""  # not keeping the input alive
            if cython.compiled:
                r._p = cython.cast(cython.p_uchar, PyBytes_AS_STRING(r._data))
            r._end = 0

    @cython.cfunc
    def _decode_with(self, r: BitReader, data: bytes) -> object:
        if len(data) == 0:
            raise ExiDecodeError("empty input", bit_offset=0)
        if data[0] != 0x80:
            raise ExiDecodeError(f"EXI header must be 0x80, got 0x{data[0]:02x}", bit_offset=0)
        r._pos = 8
        code: cython.int = r._bits(self.doc_width)
        if code >= len(self.doc_types):
            raise ExiDecodeError(f"document event code {code} does not exist", bit_offset=8)
        if self.doc_types[code] < 0:
            raise ExiDecodeError(
                f"the document's root element {self.doc_names[code]} is not a message of this schema", bit_offset=8
            )
        try:
            obj = self._decode_type(r, self.doc_types[code], 0)
        except ExiDecodeError as exc:
            _path_error(exc, self.doc_names[code])
            raise
        _check_end(r)
        return obj

    def decode_message(self, data: object) -> object:
        """:meth:`decode` for the codec's public ``decode``: also takes a bytearray or memoryview."""
        if type(data) is not bytes:
            if not isinstance(data, (bytes, bytearray, memoryview)):
                raise TypeError("decode() takes bytes")
            data = bytes(data)
        return self._decode_doc(data)

    def decode_fragment(self, data: bytes) -> list:
        """Decode an EXI fragment: the elements it holds, in order."""
        r = BitReader(data)
        if len(data) == 0 or data[0] != 0x80:
            raise ExiDecodeError("EXI header must be 0x80", bit_offset=0)
        r._pos = 8
        out: list = []
        n: cython.int = len(self.frag_types)
        while True:
            code: cython.int = r._bits(self.frag_width)
            if code == n + 1:
                _check_end(r)
                return out
            if code >= n or self.frag_types[code] < 0:
                raise ExiDecodeError(f"fragment event code {code} is not supported", bit_offset=r._pos)
            try:
                out.append((self.frag_names[code], self._decode_type(r, self.frag_types[code], 0)))
            except ExiDecodeError as exc:
                _path_error(exc, self.frag_names[code])
            if len(out) > 64:
                raise ExiDecodeError("too many elements in a fragment", bit_offset=r._pos)

    # -- encoding ----------------------------------------------------------------------------
    @cython.cfunc
    @cython.inline
    @cython.exceptval(-1)
    def _emit(self, w: BitWriter, s: cython.int, p: cython.int) -> cython.int:
        return w._put(p - self.st_p0[s], self.st_w1[s])

    @cython.cfunc
    @cython.exceptval(-1)
    def _put_simple(
        self, w: BitWriter, head: cython.ulonglong, nhead: cython.int, c: cython.int, v: object
    ) -> cython.int:
        """The SE code ``head`` (``nhead`` bits), then the usual content of simple type ``c`` (sw_ok[c]) holding
        ``v``: its CH code, the value and the EE code, gathered into few writes.

        Only for the values the general path writes the same way without a question (a bool, an
        enumeration member, a bounded int in range): 1 when written, else 0 with nothing written.
        """
        dt: cython.int = self.sc_dt[c]
        dk: cython.int = self.dt_kind[dt]
        nb: cython.int
        cv: cython.longlong
        uv: cython.ulonglong
        overflow: cython.int = 0
        code: cython.ulonglong = (head << self.sc_w1[c]) | cython.cast(cython.ulonglong, self.sc_ch[c])
        n: cython.int = nhead + self.sc_w1[c]
        if n > 32:
            w._put(code, n)
            code = 0
            n = 0
        if dk == D_ENUM:
            idx = cython.cast(dict, self.dt_enum_index[dt]).get(v)
            if idx is None:
                return 0
            nb = self.dt_nbits[dt]
            code = (code << nb) | cython.cast(cython.ulonglong, cython.cast(cython.longlong, idx))
            n += nb
        elif dk == D_BOOL:
            if v is True:
                code = (code << 1) | 1
            elif v is False:
                code = code << 1
            else:
                return 0
            n += 1
        elif self.dt_cbound[dt] and type(v) is int:
            if cython.compiled:
                cv = PyLong_AsLongLongAndOverflow(v, cython.address(overflow))
            elif -(2**63) <= v < 2**63:
                cv = v
            else:
                overflow = 1
            if overflow != 0 or cv < self.dt_clo[dt] or cv > self.dt_chi[dt]:
                return 0
            if dk == D_NBIT:
                nb = self.dt_nbits[dt]
                code = (code << nb) | cython.cast(cython.ulonglong, cv - self.dt_clo[dt])
                n += nb
            else:
                if dk == D_INT:
                    code = code << 1
                    n += 1
                    if cv < 0:
                        code |= 1
                        cv = -1 - cv
                uv = cython.cast(cython.ulonglong, cv)
                if uv < 0x80:
                    code = (code << 8) | uv
                    n += 8
                elif uv < 0x4000:
                    code = (code << 16) | (((uv & 0x7F) | 0x80) << 8) | (uv >> 7)
                    n += 16
                else:
                    w._put(code, n)
                    w._write_u64(uv)
                    code = 0
                    n = 0
        else:
            return 0
        if n > 32:
            w._put(code, n)
            code = 0
            n = 0
        w._put((code << self.sc_w2[c]) | cython.cast(cython.ulonglong, self.sc_ee[c]), n + self.sc_w2[c])
        return 1

    @cython.cfunc
    def _encode_type(self, w: BitWriter, t: cython.int, obj: object) -> None:
        s: cython.int = self.ty_start[t]
        p: cython.int
        slot: cython.int
        nslots: cython.int = self.ty_nslots[t]
        e0: cython.int
        c: cython.int
        cur: cython.int = -1  # the field being written: errors below it are prefixed with its name
        if self.ty_kind[t] == T_SIMPLE:
            self._encode_value_content(w, t, s, obj)
            return
        cls = self.ty_class[t]
        if type(obj) is not cls:
            raise ExiEncodeError(f"expected {cls.__name__}, got {type(obj).__name__}")
        vs: cython.int = self.ty_value_slot[t]
        base: cython.int = self.ty_slot0[t]
        try:
            for slot in range(nslots):
                if cython.compiled:
                    v = slot_get(obj, self.slot_off[base + slot])
                else:
                    v = getattr(obj, self.ty_names[t][slot], None)
                if v is None:
                    continue
                if slot == vs:
                    cur = slot
                    self._encode_value_content(w, t, s, v)
                    return
                if self.sl_islist[base + slot]:
                    if not isinstance(v, (list, tuple)):
                        raise ExiEncodeError(f"{self.ty_xsd[t][slot]}: expected a list, got {type(v).__name__}")
                    maxocc = self.ty_maxocc[t][slot]
                    if maxocc >= 0 and len(v) > maxocc:
                        raise ExiEncodeError(f"{self.ty_xsd[t][slot]}: {len(v)} items, at most {maxocc} allowed")
                    for item in v:
                        p = self._production(t, s, slot)
                        cur = slot
                        if self.pr_kind[p] == P_SE:
                            c = self.pr_arg[p]
                            if not (self.sw_ok[c] and self._put_simple(w, p - self.st_p0[s], self.st_w1[s], c, item)):
                                self._emit(w, s, p)
                                self._encode_child(w, c, item)
                        else:
                            self._emit(w, s, p)
                            self._write_value(w, self.pr_arg[p], item)
                        cur = -1
                        s = self.pr_next[p]
                else:
                    p = self._production(t, s, slot)
                    cur = slot
                    if self.pr_kind[p] == P_SE:
                        c = self.pr_arg[p]
                        if not (self.sw_ok[c] and self._put_simple(w, p - self.st_p0[s], self.st_w1[s], c, v)):
                            self._emit(w, s, p)
                            self._encode_child(w, c, v)
                    else:
                        self._emit(w, s, p)
                        self._write_value(w, self.pr_arg[p], v)
                    cur = -1
                    s = self.pr_next[p]
        except ExiEncodeError as exc:
            if cur >= 0:
                _path_error(exc, self.ty_xsd[t][cur])
            raise
        e0 = self.st_e0[s]
        p = self.enc[e0 + nslots]
        if p < 0:
            raise ExiEncodeError(f"required field missing: the schema expects {self._expected(t, s)}")
        self._emit(w, s, p)

    @cython.cfunc
    @cython.inline
    def _encode_child(self, w: BitWriter, c: cython.int, item: object) -> None:
        if self.ty_kind[c] == T_SIMPLE:
            self._encode_value_content(w, c, self.ty_start[c], item)
        else:
            self._encode_type(w, c, item)

    @cython.cfunc
    @cython.inline
    @cython.exceptval(-1)
    def _production(self, t: cython.int, s: cython.int, slot: cython.int) -> cython.int:
        """The production that writes one occurrence of field ``slot`` in state ``s``."""
        p: cython.int = self.enc[self.st_e0[s] + slot]
        if p < 0:
            self._misplaced(t, s, slot)
        return p

    @cython.cfunc
    def _misplaced(self, t: cython.int, s: cython.int, slot: cython.int) -> None:
        raise ExiEncodeError(
            f"{self.ty_xsd[t][slot]} cannot appear here; the schema expects "
            f"{self._expected(t, s)} (a required field is missing, or a choice already has a member)"
        )

    def _expected(self, t: cython.int, s: cython.int) -> str:
        e0: cython.int = self.st_e0[s]
        names = [self.ty_xsd[t][i] for i in range(self.ty_nslots[t]) if self.enc[e0 + i] >= 0]
        if self.enc[e0 + self.ty_nslots[t]] >= 0:
            names.append("the end of the element")
        return " or ".join(names) if names else "nothing more"

    @cython.cfunc
    def _encode_value_content(self, w: BitWriter, t: cython.int, s: cython.int, v: object) -> None:
        """The CH event (or, for an empty value, a second-level EE as EXIficient writes it) and EE."""
        e0: cython.int = self.st_e0[s]
        p: cython.int = self.enc[e0 + self.ty_value_slot[t]]
        dt: cython.int = self.ty_dt[t]
        if p < 0:
            raise ExiEncodeError("character content cannot appear here")
        kind: cython.int = self.dt_kind[dt]
        if (kind == D_STRING or kind == D_BINARY) and isinstance(v, (str, bytes, bytearray)) and len(v) == 0:
            self._check_length(dt, 0, "characters" if kind == D_STRING else "bytes")
            w._put(self.st_n1[s], self.st_w1[s])
            w._put(self.st_ee2[s], self.st_w2[s])
            return
        self._emit(w, s, p)
        self._write_value(w, dt, v)
        s = self.pr_next[p]
        p = self.enc[self.st_e0[s] + self.ty_nslots[t]]
        self._emit(w, s, p)

    # -- the element-level API (the codec's relaxed fragment grammar runs on it) ---------------
    def read_value(self, r: BitReader, dt: cython.int) -> object:
        """Read one value of datatype ``dt``."""
        return self._read_value(r, dt)

    def write_value(self, w: BitWriter, dt: cython.int, v: object) -> None:
        """Write one value of datatype ``dt``."""
        self._write_value(w, dt, v)

    def decode_content(self, r: BitReader, t: cython.int) -> object:
        """Decode the content of one element of type ``t`` (after its SE event), up to its EE."""
        return self._decode_type(r, t, 0)

    def encode_content(self, w: BitWriter, t: cython.int, obj: object) -> None:
        """Encode ``obj`` as the content of one element of type ``t`` (after its SE event), EE included."""
        self._encode_type(w, t, obj)

    def set_message_encoder(self, root_of: dict, fallback: object) -> None:
        """Let :meth:`encode_message` find a message's root element by its class."""
        self.root_of = root_of
        self.fallback = fallback

    def encode_message(self, message: object, element: object = None) -> bytes:
        """Encode a message as a document, its root element found from its class.

        With ``element``, or for a class that is not the type of exactly one root element, the
        codec's own ``encode`` (given to :meth:`set_message_encoder`) decides.
        """
        if element is None:
            i = self.root_of.get(type(message))
            if i is not None:
                return self._encode_doc(i, message)
        return self.fallback(message, element)  # type: ignore[operator]

    def encode(self, root: cython.int, obj: object) -> bytes:
        """Encode ``obj`` as the document whose root is global element number ``root``."""
        return self._encode_doc(root, obj)

    @cython.cfunc
    def _encode_doc(self, root: cython.int, obj: object) -> bytes:
        # the grammar's own writer (its buffer kept), unless an encode is already running on it: then a new one
        w: BitWriter
        own: cython.bint = not self._wr_busy
        if own:
            w = self._wr
            w._len = 0
            w._acc = 0
            w._nacc = 0
            self._wr_busy = True
        else:
            w = _writer()
        try:
            w._put(0x80, 8)
            w._put(root, self.doc_width)
            try:
                self._encode_type(w, self.doc_types[root], obj)
            except ExiEncodeError as exc:
                _path_error(exc, self.doc_names[root])
            return w.getvalue()
        finally:
            if own:
                self._wr_busy = False

    def encode_fragment(self, items: list) -> bytes:
        """Encode a fragment holding the (fragment element index, object) pairs in ``items``."""
        w = BitWriter()
        w._put(0x80, 8)
        for index, obj in items:
            w._put(index, self.frag_width)
            try:
                self._encode_type(w, self.frag_types[index], obj)
            except ExiEncodeError as exc:
                _path_error(exc, self.frag_names[index])
        w._put(len(self.frag_types) + 1, self.frag_width)
        return w.getvalue()
