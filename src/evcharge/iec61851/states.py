"""Control-pilot states, the charger's states, and the charger's transition table.

Everything the charger machine (:mod:`evcharge.iec61851.charger`) decides about *which state comes next*
is in :data:`TRANSITIONS` and :data:`SETTLE_RULES`; the documentation's state diagram is rendered from
the same two tables (:func:`evcharge.iec61851.diagram.render_rst`), and a test keeps the rendered page in sync.

Reading the table: for a ``(state, trigger)`` pair the rows are tried in order; the first row whose
guard holds (a row without guard always holds) gives the next state.  The target :data:`SETTLE`
means "the state the situation calls for", chosen by :data:`SETTLE_RULES`.  An application command
with no matching row is misuse and raises :class:`~evcharge.iec61851.errors.LocalProtocolError`; every
pilot reading has a row in every state that listens to the pilot, so a reading never raises.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final, Literal


class CPState(StrEnum):
    """The vehicle-side state read from the positive pilot level (IEC 61851-1 Table A.3)."""

    A = "A"  #: +12 V -- no vehicle connected
    B = "B"  #: +9 V -- vehicle connected, not ready (2.74 kOhm)
    C = "C"  #: +6 V -- vehicle ready, charging (882 Ohm)
    D = "D"  #: +3 V -- vehicle ready, charging with ventilation (246 Ohm)
    E = "E"  #: 0 V -- pilot shorted to PE, or EVSE without power
    F = "F"  #: -12 V -- EVSE not available / error


class PilotOutput(StrEnum):
    """What the charger drives on the pilot."""

    X1 = "X1"  #: steady +12 V -- no PWM, charging not allowed
    X2 = "X2"  #: +/-12 V 1 kHz PWM -- the duty cycle tells the current (or 5 % -- high-level communication)
    E = "E"  #: 0 V (state E)
    F = "F"  #: steady -12 V (state F) -- EVSE not available / error


class PilotFault(StrEnum):
    """Why the charger is in :attr:`ChargerState.FAULT`."""

    DIODE = "diode"  #: low level not at -12 V while PWM runs -- vehicle diode missing or shorted
    IMPLAUSIBLE = "implausible"  #: a reading that fits no state, or a state the vehicle cannot produce (F)
    VENTILATION = "ventilation"  #: vehicle asks for ventilation (D) and the charger has none
    APPLICATION = "application"  #: the application reported a fault (:class:`~evcharge.iec61851.events.RaiseFault`)


class ChargingMode(StrEnum):
    """Basic charging (duty cycle = current) or high-level communication (5 %)."""

    BASIC = "basic"
    HLC = "hlc"


class StepVia(StrEnum):
    """How the charger leaves 5 % for a nominal duty cycle (ISO 15118-3 [V2G3-M06-05..09])."""

    X1 = "X1"  #: steady +12 V for T_step_X1 (3 s)
    EF = "EF"  #: state E or F for T_step_EF (4 s)


class ChargerState(StrEnum):
    """The charger machine's states."""

    DISABLED = "DISABLED"  #: drives F -- EVSE not available
    IDLE = "IDLE"  #: X1, no vehicle (A or E, or not measured yet)
    CONNECTED = "CONNECTED"  #: X1 with a vehicle -- paused, no current limit yet (B1, C1, D1)
    READY = "READY"  #: PWM on, vehicle in B (B2)
    CHARGING = "CHARGING"  #: PWM on, vehicle in C or D (C2, D2) -- contactors closed when charging is allowed
    STEP_X1 = "STEP_X1"  #: X1 for T_step_X1 on the way between 5 % and a nominal duty cycle
    STEP_EF = "STEP_EF"  #: E or F for T_step_EF (5 % -> nominal, or a retry of high-level communication)
    PHASE_SWITCH = "PHASE_SWITCH"  #: X1 (or F), contactors open, pause, then the phase relays switch
    REPLUG = "REPLUG"  #: E or F for the replug time -- a simulated unplug and plug-in
    FAULT = "FAULT"  #: F for at least 300 ms and until the application clears the fault


