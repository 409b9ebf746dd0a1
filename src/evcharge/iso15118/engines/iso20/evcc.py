"""The car's engine (EVCC) for ISO 15118-20 with AC, DC, AC_BPT and DC_BPT, both control modes.

The EVCC drives the session: it sends a request, waits for its response under Josev's -20 message timeout
(:class:`~evcharge.iso15118.engines.iso20.config.Iso20EvccTimeouts`), and decides the next request from the
response and from what the application pushed (:class:`~evcharge.iso15118.engines.events.UpdateEv`,
:class:`~evcharge.iso15118.engines.events.StopCharging`,
:class:`~evcharge.iso15118.engines.events.Renegotiate`,
:class:`~evcharge.iso15118.engines.iso20.events.EnterStandby`,
:class:`~evcharge.iso15118.engines.iso20.events.ExitStandby`). A response the table does not hold, a FAILED
response code, or a timeout ends the session.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import Enum
from types import ModuleType
from typing import Any

from evcharge.clock import WallClock
from evcharge.errors import LocalProtocolError
from evcharge.iso15118.handover import HandOver
from evcharge.iso15118.iso20 import common

from .._base import EngineBase
from .._table import Row, Table
from ..events import (
    AuthorizationResult,
    CableCheckFinished,
    Payment,
    PowerAction,
    PowerDeliveryAnswered,
    PreChargeProgress,
    Renegotiate,
    SessionStarted,
    StopCharging,
    UpdateEv,
)
from . import _msgs
from ._msgs import _getter, _rationals, from_rational, opt_rational, rational
from .config import Iso20EvccConfig
from .events import (
    AcdpDeviceAnswered,
    AcdpPositioningAnswered,
    AcdpSystemStatusAnswered,
    AskAcdpSystemStatus,
    ControlMode,
    EnergyService,
    EnterStandby,
    ExitStandby,
    Iso20ChargeLoopStatus,
    Iso20ChargeParametersOffered,
    Iso20ServicesOffered,
    PowerLimits,
    PowerSchedule,
    SchedulesOffered,
    VehicleCheckInAnswered,
    VehicleCheckOutAnswered,
    WptStepAnswered,
    WptWarned,
)

__all__ = ["EVCC20_ROWS", "Iso20Evcc", "Iso20EvccState", "evcc20_table"]


class Iso20EvccState(Enum):
    """The response the car waits for (the request it sent last)."""

    SESSION_SETUP = "SessionSetup"
    VEHICLE_POSITIONING = "ACDP_VehiclePositioning"
    WPT_SETUP = "WPT_FinePositioningSetup"
    WPT_POSITIONING = "WPT_FinePositioning"
    WPT_PAIRING = "WPT_Pairing"
    AUTHORIZATION_SETUP = "AuthorizationSetup"
    CERTIFICATE_INSTALLATION = "CertificateInstallation"
    AUTHORIZATION = "Authorization"
    SERVICE_DISCOVERY = "ServiceDiscovery"
    SERVICE_DETAIL = "ServiceDetail"
    SERVICE_SELECTION = "ServiceSelection"
    CHARGE_PARAMETERS = "ChargeParameterDiscovery"
    SCHEDULE_EXCHANGE = "ScheduleExchange"
    CABLE_CHECK = "CableCheck"
    PRE_CHARGE = "PreCharge"
    POWER_DELIVERY = "PowerDelivery"
    CHARGE_LOOP = "ChargeLoop"
    METERING_CONFIRMATION = "MeteringConfirmation"
    WELDING_DETECTION = "WeldingDetection"
    SESSION_STOP = "SessionStop"
    VEHICLE_CHECK_IN = "VehicleCheckIn"
    VEHICLE_CHECK_OUT = "VehicleCheckOut"
    ACDP_CONNECT = "ACDP_Connect"
    ACDP_DISCONNECT = "ACDP_Disconnect"
    WPT_CHARGE_PARAMETERS = "WPT_ChargeParameterDiscovery"
    WPT_ALIGNMENT = "WPT_AlignmentCheck"
    WPT_CHARGE_LOOP = "WPT_ChargeLoop"
    IDLE = "Idle"  #: between a response and the next request (an interval, or standby)
    ENDED = "Ended"


E = Iso20EvccState
_NEXT = frozenset(E)


def _r(state: E, response: str, handler: str, requires: tuple[str, ...] = ()) -> Row[E]:
    return Row(state, response, handler, _NEXT, frozenset(requires))


def _requires(state: E) -> tuple[str, ...]:
    if state.value.startswith("ACDP_"):
        return ("acdp",)
    if state.value.startswith("WPT_"):
        return ("wpt",)
    if state.value in ("ChargeParameterDiscovery", "ChargeLoop"):
        return ("acdc",)
    return ("dc",) if state.value in ("CableCheck", "PreCharge", "WeldingDetection") else ()


#: (awaited response, response) rows; the next state is the request the handler sends
EVCC20_ROWS: tuple[Row[Iso20EvccState], ...] = tuple(
    _r(state, state.value, "_on_" + state.name.lower(), _requires(state))
    for state in E
    if state not in (E.IDLE, E.ENDED)
)


def evcc20_table(dc: bool, *, acdp: bool = False, wpt: bool = False) -> Table[Iso20EvccState]:
    side = "WPT" if wpt else "ACDP" if acdp else "DC" if dc else "AC"
    tags = {"wpt"} if wpt else {"dc", "acdc", "acdp"} if acdp else {"dc" if dc else "ac", "acdc"}
    return Table(f"EVCC ISO 15118-20 {side}", tags, Iso20EvccState, EVCC20_ROWS)


_ZERO = b"\x00" * 8


class Iso20Evcc(EngineBase[Iso20EvccState]):
    """The car side of one ISO 15118-20 session. Sends SessionSetupReq at construction."""

    protocol = "iso20"

    def __init__(self, handover: HandOver, config: Iso20EvccConfig | None = None) -> None:
        self.config = config = config or Iso20EvccConfig()
        super().__init__(state=E.SESSION_SETUP, trace=config.trace)
        name = handover.protocol.name
        self.acdp = name == "ISO20_ACDP"
        self.wpt = name == "ISO20_WPT"
        self.dc = name in ("ISO20_DC", "ISO20_ACDP")
        if name not in ("ISO20_AC", "ISO20_DC", "ISO20_ACDP", "ISO20_WPT"):
            raise LocalProtocolError(f"the -20 EVCC drives ISO20_AC, ISO20_DC, ISO20_ACDP and ISO20_WPT, not {name}")
        kinds = (4, 7) if self.acdp else (3,) if self.wpt else (1, 2, 5, 6)
        if config.service.is_dc != self.dc or config.service.value not in kinds:
            raise LocalProtocolError(f"{config.service.name} is not a service of {name}")
        self.handover = handover
        self.tls = handover.tls is not None
        self.table = evcc20_table(self.dc, acdp=self.acdp, wpt=self.wpt)
        self.spec: ModuleType = _msgs.module_for(_msgs.DC if self.dc else _msgs.AC)
        self.clock = config.clock or WallClock.at(handover.now, datetime.now(UTC))
        self.session_id = handover.resume_session_id or _ZERO
        self.service = config.service
        self.control_mode = config.control_mode
        self.payment = config.payment if self.tls else Payment.EIM
        self.soc = config.soc
        self.battery_voltage = config.battery_voltage
        self.target_voltage = config.battery_voltage
        self.target_current = config.target_current
        self.target_power = config.target_power
        self.charging_complete = False
        self.evse_limits: PowerLimits | None = None
        self.schedules: tuple[PowerSchedule, ...] = ()
        self.schedule_id: int | None = None
        self.gen_challenge: bytes | None = None
        self.evse_id: str | None = None
        self.loops = 0
        self._stop: bool | None = None  # None: go on; False: terminate; True: pause
        self._renegotiate = False
        self._standby = False
        self._standby_exit = False
        self._in_standby = False
        self._metering_wanted = False
        self._prepared = False  # CableCheck and PreCharge done (DC)
        self._pre_charges = 0
        self._pre_charge_finished = False
        self._welding_left = config.welding_detection_requests
        self._service_renegotiation = False
        self._checked_in = False
        self._checked_out = False
        self._check_ins = 0
        self._check_status = ""
        self._immobilized = False
        self._connected = False
        self._wpt_sent = 0  # requests of the present WPT step
        self._wpt_finished = False  # the car said Finished in this step
        self._wpt_recoveries = 0  # WARNING_WPT answers taken up
        self._wpt_again = False  # positioning again in a session past ServiceSelection
        self._pd: Any = None  # the ChargeProgress of the last PowerDeliveryReq
        self._status_pending = False  # an ACDP_SystemStatusReq waits for its answer
        self._pending: str | None = None
        self._ongoing_since: float | None = None
        #: the car's Plug & Charge material (a .pnc.EvccContract), used over TLS only
        self.pnc: Any = config.contract if self.payment is Payment.PNC else None
        if self.payment is Payment.PNC and self.pnc is None:
            raise LocalProtocolError("Plug & Charge needs Iso20EvccConfig.contract (an EvccContract)")
        setup = handover.setup_deadline
        self._arm(
            "communication_setup", setup if setup is not None else handover.now + config.timeouts.communication_setup
        )
        self._send("SessionSetup", handover.now)

    # -- application input ---------------------------------------------------------------------

    def send(self, command: Any, now: float) -> None:
        if isinstance(command, UpdateEv):
            if command.soc is not None:
                self.soc = command.soc
            if command.target_voltage is not None:
                self.target_voltage = command.target_voltage
            if command.target_current is not None:
                self.target_current = command.target_current
            if command.present_voltage is not None:
                self.battery_voltage = command.present_voltage
            if command.charging_complete is not None:
                self.charging_complete = command.charging_complete
        elif isinstance(command, StopCharging):
            self._stop = command.pause
            self._kick(now)
        elif isinstance(command, Renegotiate):
            self._renegotiate = True
        elif isinstance(command, EnterStandby):
            self._standby = True
        elif isinstance(command, AskAcdpSystemStatus):
            self._ask_acdp_status(command, now)
        elif isinstance(command, ExitStandby):
            if self._in_standby:
                self._standby_exit = True
                self._kick(now)
        else:
            raise LocalProtocolError(f"the -20 EVCC does not take {type(command).__name__}")

    def _kick(self, now: float) -> None:
        """In standby the car sends nothing until the application acts."""
        if self._state is E.IDLE and self._in_standby and self._pending is None:
            self._in_standby = False
            self._send("PowerDelivery", now, progress="Stop" if self._stop is not None else "Start")

    # -- payloads --------------------------------------------------------------------------------

    def receive_payload(self, payload_type: int, payload: bytes, now: float) -> None:
        if self.ended is not None:
            return
        if payload_type == _msgs.ACDP_SYSTEM_STATUS and self.acdp:
            self._on_acdp_status(payload, now)
            return
        try:
            msg, name, kind = _msgs.decode(payload_type, payload)
        except Exception as exc:
            self._trace_rx(payload_type, payload, "?", None, now)
            self._finish(now, f"not -20 EXI of payload type 0x{payload_type:04x}: {exc}", normal=False)
            return
        response = name if kind == "Res" else None
        element = _msgs.element_name(payload_type, name, kind) if name is not None and kind else type(msg).__name__
        self._trace_rx(payload_type, payload, element, msg, now)
        if response is None:
            self._finish(now, f"{element} is not a response", normal=False)
            return
        row = self.table.lookup(self._state, response)
        if row is None:
            self._finish(now, f"{response}Res while waiting for {self._state.value}Res", normal=False)
            return
        if self._state is not E.SESSION_SETUP and msg.header.session_id != self.session_id:
            self._finish(now, "the response's SessionID is not this session's", normal=False)
            return
        self._disarm("response")
        code = msg.response_code.value
        if code.startswith("FAILED"):
            self._finish(now, f"{response}Res: {code}", normal=False, response_code=code)
            return
        getattr(self, row.handler)(msg, now)

    # -- requests ----------------------------------------------------------------------------------

    def _header(self, mod: ModuleType, now: float) -> Any:
        return mod.MessageHeader(session_id=self.session_id, time_stamp=int(self.clock.unix(now)))

    def _send(self, request: str, now: float, **options: Any) -> None:
        ptype = _msgs.payload_type_for(request, self.dc)
        mod = _msgs.module_for(ptype)
        fields = getattr(self, "_req_" + request)(mod, now, **options)
        cls = _msgs.request_class(ptype, request)
        header = self._header(mod, now)
        msg = cls(header=header, **fields)
        if self.pnc is not None:
            msg = self.pnc.sign_request(self, request, msg, mod)
        element = _msgs.element_name(ptype, request, "Req")
        self._queue(ptype, _msgs.encode(ptype, msg, element), element, msg, now)
        self._state = E(request)
        self._arm("response", now + self.config.timeouts.for_request(request))

    def _send_after(self, request: str, now: float, delay: float, **options: Any) -> None:
        if delay <= 0:
            self._send(request, now, **options)
            return
        self._state = E.IDLE
        self._pending = request
        self._pending_options = options
        self._arm("next_request", now + delay)

    def _on_timeout(self, name: str, now: float) -> None:
        if name == "next_request" and self._pending is not None:
            request, self._pending = self._pending, None
            self._send(request, now, **self._pending_options)
            return
        reason = {
            "response": f"V2G_EVCC_Msg_Timeout: no {self._state.value}Res in time",
            "communication_setup": "V2G_EVCC_CommunicationSetup_Timeout: no SessionSetupRes",
            "ongoing": "V2G_EVCC_Ongoing_Timeout: the charger stayed Ongoing",
            "system_status": "V2G_EVCC_Msg_Timeout: no ACDP_SystemStatusRes in time",
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
            session_id=self.session_id,
            response_code=response_code,
        )

    def _ongoing(self, request: str, now: float, **options: Any) -> None:
        if self._ongoing_since is None:
            self._ongoing_since = now
            self._arm("ongoing", now + self.config.timeouts.ongoing)
        self._send_after(request, now, self.config.ongoing_interval, **options)

    def _done_ongoing(self) -> None:
        self._ongoing_since = None
        self._disarm("ongoing")

    # request bodies -----------------------------------------------------------------------------

    def _req_SessionSetup(self, mod: ModuleType, now: float) -> dict[str, Any]:
        return {"evccid": self.config.evcc_id}

    def _req_AuthorizationSetup(self, mod: ModuleType, now: float) -> dict[str, Any]:
        return {}

    def _req_CertificateInstallation(self, mod: ModuleType, now: float) -> dict[str, Any]:
        return self.pnc.certificate_installation_fields(self)  # type: ignore[no-any-return]

    def _req_Authorization(self, mod: ModuleType, now: float) -> dict[str, Any]:
        if self.payment is Payment.PNC:
            return {
                "selected_authorization_service": common.Authorization.PnC,
                "pn_c_a_req_authorization_mode": self.pnc.authorization_mode(self),
            }
        return {
            "selected_authorization_service": common.Authorization.EIM,
            "eim_a_req_authorization_mode": common.EIM_AReqAuthorizationMode(),
        }

    def _req_ServiceDiscovery(self, mod: ModuleType, now: float) -> dict[str, Any]:
        return {}

    def _req_ServiceDetail(self, mod: ModuleType, now: float, service_id: int = 0) -> dict[str, Any]:
        return {"service_id": service_id}

    def _req_ServiceSelection(self, mod: ModuleType, now: float, parameter_set_id: int = 1) -> dict[str, Any]:
        vas = [v for v in self.config.vas if v in self._offered_vas]
        return {
            "selected_energy_transfer_service": common.SelectedService(
                service_id=int(self.service), parameter_set_id=parameter_set_id
            ),
            "selected_vas_list": common.SelectedServiceList(
                selected_service=[common.SelectedService(service_id=v, parameter_set_id=1) for v in vas]
            )
            if vas
            else None,
        }

    def _req_ChargeParameterDiscovery(self, mod: ModuleType, now: float) -> dict[str, Any]:
        lim = self.config.limits
        r = _rationals(mod)
        bpt = self.service.is_bpt
        if self.dc:
            kw: dict[str, Any] = dict(
                ev_maximum_charge_power=r(lim.max_charge_power),
                ev_minimum_charge_power=r(lim.min_charge_power),
                ev_maximum_charge_current=r(lim.max_charge_current or 0.0),
                ev_minimum_charge_current=r(lim.min_charge_current),
                ev_maximum_voltage=r(lim.max_voltage or 0.0),
                ev_minimum_voltage=r(lim.min_voltage),
            )
            if bpt:
                kw.update(
                    ev_maximum_discharge_power=r(lim.max_discharge_power or 0.0),
                    ev_minimum_discharge_power=r(lim.min_discharge_power),
                    ev_maximum_discharge_current=r(lim.max_discharge_current or 0.0),
                    ev_minimum_discharge_current=r(lim.min_discharge_current),
                )
                return {"bpt_dc_cpd_req_energy_transfer_mode": mod.BPT_DC_CPDReqEnergyTransferMode(**kw)}
            return {"dc_cpd_req_energy_transfer_mode": mod.DC_CPDReqEnergyTransferMode(**kw)}
        kw = dict(ev_maximum_charge_power=r(lim.max_charge_power), ev_minimum_charge_power=r(lim.min_charge_power))
        if bpt:
            kw.update(
                ev_maximum_discharge_power=r(lim.max_discharge_power or 0.0),
                ev_minimum_discharge_power=r(lim.min_discharge_power),
            )
            return {"bpt_ac_cpd_req_energy_transfer_mode": mod.BPT_AC_CPDReqEnergyTransferMode(**kw)}
        return {"ac_cpd_req_energy_transfer_mode": mod.AC_CPDReqEnergyTransferMode(**kw)}

    def _req_ScheduleExchange(self, mod: ModuleType, now: float) -> dict[str, Any]:
        e = self.config.energy
        r = _rationals(mod)
        if self.control_mode is ControlMode.DYNAMIC:
            bpt = self.service.is_bpt
            return {
                "maximum_supporting_points": self.config.maximum_supporting_points,
                "dynamic_se_req_control_mode": mod.Dynamic_SEReqControlMode(
                    departure_time=e.departure_time,
                    ev_target_energy_request=r(e.target_energy),
                    ev_maximum_energy_request=r(e.max_energy),
                    ev_minimum_energy_request=r(e.min_energy),
                    minimum_soc=e.min_soc,
                    target_soc=e.target_soc,
                    ev_maximum_v2_x_energy_request=r(e.max_v2x_energy)
                    if bpt and e.max_v2x_energy is not None
                    else None,
                    ev_minimum_v2_x_energy_request=r(e.min_v2x_energy)
                    if bpt and e.min_v2x_energy is not None
                    else None,
                ),
            }
        return {
            "maximum_supporting_points": self.config.maximum_supporting_points,
            "scheduled_se_req_control_mode": mod.Scheduled_SEReqControlMode(
                departure_time=e.departure_time,
                ev_target_energy_request=r(e.target_energy),
                ev_maximum_energy_request=r(e.max_energy),
                ev_minimum_energy_request=r(e.min_energy),
            ),
        }

    def _req_CableCheck(self, mod: ModuleType, now: float) -> dict[str, Any]:
        return {}

    def _req_PreCharge(self, mod: ModuleType, now: float, finished: bool = False) -> dict[str, Any]:
        return {
            "ev_processing": mod.Processing.Finished if finished else mod.Processing.Ongoing,
            "ev_present_voltage": rational(mod, self.battery_voltage),
            "ev_target_voltage": rational(mod, self.battery_voltage),
        }

    def _req_PowerDelivery(self, mod: ModuleType, now: float, progress: str = "Start") -> dict[str, Any]:
        self._pd = progress
        fields: dict[str, Any] = {
            "ev_processing": mod.Processing.Finished,
            "charge_progress": mod.ChargeProgress(progress),
        }
        if progress == "Start":
            discharge = (self.target_current < 0) if self.dc else (self.target_power < 0)
            if self.service.is_bpt:
                fields["bpt_channel_selection"] = (
                    mod.ChannelSelection.Discharge if discharge else mod.ChannelSelection.Charge
                )
            anchor = int(self.clock.unix(now))
            tolerance = self.config.power_tolerance_acceptance
            if self.control_mode is ControlMode.SCHEDULED and self.schedules:
                chosen = self.schedules[0]
                self.schedule_id = chosen.tuple_id
                lim = self.config.limits
                entries = []
                for duration, watts in (
                    chosen.charging[:1] if not discharge else (chosen.discharging or chosen.charging)[:1]
                ):
                    power = (
                        min(watts, lim.max_charge_power)
                        if not discharge
                        else -min(abs(watts), lim.max_discharge_power or 0.0)
                    )
                    entries.append(mod.PowerScheduleEntry(duration=duration, power=rational(mod, power)))
                fields["ev_power_profile"] = mod.EVPowerProfile(
                    time_anchor=anchor,
                    ev_power_profile_entries=mod.EVPowerProfileEntryList(ev_power_profile_entry=entries),
                    scheduled_evppt_control_mode=mod.Scheduled_EVPPTControlMode(
                        selected_schedule_tuple_id=chosen.tuple_id,
                        power_tolerance_acceptance=mod.PowerToleranceAcceptance(tolerance) if tolerance else None,
                    ),
                )
            elif self.control_mode is ControlMode.DYNAMIC:
                fields["ev_power_profile"] = mod.EVPowerProfile(
                    time_anchor=anchor,
                    ev_power_profile_entries=mod.EVPowerProfileEntryList(
                        ev_power_profile_entry=[
                            mod.PowerScheduleEntry(
                                duration=self.config.energy.departure_time,
                                power=rational(mod, self.config.limits.max_charge_power),
                            )
                        ]
                    ),
                    dynamic_evppt_control_mode=mod.Dynamic_EVPPTControlMode(),
                )
        return fields

    def _req_ChargeLoop(self, mod: ModuleType, now: float) -> dict[str, Any]:
        r = _rationals(mod)
        lim = self.config.limits
        e = self.config.energy
        bpt = self.service.is_bpt
        dynamic = self.control_mode is ControlMode.DYNAMIC
        fields: dict[str, Any] = {
            "meter_info_requested": False,
            "display_parameters": mod.DisplayParameters(present_soc=self.soc, charging_complete=self.charging_complete),
        }
        side = "DC" if self.dc else "AC"
        name = f"{'BPT_' if bpt else ''}{'Dynamic' if dynamic else 'Scheduled'}_{side}_CLReqControlMode"
        attr = f"{'bpt_' if bpt else ''}{'dynamic' if dynamic else 'scheduled'}_{side.lower()}_cl_req_control_mode"
        cls = getattr(mod, name)
        if self.dc:
            fields["ev_present_voltage"] = r(self.battery_voltage)
            if dynamic:
                kw: dict[str, Any] = dict(
                    ev_target_energy_request=r(e.target_energy),
                    ev_maximum_energy_request=r(e.max_energy),
                    ev_minimum_energy_request=r(e.min_energy),
                    ev_maximum_charge_power=r(lim.max_charge_power),
                    ev_minimum_charge_power=r(lim.min_charge_power),
                    ev_maximum_charge_current=r(lim.max_charge_current or 0.0),
                    ev_maximum_voltage=r(lim.max_voltage or 0.0),
                    ev_minimum_voltage=r(lim.min_voltage),
                )
                if bpt:
                    kw.update(
                        ev_maximum_discharge_power=r(lim.max_discharge_power or 0.0),
                        ev_minimum_discharge_power=r(lim.min_discharge_power),
                        ev_maximum_discharge_current=r(lim.max_discharge_current or 0.0),
                    )
            else:
                kw = dict(ev_target_current=r(self.target_current), ev_target_voltage=r(self.target_voltage))
        else:
            if dynamic:
                kw = dict(
                    ev_target_energy_request=r(e.target_energy),
                    ev_maximum_energy_request=r(e.max_energy),
                    ev_minimum_energy_request=r(e.min_energy),
                    ev_maximum_charge_power=r(lim.max_charge_power),
                    ev_minimum_charge_power=r(lim.min_charge_power),
                    ev_present_active_power=r(self.target_power),
                    ev_present_reactive_power=r(0),
                )
                if bpt:
                    kw.update(
                        ev_maximum_discharge_power=r(lim.max_discharge_power or 0.0),
                        ev_minimum_discharge_power=r(lim.min_discharge_power),
                    )
            else:
                kw = dict(ev_present_active_power=r(self.target_power))
        fields[attr] = cls(**kw)
        return fields

    def _req_MeteringConfirmation(self, mod: ModuleType, now: float) -> dict[str, Any]:
        m = self._meter_info
        smd = mod.SignedMeteringData(
            id_="SMD1",
            session_id=self.session_id,
            meter_info=mod.MeterInfo(
                meter_id=m.meter_id,
                charged_energy_reading_wh=m.charged_energy_reading_wh,
                meter_signature=m.meter_signature,
                meter_status=m.meter_status,
                meter_timestamp=m.meter_timestamp,
            ),
            dynamic_smdt_control_mode=mod.Dynamic_SMDTControlMode()
            if self.control_mode is ControlMode.DYNAMIC
            else None,
            scheduled_smdt_control_mode=mod.Scheduled_SMDTControlMode(selected_schedule_tuple_id=self.schedule_id or 1)
            if self.control_mode is ControlMode.SCHEDULED
            else None,
        )
        return {"signed_metering_data": smd}

    def _req_WeldingDetection(self, mod: ModuleType, now: float) -> dict[str, Any]:
        return {"ev_processing": mod.Processing.Finished}

    def _req_VehicleCheckIn(self, mod: ModuleType, now: float, status: str = "CheckIn") -> dict[str, Any]:
        self._check_status = status
        return {
            "ev_check_in_status": mod.EvCheckInStatus(status),
            "parking_method": mod.ParkingMethod(self.config.vehicle_check_in or "Manual"),
        }

    def _req_VehicleCheckOut(self, mod: ModuleType, now: float, status: str = "CheckOut") -> dict[str, Any]:
        self._check_status = status
        return {"ev_check_out_status": mod.EvCheckOutStatus(status), "check_out_time": int(self.clock.unix(now))}

    def _req_ACDP_VehiclePositioning(self, mod: ModuleType, now: float) -> dict[str, Any]:
        return {"ev_mobility_status": self._immobilized, "ev_positioning_support": True}

    def _req_ACDP_Connect(self, mod: ModuleType, now: float) -> dict[str, Any]:
        return {"ev_electrical_charging_device_status": mod.ElectricalChargingDeviceStatus.State_B}

    def _req_ACDP_Disconnect(self, mod: ModuleType, now: float) -> dict[str, Any]:
        return {"ev_electrical_charging_device_status": mod.ElectricalChargingDeviceStatus.State_B}

    def _req_WPT_FinePositioningSetup(self, mod: ModuleType, now: float) -> dict[str, Any]:
        return {
            "ev_processing": mod.Processing.Finished,
            "ev_device_fine_positioning_method_list": mod.WPT_FinePositioningMethodList(
                wpt_fine_positioning_method=[mod.WPT_FinePositioningMethod.Manual]
            ),
            "ev_device_pairing_method_list": mod.WPT_PairingMethodList(
                wpt_pairing_method=[mod.WPT_PairingMethod.External_confirmation]
            ),
            "ev_device_alignment_check_method_list": mod.WPT_AlignmentCheckMethodList(
                wpt_alignment_check_method=[mod.WPT_AlignmentCheckMethod.PowerCheck]
            ),
            "natural_offset": 0,
        }

    def _wpt_step_fields(self, mod: ModuleType) -> dict[str, Any]:
        return {
            "ev_processing": mod.Processing.Finished if self._wpt_finished else mod.Processing.Ongoing,
            "ev_result_code": mod.WPT_EVResult.EVResultSuccess
            if self._wpt_finished
            else mod.WPT_EVResult.EVResultUnknown,
        }

    def _req_WPT_FinePositioning(self, mod: ModuleType, now: float) -> dict[str, Any]:
        return self._wpt_step_fields(mod)

    def _req_WPT_Pairing(self, mod: ModuleType, now: float) -> dict[str, Any]:
        return self._wpt_step_fields(mod)

    def _req_WPT_AlignmentCheck(self, mod: ModuleType, now: float) -> dict[str, Any]:
        return self._wpt_step_fields(mod)

    def _req_WPT_ChargeParameterDiscovery(self, mod: ModuleType, now: float) -> dict[str, Any]:
        return {
            "evpc_max_receivable_power": rational(mod, self.config.limits.max_charge_power),
            "sd_max_ground_clearence": 250,  # mm
            "sd_min_ground_clearence": 100,
            "evpc_natural_frequency": rational(mod, 85_000),  # Hz, the SAE J2954 / IEC 61980 band
            "evpc_device_local_control": False,
        }

    def _req_WPT_ChargeLoop(self, mod: ModuleType, now: float) -> dict[str, Any]:
        return {
            "meter_info_requested": False,
            "evpc_power_request": rational(mod, self.target_power),
            "evpc_power_output": rational(mod, self.target_power),
            "evpc_charge_diagnostics": mod.WPT_EVPCChargeDiagnostics.EVPCNoIssue,
            "display_parameters": mod.DisplayParameters(present_soc=self.soc, charging_complete=self.charging_complete),
        }

    def _req_SessionStop(self, mod: ModuleType, now: float, kind: str = "Terminate") -> dict[str, Any]:
        self._stop_kind = kind
        return {"charging_session": mod.ChargingSession(kind)}

    # -- responses -------------------------------------------------------------------------------

    def _on_session_setup(self, msg: Any, now: float) -> None:
        self._disarm("communication_setup")
        self.session_id = msg.header.session_id
        self.evse_id = msg.evseid
        resumed = msg.response_code.value == "OK_OldSessionJoined"
        self._emit(SessionStarted(protocol="iso20", session_id=self.session_id, peer_id=msg.evseid, resumed=resumed))
        if self.acdp:  # [V2G20-4067]: the bus positions itself first
            self._send("ACDP_VehiclePositioning", now)
            return
        if self.wpt:  # [V2G20-5042]: fine positioning over the pad first
            self._send("WPT_FinePositioningSetup", now)
            return
        self._send("AuthorizationSetup", now)

    # -- WPT ---------------------------------------------------------------------------------------

    def _wpt_step(self, request: str, now: float) -> None:
        """The next request of a WPT step: Ongoing ``wpt_step_requests`` times, then Finished."""
        self._wpt_finished = self._wpt_sent >= self.config.wpt_step_requests
        self._wpt_sent += 1
        self._send_after(request, now, self.config.ongoing_interval if self._wpt_sent > 1 else 0.0)

    def _wpt_after(self, msg: Any, now: float, request: str, then: str) -> None:
        finished = msg.evse_processing == msg.evse_processing.__class__.Finished
        self._emit(WptStepAnswered(request=request, finished=finished))
        if finished or self._wpt_finished:  # [V2G20-5027], [V2G20-5029], [V2G20-5032], [V2G20-5034], [V2G20-5036]
            self._wpt_sent = 0
            self._wpt_finished = False
            if then.startswith("WPT_"):
                self._wpt_step(then, now)
            else:
                self._send(then, now, **({"progress": "Start"} if then == "PowerDelivery" else {}))
            return
        self._wpt_step(request, now)

    def _on_wpt_setup(self, msg: Any, now: float) -> None:
        self._emit(WptStepAnswered(request="WPT_FinePositioningSetup", finished=True))
        self._wpt_sent = 0
        self._wpt_step("WPT_FinePositioning", now)  # [V2G20-5024]

    def _on_wpt_positioning(self, msg: Any, now: float) -> None:
        if msg.response_code.value == "WARNING_WPT":  # [V2G20-5055]
            self._wpt_recover(now, "WPT_FinePositioning", "WPT_FinePositioningSetup")
            return
        self._wpt_after(msg, now, "WPT_FinePositioning", "WPT_Pairing")

    def _on_wpt_pairing(self, msg: Any, now: float) -> None:
        # positioned again in a session past ServiceSelection: the alignment check, then power (our reading)
        self._wpt_after(msg, now, "WPT_Pairing", "WPT_AlignmentCheck" if self._wpt_again else "AuthorizationSetup")

    def _wpt_recover(self, now: float, request: str, then: str) -> None:
        """A WARNING_WPT answer to ``request``: go back to ``then`` while recoveries are left, else SessionStop."""
        if self._wpt_recoveries >= self.config.wpt_recoveries:
            self._emit(WptWarned(request=request, then="SessionStop"))
            self._stop = False
            self._send("SessionStop", now, kind="Terminate")
            return
        self._wpt_recoveries += 1
        self._wpt_again = self.schedules != () or self.evse_limits is not None
        self._emit(WptWarned(request=request, then=then))
        self._wpt_sent = 0
        self._wpt_finished = False
        if then == "WPT_FinePositioningSetup":
            self._send(then, now)
        else:
            self._wpt_step(then, now)

    def _on_wpt_alignment(self, msg: Any, now: float) -> None:
        self._wpt_after(msg, now, "WPT_AlignmentCheck", "PowerDelivery")

    def _on_wpt_charge_parameters(self, msg: Any, now: float) -> None:
        self.evse_limits = PowerLimits(
            max_charge_power=from_rational(msg.sd_max_output_power),
            min_charge_power=from_rational(msg.sd_min_output_power),
        )
        if msg.response_code.value == "WARNING_WPT":  # [V2G20-5066]: limited power; the car goes on (our reading)
            self._emit(WptWarned(request="WPT_ChargeParameterDiscovery", then="ScheduleExchange"))
        self._emit(Iso20ChargeParametersOffered(limits=self.evse_limits))
        self._send("ScheduleExchange", now)

    def _on_wpt_charge_loop(self, msg: Any, now: float) -> None:
        self.loops += 1
        status = msg.evse_status
        notification = status.evse_notification.value if status is not None else "None"
        self._emit(
            Iso20ChargeLoopStatus(
                target_power=from_rational(msg.evpc_power_request),
                limits=PowerLimits(
                    max_charge_power=from_rational(msg.spc_max_output_power_limit),
                    min_charge_power=from_rational(msg.spc_min_output_power_limit),
                ),
                notification=notification,
                meter_wh=msg.meter_info.charged_energy_reading_wh if msg.meter_info is not None else None,
            )
        )
        if msg.response_code.value == "WARNING_WPT":  # [V2G20-5058]: the car checks the alignment again
            self._wpt_recover(now, "WPT_ChargeLoop", "WPT_AlignmentCheck")
            return
        if notification == "Terminate" and self._stop is None:
            self._stop = False
        elif notification == "Pause" and self._stop is None:
            self._stop = True
        cap = self.config.charge_loop_requests
        if cap is not None and self.loops >= cap and self._stop is None:
            self._stop = False
        self._next_after_loop(now)

    @property
    def _loop_request(self) -> str:
        return "WPT_ChargeLoop" if self.wpt else "ChargeLoop"

    def _on_vehicle_positioning(self, msg: Any, now: float) -> None:
        finished = msg.evse_processing == msg.evse_processing.__class__.Finished
        self._emit(
            AcdpPositioningAnswered(
                finished=finished,
                in_charge_position=bool(msg.ev_in_charge_position),
                x_deviation=msg.ev_relative_x_deviation,
                y_deviation=msg.ev_relative_y_deviation,
            )
        )
        if finished:
            self._done_ongoing()
            self._send("AuthorizationSetup", now)
            return
        if msg.ev_in_charge_position:
            self._immobilized = True  # the simulated bus stops where the charger says it is in position
        self._ongoing("ACDP_VehiclePositioning", now)

    # -- ACDP_SystemStatus: the side channel (V2GTP 0x8103) ------------------------------------------

    def _ask_acdp_status(self, command: AskAcdpSystemStatus, now: float) -> None:
        """ACDP_SystemStatusReq beside the session's own request (its own timeout, the default message one)."""
        if not self.acdp:
            raise LocalProtocolError("ACDP_SystemStatus belongs to ACDP sessions (ISO20_ACDP)")
        if self.ended is not None or self._state is E.SESSION_SETUP:
            raise LocalProtocolError("ACDP_SystemStatus: after SessionSetup and before the session ends")
        if self._status_pending:
            raise LocalProtocolError("an ACDP_SystemStatusReq is still waiting for its answer")
        mod = _msgs.module_for(_msgs.ACDP)
        if command.error_code not in {c.value for c in mod.ErrorCode}:
            raise LocalProtocolError(f"EVErrorCode {command.error_code!r}")
        status = mod.EVTechnicalStatus(
            ev_ready_to_charge=self._connected and self._pd != "Stop",  # the pantograph down, not stopping
            ev_immobilization_request=command.immobilization_request,
            ev_immobilized=self._immobilized,
            evsoc=self.soc,
            ev_error_code=mod.ErrorCode(command.error_code),
        )
        msg = mod.ACDP_SystemStatusReq(header=self._header(mod, now), ev_technical_status=status)
        element = "ACDP_SystemStatusReq"
        self._queue(_msgs.ACDP_SYSTEM_STATUS, mod.codec.encode(msg, element), element, msg, now)
        self._status_pending = True
        self._arm("system_status", now + self.config.timeouts.default)

    def _on_acdp_status(self, payload: bytes, now: float) -> None:
        ptype = _msgs.ACDP_SYSTEM_STATUS
        mod = _msgs.module_for(_msgs.ACDP)
        try:
            element, msg = mod.codec.decode_with_name(payload)
        except Exception as exc:
            self._trace_rx(ptype, payload, "?", None, now)
            self._finish(now, f"not ACDP EXI in payload type 0x{ptype:04x}: {exc}", normal=False)
            return
        self._trace_rx(ptype, payload, element, msg, now)
        if element != "ACDP_SystemStatusRes" or not self._status_pending:
            self._finish(now, f"{element} in the ACDP system status channel, not asked for", normal=False)
            return
        if msg.header.session_id != self.session_id:
            self._finish(now, "the response's SessionID is not this session's", normal=False)
            return
        self._status_pending = False
        self._disarm("system_status")
        code = msg.response_code.value
        if code.startswith("FAILED"):
            self._finish(now, f"ACDP_SystemStatusRes: {code}", normal=False, response_code=code)
            return
        self._emit(
            AcdpSystemStatusAnswered(
                mechanical=msg.evse_mechanical_charging_device_status.value,
                ready_to_charge=msg.evse_ready_to_charge,
                isolation=msg.evse_isolation_status.value,
                disabled=msg.evse_disabled,
                utility_interrupt=msg.evse_utility_interrupt_event,
                emergency_shutdown=msg.evse_emergency_shutdown,
                malfunction=msg.evse_malfunction,
                in_charge_position=msg.ev_in_charge_position,
                associated=msg.ev_association_status,
            )
        )

    def _on_acdp_connect(self, msg: Any, now: float) -> None:
        self._on_acdp_device(msg, now, connect=True)

    def _on_acdp_disconnect(self, msg: Any, now: float) -> None:
        self._on_acdp_device(msg, now, connect=False)

    def _on_acdp_device(self, msg: Any, now: float, *, connect: bool) -> None:
        finished = msg.evse_processing == msg.evse_processing.__class__.Finished
        self._emit(
            AcdpDeviceAnswered(
                connect=connect,
                finished=finished,
                mechanical=msg.evse_mechanical_charging_device_status.value,
                electrical=msg.evse_electrical_charging_device_status.value,
            )
        )
        if not finished:
            self._ongoing("ACDP_Connect" if connect else "ACDP_Disconnect", now)
            return
        self._done_ongoing()
        if connect:
            self._connected = True
            self._send("CableCheck", now)
        else:
            self._connected = False
            self._session_stop(now)

    def _on_authorization_setup(self, msg: Any, now: float) -> None:
        offered = {Payment.EIM if a == common.Authorization.EIM else Payment.PNC for a in msg.authorization_services}
        if msg.pn_c_as_res_authorization_mode is not None:
            self.gen_challenge = msg.pn_c_as_res_authorization_mode.gen_challenge
        if self.payment not in offered:
            self.payment = Payment.EIM
            self.pnc = None
        if self.payment is Payment.PNC and self.pnc is not None and self.pnc.needs_installation(self, msg):
            self._send("CertificateInstallation", now)
            return
        self._send("Authorization", now)

    def _on_certificate_installation(self, msg: Any, now: float) -> None:
        from evcharge.errors import EvchargeError

        try:
            self.pnc.installed(self, msg, now)
        except (EvchargeError, ValueError) as exc:
            self._finish(now, f"CertificateInstallationRes refused: {exc}", normal=False)
            return
        self._send("Authorization", now)

    def _on_authorization(self, msg: Any, now: float) -> None:
        code = msg.response_code.value
        if msg.evse_processing != common.Processing.Finished and code == "OK":
            self._ongoing("Authorization", now)
            return
        self._done_ongoing()
        accepted = code.startswith("OK")
        self._emit(AuthorizationResult(accepted=accepted, payment=self.payment))
        if not accepted:
            self._stop = False
            self._send("SessionStop", now, kind="Terminate")
            return
        self._send("ServiceDiscovery", now)

    def _on_service_discovery(self, msg: Any, now: float) -> None:
        services = tuple(
            EnergyService(s.service_id)
            for s in msg.energy_transfer_service_list.service
            if s.service_id in {int(x) for x in EnergyService}
        )
        self._offered_vas = tuple(s.service_id for s in msg.vas_list.service) if msg.vas_list is not None else ()
        self.renegotiation_supported = msg.service_renegotiation_supported
        self._emit(
            Iso20ServicesOffered(
                services=services, vas=self._offered_vas, renegotiation_supported=msg.service_renegotiation_supported
            )
        )
        if self.service not in services:
            self._send("SessionStop", now, kind="Terminate")
            self._no_service = True
            return
        self._send("ServiceDetail", now, service_id=int(self.service))

    def _on_service_detail(self, msg: Any, now: float) -> None:
        chosen = None
        for ps in msg.service_parameter_list.parameter_set:
            for p in ps.parameter:
                if p.name == "ControlMode" and p.int_value == int(self.control_mode):
                    chosen = ps.parameter_set_id
        if chosen is None:
            self._send("SessionStop", now, kind="Terminate")
            return
        self._send("ServiceSelection", now, parameter_set_id=chosen)

    def _on_service_selection(self, msg: Any, now: float) -> None:
        if self.wpt:  # [V2G20-5041]
            self._send("WPT_ChargeParameterDiscovery", now)
            return
        if self.config.vehicle_check_in is not None and not self._checked_in:
            self._check_ins = 0
            self._send("VehicleCheckIn", now, status="CheckIn")
            return
        self._send("ChargeParameterDiscovery", now)

    def _on_vehicle_check_in(self, msg: Any, now: float) -> None:
        status = self._check_status
        self._emit(
            VehicleCheckInAnswered(
                status=status,
                parking_space=msg.parking_space,
                device_location=msg.device_location,
                target_distance=msg.target_distance,
            )
        )
        if status == "Completed":
            self._checked_in = True
            self._send("ChargeParameterDiscovery", now)
        elif self._check_ins < self.config.check_in_processing:
            self._check_ins += 1
            self._send_after("VehicleCheckIn", now, self.config.ongoing_interval, status="Processing")
        else:
            self._send("VehicleCheckIn", now, status="Completed")

    def _on_vehicle_check_out(self, msg: Any, now: float) -> None:
        evse = msg.evse_check_out_status.value
        self._emit(VehicleCheckOutAnswered(status=self._check_status, evse_status=evse))
        if evse == "Completed":
            self._done_ongoing()
            self._checked_out = True
            self._session_stop(now)
        else:  # Scheduled: ask again while the charger gets ready, under V2G_EVCC_Ongoing_Timeout
            self._ongoing("VehicleCheckOut", now, status="Processing")

    def _on_charge_parameters(self, msg: Any, now: float) -> None:
        m = (
            msg.bpt_dc_cpd_res_energy_transfer_mode or msg.dc_cpd_res_energy_transfer_mode
            if self.dc
            else msg.bpt_ac_cpd_res_energy_transfer_mode or msg.ac_cpd_res_energy_transfer_mode
        )
        if m is None:
            self._finish(now, "ChargeParameterDiscoveryRes without the EVSE's parameters", normal=False)
            return
        g = _getter(m)
        self.evse_limits = PowerLimits(
            max_charge_power=g("evse_maximum_charge_power") or 0.0,
            min_charge_power=g("evse_minimum_charge_power") or 0.0,
            max_charge_current=g("evse_maximum_charge_current"),
            min_charge_current=g("evse_minimum_charge_current") or 0.0,
            max_voltage=g("evse_maximum_voltage"),
            min_voltage=g("evse_minimum_voltage") or 0.0,
            max_discharge_power=g("evse_maximum_discharge_power"),
            min_discharge_power=g("evse_minimum_discharge_power") or 0.0,
            max_discharge_current=g("evse_maximum_discharge_current"),
            min_discharge_current=g("evse_minimum_discharge_current") or 0.0,
            nominal_frequency=g("evse_nominal_frequency") or 50.0,
        )
        self._emit(Iso20ChargeParametersOffered(limits=self.evse_limits))
        self._send("ScheduleExchange", now)

    def _on_schedule_exchange(self, msg: Any, now: float) -> None:
        if msg.evse_processing != common.Processing.Finished:
            self._ongoing("ScheduleExchange", now)
            return
        self._done_ongoing()
        if self.control_mode is ControlMode.SCHEDULED:
            sched = msg.scheduled_se_res_control_mode
            if sched is None:
                self._finish(now, "ScheduleExchangeRes without schedules in scheduled mode", normal=False)
                return
            self.schedules = tuple(_schedule_of(t) for t in sched.schedule_tuple)
        self._emit(SchedulesOffered(control_mode=self.control_mode, schedules=self.schedules))
        if self.wpt:  # [V2G20-5045]: the alignment check before power
            self._wpt_sent = 0
            self._wpt_step("WPT_AlignmentCheck", now)
        elif self.dc and not self._prepared:
            # ACDP: the pantograph comes down first ([V2G20-4070])
            self._send("ACDP_Connect" if self.acdp and not self._connected else "CableCheck", now)
        else:
            self._send("PowerDelivery", now, progress="Start")

    def _on_cable_check(self, msg: Any, now: float) -> None:
        if msg.evse_processing != self.spec.Processing.Finished:
            self._ongoing("CableCheck", now)
            return
        self._done_ongoing()
        self._emit(CableCheckFinished(isolation=None))
        self._pre_charges = 0
        self._pre_charge_finished = False
        self._send("PreCharge", now)

    def _on_pre_charge(self, msg: Any, now: float) -> None:
        present = from_rational(msg.evse_present_voltage)
        self._emit(PreChargeProgress(present_voltage=present, target_voltage=self.battery_voltage))
        if self._pre_charge_finished:
            # [V2G20-2006]: after DC_PreChargeReq(Finished) comes PowerDeliveryReq
            self._prepared = True
            self._send("PowerDelivery", now, progress="Start")
            return
        self._pre_charges += 1
        cap = self.config.pre_charge_max_requests
        if abs(present - self.battery_voltage) <= self.config.pre_charge_tolerance or (
            cap is not None and self._pre_charges >= cap
        ):
            self._pre_charge_finished = True
            self._send("PreCharge", now, finished=True)
        else:
            self._send_after("PreCharge", now, self.config.ongoing_interval)

    def _on_power_delivery(self, msg: Any, now: float) -> None:
        progress = self._pd
        accepted = msg.response_code.value.startswith("OK")
        action = {"Start": PowerAction.START, "Stop": PowerAction.STOP, "Standby": PowerAction.STOP}.get(
            progress, PowerAction.RENEGOTIATE
        )
        if self.wpt and progress == "Start" and msg.response_code.value == "WARNING_WPT":  # [V2G20-5061]
            self._emit(PowerDeliveryAnswered(action=action, accepted=False))
            self._wpt_recover(now, "PowerDelivery", "WPT_FinePositioningSetup")
            return
        self._emit(PowerDeliveryAnswered(action=action, accepted=accepted))
        if progress == "Start":
            self.loops = 0
            self._send(self._loop_request, now)
        elif progress == "Stop":
            if self.acdp:  # [V2G20-4073]: the pantograph goes home, then SessionStop
                self._send("ACDP_Disconnect", now)
            elif self.wpt:  # [V2G20-5094]
                self._session_stop(now)
            elif self.dc:
                self._send("WeldingDetection", now)
            else:
                self._session_stop(now)
        elif progress == "Standby":
            if not accepted:  # WARNING_StandbyNotAllowed: charge on
                self._send(self._loop_request, now)
                return
            self._state = E.IDLE
            self._in_standby = True
        else:  # ScheduleRenegotiation
            self._send("ScheduleExchange", now)

    def _session_stop(self, now: float) -> None:
        if self._service_renegotiation:
            self._send("SessionStop", now, kind="ServiceRenegotiation")
        elif not self._stop and self.config.vehicle_check_out and not self._checked_out:
            self._send("VehicleCheckOut", now, status="CheckOut")
        else:
            self._send("SessionStop", now, kind="Pause" if self._stop else "Terminate")

    def _on_charge_loop(self, msg: Any, now: float) -> None:
        self.loops += 1
        status = msg.evse_status
        notification = status.evse_notification.value if status is not None else "None"
        present_v = opt_rational(getattr(msg, "evse_present_voltage", None))
        present_i = opt_rational(getattr(msg, "evse_present_current", None))
        target_power = None
        limits = None
        for name in (
            "bpt_dynamic_ac_cl_res_control_mode",
            "bpt_scheduled_ac_cl_res_control_mode",
            "dynamic_ac_cl_res_control_mode",
            "scheduled_ac_cl_res_control_mode",
        ):
            branch = getattr(msg, name, None)
            if branch is not None:
                target_power = opt_rational(branch.evse_target_active_power)
        for name in ("bpt_dynamic_dc_cl_res_control_mode", "dynamic_dc_cl_res_control_mode"):
            branch = getattr(msg, name, None)
            if branch is not None:
                limits = PowerLimits(
                    max_charge_power=from_rational(branch.evse_maximum_charge_power),
                    min_charge_power=from_rational(branch.evse_minimum_charge_power),
                    max_charge_current=from_rational(branch.evse_maximum_charge_current),
                    max_voltage=from_rational(branch.evse_maximum_voltage),
                    max_discharge_power=opt_rational(getattr(branch, "evse_maximum_discharge_power", None)),
                    max_discharge_current=opt_rational(getattr(branch, "evse_maximum_discharge_current", None)),
                )
        self._meter_info = msg.meter_info
        self._emit(
            Iso20ChargeLoopStatus(
                present_voltage=present_v,
                present_current=present_i,
                target_power=target_power,
                limits=limits,
                current_limit_achieved=bool(getattr(msg, "evse_current_limit_achieved", False)),
                voltage_limit_achieved=bool(getattr(msg, "evse_voltage_limit_achieved", False)),
                power_limit_achieved=bool(getattr(msg, "evse_power_limit_achieved", False)),
                notification=notification,
                meter_wh=msg.meter_info.charged_energy_reading_wh if msg.meter_info is not None else None,
            )
        )
        if notification == "Terminate" and self._stop is None:
            self._stop = False
        elif notification == "Pause" and self._stop is None:
            self._stop = True
        elif notification == "ScheduleRenegotiation":
            self._renegotiate = True
        elif notification == "ServiceRenegotiation" and getattr(self, "renegotiation_supported", False):
            self._service_renegotiation = True
            self._stop = False
        elif notification == "MeteringConfirmation" and msg.meter_info is not None:
            self._send("MeteringConfirmation", now)
            return
        cap = self.config.charge_loop_requests
        if cap is not None and self.loops >= cap and self._stop is None:
            self._stop = False
        self._next_after_loop(now)

    def _next_after_loop(self, now: float) -> None:
        if self._stop is not None or self.charging_complete:
            if self._stop is None:
                self._stop = False
            self._send("PowerDelivery", now, progress="Stop")
        elif self._renegotiate:
            self._renegotiate = False
            self._send("PowerDelivery", now, progress="ScheduleRenegotiation")
        elif self._standby:
            self._standby = False
            self._send("PowerDelivery", now, progress="Standby")
        else:
            self._send_after(self._loop_request, now, self.config.loop_interval)

    def _on_metering_confirmation(self, msg: Any, now: float) -> None:
        if self._pd == "Stop":
            self._session_stop(now)
        else:
            self._next_after_loop(now)

    def _on_welding_detection(self, msg: Any, now: float) -> None:
        self._welding_left -= 1
        if self._welding_left > 0:
            self._send_after("WeldingDetection", now, self.config.ongoing_interval)
        else:
            self._session_stop(now)

    def _on_session_stop(self, msg: Any, now: float) -> None:
        kind = getattr(self, "_stop_kind", "Terminate")
        if kind == "ServiceRenegotiation":
            self._service_renegotiation = False
            self._stop = None
            self._prepared = False
            self._send("ServiceDiscovery", now)
            return
        if getattr(self, "_no_service", False):
            self._finish(now, f"the charger does not offer {self.service.name}", normal=False)
            return
        self._finish(now, f"SessionStop({kind})", normal=True, paused=kind == "Pause")


def _schedule_of(t: Any) -> PowerSchedule:
    def entries(cs: Any) -> tuple[tuple[int, float], ...]:
        return tuple(
            (e.duration, abs(from_rational(e.power)))
            for e in cs.power_schedule.power_schedule_entries.power_schedule_entry
        )

    levels = None
    count = 1
    pls = t.charging_schedule.price_level_schedule
    if pls is not None:
        levels = tuple((e.duration, e.price_level) for e in pls.price_level_schedule_entries.price_level_schedule_entry)
        count = pls.number_of_price_levels
    return PowerSchedule(
        tuple_id=t.schedule_tuple_id,
        charging=entries(t.charging_schedule),
        discharging=entries(t.discharging_schedule) if t.discharging_schedule is not None else None,
        price_levels=levels,
        number_of_price_levels=count,
    )
