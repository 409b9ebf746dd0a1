"""ISO 15118-20 WPT (wireless, ``urn:iso:std:iso:15118:-20:WPT``), ours against ours: the message flow of
ISO 15118-20:2022 §8.6.4.5.3.4 / §8.6.4.6.3.4: SessionSetup, WPT_FinePositioningSetup, WPT_FinePositioning and
WPT_Pairing until finished, AuthorizationSetup ... ServiceSelection, WPT_ChargeParameterDiscovery, ScheduleExchange,
WPT_AlignmentCheck until finished, PowerDelivery(Start), WPT_ChargeLoop, PowerDelivery(Stop), SessionStop."""

from __future__ import annotations

from typing import Any

import pytest

from evcharge.iso15118.engines import Loopback, secc_engines
from evcharge.iso15118.engines.iso20 import (
    ControlMode,
    EnergyService,
    Iso20Evcc,
    Iso20EvccConfig,
    Iso20Secc,
    Iso20SeccConfig,
    Iso20SeccState,
    _msgs,
)
from evcharge.iso15118.engines.iso20 import events as ev20
from evcharge.iso15118.handover import AppProtocol, HandOver
from evcharge.iso15118.iso20 import common, wpt

from .conftest import CLOCK, Charger, answers, drive_to, names, request

S = Iso20SeccState
STEPS = ["WPT_FinePositioningReq", "WPT_PairingReq"]


def handover() -> HandOver:
    return HandOver(
        protocol=AppProtocol.ISO20_WPT, schema_id=1, version_minor=0, minor_deviation=False, tls=None, now=0.0
    )


def pair(mode: ControlMode = ControlMode.SCHEDULED, **car: Any) -> tuple[Iso20Secc, Iso20Evcc]:
    secc = Iso20Secc(handover(), Iso20SeccConfig(services=(EnergyService.WPT,), clock=CLOCK, trace=True))
    options: dict[str, Any] = {"charge_loop_requests": 3, "target_power": 7_000.0, **car}
    evcc = Iso20Evcc(
        handover(),
        Iso20EvccConfig(service=EnergyService.WPT, control_mode=mode, clock=CLOCK, trace=True, **options),
    )
    return secc, evcc


@pytest.mark.parametrize("mode", [ControlMode.SCHEDULED, ControlMode.DYNAMIC], ids=lambda m: m.name.lower())
def test_whole_wpt_session(mode: ControlMode) -> None:
    secc, evcc = pair(mode, wpt_step_requests=2)
    charger = Charger()
    car: list[Any] = []
    Loopback(secc, evcc, secc_app=charger, evcc_app=lambda engine, event, now: car.append(event)).run()
    sent = names(evcc)
    assert secc.ended is not None and secc.ended.normal and evcc.ended is not None and evcc.ended.normal
    # each step: two Ongoing requests, then Finished; answered Ongoing until the car says Finished
    step = lambda name: [name] * 3  # noqa: E731
    assert sent[:9] == [
        "SessionSetupReq",
        "WPT_FinePositioningSetupReq",
        *step("WPT_FinePositioningReq"),
        *step("WPT_PairingReq"),
        "AuthorizationSetupReq",
    ]
    i = sent.index("ServiceSelectionReq")
    assert sent[i + 1 : i + 3] == ["WPT_ChargeParameterDiscoveryReq", "ScheduleExchangeReq"]
    assert sent[i + 3 : i + 7] == [*step("WPT_AlignmentCheckReq"), "PowerDeliveryReq"]
    assert sent[i + 7 :] == ["WPT_ChargeLoopReq"] * 3 + ["PowerDeliveryReq", "SessionStopReq"]
    assert names(secc) == [n[:-3] + "Res" for n in sent]
    steps = charger.of(ev20.WptStepRequested)
    assert [(e.request, e.finished) for e in steps if e.request == "WPT_Pairing"] == [
        ("WPT_Pairing", False),
        ("WPT_Pairing", False),
        ("WPT_Pairing", True),
    ]
    answered = [(e.request, e.finished) for e in car if isinstance(e, ev20.WptStepAnswered)]
    assert answered[:4] == [
        ("WPT_FinePositioningSetup", True),
        ("WPT_FinePositioning", False),
        ("WPT_FinePositioning", False),
        ("WPT_FinePositioning", True),
    ]
    loops = charger.of(ev20.ChargeLoopRequested)
    assert [e.present_power for e in loops] == [7_000.0] * 3 and all(e.control_mode is mode for e in loops)
    params = charger.of(ev20.ChargeParametersRequested20)
    assert params[0].service is EnergyService.WPT and params[0].ev.max_charge_power == 150_000.0
    statuses = [e for e in car if isinstance(e, ev20.Iso20ChargeLoopStatus)]
    assert statuses[0].target_power == 7_000.0  # below the pad's 11 kW default: granted
    types = {t.name: t.payload_type for t in evcc.trace or ()}
    assert types["WPT_ChargeLoopReq"] == 0x8006 and types["ScheduleExchangeReq"] == 0x8002


