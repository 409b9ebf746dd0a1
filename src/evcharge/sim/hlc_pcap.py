"""The simulated powerline of an HLC session as a pcap file: SLAC frames as the emulator put them on the line,
then the IPv6 traffic between the charger's and the car's link-local addresses: SDP over UDP (a request to
ff02::1 port 15118 and its answer) and the V2G TCP connection (handshake, one segment per V2GTP message,
acknowledgements, FIN), with correct lengths and checksums so Wireshark and tshark reassemble the stream."""

from __future__ import annotations

import ipaddress
import struct
from typing import Any

from evcharge.iso15118 import sdp
from evcharge.slac.pcap import write_pcap

__all__ = ["session_frames", "write_session_pcap"]

_ETH_IPV6 = 0x86DD
V2G_PORT = 50000  #: the SECC's TCP port announced in the SDP answer
EV_PORT = 50123


def _link_local(mac: bytes) -> bytes:
    eui = bytes([mac[0] ^ 0x02]) + mac[1:3] + b"\xff\xfe" + mac[3:6]
    return b"\xfe\x80" + bytes(6) + eui


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\x00"
    total: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def _ipv6(src_mac: bytes, dst_mac: bytes, src: bytes, dst: bytes, proto: int, payload: bytes) -> bytes:
    eth = dst_mac + src_mac + struct.pack("!H", _ETH_IPV6)
    ip = struct.pack("!IHBB", 0x60000000, len(payload), proto, 64) + src + dst
    return eth + ip + payload


def _pseudo(src: bytes, dst: bytes, proto: int, length: int) -> bytes:
    return src + dst + struct.pack("!I3xB", length, proto)


def _udp(src: bytes, dst: bytes, sport: int, dport: int, data: bytes) -> bytes:
    header = struct.pack("!HHHH", sport, dport, 8 + len(data), 0)
    csum = _checksum(_pseudo(src, dst, 17, 8 + len(data)) + header + data) or 0xFFFF
    return struct.pack("!HHHH", sport, dport, 8 + len(data), csum) + data


def _tcp(src: bytes, dst: bytes, sport: int, dport: int, seq: int, ack: int, flags: int, data: bytes) -> bytes:
    header = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, 5 << 4, flags, 65535, 0, 0)
    csum = _checksum(_pseudo(src, dst, 6, len(header) + len(data)) + header + data)
    return header[:16] + struct.pack("!H", csum) + header[18:] + data


_SYN, _ACK, _PSH, _FIN = 0x02, 0x10, 0x08, 0x01


def session_frames(bench: Any) -> list[tuple[float, bytes]]:
    """Every frame of the session in time order (virtual seconds)."""
    frames: list[tuple[float, bytes]] = [(t, f) for t, _name, f in bench.emulator.capture]
    evse_mac, ev_mac = bench.manager.slac.mac, bench.car.mac
    evse_ip, ev_ip = _link_local(evse_mac), _link_local(ev_mac)
    if bench.connected_at is None:
        return sorted(frames, key=lambda x: x[0])
    t0 = bench.connected_at
    mcast = b"\xff\x02" + bytes(13) + b"\x01"
    req = sdp.encode_request(sdp.SdpRequest(security=sdp.Security.NO_TLS, transport=sdp.Transport.TCP))
    res = sdp.encode_response(sdp.SdpResponse(address=ipaddress.IPv6Address(evse_ip), port=V2G_PORT,
                                              security=sdp.Security.NO_TLS, transport=sdp.Transport.TCP))
    frames.append((t0, _ipv6(ev_mac, b"\x33\x33\x00\x00\x00\x01", ev_ip, mcast, 17,
                             _udp(ev_ip, mcast, EV_PORT + 1, 15118, req))))
    frames.append((t0, _ipv6(evse_mac, ev_mac, evse_ip, ev_ip, 17, _udp(evse_ip, ev_ip, 15118, EV_PORT + 1, res))))
    ev_seq, evse_seq = 1000, 5000

    def ev_to_evse(t: float, flags: int, data: bytes = b"") -> None:
        seg = _tcp(ev_ip, evse_ip, EV_PORT, V2G_PORT, ev_seq, evse_seq, flags, data)
        frames.append((t, _ipv6(ev_mac, evse_mac, ev_ip, evse_ip, 6, seg)))

    def evse_to_ev(t: float, flags: int, data: bytes = b"") -> None:
        seg = _tcp(evse_ip, ev_ip, V2G_PORT, EV_PORT, evse_seq, ev_seq, flags, data)
        frames.append((t, _ipv6(evse_mac, ev_mac, evse_ip, ev_ip, 6, seg)))

    ev_to_evse(t0, _SYN)
    ev_seq += 1
    evse_to_ev(t0, _SYN | _ACK)
    evse_seq += 1
    ev_to_evse(t0, _ACK)
    last = t0
    for t, direction, chunk in (bench.wire or bench.v2g):  # TLS records when the session ran over TLS
        last = t
        if direction == "ev->evse":
            ev_to_evse(t, _PSH | _ACK, chunk)
            ev_seq += len(chunk)
            evse_to_ev(t, _ACK)
        else:
            evse_to_ev(t, _PSH | _ACK, chunk)
            evse_seq += len(chunk)
            ev_to_evse(t, _ACK)
    evse_to_ev(last, _FIN | _ACK)
    evse_seq += 1
    ev_to_evse(last, _FIN | _ACK)
    ev_seq += 1
    evse_to_ev(last, _ACK)
    return sorted(frames, key=lambda x: x[0])


def write_session_pcap(path: str, bench: Any) -> None:
    """Write the session's frames to ``path`` (timestamps: virtual seconds from 2026-01-01 UTC)."""
    epoch = bench.clock.unix(0.0)
    write_pcap(path, [(epoch + t, f) for t, f in session_frames(bench)])
