"""Every (state, request) pair of an ACDP session: outside the SECC's table FAILED_SequenceError (the response of
that request, in its own schema) and the session ends; inside it, never FAILED_SequenceError. Among them
DC_WeldingDetectionReq, which an ACDP session never takes ([V2G20-4073]: ACDP_Disconnect, then SessionStop)."""

from __future__ import annotations

from typing import Any

from evcharge.iso15118.engines.iso20 import Iso20SeccState, _msgs
from evcharge.iso15118.iso20 import acdp, common

from .conftest import drive_to, request
from .test_acdp import Depot, pair

S = Iso20SeccState
REQUESTS = [*_msgs.COMMON_REQUESTS, *_msgs.SPECIFIC_REQUESTS[_msgs.DC], *_msgs.ACDP_REQUESTS]
STATES = [
    S.SESSION_SETUP,
    S.VEHICLE_POSITIONING,
    S.AUTHORIZATION_SETUP,
    S.AUTHORIZATION,
    S.SERVICE_DISCOVERY,
    S.SERVICE_SELECTION,
    S.CHARGE_PARAMETERS,
    S.SCHEDULE_EXCHANGE,
    S.ACDP_CONNECT,
    S.CABLE_CHECK,
    S.PRE_CHARGE,
    S.POWER_DELIVERY,
    S.CHARGING,
    S.ACDP_DISCONNECT,
    S.STOPPED,
]


def any_request(name: str, session_id: bytes) -> tuple[int, bytes]:
    """``name`` with only its mandatory fields (PowerDelivery: Stop), as (payload type, EXI)."""
    if name in _msgs.ACDP_REQUESTS:
        fields: dict[str, Any] = {"header": acdp.MessageHeader(session_id=session_id, time_stamp=1)}
        if name == "ACDP_VehiclePositioning":
            fields.update(ev_mobility_status=False, ev_positioning_support=False)
        else:
            fields["ev_electrical_charging_device_status"] = acdp.ElectricalChargingDeviceStatus.State_B
        body = _msgs.request_class(_msgs.ACDP, name)(**fields)
        return _msgs.ACDP, _msgs.encode(_msgs.ACDP, body, name + "Req")
    extra = {"charge_progress": common.ChargeProgress.Stop} if name == "PowerDelivery" else {}
    return request(name, True, session_id, **extra)


def test_every_pair_follows_the_table() -> None:
    checked = 0
    for state in STATES:
        for name in REQUESTS:
            secc, evcc = pair()
            now = drive_to(secc, evcc, state, Depot())
            secc.payloads_to_send()
            while secc.next_event() is not None:
                pass
            ptype, exi = any_request(name, secc.session_id)
            secc.receive_payload(ptype, exi, now + 0.1)
            ((rtype, payload),) = secc.payloads_to_send()
            element, res = _msgs.module_for(rtype).codec.decode_with_name(payload)
            assert element == _msgs.element_name(ptype, name, "Res"), (state, name)
            if (state, name) in secc.table:
                assert res.response_code.value != "FAILED_SequenceError", (state, name)
            else:
                assert res.response_code.value == "FAILED_SequenceError", (state, name)
                assert secc.ended is not None and not secc.ended.normal
            checked += 1
    assert checked == len(STATES) * len(REQUESTS)
    assert (S.STOPPED, "WeldingDetection") not in pair()[0].table
