"""The pyserial Yeti driver against the simulator on a real pseudo-terminal, in real time."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest

from evcharge.bsp.errors import UnsupportedFirmwareError
from evcharge.bsp.events import (
    AllowPowerOn,
    BoardErrorKind,
    BoardEvent,
    BoardReset,
    BootloaderEntered,
    EnterBootloader,
    ErrorCleared,
    ErrorRaised,
    MeterReading,
    PilotState,
    PilotStateChanged,
    PilotX1,
    PowerReason,
    PwmOn,
    RelaysClosed,
    RelaysOpened,
    ResetBoard,
)
from evcharge.bsp.interface import BoardSupport
from evcharge.bsp.transport.pty import PtySimulator
from evcharge.bsp.yeti.simulator import SimulatorConfig, YetiSimulator
from evcharge.bsp.yeti.transport.serial import YetiSerialDriver
from evcharge.bsp.yeti.vehicle import SimpleVehicle

pytest.importorskip("serial")

WAIT = 20.0  # generous: a loaded CI machine must not fail these tests


class Bench:
    def __init__(self, sim_config: SimulatorConfig | None = None) -> None:
        self.car = SimpleVehicle(max_current_a=16.0, phases=3)
        self.pty = PtySimulator(YetiSimulator(sim_config, self.car))

    def do(self, fn: Callable[[YetiSimulator, float], object]) -> object:
        return self.pty.call(fn)


@pytest.fixture
def bench() -> Iterator[Bench]:
    b = Bench()
    b.pty.start()
    yield b
    b.pty.stop()
    assert b.pty.error is None


@pytest.fixture
def board(bench: Bench) -> Iterator[YetiSerialDriver]:
    with YetiSerialDriver(bench.pty.port) as drv:
        drv.wait_ready(WAIT)
        yield drv
    assert drv.failure is None


def eventually(check: Callable[[], bool], timeout: float = WAIT) -> bool:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def is_cp(state: PilotState) -> Callable[[BoardEvent], bool]:
    return lambda e: isinstance(e, PilotStateChanged) and e.state is state


def is_error(kind: BoardErrorKind, cls: type = ErrorRaised) -> Callable[[BoardEvent], bool]:
    return lambda e: isinstance(e, cls) and e.kind is kind


def start_charging(bench: Bench, board: YetiSerialDriver) -> None:
    bench.do(lambda s, n: bench.car.plug_in())
    board.wait_for(is_cp(PilotState.B), WAIT)
    board.send(PwmOn(duty_percent=26.67))
    board.send(AllowPowerOn(allow=True, reason=PowerReason.FULL_POWER_CHARGING))
    bench.do(lambda s, n: bench.car.request_power())
    board.wait_for(is_cp(PilotState.C), WAIT)
    board.wait_for(lambda e: isinstance(e, RelaysClosed), WAIT)


def test_driver_is_a_board_support(board: YetiSerialDriver) -> None:
    assert isinstance(board, BoardSupport)
    caps = board.capabilities
    assert caps is not None and caps.max_current_a == 32.0 and caps.firmware_version.startswith("2.")


def test_whole_ac_session_over_a_pty(bench: Bench, board: YetiSerialDriver) -> None:
    start_charging(bench, board)
    energies: list[float] = []
    while len(energies) < 6:
        ev = board.wait_for(lambda e: isinstance(e, MeterReading), WAIT)
        assert isinstance(ev, MeterReading)
        energies.append(ev.energy_wh_import)
    assert energies == sorted(energies) and energies[-1] > energies[0]
    assert ev.current_a == pytest.approx((16.0, 16.0, 16.0))
    assert bench.do(lambda s, n: s.pwm_units) == 2667
    bench.do(lambda s, n: bench.car.stop_requesting())
    board.wait_for(lambda e: isinstance(e, RelaysOpened), WAIT)
    board.send(AllowPowerOn(allow=False, reason=PowerReason.POWER_OFF))
    board.send(PilotX1())
    bench.do(lambda s, n: bench.car.unplug())
    board.wait_for(is_cp(PilotState.A), WAIT)
    assert board.core.frame_stats.errors == 0


@pytest.mark.parametrize(
    ("inject", "kind"),
    [
        (lambda s, n: s.inject_rcd_leakage(35.0), BoardErrorKind.RCD_TRIGGERED),
        (lambda s, n: s.inject_over_current(), BoardErrorKind.OVER_CURRENT),
    ],
    ids=["rcd", "over-current"],
)
def test_trips_withdraw_power(
    bench: Bench, board: YetiSerialDriver, inject: Callable[[YetiSimulator, float], None], kind: BoardErrorKind
) -> None:
    start_charging(bench, board)
    bench.do(inject)
    seen: list[BoardEvent] = []
    board.wait_for(is_error(kind), WAIT, seen=seen)
    board.wait_for(lambda e: isinstance(e, RelaysOpened), WAIT)
    assert bench.do(lambda s, n: s.allow_power_on) is False
    assert bench.do(lambda s, n: s.relays_on) is False


def test_welded_relay_detected(bench: Bench, board: YetiSerialDriver) -> None:
    start_charging(bench, board)
    bench.do(lambda s, n: s.weld_relays())
    board.send(AllowPowerOn(allow=False, reason=PowerReason.POWER_OFF))
    board.wait_for(lambda e: isinstance(e, RelaysOpened), WAIT)
    board.wait_for(is_error(BoardErrorKind.CONTACTOR_FAULT), WAIT)


def test_diode_fault(bench: Bench, board: YetiSerialDriver) -> None:
    bench.do(lambda s, n: bench.car.plug_in())
    board.send(PwmOn(duty_percent=10))
    board.wait_for(is_cp(PilotState.B), WAIT)
    bench.do(lambda s, n: bench.car.set_diode_fault(True))
    board.wait_for(is_error(BoardErrorKind.DIODE_FAULT), WAIT)


def test_garbage_bad_crc_and_dropped_frames(bench: Bench, board: YetiSerialDriver) -> None:
    start_charging(bench, board)

    def noise(s: YetiSimulator, n: float) -> None:
        s.corrupt_next_frames(4)
        s.drop_next_frames(3)
        s.inject_garbage(bytes(range(1, 200)) + b"\x00\x07\x07\x00")

    bench.do(noise)
    seen: list[BoardEvent] = []
    for _ in range(3):
        board.wait_for(lambda e: isinstance(e, MeterReading), WAIT, seen=seen)
    stats = board.core.frame_stats
    assert stats.crc_errors >= 4 - 1 and stats.errors >= 5
    assert not [e for e in seen if isinstance(e, ErrorRaised | RelaysOpened)]
    assert board.core.relays_on


def test_spurious_reset(bench: Bench, board: YetiSerialDriver) -> None:
    start_charging(bench, board)
    bench.do(lambda s, n: s.spurious_reset(n))
    ev = board.wait_for(lambda e: isinstance(e, BoardReset), WAIT)
    assert isinstance(ev, BoardReset) and ev.spurious
    board.wait_for(lambda e: isinstance(e, RelaysOpened), WAIT)
    board.send(AllowPowerOn(allow=True))
    board.wait_for(lambda e: isinstance(e, RelaysClosed), WAIT)


def test_link_loss_and_recovery(bench: Bench, board: YetiSerialDriver) -> None:
    start_charging(bench, board)
    bench.do(lambda s, n: s.go_silent(n + 6.5))
    ev = board.wait_for(is_error(BoardErrorKind.COMMUNICATION_FAULT), WAIT)
    assert isinstance(ev, ErrorRaised) and "5 s" in ev.detail
    board.wait_for(is_error(BoardErrorKind.COMMUNICATION_FAULT, ErrorCleared), WAIT)
    assert bench.do(lambda s, n: s.relays_on) is False  # power was withdrawn while unsupervised


class SimResetLine:
    def __init__(self, bench: Bench) -> None:
        self.bench = bench
        self.pulses = 0

    def pulse(self) -> None:
        self.pulses += 1
        self.bench.do(lambda s, n: s.hardware_reset(n))


def test_start_up_with_a_reset_line(bench: Bench) -> None:
    line = SimResetLine(bench)
    boots = bench.do(lambda s, n: s.boots)
    with YetiSerialDriver(bench.pty.port, reset_line=line) as drv:
        drv.wait_ready(WAIT)
        ev = drv.wait_for(lambda e: isinstance(e, BoardReset), WAIT)
        assert isinstance(ev, BoardReset) and not ev.spurious
        assert line.pulses == 1
        assert bench.do(lambda s, n: s.boots) == boots + 1
        assert not [m for m in bench.pty.sim.received if m.WhichOneof("payload") == "reset"]


def test_old_firmware_refused_over_pty() -> None:
    bench = Bench(SimulatorConfig(firmware_version="1.0-0-g0000000"))
    with bench.pty, YetiSerialDriver(bench.pty.port) as drv:
        with pytest.raises(UnsupportedFirmwareError, match="update the board"):
            drv.wait_ready(WAIT)


def test_bootloader_over_pty(bench: Bench, board: YetiSerialDriver) -> None:
    board.send(EnterBootloader())
    board.wait_for(lambda e: isinstance(e, BootloaderEntered), WAIT)
    assert eventually(lambda: bench.do(lambda s, n: s.in_bootloader) is True)


def test_reset_through_the_reset_line_is_not_spurious(bench: Bench) -> None:
    line = SimResetLine(bench)
    with YetiSerialDriver(bench.pty.port, reset_line=line) as drv:
        drv.wait_ready(WAIT)
        drv.wait_for(lambda e: isinstance(e, BoardReset), WAIT)
        drv.send(ResetBoard())
        ev = drv.wait_for(lambda e: isinstance(e, BoardReset), WAIT)
        assert isinstance(ev, BoardReset) and not ev.spurious
        assert line.pulses == 2
