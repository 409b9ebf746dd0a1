"""A charge point and a CSMS built on evcharge's roles, for 1.6 and 2.0.1, used by the loopback tests.

Each side records what it received, so the tests can assert what crossed the wire.
"""

from __future__ import annotations

import asyncio
from typing import Any

from evcharge.ocpp import v16, v201
from evcharge.ocpp.charge_point import ChargePoint
from evcharge.ocpp.csms import Csms, CsmsHandler
from evcharge.ocpp.routing import on

NOW = "2024-05-01T12:00:00Z"
GOOD_TOKEN = "04A1B2C3D4"


class Csms201(CsmsHandler):
    def __init__(self, identity: str, csms: Csms) -> None:
        super().__init__(identity, csms)
        self.received: list[Any] = []
        self.reset_during_boot: Any = None

    @on(v201.Action.BOOT_NOTIFICATION)
    async def boot(self, request: v201.BootNotificationRequest) -> v201.BootNotificationResponse:
        self.received.append(request)
        # calling the charge point back before answering must not deadlock
        self.reset_during_boot = await self.call(v201.ResetRequest(type=v201.ResetEnumType.ON_IDLE))
        return v201.BootNotificationResponse(current_time=NOW, interval=300,
                                             status=v201.RegistrationStatusEnumType.ACCEPTED)

    @on(v201.Action.HEARTBEAT)
    def heartbeat(self, request: v201.HeartbeatRequest) -> v201.HeartbeatResponse:
        return v201.HeartbeatResponse(current_time=NOW)

    @on(v201.Action.AUTHORIZE)
    async def authorize(self, request: v201.AuthorizeRequest) -> Any:
        self.received.append(request)
        status = "Accepted" if request.id_token.id_token == GOOD_TOKEN else "Invalid"
        return v201.AuthorizeResponse.from_json({"idTokenInfo": {"status": status}})

    @on(v201.Action.TRANSACTION_EVENT)
    async def transaction_event(self, request: v201.TransactionEventRequest) -> v201.TransactionEventResponse:
        self.received.append(request)
        return v201.TransactionEventResponse()


class Cp201(ChargePoint):
    def __init__(self, identity: str) -> None:
        super().__init__(identity)
        self.received: list[Any] = []
        self.seq = 0

    def _next_seq(self) -> int:
        self.seq += 1
        return self.seq

    async def transaction_event(self, event: str, trigger: str, tx: str, **extra: Any) -> Any:
        payload = {"eventType": event, "timestamp": NOW, "triggerReason": trigger, "seqNo": self._next_seq(),
                   "transactionInfo": {"transactionId": tx}, **extra}
        return await self.call(v201.TransactionEventRequest.from_json(payload))

    @on(v201.Action.RESET)
    def reset(self, request: v201.ResetRequest) -> v201.ResetResponse:
        self.received.append(request)
        return v201.ResetResponse.from_json({"status": "Accepted"})

    @on(v201.Action.REQUEST_START_TRANSACTION)
    async def remote_start(self, request: v201.RequestStartTransactionRequest) -> Any:
        self.received.append(request)
        # the transaction starts (and is reported) before the answer goes out: a call back to the caller
        await self.transaction_event("Started", "RemoteStart", "remote-1",
                                     idToken=request.id_token.to_json(),
                                     transactionInfo={"transactionId": "remote-1",
                                                      "remoteStartId": request.remote_start_id})
        return v201.RequestStartTransactionResponse.from_json({"status": "Accepted", "transactionId": "remote-1"})

    @on(v201.Action.REQUEST_STOP_TRANSACTION)
    async def remote_stop(self, request: v201.RequestStopTransactionRequest) -> Any:
        self.received.append(request)
        asyncio.get_running_loop().create_task(
            self.transaction_event("Ended", "RemoteStop", request.transaction_id,
                                   transactionInfo={"transactionId": request.transaction_id,
                                                    "stoppedReason": "Remote"}))
        return v201.RequestStopTransactionResponse.from_json({"status": "Accepted"})


def meter_values_201(energy: float) -> list[dict[str, Any]]:
    measurands = ["Energy.Active.Import.Register", "Power.Active.Import", "Current.Import", "Voltage",
                  "SoC", "Frequency", "Power.Factor", "Power.Offered", "Current.Offered", "Current.Export"]
    return [{"timestamp": NOW, "sampledValue": [{"value": energy if m.startswith("Energy") else 10.0 + i,
                                                 "measurand": m} for i, m in enumerate(measurands)]}]


