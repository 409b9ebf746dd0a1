"""Interop with mobilityhouse's ``ocpp`` package over real websockets on loopback, both directions, 1.6 and 2.0.1.

Their CSMS with our charge point, our CSMS with their charge point.  Their handlers never call back into
the peer from inside a handler (their library would deadlock); ours do, and that works against them too.
"""

from __future__ import annotations

import asyncio
import contextlib
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
from evcharge.ocpp.charge_point import ChargePointConfig
from evcharge.ocpp.csms import Csms, CsmsConfig, CsmsSecurity
from evcharge.ocpp.transport.websocket import ChargePointClient, identity_from_path, serve_csms
from ocpp import exceptions as mh_errors

from ..roles.scenario import GOOD_TOKEN, NOW, Cp16, Cp201, Csms16, Csms201, meter_values_16, meter_values_201

pytestmark = pytest.mark.interop
IDENTITY = "MH-CP-1"


# ------------------------------------------------------------------------------------------ their CSMS


class TheirCsms201(MhCp201):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.received: list[tuple[str, dict[str, Any]]] = []

    @mh_on("BootNotification")
    def boot(self, **kw: Any) -> Any:
        self.received.append(("BootNotification", kw))
        return mres201.BootNotification(current_time=NOW, interval=300, status="Accepted")

    @mh_on("Authorize")
    def authorize(self, id_token: dict[str, Any], **kw: Any) -> Any:
        self.received.append(("Authorize", {"id_token": id_token}))
        return mres201.Authorize(id_token_info={"status": "Accepted" if id_token["id_token"] == GOOD_TOKEN
                                                else "Invalid"})

    @mh_on("TransactionEvent")
    def transaction_event(self, **kw: Any) -> Any:
        self.received.append(("TransactionEvent", kw))
        return mres201.TransactionEvent()

    @mh_on("Heartbeat")
    def heartbeat(self, **kw: Any) -> Any:
        return mres201.Heartbeat(current_time=NOW)


class TheirCsms16(MhCp16):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.received: list[tuple[str, dict[str, Any]]] = []

    @mh_on("BootNotification")
    def boot(self, **kw: Any) -> Any:
        self.received.append(("BootNotification", kw))
        return mres16.BootNotification(current_time=NOW, interval=300, status="Accepted")

    @mh_on("Authorize")
    def authorize(self, id_tag: str) -> Any:
        return mres16.Authorize(id_tag_info={"status": "Accepted" if id_tag == GOOD_TOKEN else "Invalid"})

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


async def their_csms(cls: type[Any], subprotocol: str) -> tuple[Any, list[Any]]:
    peers: list[Any] = []

    async def on_connect(ws: Any) -> None:
        peer = cls(identity_from_path(ws.request.path), ws)
        peers.append(peer)
        with contextlib.suppress(websockets.ConnectionClosed):
            await peer.start()

    server = await websockets.serve(on_connect, "127.0.0.1", 0, subprotocols=[subprotocol])
    return server, peers


async def wait_for(predicate: Any) -> None:
    for _ in range(2000):
        if predicate():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not reached")


def test_their_csms_our_charge_point_201() -> None:
    async def main() -> None:
        server, peers = await their_csms(TheirCsms201, "ocpp2.0.1")
        port = server.sockets[0].getsockname()[1]
        cp = Cp201(IDENTITY)
        client = ChargePointClient(cp, f"ws://127.0.0.1:{port}/ocpp", ChargePointConfig(versions=(v201,)))
        task = asyncio.create_task(client.run())
        await asyncio.wait_for(cp.wait_connected(), 10)
        await wait_for(lambda: peers)
        csms = peers[0]
        assert csms.id == IDENTITY

        boot = await cp.call(v201.BootNotificationRequest.from_json(
            {"chargingStation": {"vendorName": "evcharge", "model": "interop"}, "reason": "PowerUp"}))
        assert boot.status == "Accepted" and boot.interval == 300
        assert csms.received[0][1]["charging_station"] == {"vendor_name": "evcharge", "model": "interop"}
        good = await cp.call(v201.AuthorizeRequest.from_json({"idToken": {"idToken": GOOD_TOKEN, "type": "ISO14443"}}))
        assert good.id_token_info.status == "Accepted"

        await cp.transaction_event("Started", "Authorized", "tx-9", meterValue=meter_values_201(0.0),
                                   idToken={"idToken": GOOD_TOKEN, "type": "ISO14443"})
        await cp.transaction_event("Updated", "MeterValuePeriodic", "tx-9", meterValue=meter_values_201(321.5))
        tx = [kw for name, kw in csms.received if name == "TransactionEvent"]
        assert tx[1]["meter_value"][0]["sampled_value"][0]["value"] == 321.5
        assert len(tx[1]["meter_value"][0]["sampled_value"]) == 10

        # their CSMS calls us; our handler calls them back (TransactionEvent) before answering
        res = await csms.call(mcall201.RequestStartTransaction(
            id_token={"id_token": GOOD_TOKEN, "type": "ISO14443"}, remote_start_id=5), suppress=False)
        assert res.status == "Accepted" and res.transaction_id == "remote-1"
        assert csms.received[-1][1]["transaction_info"] == {"transaction_id": "remote-1", "remote_start_id": 5}
        res = await csms.call(mcall201.RequestStopTransaction(transaction_id="remote-1"), suppress=False)
        assert res.status == "Accepted"
        res = await csms.call(mcall201.Reset(type="Immediate"), suppress=False)
        assert res.status == "Accepted" and cp.received[-1] == v201.ResetRequest(type=v201.ResetEnumType.IMMEDIATE)
        # no handler on our side: NotSupported, which their library understands
        with pytest.raises(mh_errors.NotSupportedError):
            await csms.call(mcall201.ClearCache(), suppress=False)

        await client.stop()
        await asyncio.wait_for(task, 10)
        server.close()
        await server.wait_closed()

    asyncio.run(main())


