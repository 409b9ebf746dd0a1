"""HomePlug AV / Green PHY management messages (MMEs) used by SLAC, as plain bytes <-> dataclasses.

This module is pure Python and does not need scapy: the state machines use it, so ``import
evcharge.slac`` works without the ``slac`` extra.  The scapy layers in
:mod:`evcharge.slac.scapy_layers` are built from the same layout tables (``LAYOUT`` on each class),
so the two views of a frame cannot drift apart.  Each field is named once: its dataclass field
carries its wire format, and ``LAYOUT`` is derived from the fields in order.

A frame on the wire is::

    Ethernet dst (6) | src (6) | EtherType 0x88E1 (2, big-endian)
    MMV (1) | MMTYPE (2, little-endian) | FMI (2, only when MMV >= 1)
    payload ... zero padding up to 60 bytes

Every message class is a frozen, slotted, keyword-only dataclass with ``MMTYPE`` and ``MMV`` class
attributes, a ``LAYOUT`` describing its payload field by field, ``payload()`` to encode and
``from_payload()`` to decode.  Decoding errors are :class:`~evcharge.slac.errors.MessageError`
subclasses naming the field.
"""

from __future__ import annotations

import hashlib
import operator
import struct
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from enum import IntEnum
from types import MappingProxyType
from typing import Any, ClassVar, Self, TypeAlias, TypeVar

from evcharge.slac.errors import (
    InvalidField,
    LocalProtocolError,
    TruncatedFrame,
    UnknownMessageType,
    UnsupportedVersion,
)

ETHERTYPE_HOMEPLUG = 0x88E1
#: Minimum Ethernet frame length without FCS; shorter MMEs are zero-padded.
MIN_FRAME_LENGTH = 60
ETH_HEADER_LENGTH = 14
BROADCAST_MAC = b"\xff" * 6
#: Qualcomm Atheros OUI, first three payload bytes of every QCA vendor MME.
QCA_OUI = b"\x00\xb0\x52"
#: The local management address a QCA7000/7005 answers on (vendor MMEs, CM_SET_KEY from the host).
QCA_LOCAL_MAC = b"\x00\xb0\x52\x00\x00\x01"

RUN_ID_LENGTH = 8
STATION_ID_LENGTH = 17
NID_LENGTH = 7
NMK_LENGTH = 16
#: Number of OFDM carrier groups in a HomePlug Green PHY attenuation profile.
AAG_GROUPS = 58
VERSION_STRING_LENGTH = 64

#: Salt-free PBKDF1 iterations HomePlug AV uses to derive a NID from an NMK.
_NID_ITERATIONS = 5


class MMVersion(IntEnum):
    """Management message version."""

    AV_1_0 = 0x00  # no FMI bytes; QCA vendor MMEs
    AV_1_1 = 0x01  # HomePlug AV 1.1 / Green PHY: all SLAC MMEs
    AV_2_0 = 0x02


class MMType(IntEnum):
    """MMTYPE values (base | mode; mode REQ=0, CNF=1, IND=2, RSP=3)."""

    CM_SET_KEY_REQ = 0x6008
    CM_SET_KEY_CNF = 0x6009
    CM_AMP_MAP_REQ = 0x601C
    CM_AMP_MAP_CNF = 0x601D
    CM_SLAC_PARM_REQ = 0x6064
    CM_SLAC_PARM_CNF = 0x6065
    CM_START_ATTEN_CHAR_IND = 0x606A
    CM_ATTEN_CHAR_IND = 0x606E
    CM_ATTEN_CHAR_RSP = 0x606F
    CM_MNBC_SOUND_IND = 0x6076
    CM_VALIDATE_REQ = 0x6078
    CM_VALIDATE_CNF = 0x6079
    CM_SLAC_MATCH_REQ = 0x607C
    CM_SLAC_MATCH_CNF = 0x607D
    CM_ATTEN_PROFILE_IND = 0x6086
    # Qualcomm Atheros vendor MMEs (MMV 0x00, OUI 00:B0:52)
    VS_SW_VER_REQ = 0xA000
    VS_SW_VER_CNF = 0xA001
    VS_RS_DEV_REQ = 0xA01C
    VS_RS_DEV_CNF = 0xA01D
    VS_LINK_STATUS_REQ = 0xA0B8
    VS_LINK_STATUS_CNF = 0xA0B9


