"""Frames we emit, written to a pcap, dissected by tshark's homeplug-av dissector with the values we intended.

tshark is a real, independent peer here (Wireshark's dissector was written from the HomePlug AV /
Green PHY specifications).  In CI (CI=true) the test must run (.ci/run installs tshark); elsewhere it
skips when tshark is missing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from evcharge.slac import messages as m
from evcharge.slac.config import EvseConfig, PevConfig
from evcharge.slac.events import ReportToggles
from evcharge.slac.evse import EvseSlac
from evcharge.slac.pcap import write_pcap
from evcharge.slac.states import SessionState
from tests.slac.helpers import matched, pair, start_both
from tests.slac.test_messages import CASES, DST, SRC

pytestmark = pytest.mark.interop

TSHARK = shutil.which("tshark")
if TSHARK is None:
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        raise RuntimeError("tshark is required in CI (apt-get install tshark)")
    pytest.skip("tshark is not installed", allow_module_level=True)

GP = "homeplug_av.gp."
# our message -> (our field, tshark field, how to compare)
FIELDS: dict[str, list[tuple[str, str, str]]] = {
    "CM_SLAC_PARM.REQ": [("application_type", GP + "cm_slac_parm.apptype", "int"),
                         ("security_type", GP + "cm_slac_parm.sectype", "int"),
                         ("run_id", GP + "cm_slac_parm.runid", "hex")],
    "CM_SLAC_PARM.CNF": [("m_sound_target", GP + "cm_slac_parm.sound_target", "hex"),
                         ("num_sounds", GP + "cm_slac_parm.sound_count", "int"),
                         ("time_out", GP + "cm_slac_parm.time_out", "int"),
                         ("resp_type", GP + "cm_slac_parm.resptype", "int"),
                         ("forwarding_sta", GP + "cm_slac_parm.forwarding_sta", "hex"),
                         ("run_id", GP + "cm_slac_parm.runid", "hex")],
    "CM_START_ATTEN_CHAR.IND": [("num_sounds", GP + "cm_start_atten_char.sounds_count", "int"),
                                ("time_out", GP + "cm_start_atten_char.time_out", "int"),
                                ("resp_type", GP + "cm_start_atten_char.resptype", "int"),
                                ("forwarding_sta", GP + "cm_start_atten_char.sound_forwarding_sta", "hex"),
                                ("run_id", GP + "cm_start_atten_char.runid", "hex")],
    "CM_MNBC_SOUND.IND": [("sender_id", GP + "cm_mnbc_sound.sender_id", "hex"),
                          ("count", GP + "cm_mnbc_sound.countdown", "int"),
                          ("run_id", GP + "cm_mnbc_sound.runid", "hex"),
                          ("rnd", GP + "cm_mnbc_sound.rnd", "hex")],
    "CM_ATTEN_PROFILE.IND": [("pev_mac", GP + "cm_atten_profile_ind.pev_mac", "hex"),
                             ("aag", GP + "cm_atten_profile_ind.aag", "list")],
    "CM_ATTEN_CHAR.IND": [("source_address", GP + "cm_atten_char.source_mac", "hex"),
                          ("run_id", GP + "cm_atten_char.runid", "hex"),
                          ("source_id", GP + "cm_atten_char.source_id", "hex"),
                          ("resp_id", GP + "cm_atten_char.resp_id", "hex"),
                          ("num_sounds", GP + "cm_atten_char.sounds_count", "int"),
                          ("aag", GP + "cm_atten_char.aag", "list")],
    "CM_ATTEN_CHAR.RSP": [("source_address", GP + "cm_atten_char.source_mac", "hex"),
                          ("run_id", GP + "cm_atten_char.runid", "hex"),
                          ("source_id", GP + "cm_atten_char.source_id", "hex"),
                          ("resp_id", GP + "cm_atten_char.resp_id", "hex"),
                          ("result", GP + "cm_atten_char.result", "int")],
    "CM_VALIDATE.REQ": [("signal_type", GP + "cm_validate.signaltype", "int"),
                        ("timer", GP + "cm_validate.timer", "int"),
                        ("result", GP + "cm_validate.result", "int")],
    "CM_VALIDATE.CNF": [("signal_type", GP + "cm_validate.signaltype", "int"),
                        ("toggle_num", GP + "cm_validate.togglenum", "int"),
                        ("result", GP + "cm_validate.result", "int")],
    "CM_SLAC_MATCH.REQ": [("pev_id", GP + "cm_slac_match.pev_id", "hex"),
                          ("pev_mac", GP + "cm_slac_match.pev_mac", "hex"),
                          ("evse_id", GP + "cm_slac_match.evse_id", "hex"),
                          ("evse_mac", GP + "cm_slac_match.evse_mac", "hex"),
                          ("run_id", GP + "cm_slac_match.runid", "hex")],
    "CM_SLAC_MATCH.CNF": [("pev_id", GP + "cm_slac_match.pev_id", "hex"),
                          ("pev_mac", GP + "cm_slac_match.pev_mac", "hex"),
                          ("evse_id", GP + "cm_slac_match.evse_id", "hex"),
                          ("evse_mac", GP + "cm_slac_match.evse_mac", "hex"),
                          ("run_id", GP + "cm_slac_match.runid", "hex"),
                          ("nid", GP + "cm_slac_match.nid", "hex"),
                          ("nmk", GP + "cm_slac_match.nmk", "hex")],
    "CM_SET_KEY.REQ": [("key_type", "homeplug_av.nw_info.key_type", "int"),
                       ("my_nonce", "homeplug_av.nw_info.my_nonce", "le32"),
                       ("your_nonce", "homeplug_av.nw_info.your_nonce", "le32"),
                       ("pid", "homeplug_av.nw_info.pid", "int"),
                       ("prn", "homeplug_av.nw_info.prn", "int"),
                       ("pmn", "homeplug_av.nw_info.pmn", "int"),
                       ("cco_capability", "homeplug_av.nw_info.cco_cap", "int"),
                       ("nid", "homeplug_av.nw_info.nid", "hex"),
                       ("new_eks", "homeplug_av.nw_info.peks", "int"),
                       ("new_key", "homeplug_av.cm_set_key_req.nw_key", "hex")],
    "CM_SET_KEY.CNF": [("result", "homeplug_av.cm_set_key_cnf.result", "int"),
                       ("my_nonce", "homeplug_av.nw_info.my_nonce", "le32"),
                       ("your_nonce", "homeplug_av.nw_info.your_nonce", "le32"),
                       ("pid", "homeplug_av.nw_info.pid", "int"),
                       ("prn", "homeplug_av.nw_info.prn", "int"),
                       ("pmn", "homeplug_av.nw_info.pmn", "int"),
                       ("cco_capability", "homeplug_av.nw_info.cco_cap", "int")],
    "VS_SW_VER.REQ": [("oui", "homeplug_av.vendor.oui", "hexint")],
    "VS_SW_VER.CNF": [("oui", "homeplug_av.vendor.oui", "hexint"),
                      ("status", "homeplug_av.get_sw_cnf.status", "int"),
                      ("device_id", "homeplug_av.get_sw_cnf.dev_id", "int"),
                      ("version_length", "homeplug_av.get_sw_cnf.ver_len", "int"),
                      ("upgradeable", "homeplug_av.get_sw_cnf.upg", "int")],
    "VS_RS_DEV.REQ": [("oui", "homeplug_av.vendor.oui", "hexint")],
    "VS_RS_DEV.CNF": [("oui", "homeplug_av.vendor.oui", "hexint"),
                      ("status", "homeplug_av.rs_dev_cnf.status", "int")],
    "VS_LINK_STATUS.REQ": [("oui", "homeplug_av.vendor.oui", "hexint")],
    "VS_LINK_STATUS.CNF": [("oui", "homeplug_av.vendor.oui", "hexint")],
    "CM_AMP_MAP.REQ": [],
    "CM_AMP_MAP.CNF": [],
}
# Wireshark's names for the Qualcomm vendor messages
TSHARK_NAMES = {"VS_SW_VER": "GET_SW", "VS_RS_DEV": "RS_DEV", "VS_LINK_STATUS": "LINK_STATUS"}


def dissect(path: Path) -> list[dict[str, list[ET.Element]]]:
    """tshark's PDML, as one {field name: [elements]} per packet."""
    assert TSHARK is not None
    out = subprocess.run([TSHARK, "-r", str(path), "-T", "pdml"], check=True, capture_output=True, text=True)
    packets = []
    for packet in ET.fromstring(out.stdout).iter("packet"):
        fields: dict[str, list[ET.Element]] = {}
        for field in packet.iter("field"):
            fields.setdefault(field.get("name", ""), []).append(field)
        for proto in packet.iter("proto"):
            fields.setdefault("proto:" + proto.get("name", ""), []).append(proto)
        packets.append(fields)
    return packets


