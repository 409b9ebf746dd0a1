"""The simulated car, living inside the simulated Yeti board.

:class:`Car` is the vehicle side of the control pilot -- the IEC 61851 :class:`~evcharge.iec61851.vehicle.Vehicle`
model -- plus a battery (capacity, state of charge).  It implements the board simulator's
:class:`~evcharge.bsp.yeti.vehicle.VehicleModel`, so the Yeti firmware simulator classifies its pilot level and
meters the current it draws.

:class:`CarOnBoard` is the simulated board as a whole: the :class:`~evcharge.bsp.yeti.simulator.YetiSimulator`
with the car plugged into it.  Each time the board's control loop runs, the car sees what the board drives on the
pilot (X1, the PWM duty cycle, or F) and lets its own timers run; then the car charges its battery with the power
the board meters.  Everything is sans-I/O: time comes in as ``now``; a pty adapter moves the board's bytes.
"""

from __future__ import annotations

from dataclasses import dataclass

from evcharge.bsp.yeti.simulator import SimulatorConfig, YetiSimulator
from evcharge.iec61851 import CPState, PlugIn, SetReady, Unplug, Vehicle, VehicleConfig
from evcharge.iec61851.states import PilotOutput

__all__ = ["Car", "CarConfig", "CarOnBoard"]

_LEVELS = {CPState.A: 12.0, CPState.B: 9.0, CPState.C: 6.0, CPState.D: 3.0, CPState.E: 0.0, CPState.F: -12.0}


@dataclass(frozen=True, slots=True, kw_only=True)
class CarConfig:
    """The simulated car."""

    capacity_kwh: float = 60.0  #: usable battery capacity
    soc: float = 20.0  #: state of charge at plug-in, %
    target_soc: float = 100.0  #: at this state of charge (%) the car stops charging, opening S2 (C -> B)
    max_current: float = 32.0  #: the on-board charger's maximum current per phase, A
    phases: int = 3  #: phases the on-board charger uses (1 or 3)
    reaction_time: float = 2.0  #: how long the car takes to follow a new duty cycle, s (IEC 61851-1 allows 5 s)
    taper_from: float = 80.0  #: above this state of charge (%) the car draws less, down to a tenth at 100 %

    def __post_init__(self) -> None:
        if not self.capacity_kwh > 0:
            raise ValueError(f"capacity_kwh must be positive, got {self.capacity_kwh!r}")
        if not 0.0 <= self.soc <= 100.0 or not 0.0 < self.target_soc <= 100.0:
            raise ValueError("soc must be 0 ... 100 % and target_soc 0 ... 100 %")
        if self.phases not in (1, 3):
            raise ValueError(f"phases must be 1 or 3, got {self.phases!r}")


