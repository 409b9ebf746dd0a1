"""Every SLAC management message against the byte layout of ISO 15118-3 / HomePlug GP (facts section 4)."""

from __future__ import annotations

import hashlib
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evcharge.slac import messages as m
from evcharge.slac.errors import (
    InvalidField,
    LocalProtocolError,
    MessageError,
    TruncatedFrame,
    UnknownMessageType,
    UnsupportedVersion,
)

DST = bytes.fromhex("0a0b0c0d0e0f")
SRC = bytes.fromhex("020304050607")
RUN = bytes.fromhex("1112131415161718")
PEV_MAC = bytes.fromhex("02aaaaaaaa01")
EVSE_MAC = bytes.fromhex("02bbbbbbbb02")
VIN = b"WVWZZZ1JZXW000001"
EVSE_ID = b"DE*ABC*E123456*01"
NID = bytes.fromhex("01020304050607")
NMK = bytes(range(0x40, 0x50))
AAG = tuple(range(10, 68))  # 58 groups

# (message, expected payload built field by field from the layout table in the facts)
CASES: list[tuple[m.Message, bytes]] = [
    (m.CmSlacParmReq(application_type=0, security_type=0, run_id=RUN), b"\x00\x00" + RUN),
    (
        m.CmSlacParmCnf(num_sounds=10, time_out=6, resp_type=1, forwarding_sta=PEV_MAC, run_id=RUN),
        b"\xff" * 6 + b"\x0a\x06\x01" + PEV_MAC + b"\x00\x00" + RUN,
    ),
    (
        m.CmStartAttenCharInd(num_sounds=10, time_out=6, resp_type=1, forwarding_sta=PEV_MAC, run_id=RUN),
        b"\x00\x00\x0a\x06\x01" + PEV_MAC + RUN,
    ),
    (
        m.CmMnbcSoundInd(sender_id=VIN, count=7, run_id=RUN, rnd=bytes(range(16))),
        b"\x00\x00" + VIN + b"\x07" + RUN + bytes(8) + bytes(range(16)),
    ),
    (m.CmAttenProfileInd(pev_mac=PEV_MAC, aag=AAG), PEV_MAC + bytes([58, 0]) + bytes(AAG)),
    (
        m.CmAttenCharInd(source_address=PEV_MAC, run_id=RUN, source_id=VIN, resp_id=EVSE_ID, num_sounds=9, aag=AAG),
        b"\x00\x00" + PEV_MAC + RUN + VIN + EVSE_ID + b"\x09" + bytes([58]) + bytes(AAG),
    ),
    (
        m.CmAttenCharRsp(source_address=PEV_MAC, run_id=RUN, source_id=VIN, resp_id=EVSE_ID, result=0),
        b"\x00\x00" + PEV_MAC + RUN + VIN + EVSE_ID + b"\x00",
    ),
    (m.CmValidateReq(signal_type=0, timer=35, result=1), b"\x00\x23\x01"),
    (m.CmValidateCnf(signal_type=0, toggle_num=2, result=2), b"\x00\x02\x02"),
    (
        m.CmSlacMatchReq(pev_id=VIN, pev_mac=PEV_MAC, evse_id=EVSE_ID, evse_mac=EVSE_MAC, run_id=RUN),
        b"\x00\x00\x3e\x00" + VIN + PEV_MAC + EVSE_ID + EVSE_MAC + RUN + bytes(8),
    ),
    (
        m.CmSlacMatchCnf(
            pev_id=VIN, pev_mac=PEV_MAC, evse_id=EVSE_ID, evse_mac=EVSE_MAC, run_id=RUN, nid=NID, nmk=NMK
        ),
        b"\x00\x00\x56\x00" + VIN + PEV_MAC + EVSE_ID + EVSE_MAC + RUN + bytes(8) + NID + b"\x00" + NMK,
    ),
    (
        m.CmSetKeyReq(my_nonce=b"\xaa" * 4, your_nonce=bytes(4), prn=0x1234, pmn=5, cco_capability=0, nid=NID,
                      new_key=NMK),
        b"\x01" + b"\xaa" * 4 + bytes(4) + b"\x04" + b"\x34\x12" + b"\x05\x00" + NID + b"\x01" + NMK,
    ),
    (
        m.CmSetKeyCnf(result=1, my_nonce=b"\x01\x02\x03\x04", your_nonce=b"\xaa" * 4, pid=4, prn=0, pmn=0),
        b"\x01\x01\x02\x03\x04" + b"\xaa" * 4 + b"\x04\x00\x00\x00\x00",
    ),
    (m.CmAmpMapReq(amdata=(1, 2, 3, 15, 4)), b"\x05\x00" + bytes([0x21, 0xF3, 0x04])),
    (m.CmAmpMapCnf(restype=1), b"\x01"),
    (m.VsSwVerReq(), b"\x00\xb0\x52"),
    (
        m.VsSwVerCnf.make("MAC-QCA7000-1.1.0.730-00", device_id=0x20),
        b"\x00\xb0\x52\x00\x20" + bytes([25]) + b"MAC-QCA7000-1.1.0.730-00".ljust(64, b"\x00") + b"\x00",
    ),
    (m.VsRsDevReq(), b"\x00\xb0\x52"),
    (m.VsRsDevCnf(status=0), b"\x00\xb0\x52\x00"),
    (m.VsLinkStatusReq(), b"\x00\xb0\x52"),
    (m.VsLinkStatusCnf(link_status=1), b"\x00\xb0\x52\x00\x01"),
]

