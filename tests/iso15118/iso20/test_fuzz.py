"""Bad peer input to the -20 engines: mutated and random payloads become the protocol's answer, never an exception."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evcharge.iso15118.engines.iso20 import EnergyService, Iso20SeccState, _msgs

from .conftest import drive_to, engines

pytestmark = [pytest.mark.fuzz, pytest.mark.property]
STATES = [Iso20SeccState.SERVICE_DISCOVERY, Iso20SeccState.SCHEDULE_EXCHANGE, Iso20SeccState.CHARGING]


def _session(state: Iso20SeccState) -> tuple[Any, Any, float, list[tuple[int, bytes]]]:
    """A DC session driven to ``state``, and the real requests the car sent on the way (fuzzing seeds)."""
    secc, evcc = engines(EnergyService.DC_BPT)
    now = drive_to(secc, evcc, state)
    seeds = [(t.payload_type, t.exi) for t in evcc.trace if t.direction == "tx"]
    secc.payloads_to_send()
    return secc, evcc, now, seeds


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    state=st.sampled_from(STATES),
    pick=st.integers(min_value=0, max_value=1000),
    flips=st.lists(st.tuples(st.integers(min_value=0, max_value=400), st.integers(1, 255)), min_size=1, max_size=4),
    cut=st.integers(min_value=0, max_value=8),
    ptype=st.sampled_from([None, 0x8001, 0x8002, 0x8003, 0x8004, 0x8005, 0x9000]),
)
def test_mutated_requests_never_raise(
    state: Iso20SeccState, pick: int, flips: list[tuple[int, int]], cut: int, ptype: int | None
) -> None:
    secc, _, now, seeds = _session(state)
    seed_type, seed = seeds[pick % len(seeds)]
    data = bytearray(seed)
    for pos, xor in flips:
        data[pos % len(data)] ^= xor
    if cut:
        data = data[: max(1, len(data) - cut)]
    secc.receive_payload(ptype if ptype is not None else seed_type, bytes(data), now)
    out = secc.payloads_to_send()
    assert len(out) <= 1
    if secc.ended is not None and out:
        # the session ended on it: the answer is a FAILED response of a -20 schema
        t, payload = out[0]
        res = _msgs.module_for(t).decode(payload)
        assert res.response_code.value.startswith("FAILED")


@settings(max_examples=100, deadline=None)
@given(data=st.binary(max_size=200), ptype=st.sampled_from([0x8002, 0x8003, 0x8004]))
def test_random_bytes_to_the_car_end_its_session(data: bytes, ptype: int) -> None:
    from evcharge.iso15118.engines.iso20 import Iso20Evcc, Iso20EvccConfig

    from .conftest import handover

    evcc = Iso20Evcc(handover(True), Iso20EvccConfig())
    evcc.payloads_to_send()
    evcc.receive_payload(ptype, data, 0.1)
    # a random payload is not the SessionSetupRes the car waits for: the session ends, nothing raises
    assert evcc.ended is not None and not evcc.ended.normal


def _module_session(kind: str, state: Iso20SeccState) -> tuple[Any, float, list[tuple[int, bytes]]]:
    """An ACDP or WPT session driven to ``state``, and the car's real requests so far."""
    if kind == "acdp":
        from .test_acdp import Depot
        from .test_acdp import pair as acdp_pair

        secc, evcc = acdp_pair()
        now = drive_to(secc, evcc, state, Depot())
    else:
        from .test_wpt import pair as wpt_pair

        secc, evcc = wpt_pair(wpt_step_requests=2)
        now = drive_to(secc, evcc, state)
    seeds = [(t.payload_type, t.exi) for t in evcc.trace if t.direction == "tx"]
    secc.payloads_to_send()
    return secc, now, seeds


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    case=st.sampled_from(
        [
            ("acdp", Iso20SeccState.VEHICLE_POSITIONING),
            ("acdp", Iso20SeccState.ACDP_CONNECT),
            ("acdp", Iso20SeccState.CHARGING),
            ("wpt", Iso20SeccState.WPT_PAIRING),
            ("wpt", Iso20SeccState.WPT_ALIGNMENT),
            ("wpt", Iso20SeccState.CHARGING),
        ]
    ),
    pick=st.integers(min_value=0, max_value=1000),
    flips=st.lists(st.tuples(st.integers(min_value=0, max_value=400), st.integers(1, 255)), min_size=1, max_size=4),
    cut=st.integers(min_value=0, max_value=8),
    ptype=st.sampled_from([None, 0x8002, 0x8004, 0x8005, 0x8006]),
)
def test_mutated_acdp_and_wpt_requests_never_raise(
    case: tuple[str, Iso20SeccState], pick: int, flips: list[tuple[int, int]], cut: int, ptype: int | None
) -> None:
    """The ACDP and WPT engines, with their own schemas (0x8005, 0x8006): any mutated request is answered or ends
    the session with a FAILED response, never an exception."""
    secc, now, seeds = _module_session(*case)
    seed_type, seed = seeds[pick % len(seeds)]
    data = bytearray(seed)
    for pos, xor in flips:
        data[pos % len(data)] ^= xor
    if cut:
        data = data[: max(1, len(data) - cut)]
    secc.receive_payload(ptype if ptype is not None else seed_type, bytes(data), now)
    out = secc.payloads_to_send()
    assert len(out) <= 1
    if secc.ended is not None and out:
        t, payload = out[0]
        res, _, kind = _msgs.decode(t, payload)
        assert kind == "Res" and res.response_code.value.startswith("FAILED")
