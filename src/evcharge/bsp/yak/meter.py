"""A Modbus-RTU power-meter reader for the YAK's RS485 port (pymodbus).

The register layout is data: a :class:`MeterMap` names the register, format and scale of each quantity, with a
preset for the common Eastron SDM630 (:data:`SDM630`).  :class:`ModbusMeterReader` reads one sample into the same
:class:`~evcharge.bsp.events.MeterReading` the Yeti's built-in meter produces, so charger logic does not care
which meter it has.  A Modbus exception or a timeout raises :class:`~evcharge.bsp.errors.RemoteProtocolError`.

``ModbusMeterReader.serial("/dev/ttyAMA3")`` opens the RS485 port (9600 8N1 by default); any pymodbus
synchronous client (e.g. a TCP client with the RTU framer) can be passed in instead.
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass
from typing import Any

from evcharge.bsp.errors import LocalProtocolError, RemoteProtocolError
from evcharge.bsp.events import MeterReading


class ValueFormat(enum.Enum):
    """How a value is laid out in registers (big-endian words unless ``word_swap``)."""

    FLOAT32 = ("f", 2)
    INT32 = ("i", 2)
    UINT32 = ("I", 2)
    INT16 = ("h", 1)
    UINT16 = ("H", 1)

    @property
    def registers(self) -> int:
        """Number of 16-bit registers."""
        return self.value[1]


class RegisterKind(enum.Enum):
    """Modbus table: input registers (function 4) or holding registers (function 3)."""

    INPUT = "input"
    HOLDING = "holding"


@dataclass(frozen=True, slots=True)
class Register:
    """One quantity: start address (0-based), format, scale to the SI unit (value * scale), table, word order."""

    address: int
    format: ValueFormat = ValueFormat.FLOAT32
    scale: float = 1.0
    kind: RegisterKind = RegisterKind.INPUT
    word_swap: bool = False

    def decode(self, registers: list[int]) -> float:
        """Value of the registers read from ``address``."""
        count = self.format.registers
        if len(registers) != count:
            raise RemoteProtocolError(f"expected {count} registers at {self.address}, got {len(registers)}")
        words = list(registers)
        if self.word_swap:
            words.reverse()
        raw = struct.pack(f">{count}H", *words)
        value: float = struct.unpack(">" + self.format.value[0], raw)[0]
        return value * self.scale


@dataclass(frozen=True, slots=True, kw_only=True)
class MeterMap:
    """Where a meter keeps its values.  Only ``energy_import`` is required (Wh after scaling)."""

    name: str
    energy_import: Register
    voltage: tuple[Register, Register, Register] | None = None
    current: tuple[Register, Register, Register] | None = None
    power: tuple[Register, Register, Register] | None = None
    frequency: Register | None = None
    current_n: Register | None = None


def _f(address: int, scale: float = 1.0) -> Register:
    return Register(address, ValueFormat.FLOAT32, scale)


#: Eastron SDM630 (input registers, IEEE 754 float, energy in kWh).
SDM630 = MeterMap(
    name="Eastron SDM630",
    energy_import=_f(0x0048, 1000.0),
    voltage=(_f(0x0000), _f(0x0002), _f(0x0004)),
    current=(_f(0x0006), _f(0x0008), _f(0x000A)),
    power=(_f(0x000C), _f(0x000E), _f(0x0010)),
    frequency=_f(0x0046),
    current_n=_f(0x00E0),
)


@dataclass(frozen=True, slots=True, kw_only=True)
class ModbusMeterConfig:
    """Which meter, where on the bus."""

    unit_id: int = 1
    meter_map: MeterMap = SDM630
    meter_id: str = ""

    def __post_init__(self) -> None:
        if not 1 <= self.unit_id <= 247:
            raise LocalProtocolError(f"Modbus unit id {self.unit_id} is outside 1..247")


class ModbusMeterReader:
    """Reads a Modbus meter through a pymodbus synchronous client."""

    def __init__(self, client: Any, config: ModbusMeterConfig | None = None) -> None:
        self.client = client
        self.config = config if config is not None else ModbusMeterConfig()

    @classmethod
    def serial(
        cls,
        port: str,
        config: ModbusMeterConfig | None = None,
        *,
        baudrate: int = 9600,
        parity: str = "N",
        stopbits: int = 1,
        timeout: float = 1.0,
    ) -> ModbusMeterReader:
        """A reader on an RS485 serial port with the RTU framer."""
        from evcharge.errors import require

        require("pymodbus", "bsp", feature="the Modbus meter reader")
        from pymodbus.client import ModbusSerialClient  # optional dependency: evcharge[bsp]

        client = ModbusSerialClient(port, baudrate=baudrate, parity=parity, stopbits=stopbits, timeout=timeout)
        return cls(client, config)

    def connect(self) -> None:
        """Open the client's connection."""
        if not self.client.connect():
            raise RemoteProtocolError(f"cannot connect to the Modbus meter through {self.client}")

    def close(self) -> None:
        """Close the client's connection."""
        self.client.close()

    def read_register(self, reg: Register) -> float:
        """Read and decode one quantity."""
        from pymodbus.exceptions import ModbusException

        count = reg.format.registers
        fn = (
            self.client.read_input_registers
            if reg.kind is RegisterKind.INPUT
            else self.client.read_holding_registers
        )
        try:
            response = fn(reg.address, count=count, device_id=self.config.unit_id)
        except ModbusException as exc:
            raise RemoteProtocolError(f"Modbus read of register {reg.address} failed: {exc}") from exc
        if response.isError():
            raise RemoteProtocolError(f"meter answered register {reg.address} with {response}")
        return reg.decode(list(response.registers))

    def read(self, now: float) -> MeterReading:
        """One full sample."""
        m = self.config.meter_map

        def three(regs: tuple[Register, Register, Register] | None) -> tuple[float, float, float]:
            if regs is None:
                return (0.0, 0.0, 0.0)
            return (self.read_register(regs[0]), self.read_register(regs[1]), self.read_register(regs[2]))

        energy = self.read_register(m.energy_import)
        return MeterReading(
            now=now,
            energy_wh_import=energy,
            power_w=three(m.power),
            voltage_v=three(m.voltage),
            current_a=three(m.current),
            current_n_a=self.read_register(m.current_n) if m.current_n is not None else 0.0,
            frequency_hz=(self.read_register(m.frequency),) * 3 if m.frequency is not None else (0.0, 0.0, 0.0),
            meter_id=self.config.meter_id,
        )
