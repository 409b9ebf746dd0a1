"""asyncio UDP/IPv6 transport for SDP: the SECC's server and the EVCC's discovery client.

The EVCC multicasts to ``ff02::1`` port 15118 on one interface (its scope id), hop limit 1; the SECC
listens on port 15118 on that interface and answers to the sender's address. On ``::1`` (tests, a
single host) the client sends unicast to ``::1`` instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import socket
import struct
import time
from collections.abc import Callable
from typing import Any

from evcharge.errors import RemoteProtocolError
from evcharge.iso15118.sdp import (
    SDP_MULTICAST_ADDRESS,
    SDP_PORT,
    SdpClient,
    SdpClientState,
    SdpDiscovered,
    SdpFailed,
    SdpServer,
    StartDiscovery,
)

__all__ = [
    "SdpServerProtocol",
    "SdpServerTransport",
    "discover",
    "interface_index",
    "link_local_address",
    "start_sdp_server",
]

log = logging.getLogger(__name__)

HOP_LIMIT = 1


def interface_index(interface: str | None) -> int:
    """The scope id of ``interface`` (0 for ``None``)."""
    return socket.if_nametoindex(interface) if interface else 0


_IFA_F_TENTATIVE = 0x40  # the address is still in duplicate address detection: not usable yet
_IFA_F_DADFAILED = 0x08


def link_local_address(interface: str, *, wait: float = 3.0) -> ipaddress.IPv6Address:
    """The interface's usable IPv6 link-local address (from ``/proc/net/if_inet6``, Linux).

    An interface that was just brought up gets its address after duplicate address detection (about a
    second, or at once with ``accept_dad=0``): this waits up to ``wait`` seconds for it, then raises
    ``OSError``."""
    deadline = time.monotonic() + wait
    while True:
        with open("/proc/net/if_inet6", encoding="ascii") as f:
            for line in f:
                parts = line.split()
                if len(parts) < 6 or parts[5] != interface:
                    continue
                address = ipaddress.IPv6Address(bytes.fromhex(parts[0]))
                if address.is_link_local and not int(parts[4], 16) & (_IFA_F_TENTATIVE | _IFA_F_DADFAILED):
                    return address
        if time.monotonic() >= deadline:
            raise OSError(f"interface {interface} has no IPv6 link-local address")
        time.sleep(0.05)


def _socket(bind_host: str, port: int, scope_id: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, HOP_LIMIT)
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, HOP_LIMIT)
        if scope_id:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, scope_id)
        sock.bind((bind_host, port, 0, scope_id if ipaddress.IPv6Address(bind_host).is_link_local else 0))
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


class SdpServerProtocol(asyncio.DatagramProtocol):
    """The asyncio protocol that feeds datagrams to an :class:`~evcharge.iso15118.sdp.SdpServer` and
    sends its answers back to each sender."""

    def __init__(self, core: SdpServer, clock: Callable[[], float], on_event: Callable[[Any], None] | None) -> None:
        self.core = core
        self.clock = clock
        self.on_event = on_event
        self.transport: asyncio.DatagramTransport | None = None
        self.ignored = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # a datagram transport here

    def datagram_received(self, data: bytes, addr: tuple[Any, ...]) -> None:
        try:
            self.core.receive_data(data, self.clock())
        except RemoteProtocolError as exc:
            self.ignored += 1
            log.info("SDP: ignored a datagram from %s: %s", addr[0], exc)
            return
        assert self.transport is not None
        for datagram in self.core.data_to_send():
            self.transport.sendto(datagram, addr)
        while (event := self.core.next_event()) is not None:
            if self.on_event is not None:
                self.on_event(event)


class SdpServerTransport:
    """The running SDP server (close it with ``close()``)."""

    def __init__(self, transport: asyncio.DatagramTransport, protocol: SdpServerProtocol) -> None:
        self.transport = transport
        self.protocol = protocol

    @property
    def port(self) -> int:
        return int(self.transport.get_extra_info("sockname")[1])

    @property
    def ignored(self) -> int:
        """Datagrams that were not valid SDP requests (ignored, as the standard says)."""
        return self.protocol.ignored

    def close(self) -> None:
        self.transport.close()


async def start_sdp_server(
    core: SdpServer,
    *,
    interface: str | None = None,
    host: str = "::",
    port: int = SDP_PORT,
    on_event: Callable[[Any], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> SdpServerTransport:
    """Listen for SDP requests on ``port`` (15118). With ``interface``, join ``ff02::1`` there."""
    scope_id = interface_index(interface)
    sock = _socket(host, port, scope_id)
    if scope_id:
        mreq = ipaddress.IPv6Address(SDP_MULTICAST_ADDRESS).packed + struct.pack("@I", scope_id)
        with contextlib.suppress(OSError):  # every interface is already in ff02::1 (all nodes)
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP, mreq)
    loop = asyncio.get_running_loop()
    transport, protocol = await loop.create_datagram_endpoint(
        lambda: SdpServerProtocol(core, clock, on_event), sock=sock
    )
    return SdpServerTransport(transport, protocol)


class _ClientProtocol(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.queue: asyncio.Queue[bytes] = asyncio.Queue()

    def datagram_received(self, data: bytes, addr: tuple[Any, ...]) -> None:
        self.queue.put_nowait(data)


async def discover(
    core: SdpClient | None = None,
    *,
    interface: str | None = None,
    target: str = SDP_MULTICAST_ADDRESS,
    port: int = SDP_PORT,
    clock: Callable[[], float] = time.monotonic,
) -> SdpDiscovered | SdpFailed:
    """Run the SDP client until it has an acceptable response or gave up (50 x 250 ms by default).

    ``target`` is ``ff02::1`` on ``interface`` (its scope id), or a unicast address (``::1``)."""
    core = core or SdpClient()
    scope_id = interface_index(interface)
    sock = _socket("::", 0, scope_id)
    loop = asyncio.get_running_loop()
    transport, protocol = await loop.create_datagram_endpoint(_ClientProtocol, sock=sock)
    destination = (target, port, 0, scope_id if ipaddress.IPv6Address(target).is_link_local or
                   ipaddress.IPv6Address(target).is_multicast else 0)
    try:
        core.send(StartDiscovery(), clock())
        while True:
            for datagram in core.data_to_send():
                transport.sendto(datagram, destination)
            event = core.next_event()
            if event is not None:
                return event
            if core.state is not SdpClientState.WAITING:  # pragma: no cover - an event always comes first
                raise RuntimeError(f"SDP client stopped in {core.state}")
            timer = core.get_timer()
            timeout = None if timer is None else max(0.0, timer - clock())
            try:
                data = await asyncio.wait_for(protocol.queue.get(), timeout)
            except TimeoutError:
                core.handle_timer(clock())
                continue
            try:
                core.receive_data(data, clock())
            except RemoteProtocolError as exc:
                log.info("SDP: ignored a response: %s", exc)
            timer = core.get_timer()
            if timer is not None and clock() >= timer:
                core.handle_timer(clock())
    finally:
        transport.close()
