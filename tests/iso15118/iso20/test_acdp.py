"""ISO 15118-20 ACDP (DC through a pantograph, ``urn:iso:std:iso:15118:-20:ACDP``), ours against ours: the message
flow of ISO 15118-20:2022 §8.6.4.6.3.5 ([V2G20-4067] to [V2G20-4075]): SessionSetup, ACDP_VehiclePositioning until
the bus is immobilized, AuthorizationSetup ... ScheduleExchange, ACDP_Connect until the pantograph is down,
DC_CableCheck ... PowerDelivery(Stop), ACDP_Disconnect until it is home, SessionStop."""

from __future__ import annotations

from typing import Any

import pytest

from evcharge.errors import LocalProtocolError
from evcharge.iso15118.engines import Loopback, secc_engines
from evcharge.iso15118.engines.iso20 import (
    ControlMode,
    EnergyService,
    Iso20Evcc,
    Iso20EvccConfig,
    Iso20EvccState,
    Iso20Secc,
    Iso20SeccConfig,
    Iso20SeccState,
    _msgs,
)
from evcharge.iso15118.engines.iso20 import events as ev20
from evcharge.iso15118.handover import AppProtocol, HandOver
from evcharge.iso15118.iso20 import acdp

from .conftest import CLOCK, Charger, answers, drive_to, names, request

S = Iso20SeccState


def handover() -> HandOver:
    return HandOver(
        protocol=AppProtocol.ISO20_ACDP, schema_id=1, version_minor=0, minor_deviation=False, tls=None, now=0.0
    )


def pair(service: EnergyService = EnergyService.DC_ACDP, **car: Any) -> tuple[Iso20Secc, Iso20Evcc]:
    secc = Iso20Secc(handover(), Iso20SeccConfig(services=(service,), clock=CLOCK, trace=True))
    evcc = Iso20Evcc(
        handover(),
        Iso20EvccConfig(service=service, charge_loop_requests=2, ongoing_interval=0.5, clock=CLOCK, trace=True, **car),
    )
    return secc, evcc


class Depot(Charger):
    """A bus depot charger: the positioning device reports the bus in place after two answers; the pantograph
    moves for a second each way."""

    def __init__(self) -> None:
        super().__init__()
        self.positionings = 0
        self.moving_since: float | None = None
        self.pantograph = "Home"  # where it is: Home, Moving, EndPosition

    def __call__(self, engine: Any, event: Any, now: float) -> None:
        super().__call__(engine, event, now)
        if isinstance(event, ev20.VehiclePositioningRequested):
            self.positionings += 1
            engine.send(
                ev20.SetVehiclePosition(
                    positioning_support=True,
                    x_deviation=max(0, 200 - 100 * self.positionings),
                    in_charge_position=self.positionings >= 2,
                ),
                now,
            )
        elif isinstance(event, ev20.AcdpDeviceRequested):
            target = "EndPosition" if event.connect else "Home"
            if self.pantograph == target:  # already there (the request answered Finished)
                return
            if self.moving_since is None:
                self.moving_since = now
                self.pantograph = "Moving"
                engine.send(ev20.SetChargingDevice(mechanical="Moving", electrical="State_A"), now)
            elif now - self.moving_since >= 1.0:  # there: answered with the next request
                self.moving_since = None
                self.pantograph = target
                engine.send(
                    ev20.SetChargingDevice(mechanical=target, electrical="State_B" if event.connect else "State_A"),
                    now,
                )


