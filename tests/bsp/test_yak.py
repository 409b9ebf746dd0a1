"""YAK peripherals: Modbus-RTU meter against a pymodbus server, the GPIO reset line, the board profile."""

from __future__ import annotations

import asyncio
import os
import socket
import stat
import struct
import sys
import threading
import types
from collections.abc import Iterator

import pytest

from evcharge.bsp.errors import LocalProtocolError, RemoteProtocolError
from evcharge.bsp.yak.meter import (
    SDM630,
    MeterMap,
    ModbusMeterConfig,
    ModbusMeterReader,
    Register,
    RegisterKind,
    ValueFormat,
)
from evcharge.bsp.yak.profile import RASPBERRY_PI, YAK, get_profile
from evcharge.bsp.yak.transport.gpio import GpioLine, GpioResetLine, GpioUnavailableError, gpio_chips

pymodbus = pytest.importorskip("pymodbus")


def float_words(value: float) -> list[int]:
    return list(struct.unpack(">HH", struct.pack(">f", value)))


def sdm630_registers() -> list[int]:
    regs = [0] * 0x100
    values = {
        0x0000: 231.0, 0x0002: 229.5, 0x0004: 230.25,
        0x0006: 16.0, 0x0008: 15.5, 0x000A: 0.0,
        0x000C: 3696.0, 0x000E: 3557.25, 0x0010: 0.0,
        0x0046: 49.98, 0x0048: 12.345, 0x00E0: 0.5,
    }  # fmt: skip
    for address, value in values.items():
        regs[address : address + 2] = float_words(value)
    return regs


@pytest.fixture
def modbus_server() -> Iterator[int]:
    """A pymodbus server speaking Modbus-RTU frames over a loopback TCP socket, unit id 3."""
    from pymodbus import FramerType
    from pymodbus.datastore import ModbusDeviceContext, ModbusSequentialDataBlock, ModbusServerContext
    from pymodbus.server import ServerAsyncStop, StartAsyncTcpServer

    holding = [0] * 16
    holding[2:4] = [0x0001, 0xE240]  # 123456 as INT32
    holding[4] = 0xFFFE  # -2 as INT16
    context = ModbusServerContext(
        devices={
            3: ModbusDeviceContext(
                ir=ModbusSequentialDataBlock(1, sdm630_registers()), hr=ModbusSequentialDataBlock(1, holding)
            )
        }
    )
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    loop = asyncio.new_event_loop()
    thread = threading.Thread(
        target=lambda: loop.run_until_complete(
            StartAsyncTcpServer(context, address=("127.0.0.1", port), framer=FramerType.RTU)
        ),
        daemon=True,
    )
    thread.start()
    for _ in range(200):
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                break
        threading.Event().wait(0.05)
    yield port
    asyncio.run_coroutine_threadsafe(ServerAsyncStop(), loop).result(10)
    thread.join(10)


def rtu_client(port: int) -> object:
    from pymodbus import FramerType
    from pymodbus.client import ModbusTcpClient

    return ModbusTcpClient("127.0.0.1", port=port, framer=FramerType.RTU, timeout=5, retries=1)


@pytest.mark.interop
def test_sdm630_sample_from_a_modbus_rtu_server(modbus_server: int) -> None:
    reader = ModbusMeterReader(rtu_client(modbus_server), ModbusMeterConfig(unit_id=3, meter_id="sdm-1"))
    reader.connect()
    try:
        m = reader.read(now=5.0)
    finally:
        reader.close()
    assert m.energy_wh_import == pytest.approx(12345.0, rel=1e-6)  # 12.345 kWh
    assert m.voltage_v == (231.0, 229.5, 230.25)
    assert m.current_a == (16.0, 15.5, 0.0)
    assert m.power_w == (3696.0, 3557.25, 0.0)
    assert m.frequency_hz[0] == pytest.approx(49.98, abs=1e-4)
    assert m.current_n_a == 0.5
    assert m.meter_id == "sdm-1" and m.now == 5.0