async def run_201_session(cp: Cp201, csms: Csms, handler_identity: str) -> None:
    """Boot, authorize, a transaction with meter values, remote start/stop, reset -- asserting each step."""
    boot = await cp.call(v201.BootNotificationRequest.from_json(
        {"chargingStation": {"vendorName": "evcharge", "model": "loopback"}, "reason": "PowerUp"}))
    assert boot.status == v201.RegistrationStatusEnumType.ACCEPTED and boot.interval == 300
    handler = csms.connections[handler_identity]
    assert isinstance(handler, Csms201)
    assert handler.reset_during_boot.status == "Accepted"
    assert isinstance(cp.received[0], v201.ResetRequest)

    good = await cp.call(v201.AuthorizeRequest.from_json({"idToken": {"idToken": GOOD_TOKEN, "type": "ISO14443"}}))
    bad = await cp.call(v201.AuthorizeRequest.from_json({"idToken": {"idToken": "FFFF", "type": "ISO14443"}}))
    assert good.id_token_info.status == "Accepted" and bad.id_token_info.status == "Invalid"

    token = {"idToken": GOOD_TOKEN, "type": "ISO14443"}
    await cp.transaction_event("Started", "Authorized", "tx-1", idToken=token, meterValue=meter_values_201(0.0))
    await cp.transaction_event("Updated", "MeterValuePeriodic", "tx-1", meterValue=meter_values_201(1234.5))
    await cp.transaction_event("Ended", "StopAuthorized", "tx-1", meterValue=meter_values_201(2000.0),
                               transactionInfo={"transactionId": "tx-1", "stoppedReason": "Local"})
    events = [r for r in handler.received if isinstance(r, v201.TransactionEventRequest)]
    assert [e.event_type for e in events] == ["Started", "Updated", "Ended"]
    sample = events[1].meter_value[0].sampled_value  # type: ignore[index]
    assert len(sample) == 10 and sample[0].value == 1234.5
    assert sample[0].measurand == "Energy.Active.Import.Register"

    started = await csms.call(handler_identity, v201.RequestStartTransactionRequest.from_json(
        {"idToken": token, "remoteStartId": 77, "evseId": 1}))
    assert started.status == "Accepted" and started.transaction_id == "remote-1"
    remote_event = [r for r in handler.received if isinstance(r, v201.TransactionEventRequest)][-1]
    assert remote_event.transaction_info.remote_start_id == 77 and remote_event.trigger_reason == "RemoteStart"

    stopped = await handler.call(v201.RequestStopTransactionRequest(transaction_id="remote-1"))
    assert stopped.status == "Accepted"
    for _ in range(2000):
        ended = [r for r in handler.received if isinstance(r, v201.TransactionEventRequest) and r.event_type == "Ended"]
        if len(ended) == 2:
            break
        await asyncio.sleep(0.01)
    assert ended[-1].transaction_info.stopped_reason == "Remote"

    reset = await handler.call(v201.ResetRequest(type=v201.ResetEnumType.IMMEDIATE))
    assert reset.status == "Accepted"
    assert cp.received[-1] == v201.ResetRequest(type=v201.ResetEnumType.IMMEDIATE)


# ------------------------------------------------------------------------------------------------ 1.6


class Csms16(CsmsHandler):
    def __init__(self, identity: str, csms: Csms) -> None:
        super().__init__(identity, csms)
        self.received: list[Any] = []
        self.next_tx = 100

    @on(v16.Action.BOOT_NOTIFICATION)
    def boot(self, request: v16.BootNotificationRequest) -> Any:
        self.received.append(request)
        return v16.BootNotificationResponse.from_json({"status": "Accepted", "currentTime": NOW, "interval": 300})

    @on(v16.Action.AUTHORIZE)
    def authorize(self, request: v16.AuthorizeRequest) -> Any:
        self.received.append(request)
        status = "Accepted" if request.id_tag == GOOD_TOKEN else "Invalid"
        return v16.AuthorizeResponse.from_json({"idTagInfo": {"status": status}})

    @on(v16.Action.START_TRANSACTION)
    def start(self, request: v16.StartTransactionRequest) -> Any:
        self.received.append(request)
        self.next_tx += 1
        return v16.StartTransactionResponse.from_json({"transactionId": self.next_tx,
                                                        "idTagInfo": {"status": "Accepted"}})

    @on(v16.Action.METER_VALUES)
    def meter_values(self, request: v16.MeterValuesRequest) -> Any:
        self.received.append(request)
        return v16.MeterValuesResponse()

    @on(v16.Action.STOP_TRANSACTION)
    def stop(self, request: v16.StopTransactionRequest) -> Any:
        self.received.append(request)
        return v16.StopTransactionResponse()