class ValidateResult(IntEnum):
    """CM_VALIDATE Result values."""

    NOT_READY = 0
    READY = 1
    SUCCESS = 2
    FAILURE = 3
    NOT_REQUIRED = 4


# --------------------------------------------------------------------------------------------------
# Wire layout.  Every dataclass field of a message carries its wire format in its metadata, made by
# the helpers below (``run_id: bytes = _octets(8)``); :func:`_wire` reads the fields in declaration
# order and derives the class's ``LAYOUT``, a tuple of (field name, kind, size) items.  Kinds:
#   u8, u16le: unsigned integers;  bytes: fixed-length byte string;
#   reserved: zero on encode, ignored on decode (no dataclass field, name "");
#   const16: a fixed u16le (checked on decode; no dataclass field; size is the value);
#   aag: count byte + that many attenuation bytes;  aag_rsvd: count byte, reserved byte, attenuations;
#   amdata: u16le carrier count + 4-bit entries packed two per byte.
# reserved and const16 items hold no value: they follow the field before them (``followed_by=``).
LayoutItem: TypeAlias = tuple[str, str, int]
Layout: TypeAlias = tuple[LayoutItem, ...]

_WIRE = "wire"  # the metadata key: (kind, size, items that follow the field)
_STRUCT_CODES = {"u8": "B", "u16le": "H", "const16": "H", "bytes": "s", "reserved": "x"}
_VARIABLE = frozenset({"aag", "aag_rsvd", "amdata"})


def _reserved(size: int) -> LayoutItem:
    return ("", "reserved", size)


def _mvf_length(value: int) -> LayoutItem:
    return ("", "const16", value)


def _u8(default: int = 0, *, followed_by: tuple[LayoutItem, ...] = ()) -> int:
    return field(default=default, metadata={_WIRE: ("u8", 1, followed_by)})


def _u16le(default: int = 0) -> int:
    return field(default=default, metadata={_WIRE: ("u16le", 2, ())})


def _octets(size: int, default: bytes | None = None, *, followed_by: tuple[LayoutItem, ...] = ()) -> bytes:
    value = bytes(size) if default is None else default
    return field(default=value, metadata={_WIRE: ("bytes", size, followed_by)})


def _attenuations(*, reserved_byte: bool = False) -> tuple[int, ...]:
    return field(default=(), metadata={_WIRE: ("aag_rsvd" if reserved_byte else "aag", 0, ())})


def _nibbles() -> tuple[int, ...]:
    return field(default=(), metadata={_WIRE: ("amdata", 0, ())})


def _mac_text(mac: bytes) -> str:
    return ":".join(f"{b:02x}" for b in mac)


def mac_text(mac: bytes) -> str:
    """``b"\\x00\\x11..."`` -> ``"00:11:..."``."""
    return _mac_text(mac)


def parse_mac(text: str) -> bytes:
    """``"00:11:22:33:44:55"`` -> 6 bytes; raises :class:`ValueError` on anything else."""
    parts = text.replace("-", ":").split(":")
    if len(parts) != 6 or not all(len(p) == 2 for p in parts):
        raise ValueError(f"not a MAC address: {text!r}")
    return bytes(int(p, 16) for p in parts)


_Getter: TypeAlias = Callable[[Any], tuple[Any, ...]]


def _getter(names: list[str]) -> _Getter:
    """A function returning a message's values of ``names`` as a tuple (C speed via attrgetter)."""
    if len(names) == 1:
        only = names[0]
        return lambda message: (getattr(message, only),)
    return operator.attrgetter(*names) if names else lambda message: ()


@dataclass(frozen=True, slots=True)
class _Codec:
    """A layout compiled once per class: one struct for the fixed-size head, the variable tail walked."""

    head: struct.Struct  # every item before the first variable-length one
    values: _Getter  # a message's values of the fields in the head, in order
    names: tuple[str, ...]  # those fields' names
    consts: tuple[tuple[int, int], ...]  # (position among the head's values, value) of each const16
    tail: Layout  # the variable-length items (aag, aag_rsvd, amdata) after the head
    ints: tuple[tuple[str, int], ...]  # (name, largest value) of the integer fields
    octets: tuple[tuple[str, int], ...]  # (name, length) of the byte-string fields


