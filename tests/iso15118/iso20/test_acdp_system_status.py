"""ACDP_SystemStatus: the ACDP side channel. ISO 15118-20 gives the ACDP system status its own V2GTP payload type,
0x8103 (the -20 payload-type table; ``shared/facts/v2g_slac_iec61851.md``: Josev's ``ISOV20PayloadTypes``), for
ACDP_SystemStatusReq/Res of the ACDP schema. The charger answers it at any time after SessionSetup in an ACDP
session, beside the session's own request and response, with what its application supplies; the session's state
and timers stay where they are. The bus may ask whenever it wants."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evcharge.errors import LocalProtocolError
from evcharge.iso15118.engines import Loopback
from evcharge.iso15118.engines.iso20 import EnergyService, Iso20Evcc, Iso20EvccConfig, Iso20Secc, Iso20SeccState
from evcharge.iso15118.engines.iso20 import events as ev20
from evcharge.iso15118.iso20 import acdp

from .conftest import CLOCK, drive_to, names
from .test_acdp import Depot, handover, pair

S = Iso20SeccState
STATUS = 0x8103


class StatusDepot(Depot):
    """The depot's pantograph and positioning, plus its system status: ready and isolation Safe once it is down."""

    def __call__(self, engine: Any, event: Any, now: float) -> None:
        super().__call__(engine, event, now)
        if isinstance(event, ev20.AcdpDeviceRequested) and self.moving_since is None:  # at its end (home) now
            ready = event.connect
            engine.send(ev20.SetAcdpSystemStatus(ready_to_charge=ready, isolation="Safe" if ready else "Invalid"), now)


def status_req(session_id: bytes, **status: Any) -> bytes:
    fields: dict[str, Any] = {"ev_ready_to_charge": False, "ev_immobilization_request": False, **status}
    msg = acdp.ACDP_SystemStatusReq(
        header=acdp.MessageHeader(session_id=session_id, time_stamp=1),
        ev_technical_status=acdp.EVTechnicalStatus(**fields),
    )
    return acdp.codec.encode(msg, "ACDP_SystemStatusReq")


def status_answers(secc: Iso20Secc) -> list[tuple[int, str, Any]]:
    out = []
    for ptype, payload in secc.payloads_to_send():
        element, msg = acdp.codec.decode_with_name(payload)
        out.append((ptype, element, msg))
    return out


def test_the_bus_asks_during_the_session() -> None:
    """Asked after positioning, in the charge loop and while the pantograph goes home: each ask is answered in 0x8103
    with what the depot supplied then, and the session's own messages are those of a session without asks."""
    secc, evcc = pair()
    depot = StatusDepot()
    seen: list[Any] = []
    asked: list[str] = []

    def bus(engine: Any, event: Any, now: float) -> None:
        seen.append(event)
        when = None
        if isinstance(event, ev20.AcdpPositioningAnswered) and event.finished:
            when = "positioned"
        elif isinstance(event, ev20.Iso20ChargeLoopStatus) and "charging" not in asked:
            when = "charging"
        elif isinstance(event, ev20.AcdpDeviceAnswered) and not event.connect and "leaving" not in asked:
            when = "leaving"
        if when is not None:
            asked.append(when)
            engine.send(ev20.AskAcdpSystemStatus(), now)

    Loopback(secc, evcc, secc_app=depot, evcc_app=bus).run()
    assert secc.ended is not None and secc.ended.normal and evcc.ended is not None and evcc.ended.normal
    assert asked == ["positioned", "charging", "leaving"]
    assert evcc.trace is not None and secc.trace is not None
    side = [(t.direction, t.name) for t in evcc.trace if t.payload_type == STATUS]
    assert side == [("tx", "ACDP_SystemStatusReq"), ("rx", "ACDP_SystemStatusRes")] * 3
    assert [t.name for t in secc.trace if t.payload_type == STATUS] == [
        "ACDP_SystemStatusReq",
        "ACDP_SystemStatusRes",
    ] * 3
    # the main channel: the same messages as without the asks
    plain_secc, plain_evcc = pair()
    Loopback(plain_secc, plain_evcc, secc_app=Depot()).run()
    main = [n for n in names(evcc) if not n.startswith("ACDP_SystemStatus")]
    assert main == names(plain_evcc)
    # what the bus said: immobilized once positioned; ready to charge only with the pantograph down
    requested = depot.of(ev20.AcdpSystemStatusRequested)
    assert [(e.immobilized, e.ready_to_charge, e.soc, e.error_code) for e in requested] == [
        (True, False, 30, "OK_NoEVError"),
        (True, True, 30, "OK_NoEVError"),
        (True, False, 30, "OK_NoEVError"),
    ]
    assert all(e.request == "ACDP_SystemStatus" and e.deadline > e.received_at for e in requested)
    # what the depot supplied: before the pantograph moved; while it is down; on its way home
    answered = [e for e in seen if isinstance(e, ev20.AcdpSystemStatusAnswered)]
    assert [(e.mechanical, e.ready_to_charge, e.isolation, e.in_charge_position) for e in answered] == [
        ("Home", False, "Invalid", True),
        ("EndPosition", True, "Safe", True),
        ("Moving", True, "Safe", True),
    ]
    assert all(e.associated and not (e.disabled or e.emergency_shutdown or e.malfunction) for e in answered)


