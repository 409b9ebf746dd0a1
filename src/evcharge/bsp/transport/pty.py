"""Run a simulated device (the Yeti simulator, the PN532 simulator) behind a pseudo-terminal.

The simulator owns the master side of an ``os.openpty()`` pair; any program (the serial driver, EVerest's
YetiDriver, ``picocom``) opens :attr:`PtySimulator.port`, the slave's path, as if it were the board's UART.
A background thread moves bytes and runs the simulator's timers; the clock is injectable.  Nothing here decides
anything about the protocol.
"""

from __future__ import annotations

import contextlib
import errno
import os
import select
import threading
import time
import tty
from collections.abc import Callable
from types import TracebackType
from typing import Generic, Protocol, Self, TypeVar


class SimulatedDevice(Protocol):
    """A sans-I/O device model: what :class:`PtySimulator` needs."""

    def power_up(self, now: float) -> None: ...
    def receive_data(self, data: bytes, now: float) -> None: ...
    def data_to_send(self) -> bytes: ...
    def get_timer(self) -> float | None: ...
    def handle_timer(self, now: float) -> None: ...


#: The type of device a :class:`PtySimulator` runs.
DeviceT = TypeVar("DeviceT", bound=SimulatedDevice)


class PtySimulator(Generic[DeviceT]):
    """A simulated device on a pty.  Use ``with PtySimulator(sim) as s: open(s.port)``.

    Call fault-injection and vehicle methods while holding ``lock`` (or through :meth:`call`), since the
    simulator runs in the background thread.
    """

    def __init__(self, sim: DeviceT, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.sim = sim
        self.clock = clock
        self.lock = threading.RLock()
        self._master: int | None = None
        self._slave: int | None = None
        self._port: str | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self.bytes_dropped = 0  #: bytes lost because nobody read the slave side
        self.error: BaseException | None = None

    @property
    def port(self) -> str:
        """Path of the slave side (``/dev/pts/N``)."""
        if self._port is None:
            raise RuntimeError("the simulator is not started")
        return self._port

    def start(self) -> str:
        """Open the pty, power the simulated board up and start the I/O thread; return the port path."""
        master, slave = os.openpty()
        tty.setraw(slave)
        os.set_blocking(master, False)
        self._master, self._slave = master, slave
        self._port = os.ttyname(slave)
        with self.lock:
            self.sim.power_up(self.clock())
            boot = self.sim.data_to_send()
        if boot:
            self._write(master, boot)  # the device booted before anyone opened the port
        self._thread = threading.Thread(target=self._run, name=f"pty-{type(self.sim).__name__}", daemon=True)
        self._thread.start()
        return self._port

    def stop(self) -> None:
        """Stop the thread and close the pty."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        for fd in (self._master, self._slave):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._master = self._slave = None

    def call(self, fn: Callable[[DeviceT, float], object]) -> object:
        """Run ``fn(sim, now)`` under the lock (fault injection from another thread)."""
        with self.lock:
            return fn(self.sim, self.clock())

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _run(self) -> None:
        master = self._master
        assert master is not None
        try:
            while not self._stop.is_set():
                with self.lock:
                    timer = self.sim.get_timer()
                timeout = 0.05 if timer is None else min(0.05, max(0.0, timer - self.clock()))
                readable, _, _ = select.select([master], [], [], timeout)
                now = self.clock()
                with self.lock:
                    if readable:
                        try:
                            data = os.read(master, 4096)
                        except OSError as exc:  # EIO: no slave open right now
                            if exc.errno not in (errno.EIO, errno.EAGAIN):
                                raise
                            data = b""
                        if data:
                            self.sim.receive_data(data, now)
                    timer = self.sim.get_timer()
                    if timer is not None and now >= timer:
                        self.sim.handle_timer(now)
                    out = self.sim.data_to_send()
                if out:
                    self._write(master, out)
        except BaseException as exc:  # surfaced to the test / CLI through .error
            self.error = exc

    def _write(self, fd: int, data: bytes) -> None:
        view = memoryview(data)
        while view:
            try:
                n = os.write(fd, view)
            except BlockingIOError:
                self.bytes_dropped += len(view)  # nobody reads: a real UART loses the bytes too
                return
            except OSError as exc:
                if exc.errno == errno.EIO:
                    self.bytes_dropped += len(view)
                    return
                raise
            view = view[n:]
