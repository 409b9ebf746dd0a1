"""Our PEV against our EVSE through the in-process powerline emulator (virtual time)."""

from __future__ import annotations

import itertools
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evcharge.slac.config import EvseConfig, PevConfig
from evcharge.slac.emulator import Impairment, ModemConfig, PowerlineEmulator
from evcharge.slac.events import (
    FrameIgnored,
    KeySet,
    Matched,
    MatchingFailed,
    ReportToggles,
    SlacFailed,
    StartMatching,
    ToggleRequested,
    ValidationRequested,
)
from evcharge.slac.evse import EvseSlac
from evcharge.slac.messages import (
    CmAttenCharInd,
    CmMnbcSoundInd,
    CmSlacParmCnf,
    CmStartAttenCharInd,
    MMType,
    nid_from_nmk,
)
from evcharge.slac.pev import PevSlac
from evcharge.slac.states import EvseState, PevState, SessionState
from tests.slac.helpers import (
    EVSE2_MAC,
    EVSE_MAC,
    PEV2_MAC,
    PEV_MAC,
    matched,
    of_type,
    pair,
    run_until_both_matched,
    sent,
    start_both,
)


def test_full_match() -> None:
    emu, evse, pev = pair()
    start_both(emu, evse, pev)
    run_until_both_matched(emu, evse, pev)
    e, p = matched(evse), matched(pev)
    assert e is not None and p is not None
    assert e.nmk == p.nmk and e.nid == p.nid
    assert e.nid == nid_from_nmk(e.nmk)
    assert e.run_id == p.run_id
    assert e.peer_mac == PEV_MAC and p.peer_mac == EVSE_MAC
    assert e.sounds == 10 and p.sounds == 10
    assert p.attenuation_db == pytest.approx(20.0)
    # both modems were given the same key: the EVSE's at start, the PEV's after CM_SLAC_MATCH.CNF
    assert evse.modem.nmk == pev.modem.nmk == e.nmk
    assert evse.modem.nid == pev.modem.nid == e.nid
    assert of_type(evse.events, KeySet) == [KeySet(nid=e.nid, result=0)]
    assert evse.machine.state is EvseState.MATCHED and pev.machine.state is PevState.MATCHED
    # the whole exchange fits in TT_EV_atten_results plus a few responses
    assert p.elapsed < 1.2 + 1.0


def test_the_wire_sequence_follows_iso15118_3() -> None:
    emu, evse, pev = pair()
    start_both(emu, evse, pev)
    run_until_both_matched(emu, evse, pev)
    names = [f.NAME for _, f in [(t, m) for t, m in _messages(emu)]]
    assert names[0] == "CM_SLAC_PARM.REQ" and names[1] == "CM_SLAC_PARM.CNF"
    assert names[2:5] == ["CM_START_ATTEN_CHAR.IND"] * 3
    assert names[5:15] == ["CM_MNBC_SOUND.IND"] * 10
    assert names[15:] == ["CM_ATTEN_CHAR.IND", "CM_ATTEN_CHAR.RSP", "CM_SLAC_MATCH.REQ", "CM_SLAC_MATCH.CNF"]
    cnf = sent(emu, MMType.CM_SLAC_PARM_CNF)[0][1]
    assert isinstance(cnf, CmSlacParmCnf)
    assert (cnf.num_sounds, cnf.time_out, cnf.resp_type, cnf.forwarding_sta) == (10, 6, 1, PEV_MAC)
    sounds = sent(emu, MMType.CM_MNBC_SOUND_IND)
    assert [s.count for _, s in sounds if isinstance(s, CmMnbcSoundInd)] == list(range(9, -1, -1))
    batch = sent(emu, MMType.CM_START_ATTEN_CHAR_IND) + sounds
    gaps = [b[0] - a[0] for a, b in itertools.pairwise(batch)]
    assert all(0.02 - 1e-9 <= g <= 0.05 for g in gaps)  # TP_EV_batch_msg_interval 20-50 ms
    start = sent(emu, MMType.CM_START_ATTEN_CHAR_IND)[0][1]
    assert isinstance(start, CmStartAttenCharInd) and start.forwarding_sta == PEV_MAC


