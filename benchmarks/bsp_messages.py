"""Yeti link benchmark: the protobuf messages, the COBS codec and the driver core per frame.

    python benchmarks/bsp_messages.py [--rounds N]

Prints, per message, one encode and one decode with Google's ``protobuf`` runtime (the committed ``yeti_pb2``
classes, upb in C) beside the figures of evcharge's former hand-written wire runtime (issue 22's table, measured
before it was removed); the ``cobs`` package's C codec beside the pure-Python COBS the framing used before (kept
here as the peer); and the driver core per received frame: framing + CRC + parse + the typed event, and the
same without the typed event (the cost of the thin mapping).  Times are CPU time of this process (so that other
processes on a loaded machine inflate them less than wall time would), the median of seven runs after a
warm-up; ratio = other / new (above 1: the new code is faster).  The "before" figures were taken on a quieter
machine: compare with care.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable

from evcharge.bsp.yeti import messages as pb
from evcharge.bsp.yeti.framing import FrameDecoder, cobs_decode, cobs_encode, encode_frame
from evcharge.bsp.yeti.protocol import YetiProtocol

#: evcharge's hand-written wire runtime before issue 22 (us per operation, from the issue's table).
BEFORE = {
    ("McuToEverest.power_meter", "encode"): 71.5,
    ("McuToEverest.power_meter", "decode"): 37.6,
    ("McuToEverest.keep_alive", "encode"): 18.9,
    ("McuToEverest.keep_alive", "decode"): 37.5,
    ("EverestToMcu.pwm", "encode"): 1.9,
    ("EverestToMcu.pwm", "decode"): 10.1,
}
#: The driver core per power_meter frame before issue 22 (us, from the issue).
BEFORE_CORE_US = 88.0
TARGET_CORE_US = 10.0

METER = pb.McuToEverest(
    power_meter=pb.PowerMeter(
        vrmsL1=229.8, vrmsL2=230.1, vrmsL3=231.0, irmsL1=16.0, irmsL2=16.0, irmsL3=15.9, irmsN=0.2,
        wattHrL1=1234.5, wattHrL2=1230.0, wattHrL3=1228.25, totalWattHr=3692.75,
        tempL1=35.6, tempL2=35.6, tempL3=35.5, tempN=25.0, wattL1=3676.8, wattL2=3681.6, wattL3=3672.9,
        freqL1=50.0, freqL2=50.0, freqL3=50.0,
    )
)  # fmt: skip
KEEP_ALIVE = pb.McuToEverest(
    keep_alive=pb.KeepAliveLo(
        time_stamp=123456, protocol_version_minor=1, sw_version_string="2.0-1-g2d51638", hwcap_max_current=32.0,
        hwcap_min_current=6.0, hwcap_max_phase_count=3, hwcap_min_phase_count=1,
        supports_changing_phases_during_charging=True,
    )
)  # fmt: skip
PWM = pb.EverestToMcu(pwm_duty_cycle=2667)


def py_cobs_encode(data: bytes) -> bytes:
    """The pure-Python COBS encoder the framing used before (the peer of the C codec)."""
    out = bytearray()
    block = bytearray()
    for byte in data:
        if byte == 0:
            out.append(len(block) + 1)
            out += block
            block.clear()
        else:
            block.append(byte)
            if len(block) == 254:
                out.append(255)
                out += block
                block.clear()
    out.append(len(block) + 1)
    out += block
    return bytes(out)


def py_cobs_decode(data: bytes) -> bytes:
    """The pure-Python COBS decoder the framing used before."""
    out = bytearray()
    i, n = 0, len(data)
    while i < n:
        code = data[i]
        if code == 0 or i + code > n:
            raise ValueError("bad COBS")
        chunk = data[i + 1 : i + code]
        if 0 in chunk:
            raise ValueError("bad COBS")
        out += chunk
        i += code
        if code != 255 and i < n:
            out.append(0)
    return bytes(out)


def median_time(fn: Callable[[], object], rounds: int) -> float:
    for _ in range(max(10, rounds // 10)):
        fn()
    samples = []
    for _ in range(7):
        t0 = time.process_time()
        for _ in range(rounds):
            fn()
        samples.append((time.process_time() - t0) / rounds)
    return statistics.median(samples)


def core_per_frame(rounds: int, *, typed_events: bool) -> float:
    """One power_meter frame through a started core (framing, CRC, parse, handling) and its event taken."""
    core = YetiProtocol()
    from evcharge.bsp.events import Start

    core.send(Start(), 0.0)
    frame = encode_frame(METER.SerializeToString())
    if not typed_events:
        decoder = FrameDecoder()

        def parse_only() -> None:
            for payload in decoder.feed(frame):
                msg = pb.McuToEverest.FromString(payload)
                msg.WhichOneof("payload")

        return median_time(parse_only, rounds)

    def receive() -> None:
        core.receive_data(frame, 1.0)
        core.next_event()

    return median_time(receive, rounds)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=20000)
    args = parser.parse_args(argv)
    n = args.rounds
    print(f"{'message':<28}{'op':<8}{'protobuf us':>12}{'before us':>11}{'ratio':>8}")
    for name, msg in (("McuToEverest.power_meter", METER), ("McuToEverest.keep_alive", KEEP_ALIVE),
                      ("EverestToMcu.pwm", PWM)):  # fmt: skip
        data = msg.SerializeToString()
        cls = type(msg)
        enc = median_time(msg.SerializeToString, n)
        dec = median_time(lambda cls=cls, data=data: cls.FromString(data), n)
        for op, now in (("encode", enc), ("decode", dec)):
            before = BEFORE[(name, op)]
            print(f"{name:<28}{op:<8}{now * 1e6:>12.2f}{before:>11.1f}{before / (now * 1e6):>8.1f}")
    block = METER.SerializeToString() + b"\x01\x02\x03\x04"
    encoded = cobs_encode(block)
    assert py_cobs_encode(block) == encoded and py_cobs_decode(encoded) == cobs_decode(encoded) == block
    print(f"\n{'COBS (power_meter frame)':<36}{'cobs C us':>10}{'pure-Python us':>16}{'ratio':>8}")
    for op, c_fn, py_fn in (("encode", lambda: cobs_encode(block), lambda: py_cobs_encode(block)),
                            ("decode", lambda: cobs_decode(encoded), lambda: py_cobs_decode(encoded))):  # fmt: skip
        c_t, py_t = median_time(c_fn, n), median_time(py_fn, n)
        print(f"{op:<36}{c_t * 1e6:>10.2f}{py_t * 1e6:>16.2f}{py_t / c_t:>8.1f}")
    typed = core_per_frame(n, typed_events=True)
    bare = core_per_frame(n, typed_events=False)
    print(f"\ndriver core, one power_meter frame in, typed MeterReading out: {typed * 1e6:.2f} us "
          f"(before: {BEFORE_CORE_US:.0f} us, ratio {BEFORE_CORE_US / (typed * 1e6):.1f}; "
          f"target < {TARGET_CORE_US:.0f} us; {typed * 16 * 100:.4f} % of one core at 16 frames/s)")  # fmt: skip
    print(f"framing + CRC + parse only (no event): {bare * 1e6:.2f} us; "
          f"the typed event costs {(typed - bare) * 1e6:.2f} us per frame")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
