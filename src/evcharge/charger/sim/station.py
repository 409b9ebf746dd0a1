"""The charge point's OCPP side in one process, without sockets: :class:`LocalStation`.

It composes what :class:`~evcharge.ocpp.functions.transport.station.Station` composes over a websocket -- the
charge-point core (:class:`~evcharge.ocpp.functions.application.ChargePointApp`), the transaction manager and the
authorization, on a device model preset with :meth:`~evcharge.charger.EvseManagerConfig.ocpp_settings` -- and hands
every call to ``csms``, a function that answers at once (or leaves it for :meth:`LocalStation.answer`). The EVSE
manager's :class:`~evcharge.charger.events.StationInput` and :class:`~evcharge.charger.events.MeterUpdate` go in
through :meth:`LocalStation.app_input` and :meth:`LocalStation.update_meter`, the same two methods as the
``Station``'s; the core's decisions for the manager wait in :attr:`LocalStation.results`.

The EVSE manager's tests and :class:`~evcharge.charger.sim.bench.Bench` use it: the OCPP 1.6 or 2.0.1 messages a
session makes are the ones a real station would send, checked against the schemas by the tests.
"""

from __future__ import annotations

import json
import random
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from evcharge.clock import WallClock
from evcharge.ocpp.functions import application as cp
from evcharge.ocpp.functions.config import transaction_config
from evcharge.ocpp.functions.device_model import DeviceModel, default_template
from evcharge.ocpp.functions.transactions import (
    StopRequested,
    TransactionEnded,
    TransactionManager,
    TransactionStarted,
)

__all__ = ["Answerer", "LocalStation", "OcppCall", "accept_all"]


@dataclass(frozen=True, slots=True, kw_only=True)
class OcppCall:
    """A CALL the station made: ``action`` with ``payload`` (OCPP JSON of the station's version)."""

    ref: str
    action: str
    payload: dict[str, Any] = field(default_factory=dict)


#: An OCPP answerer: ``(call, now) -> payload`` (``None``: no answer is given yet).
Answerer = Callable[[OcppCall, float], "dict[str, Any] | None"]


def accept_all(call: OcppCall, now: float) -> dict[str, Any] | None:
    """A CSMS that accepts everything (Authorize and StartTransaction Accepted, the rest answered as the schemas
    allow).  On OCPP 1.6 it knows the Plug & Charge application note (DataTransfer
    :data:`~evcharge.ocpp.functions.application.PNC_VENDOR_ID`) for Authorize only: Accepted, the 2.0.1
    AuthorizeResponse in ``data``; any other DataTransfer is UnknownMessageId / UnknownVendorId."""
    if call.action == "DataTransfer":
        if call.payload.get("vendorId") != cp.PNC_VENDOR_ID:
            return {"status": "UnknownVendorId"}
        if call.payload.get("messageId") != "Authorize":
            return {"status": "UnknownMessageId"}
        return {"status": "Accepted", "data": json.dumps({"idTokenInfo": {"status": "Accepted"},
                                                          "certificateStatus": "Accepted"})}
    if call.action == "Authorize":
        if "idTag" in call.payload:
            return {"idTagInfo": {"status": "Accepted"}}
        answer: dict[str, Any] = {"idTokenInfo": {"status": "Accepted"}}
        if "iso15118CertificateHashData" in call.payload:
            answer["certificateStatus"] = "Accepted"
        return answer
    if call.action == "StartTransaction":
        return {"idTagInfo": {"status": "Accepted"}, "transactionId": 1}
    if call.action == "NotifyEVChargingNeeds":
        return {"status": "Accepted"}
    return {}


_FOR_MANAGER = (cp.AuthorizationDone, cp.CallResult, cp.StopTransaction, cp.ChargingAllowed, cp.SetAvailability)


