"""The charger side of SLAC (ISO 15118-3), as a sans-I/O state machine.

::

    evse = EvseSlac(EvseConfig(), mac=host_mac, rng=random.SystemRandom())
    evse.send(StartMatching(), now)          # control pilot: state B, 5 % duty
    ... write evse.data_to_send() to the PLC interface
    ... evse.receive_frame(frame, now) for every frame read; evse.handle_timer(now) at evse.get_timer()
    ... evse.next_event() -> Matched(nid=..., peer_mac=...)

On start the machine draws a fresh NMK from ``rng``, derives the NID and sends CM_SET_KEY.REQ to its
modem; it does not wait for a settle time.  It answers CM_SLAC_PARM.REQ of one PEV at a time (other
RunIDs are ignored), opens the sounding window on the first CM_START_ATTEN_CHAR.IND,
CM_MNBC_SOUND.IND or CM_ATTEN_PROFILE.IND of that run, and closes it after TT_EVSE_match_MNBC or
as soon as all announced profiles arrived; it averages whatever profiles arrived.  CM_ATTEN_CHAR.IND
is repeated until CM_ATTEN_CHAR.RSP comes; CM_VALIDATE.REQ is answered; CM_SLAC_MATCH.REQ is
answered with the NID and NMK.
"""

from __future__ import annotations

import random

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
from evcharge.slac.states import EVSE_ACCEPTS, EVSE_TRANSITIONS, EvseState

__all__ = ["EvseSlac"]

