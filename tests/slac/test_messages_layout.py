"""The message classes as an API: keyword-only frozen slotted dataclasses whose fields are the wire layout.

Byte vectors are the default values ISO 15118-3 / HomePlug GP give (facts section 4: NUM_SOUNDS 10, TIME_OUT 6,
RESP_TYPE 1, MVFLength 0x3E / 0x56, KeyType 1 = NMK, PID 4 = HLE, NewEKS 1, CM_VALIDATE Result 1 = ready, QCA OUI
00:B0:52), zeros everywhere else.
"""

from __future__ import annotations

import dataclasses

import pytest

from evcharge.slac import messages as m
from evcharge.slac.errors import LocalProtocolError

OUI = b"\x00\xb0\x52"

# A default-constructed message of every type, and its payload field by field (facts section 4).
DEFAULTS: dict[type[m.Message], bytes] = {
    m.CmSlacParmReq: b"\x00\x00" + bytes(8),
    m.CmSlacParmCnf: b"\xff" * 6 + b"\x0a\x06\x01" + bytes(6) + b"\x00\x00" + bytes(8),
    m.CmStartAttenCharInd: b"\x00\x00" + b"\x0a\x06\x01" + bytes(6) + bytes(8),
    m.CmMnbcSoundInd: b"\x00\x00" + bytes(17) + b"\x00" + bytes(8) + bytes(8) + bytes(16),
    m.CmAttenProfileInd: bytes(6) + b"\x00" + b"\x00",  # NumGroups 0, reserved, no groups
    m.CmAttenCharInd: b"\x00\x00" + bytes(6) + bytes(8) + bytes(17) + bytes(17) + b"\x00" + b"\x00",
    m.CmAttenCharRsp: b"\x00\x00" + bytes(6) + bytes(8) + bytes(17) + bytes(17) + b"\x00",
    m.CmValidateReq: b"\x00\x00\x01",
    m.CmValidateCnf: b"\x00\x00\x01",
    m.CmSlacMatchReq: b"\x00\x00" + b"\x3e\x00" + bytes(17 + 6 + 17 + 6) + bytes(8) + bytes(8),
    m.CmSlacMatchCnf: b"\x00\x00" + b"\x56\x00" + bytes(17 + 6 + 17 + 6) + bytes(8) + bytes(8) + bytes(7) + b"\x00"
    + bytes(16),
    m.CmSetKeyReq: b"\x01" + bytes(4) + bytes(4) + b"\x04" + b"\x00\x00" + b"\x00" + b"\x00" + bytes(7) + b"\x01"
    + bytes(16),
    m.CmSetKeyCnf: b"\x00" + bytes(4) + bytes(4) + b"\x04" + b"\x00\x00" + b"\x00" + b"\x00",
    m.CmAmpMapReq: b"\x00\x00",
    m.CmAmpMapCnf: b"\x00",
    m.VsSwVerReq: OUI,
    m.VsSwVerCnf: OUI + b"\x00\x00\x00" + bytes(64) + b"\x00",
    m.VsRsDevReq: OUI,
    m.VsRsDevCnf: OUI + b"\x00",
    m.VsLinkStatusReq: OUI,
    m.VsLinkStatusCnf: OUI + b"\x00" + b"\x00",
}

# The constructor keywords of every message, in wire order (the public API; renaming one breaks callers).
KEYWORDS: dict[type[m.Message], tuple[str, ...]] = {
    m.CmSlacParmReq: ("application_type", "security_type", "run_id", "cipher_suites"),
    m.CmSlacParmCnf: ("m_sound_target", "num_sounds", "time_out", "resp_type", "forwarding_sta", "application_type",
                      "security_type", "run_id"),
    m.CmStartAttenCharInd: ("application_type", "security_type", "num_sounds", "time_out", "resp_type",
                            "forwarding_sta", "run_id"),
    m.CmMnbcSoundInd: ("application_type", "security_type", "sender_id", "count", "run_id", "rnd"),
    m.CmAttenProfileInd: ("pev_mac", "aag"),
    m.CmAttenCharInd: ("application_type", "security_type", "source_address", "run_id", "source_id", "resp_id",
                       "num_sounds", "aag"),
    m.CmAttenCharRsp: ("application_type", "security_type", "source_address", "run_id", "source_id", "resp_id",
                       "result"),
    m.CmValidateReq: ("signal_type", "timer", "result"),
    m.CmValidateCnf: ("signal_type", "toggle_num", "result"),
    m.CmSlacMatchReq: ("application_type", "security_type", "pev_id", "pev_mac", "evse_id", "evse_mac", "run_id"),
    m.CmSlacMatchCnf: ("application_type", "security_type", "pev_id", "pev_mac", "evse_id", "evse_mac", "run_id",
                       "nid", "nmk"),
    m.CmSetKeyReq: ("key_type", "my_nonce", "your_nonce", "pid", "prn", "pmn", "cco_capability", "nid", "new_eks",
                    "new_key"),
    m.CmSetKeyCnf: ("result", "my_nonce", "your_nonce", "pid", "prn", "pmn", "cco_capability"),
    m.CmAmpMapReq: ("amdata",),
    m.CmAmpMapCnf: ("restype",),
    m.VsSwVerReq: ("oui",),
    m.VsSwVerCnf: ("oui", "status", "device_id", "version_length", "version", "upgradeable"),
    m.VsRsDevReq: ("oui",),
    m.VsRsDevCnf: ("oui", "status"),
    m.VsLinkStatusReq: ("oui",),
    m.VsLinkStatusCnf: ("oui", "link_status"),
}

