"""The reference CSMS's answers: a handler class per version (2.1 adds to 2.0.1's), over one :class:`CsmsService`.

The service holds what all connections share (the store, the settings, the certificate authority, the
contract-certificate provider, the OCSP checker, the charging limits sent) and makes the decisions; the handler
classes translate between the versions' payloads and the service.  Follow-up calls to the station are
:func:`~evcharge.ocpp.csms.after` hooks: they run once the answer has been written.
"""

from __future__ import annotations

import base64
import json
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from evcharge.csms.authorization import TokenDecision, decide
from evcharge.csms.pki import CertificateAuthority, ContractCertificateProvider, CsrRefused, IssuedCertificate
from evcharge.csms.store import (
    MeterValueRecord,
    SettlementRecord,
    StationEvent,
    StationRecord,
    Store,
    TransactionRecord,
)
from evcharge.ocpp import v201
from evcharge.ocpp.csms import Csms, CsmsHandler, after
from evcharge.ocpp.errors import OcppCallError, OcppValidationError
from evcharge.ocpp.functions.application import PNC_VENDOR_ID, pnc_data
from evcharge.ocpp.routing import on

__all__ = ["CertificateChecker", "CsmsService", "CsmsSettings", "EventStream", "Handler16", "Handler21", "Handler201",
           "OcspRelay", "StationHandler", "energy_wh", "meter_records"]

log = logging.getLogger("evcharge.csms")

ENERGY = "Energy.Active.Import.Register"

#: Checks 15118 certificate hash data by OCSP, ``(hash_data) -> "Good" | "Revoked" | "Unknown" | "Failed"``.
CertificateChecker = Callable[[dict[str, Any]], Awaitable[str]]
#: Relays GetCertificateStatus to OCSP, ``(ocsp_request_data) -> (status, base64 DER OCSP response | None)``.
OcspRelay = Callable[[dict[str, Any]], Awaitable[tuple[str, str | None]]]


@dataclass(frozen=True, slots=True, kw_only=True)
class CsmsSettings:
    """What the reference CSMS answers."""

    heartbeat_interval: int = 300  #: the interval of an Accepted BootNotification
    pending_interval: int = 30  #: the retry interval of a Pending or Rejected one
    auto_register: bool = True  #: register an unknown station at its first boot (otherwise it is Rejected)
    accept_unknown_tokens: bool = False  #: tokens not in the store are Accepted (else Unknown / Invalid)
    price_per_kwh: float | None = None  #: with a price, an Ended transaction's answer carries totalCost
    max_power_w: float = 22_000.0  #: the most the CSMS grants to a NotifyEVChargingNeeds
    ca: CertificateAuthority | None = None  #: signs station CSRs; without one SignCertificate is Rejected
    contract_provider: ContractCertificateProvider | None = None  #: where Get15118EVCertificate goes
    certificate_checker: CertificateChecker | None = None  #: OCSP check of Authorize's 15118 hash data
    ocsp_relay: OcspRelay | None = None  #: GetCertificateStatus
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))  #: the CSMS's wall clock


