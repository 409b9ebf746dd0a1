"""The PN532 reader on a serial port (pyserial, HSU 115200 8N1).

A background thread around :class:`~evcharge.bsp.yak.pn532.Pn532Reader`.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any, Self

from evcharge.bsp.events import Start
from evcharge.bsp.yak.pn532 import Pn532Config, Pn532Reader, ReaderEvent


class Pn532SerialReader:
    """``with Pn532SerialReader("/dev/ttyAMA5") as reader: reader.next_event(timeout=5)``."""

    def __init__(
        self,
        port: str,
        config: Pn532Config | None = None,
        *,
        baudrate: int = 115200,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.port = port
        self.baudrate = baudrate
        self.clock = clock
        self.core = Pn532Reader(config)
        self._lock = threading.Lock()
        self._events: queue.Queue[ReaderEvent] = queue.Queue()
        self._serial: Any = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self.failure: BaseException | None = None

    def open(self) -> None:
        """Open the port, wake the reader and start polling in a background thread."""
        from evcharge.errors import require

        require("serial", "bsp", feature="the PN532 serial reader")
        import serial  # optional dependency: evcharge[bsp]

        self._serial = serial.Serial(self.port, self.baudrate, timeout=0.02)
        self._serial.reset_input_buffer()
        with self._lock:
            self.core.send(Start(), self.clock())
            self._serial.write(b"".join(self.core.data_to_send()))
        self._thread = threading.Thread(target=self._run, name=f"pn532-{self.port}", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop polling and close the port."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if self._serial is not None:
            self._serial.close()
            self._serial = None

    def __enter__(self) -> Self:
        self.open()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def next_event(self, timeout: float | None = 0.0) -> ReaderEvent | None:
        """Next event, waiting up to ``timeout`` seconds (``None``: forever)."""
        try:
            if timeout == 0.0:
                return self._events.get_nowait()
            return self._events.get(timeout=timeout)
        except queue.Empty:
            return None

    def _run(self) -> None:
        import serial

        try:
            while not self._stop.is_set():
                ser = self._serial
                data = ser.read(max(1, ser.in_waiting))
                with self._lock:
                    now = self.clock()
                    if data:
                        self.core.receive_data(data, now)
                    timer = self.core.get_timer()
                    if timer is not None and now >= timer:
                        self.core.handle_timer(now)
                    out = b"".join(self.core.data_to_send())
                    while (event := self.core.next_event()) is not None:
                        self._events.put(event)
                if out:
                    ser.write(out)
        except (serial.SerialException, OSError) as exc:
            self.failure = exc
