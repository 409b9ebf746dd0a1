"""The charger's engine (SECC) for DIN 70121 (DC) and ISO 15118-2 (AC and DC; EIM and Plug & Charge).

One class, one row list: DIN and ISO 15118-2 share every row where the standards agree, and the table
of an engine is the rows whose tags it has (``din``/``iso2``, ``ac``/``dc``, the quirks switched on).
A request not in the table is answered FAILED_SequenceError with only the mandatory fields
([V2G2-736]); a request whose SessionID is not the session's is answered FAILED_UnknownSession; input
that is not EXI of the protocol is answered FAILED. Every FAILED answer ends the session: the
connection is closed within ``SeccTimeouts.close_delay`` (<= 5 s).

The engine never waits on the application inside a state: the application pushes limits, present
values, isolation, authorization and schedules in before they are needed (:mod:`.events`), and where
the standard has ``EVSEProcessing=Ongoing`` the engine answers Ongoing until the application decides.
"""

from __future__ import annotations

import os
from enum import Enum
from typing import Any

from evcharge.errors import LocalProtocolError
from evcharge.iso15118.handover import HandOver, PayloadType

from ._base import EngineBase
from ._minimal import minimal
from ._table import Row, Table
from ._v2g import MessageSet, din_pmax, from_pv, message_set
from .config import SeccConfig
from .events import (
    CERTIFICATE_PARAMETER_SETS,
    AcLimits,
    AnswerCertificate,
    AuthorizationRequested,
    Authorize,
    CableCheckRequested,
    CertificateRequested,
    ChargeLoopTargets,
    ChargeParametersRequested,
    ChargingStatusRequested,
    DcLimits,
    EnergyMode,
    EvLimits,
    Isolation,
    MeteringReceiptReceived,
    MeterReading,
    Notify,
    OfferedService,
    Payment,
    PilotObserved,
    PowerAction,
    PowerDeliveryRequested,
    PreChargeRequested,
    RequestRejected,
    Schedule,
    SessionStarted,
    SessionStopRequested,
    SetAcLimits,
    SetDcLimits,
    SetIsolation,
    SetMeter,
    SetPresentValues,
    SetSchedules,
    TimingWarning,
    WeldingDetectionRequested,
)

__all__ = ["SECC_ROWS", "Secc", "SeccState", "secc_table"]


class SeccState(Enum):
    """The request the charger waits for next."""

    SESSION_SETUP = "SessionSetup"
    SERVICE_DISCOVERY = "ServiceDiscovery"
    PAYMENT_SELECTION = "PaymentServiceSelection"
    PAYMENT_DETAILS = "PaymentDetails"
    AUTHORIZATION = "Authorization"
    CHARGE_PARAMETERS = "ChargeParameterDiscovery"
    CABLE_CHECK = "CableCheck"
    PRE_CHARGE = "PreCharge"
    POWER_DELIVERY = "PowerDelivery"
    RENEGOTIATED = "Renegotiated"
    CHARGING = "Charging"
    STOPPED = "Stopped"
    ENDED = "Ended"


S = SeccState
_STOP_QUIRK = "session_stop_in_any_state"
_RENEG_QUIRK = "cable_check_skipped_on_renegotiation"


def _r(state: S, request: str, handler: str, *targets: S, requires: tuple[str, ...] = (), note: str = "") -> Row[S]:
    return Row(state, request, handler, frozenset(targets) | {S.ENDED}, frozenset(requires), note)


#: every row of the DIN / ISO 15118-2 SECC; a table takes the rows its tags allow
SECC_ROWS: tuple[Row[SeccState], ...] = (
    _r(S.SESSION_SETUP, "SessionSetup", "_session_setup", S.SERVICE_DISCOVERY),
    _r(S.SERVICE_DISCOVERY, "ServiceDiscovery", "_service_discovery", S.PAYMENT_SELECTION),
    _r(S.PAYMENT_SELECTION, "ServiceDetail", "_service_detail", S.PAYMENT_SELECTION, requires=("iso2",)),
    _r(
        S.PAYMENT_SELECTION,
        "PaymentServiceSelection",
        "_payment_selection",
        S.AUTHORIZATION,
        S.PAYMENT_DETAILS,
        note="EIM: Authorization; Contract: PaymentDetails",
    ),
    _r(S.PAYMENT_DETAILS, "CertificateInstallation", "_certificate", S.PAYMENT_DETAILS, requires=("iso2",)),
    _r(S.PAYMENT_DETAILS, "CertificateUpdate", "_certificate", S.PAYMENT_DETAILS, requires=("iso2",)),
    _r(S.PAYMENT_DETAILS, "PaymentDetails", "_payment_details", S.AUTHORIZATION, requires=("iso2",)),
    _r(S.AUTHORIZATION, "Authorization", "_authorization", S.AUTHORIZATION, S.CHARGE_PARAMETERS, note="Ongoing"),
    _r(
        S.CHARGE_PARAMETERS,
        "ChargeParameterDiscovery",
        "_charge_parameters",
        S.CHARGE_PARAMETERS,
        S.CABLE_CHECK,
        S.POWER_DELIVERY,
        S.RENEGOTIATED,
        note="Ongoing",
    ),
    _r(S.CABLE_CHECK, "CableCheck", "_cable_check", S.CABLE_CHECK, S.PRE_CHARGE, requires=("dc",), note="Ongoing"),
    _r(S.PRE_CHARGE, "PreCharge", "_pre_charge", S.PRE_CHARGE, requires=("dc",)),
    _r(S.PRE_CHARGE, "PowerDelivery", "_power_delivery", S.CHARGING, S.STOPPED, requires=("dc",)),
    _r(S.POWER_DELIVERY, "PowerDelivery", "_power_delivery", S.CHARGING, S.STOPPED, requires=("ac",)),
    _r(S.RENEGOTIATED, "CableCheck", "_cable_check", S.CABLE_CHECK, S.PRE_CHARGE, requires=("dc",)),
    _r(
        S.RENEGOTIATED,
        "PowerDelivery",
        "_power_delivery",
        S.CHARGING,
        S.STOPPED,
        requires=("dc", _RENEG_QUIRK),
        note=_RENEG_QUIRK,
    ),
    _r(S.CHARGING, "CurrentDemand", "_current_demand", S.CHARGING, requires=("dc",)),
    _r(S.CHARGING, "ChargingStatus", "_charging_status", S.CHARGING, requires=("ac", "iso2")),
    _r(S.CHARGING, "MeteringReceipt", "_metering_receipt", S.CHARGING, requires=("iso2",)),
    _r(
        S.CHARGING,
        "PowerDelivery",
        "_power_delivery",
        S.STOPPED,
        S.CHARGE_PARAMETERS,
        note="Stop; Renegotiate (ISO 15118-2)",
    ),
    _r(S.STOPPED, "WeldingDetection", "_welding_detection", S.STOPPED, requires=("dc",)),
    _r(S.STOPPED, "SessionStop", "_session_stop", S.ENDED),
    *(
        _r(state, "SessionStop", "_session_stop", S.ENDED, requires=(_STOP_QUIRK,), note=_STOP_QUIRK)
        for state in S
        if state not in (S.SESSION_SETUP, S.STOPPED, S.ENDED)
    ),
)