def _messages(emu: PowerlineEmulator) -> list[tuple[float, object]]:
    from evcharge.slac.messages import decode_frame

    return [(t, decode_frame(d).message) for t, _n, d in emu.capture]


def test_every_session_draws_a_fresh_nmk() -> None:
    keys = set()
    for seed in (1, 2):
        emu, evse, pev = pair(seed=seed)
        start_both(emu, evse, pev)
        run_until_both_matched(emu, evse, pev)
        m = matched(evse)
        assert m is not None
        keys.add(m.nmk)
    assert len(keys) == 2


def test_match_with_two_of_ten_soundings_lost() -> None:
    lost = Impairment(mmtype=MMType.CM_MNBC_SOUND_IND, to="evse", drop=frozenset({3, 7}))
    emu, evse, pev = pair(impairments=[lost], jitter=3)
    start_both(emu, evse, pev)
    run_until_both_matched(emu, evse, pev)
    e, p = matched(evse), matched(pev)
    assert e is not None and p is not None
    assert e.sounds == 8
    ind = sent(emu, MMType.CM_ATTEN_CHAR_IND)[0]
    assert isinstance(ind[1], CmAttenCharInd) and ind[1].num_sounds == 8
    assert len(ind[1].aag) == 58
    assert all(17 <= g <= 23 for g in ind[1].aag)  # the average of what arrived, jitter +-3 dB around 20
    # the window closed on time: TT_EVSE_match_MNBC (600 ms) after the first CM_START_ATTEN_CHAR.IND arrived
    first_start = sent(emu, MMType.CM_START_ATTEN_CHAR_IND)[0][0] + emu.latency
    assert ind[0] - first_start == pytest.approx(0.6)


def test_window_closes_early_when_every_profile_arrived() -> None:
    emu, evse, pev = pair()
    start_both(emu, evse, pev)
    run_until_both_matched(emu, evse, pev)
    first_start = sent(emu, MMType.CM_START_ATTEN_CHAR_IND)[0][0]
    ind_time = sent(emu, MMType.CM_ATTEN_CHAR_IND)[0][0]
    last_sound = sent(emu, MMType.CM_MNBC_SOUND_IND)[-1][0]
    assert ind_time - first_start < 0.6
    assert ind_time == pytest.approx(last_sound + emu.latency)


def test_no_sound_at_all_fails_the_attempt_cleanly() -> None:
    lost = Impairment(mmtype=MMType.CM_MNBC_SOUND_IND, to="evse", drop=frozenset(range(1, 100)))
    emu, evse, pev = pair(impairments=[lost], pev_config=PevConfig(matching_attempts=1))
    start_both(emu, evse, pev)
    emu.run(until=20.0)
    assert matched(evse) is None and matched(pev) is None
    assert any("sounding window" in e.reason for e in of_type(evse.events, MatchingFailed))  # type: ignore[attr-defined]
    assert evse.machine.state is EvseState.WAIT_PARM_REQ
    assert pev.machine.state is PevState.FAILED
    assert of_type(pev.events, SlacFailed)