def _show(fields: dict[str, list[ET.Element]], name: str) -> list[str]:
    return [f.get("show", "") for f in fields.get(name, [])]


def check_packet(fields: dict[str, list[ET.Element]], message: m.Message) -> None:
    assert "proto:homeplug-av" in fields, "not dissected as HomePlug AV"
    assert "proto:_ws.malformed" not in fields, f"{message.NAME}: tshark reports a malformed packet"
    mmtype_field = fields.get("homeplug_av.mmhdr.mmtype") or fields["homeplug_av.mmhdr.mmtype.qualcomm"]
    assert int(mmtype_field[0].get("show", ""), 16) == message.MMTYPE
    base, _, mode = message.NAME.partition(".")
    assert f"{TSHARK_NAMES.get(base, base)}.{mode}" in mmtype_field[0].get("showname", "")
    mmver = fields["homeplug_av.mmhdr.mmver"][0]
    assert int(mmver.get("unmaskedvalue") or mmver.get("value", ""), 16) == message.MMV
    for ours, theirs, how in FIELDS[message.NAME]:
        want = getattr(message, ours)
        shown = _show(fields, theirs)
        assert shown, f"{message.NAME}: tshark shows no {theirs}"
        if how == "int":
            assert int(shown[0], 0) == want, (message.NAME, ours, shown[0], want)
        elif how == "hex":
            assert shown[0].replace(":", "") == want.hex(), (message.NAME, ours, shown[0], want.hex())
        elif how == "hexint":
            assert int(shown[0], 16) == int.from_bytes(want, "big"), (message.NAME, ours)
        elif how == "le32":
            assert int(shown[0], 16) == int.from_bytes(want, "little"), (message.NAME, ours)
        elif how == "list":
            assert [int(v) for v in shown] == list(want), (message.NAME, ours)
    if isinstance(message, m.VsSwVerCnf):
        assert _show(fields, "homeplug_av.get_sw_cnf.ver_str")[0] == message.version_text


