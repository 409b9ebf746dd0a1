"""The asyncio driver with real file descriptors and real time (a Unix socket pair), and the modem emulator."""

from __future__ import annotations

import asyncio
import random

from evcharge.slac.config import EvseConfig, PevConfig
from evcharge.slac.emulator import ModemConfig, ModemEmulator
from evcharge.slac.events import Matched, SlacFailed
from evcharge.slac.evse import EvseSlac
from evcharge.slac.messages import (
    QCA_LOCAL_MAC,
    CmAttenProfileInd,
    CmMnbcSoundInd,
    CmSetKeyCnf,
    CmSetKeyReq,
    CmSlacParmReq,
    VsLinkStatusCnf,
    VsLinkStatusReq,
    VsRsDevCnf,
    VsRsDevReq,
    VsSwVerCnf,
    VsSwVerReq,
    decode_frame,
    encode_frame,
)
from evcharge.slac.pev import PevSlac
from evcharge.slac.transport.asyncio import SlacDriver
from evcharge.slac.transport.socketpair import socketpair_links
from tests.slac.helpers import EVSE_MAC, PEV_MAC


def test_match_through_the_asyncio_driver_in_real_time() -> None:
    a, b = socketpair_links(EVSE_MAC, PEV_MAC)
    rng = random.Random(7)
    evse = SlacDriver(
        EvseSlac(EvseConfig(), mac=a.mac, rng=rng), a,
        modem=ModemEmulator(ModemConfig(mac=b"\x00\xb0\x52\x00\x00\x0a"), host_mac=a.mac), attenuation_db=12,
    )
    pev = SlacDriver(
        PevSlac(PevConfig(), mac=b.mac, rng=rng), b,
        modem=ModemEmulator(ModemConfig(mac=b"\x00\xb0\x52\x00\x00\x0b"), host_mac=b.mac),
    )

    async def both() -> list[object]:
        return list(await asyncio.gather(evse.run(timeout=10, linger=0.2), pev.run(timeout=10)))

    try:
        e, p = asyncio.run(both())
    finally:
        a.close()
        b.close()
    assert isinstance(e, Matched) and isinstance(p, Matched)
    assert e.nmk == p.nmk and p.peer_mac == EVSE_MAC and e.peer_mac == PEV_MAC
    assert p.attenuation_db == 12.0
    # the PEV decides as soon as the one charger that answered has reported: after its 13 sounding frames
    # (12 x TP_EV_batch_msg_interval = 0.24 s), well before TT_EV_atten_results (1.2 s) runs out
    assert 0.24 <= p.elapsed < 1.2
    # PARM.REQ, 3 START, 10 sounds, RSP, MATCH.REQ / PARM.CNF, ATTEN_CHAR.IND, MATCH.CNF (+ repetitions under load)
    assert pev.frames_out >= 16 and evse.frames_out >= 3


def test_driver_reports_failure_and_timeout() -> None:
    a, b = socketpair_links(EVSE_MAC, PEV_MAC)
    pev = SlacDriver(PevSlac(PevConfig(parm_cnf_window=0.05, matching_attempts=1), mac=b.mac, rng=random.Random(1)), b,
                     modem=ModemEmulator(ModemConfig(), host_mac=b.mac))
    evse = SlacDriver(EvseSlac(EvseConfig(), mac=a.mac, rng=random.Random(2)), a,
                      modem=ModemEmulator(ModemConfig(), host_mac=a.mac))
    try:
        failed = asyncio.run(pev.run(timeout=5))  # nobody answers
        timed_out = asyncio.run(evse.run(timeout=0.2))  # nobody asks, TT_EVSE_SLAC_init is 40 s
    finally:
        a.close()
        b.close()
    assert failed == SlacFailed(
        reason="no charger answered CM_SLAC_PARM.REQ (gave up after 1 attempts: C_conn_max_match)")
    assert timed_out is None


# ------------------------------------------------------------------ the modem emulator on its own
HOST = bytes.fromhex("02000000aa01")


def test_modem_answers_set_key_and_remembers_the_key() -> None:
    modem = ModemEmulator(ModemConfig(mac=b"\x00\xb0\x52\x11\x22\x33", set_key_result=1), host_mac=HOST)
    req = CmSetKeyReq(my_nonce=b"\xaa" * 4, nid=b"\x01" * 7, new_key=b"\x02" * 16)
    to_line, to_host = modem.host_to_line(encode_frame(QCA_LOCAL_MAC, HOST, req))
    assert to_line == []
    (answer,) = to_host
    frame = decode_frame(answer)
    assert frame.dst == HOST and frame.src == b"\x00\xb0\x52\x11\x22\x33"
    assert isinstance(frame.message, CmSetKeyCnf)
    assert frame.message.result == 1 and frame.message.your_nonce == b"\xaa" * 4
    assert modem.nmk == b"\x02" * 16 and modem.nid == b"\x01" * 7


def test_modem_answers_the_vendor_requests() -> None:
    modem = ModemEmulator(ModemConfig(firmware="QCA7000-emu-2.0"), host_mac=HOST)
    answers = {}
    for req in (VsSwVerReq(), VsLinkStatusReq(), VsRsDevReq()):
        _line, (answer,) = modem.host_to_line(encode_frame(QCA_LOCAL_MAC, HOST, req))
        answers[type(req)] = decode_frame(answer).message
    sw = answers[VsSwVerReq]
    assert isinstance(sw, VsSwVerCnf) and sw.version_text == "QCA7000-emu-2.0"
    link = answers[VsLinkStatusReq]
    assert isinstance(link, VsLinkStatusCnf) and link.link_status == 0  # no key yet: not linked
    assert isinstance(answers[VsRsDevReq], VsRsDevCnf) and modem.resets == 1


def test_modem_turns_a_sound_into_a_profile_and_bridges_the_rest() -> None:
    modem = ModemEmulator(ModemConfig(), host_mac=HOST)
    sound = encode_frame(b"\xff" * 6, PEV_MAC, CmMnbcSoundInd(count=3))
    out = modem.line_to_host(sound, (25,) * 58)
    assert out[0] == sound
    profile = decode_frame(out[1])
    assert profile.dst == HOST and isinstance(profile.message, CmAttenProfileInd)
    assert profile.message.pev_mac == PEV_MAC and profile.message.aag == (25,) * 58
    parm = encode_frame(b"\xff" * 6, HOST, CmSlacParmReq())
    assert modem.host_to_line(parm) == ([parm], [])
    assert modem.line_to_host(b"garbage", (1,)) == [b"garbage"]