# Payload sizes from the layout table of the facts (section 4).
SIZES = {
    m.MMType.CM_SLAC_PARM_REQ: 10, m.MMType.CM_SLAC_PARM_CNF: 25, m.MMType.CM_START_ATTEN_CHAR_IND: 19,
    m.MMType.CM_MNBC_SOUND_IND: 52, m.MMType.CM_ATTEN_PROFILE_IND: 66, m.MMType.CM_ATTEN_CHAR_IND: 110,
    m.MMType.CM_ATTEN_CHAR_RSP: 51, m.MMType.CM_VALIDATE_REQ: 3, m.MMType.CM_VALIDATE_CNF: 3,
    m.MMType.CM_SLAC_MATCH_REQ: 66, m.MMType.CM_SLAC_MATCH_CNF: 90, m.MMType.CM_SET_KEY_REQ: 38,
    m.MMType.CM_SET_KEY_CNF: 14,
}

# MMTYPE base values from the facts; mode REQ=0, CNF=1, IND=2, RSP=3.
MMTYPES = {
    "CM_SET_KEY.REQ": 0x6008, "CM_SET_KEY.CNF": 0x6009, "CM_AMP_MAP.REQ": 0x601C, "CM_AMP_MAP.CNF": 0x601D,
    "CM_SLAC_PARM.REQ": 0x6064, "CM_SLAC_PARM.CNF": 0x6065, "CM_START_ATTEN_CHAR.IND": 0x6068 | 2,
    "CM_ATTEN_CHAR.IND": 0x606C | 2, "CM_ATTEN_CHAR.RSP": 0x606C | 3, "CM_MNBC_SOUND.IND": 0x6074 | 2,
    "CM_VALIDATE.REQ": 0x6078, "CM_VALIDATE.CNF": 0x6079, "CM_SLAC_MATCH.REQ": 0x607C, "CM_SLAC_MATCH.CNF": 0x607D,
    "CM_ATTEN_PROFILE.IND": 0x6084 | 2, "VS_SW_VER.REQ": 0xA000, "VS_SW_VER.CNF": 0xA001, "VS_RS_DEV.REQ": 0xA01C,
    "VS_RS_DEV.CNF": 0xA01D, "VS_LINK_STATUS.REQ": 0xA0B8, "VS_LINK_STATUS.CNF": 0xA0B9,
}


def ids(case: tuple[m.Message, bytes]) -> str:
    return case[0].NAME


@pytest.mark.parametrize("case", CASES, ids=ids)
def test_payload_matches_the_layout(case: tuple[m.Message, bytes]) -> None:
    message, expected = case
    assert message.payload() == expected
    if message.MMTYPE in SIZES:
        assert len(expected) == SIZES[message.MMTYPE]


@pytest.mark.parametrize("case", CASES, ids=ids)
def test_frame_header_and_padding(case: tuple[m.Message, bytes]) -> None:
    message, payload = case
    frame = m.encode_frame(DST, SRC, message)
    assert frame[0:6] == DST and frame[6:12] == SRC
    assert frame[12:14] == b"\x88\xe1"
    assert frame[14] == message.MMV
    assert struct.unpack_from("<H", frame, 15)[0] == MMTYPES[message.NAME]
    header = 17 if message.MMV == 0 else 19
    if message.MMV != 0:
        assert frame[17:19] == b"\x00\x00"  # FMI: not fragmented
    assert frame[header : header + len(payload)] == payload
    assert len(frame) == max(60, header + len(payload))
    assert frame[header + len(payload) :] == bytes(len(frame) - header - len(payload))


