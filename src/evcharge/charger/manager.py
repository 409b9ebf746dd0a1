"""The EVSE manager: one sans-I/O coordinator joining the parts of one EVSE.

::

    board (bsp.BoardSupport) <--> pilot (iec61851.Charger) --5 %--> SLAC (slac.EvseSlac) --match-->
    V2G (iso15118.SeccSession + the DIN / ISO 15118-2 engine) --events--> this manager --StationInput--> OCPP
    DC power supply + isolation monitor (charger.power)  <--  this manager  <--  CSMS commands

The transport (or a simulation) moves the bytes of each wire: SLAC frames in and out of :attr:`slac`,
the V2G TCP stream in and out of :attr:`secc` (made by :meth:`connection_made`), board bytes through the
board's own core. After feeding any of them it calls :meth:`update`; it calls :meth:`handle_timer` when
:meth:`get_timer` says. The manager never performs I/O and writes no OCPP message: what the charge point must
know goes out as protocol-neutral inputs of the charge-point core
(:class:`~evcharge.charger.events.StationInput` wrapping a :mod:`evcharge.ocpp.functions.application` command, and
:class:`~evcharge.charger.events.MeterUpdate`), and the core's decisions come back as commands (``AuthorizationDone``,
``CallResult``, ``StopTransaction``, ``ChargingAllowed``, ``SetAvailability``). The core and the transaction manager
write the OCPP 1.6 or 2.0.1 messages (StatusNotification, Authorize, the transaction messages with their ids,
sequence numbers and triggers, NotifyEvent) and the offline queue carries them.

What the manager decides:

* authorization: an RFID token (the core's card flow), a remote start (the core's), or Plug & Charge (the
  contract's eMAID and its certificate hash data to the core); the SECC answers Ongoing until the verdict;
* limits: NotifyEVChargingNeeds to the CSMS when the car states its needs; the CSMS's SetChargingProfile
  becomes the SECC's limits and SAScheduleList (DC), a renegotiation (ISO 15118-2) when it comes later, or
  the PWM current (AC basic charging);
* the DC power path: isolation test at CableCheck, PreCharge to the car's voltage at most 2 A, the charge
  loop's setpoints within the limits, off at PowerDelivery(Stop);
* basic AC charging (``energy`` ``"ac"``, ``pilot.mode`` BASIC: IEC 61851-1 without SLAC): no PWM until the
  charge-point core allows charging (``ChargingAllowed``, or ``free_charging``), then the PWM at the present limit
  (:class:`~evcharge.charger.events.SetAcCurrentLimit` from the station's smart charging, and the profiles if any;
  X1 below 6 A), X1 again when the core withdraws it or the cable comes out; the core hears the contactor closed
  and the energy Charging / SuspendedEV / SuspendedEVSE from the meter; an RCD or over-current trip is a fault
  (below) that the core hears cleared after F's minimum time, the PWM waiting for the board's ErrorCleared; a
  fault on the vehicle's side of the pilot is reported as one (``ev_side``) until the unplug;
* faults (RCD, isolation, over-voltage, pilot): power off at the instant the fault is seen (DC output off,
  contactors open, pilot F), the fault to the core (which ends the transaction with the fault's stopped reason and
  reports Faulted and, in 2.x, a NotifyEvent), and the SECC told (isolation Fault / EVSE emergency shutdown).
"""

from __future__ import annotations

import base64
import random
from collections import deque
from collections.abc import Mapping
from enum import Enum
from typing import Any

from evcharge.bsp.adapters import PilotBoardAdapter
from evcharge.bsp.events import (
    BoardErrorKind,
    ErrorCleared,
    ErrorRaised,
    PilotState,
    PilotStateChanged,
    PowerReason,
    RelaysClosed,
    RelaysOpened,
)
from evcharge.bsp.interface import BoardSupport
from evcharge.clock import WallClock
from evcharge.errors import LocalProtocolError
from evcharge.iec61851 import Charger, ChargingMode, CPState, PilotFault, PilotOutput, apply_actions
from evcharge.iec61851 import events as pe
from evcharge.iso15118.engines import events as ev
from evcharge.iso15118.engines import secc_engines
from evcharge.iso15118.handover import AppProtocol, EngineFactory, TlsInfo
from evcharge.iso15118.session import SeccSession, SessionClosed
from evcharge.ocpp.functions import application as cp
from evcharge.slac.events import Matched, MatchingFailed, SlacFailed, StartMatching, StopMatching
from evcharge.slac.evse import EvseSlac

from .config import EvseManagerConfig
from .events import (
    EnableEvse,
    FaultDetected,
    FaultKind,
    IdTokenPresented,
    ManagerCommand,
    ManagerEvent,
    MeterUpdate,
    PowerSwitched,
    SessionFinished,
    SetAcCurrentLimit,
    SetChargingProfile,
    SetPowerSetpoint,
    StationInput,
    V2gLinkReady,
)
from .power import (
    AcMeter,
    DcOutputOff,
    DcPowerSupply,
    IsolationMeasured,
    IsolationMonitor,
    OverVoltage,
    SetDcOutput,
    StartIsolationCheck,
    StopIsolationCheck,
)
from .schedule import composite_limit, periods

__all__ = ["TRANSITIONS", "EvseManager", "ManagerState"]


class ManagerState(Enum):
    UNAVAILABLE = "unavailable"  #: disabled (ChangeAvailability Inoperative)
    AVAILABLE = "available"  #: no car
    PLUGGED = "plugged"  #: a car in B, before SLAC (or basic charging)
    SLAC = "slac"  #: 5 % duty cycle, matching
    V2G = "v2g"  #: matched; the V2G session runs up to the power path
    CABLE_CHECK = "cable_check"
    PRE_CHARGE = "pre_charge"
    CHARGING = "charging"
    STOPPING = "stopping"  #: PowerDelivery(Stop) / welding detection / session stop
    FINISHED = "finished"  #: the session is over, the car still plugged
    FAULTED = "faulted"


S = ManagerState
_PLUGGED_STATES = (S.PLUGGED, S.SLAC, S.V2G, S.CABLE_CHECK, S.PRE_CHARGE, S.CHARGING, S.STOPPING, S.FINISHED)

#: (state, trigger) -> next state. Triggers not in the table for the present state change nothing.
TRANSITIONS: dict[tuple[ManagerState, str], ManagerState] = {
    (S.AVAILABLE, "plug_in"): S.PLUGGED,
    (S.AVAILABLE, "disable"): S.UNAVAILABLE,
    (S.UNAVAILABLE, "enable"): S.AVAILABLE,
    (S.PLUGGED, "slac_start"): S.SLAC,
    (S.SLAC, "matched"): S.V2G,
    (S.SLAC, "slac_failed"): S.PLUGGED,
    (S.PLUGGED, "power_on"): S.CHARGING,  # AC basic charging
    (S.V2G, "cable_check"): S.CABLE_CHECK,
    (S.CABLE_CHECK, "pre_charge"): S.PRE_CHARGE,
    (S.PRE_CHARGE, "power_on"): S.CHARGING,
    (S.V2G, "power_on"): S.CHARGING,  # AC, or DC after a renegotiation that skips CableCheck
    (S.CHARGING, "power_off"): S.STOPPING,
    (S.STOPPING, "power_on"): S.CHARGING,  # renegotiated
    (S.STOPPING, "session_end"): S.FINISHED,
    (S.V2G, "session_end"): S.FINISHED,
    (S.CABLE_CHECK, "session_end"): S.FINISHED,
    (S.PRE_CHARGE, "session_end"): S.FINISHED,
    (S.CHARGING, "session_end"): S.FINISHED,
    (S.FINISHED, "matched"): S.V2G,  # a paused session comes back
    (S.FINISHED, "slac_start"): S.SLAC,
    **{(state, "unplug"): S.AVAILABLE for state in _PLUGGED_STATES},
    **{(state, "fault"): S.FAULTED for state in (*_PLUGGED_STATES, S.AVAILABLE)},
    (S.FAULTED, "unplug"): S.AVAILABLE,
}

