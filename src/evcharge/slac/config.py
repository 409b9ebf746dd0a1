"""Configuration of the SLAC machines: frozen dataclasses, defaults from ISO 15118-3 Table A.1.

Every timer value is in seconds.  The defaults are the values the reference implementations use
(libslac, pyslac, open-plc-utils); see ``shared/facts/v2g_slac_iec61851.md`` section 3.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from evcharge.slac.errors import LocalProtocolError
from evcharge.slac.messages import NMK_LENGTH, QCA_LOCAL_MAC, STATION_ID_LENGTH


def _check_common(
    *, modem_mac: bytes, my_nonce: bytes, station_id: bytes, accepted: frozenset[int], name: str
) -> None:
    if len(modem_mac) != 6:
        raise LocalProtocolError(f"{name}.modem_mac must be 6 bytes")
    if len(my_nonce) != 4:
        raise LocalProtocolError(f"{name}.set_key_my_nonce must be 4 bytes")
    if len(station_id) != STATION_ID_LENGTH:
        raise LocalProtocolError(f"{name}: station id (EVSE ID / VIN) must be {STATION_ID_LENGTH} bytes")
    if not accepted or not all(0 <= r <= 0xFF for r in accepted):
        raise LocalProtocolError(f"{name}.set_key_accepted_results must name at least one byte value")


@dataclass(frozen=True, slots=True, kw_only=True)
class EvseConfig:
    """Everything tunable on the charger side."""

    #: EVSE ID sent in CM_ATTEN_CHAR.IND (RESP_ID) and CM_SLAC_MATCH.CNF, 17 bytes.
    evse_id: bytes = bytes(STATION_ID_LENGTH)
    #: Where CM_SET_KEY.REQ goes, the modem's local management address (QCA_LOCAL_MAC on QCA modems).
    modem_mac: bytes = QCA_LOCAL_MAC
    #: NUM_SOUNDS announced in CM_SLAC_PARM.CNF (C_EV_match_MNBC).
    num_sounds: int = 10
    #: TIME_OUT announced in CM_SLAC_PARM.CNF in 100 ms units; the sounding window (TT_EVSE_match_MNBC).
    sounding_time_out: int = 6
    #: TT_EVSE_SLAC_init -- how long to wait for the first CM_SLAC_PARM.REQ after start (20-50 s).
    slac_init_timeout: float = 40.0
    #: TT_match_response -- how long to wait for CM_ATTEN_CHAR.RSP before repeating CM_ATTEN_CHAR.IND.
    match_response_timeout: float = 0.2
    #: How many times CM_ATTEN_CHAR.IND is repeated when no CM_ATTEN_CHAR.RSP comes (C_EV_match_retry).
    atten_char_retries: int = 2
    #: TT_EVSE_match_session -- wait for CM_VALIDATE.REQ / CM_SLAC_MATCH.REQ (and for the soundings to begin).
    match_session_timeout: float = 10.0
    #: Answer CM_VALIDATE with BCB-toggle validation (True) or with Result "not required" (False).
    validation: bool = False
    #: How long the application may take to report the toggles it counted, after the toggle window.
    validation_report_grace: float = 0.2
    #: Matching sessions (PEVs heard through crosstalk included) run at the same time; more are ignored.
    max_sessions: int = 8
    #: After a failed attempt, wait for a new CM_SLAC_PARM.REQ (True) or fail for good (False).
    restart_after_failure: bool = True
    #: After the match, how long a CM_SLAC_PARM.REQ with a new RunID from the matched PEV is taken as that PEV
    #: restarting because every CM_SLAC_MATCH.CNF was lost (it is matched again, same key).  The PEV restarts
    #: only within TT_matching_repetition (10 s) of its start, so that is the default; 0 never re-matches.
    rematch_window: float = 10.0
    #: CM_SET_KEY.CNF wait and repetitions.
    set_key_timeout: float = 1.0
    set_key_retries: int = 2
    #: MyNonce in CM_SET_KEY.REQ -- ISO 15118-3 says 0x00000000; the QCA tools send 0xAAAAAAAA.
    set_key_my_nonce: bytes = bytes(4)
    #: CM_SET_KEY.CNF result codes taken as success (firmware differs -- 0 per HomePlug, 1 on some QCA).
    set_key_accepted_results: frozenset[int] = field(default_factory=lambda: frozenset({0, 1}))
    #: Security level written into the NID's two top bits (0 = simple connect).
    nid_security_level: int = 0

    def __post_init__(self) -> None:
        _check_common(
            modem_mac=self.modem_mac,
            my_nonce=self.set_key_my_nonce,
            station_id=self.evse_id,
            accepted=self.set_key_accepted_results,
            name="EvseConfig",
        )
        if not 1 <= self.num_sounds <= 0xFF or not 1 <= self.sounding_time_out <= 0xFF:
            raise LocalProtocolError("EvseConfig.num_sounds and sounding_time_out are 1..255")


@dataclass(frozen=True, slots=True, kw_only=True)
class PevConfig:
    """Everything tunable on the vehicle side."""

    #: PEV ID (the VIN, or zeros), 17 bytes -- SenderID of the M-sounds and PEV ID of CM_SLAC_MATCH.REQ.
    pev_id: bytes = bytes(STATION_ID_LENGTH)
    #: Where CM_SET_KEY.REQ goes after the match.
    modem_mac: bytes = QCA_LOCAL_MAC
    #: TT_match_response -- how long the PEV waits for a CM_SLAC_PARM.CNF before repeating CM_SLAC_PARM.REQ.
    #: Sounding starts at the first CNF; CNFs of other chargers are still taken while sounding.
    parm_cnf_window: float = 0.2
    #: Repetitions of CM_SLAC_PARM.REQ when no EVSE answers (C_EV_match_retry).
    parm_retries: int = 2
    #: C_EV_start_atten_char_inds.
    start_atten_char_count: int = 3
    #: C_EV_match_MNBC -- number of M-sounds.
    num_sounds: int = 10
    #: TP_EV_batch_msg_interval between the START_ATTEN_CHAR / MNBC_SOUND frames (20-50 ms).
    batch_interval: float = 0.02
    #: TIME_OUT written into CM_START_ATTEN_CHAR.IND, 100 ms units.
    sounding_time_out: int = 6
    #: TT_EV_atten_results -- CM_ATTEN_CHAR.IND collection time from the first CM_START_ATTEN_CHAR.IND.
    atten_results_timeout: float = 1.2
    #: Highest acceptable average attenuation in dB; chargers above it are crosstalk.
    attenuation_threshold_db: float = 40.0
    #: TT_match_response for CM_VALIDATE.CNF and CM_SLAC_MATCH.CNF, and the repetitions of the request.
    match_response_timeout: float = 0.2
    match_retries: int = 2
    #: C_conn_max_match -- whole matching attempts (each with a new RunID) before the PEV stays unmatched
    #: ([V2G3-A09-125]; the standard asks for at least 3).
    matching_attempts: int = 3
    #: TT_matching_rate -- pause after a failed attempt before the next one starts ([V2G3-A09-124], min 400 ms).
    matching_rate: float = 0.4
    #: TT_matching_repetition -- a new attempt starts only within this time from StartMatching ([V2G3-A09-125],
    #: min 10 s); after it the PEV stays unmatched.
    matching_repetition: float = 10.0
    #: Leave the CM_ATTEN_CHAR.IND collection as soon as every charger that answered CM_SLAC_PARM.REQ has sent
    #: its CM_ATTEN_CHAR.IND (True), or always wait TT_EV_atten_results out (False).  TT_EV_atten_results is a
    #: maximum: once every known charger has reported there is nothing left to wait for.
    atten_results_early: bool = True
    #: Use CM_VALIDATE (BCB toggles) before CM_SLAC_MATCH.REQ when the EVSE supports it.
    validate: bool = False
    #: BCB toggles the vehicle makes during validation (1-3) and the window in 100 ms units.
    validate_toggles: int = 1
    validate_timer: int = 35
    #: CM_SET_KEY.CNF wait and repetitions (joining the EVSE's network after the match).
    set_key_timeout: float = 1.0
    set_key_retries: int = 2
    set_key_my_nonce: bytes = bytes(4)
    set_key_accepted_results: frozenset[int] = field(default_factory=lambda: frozenset({0, 1}))

    def __post_init__(self) -> None:
        _check_common(
            modem_mac=self.modem_mac,
            my_nonce=self.set_key_my_nonce,
            station_id=self.pev_id,
            accepted=self.set_key_accepted_results,
            name="PevConfig",
        )
        if not 1 <= self.num_sounds <= 0xFF:
            raise LocalProtocolError("PevConfig.num_sounds is 1..255")
        if not 1 <= self.validate_toggles <= 3:
            raise LocalProtocolError("PevConfig.validate_toggles is 1..3")
        if self.matching_attempts < 1:
            raise LocalProtocolError("PevConfig.matching_attempts (C_conn_max_match) must be at least 1")
        if self.matching_rate < 0 or self.matching_repetition < 0:
            raise LocalProtocolError("PevConfig.matching_rate and matching_repetition must not be negative")


__all__ = ["NMK_LENGTH", "EvseConfig", "PevConfig"]