def _text(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _float(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def meter_records(station_id: str, transaction: int | None, meter_values: list[dict[str, Any]] | None
                  ) -> list[MeterValueRecord]:
    """The sampled values of a 1.6 or 2.0.1 ``meterValue`` list; unreadable values (signed data) are skipped."""
    out: list[MeterValueRecord] = []
    for mv in meter_values or []:
        stamp = str(mv.get("timestamp", ""))
        for sv in mv.get("sampledValue", []):
            if sv.get("format") == "SignedData":
                continue
            value = _float(sv.get("value"))
            if value is None:
                continue
            uom = sv.get("unitOfMeasure") or {}
            unit = str(sv.get("unit") or uom.get("unit") or "")
            multiplier = uom.get("multiplier", 0)
            out.append(MeterValueRecord(
                station_id=station_id, transaction=transaction, timestamp=stamp,
                measurand=str(sv.get("measurand", ENERGY)), value=value * 10 ** int(multiplier),
                unit=unit or ("Wh" if sv.get("measurand", ENERGY).startswith("Energy") else ""),
                phase=sv.get("phase"), context=sv.get("context"), location=sv.get("location")))
    return out


def seq_ranges(text: str) -> list[tuple[int, int]]:
    """The seqNos received, stored as ranges (``"0-41,45"``): a long transaction stays one short string."""
    out = []
    for part in text.split(","):
        if part:
            a, _, b = part.partition("-")
            out.append((int(a), int(b or a)))
    return out


def seq_text(ranges: list[tuple[int, int]], seq: int) -> str:
    """``ranges`` with ``seq`` added, merged, as text."""
    merged: list[list[int]] = []
    for a, b in sorted([*ranges, (seq, seq)]):
        if merged and a <= merged[-1][1] + 1:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    return ",".join(f"{a}" if a == b else f"{a}-{b}" for a, b in merged)


def energy_wh(records: list[MeterValueRecord]) -> tuple[float | None, float | None]:
    """The first and last Energy.Active.Import.Register reading (Wh; kWh converted) among ``records``."""
    readings = [r.value * (1000.0 if r.unit == "kWh" else 1.0) for r in records
                if r.measurand == ENERGY and r.phase is None and r.value >= 0]
    return (readings[0], readings[-1]) if readings else (None, None)


@dataclass(slots=True)
class EventStream:
    """An open OCPP 2.1 periodic event stream: what it streams, and its last values (at most ``keep``)."""

    constant: dict[str, Any]  #: the constantStreamData of OpenPeriodicEventStream
    values: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  #: (basetime, one data entry)
    received: int = 0  #: entries received in all
    keep: int = 1000

    def add(self, basetime: str, data: list[dict[str, Any]]) -> None:
        self.values.extend((basetime, d) for d in data)
        self.received += len(data)
        del self.values[:-self.keep]


#: phases of an AC EnergyTransferMode (2.0.1; 2.1 adds the BPT and DER variants of the same names)
_AC_PHASES = {"AC_single_phase": 1, "AC_two_phase": 2, "AC_three_phase": 3, "AC_BPT": 3, "AC_BPT_DER": 3, "AC_DER": 3}


class CsmsService:
    """What every connection of the reference CSMS shares."""

    def __init__(self, store: Store, settings: CsmsSettings | None = None) -> None:
        self.store = store
        self.settings = settings if settings is not None else CsmsSettings()
        self.csms: Csms | None = None  #: set by the server
        self.status: dict[tuple[str, int, int], str] = {}  #: connector status by (station, evse, connector)
        self.limits: dict[tuple[str, int], float] = {}  #: the W limit we sent per (station, evse)
        self.streams: dict[tuple[str, int], EventStream] = {}  #: open 2.1 periodic event streams by (station, id)

    def now(self) -> str:
        return _text(self.settings.clock())

    def handler_factories(self, h16: type[Handler16] | None = None, h201: type[Handler201] | None = None,
                          h21: type[Handler21] | None = None) -> dict[str, Callable[[str, Csms], CsmsHandler]]:
        """The :class:`~evcharge.ocpp.csms.Csms` handler factories by version (subclasses may be given; a 2.0.1
        subclass given without a 2.1 one serves 2.1 too, with the 2.1 additions mixed in)."""
        c16 = h16 or Handler16
        c201 = h201 or Handler201
        c21 = h21 or (Handler21 if h201 is None else type(c201.__name__ + "21", (c201, Handler21), {}))
        return {"1.6": lambda identity, csms: c16(identity, csms, self),
                "2.0.1": lambda identity, csms: c201(identity, csms, self),
                "2.1": lambda identity, csms: c21(identity, csms, self)}

    # -- boot --------------------------------------------------------------------------------------

    async def boot(self, identity: str, version: str, info: dict[str, Any]) -> tuple[str, int]:
        """Record a boot; the registration status and interval to answer."""
        station = await self.store.get_station(identity)
        if station is None:
            if not self.settings.auto_register:
                return "Rejected", self.settings.pending_interval
            station = StationRecord(id=identity)
        station = StationRecord(
            id=identity, password_hash=station.password_hash, min_profile=station.min_profile,
            boot_status=station.boot_status, vendor=info.get("vendor"), model=info.get("model"),
            serial=info.get("serial"), firmware=info.get("firmware"), ocpp_version=version, last_boot=self.now())
        await self.store.put_station(station)
        status = station.boot_status
        return status, self.settings.heartbeat_interval if status == "Accepted" else self.settings.pending_interval

    # -- tokens ------------------------------------------------------------------------------------

    async def authorize(self, id_token: str, type_: str) -> TokenDecision:
        token = await self.store.get_token(id_token, type_)
        return decide(token, self.settings.clock(), accept_unknown=self.settings.accept_unknown_tokens)

    async def authorize_201(self, id_token: dict[str, Any], hash_data: list[dict[str, Any]] | None
                            ) -> dict[str, Any]:
        """The 2.0.1 AuthorizeResponse payload for ``id_token`` (IdTokenType) and the 15118 certificate hash data
        of its contract (C07: ``certificateStatus`` from the OCSP check; a contract that is not Good makes an
        Accepted identifier Invalid).  2.0.1 / 2.1 Authorize and 1.6 Plug & Charge (the application note's
        DataTransfer) answer with it."""
        decision = await self.authorize(id_token["idToken"], id_token.get("type", ""))
        answer: dict[str, Any] = {"idTokenInfo": decision.v201()}
        checker = self.settings.certificate_checker
        if hash_data:
            if checker is None:
                answer["certificateStatus"] = "NoCertificateAvailable"
            else:
                results = [await checker(h) for h in hash_data]
                status = next((r for r in results if r != "Good"), "Good")
                answer["certificateStatus"] = {"Good": "Accepted", "Revoked": "CertificateRevoked",
                                               "Unknown": "NoCertificateAvailable"}.get(status, "CertChainError")
                if status != "Good" and decision.status == "Accepted":
                    answer["idTokenInfo"] = {**answer["idTokenInfo"], "status": "Invalid"}
        return answer

    async def ev_certificate(self, station_id: str, request: dict[str, Any]) -> dict[str, Any]:
        """The 2.0.1 Get15118EVCertificateResponse payload for ``request`` (the contract provider's; Failed
        without one)."""
        provider = self.settings.contract_provider
        if provider is None:
            return {"status": "Failed", "exiResponse": ""}
        got = await provider.get_ev_certificate(station_id, request["iso15118SchemaVersion"], request["action"],
                                                request["exiRequest"])
        return {"status": got.status, "exiResponse": got.exi_response}

    # -- transactions ------------------------------------------------------------------------------

    async def store_meter_values(self, station_id: str, tx: TransactionRecord | None,
                                 meter_values: list[dict[str, Any]] | None) -> TransactionRecord | None:
        """Store the values linked to ``tx``, set its baseline from the first valid energy reading and keep its
        last one; the updated transaction."""
        records, changes = self.meter_changes(station_id, tx, meter_values)
        if records:
            await self.store.add_meter_values(records)
        if tx is None:
            return None
        return await self.store.save_transaction(tx, **changes)

    @staticmethod
    def meter_changes(station_id: str, tx: TransactionRecord | None, meter_values: list[dict[str, Any]] | None
                      ) -> tuple[list[MeterValueRecord], dict[str, Any]]:
        """The rows of ``meter_values`` (linked to ``tx``) and what they change in ``tx``: the baseline from the
        first valid energy reading, the last reading."""
        records = meter_records(station_id, tx.id if tx else None, meter_values)
        changes: dict[str, Any] = {}
        if tx is not None:
            first, last = energy_wh(records)
            if tx.meter_start_wh is None and first is not None:
                changes["meter_start_wh"] = first
            if last is not None and tx.ended_at is None:
                changes["meter_stop_wh"] = last
        return records, changes

    def cost(self, tx: TransactionRecord) -> float | None:
        price = self.settings.price_per_kwh
        if price is None or tx.meter_start_wh is None or tx.meter_stop_wh is None:
            return None
        return round(max(0.0, tx.meter_stop_wh - tx.meter_start_wh) / 1000.0 * price, 2)

    # -- smart charging ----------------------------------------------------------------------------

    def grant(self, station_id: str, evse_id: int, needs: dict[str, Any]) -> float:
        """The W limit granted to an EV's charging needs (and remembered for NotifyEVChargingSchedule)."""
        limit = self.settings.max_power_w
        ac = needs.get("acChargingParameters")
        dc = needs.get("dcChargingParameters")
        if dc and dc.get("evMaxPower") is not None:
            limit = min(limit, float(dc["evMaxPower"]))
        elif ac and ac.get("evMaxCurrent") is not None and ac.get("evMaxVoltage") is not None:
            # evMaxCurrent is per phase (2.0.1 AC_Charging_Parameters); the phases come from the requested transfer
            phases = _AC_PHASES.get(str(needs.get("requestedEnergyTransfer")), 3)
            limit = min(limit, float(ac["evMaxCurrent"]) * float(ac["evMaxVoltage"]) * phases)
        self.limits[(station_id, evse_id)] = limit
        return limit

    def check_schedule(self, station_id: str, evse_id: int, schedule: dict[str, Any]) -> bool:
        """Does the EV's schedule stay within the CSMS's limit (W, or A at 230 V per phase)?"""
        limit = self.limits.get((station_id, evse_id), self.settings.max_power_w)
        unit = schedule.get("chargingRateUnit", "W")
        for period in schedule.get("chargingSchedulePeriod", []):
            value = float(period.get("limit", 0.0))
            watts = value if unit == "W" else value * 230.0 * int(period.get("numberPhases", 3))
            if watts > limit + 1e-6:
                return False
        return True


class StationHandler(CsmsHandler):
    """What 1.6 and 2.0.1 share: heartbeat, certificate signing, acknowledgements."""

    def __init__(self, identity: str, csms: Csms, service: CsmsService) -> None:
        super().__init__(identity, csms)
        self.service = service
        self.store = service.store
        self._issued: dict[int, IssuedCertificate] = {}  # by id() of the request, until its after-hook runs

    def answer(self, action: str, payload: dict[str, Any]) -> Any:
        """The typed response of ``action`` for this connection's version."""
        assert self.version is not None
        return self.version.response_class(action).from_json(payload)

    @staticmethod
    def payload(request: Any) -> dict[str, Any]:
        data: dict[str, Any] = request.to_json() if hasattr(request, "to_json") else dict(request)
        return data

    @on("Heartbeat")
    def heartbeat(self, request: Any) -> Any:
        return self.answer("Heartbeat", {"currentTime": self.service.now()})

    @on("SignCertificate")
    def sign_certificate(self, request: Any) -> Any:
        ca = self.service.settings.ca
        if ca is None:
            return self.answer("SignCertificate", {"status": "Rejected"})
        try:
            self._issued[id(request)] = ca.sign(self.payload(request)["csr"], self.identity)
        except CsrRefused as exc:
            log.info("%s: CSR refused: %s", self.identity, exc)
            return self.answer("SignCertificate", {"status": "Rejected"})
        return self.answer("SignCertificate", {"status": "Accepted"})

    @after("SignCertificate")
    async def send_certificate(self, request: Any, response: Any) -> None:
        issued = self._issued.pop(id(request), None)
        if issued is None:
            return
        await self.store.add_certificate(issued.serial, self.identity, issued.pem_chain, self.service.now())
        payload: dict[str, Any] = {"certificateChain": issued.pem_chain}
        if self.payload(request).get("certificateType") is not None:
            payload["certificateType"] = self.payload(request)["certificateType"]
        await self.call(payload, action="CertificateSigned")

    @on("SecurityEventNotification", "FirmwareStatusNotification", "LogStatusNotification")
    def acknowledge(self, request: Any) -> Any:
        return self.answer(type(request).__name__.removesuffix("Request"), {})


class Handler201(StationHandler):
    """OCPP 2.0.1 and 2.1."""

    def __init__(self, identity: str, csms: Csms, service: CsmsService) -> None:
        super().__init__(identity, csms, service)
        self._gaps: list[str] = []
        self._needs: list[tuple[int, float]] = []
        self._costs: list[tuple[TransactionRecord, float]] = []
        self.registration: str | None = None  #: the status of the last BootNotification answered on this connection
        self._triggered: set[str] = set()  # actions the station may send while Pending, asked for by our calls

    # B02.FR.09 / B03.FR.07: while Pending or Rejected, a CALL that is not a BootNotification nor one we asked for
    # (TriggerMessage, GetBaseReport / GetReport) is answered with SecurityError
    _TRIGGERED = {"SignChargingStationCertificate": "SignCertificate", "SignV2GCertificate": "SignCertificate",
                  "SignCombinedCertificate": "SignCertificate"}

    def handler_for(self, action: str) -> Callable[[Any], Any] | None:
        handler = super().handler_for(action)
        if (handler is None or self.registration in (None, "Accepted") or action == "BootNotification"
                or action in self._triggered):
            return handler
        status = self.registration

        def refuse(request: Any) -> Any:
            raise OcppCallError("SecurityError", f"the station's registration is {status}")

        return refuse

    async def call(self, request: Any, *, action: str | None = None, timeout: float | None = None) -> Any:
        name = action or type(request).__name__.removesuffix("Request")
        if name == "TriggerMessage":
            wanted = str(self.payload(request)["requestedMessage"])
            self._triggered.add(self._TRIGGERED.get(wanted, wanted))
        elif name in ("GetBaseReport", "GetReport"):
            self._triggered.add("NotifyReport")
        return await super().call(request, action=action, timeout=timeout)

    @on("BootNotification")
    async def boot(self, request: Any) -> Any:
        p = self.payload(request)
        station = p.get("chargingStation", {})
        modem = station.get("modem") or {}
        assert self.version is not None
        status, interval = await self.service.boot(self.identity, self.version.VERSION, {
            "vendor": station.get("vendorName"), "model": station.get("model"),
            "serial": station.get("serialNumber") or modem.get("iccid"), "firmware": station.get("firmwareVersion")})
        self.registration = status
        self._triggered.clear()
        return self.answer("BootNotification", {"currentTime": self.service.now(), "interval": interval,
                                                "status": status})

    @on("StatusNotification")
    def status_notification(self, request: Any) -> Any:
        p = self.payload(request)
        self.service.status[(self.identity, int(p["evseId"]), int(p["connectorId"]))] = str(p["connectorStatus"])
        return self.answer("StatusNotification", {})

    @on("Authorize")
    async def authorize(self, request: Any) -> Any:
        p = self.payload(request)
        return self.answer("Authorize", await self.service.authorize_201(p["idToken"],
                                                                         p.get("iso15118CertificateHashData")))

    @on("TransactionEvent")
    async def transaction_event(self, request: Any) -> Any:
        p = self.payload(request)
        info = p["transactionInfo"]
        tx_id = str(info["transactionId"])
        seq = int(p["seqNo"])
        store = self.store
        tx = await store.get_transaction(self.identity, tx_id)
        evse = p.get("evse") or {}
        token = p.get("idToken")
        if tx is None:
            tx = await store.new_transaction(self.identity, tx_id, evse_id=evse.get("id"),
                                             connector_id=evse.get("connectorId"), started_at=p["timestamp"])
        seen = seq_ranges(tx.seq_nos)
        changes: dict[str, Any] = {}
        if not any(a <= seq <= b for a, b in seen):  # a message sent again after a lost answer: answered, once counted
            if seq > tx.next_seq_no and (tx.messages or seq > 0):
                self._gaps.append(tx_id)  # messages are missing: ask the station (after the answer)
            changes["next_seq_no"] = max(tx.next_seq_no, seq + 1)
            changes["messages"] = tx.messages + 1
            changes["seq_nos"] = seq_text(seen, seq)
            if token is not None and tx.id_token is None:
                changes["id_token"] = token["idToken"]
            if p["eventType"] == "Started" or tx.started_at is None:
                changes["started_at"] = p["timestamp"]
            records, metered = self.service.meter_changes(self.identity, tx, p.get("meterValue"))
            changes.update(metered)
            if p["eventType"] == "Ended":
                changes["ended_at"] = p["timestamp"]
                changes["stop_reason"] = str(info.get("stoppedReason", "Local"))
                cost = self.service.cost(replace(tx, **changes))
                if cost is not None:
                    changes["cost"] = cost
            if records:
                await store.add_meter_values(records)
            tx = await store.save_transaction(tx, **changes)  # one write of everything this message changed
        answer: dict[str, Any] = {}
        if token is not None:
            decision = await self.service.authorize(token["idToken"], token.get("type", ""))
            answer["idTokenInfo"] = decision.v201()
        if p["eventType"] == "Ended" and tx.cost is not None:
            answer["totalCost"] = tx.cost
        elif p["eventType"] != "Ended" and tx.ended_at is None:
            running = self.service.cost(tx)
            if running is not None and running != tx.cost_sent:
                self._costs.append((tx, running))  # CostUpdated once the answer is sent
        return self.answer("TransactionEvent", answer)

    @after("TransactionEvent")
    async def send_cost(self, request: Any, response: Any) -> None:
        """CostUpdated with the running cost of a transaction whose energy changed (with a price per kWh set);
        the cost sent is stored, so the same cost is not sent twice, across a restart too."""
        while self._costs:
            tx, cost = self._costs.pop(0)
            try:
                await self.call({"totalCost": cost, "transactionId": tx.transaction_id}, action="CostUpdated")
            except Exception as exc:
                log.info("%s: CostUpdated %s failed: %s", self.identity, tx.transaction_id, exc)
                continue
            current = await self.store.transaction_by_id(tx.id)
            if current is not None:
                await self.store.save_transaction(current, cost_sent=cost)

    @after("TransactionEvent")
    async def ask_for_missing(self, request: Any, response: Any) -> None:
        while self._gaps:
            tx_id = self._gaps.pop(0)
            try:
                status = await self.call({"transactionId": tx_id}, action="GetTransactionStatus")
                log.info("%s: transaction %s after a seqNo gap: %s", self.identity, tx_id, status.to_json())
            except Exception as exc:
                log.info("%s: GetTransactionStatus %s failed: %s", self.identity, tx_id, exc)

    @on("MeterValues")
    async def meter_values(self, request: Any) -> Any:
        p = self.payload(request)
        evse = int(p["evseId"])
        open_tx = [t for t in await self.store.list_transactions(self.identity)
                   if t.ended_at is None and t.evse_id == evse] if evse else []
        await self.service.store_meter_values(self.identity, open_tx[-1] if open_tx else None, p.get("meterValue"))
        return self.answer("MeterValues", {})

    @on("NotifyEVChargingNeeds")
    def charging_needs(self, request: Any) -> Any:
        p = self.payload(request)
        evse = int(p["evseId"])
        self._needs.append((evse, self.service.grant(self.identity, evse, p.get("chargingNeeds", {}))))
        return self.answer("NotifyEVChargingNeeds", {"status": "Accepted"})

    @after("NotifyEVChargingNeeds")
    async def send_profile(self, request: Any, response: Any) -> None:
        while self._needs:
            evse, limit = self._needs.pop(0)
            open_tx = [t for t in await self.store.list_transactions(self.identity)
                       if t.ended_at is None and t.evse_id == evse]
            profile: dict[str, Any] = {
                "id": 1000 + evse, "stackLevel": 0, "chargingProfilePurpose": "TxProfile",
                "chargingProfileKind": "Relative",
                "chargingSchedule": [{"id": 1000 + evse, "chargingRateUnit": "W",
                                      "chargingSchedulePeriod": [{"startPeriod": 0, "limit": limit}]}]}
            if open_tx:
                profile["transactionId"] = open_tx[-1].transaction_id
            try:
                await self.call({"evseId": evse, "chargingProfile": profile}, action="SetChargingProfile")
            except Exception as exc:
                log.info("%s: SetChargingProfile failed: %s", self.identity, exc)

    @on("NotifyEVChargingSchedule")
    def charging_schedule(self, request: Any) -> Any:
        p = self.payload(request)
        ok = self.service.check_schedule(self.identity, int(p["evseId"]), p["chargingSchedule"])
        return self.answer("NotifyEVChargingSchedule", {"status": "Accepted" if ok else "Rejected"})

    @on("Get15118EVCertificate")
    async def ev_certificate(self, request: Any) -> Any:
        return self.answer("Get15118EVCertificate",
                           await self.service.ev_certificate(self.identity, self.payload(request)))

    @on("GetCertificateStatus")
    async def certificate_status(self, request: Any) -> Any:
        relay = self.service.settings.ocsp_relay
        if relay is None:
            return self.answer("GetCertificateStatus", {"status": "Failed"})
        status, der = await relay(self.payload(request)["ocspRequestData"])
        answer: dict[str, Any] = {"status": status}
        if der is not None:
            answer["ocspResult"] = der
        return self.answer("GetCertificateStatus", answer)

    @on("NotifyEvent", "NotifyReport", "NotifyChargingLimit", "ReportChargingProfiles", "ClearedChargingLimit",
        "NotifyMonitoringReport", "NotifyCustomerInformation", "NotifyDisplayMessages",
        "PublishFirmwareStatusNotification", "ReservationStatusUpdate")
    def acknowledge_201(self, request: Any) -> Any:
        return self.answer(type(request).__name__.removesuffix("Request"), {})

    @on("DataTransfer")
    def data_transfer(self, request: Any) -> Any:
        return self.answer("DataTransfer", {"status": "UnknownVendorId"})


_VAT = re.compile(r"[A-Z]{2}[0-9A-Z+*.]{2,13}")


class Handler21(Handler201):
    """OCPP 2.1: the 2.0.1 answers, and the CALLs (and SENDs) 2.1 adds that a station sends to the CSMS."""

    async def _keep(self, request: Any) -> dict[str, Any]:
        """Store a notification as it came (:meth:`~evcharge.csms.store.Store.list_events`); its payload."""
        p = self.payload(request)
        action = type(request).__name__.removesuffix("Request")
        await self.store.add_event(StationEvent(station_id=self.identity, received_at=self.service.now(),
                                                action=action, payload=json.dumps(p, sort_keys=True)))
        return p

    @on("NotifyDERAlarm", "NotifyDERStartStop", "ReportDERControl", "NotifyPriorityCharging", "BatterySwap")
    async def kept(self, request: Any) -> Any:
        await self._keep(request)
        return self.answer(type(request).__name__.removesuffix("Request"), {})

    @on("NotifySettlement")
    async def settlement(self, request: Any) -> Any:
        p = await self._keep(request)
        tx_id = p.get("transactionId")
        tx = await self.store.get_transaction(self.identity, str(tx_id)) if tx_id is not None else None
        await self.store.put_settlement(SettlementRecord(
            station_id=self.identity, psp_ref=str(p["pspRef"]), status=str(p["status"]),
            amount=float(p["settlementAmount"]), settled_at=str(p["settlementTime"]),
            transaction_id=str(tx_id) if tx_id is not None else None, transaction_ref=tx.id if tx else None,
            receipt_id=p.get("receiptId"), receipt_url=p.get("receiptUrl"), vat_number=p.get("vatNumber"),
            vat_company=json.dumps(p["vatCompany"], sort_keys=True) if p.get("vatCompany") else None))
        return self.answer("NotifySettlement", {})

    @on("VatNumberValidation")
    async def vat_number(self, request: Any) -> Any:
        """A format check only (two letters, then 2-13 characters): a test CSMS asks no VAT register."""
        p = await self._keep(request)
        number = str(p["vatNumber"])
        answer: dict[str, Any] = {"vatNumber": number, "status": "Accepted" if _VAT.fullmatch(number) else "Rejected"}
        if p.get("evseId") is not None:
            answer["evseId"] = p["evseId"]
        return self.answer("VatNumberValidation", answer)

    @on("OpenPeriodicEventStream")
    def open_stream(self, request: Any) -> Any:
        data = self.payload(request)["constantStreamData"]
        self.service.streams[(self.identity, int(data["id"]))] = EventStream(constant=data)
        return self.answer("OpenPeriodicEventStream", {"status": "Accepted"})

    @on("ClosePeriodicEventStream")
    def close_stream(self, request: Any) -> Any:
        self.service.streams.pop((self.identity, int(self.payload(request)["id"])), None)
        return self.answer("ClosePeriodicEventStream", {})

    @on("NotifyPeriodicEventStream")
    def stream_data(self, request: Any) -> None:
        """A SEND: no answer.  The values go to the open stream (unknown streams are logged and dropped)."""
        p = self.payload(request)
        stream = self.service.streams.get((self.identity, int(p["id"])))
        if stream is None:
            log.info("%s: NotifyPeriodicEventStream for stream %s, which is not open", self.identity, p["id"])
            return
        stream.add(str(p["basetime"]), p["data"])

    @on("PullDynamicScheduleUpdate")
    def dynamic_schedule(self, request: Any) -> Any:
        """The limit of a charging profile this CSMS sent (NotifyEVChargingNeeds: ids 1000 + EVSE)."""
        profile = int(self.payload(request)["chargingProfileId"])
        limit = self.service.limits.get((self.identity, profile - 1000))
        if limit is None:
            return self.answer("PullDynamicScheduleUpdate", {"status": "Rejected",
                                                             "statusInfo": {"reasonCode": "UnknownProfile"}})
        return self.answer("PullDynamicScheduleUpdate", {"status": "Accepted", "scheduleUpdate": {"limit": limit}})

    @on("GetCertificateChainStatus")
    async def chain_status(self, request: Any) -> Any:
        """Each certificate asked about: by OCSP through the configured relay (its answer's status and
        nextUpdate), ``Failed`` without one and for CRL (this CSMS fetches no CRLs)."""
        from evcharge.csms.ocsp import next_update, read_response

        relay = self.service.settings.ocsp_relay
        out = []
        for item in self.payload(request)["certificateStatusRequests"]:
            hash_data = dict(item["certificateHashData"])
            status, when = "Failed", self.service.now()
            if item["source"] == "OCSP" and relay is not None:
                if item.get("urls"):
                    hash_data["responderURL"] = item["urls"][0]
                relayed, der = await relay(hash_data)
                if relayed == "Accepted" and der is not None:
                    raw = base64.b64decode(der)
                    status = read_response(raw, hash_data)
                    when = next_update(raw) or when
            out.append({"certificateHashData": item["certificateHashData"], "source": item["source"],
                        "status": status, "nextUpdate": when})
        return self.answer("GetCertificateChainStatus", {"certificateStatus": out})


class Handler16(StationHandler):
    """OCPP 1.6 (with the security extension)."""

    @on("BootNotification")
    async def boot(self, request: Any) -> Any:
        p = self.payload(request)
        status, interval = await self.service.boot(self.identity, "1.6", {
            "vendor": p.get("chargePointVendor"), "model": p.get("chargePointModel"),
            "serial": p.get("chargePointSerialNumber") or p.get("chargeBoxSerialNumber"),
            "firmware": p.get("firmwareVersion")})
        return self.answer("BootNotification", {"currentTime": self.service.now(), "interval": interval,
                                                "status": status})

    @on("StatusNotification")
    def status_notification(self, request: Any) -> Any:
        p = self.payload(request)
        self.service.status[(self.identity, 0, int(p["connectorId"]))] = str(p["status"])
        return self.answer("StatusNotification", {})

    @on("Authorize")
    async def authorize(self, request: Any) -> Any:
        decision = await self.service.authorize(self.payload(request)["idTag"], "")
        return self.answer("Authorize", {"idTagInfo": decision.v16()})

    @on("StartTransaction")
    async def start_transaction(self, request: Any) -> Any:
        p = self.payload(request)
        decision = await self.service.authorize(p["idTag"], "")
        # a Start sent again after a lost answer: same connector, timestamp and meterStart -> the same id
        for tx in await self.store.list_transactions(self.identity):
            if (tx.connector_id == p["connectorId"] and tx.started_at == p["timestamp"]
                    and tx.meter_start_wh == float(p["meterStart"])):
                return self.answer("StartTransaction", {"transactionId": tx.id, "idTagInfo": decision.v16()})
        tx = await self.store.new_transaction(self.identity, None, connector_id=p["connectorId"], id_token=p["idTag"],
                                              started_at=p["timestamp"], meter_start_wh=float(p["meterStart"]),
                                              messages=1)
        return self.answer("StartTransaction", {"transactionId": tx.id, "idTagInfo": decision.v16()})

    @on("MeterValues")
    async def meter_values(self, request: Any) -> Any:
        p = self.payload(request)
        tx = None
        if p.get("transactionId") is not None:
            tx = await self.store.get_transaction(self.identity, str(p["transactionId"]))
        if tx is not None:
            tx = await self.store.update_transaction(tx.id, messages=tx.messages + 1)
        await self.service.store_meter_values(self.identity, tx, p.get("meterValue"))
        return self.answer("MeterValues", {})

    @on("StopTransaction")
    async def stop_transaction(self, request: Any) -> Any:
        p = self.payload(request)
        tx = await self.store.get_transaction(self.identity, str(p["transactionId"]))
        answer: dict[str, Any] = {}
        if "idTag" in p:
            answer["idTagInfo"] = (await self.service.authorize(p["idTag"], "")).v16()
        if tx is None:
            log.info("%s: StopTransaction of unknown transaction %s", self.identity, p["transactionId"])
            return self.answer("StopTransaction", answer)
        if tx.ended_at is None:
            tx = await self.store.update_transaction(tx.id, messages=tx.messages + 1)
            updated = await self.service.store_meter_values(self.identity, tx, p.get("transactionData"))
            assert updated is not None
            tx = await self.store.update_transaction(
                updated.id, ended_at=p["timestamp"], meter_stop_wh=float(p["meterStop"]),
                stop_reason=str(p.get("reason", "Local")))
            cost = self.service.cost(tx)
            if cost is not None:
                await self.store.update_transaction(tx.id, cost=cost)
        return self.answer("StopTransaction", answer)

    @on("DiagnosticsStatusNotification", "SignedFirmwareStatusNotification")
    def acknowledge_16(self, request: Any) -> Any:
        return self.answer(type(request).__name__.removesuffix("Request"), {})

    #: the 2.0.1 Plug & Charge messages this CSMS answers in 1.6 DataTransfer (the application note)
    _PNC = ("Authorize", "Get15118EVCertificate")

    @on("DataTransfer")
    async def data_transfer(self, request: Any) -> Any:
        """Plug & Charge on 1.6 per the Open Charge Alliance's application note: vendorId
        :data:`~evcharge.ocpp.functions.application.PNC_VENDOR_ID`, messageId the 2.0.1 action, ``data`` the JSON
        text of its 2.0.1 request.  Authorize gets the decision of the 2.0.1 Authorize (with ``certificateStatus``),
        Get15118EVCertificate the contract provider's answer, each as the JSON text of the 2.0.1 response in an
        Accepted answer; another messageId is UnknownMessageId, ``data`` that is no valid 2.0.1 request Rejected,
        another vendorId UnknownVendorId."""
        p = self.payload(request)
        if p.get("vendorId") != PNC_VENDOR_ID:
            return self.answer("DataTransfer", {"status": "UnknownVendorId"})
        message_id = p.get("messageId")
        if message_id not in self._PNC:
            return self.answer("DataTransfer", {"status": "UnknownMessageId"})
        data = pnc_data(p.get("data"))
        problem = "not the JSON text of an object" if data is None else None
        if data is not None:
            try:
                v201.validate(str(message_id), "request", data)
            except OcppValidationError as exc:
                problem = str(exc)
        if data is None or problem is not None:
            log.info("%s: DataTransfer %s: data is no 2.0.1 request (%s)", self.identity, message_id, problem)
            return self.answer("DataTransfer", {"status": "Rejected"})
        if message_id == "Authorize":
            answer = await self.service.authorize_201(data["idToken"], data.get("iso15118CertificateHashData"))
        else:
            answer = await self.service.ev_certificate(self.identity, data)
        return self.answer("DataTransfer", {"status": "Accepted", "data": json.dumps(answer, separators=(",", ":"))})
