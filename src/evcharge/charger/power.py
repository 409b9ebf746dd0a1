"""The DC power path as the EVSE manager drives it: a power supply and an isolation monitor.

Two small protocols (what a driver of a real power module or IMD implements) with their commands and
events, and the thresholds that classify an isolation resistance. :mod:`evcharge.charger.sim.dc` has
simulated ones with fault injection.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from evcharge.iso15118.engines.events import Isolation

__all__ = [
    "AcMeter",
    "DcOutputOff",
    "DcPowerSupply",
    "DcSupplyEvent",
    "IsolationMeasured",
    "IsolationMonitor",
    "OverVoltage",
    "SetDcOutput",
    "StartIsolationCheck",
    "StopIsolationCheck",
    "classify_isolation",
]

#: Isolation resistance per volt of the (rated) output voltage: below ``FAULT_OHM_PER_VOLT`` is a fault,
#: below ``WARNING_OHM_PER_VOLT`` a warning (IEC 61851-23 thresholds as commonly implemented, e.g. by EVerest's
#: IMD simulator: 100 ohm/V and 500 ohm/V).
FAULT_OHM_PER_VOLT = 100.0
WARNING_OHM_PER_VOLT = 500.0


def classify_isolation(resistance_ohm: float, voltage: float) -> Isolation:
    """The ISO 15118 ``IsolationLevel`` of ``resistance_ohm`` measured at ``voltage``."""
    per_volt = resistance_ohm / max(voltage, 1.0)
    if per_volt < FAULT_OHM_PER_VOLT:
        return Isolation.FAULT
    if per_volt < WARNING_OHM_PER_VOLT:
        return Isolation.WARNING
    return Isolation.VALID


# -- AC energy meter -----------------------------------------------------------------------------

@runtime_checkable
class AcMeter(Protocol):
    """What the manager reads of an AC EVSE's energy meter (a real meter's driver, or
    :class:`evcharge.charger.sim.board.AcMeterSim`): the present values at the outlet. The manager integrates
    ``power_w`` into the transaction's energy (negative: exported, AC bidirectional) and reports the three in
    the TransactionEvents' meter values."""

    @property
    def voltage(self) -> float:
        """Phase voltage (V)."""
        ...

    @property
    def current(self) -> float:
        """Current per phase (A)."""
        ...

    @property
    def power_w(self) -> float:
        """Active power over all phases (W)."""
        ...


# -- power supply -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class SetDcOutput:
    """Regulate the output to ``voltage`` with at most ``current`` (negative: a bidirectional supply takes that
    current from the car, ISO 15118-20 DC_BPT); trip above ``protection_voltage``."""

    voltage: float
    current: float
    protection_voltage: float


@dataclass(frozen=True, slots=True, kw_only=True)
class DcOutputOff:
    """Switch the output off (voltage decays, current 0)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class OverVoltage:
    """The output exceeded the protection voltage at ``now`` (the supply switched itself off)."""

    voltage: float
    limit: float
    now: float


DcSupplyEvent = OverVoltage


@runtime_checkable
class DcPowerSupply(Protocol):
    """A DC power module: commands in, present values and protection events out."""

    @property
    def present_voltage(self) -> float: ...

    @property
    def present_current(self) -> float: ...

    def send(self, command: SetDcOutput | DcOutputOff, now: float) -> None: ...

    def next_event(self) -> OverVoltage | None: ...

    def get_timer(self) -> float | None: ...

    def handle_timer(self, now: float) -> None: ...


# -- isolation monitor ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class StartIsolationCheck:
    """Start measuring (the CableCheck self test at ``voltage``, then monitoring while the output is on)."""

    voltage: float


@dataclass(frozen=True, slots=True, kw_only=True)
class StopIsolationCheck:
    """Stop measuring (the session is over)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class IsolationMeasured:
    """A measurement: ``level`` from ``resistance_ohm`` at ``voltage``; ``self_test`` for the CableCheck one."""

    resistance_ohm: float
    voltage: float
    level: Isolation
    self_test: bool
    now: float


@runtime_checkable
class IsolationMonitor(Protocol):
    """An insulation monitoring device (IMD)."""

    def send(self, command: StartIsolationCheck | StopIsolationCheck, now: float) -> None: ...

    def next_event(self) -> IsolationMeasured | None: ...

    def get_timer(self) -> float | None: ...

    def handle_timer(self, now: float) -> None: ...