CLASSES = sorted(m.MESSAGE_TYPES.values(), key=lambda cls: cls.MMTYPE)
DST = bytes.fromhex("0a0b0c0d0e0f")
SRC = bytes.fromhex("020304050607")


def name(cls: type[m.Message]) -> str:
    return cls.NAME


def test_every_message_type_is_listed() -> None:
    assert set(DEFAULTS) == set(KEYWORDS) == set(CLASSES)


@pytest.mark.parametrize("cls", CLASSES, ids=name)
def test_defaults_are_the_standard_values(cls: type[m.Message]) -> None:
    message = cls()
    assert message.payload() == DEFAULTS[cls]
    assert m.decode_frame(m.encode_frame(DST, SRC, message)).message == message


@pytest.mark.parametrize("cls", CLASSES, ids=name)
def test_frozen_slotted_keyword_only(cls: type[m.Message]) -> None:
    message = cls()
    assert not hasattr(message, "__dict__")
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(message, KEYWORDS[cls][0], getattr(message, KEYWORDS[cls][0]))
    with pytest.raises(TypeError):
        cls(getattr(message, KEYWORDS[cls][0]))  # type: ignore[call-arg]
    assert tuple(f.name for f in dataclasses.fields(cls)) == KEYWORDS[cls]
    assert all(f.kw_only for f in dataclasses.fields(cls))


@pytest.mark.parametrize("cls", CLASSES, ids=name)
def test_layout_is_the_fields_in_order(cls: type[m.Message]) -> None:
    # the scapy layers are built from LAYOUT: it must name every wire field once, in the dataclass order
    named = [item[0] for item in cls.LAYOUT if item[0]]
    expected = [k for k in KEYWORDS[cls] if k != "cipher_suites"]  # cipher suites follow only when security != 0
    assert named == expected


def _extreme(cls: type[m.Message]) -> m.Message:
    """Every field at the largest value it can carry on the wire."""
    values: dict[str, object] = {}
    for field_name, kind, size in cls.LAYOUT:
        if kind == "u8":
            values[field_name] = 0xFF
        elif kind == "u16le":
            values[field_name] = 0xFFFF
        elif kind == "bytes":
            values[field_name] = b"\xa5" * size
        elif kind in ("aag", "aag_rsvd"):
            values[field_name] = (0xFF,) * 0xFF
        elif kind == "amdata":
            values[field_name] = tuple(range(16)) * 3 + (0xF,)
    if cls is m.CmSlacParmReq:
        values["cipher_suites"] = (0xFFFF,) * 0xFF
    return cls(**values)


@pytest.mark.parametrize("cls", CLASSES, ids=name)
def test_largest_values_round_trip(cls: type[m.Message]) -> None:
    message = _extreme(cls)
    frame = m.encode_frame(DST, SRC, message)
    assert m.decode_frame(frame) == m.Frame(DST, SRC, message, message.MMV)


@pytest.mark.parametrize("cls", CLASSES, ids=name)
def test_every_field_refuses_what_does_not_fit(cls: type[m.Message]) -> None:
    for field_name, kind, size in cls.LAYOUT:
        if kind in ("u8", "u16le"):
            bad: list[object] = [-1, 0x100 if kind == "u8" else 0x10000, "1", 1.0]
        elif kind == "bytes":
            bad = [bytes(size - 1), bytes(size + 1), "x" * size, list(bytes(size))]
        elif kind in ("aag", "aag_rsvd"):
            bad = [(0x100,), (-1,), (0,) * 0x100, [0]]
        elif kind == "amdata":
            bad = [(0x10,), (-1,), [0]]
        else:
            continue  # reserved bytes and MVFLength are not fields
        for value in bad:
            with pytest.raises(LocalProtocolError, match=rf"{cls.NAME}\.{field_name}"):
                cls(**{field_name: value})