def test_their_csms_our_charge_point_16() -> None:
    async def main() -> None:
        server, peers = await their_csms(TheirCsms16, "ocpp1.6")
        port = server.sockets[0].getsockname()[1]
        cp = Cp16(IDENTITY)
        client = ChargePointClient(cp, f"ws://127.0.0.1:{port}/", ChargePointConfig(versions=(v201, v16)))
        task = asyncio.create_task(client.run())
        await asyncio.wait_for(cp.wait_connected(), 10)
        assert cp.version is v16  # we offered 2.0.1 first; their server only speaks 1.6
        await wait_for(lambda: peers)
        csms = peers[0]

        boot = await cp.call(v16.BootNotificationRequest(charge_point_vendor="evcharge", charge_point_model="x"))
        assert boot.status == "Accepted"
        assert (await cp.call(v16.AuthorizeRequest(id_tag="nope"))).id_tag_info.status == "Invalid"
        tx = await cp.start_transaction(GOOD_TOKEN)
        assert tx == 501
        await cp.call(v16.MeterValuesRequest.from_json({"connectorId": 1, "transactionId": tx,
                                                        "meterValue": [meter_values_16(10)]}))
        await cp.stop_transaction("Local")
        names = [n for n, _ in csms.received]
        assert names == ["BootNotification", "StartTransaction", "MeterValues", "StopTransaction"]
        mv = csms.received[2][1]["meter_value"][0]["sampled_value"]
        assert [s["value"] for s in mv] == [str(10 + i) for i in range(10)]

        res = await csms.call(mcall16.RemoteStartTransaction(id_tag=GOOD_TOKEN, connector_id=1), suppress=False)
        assert res.status == "Accepted" and cp.tx == 501
        res = await csms.call(mcall16.RemoteStopTransaction(transaction_id=501), suppress=False)
        assert res.status == "Accepted" and cp.tx is None
        res = await csms.call(mcall16.Reset(type="Hard"), suppress=False)
        assert res.status == "Accepted" and cp.received[-1].type == "Hard"

        await client.stop()
        await asyncio.wait_for(task, 10)
        server.close()
        await server.wait_closed()

    asyncio.run(main())


# ------------------------------------------------------------------------------------------ their charge point


class TheirCp201(MhCp201):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.received: list[tuple[str, dict[str, Any]]] = []

    @mh_on("Reset")
    def reset(self, **kw: Any) -> Any:
        self.received.append(("Reset", kw))
        return mres201.Reset(status="Accepted")

    @mh_on("RequestStartTransaction")
    def remote_start(self, **kw: Any) -> Any:
        self.received.append(("RequestStartTransaction", kw))
        return mres201.RequestStartTransaction(status="Accepted")


class TheirCp16(MhCp16):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.received: list[tuple[str, dict[str, Any]]] = []

    @mh_on("Reset")
    def reset(self, **kw: Any) -> Any:
        self.received.append(("Reset", kw))
        return mres16.Reset(status="Accepted")

    @mh_on("RemoteStartTransaction")
    def remote_start(self, **kw: Any) -> Any:
        self.received.append(("RemoteStartTransaction", kw))
        return mres16.RemoteStartTransaction(status="Accepted")


async def our_csms() -> tuple[Csms, Any, int]:
    # one endpoint for both versions: the handler class follows the subprotocol of the connection
    csms = Csms(CsmsConfig(versions=(v201, v16), security=CsmsSecurity()), {"2.0.1": Csms201, "1.6": Csms16})
    server = await serve_csms(csms, "127.0.0.1", 0)
    return csms, server, server.sockets[0].getsockname()[1]


