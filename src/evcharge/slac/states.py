"""States of the EVSE and PEV machines and their transition tables.

``EVSE_TRANSITIONS``, ``SESSION_TRANSITIONS`` and ``PEV_TRANSITIONS`` list, for each state, the
states it may move to; a machine that tries any other move raises :class:`AssertionError` (a bug in
this package, never a peer's fault).  ``EVSE_ACCEPTS``, ``SESSION_ACCEPTS`` and ``PEV_ACCEPTS`` list
the management messages each state acts on; any other frame is ignored and reported as
:class:`~evcharge.slac.events.FrameIgnored`.

The charger runs one *session* per PEV (MAC address + RunID) that asked it in the same period: with
crosstalk a car also reaches neighbouring chargers, and a charger that locked itself to the first
car it heard would keep its own car waiting until TT_EVSE_match_session expired.  The first session
whose PEV sends CM_SLAC_MATCH.REQ wins; the others are dropped.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from types import MappingProxyType

from evcharge.slac.messages import MMType


class EvseState(Enum):
    """The charger as a whole."""

    IDLE = "idle"
    WAIT_PARM_REQ = "wait CM_SLAC_PARM.REQ"
    MATCHING = "matching sessions under way"
    MATCHED = "matched"
    FAILED = "failed"


class SessionState(Enum):
    """One matching session of the charger (one PEV MAC and RunID); several may run at once."""

    WAIT_START_ATTEN = "wait CM_START_ATTEN_CHAR.IND"
    SOUNDING = "sounding window open"
    WAIT_ATTEN_CHAR_RSP = "wait CM_ATTEN_CHAR.RSP"
    WAIT_MATCH = "wait CM_VALIDATE.REQ / CM_SLAC_MATCH.REQ"
    VALIDATING = "counting BCB toggles"


class PevState(Enum):
    IDLE = "idle"
    WAIT_PARM_CNF = "collect CM_SLAC_PARM.CNF"
    SOUNDING = "sending M-sounds"
    WAIT_ATTEN_CHAR = "collect CM_ATTEN_CHAR.IND"
    VALIDATE_READY = "wait first CM_VALIDATE.CNF"
    VALIDATE_TOGGLE = "toggling, wait second CM_VALIDATE.CNF"
    WAIT_MATCH_CNF = "wait CM_SLAC_MATCH.CNF"
    JOINING = "wait CM_SET_KEY.CNF"
    #: After a failed attempt, TT_matching_rate passes before the next one ([V2G3-A09-124]).
    WAIT_RESTART = "wait TT_matching_rate before the next attempt"
    MATCHED = "matched"
    FAILED = "failed"


_E = EvseState
EVSE_TRANSITIONS: Mapping[EvseState, frozenset[EvseState]] = MappingProxyType({
    _E.IDLE: frozenset({_E.WAIT_PARM_REQ}),
    _E.WAIT_PARM_REQ: frozenset({_E.MATCHING, _E.FAILED, _E.IDLE}),
    _E.MATCHING: frozenset({_E.WAIT_PARM_REQ, _E.MATCHED, _E.FAILED, _E.IDLE}),
    _E.MATCHED: frozenset({_E.MATCHING, _E.WAIT_PARM_REQ, _E.FAILED, _E.IDLE}),
    _E.FAILED: frozenset({_E.WAIT_PARM_REQ, _E.IDLE}),
})

_SESSION_MSGS = frozenset({
    MMType.CM_START_ATTEN_CHAR_IND, MMType.CM_MNBC_SOUND_IND, MMType.CM_ATTEN_PROFILE_IND, MMType.CM_ATTEN_CHAR_RSP,
    MMType.CM_VALIDATE_REQ, MMType.CM_SLAC_MATCH_REQ,
})
EVSE_ACCEPTS: Mapping[EvseState, frozenset[MMType]] = MappingProxyType({
    _E.IDLE: frozenset(),
    _E.WAIT_PARM_REQ: frozenset({MMType.CM_SLAC_PARM_REQ, MMType.CM_SET_KEY_CNF}),
    _E.MATCHING: _SESSION_MSGS | {MMType.CM_SLAC_PARM_REQ, MMType.CM_SET_KEY_CNF},
    # a repeated CM_SLAC_MATCH.REQ means our CNF was lost: answer it again; a CM_SLAC_PARM.REQ from the
    # matched PEV with a new RunID means it lost every CNF and restarted
    _E.MATCHED: frozenset({MMType.CM_SET_KEY_CNF, MMType.CM_SLAC_MATCH_REQ, MMType.CM_SLAC_PARM_REQ}),
    _E.FAILED: frozenset(),
})

_S = SessionState
SESSION_TRANSITIONS: Mapping[SessionState, frozenset[SessionState]] = MappingProxyType({
    _S.WAIT_START_ATTEN: frozenset({_S.SOUNDING}),
    _S.SOUNDING: frozenset({_S.WAIT_ATTEN_CHAR_RSP}),
    _S.WAIT_ATTEN_CHAR_RSP: frozenset({_S.WAIT_MATCH}),
    _S.WAIT_MATCH: frozenset({_S.VALIDATING}),
    _S.VALIDATING: frozenset({_S.WAIT_MATCH}),
})

# The messages each session state acts on (the session is found by the sender's MAC).
SESSION_ACCEPTS: Mapping[SessionState, frozenset[MMType]] = MappingProxyType({
    _S.WAIT_START_ATTEN: frozenset({MMType.CM_SLAC_PARM_REQ, MMType.CM_START_ATTEN_CHAR_IND,
                                    MMType.CM_MNBC_SOUND_IND, MMType.CM_ATTEN_PROFILE_IND}),
    _S.SOUNDING: frozenset({MMType.CM_START_ATTEN_CHAR_IND, MMType.CM_MNBC_SOUND_IND,
                            MMType.CM_ATTEN_PROFILE_IND}),
    # CM_SLAC_MATCH.REQ here: the PEV got our IND but its RSP was lost; it moves on and so do we.
    _S.WAIT_ATTEN_CHAR_RSP: frozenset({MMType.CM_ATTEN_CHAR_RSP, MMType.CM_VALIDATE_REQ, MMType.CM_SLAC_MATCH_REQ}),
    _S.WAIT_MATCH: frozenset({MMType.CM_ATTEN_CHAR_RSP, MMType.CM_VALIDATE_REQ, MMType.CM_SLAC_MATCH_REQ}),
    _S.VALIDATING: frozenset({MMType.CM_VALIDATE_REQ}),
})

_P = PevState
# every running state may end its attempt (WAIT_RESTART), give up (FAILED) or be stopped (IDLE)
_END = frozenset({_P.WAIT_RESTART, _P.FAILED, _P.IDLE})
PEV_TRANSITIONS: Mapping[PevState, frozenset[PevState]] = MappingProxyType({
    _P.IDLE: frozenset({_P.WAIT_PARM_CNF}),
    _P.WAIT_PARM_CNF: _END | {_P.WAIT_PARM_CNF, _P.SOUNDING},
    _P.SOUNDING: _END | {_P.WAIT_ATTEN_CHAR, _P.VALIDATE_READY, _P.WAIT_MATCH_CNF},
    _P.WAIT_ATTEN_CHAR: _END | {_P.VALIDATE_READY, _P.WAIT_MATCH_CNF},
    _P.VALIDATE_READY: _END | {_P.VALIDATE_READY, _P.VALIDATE_TOGGLE, _P.WAIT_MATCH_CNF},
    _P.VALIDATE_TOGGLE: _END | {_P.VALIDATE_READY, _P.WAIT_MATCH_CNF},
    _P.WAIT_MATCH_CNF: _END | {_P.VALIDATE_READY, _P.WAIT_MATCH_CNF, _P.JOINING},
    _P.JOINING: _END | {_P.MATCHED},
    _P.WAIT_RESTART: frozenset({_P.WAIT_PARM_CNF, _P.IDLE}),
    _P.MATCHED: frozenset({_P.WAIT_PARM_CNF, _P.IDLE}),
    _P.FAILED: frozenset({_P.WAIT_PARM_CNF, _P.IDLE}),
})

# CM_ATTEN_CHAR.IND is answered in every active state: an EVSE repeats it when our RSP was lost.
_IND = frozenset({MMType.CM_ATTEN_CHAR_IND})
PEV_ACCEPTS: Mapping[PevState, frozenset[MMType]] = MappingProxyType({
    _P.IDLE: frozenset(),
    _P.WAIT_PARM_CNF: frozenset({MMType.CM_SLAC_PARM_CNF}),
    _P.SOUNDING: _IND | {MMType.CM_SLAC_PARM_CNF},
    _P.WAIT_ATTEN_CHAR: _IND | {MMType.CM_SLAC_PARM_CNF},
    _P.VALIDATE_READY: _IND | {MMType.CM_VALIDATE_CNF},
    _P.VALIDATE_TOGGLE: _IND | {MMType.CM_VALIDATE_CNF},
    _P.WAIT_MATCH_CNF: _IND | {MMType.CM_SLAC_MATCH_CNF},
    _P.JOINING: _IND | {MMType.CM_SET_KEY_CNF},
    _P.WAIT_RESTART: frozenset(),
    _P.MATCHED: _IND,
    _P.FAILED: frozenset(),
})
