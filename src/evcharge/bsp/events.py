"""Events a board reports to the charger logic, and the value types they carry.

The names follow the EVerest ``evse_board_support`` contract: raw control-pilot states A-F, ``PowerOn`` /
``PowerOff`` when the relays change, errors raised and cleared, meter readings, telemetry and capabilities.
All of them are frozen, slotted dataclasses; ``now`` is the caller's clock at the moment the event arose.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class CpState(enum.Enum):
    """Control-pilot state as the board classifies it (IEC 61851-1)."""

    A = "A"  #: +12 V, no vehicle
    B = "B"  #: +9 V, vehicle connected
    C = "C"  #: +6 V, vehicle requests power
    D = "D"  #: +3 V, vehicle requests power with ventilation
    E = "E"  #: 0 V, short circuit or no supply
    F = "F"  #: -12 V, EVSE not available (also reported on a diode fault)


class PowerReason(enum.Enum):
    """Why the charger allows or withdraws power (``allow_power_on`` reason of the BSP contract)."""

    DC_CABLE_CHECK = "DCCableCheck"
    DC_PRE_CHARGE = "DCPreCharge"
    FULL_POWER_CHARGING = "FullPowerCharging"
    POWER_OFF = "PowerOff"


class BoardErrorKind(enum.Enum):
    """Errors a board raises (names of EVerest's ``evse_board_support`` / ``ac_rcd`` error types)."""

    DIODE_FAULT = "DiodeFault"
    VENTILATION_NOT_AVAILABLE = "VentilationNotAvailable"
    RCD_TRIGGERED = "MREC2GroundFailure"
    RCD_SELFTEST_FAILED = "RCDSelftestFailed"
    PILOT_FAULT = "MREC14PilotFault"
    CONNECTOR_LOCK_FAILED = "MREC1ConnectorLockFailure"
    OVER_CURRENT = "MREC4OverCurrentFailure"
    CONTACTOR_FAULT = "MREC17EVSEContactorFault"
    COMMUNICATION_FAULT = "CommunicationFault"


class ResetReason(enum.Enum):
    """Why the board's microcontroller (re)started."""

    USER = "user"  #: a reset requested by software or the reset line
    WATCHDOG = "watchdog"


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What the board can do (published once at start-up and again on derating)."""

    min_current_a: float
    max_current_a: float
    min_phases: int
    max_phases: int
    supports_changing_phases_during_charging: bool
    supports_cp_state_e: bool = False
    firmware_version: str = ""


@dataclass(frozen=True, slots=True)
class CpStateChanged:
    """The control pilot moved to ``state``."""

    state: CpState
    now: float


@dataclass(frozen=True, slots=True)
class PowerOn:
    """The relays closed: the vehicle is connected to the mains."""

    now: float


@dataclass(frozen=True, slots=True)
class PowerOff:
    """The relays opened."""

    now: float


@dataclass(frozen=True, slots=True)
class ErrorRaised:
    """An error became active.  ``detail`` is a human-readable explanation."""

    kind: BoardErrorKind
    detail: str
    now: float


@dataclass(frozen=True, slots=True)
class ErrorCleared:
    """An error is no longer active."""

    kind: BoardErrorKind
    now: float


@dataclass(frozen=True, slots=True)
class MeterReading:
    """One power-meter sample.  Per-phase tuples are (L1, L2, L3); energy is imported energy in Wh."""

    now: float
    energy_wh_import: float
    power_w: tuple[float, float, float]
    voltage_v: tuple[float, float, float]
    current_a: tuple[float, float, float]
    current_n_a: float
    frequency_hz: tuple[float, float, float]
    energy_wh_per_phase: tuple[float, float, float] = (0.0, 0.0, 0.0)
    temperature_c: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
    phase_seq_error: bool = False
    meter_id: str = ""

    @property
    def total_power_w(self) -> float:
        """Sum of the three phases' active power."""
        return sum(self.power_w)


@dataclass(frozen=True, slots=True)
class Telemetry:
    """Board telemetry: the measured control-pilot levels and the relay state."""

    now: float
    cp_voltage_hi: float
    cp_voltage_lo: float
    relais_on: bool


@dataclass(frozen=True, slots=True)
class CapabilitiesChanged:
    """The board published (new) capabilities."""

    capabilities: Capabilities
    now: float


@dataclass(frozen=True, slots=True)
class BoardReady:
    """Start-up finished: the board is reset, in sync and its capabilities are known."""

    capabilities: Capabilities
    now: float


@dataclass(frozen=True, slots=True)
class BoardReset:
    """The board's microcontroller restarted.  ``spurious`` is true when the host did not ask for it."""

    reason: ResetReason
    spurious: bool
    now: float


@dataclass(frozen=True, slots=True)
class BootloaderEntered:
    """The board was asked to reboot into its ROM bootloader for a firmware update; it is silent from now on."""

    now: float


@dataclass(frozen=True, slots=True)
class ProtocolViolation:
    """The board sent something invalid that the driver dropped (bad frame, undecodable message)."""

    detail: str
    now: float


BoardEvent = (
    CpStateChanged
    | PowerOn
    | PowerOff
    | ErrorRaised
    | ErrorCleared
    | MeterReading
    | Telemetry
    | CapabilitiesChanged
    | BoardReady
    | BoardReset
    | BootloaderEntered
    | ProtocolViolation
)
"""Every event a :class:`~evcharge.bsp.interface.BoardSupport` implementation can report."""
