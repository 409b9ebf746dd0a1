"""Configuration of the charger and vehicle machines: frozen dataclasses, defaults from the standard."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from .classify import IEC_BANDS, PilotBands
from .pwm import MAX_CURRENT, MIN_CURRENT
from .states import ChargingMode, PilotOutput, StepVia


def _check_time(name: str, value: float, *, maximum: float = math.inf) -> None:
    if not (math.isfinite(value) and 0.0 <= value <= maximum):
        raise ValueError(f"{name} must be a duration between 0 and {maximum:g} s, got {value!r}")


@dataclass(frozen=True, slots=True, kw_only=True)
class ChargerConfig:
    """Everything the charger machine needs to know about its hardware and policy.

    Timing defaults (seconds) are the standard's, see the facts file section 5:

    * ``power_off_timeout`` 6: contactors open by force when the vehicle stays in C after the PWM stopped
    * ``fault_min_time`` 0.3: state F after a fault (IEC 61851-1:2017 Table A.5)
    * ``duty_change_interval`` 5: at most one duty-cycle change per 5 s in basic charging
    * ``t_step_x1`` 3 / ``t_step_ef`` 4: ISO 15118-3 T_step_X1 / T_step_EF
    * ``replug_time`` 4: E/F for a replug
    * ``phase_switch_pause`` 10: pause with contactors open around a 1/3-phase switch (EVerest's default)
    """

    #: the largest current the hardware allows per phase (A), 6 ... 80
    max_current: float = 32.0
    #: the current limit at start; ``None``: basic charging waits for :class:`~.events.SetCurrentLimit`
    initial_current: float | None = None
    #: phase count at start (1 or 3)
    phases: int = 3
    #: whether the hardware has phase-selection relays
    phase_switching: bool = False
    #: whether the site is ventilated; without it, a vehicle in D is refused (fault)
    ventilation: bool = False
    #: start enabled (otherwise in DISABLED, driving F, until :class:`~.events.Enable`)
    start_enabled: bool = True
    #: start paused (e.g. to wait for authorization before the first PWM)
    start_paused: bool = False
    #: charging mode at start
    mode: ChargingMode = ChargingMode.BASIC
    #: voltage bands for :meth:`~.charger.Charger.receive_voltages`
    bands: PilotBands = field(default=IEC_BANDS)
    #: consecutive implausible or diode-fault readings before the fault (1 = the first one); a board that
    #: samples at PWM edges may need a few
    fault_readings: int = 1
    power_off_timeout: float = 6.0
    fault_min_time: float = 0.3
    duty_change_interval: float = 5.0
    t_step_x1: float = 3.0
    t_step_ef: float = 4.0
    #: what the charger drives during T_step_EF, E or F
    step_ef_output: PilotOutput = PilotOutput.F
    #: how :class:`~.events.RequestBasic` leaves 5 % by default
    basic_step: StepVia = StepVia.X1
    replug_time: float = 4.0
    #: what the charger drives for a replug, E or F
    replug_output: PilotOutput = PilotOutput.F
    phase_switch_pause: float = 10.0
    #: what the charger drives during a phase switch, X1 or F (some vehicles need F)
    phase_switch_output: PilotOutput = PilotOutput.X1

    def __post_init__(self) -> None:
        if not (math.isfinite(self.max_current) and MIN_CURRENT <= self.max_current <= MAX_CURRENT):
            raise ValueError(f"max_current must be {MIN_CURRENT:g} ... {MAX_CURRENT:g} A, got {self.max_current!r}")
        if self.initial_current is not None and not (
            math.isfinite(self.initial_current) and MIN_CURRENT <= self.initial_current <= self.max_current
        ):
            raise ValueError(f"initial_current must be {MIN_CURRENT:g} ... max_current A, got {self.initial_current!r}")
        if not (isinstance(self.fault_readings, int) and 1 <= self.fault_readings <= 1000):
            raise ValueError(f"fault_readings must be 1 ... 1000, got {self.fault_readings!r}")
        if self.phases not in (1, 3):
            raise ValueError(f"phases must be 1 or 3, got {self.phases!r}")
        for name in ("power_off_timeout", "duty_change_interval", "t_step_x1", "t_step_ef", "replug_time",
                     "phase_switch_pause"):
            _check_time(name, getattr(self, name))
        _check_time("fault_min_time", self.fault_min_time)
        _check_time("power_off_timeout", self.power_off_timeout, maximum=6.0)
        if self.fault_min_time < 0.3:
            raise ValueError("fault_min_time must be at least 0.3 s (IEC 61851-1 Table A.5)")
        if self.t_step_ef < 4.0:
            raise ValueError("t_step_ef must be at least 4 s (ISO 15118-3 T_step_EF)")
        for name in ("step_ef_output", "replug_output"):
            if getattr(self, name) not in (PilotOutput.E, PilotOutput.F):
                raise ValueError(f"{name} must be PilotOutput.E or PilotOutput.F")
        if self.phase_switch_output not in (PilotOutput.X1, PilotOutput.F):
            raise ValueError("phase_switch_output must be PilotOutput.X1 or PilotOutput.F")


@dataclass(frozen=True, slots=True, kw_only=True)
class VehicleConfig:
    """The simulated vehicle (:class:`~.vehicle.Vehicle`).

    ``reaction_time``: how long the vehicle takes to follow a lower current limit (IEC 61851-1 gives it
    5 s); ``stop_time``: how long it takes to stop drawing and leave C after the PWM stops (X1).
    """

    max_current: float = 32.0
    phases: int = 3
    #: asks for ventilation, so uses D instead of C
    needs_ventilation: bool = False
    #: understands high-level communication (recognises 5 %); a basic-only vehicle just waits in B
    hlc: bool = True
    reaction_time: float = 1.0
    stop_time: float = 1.0
    #: misbehaviour for tests, keeps C (and keeps drawing) after the PWM stops
    ignores_pwm_stop: bool = False
    #: forward voltage of the vehicle's diode (V), used by the simulated line
    diode_drop: float = 0.7

    def __post_init__(self) -> None:
        if not (math.isfinite(self.max_current) and self.max_current > 0):
            raise ValueError(f"max_current must be a positive current, got {self.max_current!r}")
        if self.phases not in (1, 2, 3):
            raise ValueError(f"phases must be 1, 2 or 3, got {self.phases!r}")
        _check_time("reaction_time", self.reaction_time, maximum=5.0)
        _check_time("stop_time", self.stop_time)
        if not (math.isfinite(self.diode_drop) and 0.0 <= self.diode_drop < 2.0):
            raise ValueError(f"diode_drop must be 0 ... 2 V, got {self.diode_drop!r}")
