"""A simulated pilot line joining a :class:`~.charger.Charger` and a :class:`~.vehicle.Vehicle`.

The line plays the board: it applies the charger's actions (pilot output, contactors, phase relays),
computes the pilot voltages the vehicle's resistors and diode produce, and feeds them back to the
charger as a board would.  Time is a fake clock: :meth:`PilotLine.run_until` jumps from timer to
timer, so a whole session of minutes runs in milliseconds.  No sleeps, no threads.

Voltages follow the IEC 61851-1 equivalent circuit: a +/-12 V source behind 1 kOhm, and on the
vehicle a diode (``diode_drop`` V) in series with R2 = 2.74 kOhm, paralleled by R3 = 1.3 kOhm in C or
270 Ohm in D.  B then reads about 9 V, C 6 V and D 3 V; with a shorted diode the negative half-wave is
divided too (about -8.8 V in B) instead of staying at -12 V.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .charger import Charger
from .events import (
    ChargerAction,
    ChargerCommand,
    ChargerEvent,
    CloseContactors,
    OpenContactors,
    PlugIn,
    SelectPhases,
    SetPwm,
    SetStateE,
    SetStateF,
    SetX1,
    Unplug,
    VehicleEvent,
)
from .states import CPState, PilotOutput
from .vehicle import Vehicle

SOURCE_VOLTAGE = 12.0
SOURCE_RESISTANCE = 1000.0
#: the vehicle's resistance per state in Ohm -- R2, R2 || 1.3 kOhm, R2 || 270 Ohm
VEHICLE_RESISTANCE: dict[CPState, float] = {
    CPState.B: 2740.0,
    CPState.C: 1.0 / (1.0 / 2740.0 + 1.0 / 1300.0),
    CPState.D: 1.0 / (1.0 / 2740.0 + 1.0 / 270.0),
}


def pilot_voltages(output: PilotOutput, vehicle_state: CPState, *, diode_ok: bool = True,
                   diode_drop: float = 0.7, shorted_to_pe: bool = False) -> tuple[float, float | None]:
    """The (high, low) pilot levels a board measures; ``low`` is ``None`` without PWM (nothing to sample)."""
    if shorted_to_pe or output is PilotOutput.E:
        return 0.0, (0.0 if output is PilotOutput.X2 else None)
    if output is PilotOutput.F:
        return -SOURCE_VOLTAGE, None
    r = VEHICLE_RESISTANCE.get(vehicle_state)
    if r is None:  # no vehicle: open circuit
        high = SOURCE_VOLTAGE
    else:
        drop = diode_drop if diode_ok else 0.0
        high = drop + (SOURCE_VOLTAGE - drop) * r / (r + SOURCE_RESISTANCE)
    if output is PilotOutput.X1:
        return high, None
    if r is None or diode_ok:
        return high, -SOURCE_VOLTAGE
    return high, -SOURCE_VOLTAGE * r / (r + SOURCE_RESISTANCE)


@dataclass(slots=True)
class LineRecord:
    """What happened on the line, with times: for assertions in tests and for the simulation's log."""

    actions: list[tuple[float, ChargerAction]] = field(default_factory=list)
    charger_events: list[tuple[float, ChargerEvent]] = field(default_factory=list)
    vehicle_events: list[tuple[float, VehicleEvent]] = field(default_factory=list)
    #: (time, allowed current or None, vehicle demand, contactors closed) after every settled change
    samples: list[tuple[float, float | None, float, bool]] = field(default_factory=list)