def test_the_charger_may_finish_a_step_first() -> None:
    """The application pushes WptStepDone: the next request of that step is answered Finished and the car moves on."""
    secc, evcc = pair(wpt_step_requests=5)

    class Pad(Charger):
        def __call__(self, engine: Any, event: Any, now: float) -> None:
            super().__call__(engine, event, now)
            if isinstance(event, ev20.WptStepRequested) and event.request != "WPT_FinePositioningSetup":
                engine.send(ev20.WptStepDone(step=event.request), now)

    Loopback(secc, evcc, secc_app=Pad()).run()
    sent = names(evcc)
    # the first request of each step is answered Ongoing (the push comes with its event), the second Finished
    assert sent.count("WPT_FinePositioningReq") == 2 and sent.count("WPT_PairingReq") == 2
    assert sent.count("WPT_AlignmentCheckReq") == 2
    assert secc.ended is not None and secc.ended.normal


def test_a_failed_step_ends_the_session() -> None:
    secc, evcc = pair()
    now = drive_to(secc, evcc, S.WPT_PAIRING)
    secc.payloads_to_send()
    msg = wpt.WPT_PairingReq(
        header=wpt.MessageHeader(session_id=secc.session_id, time_stamp=1),
        ev_processing=wpt.Processing.Finished,
        ev_result_code=wpt.WPT_EVResult.EVResultFailed,
    )
    secc.receive_payload(0x8006, _msgs.encode(0x8006, msg, "WPT_PairingReq"), now)
    (res,) = answers(secc)
    assert type(res).__name__ == "WPT_PairingRes" and res.response_code is wpt.ResponseCode.FAILED
    assert secc.ended is not None and not secc.ended.normal


@pytest.mark.parametrize(
    ("state", "name"),
    [
        (S.WPT_SETUP, "AuthorizationSetup"),  # [V2G20-5043]: fine positioning first
        (S.WPT_PAIRING, "WPT_FinePositioningSetup"),
        (S.CHARGE_PARAMETERS, "ScheduleExchange"),  # WPT_ChargeParameterDiscovery first
        (S.WPT_ALIGNMENT, "PowerDelivery"),  # [V2G20-5045]: the alignment check first
        (S.POWER_DELIVERY, "WPT_ChargeLoop"),
    ],
)
def test_out_of_order_is_a_sequence_error(state: Iso20SeccState, name: str) -> None:
    from evcharge.iso15118.engines.config import Quirks

    secc = Iso20Secc(
        handover(),
        Iso20SeccConfig(
            services=(EnergyService.WPT,), clock=CLOCK, trace=True, quirks=Quirks(session_stop_in_any_state=False)
        ),
    )
    _, evcc = pair(wpt_step_requests=2)
    now = drive_to(secc, evcc, state)
    secc.payloads_to_send()
    if name.startswith("WPT_"):
        from evcharge.iso15118.engines._minimal import minimal

        body = minimal(
            _msgs.request_class(0x8006, name),
            {"header": wpt.MessageHeader(session_id=secc.session_id, time_stamp=1), "natural_offset": 0},
        )
        ptype, exi = 0x8006, _msgs.encode(0x8006, body, name + "Req")
    else:
        ptype, exi = request(
            name,
            False,
            secc.session_id,
            **({"charge_progress": common.ChargeProgress.Start} if name == "PowerDelivery" else {}),
        )
    secc.receive_payload(ptype, exi, now)
    (res,) = answers(secc)
    assert res.response_code.value == "FAILED_SequenceError"


def test_ac_and_dc_messages_are_refused_in_wpt() -> None:
    secc, evcc = pair()
    now = drive_to(secc, evcc, S.CHARGE_PARAMETERS)
    secc.payloads_to_send()
    ptype, exi = request("ChargeParameterDiscovery", False, secc.session_id)  # AC_ChargeParameterDiscoveryReq
    secc.receive_payload(ptype, exi, now)
    (res,) = answers(secc)
    assert res.response_code.value == "FAILED" and secc.ended is not None


def test_offered_beside_the_others() -> None:
    engines = secc_engines(iso20=Iso20SeccConfig(services=(EnergyService.AC, EnergyService.WPT)), protocols=("iso20",))
    assert set(engines) == {AppProtocol.ISO20_AC, AppProtocol.ISO20_WPT}