def test_the_session_does_not_move() -> None:
    """While the charger waits for the next ACDP_ConnectReq: the status answer leaves the state, the sequence timer
    and the Ongoing loop alone."""
    secc, evcc = pair()
    now = drive_to(secc, evcc, S.ACDP_CONNECT, StatusDepot())
    secc.payloads_to_send()
    timer = secc.get_timer()
    secc.send(ev20.SetAcdpSystemStatus(isolation="Warning", malfunction=True), now)
    secc.receive_payload(STATUS, status_req(secc.session_id, evsoc=55), now + 1.0)
    ((ptype, element, res),) = status_answers(secc)
    assert (ptype, element, res.response_code) == (STATUS, "ACDP_SystemStatusRes", acdp.ResponseCode.OK)
    assert res.evse_isolation_status is acdp.IsolationStatus.Warning and res.evse_malfunction
    assert res.header.session_id == secc.session_id
    assert secc.state is S.ACDP_CONNECT and secc.get_timer() == timer and secc.ended is None
    (event,) = [e for e in iter(secc.next_event, None) if isinstance(e, ev20.AcdpSystemStatusRequested)]
    assert event.soc == 55 and event.received_at == now + 1.0


@pytest.mark.parametrize(
    ("setup", "payload", "code"),
    [
        (False, lambda sid: status_req(sid), "FAILED_SequenceError"),  # before SessionSetup
        (True, lambda sid: status_req(b"\x01" * 8), "FAILED_UnknownSession"),
        (
            True,  # another ACDP message in the status channel
            lambda sid: acdp.codec.encode(
                acdp.ACDP_ConnectReq(
                    header=acdp.MessageHeader(session_id=sid, time_stamp=1),
                    ev_electrical_charging_device_status=acdp.ElectricalChargingDeviceStatus.State_B,
                ),
                "ACDP_ConnectReq",
            ),
            "FAILED_SequenceError",
        ),
        (True, lambda sid: b"\x80\xff\x00garbage", "FAILED"),
    ],
    ids=["before-setup", "foreign-session", "not-a-status-request", "not-exi"],
)
def test_a_broken_status_request_is_failed(setup: bool, payload: Any, code: str) -> None:
    secc, evcc = pair()
    now = drive_to(secc, evcc, S.AUTHORIZATION_SETUP, StatusDepot()) if setup else 0.0
    secc.payloads_to_send()
    secc.receive_payload(STATUS, payload(secc.session_id), now)
    ((ptype, element, res),) = status_answers(secc)
    assert (ptype, element, res.response_code.value) == (STATUS, "ACDP_SystemStatusRes", code)
    assert secc.ended is not None and not secc.ended.normal and secc.ended.response_code == code


