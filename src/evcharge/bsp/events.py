"""Commands the charger logic sends to a board, events the board reports, and the value types they carry.

The meanings follow the EVerest ``evse_board_support`` contract: commands ``enable``, ``pwm_on``, ``cp_state_X1`` /
``F`` / ``E``, ``allow_power_on``, phase switching and the connector lock; events for the raw control-pilot states
A-F (:class:`PilotState`, as the *board* classifies the pilot; the IEC 61851 machine's own reading is
:class:`evcharge.iec61851.states.CPState`), the relays closing and opening (:class:`RelaysClosed` /
:class:`RelaysOpened`: what the board did, unlike the IEC 61851 machine's ``PowerOn`` / ``PowerOff``, which say
what the charger decided), errors raised and cleared, meter readings, telemetry and capabilities.  All of them
are frozen, slotted dataclasses; ``now`` is the caller's clock (monotonic seconds) at the moment the event arose.
Commands go in through ``send(command, now)`` (:class:`~evcharge.bsp.interface.BoardSupport`).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class PilotState(enum.Enum):
    """Control-pilot state as the board classifies it (IEC 61851-1); the values are those of ``CPState``."""

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
    OTHER = "other"  #: a reason this driver does not know (a newer firmware's); the board did restart


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
class PilotStateChanged:
    """The board classified the control pilot as ``state``."""

    state: PilotState
    now: float


@dataclass(frozen=True, slots=True)
class RelaysClosed:
    """The board reports its relays closed: the vehicle is connected to the mains (EVerest's ``PowerOn``)."""

    now: float


@dataclass(frozen=True, slots=True)
class RelaysOpened:
    """The board reports its relays open (EVerest's ``PowerOff``)."""

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
    PilotStateChanged
    | RelaysClosed
    | RelaysOpened
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


# ---------------------------------------------------------------------------------------------------- commands
@dataclass(frozen=True, slots=True, kw_only=True)
class EnablePort:
    """Enable or disable the charging port.

    Disabled: the pilot shows state F, power is withdrawn, pilot events are held back; the last PWM command is
    remembered and re-applied on enable.
    """

    enabled: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class PwmOn:
    """The 1 kHz PWM with ``duty_percent`` (0 < duty <= 100; 100 is X1)."""

    duty_percent: float


@dataclass(frozen=True, slots=True, kw_only=True)
class PilotX1:
    """Constant +12 V on the pilot (X1, no PWM); EVerest's ``cp_state_X1``."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PilotF:
    """Constant -12 V on the pilot (F, EVSE not available); EVerest's ``cp_state_F``."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PilotE:
    """0 V on the pilot (E); only if ``capabilities.supports_cp_state_e``; EVerest's ``cp_state_E``."""


@dataclass(frozen=True, slots=True, kw_only=True)
class AllowPowerOn:
    """Permit (``allow=True``) or withdraw the permission to close the relays."""

    allow: bool
    reason: PowerReason = PowerReason.FULL_POWER_CHARGING


@dataclass(frozen=True, slots=True, kw_only=True)
class SetThreePhases:
    """Three phases (``True``) or one phase for the next (or the running) charge."""

    three_phases: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class LockConnector:
    """Lock (``True``) or unlock the connector."""

    lock: bool


BoardCommand = EnablePort | PwmOn | PilotX1 | PilotF | PilotE | AllowPowerOn | SetThreePhases | LockConnector
"""Every command a :class:`~evcharge.bsp.interface.BoardSupport` implementation accepts."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Start:
    """Begin the start-up sequence: reset the board (the reset message, unless the transport pulsed the reset
    line: ``hardware_reset`` in the driver's configuration), wait for it, learn its capabilities."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ResetBoard:
    """Reset the board's microcontroller (an expected reset: not reported as spurious)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class HardwareResetPulsed:
    """The transport has just pulsed the board's reset line (the core expects the reset)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class EnterBootloader:
    """Reboot the board into its ROM bootloader for a firmware update; the driver goes silent."""


LifecycleCommand = Start | ResetBoard | HardwareResetPulsed | EnterBootloader
"""Commands that start, reset or retire a board driver (the Yeti core accepts them beside :data:`BoardCommand`)."""
