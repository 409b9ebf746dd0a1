"""Every kind of bad frame, in every state of both machines: ignored (reported), never a crash, never an answer."""

from __future__ import annotations

import copy
import struct
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evcharge.slac._core import MachineBase
from evcharge.slac.config import PevConfig
from evcharge.slac.errors import LocalProtocolError
from evcharge.slac.events import FrameIgnored, ReportToggles, StartMatching, StopMatching
from evcharge.slac.evse import EvseSlac
from evcharge.slac.messages import (
    CmAttenCharInd,
    CmAttenCharRsp,
    CmMnbcSoundInd,
    CmSlacMatchCnf,
    CmSlacMatchReq,
    CmSlacParmCnf,
    CmStartAttenCharInd,
    Message,
    decode_frame,
    encode_frame,
)
from evcharge.slac.pev import PevSlac
from tests.slac.helpers import EVSE_MAC, PEV_MAC, pair, start_both

FOREIGN_RUN = bytes.fromhex("deadbeefdeadbeef")


def _snapshots() -> list[tuple[str, MachineBase]]:  # type: ignore[type-arg]
    """Copies of both machines at every distinct state of a full match (sessions included)."""
    # waiting TT_EV_atten_results out gives the EVSE session a visible WAIT_MATCH state
    emu, evse, pev = pair(pev_config=PevConfig(atten_results_early=False))
    seen: dict[str, MachineBase] = {}  # type: ignore[type-arg]

    def snap() -> bool:
        for station in (evse, pev):
            machine = station.machine
            key = f"{station.name}:{machine.state.name}"  # type: ignore[attr-defined]
            if isinstance(machine, EvseSlac):
                key += ":" + ",".join(sorted(s.state.name for s in machine.sessions.values()))
            if key not in seen:
                seen[key] = copy.deepcopy(machine)  # type: ignore[arg-type]
        return False

    snap()
    evse.machine.send(StartMatching(), 0.0)  # type: ignore[attr-defined]
    snap()
    emu.run(until=0.5, stop=snap)
    pev.machine.send(StartMatching(), emu.now)  # type: ignore[attr-defined]
    emu.run(until=5.0, stop=snap)
    failed = EvseSlac(evse.machine.config, mac=EVSE_MAC, rng=__import__("random").Random(1))  # type: ignore[attr-defined]
    failed.send(StartMatching(), 0.0)
    failed.handle_timer(100.0)
    seen["evse:FAILED"] = failed
    alone = PevSlac(PevConfig(), mac=PEV_MAC, rng=__import__("random").Random(1))
    alone.send(StartMatching(), 0.0)
    for _ in range(3):  # no charger answers CM_SLAC_PARM.REQ: the attempt fails
        alone.handle_timer(alone.get_timer() or 0.0)
    seen[f"pev:{alone.state.name}"] = alone
    return sorted(seen.items())


SNAPSHOTS = _snapshots()


def test_the_snapshots_cover_every_state() -> None:
    names = {name for name, _ in SNAPSHOTS}
    for expected in ("evse:IDLE:", "evse:WAIT_PARM_REQ:", "evse:MATCHING:WAIT_START_ATTEN", "evse:MATCHING:SOUNDING",
                     "evse:MATCHING:WAIT_ATTEN_CHAR_RSP", "evse:MATCHING:WAIT_MATCH", "evse:MATCHED:", "evse:FAILED",
                     "pev:IDLE", "pev:WAIT_PARM_CNF", "pev:SOUNDING", "pev:WAIT_ATTEN_CHAR", "pev:WAIT_MATCH_CNF",
                     "pev:JOINING", "pev:MATCHED", "pev:WAIT_RESTART"):
        assert expected in names, (expected, names)


def _peer_and_run(machine: MachineBase) -> tuple[bytes, bytes]:  # type: ignore[type-arg]
    if isinstance(machine, EvseSlac):
        sessions = list(machine.sessions.values())
        run = sessions[0].run_id if sessions else bytes(8)
        return PEV_MAC, run
    assert isinstance(machine, PevSlac)
    return EVSE_MAC, machine.run_id


def _bad_frames(machine: MachineBase) -> Iterator[tuple[str, bytes, str]]:  # type: ignore[type-arg]
    """(kind, frame, a word the FrameIgnored reason must contain)."""
    peer, run = _peer_and_run(machine)
    me = machine.mac
    good_parm = encode_frame(me, peer, CmSlacParmCnf(forwarding_sta=me, run_id=run))
    yield "empty", b"", "ethernet"
    yield "short", good_parm[:10], "ethernet"
    yield "header cut", good_parm[:16], "mmtype"
    yield "wrong ethertype", good_parm[:12] + b"\x08\x00" + good_parm[14:], "ethertype"
    yield "wrong mmv", good_parm[:14] + b"\x03" + good_parm[15:], "mmv"
    yield "unknown mmtype", good_parm[:15] + struct.pack("<H", 0x6099) + good_parm[17:], "mmtype"
    match = encode_frame(me, peer, CmSlacMatchReq(pev_mac=PEV_MAC, evse_mac=EVSE_MAC, run_id=run))
    yield "wrong mvf length", match[:21] + b"\x3f\x00" + match[23:], "mvf_length"
    yield "payload cut", match[:60], "evse_id"
    cnf = encode_frame(me, peer, CmSlacMatchCnf(pev_mac=PEV_MAC, evse_mac=EVSE_MAC, run_id=run))
    yield "nmk cut", cnf[: len(cnf) - 4], "nmk"
    aag = encode_frame(me, peer, CmAttenCharInd(source_address=PEV_MAC, run_id=run, aag=(20,) * 58))
    yield "aag cut", aag[: 19 + 52 + 20], "aag"
    foreign: list[Message] = [
        CmSlacParmCnf(forwarding_sta=me, run_id=FOREIGN_RUN),
        CmStartAttenCharInd(forwarding_sta=PEV_MAC, run_id=FOREIGN_RUN),
        CmMnbcSoundInd(run_id=FOREIGN_RUN),
        CmAttenCharInd(source_address=PEV_MAC, run_id=FOREIGN_RUN, aag=(10,) * 58),
        CmAttenCharRsp(source_address=PEV_MAC, run_id=FOREIGN_RUN),
        CmSlacMatchReq(pev_mac=PEV_MAC, evse_mac=EVSE_MAC, run_id=FOREIGN_RUN),
        CmSlacMatchCnf(pev_mac=PEV_MAC, evse_mac=EVSE_MAC, run_id=FOREIGN_RUN, nmk=b"\x01" * 16),
    ]
    for message in foreign:
        yield f"foreign RunID {message.NAME}", encode_frame(me, peer, message), ""
    yield "to another host", encode_frame(b"\x02\x99\x99\x99\x99\x99", peer, CmSlacParmCnf(run_id=run)), "another host"