def test_crosstalk_the_car_picks_the_nearer_charger() -> None:
    rng = random.Random(3)
    emu = PowerlineEmulator(rng=rng, attenuation_jitter=2)
    near = emu.attach("near", EvseSlac(EvseConfig(evse_id=b"NEAR".ljust(17, b"\0")), mac=EVSE_MAC, rng=rng))
    far = emu.attach("far", EvseSlac(EvseConfig(evse_id=b"FAR".ljust(17, b"\0")), mac=EVSE2_MAC, rng=rng))
    car = emu.attach("car", PevSlac(PevConfig(), mac=PEV_MAC, rng=rng))
    emu.set_attenuation("car", "near", 18)
    emu.set_attenuation("car", "far", 35)
    emu.set_attenuation("near", "far", 30)
    # the far charger starts first so that its answers reach the car first
    far.machine.send(StartMatching(), 0.0)  # type: ignore[attr-defined]
    near.machine.send(StartMatching(), 0.1)  # type: ignore[attr-defined]
    emu.run(until=0.5)
    car.machine.send(StartMatching(), emu.now)  # type: ignore[attr-defined]
    run_until_both_matched(emu, near, car)
    c = matched(car)
    assert c is not None and c.peer_mac == EVSE_MAC
    assert [mac for mac, _ in c.candidates] == [EVSE_MAC, EVSE2_MAC]
    assert c.candidates[0][1] == pytest.approx(18, abs=2) and c.candidates[1][1] == pytest.approx(35, abs=2)
    assert c.nmk == near.machine.nmk  # type: ignore[attr-defined]
    assert car.modem.nmk == near.modem.nmk != far.modem.nmk
    # the other charger answered, reported, got its RSP, then times out after TT_EVSE_match_session
    assert sent(emu, MMType.CM_ATTEN_CHAR_IND, by="far")
    assert sent(emu, MMType.CM_ATTEN_CHAR_RSP, by="car")
    emu.run(until=emu.now + 11.0)
    assert matched(far) is None
    reasons = [e.reason for e in of_type(far.events, MatchingFailed)]  # type: ignore[attr-defined]
    assert reasons == ["no CM_SLAC_MATCH.REQ within TT_EVSE_match_session (PEV 02:ee:00:00:00:01)"]
    assert far.machine.state is EvseState.WAIT_PARM_REQ
    assert not sent(emu, MMType.CM_SLAC_MATCH_REQ, by="far")
    assert not of_type(far.events, SlacFailed)
    # ... and, with nobody else coming, gives up cleanly after TT_EVSE_SLAC_init
    emu.run(until=emu.now + 41.0)
    assert far.machine.state is EvseState.FAILED
    assert [e.reason for e in of_type(far.events, SlacFailed)] == [  # type: ignore[attr-defined]
        "no CM_SLAC_PARM.REQ within TT_EVSE_SLAC_init"
    ]
    assert far.machine.get_timer() is None  # type: ignore[attr-defined]
    assert near.machine.state is EvseState.MATCHED and car.machine.state is PevState.MATCHED


def test_chargers_above_the_threshold_are_not_chosen() -> None:
    emu, evse, pev = pair(attenuation=55, pev_config=PevConfig(matching_attempts=2))
    start_both(emu, evse, pev)
    emu.run(until=30.0)
    assert matched(pev) is None
    reasons = [e.reason for e in of_type(pev.events, MatchingFailed)]  # type: ignore[attr-defined]
    assert len(reasons) == 2 and all("above the attenuation threshold" in r for r in reasons)
    assert pev.machine.state is PevState.FAILED
    assert not sent(emu, MMType.CM_SLAC_MATCH_REQ)


def test_another_car_on_the_medium_is_ignored() -> None:
    rng = random.Random(4)
    emu = PowerlineEmulator(rng=rng)
    evse1 = emu.attach("evse1", EvseSlac(EvseConfig(), mac=EVSE_MAC, rng=rng))
    evse2 = emu.attach("evse2", EvseSlac(EvseConfig(), mac=EVSE2_MAC, rng=rng))
    car1 = emu.attach("car1", PevSlac(PevConfig(), mac=PEV_MAC, rng=rng))
    car2 = emu.attach("car2", PevSlac(PevConfig(), mac=PEV2_MAC, rng=rng))
    emu.set_attenuation("car1", "evse1", 15)
    emu.set_attenuation("car2", "evse2", 16)
    emu.set_attenuation("car1", "evse2", 38)
    emu.set_attenuation("car2", "evse1", 37)
    for s in (evse1, evse2):
        s.machine.send(StartMatching(), 0.0)  # type: ignore[attr-defined]
    emu.run(until=1.0)
    car1.machine.send(StartMatching(), emu.now)  # type: ignore[attr-defined]
    emu.run(until=1.003)
    assert evse1.machine.state is EvseState.MATCHING and evse2.machine.state is EvseState.MATCHING
    # car 2 arrives while the chargers are busy with car 1
    car2.machine.send(StartMatching(), emu.now)  # type: ignore[attr-defined]
    emu.run(until=60.0, stop=lambda: all(matched(s) for s in (evse1, car1, evse2, car2)))
    m1, m2 = matched(car1), matched(car2)
    assert m1 is not None and m2 is not None
    assert m1.peer_mac == EVSE_MAC and m2.peer_mac == EVSE2_MAC
    assert m1.run_id != m2.run_id and m1.nmk != m2.nmk
    e1, e2 = matched(evse1), matched(evse2)
    assert e1 is not None and e1.peer_mac == PEV_MAC and e1.nmk == m1.nmk
    assert e2 is not None and e2.peer_mac == PEV2_MAC and e2.nmk == m2.nmk
    # each charger heard both cars and sounded for both; each car matched with its own charger
    assert {m for _t, m in sent(emu, MMType.CM_SLAC_PARM_CNF, by="evse1")} >= set()
    assert len(sent(emu, MMType.CM_ATTEN_CHAR_IND, by="evse1")) == 2
    assert len(sent(emu, MMType.CM_ATTEN_CHAR_IND, by="evse2")) == 2
    assert car1.modem.nmk == evse1.modem.nmk and car2.modem.nmk == evse2.modem.nmk


