"""The vehicle side of SLAC (ISO 15118-3), as a sans-I/O state machine.

The PEV broadcasts CM_SLAC_PARM.REQ with a fresh RunID (repeated after TT_match_response while no
charger answers).  At the first CM_SLAC_PARM.CNF it sends the START_ATTEN_CHAR and M-sound batch
(timed by ``get_timer()``, not by sleeping); the CNFs of other chargers that hear it (crosstalk) are
still taken.  It answers every CM_ATTEN_CHAR.IND with CM_ATTEN_CHAR.RSP (repeats included), and once
every charger that answered has reported -- at the latest after TT_EV_atten_results -- ranks them by
their average attenuation, dropping those above ``attenuation_threshold_db``.  It validates the best one
with CM_VALIDATE when configured (and moves to the next candidate if validation fails), asks it to
match with CM_SLAC_MATCH.REQ, and finally hands the received NMK/NID to its own modem with
CM_SET_KEY.REQ.  Frames with a foreign RunID or addressed to another vehicle are ignored.

When an attempt fails (no CNF, no CM_ATTEN_CHAR.IND, no CM_SLAC_MATCH.CNF, no CM_SET_KEY.CNF) the PEV
waits TT_matching_rate and starts again with a new RunID ([V2G3-A09-124]), up to C_conn_max_match
attempts that start within TT_matching_repetition of ``StartMatching`` ([V2G3-A09-125]); then it
stays unmatched (``SlacFailed``).
"""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING

from evcharge.slac._core import MachineBase
from evcharge.slac.config import PevConfig
from evcharge.slac.errors import LocalProtocolError
from evcharge.slac.events import (
    Matched,
    MatchingFailed,
    SlacCommand,
    SlacFailed,
    StartMatching,
    StopMatching,
    ToggleRequested,
)
from evcharge.slac.messages import (
    BROADCAST_MAC,
    RUN_ID_LENGTH,
    STATION_ID_LENGTH,
    CmAttenCharInd,
    CmAttenCharRsp,
    CmMnbcSoundInd,
    CmSetKeyCnf,
    CmSetKeyReq,
    CmSlacMatchCnf,
    CmSlacMatchReq,
    CmSlacParmCnf,
    CmSlacParmReq,
    CmStartAttenCharInd,
    CmValidateCnf,
    CmValidateReq,
    Frame,
    Message,
    ValidateResult,
    mac_text,
)
from evcharge.slac.states import PEV_ACCEPTS, PEV_TRANSITIONS, PevState

__all__ = ["Candidate", "PevSlac"]


@dataclass(frozen=True, slots=True)
class Candidate:
    """A charger that sent CM_ATTEN_CHAR.IND in this run."""

    mac: bytes
    evse_id: bytes
    attenuation_db: float
    sounds: int


