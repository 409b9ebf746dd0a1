"""The car's engine (EVCC) for DIN 70121 (DC) and ISO 15118-2 (AC and DC, EIM).

The EVCC drives the session: it sends a request, waits for its response under the request's
V2G_EVCC_Msg_Timeout, and decides the next request from the response and from the car's state the
application pushed (:class:`~evcharge.iso15118.engines.events.UpdateEv`, :class:`StopCharging`,
:class:`Renegotiate`). Its table has one row per (awaited response, response): a response the table
does not hold, a FAILED response code, or a timeout ends the session.
"""

from __future__ import annotations

import dataclasses
from enum import Enum
from typing import Any

from evcharge.errors import LocalProtocolError, require
from evcharge.iso15118.handover import HandOver, PayloadType

from ._base import EngineBase
from ._table import Row, Table
from ._v2g import MessageSet, din_pmax, from_pv, message_set
from .config import EvccConfig
from .events import (
    AcLimits,
    AuthorizationResult,
    CableCheckFinished,
    ChargeLoopStatus,
    ChargeParametersOffered,
    DcLimits,
    EnergyMode,
    Isolation,
    MeterReading,
    OfferedService,
    Payment,
    PowerAction,
    PowerDeliveryAnswered,
    PreChargeProgress,
    Renegotiate,
    Schedule,
    ServiceDetailReceived,
    ServicesOffered,
    SessionStarted,
    StopCharging,
    UpdateEv,
)

__all__ = ["EVCC_ROWS", "Evcc", "EvccState", "evcc_table"]


class EvccState(Enum):
    """The response the car waits for (the request it sent last)."""

    SESSION_SETUP = "SessionSetup"
    SERVICE_DISCOVERY = "ServiceDiscovery"
    SERVICE_DETAIL = "ServiceDetail"
    PAYMENT_SELECTION = "PaymentServiceSelection"
    CERTIFICATE_INSTALLATION = "CertificateInstallation"
    CERTIFICATE_UPDATE = "CertificateUpdate"
    PAYMENT_DETAILS = "PaymentDetails"
    AUTHORIZATION = "Authorization"
    CHARGE_PARAMETERS = "ChargeParameterDiscovery"
    CABLE_CHECK = "CableCheck"
    PRE_CHARGE = "PreCharge"
    POWER_DELIVERY = "PowerDelivery"
    CURRENT_DEMAND = "CurrentDemand"
    CHARGING_STATUS = "ChargingStatus"
    METERING_RECEIPT = "MeteringReceipt"
    WELDING_DETECTION = "WeldingDetection"
    SESSION_STOP = "SessionStop"
    IDLE = "Idle"  #: between a response and the next request (an interval is configured)
    ENDED = "Ended"


E = EvccState
_NEXT = frozenset(E) - {E.ENDED}


def _r(state: E, response: str, handler: str, requires: tuple[str, ...] = ()) -> Row[E]:
    return Row(state, response, handler, _NEXT | {E.ENDED}, frozenset(requires))


#: (awaited response, response) rows; the next state is the request the handler sends
EVCC_ROWS: tuple[Row[EvccState], ...] = (
    _r(E.SESSION_SETUP, "SessionSetup", "_on_session_setup"),
    _r(E.SERVICE_DISCOVERY, "ServiceDiscovery", "_on_service_discovery"),
    _r(E.SERVICE_DETAIL, "ServiceDetail", "_on_service_detail", ("iso2",)),
    _r(E.PAYMENT_SELECTION, "PaymentServiceSelection", "_on_payment_selection"),
    _r(E.CERTIFICATE_INSTALLATION, "CertificateInstallation", "_on_certificate_installation", ("iso2",)),
    _r(E.CERTIFICATE_UPDATE, "CertificateUpdate", "_on_certificate_installation", ("iso2",)),
    _r(E.PAYMENT_DETAILS, "PaymentDetails", "_on_payment_details", ("iso2",)),
    _r(E.AUTHORIZATION, "Authorization", "_on_authorization"),
    _r(E.CHARGE_PARAMETERS, "ChargeParameterDiscovery", "_on_charge_parameters"),
    _r(E.CABLE_CHECK, "CableCheck", "_on_cable_check", ("dc",)),
    _r(E.PRE_CHARGE, "PreCharge", "_on_pre_charge", ("dc",)),
    _r(E.POWER_DELIVERY, "PowerDelivery", "_on_power_delivery"),
    _r(E.CURRENT_DEMAND, "CurrentDemand", "_on_loop", ("dc",)),
    _r(E.CHARGING_STATUS, "ChargingStatus", "_on_loop", ("ac", "iso2")),
    _r(E.METERING_RECEIPT, "MeteringReceipt", "_on_metering_receipt", ("iso2",)),
    _r(E.WELDING_DETECTION, "WeldingDetection", "_on_welding_detection", ("dc",)),
    _r(E.SESSION_STOP, "SessionStop", "_on_session_stop"),
)