def _compile(layout: Layout) -> _Codec:
    codes, names = ["<"], list[str]()
    consts: list[tuple[int, int]] = []
    ints: list[tuple[str, int]] = []
    octets: list[tuple[str, int]] = []
    split = next((i for i, (_, kind, _) in enumerate(layout) if kind in _VARIABLE), len(layout))
    for name, kind, size in layout[:split]:
        codes.append(f"{size}{_STRUCT_CODES[kind]}" if kind in ("bytes", "reserved") else _STRUCT_CODES[kind])
        if kind == "const16":
            consts.append((len(names) + len(consts), size))
        elif kind != "reserved":
            names.append(name)
        if kind in ("u8", "u16le"):
            ints.append((name, 0xFF if kind == "u8" else 0xFFFF))
        elif kind == "bytes":
            octets.append((name, size))
    tail = layout[split:]
    if any(kind not in _VARIABLE for _, kind, _ in tail):  # pragma: no cover - layouts are static
        raise AssertionError("a variable-length field must come last")
    head = struct.Struct("".join(codes))
    return _Codec(head, _getter(names), tuple(names), tuple(consts), tail, tuple(ints), tuple(octets))


_MessageT = TypeVar("_MessageT", bound="Message")


def _wire(cls: type[_MessageT]) -> type[_MessageT]:
    """Derive ``NAME``, ``LAYOUT`` and the codec of a message dataclass from its ``MMTYPE`` and fields."""
    layout: list[LayoutItem] = []
    for f in fields(cls):
        if _WIRE in f.metadata:  # fields without it are not at a fixed place (CM_SLAC_PARM.REQ cipher suites)
            kind, size, followed_by = f.metadata[_WIRE]
            layout += [(f.name, kind, size), *followed_by]
    base, _, mode = cls.MMTYPE.name.rpartition("_")
    cls.NAME = f"{base}.{mode}"
    cls.LAYOUT = tuple(layout)
    cls._CODEC = _compile(cls.LAYOUT)
    return cls


@dataclass(frozen=True, slots=True, kw_only=True)
class Message:
    """Base class of every management message."""

    MMTYPE: ClassVar[MMType]
    MMV: ClassVar[MMVersion] = MMVersion.AV_1_1
    # The payload field by field, derived from the dataclass fields by _wire (scapy_layers builds on it too).
    LAYOUT: ClassVar[Layout] = ()
    NAME: ClassVar[str] = ""
    _CODEC: ClassVar[_Codec]

    def __post_init__(self) -> None:
        codec = self._CODEC
        for name, largest in codec.ints:
            value = getattr(self, name)
            if not isinstance(value, int) or not 0 <= value <= largest:
                width = "one byte" if largest == 0xFF else "two bytes"
                raise LocalProtocolError(f"{self.NAME}.{name}: {value!r} does not fit in {width}")
        for name, size in codec.octets:
            value = getattr(self, name)
            if not isinstance(value, bytes) or len(value) != size:
                raise LocalProtocolError(f"{self.NAME}.{name}: must be {size} bytes, got {value!r}")
        for name, kind, _ in codec.tail:
            value = getattr(self, name)
            if kind == "amdata":
                if not isinstance(value, tuple) or len(value) > 0xFFFF or not all(0 <= v <= 0xF for v in value):
                    raise LocalProtocolError(f"{self.NAME}.{name}: must be a tuple of 4-bit values")
            elif not isinstance(value, tuple) or len(value) > 0xFF or not all(0 <= v <= 0xFF for v in value):
                raise LocalProtocolError(f"{self.NAME}.{name}: must be a tuple of at most 255 byte values")

    def payload(self) -> bytes:
        """The MME payload (after the HomePlug header), without padding."""
        codec = self._CODEC
        values = codec.values(self)
        if codec.consts:
            with_consts = list(values)
            for position, const in codec.consts:
                with_consts.insert(position, const)
            values = tuple(with_consts)
        out = codec.head.pack(*values)
        for name, kind, _ in codec.tail:
            value = getattr(self, name)
            if kind == "amdata":
                out += struct.pack("<H", len(value)) + _pack_nibbles(value)
            else:
                out += bytes((len(value), 0) if kind == "aag_rsvd" else (len(value),)) + bytes(value)
        return out

    @classmethod
    def from_payload(cls, data: bytes) -> Self:
        """Decode a payload; trailing bytes (Ethernet padding) are ignored."""
        return cls(**_decode(cls, data))

    def describe(self) -> dict[str, object]:
        """Field values by name (bytes as hex text, MAC-sized fields as MAC text), for logs and the CLI."""
        out: dict[str, object] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bytes):
                out[f.name] = _mac_text(value) if len(value) == 6 else value.hex()
            else:
                out[f.name] = value
        return out