def secc_table(protocol: str, dc: bool, config: SeccConfig | None = None) -> Table[SeccState]:
    """The table of one SECC variant (``protocol`` ``"din"`` or ``"iso2"``)."""
    config = config or SeccConfig()
    tags = {protocol, "dc" if dc else "ac"}
    if config.quirks.session_stop_in_any_state:
        tags.add(_STOP_QUIRK)
    if config.quirks.cable_check_skipped_on_renegotiation:
        tags.add(_RENEG_QUIRK)
    return Table(f"SECC {protocol} {'DC' if dc else 'AC'}", tags, SeccState, SECC_ROWS)


_ZERO_SESSION = b"\x00" * 8


def _parameter(mod: Any, name: str, value: bool | int | float | str) -> Any:
    """An ISO 15118-2 Parameter: a bool, an int (the smallest of byte/short/int that holds it) or a str."""
    if isinstance(value, bool):
        return mod.Parameter(name=name, bool_value=value)
    if isinstance(value, int):
        if -128 <= value <= 127:
            return mod.Parameter(name=name, byte_value=value)
        if -32768 <= value <= 32767:
            return mod.Parameter(name=name, short_value=value)
        return mod.Parameter(name=name, int_value=value)
    return mod.Parameter(name=name, string_value=str(value))


