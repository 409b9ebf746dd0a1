"""Restart and retry per ISO 15118-3 [V2G3-A09-124] / [V2G3-A09-125], and the loss matrix sample.

When every frame of one message type is lost in the first attempt, that attempt fails, the PEV waits
TT_matching_rate (0.4 s) and starts again with a new RunID; the charger takes the new run (and, when
it had already sent CM_SLAC_MATCH.CNF, matches the restarting PEV again with the same key).
Values: TT_matching_rate min 400 ms, TT_matching_repetition min 10 s, C_conn_max_match min 3
(ISO 15118-3 Table A.1, as quoted by pyslac ``enums.py`` and the ISO 15118-3 conformance test suites).
"""

from __future__ import annotations

import pytest

from evcharge.slac.config import EvseConfig, PevConfig
from evcharge.slac.emulator import Impairment
from evcharge.slac.events import FrameIgnored, Matched, MatchingFailed, SlacFailed, StartMatching
from evcharge.slac.messages import BROADCAST_MAC, CmSlacParmReq, MMType, decode_frame, encode_frame
from evcharge.slac.states import EvseState, PevState
from tests.slac.helpers import PEV2_MAC, PEV_MAC, matched, of_type, pair, run_until_both_matched, sent, start_both

M = MMType
TT_MATCHING_RATE = 0.4
TT_MATCH_RESPONSE = 0.2
TT_EV_ATTEN_RESULTS = 1.2


def _first(emu: object, mmtype: int) -> float:
    return sent(emu, mmtype)[0][0]  # type: ignore[arg-type]


# (lost message types, how many of each the first attempt sends, when the first attempt fails)
CASES = {
    "CM_SLAC_PARM.REQ": ((M.CM_SLAC_PARM_REQ,), 3, lambda emu: _first(emu, M.CM_SLAC_PARM_REQ) + 3 * TT_MATCH_RESPONSE),
    "CM_SLAC_PARM.CNF": ((M.CM_SLAC_PARM_CNF,), 3, lambda emu: _first(emu, M.CM_SLAC_PARM_REQ) + 3 * TT_MATCH_RESPONSE),
    "sounding": ((M.CM_START_ATTEN_CHAR_IND, M.CM_MNBC_SOUND_IND), 10,
                 lambda emu: _first(emu, M.CM_START_ATTEN_CHAR_IND) + TT_EV_ATTEN_RESULTS),
    "CM_ATTEN_CHAR.IND": ((M.CM_ATTEN_CHAR_IND,), 3,
                          lambda emu: _first(emu, M.CM_START_ATTEN_CHAR_IND) + TT_EV_ATTEN_RESULTS),
    "CM_SLAC_MATCH.REQ": ((M.CM_SLAC_MATCH_REQ,), 3,
                          lambda emu: _first(emu, M.CM_SLAC_MATCH_REQ) + 3 * TT_MATCH_RESPONSE),
    "CM_SLAC_MATCH.CNF": ((M.CM_SLAC_MATCH_CNF,), 3,
                          lambda emu: _first(emu, M.CM_SLAC_MATCH_REQ) + 3 * TT_MATCH_RESPONSE),
}


@pytest.mark.parametrize("lost", list(CASES))
def test_pev_restarts_after_tt_matching_rate_when_every_frame_of_a_type_is_lost(lost: str) -> None:
    types, count, failure_time = CASES[lost]
    rules = [Impairment(mmtype=t, drop=frozenset(range(1, count + 1))) for t in types]
    emu, evse, pev = pair(impairments=rules)
    start_both(emu, evse, pev)
    run_until_both_matched(emu, evse, pev)
    emu.run(until=emu.now + 2.0)  # anything still in flight
    p, e = matched(pev), of_type(evse.events, Matched)
    assert p is not None and e, (pev.events, evse.events)
    # the charger's last match is the one the car joined
    assert (e[-1].nmk, e[-1].run_id) == (p.nmk, p.run_id)  # type: ignore[attr-defined]
    assert pev.modem.nmk == evse.modem.nmk == p.nmk
    reqs = sent(emu, M.CM_SLAC_PARM_REQ, by="pev")
    runs = list(dict.fromkeys(m.run_id for _t, m in reqs))  # type: ignore[attr-defined]
    assert len(runs) == 2 and p.run_id == runs[1]  # exactly one restart, with a new RunID
    assert of_type(pev.events, MatchingFailed) and not of_type(pev.events, SlacFailed)
    restart = next(t for t, m in reqs if m.run_id == runs[1])  # type: ignore[attr-defined]
    assert restart == pytest.approx(failure_time(emu) + TT_MATCHING_RATE)  # [V2G3-A09-124]
    assert pev.machine.state is PevState.MATCHED


def test_every_lost_atten_char_rsp_needs_no_restart() -> None:
    # the charger takes CM_SLAC_MATCH.REQ as proof that its CM_ATTEN_CHAR.IND arrived
    emu, evse, pev = pair(impairments=[Impairment(mmtype=M.CM_ATTEN_CHAR_RSP, drop=frozenset(range(1, 20)))])
    start_both(emu, evse, pev)
    run_until_both_matched(emu, evse, pev)
    assert len({m.run_id for _t, m in sent(emu, M.CM_SLAC_PARM_REQ)}) == 1  # type: ignore[attr-defined]


