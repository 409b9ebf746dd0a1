"""Raw Ethernet on a named interface, through scapy's AF_PACKET socket, bound to EtherType 0x88E1.

The kernel delivers only HomePlug AV frames (the socket is opened with protocol 0x88E1, no BPF
compiler needed); frames the host itself sends are not looped back.  Needs root (CAP_NET_RAW) and
scapy (the ``slac`` extra), which is imported when the transport is opened.
"""

from __future__ import annotations

from typing import Any

from evcharge.slac.messages import ETHERTYPE_HOMEPLUG, MIN_FRAME_LENGTH

__all__ = ["RawSocketLink"]

_MAX_FRAME = 1518


class RawSocketLink:
    """One interface, opened for HomePlug AV frames.  ``mac`` is the interface's MAC address."""

    def __init__(self, iface: str) -> None:
        from scapy.arch.linux import L2Socket  # optional dependency: imported on use

        from evcharge.slac import scapy_layers  # noqa: F401  (Ether + our layers: the socket dissects with them)

        self.iface = iface
        self._sock: Any = L2Socket(iface=iface, type=ETHERTYPE_HOMEPLUG, promisc=False)
        self._sock.ins.setblocking(False)
        address = self._sock.ins.getsockname()  # (ifname, proto, pkttype, hatype, hwaddr)
        self.mac: bytes = bytes(address[4][:6])

    def fileno(self) -> int:
        """The socket's file descriptor, for ``loop.add_reader``."""
        fd: int = self._sock.ins.fileno()
        return fd

    def recv_frame(self) -> bytes | None:
        """One received frame, or None when nothing is waiting."""
        while True:
            try:
                _cls, data, _ts = self._sock.recv_raw(_MAX_FRAME)
            except (BlockingIOError, InterruptedError):
                return None
            if data is not None:
                return bytes(data)
            # an outgoing copy (PACKET_OUTGOING) was skipped: look at the next frame

    def send_frame(self, data: bytes) -> None:
        """Write one frame (padded to the Ethernet minimum)."""
        if len(data) < MIN_FRAME_LENGTH:
            data = data + bytes(MIN_FRAME_LENGTH - len(data))
        self._sock.outs.send(data)

    def close(self) -> None:
        self._sock.close()

    def __enter__(self) -> RawSocketLink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
