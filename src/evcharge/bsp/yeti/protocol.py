"""Sans-I/O core of the Yeti power board driver (firmware 2.x).

:class:`YetiProtocol` turns the bytes the board sends into :mod:`evcharge.bsp.events` and the charger's commands
into bytes.  It owns the start-up sequence (reset, wait for the reset reason, three keep-alives to resynchronise
COBS, wait for the capabilities), the host keep-alive every second, link supervision (5 s without a board
keep-alive is a communication fault; the fault clears when the board speaks again) and the safety reactions the
firmware leaves to the host: on an RCD trip, an over-current flag, a welded contactor or link loss the core
withdraws ``allow_power_on`` at once.

It follows the library's core shape (``evcharge.sansio.WireCore``): ``receive_data(data, now)``,
``send(command, now)`` with the frozen commands of :mod:`evcharge.bsp.events`, ``data_to_send()`` (one item per
frame), ``next_event()``, ``get_timer()`` / ``handle_timer(now)`` and ``state``.  Time is passed in as ``now``
(monotonic seconds).

The messages are ``protoc``'s classes (:mod:`evcharge.bsp.yeti.messages`, Google's C runtime); the core maps
them onto the typed events of :mod:`evcharge.bsp.events` (a few microseconds per meter frame, see
``docs/bsp.rst``).  Fields or payloads this driver does not know (a newer firmware's) are ignored, counted in
:attr:`YetiProtocol.unknown_fields` and logged once per kind; an enum value it does not know is a
:class:`~evcharge.bsp.events.ProtocolViolation`, never a crash.
"""

from __future__ import annotations

import enum
import logging
import math
import re
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING

from evcharge.errors import MissingDependencyError

try:
    from google.protobuf.message import Message as _PbMessage
    from google.protobuf.unknown_fields import UnknownFieldSet
except ModuleNotFoundError as exc:  # the bsp extra is not installed
    if not (exc.name or "").startswith("google"):
        raise
    raise MissingDependencyError("protobuf", "bsp", feature="the Yeti protocol") from exc

from evcharge.bsp.errors import LocalProtocolError, UnsupportedFirmwareError
from evcharge.bsp.events import (
    AllowPowerOn,
    BoardCommand,
    BoardErrorKind,
    BoardEvent,
    BoardReady,
    BoardReset,
    BootloaderEntered,
    Capabilities,
    CapabilitiesChanged,
    EnablePort,
    EnterBootloader,
    ErrorCleared,
    ErrorRaised,
    HardwareResetPulsed,
    LifecycleCommand,
    LockConnector,
    MeterReading,
    PilotE,
    PilotF,
    PilotState,
    PilotStateChanged,
    PilotX1,
    PowerReason,
    ProtocolViolation,
    PwmOn,
    RelaysClosed,
    RelaysOpened,
    ResetBoard,
    ResetReason,
    SetThreePhases,
    Start,
    Telemetry,
)
from evcharge.bsp.yeti import messages as pb
from evcharge.bsp.yeti.framing import FrameDecoder, FrameStats, encode_frame
from evcharge.sansio import WireCore

_log = logging.getLogger(__name__)

YetiCommand = BoardCommand | LifecycleCommand
"""What :meth:`YetiProtocol.send` accepts."""

#: pwm_duty_cycle value for state F (-12 V).
PWM_STATE_F = 0
#: pwm_duty_cycle value for state X1 (+12 V, no PWM).
PWM_STATE_X1 = 10000

_PILOT_MAP: dict[int, PilotState] = {
    pb.STATE_A: PilotState.A,
    pb.STATE_B: PilotState.B,
    pb.STATE_C: PilotState.C,
    pb.STATE_D: PilotState.D,
    pb.STATE_E: PilotState.E,
    pb.STATE_F: PilotState.F,
}
_RESET_MAP: dict[int, ResetReason] = {pb.USER: ResetReason.USER, pb.WATCHDOG: ResetReason.WATCHDOG}

