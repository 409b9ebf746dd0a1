"""Hypothesis over (state, request) pairs: every pair gets the table's answer.

A session of our two engines is run until the SECC waits in the chosen state; then the SECC gets one
request of the chosen kind (the body our EVCC would send, or a minimal valid body). A pair the table does
not hold must be answered FAILED_SequenceError with the request's own response type; a pair it holds
must not be.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evcharge.iso15118.engines import SeccState
from evcharge.iso15118.engines import events as ev
from evcharge.iso15118.engines._minimal import minimal
from evcharge.iso15118.engines._v2g import REQUESTS

from .conftest import AC, DC
from .test_failures import ask, drive

#: the states a session of our EVCC reaches (ENDED and RENEGOTIATED are covered elsewhere)
REACHABLE = {
    ("din", "dc"): [
        s
        for s in SeccState
        if s not in (SeccState.ENDED, SeccState.RENEGOTIATED, SeccState.PAYMENT_DETAILS, SeccState.POWER_DELIVERY)
    ],
    ("iso2", "dc"): [
        s
        for s in SeccState
        if s not in (SeccState.ENDED, SeccState.RENEGOTIATED, SeccState.PAYMENT_DETAILS, SeccState.POWER_DELIVERY)
    ],
    ("iso2", "ac"): [
        s
        for s in SeccState
        if s
        not in (
            SeccState.ENDED,
            SeccState.RENEGOTIATED,
            SeccState.PAYMENT_DETAILS,
            SeccState.CABLE_CHECK,
            SeccState.PRE_CHARGE,
        )
    ],
}


def _body(secc: Any, evcc: Any, request: str) -> Any:
    mod = secc.mod
    if request == "PowerDelivery" and secc.state is SeccState.CHARGING:
        # the row's valid request: Stop (a second Start while charging is a sequence error by its content)
        evcc._pd_action = ev.PowerAction.STOP
    ms = secc.ms
    builder = getattr(evcc, "_req_" + "".join("_" + c.lower() if c.isupper() else c for c in request).lstrip("_"), None)
    values: dict[str, Any] = {
        "session_id": secc.session_id,
        "evccid": b"\x02\x00\x00\x00\x00\x01",
        "e_maid": "DEABCC123456789",
    }
    if builder is not None and request not in ("MeteringReceipt",):
        try:
            return builder()
        except Exception:
            pass
    if request == "ChargeParameterDiscovery":
        return evcc._req_charge_parameter_discovery()
    if request == "CertificateInstallation":
        values["id_"] = "ID1"
    if request == "MeteringReceipt":
        values["meter_info"] = mod.MeterInfo(meter_id="M1")
    if request == "PowerDelivery" and not secc.din:
        values["charge_progress"] = mod.ChargeProgress.Start
    del ms
    return minimal(secc.ms.req_class[request], values)


@pytest.mark.property
@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_every_state_request_pair_gets_the_tables_answer(data: st.DataObject) -> None:
    protocol, kind = data.draw(st.sampled_from(sorted(REACHABLE)))
    state = data.draw(st.sampled_from(REACHABLE[(protocol, kind)]))
    request = data.draw(st.sampled_from(REQUESTS))
    mode = DC if kind == "dc" else AC
    secc, evcc, lb = drive(protocol, state, mode)
    name, body = ask(secc, request, _body(secc, evcc, request), lb.now)
    assert name == request
    code = body.response_code.value
    if (state, request) in secc.table:
        assert code != "FAILED_SequenceError", f"{state.name}/{request} is in the table"
    else:
        assert code == "FAILED_SequenceError", f"{state.name}/{request} is not in the table: {code}"
        assert secc.state is SeccState.ENDED


def test_the_tables_differ_where_the_standards_do() -> None:
    from evcharge.iso15118.engines.secc import secc_table

    din, iso_dc, iso_ac = secc_table("din", True), secc_table("iso2", True), secc_table("iso2", False)
    assert (SeccState.PAYMENT_SELECTION, "ServiceDetail") not in din
    assert (SeccState.PAYMENT_SELECTION, "ServiceDetail") in iso_dc
    assert (SeccState.CHARGING, "CurrentDemand") in iso_dc and (SeccState.CHARGING, "CurrentDemand") not in iso_ac
    assert (SeccState.CHARGING, "ChargingStatus") in iso_ac and (SeccState.CHARGING, "ChargingStatus") not in din
    assert (SeccState.CHARGING, "MeteringReceipt") not in din
    assert ev.EnergyMode.DC_EXTENDED.is_dc


@pytest.mark.parametrize("variant", sorted(REACHABLE))
def test_every_pair_exhaustively(variant: tuple[str, str]) -> None:
    """The same check over every reachable (state, request) pair of each variant, not a sample."""
    protocol, kind = variant
    mode = DC if kind == "dc" else AC
    for state in REACHABLE[variant]:
        for request in REQUESTS:
            secc, evcc, lb = drive(protocol, state, mode)
            name, body = ask(secc, request, _body(secc, evcc, request), lb.now)
            assert name == request
            in_table = (state, request) in secc.table
            assert (body.response_code.value == "FAILED_SequenceError") is not in_table, (state, request)


@pytest.mark.property
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_evcc_answers_only_what_its_table_holds(data: st.DataObject) -> None:
    """The car: a response that is not the one its state waits for ends the session; the awaited one does not."""
    from evcharge.iso15118.engines import Evcc, EvccConfig, Loopback, Secc
    from evcharge.iso15118.engines.evcc import EvccState
    from evcharge.iso15118.handover import PayloadType

    from .conftest import Car, Charger, handover, secc_config

    protocol = data.draw(st.sampled_from(["din", "iso2"]))
    stop_at = data.draw(st.integers(min_value=1, max_value=12))
    response = data.draw(st.sampled_from(REQUESTS))
    ho = handover(protocol)
    secc, evcc = Secc(ho, secc_config()), Evcc(ho, EvccConfig())
    count = {"n": 0}

    def tap(direction: str, ptype: int, payload: bytes) -> bytes | None:
        if direction == "to_evcc":
            count["n"] += 1
            if count["n"] >= stop_at:
                return None  # hold every answer from here on
        return payload

    Loopback(secc, evcc, secc_app=Charger(), evcc_app=Car(loops=3), tap=tap).run(until=0.0)
    if evcc.ended is not None:
        return
    state = evcc.state
    ms = evcc.ms
    body = minimal(
        ms.res_class[response],
        {"response_code": ms.mod.ResponseCode.OK},
        include=("sa_schedule_list", "dc_evse_charge_parameter", "dc_evse_status"),
    )
    if response == "ChargeParameterDiscovery":
        body = secc._cpd_res(ms.mod.EVSEProcessing.Finished, ())
    msg = ms.message(evcc.session_id, ms.res_attr[response], body)
    try:
        payload = ms.encode(msg)
    except Exception:
        return
    evcc.receive_payload(PayloadType.EXI, payload, 0.0)
    if (state, response) in evcc.table:  # handled: it may end for its content, never for its sequence
        assert evcc.ended is None or "while waiting for" not in evcc.ended.reason
    else:
        assert evcc.ended is not None and not evcc.ended.normal and evcc.state is EvccState.ENDED
        assert f"{response}Res while waiting for {state.value}Res" == evcc.ended.reason