class Trigger(StrEnum):
    """Everything that can move the charger: pilot readings, application commands, its own timers."""

    # pilot readings
    CP_A = "CP_A"
    CP_B = "CP_B"
    CP_C = "CP_C"
    CP_D = "CP_D"
    CP_E = "CP_E"
    CP_F = "CP_F"
    CP_INVALID = "CP_INVALID"
    DIODE_FAULT = "DIODE_FAULT"
    # application commands
    ENABLE = "ENABLE"
    DISABLE = "DISABLE"
    PAUSE = "PAUSE"
    RESUME = "RESUME"
    SET_CURRENT = "SET_CURRENT"
    ALLOW_POWER = "ALLOW_POWER"
    REQUEST_HLC = "REQUEST_HLC"
    REQUEST_BASIC = "REQUEST_BASIC"
    RETRY_HLC = "RETRY_HLC"
    SWITCH_PHASES = "SWITCH_PHASES"
    FAULT = "FAULT"
    CLEAR_FAULT = "CLEAR_FAULT"
    REPLUG = "REPLUG"
    # timers
    STEP_DONE = "STEP_DONE"
    PHASE_PAUSE_DONE = "PHASE_PAUSE_DONE"
    REPLUG_DONE = "REPLUG_DONE"
    FAULT_TIME_DONE = "FAULT_TIME_DONE"


#: triggers that come from pilot readings
READING_TRIGGERS: Final = (
    Trigger.CP_A, Trigger.CP_B, Trigger.CP_C, Trigger.CP_D, Trigger.CP_E, Trigger.CP_F,
    Trigger.CP_INVALID, Trigger.DIODE_FAULT,
)
#: triggers that come from application commands
COMMAND_TRIGGERS: Final = (
    Trigger.ENABLE, Trigger.DISABLE, Trigger.PAUSE, Trigger.RESUME, Trigger.SET_CURRENT, Trigger.ALLOW_POWER,
    Trigger.REQUEST_HLC, Trigger.REQUEST_BASIC, Trigger.RETRY_HLC, Trigger.SWITCH_PHASES, Trigger.FAULT,
    Trigger.CLEAR_FAULT, Trigger.REPLUG,
)
#: triggers that come from the machine's own timers
TIMER_TRIGGERS: Final = (Trigger.STEP_DONE, Trigger.PHASE_PAUSE_DONE, Trigger.REPLUG_DONE, Trigger.FAULT_TIME_DONE)

#: the trigger of each CP state reading
CP_TRIGGER: Final[dict[CPState, Trigger]] = {
    CPState.A: Trigger.CP_A, CPState.B: Trigger.CP_B, CPState.C: Trigger.CP_C,
    CPState.D: Trigger.CP_D, CPState.E: Trigger.CP_E, CPState.F: Trigger.CP_F,
}


class Guard(StrEnum):
    """Named conditions of the transition table; :data:`GUARD_TEXT` says what each means."""

    NO_VENTILATION = "no_ventilation"
    PWM_BASIC = "pwm_basic"
    PWM_HLC_VIA_X1 = "pwm_hlc_via_x1"
    PWM_HLC_VIA_EF = "pwm_hlc_via_ef"
    HLC_MODE = "hlc_mode"
    BASIC_MODE = "basic_mode"
    FAULT_TIME_ELAPSED = "fault_time_elapsed"
    FAULT_CLEARED = "fault_cleared"
    # used by SETTLE_RULES
    FAULT_LATCHED = "fault_latched"
    NOT_ENABLED = "not_enabled"
    NO_VEHICLE = "no_vehicle"
    NOT_ALLOWED = "not_allowed"
    VEHICLE_B = "vehicle_b"
    VEHICLE_C_OR_D = "vehicle_c_or_d"


#: what each guard means (also rendered in the docs)
GUARD_TEXT: Final[dict[Guard, str]] = {
    Guard.NO_VENTILATION: "the charger has no ventilation (ChargerConfig.ventilation is False)",
    Guard.PWM_BASIC: "PWM is on with a nominal duty cycle (basic charging)",
    Guard.PWM_HLC_VIA_X1: "PWM is on at 5 % and the step to nominal goes through X1",
    Guard.PWM_HLC_VIA_EF: "PWM is on at 5 % and the step to nominal goes through E/F",
    Guard.HLC_MODE: "the charging mode is high-level communication",
    Guard.BASIC_MODE: "the charging mode is basic charging",
    Guard.FAULT_TIME_ELAPSED: "F has been driven for the minimum time (300 ms)",
    Guard.FAULT_CLEARED: "the application cleared the fault",
    Guard.FAULT_LATCHED: "a fault is latched",
    Guard.NOT_ENABLED: "the application disabled the charger",
    Guard.NO_VEHICLE: "no vehicle: last reading A or E, or no reading since the pilot was last driven to E/F",
    Guard.NOT_ALLOWED: "charging not allowed: paused, or basic charging without a current limit",
    Guard.VEHICLE_B: "the vehicle is in B",
    Guard.VEHICLE_C_OR_D: "the vehicle is in C or D",
}