def test_a_dc_session_has_no_status_channel() -> None:
    from .conftest import engines

    secc, evcc = engines(EnergyService.DC)
    now = drive_to(secc, evcc, S.CHARGING)
    secc.payloads_to_send()
    secc.receive_payload(STATUS, status_req(secc.session_id), now)
    assert secc.ended is not None and secc.ended.response_code == "FAILED"
    with pytest.raises(LocalProtocolError):
        evcc.send(ev20.AskAcdpSystemStatus(), now)


def test_the_bus_side_rules() -> None:
    secc, evcc = pair()
    with pytest.raises(LocalProtocolError):  # no session yet
        evcc.send(ev20.AskAcdpSystemStatus(), 0.0)
    now = drive_to(secc, evcc, S.SERVICE_SELECTION, StatusDepot())
    evcc.receive_payload(*secc.payloads_to_send()[0], now)  # ServiceDiscoveryRes: ServiceDetailReq (5 s) next
    evcc.send(ev20.AskAcdpSystemStatus(), now)
    with pytest.raises(LocalProtocolError):  # one at a time
        evcc.send(ev20.AskAcdpSystemStatus(), now)
    with pytest.raises(LocalProtocolError):
        secc.send(ev20.SetAcdpSystemStatus(isolation="Valid"), now)  # the -2 word, not an EVSEIsolationStatus
    # nobody answers: the bus gives up after its message timeout (Josev's 2 s), like any other request
    evcc.payloads_to_send()
    timer = evcc.get_timer()
    assert timer is not None and timer <= now + 2.0
    assert [name for _, name in [(t.direction, t.name) for t in evcc.trace or ()][-2:]] == [
        "ServiceDetailReq",
        "ACDP_SystemStatusReq",
    ]
    evcc.handle_timer(now + 2.0)
    assert evcc.ended is not None and not evcc.ended.normal and "ACDP_SystemStatusRes" in evcc.ended.reason


def test_an_answer_nobody_asked_for_ends_the_bus_session() -> None:
    secc, evcc = pair()
    now = drive_to(secc, evcc, S.AUTHORIZATION_SETUP, StatusDepot())
    secc.payloads_to_send()
    secc.receive_payload(STATUS, status_req(secc.session_id), now)
    (answer,) = secc.payloads_to_send()
    bus = Iso20Evcc(handover(), Iso20EvccConfig(service=EnergyService.DC_ACDP, clock=CLOCK))
    bus.receive_payload(*answer, now)  # this bus did not ask
    assert bus.ended is not None and not bus.ended.normal and "not asked for" in bus.ended.reason


@pytest.mark.fuzz
@pytest.mark.property
@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    flips=st.lists(st.tuples(st.integers(min_value=0, max_value=60), st.integers(1, 255)), max_size=4),
    cut=st.integers(min_value=0, max_value=6),
    to_bus=st.booleans(),
)
def test_mutated_status_messages_never_raise(flips: list[tuple[int, int]], cut: int, to_bus: bool) -> None:
    """A mutated ACDP_SystemStatusReq to the charger, or a mutated Res to a bus that asked, is answered or ends the
    session (the charger's end with a FAILED ACDP_SystemStatusRes in 0x8103), never an exception."""
    secc, evcc = pair()
    now = drive_to(secc, evcc, S.SERVICE_SELECTION, StatusDepot())
    evcc.receive_payload(*secc.payloads_to_send()[0], now)  # ServiceDiscoveryRes: the bus is past SessionSetup
    evcc.send(ev20.AskAcdpSystemStatus(), now)
    ((ptype, seed),) = [p for p in evcc.payloads_to_send() if p[0] == STATUS]
    if to_bus:
        secc.receive_payload(ptype, seed, now)
        ((ptype, seed),) = secc.payloads_to_send()
    data = bytearray(seed)
    for pos, xor in flips:
        data[pos % len(data)] ^= xor
    if cut:
        data = data[: max(1, len(data) - cut)]
    if to_bus:
        evcc.receive_payload(STATUS, bytes(data), now)
        assert evcc.ended is None or not evcc.ended.normal
        return
    secc.receive_payload(STATUS, bytes(data), now)
    out = status_answers(secc)
    assert len(out) == 1 and out[0][0] == STATUS
    if secc.ended is not None:
        assert out[0][2].response_code.value.startswith("FAILED")
