"""Board profiles: the default devices of the YAK (Raspberry Pi CM4) and of the Raspberry Pi variant.

A profile only *names* devices; nothing is opened.  Pass its fields to the drivers, e.g.
``YetiSerialDriver(YAK.yeti_uart, reset_line=GpioResetLine(YAK.yeti_reset))``.
"""

from __future__ import annotations

from dataclasses import dataclass

from evcharge.bsp.yak.transport.gpio import GpioLine


@dataclass(frozen=True, slots=True, kw_only=True)
class BoardProfile:
    """Where a high-level board's peripherals are."""

    name: str
    yeti_uart: str  #: power board link, 115200 8N1
    yeti_reset: GpioLine  #: the power board MCU's reset line (active low)
    rfid_uart: str  #: PN532 in HSU mode, 115200 8N1
    plc_interface: str  #: HomePlug Green PHY modem (QCA7000 over SPI, qcaspi driver)
    rs485_port: str  #: Modbus-RTU bus for external meters
    can_interface: str = "can0"  #: MCP2515 on SPI (DC power supplies)
    rtc_device: str = "/dev/rtc0"


#: The YAK board (CM4) with UART0 to the Yeti with reset on GPIO27, PN532 on UART5, RS485 on UART3, PLC on SPI0.
YAK = BoardProfile(
    name="PIONIX YAK (Raspberry Pi CM4)",
    yeti_uart="/dev/ttyAMA0",
    yeti_reset=GpioLine("/dev/gpiochip0", 27),
    rfid_uart="/dev/ttyAMA5",
    plc_interface="eth1",
    rs485_port="/dev/ttyAMA3",
)

#: The Raspberry Pi 4 variant of the reference hardware, with reset on GPIO13, PN532 on ttyAMA1.
RASPBERRY_PI = BoardProfile(
    name="Raspberry Pi 4 with Yeti",
    yeti_uart="/dev/ttyAMA0",
    yeti_reset=GpioLine("/dev/gpiochip0", 13),
    rfid_uart="/dev/ttyAMA1",
    plc_interface="eth1",
    rs485_port="/dev/ttyAMA3",
)



def get_profile(name: str) -> BoardProfile:
    """The profile called ``"yak"`` or ``"rpi"``."""
    if name == "yak":
        return YAK
    if name == "rpi":
        return RASPBERRY_PI
    raise KeyError(f"unknown board profile {name!r}: use 'yak' or 'rpi'")
