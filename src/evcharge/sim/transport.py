"""The only I/O of the simulation: pseudo-terminals for the simulated boards, and a TCP relay for the network.

* :class:`PtyDevice` puts a sans-I/O device model (the Yeti board with its car, the PN532 reader) on the master
  side of a pty; the charger opens the slave side with pyserial, exactly as it opens ``/dev/ttyAMA0`` on a YAK.
  Unlike :class:`evcharge.bsp.transport.pty.PtySimulator` it has no thread: the runner pumps it every step of
  the simulated clock, so no timeout can fire because a thread was late.
* :class:`SerialPort` is the charger's side: pyserial, non-blocking reads.
* :class:`LinkRelay` forwards TCP between the station and the CSMS, and can cut the link (the offline scenario).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import tty
from typing import Any

from evcharge.bsp.transport.pty import SimulatedDevice

__all__ = ["LinkRelay", "PtyDevice", "SerialPort"]


class PtyDevice:
    """A simulated device behind a pty, pumped by the caller (see the module docstring)."""

    def __init__(self, device: SimulatedDevice) -> None:
        self.device = device
        self._master: int | None = None
        self._slave: int | None = None
        self.port = ""

    def open(self, now: float) -> str:
        """Create the pty, power the device up; return the slave's path."""
        master, slave = os.openpty()
        tty.setraw(slave)
        os.set_blocking(master, False)
        self._master, self._slave = master, slave
        self.port = os.ttyname(slave)
        self.device.power_up(now)
        return self.port

    def pump(self, now: float) -> None:
        """Move the bytes waiting on either side and run the device's due timers."""
        fd = self._master
        if fd is None:
            return
        while True:
            try:
                data = os.read(fd, 4096)
            except OSError as exc:  # EAGAIN: nothing waiting; EIO: the slave side is not open
                if exc.errno in (errno.EAGAIN, errno.EIO):
                    break
                raise
            if not data:
                break
            self.device.receive_data(data, now)
        timer = self.device.get_timer()
        if timer is not None and timer <= now:
            self.device.handle_timer(now)
        out = self.device.data_to_send()
        if out:
            with contextlib.suppress(BlockingIOError):
                os.write(fd, out)

    def close(self) -> None:
        """Close both sides."""
        for fd in (self._master, self._slave):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._master = self._slave = None


class SerialPort:
    """The charger's end of a serial line (pyserial, 115200 8N1, non-blocking reads)."""

    def __init__(self, port: str, baudrate: int = 115200) -> None:
        import serial  # optional dependency: evcharge[bsp]

        self._serial: Any = serial.Serial(port, baudrate, timeout=0, write_timeout=1.0)

    def read(self) -> bytes:
        """What has arrived (possibly nothing)."""
        waiting = self._serial.in_waiting
        return bytes(self._serial.read(waiting)) if waiting else b""

    def write(self, data: bytes) -> None:
        """Send ``data``."""
        if data:
            self._serial.write(data)

    def close(self) -> None:
        """Close the port."""
        self._serial.close()


class LinkRelay:
    """A TCP relay on loopback to ``host:port`` whose link can be cut and restored."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.up = True
        self.cuts = 0
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
        except OSError:
            writer.transport.abort()
            return
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