def test_frame_sizes_pyslac_reads() -> None:
    # pyslac hard-codes these read sizes (Ethernet + HomePlug headers included)
    by_name = {msg.NAME: m.encode_frame(DST, SRC, msg) for msg, _ in CASES}
    assert len(by_name["CM_SET_KEY.CNF"]) == 60
    assert len(by_name["CM_SLAC_PARM.REQ"]) == 60
    assert len(by_name["CM_START_ATTEN_CHAR.IND"]) == 60
    assert len(by_name["CM_MNBC_SOUND.IND"]) == 71
    assert len(by_name["CM_ATTEN_PROFILE.IND"]) == 85
    assert len(by_name["CM_ATTEN_CHAR.RSP"]) == 70
    assert len(by_name["CM_SLAC_MATCH.REQ"]) == 85


@pytest.mark.parametrize("case", CASES, ids=ids)
def test_round_trip(case: tuple[m.Message, bytes]) -> None:
    message, _ = case
    decoded = m.decode_frame(m.encode_frame(DST, SRC, message))
    assert decoded == m.Frame(DST, SRC, message, message.MMV)


def test_every_known_type_has_a_case() -> None:
    assert {msg.MMTYPE for msg, _ in CASES} == set(m.MESSAGE_TYPES)


def test_parm_req_with_security_carries_cipher_suites() -> None:
    msg = m.CmSlacParmReq(security_type=1, run_id=RUN, cipher_suites=(0x0001, 0x0102))
    assert msg.payload() == b"\x00\x01" + RUN + b"\x02\x01\x00\x02\x01"
    assert m.decode_frame(m.encode_frame(DST, SRC, msg)).message == msg


def _sample(draw: st.DrawFn, cls: type[m.Message]) -> m.Message:
    values: dict[str, object] = {}
    for name, kind, size in cls.LAYOUT:
        if not name:
            continue
        if kind == "u8":
            values[name] = draw(st.integers(0, 255))
        elif kind == "u16le":
            values[name] = draw(st.integers(0, 0xFFFF))
        elif kind == "bytes":
            values[name] = draw(st.binary(min_size=size, max_size=size))
        elif kind in ("aag", "aag_rsvd"):
            values[name] = tuple(draw(st.lists(st.integers(0, 255), max_size=80)))
        elif kind == "amdata":
            values[name] = tuple(draw(st.lists(st.integers(0, 15), max_size=40)))
    if cls is m.CmSlacParmReq and values["security_type"] != 0:
        values["cipher_suites"] = tuple(draw(st.lists(st.integers(0, 0xFFFF), max_size=5)))
    return cls(**values)  # type: ignore[arg-type]


@st.composite
def any_message(draw: st.DrawFn) -> m.Message:
    cls = draw(st.sampled_from(sorted(m.MESSAGE_TYPES.values(), key=lambda c: c.MMTYPE)))
    return _sample(draw, cls)


@pytest.mark.property
@given(any_message(), st.binary(min_size=6, max_size=6), st.binary(min_size=6, max_size=6))
def test_round_trip_property(message: m.Message, dst: bytes, src: bytes) -> None:
    frame = m.encode_frame(dst, src, message)
    assert len(frame) >= 60
    assert m.decode_frame(frame) == m.Frame(dst, src, message, message.MMV)


# ------------------------------------------------------------------ malformed frames name the field
@pytest.mark.parametrize("case", CASES, ids=ids)
def test_every_truncation_is_reported_with_a_field(case: tuple[m.Message, bytes]) -> None:
    message, payload = case
    header = 17 if message.MMV == 0 else 19
    full = m.encode_frame(DST, SRC, message)[: header + len(payload)]
    for cut in range(len(full)):
        with pytest.raises(MessageError) as info:
            m.decode_frame(full[:cut])
        assert isinstance(info.value, TruncatedFrame), (cut, info.value)
        assert info.value.field
        assert info.value.field in str(info.value)


def test_truncated_payload_names_the_missing_field() -> None:
    frame = m.encode_frame(DST, SRC, m.CmSlacMatchCnf(nid=NID, nmk=NMK))[: 19 + 80]
    with pytest.raises(TruncatedFrame) as info:
        m.decode_frame(frame)
    assert info.value.field == "nmk"
    frame = m.encode_frame(DST, SRC, m.CmAttenCharInd(aag=AAG))[: 19 + 60]
    with pytest.raises(TruncatedFrame) as info:
        m.decode_frame(frame)
    assert info.value.field == "aag"


def test_wrong_ethertype() -> None:
    frame = bytearray(m.encode_frame(DST, SRC, m.CmSlacParmReq(run_id=RUN)))
    frame[12:14] = b"\x08\x00"
    with pytest.raises(InvalidField) as info:
        m.decode_frame(bytes(frame))
    assert info.value.field == "ethertype"


@pytest.mark.parametrize("mmv", [0x03, 0x7F, 0xFF])
def test_unknown_mmv(mmv: int) -> None:
    frame = bytearray(m.encode_frame(DST, SRC, m.CmSlacParmReq(run_id=RUN)))
    frame[14] = mmv
    with pytest.raises(UnsupportedVersion) as info:
        m.decode_frame(bytes(frame))
    assert info.value.field == "mmv"


