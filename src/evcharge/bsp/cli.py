"""``evcharge yeti``: talk to a Yeti power board (or a PN532 reader), or run their simulators on a pty.

Examples::

    evcharge yeti simulate --pty              # prints the pty path; type 'help' for car / fault commands
    evcharge yeti monitor --port /dev/ttyAMA0 # start-up, then print the board's events
    evcharge yeti bootloader --port /dev/ttyAMA0
    evcharge yeti rfid-simulate --pty --card 04A2B3C4D5E680
    evcharge yeti rfid --port /dev/ttyAMA5    # print card tokens
"""

from __future__ import annotations

import argparse
import select
import sys
import time
from typing import TextIO

from evcharge.cli import CommandError, float_range_arg
from evcharge.errors import require

HELP_COMMANDS = """commands (one per line):
  plug | unplug | c | b | d | e        car: plug in, unplug, request power (C), stop (B), ventilation (D), short (E)
  diode on|off                         remove / restore the car's pilot diode
  rcd MA [dc]                          residual current in mA (trips at 30 AC / 6 DC)
  overcurrent on|off | weld on|off     faults
  crc N | drop N | garbage             N frames with a bad CRC / dropped; noise bytes on the line
  silence S | reset                    stop sending for S seconds; spurious watchdog reset
  status | help | quit"""


def _gpio_line(text: str) -> str:
    """``CHIP:LINE``: a gpiochip device and a line offset, e.g. ``/dev/gpiochip0:27``."""
    chip, sep, offset = text.rpartition(":")
    if not sep or not chip or not offset.isdigit():
        raise argparse.ArgumentTypeError(f"not a reset line: {text!r} (give CHIP:LINE, e.g. /dev/gpiochip0:27)")
    return text


def _card_uid(text: str) -> str:
    """A card UID in hex: 4, 7 or 10 bytes (ISO/IEC 14443-3 single, double and triple size)."""
    digits = text.replace(":", "").replace(" ", "")
    try:
        uid = bytes.fromhex(digits)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a card UID: {text!r} (give 4, 7 or 10 bytes in hex, "
                                         "e.g. 04A2B3C4D5E680)") from None
    if len(uid) not in (4, 7, 10):
        raise argparse.ArgumentTypeError(f"a card UID has 4, 7 or 10 bytes, not {len(uid)}: {text!r}")
    return digits