class Secc(EngineBase[SeccState]):
    """The charger side of one DIN 70121 or ISO 15118-2 session (an :class:`~evcharge.iso15118.handover.Engine`).

    ``protocol`` is ``"din"`` or ``"iso2"``; the energy side (AC/DC) follows the car's
    ChargeParameterDiscoveryReq among ``config.energy_modes`` (the table of the first offered mode's
    kind is used; offer AC and DC modes in two engines' configs only if the station has both).
    """

    def __init__(self, handover: HandOver, config: SeccConfig | None = None, *, protocol: str | None = None) -> None:
        self.config = config = config or SeccConfig()
        if protocol is None:
            protocol = "din" if handover.protocol.name == "DIN" else "iso2"
        super().__init__(state=S.SESSION_SETUP, trace=config.trace)
        self.protocol = protocol
        self.ms: MessageSet = message_set(protocol)
        self.din = self.ms.din
        self.mod = self.ms.mod
        self.dc = config.energy_modes[0].is_dc
        if self.din and not self.dc:
            raise LocalProtocolError("DIN 70121 is DC only: configure a DC energy mode")
        self.table = secc_table(protocol, self.dc, config)
        self.handover = handover
        self.tls = handover.tls is not None
        self.session_id: bytes = _ZERO_SESSION
        self._resume_id = handover.resume_session_id
        self._payments = tuple(p for p in config.payments if p is Payment.EIM or self.tls)
        # what the application pushed in
        self._dc_limits: DcLimits | None = config.dc_limits
        self._ac_limits: AcLimits | None = config.ac_limits
        self._present = SetPresentValues(voltage=0.0)
        self._isolation: Isolation | None = None
        self._authorized: bool | None = True if config.auto_authorize else None
        self._schedules: tuple[Schedule, ...] = config.default_schedules
        self._meter: MeterReading | None = None
        self._receipt_required = config.receipt_required
        self._notification = "None"
        self._notification_delay = 0
        self._pending_cert: tuple[str, float] | None = None  # (request, deadline)
        # what the session decided
        self.payment: Payment | None = None
        self.energy_mode: EnergyMode | None = None
        self.offered: dict[int, Schedule] = {}
        self.schedule_id: int | None = None
        self._gen_challenge: bytes | None = None
        self._emaid: str | None = None
        self._contract_chain: tuple[bytes, ...] = ()
        self._ongoing_since: float | None = None
        self._asked = False  # the current Ongoing loop's event was emitted
        self._renegotiating = False
        self._charge_started = False
        self._start_requested_at: float | None = None
        #: the services listed beside the charge service (ID 1): ISO 15118-2 ServiceList, by ServiceID
        self._services: dict[int, OfferedService] = {} if self.din else self._listed_services(config)
        self._service_ids = {1, *self._services}
        if handover.setup_deadline is not None:
            self._arm("communication_setup", handover.setup_deadline)
        else:
            self._arm("sequence", handover.now + config.timeouts.sequence)

    def _listed_services(self, config: SeccConfig) -> dict[int, OfferedService]:
        services: dict[int, OfferedService] = {}
        if config.certificate_service and Payment.PNC in self._payments:
            services[2] = OfferedService(
                service_id=2,
                category="ContractCertificate",
                name="Certificate",
                parameter_sets=CERTIFICATE_PARAMETER_SETS,
            )
        for service in config.services:
            if service.service_id in (1, 2) or service.service_id in services:
                raise LocalProtocolError(
                    f"ServiceID {service.service_id}: 1 is the charge service, 2 the certificate service, IDs unique"
                )
            for _, parameters in service.parameter_sets:
                if any(isinstance(v, float) for _, v in parameters):
                    raise LocalProtocolError("a service parameter is a bool, an int or a str")
            services[service.service_id] = service
        return services

    # -- application input -------------------------------------------------------------------

    def send(self, command: Any, now: float) -> None:
        if isinstance(command, SetPresentValues):
            self._present = command
        elif isinstance(command, SetDcLimits):
            self._dc_limits = command.limits
        elif isinstance(command, SetAcLimits):
            self._ac_limits = command.limits
        elif isinstance(command, SetIsolation):
            self._isolation = command.level
        elif isinstance(command, Authorize):
            self._authorized = command.accepted
        elif isinstance(command, SetSchedules):
            if not command.schedules:
                raise LocalProtocolError("SetSchedules needs at least one schedule")
            self._schedules = command.schedules
        elif isinstance(command, SetMeter):
            self._meter = command.meter
            self._receipt_required = command.receipt_required
        elif isinstance(command, Notify):
            if command.action not in ("stop", "renegotiate", "none"):
                raise LocalProtocolError(f"Notify action {command.action!r}: stop, renegotiate or none")
            if command.action == "renegotiate" and self.din:
                raise LocalProtocolError("DIN 70121 has no renegotiation")
            self._notification = {"stop": "StopCharging", "renegotiate": "ReNegotiation", "none": "None"}[
                command.action
            ]
            self._notification_delay = command.max_delay
        elif isinstance(command, AnswerCertificate):
            self._answer_certificate(command, now)
        elif isinstance(command, PilotObserved):
            self._pilot(command.state, now)
        else:
            raise LocalProtocolError(f"the SECC does not take {type(command).__name__}")

    # -- payloads ------------------------------------------------------------------------------

    def receive_payload(self, payload_type: int, payload: bytes, now: float) -> None:
        if self.ended is not None:
            return  # the session is over: the transport is closing the connection
        if payload_type != PayloadType.EXI:
            self._trace_rx(payload_type, payload, "?", None, now)
            self._fail_unknown(now, "FAILED", f"V2GTP payload type 0x{payload_type:04x} in a {self.protocol} session")
            return
        try:
            msg = self.ms.decode(payload)
            found = self.ms.request_of(msg.body)
        except Exception as exc:
            self._trace_rx(payload_type, payload, "?", None, now)
            self._fail_unknown(now, "FAILED", f"not a {self.protocol} EXI message: {exc}")
            return
        if found is None:
            self._trace_rx(payload_type, payload, "?", msg, now)
            self._fail_unknown(now, "FAILED_SequenceError", "a message that is not a request")
            return
        request, body = found
        self._trace_rx(payload_type, payload, request + "Req", msg, now)
        if self._pending_cert is not None:
            self._fail(request, now, "FAILED_SequenceError", "a request before the certificate response was sent")
            return
        state = self._state
        if state is not S.SESSION_SETUP and msg.header.session_id != self.session_id:
            self._fail(request, now, "FAILED_UnknownSession", "the SessionID is not this session's")
            return
        row = self.table.lookup(state, request)
        if row is None:
            self._fail(request, now, "FAILED_SequenceError", f"{request}Req in state {state.name}")
            return
        self._disarm("sequence")
        self._disarm("communication_setup")
        nxt: SeccState = getattr(self, row.handler)(request, body, msg, now)
        if nxt not in row.targets:  # pragma: no cover - a bug in a handler
            raise LocalProtocolError(f"{row.handler} went to {nxt.name}, not one of the row's targets")
        if self.ended is None:
            self._state = nxt
            if self._pending_cert is None:
                self._arm("sequence", now + self.config.timeouts.sequence)

    # -- responses -----------------------------------------------------------------------------

    def _respond(self, request: str, body: Any, now: float, *, signature: Any = None) -> None:
        msg = self.ms.message(self.session_id, self.ms.res_attr[request], body)
        if signature is not None:
            msg = self.mod.V2G_Message(
                header=self.mod.MessageHeader(session_id=self.session_id, signature=signature), body=msg.body
            )
        self._queue(PayloadType.EXI, self.ms.encode(msg), request + "Res", msg, now)

    def _failed_body(self, request: str, code: str) -> Any:
        mod = self.mod
        values: dict[str, Any] = {
            "response_code": mod.ResponseCode(code),
            "evseid": self.config.din_evse_id if self.din else self.config.evse_id,
            "evse_processing": mod.EVSEProcessing.Finished,
            "dc_evse_status": self._dc_status(),
            "evse_present_voltage": self.ms.pv(self._present.voltage, "V"),
            "evse_present_current": self.ms.pv(self._present.current, "A"),
            "sa_schedule_tuple_id": self.schedule_id or 1,
            "evse_time_stamp": 0,
            "date_time_now": 0,
        }
        if not self.din:
            values["ac_evse_status"] = self._ac_status()
            values["gen_challenge"] = b"\x00" * 16  # -2: 16 bytes (DIN: a string)
        include: tuple[str, ...] = ()
        if request == "ChargeParameterDiscovery":
            values["sa_schedule_list"] = self._schedule_list((Schedule(pmax=((0, 0.0),)),))
            include = ("sa_schedule_list", "dc_evse_charge_parameter" if self.dc else "ac_evse_charge_parameter")
            values["dc_evse_charge_parameter"] = self._dc_charge_parameter(
                DcLimits(max_voltage=0, max_current=0, max_power=0)
            )
            if not self.din:
                values["ac_evse_charge_parameter"] = self._ac_charge_parameter(
                    AcLimits(nominal_voltage=0, max_current=0)
                )
        elif request in ("PowerDelivery", "MeteringReceipt"):
            include = ("dc_evse_status",) if self.dc or self.din else ("ac_evse_status",)
        elif request in ("CertificateInstallation", "CertificateUpdate") and not self.din:
            values["e_maid"] = self.mod.EMAID(id_="eMAID", value="ZZ00000000000000"[:14])
            values["contract_signature_encrypted_private_key"] = self.mod.ContractSignatureEncryptedPrivateKey(
                id_="encPrivKey", value=b"\x00"
            )
            values["d_hpublickey"] = self.mod.DiffieHellmanPublickey(id_="dhPublicKey", value=b"\x00")
        return minimal(self.ms.res_class[request], values, include=include)

    def _fail(self, request: str, now: float, code: str, reason: str) -> SeccState:
        """Answer ``request`` with ``code`` (only the mandatory fields) and end the session."""
        self._respond(request, self._failed_body(request, code), now)
        self._emit(RequestRejected(request=request, response_code=code, reason=reason))
        self._end(
            now,
            S.ENDED,
            reason=reason,
            normal=False,
            close_delay=self.config.timeouts.close_delay,
            session_id=self.session_id,
            response_code=code,
        )
        return S.ENDED

    def _fail_unknown(self, now: float, code: str, reason: str) -> None:
        """Bad input of unknown request type: answer the response the state expects."""
        allowed = self.table.allowed(self._state)
        request = next((r for r in allowed if r != "SessionStop"), allowed[0] if allowed else "SessionSetup")
        self._fail(request, now, code, reason)

    def _deadline(self, request: str, now: float) -> float:
        return now + self.config.performance.for_request(request)

    def _on_timeout(self, name: str, now: float) -> None:
        if name == "certificate" and self._pending_cert is not None:
            request, _ = self._pending_cert
            self._pending_cert = None
            self._fail(request, now, "FAILED", "no certificate answer from the provider in time")
            return
        reason = {
            "sequence": "V2G_SECC_Sequence_Timeout: no request within 60 s",
            "communication_setup": "V2G_SECC_CommunicationSetup_Performance_Time: no SessionSetupReq",
        }.get(name, name)
        self._end(
            now,
            S.ENDED,
            reason=reason,
            normal=False,
            close_delay=0.0,
            session_id=self.session_id,
        )

    # -- status builders -----------------------------------------------------------------------

    def _dc_status(self) -> Any:
        mod = self.mod
        if self._notification == "StopCharging":
            code = mod.DC_EVSEStatusCode.EVSE_Shutdown
        elif self._isolation is None and self._state in (S.CABLE_CHECK, S.RENEGOTIATED):
            code = mod.DC_EVSEStatusCode.EVSE_IsolationMonitoringActive
        else:
            code = mod.DC_EVSEStatusCode.EVSE_Ready
        iso = mod.IsolationLevel(self._isolation.value) if self._isolation is not None else None
        return mod.DC_EVSEStatus(
            notification_max_delay=self._notification_delay,
            evse_notification=mod.EVSENotification(self._notification),
            evse_status_code=code,
            evse_isolation_status=iso,
        )

    def _ac_status(self) -> Any:
        return self.mod.AC_EVSEStatus(
            notification_max_delay=self._notification_delay,
            evse_notification=self.mod.EVSENotification(self._notification),
            rcd=False,
        )

    def _dc_charge_parameter(self, lim: DcLimits) -> Any:
        pv = self.ms.pv
        kw: dict[str, Any] = {
            "dc_evse_status": self._dc_status(),
            "evse_maximum_current_limit": pv(lim.max_current, "A"),
            "evse_maximum_power_limit": pv(lim.max_power, "W"),
            "evse_maximum_voltage_limit": pv(lim.max_voltage, "V"),
            "evse_minimum_current_limit": pv(lim.min_current, "A"),
            "evse_minimum_voltage_limit": pv(lim.min_voltage, "V"),
            "evse_peak_current_ripple": pv(lim.peak_current_ripple, "A"),
        }
        if lim.regulation_tolerance is not None:
            kw["evse_current_regulation_tolerance"] = pv(lim.regulation_tolerance, "A")
        if lim.energy_to_deliver is not None:
            kw["evse_energy_to_be_delivered"] = pv(lim.energy_to_deliver, "Wh")
        return self.mod.DC_EVSEChargeParameter(**kw)

    def _ac_charge_parameter(self, lim: AcLimits) -> Any:
        return self.mod.AC_EVSEChargeParameter(
            ac_evse_status=self._ac_status(),
            evse_nominal_voltage=self.ms.pv(lim.nominal_voltage, "V"),
            evse_max_current=self.ms.pv(lim.max_current, "A"),
        )

    def _schedule_list(self, schedules: tuple[Schedule, ...]) -> Any:
        mod = self.mod
        tuples = []
        for s in schedules:
            entries = []
            for i, (start, watts) in enumerate(s.pmax):
                last = i == len(s.pmax) - 1
                rti = mod.RelativeTimeInterval(start=start, duration=(s.duration - start) if last else None)
                if self.din:
                    pmax: Any = din_pmax(watts)
                else:
                    pmax = self.ms.pv(watts, "W")
                entries.append(mod.PMaxScheduleEntry(p_max=pmax, relative_time_interval=rti))
            if self.din:
                pms = mod.PMaxSchedule(p_max_schedule_id=s.tuple_id, p_max_schedule_entry=entries)
            else:
                pms = mod.PMaxSchedule(p_max_schedule_entry=entries)
            tariff = None
            if s.tariff is not None and not self.din:
                t = s.tariff
                tariff = mod.SalesTariff(
                    id_=f"tariff{t.tariff_id}",
                    sales_tariff_id=t.tariff_id,
                    num_e_price_levels=t.price_levels,
                    sales_tariff_description=t.description,
                    sales_tariff_entry=[
                        mod.SalesTariffEntry(
                            e_price_level=level,
                            relative_time_interval=mod.RelativeTimeInterval(
                                start=start, duration=(s.duration - start) if j == len(t.entries) - 1 else None
                            ),
                        )
                        for j, (start, level) in enumerate(t.entries)
                    ],
                )
            tuples.append(mod.SAScheduleTuple(sa_schedule_tuple_id=s.tuple_id, p_max_schedule=pms, sales_tariff=tariff))
        return mod.SAScheduleList(sa_schedule_tuple=tuples)

    # -- handlers: each returns the next state ---------------------------------------------------

    def _session_setup(self, request: str, body: Any, msg: Any, now: float) -> SeccState:
        offered = msg.header.session_id
        resumed = self._resume_id is not None and offered == self._resume_id and offered != _ZERO_SESSION
        mod = self.mod
        if resumed:
            self.session_id = offered
            code = mod.ResponseCode.OK_OldSessionJoined
        else:
            self.session_id = os.urandom(8)
            code = mod.ResponseCode.OK_NewSessionEstablished
        if self.din:
            res = mod.SessionSetupRes(response_code=code, evseid=self.config.din_evse_id)
        else:
            res = mod.SessionSetupRes(response_code=code, evseid=self.config.evse_id)
        self._respond(request, res, now)
        self._emit(
            SessionStarted(protocol=self.protocol, session_id=self.session_id, peer_id=body.evccid, resumed=resumed)
        )
        return S.SERVICE_DISCOVERY

    def _energy_modes(self) -> tuple[EnergyMode, ...]:
        return tuple(m for m in self.config.energy_modes if m.is_dc == self.dc)

    def _service_discovery(self, request: str, body: Any, msg: Any, now: float) -> SeccState:
        mod = self.mod
        cfg = self.config
        if self.din:
            mode = self._energy_modes()[0]
            supported = mod.EVSESupportedEnergyTransfer(mode.value)
            res = mod.ServiceDiscoveryRes(
                response_code=mod.ResponseCode.OK,
                payment_options=mod.PaymentOptions(payment_option=[mod.PaymentOption(p.value) for p in self._payments]),
                charge_service=mod.ServiceCharge(
                    service_tag=mod.ServiceTag(service_id=1, service_category=mod.ServiceCategory.EVCharging),
                    free_service=cfg.free_service,
                    energy_transfer_type=supported,
                ),
            )
        else:
            res = mod.ServiceDiscoveryRes(
                response_code=mod.ResponseCode.OK,
                payment_option_list=mod.PaymentOptionList(
                    payment_option=[mod.PaymentOption(p.value) for p in self._payments]
                ),
                charge_service=mod.ChargeService(
                    service_id=1,
                    service_category=mod.ServiceCategory.EVCharging,
                    free_service=cfg.free_service,
                    supported_energy_transfer_mode=mod.SupportedEnergyTransferMode(
                        energy_transfer_mode=[mod.EnergyTransferMode(m.value) for m in self._energy_modes()]
                    ),
                ),
                service_list=mod.ServiceList(
                    service=[
                        mod.Service(
                            service_id=s.service_id,
                            service_name=s.name,
                            service_category=mod.ServiceCategory(s.category),
                            free_service=s.free,
                        )
                        for s in self._services.values()
                    ]
                )
                if self._services
                else None,
            )
        self._respond(request, res, now)
        return S.PAYMENT_SELECTION

    def _service_detail(self, request: str, body: Any, msg: Any, now: float) -> SeccState:
        if body.service_id not in self._service_ids:
            return self._fail(
                request, now, "FAILED_ServiceIDInvalid", f"ServiceDetail for unknown service {body.service_id}"
            )
        mod = self.mod
        service = self._services.get(body.service_id)
        parameters = None
        if service is not None and service.parameter_sets:
            parameters = mod.ServiceParameterList(
                parameter_set=[
                    mod.ParameterSet(parameter_set_id=set_id, parameter=[_parameter(mod, n, v) for n, v in values])
                    for set_id, values in service.parameter_sets
                ]
            )
        self._respond(
            request,
            mod.ServiceDetailRes(
                response_code=mod.ResponseCode.OK, service_id=body.service_id, service_parameter_list=parameters
            ),
            now,
        )
        return S.PAYMENT_SELECTION

    def _payment_selection(self, request: str, body: Any, msg: Any, now: float) -> SeccState:
        try:
            payment = Payment(body.selected_payment_option.value)
        except ValueError:  # pragma: no cover - the schema allows only the two
            payment = None
        if payment is None or payment not in self._payments:
            why = "Plug & Charge needs TLS" if payment is Payment.PNC and not self.tls else "payment not offered"
            return self._fail(request, now, "FAILED_PaymentSelectionInvalid", why)
        selected = body.selected_service_list.selected_service
        ids = [s.service_id for s in selected]
        if any(i not in self._service_ids for i in ids):
            return self._fail(request, now, "FAILED_ServiceSelectionInvalid", f"unknown service in {ids}")
        for s in selected:  # the charge service has no ParameterSets: a car's ParameterSetID on it is tolerated
            if s.service_id == 1:
                continue
            service = self._services.get(s.service_id)
            sets = [set_id for set_id, _ in service.parameter_sets] if service is not None else []
            if s.parameter_set_id is not None and s.parameter_set_id not in sets:
                return self._fail(
                    request,
                    now,
                    "FAILED_ServiceSelectionInvalid",
                    f"service {s.service_id} has no ParameterSetID {s.parameter_set_id}",
                )
        if 1 not in ids:
            code = "FAILED_ServiceSelectionInvalid" if self.din else "FAILED_NoChargeServiceSelected"
            return self._fail(request, now, code, "the charge service (ID 1) was not selected")
        self.payment = payment
        self._respond(request, self.ms.res_class[request](response_code=self.mod.ResponseCode.OK), now)
        return S.PAYMENT_DETAILS if payment is Payment.PNC else S.AUTHORIZATION

    def _certificate(self, request: str, body: Any, msg: Any, now: float) -> SeccState:
        deadline = self._deadline(request, now)
        kind = "installation" if request == "CertificateInstallation" else "update"
        if kind == "update":
            refused = self._check_update(body, msg)
            if refused is not None:
                return self._fail(request, now, *refused)
        else:
            from .pnc import signed_by_certificate

            # ISO 15118-2 CertificateInstallationReq: signed with the private key of the OEM provisioning
            # certificate; the SECC checks it with the OEMProvisioningCert the request carries
            if not signed_by_certificate(msg, body, body.oem_provisioning_cert):
                return self._fail(
                    request,
                    now,
                    "FAILED_SignatureError",
                    "the CertificateInstallationReq signature does not verify with the OEM provisioning certificate",
                )
        provider = self.config.certificate_provider
        if provider is not None:
            answer = provider.answer(kind, msg)
            if answer is None:
                return self._fail(request, now, "FAILED_NoCertificateAvailable", "the provider has no certificate")
            self._respond(request, answer[0], now, signature=answer[1])
            return S.PAYMENT_DETAILS
        exi = self.trace[-1].exi if self.trace else self.ms.encode(msg)
        self._pending_cert = (request, deadline)
        self._arm("certificate", deadline)
        self._emit(
            CertificateRequested(request=request, received_at=now, deadline=deadline, kind=kind, exi=exi, message=msg)
        )
        return S.PAYMENT_DETAILS

    def _check_update(self, body: Any, msg: Any) -> tuple[str, str] | None:
        """CertificateUpdateReq is signed with the key of the contract certificate it renews (ISO 15118-2,
        CertificateUpdate): the chain it carries must reach a trusted MO root for its eMAID (FAILED_CertChainError,
        FAILED_CertificateExpired), then the header signature must verify with that chain's leaf and cover the
        request (FAILED_SignatureError). (response code, reason) when refused; None when good or when no
        contract verifier is configured (as for PaymentDetails and Authorization)."""
        verifier = self.config.contract_verifier or self.handover.extra.get("contract_verifier")
        if verifier is None:
            return None
        chain = body.contract_signature_cert_chain
        certs = (chain.certificate, *(chain.sub_certificates.certificate if chain.sub_certificates else ()))
        code = verifier.verify_chain(certs, body.e_maid)
        if code is not None:
            return code, "the contract certificate chain to update does not verify"
        if not verifier.verify_signature(msg, body, certs):
            return "FAILED_SignatureError", "the CertificateUpdateReq signature does not verify with the contract key"
        return None

    def _answer_certificate(self, command: AnswerCertificate, now: float) -> None:
        if self._pending_cert is None:
            raise LocalProtocolError("no CertificateInstallation/Update request is waiting for an answer")
        request, _ = self._pending_cert
        self._pending_cert = None
        self._disarm("certificate")
        if command.body is None:
            self._fail(
                request,
                now,
                command.response_code or "FAILED_NoCertificateAvailable",
                "the provider has no certificate",
            )
            return
        self._respond(request, command.body, now, signature=command.signature)
        self._arm("sequence", now + self.config.timeouts.sequence)

    def _payment_details(self, request: str, body: Any, msg: Any, now: float) -> SeccState:
        chain = body.contract_signature_cert_chain
        certs = (chain.certificate, *(chain.sub_certificates.certificate if chain.sub_certificates else ()))
        verifier = self.config.contract_verifier or self.handover.extra.get("contract_verifier")
        if verifier is not None:
            code = verifier.verify_chain(certs, body.e_maid)
            if code is not None:
                return self._fail(request, now, code, "the contract certificate chain does not verify")
        self._emaid = body.e_maid
        self._contract_chain = certs
        self._gen_challenge = os.urandom(16)
        stamp = int(self.handover.extra.get("wallclock", lambda n: 0)(now))
        self._respond(
            request,
            self.mod.PaymentDetailsRes(
                response_code=self.mod.ResponseCode.OK, gen_challenge=self._gen_challenge, evse_time_stamp=stamp
            ),
            now,
        )
        return S.AUTHORIZATION

    def _ongoing_expired(self, now: float, limit: float) -> bool:
        if self._ongoing_since is None:
            self._ongoing_since = now
        return now - self._ongoing_since >= limit

    def _finished(self) -> None:
        self._ongoing_since = None
        self._asked = False

    def _authorization(self, request: str, body: Any, msg: Any, now: float) -> SeccState:
        mod = self.mod
        if self.payment is Payment.PNC and not self._asked:
            if body.gen_challenge != self._gen_challenge:
                return self._fail(request, now, "FAILED_ChallengeInvalid", "GenChallenge is not the one sent")
            verifier = self.config.contract_verifier or self.handover.extra.get("contract_verifier")
            if verifier is not None and not verifier.verify_signature(msg, body, self._contract_chain):
                return self._fail(
                    request, now, "FAILED_SignatureError", "the AuthorizationReq signature does not verify"
                )
        if not self._asked:
            self._asked = True
            self._emit(
                AuthorizationRequested(
                    request=request,
                    received_at=now,
                    deadline=self._deadline(request, now),
                    payment=self.payment or Payment.EIM,
                    emaid=self._emaid,
                    contract_chain=self._contract_chain,
                )
            )
        if self._authorized is False:
            return self._fail(request, now, "FAILED", "authorization rejected")
        if self._authorized is None:
            if self._ongoing_expired(now, self.config.timeouts.ongoing):
                return self._fail(request, now, "FAILED", "V2G_SECC_Ongoing_Performance_Time: no authorization")
            self._respond(
                request,
                self.ms.res_class[request](
                    response_code=mod.ResponseCode.OK, evse_processing=mod.EVSEProcessing.Ongoing
                ),
                now,
            )
            return S.AUTHORIZATION
        self._finished()
        self._respond(
            request,
            self.ms.res_class[request](response_code=mod.ResponseCode.OK, evse_processing=mod.EVSEProcessing.Finished),
            now,
        )
        return S.CHARGE_PARAMETERS

    def _charge_parameters(self, request: str, body: Any, msg: Any, now: float) -> SeccState:
        mod = self.mod
        raw_mode = body.ev_requested_energy_transfer_type if self.din else body.requested_energy_transfer_mode
        mode = EnergyMode(raw_mode.value)
        if mode not in self._energy_modes():
            code = "FAILED_WrongEnergyTransferType" if self.din else "FAILED_WrongEnergyTransferMode"
            return self._fail(request, now, code, f"{mode.value} is not offered")
        if self._renegotiating and self.energy_mode is not None and mode is not self.energy_mode:
            code = "FAILED_WrongEnergyTransferType" if self.din else "FAILED_WrongEnergyTransferMode"
            return self._fail(request, now, code, "the energy transfer mode changed on renegotiation")
        if mode.is_dc:
            p = body.dc_ev_charge_parameter
            if p is None:
                return self._fail(request, now, "FAILED_WrongChargeParameter", "DC mode without DC_EVChargeParameter")
            ev = EvLimits(
                max_voltage=from_pv(p.ev_maximum_voltage_limit),
                max_current=from_pv(p.ev_maximum_current_limit),
                max_power=from_pv(p.ev_maximum_power_limit) if p.ev_maximum_power_limit else None,
                energy_request=from_pv(p.ev_energy_request) if p.ev_energy_request else None,
                energy_capacity=from_pv(p.ev_energy_capacity) if p.ev_energy_capacity else None,
                departure_time=getattr(p, "departure_time", None),
                soc=p.dc_ev_status.evresssoc,
            )
        else:
            p = body.ac_ev_charge_parameter
            if p is None:
                return self._fail(request, now, "FAILED_WrongChargeParameter", "AC mode without AC_EVChargeParameter")
            ev = EvLimits(
                max_voltage=from_pv(p.ev_max_voltage),
                max_current=from_pv(p.ev_max_current),
                min_current=from_pv(p.ev_min_current),
                energy_request=from_pv(p.e_amount),
                departure_time=p.departure_time,
            )
        self.energy_mode = mode
        max_tuples = None if self.din else body.max_entries_sa_schedule_tuple
        if not self._asked:
            self._asked = True
            self._emit(
                ChargeParametersRequested(
                    request=request,
                    received_at=now,
                    deadline=self._deadline(request, now),
                    energy_mode=mode,
                    ev=ev,
                    max_schedule_tuples=max_tuples,
                )
            )
        ready = self._dc_limits is not None if self.dc else self._ac_limits is not None
        if not ready:
            if self._ongoing_expired(now, self.config.timeouts.ongoing):
                return self._fail(request, now, "FAILED", "V2G_SECC_Ongoing_Performance_Time: no EVSE limits")
            self._respond(request, self._cpd_res(mod.EVSEProcessing.Ongoing, ()), now)
            return S.CHARGE_PARAMETERS
        self._finished()
        schedules = self._schedules or (self._default_schedule(),)
        if max_tuples is not None:
            schedules = schedules[:max_tuples]
        self.offered = {s.tuple_id: s for s in schedules}
        self._respond(request, self._cpd_res(mod.EVSEProcessing.Finished, schedules), now)
        if self._renegotiating:
            return S.RENEGOTIATED if self.dc else S.POWER_DELIVERY
        return S.CABLE_CHECK if self.dc else S.POWER_DELIVERY

    def _default_schedule(self) -> Schedule:
        if self.dc:
            assert self._dc_limits is not None
            watts = self._dc_limits.max_power
        else:
            assert self._ac_limits is not None
            phases = 3 if self.energy_mode is EnergyMode.AC_THREE_PHASE else 1
            watts = self._ac_limits.nominal_voltage * self._ac_limits.max_current * phases
        return Schedule(tuple_id=1, pmax=((0, watts),))

    def _cpd_res(self, processing: Any, schedules: tuple[Schedule, ...]) -> Any:
        mod = self.mod
        sched = self._schedule_list(schedules or (self._schedules or (Schedule(pmax=((0, 0.0),)),)))
        kw: dict[str, Any] = {
            "response_code": mod.ResponseCode.OK,
            "evse_processing": processing,
            "sa_schedule_list": sched,
        }
        if self.dc:
            kw["dc_evse_charge_parameter"] = self._dc_charge_parameter(
                self._dc_limits or DcLimits(max_voltage=0, max_current=0, max_power=0)
            )
        else:
            kw["ac_evse_charge_parameter"] = self._ac_charge_parameter(self._ac_limits or AcLimits(max_current=0))
        return mod.ChargeParameterDiscoveryRes(**kw)

    def _cable_check(self, request: str, body: Any, msg: Any, now: float) -> SeccState:
        mod = self.mod
        if not self._asked:
            self._asked = True
            self._isolation = None if not self._renegotiating else self._isolation
            self._emit(
                CableCheckRequested(
                    request=request,
                    received_at=now,
                    deadline=self._deadline(request, now),
                    soc=body.dc_ev_status.evresssoc,
                )
            )
        if self._isolation is Isolation.FAULT:
            return self._fail(request, now, "FAILED", "isolation fault")
        if self._isolation not in (Isolation.VALID, Isolation.WARNING):
            if self._ongoing_expired(now, self.config.timeouts.cable_check):
                return self._fail(request, now, "FAILED", "V2G_SECC_CableCheck_Performance_Time exceeded")
            self._respond(
                request,
                mod.CableCheckRes(
                    response_code=mod.ResponseCode.OK,
                    dc_evse_status=self._dc_status(),
                    evse_processing=mod.EVSEProcessing.Ongoing,
                ),
                now,
            )
            return S.CABLE_CHECK
        self._finished()
        self._respond(
            request,
            mod.CableCheckRes(
                response_code=mod.ResponseCode.OK,
                dc_evse_status=self._dc_status(),
                evse_processing=mod.EVSEProcessing.Finished,
            ),
            now,
        )
        return S.PRE_CHARGE

    def _pre_charge(self, request: str, body: Any, msg: Any, now: float) -> SeccState:
        if self._ongoing_since is None:
            self._ongoing_since = now
        elif now - self._ongoing_since >= self.config.timeouts.pre_charge:
            return self._fail(request, now, "FAILED", "V2G_SECC_PreCharge_Performance_Time exceeded")
        self._emit(
            PreChargeRequested(
                request=request,
                received_at=now,
                deadline=self._deadline(request, now),
                target_voltage=from_pv(body.ev_target_voltage),
                target_current=from_pv(body.ev_target_current),
            )
        )
        mod = self.mod
        self._respond(
            request,
            mod.PreChargeRes(
                response_code=mod.ResponseCode.OK,
                dc_evse_status=self._dc_status(),
                evse_present_voltage=self.ms.pv(self._present.voltage, "V"),
            ),
            now,
        )
        return S.PRE_CHARGE

    def _power_delivery(self, request: str, body: Any, msg: Any, now: float) -> SeccState:
        mod = self.mod
        self._ongoing_since = None
        if self.din:
            action = PowerAction.START if body.ready_to_charge_state else PowerAction.STOP
            profile_msg = body.charging_profile
            schedule_id = profile_msg.sa_schedule_tuple_id if profile_msg is not None else (self.schedule_id or 1)
            profile = tuple(
                (e.charging_profile_entry_start, float(e.charging_profile_entry_max_power))
                for e in (profile_msg.profile_entry if profile_msg else ())
            )
        else:
            action = PowerAction(body.charge_progress.value)
            schedule_id = body.sa_schedule_tuple_id
            profile = tuple(
                (e.charging_profile_entry_start, from_pv(e.charging_profile_entry_max_power))
                for e in (body.charging_profile.profile_entry if body.charging_profile else ())
            )
        state = self._state
        if action is PowerAction.RENEGOTIATE and (self.din or state is not S.CHARGING):
            return self._fail(request, now, "FAILED", "Renegotiate is allowed only while charging")
        if action is PowerAction.START:
            if state is S.CHARGING:
                return self._fail(request, now, "FAILED_SequenceError", "PowerDelivery(Start) while charging")
            if schedule_id not in self.offered and not (self.din and not self.offered):
                return self._fail(
                    request, now, "FAILED_TariffSelectionInvalid", f"SAScheduleTupleID {schedule_id} was not offered"
                )
            if not self.din and profile:
                sched = self.offered[schedule_id]
                tol = self.config.profile_tolerance
                for start, watts in profile:
                    if watts > sched.pmax_at(start) + tol:
                        return self._fail(
                            request,
                            now,
                            "FAILED_ChargingProfileInvalid",
                            f"ChargingProfile {watts} W at {start} s above the schedule's {sched.pmax_at(start)} W",
                        )
            self.schedule_id = schedule_id
            if not self._charge_started:
                self._start_requested_at = now
        self._emit(
            PowerDeliveryRequested(
                request=request,
                received_at=now,
                deadline=self._deadline(request, now),
                action=action,
                schedule_id=schedule_id,
                profile=profile,
            )
        )
        if self.dc or self.din:
            res = mod.PowerDeliveryRes(response_code=mod.ResponseCode.OK, dc_evse_status=self._dc_status())
        else:
            res = mod.PowerDeliveryRes(response_code=mod.ResponseCode.OK, ac_evse_status=self._ac_status())
        if action is not PowerAction.START or self._notification == "ReNegotiation":
            self._notification = "None"  # the car has acted on the notification
            self._notification_delay = 0
        self._respond(request, res, now)
        self._asked = False
        if action is PowerAction.START:
            self._renegotiating = False
            self._charge_started = True
            return S.CHARGING
        if action is PowerAction.RENEGOTIATE:
            self._renegotiating = True
            return S.CHARGE_PARAMETERS
        return S.STOPPED

    def _pilot(self, state: str, now: float) -> None:
        """[V2G2-847]: the car switches to state C/D within 250 ms of its first PowerDeliveryReq(Start)."""
        started = self._start_requested_at
        if state not in ("C", "D") or started is None:
            return
        self._start_requested_at = None
        late = now - started
        if late <= 0.25 or self.ended is not None:
            return
        detail = f"state {state} {late * 1000:.0f} ms after PowerDeliveryReq(Start), allowed 250 ms"
        if self.config.quirks.state_c_timing_as_warning:
            self._emit(TimingWarning(requirement="V2G2-847", detail=detail))
        else:
            self._end(
                now, S.ENDED, reason=f"[V2G2-847] {detail}", normal=False, close_delay=0.0, session_id=self.session_id
            )

    def _meter_info(self) -> Any:
        m = self._meter
        if m is None:
            return None
        mod = self.mod
        reading: Any = m.wh
        if self.din and m.wh is not None:
            reading = self.ms.pv(m.wh, "Wh")
        return mod.MeterInfo(
            meter_id=m.meter_id,
            meter_reading=reading,
            sig_meter_reading=m.signature,
            meter_status=m.status,
            t_meter=m.t_meter,
        )

    def _current_demand(self, request: str, body: Any, msg: Any, now: float) -> SeccState:
        st = body.dc_ev_status
        self._emit(
            ChargeLoopTargets(
                request=request,
                received_at=now,
                deadline=now + self.config.performance.current_demand,
                target_voltage=from_pv(body.ev_target_voltage),
                target_current=from_pv(body.ev_target_current),
                soc=st.evresssoc,
                charging_complete=body.charging_complete,
                bulk_charging_complete=body.bulk_charging_complete,
                max_voltage=from_pv(body.ev_maximum_voltage_limit) if body.ev_maximum_voltage_limit else None,
                max_current=from_pv(body.ev_maximum_current_limit) if body.ev_maximum_current_limit else None,
                max_power=from_pv(body.ev_maximum_power_limit) if body.ev_maximum_power_limit else None,
            )
        )
        mod = self.mod
        pv = self.ms.pv
        p = self._present
        kw: dict[str, Any] = {
            "response_code": mod.ResponseCode.OK,
            "dc_evse_status": self._dc_status(),
            "evse_present_voltage": pv(p.voltage, "V"),
            "evse_present_current": pv(p.current, "A"),
            "evse_current_limit_achieved": p.current_limit_achieved,
            "evse_voltage_limit_achieved": p.voltage_limit_achieved,
            "evse_power_limit_achieved": p.power_limit_achieved,
        }
        lim = self._dc_limits
        if lim is not None and self.config.quirks.send_evse_maximum_limits:
            kw["evse_maximum_voltage_limit"] = pv(lim.max_voltage, "V")
            kw["evse_maximum_current_limit"] = pv(lim.max_current, "A")
            kw["evse_maximum_power_limit"] = pv(lim.max_power, "W")
        if not self.din:
            kw["evseid"] = self.config.evse_id
            kw["sa_schedule_tuple_id"] = self.schedule_id or 1
            kw["meter_info"] = self._meter_info()
            kw["receipt_required"] = self._receipt_required if self.payment is Payment.PNC else None
        self._respond(request, mod.CurrentDemandRes(**kw), now)
        return S.CHARGING

    def _charging_status(self, request: str, body: Any, msg: Any, now: float) -> SeccState:
        self._emit(ChargingStatusRequested(request=request, received_at=now, deadline=self._deadline(request, now)))
        mod = self.mod
        lim = self._ac_limits
        self._respond(
            request,
            mod.ChargingStatusRes(
                response_code=mod.ResponseCode.OK,
                evseid=self.config.evse_id,
                sa_schedule_tuple_id=self.schedule_id or 1,
                ac_evse_status=self._ac_status(),
                evse_max_current=self.ms.pv(lim.max_current, "A") if lim is not None else None,
                meter_info=self._meter_info(),
                receipt_required=self._receipt_required if self.payment is Payment.PNC else None,
            ),
            now,
        )
        return S.CHARGING

    def _metering_receipt(self, request: str, body: Any, msg: Any, now: float) -> SeccState:
        mod = self.mod
        if body.session_id != self.session_id:
            return self._fail(request, now, "FAILED_UnknownSession", "MeteringReceiptReq names another session")
        signed = msg.header.signature is not None
        verifier = self.config.contract_verifier or self.handover.extra.get("contract_verifier")
        if self.payment is Payment.PNC and verifier is not None:
            if not signed or not verifier.verify_signature(msg, body, self._contract_chain):
                return self._fail(
                    request, now, "FAILED_MeteringSignatureNotValid", "the MeteringReceiptReq signature does not verify"
                )
        mi = body.meter_info
        self._emit(
            MeteringReceiptReceived(
                request=request,
                received_at=now,
                deadline=self._deadline(request, now),
                meter=MeterReading(
                    meter_id=mi.meter_id,
                    wh=mi.meter_reading,
                    signature=mi.sig_meter_reading,
                    status=mi.meter_status,
                    t_meter=mi.t_meter,
                ),
                signed=signed,
            )
        )
        if self.dc:
            res = mod.MeteringReceiptRes(response_code=mod.ResponseCode.OK, dc_evse_status=self._dc_status())
        else:
            res = mod.MeteringReceiptRes(response_code=mod.ResponseCode.OK, ac_evse_status=self._ac_status())
        self._respond(request, res, now)
        return S.CHARGING

    def _welding_detection(self, request: str, body: Any, msg: Any, now: float) -> SeccState:
        self._emit(WeldingDetectionRequested(request=request, received_at=now, deadline=self._deadline(request, now)))
        mod = self.mod
        self._respond(
            request,
            mod.WeldingDetectionRes(
                response_code=mod.ResponseCode.OK,
                dc_evse_status=self._dc_status(),
                evse_present_voltage=self.ms.pv(self._present.voltage, "V"),
            ),
            now,
        )
        return S.STOPPED

    def _session_stop(self, request: str, body: Any, msg: Any, now: float) -> SeccState:
        pause = (not self.din) and body.charging_session.value == "Pause"
        self._emit(
            SessionStopRequested(request=request, received_at=now, deadline=self._deadline(request, now), pause=pause)
        )
        self._respond(request, self.mod.SessionStopRes(response_code=self.mod.ResponseCode.OK), now)
        self._end(
            now,
            S.ENDED,
            reason="SessionStop (Pause)" if pause else "SessionStop (Terminate)",
            normal=True,
            paused=pause,
            close_delay=self.config.timeouts.close_delay,
            session_id=self.session_id,
        )
        return S.ENDED
