"""A small protobuf (proto3) wire-format runtime for the generated Yeti message classes.

The generated module (``evcharge.bsp.yeti._generated.yeti_pb``) declares frozen dataclasses whose ``FIELDS``
describe each field (number, kind, oneof); :class:`Message` encodes and decodes them.  Only the types the Yeti
protocol uses are supported: uint32, bool, float, string, enum and nested messages, singular, with oneofs.

Encoding follows protobuf: proto3 fields at their default value are omitted, oneof members are written whenever
set (even at their default value, as the firmware expects).  Decoding skips unknown fields, and raises
:class:`~evcharge.bsp.errors.DecodeError` on anything malformed (truncation, wrong wire type, bad UTF-8, unknown
enum value, a varint longer than 10 bytes).
"""

from __future__ import annotations

import enum
import math
import struct
from dataclasses import dataclass, fields
from typing import Any, ClassVar, Self

from evcharge.bsp.errors import DecodeError, LocalProtocolError

WT_VARINT = 0
WT_FIXED64 = 1
WT_LEN = 2
WT_FIXED32 = 5


class Kind(enum.Enum):
    """Field types the runtime supports."""

    UINT32 = "uint32"
    BOOL = "bool"
    FLOAT = "float"
    STRING = "string"
    ENUM = "enum"
    MESSAGE = "message"


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """How one field is encoded."""

    name: str
    number: int
    kind: Kind
    type: Any = None  #: the enum or message class for ENUM / MESSAGE fields
    oneof: str | None = None
    max_length: int | None = None


def encode_varint(value: int) -> bytes:
    """Base-128 varint of a non-negative integer (negative numbers as 64-bit two's complement)."""
    if value < 0:
        value &= (1 << 64) - 1
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def decode_varint(data: bytes, pos: int) -> tuple[int, int]:
    """Read a varint at ``pos``; return (value, new position)."""
    result = 0
    shift = 0
    for i in range(10):
        if pos + i >= len(data):
            raise DecodeError(f"truncated varint at offset {pos}")
        byte = data[pos + i]
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result & ((1 << 64) - 1), pos + i + 1
        shift += 7
    raise DecodeError(f"varint longer than 10 bytes at offset {pos}")


def _key(number: int, wire_type: int) -> bytes:
    return encode_varint((number << 3) | wire_type)


class Message:
    """Base class of the generated message dataclasses."""

    __slots__ = ()
    FIELDS: ClassVar[tuple[FieldSpec, ...]] = ()
    ONEOFS: ClassVar[tuple[str, ...]] = ()

    def __post_init__(self) -> None:
        for oneof in self.ONEOFS:
            present = [f.name for f in self.FIELDS if f.oneof == oneof and getattr(self, f.name) is not None]
            if len(present) > 1:
                raise LocalProtocolError(
                    f"{type(self).__name__}: oneof '{oneof}' can hold one member, got {', '.join(present)}"
                )

    def which_oneof(self, oneof: str) -> str | None:
        """Name of the member of ``oneof`` that is set, or ``None``."""
        for f in self.FIELDS:
            if f.oneof == oneof and getattr(self, f.name) is not None:
                return f.name
        return None

    def encode(self) -> bytes:
        """Protobuf wire bytes of this message."""
        out = bytearray()
        for spec in self.FIELDS:
            value = getattr(self, spec.name)
            if value is None:
                continue
            if spec.oneof is None and spec.kind is not Kind.MESSAGE and _is_default(spec, value):
                continue
            out += _encode_field(type(self).__name__, spec, value)
        return bytes(out)

    @classmethod
    def decode(cls, data: bytes) -> Self:
        """Parse protobuf wire bytes; unknown fields are skipped, malformed input raises ``DecodeError``."""
        by_number = {f.number: f for f in cls.FIELDS}
        values: dict[str, Any] = {}
        pos = 0
        n = len(data)
        while pos < n:
            key, pos = decode_varint(data, pos)
            number, wire_type = key >> 3, key & 7
            if number == 0:
                raise DecodeError(f"{cls.__name__}: field number 0 at offset {pos}")
            spec = by_number.get(number)
            if wire_type == WT_VARINT:
                raw, pos = decode_varint(data, pos)
                if spec is not None:
                    _expect(cls, spec, wire_type, (Kind.UINT32, Kind.BOOL, Kind.ENUM))
                    values[spec.name] = _from_varint(cls, spec, raw)
            elif wire_type == WT_FIXED32:
                if pos + 4 > n:
                    raise DecodeError(f"{cls.__name__}: truncated fixed32 field {number}")
                chunk = data[pos : pos + 4]
                pos += 4
                if spec is not None:
                    _expect(cls, spec, wire_type, (Kind.FLOAT,))
                    values[spec.name] = struct.unpack("<f", chunk)[0]
            elif wire_type == WT_FIXED64:
                if pos + 8 > n:
                    raise DecodeError(f"{cls.__name__}: truncated fixed64 field {number}")
                pos += 8
                if spec is not None:
                    _expect(cls, spec, wire_type, ())
            elif wire_type == WT_LEN:
                length, pos = decode_varint(data, pos)
                if pos + length > n:
                    raise DecodeError(f"{cls.__name__}: field {number} of {length} bytes runs past the end")
                chunk = data[pos : pos + length]
                pos += length
                if spec is not None:
                    _expect(cls, spec, wire_type, (Kind.STRING, Kind.MESSAGE))
                    values[spec.name] = _from_len(cls, spec, chunk)
            else:
                raise DecodeError(f"{cls.__name__}: unsupported wire type {wire_type} for field {number}")
            if spec is not None and spec.oneof is not None:
                for other in cls.FIELDS:
                    if other.oneof == spec.oneof and other.name != spec.name:
                        values.pop(other.name, None)
        return cls(**values)