class PevSlac(MachineBase[PevState]):
    """SLAC on the vehicle.  ``mac`` is the EV host's MAC (not its modem's)."""

    _TRANSITIONS = PEV_TRANSITIONS
    _ACCEPTS = PEV_ACCEPTS

    def __init__(self, config: PevConfig, *, mac: bytes, rng: random.Random) -> None:
        super().__init__(mac=mac, rng=rng, initial=PevState.IDLE)
        self.config = config
        self.run_id = bytes(RUN_ID_LENGTH)
        self._started = 0.0
        self._attempt = 0
        self._reset_run()

    def _reset_run(self) -> None:
        self._parm_cnfs: dict[bytes, CmSlacParmCnf] = {}
        self._parm_tries = 0
        self._results: dict[bytes, Candidate] = {}
        self._batch: deque[Message] = deque()
        self._ranked: list[Candidate] = []
        self.chosen: Candidate | None = None
        self._tries = 0
        self._match_cnf: CmSlacMatchCnf | None = None

    # ------------------------------------------------------------------ application -> machine
    def send(self, command: SlacCommand, now: float) -> None:
        """Give the machine one of the application's commands."""
        if isinstance(command, StartMatching):
            if self._state not in (PevState.IDLE, PevState.FAILED, PevState.MATCHED):
                raise LocalProtocolError(f"StartMatching in state {self._state.name}: SLAC is already running")
            self._started = now
            self._attempt = 0
            self._new_run(now)
        elif isinstance(command, StopMatching):
            self._timers.clear()
            self._reset_run()
            if self._state is not PevState.IDLE:
                self._goto(PevState.IDLE)
        else:
            raise LocalProtocolError(f"{command!r} is not a command for the PEV")

    def _new_run(self, now: float) -> None:
        self._timers.clear()
        self._reset_run()
        self._attempt += 1
        self.run_id = self._rng.randbytes(RUN_ID_LENGTH)
        self._goto(PevState.WAIT_PARM_CNF)
        self._send_parm_req(now)

    def _send_parm_req(self, now: float) -> None:
        self._parm_tries += 1
        self._send(BROADCAST_MAC, CmSlacParmReq(run_id=self.run_id))
        self._set_timer("parm", now + self.config.parm_cnf_window)

    # ------------------------------------------------------------------ frames
    def _on_frame(self, frame: Frame, now: float) -> None:
        msg = frame.message
        run_id = getattr(msg, "run_id", None)
        if run_id is not None and run_id != self.run_id:
            self._ignore(frame, f"{msg.NAME} carries a foreign RunID {run_id.hex()}")
            return
        if isinstance(msg, CmSlacParmCnf):
            if msg.forwarding_sta != self.mac:
                self._ignore(frame, "CM_SLAC_PARM.CNF names another vehicle in FORWARDING_STA")
                return
            self._parm_cnfs[frame.src] = msg
            if self._state is PevState.WAIT_PARM_CNF:
                self._start_sounding(now)  # a charger answered: sound now (later CNFs are still taken)
        elif isinstance(msg, CmAttenCharInd):
            self._on_atten_char_ind(frame, msg, now)
        elif isinstance(msg, CmValidateCnf):
            self._on_validate_cnf(frame, msg, now)
        elif isinstance(msg, CmSlacMatchCnf):
            self._on_match_cnf(frame, msg, now)
        elif isinstance(msg, CmSetKeyCnf):
            self._on_set_key_cnf(frame, msg, now)
        else:  # pragma: no cover - the accept table lists only the types handled above
            self._ignore(frame, f"{msg.NAME} has no handler")

    def _on_atten_char_ind(self, frame: Frame, msg: CmAttenCharInd, now: float) -> None:
        if msg.source_address != self.mac:
            self._ignore(frame, "CM_ATTEN_CHAR.IND reports the sounds of another vehicle")
            return
        if msg.application_type != 0:
            self._ignore(frame, f"CM_ATTEN_CHAR.IND application type {msg.application_type} is not matching")
            return
        if not msg.aag:
            self._ignore(frame, "CM_ATTEN_CHAR.IND carries no attenuation groups")
            return
        if self._state in (PevState.SOUNDING, PevState.WAIT_ATTEN_CHAR):
            average = sum(msg.aag) / len(msg.aag)
            self._results[frame.src] = Candidate(frame.src, msg.resp_id, average, msg.num_sounds)
        self._send(
            frame.src,
            CmAttenCharRsp(
                source_address=self.mac,
                run_id=self.run_id,
                source_id=msg.source_id,
                resp_id=msg.resp_id,
                result=0,
            ),
        )
        if self._state is PevState.WAIT_ATTEN_CHAR and self._all_reported():
            self._cancel("atten_results")
            self._choose(now)

    def _all_reported(self) -> bool:
        """Every charger that answered CM_SLAC_PARM.REQ has sent its CM_ATTEN_CHAR.IND (and early exit is on)."""
        results = self._results
        return self.config.atten_results_early and bool(results) and self._parm_cnfs.keys() <= results.keys()

    def _on_validate_cnf(self, frame: Frame, msg: CmValidateCnf, now: float) -> None:
        if self.chosen is None or frame.src != self.chosen.mac:
            self._ignore(frame, "CM_VALIDATE.CNF from a charger we did not ask")
            return
        self._cancel("response")
        if self._state is PevState.VALIDATE_READY:
            if msg.result == ValidateResult.NOT_REQUIRED:
                self._send_match_req(now, first=True)
            elif msg.result == ValidateResult.READY:
                duration = self.config.validate_timer * 0.1
                self._send(self.chosen.mac, CmValidateReq(timer=self.config.validate_timer, result=1))
                self._goto(PevState.VALIDATE_TOGGLE)
                self._events.append(ToggleRequested(count=self.config.validate_toggles, duration=duration))
                self._set_timer("response", now + duration + 2 * self.config.match_response_timeout)
            else:
                self._next_candidate(now, f"validation refused by {mac_text(frame.src)} (result {msg.result})")
        else:  # VALIDATE_TOGGLE
            if msg.result == ValidateResult.SUCCESS and msg.toggle_num == self.config.validate_toggles:
                self._send_match_req(now, first=True)
            else:
                self._next_candidate(
                    now,
                    f"validation with {mac_text(frame.src)} failed: {msg.toggle_num} toggles seen, "
                    f"{self.config.validate_toggles} made (result {msg.result})",
                )

    def _on_match_cnf(self, frame: Frame, msg: CmSlacMatchCnf, now: float) -> None:
        if self.chosen is None or frame.src != self.chosen.mac:
            self._ignore(frame, "CM_SLAC_MATCH.CNF from a charger we did not ask")
            return
        if msg.pev_mac != self.mac:
            self._ignore(frame, "CM_SLAC_MATCH.CNF names another vehicle")
            return
        self._cancel("response")
        self._match_cnf = msg
        self._tries = 0
        self._goto(PevState.JOINING)
        self._send_set_key(now)

    def _send_set_key(self, now: float) -> None:
        assert self._match_cnf is not None
        self._tries += 1
        self._send(
            self.config.modem_mac,
            CmSetKeyReq(my_nonce=self.config.set_key_my_nonce, nid=self._match_cnf.nid, new_key=self._match_cnf.nmk),
        )
        self._set_timer("set_key", now + self.config.set_key_timeout)

    def _on_set_key_cnf(self, frame: Frame, msg: CmSetKeyCnf, now: float) -> None:
        if msg.result not in self.config.set_key_accepted_results:
            self._ignore(frame, f"CM_SET_KEY.CNF result {msg.result:#04x} is not an accepted success code")
            return
        assert self._match_cnf is not None and self.chosen is not None
        self._timers.clear()
        self._goto(PevState.MATCHED)
        self._events.append(
            Matched(
                nid=self._match_cnf.nid,
                nmk=self._match_cnf.nmk,
                peer_mac=self.chosen.mac,
                run_id=self.run_id,
                attenuation_db=self.chosen.attenuation_db,
                sounds=self.chosen.sounds,
                elapsed=now - self._started,
                candidates=tuple((c.mac, c.attenuation_db) for c in self._ranking()),
            )
        )

    # ------------------------------------------------------------------ steps
    def _start_sounding(self, now: float) -> None:
        cfg = self.config
        start = CmStartAttenCharInd(
            num_sounds=cfg.num_sounds, time_out=cfg.sounding_time_out, forwarding_sta=self.mac, run_id=self.run_id
        )
        self._batch.extend([start] * cfg.start_atten_char_count)
        for remaining in range(cfg.num_sounds - 1, -1, -1):
            self._batch.append(
                CmMnbcSoundInd(sender_id=cfg.pev_id, count=remaining, run_id=self.run_id, rnd=self._rng.randbytes(16))
            )
        self._cancel("parm")
        self._goto(PevState.SOUNDING)
        self._set_timer("atten_results", now + cfg.atten_results_timeout)
        self._send_batch(now)

    def _send_batch(self, now: float) -> None:
        self._send(BROADCAST_MAC, self._batch.popleft())
        if self._batch:
            self._set_timer("batch", now + self.config.batch_interval)
        elif self._state is PevState.SOUNDING:
            self._goto(PevState.WAIT_ATTEN_CHAR)
            if self._all_reported():
                self._cancel("atten_results")
                self._choose(now)

    def _ranking(self) -> list[Candidate]:
        return sorted(self._results.values(), key=lambda c: (c.attenuation_db, c.mac))

    def _choose(self, now: float) -> None:
        self._cancel("batch")
        self._batch.clear()
        ranking = self._ranking()
        self._ranked = [c for c in ranking if c.attenuation_db <= self.config.attenuation_threshold_db]
        if not ranking:
            self._run_failed(now, "no charger sent CM_ATTEN_CHAR.IND within TT_EV_atten_results")
        elif not self._ranked:
            best = ranking[0]
            self._run_failed(
                now,
                f"every charger is above the attenuation threshold (best {mac_text(best.mac)} at "
                f"{best.attenuation_db:.1f} dB > {self.config.attenuation_threshold_db} dB)",
            )
        else:
            self._next_candidate(now, None)

    def _next_candidate(self, now: float, reason: str | None) -> None:
        if reason is not None:
            self._events.append(MatchingFailed(reason=reason))
        if not self._ranked:
            self._run_failed(now, "no charger left to match with")
            return
        self.chosen = self._ranked.pop(0)
        self._tries = 0
        if self.config.validate:
            self._send_validate_ready(now)
        else:
            self._send_match_req(now, first=True)

    def _send_validate_ready(self, now: float) -> None:
        assert self.chosen is not None
        self._tries += 1
        self._send(self.chosen.mac, CmValidateReq(timer=0, result=ValidateResult.READY))
        self._goto(PevState.VALIDATE_READY)
        self._set_timer("response", now + self.config.match_response_timeout)

    def _send_match_req(self, now: float, *, first: bool) -> None:
        assert self.chosen is not None
        if first:
            self._tries = 0
        self._tries += 1
        evse_id = self.chosen.evse_id if len(self.chosen.evse_id) == STATION_ID_LENGTH else bytes(STATION_ID_LENGTH)
        self._send(
            self.chosen.mac,
            CmSlacMatchReq(
                pev_id=self.config.pev_id,
                pev_mac=self.mac,
                evse_id=evse_id,
                evse_mac=self.chosen.mac,
                run_id=self.run_id,
            ),
        )
        self._goto(PevState.WAIT_MATCH_CNF)
        self._set_timer("response", now + self.config.match_response_timeout)

    def _run_failed(self, now: float, reason: str) -> None:
        """The attempt failed: restart after TT_matching_rate ([V2G3-A09-124]) while attempts remain
        (C_conn_max_match) and the restart falls within TT_matching_repetition ([V2G3-A09-125])."""
        cfg = self.config
        self._events.append(MatchingFailed(reason=reason))
        self._timers.clear()
        restart_at = now + cfg.matching_rate
        if self._attempt >= cfg.matching_attempts:
            why = f"gave up after {self._attempt} attempts: C_conn_max_match"
        elif restart_at - self._started > cfg.matching_repetition:
            why = f"gave up after {self._attempt} attempts: TT_matching_repetition is over"
        else:
            self._goto(PevState.WAIT_RESTART)
            self._set_timer("restart", restart_at)
            return
        self._goto(PevState.FAILED)
        self._events.append(SlacFailed(reason=f"{reason} ({why})"))

    # ------------------------------------------------------------------ timers
    def _on_timer(self, name: str, now: float) -> None:
        if name == "parm":
            if self._parm_tries <= self.config.parm_retries:
                self._send_parm_req(now)
            else:
                self._run_failed(now, "no charger answered CM_SLAC_PARM.REQ")
        elif name == "restart":
            self._new_run(now)
        elif name == "batch":
            self._send_batch(now)
        elif name == "atten_results":
            self._choose(now)
        elif name == "response":
            self._on_response_timeout(now)
        elif name == "set_key":
            if self._tries <= self.config.set_key_retries:
                self._send_set_key(now)
            else:
                self._run_failed(now, "the modem did not confirm CM_SET_KEY.REQ with the charger's key")

    def _on_response_timeout(self, now: float) -> None:
        retry = self._tries <= self.config.match_retries
        assert self.chosen is not None
        if self._state is PevState.VALIDATE_READY and retry:
            self._send_validate_ready(now)
        elif self._state is PevState.WAIT_MATCH_CNF and retry:
            self._send_match_req(now, first=False)
        else:
            what = "CM_VALIDATE.CNF" if self._state is not PevState.WAIT_MATCH_CNF else "CM_SLAC_MATCH.CNF"
            self._next_candidate(now, f"no {what} from {mac_text(self.chosen.mac)}")


if TYPE_CHECKING:  # mypy holds the machine to the house shape, evcharge.sansio.WireCore
    from evcharge.sansio import WireCore
    from evcharge.slac.events import SlacEvent

    def _shape(machine: PevSlac) -> WireCore[SlacCommand, SlacEvent, PevState]:
        return machine
