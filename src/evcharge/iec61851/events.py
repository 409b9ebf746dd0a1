"""What goes in and out of the control-pilot machines.

* **Commands** (application -> charger): :class:`Enable` ... :class:`Replug`, passed to
  :meth:`Charger.send() <evcharge.iec61851.charger.Charger.send>`.
* **Actions** (charger -> board driver): :class:`SetPwm` ... :class:`SelectPhases`, drained with
  :meth:`Charger.actions() <evcharge.iec61851.charger.Charger.actions>`.  The board applies them in order.
* **Vehicle commands** (test or simulation -> vehicle model): :class:`PlugIn` ... :class:`SetDiodeFault`,
  passed to :meth:`Vehicle.send() <evcharge.iec61851.vehicle.Vehicle.send>`.
* **Events** (charger -> application): :class:`StateChanged` ... :class:`DutyCycleDeferred`, drained with
  :meth:`Charger.next_event() <evcharge.iec61851.charger.Charger.next_event>`.
"""

from __future__ import annotations

from dataclasses import dataclass

from .states import ChargerState, ChargingMode, CPState, PilotFault, StepVia, Trigger

# --------------------------------------------------------------------------- commands


@dataclass(frozen=True, slots=True, kw_only=True)
class Enable:
    """The charger is available again (leaves F "EVSE not available")."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Disable:
    """The charger is not available: drive F, open the contactors at once."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Pause:
    """Charging is not allowed for now (X1); the contactors open once the vehicle leaves C/D, or after 6 s."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Resume:
    """Charging is allowed again: PWM comes back with the mode's duty cycle."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SetCurrentLimit:
    """The current the vehicle may draw per phase in basic charging (6 A ... ``ChargerConfig.max_current``)."""

    amps: float


@dataclass(frozen=True, slots=True, kw_only=True)
class AllowPower:
    """High-level communication only: the ISO 15118 / DIN stack allows (or stops) energy transfer.

    In HLC mode the contactors close in C2/D2 only while power is allowed.  Reset on every new plug-in.
    """

    allowed: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestHlc:
    """Use high-level communication: 5 % duty cycle (through X1 for T_step_X1 if a nominal PWM runs)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestBasic:
    """Leave high-level communication for basic charging; ``via`` overrides ``ChargerConfig.basic_step``."""

    via: StepVia | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryHlc:
    """Restart high-level communication: E/F for T_step_EF, then 5 % again (a SLAC retry)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SwitchPhases:
    """Charge on 1 or 3 phases; while a vehicle is connected this goes through a pause with contactors open."""

    phases: int


@dataclass(frozen=True, slots=True, kw_only=True)
class RaiseFault:
    """The application detected a fault (RCD, over-current, welded contactor ...): F and contactors open."""

    reason: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class ClearFault:
    """The fault is gone: leave F once it has been driven for the minimum time."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Replug:
    """Simulate unplug and plug-in: E or F for the replug time (wakes vehicles that went to sleep)."""


#: any application command
ChargerCommand = (
    Enable | Disable | Pause | Resume | SetCurrentLimit | AllowPower | RequestHlc | RequestBasic | RetryHlc
    | SwitchPhases | RaiseFault | ClearFault | Replug
)

#: the table trigger of each command
COMMAND_TRIGGER: dict[type[ChargerCommand], Trigger] = {
    Enable: Trigger.ENABLE,
    Disable: Trigger.DISABLE,
    Pause: Trigger.PAUSE,
    Resume: Trigger.RESUME,
    SetCurrentLimit: Trigger.SET_CURRENT,
    AllowPower: Trigger.ALLOW_POWER,
    RequestHlc: Trigger.REQUEST_HLC,
    RequestBasic: Trigger.REQUEST_BASIC,
    RetryHlc: Trigger.RETRY_HLC,
    SwitchPhases: Trigger.SWITCH_PHASES,
    RaiseFault: Trigger.FAULT,
    ClearFault: Trigger.CLEAR_FAULT,
    Replug: Trigger.REPLUG,
}

# --------------------------------------------------------------------------- actions


@dataclass(frozen=True, slots=True, kw_only=True)
class SetPwm:
    """Drive the 1 kHz PWM with ``duty`` percent (X2)."""

    duty: float


@dataclass(frozen=True, slots=True, kw_only=True)
class SetX1:
    """Drive a steady +12 V (X1): PWM off."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SetStateE:
    """Drive 0 V (state E)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SetStateF:
    """Drive a steady -12 V (state F)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CloseContactors:
    """Switch the power on, on ``phases`` phases."""

    phases: int


