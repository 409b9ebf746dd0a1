"""Two RPC cores joined by an in-order link, driven by hypothesis through random interleavings.

Both sides call each other, answer (with results or errors) in any order, messages are delivered late and
time passes.  Whatever happens: each side has at most one CALL of its own on the wire, every call ends exactly
once, an answer always reaches the call it belongs to, and no error frame is ever sent.
"""

from __future__ import annotations

import json
import random
from collections import deque
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evcharge.ocpp import rpc, v16, v21, v201
from evcharge.ocpp.rpc import RpcConfig, RpcConnection
from tests.ocpp.rpc._commands import call, error, result

NOW = "2024-05-01T12:00:00Z"
ENDS = (rpc.ResultReceived, rpc.ErrorReceived, rpc.CallTimedOut, rpc.ResponseInvalid, rpc.CallAborted)

ops = st.lists(
    st.one_of(
        st.tuples(st.just("call"), st.integers(0, 1)),
        st.tuples(st.just("deliver"), st.integers(0, 1)),
        st.tuples(st.just("answer"), st.integers(0, 1), st.booleans()),
        st.tuples(st.just("tick"), st.floats(0.0, 4.0)),
    ),
    max_size=60,
)


class Side:
    def __init__(self, version: Any, seed: int) -> None:
        self.core = RpcConnection(version, RpcConfig(response_timeout=5.0), rng=random.Random(seed))
        self.issued: list[str] = []
        self.ended: dict[str, rpc.Event] = {}
        self.to_answer: list[str] = []
        self.answered_ok: set[str] = set()  # the peer's call ids we answered with a result
        self.live_on_wire: set[str] = set()  # our CALL frames sent and not ended

    def collect(self, out: deque[str]) -> None:
        # events first: a call that ended in this step ended before the next CALL went out
        for ev in self.core.events():
            if isinstance(ev, ENDS):
                assert ev.message_id in self.issued and ev.message_id not in self.ended
                self.ended[ev.message_id] = ev
                self.live_on_wire.discard(ev.message_id)
            elif isinstance(ev, rpc.CallReceived):
                self.to_answer.append(ev.message_id)
            else:
                # late answers to timed-out calls are the only violations allowed
                assert isinstance(ev, rpc.ProtocolViolation) and ev.answer is None and "gave up" in ev.description
        for m in self.core.data_to_send():
            frame = json.loads(m)
            assert frame[0] in (2, 3, 4), frame
            if frame[0] == 2:
                assert not self.live_on_wire, "a second CALL went out while one is outstanding"
                self.live_on_wire.add(frame[1])
            if frame[0] == 4:
                assert frame[2] == "GenericError"  # only the errors the application chose
            out.append(m)


@pytest.mark.property
@pytest.mark.parametrize("version", [v16, v201, v21], ids=["1.6", "2.0.1", "2.1"])
@settings(max_examples=150)
@given(script=ops)
def test_random_interleavings(version: Any, script: list[tuple[Any, ...]]) -> None:
    sides = [Side(version, 1), Side(version, 2)]
    links: list[deque[str]] = [deque(), deque()]  # links[i]: frames from side i to the other
    now = 0.0

    def step(op: tuple[Any, ...]) -> None:
        nonlocal now
        kind = op[0]
        if kind == "call":
            s = sides[op[1]]
            s.issued.append(call(s.core, "Heartbeat", {}, now))
        elif kind == "deliver" and links[op[1]]:
            sides[1 - op[1]].core.receive_data(links[op[1]].popleft(), now)
        elif kind == "answer" and sides[op[1]].to_answer:
            s = sides[op[1]]
            mid = s.to_answer.pop(0)
            if op[2]:
                result(s.core, mid, {"currentTime": NOW})
                s.answered_ok.add(mid)
            else:
                error(s.core, mid, "GenericError", "no")
        elif kind == "tick":
            now += op[1]
            for s in sides:
                t = s.core.get_timer()
                if t is not None and t <= now:
                    s.core.handle_timer(now)
        for i, s in enumerate(sides):
            s.collect(links[i])

    for op in script:
        step(op)
    # drain: deliver everything, answer everything, let the timers run out
    for _ in range(200):
        if not any(links) and not any(s.to_answer for s in sides) and all(
                len(s.ended) == len(s.issued) for s in sides):
            break
        for i in (0, 1):
            step(("deliver", i))
            step(("answer", i, True))
        step(("tick", 3.0))
    for i, s in enumerate(sides):
        assert set(s.ended) == set(s.issued)  # every call ended exactly once
        other = sides[1 - i]
        for mid, ev in s.ended.items():
            if isinstance(ev, rpc.ResultReceived):
                assert mid in other.answered_ok  # a result only for a call the peer answered with one
            if isinstance(ev, rpc.ErrorReceived):
                assert ev.error_code == "GenericError" and mid not in other.answered_ok
        assert s.core.outstanding_call is None and s.core.queued_calls == 0
