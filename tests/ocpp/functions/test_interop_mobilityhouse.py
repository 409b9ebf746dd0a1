"""Our Station against mobilityhouse's ``ocpp`` CSMS over real websockets on loopback (2.0.1 and 1.6).

Their library validates every message it receives against the official schemas, so these tests also prove that
our TransactionEvent / Start/StopTransaction / MeterValues / NotifyReport payloads and our answers to their
device-model, local-list and smart-charging calls are accepted by an independent implementation.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

import pytest
import websockets
from ocpp.routing import on as mh_on
from ocpp.v16 import ChargePoint as MhCp16
from ocpp.v16 import call as mcall16
from ocpp.v16 import call_result as mres16
from ocpp.v201 import ChargePoint as MhCp201
from ocpp.v201 import call as mcall201
from ocpp.v201 import call_result as mres201

from evcharge.ocpp import v16, v201
from evcharge.ocpp.charge_point import BackoffConfig, ChargePointConfig
from evcharge.ocpp.functions.transactions import EVConnected, PowerPathClosed
from evcharge.ocpp.functions.transport.station import Station
from evcharge.ocpp.transport.websocket import ChargePointClient, identity_from_path

pytestmark = pytest.mark.interop
IDENTITY = "MH-STATION"


class TheirCsms201(MhCp201):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.received: list[tuple[str, dict[str, Any]]] = []

    @mh_on("NotifyReport")
    def notify_report(self, **kw: Any) -> Any:
        self.received.append(("NotifyReport", kw))
        return mres201.NotifyReport()

    @mh_on("Authorize")
    def authorize(self, id_token: dict[str, Any], **kw: Any) -> Any:
        self.received.append(("Authorize", {"id_token": id_token}))
        return mres201.Authorize(id_token_info={"status": "Accepted"})

    @mh_on("TransactionEvent")
    def transaction_event(self, **kw: Any) -> Any:
        self.received.append(("TransactionEvent", kw))
        return mres201.TransactionEvent()


class TheirCsms16(MhCp16):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.received: list[tuple[str, dict[str, Any]]] = []

    @mh_on("Authorize")
    def authorize(self, id_tag: str) -> Any:
        self.received.append(("Authorize", {"id_tag": id_tag}))
        return mres16.Authorize(id_tag_info={"status": "Accepted"})

    @mh_on("StartTransaction")
    def start_transaction(self, **kw: Any) -> Any:
        self.received.append(("StartTransaction", kw))
        return mres16.StartTransaction(transaction_id=501, id_tag_info={"status": "Accepted"})

    @mh_on("MeterValues")
    def meter_values(self, **kw: Any) -> Any:
        self.received.append(("MeterValues", kw))
        return mres16.MeterValues()

    @mh_on("StopTransaction")
    def stop_transaction(self, **kw: Any) -> Any:
        self.received.append(("StopTransaction", kw))
        return mres16.StopTransaction()


async def wait_for(predicate: Any) -> None:
    for _ in range(2000):
        if predicate():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not reached")


async def run_against(cls: type[Any], subprotocol: str, version: str, directory: Path,
                      scenario: Any, **station_kwargs: Any) -> None:
    peers: list[Any] = []

    async def on_connect(ws: Any) -> None:
        peer = cls(identity_from_path(ws.request.path), ws)
        peers.append(peer)
        with contextlib.suppress(websockets.ConnectionClosed):
            await peer.start()

    server = await websockets.serve(on_connect, "127.0.0.1", 0, subprotocols=[subprotocol])
    port = server.sockets[0].getsockname()[1]
    station = Station(IDENTITY, version=version, directory=directory, **station_kwargs)
    module = v16 if version == "1.6" else v201
    client = ChargePointClient(station, f"ws://127.0.0.1:{port}/ocpp", ChargePointConfig(
        versions=(module,), backoff=BackoffConfig(initial=0.05, maximum=0.2), ping_interval=None))
    tasks = [asyncio.create_task(client.run()), asyncio.create_task(station.run())]
    try:
        await asyncio.wait_for(station.wait_connected(), 10)
        await wait_for(lambda: peers)
        await scenario(peers[0], station)
    finally:
        await client.stop()
        for t in tasks:
            t.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        server.close()
        await server.wait_closed()
        station.close_stores()


def test_their_csms_drives_our_station_201(tmp_path: Path) -> None:
    async def scenario(csms: Any, station: Station) -> None:
        res = await csms.call(mcall201.GetVariables(get_variable_data=[
            {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}},
            {"component": {"name": "Nope"}, "variable": {"name": "X"}}]), suppress=False)
        assert [(r["attribute_status"], r.get("attribute_value")) for r in res.get_variable_result] == [
            ("Accepted", "300"), ("UnknownComponent", None)]
        res = await csms.call(mcall201.SetVariables(set_variable_data=[
            {"component": {"name": "SampledDataCtrlr"}, "variable": {"name": "TxUpdatedInterval"},
             "attribute_value": "1"},
            {"component": {"name": "SecurityCtrlr"}, "variable": {"name": "Identity"}, "attribute_value": "X1"}]),
            suppress=False)
        assert [r["attribute_status"] for r in res.set_variable_result] == ["Accepted", "RebootRequired"]

        res = await csms.call(mcall201.GetBaseReport(request_id=7, report_base="FullInventory"), suppress=False)
        assert res.status == "Accepted"
        await wait_for(lambda: any(k == "NotifyReport" and not kw.get("tbc") for k, kw in csms.received))
        reports = [kw for k, kw in csms.received if k == "NotifyReport"]
        assert sum(len(r["report_data"]) for r in reports) == len(station.device_model.variables())

        res = await csms.call(mcall201.SendLocalList(version_number=3, update_type="Full", local_authorization_list=[
            {"id_token": {"id_token": "LOCAL1", "type": "ISO14443"}, "id_token_info": {"status": "Accepted"}}]),
            suppress=False)
        assert res.status == "Accepted"
        assert (await csms.call(mcall201.GetLocalListVersion(), suppress=False)).version_number == 3

        res = await csms.call(mcall201.SetChargingProfile(evse_id=1, charging_profile={
            "id": 1, "stack_level": 0, "charging_profile_purpose": "TxDefaultProfile",
            "charging_profile_kind": "Absolute",
            "charging_schedule": [{"id": 1, "start_schedule": "2020-01-01T00:00:00Z", "charging_rate_unit": "A",
                                   "charging_schedule_period": [{"start_period": 0, "limit": 13.0}]}]}),
            suppress=False)
        assert res.status == "Accepted"
        res = await csms.call(mcall201.GetCompositeSchedule(duration=600, evse_id=1, charging_rate_unit="W"),
                              suppress=False)
        assert res.status == "Accepted"
        assert res.schedule["charging_schedule_period"][0]["limit"] == 13.0 * 230 * 3

        assert await station.authorize(1, {"idToken": "CARD", "type": "ISO14443"})
        station.update_meter(1, {"Energy.Active.Import.Register": 100.0, "Power.Active.Import": 8970.0})
        station.charger_event(EVConnected(1))
        station.charger_event(PowerPathClosed(1))
        await wait_for(lambda: any(k == "TransactionEvent" and kw["trigger_reason"] == "MeterValuePeriodic"
                                   for k, kw in csms.received))
        tx_id = station.transactions.transaction_ref(1)
        res = await csms.call(mcall201.RequestStopTransaction(transaction_id=tx_id), suppress=False)
        assert res.status == "Accepted"
        await wait_for(lambda: any(k == "TransactionEvent" and kw["event_type"] == "Ended" for k, kw in csms.received))
        events = [kw for k, kw in csms.received if k == "TransactionEvent"]
        assert [e["seq_no"] for e in events] == list(range(len(events)))
        assert events[0]["event_type"] == "Started" and events[-1]["trigger_reason"] == "RemoteStop"

    asyncio.run(run_against(TheirCsms201, "ocpp2.0.1", "2.0.1", tmp_path, scenario))


def test_their_csms_drives_our_station_16(tmp_path: Path) -> None:
    async def scenario(csms: Any, station: Station) -> None:
        res = await csms.call(mcall16.GetConfiguration(key=["HeartbeatInterval", "SupportedFeatureProfiles"]),
                              suppress=False)
        assert [k["key"] for k in res.configuration_key] == ["HeartbeatInterval", "SupportedFeatureProfiles"]
        res = await csms.call(mcall16.ChangeConfiguration(key="MeterValueSampleInterval", value="1"), suppress=False)
        assert res.status == "Accepted"
        res = await csms.call(mcall16.ChangeConfiguration(key="Unknown", value="1"), suppress=False)
        assert res.status == "NotSupported"
        res = await csms.call(mcall16.SendLocalList(list_version=2, update_type="Full", local_authorization_list=[
            {"id_tag": "LOCAL1", "id_tag_info": {"status": "Accepted"}}]), suppress=False)
        assert res.status == "Accepted"
        assert (await csms.call(mcall16.GetLocalListVersion(), suppress=False)).list_version == 2

        station.update_meter(1, {"Energy.Active.Import.Register": 2000.0})
        station.charger_event(EVConnected(1))
        res = await csms.call(mcall16.RemoteStartTransaction(id_tag="REMOTE", connector_id=1), suppress=False)
        assert res.status == "Accepted"
        await wait_for(lambda: any(k == "MeterValues" for k, _ in csms.received))
        res = await csms.call(mcall16.RemoteStopTransaction(transaction_id=501), suppress=False)
        assert res.status == "Accepted"
        await wait_for(lambda: any(k == "StopTransaction" for k, _ in csms.received))
        names = [k for k, _ in csms.received]
        assert names[:3] == ["Authorize", "StartTransaction", "MeterValues"] and names[-1] == "StopTransaction"
        stop = csms.received[-1][1]
        assert stop["transaction_id"] == 501 and stop["meter_stop"] == 2000 and stop["reason"] == "Remote"
        assert all(kw["transaction_id"] == 501 for k, kw in csms.received if k == "MeterValues")

    asyncio.run(run_against(TheirCsms16, "ocpp1.6", "1.6", tmp_path, scenario))


class TheirBootingCsms201(TheirCsms201):
    @mh_on("BootNotification")
    def boot_notification(self, **kw: Any) -> Any:
        self.received.append(("BootNotification", kw))
        return mres201.BootNotification(current_time="2024-05-01T00:00:00Z", interval=300, status="Accepted")

    @mh_on("StatusNotification")
    def status_notification(self, **kw: Any) -> Any:
        self.received.append(("StatusNotification", kw))
        return mres201.StatusNotification()


class TheirBootingCsms16(TheirCsms16):
    @mh_on("BootNotification")
    def boot_notification(self, **kw: Any) -> Any:
        self.received.append(("BootNotification", kw))
        return mres16.BootNotification(current_time="2024-05-01T00:00:00Z", interval=300, status="Accepted")

    @mh_on("StatusNotification")
    def status_notification(self, **kw: Any) -> Any:
        self.received.append(("StatusNotification", kw))
        return mres16.StatusNotification()


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
def test_their_csms_takes_the_cores_card_flow_and_statuses(tmp_path: Path, version: str) -> None:
    """The core's boot, Authorize, transaction and StatusNotification messages, validated by their library."""
    card: Any = "CARD" if version == "1.6" else {"idToken": "CARD", "type": "ISO14443"}
    key = "status" if version == "1.6" else "connector_status"

    async def scenario(csms: Any, station: Station) -> None:
        def statuses() -> list[str]:
            return [kw[key] for k, kw in csms.received if k == "StatusNotification"
                    and kw.get("connector_id", kw.get("evse_id")) == 1]

        await wait_for(lambda: statuses() == ["Available"])
        station.plug_in(1)
        station.present_card(1, card)
        await wait_for(lambda: station.app.transaction_ref(1) is not None or len(statuses()) > 1)
        station.power_path(1, True)
        station.energy_state(1, "Charging")
        await wait_for(lambda: any(k in ("StartTransaction", "TransactionEvent") for k, _ in csms.received))
        station.present_card(1, card)
        station.unplug(1)
        await wait_for(lambda: statuses()[-1:] == ["Available"] and len(statuses()) > 2)
        assert csms.received[0][0] == "BootNotification"
        if version == "1.6":
            assert statuses() == ["Available", "Preparing", "Charging", "Finishing", "Available"]
            await wait_for(lambda: any(k == "StopTransaction" for k, _ in csms.received))
            stop = next(kw for k, kw in csms.received if k == "StopTransaction")
            assert stop["reason"] == "Local" and stop["transaction_id"] == 501
        else:
            assert statuses() == ["Available", "Occupied", "Available"]
            await wait_for(lambda: any(k == "TransactionEvent" and kw["event_type"] == "Ended"
                                       for k, kw in csms.received))
            ended = next(kw for k, kw in csms.received if k == "TransactionEvent" and kw["event_type"] == "Ended")
            assert ended["transaction_info"]["stopped_reason"] == "Local"

    boot: dict[str, Any] = ({"chargePointVendor": "v", "chargePointModel": "m"} if version == "1.6"
                            else {"reason": "PowerUp", "chargingStation": {"model": "m", "vendorName": "v"}})
    csms_cls = TheirBootingCsms16 if version == "1.6" else TheirBootingCsms201
    subprotocol = "ocpp1.6" if version == "1.6" else "ocpp2.0.1"
    asyncio.run(run_against(csms_cls, subprotocol, version, tmp_path, scenario, boot=boot,
                            status_notifications=True))