_ACTIVE = frozenset({
    EvseState.WAIT_START_ATTEN, EvseState.SOUNDING, EvseState.WAIT_ATTEN_CHAR_RSP, EvseState.WAIT_MATCH,
    EvseState.VALIDATING,
})


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
        self._reset_session()

    def _reset_session(self) -> None:
        self.pev_mac: bytes | None = None
        self.run_id: bytes | None = None
        self._profiles: list[tuple[int, ...]] = []
        self._sounds_seen = 0
        self._atten_ind: CmAttenCharInd | None = None
        self._atten_tries = 0
        self._attenuation_db = 0.0
        self._pev_id = b""

    # ------------------------------------------------------------------ application -> machine
    def send(self, command: SlacCommand, now: float) -> None:
        """Give the machine one of the application's commands."""
        if isinstance(command, StartMatching):
            if self._state not in (EvseState.IDLE, EvseState.FAILED, EvseState.MATCHED):
                raise LocalProtocolError(f"StartMatching in state {self._state.name}: SLAC is already running")
            self._start(now)
        elif isinstance(command, StopMatching):
            self._timers.clear()
            self._reset_session()
            if self._state is not EvseState.IDLE:
                self._goto(EvseState.IDLE)
        elif isinstance(command, ReportToggles):
            if self._state is not EvseState.VALIDATING:
                raise LocalProtocolError(f"ReportToggles in state {self._state.name}: no validation is running")
            if command.count < 0:
                raise LocalProtocolError("ReportToggles.count must not be negative")
            self._finish_validation(command.count)
        else:
            raise LocalProtocolError(f"{command!r} is not a command for the EVSE")

    def _start(self, now: float) -> None:
        self._started = now
        self._reset_session()
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

    # ------------------------------------------------------------------ frames
    def _on_frame(self, frame: Frame, now: float) -> None:
        msg = frame.message
        if isinstance(msg, CmSetKeyCnf):
            self._on_set_key_cnf(frame, msg)
            return
        if isinstance(msg, CmSlacParmReq):
            self._on_parm_req(frame, msg, now)
            return
        if isinstance(msg, CmAttenProfileInd):
            # from our own modem: the PEV is named in the payload, not in the source address
            if msg.pev_mac != self.pev_mac:
                self._ignore(frame, f"CM_ATTEN_PROFILE.IND for PEV {mac_text(msg.pev_mac)}, not the one in session")
                return
            self._open_window(now)
            self._profiles.append(msg.aag)
            if len(self._profiles) >= self.config.num_sounds:
                self._close_window(now)
            return
        # everything else must come from the PEV in session and carry its RunID
        if frame.src != self.pev_mac:
            self._ignore(frame, f"{msg.NAME} from {mac_text(frame.src)}, not the PEV in session")
            return
        run_id = getattr(msg, "run_id", None)
        if run_id is not None and run_id != self.run_id:
            self._ignore(frame, f"{msg.NAME} carries a foreign RunID {run_id.hex()}")
            return
        if isinstance(msg, CmStartAttenCharInd | CmMnbcSoundInd):
            if msg.application_type != 0:
                self._ignore(frame, f"{msg.NAME}: application type {msg.application_type} is not PEV-EVSE matching")
                return
            self._open_window(now)
            if isinstance(msg, CmMnbcSoundInd):
                self._sounds_seen += 1
                self._pev_id = msg.sender_id
        elif isinstance(msg, CmAttenCharRsp):
            self._on_atten_char_rsp(frame, msg, now)
        elif isinstance(msg, CmValidateReq):
            self._on_validate_req(frame, msg, now)
        elif isinstance(msg, CmSlacMatchReq):
            self._on_match_req(frame, msg, now)
        else:  # pragma: no cover - the accept table lists only the types handled above
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
        self._events.append(KeySet(self.nid, msg.result))

    def _on_parm_req(self, frame: Frame, msg: CmSlacParmReq, now: float) -> None:
        if msg.application_type != 0:
            self._ignore(frame, f"CM_SLAC_PARM.REQ application type {msg.application_type} is not PEV-EVSE matching")
            return
        if msg.security_type != 0:
            self._ignore(frame, f"CM_SLAC_PARM.REQ security type {msg.security_type} is not supported")
            return
        if self._state in _ACTIVE and frame.src != self.pev_mac:
            self._ignore(frame, f"busy matching PEV {mac_text(self.pev_mac or b'')}")
            return
        if self._state in _ACTIVE and msg.run_id == self.run_id:
            if self._state is EvseState.WAIT_START_ATTEN:
                self._send_parm_cnf()  # our CNF was lost, the PEV asks again
            else:
                self._ignore(frame, "repeated CM_SLAC_PARM.REQ while the run is under way")
            return
        # a new run: from WAIT_PARM_REQ, or the PEV in session restarted with a new RunID
        self._reset_session()
        self.pev_mac = frame.src
        self.run_id = msg.run_id
        self._cancel("slac_init", "window", "atten_rsp", "match_session", "validate")
        self._send_parm_cnf()
        self._goto(EvseState.WAIT_START_ATTEN)
        self._set_timer("match_session", now + self.config.match_session_timeout)

    def _send_parm_cnf(self) -> None:
        assert self.pev_mac is not None and self.run_id is not None
        self._send(
            self.pev_mac,
            CmSlacParmCnf(
                num_sounds=self.config.num_sounds,
                time_out=self.config.sounding_time_out,
                forwarding_sta=self.pev_mac,
                run_id=self.run_id,
            ),
        )

    def _open_window(self, now: float) -> None:
        if self._state is EvseState.WAIT_START_ATTEN:
            self._goto(EvseState.SOUNDING)
            self._set_timer("window", now + self.config.sounding_time_out * 0.1)

    def _close_window(self, now: float) -> None:
        self._cancel("window")
        if not self._profiles:
            self._attempt_failed(now, "no CM_ATTEN_PROFILE.IND arrived in the sounding window (TT_EVSE_match_MNBC)")
            return
        groups = min(len(p) for p in self._profiles)
        aag = tuple(
            round(sum(p[g] for p in self._profiles) / len(self._profiles)) for g in range(groups)
        )
        self._attenuation_db = sum(aag) / len(aag) if aag else 0.0
        assert self.pev_mac is not None and self.run_id is not None
        self._atten_ind = CmAttenCharInd(
            source_address=self.pev_mac,
            run_id=self.run_id,
            source_id=self._pev_id or bytes(17),
            resp_id=self.config.evse_id,
            num_sounds=len(self._profiles),
            aag=aag,
        )
        self._atten_tries = 0
        self._goto(EvseState.WAIT_ATTEN_CHAR_RSP)
        self._send_atten_ind(now)

    def _send_atten_ind(self, now: float) -> None:
        assert self._atten_ind is not None and self.pev_mac is not None
        self._atten_tries += 1
        self._send(self.pev_mac, self._atten_ind)
        self._set_timer("atten_rsp", now + self.config.match_response_timeout)

    def _on_atten_char_rsp(self, frame: Frame, msg: CmAttenCharRsp, now: float) -> None:
        if msg.source_address != self.pev_mac:
            self._ignore(frame, "CM_ATTEN_CHAR.RSP names another PEV in SOURCE_ADDRESS")
            return
        if self._state is not EvseState.WAIT_ATTEN_CHAR_RSP:
            return  # a repeated RSP (answer to a repeated IND); nothing to do
        self._cancel("atten_rsp")
        if msg.result != 0:
            self._attempt_failed(now, f"the PEV answered CM_ATTEN_CHAR.IND with result {msg.result}")
            return
        self._goto(EvseState.WAIT_MATCH)

    def _on_validate_req(self, frame: Frame, msg: CmValidateReq, now: float) -> None:
        if msg.signal_type != 0:
            self._ignore(frame, f"CM_VALIDATE.REQ signal type {msg.signal_type} is not PEV S2 toggling")
            return
        if self._state is EvseState.WAIT_ATTEN_CHAR_RSP:
            self._cancel("atten_rsp")  # the PEV evidently has our IND
            self._goto(EvseState.WAIT_MATCH)
        if not self.config.validation:
            self._send(frame.src, CmValidateCnf(toggle_num=0, result=ValidateResult.NOT_REQUIRED))
            return
        if self._state is EvseState.VALIDATING:
            self._ignore(frame, "CM_VALIDATE.REQ while counting toggles")
            return
        if msg.timer == 0:
            self._send(frame.src, CmValidateCnf(toggle_num=0, result=ValidateResult.READY))
            return
        duration = msg.timer * 0.1
        self._goto(EvseState.VALIDATING)
        self._set_timer("validate", now + duration + self.config.validation_report_grace)
        self._events.append(ValidationRequested(frame.src, duration))

    def _finish_validation(self, count: int) -> None:
        assert self.pev_mac is not None
        self._cancel("validate")
        result = ValidateResult.SUCCESS if 1 <= count <= 3 else ValidateResult.FAILURE
        self._send(self.pev_mac, CmValidateCnf(toggle_num=min(count, 0xFF), result=result))
        self._goto(EvseState.WAIT_MATCH)

    def _on_match_req(self, frame: Frame, msg: CmSlacMatchReq, now: float) -> None:
        if msg.pev_mac != self.pev_mac:
            self._ignore(frame, "CM_SLAC_MATCH.REQ names another PEV MAC")
            return
        if msg.evse_mac != self.mac:
            self._ignore(frame, f"CM_SLAC_MATCH.REQ is meant for EVSE {mac_text(msg.evse_mac)}")
            return
        assert self.run_id is not None
        self._send(
            frame.src,
            CmSlacMatchCnf(
                pev_id=msg.pev_id,
                pev_mac=msg.pev_mac,
                evse_id=self.config.evse_id,
                evse_mac=self.mac,
                run_id=self.run_id,
                nid=self.nid,
                nmk=self.nmk,
            ),
        )
        if self._state is EvseState.MATCHED:
            return  # answered a repetition
        self._cancel("atten_rsp", "match_session", "validate")
        self._goto(EvseState.MATCHED)
        self._events.append(
            Matched(
                nid=self.nid,
                nmk=self.nmk,
                peer_mac=frame.src,
                run_id=self.run_id,
                attenuation_db=self._attenuation_db,
                sounds=len(self._profiles),
                elapsed=now - self._started,
            )
        )

    # ------------------------------------------------------------------ timers
    def _on_timer(self, name: str, now: float) -> None:
        if name == "set_key":
            if self._set_key_tries <= self.config.set_key_retries:
                self._send_set_key(now)
            else:
                self._fail("the modem did not confirm CM_SET_KEY.REQ")
        elif name == "slac_init":
            self._fail("no CM_SLAC_PARM.REQ within TT_EVSE_SLAC_init")
        elif name == "window":
            self._close_window(now)
        elif name == "atten_rsp":
            if self._atten_tries <= self.config.atten_char_retries:
                self._send_atten_ind(now)
            else:
                self._attempt_failed(now, "no CM_ATTEN_CHAR.RSP after repeating CM_ATTEN_CHAR.IND")
        elif name == "match_session":
            self._attempt_failed(now, "no CM_SLAC_MATCH.REQ within TT_EVSE_match_session")
        elif name == "validate":
            self._finish_validation(0)

    def _attempt_failed(self, now: float, reason: str) -> None:
        self._cancel("window", "atten_rsp", "match_session", "validate")
        self._events.append(MatchingFailed(reason))
        self._reset_session()
        if self.config.restart_after_failure:
            self._goto(EvseState.WAIT_PARM_REQ)
            self._set_timer("slac_init", now + self.config.slac_init_timeout)
        else:
            self._fail(reason)

    def _fail(self, reason: str) -> None:
        self._timers.clear()
        self._goto(EvseState.FAILED)
        self._events.append(SlacFailed(reason))