class PilotLine:
    """Charger + vehicle + the wire between them, on a fake clock that starts at ``now``."""

    def __init__(self, charger: Charger, vehicle: Vehicle, *, now: float = 0.0) -> None:
        self.charger = charger
        self.vehicle = vehicle
        self.now = now
        self.output = PilotOutput.X1
        self.duty: float | None = None
        self.contactors_closed = False
        self.phases = charger.phases
        self.shorted_to_pe = False
        self.injected: tuple[float, float | None] | None = None
        self.record = LineRecord()
        self._last_fed: tuple[float, float | None] | None = None
        self.sync()

    # ------------------------------------------------------------------ measurements

    def voltages(self) -> tuple[float, float | None]:
        """The pilot levels the board measures now."""
        if self.injected is not None:
            return self.injected
        return pilot_voltages(
            self.output, self.vehicle.state, diode_ok=self.vehicle.diode_ok,
            diode_drop=self.vehicle.config.diode_drop, shorted_to_pe=self.shorted_to_pe,
        )

    @property
    def current(self) -> float:
        """The current flowing per phase (A), the vehicle's demand while the contactors are closed."""
        return self.vehicle.demand if self.contactors_closed and self.vehicle.plugged_in else 0.0

    @property
    def phase_currents(self) -> tuple[float, float, float]:
        """The current (A) on L1, L2 and L3; the vehicle draws on as many phases as it and the relays allow."""
        n = min(self.vehicle.phases, self.phases)
        amps = self.current
        return (amps, amps if n >= 2 else 0.0, amps if n >= 3 else 0.0)

    # ------------------------------------------------------------------ driving the simulation

    def sync(self) -> None:
        """Exchange actions and readings until nothing changes any more (at the present time)."""
        for _ in range(100):
            applied = self._apply(self.charger.actions())
            self.vehicle.receive_pilot(self.output, self.duty, self.now)
            reading = self.voltages()
            if reading != self._last_fed or applied:
                self._last_fed = reading
                high, low = reading
                self.charger.receive_voltages(high, low, self.now)
                self._collect()
                continue
            self._collect()
            break
        else:  # pragma: no cover - would mean the two machines oscillate without time passing
            raise RuntimeError("pilot line did not settle")
        self.record.samples.append((self.now, self.vehicle.allowed_current, self.vehicle.demand,
                                    self.contactors_closed))

    def run_until(self, t: float) -> None:
        """Advance the fake clock to ``t``, firing every charger and vehicle timer on the way, in order."""
        while True:
            timers = [x for x in (self.charger.get_timer(), self.vehicle.get_timer()) if x is not None and x <= t]
            if not timers:
                break
            self.now = max(self.now, min(timers))
            if (ct := self.charger.get_timer()) is not None and ct <= self.now:
                self.charger.handle_timer(self.now)
            if (vt := self.vehicle.get_timer()) is not None and vt <= self.now:
                self.vehicle.handle_timer(self.now)
            self.sync()
        self.now = max(self.now, t)
        self.sync()

    def run_for(self, seconds: float) -> None:
        """Advance the fake clock by ``seconds``."""
        self.run_until(self.now + seconds)

    def send(self, command: ChargerCommand) -> None:
        """An application command to the charger, now."""
        self.charger.send(command, self.now)
        self.sync()

    def plug_in(self) -> None:
        """The vehicle's cable goes in."""
        self.vehicle.send(PlugIn(), self.now)
        self.sync()

    def unplug(self) -> None:
        """The vehicle's cable comes out."""
        self.vehicle.send(Unplug(), self.now)
        self.sync()

    def inject(self, high: float, low: float | None) -> None:
        """Make the board read fixed voltages (a broken line, a glitch) until :meth:`release`."""
        self.injected = (high, low)
        self.sync()

    def release(self) -> None:
        """Stop injecting voltages."""
        self.injected = None
        self.sync()

    # ------------------------------------------------------------------ internals

    def _apply(self, actions: list[ChargerAction]) -> bool:
        for action in actions:
            self.record.actions.append((self.now, action))
            match action:
                case SetPwm(duty=duty):
                    self.output, self.duty = PilotOutput.X2, duty
                case SetX1():
                    self.output, self.duty = PilotOutput.X1, None
                case SetStateE():
                    self.output, self.duty = PilotOutput.E, None
                case SetStateF():
                    self.output, self.duty = PilotOutput.F, None
                case CloseContactors(phases=phases):
                    if phases != self.phases:
                        raise AssertionError(f"contactors closing on {phases} phases, relays set to {self.phases}")
                    self.contactors_closed = True
                case OpenContactors():
                    self.contactors_closed = False
                case SelectPhases(phases=phases):
                    if self.contactors_closed:
                        raise AssertionError("phase relays switched under load")
                    self.phases = phases
        return bool(actions)

    def _collect(self) -> None:
        while (event := self.charger.next_event()) is not None:
            self.record.charger_events.append((self.now, event))
        while (vevent := self.vehicle.next_event()) is not None:
            self.record.vehicle_events.append((self.now, vevent))
