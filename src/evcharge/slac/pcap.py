"""Write Ethernet frames to a classic libpcap file (readable by Wireshark / tshark), without scapy.

::

    write_pcap("slac.pcap", emulator.capture_frames())
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from os import PathLike

__all__ = ["LINKTYPE_ETHERNET", "pcap_bytes", "write_pcap"]

LINKTYPE_ETHERNET = 1
_MAGIC = 0xA1B2C3D4  # microsecond timestamps


def pcap_bytes(frames: Iterable[tuple[float, bytes]]) -> bytes:
    """A pcap file's content: global header, then one record per (timestamp, frame)."""
    out = bytearray(struct.pack("<IHHiIII", _MAGIC, 2, 4, 0, 0, 65535, LINKTYPE_ETHERNET))
    for when, frame in frames:
        seconds = int(when)
        micros = round((when - seconds) * 1_000_000)
        if micros >= 1_000_000:
            seconds, micros = seconds + 1, micros - 1_000_000
        out += struct.pack("<IIII", seconds, micros, len(frame), len(frame))
        out += frame
    return bytes(out)


def write_pcap(path: str | PathLike[str], frames: Iterable[tuple[float, bytes]]) -> None:
    """Write ``frames`` (timestamp in seconds, Ethernet frame) to ``path``."""
    with open(path, "wb") as fh:
        fh.write(pcap_bytes(frames))
