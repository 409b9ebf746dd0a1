"""``evcharge simulate --hlc ... --iface NAME``: the charger and the car talk over a real veth pair.

:class:`NetNamespaces` makes two network namespaces (``evcharge-evse-PID`` and ``evcharge-ev-PID``) joined by a
veth pair whose end is called ``NAME`` in each (link-local IPv6 only, no duplicate address detection), and deletes
them again. :class:`NetBench` is the :class:`~evcharge.charger.sim.bench.Bench` with its in-process links replaced
by sockets in those namespaces, on the real clock:

* SLAC: raw Ethernet (EtherType 0x88E1, :class:`~evcharge.slac.transport.rawsocket.RawSocketLink`) on each side,
  with an emulated HomePlug modem per side (:class:`~evcharge.slac.emulator.ModemEmulator`: CM_SET_KEY, and the
  CM_ATTEN_PROFILE.IND for every M-sound the other side sends);
* SDP: the car's request to ``ff02::1`` on UDP 15118, the SECC's answer with its link-local address and port;
* V2G: TCP (TLS with ``--payment pnc``) from the car's namespace to the SECC's.

The control pilot, the board, the DC supply, the car's battery and the OCPP side stay in process (the pilot is
a wire, not a network). One process holds sockets in both namespaces: each socket is made while the thread is in
its namespace (``setns(2)``), and stays there. Needs root (network namespaces, raw sockets) and iproute2.
"""

from __future__ import annotations

import asyncio  # noqa: TID251 - evcharge.sim is the application that composes the cores: it runs the event loop
import contextlib
import ctypes
import ipaddress
import os
import shutil
import socket  # noqa: TID251 - the application opens the sockets of the simulated link
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

from evcharge.charger.events import ManagerEvent, V2gLinkReady
from evcharge.charger.sim.bench import Bench
from evcharge.errors import LocalProtocolError, RemoteProtocolError
from evcharge.iso15118.sdp import (
    SdpClient,
    SdpClientConfig,
    SdpDiscovered,
    SdpFailed,
    SdpServer,
    SdpServerConfig,
    Security,
    StartDiscovery,
)
from evcharge.iso15118.transport.tcp import tls_info
from evcharge.iso15118.transport.udp import SdpServerProtocol, link_local_address
from evcharge.slac.emulator import ModemConfig, ModemEmulator
from evcharge.slac.messages import AAG_GROUPS
from evcharge.slac.transport.rawsocket import RawSocketLink

__all__ = ["NetBench", "NetNamespaces", "inside"]

_CLONE_NEWNET = 0x40000000
_SDP_PORT = 15118
_SDP_GROUP = "ff02::1"
_READ = 65536
_ETH_P_ALL = 0x0003