#: the type of :data:`SETTLE`
Settle = Literal["settle"]
#: target meaning "the state the situation calls for" (see :data:`SETTLE_RULES`)
SETTLE: Final[Settle] = "settle"


@dataclass(frozen=True, slots=True)
class Transition:
    """One row of the transition table."""

    source: ChargerState
    trigger: Trigger
    target: ChargerState | Settle
    guard: Guard | None = None
    note: str = ""


@dataclass(frozen=True, slots=True)
class SettleRule:
    """One rule of :data:`SETTLE_RULES`: the first rule whose guard holds names the state."""

    guard: Guard
    target: ChargerState


S = ChargerState
T = Trigger

#: the states in which the charger listens to the vehicle (it drives X1 or PWM)
BASE_STATES: Final = (S.IDLE, S.CONNECTED, S.READY, S.CHARGING)
#: the states that end on their own timer
TIMED_STATES: Final = (S.STEP_X1, S.STEP_EF, S.PHASE_SWITCH, S.REPLUG)
#: states that read the pilot (readings are ignored while the charger drives E or F)
LISTENING_STATES: Final = (*BASE_STATES, S.STEP_X1, S.PHASE_SWITCH)

#: the order in which :data:`SETTLE` picks a state
SETTLE_RULES: Final[tuple[SettleRule, ...]] = (
    SettleRule(Guard.FAULT_LATCHED, S.FAULT),
    SettleRule(Guard.NOT_ENABLED, S.DISABLED),
    SettleRule(Guard.NO_VEHICLE, S.IDLE),
    SettleRule(Guard.NOT_ALLOWED, S.CONNECTED),
    SettleRule(Guard.VEHICLE_B, S.READY),
    SettleRule(Guard.VEHICLE_C_OR_D, S.CHARGING),
)


def _rows(
    sources: tuple[ChargerState, ...],
    triggers: tuple[Trigger, ...],
    target: ChargerState | Settle | None,
    guard: Guard | None = None,
    note: str = "",
) -> list[Transition]:
    """Rows for every source x trigger; ``target=None`` means "stay in the source state"."""
    return [Transition(s, t, s if target is None else target, guard, note) for s in sources for t in triggers]


_ALL: Final = tuple(ChargerState)
_FLAGS: Final = (T.ENABLE, T.PAUSE, T.RESUME, T.SET_CURRENT, T.ALLOW_POWER)