@pytest.mark.parametrize("service", [EnergyService.DC_ACDP, EnergyService.DC_ACDP_BPT], ids=lambda s: s.cli_name)
def test_whole_acdp_session(service: EnergyService) -> None:
    secc, evcc = pair(service)
    depot = Depot()
    bus: list[Any] = []
    lb = Loopback(secc, evcc, secc_app=depot, evcc_app=lambda engine, event, now: bus.append(event))
    lb.run()
    sent = names(evcc)
    assert secc.ended is not None and secc.ended.normal, secc.ended
    assert evcc.ended is not None and evcc.ended.normal
    # [V2G20-4067]: positioning right after SessionSetup; the bus stops once the charger sees it in position, and
    # the answer to its immobilized request is Finished ([V2G20-4069]): AuthorizationSetup next
    # (each answer carries what the depot pushed on the request before: its first answer is the default)
    assert sent[:6] == ["SessionSetupReq"] + ["ACDP_VehiclePositioningReq"] * 4 + ["AuthorizationSetupReq"]
    pos = depot.of(ev20.VehiclePositioningRequested)
    assert [e.immobilized for e in pos] == [False, False, False, True]
    answered = [e for e in bus if isinstance(e, ev20.AcdpPositioningAnswered)]
    assert [(e.finished, e.in_charge_position, e.x_deviation) for e in answered] == [
        (False, False, 0),
        (False, False, 100),
        (False, True, 0),
        (True, True, 0),
    ]
    # [V2G20-4070]: ACDP_Connect after ScheduleExchange; Ongoing while the pantograph moves; then DC_CableCheck
    i = sent.index("ScheduleExchangeReq") + 1
    connects = 0
    while sent[i + connects] == "ACDP_ConnectReq":
        connects += 1
    assert connects >= 2 and sent[i + connects] == "DC_CableCheckReq"
    # [V2G20-4073]: after PowerDelivery(Stop), ACDP_Disconnect until home ([V2G20-4075]), then SessionStop
    stop = len(sent) - 1 - sent[::-1].index("PowerDeliveryReq")
    assert sent[stop + 1 : -1] == ["ACDP_DisconnectReq"] * (len(sent) - stop - 2) and len(sent) - stop - 2 >= 2
    assert sent[-1] == "SessionStopReq" and "DC_ChargeLoopReq" in sent
    assert names(secc) == [n[:-3] + "Res" for n in sent]
    devices = [e for e in bus if isinstance(e, ev20.AcdpDeviceAnswered)]
    assert (devices[-1].connect, devices[-1].finished, devices[-1].mechanical) == (False, True, "Home")
    down = [e for e in devices if e.connect and e.finished]
    assert [(e.mechanical, e.electrical) for e in down] == [("EndPosition", "State_B")]
    requested = [e.connect for e in depot.of(ev20.AcdpDeviceRequested)]
    assert requested == [True] * connects + [False] * (len(requested) - connects)  # one event per request
    assert secc.service is service
    # the ACDP payloads travel as 0x8005, the DC ones as 0x8004
    types = {t.name: t.payload_type for t in evcc.trace or ()}
    assert types["ACDP_ConnectReq"] == types["ACDP_DisconnectReq"] == 0x8005 and types["DC_CableCheckReq"] == 0x8004


def test_disconnect_is_its_own_element() -> None:
    """ACDP_DisconnectReq shares ACDP_ConnectReq's type in the schema: on the wire it is another root element."""
    secc, evcc = pair()
    now = drive_to(secc, evcc, S.CHARGE_PARAMETERS, Depot())
    secc.payloads_to_send()
    msg = acdp.ACDP_ConnectReq(
        header=acdp.MessageHeader(session_id=secc.session_id, time_stamp=1),
        ev_electrical_charging_device_status=acdp.ElectricalChargingDeviceStatus.State_B,
    )
    connect = _msgs.encode(0x8005, msg, "ACDP_ConnectReq")
    disconnect = _msgs.encode(0x8005, msg, "ACDP_DisconnectReq")
    assert connect != disconnect
    assert acdp.codec.decode_with_name(disconnect)[0] == "ACDP_DisconnectReq"
    secc.receive_payload(0x8005, disconnect, now)  # out of order: a sequence error, answered as a DisconnectRes
    assert secc.trace is not None and secc.trace[-1].name == "ACDP_DisconnectRes"
    (res,) = answers(secc)
    assert res.response_code is acdp.ResponseCode.FAILED_SequenceError


@pytest.mark.parametrize(
    ("state", "name", "ptype"),
    [
        (S.VEHICLE_POSITIONING, "AuthorizationSetup", 0x8002),  # before the bus is immobilized
        (S.AUTHORIZATION_SETUP, "ACDP_VehiclePositioning", 0x8005),
        (S.ACDP_CONNECT, "CableCheck", 0x8004),  # [V2G20-4070]: the pantograph first
        (S.CABLE_CHECK, "ACDP_Connect", 0x8005),
        (S.CHARGING, "ACDP_Disconnect", 0x8005),  # before PowerDelivery(Stop)
        (S.ACDP_DISCONNECT, "SessionStop", 0x8002),  # [V2G20-4074]: home first
        # [V2G20-4073]: after PowerDelivery(Stop) the bus goes to ACDP_Disconnect, then SessionStop: DC_WeldingDetection
        # is out of sequence before the pantograph is home and after it
        (S.ACDP_DISCONNECT, "WeldingDetection", 0x8004),
        (S.STOPPED, "WeldingDetection", 0x8004),
    ],
)
def test_out_of_order_is_a_sequence_error(state: Iso20SeccState, name: str, ptype: int) -> None:
    secc = _strict()
    _, evcc = pair()
    now = drive_to(secc, evcc, state, Depot())
    secc.payloads_to_send()
    if ptype == 0x8005:
        sid = secc.session_id
        cls = _msgs.request_class(ptype, name)
        fields: dict[str, Any] = {"header": acdp.MessageHeader(session_id=sid, time_stamp=1)}
        if name in ("ACDP_Connect", "ACDP_Disconnect"):
            fields["ev_electrical_charging_device_status"] = acdp.ElectricalChargingDeviceStatus.State_B
        else:
            fields.update(ev_mobility_status=False, ev_positioning_support=False)
        exi = _msgs.encode(ptype, cls(**fields), name + "Req")
    else:
        ptype, exi = request(name, True, secc.session_id)
    secc.receive_payload(ptype, exi, now)
    (res,) = answers(secc)
    assert res.response_code.value == "FAILED_SequenceError"
    assert secc.trace is not None and secc.trace[-1].name == _msgs.element_name(ptype, name, "Res")
    assert secc.ended is not None and not secc.ended.normal