def evcc_table(protocol: str, dc: bool) -> Table[EvccState]:
    return Table(f"EVCC {protocol} {'DC' if dc else 'AC'}", {protocol, "dc" if dc else "ac"}, EvccState, EVCC_ROWS)


_ZERO = b"\x00" * 8
_OK = ("OK", "OK_NewSessionEstablished", "OK_OldSessionJoined", "OK_CertificateExpiresSoon")


class Evcc(EngineBase[EvccState]):
    """The car side of one DIN 70121 or ISO 15118-2 session. Sends SessionSetupReq at construction."""

    def __init__(self, handover: HandOver, config: EvccConfig | None = None, *, protocol: str | None = None) -> None:
        self.config = config = config or EvccConfig()
        if protocol is None:
            protocol = "din" if handover.protocol.name == "DIN" else "iso2"
        super().__init__(state=E.SESSION_SETUP, trace=config.trace)
        self.protocol = protocol
        self.ms: MessageSet = message_set(protocol)
        self.din = self.ms.din
        self.mod = self.ms.mod
        self.dc = config.energy_mode.is_dc
        if self.din and not self.dc:
            raise LocalProtocolError("DIN 70121 is DC only")
        if config.payment is Payment.PNC and self.din:
            raise LocalProtocolError("Plug & Charge is ISO 15118-2 here (DIN 70121 sessions are EIM)")
        if config.payment is Payment.PNC and config.contract is None and config.provisioning is None:
            raise LocalProtocolError("Plug & Charge needs a contract or an OEM provisioning certificate")
        self.table = evcc_table(protocol, self.dc)
        self.handover = handover
        self.session_id = handover.resume_session_id or _ZERO
        # Plug & Charge only over TLS, whatever the charger offers (Contract needs TLS)
        self.payment = config.payment if handover.tls is not None else Payment.EIM
        self.contract = config.contract
        self._gen_challenge: bytes | None = None
        lim = config.dc_limits if self.dc else config.ac_limits
        self.limits = lim
        self.soc = lim.soc if lim.soc is not None else 50
        self.target_voltage = min(400.0, lim.max_voltage)
        self.target_current = min(100.0, lim.max_current)
        self.battery_voltage = self.target_voltage
        self.ready = True
        self.charging_complete = False
        self._stop: bool | None = None  # None: go on; False: terminate; True: pause
        self._renegotiate = False
        self._evse_renegotiate = False
        self._renegotiating = False
        self.schedules: tuple[Schedule, ...] = ()
        self.schedule_id: int | None = None
        self._welding_left = config.welding_detection_requests
        self._pre_charges = 0
        self._loop_started_at: dict[str, float] = {}
        self._pending: str | None = None  # the request to send when the "next_request" timer fires
        self._pd_action: PowerAction | None = None
        self._meter: Any = None
        self.evse_id: Any = None
        #: ISO 15118-2 ServiceList of ServiceDiscoveryRes, by ServiceID, and the ServiceDetail IDs still to ask
        self.services: dict[int, OfferedService] = {}
        self._details_left: list[int] = []
        self._detail_id = 0
        setup = handover.setup_deadline
        self._arm(
            "communication_setup", setup if setup is not None else handover.now + config.timeouts.communication_setup
        )
        self._send("SessionSetup", handover.now)

    # -- application input ---------------------------------------------------------------------

    def send(self, command: Any, now: float) -> None:
        if isinstance(command, UpdateEv):
            for name in ("soc", "target_voltage", "target_current", "ready", "charging_complete"):
                value = getattr(command, name)
                if value is not None:
                    setattr(self, name, value)
            if command.present_voltage is not None:
                self.battery_voltage = command.present_voltage
        elif isinstance(command, StopCharging):
            self._stop = command.pause
        elif isinstance(command, Renegotiate):
            if self.din:
                raise LocalProtocolError("DIN 70121 has no renegotiation")
            self._renegotiate = True
        else:
            raise LocalProtocolError(f"the EVCC does not take {type(command).__name__}")

    # -- payloads --------------------------------------------------------------------------------

    def receive_payload(self, payload_type: int, payload: bytes, now: float) -> None:
        if self.ended is not None:
            return
        try:
            msg = self.ms.decode(payload)
            found = self.ms.response_of(msg.body)
        except Exception as exc:
            self._trace_rx(payload_type, payload, "?", None, now)
            self._finish(now, f"not a {self.protocol} EXI message: {exc}", normal=False)
            return
        if found is None:
            self._trace_rx(payload_type, payload, "?", msg, now)
            self._finish(now, "a message that is not a response", normal=False)
            return
        response, body = found
        self._trace_rx(payload_type, payload, response + "Res", msg, now)
        row = self.table.lookup(self._state, response)
        if row is None:
            self._finish(now, f"{response}Res while waiting for {self._state.value}Res", normal=False)
            return
        self._disarm("response")
        code = body.response_code.value
        if code not in _OK:
            self._finish(now, f"{response}Res {code}", normal=False, response_code=code)
            return
        if self._state is not E.SESSION_SETUP and msg.header.session_id != self.session_id:
            self._finish(now, f"{response}Res with another SessionID", normal=False)
            return
        getattr(self, row.handler)(body, msg, now)

    # -- sending ---------------------------------------------------------------------------------

    def _send(self, request: str, now: float, *, delay: float = 0.0) -> None:
        if delay > 0:
            self._state = E.IDLE
            self._pending = request
            self._arm("next_request", now + delay)
            return
        if request == "CableCheck":  # V2G_EVCC_CableCheck_Timeout / PreCharge_Timeout: from the first request
            self._loop_timer("cable_check", self.config.timeouts.cable_check, now)
        elif request == "PreCharge":
            self._loop_timer("pre_charge", self.config.timeouts.pre_charge, now)
        body = getattr(self, "_req_" + _snake(request))()
        msg = self.ms.message(self.session_id, self.ms.req_attr[request], body)
        key = self._signing_key(request)
        if key is not None:
            from .pnc import sign_header

            header = self.mod.MessageHeader(
                session_id=self.session_id, signature=sign_header(self.mod, [(request + "Req", body)], key)
            )
            msg = self.mod.V2G_Message(header=header, body=msg.body)
        self._state = E(request)
        self._queue(PayloadType.EXI, self.ms.encode(msg), request + "Req", msg, now)
        self._arm("response", now + self.config.timeouts.for_request(request, din=self.din))

    def _signing_key(self, request: str) -> Any:
        """The key that signs ``request`` (Plug & Charge), or None."""
        if self.payment is not Payment.PNC:
            return None
        if request == "CertificateInstallation":
            return self.config.provisioning.key
        if request in ("Authorization", "MeteringReceipt", "CertificateUpdate"):
            return self.contract.key
        return None

    def _on_timeout(self, name: str, now: float) -> None:
        if name == "next_request" and self._pending is not None:
            request, self._pending = self._pending, None
            self._send(request, now)
            return
        reason = {
            "response": f"V2G_EVCC_Msg_Timeout: no {self._state.value}Res",
            "communication_setup": "V2G_EVCC_CommunicationSetup_Timeout",
            "ongoing": "V2G_EVCC_Ongoing_Timeout",
            "cable_check": "V2G_EVCC_CableCheck_Timeout",
            "pre_charge": "V2G_EVCC_PreCharge_Timeout",
        }.get(name, name)
        self._finish(now, reason, normal=False)

    def _finish(
        self, now: float, reason: str, *, normal: bool, paused: bool = False, response_code: str | None = None
    ) -> None:
        self._end(
            now,
            E.ENDED,
            reason=reason,
            normal=normal,
            paused=paused,
            close_delay=0.0,
            session_id=self.session_id if self.session_id != _ZERO else None,
            response_code=response_code,
        )

    def _loop_timer(self, name: str, limit: float, now: float) -> None:
        """Start the enforced timer of an Ongoing/PreCharge loop once, at its first request."""
        if name not in self._loop_started_at:
            self._loop_started_at[name] = now
            self._arm(name, now + limit)

    def _loop_done(self, name: str) -> None:
        self._loop_started_at.pop(name, None)
        self._disarm(name)

    # -- request bodies --------------------------------------------------------------------------

    def _dc_status(self) -> Any:
        mod = self.mod
        return mod.DC_EVStatus(ev_ready=self.ready, ev_error_code=mod.DC_EVErrorCode.NO_ERROR, evresssoc=int(self.soc))

    def _req_session_setup(self) -> Any:
        return self.mod.SessionSetupReq(evccid=self.config.evcc_id)

    def _req_service_discovery(self) -> Any:
        return self.mod.ServiceDiscoveryReq()

    def _req_service_detail(self) -> Any:
        return self.mod.ServiceDetailReq(service_id=self._detail_id)

    def _req_payment_service_selection(self) -> Any:
        mod = self.mod
        cls = self.ms.req_class["PaymentServiceSelection"]
        selected = [mod.SelectedService(service_id=1)]
        wants = "Installation" if self.contract is None else "Update" if self.config.update_contract else None
        certificate = self.services.get(2)
        if self.payment is Payment.PNC and wants is not None and certificate is not None:
            # the certificate service, with the ParameterSet that names what the car will do
            set_id = next((i for i, params in certificate.parameter_sets if ("Service", wants) in params), None)
            selected.append(mod.SelectedService(service_id=2, parameter_set_id=set_id))
        return cls(
            selected_payment_option=mod.PaymentOption(self.payment.value),
            selected_service_list=mod.SelectedServiceList(selected_service=selected),
        )

    def _req_authorization(self) -> Any:
        if self.payment is Payment.PNC:
            return self.mod.AuthorizationReq(id_="id1", gen_challenge=self._gen_challenge)
        return self.ms.req_class["Authorization"]()

    def _req_certificate_installation(self) -> Any:
        require("cryptography", "iso15118", feature="Plug & Charge certificates")
        from cryptography import x509

        prov = x509.load_der_x509_certificate(self.config.provisioning.cert)
        mod = self.mod
        return mod.CertificateInstallationReq(
            id_="id1",
            oem_provisioning_cert=self.config.provisioning.cert,
            list_of_root_certificate_i_ds=mod.ListOfRootCertificateIDs(
                root_certificate_id=[
                    mod.X509IssuerSerial(x509_issuer_name=prov.issuer.rfc4514_string(), x509_serial_number=1)
                ]
            ),
        )

    def _req_certificate_update(self) -> Any:
        require("cryptography", "iso15118", feature="Plug & Charge certificates")
        from cryptography import x509

        mod = self.mod
        chain = self.contract.chain
        subs = mod.SubCertificates(certificate=chain[1:]) if len(chain) > 1 else None
        issuer = x509.load_der_x509_certificate(chain[-1]).issuer.rfc4514_string()
        return mod.CertificateUpdateReq(
            id_="id1",
            contract_signature_cert_chain=mod.CertificateChain(certificate=chain[0], sub_certificates=subs),
            e_maid=self.contract.emaid,
            list_of_root_certificate_i_ds=mod.ListOfRootCertificateIDs(
                root_certificate_id=[mod.X509IssuerSerial(x509_issuer_name=issuer, x509_serial_number=1)]
            ),
        )

    def _req_payment_details(self) -> Any:
        mod = self.mod
        chain = self.contract.chain
        subs = mod.SubCertificates(certificate=chain[1:]) if len(chain) > 1 else None
        return mod.PaymentDetailsReq(
            e_maid=self.contract.emaid,
            contract_signature_cert_chain=mod.CertificateChain(certificate=chain[0], sub_certificates=subs),
        )

    def _req_charge_parameter_discovery(self) -> Any:
        mod = self.mod
        pv = self.ms.pv
        lim = self.limits
        mode = self.config.energy_mode
        if self.dc:
            kw: dict[str, Any] = {
                "dc_ev_status": self._dc_status(),
                "ev_maximum_current_limit": pv(lim.max_current, "A"),
                "ev_maximum_voltage_limit": pv(lim.max_voltage, "V"),
            }
            if lim.max_power is not None:
                kw["ev_maximum_power_limit"] = pv(lim.max_power, "W")
            if lim.energy_request is not None:
                kw["ev_energy_request"] = pv(lim.energy_request, "Wh")
            param = mod.DC_EVChargeParameter(**kw)
            if self.din:
                return mod.ChargeParameterDiscoveryReq(
                    ev_requested_energy_transfer_type=mod.EVRequestedEnergyTransfer(mode.value),
                    dc_ev_charge_parameter=param,
                )
            return mod.ChargeParameterDiscoveryReq(
                requested_energy_transfer_mode=mod.EnergyTransferMode(mode.value), dc_ev_charge_parameter=param
            )
        param = mod.AC_EVChargeParameter(
            e_amount=pv(lim.energy_request or 10_000, "Wh"),
            ev_max_voltage=pv(lim.max_voltage, "V"),
            ev_max_current=pv(lim.max_current, "A"),
            ev_min_current=pv(lim.min_current or 6.0, "A"),
            departure_time=lim.departure_time,
        )
        return mod.ChargeParameterDiscoveryReq(
            requested_energy_transfer_mode=mod.EnergyTransferMode(mode.value), ac_ev_charge_parameter=param
        )

    def _req_cable_check(self) -> Any:
        return self.mod.CableCheckReq(dc_ev_status=self._dc_status())

    def _req_pre_charge(self) -> Any:
        pv = self.ms.pv
        return self.mod.PreChargeReq(
            dc_ev_status=self._dc_status(),
            ev_target_voltage=pv(self.battery_voltage, "V"),
            ev_target_current=pv(2.0, "A"),
        )

    def _profile(self) -> Any:
        """A ChargingProfile that follows the chosen schedule's PMax (never above it)."""
        sched = next((s for s in self.schedules if s.tuple_id == self.schedule_id), None)
        if sched is None:
            return None
        mod = self.mod
        if self.din:
            return mod.ChargingProfile(
                sa_schedule_tuple_id=sched.tuple_id,
                profile_entry=[
                    mod.ProfileEntry(charging_profile_entry_start=start, charging_profile_entry_max_power=din_pmax(w))
                    for start, w in sched.pmax
                ],
            )
        return mod.ChargingProfile(
            profile_entry=[
                mod.ProfileEntry(
                    charging_profile_entry_start=start, charging_profile_entry_max_power=self.ms.pv(w, "W")
                )
                for start, w in sched.pmax
            ]
        )

    def _req_power_delivery(self) -> Any:
        mod = self.mod
        action = self._pd_action or PowerAction.START
        dc_param = None
        if self.dc:
            dc_param = mod.DC_EVPowerDeliveryParameter(
                dc_ev_status=self._dc_status(),
                charging_complete=action is PowerAction.STOP,
                bulk_charging_complete=None,
            )
        profile = self._profile() if action is PowerAction.START else None
        if self.din:
            return mod.PowerDeliveryReq(
                ready_to_charge_state=action is PowerAction.START,
                charging_profile=profile,
                dc_ev_power_delivery_parameter=dc_param,
            )
        return mod.PowerDeliveryReq(
            charge_progress=mod.ChargeProgress(action.value),
            sa_schedule_tuple_id=self.schedule_id or 1,
            charging_profile=profile,
            dc_ev_power_delivery_parameter=dc_param,
        )

    def _req_current_demand(self) -> Any:
        pv = self.ms.pv
        lim = self.limits
        return self.mod.CurrentDemandReq(
            dc_ev_status=self._dc_status(),
            ev_target_current=pv(self.target_current, "A"),
            charging_complete=self.charging_complete,
            ev_target_voltage=pv(self.target_voltage, "V"),
            ev_maximum_voltage_limit=pv(lim.max_voltage, "V"),
            ev_maximum_current_limit=pv(lim.max_current, "A"),
            ev_maximum_power_limit=pv(lim.max_power, "W") if lim.max_power is not None else None,
        )

    def _req_charging_status(self) -> Any:
        return self.mod.ChargingStatusReq()

    def _req_metering_receipt(self) -> Any:
        return self.mod.MeteringReceiptReq(
            session_id=self.session_id, meter_info=self._meter, sa_schedule_tuple_id=self.schedule_id, id_="id1"
        )

    def _req_welding_detection(self) -> Any:
        return self.mod.WeldingDetectionReq(dc_ev_status=self._dc_status())

    def _req_session_stop(self) -> Any:
        if self.din:
            return self.mod.SessionStop()
        return self.mod.SessionStopReq(
            charging_session=self.mod.ChargingSession("Pause" if self._stop else "Terminate")
        )

    # -- response handlers -------------------------------------------------------------------------

    def _on_session_setup(self, body: Any, msg: Any, now: float) -> None:
        self._disarm("communication_setup")
        self.session_id = msg.header.session_id
        self.evse_id = body.evseid
        resumed = body.response_code.value == "OK_OldSessionJoined"
        self._emit(
            SessionStarted(protocol=self.protocol, session_id=self.session_id, peer_id=body.evseid, resumed=resumed)
        )
        self._send("ServiceDiscovery", now)

    def _on_service_discovery(self, body: Any, msg: Any, now: float) -> None:
        modes: tuple[EnergyMode, ...]
        if self.din:
            payments = tuple(Payment(p.value) for p in body.payment_options.payment_option)
            modes = (
                (EnergyMode(body.charge_service.energy_transfer_type.value),)
                if body.charge_service.energy_transfer_type.value in EnergyMode._value2member_map_
                else ()
            )
        else:
            payments = tuple(Payment(p.value) for p in body.payment_option_list.payment_option)
            modes = tuple(
                EnergyMode(m.value) for m in body.charge_service.supported_energy_transfer_mode.energy_transfer_mode
            )
            listed = body.service_list.service if body.service_list is not None else []
            self.services = {
                s.service_id: OfferedService(
                    service_id=s.service_id, category=s.service_category.value, name=s.service_name, free=s.free_service
                )
                for s in listed
            }
        self._emit(ServicesOffered(payments=payments, energy_modes=modes, services=tuple(self.services.values())))
        if self.payment is Payment.PNC and Payment.PNC not in payments and Payment.EIM in payments:
            self.payment = Payment.EIM
        if self.payment not in payments:
            self._finish(now, f"the charger does not offer {self.payment.value}", normal=False)
            return
        if not self.din and self.config.energy_mode not in modes:
            self._finish(now, f"the charger does not offer {self.config.energy_mode.value}", normal=False)
            return
        # ISO 15118-2: ServiceDetailReq zero or more times after ServiceDiscoveryRes, then PaymentServiceSelection
        self._details_left = [] if self.din else list(self.config.service_details)
        self._after_discovery(now)

    def _after_discovery(self, now: float) -> None:
        if self._details_left:
            self._detail_id = self._details_left.pop(0)
            self._send("ServiceDetail", now)
        else:
            self._send("PaymentServiceSelection", now)

    def _on_service_detail(self, body: Any, msg: Any, now: float) -> None:
        if body.service_id != self._detail_id:
            self._finish(now, f"ServiceDetailRes for service {body.service_id}, not {self._detail_id}", normal=False)
            return
        sets = tuple(
            (ps.parameter_set_id, tuple((p.name, _parameter_value(p)) for p in ps.parameter))
            for ps in (body.service_parameter_list.parameter_set if body.service_parameter_list else ())
        )
        known = self.services.get(body.service_id)
        if known is not None:
            self.services[body.service_id] = dataclasses.replace(known, parameter_sets=sets)
        self._emit(ServiceDetailReceived(service_id=body.service_id, parameter_sets=sets))
        self._after_discovery(now)

    def _on_payment_selection(self, body: Any, msg: Any, now: float) -> None:
        if self.payment is Payment.PNC:
            if self.contract is None:
                self._send("CertificateInstallation", now)
            elif self.config.update_contract:
                self._send("CertificateUpdate", now)
            else:
                self._send("PaymentDetails", now)
        else:
            self._send("Authorization", now)

    def _on_certificate_installation(self, body: Any, msg: Any, now: float) -> None:
        from .pnc import Contract

        key = self.config.provisioning.key if self._state is E.CERTIFICATE_INSTALLATION else self.contract.key
        try:
            self.contract = Contract.from_installation(body, key, message=msg, v2g_roots=self.config.v2g_roots)
        except Exception as exc:
            self._finish(now, f"CertificateInstallationRes: {exc}", normal=False)
            return
        self._send("PaymentDetails", now)

    def _on_payment_details(self, body: Any, msg: Any, now: float) -> None:
        self._gen_challenge = body.gen_challenge
        self._send("Authorization", now)

    def _ongoing(self, request: str, now: float) -> None:
        self._loop_timer("ongoing", self.config.timeouts.ongoing, now)
        self._send(request, now, delay=self.config.ongoing_interval)

    def _on_authorization(self, body: Any, msg: Any, now: float) -> None:
        if body.evse_processing.value != "Finished":
            self._ongoing("Authorization", now)
            return
        self._loop_done("ongoing")
        self._emit(AuthorizationResult(accepted=True, payment=self.payment))
        self._send("ChargeParameterDiscovery", now)

    def _on_charge_parameters(self, body: Any, msg: Any, now: float) -> None:
        if body.evse_processing.value != "Finished":
            self._ongoing("ChargeParameterDiscovery", now)
            return
        self._loop_done("ongoing")
        self.schedules = self._read_schedules(body.sa_schedule_list)
        if not self.schedules:
            self._finish(now, "ChargeParameterDiscoveryRes without a schedule", normal=False)
            return
        self.schedule_id = self.schedules[0].tuple_id
        dc = ac = None
        if body.dc_evse_charge_parameter is not None:
            p = body.dc_evse_charge_parameter
            dc = DcLimits(
                max_voltage=from_pv(p.evse_maximum_voltage_limit),
                max_current=from_pv(p.evse_maximum_current_limit),
                max_power=from_pv(p.evse_maximum_power_limit) if p.evse_maximum_power_limit else 0.0,
                min_voltage=from_pv(p.evse_minimum_voltage_limit),
                min_current=from_pv(p.evse_minimum_current_limit),
                peak_current_ripple=from_pv(p.evse_peak_current_ripple),
            )
        elif getattr(body, "ac_evse_charge_parameter", None) is not None:
            p = body.ac_evse_charge_parameter
            ac = AcLimits(nominal_voltage=from_pv(p.evse_nominal_voltage), max_current=from_pv(p.evse_max_current))
        self._emit(ChargeParametersOffered(schedules=self.schedules, dc=dc, ac=ac))
        if self.dc and (not self._renegotiating or self.config.cable_check_on_renegotiation):
            self._send("CableCheck", now)
        else:
            self._pd_action = PowerAction.START
            self._send("PowerDelivery", now)

    def _read_schedules(self, sal: Any) -> tuple[Schedule, ...]:
        if sal is None:
            return ()
        out = []
        for t in sal.sa_schedule_tuple:
            entries = []
            duration = 86_400
            for e in t.p_max_schedule.p_max_schedule_entry:
                rti = e.relative_time_interval
                start = rti.start if rti is not None else 0
                if rti is not None and rti.duration is not None:
                    duration = start + rti.duration
                watts = float(e.p_max) if self.din else from_pv(e.p_max)
                entries.append((start, watts))
            out.append(Schedule(tuple_id=t.sa_schedule_tuple_id, pmax=tuple(entries), duration=duration))
        return tuple(out)

    def _on_cable_check(self, body: Any, msg: Any, now: float) -> None:
        if body.evse_processing.value != "Finished":
            self._send("CableCheck", now, delay=self.config.ongoing_interval)
            return
        self._loop_done("cable_check")
        iso = body.dc_evse_status.evse_isolation_status
        self._emit(CableCheckFinished(isolation=Isolation(iso.value) if iso is not None else None))
        self._send("PreCharge", now)

    def _on_pre_charge(self, body: Any, msg: Any, now: float) -> None:
        present = from_pv(body.evse_present_voltage)
        self._emit(PreChargeProgress(present_voltage=present, target_voltage=self.battery_voltage))
        self._pre_charges += 1
        limit = self.config.pre_charge_max_requests
        close = abs(present - self.battery_voltage) <= self.config.pre_charge_tolerance
        if not close and (limit is None or self._pre_charges < limit):
            self._send("PreCharge", now, delay=self.config.ongoing_interval)
            return
        self._loop_done("pre_charge")
        self._pd_action = PowerAction.START
        self._send("PowerDelivery", now)

    def _loop_request(self) -> str:
        return "CurrentDemand" if self.dc else "ChargingStatus"

    def _on_power_delivery(self, body: Any, msg: Any, now: float) -> None:
        action = self._pd_action or PowerAction.START
        self._emit(PowerDeliveryAnswered(action=action, accepted=True))
        if action is PowerAction.START:
            self._renegotiating = False
            self._send(self._loop_request(), now)
        elif action is PowerAction.RENEGOTIATE:
            self._renegotiating = True
            self._renegotiate = self._evse_renegotiate = False
            self._send("ChargeParameterDiscovery", now)
        elif self.dc:
            self._send("WeldingDetection", now)
        else:
            self._send("SessionStop", now)

    def _on_loop(self, body: Any, msg: Any, now: float) -> None:
        if self.dc:
            status = body.dc_evse_status
            lim = body.evse_maximum_current_limit
            event = ChargeLoopStatus(
                present_voltage=from_pv(body.evse_present_voltage),
                present_current=from_pv(body.evse_present_current),
                max_current=from_pv(lim) if lim is not None else None,
                current_limit_achieved=body.evse_current_limit_achieved,
                voltage_limit_achieved=body.evse_voltage_limit_achieved,
                power_limit_achieved=body.evse_power_limit_achieved,
                notification=status.evse_notification.value,
                meter=self._read_meter(getattr(body, "meter_info", None)),
                receipt_required=bool(getattr(body, "receipt_required", False)),
            )
        else:
            status = body.ac_evse_status
            event = ChargeLoopStatus(
                max_current=from_pv(body.evse_max_current) if body.evse_max_current is not None else None,
                notification=status.evse_notification.value,
                meter=self._read_meter(body.meter_info),
                receipt_required=bool(body.receipt_required),
            )
        self._emit(event)
        if event.notification == "StopCharging" and self._stop is None:
            self._stop = False
        if event.notification == "ReNegotiation" and not self.din:
            self._evse_renegotiate = True
        if event.receipt_required and body.meter_info is not None and not self.din:
            self._meter = body.meter_info
            self._send("MeteringReceipt", now)
            return
        self._next_in_loop(now)

    def _next_in_loop(self, now: float) -> None:
        if self._stop is not None:
            self._pd_action = PowerAction.STOP
            self._send("PowerDelivery", now)
        elif self._renegotiate or self._evse_renegotiate:
            self._pd_action = PowerAction.RENEGOTIATE
            self._send("PowerDelivery", now)
        else:
            self._send(self._loop_request(), now, delay=self.config.loop_interval)

    def _read_meter(self, mi: Any) -> MeterReading | None:
        if mi is None:
            return None
        wh = mi.meter_reading
        if wh is not None and not isinstance(wh, int):
            wh = int(from_pv(wh))
        return MeterReading(
            meter_id=mi.meter_id, wh=wh, signature=mi.sig_meter_reading, status=mi.meter_status, t_meter=mi.t_meter
        )

    def _on_metering_receipt(self, body: Any, msg: Any, now: float) -> None:
        self._next_in_loop(now)

    def _on_welding_detection(self, body: Any, msg: Any, now: float) -> None:
        self._welding_left -= 1
        if self._welding_left > 0:
            self._send("WeldingDetection", now, delay=self.config.ongoing_interval)
        else:
            self._send("SessionStop", now)

    def _on_session_stop(self, body: Any, msg: Any, now: float) -> None:
        paused = bool(self._stop) and not self.din
        self._finish(now, "SessionStop (Pause)" if paused else "SessionStop (Terminate)", normal=True, paused=paused)


def _parameter_value(p: Any) -> bool | int | float | str:
    for name in ("bool_value", "byte_value", "short_value", "int_value", "string_value"):
        value = getattr(p, name)
        if value is not None:
            return value  # type: ignore[no-any-return]
    return from_pv(p.physical_value) if p.physical_value is not None else ""


def _snake(name: str) -> str:
    out = []
    for i, ch in enumerate(name):
        if ch.isupper() and i:
            out.append("_")
        out.append(ch.lower())
    return "".join(out)