@pytest.mark.interop
def test_holding_register_formats(modbus_server: int) -> None:
    meter = MeterMap(name="custom", energy_import=Register(2, ValueFormat.INT32, 1.0, RegisterKind.HOLDING))
    reader = ModbusMeterReader(rtu_client(modbus_server), ModbusMeterConfig(unit_id=3, meter_map=meter))
    reader.connect()
    try:
        assert reader.read(0.0).energy_wh_import == 123456
        assert reader.read_register(Register(4, ValueFormat.INT16, 0.5, RegisterKind.HOLDING)) == -1.0
        with pytest.raises(RemoteProtocolError):
            reader.read_register(Register(0x5000))  # outside the device's registers: Modbus exception
    finally:
        reader.close()


def test_register_decoding() -> None:
    assert Register(0).decode(float_words(1.5)) == 1.5
    assert Register(0, word_swap=True).decode(float_words(1.5)[::-1]) == 1.5
    assert Register(0, ValueFormat.UINT32, 0.1).decode([0x0001, 0x0000]) == pytest.approx(6553.6)
    assert Register(0, ValueFormat.UINT16).decode([0xFFFF]) == 65535
    with pytest.raises(RemoteProtocolError):
        Register(0).decode([1])
    assert SDM630.energy_import.scale == 1000.0


def test_unit_id_range() -> None:
    with pytest.raises(LocalProtocolError):
        ModbusMeterConfig(unit_id=0)
    with pytest.raises(LocalProtocolError):
        ModbusMeterConfig(unit_id=248)


def test_unreachable_meter() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    reader = ModbusMeterReader(rtu_client(port))
    with pytest.raises(RemoteProtocolError):
        reader.connect()


class FakeRequest:
    def __init__(self, log: list[tuple[str, object]]) -> None:
        self.log = log

    def set_value(self, offset: int, value: object) -> None:
        self.log.append(("set", (offset, value)))

    def release(self) -> None:
        self.log.append(("release", None))


def test_reset_pulse_sequence_with_fake_gpiod(monkeypatch: pytest.MonkeyPatch) -> None:
    """The pulse is high, low for 10 ms, high on the requested line (libgpiod 2 API, faked)."""
    log: list[tuple[str, object]] = []
    gpiod = types.ModuleType("gpiod")
    line = types.ModuleType("gpiod.line")

    class Direction:
        OUTPUT = "output"

    class Value:
        ACTIVE = "active"
        INACTIVE = "inactive"

    def request_lines(path: str, consumer: str, config: dict[int, object]) -> FakeRequest:
        log.append(("request", (path, consumer, sorted(config))))
        return FakeRequest(log)

    line.Direction = Direction  # type: ignore[attr-defined]
    line.Value = Value  # type: ignore[attr-defined]
    gpiod.request_lines = request_lines  # type: ignore[attr-defined]
    gpiod.LineSettings = lambda **kw: kw  # type: ignore[attr-defined]
    gpiod.line = line  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "gpiod", gpiod)
    monkeypatch.setitem(sys.modules, "gpiod.line", line)
    sleeps: list[float] = []
    reset = GpioResetLine(YAK.yeti_reset, sleep=sleeps.append)
    reset.pulse()
    reset.close()
    assert log == [
        ("request", ("/dev/gpiochip0", "evcharge-yeti-reset", [27])),
        ("set", (27, "active")),
        ("set", (27, "inactive")),
        ("set", (27, "active")),
        ("release", None),
    ]
    assert sleeps == [0.01]


def test_missing_gpiod_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "gpiod", None)
    with pytest.raises(GpioUnavailableError, match="pip install gpiod"):
        GpioResetLine(GpioLine("/dev/gpiochip0", 27)).open()


@pytest.mark.skipif(not gpio_chips(), reason="no /dev/gpiochip* on this machine (GPIO hardware only)")
def test_gpio_chips_are_character_devices() -> None:
    # Read-only on purpose: pulsing an arbitrary line of a real board could reset or switch something.
    for path in gpio_chips():
        assert stat.S_ISCHR(os.stat(path).st_mode), path


def test_profiles() -> None:
    assert YAK.yeti_uart == "/dev/ttyAMA0"
    assert YAK.yeti_reset == GpioLine("/dev/gpiochip0", 27)
    assert YAK.rfid_uart == "/dev/ttyAMA5"
    assert YAK.plc_interface == "eth1"
    assert RASPBERRY_PI.yeti_reset.offset == 13 and RASPBERRY_PI.rfid_uart == "/dev/ttyAMA1"
    assert get_profile("yak") is YAK
    with pytest.raises(KeyError):
        get_profile("nope")