#: the transition table (see the module docstring for how it is read)
TRANSITIONS: Final[tuple[Transition, ...]] = tuple(
    # -- pilot readings in the four base states
    _rows(BASE_STATES, (T.CP_A, T.CP_B, T.CP_C, T.CP_E), SETTLE)
    + _rows(BASE_STATES, (T.CP_D,), S.FAULT, Guard.NO_VENTILATION, "ventilation fault: D refused")
    + _rows(BASE_STATES, (T.CP_D,), SETTLE)
    + _rows(BASE_STATES, (T.CP_F, T.CP_INVALID), S.FAULT, note="implausible reading")
    + _rows(BASE_STATES, (T.DIODE_FAULT,), S.FAULT, note="diode fault")
    # -- pilot readings while stepping through X1 or pausing for a phase switch
    + _rows((S.STEP_X1, S.PHASE_SWITCH), (T.CP_A, T.CP_E), S.IDLE, note="vehicle gone")
    + _rows((S.STEP_X1, S.PHASE_SWITCH), (T.CP_B, T.CP_C), None)
    + _rows((S.STEP_X1, S.PHASE_SWITCH), (T.CP_D,), S.FAULT, Guard.NO_VENTILATION, "ventilation fault: D refused")
    + _rows((S.STEP_X1, S.PHASE_SWITCH), (T.CP_D,), None)
    + _rows((S.STEP_X1, S.PHASE_SWITCH), (T.CP_F, T.CP_INVALID, T.DIODE_FAULT), S.FAULT, note="implausible reading")
    # -- flags: take effect at once in the base states, on the next settle elsewhere
    + _rows(BASE_STATES, _FLAGS, SETTLE)
    + _rows((S.DISABLED,), (T.ENABLE,), SETTLE)
    + _rows((S.DISABLED,), tuple(t for t in _FLAGS if t is not T.ENABLE), None, note="remembered")
    + _rows((*TIMED_STATES, S.FAULT), _FLAGS, None, note="remembered")
    + _rows((*BASE_STATES, *TIMED_STATES), (T.DISABLE,), S.DISABLED)
    + _rows((S.DISABLED, S.FAULT), (T.DISABLE,), None, note="remembered")
    # -- charging mode
    + _rows((S.READY, S.CHARGING), (T.REQUEST_HLC,), S.STEP_X1, Guard.PWM_BASIC, "nominal -> 5 % through X1")
    + _rows(BASE_STATES, (T.REQUEST_HLC,), SETTLE)
    + _rows((S.READY, S.CHARGING), (T.REQUEST_BASIC,), S.STEP_X1, Guard.PWM_HLC_VIA_X1, "5 % -> nominal, T_step_X1")
    + _rows((S.READY, S.CHARGING), (T.REQUEST_BASIC,), S.STEP_EF, Guard.PWM_HLC_VIA_EF, "5 % -> nominal, T_step_EF")
    + _rows(BASE_STATES, (T.REQUEST_BASIC,), SETTLE)
    + _rows((S.DISABLED, S.FAULT), (T.REQUEST_HLC, T.REQUEST_BASIC), None, note="remembered")
    + _rows((S.CONNECTED, S.READY, S.CHARGING), (T.RETRY_HLC,), S.STEP_EF, Guard.HLC_MODE, "T_step_EF, then 5 %")
    # -- phases (basic charging only while a vehicle is connected)
    + _rows((S.IDLE, S.DISABLED, S.FAULT), (T.SWITCH_PHASES,), None, note="relays switch at once")
    + _rows((S.CONNECTED, S.READY, S.CHARGING), (T.SWITCH_PHASES,), S.PHASE_SWITCH, Guard.BASIC_MODE)
    + _rows((S.PHASE_SWITCH,), (T.SWITCH_PHASES,), None, note="new target phase count")
    # -- faults and replug
    + _rows(_ALL, (T.FAULT,), S.FAULT)
    + _rows((S.FAULT,), (T.CLEAR_FAULT,), SETTLE, Guard.FAULT_TIME_ELAPSED)
    + _rows((S.FAULT,), (T.CLEAR_FAULT,), None, note="leaves when the minimum F time is over")
    + _rows((S.CONNECTED, S.READY, S.CHARGING), (T.REPLUG,), S.REPLUG)
    # -- timers
    + _rows((S.STEP_X1, S.STEP_EF), (T.STEP_DONE,), SETTLE)
    + _rows((S.PHASE_SWITCH,), (T.PHASE_PAUSE_DONE,), SETTLE, note="phase relays switch")
    + _rows((S.REPLUG,), (T.REPLUG_DONE,), SETTLE)
    + _rows((S.FAULT,), (T.FAULT_TIME_DONE,), SETTLE, Guard.FAULT_CLEARED)
    + _rows((S.FAULT,), (T.FAULT_TIME_DONE,), None)
)

del S, T


def rows_for(state: ChargerState, trigger: Trigger) -> tuple[Transition, ...]:
    """The rows of :data:`TRANSITIONS` for one ``(state, trigger)`` pair, in order."""
    return _INDEX.get((state, trigger), ())


def _build_index() -> dict[tuple[ChargerState, Trigger], tuple[Transition, ...]]:
    index: dict[tuple[ChargerState, Trigger], list[Transition]] = {}
    for row in TRANSITIONS:
        index.setdefault((row.source, row.trigger), []).append(row)
    return {key: tuple(rows) for key, rows in index.items()}


_INDEX: Final = _build_index()


def sub_state(vehicle: CPState | None, output: PilotOutput) -> str:
    """The IEC name of the pilot situation: ``"B1"`` (vehicle in B, X1), ``"C2"`` (C with PWM), ``"F"`` ...

    While the charger drives E or F, that letter is the state; ``"?1"``/``"?2"`` when no reading is known.
    """
    if output in (PilotOutput.E, PilotOutput.F):
        return output.value
    letter = vehicle.value if vehicle is not None else "?"
    if vehicle in (CPState.E, CPState.F):
        return letter
    return letter + ("1" if output is PilotOutput.X1 else "2")