@dataclass(frozen=True, slots=True, kw_only=True)
class OpenContactors:
    """Switch the power off."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SelectPhases:
    """Set the phase-selection relays (only ever emitted while the contactors are open)."""

    phases: int


#: any action for the board
ChargerAction = SetPwm | SetX1 | SetStateE | SetStateF | CloseContactors | OpenContactors | SelectPhases

# --------------------------------------------------------------------------- events


@dataclass(frozen=True, slots=True, kw_only=True)
class StateChanged:
    """The charger machine moved from ``previous`` to ``state`` because of ``trigger``."""

    previous: ChargerState
    state: ChargerState
    trigger: Trigger


@dataclass(frozen=True, slots=True, kw_only=True)
class VehicleStateChanged:
    """A new vehicle state was read (``None``: unknown, after the charger drove E or F)."""

    previous: CPState | None
    state: CPState | None


@dataclass(frozen=True, slots=True, kw_only=True)
class PowerOn:
    """The contactors were told to close."""

    phases: int


@dataclass(frozen=True, slots=True, kw_only=True)
class PowerOff:
    """The contactors were told to open; ``forced`` when the vehicle kept drawing 6 s after the PWM stopped."""

    reason: str
    forced: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class FaultRaised:
    """The charger went to F because of ``fault``."""

    fault: PilotFault
    detail: str


@dataclass(frozen=True, slots=True, kw_only=True)
class FaultCleared:
    """The charger left F after the application cleared ``fault``."""

    fault: PilotFault


@dataclass(frozen=True, slots=True, kw_only=True)
class ModeChanged:
    """The charging mode changed (the duty cycle follows when the pilot is next driven with PWM)."""

    mode: ChargingMode


@dataclass(frozen=True, slots=True, kw_only=True)
class PhasesSelected:
    """The phase-selection relays were switched."""

    phases: int


@dataclass(frozen=True, slots=True, kw_only=True)
class DutyCycleDeferred:
    """A new duty cycle waits until ``at`` (at most one change per 5 s in basic charging)."""

    duty: float
    at: float


#: any event of the charger
ChargerEvent = (
    StateChanged | VehicleStateChanged | PowerOn | PowerOff | FaultRaised | FaultCleared | ModeChanged
    | PhasesSelected | DutyCycleDeferred
)

# --------------------------------------------------------------------------- vehicle commands


@dataclass(frozen=True, slots=True, kw_only=True)
class PlugIn:
    """Connect the cable: the vehicle presents B (then C/D as the pilot allows)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Unplug:
    """Disconnect the cable: A, no current."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SetReady:
    """Whether the vehicle wants energy (basic charging); not ready means B, no current."""

    ready: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class SetHlcPower:
    """High-level communication: the vehicle's ISO 15118 / DIN stack asks for power (C) or stops (B)."""

    requested: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class SetDiodeFault:
    """Inject (or remove) a shorted diode."""

    fault: bool


#: any command of the vehicle model, passed to :meth:`Vehicle.send() <evcharge.iec61851.vehicle.Vehicle.send>`
VehicleCommand = PlugIn | Unplug | SetReady | SetHlcPower | SetDiodeFault

# --------------------------------------------------------------------------- vehicle events


@dataclass(frozen=True, slots=True, kw_only=True)
class ResistorStateChanged:
    """The simulated vehicle switched its resistors: it now presents ``state`` (A when unplugged)."""

    state: CPState


@dataclass(frozen=True, slots=True, kw_only=True)
class AllowedCurrentChanged:
    """The vehicle read a new allowance from the pilot (``None``: no charging allowed by the duty cycle)."""

    amps: float | None


@dataclass(frozen=True, slots=True, kw_only=True)
class HlcRequested:
    """The vehicle recognised 5 %: high-level communication (SLAC, ISO 15118 / DIN) must start."""


@dataclass(frozen=True, slots=True, kw_only=True)
class DemandChanged:
    """The current the vehicle draws per phase changed (it flows only while the contactors are closed)."""

    amps: float


#: any event of the vehicle model
VehicleEvent = ResistorStateChanged | AllowedCurrentChanged | HlcRequested | DemandChanged
