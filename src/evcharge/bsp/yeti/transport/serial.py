"""The Yeti driver over a serial port (pyserial, 115200 8N1, no flow control).

:class:`YetiSerialDriver` wraps the sans-I/O :class:`~evcharge.bsp.yeti.protocol.YetiProtocol` in a background
thread that reads the port, runs the core's timers and writes what the core wants sent.  It implements
:class:`~evcharge.bsp.interface.BoardSupport`: commands go in through :meth:`YetiSerialDriver.send`, events are
queued and read with :meth:`YetiSerialDriver.next_event` (optionally blocking).  The optional ``reset_line``
(e.g. :class:`evcharge.bsp.yak.transport.gpio.GpioResetLine`) is pulsed before start-up; without one the core sends the
reset message.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from types import TracebackType
from typing import Any, Protocol, Self

from evcharge.bsp.errors import BspError, LocalProtocolError
from evcharge.bsp.events import (
    BoardErrorKind,
    BoardEvent,
    Capabilities,
    ErrorRaised,
    HardwareResetPulsed,
    ResetBoard,
    Start,
)
from evcharge.bsp.yeti.protocol import YetiCommand, YetiConfig, YetiProtocol, YetiState

BAUDRATE = 115200


class ResetLine(Protocol):
    """A hardware reset line of the board's microcontroller."""

    def pulse(self) -> None:
        """Hold the MCU in reset briefly and release it."""
        ...


class YetiSerialDriver:
    """Yeti power board on a serial port; ``with YetiSerialDriver(port) as board: board.wait_ready(5)``."""

    def __init__(
        self,
        port: str,
        config: YetiConfig | None = None,
        *,
        reset_line: ResetLine | None = None,
        baudrate: int = BAUDRATE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        config = config if config is not None else YetiConfig()
        if reset_line is not None and not config.hardware_reset:
            config = replace(config, hardware_reset=True)
        self.port = port
        self.baudrate = baudrate
        self.clock = clock
        self.core = YetiProtocol(config)
        self.reset_line = reset_line
        self._lock = threading.RLock()
        self._events: queue.Queue[BoardEvent] = queue.Queue()
        self._serial: Any = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._ready = threading.Event()
        self.failure: BaseException | None = None

    # ---------------------------------------------------------------- life cycle
    def open(self) -> None:
        """Open the port, reset the board and start the I/O thread."""
        from evcharge.errors import require

        require("serial", "bsp", feature="the Yeti serial driver")
        import serial  # optional dependency: evcharge[bsp]

        self._serial = serial.Serial(
            self.port,
            self.baudrate,
            bytesize=serial.EIGHTBITS,
            parity=serial.PARITY_NONE,
            stopbits=serial.STOPBITS_ONE,
            timeout=0.02,
            xonxoff=False,
            rtscts=False,
        )
        self._serial.reset_input_buffer()  # bytes from before we came are stale
        if self.reset_line is not None:
            self.reset_line.pulse()
        with self._lock:
            self.core.send(Start(), self.clock())
            self._flush()
        self._thread = threading.Thread(target=self._run, name=f"yeti-{self.port}", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop the thread and close the port."""
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

    def wait_ready(self, timeout: float) -> Capabilities:
        """Block until start-up finished; raise the failure (e.g. unsupported firmware) or ``TimeoutError``."""
        deadline = time.monotonic() + timeout
        while not self._ready.wait(0.05):
            if self.failure is not None:
                raise self.failure
            if time.monotonic() >= deadline:
                raise TimeoutError(f"the board on {self.port} did not finish start-up within {timeout} s")
        caps = self.core.capabilities
        assert caps is not None
        return caps

    # ---------------------------------------------------------------- events
    def next_event(self, timeout: float | None = 0.0) -> BoardEvent | None:
        """Next event; waits up to ``timeout`` seconds (``None``: forever), ``None`` if there is none."""
        try:
            if timeout == 0.0:
                return self._events.get_nowait()
            return self._events.get(timeout=timeout)
        except queue.Empty:
            return None

    def wait_for(
        self, predicate: Callable[[BoardEvent], bool], timeout: float, *, seen: list[BoardEvent] | None = None
    ) -> BoardEvent:
        """Read events until one matches ``predicate``; the others are appended to ``seen``."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no matching board event within the timeout")
            event = self.next_event(left)
            if event is None:
                continue
            if predicate(event):
                return event
            if seen is not None:
                seen.append(event)

    # ---------------------------------------------------------------- BoardSupport
    @property
    def capabilities(self) -> Capabilities | None:
        """See :class:`~evcharge.bsp.interface.BoardSupport`."""
        return self.core.capabilities

    def send(self, command: YetiCommand, now: float | None = None) -> None:
        """Hand ``command`` to the core and write what it answers; ``now`` defaults to the driver's clock.

        :class:`~evcharge.bsp.events.ResetBoard` pulses the reset line when the driver has one.
        """
        if isinstance(command, ResetBoard) and self.reset_line is not None:
            line = self.reset_line

            def pulse() -> None:  # under the lock: the reset reason must not be read before the core expects it
                self.core.send(HardwareResetPulsed(), self.clock() if now is None else now)
                line.pulse()

            self._command(pulse)
            return
        self._command(lambda: self.core.send(command, self.clock() if now is None else now))

    # ---------------------------------------------------------------- internals
    def _command(self, fn: Callable[[], None]) -> None:
        if self._serial is None:
            raise LocalProtocolError("the driver is not open")
        with self._lock:
            fn()
            self._collect()
            self._flush()

    def _flush(self) -> None:
        frames = self.core.data_to_send()
        if frames and self._serial is not None:
            self._serial.write(b"".join(frames))

    def _collect(self) -> None:
        while (event := self.core.next_event()) is not None:
            self._events.put(event)
        if self.core.state is YetiState.READY:
            self._ready.set()

    def _run(self) -> None:
        import serial

        while not self._stop.is_set():
            try:
                ser = self._serial
                if ser is None:
                    return
                data = ser.read(max(1, ser.in_waiting))
                with self._lock:
                    now = self.clock()
                    if data:
                        self.core.receive_data(data, now)
                    timer = self.core.get_timer()
                    if timer is not None and now >= timer:
                        self.core.handle_timer(now)
                    self._collect()
                    self._flush()
            except BspError as exc:  # e.g. unsupported firmware: terminal
                self.failure = exc
                with self._lock:
                    self._collect()
                return
            except (serial.SerialException, OSError) as exc:
                self.failure = exc
                self._events.put(
                    ErrorRaised(BoardErrorKind.COMMUNICATION_FAULT, f"serial port error: {exc}", self.clock())
                )
                return
