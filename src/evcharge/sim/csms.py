"""The operator: the embedded CSMS of ``evcharge simulate`` is :mod:`evcharge.csms`, with books for the checks.

:class:`CsmsBooks` is the pure part: every message the charge point sent, in arrival order, and per transaction
what the CSMS learnt (meter start and stop, stop reason, sequence numbers, offline messages).  A message the
charge point sends again after a lost answer is recognised -- same ``transactionId`` and ``seqNo`` in 2.0.1, the
same payload in 1.6 -- and counted as a duplicate, not as a second delivery.

:func:`make_csms` builds the :class:`~evcharge.ocpp.csms.Csms` of the reference CSMS (:mod:`evcharge.csms`,
storage in memory, every token accepted): its handlers answer every call the simulated station makes, and each
call is written into the books too, with the reference CSMS's answer (its 1.6 transaction ids);
:class:`CsmsControl` is what the scenario uses to make calls (remote start, a charging profile).
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from evcharge.ocpp.csms import Csms, CsmsConfig

__all__ = ["CsmsBooks", "CsmsControl", "CsmsTransaction", "make_csms"]

ENERGY = "Energy.Active.Import.Register"


@dataclass(slots=True)
class CsmsTransaction:
    """What the CSMS knows about one transaction."""

    transaction_id: str
    started_t: float | None = None
    ended_t: float | None = None
    meter_start_wh: float | None = None
    meter_stop_wh: float | None = None
    last_energy_wh: float | None = None
    stop_reason: str | None = None
    id_token: str | None = None
    seq_nos: list[int] = field(default_factory=list)
    messages: int = 0
    offline_messages: int = 0
    duplicates: int = 0

    def to_json(self) -> dict[str, Any]:
        """JSON form for the event log."""
        energy = None
        if self.meter_start_wh is not None and self.meter_stop_wh is not None:
            energy = round(self.meter_stop_wh - self.meter_start_wh, 3)
        return {
            "transaction_id": self.transaction_id, "started_t": self.started_t, "ended_t": self.ended_t,
            "meter_start_wh": self.meter_start_wh, "meter_stop_wh": self.meter_stop_wh, "energy_wh": energy,
            "stop_reason": self.stop_reason, "id_token": self.id_token, "seq_nos": self.seq_nos,
            "messages": self.messages, "offline_messages": self.offline_messages, "duplicates": self.duplicates,
        }


def _energy(meter_values: list[dict[str, Any]] | None) -> float | None:
    """The last Energy.Active.Import.Register in a meterValue list (Wh; kWh converted)."""
    found = None
    for mv in meter_values or []:
        for sv in mv.get("sampledValue", []):
            if sv.get("measurand", ENERGY) != ENERGY:
                continue
            unit = sv.get("unit") or (sv.get("unitOfMeasure") or {}).get("unit", "Wh")
            multiplier = 10 ** (sv.get("unitOfMeasure") or {}).get("multiplier", 0)
            value = float(sv["value"]) * multiplier
            found = value * 1000.0 if unit == "kWh" else value
    return found


class CsmsBooks:
    """The CSMS's records (pure: payloads in, books out).  ``clock`` gives the simulated time of arrival;
    ``epoch`` (UNIX time of simulated second 0) turns the station's timestamps into simulated seconds too."""

    def __init__(self, clock: Callable[[], float], epoch: float = 0.0) -> None:
        self.clock = clock
        self.epoch = epoch
        self.messages: list[dict[str, Any]] = []  #: every CALL received, with t, action, payload and duplicate
        self.transactions: dict[str, CsmsTransaction] = {}
        self.booted = False
        self.connector_status: str | None = None
        self._seen: set[str] = set()
        self._next_16_id = 1
        self._ids_16: dict[str, int] = {}  # StartTransaction payload -> id given (a resent Start gets the same id)
        self._tx_16: dict[int, str] = {}
        self._given: dict[str, Any] | None = None

    def receive(self, action: str, payload: dict[str, Any], answer: dict[str, Any] | None = None) -> dict[str, Any]:
        """Record a CALL and return the answer (``answer``: the one a CSMS gave, whose 1.6 transaction id the
        books then use)."""
        self._given = answer
        t = self.clock()
        key = action + json.dumps(payload, sort_keys=True)
        duplicate = key in self._seen and action in ("TransactionEvent", "StartTransaction", "StopTransaction",
                                                      "MeterValues")
        self._seen.add(key)
        self.messages.append({"t": round(t, 3), "made_t": self._made_at(payload), "action": action,
                              "payload": payload, "duplicate": duplicate})
        handler = getattr(self, "_on_" + action, None)
        result: dict[str, Any] = handler(payload, t, duplicate) if handler is not None else {}
        return result

    # ------------------------------------------------------------------ 2.0.1 and 1.6 common
    def _on_BootNotification(self, payload: dict[str, Any], t: float, dup: bool) -> dict[str, Any]:
        self.booted = True
        return {"currentTime": self.now_text(), "interval": 300, "status": "Accepted"}

    def _on_Heartbeat(self, payload: dict[str, Any], t: float, dup: bool) -> dict[str, Any]:
        return {"currentTime": self.now_text()}

    def _on_StatusNotification(self, payload: dict[str, Any], t: float, dup: bool) -> dict[str, Any]:
        self.connector_status = payload.get("connectorStatus") or payload.get("status")
        return {}

    def _on_Authorize(self, payload: dict[str, Any], t: float, dup: bool) -> dict[str, Any]:
        if "idTag" in payload:
            return {"idTagInfo": {"status": "Accepted"}}
        return {"idTokenInfo": {"status": "Accepted"}}

    # ------------------------------------------------------------------ 2.0.1
    def _on_TransactionEvent(self, payload: dict[str, Any], t: float, dup: bool) -> dict[str, Any]:
        info = payload["transactionInfo"]
        tx = self.transactions.setdefault(info["transactionId"], CsmsTransaction(info["transactionId"]))
        if dup or payload["seqNo"] in tx.seq_nos:
            tx.duplicates += 1
        else:
            tx.messages += 1
            tx.seq_nos.append(payload["seqNo"])
            tx.offline_messages += bool(payload.get("offline"))
            energy = _energy(payload.get("meterValue"))
            if energy is not None:
                tx.last_energy_wh = energy
            if "idToken" in payload:
                tx.id_token = payload["idToken"].get("idToken")
            if payload["eventType"] == "Started":
                tx.started_t = t
                tx.meter_start_wh = energy
            elif payload["eventType"] == "Ended":
                tx.ended_t = t
                tx.meter_stop_wh = tx.last_energy_wh
                tx.stop_reason = str(info.get("stoppedReason", "Local"))
            if tx.meter_start_wh is None and energy is not None:
                tx.meter_start_wh = energy
        answer: dict[str, Any] = {}
        if "idToken" in payload:
            answer["idTokenInfo"] = {"status": "Accepted"}
        return answer

    def _on_MeterValues(self, payload: dict[str, Any], t: float, dup: bool) -> dict[str, Any]:
        tx_id = payload.get("transactionId")
        if tx_id is not None and int(tx_id) in self._tx_16:
            tx = self.transactions[self._tx_16[int(tx_id)]]
            if dup:
                tx.duplicates += 1
            else:
                tx.messages += 1
                energy = _energy(payload.get("meterValue"))
                if energy is not None:
                    tx.last_energy_wh = energy
        return {}

    # ------------------------------------------------------------------ 1.6
    def _on_StartTransaction(self, payload: dict[str, Any], t: float, dup: bool) -> dict[str, Any]:
        key = json.dumps(payload, sort_keys=True)
        if key in self._ids_16:
            tx = self.transactions[str(self._ids_16[key])]
            tx.duplicates += 1
        else:
            given = self._given.get("transactionId") if self._given else None
            number = int(given) if given is not None else self._next_16_id
            self._ids_16[key] = number
            self._tx_16[number] = str(number)
            tx = CsmsTransaction(str(number), started_t=t, meter_start_wh=float(payload["meterStart"]),
                                 id_token=payload.get("idTag"), messages=1)
            self.transactions[tx.transaction_id] = tx
            self._next_16_id = max(self._next_16_id, number) + 1
        return {"transactionId": int(tx.transaction_id), "idTagInfo": {"status": "Accepted"}}

    def _on_StopTransaction(self, payload: dict[str, Any], t: float, dup: bool) -> dict[str, Any]:
        tx = self.transactions.get(str(payload["transactionId"]))
        if tx is not None:
            if dup:
                tx.duplicates += 1
            else:
                tx.messages += 1
                tx.ended_t = t
                tx.meter_stop_wh = float(payload["meterStop"])
                tx.stop_reason = str(payload.get("reason", "Local"))
        return {"idTagInfo": {"status": "Accepted"}}

    # ------------------------------------------------------------------ helpers
    def _made_at(self, payload: dict[str, Any]) -> float | None:
        """When the station made the message (simulated seconds), from its timestamp."""
        stamp = payload.get("timestamp")
        if stamp is None and payload.get("meterValue"):
            stamp = payload["meterValue"][-1].get("timestamp")
        if not isinstance(stamp, str):
            return None
        try:
            when = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
        except ValueError:
            return None
        return round(when.timestamp() - self.epoch, 3)

    def now_text(self) -> str:
        """The CSMS's idea of the time (the simulated wall clock is the station's business; this is real)."""
        return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    def ended(self) -> list[CsmsTransaction]:
        """Transactions the CSMS saw end."""
        return [tx for tx in self.transactions.values() if tx.ended_t is not None]