_FLAG_ERRORS: tuple[tuple[str, BoardErrorKind, str], ...] = (
    ("diode_fault", BoardErrorKind.DIODE_FAULT, "diode fault: the vehicle's pilot diode is missing or shorted"),
    ("rcd_selftest_failed", BoardErrorKind.RCD_SELFTEST_FAILED, "the residual current device failed its self test"),
    ("rcd_triggered", BoardErrorKind.RCD_TRIGGERED, "residual current device tripped: power withdrawn"),
    ("ventilation_not_available", BoardErrorKind.VENTILATION_NOT_AVAILABLE, "vehicle asks for ventilation (D)"),
    ("connector_lock_failed", BoardErrorKind.CONNECTOR_LOCK_FAILED, "connector lock failed"),
    ("cp_signal_fault", BoardErrorKind.PILOT_FAULT, "control pilot signal fault"),
    ("over_current", BoardErrorKind.OVER_CURRENT, "over-current: power withdrawn"),
)

#: Errors during which the core refuses to allow power and withdraws it when they appear.
POWER_BLOCKING_ERRORS = frozenset(
    {BoardErrorKind.RCD_TRIGGERED, BoardErrorKind.OVER_CURRENT, BoardErrorKind.CONTACTOR_FAULT}
)


def percent_to_units(duty_percent: float) -> int:
    """PWM duty cycle in percent (0 < duty <= 100) to the firmware's 0.01 % units (1..10000)."""
    if not isinstance(duty_percent, int | float) or isinstance(duty_percent, bool) or math.isnan(duty_percent):
        raise LocalProtocolError(f"duty cycle must be a number, got {duty_percent!r}")
    if not 0 < duty_percent <= 100:
        raise LocalProtocolError(f"duty cycle {duty_percent} % is outside 0 < duty <= 100 (use cp_state_f for F)")
    return max(1, min(PWM_STATE_X1, round(duty_percent * 100)))


def units_to_percent(units: int) -> float:
    """The firmware's 0.01 % units to percent (values >= 10000 mean X1 = 100 %)."""
    if units < 0:
        raise LocalProtocolError(f"negative duty cycle units {units}")
    return min(units, PWM_STATE_X1) / 100.0


def parse_firmware_version(version: str) -> tuple[int, int] | None:
    """(major, minor) from a Yeti version string such as ``"2.0-1-g2d51638"``; ``None`` if it has none."""
    match = re.match(r"\s*v?(\d+)\.(\d+)", version)
    if match is None:
        return None
    return int(match.group(1)), int(match.group(2))


class YetiState(enum.Enum):
    """Where the driver is in the board's life cycle."""

    IDLE = "idle"  #: not started
    RESETTING = "resetting"  #: reset sent (or pulsed), waiting for the reset reason
    SYNCING = "syncing"  #: keep-alives sent, waiting for the board's keep-alive (capabilities)
    READY = "ready"  #: running
    UNSUPPORTED = "unsupported"  #: the board runs firmware this driver refuses (1.x); terminal
    BOOTLOADER = "bootloader"  #: the board was sent to its ROM bootloader; terminal


@dataclass(frozen=True, slots=True, kw_only=True)
class YetiConfig:
    """Settings of the Yeti driver; defaults are the firmware's and EVerest's values."""

    keep_alive_interval: float = 1.0  #: host keep-alive period, s
    link_timeout: float = 5.0  #: silence after which the link is declared lost, s
    reset_timeout: float = 1.0  #: wait for the reset reason after a reset, s
    capabilities_timeout: float = 5.0  #: wait for the first board keep-alive, s
    resync_keep_alives: int = 3  #: keep-alives sent after a reset to resynchronise the MCU's COBS decoder
    hardware_reset: bool = False  #: the transport pulses the reset line; the core then sends no reset message
    caps_min_current_a: float | None = None  #: override of the board's minimum current (None means the board's value)
    caps_max_current_a: float | None = None  #: override, e.g. 16.0 for boards jumpered to 16 A
    host_version: str = "evcharge"  #: sent in the host keep-alive (<= 50 bytes)
    start_enabled: bool = True  #: whether the port is enabled right after start-up
    min_firmware_major: int = 2  #: older firmware (the legacy protocol) is refused
    contactor_check_delay: float = 1.0  #: after the relays opened, current flowing this long means a welded contactor
    contactor_check_current_a: float = 1.0  #: current (any phase) counted as flowing
    reset_after_link_loss: bool = True  #: reset the board when the link returns, to learn its present state


