"""A sans-I/O simulator of the Yeti firmware 2.x, speaking the same bytes as the board.

:class:`YetiSimulator` models what the host can observe of the firmware: the boot sequence (three keep-alives and
the reset reason), keep-alive / telemetry / power-meter messages every 200 ms, control-pilot classification from
a simulated car (:mod:`evcharge.bsp.yeti.vehicle`), the relay rules and delays (close only in C/D with PWM and
permission, 100 ms coil delay, open on the falling edge of the permission, C1 cut-off after 7 s), a power meter
that integrates energy from the current the car draws at the advertised duty cycle, and fault injection (RCD
leakage, welded relay, over-current, bad CRC, garbage bytes, dropped frames, spurious reset, silence).

Like the firmware at its current revision, an RCD trip or an over-current only *sets a flag*: the relays stay
closed until the host withdraws ``allow_power_on`` (``SimulatorConfig.trip_opens_relays`` models firmware that
switches off by itself).  Time is passed in as ``now``; noise comes from the ``random.Random`` passed in.
:mod:`evcharge.bsp.transport.pty` runs it behind a pseudo-terminal.
"""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass

from evcharge.bsp.yeti import messages as pb
from evcharge.bsp.yeti.framing import FrameDecoder, encode_frame
from evcharge.bsp.yeti.vehicle import SimpleVehicle, VehicleModel

_LEVELS = ((12.0, pb.STATE_A), (9.0, pb.STATE_B), (6.0, pb.STATE_C),
           (3.0, pb.STATE_D), (0.0, pb.STATE_E))


@dataclass(frozen=True, slots=True, kw_only=True)
class SimulatorConfig:
    """Settings of the simulated board; defaults are the Yeti's."""

    firmware_version: str = "2.0-1-g2d51638"
    hw_min_current_a: float = 6.0
    hw_max_current_a: float = 32.0
    min_phases: int = 1
    max_phases: int = 3
    control_interval: float = 0.05  #: firmware control loop, s
    publish_interval: float = 0.2  #: keep-alive / telemetry / meter period, s
    relay_delay: float = 0.1  #: coil pull-in before the relays are reported closed, s
    c1_cutoff: float = 7.0  #: relays forced open this long after the PWM stopped in C, s
    boot_keep_alives: int = 3
    mains_voltage: float = 230.0
    line_resistance: float = 0.5  #: ohm, voltage drop under load
    voltage_noise: float = 0.0  #: relative noise amplitude on the voltage (0.01 = +-1 %)
    frequency_hz: float = 50.0
    rcd_trip_ac_ma: float = 30.0
    rcd_trip_dc_ma: float = 6.0
    over_current_factor: float = 1.5  #: the metering chip's over-current threshold relative to the hardware limit
    trip_opens_relays: bool = False  #: True models firmware whose emergency switch-off is active


def offered_current(units: int) -> float:
    """Current (A) a car may draw at a duty cycle in 0.01 % units (IEC 61851-1 Annex A; 5 % = digital comm.)."""
    dc = units / 100.0
    if dc < 3.0 or dc >= 100.0:
        return 0.0
    if dc <= 7.0:
        return 80.0  # digital communication: the car uses its own limit
    if dc < 8.0:
        return 0.0
    if dc < 10.0:
        return 6.0
    if dc <= 85.0:
        return dc * 0.6
    if dc <= 96.0:
        return (dc - 64.0) * 2.5
    if dc <= 97.0:
        return 80.0
    return 0.0