def _decode(cls: type[Message], data: bytes) -> dict[str, Any]:
    codec = cls._CODEC
    if len(data) < codec.head.size:
        _walk(cls, cls.LAYOUT, data, 0, {})  # raises the error of the first field that does not fit
    raw = codec.head.unpack_from(data)
    if codec.consts:
        unpacked = list(raw)
        for position, const in reversed(codec.consts):
            number = unpacked.pop(position)
            if number != const:
                raise InvalidField("mvf_length", f"{cls.NAME} has MVFLength {const:#06x}, got {number:#06x}")
        raw = tuple(unpacked)
    values = dict(zip(codec.names, raw, strict=True))
    if codec.tail:
        _walk(cls, codec.tail, data, codec.head.size, values)
    return values


def _walk(cls: type[Message], layout: Layout, data: bytes, pos: int, values: dict[str, Any]) -> None:
    """Decode ``layout`` item by item from ``pos``: the variable tail, and the error of a short payload."""
    for name, kind, size in layout:
        label = name or "reserved"
        if kind in ("u8", "bytes", "reserved"):
            _need(cls, data, pos, size, label)
            chunk = data[pos : pos + size]
            pos += size
            if kind == "u8":
                values[name] = chunk[0]
            elif kind == "bytes":
                values[name] = bytes(chunk)
        elif kind in ("u16le", "const16"):
            _need(cls, data, pos, 2, label if kind == "u16le" else "mvf_length")
            (number,) = struct.unpack_from("<H", data, pos)
            pos += 2
            if kind == "u16le":
                values[name] = number
            elif number != size:
                raise InvalidField("mvf_length", f"{cls.NAME} has MVFLength {size:#06x}, got {number:#06x}")
        elif kind in ("aag", "aag_rsvd"):
            head = 1 if kind == "aag" else 2
            _need(cls, data, pos, head, "num_groups")
            count = data[pos]
            pos += head
            _need(cls, data, pos, count, name)
            values[name] = tuple(data[pos : pos + count])
            pos += count
        elif kind == "amdata":
            _need(cls, data, pos, 2, "amlen")
            (count,) = struct.unpack_from("<H", data, pos)
            pos += 2
            nbytes = (count + 1) // 2
            _need(cls, data, pos, nbytes, name)
            values[name] = _unpack_nibbles(data[pos : pos + nbytes], count)
            pos += nbytes
        else:  # pragma: no cover
            raise AssertionError(kind)


def _need(cls: type[Message], data: bytes, pos: int, size: int, field: str) -> None:
    if len(data) < pos + size:
        raise TruncatedFrame(
            field, f"{cls.NAME} payload ends at byte {len(data)}, field needs bytes {pos}..{pos + size - 1}"
        )