class LocalStation:
    """The charge point's OCPP side in process (see the module documentation)."""

    def __init__(self, csms: Answerer = accept_all, *, version: str = "2.0.1",
                 settings: Mapping[tuple[str, str], str] | None = None, wall: WallClock | None = None,
                 evse_count: int = 1, seed: int = 1) -> None:
        self.csms = csms
        self.version = version
        self.now = 0.0
        self.device_model = DeviceModel(default_template(evse_count))
        for (component, variable), value in (settings or {}).items():
            self.device_model.set_local(component, variable, value)
        self.app = cp.ChargePointApp(cp.AppConfig(version=version, evse_count=evse_count),
                                     device_model=self.device_model, wall=wall)
        v: Literal["1.6", "2.0.1", "2.1"] = "1.6" if version == "1.6" else ("2.1" if version == "2.1" else "2.0.1")
        self.transactions = TransactionManager(transaction_config(self.device_model, version=v,
                                                                  evse_count=evse_count),
                                               rng=random.Random(seed), wall=wall)
        #: every call with its answer (``None``: not answered yet), as (now, call, answer)
        self.calls: list[tuple[float, OcppCall, dict[str, Any] | None]] = []
        #: the core's decisions for the EVSE manager (``AuthorizationDone``, ``CallResult``, ``StopTransaction``,
        #: ``ChargingAllowed``, ``SetAvailability``), oldest first
        self.results: deque[Any] = deque()
        self._unanswered: dict[str, tuple[OcppCall, cp.MakeCall | None]] = {}
        self._refs = 0
        self._tx_ids: dict[str, int] = {}  # 1.6: the CSMS's transactionId by the transaction's reference
        self._tx_of: dict[str, str] = {}  # a transaction message's call ref -> its transaction's reference
        self.transactions.set_online(True)
        self.app.send(cp.Connected(), 0.0)
        self._carry_out()

    # -- the EVSE manager's side (the same two methods as Station's) -----------------------------

    def app_input(self, command: cp.AppCommand) -> None:
        """A protocol-neutral input for the charge-point core (the manager's ``StationInput.command``)."""
        self.app.send(command, self.now)
        self._carry_out()

    def update_meter(self, evse_id: int, readings: Mapping[str, float]) -> None:
        """The meter's present values (the manager's ``MeterUpdate``)."""
        self.transactions.update_meter(evse_id, readings, self.now)

    # -- the CSMS's side ---------------------------------------------------------------------------

    def remote_start(self, token: Any, *, remote_start_id: int | None = None, evse_id: int | None = 1,
                     authorize: bool | None = False) -> str:
        """The CSMS's RequestStartTransaction (1.6 RemoteStartTransaction): the core's answer status."""
        answer = self.app.answer(cp.RemoteStartRequested(evse_id=evse_id, token=token, remote_start_id=remote_start_id,
                                                         authorize=authorize), self.now)
        self._carry_out()
        return answer.status

    def remote_stop(self, evse_id: int = 1) -> str:
        """The CSMS's RequestStopTransaction of the transaction on ``evse_id``: the core's answer status."""
        running = self.transactions.transaction_ref(evse_id) is not None
        answer = self.app.answer(cp.RemoteStopRequested(evse_id=evse_id if running else None), self.now)
        self._carry_out()
        return answer.status

    def change_availability(self, evse_id: int, operative: bool) -> str:
        answer = self.app.answer(cp.ChangeAvailabilityRequested(evse_id=evse_id, operative=operative), self.now)
        self._carry_out()
        return answer.status

    @property
    def unanswered(self) -> list[OcppCall]:
        """The calls ``csms`` left unanswered (answer them with :meth:`answer`)."""
        return [call for call, _ in self._unanswered.values()]

    def answer(self, ref: str, payload: dict[str, Any] | None) -> None:
        """Answer the unanswered call ``ref`` (``None``: it failed, as a CALLERROR or a timeout would)."""
        call, made = self._unanswered.pop(ref)
        self.calls.append((self.now, call, payload))
        self._answered(call, made, payload)
        self._carry_out()

    # -- time ----------------------------------------------------------------------------------------

    def get_timer(self) -> float | None:
        timers = [t for t in (self.app.get_timer(), self.transactions.get_timer()) if t is not None]
        return min(timers) if timers else None

    def handle_timer(self, now: float) -> None:
        self.now = now
        due = self.transactions.get_timer()
        if due is not None and now >= due:
            self.transactions.handle_timer(now)
        due = self.app.get_timer()
        if due is not None and now >= due:
            self.app.handle_timer(now)
        self._carry_out()

    # -- carrying out what the core and the transaction manager decide -------------------------------

    def _carry_out(self) -> None:
        for _ in range(10_000):
            event = self.app.next_event()
            if event is None:
                if not self._transaction_messages():
                    return
                continue
            if isinstance(event, cp.MakeCall):
                self._call(event.action, dict(event.payload), event)
            elif isinstance(event, cp.ChargerInput):
                self.transactions.handle(event.event, self.now)
            elif isinstance(event, cp.CacheVerdict):
                self.app.authorization.update_cache(event.token, event.info, self.now)
            elif isinstance(event, cp.Reconfigure):
                self.app.authorization.config = event.authorization
                self.transactions.config = event.transactions
            if isinstance(event, cp.StopTransaction):
                self.transactions.handle(StopRequested(event.evse_id, event.reason, trigger=event.trigger), self.now)
            if isinstance(event, _FOR_MANAGER):
                self.results.append(event)
        raise RuntimeError("the charge-point core did not settle")  # pragma: no cover - a bug

    def _transaction_messages(self) -> bool:
        """Send the transaction manager's messages and tell the core of its starts and ends; whether any came."""
        moved = False
        for message in self.transactions.messages():
            moved = True
            payload = message.payload
            known = self._tx_ids.get(message.tx_ref or "")
            if known is not None and message.action in ("StopTransaction", "MeterValues"):
                payload = {**payload, "transactionId": known}  # 1.6: the CSMS's id (the offline queue's job)
            self._call(message.action, payload, None, tx_ref=message.tx_ref)
        while (event := self.transactions.next_event()) is not None:
            moved = True
            if isinstance(event, TransactionStarted):
                self.app.send(cp.TransactionOpened(evse_id=event.evse_id, tx_ref=event.tx_ref), self.now)
            elif isinstance(event, TransactionEnded):
                self.app.send(cp.TransactionClosed(evse_id=event.evse_id), self.now)
            else:  # AuthorizationTimedOut
                self.app.send(cp.AuthorizationLapsed(evse_id=event.evse_id), self.now)
        return moved

    def _call(self, action: str, payload: dict[str, Any], made: cp.MakeCall | None, *,
              tx_ref: str | None = None) -> None:
        self._refs += 1
        ref = made.ref if made is not None and made.ref else f"call-{self._refs}"
        if tx_ref is not None:  # a transaction message: its answer goes back with the transaction's reference
            self._tx_of[ref] = tx_ref
        call = OcppCall(ref=ref, action=action, payload=payload)
        answer = self.csms(call, self.now)
        if answer is None:
            self._unanswered[call.ref] = (call, made)
            return
        self.calls.append((self.now, call, answer))
        self._answered(call, made, answer)

    def _answered(self, call: OcppCall, made: cp.MakeCall | None, answer: dict[str, Any] | None) -> None:
        if made is not None:
            if answer is None:
                self.app.send(cp.CallFailed(action=call.action, reason="no answer", ref=made.ref), self.now)
            else:
                self.app.send(cp.CallAnswered(action=call.action, response=answer, ref=made.ref), self.now)
        elif answer is not None and call.ref in self._tx_of:
            tx_ref = self._tx_of.pop(call.ref)
            if call.action == "StartTransaction" and isinstance(answer.get("transactionId"), int):
                self._tx_ids[tx_ref] = answer["transactionId"]
            self.app.send(cp.TransactionMessageAnswered(action=call.action, payload=call.payload, response=answer,
                                                        tx_ref=tx_ref), self.now)