def test_lost_parm_cnf_is_recovered_by_repeating_the_request() -> None:
    lost = Impairment(mmtype=MMType.CM_SLAC_PARM_CNF, drop=frozenset({1}))
    emu, evse, pev = pair(impairments=[lost])
    start_both(emu, evse, pev)
    run_until_both_matched(emu, evse, pev)
    assert len(sent(emu, MMType.CM_SLAC_PARM_REQ)) == 2
    assert len(sent(emu, MMType.CM_SLAC_PARM_CNF)) == 2
    reqs = sent(emu, MMType.CM_SLAC_PARM_REQ)
    assert reqs[1][0] - reqs[0][0] == pytest.approx(0.2)  # TT_match_response
    assert matched(pev) is not None


def test_atten_char_ind_is_repeated_when_it_is_lost() -> None:
    lost = Impairment(mmtype=MMType.CM_ATTEN_CHAR_IND, drop=frozenset({1}))
    emu, evse, pev = pair(impairments=[lost])
    start_both(emu, evse, pev)
    run_until_both_matched(emu, evse, pev)
    inds = sent(emu, MMType.CM_ATTEN_CHAR_IND)
    assert len(inds) == 2 and inds[0][1] == inds[1][1]
    assert inds[1][0] - inds[0][0] == pytest.approx(0.2)  # TT_match_response
    assert len(sent(emu, MMType.CM_SLAC_PARM_REQ)) == 1  # no restart was needed


def test_atten_char_ind_is_repeated_when_the_rsp_is_lost() -> None:
    # a PEV that waits TT_EV_atten_results out sends CM_SLAC_MATCH.REQ late: the EVSE repeats its IND meanwhile
    lost = Impairment(mmtype=MMType.CM_ATTEN_CHAR_RSP, drop=frozenset({1}))
    emu, evse, pev = pair(impairments=[lost], pev_config=PevConfig(atten_results_early=False))
    start_both(emu, evse, pev)
    run_until_both_matched(emu, evse, pev)
    inds = sent(emu, MMType.CM_ATTEN_CHAR_IND)
    assert len(inds) == 2 and inds[0][1] == inds[1][1]
    assert inds[1][0] - inds[0][0] == pytest.approx(0.2)
    assert len(sent(emu, MMType.CM_ATTEN_CHAR_RSP)) == 2  # the PEV answered the repetition too
    assert matched(evse) is not None and matched(pev) is not None


def test_evse_accepts_the_match_request_when_every_rsp_was_lost() -> None:
    lost = Impairment(mmtype=MMType.CM_ATTEN_CHAR_RSP, drop=frozenset(range(1, 10)))
    emu, evse, pev = pair(impairments=[lost], pev_config=PevConfig(atten_results_early=False))
    start_both(emu, evse, pev)
    run_until_both_matched(emu, evse, pev)
    assert len(sent(emu, MMType.CM_ATTEN_CHAR_IND)) == 3  # the first + C_EV_match_retry (2) repetitions
    assert matched(evse) is not None and matched(pev) is not None
    assert len(sent(emu, MMType.CM_SLAC_PARM_REQ)) == 1