def test_restarts_stop_when_tt_matching_repetition_is_over() -> None:
    # no charger answers; C_conn_max_match is set high so that TT_matching_repetition is what stops it
    emu, _evse, pev = pair(pev_config=PevConfig(matching_attempts=50))
    pev.machine.send(StartMatching(), 0.0)  # type: ignore[attr-defined]
    emu.run(until=60.0)
    starts = sorted({t for t, m in sent(emu, M.CM_SLAC_PARM_REQ)
                     if t == min(u for u, n in sent(emu, M.CM_SLAC_PARM_REQ) if n.run_id == m.run_id)})  # type: ignore[attr-defined]
    # each attempt: 3 requests 0.2 s apart, fails 0.2 s after the last, next one 0.4 s later -> one per second
    assert starts == pytest.approx([float(i) for i in range(len(starts))])
    assert starts[-1] <= 10.0 < starts[-1] + 1.0
    assert pev.machine.state is PevState.FAILED
    failed = of_type(pev.events, SlacFailed)
    assert len(failed) == 1 and "TT_matching_repetition" in failed[0].reason  # type: ignore[attr-defined]


def test_stop_matching_cancels_a_pending_restart() -> None:
    emu, _evse, pev = pair()
    pev.machine.send(StartMatching(), 0.0)  # type: ignore[attr-defined]
    emu.run(until=0.7)
    assert pev.machine.state is PevState.WAIT_RESTART
    from evcharge.slac.events import StopMatching

    pev.machine.send(StopMatching(), emu.now)  # type: ignore[attr-defined]
    assert pev.machine.state is PevState.IDLE and pev.machine.get_timer() is None  # type: ignore[attr-defined]


def _parm_req(src: bytes, run_id: bytes) -> bytes:
    return encode_frame(BROADCAST_MAC, src, CmSlacParmReq(run_id=run_id))


def _matched_evse(rematch_window: float = 10.0) -> tuple[object, object, object]:
    # every CM_SLAC_MATCH.CNF is lost and the PEV never restarts: the charger stays matched
    rules = [Impairment(mmtype=M.CM_SLAC_MATCH_CNF, drop=frozenset(range(1, 4)))]
    emu, evse, pev = pair(impairments=rules, pev_config=PevConfig(matching_attempts=1),
                          evse_config=EvseConfig(rematch_window=rematch_window))
    start_both(emu, evse, pev)
    emu.run(until=emu.now + 5.0)
    assert evse.machine.state is EvseState.MATCHED and pev.machine.state is PevState.FAILED  # type: ignore[attr-defined]
    return emu, evse, pev


def test_matched_charger_does_not_answer_another_pev() -> None:
    emu, evse, _pev = _matched_evse()
    machine = evse.machine  # type: ignore[attr-defined]
    machine.receive_data(_parm_req(PEV2_MAC, b"\x07" * 8), emu.now)  # type: ignore[attr-defined]
    assert machine.data_to_send() == [] and machine.state is EvseState.MATCHED
    ignored = of_type(list(iter(machine.next_event, None)), FrameIgnored)
    assert ignored and "another PEV" in ignored[-1].reason  # type: ignore[attr-defined]


def test_matched_charger_rematches_the_same_pev_only_within_the_window() -> None:
    emu, evse, _pev = _matched_evse(rematch_window=3.0)
    machine = evse.machine  # type: ignore[attr-defined]
    machine.receive_data(_parm_req(PEV_MAC, b"\x07" * 8), emu.now + 3.5)  # type: ignore[attr-defined]
    assert machine.data_to_send() == [] and machine.state is EvseState.MATCHED

    emu, evse, _pev = _matched_evse(rematch_window=3.0)
    machine = evse.machine  # type: ignore[attr-defined]
    nmk = machine.nmk
    machine.receive_data(_parm_req(PEV_MAC, b"\x07" * 8), emu.now + 0.5)  # type: ignore[attr-defined]
    out = [decode_frame(f) for f in machine.data_to_send()]
    assert [f.message.NAME for f in out] == ["CM_SLAC_PARM.CNF"]
    assert out[0].dst == PEV_MAC and out[0].message.run_id == b"\x07" * 8  # type: ignore[attr-defined]
    assert machine.state is EvseState.MATCHING and machine.nmk == nmk  # the modem keeps its key


# ------------------------------------------------------------------ the loss matrix, a sample
# (benchmarks/slac_match.py runs 1,000 seeds per level; the issue asks >= 99 % at 20 %, >= 95 % at 30 %)
@pytest.mark.parametrize(("loss", "runs", "least"), [(0.2, 40, 40), (0.3, 40, 38)])
def test_loss_of_every_frame_type_sample(loss: float, runs: int, least: int) -> None:
    ok = 0
    for seed in range(runs):
        emu, evse, pev = pair(seed=1000 + seed, impairments=[Impairment(drop_probability=loss)], jitter=5)
        start_both(emu, evse, pev)
        emu.run(until=emu.now + 30.0, stop=lambda: matched(pev) is not None)  # noqa: B023
        emu.run(until=emu.now + 1.0)
        p, e = matched(pev), of_type(evse.events, Matched)
        if p is not None:
            assert e and e[-1].nmk == p.nmk == pev.modem.nmk == evse.modem.nmk  # type: ignore[attr-defined]
            ok += 1
    assert ok >= least, f"{ok}/{runs} matched at {loss:.0%} loss"


def test_first_match_time_on_a_clean_link_is_the_sounding_plus_round_trips() -> None:
    emu, evse, pev = pair()
    start_both(emu, evse, pev)
    run_until_both_matched(emu, evse, pev)
    p = matched(pev)
    assert p is not None
    # 13 sounding frames 20 ms apart (0.24 s) plus a few 2 ms hops; TT_EV_atten_results is not waited out
    assert 0.24 < p.elapsed < 0.3
    assert len(sent(emu, M.CM_SLAC_PARM_REQ)) == 1
