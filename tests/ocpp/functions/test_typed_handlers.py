"""The Station's handlers take the typed request the RPC core built and answer with a typed response of the same
version (no JSON round trip in between); the RPC core turns that response into the CALLRESULT."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from evcharge.clock import WallClock
from evcharge.ocpp import rpc, v16, v21, v201
from evcharge.ocpp.functions.transport.station import Station


def answer(station: Station, version: Any, action: str, payload: dict[str, Any]) -> Any:
    conn = rpc.RpcConnection(version)
    conn.receive_data(json.dumps([2, "m1", action, payload]), 0.0)
    ev = conn.next_event()
    assert isinstance(ev, rpc.CallReceived)
    handler = station.handler_for(action)
    assert handler is not None
    response = handler(ev.request)
    assert type(response) is version.response_class(action)  # typed, of the request's own version
    conn.send(rpc.SendResult(message_id="m1", response=response), 0.0)  # validated against the schema on the way out
    (frame,) = conn.data_to_send()
    return json.loads(frame)[2]


@pytest.mark.parametrize("version", [v201, v21], ids=["2.0.1", "2.1"])
def test_get_and_set_variables(tmp_path: Path, version: Any) -> None:
    station = Station("CP1", version=version.VERSION, directory=tmp_path)
    try:
        hb = {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}}
        out = answer(station, version, "SetVariables", {"setVariableData": [{**hb, "attributeValue": "120"}]})
        assert out["setVariableResult"][0]["attributeStatus"] == "Accepted"
        out = answer(station, version, "GetVariables", {"getVariableData": [
            hb, {"component": {"name": "NoSuchComponent"}, "variable": {"name": "X"}}]})
        assert [r["attributeStatus"] for r in out["getVariableResult"]] == ["Accepted", "UnknownComponent"]
        assert out["getVariableResult"][0]["attributeValue"] == "120"
        assert out["getVariableResult"][1]["component"] == {"name": "NoSuchComponent"}  # echoed as requested
    finally:
        station.close_stores()


def test_16_configuration_and_local_list(tmp_path: Path) -> None:
    station = Station("CP1", version="1.6", directory=tmp_path)
    try:
        out = answer(station, v16, "ChangeConfiguration", {"key": "HeartbeatInterval", "value": "120"})
        assert out == {"status": "Accepted"}
        out = answer(station, v16, "GetConfiguration", {"key": ["HeartbeatInterval", "NoSuchKey"]})
        assert out["configurationKey"][0]["value"] == "120" and out["unknownKey"] == ["NoSuchKey"]
        out = answer(station, v16, "SendLocalList", {"listVersion": 3, "updateType": "Full", "localAuthorizationList": [
            {"idTag": "ABC", "idTagInfo": {"status": "Accepted"}}]})
        assert out == {"status": "Accepted"}  # the default template enables the local list
        out = answer(station, v16, "GetLocalListVersion", {})
        assert out == {"listVersion": 3}
    finally:
        station.close_stores()


def test_charging_profile_round_trip(tmp_path: Path) -> None:
    # one clock: monotonic now = 5.0 is 2024-05-01T01:00:00Z on the station's wall clock
    station = Station("CP1", version="2.0.1", directory=tmp_path, clock=lambda: 5.0,
                      wall=WallClock.at(5.0, datetime(2024, 5, 1, 1, tzinfo=UTC)))
    try:
        profile = {"id": 7, "stackLevel": 0, "chargingProfilePurpose": "ChargingStationMaxProfile",
                   "chargingProfileKind": "Absolute", "chargingSchedule": [{
                       "id": 1, "chargingRateUnit": "A", "startSchedule": "2024-05-01T00:00:00Z",
                       "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 10.0}]}]}
        assert answer(station, v201, "SetChargingProfile", {"evseId": 0, "chargingProfile": profile}) == {
            "status": "Accepted"}
        out = answer(station, v201, "GetCompositeSchedule", {"evseId": 0, "duration": 600, "chargingRateUnit": "A"})
        assert out["status"] == "Accepted" and out["schedule"]["scheduleStart"] == "2024-05-01T01:00:00Z"
        assert out["schedule"]["chargingSchedulePeriod"][0]["limit"] == 10.0
        assert answer(station, v201, "ClearChargingProfile", {"chargingProfileId": 7}) == {"status": "Accepted"}
        assert answer(station, v201, "ClearChargingProfile", {"chargingProfileId": 7}) == {"status": "Unknown"}
    finally:
        station.close_stores()
