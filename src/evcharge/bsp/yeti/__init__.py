"""PIONIX Yeti power board: framing, messages, the sans-I/O protocol core, the simulator and the serial driver.

Import the pieces from their modules: :mod:`evcharge.bsp.yeti.framing`, :mod:`evcharge.bsp.yeti.messages`,
:mod:`evcharge.bsp.yeti.protocol`, :mod:`evcharge.bsp.yeti.simulator`, :mod:`evcharge.bsp.yeti.transport.serial`
(needs pyserial) and :mod:`evcharge.bsp.transport.pty`.
"""
