"""A simulated DC power supply and isolation monitor, with fault injection (sans-I/O, time as ``now``).

* :class:`PowerSupplySim` regulates to the commanded voltage at once and delivers the commanded current
  while a load draws (``load_on``); :meth:`PowerSupplySim.inject_over_voltage` makes the output jump above
  the protection voltage at a given time (an over-voltage during the charge loop): the supply trips and
  reports :class:`~evcharge.charger.power.OverVoltage`.
* :class:`IsolationMonitorSim` answers a CableCheck self test after ``self_test_time`` and then monitors;
  :meth:`IsolationMonitorSim.inject_fault` sets the measured resistance from a given time on (an isolation
  fault during CableCheck, or later while charging).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from evcharge.charger.power import (
    DcOutputOff,
    IsolationMeasured,
    OverVoltage,
    SetDcOutput,
    StartIsolationCheck,
    StopIsolationCheck,
    classify_isolation,
)
from evcharge.errors import LocalProtocolError

__all__ = ["IsolationMonitorSim", "PowerSupplySim", "PowerSupplySimConfig"]


@dataclass(frozen=True, slots=True, kw_only=True)
class PowerSupplySimConfig:
    max_voltage: float = 1000.0
    max_current: float = 250.0
    max_power: float = 150_000.0
    bidirectional: bool = False  #: takes a negative current (DC_BPT discharging) as well as it gives one


class PowerSupplySim:
    """A DC power module on a simulated clock (see the module documentation)."""

    def __init__(self, config: PowerSupplySimConfig | None = None) -> None:
        self.config = config or PowerSupplySimConfig()
        self.on = False
        self.target_voltage = 0.0
        self.target_current = 0.0
        self.protection_voltage = self.config.max_voltage
        self.load_on = False  #: the car's battery draws (its contactors are closed, PowerDelivery started)
        self._voltage = 0.0
        self._offset = 0.0
        self._fault_at: float | None = None
        self._fault_volts = 0.0
        self._events: deque[OverVoltage] = deque()
        self.switched: list[tuple[float, bool]] = []  #: (now, on) of every switching

    @property
    def present_voltage(self) -> float:
        return self._voltage

    @property
    def present_current(self) -> float:
        if not self.on or not self.load_on or self._voltage <= 0:
            return 0.0
        if self.target_current < 0:  # bidirectional: the supply takes current from the car
            return max(self.target_current, -self.config.max_current, -self.config.max_power / self._voltage)
        return min(self.target_current, self.config.max_current, self.config.max_power / self._voltage)

    def send(self, command: SetDcOutput | DcOutputOff, now: float) -> None:
        if isinstance(command, SetDcOutput):
            if command.voltage > self.config.max_voltage or command.voltage < 0 or (
                    command.current < 0 and not self.config.bidirectional):
                raise LocalProtocolError(f"the supply cannot regulate to {command.voltage} V / {command.current} A")
            if not self.on:
                self.switched.append((now, True))
            self.on = True
            self.target_voltage = command.voltage
            self.target_current = max(-self.config.max_current, min(command.current, self.config.max_current))
            self.protection_voltage = command.protection_voltage
            self._voltage = command.voltage + self._offset
            self._check(now)
        elif isinstance(command, DcOutputOff):
            if self.on:
                self.switched.append((now, False))
            self.on = False
            self._voltage = 0.0
            self.target_current = 0.0
        else:
            raise LocalProtocolError(f"the power supply does not take {type(command).__name__}")

    def inject_over_voltage(self, volts: float, at: float) -> None:
        """From ``at`` on, the output is ``volts`` above its target (a regulation failure)."""
        self._fault_at, self._fault_volts = at, volts

    def next_event(self) -> OverVoltage | None:
        return self._events.popleft() if self._events else None

    def get_timer(self) -> float | None:
        return self._fault_at

    def handle_timer(self, now: float) -> None:
        if self._fault_at is not None and now >= self._fault_at:
            self._fault_at = None
            self._offset = self._fault_volts
            if self.on:
                self._voltage = self.target_voltage + self._offset
                self._check(now)

    def _check(self, now: float) -> None:
        if self.on and self._voltage > self.protection_voltage:
            self._events.append(OverVoltage(voltage=self._voltage, limit=self.protection_voltage, now=now))
            self.switched.append((now, False))
            self.on = False
            self._voltage = 0.0


class IsolationMonitorSim:
    """An insulation monitoring device on a simulated clock (see the module documentation)."""

    def __init__(self, *, self_test_time: float = 1.0, resistance_ohm: float = 5_000_000.0) -> None:
        self.self_test_time = self_test_time
        self.resistance_ohm = resistance_ohm
        self.running = False
        self._voltage = 0.0
        self._result_at: float | None = None
        self._fault: tuple[float, float] | None = None  # (at, ohm)
        self._events: deque[IsolationMeasured] = deque()

    def inject_fault(self, resistance_ohm: float, at: float = 0.0) -> None:
        """From ``at`` on, the insulation measures ``resistance_ohm`` (e.g. 10 kohm at 500 V: a fault)."""
        self._fault = (at, resistance_ohm)

    def send(self, command: StartIsolationCheck | StopIsolationCheck, now: float) -> None:
        if isinstance(command, StartIsolationCheck):
            self.running = True
            self._voltage = command.voltage
            self._result_at = now + self.self_test_time
        elif isinstance(command, StopIsolationCheck):
            self.running = False
            self._result_at = None
        else:
            raise LocalProtocolError(f"the isolation monitor does not take {type(command).__name__}")

    def next_event(self) -> IsolationMeasured | None:
        return self._events.popleft() if self._events else None

    def get_timer(self) -> float | None:
        if not self.running:
            return None
        timers = [t for t in (self._result_at, self._fault[0] if self._fault is not None else None) if t is not None]
        return min(timers) if timers else None

    def _measure(self, now: float) -> float:
        if self._fault is not None and now >= self._fault[0]:
            return self._fault[1]
        return self.resistance_ohm

    def _report(self, ohm: float, self_test: bool, now: float) -> None:
        level = classify_isolation(ohm, self._voltage)
        self._events.append(IsolationMeasured(resistance_ohm=ohm, voltage=self._voltage, level=level,
                                              self_test=self_test, now=now))

    def handle_timer(self, now: float) -> None:
        if not self.running:
            return
        if self._fault is not None and now >= self._fault[0]:
            self.resistance_ohm, self._fault = self._fault[1], None
            self_test = self._result_at is not None
            if self_test:
                self._result_at = None  # the self test ends with this measurement
            self._report(self.resistance_ohm, self_test, now)
        if self._result_at is not None and now >= self._result_at:
            self._result_at = None
            self._report(self.resistance_ohm, True, now)
