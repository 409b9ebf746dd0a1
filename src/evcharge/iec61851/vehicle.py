"""A vehicle-side model of the control pilot, sans-I/O, for tests and simulations.

The vehicle presents resistor states (A unplugged, B connected, C ready, D ready with ventilation),
reads what the charger drives on the pilot, and decides how much current it draws per phase:

* it goes to C (D when it needs ventilation) only while PWM runs, it is ready, and either the duty
  cycle allows a current (basic charging) or, at 5 %, its high-level stack asked for power
  (:class:`~.events.SetHlcPower`);
* it never draws more than the advertised current: a lower limit is followed ``reaction_time`` after
  it appears (IEC 61851-1 allows 5 s), a higher one too;
* when the PWM stops (X1) or the duty cycle stops allowing charging, it stops drawing and returns to B
  ``stop_time`` later (unless configured to misbehave with ``ignores_pwm_stop``); on E or F at once;
* at 5 % it reports :class:`~.events.HlcRequested` once per PWM period of 5 %;
* ``SetDiodeFault(fault=True)`` simulates a shorted diode (the simulated line then shows it on the low level).

Commands go in through :meth:`Vehicle.send` (``vehicle.send(PlugIn(), now)``), what the charger drives
through :meth:`Vehicle.receive_pilot`; the vehicle has the house shape of ``evcharge.sansio.Core``.
"""

from __future__ import annotations

import math
from collections import deque
from typing import TYPE_CHECKING

from .config import VehicleConfig
from .errors import LocalProtocolError
from .events import (
    AllowedCurrentChanged,
    DemandChanged,
    HlcRequested,
    PlugIn,
    ResistorStateChanged,
    SetDiodeFault,
    SetHlcPower,
    SetReady,
    Unplug,
    VehicleCommand,
    VehicleEvent,
)
from .pwm import current_for_duty_cycle, hlc_required
from .states import CPState, PilotOutput