def test_every_message_type_is_dissected_with_our_values(tmp_path: Path) -> None:
    path = tmp_path / "all.pcap"
    write_pcap(path, [(1_700_000_000 + i * 0.01, m.encode_frame(DST, SRC, msg)) for i, (msg, _) in enumerate(CASES)])
    packets = dissect(path)
    assert len(packets) == len(CASES)
    for fields, (message, _) in zip(packets, CASES, strict=True):
        assert _show(fields, "eth.type") == ["0x88e1"]
        check_packet(fields, message)


def test_a_whole_emulated_session_is_dissected_as_sent(tmp_path: Path) -> None:
    emu, evse, pev = pair(
        evse_config=EvseConfig(validation=True, evse_id=b"DE*EVC*E000000001"),
        pev_config=PevConfig(validate=True, validate_toggles=1, pev_id=b"WVWZZZ1JZXW000042"),
        jitter=4,
    )
    start_both(emu, evse, pev)

    machine = evse.machine
    assert isinstance(machine, EvseSlac)

    def react() -> bool:
        if any(s.state is SessionState.VALIDATING for s in machine.sessions.values()):
            machine.send(ReportToggles(count=1), emu.now)
        return bool(matched(evse) and matched(pev))

    emu.run(until=30, stop=react)
    e = matched(evse)
    assert e is not None
    frames = [(1_700_000_000 + t, data) for t, name, data in emu.host_capture if name == "evse"]
    path = tmp_path / "session.pcap"
    write_pcap(path, frames)
    packets = dissect(path)
    assert len(packets) == len(frames)
    names = []
    for fields, (_t, data) in zip(packets, frames, strict=True):
        message = m.decode_frame(data).message
        check_packet(fields, message)
        names.append(message.NAME)
    for expected in ("CM_SET_KEY.REQ", "CM_SET_KEY.CNF", "CM_SLAC_PARM.REQ", "CM_SLAC_PARM.CNF",
                     "CM_START_ATTEN_CHAR.IND", "CM_MNBC_SOUND.IND", "CM_ATTEN_PROFILE.IND", "CM_ATTEN_CHAR.IND",
                     "CM_ATTEN_CHAR.RSP", "CM_VALIDATE.REQ", "CM_VALIDATE.CNF", "CM_SLAC_MATCH.REQ",
                     "CM_SLAC_MATCH.CNF"):
        assert expected in names, expected
    # the key tshark reads from CM_SLAC_MATCH.CNF is the key both sides reported
    cnf = next(f for f, n in zip(packets, names, strict=True) if n == "CM_SLAC_MATCH.CNF")
    assert _show(cnf, GP + "cm_slac_match.nmk")[0].replace(":", "") == e.nmk.hex()
    assert _show(cnf, GP + "cm_slac_match.nid")[0].replace(":", "") == e.nid.hex()
    # Wireshark's own average of our CM_ATTEN_CHAR.IND equals the attenuation we reported
    ind = next(f for f, n in zip(packets, names, strict=True) if n == "CM_ATTEN_CHAR.IND")
    aag = [int(v) for v in _show(ind, GP + "cm_atten_char.aag")]
    assert sum(aag) / len(aag) == pytest.approx(e.attenuation_db)
