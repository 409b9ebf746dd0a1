"""Raw Ethernet on a named interface: a Linux ``AF_PACKET`` socket bound to EtherType 0x88E1.

The kernel delivers only HomePlug AV frames (the socket is opened with protocol 0x88E1, no BPF
compiler needed); copies of the frames the host itself sends (``PACKET_OUTGOING``) are skipped.
Needs root (CAP_NET_RAW) and Linux.  Only the standard library is used: opening a link costs no
scapy import (scapy, the ``slac`` extra, is for :mod:`evcharge.slac.scapy_layers` and pcap files).
"""

from __future__ import annotations

import socket

from evcharge.slac.messages import ETHERTYPE_HOMEPLUG, MIN_FRAME_LENGTH

__all__ = ["RawSocketLink"]

_MAX_FRAME = 1518
_PACKET_OUTGOING = 4  # linux/if_packet.h: a frame this host sent, looped back to packet sockets


class RawSocketLink:
    """One interface, opened for HomePlug AV frames.  ``mac`` is the interface's MAC address."""

    def __init__(self, iface: str) -> None:
        af_packet = getattr(socket, "AF_PACKET", None)
        if af_packet is None:
            raise OSError("raw Ethernet (AF_PACKET) needs Linux")
        self.iface = iface
        self._sock = socket.socket(af_packet, socket.SOCK_RAW, socket.htons(ETHERTYPE_HOMEPLUG))
        try:
            self._sock.bind((iface, ETHERTYPE_HOMEPLUG))
            self._sock.setblocking(False)
            address = self._sock.getsockname()  # (ifname, proto, pkttype, hatype, hwaddr)
        except OSError:
            self._sock.close()
            raise
        self.mac: bytes = bytes(address[4][:6])

    def fileno(self) -> int:
        """The socket's file descriptor, for ``loop.add_reader``."""
        return self._sock.fileno()

    def recv_frame(self) -> bytes | None:
        """One received frame, or None when nothing is waiting."""
        while True:
            try:
                data, address = self._sock.recvfrom(_MAX_FRAME)
            except (BlockingIOError, InterruptedError):
                return None
            if address[2] != _PACKET_OUTGOING:
                return data
            # an outgoing copy was skipped: look at the next frame

    def send_frame(self, data: bytes) -> None:
        """Write one frame (padded to the Ethernet minimum)."""
        if len(data) < MIN_FRAME_LENGTH:
            data = data + bytes(MIN_FRAME_LENGTH - len(data))
        self._sock.send(data)

    def close(self) -> None:
        self._sock.close()

    def __enter__(self) -> RawSocketLink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