class Vehicle:
    """The simulated vehicle (see the module docstring)."""

    def __init__(self, config: VehicleConfig | None = None, *, now: float = 0.0) -> None:
        self._config = config if config is not None else VehicleConfig()
        self._now = now
        self._plugged = False
        self._ready = True
        self._hlc_power = False
        self._diode_ok = True
        self._state = CPState.A
        self._pilot = PilotOutput.X1
        self._duty: float | None = None
        self._allowed: float | None = None
        self._hlc = False
        self._demand = 0.0
        self._target = 0.0
        self._target_at: float | None = None
        self._stop_at: float | None = None
        self._events: deque[VehicleEvent] = deque()

    # ------------------------------------------------------------------ inspection

    @property
    def config(self) -> VehicleConfig:
        """The configuration the vehicle was created with."""
        return self._config

    @property
    def state(self) -> CPState:
        """The resistor state the vehicle presents (A when unplugged)."""
        return self._state

    @property
    def plugged_in(self) -> bool:
        """Whether the cable is plugged in."""
        return self._plugged

    @property
    def diode_ok(self) -> bool:
        """False while a diode fault is injected."""
        return self._diode_ok

    @property
    def demand(self) -> float:
        """The current the vehicle draws per phase (A) when power is present."""
        return self._demand

    @property
    def phases(self) -> int:
        """How many phases the vehicle's charger uses."""
        return self._config.phases

    @property
    def allowed_current(self) -> float | None:
        """The current the present duty cycle allows (``None``: none)."""
        return self._allowed

    @property
    def hlc_requested(self) -> bool:
        """True while the pilot shows 5 % (and the vehicle understands high-level communication)."""
        return self._hlc

    def next_event(self) -> VehicleEvent | None:
        """The next event, or ``None``."""
        return self._events.popleft() if self._events else None

    def get_timer(self) -> float | None:
        """When :meth:`handle_timer` must be called next."""
        times = [t for t in (self._target_at, self._stop_at) if t is not None]
        return min(times) if times else None

    # ------------------------------------------------------------------ the driver's (or test's) wishes

    def send(self, command: VehicleCommand, now: float) -> None:
        """One command (:data:`~.events.VehicleCommand`).

        :raises evcharge.iec61851.errors.LocalProtocolError: the command does not fit the present state.
        """
        match command:
            case PlugIn():
                self._plug_in(now)
            case Unplug():
                self._unplug(now)
            case SetReady(ready=ready):
                self._advance(now)
                self._ready = ready
                self._react()
            case SetHlcPower(requested=requested):
                self._advance(now)
                self._hlc_power = requested
                self._react()
            case SetDiodeFault(fault=fault):
                self._advance(now)
                self._diode_ok = not fault
            case _:
                raise LocalProtocolError(f"{command!r} is not a vehicle command")

    def _plug_in(self, now: float) -> None:
        self._advance(now)
        if self._plugged:
            raise LocalProtocolError("the vehicle is already plugged in")
        self._plugged = True
        self._set_state(CPState.B)
        self._react()

    def _unplug(self, now: float) -> None:
        self._advance(now)
        if not self._plugged:
            raise LocalProtocolError("the vehicle is not plugged in")
        self._plugged = False
        self._stop_now()
        self._set_state(CPState.A)
        self._set_allowed(None)
        self._hlc = False

    # ------------------------------------------------------------------ the pilot

    def receive_pilot(self, output: PilotOutput, duty: float | None, now: float) -> None:
        """What the charger drives: X1, X2 with ``duty`` percent, E or F."""
        self._advance(now)
        if output is PilotOutput.X2 and (duty is None or not math.isfinite(duty)):
            raise LocalProtocolError(f"X2 needs a duty cycle, got {duty!r}")
        if output is self._pilot and duty == self._duty:
            return
        was_hlc = self._hlc
        self._pilot, self._duty = output, (duty if output is PilotOutput.X2 else None)
        if self._plugged and self._duty is not None:
            self._hlc = self._config.hlc and hlc_required(self._duty)
            self._set_allowed(current_for_duty_cycle(self._duty))
        else:
            self._hlc = False
            self._set_allowed(None)
        if self._hlc and not was_hlc:
            self._events.append(HlcRequested())
        if output in (PilotOutput.E, PilotOutput.F):
            self._stop_now()  # EVSE error / not available: stop at once
            if self._plugged:
                self._set_state(CPState.B)
            self._hlc_power = False
        self._react()

    def handle_timer(self, now: float) -> None:
        """Let time pass."""
        self._advance(now)
        if self._target_at is not None and self._target_at <= now:
            self._target_at = None
            self._set_demand(self._target)
        if self._stop_at is not None and self._stop_at <= now:
            self._stop_now()
            if self._plugged:
                self._set_state(CPState.B)
            self._react()

    # ------------------------------------------------------------------ internals

    def _advance(self, now: float) -> None:
        if not math.isfinite(now) or now < self._now:
            raise LocalProtocolError(f"bad time {now!r} (last {self._now})")
        self._now = now

    def _may_charge(self) -> bool:
        if not (self._plugged and self._ready and self._pilot is PilotOutput.X2):
            return False
        if self._hlc:
            return self._hlc_power
        return self._allowed is not None

    def _limit(self) -> float:
        if self._hlc:
            return self._config.max_current
        return min(self._allowed or 0.0, self._config.max_current)

    def _react(self) -> None:
        if not self._plugged:
            return
        charging_state = CPState.D if self._config.needs_ventilation else CPState.C
        if self._may_charge():
            self._stop_at = None
            self._set_state(charging_state)
            target = self._limit()
            if target != self._target:
                self._target = target
                self._target_at = self._now + self._config.reaction_time
        elif self._state in (CPState.C, CPState.D):
            self._target, self._target_at = self._demand, None  # no increase once charging is not allowed
            if not (self._plugged and self._ready) or (self._hlc and not self._hlc_power):
                self._stop_now()  # the vehicle itself stops: it lowers the current, then opens S2
                self._set_state(CPState.B)
            elif self._stop_at is None and not self._config.ignores_pwm_stop:
                self._stop_at = self._now + self._config.stop_time

    def _stop_now(self) -> None:
        self._stop_at = None
        self._target, self._target_at = 0.0, None
        self._set_demand(0.0)

    def _set_state(self, state: CPState) -> None:
        if state is not self._state:
            self._state = state
            self._events.append(ResistorStateChanged(state=state))

    def _set_allowed(self, amps: float | None) -> None:
        if amps != self._allowed:
            self._allowed = amps
            self._events.append(AllowedCurrentChanged(amps=amps))

    def _set_demand(self, amps: float) -> None:
        if amps != self._demand:
            self._demand = amps
            self._events.append(DemandChanged(amps=amps))


if TYPE_CHECKING:  # mypy holds the model to the house shape, evcharge.sansio.Core
    from evcharge.sansio import Core

    def _shape(vehicle: Vehicle) -> Core[VehicleCommand, VehicleEvent, CPState]:
        return vehicle