def _pack_nibbles(values: tuple[int, ...]) -> bytes:
    out = bytearray((len(values) + 1) // 2)
    for i, v in enumerate(values):
        out[i // 2] |= v << (4 * (i % 2))
    return bytes(out)


def _unpack_nibbles(data: bytes, count: int) -> tuple[int, ...]:
    return tuple((data[i // 2] >> (4 * (i % 2))) & 0xF for i in range(count))


@_wire
@dataclass(frozen=True, slots=True, kw_only=True)
class CmSlacParmReq(Message):
    """CM_SLAC_PARM.REQ: the PEV starts a matching run (broadcast).  10 bytes when security_type is 0."""

    MMTYPE = MMType.CM_SLAC_PARM_REQ
    application_type: int = _u8()
    security_type: int = _u8()
    run_id: bytes = _octets(RUN_ID_LENGTH)
    #: Cipher suites, only on the wire when ``security_type`` is not 0.
    cipher_suites: tuple[int, ...] = ()

    def payload(self) -> bytes:
        base = Message.payload(self)
        if self.security_type == 0:
            return base
        if len(self.cipher_suites) > 0xFF:
            raise LocalProtocolError("CM_SLAC_PARM.REQ.cipher_suites: at most 255 entries")
        return base + bytes([len(self.cipher_suites)]) + b"".join(struct.pack("<H", c) for c in self.cipher_suites)

    @classmethod
    def from_payload(cls, data: bytes) -> Self:
        values = _decode(cls, data)
        if values["security_type"] == 0:
            return cls(**values)
        pos = cls._CODEC.head.size
        _need(cls, data, pos, 1, "cipher_suite_set_size")
        count = data[pos]
        _need(cls, data, pos + 1, 2 * count, "cipher_suites")
        return cls(**values, cipher_suites=struct.unpack_from(f"<{count}H", data, pos + 1))


@_wire
@dataclass(frozen=True, slots=True, kw_only=True)
class CmSlacParmCnf(Message):
    """CM_SLAC_PARM.CNF: an EVSE answers the PEV (unicast), 25 bytes."""

    MMTYPE = MMType.CM_SLAC_PARM_CNF
    m_sound_target: bytes = _octets(6, BROADCAST_MAC)
    num_sounds: int = _u8(10)
    time_out: int = _u8(6)
    resp_type: int = _u8(1)
    forwarding_sta: bytes = _octets(6)
    application_type: int = _u8()
    security_type: int = _u8()
    run_id: bytes = _octets(RUN_ID_LENGTH)


@_wire
@dataclass(frozen=True, slots=True, kw_only=True)
class CmStartAttenCharInd(Message):
    """CM_START_ATTEN_CHAR.IND: the PEV announces the soundings (broadcast, 3 times), 19 bytes."""

    MMTYPE = MMType.CM_START_ATTEN_CHAR_IND
    application_type: int = _u8()
    security_type: int = _u8()
    num_sounds: int = _u8(10)
    time_out: int = _u8(6)
    resp_type: int = _u8(1)
    forwarding_sta: bytes = _octets(6)
    run_id: bytes = _octets(RUN_ID_LENGTH)


@_wire
@dataclass(frozen=True, slots=True, kw_only=True)
class CmMnbcSoundInd(Message):
    """CM_MNBC_SOUND.IND: one M-sound (broadcast), 52 bytes; ``count`` is the number of sounds still to come."""

    MMTYPE = MMType.CM_MNBC_SOUND_IND
    application_type: int = _u8()
    security_type: int = _u8()
    sender_id: bytes = _octets(STATION_ID_LENGTH)
    count: int = _u8()
    run_id: bytes = _octets(RUN_ID_LENGTH, followed_by=(_reserved(8),))
    rnd: bytes = _octets(16)


@_wire
@dataclass(frozen=True, slots=True, kw_only=True)
class CmAttenProfileInd(Message):
    """CM_ATTEN_PROFILE.IND: a modem tells its host the attenuation of one received M-sound, 66 bytes."""

    MMTYPE = MMType.CM_ATTEN_PROFILE_IND
    pev_mac: bytes = _octets(6)
    aag: tuple[int, ...] = _attenuations(reserved_byte=True)


@_wire
@dataclass(frozen=True, slots=True, kw_only=True)
class CmAttenCharInd(Message):
    """CM_ATTEN_CHAR.IND: an EVSE reports the averaged attenuation profile to the PEV, 110 bytes."""

    MMTYPE = MMType.CM_ATTEN_CHAR_IND
    application_type: int = _u8()
    security_type: int = _u8()
    source_address: bytes = _octets(6)
    run_id: bytes = _octets(RUN_ID_LENGTH)
    source_id: bytes = _octets(STATION_ID_LENGTH)
    resp_id: bytes = _octets(STATION_ID_LENGTH)
    num_sounds: int = _u8()
    aag: tuple[int, ...] = _attenuations()


@_wire
@dataclass(frozen=True, slots=True, kw_only=True)
class CmAttenCharRsp(Message):
    """CM_ATTEN_CHAR.RSP: the PEV acknowledges a CM_ATTEN_CHAR.IND, 51 bytes; result 0 = success."""

    MMTYPE = MMType.CM_ATTEN_CHAR_RSP
    application_type: int = _u8()
    security_type: int = _u8()
    source_address: bytes = _octets(6)
    run_id: bytes = _octets(RUN_ID_LENGTH)
    source_id: bytes = _octets(STATION_ID_LENGTH)
    resp_id: bytes = _octets(STATION_ID_LENGTH)
    result: int = _u8()


@_wire
@dataclass(frozen=True, slots=True, kw_only=True)
class CmValidateReq(Message):
    """CM_VALIDATE.REQ (3 bytes): signal type 0 = PEV S2 toggles; timer in 100 ms units; result 1 = ready."""

    MMTYPE = MMType.CM_VALIDATE_REQ
    signal_type: int = _u8()
    timer: int = _u8()
    result: int = _u8(ValidateResult.READY)


@_wire
@dataclass(frozen=True, slots=True, kw_only=True)
class CmValidateCnf(Message):
    """CM_VALIDATE.CNF (3 bytes): toggle_num = BCB edges the EVSE saw; result see :class:`ValidateResult`."""

    MMTYPE = MMType.CM_VALIDATE_CNF
    signal_type: int = _u8()
    toggle_num: int = _u8()
    result: int = _u8(ValidateResult.READY)


@_wire
@dataclass(frozen=True, slots=True, kw_only=True)
class CmSlacMatchReq(Message):
    """CM_SLAC_MATCH.REQ: the PEV asks the chosen EVSE to join (unicast), 66 bytes, MVFLength 0x3E."""

    MMTYPE = MMType.CM_SLAC_MATCH_REQ
    application_type: int = _u8()
    security_type: int = _u8(followed_by=(_mvf_length(0x3E),))
    pev_id: bytes = _octets(STATION_ID_LENGTH)
    pev_mac: bytes = _octets(6)
    evse_id: bytes = _octets(STATION_ID_LENGTH)
    evse_mac: bytes = _octets(6)
    run_id: bytes = _octets(RUN_ID_LENGTH, followed_by=(_reserved(8),))


@_wire
@dataclass(frozen=True, slots=True, kw_only=True)
class CmSlacMatchCnf(Message):
    """CM_SLAC_MATCH.CNF: the EVSE hands over NID and NMK of its network, 90 bytes, MVFLength 0x56."""

    MMTYPE = MMType.CM_SLAC_MATCH_CNF
    application_type: int = _u8()
    security_type: int = _u8(followed_by=(_mvf_length(0x56),))
    pev_id: bytes = _octets(STATION_ID_LENGTH)
    pev_mac: bytes = _octets(6)
    evse_id: bytes = _octets(STATION_ID_LENGTH)
    evse_mac: bytes = _octets(6)
    run_id: bytes = _octets(RUN_ID_LENGTH, followed_by=(_reserved(8),))
    nid: bytes = _octets(NID_LENGTH, followed_by=(_reserved(1),))
    nmk: bytes = _octets(NMK_LENGTH)


@_wire
@dataclass(frozen=True, slots=True, kw_only=True)
class CmSetKeyReq(Message):
    """CM_SET_KEY.REQ: the host gives its own modem a new NMK and NID, 38 bytes."""

    MMTYPE = MMType.CM_SET_KEY_REQ
    key_type: int = _u8(0x01)  # NMK
    my_nonce: bytes = _octets(4)
    your_nonce: bytes = _octets(4)
    pid: int = _u8(0x04)  # HLE protocol
    prn: int = _u16le()
    pmn: int = _u8()
    cco_capability: int = _u8()
    nid: bytes = _octets(NID_LENGTH)
    new_eks: int = _u8(0x01)
    new_key: bytes = _octets(NMK_LENGTH)


@_wire
@dataclass(frozen=True, slots=True, kw_only=True)
class CmSetKeyCnf(Message):
    """CM_SET_KEY.CNF: the modem's answer, 14 bytes; result 0 = success (some firmware answers 1)."""

    MMTYPE = MMType.CM_SET_KEY_CNF
    result: int = _u8()
    my_nonce: bytes = _octets(4)
    your_nonce: bytes = _octets(4)
    pid: int = _u8(0x04)
    prn: int = _u16le()
    pmn: int = _u8()
    cco_capability: int = _u8()


@_wire
@dataclass(frozen=True, slots=True, kw_only=True)
class CmAmpMapReq(Message):
    """CM_AMP_MAP.REQ: amplitude map, one 4-bit entry per carrier (AMLEN u16le + packed entries)."""

    MMTYPE = MMType.CM_AMP_MAP_REQ
    MMV = MMVersion.AV_2_0
    amdata: tuple[int, ...] = _nibbles()


@_wire
@dataclass(frozen=True, slots=True, kw_only=True)
class CmAmpMapCnf(Message):
    """CM_AMP_MAP.CNF: result type, 0 = success, 1 = failure."""

    MMTYPE = MMType.CM_AMP_MAP_CNF
    MMV = MMVersion.AV_2_0
    restype: int = _u8()


@_wire
@dataclass(frozen=True, slots=True, kw_only=True)
class VsSwVerReq(Message):
    """Qualcomm VS_SW_VER.REQ: ask the modem for its firmware version."""

    MMTYPE = MMType.VS_SW_VER_REQ
    MMV = MMVersion.AV_1_0
    oui: bytes = _octets(3, QCA_OUI)


@_wire
@dataclass(frozen=True, slots=True, kw_only=True)
class VsSwVerCnf(Message):
    """Qualcomm VS_SW_VER.CNF: status, device id, version string (64 bytes, NUL padded), upgradeable."""

    MMTYPE = MMType.VS_SW_VER_CNF
    MMV = MMVersion.AV_1_0
    oui: bytes = _octets(3, QCA_OUI)
    status: int = _u8()
    device_id: int = _u8()
    version_length: int = _u8()
    version: bytes = _octets(VERSION_STRING_LENGTH)
    upgradeable: int = _u8()

    @classmethod
    def make(cls, version: str, *, device_id: int = 0, status: int = 0, upgradeable: int = 0) -> VsSwVerCnf:
        """Build a confirmation from a version text (at most 63 ASCII characters)."""
        raw = version.encode("ascii")
        if len(raw) >= VERSION_STRING_LENGTH:
            raise LocalProtocolError(f"VS_SW_VER.CNF.version: at most {VERSION_STRING_LENGTH - 1} characters")
        padded = raw + bytes(VERSION_STRING_LENGTH - len(raw))
        return cls(status=status, device_id=device_id, version_length=len(raw) + 1, version=padded,
                   upgradeable=upgradeable)

    @property
    def version_text(self) -> str:
        """The version string up to its first NUL."""
        return self.version.split(b"\x00", 1)[0].decode("ascii", "replace")


@_wire
@dataclass(frozen=True, slots=True, kw_only=True)
class VsRsDevReq(Message):
    """Qualcomm VS_RS_DEV.REQ: reset the modem."""

    MMTYPE = MMType.VS_RS_DEV_REQ
    MMV = MMVersion.AV_1_0
    oui: bytes = _octets(3, QCA_OUI)


@_wire
@dataclass(frozen=True, slots=True, kw_only=True)
class VsRsDevCnf(Message):
    """Qualcomm VS_RS_DEV.CNF: status 0 = the modem will reset."""

    MMTYPE = MMType.VS_RS_DEV_CNF
    MMV = MMVersion.AV_1_0
    oui: bytes = _octets(3, QCA_OUI)
    status: int = _u8()


@_wire
@dataclass(frozen=True, slots=True, kw_only=True)
class VsLinkStatusReq(Message):
    """Qualcomm VS_LINK_STATUS.REQ: is the modem in an AV logical network?"""

    MMTYPE = MMType.VS_LINK_STATUS_REQ
    MMV = MMVersion.AV_1_0
    oui: bytes = _octets(3, QCA_OUI)


@_wire
@dataclass(frozen=True, slots=True, kw_only=True)
class VsLinkStatusCnf(Message):
    """Qualcomm VS_LINK_STATUS.CNF: link_status 1 = linked (joined the AVLN), 0 = not linked."""

    MMTYPE = MMType.VS_LINK_STATUS_CNF
    MMV = MMVersion.AV_1_0
    oui: bytes = _octets(3, QCA_OUI, followed_by=(_reserved(1),))
    link_status: int = _u8()


#: Every message class by its MMTYPE (an immutable table).
MESSAGE_TYPES: Mapping[int, type[Message]] = MappingProxyType(
    {
        cls.MMTYPE: cls
        for cls in (
            CmSlacParmReq, CmSlacParmCnf, CmStartAttenCharInd, CmMnbcSoundInd, CmAttenProfileInd,
            CmAttenCharInd, CmAttenCharRsp, CmValidateReq, CmValidateCnf, CmSlacMatchReq, CmSlacMatchCnf,
            CmSetKeyReq, CmSetKeyCnf, CmAmpMapReq, CmAmpMapCnf, VsSwVerReq, VsSwVerCnf, VsRsDevReq,
            VsRsDevCnf, VsLinkStatusReq, VsLinkStatusCnf,
        )
    }
)


@dataclass(frozen=True, slots=True)
class Frame:
    """A decoded Ethernet frame carrying one MME."""

    dst: bytes
    src: bytes
    message: Message
    mmv: int = MMVersion.AV_1_1


def encode_frame(dst: bytes, src: bytes, message: Message) -> bytes:
    """Ethernet header + HomePlug header + payload, zero-padded to 60 bytes."""
    if len(dst) != 6 or len(src) != 6:
        raise LocalProtocolError("dst and src must be 6-byte MAC addresses")
    header = dst + src + struct.pack("!H", ETHERTYPE_HOMEPLUG)
    mmv = message.MMV
    header += struct.pack("<BH", mmv, message.MMTYPE)
    if mmv != MMVersion.AV_1_0:
        header += b"\x00\x00"  # FMI: not fragmented
    frame = header + message.payload()
    if len(frame) < MIN_FRAME_LENGTH:
        frame += bytes(MIN_FRAME_LENGTH - len(frame))
    return frame


def decode_frame(data: bytes) -> Frame:
    """Decode an Ethernet frame; raises a :class:`~evcharge.slac.errors.MessageError` naming the bad field."""
    if len(data) < ETH_HEADER_LENGTH:
        raise TruncatedFrame("ethernet", f"{len(data)} bytes is shorter than an Ethernet header")
    (ethertype,) = struct.unpack_from("!H", data, 12)
    if ethertype != ETHERTYPE_HOMEPLUG:
        raise InvalidField("ethertype", f"{ethertype:#06x} is not HomePlug AV (0x88e1)")
    if len(data) < ETH_HEADER_LENGTH + 3:
        raise TruncatedFrame("mmtype", "frame ends inside the HomePlug header")
    mmv, mmtype = struct.unpack_from("<BH", data, ETH_HEADER_LENGTH)
    pos = ETH_HEADER_LENGTH + 3
    if mmv not in (MMVersion.AV_1_0, MMVersion.AV_1_1, MMVersion.AV_2_0):
        raise UnsupportedVersion("mmv", f"management message version {mmv:#04x} is not 0x00, 0x01 or 0x02")
    cls = MESSAGE_TYPES.get(mmtype)
    if cls is None:
        raise UnknownMessageType("mmtype", f"{mmtype:#06x} is not a message this package knows")
    vendor = cls.MMV == MMVersion.AV_1_0
    if vendor and mmv != MMVersion.AV_1_0:
        raise UnsupportedVersion("mmv", f"{cls.NAME} is sent with MMV 0x00, got {mmv:#04x}")
    if not vendor and mmv == MMVersion.AV_1_0:
        raise UnsupportedVersion("mmv", f"{cls.NAME} needs MMV 0x01 or later, got 0x00")
    if mmv != MMVersion.AV_1_0:
        if len(data) < pos + 2:
            raise TruncatedFrame("fmi", "frame ends inside the fragmentation information")
        # FMI: low nibble = number of fragments - 1, high nibble = fragment index, then a sequence number
        if data[pos] & 0xFF:
            raise InvalidField("fmi", "fragmented management messages are not used by SLAC")
        pos += 2
    message = cls.from_payload(data[pos:])
    return Frame(dst=bytes(data[0:6]), src=bytes(data[6:12]), message=message, mmv=mmv)


def nid_from_nmk(nmk: bytes, security_level: int = 0) -> bytes:
    """The 7-byte network identifier HomePlug AV derives from a network membership key.

    SHA-256 applied 5 times (PBKDF1 without salt) to the NMK; the first 52 bits of the result are
    the NID's low 52 bits, and bits 4-5 of the last byte carry the security level (0 = simple connect).
    """
    if len(nmk) != NMK_LENGTH:
        raise LocalProtocolError(f"an NMK is {NMK_LENGTH} bytes, got {len(nmk)}")
    if not 0 <= security_level <= 3:
        raise LocalProtocolError(f"security level is 2 bits, got {security_level}")
    digest = hashlib.sha256(nmk).digest()
    for _ in range(_NID_ITERATIONS - 1):
        digest = hashlib.sha256(digest).digest()
    return digest[:6] + bytes([(security_level << 4) | (digest[6] >> 4)])
