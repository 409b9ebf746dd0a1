"""The scenarios: a timeline of what the driver, the car and the operator do, as a pure object.

:class:`Script` looks at the session's :class:`Status` each step and answers with the actions that are due
(plug in, present the card, send a charging profile, cut the network...); the runner carries them out.  Times
are simulated seconds.  The charging phase is measured from the moment energy first flows.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = [
    "Action", "AuthMode", "ClearRcd", "CutLink", "Finish", "InjectRcd", "PlugIn", "PresentCard", "RemoteStart",
    "RemoveCard", "RestoreLink", "Scenario", "Script", "ScriptConfig", "SendLimit", "Status", "StopCharging",
    "Unplug",
]


class Scenario(enum.StrEnum):
    """What happens during the session."""

    NORMAL = "normal"  #: charge, the car stops (duration or state of charge reached), unplug
    LIMIT_CHANGE = "limit-change"  #: the CSMS lowers the limit with a charging profile a third of the way in
    UNPLUG = "unplug-mid-session"  #: the cable is pulled while charging
    RCD_FAULT = "rcd-fault"  #: residual current trips the RCD while charging
    OFFLINE = "offline"  #: the CSMS connection drops for a while and comes back


class AuthMode(enum.StrEnum):
    """How the session is authorized."""

    RFID = "rfid"  #: a card on the simulated PN532 reader
    REMOTE = "remote"  #: the CSMS starts it remotely


@dataclass(frozen=True, slots=True)
class PlugIn:
    """The driver plugs the cable in."""


@dataclass(frozen=True, slots=True)
class Unplug:
    """The driver pulls the cable."""


@dataclass(frozen=True, slots=True)
class StopCharging:
    """The car stops charging by itself (C -> B)."""


@dataclass(frozen=True, slots=True)
class PresentCard:
    """The driver holds the card to the reader."""

    uid: bytes


@dataclass(frozen=True, slots=True)
class RemoveCard:
    """The card leaves the reader's field."""


@dataclass(frozen=True, slots=True)
class RemoteStart:
    """The operator starts the session from the CSMS."""

    token: str


@dataclass(frozen=True, slots=True)
class SendLimit:
    """The operator sends a charging profile limiting the current (A per phase)."""

    amps: float


@dataclass(frozen=True, slots=True)
class InjectRcd:
    """A residual current of ``milliamps`` flows (an insulation fault)."""

    milliamps: float


@dataclass(frozen=True, slots=True)
class ClearRcd:
    """The residual current is gone."""


@dataclass(frozen=True, slots=True)
class CutLink:
    """The network between the station and the CSMS fails."""


@dataclass(frozen=True, slots=True)
class RestoreLink:
    """The network is back."""


@dataclass(frozen=True, slots=True)
class Finish:
    """The session is over (``reason`` says why when it is not the expected end)."""

    reason: str = ""


Action = (PlugIn | Unplug | StopCharging | PresentCard | RemoveCard | RemoteStart | SendLimit | InjectRcd | ClearRcd
          | CutLink | RestoreLink | Finish)


@dataclass(frozen=True, slots=True)
class Status:
    """What the script may look at."""

    now: float
    soc: float  #: the car's state of charge, %
    flowing: bool  #: energy flows now
    plugged_in: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class ScriptConfig:
    """The timeline's settings."""

    scenario: Scenario = Scenario.NORMAL
    auth: AuthMode = AuthMode.RFID
    duration: float = 1200.0  #: charging time, s
    until_soc: float | None = None  #: stop charging at this state of charge, %
    plug_at: float = 2.0  #: when the driver plugs in, s
    card_uid: bytes = bytes.fromhex("04A2B3C4D5E680")
    limit_amps: float = 10.0  #: the limit-change scenario's profile, A
    rcd_milliamps: float = 40.0  #: the rcd-fault scenario's residual current (trips at 30 mA AC)
    start_timeout: float = 120.0  #: energy must flow within this after plugging in, s
    linger: float = 5.0  #: pause between the car stopping, the unplugging and the end, s


class Script:
    """The timeline of one scenario (see the module docstring)."""

    def __init__(self, config: ScriptConfig) -> None:
        self.config = config
        self._done: set[str] = set()
        self.charging_since: float | None = None  #: when energy first flowed
        self._stopped_at: float | None = None
        self._unplugged_at: float | None = None

    def _once(self, name: str, due: bool) -> bool:
        if due and name not in self._done:
            self._done.add(name)
            return True
        return False

    def step(self, s: Status) -> list[Action]:
        """The actions due at ``s.now``."""
        c, now = self.config, s.now
        out: list[Action] = []
        if self._once("plug", now >= c.plug_at):
            out.append(PlugIn())
        if c.auth is AuthMode.RFID:
            if self._once("card", now >= c.plug_at + 3.0):
                out.append(PresentCard(c.card_uid))
            if self._once("card off", now >= c.plug_at + 5.0):
                out.append(RemoveCard())
        elif self._once("remote", now >= c.plug_at + 3.0):
            out.append(RemoteStart(c.card_uid.hex().upper()))
        if self.charging_since is None:
            if s.flowing:
                self.charging_since = now
            elif self._once("timeout", now >= c.plug_at + c.start_timeout):
                out.append(Finish(f"no energy flowed within {c.start_timeout:.0f} s of plugging in"))
            return out
        into = now - self.charging_since
        sc = c.scenario
        if sc is Scenario.LIMIT_CHANGE and self._once("limit", into >= c.duration / 3):
            out.append(SendLimit(c.limit_amps))
        if sc is Scenario.OFFLINE:
            if self._once("cut", into >= c.duration * 0.25):
                out.append(CutLink())
            if self._once("restore", into >= c.duration * 0.6):
                out.append(RestoreLink())
        if sc is Scenario.UNPLUG and self._once("unplug", into >= c.duration / 2):
            out.append(Unplug())
            self._unplugged_at = now
        if sc is Scenario.RCD_FAULT:
            if self._once("rcd", into >= c.duration / 2):
                out.append(InjectRcd(c.rcd_milliamps))
                self._stopped_at = now
        elif sc is not Scenario.UNPLUG:
            reached = c.until_soc is not None and s.soc >= c.until_soc
            if self._once("stop", into >= c.duration or reached):
                out.append(StopCharging())
                self._stopped_at = now
        if self._stopped_at is not None and self._once("unplug", now >= self._stopped_at + c.linger):
            if sc is Scenario.RCD_FAULT:
                out.append(ClearRcd())
            out.append(Unplug())
            self._unplugged_at = now
        if self._unplugged_at is not None and self._once("finish", now >= self._unplugged_at + c.linger):
            out.append(Finish())
        return out
