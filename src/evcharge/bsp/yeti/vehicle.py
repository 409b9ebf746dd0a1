"""The small vehicle model inside the simulated Yeti board.

The simulator asks a :class:`VehicleModel` two things: the level the car pulls the pilot's positive half to (its
resistor network: 12 V unplugged, 9 V in B, 6 V in C, 3 V in D, 0 V for a short = E) with its diode state, and the
current per phase it draws for a given offer; it is told what the board drives on the pilot at every control tick.
:class:`SimpleVehicle` is a self-contained implementation; :class:`Iec61851Vehicle` puts the vehicle model of
:mod:`evcharge.iec61851` (which reacts to the PWM by itself) in its place.
"""

from __future__ import annotations

import enum
from typing import Any, Protocol


class VehicleState(enum.Enum):
    """What the simulated car presents on the pilot."""

    UNPLUGGED = 12.0
    B = 9.0
    C = 6.0
    D = 3.0
    SHORTED = 0.0


class VehicleModel(Protocol):
    """What the simulated board needs to know about the car."""

    @property
    def pilot_level(self) -> float:
        """Voltage of the pilot's positive half as loaded by the car (12, 9, 6, 3 or 0 V)."""
        ...

    @property
    def diode_fault(self) -> bool:
        """True when the car's pilot diode is missing or shorted."""
        ...

    @property
    def phases(self) -> int:
        """Number of phases the car's charger uses (1..3)."""
        ...

    def current_demand(self, offered_a: float) -> float:
        """Current per phase the car draws when offered ``offered_a`` (0 when it does not charge)."""
        ...

    def observe_pilot(self, pwm_units: int, now: float) -> None:
        """What the board drives, in the firmware's units: 0 = F (-12 V), 10000 = X1 (+12 V), else PWM/100 %."""
        ...


class SimpleVehicle:
    """A car with a state, a maximum current and a phase count; mutate it from a test or the CLI."""

    def __init__(self, *, max_current_a: float = 32.0, phases: int = 3) -> None:
        if not 1 <= phases <= 3:
            raise ValueError(f"phases must be 1..3, got {phases}")
        self.state = VehicleState.UNPLUGGED
        self.max_current_a = max_current_a
        self._phases = phases
        self._diode_fault = False

    @property
    def pilot_level(self) -> float:
        return self.state.value

    @property
    def diode_fault(self) -> bool:
        return self._diode_fault

    @property
    def phases(self) -> int:
        return self._phases

    def current_demand(self, offered_a: float) -> float:
        if self.state not in (VehicleState.C, VehicleState.D) or offered_a <= 0:
            return 0.0
        return min(offered_a, self.max_current_a)

    def observe_pilot(self, pwm_units: int, now: float) -> None:
        """This car does not react to the pilot by itself: a test or the CLI moves it."""

    # convenient verbs
    def plug_in(self) -> None:
        """Connect the cable: state B."""
        self.state = VehicleState.B

    def unplug(self) -> None:
        """Disconnect: state A."""
        self.state = VehicleState.UNPLUGGED

    def request_power(self, ventilation: bool = False) -> None:
        """Close S2: state C (or D when the car needs ventilation)."""
        self.state = VehicleState.D if ventilation else VehicleState.C

    def stop_requesting(self) -> None:
        """Open S2: back to B."""
        self.state = VehicleState.B

    def short_pilot(self) -> None:
        """Short the pilot to PE: state E."""
        self.state = VehicleState.SHORTED

    def set_diode_fault(self, fault: bool) -> None:
        """Remove (``True``) or restore the pilot diode."""
        self._diode_fault = fault


_LEVEL_OF_STATE = {"A": 12.0, "B": 9.0, "C": 6.0, "D": 3.0, "E": 0.0, "F": 12.0}


class Iec61851Vehicle:
    """Adapts :class:`evcharge.iec61851.vehicle.Vehicle` to :class:`VehicleModel`.

    The vehicle sees the pilot the simulated board drives and chooses its state and demand itself; plug it in,
    out or make it ready through the wrapped object (``adapter.vehicle.send(PlugIn(), now)``).
    """

    def __init__(self, vehicle: Any) -> None:
        from evcharge.iec61851.states import PilotOutput

        self.vehicle = vehicle
        self._outputs = PilotOutput

    @property
    def pilot_level(self) -> float:
        return _LEVEL_OF_STATE[str(self.vehicle.state)]

    @property
    def diode_fault(self) -> bool:
        return not bool(self.vehicle.diode_ok)

    @property
    def phases(self) -> int:
        return int(self.vehicle.phases)

    def current_demand(self, offered_a: float) -> float:
        if str(self.vehicle.state) not in ("C", "D") or offered_a <= 0:
            return 0.0
        return float(self.vehicle.demand)

    def observe_pilot(self, pwm_units: int, now: float) -> None:
        timer = self.vehicle.get_timer()
        if timer is not None and timer <= now:
            self.vehicle.handle_timer(now)
        if pwm_units == 0:
            self.vehicle.receive_pilot(self._outputs.F, None, now)
        elif pwm_units >= 10000:
            self.vehicle.receive_pilot(self._outputs.X1, None, now)
        else:
            self.vehicle.receive_pilot(self._outputs.X2, pwm_units / 100.0, now)
