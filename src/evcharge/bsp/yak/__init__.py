"""PIONIX YAK high-level board: PN532 RFID reader, Yeti reset line (GPIO), RS485 Modbus meter, board profile.

Modules: :mod:`evcharge.bsp.yak.pn532` (frames and the sans-I/O reader core), :mod:`evcharge.bsp.yak.pn532_simulator`,
:mod:`evcharge.bsp.yak.transport.serial` (the reader on a serial port),
:mod:`evcharge.bsp.yak.transport.gpio` (reset line through the Linux GPIO character device, needs ``gpiod``),
:mod:`evcharge.bsp.yak.meter` (Modbus-RTU meter, needs ``pymodbus``) and :mod:`evcharge.bsp.yak.profile` (the YAK's
default devices).
"""