class Car:
    """An AC car: the IEC 61851 vehicle model and a battery; a :class:`~evcharge.bsp.yeti.vehicle.VehicleModel`."""

    def __init__(self, config: CarConfig, *, now: float = 0.0) -> None:
        self.config = config
        self.vehicle = Vehicle(
            VehicleConfig(max_current=config.max_current, phases=config.phases, hlc=False,
                          reaction_time=config.reaction_time),
            now=now,
        )
        self.soc = config.soc
        self.energy_wh = 0.0  #: energy taken into the battery since the start
        self._full = False

    # -------------------------------------------------------------- VehicleModel (asked by the board simulator)
    @property
    def pilot_level(self) -> float:
        """The positive pilot level the car's resistors produce."""
        return _LEVELS[self.vehicle.state]

    @property
    def diode_fault(self) -> bool:
        """True while a diode fault is injected."""
        return not self.vehicle.diode_ok

    @property
    def phases(self) -> int:
        """Phases the on-board charger uses."""
        return self.config.phases

    def current_demand(self, offered_a: float) -> float:
        """Current per phase the car draws (never more than offered, never before it is in C/D)."""
        if self.vehicle.state not in (CPState.C, CPState.D):
            return 0.0
        return min(self.vehicle.demand, offered_a, self.taper_limit())

    def taper_limit(self) -> float:
        """The most the battery accepts now (A per phase): full current up to ``taper_from``, then linearly
        less, to a tenth of the maximum when full."""
        c = self.config
        if self.soc <= c.taper_from or c.taper_from >= 100.0:
            return c.max_current
        left = (100.0 - self.soc) / (100.0 - c.taper_from)
        return c.max_current * (0.1 + 0.9 * left)

    # -------------------------------------------------------------- the driver's hands
    @property
    def plugged_in(self) -> bool:
        """Whether the cable is plugged in."""
        return self.vehicle.plugged_in

    def plug_in(self, now: float) -> None:
        """Plug the cable in (B; C follows when the PWM allows a current)."""
        self.vehicle.send(PlugIn(), now)
        self.vehicle.send(SetReady(ready=not self._full), now)

    def unplug(self, now: float) -> None:
        """Pull the cable (A)."""
        self.vehicle.send(Unplug(), now)

    def stop_charging(self, now: float) -> None:
        """The car no longer wants energy: it opens S2 (C -> B)."""
        self.vehicle.send(SetReady(ready=False), now)

    # -------------------------------------------------------------- time
    def observe_pilot(self, pwm_units: int, now: float) -> None:
        """What the board drives, in the firmware's units (0 = F, 10000 = X1, else the duty cycle x 100);
        lets the car's own timers run."""
        if pwm_units == 0:
            self.vehicle.receive_pilot(PilotOutput.F, None, now)
        elif pwm_units >= 10000:
            self.vehicle.receive_pilot(PilotOutput.X1, None, now)
        else:
            self.vehicle.receive_pilot(PilotOutput.X2, pwm_units / 100.0, now)
        timer = self.vehicle.get_timer()
        if timer is not None and timer <= now:
            self.vehicle.handle_timer(now)

    def charge(self, watts: float, dt: float, now: float) -> None:
        """``watts`` flowed into the car for ``dt`` seconds; the car stops at its target state of charge."""
        wh = watts * dt / 3600.0
        self.energy_wh += wh
        self.soc = min(100.0, self.soc + wh / (self.config.capacity_kwh * 10.0))
        if self.soc >= self.config.target_soc and not self._full:
            self._full = True
            if self.vehicle.plugged_in:
                self.vehicle.send(SetReady(ready=False), now)


class CarOnBoard:
    """The simulated Yeti board with the car attached: a sans-I/O device for a pty adapter."""

    def __init__(self, car: Car, config: SimulatorConfig | None = None) -> None:
        self.car = car
        self.board = YetiSimulator(config, vehicle=car)
        self._last: float | None = None

    def power_up(self, now: float) -> None:
        """Switch the board on."""
        self._last = now
        self.board.power_up(now)

    def receive_data(self, data: bytes, now: float) -> None:
        """Bytes from the host (the charger's driver)."""
        self.board.receive_data(data, now)

    def data_to_send(self) -> bytes:
        """Bytes the board writes to the host."""
        return self.board.data_to_send()

    def get_timer(self) -> float | None:
        """When :meth:`handle_timer` must run."""
        times = [t for t in (self.board.get_timer(), self.car.vehicle.get_timer()) if t is not None]
        return min(times) if times else None

    def handle_timer(self, now: float) -> None:
        """The firmware's control loop (where the car sees the pilot) and messages run; the battery charges."""
        timer = self.car.vehicle.get_timer()
        if timer is not None and timer <= now:
            self.car.vehicle.handle_timer(now)
        self.board.handle_timer(now)
        dt = 0.0 if self._last is None else max(0.0, now - self._last)
        self._last = now
        watts = sum(v * i for v, i in zip(self.board.voltages, self.board.currents, strict=True))
        if watts > 0:
            self.car.charge(watts, dt, now)
