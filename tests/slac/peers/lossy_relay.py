"""A lossy relay: forward HomePlug AV frames (EtherType 0x88E1) between two interfaces, dropping some.

Usage: python lossy_relay.py IFACE_A IFACE_B LOSS SEED SECONDS   (run inside the relay's network namespace)

Every frame, in both directions and of every type, is dropped with probability LOSS (a seeded
``random.Random``); the others are forwarded unchanged.  Prints one line on stderr when both sockets
are open, and the counts as JSON on stdout at the end.
"""

from __future__ import annotations

import json
import random
import select
import socket
import sys
import time

ETHERTYPE = 0x88E1
PACKET_OUTGOING = 4


def main(a: str, b: str, loss: float, seed: int, seconds: float) -> dict[str, int]:
    rng = random.Random(seed)
    socks = {}
    for name in (a, b):
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETHERTYPE))
        s.bind((name, ETHERTYPE))
        socks[name] = s
    other = {a: socks[b], b: socks[a]}
    print(f"relay: listening on {a} <-> {b}", file=sys.stderr, flush=True)
    counts = {"forwarded": 0, "dropped": 0}
    deadline = time.monotonic() + seconds
    by_fd = {s.fileno(): name for name, s in socks.items()}
    while (left := deadline - time.monotonic()) > 0:
        ready, _, _ = select.select(list(by_fd), [], [], left)
        for fd in ready:
            name = by_fd[fd]
            data, address = socks[name].recvfrom(2048)
            if address[2] == PACKET_OUTGOING:
                continue
            if rng.random() < loss:
                counts["dropped"] += 1
            else:
                counts["forwarded"] += 1
                other[name].send(data)
    return counts


if __name__ == "__main__":
    iface_a, iface_b, p, seed_text, secs = sys.argv[1:6]
    print(json.dumps(main(iface_a, iface_b, float(p), int(seed_text), float(secs))), flush=True)
