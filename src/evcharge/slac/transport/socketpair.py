"""Two connected in-process links (a Unix SOCK_SEQPACKET pair): the asyncio driver without root or interfaces.

Frames keep their boundaries; each side has the MAC address it was given.  Used by the tests and the
benchmark to run the real asyncio transport with real file descriptors and real time.
"""

from __future__ import annotations

import socket

__all__ = ["SocketPairLink", "socketpair_links"]


class SocketPairLink:
    """One end of the pair."""

    def __init__(self, sock: socket.socket, mac: bytes) -> None:
        self._sock = sock
        self._sock.setblocking(False)
        self.mac = mac

    def fileno(self) -> int:
        return self._sock.fileno()

    def recv_frame(self) -> bytes | None:
        try:
            return self._sock.recv(2048)
        except (BlockingIOError, InterruptedError):
            return None

    def send_frame(self, data: bytes) -> None:
        self._sock.send(data)

    def close(self) -> None:
        self._sock.close()


def socketpair_links(mac_a: bytes, mac_b: bytes) -> tuple[SocketPairLink, SocketPairLink]:
    """Two links joined to each other, with the given MAC addresses."""
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    return SocketPairLink(a, mac_a), SocketPairLink(b, mac_b)