class Cp16(ChargePoint):
    def __init__(self, identity: str) -> None:
        super().__init__(identity)
        self.received: list[Any] = []
        self.tx: int | None = None

    async def start_transaction(self, id_tag: str) -> int:
        res = await self.call(v16.StartTransactionRequest(connector_id=1, id_tag=id_tag, meter_start=0,
                                                          timestamp=NOW))
        self.tx = res.transaction_id
        return self.tx

    async def stop_transaction(self, reason: str) -> None:
        assert self.tx is not None
        await self.call(v16.StopTransactionRequest.from_json(
            {"meterStop": 2000, "timestamp": NOW, "transactionId": self.tx, "reason": reason}))
        self.tx = None

    @on(v16.Action.REMOTE_START_TRANSACTION)
    async def remote_start(self, request: v16.RemoteStartTransactionRequest) -> Any:
        self.received.append(request)
        await self.start_transaction(request.id_tag)  # call back before answering
        return v16.RemoteStartTransactionResponse.from_json({"status": "Accepted"})

    @on(v16.Action.REMOTE_STOP_TRANSACTION)
    async def remote_stop(self, request: v16.RemoteStopTransactionRequest) -> Any:
        self.received.append(request)
        ok = request.transaction_id == self.tx
        if ok:
            await self.stop_transaction("Remote")
        return v16.RemoteStopTransactionResponse.from_json({"status": "Accepted" if ok else "Rejected"})

    @on(v16.Action.RESET)
    def reset(self, request: v16.ResetRequest) -> Any:
        self.received.append(request)
        return v16.ResetResponse.from_json({"status": "Accepted"})


def meter_values_16(energy: int) -> dict[str, Any]:
    units = ["Wh", "W", "A", "V", "Percent", "Celsius", "Celcius", "kWh", "kW", "A"]
    return {"timestamp": NOW, "sampledValue": [{"value": str(energy + i), "unit": u} for i, u in enumerate(units)]}


async def run_16_session(cp: Cp16, csms: Csms, identity: str) -> None:
    boot = await cp.call(v16.BootNotificationRequest(charge_point_vendor="evcharge", charge_point_model="loopback"))
    assert boot.status == "Accepted" and boot.interval == 300
    handler = csms.connections[identity]
    assert isinstance(handler, Csms16)
    assert (await cp.call(v16.AuthorizeRequest(id_tag=GOOD_TOKEN))).id_tag_info.status == "Accepted"
    assert (await cp.call(v16.AuthorizeRequest(id_tag="FFFF"))).id_tag_info.status == "Invalid"

    tx = await cp.start_transaction(GOOD_TOKEN)
    await cp.call(v16.MeterValuesRequest.from_json({"connectorId": 1, "transactionId": tx,
                                                    "meterValue": [meter_values_16(1000)]}))
    await cp.stop_transaction("Local")
    mv = [r for r in handler.received if isinstance(r, v16.MeterValuesRequest)]
    assert len(mv) == 1 and mv[0].transaction_id == tx
    values = mv[0].meter_value[0].sampled_value
    assert [s.value for s in values] == [str(1000 + i) for i in range(10)]
    assert values[6].unit == "Celcius"  # the 1.6 spelling real meters send is accepted

    res = await handler.call(v16.RemoteStartTransactionRequest(id_tag=GOOD_TOKEN, connector_id=1))
    assert res.status == "Accepted" and cp.tx == handler.next_tx
    res = await handler.call(v16.RemoteStopTransactionRequest(transaction_id=handler.next_tx))
    assert res.status == "Accepted" and cp.tx is None
    stops = [r for r in handler.received if isinstance(r, v16.StopTransactionRequest)]
    assert [s.reason for s in stops] == ["Local", "Remote"]
    res = await handler.call(v16.ResetRequest.from_json({"type": "Soft"}))
    assert res.status == "Accepted" and cp.received[-1].type == "Soft"