def _ip(*args: str) -> None:
    done = subprocess.run(["ip", *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise OSError(f"ip {' '.join(args)}: {done.stderr.strip() or done.returncode}")


class NetNamespaces:
    """Two network namespaces joined by a veth pair (see the module documentation); a context manager."""

    def __init__(self, iface: str) -> None:
        tag = str(os.getpid())
        self.iface = iface
        self.evse = f"evcharge-evse-{tag}"
        self.ev = f"evcharge-ev-{tag}"
        self._made: list[str] = []

    def __enter__(self) -> NetNamespaces:
        if os.geteuid() != 0:
            raise OSError("--iface needs root: it makes two network namespaces and a veth pair")
        if shutil.which("ip") is None:
            raise OSError("--iface needs iproute2 (the ip command)")
        removed = remove_stale_namespaces()
        if removed:
            print(f"evcharge simulate: deleted the network namespaces of a run that was killed: {', '.join(removed)}",
                  file=sys.stderr)
        try:
            for ns in (self.evse, self.ev):
                _ip("netns", "add", ns)
                self._made.append(ns)
            a, b = f"evc{os.getpid() % 100000}a", f"evc{os.getpid() % 100000}b"
            _ip("link", "add", a, "type", "veth", "peer", "name", b)
            for end, ns in ((a, self.evse), (b, self.ev)):
                _ip("link", "set", end, "netns", ns, "name", self.iface)
                _ip("netns", "exec", ns, "sysctl", "-qw", f"net.ipv6.conf.{self.iface}.accept_dad=0")
                _ip("-n", ns, "link", "set", "lo", "up")
                _ip("-n", ns, "link", "set", self.iface, "up")
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        left = []
        for ns in reversed(self._made):  # deleting a namespace deletes its end of the veth pair, and the pair
            for attempt in range(20):
                done = subprocess.run(["ip", "netns", "del", ns], capture_output=True, text=True)
                if done.returncode == 0 or not os.path.exists(f"/run/netns/{ns}"):
                    break
                time.sleep(0.05 * (attempt + 1))  # noqa: TID251 - the application, at its exit: busy for a moment
            else:
                left.append(f"{ns} ({done.stderr.strip() or done.returncode})")
        self._made.clear()
        if left:  # said, not raised: the session's result stands; the user can delete them with ip netns del
            print(f"evcharge simulate: could not delete the network namespaces {', '.join(left)}", file=sys.stderr)


def remove_stale_namespaces() -> list[str]:
    """Delete the namespaces ``evcharge-evse-PID`` / ``evcharge-ev-PID`` whose process is gone (a run killed with
    SIGKILL cannot delete its own; their veth pair goes with them); the names deleted."""
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True)
    removed = []
    for line in listed.stdout.splitlines():
        name = line.split()[0] if line.split() else ""
        kind, _, pid = name.removeprefix("evcharge-").partition("-")
        if not name.startswith("evcharge-") or kind not in ("evse", "ev") or not pid.isdigit():
            continue
        try:
            os.kill(int(pid), 0)
            continue  # its run is alive (this one, or another one running now)
        except ProcessLookupError:
            pass
        except PermissionError:
            continue  # alive, another user's
        if subprocess.run(["ip", "netns", "del", name], capture_output=True).returncode == 0:
            removed.append(name)
    return removed


@contextlib.contextmanager
def inside(namespace: str) -> Iterator[None]:
    """Run the block with this thread in ``namespace`` (a name of ``ip netns``); sockets made here stay there."""
    libc = ctypes.CDLL(None, use_errno=True)
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    target = os.open(f"/run/netns/{namespace}", os.O_RDONLY)
    try:
        if libc.setns(target, _CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), f"setns into {namespace}: {os.strerror(ctypes.get_errno())}")
        try:
            yield
        finally:
            if libc.setns(home, _CLONE_NEWNET) != 0:  # pragma: no cover - going home cannot fail as root
                raise OSError(ctypes.get_errno(), "setns back to the original network namespace")
    finally:
        os.close(target)
        os.close(home)


def _udp(port: int, scope: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, scope)
    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 1)
    sock.bind(("::", port, 0, 0))
    sock.setblocking(False)
    return sock