def test_lost_match_cnf_is_answered_again_once_matched() -> None:
    lost = Impairment(mmtype=MMType.CM_SLAC_MATCH_CNF, drop=frozenset({1}))
    emu, evse, pev = pair(impairments=[lost])
    start_both(emu, evse, pev)
    run_until_both_matched(emu, evse, pev)
    assert len(sent(emu, MMType.CM_SLAC_MATCH_REQ)) == 2
    assert len(sent(emu, MMType.CM_SLAC_MATCH_CNF)) == 2
    assert len(of_type(evse.events, Matched)) == 1


def test_duplicated_and_delayed_frames_still_match_once() -> None:
    rules = [Impairment(duplicate=True), Impairment(mmtype=MMType.CM_ATTEN_CHAR_IND, delay=0.15)]
    emu, evse, pev = pair(impairments=rules)
    start_both(emu, evse, pev)
    run_until_both_matched(emu, evse, pev)
    emu.run(until=emu.now + 15)
    assert len(of_type(evse.events, Matched)) == 1 and len(of_type(pev.events, Matched)) == 1
    e = matched(evse)
    assert e is not None and e.sounds == 10  # duplicates are not counted twice


def test_a_car_that_starts_30_seconds_late_still_matches() -> None:
    emu, evse, pev = pair()
    start_both(emu, evse, pev, pev_delay=30.0)
    run_until_both_matched(emu, evse, pev)
    assert matched(evse) is not None and matched(pev) is not None


def test_evse_gives_up_after_tt_evse_slac_init() -> None:
    emu, evse, _pev = pair(evse_config=EvseConfig(slac_init_timeout=20.0))
    evse.machine.send(StartMatching(), 0.0)  # type: ignore[attr-defined]
    emu.run(until=100.0)
    assert evse.machine.state is EvseState.FAILED
    failed = of_type(evse.events, SlacFailed)
    assert failed == [SlacFailed(reason="no CM_SLAC_PARM.REQ within TT_EVSE_SLAC_init")]
    assert emu.now == pytest.approx(20.0)


def test_pev_gives_up_when_no_charger_answers() -> None:
    emu, _evse, pev = pair()
    pev.machine.send(StartMatching(), 0.0)  # type: ignore[attr-defined]
    emu.run(until=20.0)
    assert pev.machine.state is PevState.FAILED
    reqs = sent(emu, MMType.CM_SLAC_PARM_REQ)
    # C_conn_max_match (3) attempts, each: the first request + C_EV_match_retry (2) repetitions
    assert len(reqs) == 9 and len({m.run_id for _t, m in reqs}) == 3  # type: ignore[attr-defined]
    times = [t for t, _m in reqs]
    # TT_match_response (0.2 s) between repetitions; an attempt ends 0.2 s after its last request and the next
    # starts TT_matching_rate (0.4 s) later
    assert [round(b - a, 6) for a, b in itertools.pairwise(times)] == [0.2, 0.2, 0.6, 0.2, 0.2, 0.6, 0.2, 0.2]
    assert len(of_type(pev.events, MatchingFailed)) == 3
    assert of_type(pev.events, SlacFailed) == [
        SlacFailed(reason="no charger answered CM_SLAC_PARM.REQ (gave up after 3 attempts: C_conn_max_match)")]


# ------------------------------------------------------------------ modem quirks
def test_set_key_result_one_is_accepted_by_default() -> None:
    emu, evse, pev = pair()
    evse.modem.config = ModemConfig(mac=evse.modem.config.mac, set_key_result=1)
    pev.modem.config = ModemConfig(mac=pev.modem.config.mac, set_key_result=1)
    start_both(emu, evse, pev)
    run_until_both_matched(emu, evse, pev)
    assert of_type(evse.events, KeySet)[0].result == 1  # type: ignore[attr-defined]