_ACTIONS = ("BootNotification", "Heartbeat", "StatusNotification", "Authorize", "TransactionEvent", "MeterValues",
            "StartTransaction", "StopTransaction", "NotifyEvent", "NotifyReport", "SecurityEventNotification",
            "FirmwareStatusNotification", "LogStatusNotification", "DiagnosticsStatusNotification",
            "NotifyChargingLimit", "ReportChargingProfiles", "NotifyEVChargingNeeds", "NotifyEVChargingSchedule",
            "Get15118EVCertificate", "DataTransfer")


def make_csms(books: CsmsBooks, versions: tuple[Any, ...], *, contract_provider: Any = None) -> Csms:
    """The reference CSMS's :class:`~evcharge.ocpp.csms.Csms` (storage in memory), writing into ``books``.

    ``contract_provider`` answers Get15118EVCertificate (a
    :class:`~evcharge.csms.pki.ContractCertificateProvider` such as
    :class:`~evcharge.csms.contract.TestPkiContractProvider`); without one the CSMS answers it Failed."""
    from evcharge.csms.handlers import CsmsService, CsmsSettings, Handler16, Handler201
    from evcharge.csms.transport.sqlite import SqliteStore

    store = SqliteStore(":memory:")
    store.open_now()
    service = CsmsService(store, CsmsSettings(accept_unknown_tokens=True, contract_provider=contract_provider))

    def recording(inner: Callable[[Any], Any] | None, action: str) -> Callable[[Any], Any] | None:
        if inner is None or action not in _ACTIONS:
            return None

        async def handle(request: Any) -> Any:
            response = inner(request)
            if inspect.isawaitable(response):
                response = await response
            books.receive(action, request.to_json(), response.to_json())
            return response

        return handle

    class Books201(Handler201):
        def handler_for(self, action: str) -> Callable[[Any], Any] | None:
            return recording(super().handler_for(action), action)

    class Books16(Handler16):
        def handler_for(self, action: str) -> Callable[[Any], Any] | None:
            return recording(super().handler_for(action), action)

    factories = service.handler_factories(Books16, Books201)
    csms = Csms(CsmsConfig(versions=versions), {v.VERSION: factories[v.VERSION] for v in versions})
    service.csms = csms
    return csms


