"""The charger side of the control pilot: a sans-I/O state machine.

Inputs: pilot readings (:meth:`Charger.receive_voltages` or :meth:`Charger.receive_cp_state`),
application commands (:meth:`Charger.send`) and the passing of time (:meth:`Charger.handle_timer`).
Outputs: actions for the board (:meth:`Charger.actions`) and events for the application
(:meth:`Charger.next_event`).  The next state always comes from :data:`~evcharge.iec61851.states.TRANSITIONS`;
this module adds what the table cannot say: the outputs of each state and the standard's timing rules.

Rules the machine enforces on its outputs, whatever the sequence of inputs:

* contactors close only in CHARGING: PWM on, vehicle in C (or D with ventilation), charging allowed
  (basic charging, or high-level communication with :class:`~.events.AllowPower`); they close at once,
  well within the 3 s the standard allows after C2;
* contactors open at once when the vehicle leaves C/D, when the charger drives E or F, and on any fault;
  when the PWM stops (or charging stops being allowed) while the vehicle stays in C/D, they open when the
  vehicle goes to B, or by force ``power_off_timeout`` (6 s) later;
* F is held at least ``fault_min_time`` (300 ms) after a fault;
* in basic charging the duty cycle changes at most once per ``duty_change_interval`` (5 s): a newer
  limit waits (:class:`~.events.DutyCycleDeferred`) and the latest one wins;
* the phase-selection relays switch only while the contactors are open.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .classify import classify
from .config import ChargerConfig
from .errors import LocalProtocolError
from .events import (
    COMMAND_TRIGGER,
    AllowPower,
    ChargerAction,
    ChargerCommand,
    ChargerEvent,
    ClearFault,
    CloseContactors,
    Disable,
    DutyCycleDeferred,
    Enable,
    FaultCleared,
    FaultRaised,
    ModeChanged,
    OpenContactors,
    Pause,
    PhasesSelected,
    PowerOff,
    PowerOn,
    RaiseFault,
    Replug,
    RequestBasic,
    RequestHlc,
    Resume,
    RetryHlc,
    SelectPhases,
    SetCurrentLimit,
    SetPwm,
    SetStateE,
    SetStateF,
    SetX1,
    StateChanged,
    SwitchPhases,
    VehicleStateChanged,
)
from .pwm import HLC_DUTY_CYCLE, MIN_CURRENT, duty_cycle_for_current
from .states import (
    CP_TRIGGER,
    LISTENING_STATES,
    SETTLE,
    SETTLE_RULES,
    ChargerState,
    ChargingMode,
    CPState,
    Guard,
    PilotFault,
    PilotOutput,
    StepVia,
    Transition,
    Trigger,
    rows_for,
    sub_state,
)

_S = ChargerState
_FAULT_OF_TRIGGER: dict[Trigger, PilotFault] = {
    Trigger.FAULT: PilotFault.APPLICATION,
    Trigger.CP_D: PilotFault.VENTILATION,
    Trigger.CP_F: PilotFault.IMPLAUSIBLE,
    Trigger.CP_INVALID: PilotFault.IMPLAUSIBLE,
    Trigger.DIODE_FAULT: PilotFault.DIODE,
}
_DEADLINE_TRIGGER: dict[ChargerState, Trigger] = {
    _S.STEP_X1: Trigger.STEP_DONE,
    _S.STEP_EF: Trigger.STEP_DONE,
    _S.PHASE_SWITCH: Trigger.PHASE_PAUSE_DONE,
    _S.REPLUG: Trigger.REPLUG_DONE,
    _S.FAULT: Trigger.FAULT_TIME_DONE,
}
_CHARGING_VEHICLE = (CPState.C, CPState.D)


@dataclass(frozen=True, slots=True)
class ChargerStatus:
    """A snapshot of the charger machine, for displays and logs (:meth:`Charger.status`)."""

    state: ChargerState
    sub_state: str
    output: PilotOutput
    duty_cycle: float | None
    vehicle_state: CPState | None
    contactors_closed: bool
    phases: int
    mode: ChargingMode
    current_limit: float | None
    fault: PilotFault | None
    enabled: bool
    paused: bool
    power_allowed: bool


class Charger:
    """The charger's control-pilot machine (IEC 61851-1 Annex A, SAE J1772, ISO 15118-3 pilot rules).

    ``now`` is the time origin (seconds, any monotonic clock).  On creation the machine queues the
    actions that put the board into a known state: contactors open, the phase relays (when the board has
    them), and X1 (or F when created disabled).
    """

    def __init__(self, config: ChargerConfig | None = None, *, now: float = 0.0) -> None:
        if not math.isfinite(now):
            raise LocalProtocolError(f"now must be a finite time, got {now!r}")
        cfg = config if config is not None else ChargerConfig()
        self._config = cfg
        self._now = now
        self._state = _S.IDLE if cfg.start_enabled else _S.DISABLED
        self._vehicle: CPState | None = None
        self._enabled = cfg.start_enabled
        self._paused = cfg.start_paused
        self._limit = cfg.initial_current
        self._mode = cfg.mode
        self._power_allowed = False
        self._phases = cfg.phases
        self._pending_phases: int | None = None
        self._step_via: StepVia | None = None
        self._fault: PilotFault | None = None
        self._fault_detail = ""
        self._fault_since = now
        self._fault_cleared = False
        self._deadline: float | None = None
        self._force_off_at: float | None = None
        self._deferred_at: float | None = None
        self._deferred_duty: float | None = None
        self._last_duty_change = -math.inf
        self._bad_readings = 0
        self._output = PilotOutput.X1
        self._duty: float | None = None
        self._contactors = False
        self._actions: list[ChargerAction] = [OpenContactors()]
        self._events: deque[ChargerEvent] = deque()
        if cfg.phase_switching:
            self._actions.append(SelectPhases(phases=self._phases))
        self._actions.append(SetX1())
        self._update_outputs()

    # ------------------------------------------------------------------ inspection

    @property
    def config(self) -> ChargerConfig:
        """The configuration the machine was created with."""
        return self._config

    @property
    def state(self) -> ChargerState:
        """The machine's state."""
        return self._state

    @property
    def vehicle_state(self) -> CPState | None:
        """The last vehicle state read (``None`` before the first reading and after the charger drove E/F)."""
        return self._vehicle

    @property
    def output(self) -> PilotOutput:
        """What the charger drives on the pilot now (after the queued actions are applied)."""
        return self._output

    @property
    def duty_cycle(self) -> float | None:
        """The PWM duty cycle (percent) while the output is X2, else ``None``."""
        return self._duty

    @property
    def sub_state(self) -> str:
        """The IEC name of the present pilot situation, e.g. ``"B2"``, ``"C1"``, ``"F"``."""
        return sub_state(self._vehicle, self._output)

    @property
    def contactors_closed(self) -> bool:
        """Whether the machine last told the contactors to close."""
        return self._contactors

    @property
    def phases(self) -> int:
        """The phase count the phase relays are set to."""
        return self._phases

    @property
    def mode(self) -> ChargingMode:
        """Basic charging or high-level communication."""
        return self._mode

    @property
    def current_limit(self) -> float | None:
        """The current limit for basic charging (A), ``None`` until one is set."""
        return self._limit

    @property
    def fault(self) -> PilotFault | None:
        """The latched fault while in FAULT, else ``None``."""
        return self._fault

    @property
    def enabled(self) -> bool:
        """False after :class:`~.events.Disable`."""
        return self._enabled

    @property
    def power_allowed(self) -> bool:
        """With high-level communication, whether :class:`~.events.AllowPower` currently allows energy transfer."""
        return self._power_allowed

    @property
    def paused(self) -> bool:
        """True after :class:`~.events.Pause` until :class:`~.events.Resume`."""
        return self._paused

    def status(self) -> ChargerStatus:
        """All of the above in one frozen snapshot."""
        return ChargerStatus(
            state=self._state, sub_state=self.sub_state, output=self._output, duty_cycle=self._duty,
            vehicle_state=self._vehicle, contactors_closed=self._contactors, phases=self._phases, mode=self._mode,
            current_limit=self._limit, fault=self._fault, enabled=self._enabled, paused=self._paused,
            power_allowed=self._power_allowed,
        )

    # ------------------------------------------------------------------ outputs

    def actions(self) -> list[ChargerAction]:
        """The actions for the board since the last call, in the order they must be applied.

        Opening the contactors always comes before driving E or F, and the PWM always comes before
        closing them.
        """
        out, self._actions = self._actions, []
        return out

    def next_event(self) -> ChargerEvent | None:
        """The next event for the application, or ``None``."""
        return self._events.popleft() if self._events else None

    def get_timer(self) -> float | None:
        """When :meth:`handle_timer` must be called next (``None``: no timer running)."""
        times = [t for t in (self._deadline, self._force_off_at, self._deferred_at) if t is not None]
        return min(times) if times else None

    # ------------------------------------------------------------------ inputs

    def receive_voltages(self, high: float, low: float | None, now: float) -> None:
        """A pilot sample: the positive level and, while PWM runs, the negative level (V).

        Classified with ``config.bands``; a reading that fits no band, or a low level off -12 V while
        PWM runs (diode fault), sends the charger to FAULT.  Ignored while the charger drives E or F.
        """
        self._advance(now)
        if not isinstance(high, int | float) or not (low is None or isinstance(low, int | float)):
            raise LocalProtocolError(f"pilot levels must be numbers, got high={high!r} low={low!r}")
        if self._output in (PilotOutput.E, PilotOutput.F):
            return
        result = classify(high, low, pwm=self._output is PilotOutput.X2, bands=self._config.bands)
        if result.state is not None:
            self._on_reading(CP_TRIGGER[result.state], result.state, "")
        elif result.fault is PilotFault.DIODE:
            self._on_reading(Trigger.DIODE_FAULT, None, result.detail)
        else:
            self._on_reading(Trigger.CP_INVALID, None, result.detail)

    def receive_cp_state(self, reading: CPState | PilotFault, now: float) -> None:
        """A pilot reading already classified by the board: a CP state, or a diode / implausible fault."""
        self._advance(now)
        if isinstance(reading, CPState):
            trigger, state, detail = CP_TRIGGER[reading], reading, ""
        elif reading is PilotFault.DIODE:
            trigger, state, detail = Trigger.DIODE_FAULT, None, "board reported a diode fault"
        elif reading is PilotFault.IMPLAUSIBLE:
            trigger, state, detail = Trigger.CP_INVALID, None, "board reported an implausible pilot reading"
        else:
            raise LocalProtocolError(f"{reading!r} is not a pilot reading (CPState, DIODE or IMPLAUSIBLE)")
        if self._output in (PilotOutput.E, PilotOutput.F):
            return
        self._on_reading(trigger, state, detail)

    def send(self, command: ChargerCommand, now: float) -> None:
        """Apply an application command.

        Asking for the phase count the relays are already set to (with no switch under way) does nothing.

        :raises ~evcharge.iec61851.errors.LocalProtocolError: the command is not allowed in the present
            state (see the transition table), or its value is out of range; the machine is left unchanged.
        """
        self._advance(now)
        trigger = COMMAND_TRIGGER.get(type(command))
        if trigger is None:
            raise LocalProtocolError(f"{command!r} is not a charger command")
        self._check_command(command)
        if isinstance(command, SwitchPhases) and command.phases == self._phases and self._pending_phases is None:
            return  # already on that many phases: nothing to do
        self._step_via = (command.via or self._config.basic_step) if isinstance(command, RequestBasic) else None
        row = self._select(trigger)
        if row is None:
            self._step_via = None
            raise LocalProtocolError(
                f"{type(command).__name__} is not allowed in state {self._state} ({self._why_not(trigger)})"
            )
        self._apply_command(command)
        detail = command.reason if isinstance(command, RaiseFault) else ""
        self._take(row, detail or "application fault")
        self._update_outputs()

    def handle_timer(self, now: float) -> None:
        """Let time pass: run every timer due at ``now``."""
        self._advance(now)
        for _ in range(64):  # each round retires one timer; with zero-length timers a few can chain
            due = [t for t in (self._deadline, self._force_off_at, self._deferred_at) if t is not None and t <= now]
            if not due:
                return
            first = min(due)
            if self._deadline is not None and self._deadline == first:
                trigger = _DEADLINE_TRIGGER[self._state]
                self._deadline = None
                if trigger is Trigger.PHASE_PAUSE_DONE:
                    self._switch_phase_relays()
                row = self._select(trigger)
                if row is not None:
                    self._take(row, "")
            elif self._force_off_at is not None and self._force_off_at == first:
                self._force_off_at = None
                if self._contactors:
                    self._open_contactors("vehicle kept drawing after the PWM stopped", forced=True)
            else:
                self._deferred_at = None
            self._update_outputs()

    # ------------------------------------------------------------------ internals

    def _advance(self, now: float) -> None:
        if not math.isfinite(now):
            raise LocalProtocolError(f"now must be a finite time, got {now!r}")
        if now < self._now:
            raise LocalProtocolError(f"time went backwards: {now} after {self._now}")
        self._now = now

    def _check_command(self, command: ChargerCommand) -> None:
        cfg = self._config
        if isinstance(command, SetCurrentLimit):
            amps = command.amps
            if not (isinstance(amps, int | float) and math.isfinite(amps)):
                raise LocalProtocolError(f"current limit {amps!r} is not a number")
            if not MIN_CURRENT <= amps <= cfg.max_current:
                raise LocalProtocolError(
                    f"current limit {amps} A outside {MIN_CURRENT:g} ... {cfg.max_current:g} A "
                    "(below 6 A no duty cycle represents it: use Pause)"
                )
        elif isinstance(command, SwitchPhases):
            if not cfg.phase_switching:
                raise LocalProtocolError("this charger has no phase-selection relays (config.phase_switching)")
            if command.phases not in (1, 3):
                raise LocalProtocolError(f"phases must be 1 or 3, got {command.phases!r}")
        elif isinstance(command, RequestBasic):
            if command.via is not None and command.via not in (StepVia.X1, StepVia.EF):
                raise LocalProtocolError(f"via must be a StepVia, got {command.via!r}")
        elif isinstance(command, AllowPower):
            if not isinstance(command.allowed, bool):
                raise LocalProtocolError(f"allowed must be a bool, got {command.allowed!r}")

    def _why_not(self, trigger: Trigger) -> str:
        rows = rows_for(self._state, trigger)
        if not rows:
            return "no transition for it in this state"
        guards = ", ".join(str(r.guard) for r in rows if r.guard is not None)
        return f"needs {guards}"

    def _apply_command(self, command: ChargerCommand) -> None:
        match command:
            case Enable():
                self._enabled = True
            case Disable():
                self._enabled = False
            case Pause():
                self._paused = True
            case Resume():
                self._paused = False
            case SetCurrentLimit(amps=amps):
                self._limit = float(amps)
            case AllowPower(allowed=allowed):
                self._power_allowed = allowed
            case RequestHlc():
                self._set_mode(ChargingMode.HLC)
            case RequestBasic():
                self._set_mode(ChargingMode.BASIC)
            case SwitchPhases(phases=phases):
                self._pending_phases = None if phases == self._phases else phases
            case ClearFault():
                self._fault_cleared = True
            case RaiseFault() | RetryHlc() | Replug():
                pass

    def _set_mode(self, mode: ChargingMode) -> None:
        if mode is not self._mode:
            self._mode = mode
            self._power_allowed = False
            self._events.append(ModeChanged(mode=mode))

    def _on_reading(self, trigger: Trigger, state: CPState | None, detail: str) -> None:
        if self._state not in LISTENING_STATES:  # pragma: no cover - E/F outputs return earlier
            return
        if state is None:
            self._bad_readings += 1
            if self._bad_readings < self._config.fault_readings:
                return  # not yet: a single bad sample may be a PWM edge
        else:
            self._bad_readings = 0
        if state is not None and state is not self._vehicle:
            self._events.append(VehicleStateChanged(previous=self._vehicle, state=state))
            self._vehicle = state
            if state is CPState.A:
                self._power_allowed = False  # a new plug-in starts a new HLC session
        row = self._select(trigger)
        if row is None:  # pragma: no cover - the table has an unconditional row for every reading
            raise AssertionError(f"transition table has no row for {self._state} x {trigger}")
        if row.target is _S.FAULT and not detail:
            detail = {
                Trigger.CP_D: "vehicle requests ventilation (D) and the charger has none",
                Trigger.CP_F: "vehicle side cannot produce -12 V on the high level (F) while the charger drives +12 V",
            }.get(trigger, f"reading {trigger}")
        self._take(row, detail)
        self._update_outputs()

    def _select(self, trigger: Trigger) -> Transition | None:
        for row in rows_for(self._state, trigger):
            if row.guard is None or self._guard(row.guard):
                return row
        return None

    def _guard(self, guard: Guard) -> bool:
        pwm = self._output is PilotOutput.X2
        match guard:
            case Guard.NO_VENTILATION:
                return not self._config.ventilation
            case Guard.PWM_BASIC:
                return pwm and self._mode is ChargingMode.BASIC
            case Guard.PWM_HLC_VIA_X1:
                return pwm and self._mode is ChargingMode.HLC and self._step_via is StepVia.X1
            case Guard.PWM_HLC_VIA_EF:
                return pwm and self._mode is ChargingMode.HLC and self._step_via is StepVia.EF
            case Guard.HLC_MODE:
                return self._mode is ChargingMode.HLC
            case Guard.BASIC_MODE:
                return self._mode is ChargingMode.BASIC
            case Guard.FAULT_TIME_ELAPSED:
                return self._now >= self._fault_since + self._config.fault_min_time
            case Guard.FAULT_CLEARED:
                return self._fault_cleared
            case Guard.FAULT_LATCHED:
                return self._fault is not None and not self._fault_cleared
            case Guard.NOT_ENABLED:
                return not self._enabled
            case Guard.NO_VEHICLE:
                return self._vehicle in (None, CPState.A, CPState.E)
            case Guard.NOT_ALLOWED:
                return self._paused or (self._mode is ChargingMode.BASIC and self._limit is None)
            case Guard.VEHICLE_B:
                return self._vehicle is CPState.B
            case Guard.VEHICLE_C_OR_D:
                return self._vehicle in _CHARGING_VEHICLE
        raise AssertionError(f"unknown guard {guard!r}")  # pragma: no cover

    def _settle(self) -> ChargerState:
        for rule in SETTLE_RULES:
            if self._guard(rule.guard):
                return rule.target
        raise AssertionError(f"no settle rule for vehicle {self._vehicle}")  # pragma: no cover

    def _take(self, row: Transition, detail: str) -> None:
        previous = self._state
        if row.target == SETTLE:
            if previous is _S.FAULT and self._fault_cleared and self._fault is not None:
                fault, self._fault = self._fault, None
                self._fault_cleared = False
                self._events.append(FaultCleared(fault=fault))
            target = self._settle()
        else:
            target = ChargerState(row.target)
        if row.target == _S.FAULT and row.trigger in _FAULT_OF_TRIGGER:
            # a new fault: (re)start the minimum time in F
            self._fault = _FAULT_OF_TRIGGER[row.trigger]
            self._fault_detail = detail
            self._fault_since = self._now
            self._fault_cleared = False
            self._deadline = self._now + self._config.fault_min_time
            self._events.append(FaultRaised(fault=self._fault, detail=detail))
        if target is previous:
            return
        self._state = target
        self._deadline = self._entry_deadline(target)
        self._events.append(StateChanged(previous=previous, state=target, trigger=row.trigger))

    def _entry_deadline(self, state: ChargerState) -> float | None:
        cfg = self._config
        match state:
            case _S.STEP_X1:
                return self._now + cfg.t_step_x1
            case _S.STEP_EF:
                return self._now + cfg.t_step_ef
            case _S.REPLUG:
                return self._now + cfg.replug_time
            case _S.FAULT:
                return self._fault_since + cfg.fault_min_time
            case _:
                return None  # PHASE_SWITCH starts its pause once the contactors are open

    # ------------------------------------------------------------------ outputs

    def _desired_output(self) -> PilotOutput:
        cfg = self._config
        match self._state:
            case _S.DISABLED | _S.FAULT:
                return PilotOutput.F
            case _S.REPLUG:
                return cfg.replug_output
            case _S.STEP_EF:
                return cfg.step_ef_output
            case _S.PHASE_SWITCH:
                return cfg.phase_switch_output
            case _S.READY | _S.CHARGING:
                return PilotOutput.X2
            case _:
                return PilotOutput.X1

    def _target_duty(self) -> float:
        if self._mode is ChargingMode.HLC:
            return HLC_DUTY_CYCLE
        assert self._limit is not None  # NOT_ALLOWED keeps basic charging without a limit out of READY/CHARGING
        return duty_cycle_for_current(self._limit)

    def _may_close(self, output: PilotOutput) -> bool:
        if self._state is not _S.CHARGING or output is not PilotOutput.X2:
            return False
        if self._vehicle is CPState.D and not self._config.ventilation:
            return False
        if self._vehicle not in _CHARGING_VEHICLE:
            return False
        return self._mode is ChargingMode.BASIC or self._power_allowed

    def _update_outputs(self) -> None:
        output = self._desired_output()
        may_close = self._may_close(output)
        # 1. contactors that must open now, or after the PWM-stop grace time
        if self._contactors and not may_close:
            if output in (PilotOutput.E, PilotOutput.F):
                reason = "fault" if self._state is _S.FAULT else f"pilot driven to {output}"
                self._open_contactors(reason)
            elif self._vehicle not in _CHARGING_VEHICLE:
                self._open_contactors(f"vehicle left C/D ({self._vehicle})")
            elif self._vehicle is CPState.D and not self._config.ventilation:  # pragma: no cover - FAULT first
                self._open_contactors("ventilation not available")
            elif self._force_off_at is None:
                self._force_off_at = self._now + self._config.power_off_timeout
        if may_close or not self._contactors:
            self._force_off_at = None
        # 2. the pilot
        if output is PilotOutput.X2:
            duty = self._target_duty()
            if self._output is not PilotOutput.X2:
                self._set_pwm(duty)
            elif duty != self._duty:
                earliest = self._last_duty_change + self._config.duty_change_interval
                if self._mode is ChargingMode.BASIC and self._now < earliest:
                    if self._deferred_duty != duty or self._deferred_at is None:
                        self._events.append(DutyCycleDeferred(duty=duty, at=earliest))
                    self._deferred_at, self._deferred_duty = earliest, duty
                else:
                    self._set_pwm(duty)
            else:
                self._deferred_at = self._deferred_duty = None
        elif output is not self._output:
            self._output, self._duty = output, None
            self._deferred_at = self._deferred_duty = None
            action: ChargerAction = SetX1() if output is PilotOutput.X1 else (
                SetStateE() if output is PilotOutput.E else SetStateF()
            )
            self._actions.append(action)
            if output in (PilotOutput.E, PilotOutput.F) and self._vehicle is not None:
                self._events.append(VehicleStateChanged(previous=self._vehicle, state=None))
                self._vehicle = None
        # 3. contactors that may close (after the PWM is on)
        if may_close and not self._contactors:
            self._contactors = True
            self._actions.append(CloseContactors(phases=self._phases))
            self._events.append(PowerOn(phases=self._phases))
        # 4. phase relays, only with the contactors open
        if not self._contactors:
            if self._pending_phases is not None and self._state in (_S.IDLE, _S.DISABLED, _S.FAULT):
                self._switch_phase_relays()
            elif self._state is _S.PHASE_SWITCH and self._deadline is None:
                self._deadline = self._now + self._config.phase_switch_pause

    def _set_pwm(self, duty: float) -> None:
        self._output, self._duty = PilotOutput.X2, duty
        self._last_duty_change = self._now
        self._deferred_at = self._deferred_duty = None
        self._actions.append(SetPwm(duty=duty))

    def _open_contactors(self, reason: str, *, forced: bool = False) -> None:
        self._contactors = False
        self._force_off_at = None
        self._actions.append(OpenContactors())
        self._events.append(PowerOff(reason=reason, forced=forced))

    def _switch_phase_relays(self) -> None:
        if self._pending_phases is None or self._contactors:
            return
        self._phases, self._pending_phases = self._pending_phases, None
        self._actions.append(SelectPhases(phases=self._phases))
        self._events.append(PhasesSelected(phases=self._phases))


if TYPE_CHECKING:  # mypy holds the machine to the house shape, evcharge.sansio.Core
    from evcharge.sansio import Core

    def _shape(charger: Charger) -> Core[ChargerCommand, ChargerEvent, ChargerState]:
        return charger