def test_strict_set_key_results_reject_the_quirk() -> None:
    emu, evse, _pev = pair(evse_config=EvseConfig(set_key_accepted_results=frozenset({0})))
    evse.modem.config = ModemConfig(mac=evse.modem.config.mac, set_key_result=1)
    evse.machine.send(StartMatching(), 0.0)  # type: ignore[attr-defined]
    emu.run(until=10.0)
    assert evse.machine.state is EvseState.FAILED
    assert of_type(evse.events, SlacFailed) == [SlacFailed(reason="the modem did not confirm CM_SET_KEY.REQ")]
    ignored = of_type(evse.events, FrameIgnored)
    assert len(ignored) == 3 and "result 0x01" in ignored[0].reason  # type: ignore[attr-defined]


def test_silent_modem_gets_the_request_repeated_then_fails() -> None:
    emu, evse, _pev = pair(evse_config=EvseConfig(set_key_retries=2, set_key_timeout=0.5))
    evse.modem.config = ModemConfig(mac=evse.modem.config.mac, answer_set_key=False)
    evse.machine.send(StartMatching(), 0.0)  # type: ignore[attr-defined]
    emu.run(until=5.0)
    assert of_type(evse.events, SlacFailed) == [SlacFailed(reason="the modem did not confirm CM_SET_KEY.REQ")]
    assert emu.now == pytest.approx(1.5)


@pytest.mark.parametrize("nonce", [bytes(4), b"\xaa" * 4])
def test_set_key_my_nonce_is_configurable(nonce: bytes) -> None:
    from evcharge.slac.messages import CmSetKeyReq, decode_frame

    evse = EvseSlac(EvseConfig(set_key_my_nonce=nonce), mac=EVSE_MAC, rng=random.Random(1))
    evse.send(StartMatching(), 0.0)
    (frame,) = evse.data_to_send()
    decoded = decode_frame(frame)
    assert isinstance(decoded.message, CmSetKeyReq)
    assert decoded.message.my_nonce == nonce
    assert decoded.dst == b"\x00\xb0\x52\x00\x00\x01"
    assert decoded.message.nid == nid_from_nmk(decoded.message.new_key)


# ------------------------------------------------------------------ CM_VALIDATE
def _validating_pair(evse_validation: bool, toggles_seen: int | None) -> tuple[PowerlineEmulator, object, object]:
    emu, evse, pev = pair(
        evse_config=EvseConfig(validation=evse_validation),
        pev_config=PevConfig(validate=True, validate_toggles=2, validate_timer=10),
    )
    start_both(emu, evse, pev)

    machine = evse.machine
    assert isinstance(machine, EvseSlac)

    def react() -> bool:
        validating = any(s.state is SessionState.VALIDATING for s in machine.sessions.values())
        if validating and of_type(evse.events, ValidationRequested) and toggles_seen is not None:
            machine.send(ReportToggles(count=toggles_seen), emu.now)
        return bool(matched(pev)) or pev.machine.state is PevState.FAILED

    emu.run(until=30.0, stop=react)
    return emu, evse, pev


def test_validation_with_the_right_toggle_count_matches() -> None:
    emu, evse, pev = _validating_pair(True, 2)
    assert matched(pev) is not None
    req = sent(emu, MMType.CM_VALIDATE_REQ)
    cnf = sent(emu, MMType.CM_VALIDATE_CNF)
    assert [r.timer for _, r in req] == [0, 10]  # type: ignore[attr-defined]
    assert [(c.toggle_num, c.result) for _, c in cnf] == [(0, 1), (2, 2)]  # type: ignore[attr-defined]
    assert of_type(pev.events, ToggleRequested) == [ToggleRequested(count=2, duration=1.0)]
    assert [e.duration for e in of_type(evse.events, ValidationRequested)] == [1.0]  # type: ignore[attr-defined]


def test_validation_with_the_wrong_toggle_count_is_not_matched() -> None:
    emu, _evse, pev = _validating_pair(True, 0)
    assert matched(pev) is None
    cnf = sent(emu, MMType.CM_VALIDATE_CNF)
    assert cnf[-1][1].result == 3  # type: ignore[attr-defined]  # failure
    assert not sent(emu, MMType.CM_SLAC_MATCH_REQ)
    assert any("validation" in e.reason for e in of_type(pev.events, MatchingFailed))  # type: ignore[attr-defined]


