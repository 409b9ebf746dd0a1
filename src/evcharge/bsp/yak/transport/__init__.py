"""The YAK peripherals' I/O: the PN532 reader on a serial port (:mod:`~evcharge.bsp.yak.transport.serial`) and the
Yeti's reset line through the GPIO character device (:mod:`~evcharge.bsp.yak.transport.gpio`)."""
