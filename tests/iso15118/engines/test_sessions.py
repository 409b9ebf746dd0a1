"""Whole sessions, our SECC against our EVCC, on a simulated clock."""

from __future__ import annotations

import pytest

from evcharge.iso15118.engines import EvccConfig, SeccState
from evcharge.iso15118.engines import events as ev
from evcharge.iso15118.engines.evcc import EvccState

from .conftest import AC, DC, Car, Charger, run_session


def _requests(engine: object, direction: str) -> list[str]:
    return [t.name for t in engine.trace if t.direction == direction]  # type: ignore[attr-defined]


@pytest.mark.parametrize("protocol", ["din", "iso2"])
def test_dc_session_sequence(protocol: str) -> None:
    charger, car = Charger(), Car(loops=3)
    lb, secc, evcc = run_session(
        protocol, DC, evcc_cfg=EvccConfig(energy_mode=DC, trace=True), charger=charger, car=car
    )
    assert secc.state is SeccState.ENDED and evcc.state is EvccState.ENDED
    assert secc.ended is not None and secc.ended.normal and not secc.ended.paused
    assert evcc.ended is not None and evcc.ended.normal
    sent = _requests(evcc, "tx")
    assert sent == [
        "SessionSetupReq",
        "ServiceDiscoveryReq",
        "PaymentServiceSelectionReq",
        "AuthorizationReq",
        "ChargeParameterDiscoveryReq",
        # the charger learns of CableCheck / PreCharge from the first request: Ongoing / not there yet
        "CableCheckReq",
        "CableCheckReq",
        "PreChargeReq",
        "PreChargeReq",
        "PowerDeliveryReq",
        # StopCharging comes with the third answer, when the fourth request is already on its way
        "CurrentDemandReq",
        "CurrentDemandReq",
        "CurrentDemandReq",
        "CurrentDemandReq",
        "PowerDeliveryReq",
        "WeldingDetectionReq",
        "SessionStopReq",
    ]
    # every response OK, and answered with the request's own response type
    for entry in evcc.trace:
        if entry.direction == "rx":
            res = evcc.ms.response_of(entry.message.body)[1]
            assert res.response_code.value.startswith("OK")
    # the charger has closed (or will close) the connection within 5 s of SessionStopRes
    assert secc.close_at is not None and secc.close_at - lb.now <= 5.0
    # the SECC answered CurrentDemand with a 25 ms performance deadline on the event
    loops = [e for e in charger.events if isinstance(e, ev.ChargeLoopTargets)]
    assert len(loops) == 4 and all(abs(e.deadline - e.received_at - 0.025) < 1e-9 for e in loops)
    started = [e for e in car.events if isinstance(e, ev.SessionStarted)]
    assert started[0].session_id == secc.session_id != b"\x00" * 8


def test_iso2_ac_session() -> None:
    _, secc, evcc = run_session("iso2", AC, evcc_cfg=EvccConfig(energy_mode=AC, trace=True))
    assert secc.ended is not None and secc.ended.normal
    sent = _requests(evcc, "tx")
    assert sent[4:] == [
        "ChargeParameterDiscoveryReq",
        "PowerDeliveryReq",
        "ChargingStatusReq",
        "ChargingStatusReq",
        "ChargingStatusReq",
        "ChargingStatusReq",
        "ChargingStatusReq",
        "ChargingStatusReq",
        "PowerDeliveryReq",
        "SessionStopReq",
    ]