def test_mmv_must_fit_the_message_family() -> None:
    slac = bytearray(m.encode_frame(DST, SRC, m.CmSlacParmReq(run_id=RUN)))
    slac[14] = 0x00
    with pytest.raises(UnsupportedVersion, match=r"CM_SLAC_PARM\.REQ"):
        m.decode_frame(bytes(slac))
    vendor = m.encode_frame(DST, SRC, m.VsSwVerReq())
    with pytest.raises(UnsupportedVersion, match=r"VS_SW_VER\.REQ"):
        m.decode_frame(vendor[:14] + b"\x01" + vendor[15:17] + b"\x00\x00" + vendor[17:])


def test_unknown_mmtype() -> None:
    frame = bytearray(m.encode_frame(DST, SRC, m.CmSlacParmReq(run_id=RUN)))
    frame[15:17] = struct.pack("<H", 0x6066)
    with pytest.raises(UnknownMessageType) as info:
        m.decode_frame(bytes(frame))
    assert info.value.field == "mmtype"
    assert "0x6066" in str(info.value)


def test_wrong_mvf_length() -> None:
    frame = bytearray(m.encode_frame(DST, SRC, m.CmSlacMatchReq(run_id=RUN)))
    frame[21:23] = b"\x40\x00"
    with pytest.raises(InvalidField) as info:
        m.decode_frame(bytes(frame))
    assert info.value.field == "mvf_length"


def test_fragmented_mme_is_refused() -> None:
    frame = bytearray(m.encode_frame(DST, SRC, m.CmSlacParmReq(run_id=RUN)))
    frame[17] = 0x01  # two fragments
    with pytest.raises(InvalidField) as info:
        m.decode_frame(bytes(frame))
    assert info.value.field == "fmi"


@pytest.mark.fuzz
@given(st.binary(max_size=200))
def test_random_bytes_decode_or_raise_message_error(data: bytes) -> None:
    try:
        m.decode_frame(data)
    except MessageError:
        pass


@pytest.mark.fuzz
@given(any_message(), st.data())
def test_mutated_frames_decode_or_raise_message_error(message: m.Message, data: st.DataObject) -> None:
    frame = bytearray(m.encode_frame(DST, SRC, message))
    for _ in range(data.draw(st.integers(1, 4))):
        pos = data.draw(st.integers(0, len(frame) - 1))
        frame[pos] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(frame)))
    try:
        m.decode_frame(bytes(frame[:cut]))
    except MessageError:
        pass


# ------------------------------------------------------------------ misuse by the application
def test_field_values_that_do_not_fit_are_local_errors() -> None:
    with pytest.raises(LocalProtocolError, match="run_id"):
        m.CmSlacParmReq(run_id=b"short")
    with pytest.raises(LocalProtocolError, match="num_sounds"):
        m.CmSlacParmCnf(num_sounds=256)
    with pytest.raises(LocalProtocolError, match="prn"):
        m.CmSetKeyReq(prn=-1)
    with pytest.raises(LocalProtocolError):
        m.encode_frame(b"\x00", SRC, m.CmSlacParmReq())
    with pytest.raises(LocalProtocolError):
        m.VsSwVerCnf.make("x" * 64)


# ------------------------------------------------------------------ NID derivation
def test_nid_from_nmk_follows_the_homeplug_rule() -> None:
    nmk = bytes.fromhex("b59319d7e8157ba001b018669ccee30d")
    digest = nmk
    for _ in range(5):
        digest = hashlib.sha256(digest).digest()
    nid = m.nid_from_nmk(nmk)
    assert len(nid) == 7
    assert nid[:6] == digest[:6]
    assert nid[6] == digest[6] >> 4  # security level 0 (simple connect) in bits 4-5, top bits clear
    secure = m.nid_from_nmk(nmk, security_level=1)
    assert secure[6] >> 4 == 0b01 and secure[6] & 0x0F == digest[6] >> 4
    with pytest.raises(LocalProtocolError):
        m.nid_from_nmk(b"short")


def test_mac_text_helpers() -> None:
    assert m.mac_text(PEV_MAC) == "02:aa:aa:aa:aa:01"
    assert m.parse_mac("02:AA:aa:aa:aa:01") == PEV_MAC
    with pytest.raises(ValueError):
        m.parse_mac("02:aa")


def test_version_text() -> None:
    cnf = m.VsSwVerCnf.make("QCA7000-1.2")
    assert cnf.version_text == "QCA7000-1.2"
    assert cnf.version_length == len("QCA7000-1.2") + 1
