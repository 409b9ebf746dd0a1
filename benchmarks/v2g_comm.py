"""V2G communication layer: V2GTP framer throughput, SDP round trip, TLS handshake time.

    python benchmarks/v2g_comm.py [--quick]

- framer: our stream framer on a stream of CurrentDemandReq-sized messages cut into 1460-byte (TCP
  segment) and 7-byte chunks, against the baseline of a parser that is handed exactly one whole message
  per call (what ``read(7000)``-style code does in the best case, with no framing at all).
- SDP: request -> response round trip of our SdpClient / SdpServer over UDP on ::1 (asyncio transports).
- TLS: full handshakes per second with the ISO 15118-2 profile (TLS 1.2, ECDHE-ECDSA-AES128-SHA256, P-256)
  and the -20 profile (TLS 1.3 mutual): our asyncio SECC + EVCC, ``openssl s_time`` against our SECC,
  and ``openssl s_time`` against ``openssl s_server`` (OpenSSL on both sides, the floor).

Prints the best of several runs for the micro-benchmarks and the median for the round trips.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import re
import shutil
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from evcharge.iso15118.sdp import SdpClient, SdpClientConfig, SdpServer, SdpServerConfig, Security
from evcharge.iso15118.transport.udp import discover, start_sdp_server
from evcharge.iso15118.v2gtp import V2gtpFramer, encode_message

PAYLOAD = bytes(range(48))  # a CurrentDemandReq is about 40-50 bytes of EXI


def bench_framer(quick: bool) -> None:
    count = 20_000 if quick else 100_000
    messages = [encode_message(0x8001, PAYLOAD)] * count
    stream = b"".join(messages)
    header = struct.Struct(">BBHI")

    def baseline() -> int:
        n = 0
        for message in messages:  # one whole message per "read", no framing
            version, inverse, ptype, length = header.unpack_from(message, 0)
            if version != 1 or inverse != 0xFE or len(message) - 8 != length:
                raise ValueError
            _ = (ptype, message[8:])
            n += 1
        return n

    def ours(chunk: int) -> int:
        framer = V2gtpFramer()
        n = 0
        for i in range(0, len(stream), chunk):
            framer.receive_data(stream[i:i + chunk])
            n += len(framer.messages())
        return n

    def best(fn: object, *args: int) -> float:
        times = []
        for _ in range(3 if quick else 5):
            start = time.perf_counter()
            assert fn(*args) == count  # type: ignore[operator]
            times.append(time.perf_counter() - start)
        return min(times)

    base = best(baseline)
    print(f"framer: {count} messages of {len(messages[0])} B")
    print(f"  baseline, one whole message per call     {base / count * 1e6:7.2f} us/msg  {count / base:10.0f} msg/s")
    for chunk in (65536, 1460, 7):
        t = best(ours, chunk)
        print(f"  ours, {chunk:5d}-byte chunks                 {t / count * 1e6:7.2f} us/msg  {count / t:10.0f} msg/s"
              f"  {len(stream) / t / 1e6:7.1f} MB/s  (baseline/ours {base / t:.2f})")


async def _sdp_round_trips(n: int) -> list[float]:
    server = await start_sdp_server(SdpServer(SdpServerConfig(address=ipaddress.IPv6Address("::1"), tcp_port=50000)),
                                    host="::1", port=0)
    out = []
    try:
        for _ in range(n):
            start = time.perf_counter()
            result = await discover(SdpClient(SdpClientConfig(security=Security.NO_TLS)), target="::1",
                                    port=server.port)
            out.append(time.perf_counter() - start)
            assert result.requests_sent == 1
    finally:
        server.close()
    return out


def bench_sdp(quick: bool) -> None:
    times = asyncio.run(_sdp_round_trips(50 if quick else 300))
    print(f"SDP round trip on ::1 (socket setup included): median {statistics.median(times) * 1e3:.3f} ms, "
          f"p90 {sorted(times)[int(len(times) * 0.9)] * 1e3:.3f} ms")


async def _our_handshakes(pki: Path, profile_name: str, seconds: float) -> tuple[int, float, int]:
    from evcharge.iso15118.security.tls import TlsProfile, evcc_tls, secc_context

    profile = TlsProfile(profile_name)
    server_ctx = secc_context(pki, profile)
    done = 0

    async def on_client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    server = await asyncio.start_server(on_client, "::1", 0, ssl=server_ctx)
    port = server.sockets[0].getsockname()[1]
    tls = evcc_tls(pki, profile)
    start = time.perf_counter()
    try:
        while time.perf_counter() - start < seconds:
            _, writer = await asyncio.open_connection("::1", port, ssl=tls.context, server_hostname="")
            writer.close()
            done += 1
    finally:
        server.close()
        await server.wait_closed()
    return done, time.perf_counter() - start, port


def _s_time(port: int, pki: Path, profile: str, seconds: int) -> float | None:
    folder = pki / profile
    args = ["openssl", "s_time", "-connect", f"[::1]:{port}", "-new", "-time", str(seconds)]
    if profile == "iso2":
        args += ["-cipher", "ECDHE-ECDSA-AES128-SHA256"]
    else:
        args += ["-cert", str(folder / "oem_prov.pem"), "-key", str(folder / "oem_prov.key.pem")]
    out = subprocess.run(args, capture_output=True, text=True, timeout=seconds + 30).stdout
    match = re.search(r"(\d+) connections in ([\d.]+)s", out)
    return int(match.group(1)) / float(match.group(2)) if match else None


def _free_port() -> int:
    with socket.socket(socket.AF_INET6) as s:
        s.bind(("::1", 0))
        return int(s.getsockname()[1])


async def _serve_for(pki: Path, profile: str, seconds: int) -> float | None:
    from evcharge.iso15118.security.tls import TlsProfile, secc_context

    async def on_client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    server = await asyncio.start_server(on_client, "::1", 0, ssl=secc_context(pki, TlsProfile(profile)))
    port = server.sockets[0].getsockname()[1]
    try:
        return await asyncio.to_thread(_s_time, port, pki, profile, seconds)
    finally:
        server.close()
        await server.wait_closed()


def _openssl_both(pki: Path, profile: str, seconds: int) -> float | None:
    folder = pki / profile
    port = _free_port()
    args = ["openssl", "s_server", "-accept", f"[::1]:{port}", "-cert", str(folder / "secc.pem"),
            "-key", str(folder / "secc.key.pem"), "-quiet"]
    if profile == "iso2":
        args += ["-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-SHA256"]
    else:
        args += ["-tls1_3", "-Verify", "3", "-CAfile", str(folder / "oem_roots.pem")]
    with subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) as server:
        try:
            time.sleep(0.5)
            return _s_time(port, pki, profile, seconds)
        finally:
            server.kill()


def bench_tls(quick: bool) -> None:
    if shutil.which("openssl") is None:
        print("TLS: openssl not installed, skipped")
        return
    from evcharge.iso15118.security.pki import PkiOptions, write_pki

    seconds = 2 if quick else 5
    with tempfile.TemporaryDirectory() as tmp:
        pki = Path(tmp)
        write_pki(pki, PkiOptions(trees=("iso2", "iso20")))
        for profile, label in (("iso2", "TLS 1.2 ECDHE-ECDSA-AES128-SHA256 P-256, server auth"),
                               ("iso20", "TLS 1.3 P-521 certificates, mutual auth")):
            n, elapsed, _ = asyncio.run(_our_handshakes(pki, profile, seconds))
            ours = n / elapsed
            mixed = asyncio.run(_serve_for(pki, profile, seconds))
            floor = _openssl_both(pki, profile, seconds)
            print(f"TLS handshakes/s, {label}:")
            print(f"  ours (asyncio SECC + EVCC)                {ours:8.1f}/s  ({1e3 / ours:.2f} ms each)")
            if mixed:
                print(f"  openssl s_time -> our SECC                {mixed:8.1f}/s")
            if floor:
                print(f"  openssl s_time -> openssl s_server        {floor:8.1f}/s  (openssl/ours {floor / ours:.2f})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    args = parser.parse_args()
    bench_framer(args.quick)
    bench_sdp(args.quick)
    bench_tls(args.quick)
    return 0


if __name__ == "__main__":
    sys.exit(main())
