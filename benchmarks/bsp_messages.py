"""Yeti link codec benchmark: evcharge's generated dataclasses and wire runtime beside Google's protobuf runtime.

    python benchmarks/bsp_messages.py [--rounds N]

Per message it prints the time of one encode and one decode (median of repeated runs) for evcharge and for
``google.protobuf`` (message classes built at run time from the same ``yeti.proto``), with the ratio
peer / evcharge (above 1: we are faster).  Google's runtime is a C extension (upb); ours is pure Python, so the
interesting figure is whether the codec matters at the link's rate (about 16 frames per second).  A last line
gives the cost of one received PowerMeter frame through the whole driver core (framing, CRC, decode, event).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

_REPO = Path(__file__).resolve().parent.parent
if str(_REPO) not in sys.path:
    sys.path.insert(0, str(_REPO))

from tests.bsp.test_messages import _google_classes  # noqa: E402

from evcharge.bsp.yeti import messages as pb  # noqa: E402
from evcharge.bsp.yeti.framing import encode_frame  # noqa: E402
from evcharge.bsp.yeti.protocol import YetiProtocol  # noqa: E402

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


def median_time(fn: Callable[[], object], rounds: int) -> float:
    for _ in range(max(10, rounds // 10)):
        fn()
    samples = []
    for _ in range(7):
        t0 = time.perf_counter()
        for _ in range(rounds):
            fn()
        samples.append((time.perf_counter() - t0) / rounds)
    return statistics.median(samples)


def google_message(classes: dict[str, Any], msg: Any) -> Any:
    theirs = classes[type(msg).__name__]()
    theirs.ParseFromString(msg.encode())
    return theirs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=2000)
    args = parser.parse_args(argv)
    proto = _REPO / "src" / "evcharge" / "bsp" / "yeti" / "yeti.proto"
    classes = _google_classes(proto.read_text())
    print(f"{'message':<28}{'op':<8}{'evcharge us':>12}{'protobuf us':>13}{'ratio':>8}")
    for name, msg in (("McuToEverest.power_meter", METER), ("McuToEverest.keep_alive", KEEP_ALIVE),
                      ("EverestToMcu.pwm", PWM)):  # fmt: skip
        data = msg.encode()
        theirs = google_message(classes, msg)
        cls = type(msg)
        gcls = type(theirs)
        ours_enc = median_time(msg.encode, args.rounds)
        peer_enc = median_time(theirs.SerializeToString, args.rounds)
        ours_dec = median_time(lambda cls=cls, data=data: cls.decode(data), args.rounds)
        peer_dec = median_time(lambda gcls=gcls, data=data: gcls.FromString(data), args.rounds)
        for op, ours, peer in (("encode", ours_enc, peer_enc), ("decode", ours_dec, peer_dec)):
            print(f"{name:<28}{op:<8}{ours * 1e6:>12.2f}{peer * 1e6:>13.2f}{peer / ours:>8.2f}")
    core = YetiProtocol()
    core.start(0.0)
    frame = encode_frame(METER.encode())

    def receive() -> None:
        core.receive_data(frame, 1.0)
        core.next_event()

    per_frame = median_time(receive, args.rounds)
    print(f"driver core, one power_meter frame in: {per_frame * 1e6:.1f} us "
          f"({per_frame * 16 * 100:.3f} % of one core at 16 frames/s)")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