def test_our_csms_their_charge_point_201() -> None:
    async def main() -> None:
        csms, server, port = await our_csms()
        async with websockets.connect(f"ws://127.0.0.1:{port}/ocpp/{IDENTITY}", subprotocols=["ocpp2.0.1"]) as ws:
            assert ws.subprotocol == "ocpp2.0.1"
            cp = TheirCp201(IDENTITY, ws)
            reader = asyncio.create_task(cp.start())
            # our boot handler calls their Reset before answering: their reader answers it meanwhile
            res = await cp.call(mcall201.BootNotification(charging_station={"vendor_name": "mh", "model": "m"},
                                                          reason="PowerUp"), suppress=False)
            assert res.status == "Accepted" and res.interval == 300
            assert cp.received[0] == ("Reset", {"type": "OnIdle"})
            handler = csms.connections[IDENTITY]
            assert isinstance(handler, Csms201)
            assert handler.received[0].charging_station.vendor_name == "mh"

            res = await cp.call(mcall201.Authorize(id_token={"id_token": GOOD_TOKEN, "type": "ISO14443"}))
            assert res.id_token_info["status"] == "Accepted"
            meter = [{"timestamp": NOW, "sampled_value": [{"value": 10.0 * i, "measurand": "Voltage"}
                                                          for i in range(10)]}]
            await cp.call(mcall201.TransactionEvent(event_type="Updated", timestamp=NOW,
                                                    trigger_reason="MeterValuePeriodic", seq_no=1,
                                                    transaction_info={"transaction_id": "t1"}, meter_value=meter),
                          suppress=False)
            ev = handler.received[-1]
            assert isinstance(ev, v201.TransactionEventRequest)
            assert [s.value for s in ev.meter_value[0].sampled_value] == [10.0 * i for i in range(10)]

            res = await csms.call(IDENTITY, v201.RequestStartTransactionRequest.from_json(
                {"idToken": {"idToken": GOOD_TOKEN, "type": "ISO14443"}, "remoteStartId": 3}))
            assert res.status == "Accepted"
            assert cp.received[-1][1]["remote_start_id"] == 3
            res = await handler.call(v201.ResetRequest(type=v201.ResetEnumType.IMMEDIATE))
            assert res.status == "Accepted" and cp.received[-1] == ("Reset", {"type": "Immediate"})

            # a schema error from their side gets the 2.0.1 code
            with pytest.raises(mh_errors.OccurrenceConstraintViolationError):
                await cp.call(mcall201.BootNotification(charging_station={"model": "m"}, reason="PowerUp"),
                              suppress=False, skip_schema_validation=True)
            reader.cancel()
        server.close()
        await server.wait_closed()

    asyncio.run(main())


def test_our_csms_their_charge_point_16() -> None:
    async def main() -> None:
        csms, server, port = await our_csms()
        async with websockets.connect(f"ws://127.0.0.1:{port}/{IDENTITY}", subprotocols=["ocpp1.6"]) as ws:
            cp = TheirCp16(IDENTITY, ws)
            reader = asyncio.create_task(cp.start())
            res = await cp.call(mcall16.BootNotification(charge_point_vendor="mh", charge_point_model="m"))
            assert res.status == "Accepted"
            handler = csms.connections[IDENTITY]
            assert isinstance(handler, Csms16)
            res = await cp.call(mcall16.StartTransaction(connector_id=1, id_tag=GOOD_TOKEN, meter_start=0,
                                                         timestamp=NOW))
            tx = res.transaction_id
            assert tx == handler.next_tx
            await cp.call(mcall16.MeterValues(connector_id=1, transaction_id=tx, meter_value=[
                {"timestamp": NOW, "sampled_value": [{"value": str(i), "unit": "Celsius"} for i in range(10)]}]),
                suppress=False)
            mv = handler.received[-1]
            assert isinstance(mv, v16.MeterValuesRequest) and len(mv.meter_value[0].sampled_value) == 10
            await cp.call(mcall16.StopTransaction(meter_stop=10, timestamp=NOW, transaction_id=tx), suppress=False)

            res = await handler.call(v16.RemoteStartTransactionRequest(id_tag=GOOD_TOKEN))
            assert res.status == "Accepted" and cp.received[-1][0] == "RemoteStartTransaction"
            res = await handler.call(v16.ResetRequest.from_json({"type": "Soft"}))
            assert res.status == "Accepted" and cp.received[-1] == ("Reset", {"type": "Soft"})

            # schema errors get the official 1.6 codes (their library answers 2.x codes here)
            with pytest.raises(mh_errors.OccurenceConstraintViolationError):
                await cp.call(mcall16.BootNotification(charge_point_vendor="mh", charge_point_model=None),
                              suppress=False, skip_schema_validation=True)
            with pytest.raises(mh_errors.PropertyConstraintViolationError):
                await cp.call(mcall16.Authorize(id_tag="x" * 21), suppress=False, skip_schema_validation=True)
            with pytest.raises(mh_errors.TypeConstraintViolationError):
                await cp.call(mcall16.StartTransaction(connector_id="one", id_tag="a", meter_start=0, timestamp=NOW),
                              suppress=False, skip_schema_validation=True)
            reader.cancel()
        server.close()
        await server.wait_closed()

    asyncio.run(main())