class CsmsControl:
    """The CSMS operator's hands: calls to the connected charge point (used by the scenarios)."""

    def __init__(self, csms: Csms, identity: str, version: str) -> None:
        self.csms = csms
        self.identity = identity
        self.version = version

    async def remote_start(self, token: str, remote_start_id: int = 1) -> str:
        """RequestStartTransaction (2.0.1) / RemoteStartTransaction (1.6); returns the status."""
        if self.version == "1.6":
            response = await self.csms.call(self.identity, {"idTag": token, "connectorId": 1},
                                            action="RemoteStartTransaction")
        else:
            response = await self.csms.call(self.identity, {"idToken": {"idToken": token, "type": "Central"},
                                                            "remoteStartId": remote_start_id, "evseId": 1},
                                            action="RequestStartTransaction")
        return str(response.to_json()["status"])

    async def set_limit(self, amps: float, start: str) -> str:
        """A TxDefaultProfile of ``amps`` per phase from ``start`` (OCPP date-time) on; returns the status."""
        period = [{"startPeriod": 0, "limit": amps}]
        if self.version == "1.6":
            request: dict[str, Any] = {"connectorId": 1, "csChargingProfiles": {
                "chargingProfileId": 1, "stackLevel": 1, "chargingProfilePurpose": "TxDefaultProfile",
                "chargingProfileKind": "Absolute",
                "chargingSchedule": {"startSchedule": start, "chargingRateUnit": "A",
                                     "chargingSchedulePeriod": period}}}
        else:
            request = {"evseId": 1, "chargingProfile": {
                "id": 1, "stackLevel": 1, "chargingProfilePurpose": "TxDefaultProfile",
                "chargingProfileKind": "Absolute",
                "chargingSchedule": [{"id": 1, "startSchedule": start, "chargingRateUnit": "A",
                                      "chargingSchedulePeriod": period}]}}
        response = await self.csms.call(self.identity, request, action="SetChargingProfile")
        return str(response.to_json()["status"])