_BOARD_FAULTS = {
    BoardErrorKind.RCD_TRIGGERED: FaultKind.RCD,
    BoardErrorKind.RCD_SELFTEST_FAILED: FaultKind.RCD,
    BoardErrorKind.OVER_CURRENT: FaultKind.OVER_CURRENT,
    BoardErrorKind.CONTACTOR_FAULT: FaultKind.CONTACTOR,
    BoardErrorKind.DIODE_FAULT: FaultKind.PILOT,
    BoardErrorKind.PILOT_FAULT: FaultKind.PILOT,
}


class EvseManager:
    """One EVSE: pilot, board, SLAC, SECC, DC power path and the OCPP side (see the module documentation).

    ``engines`` maps each V2G protocol to its SECC engine factory (default: DIN 70121 and ISO 15118-2 with an
    engine configuration derived from ``config``). ``power`` and ``imd`` are needed for DC; ``meter`` (an
    :class:`~evcharge.charger.power.AcMeter`) meters an AC session.
    """

    # the session's state (reset at every unplug)
    _authorized: bool | None
    _soc: int | None
    _ev_max_voltage: float | None
    _ev_limits: ev.EvLimits | None
    _protocol: str | None
    _stop_reason: str | None
    _paused_session: bytes | None
    _fault: FaultKind | None
    _charge_started_at: float | None
    _ev_limits20: Any
    _dynamic: bool


    def __init__(
        self,
        config: EvseManagerConfig,
        *,
        board: BoardSupport,
        clock: WallClock,
        rng: random.Random,
        now: float,
        power: DcPowerSupply | None = None,
        imd: IsolationMonitor | None = None,
        meter: AcMeter | None = None,
        engines: Mapping[AppProtocol, EngineFactory] | None = None,
        slac_mac: bytes = b"\x02\x00\x00\x00\x00\x0a",
    ) -> None:
        if config.energy != "ac" and (power is None or imd is None):
            raise LocalProtocolError("a DC EVSE needs a power supply and an isolation monitor")
        self.config = config
        self.board = board
        self.clock = clock
        self.power = power
        self.imd = imd
        self.meter = meter
        self._rng = rng
        self.pilot = Charger(config.pilot, now=now)
        self._adapter = PilotBoardAdapter(board, now=now)
        self.slac = EvseSlac(config.slac, mac=slac_mac, rng=rng)
        self.secc: SeccSession | None = None
        self.engine_config = config.secc.__class__(
            **{
                **{f: getattr(config.secc, f) for f in config.secc.__dataclass_fields__},
                "energy_modes": config.energy_modes,
                "payments": config.payments,
                "dc_limits": None,
                "ac_limits": None,
                "auto_authorize": False,
            }
        )
        if engines is None:
            # one mapping for DIN 70121 (DC only), ISO 15118-2 and ISO 15118-20 (DC / DC_BPT here)
            engines = secc_engines(self.engine_config, self._iso20_config())
        self.engines: dict[AppProtocol, EngineFactory] = dict(engines)
        self._state = S.AVAILABLE
        self._events: deque[ManagerEvent] = deque()
        self._ref = 0
        self._pending: dict[str, str] = {}  # the refs of the core's answers awaited -> the action
        self.history: list[tuple[float, str, str]] = []  #: (now, trigger, new state)
        # the session
        self._reset_session()
        self.energy_wh = 0.0  #: delivered to the car in this transaction (Wh)
        self.energy_returned_wh = 0.0  #: returned by the car (DC_BPT discharging) in this transaction (Wh)
        self._metered_at = now
        self._meter_at: float | None = None
        self._profile_deadline: float | None = None
        self._profiles: dict[int, dict[str, Any]] = {}
        self._clear_at: float | None = None
        self.faults: list[FaultDetected] = []
        self._enabled = True  # the EVSE takes sessions (EnableEvse, the core's SetAvailability)
        self._setpoint: float | None = None  # the site's power setpoint for -20 dynamic mode (SetPowerSetpoint)
        # basic AC charging (IEC 61851-1 without HLC): what the PWM and the energy state follow
        self._basic = config.energy == "ac" and config.pilot.mode is ChargingMode.BASIC
        self._core_allowed = False  # the charge-point core's last ChargingAllowed for this EVSE
        self._limit_a = config.ac_max_current  # the station's present limit per phase (SetAcCurrentLimit)
        self._relays = False  # the board reported its relays closed
        self._flowing = False  # told the core the energy flows (EnergyStateChanged Charging)
        self._trips: set[BoardErrorKind] = set()  # board trips not yet reported cleared (ErrorCleared)
        self._ev_fault = False  # told the core of a vehicle-side pilot fault
        self._apply_pilot(now)

    def _iso20_config(self) -> Any:
        """The ISO 15118-20 DC SECC's configuration (scheduled and dynamic mode; BPT when ``energy`` is
        ``dc-bpt``)."""
        from evcharge.iso15118.engines.iso20 import EnergyService, Iso20SeccConfig

        services = {"dc-bpt": (EnergyService.DC, EnergyService.DC_BPT), "ac": (EnergyService.AC,)}.get(
            self.config.energy, (EnergyService.DC,))
        cfg = Iso20SeccConfig(evse_id=self.config.secc.evse_id, services=services, payments=self.config.payments,
                              limits=self._power_limits(None), schedules=None, clock=self.clock,
                              trace=self.config.secc.trace, pnc=self.config.iso20_pnc)
        return cfg

    def _power_limits(self, now: float | None) -> Any:
        from evcharge.iso15118.engines.iso20 import PowerLimits

        if self.config.energy == "ac":  # -20 AC: the power over all phases (currents and voltages are DC only)
            watts = self.config.ac_voltage * self.config.ac_max_current * self.config.ac_phases
            limit = None if now is None else self._limit_now(now)
            return PowerLimits(max_charge_power=watts if limit is None else min(watts, limit))
        lim = self.config.dc_limits if now is None else self._dc_limits(now)
        bpt = self.config.energy == "dc-bpt"
        return PowerLimits(max_charge_power=lim.max_power, max_charge_current=lim.max_current,
                           max_voltage=lim.max_voltage, min_voltage=lim.min_voltage,
                           max_discharge_power=lim.max_power if bpt else None,
                           max_discharge_current=lim.max_current if bpt else None)

    # -- public surface ------------------------------------------------------------------------

    @property
    def state(self) -> ManagerState:
        return self._state

    @property
    def soc(self) -> int | None:
        return self._soc

    @property
    def awaiting_csms(self) -> bool:
        """Whether a decision of the charge point (the CSMS) is awaited now.

        That is the verdict on an identifier, the answer to a call, or the profile after NotifyEVChargingNeeds."""
        return bool(self._pending) or self._card_pending or self._profile_deadline is not None

    def send(self, command: ManagerCommand, now: float) -> None:
        """A command of the station's application or a decision of the charge-point core (see
        :mod:`evcharge.charger.events`); the core's decisions for other EVSEs are ignored."""
        if isinstance(command, cp.AuthorizationDone | cp.CallResult | cp.StopTransaction | cp.ChargingAllowed
                      | cp.SetAvailability):
            self._from_core(command, now)
        elif isinstance(command, IdTokenPresented):
            self._card_pending = True  # (a card that ends the session gets no verdict: the session's end clears it)
            self._input(cp.CardPresented(evse_id=self.config.evse_id, token=self._token(command.id_token,
                                                                                        command.type)))
        elif isinstance(command, SetChargingProfile):
            self._profiles[int(command.profile.get("id", 0))] = command.profile
            self._limits_changed(now)
        elif isinstance(command, SetPowerSetpoint):
            self._setpoint = command.watts  # taken in the next dynamic-mode charge loop
        elif isinstance(command, SetAcCurrentLimit):
            if not self._basic:
                raise LocalProtocolError("SetAcCurrentLimit is for basic AC charging (energy 'ac', pilot mode BASIC); "
                                         "with high-level communication send SetChargingProfile")
            self._limit_a = command.amps
        elif isinstance(command, EnableEvse):
            self._enabled = command.enabled
            if command.enabled:
                self.pilot.send(pe.Enable(), now)
                self._go("enable", now)
            elif self._state in (S.AVAILABLE, S.UNAVAILABLE):
                self.pilot.send(pe.Disable(), now)
                self._go("disable", now)
            # (with a car plugged in: once it is unplugged -- a disabled pilot would no longer see the unplug)
        else:
            raise LocalProtocolError(f"the EVSE manager does not take {type(command).__name__}")
        self.update(now)

    def next_event(self) -> ManagerEvent | None:
        return self._events.popleft() if self._events else None

    def connection_made(self, now: float, *, tls: TlsInfo | None = None, extra: Mapping[str, Any] | None = None
                        ) -> SeccSession:
        """The car opened the V2G TCP (or TLS) connection: the session core for the transport to feed."""
        self.secc = SeccSession(self.config.session, self.engines, now=now, tls=tls,
                                resume_session_id=self._paused_session, extra=extra)
        if self._state is S.FINISHED:
            self._go("matched", now)  # the link is still up: a paused session comes back
        return self.secc

    def connection_lost(self, now: float) -> None:
        if self.secc is not None:
            self.secc.connection_lost(now)
        self.update(now)

    def get_timer(self) -> float | None:
        parts = [self.pilot.get_timer(), self.slac.get_timer(), self._meter_at, self._profile_deadline, self._clear_at]
        if self.secc is not None:
            parts.append(self.secc.get_timer())
        for part in (self.power, self.imd):
            if part is not None:
                parts.append(part.get_timer())
        timers = [t for t in parts if t is not None]
        return min(timers) if timers else None

    def handle_timer(self, now: float) -> None:
        for part in (self.pilot, self.slac, self.power, self.imd, self.secc):
            if part is not None:
                timer = part.get_timer()
                if timer is not None and timer <= now:
                    part.handle_timer(now)
        if self._profile_deadline is not None and now >= self._profile_deadline:
            self._profile_deadline = None
            self._push_limits(now)  # no profile came: the charger's own limits
        if self._clear_at is not None and now >= self._clear_at:
            # F has been shown for its minimum time: X1 (paused) until the car is unplugged, so the pilot
            # sees the unplug and no new session starts on the faulty cable
            self._clear_at = None
            for command in (pe.ClearFault(), pe.Pause()):
                try:
                    self.pilot.send(command, now)
                except LocalProtocolError:
                    pass
        if self._meter_at is not None and now >= self._meter_at:
            self._meter_at = now + self.config.meter_interval
            self._meter_update(now)
        self.update(now)

    def update(self, now: float) -> None:
        """Take in what every part has to say at ``now`` and react, until nothing changes."""
        for _ in range(1000):
            moved = False
            self._integrate(now)
            if self._basic:
                self._basic_pwm(now)
                moved |= self._basic_energy(now)
            self._apply_pilot(now)
            while (bev := self.board.next_event()) is not None:
                moved = True
                self._on_board(bev, now)
            while (cev := self.pilot.next_event()) is not None:
                moved = True
                self._on_pilot(cev, now)
            while (sev := self.slac.next_event()) is not None:
                moved = True
                self._on_slac(sev, now)
            if self.power is not None:
                while (pev := self.power.next_event()) is not None:
                    moved = True
                    self._on_power(pev, now)
            if self.imd is not None:
                while (iev := self.imd.next_event()) is not None:
                    moved = True
                    self._on_isolation(iev, now)
            if self.secc is not None:
                while (vev := self.secc.next_event()) is not None:
                    moved = True
                    self._on_v2g(vev, now)
            if not moved:
                return
        raise RuntimeError("the EVSE manager did not settle")  # pragma: no cover - a bug

    # -- internals: plumbing ---------------------------------------------------------------------

    def _reset_session(self) -> None:
        self._authorized = True if self.config.free_charging else None
        self._card_pending = False  # a card is with the core (its verdict comes without a ref)
        self._soc = None
        self._ev_max_voltage = None
        self._ev_limits = None
        self._protocol = None
        self._stop_reason = None
        self._finished = False
        self._path_closed = False  # told the core the contactors closed
        self._paused_session = None
        self._authorize_asked = False
        self._limits_pushed = False
        self._fault = None
        self._charge_started_at = None
        self._ev_limits20 = None
        self._dynamic = False  #: ISO 15118-20 dynamic control mode: the charger steers in the charge loop
        self._target = (0.0, 0.0)
        self._output_on = False
        self._channel: bool | None = None  # -20 BPT: discharging chosen in PowerDelivery(Start)

    def _go(self, trigger: str, now: float) -> bool:
        nxt = TRANSITIONS.get((self._state, trigger))
        if nxt is None:
            return False
        self._state = nxt
        self.history.append((now, trigger, nxt.value))
        return True

    def _input(self, command: cp.AppCommand) -> None:
        self._events.append(StationInput(command=command))

    def _await(self, action: str) -> str:
        """A new ref for an answer of the core the manager waits for (``action``: what it answers)."""
        self._ref += 1
        ref = f"evse{self.config.evse_id}-{self._ref}"
        self._pending[ref] = action
        return ref

    def _request(self, action: str, payload: dict[str, Any], *, answering: str | None = None) -> None:
        """A call the core only carries (NotifyEVChargingNeeds, Get15118EVCertificate; ``answering``: the action the
        answer is read as, when the call carries another one, as 1.6 DataTransfer does): its answer comes back as
        ``CallResult`` with the same ref."""
        ref = self._await(answering or action)
        self._input(cp.RequestCall(action=action, payload=payload, ref=ref))

    def _token(self, id_token: str, kind: str) -> Any:
        """An identifier in the shape of the charge point's OCPP version (1.6 idTag, 2.x IdTokenType)."""
        return id_token if self.config.ocpp_version == "1.6" else {"idToken": id_token, "type": kind}

    def _meter_update(self, now: float) -> None:
        self._integrate(now)
        self._events.append(MeterUpdate(evse_id=self.config.evse_id, readings=self._readings()))

    def _finish(self, reason: str) -> None:
        """The charging session is over (once per plug-in): the application hears it."""
        if self._finished:
            return
        self._finished = True
        self._events.append(SessionFinished(stopped_reason=reason, energy_wh=round(self.energy_wh, 3),
                                            energy_returned_wh=round(self.energy_returned_wh, 3)))

    def _apply_pilot(self, now: float) -> None:
        actions = self.pilot.actions()
        if actions:
            self._adapter.now = now
            dc_reason = PowerReason.DC_CABLE_CHECK if self._state is S.CABLE_CHECK else PowerReason.FULL_POWER_CHARGING
            self._adapter.reason = dc_reason
            apply_actions(actions, self._adapter, phases=self.pilot.phases)

    def _secc_send(self, command: Any, now: float) -> None:
        if self.secc is None or self.secc.engine is None:
            return
        try:
            self.secc.send(command, now)
        except LocalProtocolError:
            pass  # the engine has ended: nothing to tell it any more

    # -- OCPP ------------------------------------------------------------------------------------

    def _from_core(self, event: Any, now: float) -> None:
        """A decision of the charge-point core for this EVSE."""
        evse_id = getattr(event, "evse_id", None)  # (a CallResult is matched by its ref)
        if evse_id is not None and evse_id != self.config.evse_id and not (
                evse_id == 0 and isinstance(event, cp.SetAvailability)):
            return
        if isinstance(event, cp.AuthorizationDone):
            if event.ref is not None and event.ref not in self._pending:
                return  # the verdict on another application's identifier
            if event.ref is None:
                self._card_pending = False
            else:
                del self._pending[event.ref]
            # NoCertificateAvailable: the CSMS has no OCSP answer; the SECC's contract verifier has checked the
            # chain against the MO roots already (the engine answers FAILED_CertChainError otherwise)
            ok = event.accepted and event.certificate_status in (None, "Accepted", "NoCertificateAvailable")
            if event.ref is None and not event.accepted and self._authorized:
                return  # a card refused during the session (not its owner's): the session goes on
            self._authorize(ok, now)
        elif isinstance(event, cp.CallResult):
            action = self._pending.pop(event.ref, None)
            if action == "Get15118EVCertificate":
                response = event.response or {}
                if self.config.ocpp_version == "1.6":  # the 2.0.1 answer in the DataTransfer's data (Accepted)
                    carried = cp.pnc_data(response.get("data")) if response.get("status") == "Accepted" else None
                    response = carried or {}
                self._secc_send(self._certificate_answer(response), now)
            elif action == "NotifyEVChargingNeeds" and event.response is None and self._profile_deadline is not None:
                self._profile_deadline = None  # no CSMS to decide: the charger's own limits
                self._push_limits(now)
        elif isinstance(event, cp.StopTransaction):
            self._stop_reason = event.reason
            if self._basic:
                self._core_allowed = False  # X1 (update reconciles the PWM) until the core allows charging again
            else:
                self._stop_charging(now)
        elif isinstance(event, cp.ChargingAllowed):
            if not event.allowed:
                self._card_pending = False  # a card that ended the session gets no verdict of its own
            if self._basic:
                self._core_allowed = event.allowed  # update reconciles the PWM with it
            elif not event.allowed and self._authorized and self._state in (S.CABLE_CHECK, S.PRE_CHARGE, S.CHARGING):
                self._stop_charging(now)  # the transaction ended meanwhile (a card, deauthorized, unavailable)
        else:  # SetAvailability
            self.send(EnableEvse(enabled=event.operative), now)

    def _stop_charging(self, now: float) -> None:
        """Stop the energy: the car is asked to stop its V2G session (or the PWM pauses in basic charging)."""
        if self.secc is not None and self._state in (S.CHARGING, S.PRE_CHARGE, S.CABLE_CHECK, S.V2G):
            self._secc_send(ev.Notify(action="stop"), now)
        elif self._state is S.CHARGING:
            self.pilot.send(pe.Pause(), now)

    # -- basic AC charging (IEC 61851-1, no high-level communication) ---------------------------

    def _basic_amps(self, now: float) -> float:
        """The current to offer per phase: the station's limit (SetAcCurrentLimit), the profiles' (if any were
        given), the EVSE's and the pilot's maximum."""
        amps = min(self._limit_a, self.config.ac_max_current, self.config.pilot.max_current)
        watts = self._limit_now(now)
        if watts is not None:
            amps = min(amps, watts / (self.config.ac_voltage * self.config.ac_phases))
        return amps

    def _basic_pwm(self, now: float) -> None:
        """Offer the PWM while charging is allowed, X1 otherwise (reconciled at every update).

        Allowed: the charge-point core's ChargingAllowed (an identifier authorized -- a card, a remote start --
        or a transaction running, no fault, the EVSE operative; it is the core's one verdict, so a remote start
        or an authorization the core lets lapse is followed too), or ``free_charging`` with the car plugged in;
        and no fault, no board trip the board has not reported cleared, a limit of at least 6 A (IEC 61851-1: no
        duty cycle below 6 A, 8 % = 5.4 A is not allowed). The duty cycle is the limit (Table A.8); the pilot
        machine applies a change at most once per 5 s."""
        pilot = self.pilot
        amps = self._basic_amps(now)
        if amps >= 6.0 and pilot.current_limit != amps:
            try:
                pilot.send(pe.SetCurrentLimit(amps=amps), now)
            except LocalProtocolError:
                pass  # a state that takes no limit (disabled): the next update tries again
        allowed = self._core_allowed or (self.config.free_charging and self._stop_reason is None
                                         and self._state in _PLUGGED_STATES)
        offer = allowed and amps >= 6.0 and not self._trips and self._fault is None and not self._ev_fault
        try:
            if offer and pilot.paused:
                pilot.send(pe.Resume(), now)
            elif not offer and not pilot.paused:
                pilot.send(pe.Pause(), now)
        except LocalProtocolError:
            pass  # a state that takes neither (F, disabled, a step): it offers no PWM anyway

    def _basic_energy(self, now: float) -> bool:
        """Tell the core whether energy flows, read off the meter: Charging above ``ac_flowing_w`` with the relays
        closed; otherwise SuspendedEV while the PWM is on (the charger offers energy and the car, in B or in C,
        does not take it: OCPP 1.6 section 4.9), else SuspendedEVSE (X1 or F: the charger withdrew it). Returns
        whether it changed."""
        meter = self.meter
        flowing = self._relays and meter is not None and meter.power_w > self.config.ac_flowing_w
        if flowing == self._flowing:
            return False
        self._flowing = flowing
        vehicle = self.pilot.vehicle_state
        if flowing:
            state = "Charging"
        elif vehicle not in (None, CPState.A):
            by_ev = self.pilot.output is PilotOutput.X2 and self._fault is None
            state = "SuspendedEV" if by_ev else "SuspendedEVSE"
        else:
            return True  # unplugged: the core hears Unplugged
        self._meter_update(now)
        self._input(cp.EnergyStateChanged(evse_id=self.config.evse_id, state=state))
        return True

    @property
    def flowing(self) -> bool:
        """Whether energy flows, as last told to the charge-point core (basic AC charging)."""
        return self._flowing

    def _certificate_answer(self, p: Mapping[str, Any]) -> ev.AnswerCertificate:
        """The CSMS's Get15118EVCertificate answer as the SECC's AnswerCertificate (the provider's signed
        CertificateInstallationRes/UpdateRes, decoded with the session's message set)."""
        engine: Any = self.secc.engine if self.secc is not None else None
        if p.get("status") != "Accepted" or not p.get("exiResponse") or engine is None:
            return ev.AnswerCertificate(body=None, response_code="FAILED_NoCertificateAvailable")
        if self._protocol == "iso20":  # -20: the CertificateInstallationRes of the CommonMessages schema
            from evcharge.iso15118.iso20 import common

            try:
                res = common.decode(base64.b64decode(p["exiResponse"], validate=True))
            except Exception:  # an undecodable answer from the CSMS is the car's FAILED, not a crash
                res = None
            if not isinstance(res, common.CertificateInstallationRes):
                return ev.AnswerCertificate(body=None, response_code="FAILED")
            return ev.AnswerCertificate(body=res)
        try:
            message = engine.ms.decode(base64.b64decode(p["exiResponse"], validate=True))
            found = engine.ms.response_of(message.body)
        except Exception:  # an undecodable answer from the CSMS is the car's FAILED, not a crash
            found = None
        if found is None:
            return ev.AnswerCertificate(body=None, response_code="FAILED")
        return ev.AnswerCertificate(body=found[1], signature=message.header.signature)

    def _authorize(self, accepted: bool, now: float) -> None:
        self._authorized = accepted
        self._secc_send(ev.Authorize(accepted=accepted), now)

    def _readings(self) -> dict[str, float]:
        """The meter's present values by OCPP measurand."""
        values: dict[str, float] = {"Energy.Active.Import.Register": round(self.energy_wh, 1)}
        if self.config.energy == "dc-bpt":
            values["Energy.Active.Export.Register"] = round(self.energy_returned_wh, 1)
        if self.power is not None:
            volts, amps = self.power.present_voltage, self.power.present_current
        elif self.meter is not None:
            volts, amps = self.meter.voltage, self.meter.current
        else:
            volts = amps = 0.0
        power = self.meter.power_w if self.power is None and self.meter is not None else volts * amps
        values.update({"Voltage": round(volts, 1), "Current.Import": round(max(amps, 0.0), 1),
                       "Power.Active.Import": round(max(power, 0.0), 1)})
        if self._soc is not None:
            values["SoC"] = float(self._soc)
        return values

    # -- limits ----------------------------------------------------------------------------------

    def _limit_now(self, now: float) -> float | None:
        """The CSMS's composite limit in watts now (None: none)."""
        start = self._charge_started_at if self._charge_started_at is not None else now
        limit = composite_limit(list(self._profiles.values()), now - start)
        if limit is None:
            return None
        if self.config.energy == "ac":
            return limit.watts(self.config.ac_voltage, self.config.ac_phases)
        volts = self.power.present_voltage if self.power is not None and self.power.present_voltage > 0 else (
            self._ev_max_voltage or self.config.dc_limits.max_voltage)
        return limit.watts(volts)

    def _dc_limits(self, now: float) -> ev.DcLimits:
        base = self.config.dc_limits
        watts = self._limit_now(now)
        if watts is None or watts >= base.max_power:
            return base
        return ev.DcLimits(max_voltage=base.max_voltage, max_current=base.max_current, max_power=watts,
                           min_voltage=base.min_voltage, min_current=base.min_current,
                           peak_current_ripple=base.peak_current_ripple)

    def _schedules(self, now: float) -> tuple[ev.Schedule, ...]:
        """The SAScheduleList from the TxProfile (absolute W limits per period), else one at the limit."""
        limits = self._dc_limits(now) if self.config.energy != "ac" else None
        tx = [p for p in self._profiles.values() if p.get("chargingProfilePurpose") == "TxProfile"]
        if tx:
            unit, steps = periods(max(tx, key=lambda p: int(p.get("stackLevel", 0))))
            if self.config.energy == "ac":  # A per phase
                volts = self.config.ac_voltage * self.config.ac_phases
            else:
                volts = self._ev_max_voltage or self.config.dc_limits.max_voltage
            pmax = tuple((start, value if unit == "W" else value * volts) for start, value in steps)
            return (ev.Schedule(tuple_id=1, pmax=pmax),)
        watts = limits.max_power if limits is not None else self.config.ac_voltage * self.config.ac_max_current * 3
        return (ev.Schedule(tuple_id=1, pmax=((0, watts),)),)

    def _push_limits(self, now: float) -> None:
        self._limits_pushed = True
        if self._protocol == "iso20":
            from evcharge.iso15118.engines.iso20.events import PowerSchedule, SetPowerLimits, SetPowerSchedules

            limits = self._power_limits(now)
            self._secc_send(SetPowerLimits(limits=limits), now)
            if self._dynamic and self.config.energy == "ac":  # dynamic AC: EVSETargetActivePower at the limit
                from evcharge.iso15118.engines.iso20.events import SetTargetPower

                self._secc_send(SetTargetPower(watts=limits.max_charge_power), now)
            discharging = None
            if self.config.energy == "dc-bpt":
                discharging = ((86_400, limits.max_discharge_power or 0.0),)
            schedule = PowerSchedule(charging=tuple((86_400 if start == 0 else start, w)
                                                    for start, w in self._schedules(now)[0].pmax[:1]),
                                     discharging=discharging)
            self._secc_send(SetPowerSchedules(schedules=(schedule,)), now)
            return
        if self.config.energy == "ac":
            watts = self._limit_now(now)
            amps = self.config.ac_max_current if watts is None else min(
                self.config.ac_max_current, watts / (self.config.ac_voltage * self.config.ac_phases))
            self._secc_send(ev.SetSchedules(schedules=self._schedules(now)), now)
            self._secc_send(ev.SetAcLimits(limits=ev.AcLimits(nominal_voltage=self.config.ac_voltage,
                                                             max_current=amps)), now)
            return
        self._secc_send(ev.SetSchedules(schedules=self._schedules(now)), now)
        self._secc_send(ev.SetDcLimits(limits=self._dc_limits(now)), now)

    def _limits_changed(self, now: float) -> None:
        if self._profile_deadline is not None:
            self._profile_deadline = None
            self._push_limits(now)
            return
        if self._basic:
            return  # the PWM follows the profiles' limit at every update (_basic_pwm)
        if self.config.energy == "ac" and self.secc is None:
            watts = self._limit_now(now)
            if watts is not None and self._state in _PLUGGED_STATES:
                per_phase = watts / (self.config.ac_voltage * self.config.ac_phases)
                amps = max(6.0, min(self.config.ac_max_current, per_phase))
                self.pilot.send(pe.SetCurrentLimit(amps=amps), now)
            return
        if self._limits_pushed:
            self._push_limits(now)
            if self._state is S.CHARGING and self._protocol not in (None, "din") and not self._dynamic:
                # (-20 dynamic mode: the new limits go in the next ChargeLoopRes, no renegotiation)
                self._secc_send(ev.Notify(action="renegotiate"), now)
            self._meter_update(now)
            self._input(cp.RateChanged(evse_id=self.config.evse_id))

    def _integrate(self, now: float) -> None:
        dt = now - self._metered_at
        watts = None
        if self.power is not None:
            watts = self.power.present_voltage * self.power.present_current
        elif self.meter is not None:
            watts = self.meter.power_w
        if dt > 0 and watts is not None:
            wh = watts * dt / 3600.0
            if wh >= 0:
                self.energy_wh += wh
            else:  # DC_BPT: the car gives energy back
                self.energy_returned_wh -= wh
        self._metered_at = now

    # -- faults ----------------------------------------------------------------------------------

    def _power_off(self, reason: str, now: float) -> None:
        self._output_on = False
        if self.power is not None and (self.power.present_voltage > 0 or self.power.present_current > 0):
            self.power.send(DcOutputOff(), now)
            self._events.append(PowerSwitched(on=False, reason=reason, at=now))
        elif self.power is not None:
            self.power.send(DcOutputOff(), now)

    def _raise_fault(self, kind: FaultKind, detail: str, now: float) -> None:
        if self._fault is not None:
            return
        phase = self._state.value
        self._fault = kind
        self._power_off(f"fault: {kind.value}", now)
        try:
            self.pilot.send(pe.RaiseFault(reason=f"{kind.value}: {detail}"), now)
        except LocalProtocolError:
            pass
        self._apply_pilot(now)
        if self.imd is not None:
            self.imd.send(StopIsolationCheck(), now)
        self._clear_at = now + self.config.pilot.fault_min_time
        fault = FaultDetected(kind=kind, detail=detail, at=now, power_off_at=now, phase=phase)
        self.faults.append(fault)
        self._events.append(fault)
        self._go("fault", now)
        if kind is FaultKind.ISOLATION:
            self._secc_send(ev.SetIsolation(level=ev.Isolation.FAULT), now)
        else:
            self._secc_send(ev.Notify(action="stop"), now)
        self._meter_update(now)
        stop_reason = kind.stopped_reason
        if kind in (FaultKind.RCD, FaultKind.OVER_CURRENT) and self.config.trip_stop_reason is not None:
            stop_reason = self.config.trip_stop_reason
        self._input(cp.FaultRaised(evse_id=self.config.evse_id, error_code=kind.error_code, info=detail,
                                   stop_reason=stop_reason, tech_code=kind.value))
        self._finish(stop_reason)

    # -- the parts' events -------------------------------------------------------------------------

    def _on_board(self, event: Any, now: float) -> None:
        if isinstance(event, PilotStateChanged):
            if event.state is PilotState.F:
                if self.pilot.output.value not in ("E", "F"):
                    self.pilot.receive_cp_state(PilotFault.DIODE, now)
            else:
                self.pilot.receive_cp_state(CPState(event.state.value), now)
        elif isinstance(event, ErrorRaised):
            kind = _BOARD_FAULTS.get(event.kind)
            if self._basic and kind is FaultKind.PILOT:
                kind = None  # basic charging: the pilot machine's own reading says what the vehicle side did
            if kind is not None:
                if self._basic:
                    self._trips.add(event.kind)  # no PWM again until the board reports it cleared
                self._raise_fault(kind, event.detail, now)
        elif isinstance(event, RelaysClosed):
            self._events.append(PowerSwitched(on=True, reason="contactors closed", at=now))
            if self._basic:
                self._relays = True
                self._go("power_on", now)
                if self._charge_started_at is None:
                    self._charge_started_at = now
                self._path_closed = True
                self._input(cp.PowerPathChanged(evse_id=self.config.evse_id, closed=True))
        elif isinstance(event, RelaysOpened):
            self._events.append(PowerSwitched(on=False, reason="contactors open", at=now))
            if self._basic:
                # the core hears the end of the energy (SuspendedEV / SuspendedEVSE), not the contactor: an
                # opened power path would lose why the energy stopped
                self._relays = False
                self._go("power_off", now)
        elif isinstance(event, ErrorCleared):
            self._trips.discard(event.kind)
        if self._basic:
            self._basic_energy(now)

    def _on_pilot(self, event: Any, now: float) -> None:
        if isinstance(event, pe.VehicleStateChanged):
            if event.state in (CPState.B, CPState.C, CPState.D) and self._state is S.AVAILABLE:
                self._go("plug_in", now)
                self.energy_wh = self.energy_returned_wh = 0.0
                self._meter_update(now)
                self._meter_at = now + self.config.meter_interval
                self._input(cp.Plugged(evse_id=self.config.evse_id, connector_id=self.config.connector_id))
                if self.config.pilot.mode.value == "hlc":
                    self.slac.send(StartMatching(), now)
                    self._go("slac_start", now)
            elif event.state is CPState.A and self._state in (*_PLUGGED_STATES, S.FAULTED):
                self._unplugged(now)
        elif isinstance(event, pe.FaultRaised) and self._basic:
            if event.fault is not PilotFault.APPLICATION and not self._ev_fault:
                # the vehicle's side of the pilot (diode, an implausible level, D without ventilation): the core
                # suspends the energy (ChargingAllowed False); the transaction goes on until the cable comes out.
                # F for its minimum time, then X1 (the pilot sees the unplug again); no PWM until the unplug
                self._ev_fault = True
                if self._clear_at is None:
                    self._clear_at = now + self.config.pilot.fault_min_time
                self._input(cp.FaultRaised(evse_id=self.config.evse_id, ev_side=True,
                                           error_code="EVCommunicationError", info=event.fault.value))
        elif isinstance(event, pe.FaultRaised):
            if event.fault in (PilotFault.DIODE, PilotFault.IMPLAUSIBLE):
                self._raise_fault(FaultKind.PILOT, event.detail, now)
        elif isinstance(event, pe.FaultCleared) and self._basic:
            if event.fault is PilotFault.APPLICATION and self._fault is not None:
                # F was shown for its minimum time: the core hears the fault cleared (the transaction it ended
                # stays ended; the connector is no longer Faulted) while the PWM waits for the board's
                # ErrorCleared (a Yeti clears its RCD flag once the car is unplugged)
                self._fault = None
                self._input(cp.FaultCleared(evse_id=self.config.evse_id))

    def _unplugged(self, now: float) -> None:
        self._power_off("unplugged", now)
        if self.imd is not None:
            self.imd.send(StopIsolationCheck(), now)
        self._meter_update(now)
        self._meter_at = None
        self._input(cp.Unplugged(evse_id=self.config.evse_id))
        self._finish(self._stop_reason or "EVDisconnected")
        try:
            self.slac.send(StopMatching(), now)
        except LocalProtocolError:
            pass
        if self.secc is not None and self.secc.state.value != "closed":
            self.secc.connection_lost(now)
        was_faulted = self._fault is not None
        self._go("unplug", now)
        if not self._enabled:  # made unavailable while the car was plugged in
            self.pilot.send(pe.Disable(), now)
            self._go("disable", now)
        if self._basic:
            self._core_allowed = False  # (the core says so too once it hears Unplugged)
            if self._ev_fault:  # the vehicle with the faulty pilot is gone
                self._ev_fault = False
                self._input(cp.FaultCleared(evse_id=self.config.evse_id, ev_side=True))
        if was_faulted:
            self._clear_at = None
            for command in (pe.ClearFault(), pe.Pause() if self._basic else pe.Resume()):
                try:
                    self.pilot.send(command, now)
                except LocalProtocolError:
                    pass
        if was_faulted:
            self._input(cp.FaultCleared(evse_id=self.config.evse_id))  # the cable is out: the EVSE is whole again
        self._reset_session()
        self._profiles = {k: p for k, p in self._profiles.items() if p.get("chargingProfilePurpose") != "TxProfile"}

    def _on_slac(self, event: Any, now: float) -> None:
        if isinstance(event, Matched):
            if self._go("matched", now):
                self._events.append(V2gLinkReady(peer_mac=event.peer_mac, nid=event.nid))
        elif isinstance(event, (MatchingFailed, SlacFailed)):
            self._go("slac_failed", now)

    def _on_power(self, event: OverVoltage, now: float) -> None:
        self._raise_fault(FaultKind.OVER_VOLTAGE, f"DC output {event.voltage:.0f} V above {event.limit:.0f} V", now)

    def _on_isolation(self, event: IsolationMeasured, now: float) -> None:
        if event.level is ev.Isolation.FAULT:
            detail = f"isolation {event.resistance_ohm:.0f} ohm at {event.voltage:.0f} V"
            self._raise_fault(FaultKind.ISOLATION, detail, now)
            return
        if event.self_test:
            assert self.power is not None
            self._output_on = False
            self.power.send(DcOutputOff(), now)  # the test voltage goes; PreCharge brings the car's voltage
            self._secc_send(ev.SetPresentValues(voltage=0.0), now)
            self._secc_send(ev.SetIsolation(level=event.level), now)

    def _protection_voltage(self) -> float:
        car = self._ev_max_voltage or self.config.dc_limits.max_voltage
        return min(car, self.config.dc_limits.max_voltage) + self.config.over_voltage_margin

    def _on_v2g(self, event: Any, now: float) -> None:
        if isinstance(event, ev.SessionStarted):
            self._protocol = event.protocol
            return
        if isinstance(event, ev.AuthorizationRequested):
            if event.payment is ev.Payment.PNC and event.emaid is not None and not self._authorize_asked:
                self._authorize_asked = True
                hashes = _hash_data(event.contract_chain)
                self._input(cp.AuthorizeToken(evse_id=self.config.evse_id, token=self._token(event.emaid, "eMAID"),
                                              ref=self._await("Authorize"), hash_data=tuple(hashes) or None))
            elif self._authorized is not None:
                self._secc_send(ev.Authorize(accepted=self._authorized), now)
            return
        name = type(event).__name__
        if name == "ChargeParametersRequested20":  # -20: the EVSE's limits are answered at once
            self._ev_max_voltage = event.ev.max_voltage
            self._ev_limits20 = event.ev
            if event.target_soc is not None:
                self._soc = event.target_soc
            return
        if name == "ScheduleRequested":  # -20 scheduled mode: the CSMS's profile becomes the PowerSchedule
            # (dynamic mode: the SECC's limits in every ChargeLoopRes, EVSETargetActivePower in AC)
            self._dynamic = event.control_mode.name == "DYNAMIC"
            lim20 = self._ev_limits20
            energy = event.energy.target_energy if event.energy else None
            if self.config.energy == "ac":  # -20 AC gives power only: per phase at the nominal voltage for OCPP
                mode = ev.EnergyMode.AC_THREE_PHASE if self.config.ac_phases == 3 else ev.EnergyMode.AC_SINGLE_PHASE
                volts = self.config.ac_voltage
                watts = lim20.max_charge_power if lim20 is not None else 0.0
                evlim = ev.EvLimits(max_voltage=volts, max_current=watts / (volts * self.config.ac_phases),
                                    min_current=0.0, max_power=watts, energy_request=energy)
            else:
                mode = ev.EnergyMode.DC_EXTENDED
                evlim = ev.EvLimits(max_voltage=self._ev_max_voltage or 500.0,
                                    max_current=(lim20.max_charge_current or 0.0) if lim20 is not None else 0.0,
                                    max_power=lim20.max_charge_power if lim20 is not None else None,
                                    energy_request=energy)
            request = ev.ChargeParametersRequested(request=event.request, received_at=event.received_at,
                                                   deadline=event.deadline, energy_mode=mode, ev=evlim)
            if self._dynamic and self.config.energy == "ac":
                # dynamic mode goes on at once: no power until the CSMS's profile (or profile_wait) set the limits
                # (OCPP 1.6, no NotifyEVChargingNeeds: the limits follow at once, below)
                from evcharge.iso15118.engines.iso20.events import SetTargetPower

                self._secc_send(SetTargetPower(watts=0.0), now)
            self._needs_to_csms(request, now)
            return
        if name == "ChargeLoopRequested" and self.config.energy == "ac":
            # -20 AC: the SECC answers EVSETargetActivePower from the schedule (scheduled) or the limits (dynamic)
            # the manager pushed; the meter measures what the car takes
            if event.soc is not None:
                self._soc = event.soc
            return
        if name == "ChargeLoopRequested" and event.control_mode.name == "DYNAMIC":
            # -20 DC dynamic mode: the car states its limits, the charger chooses the current (within the car's,
            # its own and the CSMS's limits) at the car's present voltage
            volts = event.present_voltage or (self.power.present_voltage if self.power is not None else 0.0)
            lim = event.ev
            setpoint = self._setpoint
            if (setpoint is not None and setpoint < 0 and self.config.energy == "dc-bpt" and lim is not None
                    and lim.max_discharge_power):
                # DC_BPT: the site asks for energy back, within the car's discharge limits (the charger's own
                # follow in the charge loop below)
                amps = -min(-setpoint, lim.max_discharge_power) / max(volts, 1.0)
                if lim.max_discharge_current is not None:
                    amps = max(amps, -lim.max_discharge_current)
            else:
                amps = lim.max_charge_current if lim is not None and lim.max_charge_current is not None else 0.0
                if lim is not None:
                    amps = min(amps, lim.max_charge_power / max(volts, 1.0))
                if setpoint is not None and setpoint >= 0:
                    amps = min(amps, setpoint / max(volts, 1.0))
            if self._profile_deadline is not None:
                amps = 0.0  # the CSMS's limit is awaited (dynamic mode goes on at once)
            event = ev.ChargeLoopTargets(request=event.request, received_at=event.received_at, deadline=event.deadline,
                                         target_voltage=volts, target_current=amps, soc=event.soc)
        elif name == "ChargeLoopRequested":  # -20 DC scheduled mode: the car's targets
            event = ev.ChargeLoopTargets(request=event.request, received_at=event.received_at, deadline=event.deadline,
                                         target_voltage=event.target_voltage or 0.0,
                                         target_current=event.target_current or 0.0, soc=event.soc)
        if isinstance(event, ev.CertificateRequested):  # Plug & Charge: relayed to the CSMS (OCPP 2.0.1 M01/M02)
            namespace = {"din": "urn:din:70121:2012:MsgDef", "iso20": "urn:iso:std:iso:15118:-20:CommonMessages"}.get(
                self._protocol or "iso2", "urn:iso:15118:2:2013:MsgDef")
            exi_request = {"iso15118SchemaVersion": namespace,
                           "action": "Install" if event.kind == "installation" else "Update",
                           "exiRequest": base64.b64encode(event.exi).decode("ascii")}
            if self.config.ocpp_version == "1.6":
                # 1.6 has no such call: the OCA application note carries the 2.0.1 request in DataTransfer
                self._request("DataTransfer", cp.pnc_call("Get15118EVCertificate", exi_request),
                              answering="Get15118EVCertificate")
                return
            self._request("Get15118EVCertificate", exi_request)
            return
        if isinstance(event, ev.ChargeParametersRequested):
            self._ev_limits = event.ev
            self._ev_max_voltage = event.ev.max_voltage
            if event.ev.soc is not None:
                self._soc = event.ev.soc
            self._needs_to_csms(event, now)
            return
        if isinstance(event, ev.CableCheckRequested):
            assert self.power is not None and self.imd is not None
            self._go("cable_check", now)
            if event.soc is not None:
                self._soc = event.soc
            volts = self.config.cable_check_voltage or min(self._ev_max_voltage or 500.0,
                                                           self.config.dc_limits.max_voltage)
            self.pilot.send(pe.AllowPower(allowed=True), now)
            self._apply_pilot(now)
            self.power.send(SetDcOutput(voltage=volts, current=self.config.pre_charge_current,
                                        protection_voltage=max(volts, self._protection_voltage())), now)
            self._output_on = True
            self._events.append(PowerSwitched(on=True, reason="cable check", at=now))
            if not self._path_closed:
                self._path_closed = True
                self._input(cp.PowerPathChanged(evse_id=self.config.evse_id, closed=True))
            self.imd.send(StartIsolationCheck(voltage=volts), now)
            return
        if isinstance(event, ev.PreChargeRequested):
            assert self.power is not None
            self._go("pre_charge", now)
            self._output_on = True
            self.power.send(SetDcOutput(voltage=min(event.target_voltage, self.config.dc_limits.max_voltage),
                                        current=min(event.target_current, self.config.pre_charge_current),
                                        protection_voltage=self._protection_voltage()), now)
            self._present(now)
            return
        if isinstance(event, ev.PowerDeliveryRequested):
            if event.action is ev.PowerAction.START:
                self._go("power_on", now)
                self._channel = event.discharge  # -20 BPT: the channel the car chose (None: no BPT)
                if self.config.energy == "ac":
                    self.pilot.send(pe.AllowPower(allowed=True), now)
                if self._charge_started_at is None:
                    self._charge_started_at = now
                if not self._path_closed:  # AC: the contactors close now (DC: they did for CableCheck)
                    self._path_closed = True
                    self._input(cp.PowerPathChanged(evse_id=self.config.evse_id, closed=True))
                self._meter_update(now)
                self._input(cp.EnergyStateChanged(evse_id=self.config.evse_id, state="Charging"))
            else:
                self._go("power_off", now)
                if self.power is not None and event.action is ev.PowerAction.STOP:
                    self.power.send(DcOutputOff(), now)
                    self._output_on = False
                    self._events.append(PowerSwitched(on=False, reason="PowerDelivery " + event.action.value, at=now))
                    self._present(now)
                elif self.power is not None:  # renegotiation: no current until the new PowerDelivery(Start)
                    if self._protocol == "iso20" and event.action is ev.PowerAction.RENEGOTIATE:
                        # the car took up the ScheduleRenegotiation: the EVSENotification goes back to None
                        # (else every later ChargeLoopRes would ask again)
                        self._secc_send(ev.Notify(action="none"), now)
                    self.power.send(SetDcOutput(voltage=self.power.present_voltage, current=0.0,
                                                protection_voltage=self._protection_voltage()), now)
                if event.action is ev.PowerAction.STOP:
                    self.pilot.send(pe.AllowPower(allowed=False), now)
                    self._meter_update(now)
                    self._input(cp.EnergyStateChanged(evse_id=self.config.evse_id, state="SuspendedEV"))
            return
        if isinstance(event, ev.ChargeLoopTargets):
            assert self.power is not None
            if event.soc is not None:
                self._soc = event.soc
            limits = self._dc_limits(now)
            volts = min(event.target_voltage, limits.max_voltage)
            # (-20 dynamic mode: the charger decides the direction within the car's limits, whatever the channel)
            if event.target_current >= 0 and (self._channel is not True or self._dynamic):
                amps = min(event.target_current, limits.max_current, limits.max_power / max(volts, 1.0))
            elif event.target_current < 0 and self.config.energy == "dc-bpt" and (self._channel is not False
                                                                                  or self._dynamic):
                # ISO 15118-20 DC_BPT on the Discharge channel the car chose in PowerDelivery: a negative target
                # discharges the car
                lim20 = self._power_limits(now)
                amps = max(event.target_current, -(lim20.max_discharge_current or 0.0),
                           -(lim20.max_discharge_power or 0.0) / max(volts, 1.0))
            else:
                amps = 0.0  # a unidirectional charger takes no energy back; no current against the chosen channel
            if self._output_on:
                self.power.send(SetDcOutput(voltage=volts, current=amps, protection_voltage=self._protection_voltage()),
                                now)
            self._target = (volts, amps)
            self._present(now, limited=amps != event.target_current)
            return
        if isinstance(event, ev.WeldingDetectionRequested):
            self._present(now)
            return
        if isinstance(event, ev.SessionStopRequested):
            if event.pause:
                self._paused_session = self.secc.engine.session_id if self.secc and self.secc.engine else None  # type: ignore[attr-defined]
            return
        if isinstance(event, ev.SessionEnded):
            self._go("session_end", now)
            self._power_off("session ended", now)
            if self.imd is not None:
                self.imd.send(StopIsolationCheck(), now)
            self._meter_update(now)
            if event.paused:
                self._paused_session = event.session_id
                self._input(cp.EnergyStateChanged(evse_id=self.config.evse_id, state="SuspendedEV"))
            elif self._fault is None and not self._finished:
                if self._stop_reason is None:  # the car ended it (ISO 15118 SessionStop), or the session failed
                    reason = "StoppedByEV" if event.normal else "Other"
                    self._input(cp.ChargingEnded(evse_id=self.config.evse_id, reason=reason,
                                                 trigger="StopAuthorized" if event.normal else "AbnormalCondition"))
                self._finish(self._stop_reason or ("StoppedByEV" if event.normal else "Other"))
            return
        if isinstance(event, SessionClosed):
            return

    def _present(self, now: float, *, limited: bool = False) -> None:
        assert self.power is not None
        self._secc_send(ev.SetPresentValues(voltage=self.power.present_voltage, current=self.power.present_current,
                                            current_limit_achieved=limited), now)

    def _needs_to_csms(self, event: ev.ChargeParametersRequested, now: float) -> None:
        """The car's needs to the CSMS (2.x NotifyEVChargingNeeds), whose SetChargingProfile is awaited for
        ``profile_wait``; 1.6 has no such call: the limits of the profiles in force go to the SECC at once."""
        if self.config.ocpp_version == "1.6":
            self._push_limits(now)
            return
        self._request("NotifyEVChargingNeeds", self._needs(event))
        self._profile_deadline = now + self.config.profile_wait

    def _needs(self, event: ev.ChargeParametersRequested) -> dict[str, Any]:
        """NotifyEVChargingNeeds (OCPP 2.0.1: EnergyTransferModeEnumType, integer W, A, V, Wh, %)."""
        e = event.ev
        mode = event.energy_mode
        transfer = "DC" if mode.is_dc else ("AC_single_phase" if mode is ev.EnergyMode.AC_SINGLE_PHASE
                                            else "AC_three_phase")
        needs: dict[str, Any] = {"requestedEnergyTransfer": transfer}
        if mode.is_dc:
            dc: dict[str, Any] = {"evMaxCurrent": round(e.max_current), "evMaxVoltage": round(e.max_voltage)}
            optional = {"evMaxPower": e.max_power, "energyAmount": e.energy_request,
                        "evEnergyCapacity": e.energy_capacity, "stateOfCharge": e.soc}
            dc.update({k: round(v) for k, v in optional.items() if v is not None})
            needs["dcChargingParameters"] = dc
        else:
            needs["acChargingParameters"] = {"evMaxCurrent": round(e.max_current), "evMaxVoltage": round(e.max_voltage),
                                             "evMinCurrent": round(e.min_current or 0),
                                             "energyAmount": round(e.energy_request or 0)}
        return {"evseId": self.config.evse_id, "chargingNeeds": needs}


def _hash_data(chain: tuple[bytes, ...]) -> list[dict[str, str]]:
    """OCPP ``OCSPRequestDataType`` of the contract certificate and its sub-CAs (SHA-256 of the issuer's name
    and key, the serial number, the OCSP responder URL), for Authorize's ``iso15118CertificateHashData``."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509 import ocsp
    from cryptography.x509.oid import AuthorityInformationAccessOID

    out: list[dict[str, str]] = []
    for i in range(len(chain) - 1):
        try:
            cert = x509.load_der_x509_certificate(chain[i])
            issuer = x509.load_der_x509_certificate(chain[i + 1])
            req = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, hashes.SHA256()).build()
        except ValueError:
            continue  # a certificate that does not parse is sent without its hash data
        url = ""
        try:
            aia = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
            url = next((str(d.access_location.value) for d in aia
                        if d.access_method == AuthorityInformationAccessOID.OCSP), "")
        except x509.ExtensionNotFound:
            pass
        out.append({"hashAlgorithm": "SHA256", "issuerNameHash": req.issuer_name_hash.hex(),
                    "issuerKeyHash": req.issuer_key_hash.hex(), "serialNumber": format(req.serial_number, "x"),
                    "responderURL": url or "http://localhost/ocsp"})
    return out