class YetiProtocol:
    """Sans-I/O Yeti driver core; implements :class:`~evcharge.bsp.interface.BoardSupport`."""

    def __init__(self, config: YetiConfig | None = None) -> None:
        self.config = config if config is not None else YetiConfig()
        if len(self.config.host_version.encode("utf-8")) > 50:
            raise LocalProtocolError("host_version is longer than the firmware's 50-byte limit")
        self._decoder = FrameDecoder()
        self._out: list[bytes] = []
        self._events: deque[BoardEvent] = deque()
        self._state = YetiState.IDLE
        self._deadline: float | None = None
        self._next_keep_alive: float | None = None
        self._last_rx: float | None = None
        self._link_lost = False
        self._caps: Capabilities | None = None
        self._firmware: str | None = None
        self._reset_expected = False
        self._last_expected_reset: float | None = None
        self._enabled = self.config.start_enabled
        self._pwm_units = PWM_STATE_X1
        self._allow = False
        self._three_phases = True
        self._cp_board: PilotState | None = None
        self._cp_reported: PilotState | None = None
        self._relays_on = False
        self._relays_off_since: float | None = None
        self._flags: dict[str, bool] = {name: False for name, _, _ in _FLAG_ERRORS}
        self._errors: set[BoardErrorKind] = set()
        self._reported_frame_errors = 0
        self.decode_errors = 0  #: frames with a good CRC whose message could not be parsed or mapped
        self.unknown_fields = 0  #: messages that carried fields or a payload this driver does not know
        self._unknown_logged: set[tuple[str, tuple[int, ...]]] = set()

    # ---------------------------------------------------------------- properties
    @property
    def state(self) -> YetiState:
        """Life-cycle state."""
        return self._state

    @property
    def capabilities(self) -> Capabilities | None:
        """The board's capabilities (with the configured overrides), ``None`` until known."""
        return self._caps

    @property
    def firmware_version(self) -> str | None:
        """The board's firmware version string, ``None`` until the first keep-alive."""
        return self._firmware

    @property
    def frame_stats(self) -> FrameStats:
        """Counters of received frames and dropped bad frames."""
        return self._decoder.stats

    @property
    def pilot_state(self) -> PilotState | None:
        """The last control-pilot state the board reported."""
        return self._cp_board

    @property
    def relays_on(self) -> bool:
        """Whether the board last reported closed relays."""
        return self._relays_on

    @property
    def active_errors(self) -> frozenset[BoardErrorKind]:
        """Errors raised and not yet cleared."""
        return frozenset(self._errors)

    @property
    def link_lost(self) -> bool:
        """True while the board has been silent for longer than ``link_timeout``."""
        return self._link_lost

    @property
    def enabled(self) -> bool:
        """Whether the charging port is enabled."""
        return self._enabled

    # ---------------------------------------------------------------- sans-I/O plumbing
    def data_to_send(self) -> list[bytes]:
        """The frames to write to the UART, in order (and forget them); a serial transport joins them."""
        out, self._out = self._out, []
        return out

    def next_event(self) -> BoardEvent | None:
        """The next pending event, or ``None``."""
        return self._events.popleft() if self._events else None

    def get_timer(self) -> float | None:
        """When :meth:`handle_timer` must be called next (``None``: no timer)."""
        if self._state in (YetiState.IDLE, YetiState.UNSUPPORTED, YetiState.BOOTLOADER):
            return None
        candidates = [t for t in (self._deadline, self._next_keep_alive) if t is not None]
        if self._state is YetiState.READY and not self._link_lost and self._last_rx is not None:
            candidates.append(self._last_rx + self.config.link_timeout)
        return min(candidates) if candidates else None

    def _start(self, now: float) -> None:
        if self._state is not YetiState.IDLE:
            raise LocalProtocolError(f"Start in state {self._state.value}")
        self._decoder.resync()  # the port may have been opened in the middle of a frame
        self._begin_reset(now, send_message=not self.config.hardware_reset)
        self._next_keep_alive = now + self.config.keep_alive_interval

    def receive_data(self, data: bytes, now: float) -> None:
        """Feed bytes read from the UART.

        Raises :class:`~evcharge.bsp.errors.UnsupportedFirmwareError` once, when the board turns out to run
        firmware older than ``min_firmware_major``; the core is then in state ``UNSUPPORTED``.
        """
        if self._state is YetiState.BOOTLOADER:
            return
        was_unsupported = self._state is YetiState.UNSUPPORTED
        for payload in self._decoder.feed(data):
            try:
                msg = pb.McuToEverest.FromString(payload)
            except pb.DecodeError as exc:
                self.decode_errors += 1
                self._events.append(ProtocolViolation(f"undecodable message dropped: {exc}", now))
                continue
            self._handle(msg, now)
            if self._state is YetiState.UNSUPPORTED and not was_unsupported:
                raise UnsupportedFirmwareError(self._unsupported_message())
        errors = self._decoder.error_count
        if errors != self._reported_frame_errors:
            self._reported_frame_errors = errors
            self._events.append(ProtocolViolation(f"bad frame dropped: {self._decoder.last_error}", now))

    def handle_timer(self, now: float) -> None:
        """Run the timers that are due at ``now``."""
        if self._state in (YetiState.IDLE, YetiState.UNSUPPORTED, YetiState.BOOTLOADER):
            return
        if self._deadline is not None and now >= self._deadline:
            self._deadline = None
            if self._state is YetiState.RESETTING:
                self._events.append(ProtocolViolation("board did not report a reset reason within the timeout", now))
                self._begin_sync(now)
            elif self._state is YetiState.SYNCING:
                self._raise(BoardErrorKind.COMMUNICATION_FAULT, "no keep-alive from the board after start-up", now)
                self._link_lost = True
        if self._next_keep_alive is not None and now >= self._next_keep_alive:
            self._send_keep_alive(now)
            self._next_keep_alive = max(self._next_keep_alive + self.config.keep_alive_interval, now + 0.001)
        if (
            self._state is YetiState.READY
            and not self._link_lost
            and self._last_rx is not None
            and now - self._last_rx >= self.config.link_timeout
        ):
            self._link_lost = True
            self._withdraw_power()
            self._raise(
                BoardErrorKind.COMMUNICATION_FAULT,
                f"no keep-alive from the board for {self.config.link_timeout:g} s: power withdrawn",
                now,
            )

    # ---------------------------------------------------------------- commands
    def send(self, command: YetiCommand, now: float) -> None:
        """The application's wish (a :data:`~evcharge.bsp.events.BoardCommand` or a life-cycle command).

        Raises :class:`~evcharge.bsp.errors.LocalProtocolError` when the command does not fit the present state
        or values; nothing is sent then.
        """
        match command:
            case PwmOn(duty_percent=duty):
                self._set_pwm(percent_to_units(duty))
            case AllowPowerOn(allow=allow, reason=reason):
                self._allow_power_on(allow, reason)
            case PilotX1():
                self._set_pwm(PWM_STATE_X1)
            case PilotF():
                self._set_pwm(PWM_STATE_F)
            case PilotE():
                raise LocalProtocolError(
                    "the Yeti board cannot generate state E (capabilities.supports_cp_state_e is false)"
                )
            case EnablePort(enabled=enabled):
                self._enable(enabled)
            case SetThreePhases(three_phases=three_phases):
                self._set_three_phases(three_phases)
            case LockConnector(lock=lock):
                self._require_running()
                self._send(pb.EverestToMcu(connector_lock=lock))
            case Start():
                self._start(now)
            case ResetBoard():
                self._require_running()
                self._begin_reset(now, send_message=True)
            case HardwareResetPulsed():
                self._require_running()
                self._begin_reset(now, send_message=False)
            case EnterBootloader():
                self._enter_bootloader(now)
            case _:
                raise LocalProtocolError(f"not a Yeti command: {command!r}")

    def _enable(self, enabled: bool) -> None:
        self._require_running()
        if enabled == self._enabled:
            return
        self._enabled = enabled
        if not enabled:
            self._allow = False
            self._send(pb.EverestToMcu(allow_power_on=False))
            self._send(pb.EverestToMcu(pwm_duty_cycle=PWM_STATE_F))
        else:
            self._send(pb.EverestToMcu(pwm_duty_cycle=self._pwm_units))

    def _allow_power_on(self, allow: bool, reason: PowerReason) -> None:
        self._require_running()
        if allow:
            if not self._enabled:
                raise LocalProtocolError("AllowPowerOn(allow=True) while the port is disabled")
            if reason is PowerReason.POWER_OFF:
                raise LocalProtocolError("AllowPowerOn(allow=True) with reason PowerOff")
            blocking = sorted(k.value for k in self._errors & POWER_BLOCKING_ERRORS)
            if blocking:
                raise LocalProtocolError(f"cannot allow power while {', '.join(blocking)} is active")
        self._allow = allow
        self._send(pb.EverestToMcu(allow_power_on=allow))

    def _set_three_phases(self, three_phases: bool) -> None:
        self._require_running()
        caps = self._caps
        if caps is not None:
            wanted = 3 if three_phases else 1
            if not caps.min_phases <= wanted <= caps.max_phases:
                raise LocalProtocolError(
                    f"{wanted} phase(s) requested, the board supports {caps.min_phases}..{caps.max_phases}"
                )
        self._three_phases = three_phases
        self._send(pb.EverestToMcu(set_number_of_phases=three_phases))

    def _enter_bootloader(self, now: float) -> None:
        self._require_running()
        self._send(pb.EverestToMcu(firmware_update=pb.FirmwareUpdate(invoke_rom_bootloader=True)))
        self._state = YetiState.BOOTLOADER
        self._deadline = None
        self._next_keep_alive = None
        self._events.append(BootloaderEntered(now))

    # ---------------------------------------------------------------- internals
    def _require_running(self) -> None:
        if self._state is YetiState.IDLE:
            raise LocalProtocolError("the board is not started: send Start() first")
        if self._state is YetiState.UNSUPPORTED:
            raise LocalProtocolError(self._unsupported_message())
        if self._state is YetiState.BOOTLOADER:
            raise LocalProtocolError("the board is in its ROM bootloader")

    def _unsupported_message(self) -> str:
        return (
            f"Yeti firmware {self._firmware!r} is not supported: this driver needs firmware "
            f">= {self.config.min_firmware_major}.0 (the older firmware speaks the legacy protocol); update the board"
        )

    def _send(self, msg: pb.EverestToMcu) -> None:
        self._out.append(encode_frame(msg.SerializeToString()))

    def _send_keep_alive(self, now: float) -> None:
        ts = int(now * 1000) & 0xFFFFFFFF
        self._send(pb.EverestToMcu(keep_alive=pb.KeepAlive(time_stamp=ts, sw_version_string=self.config.host_version)))

    def _set_pwm(self, units: int) -> None:
        self._require_running()
        self._pwm_units = units
        if self._enabled:
            self._send(pb.EverestToMcu(pwm_duty_cycle=units))

    def _withdraw_power(self) -> None:
        self._allow = False
        self._send(pb.EverestToMcu(allow_power_on=False))

    def _begin_reset(self, now: float, *, send_message: bool) -> None:
        self._state = YetiState.RESETTING
        self._reset_expected = True
        self._deadline = now + self.config.reset_timeout
        if send_message:
            self._send(pb.EverestToMcu(reset=True))

    def _begin_sync(self, now: float) -> None:
        for _ in range(self.config.resync_keep_alives):
            self._send_keep_alive(now)
        # The settings follow once the board has spoken again: the MCU queues only three received frames.
        self._state = YetiState.SYNCING
        self._deadline = now + self.config.capabilities_timeout

    def _reapply(self) -> None:
        """After a board reset: the MCU is back at X1, three phases, power not allowed.  Restore PWM and phases."""
        self._send(pb.EverestToMcu(set_number_of_phases=self._three_phases))
        self._send(pb.EverestToMcu(pwm_duty_cycle=self._pwm_units if self._enabled else PWM_STATE_F))

    def _raise(self, kind: BoardErrorKind, detail: str, now: float) -> None:
        if kind not in self._errors:
            self._errors.add(kind)
            self._events.append(ErrorRaised(kind, detail, now))

    def _clear(self, kind: BoardErrorKind, now: float) -> None:
        if kind in self._errors:
            self._errors.discard(kind)
            self._events.append(ErrorCleared(kind, now))

    def _handle(self, msg: pb.McuToEverest, now: float) -> None:
        which = msg.WhichOneof("payload")
        if which == "power_meter":  # five times a second: first
            meter = msg.power_meter
            self._check_unknown(msg, meter, which)
            if self._state is not YetiState.UNSUPPORTED:
                self._on_meter(meter, now)
        elif which == "keep_alive":
            self._check_unknown(msg, msg.keep_alive, which)
            self._on_keep_alive(msg.keep_alive, now)
        elif which == "reset":
            self._check_unknown(msg, None, which)
            self._on_reset(msg.reset, now)
        elif which is None:
            self._check_unknown(msg, None, "an unknown payload")
        elif self._state is YetiState.UNSUPPORTED:
            return
        elif which == "telemetry":
            t = msg.telemetry
            self._check_unknown(msg, t, which)
            self._events.append(Telemetry(now, float(t.cp_voltage_hi), float(t.cp_voltage_lo), self._relays_on))
        elif which == "cp_state":
            self._check_unknown(msg, None, which)
            state = _PILOT_MAP.get(msg.cp_state)
            if state is None:
                self.decode_errors += 1
                self._events.append(ProtocolViolation(f"unknown cp_state value {msg.cp_state} dropped", now))
            else:
                self._on_pilot_state(state, now)
        elif which == "relais_state":
            self._check_unknown(msg, None, which)
            self._on_relais(msg.relais_state, now)
        elif which == "error_flags":
            self._check_unknown(msg, msg.error_flags, which)
            self._on_flags(msg.error_flags, now)
        # pp_state / lock_state: the firmware never sends them (no PP on the Yeti); ignored.

    def _check_unknown(self, msg: _PbMessage, inner: _PbMessage | None, which: str) -> None:
        """Count and log (once per kind) fields this driver does not know: a newer firmware's additions."""
        top = UnknownFieldSet(msg)
        nested = UnknownFieldSet(inner) if inner is not None else None
        if not top and not nested:
            return
        numbers = tuple(top[i].field_number for i in range(len(top)))
        if nested is not None:  # negative: inside the payload
            numbers += tuple(-nested[i].field_number for i in range(len(nested)))
        self.unknown_fields += 1
        key = (which, numbers)
        if key not in self._unknown_logged:
            self._unknown_logged.add(key)
            outer = [n for n in numbers if n > 0]
            inside = [-n for n in numbers if n < 0]
            _log.info(
                "Yeti %s carries fields this driver does not know (newer firmware?), ignored: %s%s",
                which,
                f"message fields {outer} " if outer else "",
                f"{which} fields {inside}" if inside else "",
            )

    def _on_keep_alive(self, ka: pb.KeepAliveLo, now: float) -> None:
        self._last_rx = now
        if self._firmware != ka.sw_version_string:
            self._firmware = ka.sw_version_string
            version = parse_firmware_version(ka.sw_version_string)
            if version is None or version[0] < self.config.min_firmware_major:
                self._state = YetiState.UNSUPPORTED
                self._deadline = None
                self._next_keep_alive = None
                return
        caps = Capabilities(
            min_current_a=self.config.caps_min_current_a
            if self.config.caps_min_current_a is not None
            else float(ka.hwcap_min_current),
            max_current_a=self.config.caps_max_current_a
            if self.config.caps_max_current_a is not None
            else float(ka.hwcap_max_current),
            min_phases=ka.hwcap_min_phase_count,
            max_phases=ka.hwcap_max_phase_count,
            supports_changing_phases_during_charging=ka.supports_changing_phases_during_charging,
            supports_cp_state_e=False,
            firmware_version=ka.sw_version_string,
        )
        if self._link_lost:
            self._link_lost = False
            self._clear(BoardErrorKind.COMMUNICATION_FAULT, now)
            if self._relays_on and not self._allow:
                # The board reports relays only on change, and that report may have been lost with the link.
                # Power was withdrawn while the link was down: the firmware opens the relays on that falling edge.
                self._on_relais(False, now)
            if self.config.reset_after_link_loss and self._state is YetiState.READY:
                # Changes the board reported while the link was down are lost for good (it reports on change
                # only); a reset makes the board announce its present state again.
                self._begin_reset(now, send_message=True)
                return
        if self._state is YetiState.SYNCING:
            first = self._caps is None
            previous, self._caps = self._caps, caps
            self._state = YetiState.READY
            self._deadline = None
            if first:
                self._events.append(BoardReady(caps, now))
                if not self._enabled:
                    self._send(pb.EverestToMcu(pwm_duty_cycle=PWM_STATE_F))
            else:
                if caps != previous:
                    self._events.append(CapabilitiesChanged(caps, now))
                self._reapply()
        elif caps != self._caps and self._state is YetiState.READY:
            self._caps = caps
            self._events.append(CapabilitiesChanged(caps, now))

    def _on_reset(self, reason: pb.ResetReason.ValueType, now: float) -> None:
        self._last_rx = now
        why = _RESET_MAP.get(reason, ResetReason.OTHER)
        # A reset reason while still starting up, or a user (power-on / pin) reset right after the expected one
        # (a boot that overlapped our reset request), is not spurious.  A watchdog reset always is.
        last = self._last_expected_reset
        overlapped = (
            why is ResetReason.USER and last is not None and now - last <= self.config.reset_timeout
        )
        expected = self._state is YetiState.RESETTING and self._reset_expected
        spurious = not (expected or overlapped or self._state is YetiState.SYNCING)
        if expected:
            self._last_expected_reset = now
        self._reset_expected = False
        self._allow = False  # the rebooted MCU does not allow power until told again
        self._events.append(BoardReset(why, spurious, now))
        if self._relays_on:
            self._relays_on = False
            self._relays_off_since = now
            self._events.append(RelaysOpened(now))
        self._cp_board = None
        # The rebooted board starts with every flag clear and reports only changes from there.
        for name, kind, _ in _FLAG_ERRORS:
            if self._flags[name]:
                self._flags[name] = False
                self._clear(kind, now)
        self._begin_sync(now)

    def _on_pilot_state(self, state: PilotState, now: float) -> None:
        self._cp_board = state
        if state is PilotState.A:
            self._clear(BoardErrorKind.CONTACTOR_FAULT, now)
            if self._pwm_units != PWM_STATE_F:
                self._pwm_units = PWM_STATE_X1  # the firmware drops the PWM to X1 when the car leaves
        if self._enabled and state != self._cp_reported:
            self._cp_reported = state
            self._events.append(PilotStateChanged(state, now))

    def _on_relais(self, on: bool, now: float) -> None:
        if on == self._relays_on:
            return
        self._relays_on = on
        self._relays_off_since = None if on else now
        self._events.append(RelaysClosed(now) if on else RelaysOpened(now))

    def _on_flags(self, flags: pb.ErrorFlags, now: float) -> None:
        for name, kind, detail in _FLAG_ERRORS:
            value = bool(getattr(flags, name))
            if value == self._flags[name]:
                continue
            self._flags[name] = value
            if value:
                if kind in POWER_BLOCKING_ERRORS:
                    self._withdraw_power()
                self._raise(kind, detail, now)
            else:
                self._clear(kind, now)

    def _on_meter(self, m: pb.PowerMeter, now: float) -> None:
        currents = (m.irmsL1, m.irmsL2, m.irmsL3)
        reading = MeterReading(
            now,
            m.totalWattHr,
            (m.wattL1, m.wattL2, m.wattL3),
            (m.vrmsL1, m.vrmsL2, m.vrmsL3),
            currents,
            m.irmsN,
            (m.freqL1, m.freqL2, m.freqL3),
            (m.wattHrL1, m.wattHrL2, m.wattHrL3),
            (m.tempL1, m.tempL2, m.tempL3, m.tempN),
            m.phaseSeqError,
        )
        self._events.append(reading)
        off_since = self._relays_off_since
        if (
            off_since is not None
            and not self._relays_on
            and now - off_since >= self.config.contactor_check_delay
            and max(currents) > self.config.contactor_check_current_a
        ):
            self._withdraw_power()
            self._raise(
                BoardErrorKind.CONTACTOR_FAULT,
                f"{max(currents):.1f} A still flowing {now - off_since:.1f} s after the relays opened: "
                "welded contactor",
                now,
            )


if TYPE_CHECKING:  # mypy holds the core to the library's shape
    _shape: WireCore[YetiCommand, BoardEvent, YetiState] = YetiProtocol()
