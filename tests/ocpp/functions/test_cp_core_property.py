"""Any sequence of charger inputs, CSMS answers and connection changes: the charge-point core never fails, every
message it makes is valid for its version's schema, the CSMS's view of each connector (the last StatusNotification)
is the core's status whenever the station is online, the core and the transaction manager agree on the running
transactions, and a faulted connector is Faulted with no transaction and no permission to charge.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evcharge.ocpp.functions.application import (
    CardPresented,
    ChangeAvailabilityRequested,
    ChargingAllowed,
    EnergyStateChanged,
    FaultCleared,
    FaultRaised,
    Plugged,
    PowerPathChanged,
    RemoteStartRequested,
    RemoteStopRequested,
    Unplugged,
)
from evcharge.ocpp.functions.authorization import AuthorizationConfig

from .test_cp_core import CARD, OTHER, Bench

pytestmark = pytest.mark.property

EVSES = 2
step = st.one_of(
    st.tuples(st.just("plug"), st.integers(1, EVSES)),
    st.tuples(st.just("unplug"), st.integers(1, EVSES)),
    st.tuples(st.just("card"), st.integers(1, EVSES), st.booleans()),
    st.tuples(st.just("contactor"), st.integers(1, EVSES), st.booleans()),
    st.tuples(st.just("energy"), st.integers(1, EVSES), st.sampled_from(["Charging", "SuspendedEV", "SuspendedEVSE"])),
    st.tuples(st.just("fault"), st.integers(0, EVSES), st.booleans(),
              st.sampled_from(["GroundFailure", "OverCurrentFailure", "EVCommunicationError", "OtherError"])),
    st.tuples(st.just("clear"), st.integers(0, EVSES), st.booleans()),
    st.tuples(st.just("link"), st.booleans()),
    st.tuples(st.just("availability"), st.integers(0, EVSES), st.booleans()),
    st.tuples(st.just("remote_start"), st.integers(1, EVSES)),
    st.tuples(st.just("remote_stop"), st.integers(1, EVSES)),
    st.tuples(st.just("authorize_answer"), st.sampled_from(["Accepted", "Invalid", "Blocked", None])),
)


def apply(b: Bench, s: tuple[Any, ...]) -> None:
    kind = s[0]

    def token(other: bool) -> Any:
        return (OTHER if other else CARD)[b.version]

    if kind == "plug":
        b.send(Plugged(evse_id=s[1]))
    elif kind == "unplug":
        b.send(Unplugged(evse_id=s[1]))
    elif kind == "card":
        b.send(CardPresented(evse_id=s[1], token=token(s[2])))
    elif kind == "contactor":
        b.send(PowerPathChanged(evse_id=s[1], closed=s[2]))
    elif kind == "energy":
        b.send(EnergyStateChanged(evse_id=s[1], state=s[2]))
    elif kind == "fault":
        b.send(FaultRaised(evse_id=s[1], ev_side=s[2], error_code=s[3]))
    elif kind == "clear":
        b.send(FaultCleared(evse_id=s[1], ev_side=s[2]))
    elif kind == "link":
        if s[1] and not b.app.online:
            b.connect()
        elif not s[1] and b.app.online:
            b.calls.clear()  # the calls on their way fail with the connection
            b.disconnect()
    elif kind == "availability":
        b.answer(ChangeAvailabilityRequested(evse_id=s[1], operative=s[2]))
    elif kind == "remote_start":
        b.answer(RemoteStartRequested(evse_id=s[1], token=token(False), remote_start_id=5))
    elif kind == "remote_stop":
        b.answer(RemoteStopRequested(evse_id=s[1] if b.app.transaction_ref(s[1]) else None))
    elif kind == "authorize_answer" and any(c.action == "Authorize" for c in b.calls):
        info = "idTagInfo" if b.version == "1.6" else "idTokenInfo"
        b.reply("Authorize", {info: {"status": s[1]}} if s[1] is not None else None)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(version=st.sampled_from(["1.6", "2.0.1"]), steps=st.lists(step, max_size=30))
def test_any_sequence_keeps_the_csms_view_right(version: str, steps: list[tuple[Any, ...]]) -> None:
    b = Bench(version, evse_count=EVSES,
              auth=AuthorizationConfig(version=version, allow_offline_tx_for_unknown_id=True))  # type: ignore[arg-type]
    b.boot()
    view: dict[int, str] = {}
    allowed: dict[int, bool] = {}
    faulted: set[int] = set()  # charger faults raised and not cleared (0: the station)
    id_key, key = ("connectorId", "status") if version == "1.6" else ("evseId", "connectorStatus")
    for s in steps:
        apply(b, s)
        if s[0] in ("fault", "clear") and not s[2]:
            (faulted.add if s[0] == "fault" else faulted.discard)(s[1])
        for action, payload in b.take():  # every message was checked against the schema on its way out
            if action == "StatusNotification":
                view[payload[id_key]] = payload[key]
        for event in b.events():
            if isinstance(event, ChargingAllowed):
                allowed[event.evse_id] = event.allowed
        for evse_id in range(1, EVSES + 1):
            assert b.app.transaction_ref(evse_id) == b.tm.transaction_ref(evse_id)
            status = b.app.connector_status(evse_id)
            if b.app.online:
                assert view.get(evse_id) == status, (evse_id, view, status)
            if {0, evse_id} & faulted:
                assert status == "Faulted" and b.app.transaction_ref(evse_id) is None
                assert not allowed.get(evse_id, False)