def _is_default(spec: FieldSpec, value: Any) -> bool:
    if spec.kind is Kind.FLOAT:
        return isinstance(value, int | float) and value == 0.0 and math.copysign(1.0, value) > 0
    if spec.kind is Kind.ENUM:
        return int(value) == 0
    return not value


def _encode_field(owner: str, spec: FieldSpec, value: Any) -> bytes:
    where = f"{owner}.{spec.name}"
    if spec.kind is Kind.UINT32:
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 0xFFFFFFFF:
            raise LocalProtocolError(f"{where} must be an integer in 0..2**32-1, got {value!r}")
        return _key(spec.number, WT_VARINT) + encode_varint(value)
    if spec.kind is Kind.BOOL:
        if not isinstance(value, bool):
            raise LocalProtocolError(f"{where} must be a bool, got {value!r}")
        return _key(spec.number, WT_VARINT) + (b"\x01" if value else b"\x00")
    if spec.kind is Kind.ENUM:
        if not isinstance(value, spec.type):
            raise LocalProtocolError(f"{where} must be a {spec.type.__name__}, got {value!r}")
        return _key(spec.number, WT_VARINT) + encode_varint(int(value))
    if spec.kind is Kind.FLOAT:
        try:
            packed = struct.pack("<f", float(value))
        except (OverflowError, TypeError, ValueError) as exc:
            raise LocalProtocolError(f"{where} must be a float32, got {value!r}") from exc
        return _key(spec.number, WT_FIXED32) + packed
    if spec.kind is Kind.STRING:
        if not isinstance(value, str):
            raise LocalProtocolError(f"{where} must be a str, got {value!r}")
        raw = value.encode("utf-8")
        if spec.max_length is not None and len(raw) > spec.max_length:
            raise LocalProtocolError(f"{where} is {len(raw)} bytes long, the limit is {spec.max_length}")
        return _key(spec.number, WT_LEN) + encode_varint(len(raw)) + raw
    if not isinstance(value, spec.type):
        raise LocalProtocolError(f"{where} must be a {spec.type.__name__}, got {value!r}")
    body: bytes = value.encode()
    return _key(spec.number, WT_LEN) + encode_varint(len(body)) + body


def _expect(cls: type, spec: FieldSpec, wire_type: int, kinds: tuple[Kind, ...]) -> None:
    if spec.kind not in kinds:
        raise DecodeError(f"{cls.__name__}.{spec.name}: wire type {wire_type} does not fit a {spec.kind.value} field")


def _from_varint(cls: type, spec: FieldSpec, raw: int) -> Any:
    if spec.kind is Kind.BOOL:
        return raw != 0
    if spec.kind is Kind.UINT32:
        return raw & 0xFFFFFFFF
    signed = raw & 0xFFFFFFFF
    if signed & 0x80000000:
        signed -= 1 << 32
    try:
        return spec.type(signed)
    except ValueError:
        raise DecodeError(f"{cls.__name__}.{spec.name}: {signed} is not a {spec.type.__name__} value") from None


def _from_len(cls: type, spec: FieldSpec, chunk: bytes) -> Any:
    if spec.kind is Kind.STRING:
        try:
            return chunk.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DecodeError(f"{cls.__name__}.{spec.name}: invalid UTF-8 ({exc.reason})") from None
    return spec.type.decode(chunk)


def message_fields(cls: type[Message]) -> list[str]:
    """Names of a generated message's fields, in declaration order."""
    return [f.name for f in fields(cls)]  # type: ignore[arg-type]
