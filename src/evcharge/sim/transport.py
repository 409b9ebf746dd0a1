"""The only I/O of the simulation: pseudo-terminals for the simulated boards, and a TCP relay for the network.

* :class:`PtyLine` puts a sans-I/O device model (the Yeti board with its car, the PN532 reader) on the master
  side of a pty; the charger opens the slave side with pyserial, exactly as it opens ``/dev/ttyAMA0`` on a YAK.
  Unlike :class:`evcharge.bsp.transport.pty.PtySimulator` it has no thread: the runner moves it every step of
  the simulated clock, so no timeout can fire because a thread was late.
* :class:`LinkRelay` forwards TCP between the station and the CSMS, and can cut the link (the offline scenario).
"""

from __future__ import annotations

import asyncio  # noqa: TID251 - evcharge.sim is the application that composes the cores: it runs the event loop
import contextlib
import errno
import os
import select
import time
import tty
from typing import Any

from evcharge.bsp.transport.pty import SimulatedDevice

__all__ = ["LinkRelay", "PtyLine"]


class PtyLine:
    """A simulated device on the master side of a pty, the charger's pyserial port on the slave side.

    The two ends move in lockstep with the simulated clock: what one side writes during a step is read by the
    other side within the same step (waiting, in real time, for the kernel to pass it on), so a loaded machine
    slows the simulation down instead of delaying bytes by simulated seconds.
    """

    def __init__(self, device: SimulatedDevice, *, baudrate: int = 115200, max_wait: float = 1.0) -> None:
        self.device = device
        self.baudrate = baudrate
        self.max_wait = max_wait  #: real seconds to wait for bytes in flight before trying again next step
        self.port = ""
        self._master: int | None = None
        self._slave: int | None = None
        self._host: Any = None
        self._to_device = 0  # bytes the host wrote that the device has not read yet
        self._to_host = 0  # bytes the device wrote that the host has not read yet

    def open(self, now: float) -> str:
        """Create the pty, open the slave with pyserial, power the device up; return the slave's path."""
        from evcharge.errors import require

        require("serial", "bsp", feature="evcharge simulate")
        import serial  # optional dependency: evcharge[bsp]

        master, slave = os.openpty()
        tty.setraw(slave)
        os.set_blocking(master, False)
        self._master, self._slave = master, slave
        self.port = os.ttyname(slave)
        self._host = serial.Serial(self.port, self.baudrate, timeout=0, write_timeout=self.max_wait)
        self.device.power_up(now)
        return self.port

    # ------------------------------------------------------------------ the device's side
    def device_step(self, now: float) -> None:
        """Deliver the host's bytes to the device, run its due timers, send what it writes."""
        fd = self._master
        assert fd is not None, "open() first"
        data = self._read_master(fd)
        if data:
            self.device.receive_data(data, now)
        timer = self.device.get_timer()
        if timer is not None and timer <= now:
            self.device.handle_timer(now)
        out = self.device.data_to_send()
        if out:
            os.write(fd, out)
            self._to_host += len(out)

    def _read_master(self, fd: int) -> bytes:
        chunks = []
        deadline = time.monotonic() + self.max_wait
        while True:
            try:
                chunk = os.read(fd, 65536)
            except BlockingIOError:
                chunk = b""
            except OSError as exc:  # EIO: the slave side is not open
                if exc.errno != errno.EIO:
                    raise
                chunk = b""
            if chunk:
                chunks.append(chunk)
                self._to_device = max(0, self._to_device - len(chunk))
                continue
            if self._to_device == 0 or time.monotonic() >= deadline:
                return b"".join(chunks)
            select.select([fd], [], [], 0.01)

    # ------------------------------------------------------------------ the host's side (the charger)
    def host_read(self) -> bytes:
        """What the device sent (all of it, waiting for bytes still in the kernel)."""
        host = self._host
        chunks = []
        deadline = time.monotonic() + self.max_wait
        while True:
            waiting = host.in_waiting
            if waiting:
                chunk = bytes(host.read(waiting))
                chunks.append(chunk)
                self._to_host = max(0, self._to_host - len(chunk))
                continue
            if self._to_host == 0 or time.monotonic() >= deadline:
                return b"".join(chunks)
            select.select([host.fileno()], [], [], 0.01)

    def host_write(self, data: bytes) -> None:
        """The host writes ``data`` to the port."""
        if data:
            self._host.write(data)
            self._to_device += len(data)

    def close(self) -> None:
        """Close the port and the pty."""
        if self._host is not None:
            self._host.close()
            self._host = None
        for fd in (self._master, self._slave):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._master = self._slave = None


class LinkRelay:
    """A TCP relay on loopback to ``host:port`` whose link can be cut and restored."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.up = True
        self.cuts = 0
        self.upstream_error: OSError | None = None  #: why the latest connection to ``host:port`` failed
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> int:
        """Listen on 127.0.0.1; return the local port."""
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    def cut(self) -> None:
        """Drop every connection and refuse new ones."""
        self.up = False
        self.cuts += 1
        for w in list(self._writers):
            w.transport.abort()
        self._writers.clear()

    def restore(self) -> None:
        """Accept and forward connections again."""
        self.up = True

    async def close(self) -> None:
        """Stop listening and drop every connection."""
        self.cut()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self.up:
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(self.host, self.port)
        except OSError as exc:  # the station sees its connection dropped; the runner reads the cause here
            self.upstream_error = exc
            writer.transport.abort()
            return
        self.upstream_error = None
        self._writers.update((writer, up_writer))
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            self._writers.discard(writer)
            writer.transport.abort()
