"""Any input is either accepted or reported as a protocol violation; the answer rules always hold."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evcharge.ocpp import rpc, v16, v21, v201
from evcharge.ocpp.rpc import RpcConnection
from tests.ocpp.rpc._commands import call, error, result

VERSIONS = (v16, v201, v21)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=40),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)
frames = st.one_of(
    st.text(max_size=60),
    json_values.map(json.dumps),
    st.tuples(
        st.sampled_from([2, 3, 4, 5, 6, 7, 0, -1]),
        st.text(max_size=40) | st.integers(),
        st.sampled_from(["Heartbeat", "BootNotification", "Authorize", "DataTransfer", "X", ""]),
        json_values,
        json_values,
    ).flatmap(lambda t: st.integers(1, 5).map(lambda n: json.dumps(list(t)[:n]))),
)


@pytest.mark.fuzz
@pytest.mark.property
@pytest.mark.parametrize("v", VERSIONS, ids=[v.VERSION for v in VERSIONS])
@given(messages=st.lists(frames, max_size=6))
def test_any_input(v: Any, messages: list[str]) -> None:
    c = RpcConnection(v)
    mine = call(c, "Heartbeat", {}, now=0)
    c.data_to_send()
    for m in messages:
        c.receive_data(m, 1.0)  # never raises
        out = [json.loads(x) for x in c.data_to_send()]
        try:
            decoded = json.loads(m)
        except ValueError:
            decoded = None
        mtype = decoded[0] if isinstance(decoded, list) and decoded else None
        is_call_like = type(mtype) is not int or mtype == 2
        known = {2, 3, 4, 5, 6} if v.VERSION == "2.1" else {2, 3, 4}
        unknown_type = type(mtype) is int and mtype not in known
        for frame in out:
            assert frame[0] in (2, 4, 5)
            if frame[0] == 4:
                # a CALLERROR answers a CALL, an unreadable frame, or (2.x) an unknown message type
                assert is_call_like or (unknown_type and v.VERSION != "1.6")
                assert frame[2] in rpc.ERROR_CODES[v.VERSION]
            if frame[0] == 5:
                assert v.VERSION == "2.1" and decoded[0] == 3 and decoded[1] == mine
        for ev in c.events():
            assert isinstance(ev, rpc.Event)
            if isinstance(ev, rpc.CallReceived):
                result(c, ev.message_id, {"currentTime": "2024-01-01T00:00:00Z"}) if ev.action == "Heartbeat" \
                    else error(c, ev.message_id, "GenericError")
                c.data_to_send()