def test_welding_detection_stays_a_dc_request() -> None:
    """The same request after PowerDelivery(Stop) in the DC namespace is answered OK (the ACDP refusal above is the
    namespace's, not a broken row)."""
    from .conftest import engines

    secc, evcc = engines(EnergyService.DC)
    now = drive_to(secc, evcc, S.STOPPED)
    secc.payloads_to_send()
    ptype, exi = request("WeldingDetection", True, secc.session_id)
    secc.receive_payload(ptype, exi, now)
    (res,) = answers(secc)
    assert res.response_code.value == "OK" and secc.ended is None


def _strict() -> Iso20Secc:
    """The strict table (no SessionStop in any state)."""
    from evcharge.iso15118.engines.config import Quirks
    from evcharge.iso15118.engines.iso20.secc import secc20_table

    cfg = Iso20SeccConfig(
        services=(EnergyService.DC_ACDP,),
        clock=CLOCK,
        trace=True,
        quirks=Quirks(session_stop_in_any_state=False),
    )
    secc = Iso20Secc(handover(), cfg)
    assert secc.table.lookup(S.ACDP_DISCONNECT, "SessionStop") is None
    assert len(secc20_table(True, cfg, acdp=True)) == len(secc.table)
    return secc


def test_positioning_that_never_ends_is_failed() -> None:
    """A bus that never gets in position: the SECC's Ongoing limit (60 s) ends the session with FAILED (the bus
    would wait 120 s here), and the bus sees the FAILED answer."""
    from evcharge.iso15118.engines.iso20 import Iso20EvccTimeouts

    secc, evcc = pair(timeouts=Iso20EvccTimeouts(ongoing=120.0))
    Loopback(secc, evcc, secc_app=Charger()).run()  # nobody reports the bus in position
    assert secc.ended is not None and not secc.ended.normal and secc.ended.response_code == "FAILED"
    assert secc.trace is not None and secc.trace[-1].name == "ACDP_VehiclePositioningRes"
    assert 60.0 < secc.trace[-1].time <= 61.0  # the first request after the limit (one each 0.5 s)
    assert evcc.ended is not None and evcc.ended.response_code == "FAILED"


def test_a_charger_offers_acdp_beside_dc() -> None:
    engines = secc_engines(iso20=Iso20SeccConfig(services=(EnergyService.DC, EnergyService.DC_ACDP)))
    assert AppProtocol.ISO20_ACDP in engines and AppProtocol.ISO20_DC in engines
    only = secc_engines(iso20=Iso20SeccConfig(services=(EnergyService.DC_ACDP,)), protocols=("iso20",))
    assert set(only) == {AppProtocol.ISO20_ACDP}


def test_wrong_service_for_the_namespace() -> None:
    with pytest.raises(LocalProtocolError):
        Iso20Evcc(handover(), Iso20EvccConfig(service=EnergyService.DC))
    with pytest.raises(LocalProtocolError):
        Iso20Secc(handover(), Iso20SeccConfig(services=(EnergyService.DC,)))
    with pytest.raises(LocalProtocolError):
        Iso20Secc(handover(), Iso20SeccConfig(services=(EnergyService.DC_ACDP,))).send(
            ev20.SetChargingDevice(mechanical="Down"), 0.0
        )


def test_dynamic_mode_too() -> None:
    secc, evcc = pair(control_mode=ControlMode.DYNAMIC)
    Loopback(secc, evcc, secc_app=Depot()).run()
    assert secc.ended is not None and secc.ended.normal and secc.control_mode is ControlMode.DYNAMIC
    assert evcc.state is Iso20EvccState.ENDED and evcc.ended is not None and evcc.ended.normal
    assert "DC_ChargeLoopReq" in names(evcc) and names(evcc)[-1] == "SessionStopReq"