_SECONDS = float_range_arg(0.0, None, what="duration")
_AMPS = float_range_arg(6.0, 80.0, what="current")


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the ``yeti`` subcommands."""
    sub = parser.add_subparsers(dest="yeti_command", metavar="ACTION")
    sim = sub.add_parser("simulate", help="run the Yeti firmware simulator on a pseudo-terminal")
    sim.add_argument("--pty", action="store_true", required=True, help="create a pty and print its path")
    sim.add_argument("--firmware", default="2.0-1-g2d51638", help="firmware version string to report")
    sim.add_argument("--max-current", type=_AMPS, default=32.0, help="hardware current limit, A")
    sim.add_argument("--car-max-current", type=_AMPS, default=32.0, help="the simulated car's limit, A")
    sim.add_argument("--car-phases", type=int, default=3, choices=(1, 2, 3))
    sim.add_argument("--duration", type=_SECONDS, default=None, help="stop after this many seconds")

    mon = sub.add_parser("monitor", help="start a Yeti board and print its events")
    mon.add_argument("--port", required=True, help="serial device, e.g. /dev/ttyAMA0")
    mon.add_argument("--duration", type=_SECONDS, default=None, help="stop after this many seconds")
    mon.add_argument("--verbose", action="store_true", help="also print meter readings and telemetry")
    mon.add_argument("--reset-gpio", type=_gpio_line, metavar="CHIP:LINE",
                     help="pulse this reset line, e.g. /dev/gpiochip0:27")
    mon.add_argument("--max-current", type=_AMPS, default=None, help="override the board's maximum current, A")

    boot = sub.add_parser("bootloader", help="reboot the board into its ROM bootloader (firmware update)")
    boot.add_argument("--port", required=True)

    rsim = sub.add_parser("rfid-simulate", help="run the PN532 simulator on a pseudo-terminal")
    rsim.add_argument("--pty", action="store_true", required=True)
    rsim.add_argument("--card", type=_card_uid, help="UID (hex: 4, 7 or 10 bytes) of a card present from the start")
    rsim.add_argument("--duration", type=_SECONDS, default=None)

    rfid = sub.add_parser("rfid", help="poll a PN532 reader and print card tokens")
    rfid.add_argument("--port", required=True, help="serial device, e.g. /dev/ttyAMA5")
    rfid.add_argument("--duration", type=_SECONDS, default=None)


def run(args: argparse.Namespace) -> int:
    """Run the chosen action."""
    action = getattr(args, "yeti_command", None)
    if action in ("monitor", "bootloader", "rfid"):
        require("serial", "bsp", feature=f"evcharge yeti {action}")
    if action == "simulate":
        return _simulate(args, sys.stdin, sys.stdout)
    if action == "monitor":
        return _monitor(args, sys.stdout)
    if action == "bootloader":
        return _bootloader(args, sys.stdout)
    if action == "rfid-simulate":
        return _rfid_simulate(args, sys.stdout)
    if action == "rfid":
        return _rfid(args, sys.stdout)
    raise CommandError("choose an action: simulate, monitor, bootloader, rfid-simulate, rfid")


def _deadline(duration: float | None) -> float:
    return float("inf") if duration is None else time.monotonic() + duration


def _simulate(args: argparse.Namespace, stdin: TextIO, out: TextIO) -> int:
    from evcharge.bsp.transport.pty import PtySimulator
    from evcharge.bsp.yeti.simulator import SimulatorConfig, YetiSimulator
    from evcharge.bsp.yeti.vehicle import SimpleVehicle

    car = SimpleVehicle(max_current_a=args.car_max_current, phases=args.car_phases)
    config = SimulatorConfig(firmware_version=args.firmware, hw_max_current_a=args.max_current)
    sim = YetiSimulator(config, car)
    end = _deadline(args.duration)
    with PtySimulator(sim) as pty:
        print(pty.port, file=out, flush=True)
        interactive = stdin.isatty() if hasattr(stdin, "isatty") else False
        if interactive:
            print("type 'help' for commands", file=out, flush=True)
        stdin_open = not stdin.closed
        try:
            while time.monotonic() < end and pty.error is None:
                left = min(0.5, max(0.0, end - time.monotonic()))
                if not stdin_open:
                    time.sleep(left)  # noqa: TID251 - the command is the application: it paces its own loop
                    continue
                if not _readable(stdin, left):
                    continue
                line = stdin.readline()
                if not line:  # EOF: keep running headless
                    stdin_open = False
                    continue
                reply = _sim_command(pty, car, line.strip())
                if reply == "quit":
                    break
                if reply:
                    print(reply, file=out, flush=True)
        except KeyboardInterrupt:
            pass
        if pty.error is not None:
            print(f"simulator stopped: {pty.error}", file=sys.stderr)
            return 1
    return 0


def _readable(stream: TextIO, timeout: float) -> bool:
    try:
        fd = stream.fileno()
    except (OSError, ValueError, AttributeError):
        time.sleep(max(0.0, timeout))  # noqa: TID251 - the command is the application: it paces its own loop
        return False
    readable, _, _ = select.select([fd], [], [], max(0.0, timeout))
    return bool(readable)


def _sim_command(pty: object, car: object, line: str) -> str:
    from evcharge.bsp.transport.pty import PtySimulator
    from evcharge.bsp.yeti.messages import CpState
    from evcharge.bsp.yeti.simulator import YetiSimulator
    from evcharge.bsp.yeti.vehicle import SimpleVehicle

    assert isinstance(pty, PtySimulator) and isinstance(car, SimpleVehicle)
    words = line.split()
    if not words:
        return ""
    cmd, rest = words[0].lower(), words[1:]
    on = not rest or rest[0].lower() in ("on", "1", "true", "yes")

    def act(sim: YetiSimulator, now: float) -> str:
        if cmd == "plug":
            car.plug_in()
        elif cmd == "unplug":
            car.unplug()
        elif cmd == "c":
            car.request_power()
        elif cmd == "b":
            car.stop_requesting()
        elif cmd == "d":
            car.request_power(ventilation=True)
        elif cmd == "e":
            car.short_pilot()
        elif cmd == "diode":
            car.set_diode_fault(not on)
        elif cmd == "rcd":
            sim.inject_rcd_leakage(float(rest[0]) if rest else 35.0, dc="dc" in rest)
        elif cmd == "overcurrent":
            sim.inject_over_current(on)
        elif cmd == "weld":
            sim.weld_relays(on)
        elif cmd == "crc":
            sim.corrupt_next_frames(int(rest[0]) if rest else 1)
        elif cmd == "drop":
            sim.drop_next_frames(int(rest[0]) if rest else 1)
        elif cmd == "garbage":
            sim.inject_garbage(bytes(range(1, 64)) + b"\x00")
        elif cmd == "silence":
            sim.go_silent(now + (float(rest[0]) if rest else 6.0))
        elif cmd == "reset":
            sim.spurious_reset(now)
        elif cmd == "status":
            return (
                f"cp={CpState.Name(sim.cp_state)} pwm={sim.pwm_units} allow={sim.allow_power_on} "
                f"relays={sim.relays_on} I={[round(i, 1) for i in sim.currents]} E={sum(sim.energy_wh):.2f}Wh "
                f"flags={[field.name for field, value in sim.flags.ListFields() if value]}"
            )
        elif cmd == "help":
            return HELP_COMMANDS
        elif cmd == "quit":
            return "quit"
        else:
            return f"unknown command {cmd!r}; type 'help'"
        return "ok"

    try:
        return str(pty.call(act))
    except (ValueError, IndexError) as exc:
        return f"bad arguments: {exc}"


def _monitor(args: argparse.Namespace, out: TextIO) -> int:
    from evcharge.bsp.errors import BspError
    from evcharge.bsp.events import MeterReading, Telemetry
    from evcharge.bsp.yeti.protocol import YetiConfig
    from evcharge.bsp.yeti.transport.serial import ResetLine, YetiSerialDriver

    reset_line: ResetLine | None = None
    if args.reset_gpio:
        from evcharge.bsp.yak.transport.gpio import GpioLine, GpioResetLine

        chip, _, offset = args.reset_gpio.rpartition(":")
        reset_line = GpioResetLine(GpioLine(chip, int(offset)))
    config = YetiConfig(caps_max_current_a=args.max_current)
    end = _deadline(args.duration)
    try:
        with YetiSerialDriver(args.port, config, reset_line=reset_line) as board:
            while time.monotonic() < end:
                event = board.next_event(timeout=min(0.5, max(0.0, end - time.monotonic())))
                if event is None:
                    if board.failure is not None:
                        raise board.failure
                    continue
                if isinstance(event, MeterReading | Telemetry) and not args.verbose:
                    continue
                print(event, file=out, flush=True)
    except KeyboardInterrupt:
        return 0
    except (BspError, OSError) as exc:
        print(f"evcharge yeti monitor: {exc}", file=sys.stderr)
        return 1
    return 0


def _bootloader(args: argparse.Namespace, out: TextIO) -> int:
    from evcharge.bsp.events import EnterBootloader
    from evcharge.bsp.yeti.transport.serial import YetiSerialDriver

    try:
        with YetiSerialDriver(args.port) as board:
            board.wait_ready(10.0)
            board.send(EnterBootloader())
            time.sleep(0.2)  # noqa: TID251 - the command is the application: it paces its own loop
    except (OSError, TimeoutError) as exc:
        print(f"evcharge yeti bootloader: {exc}", file=sys.stderr)
        return 1
    print("the board is in its ROM bootloader: flash it now (e.g. stm32flash -b 115200 -v -w FILE -R PORT)", file=out)
    return 0


def _rfid_simulate(args: argparse.Namespace, out: TextIO) -> int:
    from evcharge.bsp.transport.pty import PtySimulator
    from evcharge.bsp.yak.pn532_simulator import Pn532Simulator, SimulatedCard

    sim = Pn532Simulator()
    if args.card:
        sim.present_card(SimulatedCard(bytes.fromhex(args.card)))
    end = _deadline(args.duration)
    with PtySimulator(sim) as pty:
        print(pty.port, file=out, flush=True)
        try:
            while time.monotonic() < end and pty.error is None:
                time.sleep(min(0.5, max(0.0, end - time.monotonic())))  # noqa: TID251 - the command is the application: it paces its own loop
        except KeyboardInterrupt:
            pass
    return 0


def _rfid(args: argparse.Namespace, out: TextIO) -> int:
    from evcharge.bsp.yak.pn532 import CardDetected, CardRemoved
    from evcharge.bsp.yak.transport.serial import Pn532SerialReader

    end = _deadline(args.duration)
    try:
        with Pn532SerialReader(args.port) as reader:
            while time.monotonic() < end:
                event = reader.next_event(timeout=min(0.5, max(0.0, end - time.monotonic())))
                if isinstance(event, CardDetected):
                    print(f"card {event.token}", file=out, flush=True)
                elif isinstance(event, CardRemoved):
                    print(f"removed {event.uid.hex().upper()}", file=out, flush=True)
                elif event is not None:
                    print(event, file=out, flush=True)
    except KeyboardInterrupt:
        return 0
    except OSError as exc:
        print(f"evcharge yeti rfid: {exc}", file=sys.stderr)
        return 1
    return 0
