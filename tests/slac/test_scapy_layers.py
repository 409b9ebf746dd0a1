"""The scapy layers and the pure codec describe the same bytes, in both directions."""

from __future__ import annotations

import pytest

pytest.importorskip("scapy", reason="scapy is the 'slac' extra; the test extras install it")

from scapy.layers.l2 import Ether
from scapy.packet import Raw

from evcharge.slac import messages as m
from evcharge.slac import scapy_layers as layers
from tests.slac.test_messages import CASES, DST, SRC, ids

DST_TEXT = m.mac_text(DST)
SRC_TEXT = m.mac_text(SRC)


@pytest.mark.parametrize("case", CASES, ids=ids)
def test_scapy_builds_the_same_bytes(case: tuple[m.Message, bytes]) -> None:
    message, _ = case
    packet = Ether(dst=DST_TEXT, src=SRC_TEXT) / layers.layer_for(message)
    raw = bytes(packet)
    ours = m.encode_frame(DST, SRC, message)
    assert raw == ours[: len(raw)]
    assert ours[len(raw) :] == bytes(len(ours) - len(raw))  # only our padding differs


@pytest.mark.parametrize("case", CASES, ids=ids)
def test_scapy_dissects_our_frames(case: tuple[m.Message, bytes]) -> None:
    message, _ = case
    packet = Ether(m.encode_frame(DST, SRC, message))
    header = packet[layers.HomePlugAV]
    assert header.mmv == message.MMV
    assert header.mmtype == message.MMTYPE
    layer = packet[layers.LAYERS[message.MMTYPE]]
    for name, kind, _size in message.LAYOUT:
        if not name:
            continue
        got = layer.getfieldval(name)
        want = getattr(message, name)
        if kind == "bytes" and len(want) == 6:
            assert got == m.mac_text(want), name
        elif kind in ("aag", "aag_rsvd"):
            assert tuple(got) == want, name
            assert layer.num_groups == len(want)
        elif kind != "amdata":
            assert got == want, name


def test_layer_names_and_defaults() -> None:
    parm = layers.LAYERS[m.MMType.CM_SLAC_PARM_CNF]
    assert parm.__name__ == "CM_SLAC_PARM_CNF"
    # the layer defaults are the standard's fixed values
    raw = bytes(Ether(dst=DST_TEXT, src=SRC_TEXT) / layers.HomePlugAV() / parm(forwarding_sta=m.mac_text(DST)))
    decoded = m.decode_frame(raw + bytes(60))
    assert decoded.message == m.CmSlacParmCnf(forwarding_sta=DST)
    vendor = bytes(Ether(dst=DST_TEXT, src=SRC_TEXT) / layers.HomePlugAV() / layers.LAYERS[m.MMType.VS_SW_VER_REQ]())
    assert vendor[14] == 0x00  # vendor MMEs get MMV 0 from the binding
    assert vendor[17:20] == m.QCA_OUI


def test_unknown_mmtype_stays_raw() -> None:
    frame = bytearray(m.encode_frame(DST, SRC, m.CmSlacParmReq()))
    frame[15:17] = b"\x66\x60"
    packet = Ether(bytes(frame))
    assert packet.haslayer(layers.HomePlugAV)
    assert packet[layers.HomePlugAV].payload.__class__ in (Raw,)