def _cases() -> Iterator[tuple[str, str, MachineBase, bytes, str]]:  # type: ignore[type-arg]
    for name, machine in SNAPSHOTS:
        for kind, frame, word in _bad_frames(machine):
            yield name, kind, machine, frame, word


CASES = list(_cases())


@pytest.mark.parametrize(("name", "kind", "machine", "frame", "word"), CASES,
                         ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_bad_frame_is_ignored(name: str, kind: str, machine: MachineBase, frame: bytes, word: str) -> None:  # type: ignore[type-arg]
    m = copy.deepcopy(machine)
    m.data_to_send()
    while m.next_event() is not None:
        pass
    before_state = m.state
    before_timer = m.get_timer()
    sessions = {k: copy.copy(v) for k, v in m.sessions.items()} if isinstance(m, EvseSlac) else None
    m.receive_data(frame, 0.5)
    assert m.data_to_send() == [], "a bad frame is never answered"
    assert m.state is before_state
    assert m.get_timer() == before_timer
    if sessions is not None:
        assert isinstance(m, EvseSlac)
        assert {k: v.state for k, v in m.sessions.items()} == {k: v.state for k, v in sessions.items()}
    events = []
    while (event := m.next_event()) is not None:
        events.append(event)
    assert len(events) == 1 and isinstance(events[0], FrameIgnored)
    assert word in events[0].reason


@pytest.mark.fuzz
@settings(max_examples=300)
@given(st.sampled_from(range(len(SNAPSHOTS))), st.binary(max_size=130), st.data())
def test_fuzzed_frames_never_crash(index: int, noise: bytes, data: st.DataObject) -> None:
    _name, machine = SNAPSHOTS[index]
    m = copy.deepcopy(machine)
    peer, run = _peer_and_run(m)
    template = data.draw(
        st.sampled_from([
            encode_frame(m.mac, peer, CmSlacParmCnf(forwarding_sta=m.mac, run_id=run)),
            encode_frame(m.mac, peer, CmAttenCharInd(source_address=PEV_MAC, run_id=run, aag=(20,) * 58)),
            encode_frame(m.mac, peer, CmSlacMatchReq(pev_mac=PEV_MAC, evse_mac=EVSE_MAC, run_id=run)),
            encode_frame(m.mac, peer, CmMnbcSoundInd(run_id=run)),
        ])
    )
    frame = bytearray(template)
    for _ in range(data.draw(st.integers(0, 3))):
        frame[data.draw(st.integers(0, len(frame) - 1))] = data.draw(st.integers(0, 255))
    for candidate in (bytes(frame), noise, bytes(frame[: data.draw(st.integers(0, len(frame)))])):
        m.receive_data(candidate, 0.5)
        for out in m.data_to_send():
            decode_frame(out)  # whatever we answer is a well-formed frame
        while m.next_event() is not None:
            pass
        timer = m.get_timer()
        if timer is not None:
            m.handle_timer(timer)


def test_misuse_raises_local_protocol_error() -> None:
    _emu, evse, pev = pair()
    evse_m, pev_m = evse.machine, pev.machine
    assert isinstance(evse_m, EvseSlac) and isinstance(pev_m, PevSlac)
    evse_m.send(StartMatching(), 0.0)
    with pytest.raises(LocalProtocolError, match="already running"):
        evse_m.send(StartMatching(), 0.1)
    with pytest.raises(LocalProtocolError, match="no validation"):
        evse_m.send(ReportToggles(count=1), 0.1)
    with pytest.raises(LocalProtocolError, match="not a command for the PEV"):
        pev_m.send(ReportToggles(count=1), 0.1)
    with pytest.raises(LocalProtocolError):
        EvseSlac(evse_m.config, mac=b"\x01", rng=__import__("random").Random())


def test_stop_returns_to_idle_and_clears_timers() -> None:
    emu, evse, pev = pair()
    start_both(emu, evse, pev)
    emu.run(until=emu.now + 0.3)
    for station in (evse, pev):
        station.machine.send(StopMatching(), emu.now)  # type: ignore[attr-defined]
        assert station.machine.state.name == "IDLE"  # type: ignore[attr-defined]
        assert station.machine.get_timer() is None
    # and they can start again
    start_both(emu, evse, pev)
    emu.run(until=emu.now + 10, stop=lambda: evse.machine.state.name == "MATCHED")  # type: ignore[attr-defined]
    assert evse.machine.state.name == "MATCHED"  # type: ignore[attr-defined]