class _Datagrams(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.queue: asyncio.Queue[bytes] = asyncio.Queue()

    def datagram_received(self, data: bytes, addr: tuple[Any, ...]) -> None:
        self.queue.put_nowait(data)


class NetBench(Bench):
    """The bench over a real veth pair, on the real clock (see the module documentation). Make it inside a
    running event loop, then ``await start()``; drive it with :meth:`astep`; ``close()`` at the end."""

    def __init__(self, config: Any, car: Any, *, namespaces: NetNamespaces, capture: bool = False, **kw: Any) -> None:
        self.ns = namespaces
        iface = namespaces.iface
        #: with ``capture``: every frame on the charger's end of the veth pair, both ways, as (UNIX time, bytes)
        self.capture: list[tuple[float, bytes]] | None = [] if capture else None
        self._tap: socket.socket | None = None
        with inside(namespaces.evse):
            if capture:
                self._tap = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(_ETH_P_ALL))
                self._tap.bind((iface, 0))
                self._tap.setblocking(False)
            self.evse_link = RawSocketLink(iface)
            self.evse_address = link_local_address(iface)
            self.evse_scope = socket.if_nametoindex(iface)
        with inside(namespaces.ev):
            self.ev_link = RawSocketLink(iface)
            link_local_address(iface)
            self.ev_scope = socket.if_nametoindex(iface)
        self.modems = {
            "evse": ModemEmulator(ModemConfig(mac=b"\x00\xb0\x52" + self.evse_link.mac[3:]),
                                  host_mac=self.evse_link.mac),
            "ev": ModemEmulator(ModemConfig(mac=b"\x00\xb0\x52" + self.ev_link.mac[3:]), host_mac=self.ev_link.mac),
        }
        self._profile = (20,) * AAG_GROUPS  # the attenuation the emulated modems report for every M-sound
        self._t0 = time.monotonic()
        self._wakeup = asyncio.Event()
        self._writers: dict[str, asyncio.StreamWriter] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._server: asyncio.Server | None = None
        self._sdp: asyncio.DatagramTransport | None = None
        self.frames = {"evse": 0, "ev": 0}  #: SLAC frames each side sent on the wire
        self.sdp_requests = 0  #: SDP requests the car sent until the answer
        #: what went wrong on the link (SDP unanswered, a refused connection): the run ends with it
        self.failures: list[BaseException] = []
        super().__init__(config, car, evse_mac=self.evse_link.mac, ev_mac=self.ev_link.mac, **kw)

    # -- setting up and closing ------------------------------------------------------------------

    async def start(self) -> None:
        """Open the SECC's TCP (TLS) server and SDP server in its namespace, and read both raw links."""
        loop = asyncio.get_running_loop()
        with inside(self.ns.evse):
            listener = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind((str(self.evse_address), 0, 0, self.evse_scope))
            listener.listen(4)
            listener.setblocking(False)
            sdp_sock = _udp(_SDP_PORT, self.evse_scope)
            group = ipaddress.IPv6Address(_SDP_GROUP).packed + self.evse_scope.to_bytes(4, "little")
            with contextlib.suppress(OSError):  # every interface is in ff02::1 already
                sdp_sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP, group)
        port = listener.getsockname()[1]
        secc_ctx = self.tls[0] if self.tls is not None else None
        self._server = await asyncio.start_server(self._accepted, sock=listener, ssl=secc_ctx)
        tls = secc_ctx is not None
        core = SdpServer(SdpServerConfig(address=self.evse_address, tls_port=port if tls else None,
                                         tcp_port=None if tls else port))
        transport, _ = await loop.create_datagram_endpoint(lambda: SdpServerProtocol(core, self._clock, None),
                                                           sock=sdp_sock)
        self._sdp = transport
        if self._tap is not None:
            loop.add_reader(self._tap.fileno(), self._tapped)
        loop.add_reader(self.evse_link.fileno(), self._from_line, "evse")
        loop.add_reader(self.ev_link.fileno(), self._from_line, "ev")

    async def close(self) -> None:
        loop = asyncio.get_running_loop()
        for link in (self.evse_link, self.ev_link):
            loop.remove_reader(link.fileno())
        if self._tap is not None:
            self._tapped()  # what is still waiting
            loop.remove_reader(self._tap.fileno())
            self._tap.close()
        for writer in self._writers.values():
            writer.close()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(BaseException):
                await task
        if self._sdp is not None:
            self._sdp.close()
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2.0)
        self.evse_link.close()
        self.ev_link.close()

    # -- time --------------------------------------------------------------------------------------

    def _clock(self) -> float:
        return time.monotonic() - self._t0

    def _tick(self) -> float:
        self.now = max(self.now, self._clock())
        self.emulator.now = self.now
        return self.now

    def step(self, *, until: float) -> bool:
        raise LocalProtocolError("a NetBench runs on the real clock: use astep")

    async def astep(self, *, until: float) -> bool:
        """Fire what is due, then wait for the next timer (at most ``until``) or for data; False at ``until``."""
        now = self._tick()
        self._fire(now)
        self._pump()
        timers = [t for t in (self.manager.get_timer(), self.car.get_timer(), self.board.get_timer(),
                              self.car.pev.get_timer()) if t is not None]
        target = min([until, *timers])
        self._wakeup.clear()
        delay = target - self._clock()
        if delay > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), delay)
        now = self._tick()
        self._fire(now)
        self._pump()
        return not (now >= until and not self._busy())

    def _fire(self, now: float) -> None:
        super()._fire(now)
        timer = self.car.pev.get_timer()  # in process the powerline emulator runs the car's SLAC timers
        if timer is not None and timer <= now:
            self.car.pev.handle_timer(now)

    def _busy(self) -> bool:
        timer = self.car.pev.get_timer()
        return super()._busy() or (timer is not None and timer <= self.now)

    async def arun(self, *, until: float) -> None:
        while await self.astep(until=until):
            pass

    # -- the links ----------------------------------------------------------------------------------

    def _pump(self) -> None:
        for _ in range(100):
            super()._pump()
            if not self._slac_out():
                break

    def _slac_out(self) -> bool:
        """The SLAC machines' frames through their modems: onto the line, or back to the host (CM_SET_KEY)."""
        moved = False
        for side, machine, link in (("evse", self.manager.slac, self.evse_link), ("ev", self.car.pev, self.ev_link)):
            for data in machine.data_to_send():
                to_line, to_host = self.modems[side].host_to_line(data)
                for frame in to_line:
                    self.frames[side] += 1
                    link.send_frame(frame)
                for frame in to_host:
                    moved = True
                    machine.receive_data(frame, self.now)
        return moved

    def _tapped(self) -> None:
        assert self._tap is not None and self.capture is not None
        while True:
            try:
                frame = self._tap.recv(65536)
            except (BlockingIOError, InterruptedError):
                return
            self.capture.append((time.time(), frame))

    def _from_line(self, side: str) -> None:
        link, machine = (self.evse_link, self.manager.slac) if side == "evse" else (self.ev_link, self.car.pev)
        now = self._tick()
        while (data := link.recv_frame()) is not None:
            for frame in self.modems[side].line_to_host(data, self._profile):
                machine.receive_data(frame, now)
        self._pump()
        self._wakeup.set()

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self.failures.append(task.exception())  # type: ignore[arg-type]
            self._wakeup.set()

    def _on_manager(self, event: ManagerEvent, now: float) -> None:
        if isinstance(event, V2gLinkReady):
            self.connected_at = now
            self._spawn(self._connect_car())  # SDP, then TCP (TLS) from the car's namespace
            return
        super()._on_manager(event, now)

    def resume(self) -> None:
        """The car comes back after a pause: SDP again, a new TCP (TLS) connection that resumes the session."""
        self._spawn(self._connect_car(resume=True))

    async def _connect_car(self, *, resume: bool = False) -> None:
        loop = asyncio.get_running_loop()
        with inside(self.ns.ev):
            sdp_sock = _udp(0, self.ev_scope)
        transport, protocol = await loop.create_datagram_endpoint(_Datagrams, sock=sdp_sock)
        client = SdpClient(SdpClientConfig(security=Security.TLS if self.tls is not None else Security.NO_TLS))
        try:
            client.send(StartDiscovery(), self._clock())
            found = None
            while found is None:
                for datagram in client.data_to_send():
                    self.sdp_requests += 1
                    transport.sendto(datagram, (_SDP_GROUP, _SDP_PORT, 0, self.ev_scope))
                timer = client.get_timer()
                wait = 0.25 if timer is None else max(0.0, timer - self._clock())
                try:
                    data = await asyncio.wait_for(protocol.queue.get(), wait)
                    with contextlib.suppress(RemoteProtocolError):
                        client.receive_data(data, self._clock())
                except TimeoutError:
                    client.handle_timer(self._clock())
                event = client.next_event()
                if isinstance(event, SdpFailed):
                    raise OSError(f"SDP: no answer after {event.requests_sent} requests")
                if isinstance(event, SdpDiscovered):
                    found = event.response
        finally:
            transport.close()
        with inside(self.ns.ev):
            sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
            sock.setblocking(False)
        await loop.sock_connect(sock, (str(found.address), found.port, 0, self.ev_scope))
        evcc_ctx: ssl.SSLContext | None = self.tls[1] if self.tls is not None else None
        reader, writer = await asyncio.open_connection(sock=sock, ssl=evcc_ctx,
                                                       server_hostname="" if evcc_ctx is not None else None)
        now = self._tick()
        info = tls_info(writer.get_extra_info("ssl_object"))
        try:
            session: Any = self.car.resume(now, tls=info) if resume else self.car.connect(now, tls=info)
        except LocalProtocolError:
            writer.close()
            raise
        self._writers["ev"] = writer
        self._pump()
        self._wakeup.set()
        await self._read(reader, session)

    async def _accepted(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        now = self._tick()
        info = tls_info(writer.get_extra_info("ssl_object"))
        self.secc_tls = info
        self._writers["evse"] = writer
        session = self.manager.connection_made(now, tls=info)
        self._pump()
        self._wakeup.set()
        await self._read(reader, session)

    async def _read(self, reader: asyncio.StreamReader, session: Any) -> None:
        """Feed one connection's bytes to its session (an old connection's end never reaches a newer one)."""
        while True:
            try:
                data = await reader.read(_READ)
            except (ConnectionError, OSError, ssl.SSLError):
                data = b""
            now = self._tick()
            if not data:
                if session.state.value != "closed":
                    session.connection_lost(now)
                self._pump()
                self._wakeup.set()
                return
            if session.state.value != "closed":
                try:
                    session.receive_data(data, now)
                except RemoteProtocolError as exc:
                    self.errors.append(exc)
            self._pump()
            self._wakeup.set()

    def _move_v2g(self, now: float) -> bool:
        moved = False
        for side, session, direction in (("ev", self.car.evcc, "ev->evse"), ("evse", self.manager.secc, "evse->ev")):
            if session is None:
                continue
            writer = self._writers.get(side)
            for chunk in session.data_to_send():
                moved = True
                self.v2g.append((now, direction, chunk))
                if writer is not None and not writer.is_closing():
                    writer.write(chunk)
            if session.state.value == "closed" and writer is not None and not writer.is_closing():
                writer.close()  # the session ended: its side closes the TCP (TLS) connection
        return moved
