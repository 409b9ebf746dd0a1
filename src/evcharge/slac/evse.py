"""The charger side of SLAC (ISO 15118-3), as a sans-I/O state machine.

::

    evse = EvseSlac(EvseConfig(), mac=host_mac, rng=random.SystemRandom())
    evse.send(StartMatching(), now)          # control pilot: state B, 5 % duty
    ... write evse.data_to_send() to the PLC interface
    ... evse.receive_data(frame, now) for every frame read; evse.handle_timer(now) at evse.get_timer()
    ... evse.next_event() -> Matched(nid=..., peer_mac=...)

On start the machine draws a fresh NMK from ``rng``, derives the NID and sends CM_SET_KEY.REQ to its
modem; it does not wait for a settle time.  Every CM_SLAC_PARM.REQ opens a *session* for that PEV
MAC and RunID (a car also hears the neighbouring chargers, so the charger cannot know which request
comes from its own car until the car asks to match).  Per session, the sounding window opens on the
first CM_START_ATTEN_CHAR.IND, CM_MNBC_SOUND.IND or CM_ATTEN_PROFILE.IND of that run and closes after
TT_EVSE_match_MNBC, or as soon as all announced profiles arrived; whatever arrived is averaged.
CM_ATTEN_CHAR.IND is repeated until CM_ATTEN_CHAR.RSP comes; CM_VALIDATE.REQ is answered;
the first CM_SLAC_MATCH.REQ is answered with the NID and NMK and ends every other session.
Once matched, a repeated CM_SLAC_MATCH.REQ is answered again, and a CM_SLAC_PARM.REQ with a new RunID
from the matched PEV within ``rematch_window`` (the PEV lost every CM_SLAC_MATCH.CNF and restarted,
[V2G3-A09-124]) opens a new session with the same key; any other CM_SLAC_PARM.REQ is not answered.
Frames with a RunID other than their session's are ignored.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from evcharge.slac._core import MachineBase
from evcharge.slac.config import EvseConfig
from evcharge.slac.errors import LocalProtocolError
from evcharge.slac.events import (
    KeySet,
    Matched,
    MatchingFailed,
    ReportToggles,
    SlacCommand,
    SlacFailed,
    StartMatching,
    StopMatching,
    ValidationRequested,
)
from evcharge.slac.messages import (
    NMK_LENGTH,
    STATION_ID_LENGTH,
    CmAttenCharInd,
    CmAttenCharRsp,
    CmAttenProfileInd,
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
    ValidateResult,
    mac_text,
    nid_from_nmk,
)
from evcharge.slac.states import EVSE_ACCEPTS, EVSE_TRANSITIONS, SESSION_ACCEPTS, SESSION_TRANSITIONS, EvseState
from evcharge.slac.states import SessionState as S

__all__ = ["EvseSlac", "Session"]


@dataclass(slots=True)
class Session:
    """One PEV's matching run as this charger sees it."""

    pev_mac: bytes
    run_id: bytes
    state: S = S.WAIT_START_ATTEN
    profiles: list[tuple[int, ...]] = field(default_factory=list)
    sounds: int = 0
    pev_id: bytes = bytes(STATION_ID_LENGTH)
    atten_ind: CmAttenCharInd | None = None
    atten_tries: int = 0
    attenuation_db: float = 0.0

    def goto(self, new: S) -> None:
        if new not in SESSION_TRANSITIONS[self.state]:
            raise AssertionError(f"session transition {self.state.name} -> {new.name} is not in the table")
        self.state = new


