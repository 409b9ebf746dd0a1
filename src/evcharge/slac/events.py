"""Commands the application gives a SLAC machine, and events the machine reports back."""

from __future__ import annotations

from dataclasses import dataclass


# ---------------------------------------------------------------- commands (application -> machine)
@dataclass(frozen=True, slots=True, kw_only=True)
class SlacCommand:
    """Base class of the commands the application gives a machine with ``send(command, now)``."""


@dataclass(frozen=True, slots=True, kw_only=True)
class StartMatching(SlacCommand):
    """Begin SLAC: the EVSE when its control pilot shows state B with 5 % duty, the PEV when it sees that."""


@dataclass(frozen=True, slots=True, kw_only=True)
class StopMatching(SlacCommand):
    """Abandon SLAC (the cable was unplugged): the machine returns to idle, all timers stop."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ReportToggles(SlacCommand):
    """EVSE only: the number of BCB toggles counted on the control pilot during validation."""

    count: int


# ---------------------------------------------------------------- events (machine -> application)
@dataclass(frozen=True, slots=True, kw_only=True)
class SlacEvent:
    """Base class of the events a machine reports through ``next_event()``."""


@dataclass(frozen=True, slots=True, kw_only=True)
class KeySet(SlacEvent):
    """The local modem confirmed CM_SET_KEY: it now uses this NID / NMK."""

    nid: bytes
    result: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Matched(SlacEvent):
    """SLAC finished: both sides are in the same logical network.

    ``peer_mac`` is the other side's host MAC; ``attenuation_db`` the averaged attenuation the PEV
    chose by (on the EVSE side: what it measured); ``elapsed`` the seconds since ``StartMatching``.
    """

    nid: bytes
    nmk: bytes
    peer_mac: bytes
    run_id: bytes
    attenuation_db: float
    sounds: int
    elapsed: float
    #: On the PEV every charger that sent CM_ATTEN_CHAR.IND, on the EVSE every PEV it measured in this
    #: matching period (crosstalk included) -- as (MAC, average attenuation dB), lowest attenuation first.
    candidates: tuple[tuple[bytes, float], ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class MatchingFailed(SlacEvent):
    """One matching attempt failed; the machine goes on (the EVSE waits for a new request, the PEV retries)."""

    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class SlacFailed(SlacEvent):
    """SLAC gave up for good (state FAILED); the application decides (e.g. state E/F for T_step_EF, retry)."""

    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class FrameIgnored(SlacEvent):
    """A frame was dropped without an answer, as ISO 15118-3 asks for frames that do not fit."""

    reason: str
    mmtype: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ValidationRequested(SlacEvent):
    """EVSE: count BCB toggles on the control pilot for ``duration`` seconds, then send ``ReportToggles``."""

    pev_mac: bytes
    duration: float


@dataclass(frozen=True, slots=True, kw_only=True)
class ToggleRequested(SlacEvent):
    """PEV: toggle S2 (state B <-> C) ``count`` times within ``duration`` seconds, starting now."""

    count: int
    duration: float
