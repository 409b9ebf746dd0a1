"""scapy layers for the SLAC management messages, bound to EtherType 0x88E1.

The layers are generated at import time from the same ``LAYOUT`` tables that
:mod:`evcharge.slac.messages` encodes with, so a scapy packet and an
:func:`~evcharge.slac.messages.encode_frame` result are byte-for-byte the same (the tests prove it
for every message).  Use them to build frames by hand, to dissect captures, or to send test frames::

    from scapy.layers.l2 import Ether
    from evcharge.slac import scapy_layers as L

    pkt = Ether(dst="ff:ff:ff:ff:ff:ff") / L.HomePlugAV() / L.CM_SLAC_PARM_REQ(run_id=b"12345678")
    bytes(pkt)                     # the frame; HomePlugAV.mmtype is filled in from the payload layer
    Ether(raw)[L.CM_SLAC_PARM_CNF].run_id

Importing this module binds the layers in scapy's own (process-wide) layer table, as every scapy
layer module does; that is scapy's design, not a registry of this package.  Requires scapy (the
``slac`` extra).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from evcharge.errors import require

require("scapy", "slac", feature="evcharge.slac.scapy_layers")

from scapy.fields import (  # noqa: E402 - after the check that names the extra
    ByteEnumField,
    ByteField,
    ConditionalField,
    FieldLenField,
    FieldListField,
    LEShortEnumField,
    LEShortField,
    MACField,
    StrFixedLenField,
    StrLenField,
)
from scapy.layers.l2 import Ether  # noqa: E402
from scapy.packet import Packet, bind_bottom_up, bind_layers, bind_top_down  # noqa: E402

from evcharge.slac.messages import ETHERTYPE_HOMEPLUG, MESSAGE_TYPES, Message, MMType, MMVersion  # noqa: E402

__all__ = ["LAYERS", "HomePlugAV", "layer_for"]


class HomePlugAV(Packet):
    """HomePlug AV management message header: MMV, MMTYPE (little-endian), FMI (MMV >= 1 only)."""

    name = "HomePlug AV MME"
    fields_desc = [
        ByteEnumField("mmv", MMVersion.AV_1_1, {v.value: v.name for v in MMVersion}),
        LEShortEnumField("mmtype", 0, {t.value: t.name for t in MMType}),
        ConditionalField(LEShortField("fmi", 0), lambda pkt: pkt.mmv != MMVersion.AV_1_0),
    ]


class _MMEPayload(Packet):
    """Base of the payload layers: what follows the fields is Ethernet padding."""

    def extract_padding(self, s: bytes) -> tuple[bytes, bytes]:
        return b"", s


def _fields_for(cls: type[Message]) -> list[Any]:
    out: list[Any] = []
    reserved = 0
    defaults = cls()  # scapy defaults = the message's own defaults
    for name, kind, size in cls.LAYOUT:
        if kind == "u8":
            out.append(ByteField(name, getattr(defaults, name)))
        elif kind == "u16le":
            out.append(LEShortField(name, getattr(defaults, name)))
        elif kind == "bytes" and size == 6:
            out.append(MACField(name, ":".join(f"{b:02x}" for b in getattr(defaults, name))))
        elif kind == "bytes":
            out.append(StrFixedLenField(name, getattr(defaults, name), size))
        elif kind == "reserved":
            reserved += 1
            out.append(StrFixedLenField(f"reserved{reserved}", bytes(size), size))
        elif kind == "const16":
            out.append(LEShortField("mvf_length", size))
        elif kind in ("aag", "aag_rsvd"):
            out.append(FieldLenField("num_groups", None, count_of=name, fmt="B"))
            if kind == "aag_rsvd":
                reserved += 1
                out.append(ByteField(f"reserved{reserved}", 0))
            out.append(FieldListField(name, [], ByteField("", 0), count_from=lambda pkt: pkt.num_groups))
        elif kind == "amdata":
            out.append(LEShortField("amlen", 0))
            out.append(StrLenField(name, b"", length_from=lambda pkt: (pkt.amlen + 1) // 2))
        else:  # pragma: no cover - layout tables are static
            raise AssertionError(kind)
    if cls.MMTYPE == MMType.CM_SLAC_PARM_REQ:
        # cipher suites follow only when security_type != 0
        out.append(
            ConditionalField(
                FieldLenField("cipher_suite_set_size", None, count_of="cipher_suites", fmt="B"),
                lambda pkt: pkt.security_type != 0,
            )
        )
        out.append(
            ConditionalField(
                FieldListField(
                    "cipher_suites", [], LEShortField("", 0), count_from=lambda pkt: pkt.cipher_suite_set_size
                ),
                lambda pkt: pkt.security_type != 0,
            )
        )
    return out


def _make_layer(cls: type[Message]) -> type[Packet]:
    layer_name = cls.NAME.replace(".", "_")
    layer: type[Packet] = type(
        layer_name,
        (_MMEPayload,),
        {"name": cls.NAME, "fields_desc": _fields_for(cls), "__doc__": cls.__doc__, "__module__": __name__},
    )
    return layer


#: scapy layer class per MMTYPE, named like the message with ``_`` for ``.`` (``CM_SLAC_PARM_REQ``).
LAYERS: Mapping[int, type[Packet]] = MappingProxyType(
    {mmtype: _make_layer(cls) for mmtype, cls in MESSAGE_TYPES.items()}
)

for _mmtype, _layer in LAYERS.items():
    globals()[_layer.__name__] = _layer
    bind_bottom_up(HomePlugAV, _layer, mmtype=_mmtype)
    bind_top_down(HomePlugAV, _layer, mmtype=_mmtype, mmv=MESSAGE_TYPES[_mmtype].MMV)
bind_layers(Ether, HomePlugAV, type=ETHERTYPE_HOMEPLUG)


def layer_for(message: Message) -> Packet:
    """``HomePlugAV / <payload layer>`` carrying the same field values as ``message``."""
    layer = LAYERS[message.MMTYPE]
    values: dict[str, Any] = {}
    for name, kind, _size in message.LAYOUT:
        if not name:
            continue
        value = getattr(message, name)
        if kind == "bytes" and len(value) == 6:
            value = ":".join(f"{b:02x}" for b in value)
        elif kind in ("aag", "aag_rsvd"):
            value = list(value)
        elif kind == "amdata":
            values["amlen"] = len(value)
            packed = bytearray((len(value) + 1) // 2)
            for i, v in enumerate(value):
                packed[i // 2] |= v << (4 * (i % 2))
            value = bytes(packed)
        values[name] = value
    cipher = getattr(message, "cipher_suites", None)
    if cipher:
        values["cipher_suites"] = list(cipher)
    return HomePlugAV(mmv=message.MMV) / layer(**values)