class EvseSlac(MachineBase[EvseState]):
    """SLAC on the charger.  ``mac`` is the EVSE host's MAC (the source of every frame it sends)."""

    _TRANSITIONS = EVSE_TRANSITIONS
    _ACCEPTS = EVSE_ACCEPTS

    def __init__(self, config: EvseConfig, *, mac: bytes, rng: random.Random) -> None:
        super().__init__(mac=mac, rng=rng, initial=EvseState.IDLE)
        self.config = config
        self.nmk = bytes(NMK_LENGTH)
        self.nid = nid_from_nmk(self.nmk, config.nid_security_level)
        self.key_confirmed = False
        self._set_key_tries = 0
        self._started = 0.0
        #: Matching sessions by PEV MAC.
        self.sessions: dict[bytes, Session] = {}
        self.matched_session: Session | None = None
        self._matched_at = 0.0

    # ------------------------------------------------------------------ application -> machine
    def send(self, command: SlacCommand, now: float) -> None:
        """Give the machine one of the application's commands."""
        if isinstance(command, StartMatching):
            if self._state not in (EvseState.IDLE, EvseState.FAILED, EvseState.MATCHED):
                raise LocalProtocolError(f"StartMatching in state {self._state.name}: SLAC is already running")
            self._start(now)
        elif isinstance(command, StopMatching):
            self._timers.clear()
            self.sessions.clear()
            if self._state is not EvseState.IDLE:
                self._goto(EvseState.IDLE)
        elif isinstance(command, ReportToggles):
            session = self._validating()
            if session is None:
                raise LocalProtocolError(f"ReportToggles in state {self._state.name}: no validation is running")
            if command.count < 0:
                raise LocalProtocolError("ReportToggles.count must not be negative")
            self._finish_validation(session, command.count)
        else:
            raise LocalProtocolError(f"{command!r} is not a command for the EVSE")

    def _start(self, now: float) -> None:
        self._started = now
        self.sessions.clear()
        self.matched_session = None
        self.nmk = self._rng.randbytes(NMK_LENGTH)
        self.nid = nid_from_nmk(self.nmk, self.config.nid_security_level)
        self.key_confirmed = False
        self._set_key_tries = 0
        self._send_set_key(now)
        self._goto(EvseState.WAIT_PARM_REQ)
        self._set_timer("slac_init", now + self.config.slac_init_timeout)

    def _send_set_key(self, now: float) -> None:
        self._set_key_tries += 1
        self._send(
            self.config.modem_mac,
            CmSetKeyReq(my_nonce=self.config.set_key_my_nonce, nid=self.nid, new_key=self.nmk),
        )
        self._set_timer("set_key", now + self.config.set_key_timeout)

    def _validating(self) -> Session | None:
        for session in self.sessions.values():
            if session.state is S.VALIDATING:
                return session
        return None

    # ------------------------------------------------------------------ frames
    def _on_frame(self, frame: Frame, now: float) -> None:
        msg = frame.message
        if isinstance(msg, CmSetKeyCnf):
            self._on_set_key_cnf(frame, msg)
            return
        if isinstance(msg, CmAttenProfileInd):
            # from our own modem: the PEV is named in the payload, not in the source address
            pev = msg.pev_mac
        else:
            pev = frame.src
        if self._state is EvseState.MATCHED:
            assert self.matched_session is not None
            if isinstance(msg, CmSlacParmReq):
                self._on_parm_req_matched(frame, msg, now)
                return
            assert isinstance(msg, CmSlacMatchReq)
            if pev == self.matched_session.pev_mac and msg.run_id == self.matched_session.run_id:
                self._answer_match(frame, msg, self.matched_session)  # our CNF was lost: answer again
            else:
                self._ignore(frame, "CM_SLAC_MATCH.REQ from another PEV or run: already matched")
            return
        if isinstance(msg, CmSlacParmReq):
            self._on_parm_req(frame, msg, now)
            return
        session = self.sessions.get(pev)
        if session is None:
            self._ignore(frame, f"{msg.NAME} from {mac_text(pev)}, which has no matching session here")
            return
        run_id = getattr(msg, "run_id", None)
        if run_id is not None and run_id != session.run_id:
            self._ignore(frame, f"{msg.NAME} carries a foreign RunID {run_id.hex()}")
            return
        if msg.MMTYPE not in SESSION_ACCEPTS[session.state]:
            self._ignore(frame, f"{msg.NAME} is not expected in session state {session.state.name}")
            return
        if isinstance(msg, CmAttenProfileInd):
            self._open_window(session, now)
            session.profiles.append(msg.aag)
            if len(session.profiles) >= self.config.num_sounds:
                self._close_window(session, now)
        elif isinstance(msg, CmStartAttenCharInd | CmMnbcSoundInd):
            if msg.application_type != 0:
                self._ignore(frame, f"{msg.NAME}: application type {msg.application_type} is not PEV-EVSE matching")
                return
            self._open_window(session, now)
            if isinstance(msg, CmMnbcSoundInd):
                session.sounds += 1
                session.pev_id = msg.sender_id
        elif isinstance(msg, CmAttenCharRsp):
            self._on_atten_char_rsp(frame, msg, session, now)
        elif isinstance(msg, CmValidateReq):
            self._on_validate_req(frame, msg, session, now)
        elif isinstance(msg, CmSlacMatchReq):
            self._on_match_req(frame, msg, session, now)
        else:  # pragma: no cover - the accept tables list only the types handled above
            self._ignore(frame, f"{msg.NAME} has no handler")

    def _on_set_key_cnf(self, frame: Frame, msg: CmSetKeyCnf) -> None:
        if self.key_confirmed or "set_key" not in self._timers:
            self._ignore(frame, "CM_SET_KEY.CNF without a pending CM_SET_KEY.REQ")
            return
        if msg.result not in self.config.set_key_accepted_results:
            self._ignore(frame, f"CM_SET_KEY.CNF result {msg.result:#04x} is not an accepted success code")
            return  # the timer repeats the request
        self.key_confirmed = True
        self._cancel("set_key")
        self._events.append(KeySet(nid=self.nid, result=msg.result))

    def _on_parm_req(self, frame: Frame, msg: CmSlacParmReq, now: float) -> None:
        if msg.application_type != 0:
            self._ignore(frame, f"CM_SLAC_PARM.REQ application type {msg.application_type} is not PEV-EVSE matching")
            return
        if msg.security_type != 0:
            self._ignore(frame, f"CM_SLAC_PARM.REQ security type {msg.security_type} is not supported")
            return
        old = self.sessions.get(frame.src)
        if old is not None and old.run_id == msg.run_id:
            if old.state is S.WAIT_START_ATTEN:
                self._send_parm_cnf(old)  # our CNF was lost, the PEV asks again
            else:
                self._ignore(frame, "repeated CM_SLAC_PARM.REQ while the run is under way")
            return
        if old is None and len(self.sessions) >= self.config.max_sessions:
            self._ignore(frame, f"already {len(self.sessions)} matching sessions (EvseConfig.max_sessions)")
            return
        if old is not None:
            self._drop(old)  # the PEV restarted with a new RunID
        session = Session(pev_mac=frame.src, run_id=msg.run_id)
        self.sessions[frame.src] = session
        self._send_parm_cnf(session)
        if self._state is EvseState.WAIT_PARM_REQ:
            self._cancel("slac_init")
            self._goto(EvseState.MATCHING)
        self._set_timer(_key("session", session), now + self.config.match_session_timeout)

    def _on_parm_req_matched(self, frame: Frame, msg: CmSlacParmReq, now: float) -> None:
        """A CM_SLAC_PARM.REQ after the match: the matched PEV restarting is matched again, nobody else is."""
        session = self.matched_session
        assert session is not None
        if frame.src != session.pev_mac:
            self._ignore(frame, "CM_SLAC_PARM.REQ from another PEV: already matched")
            return
        if msg.run_id == session.run_id:
            self._ignore(frame, "CM_SLAC_PARM.REQ repeats the matched run")
            return
        if now - self._matched_at > self.config.rematch_window:
            self._ignore(frame, "CM_SLAC_PARM.REQ from the matched PEV after EvseConfig.rematch_window")
            return
        # The PEV never got our CM_SLAC_MATCH.CNF and restarted ([V2G3-A09-124]): match it again, same key.
        self._events.append(
            MatchingFailed(
                reason=f"PEV {mac_text(session.pev_mac)} restarted matching: it did not get CM_SLAC_MATCH.CNF"
            )
        )
        self.matched_session = None
        self._goto(EvseState.MATCHING)
        self._on_parm_req(frame, msg, now)

    def _send_parm_cnf(self, session: Session) -> None:
        self._send(
            session.pev_mac,
            CmSlacParmCnf(
                num_sounds=self.config.num_sounds,
                time_out=self.config.sounding_time_out,
                forwarding_sta=session.pev_mac,
                run_id=session.run_id,
            ),
        )

    def _open_window(self, session: Session, now: float) -> None:
        if session.state is S.WAIT_START_ATTEN:
            session.goto(S.SOUNDING)
            self._set_timer(_key("window", session), now + self.config.sounding_time_out * 0.1)

    def _close_window(self, session: Session, now: float) -> None:
        self._cancel(_key("window", session))
        if not session.profiles:
            self._session_failed(
                session, now, "no CM_ATTEN_PROFILE.IND arrived in the sounding window (TT_EVSE_match_MNBC)"
            )
            return
        groups = min(len(p) for p in session.profiles)
        count = len(session.profiles)
        aag = tuple(round(sum(p[g] for p in session.profiles) / count) for g in range(groups))
        session.attenuation_db = sum(aag) / len(aag) if aag else 0.0
        session.atten_ind = CmAttenCharInd(
            source_address=session.pev_mac,
            run_id=session.run_id,
            source_id=session.pev_id,
            resp_id=self.config.evse_id,
            num_sounds=count,
            aag=aag,
        )
        session.atten_tries = 0
        session.goto(S.WAIT_ATTEN_CHAR_RSP)
        self._send_atten_ind(session, now)

    def _send_atten_ind(self, session: Session, now: float) -> None:
        assert session.atten_ind is not None
        session.atten_tries += 1
        self._send(session.pev_mac, session.atten_ind)
        self._set_timer(_key("atten_rsp", session), now + self.config.match_response_timeout)

    def _on_atten_char_rsp(self, frame: Frame, msg: CmAttenCharRsp, session: Session, now: float) -> None:
        if msg.source_address != session.pev_mac:
            self._ignore(frame, "CM_ATTEN_CHAR.RSP names another PEV in SOURCE_ADDRESS")
            return
        if session.state is not S.WAIT_ATTEN_CHAR_RSP:
            return  # a repeated RSP (answer to a repeated IND); nothing to do
        self._cancel(_key("atten_rsp", session))
        if msg.result != 0:
            self._session_failed(session, now, f"the PEV answered CM_ATTEN_CHAR.IND with result {msg.result}")
            return
        session.goto(S.WAIT_MATCH)

    def _on_validate_req(self, frame: Frame, msg: CmValidateReq, session: Session, now: float) -> None:
        if msg.signal_type != 0:
            self._ignore(frame, f"CM_VALIDATE.REQ signal type {msg.signal_type} is not PEV S2 toggling")
            return
        if session.state is S.WAIT_ATTEN_CHAR_RSP:
            self._cancel(_key("atten_rsp", session))  # the PEV evidently has our IND
            session.goto(S.WAIT_MATCH)
        if not self.config.validation:
            self._send(frame.src, CmValidateCnf(toggle_num=0, result=ValidateResult.NOT_REQUIRED))
            return
        if session.state is S.VALIDATING:
            self._ignore(frame, "CM_VALIDATE.REQ while counting toggles")
            return
        if self._validating() is not None:
            # the control pilot can count toggles for one car at a time
            self._send(frame.src, CmValidateCnf(toggle_num=0, result=ValidateResult.NOT_READY))
            return
        if msg.timer == 0:
            self._send(frame.src, CmValidateCnf(toggle_num=0, result=ValidateResult.READY))
            return
        duration = msg.timer * 0.1
        session.goto(S.VALIDATING)
        self._set_timer(_key("validate", session), now + duration + self.config.validation_report_grace)
        self._events.append(ValidationRequested(pev_mac=frame.src, duration=duration))

    def _finish_validation(self, session: Session, count: int) -> None:
        self._cancel(_key("validate", session))
        result = ValidateResult.SUCCESS if 1 <= count <= 3 else ValidateResult.FAILURE
        self._send(session.pev_mac, CmValidateCnf(toggle_num=min(count, 0xFF), result=result))
        session.goto(S.WAIT_MATCH)

    def _on_match_req(self, frame: Frame, msg: CmSlacMatchReq, session: Session, now: float) -> None:
        if msg.pev_mac != session.pev_mac:
            self._ignore(frame, "CM_SLAC_MATCH.REQ names another PEV MAC")
            return
        if msg.evse_mac != self.mac:
            self._ignore(frame, f"CM_SLAC_MATCH.REQ is meant for EVSE {mac_text(msg.evse_mac)}")
            return
        self._answer_match(frame, msg, session)
        measured = sorted(
            (s.attenuation_db, s.pev_mac) for s in self.sessions.values() if s.atten_ind is not None
        )
        for other in list(self.sessions.values()):
            self._drop(other)
        self._cancel("slac_init")
        self.matched_session = session
        self._matched_at = now
        self._goto(EvseState.MATCHED)
        self._events.append(
            Matched(
                nid=self.nid,
                nmk=self.nmk,
                peer_mac=session.pev_mac,
                run_id=session.run_id,
                attenuation_db=session.attenuation_db,
                sounds=len(session.profiles),
                elapsed=now - self._started,
                candidates=tuple((mac, db) for db, mac in measured),
            )
        )

    def _answer_match(self, frame: Frame, msg: CmSlacMatchReq, session: Session) -> None:
        self._send(
            frame.src,
            CmSlacMatchCnf(
                pev_id=msg.pev_id,
                pev_mac=msg.pev_mac,
                evse_id=self.config.evse_id,
                evse_mac=self.mac,
                run_id=session.run_id,
                nid=self.nid,
                nmk=self.nmk,
            ),
        )

    # ------------------------------------------------------------------ timers
    def _on_timer(self, name: str, now: float) -> None:
        if name == "set_key":
            if self._set_key_tries <= self.config.set_key_retries:
                self._send_set_key(now)
            else:
                self._fail("the modem did not confirm CM_SET_KEY.REQ")
            return
        if name == "slac_init":
            self._fail("no CM_SLAC_PARM.REQ within TT_EVSE_SLAC_init")
            return
        kind, _, mac_hex = name.partition(":")
        session = self.sessions.get(bytes.fromhex(mac_hex))
        if session is None:  # pragma: no cover - timers are cancelled with their session
            return
        if kind == "window":
            self._close_window(session, now)
        elif kind == "atten_rsp":
            if session.atten_tries <= self.config.atten_char_retries:
                self._send_atten_ind(session, now)
            else:
                # The PEV may have our IND and only its RSPs got lost: it decides after TT_EV_atten_results,
                # so keep the session until TT_EVSE_match_session rather than drop a car that may pick us.
                session.goto(S.WAIT_MATCH)
        elif kind == "session":
            self._session_failed(session, now, "no CM_SLAC_MATCH.REQ within TT_EVSE_match_session")
        elif kind == "validate":
            self._finish_validation(session, 0)

    def _drop(self, session: Session) -> None:
        for kind in ("window", "atten_rsp", "session", "validate"):
            self._cancel(_key(kind, session))
        self.sessions.pop(session.pev_mac, None)

    def _session_failed(self, session: Session, now: float, reason: str) -> None:
        self._drop(session)
        self._events.append(MatchingFailed(reason=f"{reason} (PEV {mac_text(session.pev_mac)})"))
        if self.sessions:
            return
        if self.config.restart_after_failure:
            self._goto(EvseState.WAIT_PARM_REQ)
            self._set_timer("slac_init", now + self.config.slac_init_timeout)
        else:
            self._fail(reason)

    def _fail(self, reason: str) -> None:
        self._timers.clear()
        self.sessions.clear()
        self._goto(EvseState.FAILED)
        self._events.append(SlacFailed(reason=reason))


def _key(kind: str, session: Session) -> str:
    return f"{kind}:{session.pev_mac.hex()}"


if TYPE_CHECKING:  # mypy holds the machine to the house shape, evcharge.sansio.WireCore
    from evcharge.sansio import WireCore
    from evcharge.slac.events import SlacEvent

    def _shape(machine: EvseSlac) -> WireCore[SlacCommand, SlacEvent, EvseState]:
        return machine