class YetiSimulator:
    """The Yeti firmware as seen from its UART; sans-I/O (bytes in, bytes out, time passed in)."""

    def __init__(
        self,
        config: SimulatorConfig | None = None,
        vehicle: VehicleModel | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.config = config if config is not None else SimulatorConfig()
        self.vehicle: VehicleModel = vehicle if vehicle is not None else SimpleVehicle()
        self._rng = rng if rng is not None else random.Random(0)
        self._decoder = FrameDecoder()
        self._out = bytearray()
        self.received: deque[pb.EverestToMcu] = deque(maxlen=1000)  # last commands from the host (for tests)
        self.boots = 0
        self.last_host_keep_alive: float | None = None
        self.in_bootloader = False
        # fault injection
        self.rcd_leakage_ma = 0.0
        self.rcd_leakage_dc = False
        self.welded = False
        self.over_current = False
        self._silent_until: float | None = None
        self._drop = 0
        self._corrupt = 0
        self._booted_at: float | None = None
        self._reset_state()

    def _reset_state(self) -> None:
        self.pwm_units = 10000
        self.allow_power_on = False
        self.three_phases = True
        self.connector_locked = False
        self.relays_on = False  # commanded / reported
        self.contacts_closed = False  # physical (differs when welded)
        self.active_phases = 3
        self._relay_pending_at: float | None = None
        self._c1_since: float | None = None
        self.relays_healthy = True
        self.cp_state = pb.STATE_A
        self.cp_hi = 12.0
        self.cp_lo = 12.0
        self.flags = pb.ErrorFlags()
        self.energy_wh = [0.0, 0.0, 0.0]
        self.currents = [0.0, 0.0, 0.0]
        self.voltages = [self.config.mains_voltage] * 3
        self._next_control: float | None = None
        self._next_publish: float | None = None
        self._last_control: float | None = None

    # ---------------------------------------------------------------- sans-I/O
    def power_up(self, now: float) -> None:
        """Switch the board on: the boot sequence starts (keep-alives, reset reason USER)."""
        self._boot(now, pb.USER)

    def data_to_send(self) -> bytes:
        """Bytes the board writes to its UART."""
        data = bytes(self._out)
        self._out.clear()
        return data

    def get_timer(self) -> float | None:
        """When :meth:`handle_timer` must run next."""
        if self.in_bootloader or self._next_control is None or self._next_publish is None:
            return None
        return min(self._next_control, self._next_publish)

    def receive_data(self, data: bytes, now: float) -> None:
        """Bytes the host wrote."""
        if self.in_bootloader or self._booted_at is None:
            return
        for payload in self._decoder.feed(data):
            try:
                msg = pb.EverestToMcu.FromString(payload)
            except pb.DecodeError:
                continue  # the firmware's pb_decode fails and the frame is dropped
            self.received.append(msg)
            self._apply(msg, now)
            if self.in_bootloader:
                return

    def handle_timer(self, now: float) -> None:
        """Run the control loop and the periodic messages that are due."""
        if self.in_bootloader or self._next_control is None or self._next_publish is None:
            return
        if now >= self._next_control:
            self._control(now)
            self._next_control = max(self._next_control + self.config.control_interval, now)
        if now >= self._next_publish:
            self._publish(now)
            self._next_publish = max(self._next_publish + self.config.publish_interval, now)

    # ---------------------------------------------------------------- fault injection
    def inject_rcd_leakage(self, milliamps: float, *, dc: bool = False) -> None:
        """Residual current through the RCD module (trips at 30 mA AC / 6 mA DC)."""
        self.rcd_leakage_ma = milliamps
        self.rcd_leakage_dc = dc

    def weld_relays(self, welded: bool = True) -> None:
        """From now on the contacts stay closed when the relays are switched off."""
        self.welded = welded

    def inject_over_current(self, active: bool = True) -> None:
        """The car draws far more than the hardware limit on L1 while the contacts are closed."""
        self.over_current = active

    def corrupt_next_frames(self, count: int) -> None:
        """Send the next ``count`` frames with a bad CRC."""
        self._corrupt += count

    def drop_next_frames(self, count: int) -> None:
        """Do not send the next ``count`` frames."""
        self._drop += count

    def inject_garbage(self, data: bytes) -> None:
        """Write ``data`` to the UART as it is (noise on the line)."""
        self._out += data

    def go_silent(self, until: float) -> None:
        """Send nothing until ``until`` (the firmware keeps running)."""
        self._silent_until = until

    def spurious_reset(self, now: float, reason: pb.ResetReason.ValueType = pb.WATCHDOG) -> None:
        """The MCU restarts on its own (watchdog, brown-out)."""
        self._boot(now, reason)

    def hardware_reset(self, now: float) -> None:
        """The host pulsed the reset line."""
        self.in_bootloader = False
        self._boot(now, pb.USER)

    # ---------------------------------------------------------------- internals
    def _boot(self, now: float, reason: pb.ResetReason.ValueType) -> None:
        welded_closed = self.welded and self.contacts_closed
        self._reset_state()
        self.contacts_closed = welded_closed
        self.boots += 1
        self._booted_at = now
        self._decoder.reset()
        self._next_control = now + self.config.control_interval
        self._next_publish = now + self.config.publish_interval
        self._last_control = now
        for _ in range(self.config.boot_keep_alives):
            self._emit(pb.McuToEverest(keep_alive=self._keep_alive(now)), now)
        self._emit(pb.McuToEverest(reset=reason), now)

    def _emit(self, msg: pb.McuToEverest, now: float) -> None:
        if self._silent_until is not None:
            if now < self._silent_until:
                return
            self._silent_until = None
        if self._drop > 0:
            self._drop -= 1
            return
        frame = encode_frame(msg.SerializeToString())
        if self._corrupt > 0:
            self._corrupt -= 1
            # flip bits in the first payload byte after the COBS code: the CRC no longer matches
            frame = frame[:1] + bytes([frame[1] ^ 0x01 or 0x02]) + frame[2:]
        self._out += frame

    def _keep_alive(self, now: float) -> pb.KeepAliveLo:
        tick = int((now - (self._booted_at or now)) * 1000) & 0xFFFFFFFF
        return pb.KeepAliveLo(
            time_stamp=tick,
            protocol_version_major=0,
            protocol_version_minor=1,
            sw_version_string=self.config.firmware_version,
            hwcap_max_current=self.config.hw_max_current_a,
            hwcap_min_current=self.config.hw_min_current_a,
            hwcap_max_phase_count=self.config.max_phases,
            hwcap_min_phase_count=self.config.min_phases,
            supports_changing_phases_during_charging=True,
        )

    def _apply(self, msg: pb.EverestToMcu, now: float) -> None:
        which = msg.WhichOneof("payload")
        if which == "pwm_duty_cycle":
            self.pwm_units = min(msg.pwm_duty_cycle, 10000)
        elif which == "allow_power_on":
            falling = self.allow_power_on and not msg.allow_power_on
            self.allow_power_on = msg.allow_power_on
            if falling:
                self._switch_relays(False, now)
        elif which == "set_number_of_phases":
            self.three_phases = msg.set_number_of_phases
        elif which == "connector_lock":
            self.connector_locked = msg.connector_lock
        elif which == "reset" and msg.reset:
            self._boot(now, pb.USER)
        elif which == "firmware_update":
            if msg.firmware_update.invoke_rom_bootloader:
                self._switch_relays(False, now)
                self.in_bootloader = True
        elif which == "keep_alive":
            self.last_host_keep_alive = now

    def _classify(self) -> tuple[pb.CpState.ValueType, float, float, bool]:
        units = self.pwm_units
        if units == 0:
            return pb.STATE_F, -12.0, -12.0, False
        pwm = units < 10000
        hi = self.vehicle.pilot_level
        if pwm:
            lo = -hi if self.vehicle.diode_fault else -12.0
        else:
            lo = hi
        if pwm and lo != -12.0 and abs(hi + lo) < 1.1 and hi > 1.1:
            return pb.STATE_F, hi, lo, True
        for level, state in _LEVELS:
            if abs(hi - level) <= 1.1:
                return state, hi, lo, False
        return pb.STATE_F, hi, lo, False

    def _switch_relays(self, on: bool, now: float) -> None:
        self._relay_pending_at = None
        self._c1_since = None
        if on == self.relays_on:
            return
        self.relays_on = on
        if on:
            self.active_phases = 3 if self.three_phases else 1
            self.contacts_closed = True
        else:
            if self.welded:
                self.relays_healthy = False  # mirror contact says "still closed"
            else:
                self.contacts_closed = False
        self._emit(pb.McuToEverest(relais_state=on), now)

    def _control(self, now: float) -> None:
        dt = 0.0 if self._last_control is None else max(0.0, now - self._last_control)
        self._last_control = now
        self.vehicle.observe_pilot(self.pwm_units, now)
        state, hi, lo, diode_fault = self._classify()
        self.cp_hi, self.cp_lo = hi, lo
        flags = {
            "diode_fault": diode_fault,
            "rcd_selftest_failed": self.flags.rcd_selftest_failed,
            "rcd_triggered": self.flags.rcd_triggered,
            "ventilation_not_available": state == pb.STATE_D,
            "connector_lock_failed": self.flags.connector_lock_failed,
            "cp_signal_fault": self.flags.cp_signal_fault,
            "over_current": self.flags.over_current,
        }
        if state != self.cp_state:
            previous = self.cp_state
            self.cp_state = state
            self._emit(pb.McuToEverest(cp_state=state), now)
            if state == pb.STATE_A:
                if self.pwm_units != 0:
                    self.pwm_units = 10000
                flags["rcd_triggered"] = False
                flags["over_current"] = False
                self.relays_healthy = True
                if not self.welded:
                    self.contacts_closed = self.relays_on
            if previous == pb.STATE_A and state == pb.STATE_B:
                self.energy_wh = [0.0, 0.0, 0.0]
        # residual current
        trip = self.config.rcd_trip_dc_ma if self.rcd_leakage_dc else self.config.rcd_trip_ac_ma
        if self.rcd_leakage_ma >= trip:
            flags["rcd_triggered"] = True
        # relays
        pwm = 0 < self.pwm_units < 10000
        if self.relays_on:
            if state not in (pb.STATE_C, pb.STATE_D) or not self.allow_power_on:
                self._switch_relays(False, now)
            elif state == pb.STATE_D:
                self._switch_relays(False, now)  # the Yeti has no ventilation
            elif not pwm:
                if self._c1_since is None:
                    self._c1_since = now
                elif now - self._c1_since >= self.config.c1_cutoff:
                    self._switch_relays(False, now)
            else:
                self._c1_since = None
        else:
            can_close = (
                state == pb.STATE_C
                and pwm
                and self.allow_power_on
                and self.relays_healthy
                and not flags["rcd_triggered"]
                and not flags["over_current"]
            )
            if not can_close:
                self._relay_pending_at = None
            elif self._relay_pending_at is None:
                self._relay_pending_at = now + self.config.relay_delay
            elif now >= self._relay_pending_at:
                self._switch_relays(True, now)
        # current and meter
        offered = offered_current(self.pwm_units) if pwm else 0.0
        per_phase = self.vehicle.current_demand(offered) if self.contacts_closed else 0.0
        phases = min(self.vehicle.phases, self.active_phases)
        currents = [per_phase if i < phases else 0.0 for i in range(3)]
        if self.over_current and self.contacts_closed:
            currents[0] = self.config.hw_max_current_a * (self.config.over_current_factor + 0.1)
        self.currents = currents
        if max(currents) > self.config.hw_max_current_a * self.config.over_current_factor:
            flags["over_current"] = True
        noise = self.config.voltage_noise
        for i in range(3):
            jitter = self._rng.uniform(-noise, noise) if noise else 0.0
            self.voltages[i] = self.config.mains_voltage * (1.0 + jitter) - self.config.line_resistance * currents[i]
            self.energy_wh[i] += self.voltages[i] * currents[i] * dt / 3600.0
        new_flags = pb.ErrorFlags(**flags)
        if new_flags != self.flags:
            self.flags = new_flags
            self._emit(pb.McuToEverest(error_flags=new_flags), now)
            if self.config.trip_opens_relays and (new_flags.rcd_triggered or new_flags.over_current):
                self._switch_relays(False, now)

    def _publish(self, now: float) -> None:
        self._emit(pb.McuToEverest(keep_alive=self._keep_alive(now)), now)
        self._emit(
            pb.McuToEverest(telemetry=pb.Telemetry(cp_voltage_hi=max(0, int(self.cp_hi)),
                                                   cp_voltage_lo=max(0, int(self.cp_lo)))),
            now,
        )
        v, i, e = self.voltages, self.currents, self.energy_wh
        watts = [v[k] * i[k] for k in range(3)]
        temps = [25.0 + 0.003 * w for w in watts]
        neutral = 0.2 if any(i) else 0.0
        meter = pb.PowerMeter(
            vrmsL1=v[0], vrmsL2=v[1], vrmsL3=v[2],
            irmsL1=i[0], irmsL2=i[1], irmsL3=i[2], irmsN=neutral,
            wattHrL1=e[0], wattHrL2=e[1], wattHrL3=e[2], totalWattHr=sum(e),
            tempL1=temps[0], tempL2=temps[1], tempL3=temps[2], tempN=25.0,
            wattL1=watts[0], wattL2=watts[1], wattL3=watts[2],
            freqL1=self.config.frequency_hz, freqL2=self.config.frequency_hz, freqL3=self.config.frequency_hz,
        )
        self._emit(pb.McuToEverest(power_meter=meter), now)