def test_validation_times_out_without_a_report() -> None:
    emu, _evse, pev = _validating_pair(True, None)
    cnf = sent(emu, MMType.CM_VALIDATE_CNF)
    assert cnf[1][1].toggle_num == 0 and cnf[1][1].result == 3  # type: ignore[attr-defined]
    assert matched(pev) is None


def test_evse_without_validation_answers_not_required() -> None:
    emu, _evse, pev = _validating_pair(False, None)
    assert matched(pev) is not None
    cnf = sent(emu, MMType.CM_VALIDATE_CNF)
    assert [c.result for _, c in cnf] == [4]  # type: ignore[attr-defined]
    assert not of_type(pev.events, ToggleRequested)


@pytest.mark.property
@settings(max_examples=40)
@given(st.integers(0, 2**32 - 1), st.floats(0.0, 0.4), st.booleans())
def test_random_loss_never_breaks_the_agreement(seed: int, loss: float, duplicate: bool) -> None:
    rules = [Impairment(drop_probability=loss, duplicate=duplicate)]
    emu, evse, pev = pair(seed=seed, impairments=rules, jitter=5)
    start_both(emu, evse, pev)
    emu.run(until=80.0)
    p, charger_matches = matched(pev), of_type(evse.events, Matched)
    if p is not None:
        # a car that joined a network joined the one its charger handed out last (the charger matches again a
        # car that lost every CM_SLAC_MATCH.CNF and restarted; the key stays the same)
        e = charger_matches[-1]
        assert (e.nmk, e.nid, e.run_id) == (p.nmk, p.nid, p.run_id)  # type: ignore[attr-defined]
        assert pev.modem.nmk == evse.modem.nmk == p.nmk
    else:
        assert pev.machine.state is PevState.FAILED
        assert of_type(pev.events, SlacFailed)
    assert len({e.nmk for e in charger_matches}) <= 1  # type: ignore[attr-defined]
    assert len(of_type(pev.events, Matched)) <= 1
    # nothing is left running forever: every machine is matched, failed, or waiting on a finite timer
    for station in (evse, pev):
        timer = station.machine.get_timer()
        assert timer is None or timer > emu.now


def _parm_req(src: bytes, run_id: bytes) -> bytes:
    from evcharge.slac.messages import BROADCAST_MAC, CmSlacParmReq, encode_frame

    return encode_frame(BROADCAST_MAC, src, CmSlacParmReq(run_id=run_id))


def test_evse_limits_its_sessions() -> None:
    evse = EvseSlac(EvseConfig(max_sessions=2), mac=EVSE_MAC, rng=random.Random(1))
    evse.send(StartMatching(), 0.0)
    evse.data_to_send()
    for i in range(3):
        evse.receive_data(_parm_req(bytes([2, 0, 0, 0, 0, i]), bytes([i]) * 8), 0.1)
    assert len(evse.sessions) == 2
    assert len(evse.data_to_send()) == 2  # two CM_SLAC_PARM.CNF, the third car is not answered
    ignored = of_type(list(iter(evse.next_event, None)), FrameIgnored)
    assert [e.reason for e in ignored] == ["already 2 matching sessions (EvseConfig.max_sessions)"]  # type: ignore[attr-defined]


def test_a_new_run_id_from_the_same_car_replaces_its_session() -> None:
    evse = EvseSlac(EvseConfig(), mac=EVSE_MAC, rng=random.Random(1))
    evse.send(StartMatching(), 0.0)
    evse.receive_data(_parm_req(PEV_MAC, b"\x01" * 8), 0.1)
    evse.receive_data(_parm_req(PEV_MAC, b"\x01" * 8), 0.3)  # repetition: CNF again, same session
    evse.receive_data(_parm_req(PEV_MAC, b"\x02" * 8), 0.5)  # the car restarted
    assert list(evse.sessions) == [PEV_MAC] and evse.sessions[PEV_MAC].run_id == b"\x02" * 8
    from evcharge.slac.messages import decode_frame

    cnfs = [decode_frame(f).message for f in evse.data_to_send()[1:]]
    assert [c.run_id for c in cnfs] == [b"\x01" * 8, b"\x01" * 8, b"\x02" * 8]  # type: ignore[attr-defined]
    assert evse.state is EvseState.MATCHING
