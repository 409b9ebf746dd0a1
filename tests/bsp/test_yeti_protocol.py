"""The sans-I/O Yeti core against the sans-I/O simulator, joined by a fake link and a fake clock."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evcharge.bsp.errors import LocalProtocolError, UnsupportedFirmwareError
from evcharge.bsp.events import (
    AllowPowerOn,
    BoardErrorKind,
    BoardReady,
    BoardReset,
    BootloaderEntered,
    EnablePort,
    EnterBootloader,
    ErrorCleared,
    ErrorRaised,
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
from evcharge.bsp.interface import BoardSupport
from evcharge.bsp.yeti import messages as pb
from evcharge.bsp.yeti.framing import encode_frame
from evcharge.bsp.yeti.protocol import (
    YetiConfig,
    YetiProtocol,
    YetiState,
    parse_firmware_version,
    percent_to_units,
    units_to_percent,
)
from evcharge.bsp.yeti.simulator import SimulatorConfig, offered_current

from .harness import Link


def sent(link: Link, field: str) -> list[object]:
    return [getattr(m, field) for m in link.sim.received if m.WhichOneof("payload") == field]


def charging(link: Link, duty: float = 26.67) -> None:
    link.car.plug_in()
    link.run(0.3)
    link.core.send(PwmOn(duty_percent=duty), link.now)
    link.core.send(AllowPowerOn(allow=True, reason=PowerReason.FULL_POWER_CHARGING), link.now)
    link.car.request_power()
    link.run(1.0)
    assert link.core.relays_on


def errors(link: Link, cls: type) -> list[BoardErrorKind]:
    return [e.kind for e in link.of(cls)]


def test_core_implements_board_support() -> None:
    assert isinstance(YetiProtocol(), BoardSupport)


def test_start_up_sequence() -> None:
    link = Link(start=False)
    link.sim.power_up(link.now - 10)
    link.sim.data_to_send()  # the board booted long ago; its boot messages are gone
    link.core.send(Start(), link.now)
    assert link.core.state is YetiState.RESETTING
    link.pump()
    assert sent(link, "reset") == [True]
    resets = link.of(BoardReset)
    assert resets == [BoardReset(ResetReason.USER, False, link.now)]
    # three keep-alives resynchronise the MCU's COBS decoder after the reset
    assert len(sent(link, "keep_alive")) == 3
    link.run(0.25)
    ready = link.of(BoardReady)
    assert len(ready) == 1
    caps = ready[0].capabilities
    assert (caps.min_current_a, caps.max_current_a, caps.min_phases, caps.max_phases) == (6.0, 32.0, 1, 3)
    assert caps.firmware_version == "2.0-1-g2d51638"
    assert link.core.state is YetiState.READY
    assert link.core.capabilities == caps


def test_host_keep_alive_every_second() -> None:
    link = Link()
    before = len(sent(link, "keep_alive"))
    link.run(10.0)
    assert len(sent(link, "keep_alive")) - before in (10, 11)
    ka = sent(link, "keep_alive")[-1]
    assert isinstance(ka, pb.KeepAlive) and ka.sw_version_string == "evcharge"


def test_hardware_reset_sends_no_reset_message() -> None:
    link = Link(YetiConfig(hardware_reset=True), start=False)
    link.sim.hardware_reset(link.now)  # what the transport does with the GPIO line
    link.core.send(Start(), link.now)
    link.run(0.5)
    assert sent(link, "reset") == []
    assert [(r.reason, r.spurious) for r in link.of(BoardReset)] == [(ResetReason.USER, False)]
    assert link.core.state is YetiState.READY


def test_missing_reset_reason_is_tolerated() -> None:
    link = Link(start=False)
    link.host_to_board_enabled = False  # the reset request is lost; the board keeps sending keep-alives
    link.sim.power_up(link.now - 1)
    link.sim.data_to_send()
    link.core.send(Start(), link.now)
    link.run(1.5)
    assert any("reset reason" in e.detail for e in link.of(ProtocolViolation))
    assert link.core.state is YetiState.READY


def test_caps_override() -> None:
    link = Link(YetiConfig(caps_max_current_a=16.0, caps_min_current_a=8.0))
    link.run(0.5)
    caps = link.core.capabilities
    assert caps is not None and (caps.min_current_a, caps.max_current_a) == (8.0, 16.0)


def test_legacy_firmware_is_refused() -> None:
    link = Link(start=False)
    link.sim = type(link.sim)(SimulatorConfig(firmware_version="1.6-0-gdeadbee"), link.car)
    link.sim.power_up(link.now)
    link.core.send(Start(), link.now)
    with pytest.raises(UnsupportedFirmwareError, match=r"'1\.6-0-gdeadbee' is not supported.*>= 2\.0"):
        link.pump()
    assert link.core.state is YetiState.UNSUPPORTED
    assert link.core.get_timer() is None
    with pytest.raises(LocalProtocolError, match="not supported"):
        link.core.send(PwmOn(duty_percent=10), link.now)
    # later bytes do not raise again
    link.core.receive_data(link.sim.data_to_send(), link.now)


def test_unparseable_version_is_refused() -> None:
    core = YetiProtocol()
    core.send(Start(), 0.0)
    frame = encode_frame(pb.McuToEverest(keep_alive=pb.KeepAliveLo(sw_version_string="garbage")).SerializeToString())
    with pytest.raises(UnsupportedFirmwareError):
        core.receive_data(frame, 0.1)


def test_version_parsing() -> None:
    assert parse_firmware_version("2.0-1-g2d51638") == (2, 0)
    assert parse_firmware_version("v2.2") == (2, 2)
    assert parse_firmware_version("1.0") == (1, 0)
    assert parse_firmware_version("n/a") is None


def test_pwm_units() -> None:
    assert percent_to_units(10) == 1000
    assert percent_to_units(5) == 500
    assert percent_to_units(26.67) == 2667
    assert percent_to_units(100) == 10000
    assert percent_to_units(0.001) == 1  # never 0: that would be state F
    for bad in (0, -1, 100.5, float("nan")):
        with pytest.raises(LocalProtocolError):
            percent_to_units(bad)
    assert units_to_percent(1000) == 10.0
    assert units_to_percent(10001) == 100.0


def test_cp_commands_on_the_wire() -> None:
    link = Link()
    link.core.send(PwmOn(duty_percent=10), link.now)
    link.core.send(PilotF(), link.now)
    link.core.send(PilotX1(), link.now)
    link.pump()
    assert sent(link, "pwm_duty_cycle")[-3:] == [1000, 0, 10000]
    with pytest.raises(LocalProtocolError, match="state E"):
        link.core.send(PilotE(), link.now)


def test_commands_before_start_are_misuse() -> None:
    core = YetiProtocol()
    with pytest.raises(LocalProtocolError, match="start"):
        core.send(PwmOn(duty_percent=10), 0.0)
    core.send(Start(), 0)
    with pytest.raises(LocalProtocolError):
        core.send(Start(), 1)


def test_whole_ac_session() -> None:
    link = Link()
    link.run(0.5)
    link.take()
    link.car.plug_in()
    link.run(0.5)
    assert [e.state for e in link.of(PilotStateChanged)] == [PilotState.B]
    link.core.send(PwmOn(duty_percent=26.67), link.now)  # 16 A
    link.core.send(AllowPowerOn(allow=True, reason=PowerReason.FULL_POWER_CHARGING), link.now)
    link.car.request_power()
    link.run(0.5)
    assert [e.state for e in link.of(PilotStateChanged)] == [PilotState.B, PilotState.C]
    assert len(link.of(RelaysClosed)) == 1
    c_at = next(e.now for e in link.of(PilotStateChanged) if e.state is PilotState.C)
    on_at = link.of(RelaysClosed)[0].now
    assert on_at - c_at >= 0.1 - 1e-9  # relay coil delay
    link.run(10.0)
    meters = link.of(MeterReading)
    energies = [m.energy_wh_import for m in meters]
    assert energies == sorted(energies) and energies[-1] > energies[0]
    last = meters[-1]
    assert last.current_a == pytest.approx((16.0, 16.0, 16.0), abs=0.01)
    # V = 230 - 0.5 ohm * 16 A; P = V * I; about 10 s at 3 x 3.55 kW
    assert last.voltage_v[0] == pytest.approx(222.0, abs=0.01)
    assert last.total_power_w == pytest.approx(3 * 222.0 * 16.0, rel=1e-4)
    assert energies[-1] == pytest.approx(3 * 222.0 * 16.0 * 10.3 / 3600, rel=0.05)
    assert link.of(Telemetry) and link.of(Telemetry)[-1].relais_on
    link.car.stop_requesting()
    link.run(0.5)
    assert len(link.of(RelaysOpened)) == 1
    link.core.send(AllowPowerOn(allow=False, reason=PowerReason.POWER_OFF), link.now)
    link.core.send(PilotX1(), link.now)
    link.car.unplug()
    link.run(0.5)
    assert [e.state for e in link.of(PilotStateChanged)][-2:] == [PilotState.B, PilotState.A]
    assert link.of(MeterReading)[-1].current_a == (0.0, 0.0, 0.0)
    assert not link.of(ErrorRaised)


def test_one_phase_charging_and_phase_command() -> None:
    link = Link()
    link.core.send(SetThreePhases(three_phases=False), link.now)
    charging(link)
    link.run(0.5)
    assert link.of(MeterReading)[-1].current_a[1:] == (0.0, 0.0)
    assert link.sim.three_phases is False


def test_phase_count_checked_against_capabilities() -> None:
    link = Link(sim_config=SimulatorConfig(max_phases=1))
    link.run(0.5)
    with pytest.raises(LocalProtocolError, match=r"1\.\.1"):
        link.core.send(SetThreePhases(three_phases=True), link.now)


def test_connector_lock() -> None:
    link = Link()
    link.core.send(LockConnector(lock=True), link.now)
    link.pump()
    assert link.sim.connector_locked
    link.core.send(LockConnector(lock=False), link.now)
    link.pump()
    assert not link.sim.connector_locked


def test_rcd_trip_withdraws_power_at_once() -> None:
    link = Link()
    charging(link)
    link.take()
    link.sim.inject_rcd_leakage(29.0)
    link.run(0.5)
    assert not link.of(ErrorRaised)
    link.sim.inject_rcd_leakage(31.0)
    link.run(0.5)
    assert errors(link, ErrorRaised) == [BoardErrorKind.RCD_TRIGGERED]
    assert sent(link, "allow_power_on")[-1] is False
    assert link.of(RelaysOpened)  # the firmware does not switch off by itself: the host's withdrawal did it
    assert not link.sim.relays_on
    with pytest.raises(LocalProtocolError, match="MREC2GroundFailure"):
        link.core.send(AllowPowerOn(allow=True), link.now)
    link.sim.inject_rcd_leakage(0.0)
    link.car.unplug()  # the firmware clears the latched RCD flag in state A
    link.run(0.5)
    assert errors(link, ErrorCleared) == [BoardErrorKind.RCD_TRIGGERED]
    link.core.send(AllowPowerOn(allow=True), link.now)


def test_rcd_dc_threshold() -> None:
    link = Link()
    charging(link)
    link.sim.inject_rcd_leakage(6.0, dc=True)
    link.run(0.3)
    assert BoardErrorKind.RCD_TRIGGERED in errors(link, ErrorRaised)
    assert not link.sim.relays_on


def test_over_current_withdraws_power() -> None:
    link = Link()
    charging(link)
    link.take()
    link.sim.inject_over_current()
    link.run(0.5)
    assert errors(link, ErrorRaised) == [BoardErrorKind.OVER_CURRENT]
    assert link.of(RelaysOpened) and not link.sim.relays_on
    assert sent(link, "allow_power_on")[-1] is False


def test_welded_contactor_detected_from_the_meter() -> None:
    link = Link()
    charging(link)
    link.take()
    link.sim.weld_relays()
    link.core.send(AllowPowerOn(allow=False, reason=PowerReason.POWER_OFF), link.now)
    link.run(2.0)
    assert link.of(RelaysOpened)  # the board reports the relays as switched off...
    raised = link.of(ErrorRaised)
    assert [e.kind for e in raised] == [BoardErrorKind.CONTACTOR_FAULT]  # ...but current still flows
    assert "welded" in raised[0].detail
    with pytest.raises(LocalProtocolError):
        link.core.send(AllowPowerOn(allow=True), link.now)


def test_c1_cutoff_after_seven_seconds() -> None:
    link = Link()
    charging(link)
    link.take()
    link.core.send(PilotX1(), link.now)  # the car should stop within 3 s; here it keeps C
    link.run(6.5)
    assert not link.of(RelaysOpened)
    link.run(1.0)
    offs = link.of(RelaysOpened)
    assert len(offs) == 1


def test_diode_fault() -> None:
    link = Link()
    link.car.plug_in()
    link.core.send(PwmOn(duty_percent=10), link.now)
    link.run(0.3)
    link.take()
    link.car.set_diode_fault(True)
    link.run(0.3)
    assert errors(link, ErrorRaised) == [BoardErrorKind.DIODE_FAULT]
    assert [e.state for e in link.of(PilotStateChanged)] == [PilotState.F]
    link.car.set_diode_fault(False)
    link.run(0.3)
    assert errors(link, ErrorCleared) == [BoardErrorKind.DIODE_FAULT]


def test_state_d_reports_ventilation_not_available_and_no_power() -> None:
    link = Link()
    link.car.plug_in()
    link.core.send(PwmOn(duty_percent=10), link.now)
    link.core.send(AllowPowerOn(allow=True), link.now)
    link.car.request_power(ventilation=True)
    link.run(1.0)
    assert BoardErrorKind.VENTILATION_NOT_AVAILABLE in errors(link, ErrorRaised)
    assert not link.of(RelaysClosed)


def test_bad_crc_and_garbage_are_tolerated() -> None:
    link = Link()
    charging(link)
    link.take()
    link.sim.corrupt_next_frames(5)
    link.run(2.0)
    assert link.core.frame_stats.crc_errors == 5
    frames_before = link.core.frame_stats.frames
    link.sim.inject_garbage(b"\x55\xaa\x00\x13\x00\xff" * 10 + b"\x00")
    link.run(2.0)
    stats = link.core.frame_stats
    assert stats.cobs_errors + stats.size_errors >= 1
    assert stats.frames - frames_before >= 2.0 / 0.2 * 3 - 1  # keep-alive, telemetry, meter every 200 ms
    assert link.of(ProtocolViolation)
    assert not link.of(ErrorRaised) and not link.of(RelaysOpened)
    assert link.core.relays_on and link.of(MeterReading)


def test_dropped_frames_are_tolerated() -> None:
    link = Link()
    charging(link)
    link.take()
    link.sim.drop_next_frames(10)
    link.run(3.0)
    assert not link.of(ErrorRaised)
    assert link.of(MeterReading)


def test_link_loss_and_recovery() -> None:
    link = Link()
    charging(link)
    link.take()
    link.sim.go_silent(until=link.now + 8.0)
    start = link.now
    link.run(4.5)
    assert not link.of(ErrorRaised)
    link.run(1.0)
    raised = link.of(ErrorRaised)
    assert [e.kind for e in raised] == [BoardErrorKind.COMMUNICATION_FAULT]
    assert 4.7 <= raised[0].now - start <= 5.5  # 5 s after the last keep-alive (sent every 200 ms)
    assert link.core.link_lost
    assert sent(link, "allow_power_on")[-1] is False  # safe reaction: without supervision, no power
    link.run(3.0)
    assert errors(link, ErrorCleared) == [BoardErrorKind.COMMUNICATION_FAULT]
    assert not link.core.link_lost
    assert not link.sim.relays_on  # the board saw the withdrawal...
    assert link.of(RelaysOpened) and not link.core.relays_on  # ...whose report was lost with the link
    # the board is reset to learn its present state; that reset is the core's own, not spurious
    assert [(r.spurious, r.now > start + 8.0) for r in link.of(BoardReset)] == [(False, True)]
    assert link.core.state is YetiState.READY
    assert link.sim.pwm_units == 2667  # PWM restored after the reset


def test_link_loss_without_reset_keeps_the_board_running() -> None:
    link = Link(YetiConfig(reset_after_link_loss=False))
    charging(link)
    link.take()
    boots = link.sim.boots
    link.sim.go_silent(until=link.now + 6.0)
    link.run(8.0)
    assert errors(link, ErrorRaised) == [BoardErrorKind.COMMUNICATION_FAULT]
    assert errors(link, ErrorCleared) == [BoardErrorKind.COMMUNICATION_FAULT]
    assert link.sim.boots == boots and not link.of(BoardReset)
    assert link.of(RelaysOpened) and not link.core.relays_on


def test_reset_clears_latched_flags_and_a_persisting_fault_comes_back() -> None:
    link = Link()
    charging(link)
    link.sim.inject_rcd_leakage(40.0)
    link.run(0.5)
    assert errors(link, ErrorRaised) == [BoardErrorKind.RCD_TRIGGERED]
    link.take()
    link.sim.spurious_reset(link.now)  # leakage still there: the rebooted board trips again
    link.run(0.5)
    assert errors(link, ErrorCleared) == [BoardErrorKind.RCD_TRIGGERED]
    assert errors(link, ErrorRaised) == [BoardErrorKind.RCD_TRIGGERED]
    assert BoardErrorKind.RCD_TRIGGERED in link.core.active_errors
    link.take()
    link.sim.inject_rcd_leakage(0.0)
    link.sim.spurious_reset(link.now)  # gone: after the reboot the flag stays clear
    link.run(0.5)
    assert errors(link, ErrorCleared) == [BoardErrorKind.RCD_TRIGGERED]
    assert not link.core.active_errors


def test_no_board_at_all_is_a_communication_fault() -> None:
    link = Link(start=False)
    link.core.send(Start(), link.now)
    link.run(7.0)
    assert errors(link, ErrorRaised) == [BoardErrorKind.COMMUNICATION_FAULT]
    assert link.core.state is YetiState.SYNCING
    link.sim.power_up(link.now)
    link.run(1.0)
    assert errors(link, ErrorCleared) == [BoardErrorKind.COMMUNICATION_FAULT]
    assert link.of(BoardReady)


def test_spurious_reset_while_charging() -> None:
    link = Link()
    link.core.send(SetThreePhases(three_phases=False), link.now)
    charging(link)
    link.take()
    link.sim.spurious_reset(link.now)
    link.run(1.0)
    resets = link.of(BoardReset)
    assert resets == [BoardReset(ResetReason.WATCHDOG, True, resets[0].now)]
    assert link.of(RelaysOpened)
    # the core restored the PWM and the phase setting; power stays withdrawn until the charger allows it again
    assert link.sim.pwm_units == 2667
    assert link.sim.three_phases is False
    assert not link.sim.allow_power_on and not link.sim.relays_on
    link.core.send(AllowPowerOn(allow=True), link.now)
    link.run(1.0)
    assert link.of(RelaysClosed)


def test_expected_reset_is_not_spurious() -> None:
    link = Link()
    link.run(0.5)
    link.take()
    link.core.send(ResetBoard(), link.now)
    link.run(1.0)
    assert [r.spurious for r in link.of(BoardReset)] == [False]
    assert link.core.state is YetiState.READY


def test_disable_shows_f_and_holds_back_events() -> None:
    link = Link()
    link.core.send(PwmOn(duty_percent=10), link.now)
    link.run(0.3)
    link.take()
    link.core.send(EnablePort(enabled=False), link.now)
    link.run(0.2)
    assert sent(link, "pwm_duty_cycle")[-1] == 0
    assert sent(link, "allow_power_on")[-1] is False
    with pytest.raises(LocalProtocolError, match="disabled"):
        link.core.send(AllowPowerOn(allow=True), link.now)
    link.core.send(PwmOn(duty_percent=20), link.now)  # cached
    link.run(0.3)
    assert link.sim.pwm_units == 0
    link.take()
    link.core.send(EnablePort(enabled=True), link.now)
    link.car.plug_in()
    link.run(0.5)
    assert link.sim.pwm_units == 2000
    assert [e.state for e in link.of(PilotStateChanged)] == [PilotState.B]


def test_start_disabled() -> None:
    link = Link(YetiConfig(start_enabled=False))
    link.run(0.5)
    assert link.sim.pwm_units == 0


def test_bootloader_request() -> None:
    link = Link()
    link.run(0.5)
    link.core.send(EnterBootloader(), link.now)
    link.pump()
    assert link.sim.in_bootloader
    assert link.core.state is YetiState.BOOTLOADER
    assert isinstance(link.events[-1], BootloaderEntered)
    assert link.core.get_timer() is None
    link.take()
    link.run(10.0)
    assert not link.of(ErrorRaised)  # silence is expected now
    with pytest.raises(LocalProtocolError, match="bootloader"):
        link.core.send(PwmOn(duty_percent=10), link.now)


def test_offered_current_table() -> None:
    assert offered_current(1000) == pytest.approx(6.0)
    assert offered_current(2500) == pytest.approx(15.0)
    assert offered_current(8500) == pytest.approx(51.0)
    assert offered_current(9000) == pytest.approx(65.0)
    assert offered_current(500) == 80.0  # 5 %: digital communication, the car's own limit
    assert offered_current(200) == 0.0
    assert offered_current(10000) == 0.0


@pytest.mark.fuzz
@given(st.binary(max_size=3000))
def test_core_survives_any_bytes(data: bytes) -> None:
    core = YetiProtocol()
    core.send(Start(), 0.0)
    core.receive_data(data, 0.5)
    core.handle_timer(10.0)
    while core.next_event() is not None:
        pass


@pytest.mark.fuzz
@given(st.lists(st.sampled_from(["b00601", "b00602", "b80601", "b80600", "c2060218 01", "a80601"]), max_size=30))
def test_core_survives_any_valid_message_order(msgs: list[str]) -> None:
    core = YetiProtocol()
    core.send(Start(), 0.0)
    for i, hexed in enumerate(msgs):
        core.receive_data(encode_frame(bytes.fromhex(hexed.replace(" ", ""))), 0.01 * i)
    while core.next_event() is not None:
        pass


def test_writes_after_a_reset_fit_the_mcu_rx_queue() -> None:
    """The MCU queues three received frames: the resync keep-alives go first, the settings after its keep-alive."""
    from evcharge.bsp.yeti.framing import FrameDecoder

    link = Link()
    link.run(0.5)
    link.core.send(PwmOn(duty_percent=10), link.now)
    link.pump()
    reset = encode_frame(pb.McuToEverest(reset=pb.ResetReason.WATCHDOG).SerializeToString())
    link.core.receive_data(reset, link.now)
    burst = [pb.EverestToMcu.FromString(p) for p in FrameDecoder().feed(b"".join(link.core.data_to_send()))]
    assert [m.WhichOneof("payload") for m in burst] == ["keep_alive"] * 3
    keep_alive = encode_frame(
        pb.McuToEverest(
            keep_alive=pb.KeepAliveLo(
                sw_version_string="2.0-1-g2d51638",
                hwcap_max_current=32.0,
                hwcap_min_current=6.0,
                hwcap_max_phase_count=3,
                hwcap_min_phase_count=1,
                supports_changing_phases_during_charging=True,
            )
        ).SerializeToString()
    )
    link.core.receive_data(keep_alive, link.now + 0.2)
    after = [pb.EverestToMcu.FromString(p) for p in FrameDecoder().feed(b"".join(link.core.data_to_send()))]
    assert after == [pb.EverestToMcu(set_number_of_phases=True), pb.EverestToMcu(pwm_duty_cycle=1000)]


def test_car_state_changes_during_f_are_not_lost() -> None:
    """While the pilot is at F the board sees -12 V; what the car did meanwhile shows when F ends."""
    link = Link()
    link.car.plug_in()
    link.core.send(PwmOn(duty_percent=10), link.now)
    link.run(0.5)
    link.core.send(PilotF(), link.now)
    link.run(0.3)
    link.car.unplug()
    link.run(0.3)
    link.take()
    link.core.send(PilotX1(), link.now)
    link.run(0.3)
    assert [e.state for e in link.of(PilotStateChanged)] == [PilotState.A]


def test_core_mirrors_the_firmware_dropping_pwm_in_state_a() -> None:
    link = Link()
    link.car.plug_in()
    link.core.send(PwmOn(duty_percent=10), link.now)
    link.run(0.5)
    link.car.unplug()
    link.run(0.5)
    assert link.sim.pwm_units == 10000  # the firmware went back to X1 by itself
    link.sim.spurious_reset(link.now)
    link.run(0.5)
    assert link.sim.pwm_units == 10000  # and the core does not restore the stale 10 % after a reset


def test_boot_overlapping_the_reset_request_is_not_spurious() -> None:
    link = Link(YetiConfig(hardware_reset=True), start=False)
    link.sim.power_up(link.now)  # the board is just being powered...
    link.sim.hardware_reset(link.now + 0.01)  # ...and the host pulses the reset line as well
    link.core.send(Start(), link.now)
    link.run(1.0)
    assert [r.spurious for r in link.of(BoardReset)] == [False, False]
    assert len(link.of(BoardReady)) == 1 and link.core.state is YetiState.READY
    link.take()
    link.sim.spurious_reset(link.now)  # a watchdog reset is spurious even shortly after start-up
    link.run(0.5)
    assert [r.spurious for r in link.of(BoardReset)] == [True]


# ---------------------------------------------------------------- a newer firmware: unknown fields and values
def _ready_core() -> YetiProtocol:
    link = Link()
    link.run(0.5)
    assert link.core.state is YetiState.READY
    link.take()
    return link.core


def _field(number: int, wire_type: int, body: bytes) -> bytes:
    key = (number << 3) | wire_type
    out = bytearray()
    while True:  # varint of the key
        byte, key = key & 0x7F, key >> 7
        out.append(byte | (0x80 if key else 0))
        if not key:
            return bytes(out) + body


def test_newer_firmware_extra_fields_are_tolerated_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    core = YetiProtocol()
    core.send(Start(), 0.0)
    keep_alive = pb.KeepAliveLo(
        sw_version_string="2.4-0-gabcdef0", hwcap_max_current=32.0, hwcap_min_current=6.0,
        hwcap_max_phase_count=3, hwcap_min_phase_count=1,
    ).SerializeToString()  # fmt: skip
    # two fields firmware 2.x does not have, inside the keep-alive (a float 12, a string 13) ...
    newer = keep_alive + _field(12, 5, b"\x00\x00\x80\x3f") + _field(13, 2, b"\x04YAK2")
    # ... and one beside the payload (field 200, varint)
    frame = encode_frame(_field(3, 2, bytes([len(newer)]) + newer) + _field(200, 0, b"\x01"))
    core.receive_data(encode_frame(pb.McuToEverest(reset=pb.USER).SerializeToString()), 0.05)
    with caplog.at_level("INFO", logger="evcharge.bsp.yeti.protocol"):
        for i in range(5):
            core.receive_data(frame, 0.1 + i * 0.2)
    assert core.state is YetiState.READY
    assert core.firmware_version == "2.4-0-gabcdef0"
    events = []
    while (event := core.next_event()) is not None:
        events.append(event)
    assert [type(e) for e in events].count(BoardReady) == 1
    assert not [e for e in events if isinstance(e, ProtocolViolation)]
    assert core.unknown_fields == 5
    logged = [r.getMessage() for r in caplog.records if "does not know" in r.getMessage()]
    assert len(logged) == 1  # once per kind, not five times a second
    assert "[200]" in logged[0] and "[12, 13]" in logged[0]


def test_unknown_payload_and_wrong_wire_type_are_ignored(caplog: pytest.LogCaptureFixture) -> None:
    core = _ready_core()
    unknown_payload = _field(120, 2, b"\x02\x08\x01")  # a message this driver has never heard of
    wrong_type = bytes.fromhex("bd0600000000")  # cp_state (102) sent as fixed32: protobuf keeps it as unknown
    with caplog.at_level("INFO", logger="evcharge.bsp.yeti.protocol"):
        core.receive_data(encode_frame(unknown_payload) + encode_frame(wrong_type), 1.0)
    assert core.next_event() is None  # nothing to report, nothing dropped as bad
    assert core.unknown_fields == 2
    assert core.pilot_state is None
    assert any("unknown payload" in r.getMessage() for r in caplog.records)


def test_unknown_enum_values_never_crash() -> None:
    core = _ready_core()
    core.receive_data(encode_frame(bytes.fromhex("b00609")), 1.0)  # cp_state 9: no such state
    event = core.next_event()
    assert isinstance(event, ProtocolViolation) and "cp_state value 9" in event.detail
    assert core.pilot_state is None and core.decode_errors == 1
    core.receive_data(encode_frame(bytes.fromhex("a80607")), 1.1)  # reset reason 7: the board did restart
    resets = []
    while (event := core.next_event()) is not None:
        if isinstance(event, BoardReset):
            resets.append(event)
    assert [(r.reason, r.spurious) for r in resets] == [(ResetReason.OTHER, True)]
    assert core.state is YetiState.SYNCING


def test_data_to_send_is_one_item_per_frame() -> None:
    core = YetiProtocol()
    core.send(Start(), 0.0)
    frames = core.data_to_send()
    assert frames == [encode_frame(pb.EverestToMcu(reset=True).SerializeToString())]
    assert core.data_to_send() == []


def test_cores_have_the_library_shape() -> None:
    from evcharge.bsp.yak.pn532 import Pn532Reader
    from evcharge.sansio import WireCore

    assert isinstance(YetiProtocol(), WireCore)
    assert isinstance(Pn532Reader(), WireCore)


@pytest.mark.fuzz
@given(st.lists(st.binary(min_size=1, max_size=120), max_size=12))
def test_any_payload_in_a_good_frame_is_handled_or_refused(payloads: list[bytes]) -> None:
    """Frames with a valid CRC around random payloads: the protobuf parser and the handlers see them all."""
    core = _ready_core()
    for i, payload in enumerate(payloads):
        try:
            core.receive_data(encode_frame(payload), 2.0 + 0.01 * i)
        except UnsupportedFirmwareError:  # a random keep-alive naming firmware 1.x or no version: refused, once
            assert core.state is YetiState.UNSUPPORTED
    while core.next_event() is not None:
        pass
    assert core.frame_stats.frames >= len(payloads)
