"""The charger's engine (SECC) for ISO 15118-20 CommonMessages with AC, DC, AC_BPT and DC_BPT.

The shape of the DIN / ISO 15118-2 engines (``evcharge.iso15118.engines.secc``) on the same machinery: an
explicit (state, request) :class:`~evcharge.iso15118.engines._table.Table`,
:class:`~evcharge.iso15118.engines._base.EngineBase` for the queues, timers and the end of a session,
:func:`~evcharge.iso15118.engines._minimal.minimal` FAILED bodies. A request not in the table is answered
FAILED_SequenceError with only the mandatory fields; a foreign SessionID FAILED_UnknownSession; input that is
not -20 EXI of the session's schemas FAILED. Every FAILED answer ends the session (TCP closed within
``Iso20SeccTimeouts.close_delay``).

DC_PreCharge sequencing: after DC_PreChargeReq(EVProcessing=Ongoing) only DC_PreChargeReq is accepted
([V2G20-2005]); after Finished only PowerDeliveryReq ([V2G20-2006]).
"""

from __future__ import annotations

import os
from dataclasses import replace
from datetime import UTC, datetime
from enum import Enum
from types import ModuleType
from typing import Any

from evcharge.clock import WallClock
from evcharge.errors import LocalProtocolError
from evcharge.iso15118.handover import HandOver
from evcharge.iso15118.iso20 import common

from .._base import EngineBase
from .._minimal import minimal
from .._table import Row, Table
from ..events import (
    AnswerCertificate,
    AuthorizationRequested,
    Authorize,
    CableCheckRequested,
    CertificateRequested,
    Isolation,
    MeteringReceiptReceived,
    MeterReading,
    Notify,
    Payment,
    PowerAction,
    PowerDeliveryRequested,
    PreChargeRequested,
    RequestRejected,
    SessionStarted,
    SessionStopRequested,
    SetIsolation,
    SetMeter,
    SetPresentValues,
    WeldingDetectionRequested,
)
from . import _msgs
from ._msgs import COMMON, _getter, _rationals, from_rational, opt_rational, rational
from .config import Iso20SeccConfig
from .events import (
    AcdpDeviceRequested,
    AcdpSystemStatusRequested,
    ChargeLoopRequested,
    ChargeParametersRequested20,
    ControlMode,
    EnergyRequest,
    EnergyService,
    PowerLimits,
    PowerSchedule,
    ScheduleRequested,
    ServiceSelected,
    SetAcdpSystemStatus,
    SetChargingDevice,
    SetPowerDeliveryResult,
    SetPowerLimits,
    SetPowerSchedules,
    SetTargetPower,
    SetVehicleCheckIn,
    SetVehicleCheckOut,
    SetVehiclePosition,
    VehicleCertificate,
    VehicleCheckInRequested,
    VehicleCheckOutRequested,
    VehiclePositioningRequested,
    WarnWpt,
    WptStepDone,
    WptStepRequested,
)

__all__ = ["SECC20_ROWS", "Iso20Secc", "Iso20SeccState", "secc20_table"]


class Iso20SeccState(Enum):
    """The request the charger waits for next."""

    SESSION_SETUP = "SessionSetup"
    VEHICLE_POSITIONING = "ACDP_VehiclePositioning"  #: the bus drives under the pantograph (ACDP)
    WPT_SETUP = "WPT_FinePositioningSetup"  #: the fine positioning methods (WPT)
    WPT_POSITIONING = "WPT_FinePositioning"  #: the car over the pad (WPT)
    WPT_PAIRING = "WPT_Pairing"  #: which pad the car is over (WPT)
    AUTHORIZATION_SETUP = "AuthorizationSetup"
    AUTHORIZATION = "Authorization"
    SERVICE_DISCOVERY = "ServiceDiscovery"
    SERVICE_SELECTION = "ServiceSelection"
    CHARGE_PARAMETERS = "ChargeParameterDiscovery"
    SCHEDULE_EXCHANGE = "ScheduleExchange"
    WPT_ALIGNMENT = "WPT_AlignmentCheck"  #: the coils checked with a little power (WPT)
    ACDP_CONNECT = "ACDP_Connect"  #: the pantograph comes down (ACDP)
    CABLE_CHECK = "CableCheck"
    PRE_CHARGE = "PreCharge"
    POWER_DELIVERY = "PowerDelivery"
    WPT_STARTED = "WPT_Started"  #: right after PowerDelivery(Start) in WPT, the charge loop or a new fine positioning
    WPT_WARNED = "WPT_Warned"  #: after a WARNING_WPT answer in WPT, a new fine positioning setup or SessionStop
    WPT_REALIGN = "WPT_Realign"  #: after WARNING_WPT in the WPT charge loop, alignment check, pairing or SessionStop
    CHARGING = "Charging"
    STANDBY = "Standby"
    ACDP_DISCONNECT = "ACDP_Disconnect"  #: the pantograph goes home (ACDP)
    STOPPED = "Stopped"
    ENDED = "Ended"


S = Iso20SeccState
_STOP_QUIRK = "session_stop_in_any_state"
_PRECHARGE_QUIRK = "power_delivery_after_precharge_ongoing"
_CHECK = "vehicle_check_in_out"
_ACDP = "acdp"
_ACDP_STATES = (S.VEHICLE_POSITIONING, S.ACDP_CONNECT, S.ACDP_DISCONNECT)
_WPT = "wpt"
_WPT_STATES = (
    S.WPT_SETUP,
    S.WPT_POSITIONING,
    S.WPT_PAIRING,
    S.WPT_ALIGNMENT,
    S.WPT_STARTED,
    S.WPT_WARNED,
    S.WPT_REALIGN,
)
_ACDC = "acdc"  #: the AC and DC schemas' ChargeParameterDiscovery and ChargeLoop (not WPT)
#: DC_WeldingDetection after PowerDelivery(Stop): the DC namespace only. In ACDP the car goes to ACDP_Disconnect
#: after PowerDelivery(Stop) ([V2G20-4073]) and then to SessionStop: a WeldingDetectionReq there is out of sequence
_WELDING = "welding"


def _r(state: S, request: str, handler: str, *targets: S, requires: tuple[str, ...] = (), note: str = "") -> Row[S]:
    return Row(state, request, handler, frozenset(targets) | {S.ENDED}, frozenset(requires), note)


#: every row of the -20 SECC; a table takes the rows its tags (``ac``/``dc``, quirks) allow
SECC20_ROWS: tuple[Row[Iso20SeccState], ...] = (
    _r(
        S.SESSION_SETUP,
        "SessionSetup",
        "_session_setup",
        S.AUTHORIZATION_SETUP,
        S.VEHICLE_POSITIONING,
        S.WPT_SETUP,
    ),
    _r(S.WPT_SETUP, "WPT_FinePositioningSetup", "_wpt_setup", S.WPT_POSITIONING, requires=(_WPT,), note="[V2G20-5043]"),
    _r(
        S.WPT_POSITIONING,
        "WPT_FinePositioningSetup",
        "_wpt_setup",
        S.WPT_POSITIONING,
        requires=(_WPT,),
        note="[V2G20-5085] again",
    ),
    _r(
        S.WPT_POSITIONING,
        "WPT_FinePositioning",
        "_wpt_step",
        S.WPT_POSITIONING,
        S.WPT_PAIRING,
        S.WPT_WARNED,
        requires=(_WPT,),
        note="Ongoing; Finished; WARNING_WPT [V2G20-5055]",
    ),
    _r(
        S.WPT_PAIRING,
        "WPT_Pairing",
        "_wpt_step",
        S.WPT_PAIRING,
        S.AUTHORIZATION_SETUP,
        S.WPT_ALIGNMENT,
        requires=(_WPT,),
        note="Ongoing; Finished (a new positioning: WPT_AlignmentCheck next)",
    ),
    _r(
        S.VEHICLE_POSITIONING,
        "ACDP_VehiclePositioning",
        "_acdp_positioning",
        S.VEHICLE_POSITIONING,
        S.AUTHORIZATION_SETUP,
        requires=(_ACDP,),
        note="[V2G20-4068] Ongoing; [V2G20-4069] immobilized",
    ),
    _r(S.AUTHORIZATION_SETUP, "AuthorizationSetup", "_authorization_setup", S.AUTHORIZATION),
    _r(S.AUTHORIZATION, "CertificateInstallation", "_certificate_installation", S.AUTHORIZATION, note="PnC"),
    _r(S.AUTHORIZATION, "Authorization", "_authorization", S.AUTHORIZATION, S.SERVICE_DISCOVERY, note="Ongoing"),
    _r(S.AUTHORIZATION, "SessionStop", "_session_stop", S.ENDED, note="after a refusal"),
    _r(S.SERVICE_DISCOVERY, "ServiceDiscovery", "_service_discovery", S.SERVICE_SELECTION),
    _r(S.SERVICE_SELECTION, "ServiceDetail", "_service_detail", S.SERVICE_SELECTION),
    _r(S.SERVICE_SELECTION, "ServiceSelection", "_service_selection", S.CHARGE_PARAMETERS),
    _r(S.CHARGE_PARAMETERS, "ChargeParameterDiscovery", "_charge_parameters", S.SCHEDULE_EXCHANGE, requires=(_ACDC,)),
    _r(
        S.CHARGE_PARAMETERS,
        "WPT_ChargeParameterDiscovery",
        "_wpt_charge_parameters",
        S.SCHEDULE_EXCHANGE,
        requires=(_WPT,),
        note="[V2G20-5041]",
    ),
    _r(
        S.CHARGE_PARAMETERS,
        "VehicleCheckIn",
        "_vehicle_check_in",
        S.CHARGE_PARAMETERS,
        requires=(_CHECK,),
        note="CheckIn; Processing; Completed",
    ),
    _r(
        S.SCHEDULE_EXCHANGE,
        "ScheduleExchange",
        "_schedule_exchange",
        S.SCHEDULE_EXCHANGE,
        S.CABLE_CHECK,
        S.POWER_DELIVERY,
        S.ACDP_CONNECT,
        S.WPT_ALIGNMENT,
        note="Ongoing; DC: CableCheck first time; ACDP: ACDP_Connect first time; WPT: WPT_AlignmentCheck",
    ),
    _r(
        S.WPT_ALIGNMENT,
        "WPT_AlignmentCheck",
        "_wpt_step",
        S.WPT_ALIGNMENT,
        S.POWER_DELIVERY,
        requires=(_WPT,),
        note="[V2G20-5045] Ongoing; Finished",
    ),
    _r(
        S.ACDP_CONNECT,
        "ACDP_Connect",
        "_acdp_connect",
        S.ACDP_CONNECT,
        S.CABLE_CHECK,
        requires=(_ACDP,),
        note="[V2G20-4071] Ongoing; [V2G20-4072] Finished",
    ),
    _r(S.CABLE_CHECK, "CableCheck", "_cable_check", S.CABLE_CHECK, S.PRE_CHARGE, requires=("dc",), note="Ongoing"),
    _r(
        S.PRE_CHARGE,
        "PreCharge",
        "_pre_charge",
        S.PRE_CHARGE,
        S.POWER_DELIVERY,
        requires=("dc",),
        note="[V2G20-2005] Ongoing; [V2G20-2006] Finished",
    ),
    _r(
        S.POWER_DELIVERY,
        "PowerDelivery",
        "_power_delivery",
        S.POWER_DELIVERY,
        S.CHARGING,
        S.STOPPED,
        S.ACDP_DISCONNECT,
        S.WPT_STARTED,
        S.WPT_WARNED,
        note="Start (WPT: WARNING_WPT, [V2G20-5061])",
    ),
    _r(
        S.PRE_CHARGE,
        "PowerDelivery",
        "_power_delivery",
        S.POWER_DELIVERY,
        S.CHARGING,
        S.STOPPED,
        S.ACDP_DISCONNECT,
        requires=("dc", _PRECHARGE_QUIRK),
        note=_PRECHARGE_QUIRK,
    ),
    _r(S.CHARGING, "ChargeLoop", "_charge_loop", S.CHARGING, requires=(_ACDC,)),
    _r(
        S.CHARGING,
        "WPT_ChargeLoop",
        "_wpt_charge_loop",
        S.CHARGING,
        S.WPT_REALIGN,
        requires=(_WPT,),
        note="[V2G20-5124]; WARNING_WPT [V2G20-5058]",
    ),
    # [V2G20-5123]: right after PowerDelivery(Start) the car may also set the fine positioning up again
    _r(
        S.WPT_STARTED,
        "WPT_ChargeLoop",
        "_wpt_charge_loop",
        S.CHARGING,
        S.WPT_REALIGN,
        requires=(_WPT,),
        note="[V2G20-5123]",
    ),
    _r(
        S.WPT_STARTED,
        "WPT_FinePositioningSetup",
        "_wpt_setup",
        S.WPT_POSITIONING,
        requires=(_WPT,),
        note="[V2G20-5123]",
    ),
    # after WARNING_WPT: back to the fine positioning setup ([V2G20-5055], [V2G20-5061]) or to the alignment check /
    # pairing ([V2G20-5058]), or SessionStop (all three name it: no quirk needed)
    _r(
        S.WPT_WARNED,
        "WPT_FinePositioningSetup",
        "_wpt_setup",
        S.WPT_POSITIONING,
        requires=(_WPT,),
        note="[V2G20-5055], [V2G20-5061]",
    ),
    _r(S.WPT_WARNED, "SessionStop", "_session_stop", S.ENDED, requires=(_WPT,), note="[V2G20-5055], [V2G20-5061]"),
    _r(
        S.WPT_REALIGN,
        "WPT_AlignmentCheck",
        "_wpt_step",
        S.WPT_ALIGNMENT,
        S.POWER_DELIVERY,
        requires=(_WPT,),
        note="[V2G20-5058]",
    ),
    _r(
        S.WPT_REALIGN,
        "WPT_Pairing",
        "_wpt_step",
        S.WPT_PAIRING,
        S.WPT_ALIGNMENT,
        requires=(_WPT,),
        note="[V2G20-5058]",
    ),
    _r(S.WPT_REALIGN, "SessionStop", "_session_stop", S.ENDED, requires=(_WPT,), note="[V2G20-5058]"),
    _r(S.CHARGING, "MeteringConfirmation", "_metering_confirmation", S.CHARGING),
    _r(
        S.CHARGING,
        "PowerDelivery",
        "_power_delivery",
        S.CHARGING,
        S.STOPPED,
        S.STANDBY,
        S.SCHEDULE_EXCHANGE,
        S.ACDP_DISCONNECT,
        note="Stop (ACDP: ACDP_Disconnect next, [V2G20-4073]); Standby; ScheduleRenegotiation",
    ),
    _r(
        S.STANDBY,
        "PowerDelivery",
        "_power_delivery",
        S.STANDBY,
        S.CHARGING,
        S.STOPPED,
        S.ACDP_DISCONNECT,
        S.WPT_STARTED,
        S.WPT_WARNED,
        note="Start; Stop",
    ),
    _r(
        S.ACDP_DISCONNECT,
        "ACDP_Disconnect",
        "_acdp_disconnect",
        S.ACDP_DISCONNECT,
        S.STOPPED,
        requires=(_ACDP,),
        note="[V2G20-4074] Ongoing; [V2G20-4075] home position",
    ),
    _r(S.STOPPED, "WeldingDetection", "_welding_detection", S.STOPPED, requires=("dc", _WELDING), note="DC, not ACDP"),
    _r(S.STOPPED, "MeteringConfirmation", "_metering_confirmation", S.STOPPED),
    _r(S.STOPPED, "VehicleCheckOut", "_vehicle_check_out", S.STOPPED, requires=(_CHECK,), note="Scheduled; Completed"),
    _r(S.STOPPED, "SessionStop", "_session_stop", S.ENDED, S.SERVICE_DISCOVERY, note="ServiceRenegotiation"),
    _r(S.STANDBY, "SessionStop", "_session_stop", S.ENDED, S.SERVICE_DISCOVERY),
    # the quirk: SessionStop in any state; ServiceRenegotiation only once authorized (the handler checks)
    _r(S.AUTHORIZATION_SETUP, "SessionStop", "_session_stop", S.ENDED, requires=(_STOP_QUIRK,), note=_STOP_QUIRK),
    *(
        _r(
            state,
            "SessionStop",
            "_session_stop",
            S.ENDED,
            S.SERVICE_DISCOVERY,
            requires=(_STOP_QUIRK, _ACDP)
            if state in _ACDP_STATES
            else (_STOP_QUIRK, _WPT)
            if state in _WPT_STATES
            else (_STOP_QUIRK,),
        )
        for state in S
        if state
        not in (
            S.SESSION_SETUP,
            S.AUTHORIZATION_SETUP,
            S.AUTHORIZATION,
            S.STOPPED,
            S.STANDBY,
            S.WPT_WARNED,
            S.WPT_REALIGN,
            S.ENDED,
        )
    ),
)


def secc20_table(
    dc: bool, config: Iso20SeccConfig | None = None, *, acdp: bool = False, wpt: bool = False
) -> Table[Iso20SeccState]:
    """The table of one -20 SECC variant (AC, DC, ACDP or WPT namespace; ACDP is DC with the ACDP rows)."""
    config = config or Iso20SeccConfig()
    tags = {_WPT} if wpt else {"dc" if dc or acdp else "ac", _ACDC}
    if acdp:
        tags.add(_ACDP)
    elif dc and not wpt:
        tags.add(_WELDING)
    if config.quirks.session_stop_in_any_state:
        tags.add(_STOP_QUIRK)
    if config.power_delivery_after_precharge_ongoing:
        tags.add(_PRECHARGE_QUIRK)
    if config.vehicle_check_in_out:
        tags.add(_CHECK)
    side = "WPT" if wpt else "ACDP" if acdp else "DC" if dc else "AC"
    # the states of the other modules are not reachable here: not a target either
    unreachable = frozenset(() if acdp else _ACDP_STATES) | frozenset(() if wpt else _WPT_STATES)
    rows = tuple(replace(r, targets=r.targets - unreachable) for r in SECC20_ROWS)
    return Table(f"SECC ISO 15118-20 {side}", tags, Iso20SeccState, rows)


_ZERO = b"\x00" * 8
#: values inside the schema's ranges for the mandatory fields of minimal bodies
_MIN_VALUES: dict[str, Any] = {"schedule_tuple_id": 1, "parameter_set_id": 1, "price_schedule_id": 1}


class Iso20Secc(EngineBase[Iso20SeccState]):
    """The charger side of one ISO 15118-20 session (an :class:`~evcharge.iso15118.handover.Engine`).

    The negotiated namespace (``urn:iso:std:iso:15118:-20:AC`` or ``:DC``) fixes the side: its services
    among ``config.services`` are offered (AC, AC_BPT or DC, DC_BPT).
    """

    protocol = "iso20"

    def __init__(self, handover: HandOver, config: Iso20SeccConfig | None = None) -> None:
        self.config = config = config or Iso20SeccConfig()
        super().__init__(state=S.SESSION_SETUP, trace=config.trace)
        name = handover.protocol.name
        if name not in ("ISO20_AC", "ISO20_DC", "ISO20_ACDP", "ISO20_WPT"):
            raise LocalProtocolError(f"the -20 SECC serves ISO20_AC, ISO20_DC, ISO20_ACDP and ISO20_WPT, not {name}")
        self.acdp = name == "ISO20_ACDP"  # DC through a pantograph: the DC messages and the ACDP ones
        self.wpt = name == "ISO20_WPT"  # wireless: the WPT messages only
        self.dc = name in ("ISO20_DC", "ISO20_ACDP")
        self.handover = handover
        self.tls = handover.tls is not None
        self.table = secc20_table(self.dc, config, acdp=self.acdp, wpt=self.wpt)
        self.spec: ModuleType = _msgs.module_for(_msgs.DC if self.dc else _msgs.AC)
        self.clock = config.clock or WallClock.at(handover.now, datetime.now(UTC))
        # DC_ACDP, DC_ACDP_BPT; WPT; AC, DC, AC_BPT, DC_BPT
        kinds = (4, 7) if self.acdp else (3,) if self.wpt else (1, 2, 5, 6)
        self.services = tuple(s for s in config.services if s.is_dc == self.dc and s.value in kinds)
        self._wpt_done: set[str] = set()
        self._wpt_warnings: set[str] = set()  # requests to answer WARNING_WPT next (WarnWpt)
        self.pnc_ready = self.tls and config.pnc is not None
        self.payments = tuple(p for p in config.payments if p is Payment.EIM or self.pnc_ready)
        self.vehicle_certificate_hash: bytes | None = None
        self.contract_chain: tuple[bytes, ...] = ()
        if not self.services:
            raise LocalProtocolError(f"no {'DC' if self.dc else 'AC'} energy service configured")
        self.session_id = _ZERO
        self._resume_id = handover.resume_session_id
        # what the application pushed
        self._limits: PowerLimits | None = config.limits
        self._schedules: tuple[PowerSchedule, ...] | None = config.schedules
        self._present = SetPresentValues(voltage=0.0)
        self._target_power: float | None = None
        self._pd_result: str | None = None
        self._isolation: Isolation | None = None
        self._authorized: bool | None = True if config.auto_authorize else None
        self._meter: MeterReading | None = None
        self._notification = "None"
        self._notification_delay = 0
        self._pending_cert: tuple[str, int] | None = None  # (request, payload type)
        self._check_in = SetVehicleCheckIn()
        self._check_out = SetVehicleCheckOut()
        self._position = SetVehiclePosition()
        self._device = SetChargingDevice()
        self._system = SetAcdpSystemStatus()
        # what the session decided
        self.payment: Payment | None = None
        self.service: EnergyService | None = None
        self.control_mode: ControlMode | None = None
        self.vas: tuple[int, ...] = ()
        self.schedule_id: int | None = None
        self.ev_limits: PowerLimits | None = None
        self.gen_challenge: bytes | None = None
        self.emaid: str | None = None
        self._ongoing_since: float | None = None
        self._asked = False
        self._cable_checked = False
        self._renegotiating = False
        self._authorized_ok = False  # Authorization answered OK/Finished: service renegotiation may skip it
        if handover.setup_deadline is not None:
            self._arm("communication_setup", handover.setup_deadline)
        else:
            self._arm("sequence", handover.now + config.timeouts.sequence)

    # -- application input ---------------------------------------------------------------------

    def send(self, command: Any, now: float) -> None:
        if isinstance(command, SetPresentValues):
            self._present = command
        elif isinstance(command, SetPowerLimits):
            self._limits = command.limits
        elif isinstance(command, SetPowerSchedules):
            if not 1 <= len(command.schedules) <= 3:
                raise LocalProtocolError("SetPowerSchedules takes 1 to 3 schedules")
            self._schedules = command.schedules
        elif isinstance(command, SetPowerDeliveryResult):
            if command.response_code not in (None, "FAILED_PowerDeliveryNotApplied", "FAILED_ContactorError"):
                raise LocalProtocolError(f"PowerDelivery result {command.response_code!r}")
            self._pd_result = command.response_code
        elif isinstance(command, SetTargetPower):
            self._target_power = command.watts
        elif isinstance(command, SetIsolation):
            self._isolation = command.level
        elif isinstance(command, Authorize):
            self._authorized = command.accepted
        elif isinstance(command, SetMeter):
            self._meter = command.meter
        elif isinstance(command, Notify):
            table = {
                "stop": "Terminate",
                "terminate": "Terminate",
                "pause": "Pause",
                "renegotiate": "ScheduleRenegotiation",
                "service_renegotiation": "ServiceRenegotiation",
                "metering_confirmation": "MeteringConfirmation",
                "exit_standby": "ExitStandby",
                "none": "None",
            }
            if command.action not in table:
                raise LocalProtocolError(f"Notify action {command.action!r}: one of {', '.join(table)}")
            self._notification = table[command.action]
            self._notification_delay = command.max_delay
        elif isinstance(command, AnswerCertificate):
            self._answer_certificate(command, now)
        elif isinstance(command, SetVehiclePosition):
            self._position = command
        elif isinstance(command, SetChargingDevice):
            if command.mechanical not in ("Home", "Moving", "EndPosition") or command.electrical not in (
                "State_A",
                "State_B",
                "State_C",
                "State_D",
            ):
                raise LocalProtocolError(f"{command}: mechanical Home/Moving/EndPosition, electrical State_A-D")
            self._device = command
        elif isinstance(command, SetAcdpSystemStatus):
            if command.isolation not in ("Invalid", "Safe", "Warning", "Fault"):
                raise LocalProtocolError(f"EVSEIsolationStatus {command.isolation!r}: Invalid, Safe, Warning or Fault")
            self._system = command
        elif isinstance(command, WarnWpt):
            if command.request not in (
                "WPT_FinePositioning",
                "PowerDelivery",
                "WPT_ChargeLoop",
                "WPT_ChargeParameterDiscovery",
            ):
                raise LocalProtocolError(f"WarnWpt request {command.request!r}")
            self._wpt_warnings.add(command.request)
        elif isinstance(command, WptStepDone):
            if command.step not in ("WPT_FinePositioning", "WPT_Pairing", "WPT_AlignmentCheck"):
                raise LocalProtocolError(f"WptStepDone step {command.step!r}")
            self._wpt_done.add(command.step)
        elif isinstance(command, SetVehicleCheckIn):
            self._check_in = _checked_code(command)
        elif isinstance(command, SetVehicleCheckOut):
            if command.status not in ("Scheduled", "Completed"):
                raise LocalProtocolError(f"EVSECheckOutStatus {command.status!r}: Scheduled or Completed")
            self._check_out = _checked_code(command)
        else:
            raise LocalProtocolError(f"the -20 SECC does not take {type(command).__name__}")

    # -- payloads ------------------------------------------------------------------------------

    def receive_payload(self, payload_type: int, payload: bytes, now: float) -> None:
        if self.ended is not None:
            return
        if payload_type == _msgs.ACDP_SYSTEM_STATUS and self.acdp:
            self._acdp_system_status(payload, now)
            return
        if payload_type not in self._payload_types:
            self._trace_rx(payload_type, payload, "?", None, now)
            self._fail_unknown(now, "FAILED", f"V2GTP payload type 0x{payload_type:04x} in a -20 {self._side} session")
            return
        try:
            msg, name, kind = _msgs.decode(payload_type, payload)
        except Exception as exc:
            self._trace_rx(payload_type, payload, "?", None, now)
            self._fail_unknown(now, "FAILED", f"not -20 EXI of payload type 0x{payload_type:04x}: {exc}")
            return
        request = name if kind == "Req" else None
        element = _msgs.element_name(payload_type, name, kind) if name is not None and kind else type(msg).__name__
        self._trace_rx(payload_type, payload, element, msg, now)
        if request is None:
            self._fail_unknown(now, "FAILED_SequenceError", f"{element} is not a request")
            return
        if self._pending_cert is not None:
            self._fail(request, payload_type, now, "FAILED_SequenceError", "a request before the certificate answer")
            return
        state = self._state
        if state is not S.SESSION_SETUP and msg.header.session_id != self.session_id:
            self._fail(request, payload_type, now, "FAILED_UnknownSession", "the SessionID is not this session's")
            return
        row = self.table.lookup(state, request)
        if row is None:
            self._fail(request, payload_type, now, "FAILED_SequenceError", f"{request}Req in state {state.name}")
            return
        self._disarm("sequence")
        self._disarm("communication_setup")
        self._ptype = payload_type
        nxt: Iso20SeccState = getattr(self, row.handler)(request, msg, now)
        if nxt not in row.targets:  # pragma: no cover - a bug in a handler
            raise LocalProtocolError(f"{row.handler} went to {nxt.name}, not one of the row's targets")
        if self.ended is None:
            self._state = nxt
            if self._pending_cert is None:
                self._arm("sequence", now + self.config.timeouts.sequence)

    @property
    def _side(self) -> str:
        return "WPT" if self.wpt else "ACDP" if self.acdp else "DC" if self.dc else "AC"

    @property
    def _payload_types(self) -> tuple[int, ...]:
        if self.acdp:
            return (COMMON, _msgs.DC, _msgs.ACDP)
        if self.wpt:
            return (COMMON, _msgs.WPT)
        return (COMMON, _msgs.DC if self.dc else _msgs.AC)

    # -- responses -----------------------------------------------------------------------------

    def _header(self, mod: ModuleType, now: float) -> Any:
        return mod.MessageHeader(session_id=self.session_id, time_stamp=int(self.clock.unix(now)))

    def _respond(self, request: str, now: float, *, signature: Any = None, **fields: Any) -> None:
        ptype = _msgs.payload_type_for(request, self.dc)
        mod = _msgs.module_for(ptype)
        cls = _msgs.response_class(ptype, request)
        header = self._header(mod, now)
        if signature is not None:
            header = mod.MessageHeader(session_id=header.session_id, time_stamp=header.time_stamp, signature=signature)
        msg = cls(header=header, **fields)
        element = _msgs.element_name(ptype, request, "Res")
        self._queue(ptype, _msgs.encode(ptype, msg, element), element, msg, now)

    def _failed_body(self, request: str, ptype: int, code: str, now: float) -> Any:
        mod = _msgs.module_for(ptype)
        values: dict[str, Any] = {
            "header": self._header(mod, now),
            "response_code": mod.ResponseCode(code),
            "evseid": self.config.evse_id,
            "evse_processing": mod.Processing.Finished if hasattr(mod, "Processing") else None,
            "evse_present_voltage": rational(mod, self._present.voltage),
            "evse_present_current": rational(mod, self._present.current),
            "service_id": 0,
            "parameter": [common.Parameter(name="Connector", int_value=0)],
            **_MIN_VALUES,
        }
        include: tuple[str, ...] = ()
        if request == "AuthorizationSetup":
            include = ("eim_as_res_authorization_mode",)
        elif request == "ChargeParameterDiscovery":
            bpt = self.service is not None and self.service.is_bpt
            side = "dc" if self.dc else "ac"
            include = (f"bpt_{side}_cpd_res_energy_transfer_mode" if bpt else f"{side}_cpd_res_energy_transfer_mode",)
        elif request == "ScheduleExchange":
            include = (
                "dynamic_se_res_control_mode"
                if self.control_mode is ControlMode.DYNAMIC
                else "scheduled_se_res_control_mode",
            )
        elif request == "ChargeLoop":
            include = (self._loop_branch("res"),)
        elif request == "CertificateInstallation":
            include = ()
            values["signed_installation_data"] = minimal(
                common.SignedInstallationData,
                {"id_": "ID1", "dh_public_key": b"\x00" * 133, "secp521_encrypted_private_key": b"\x00" * 94},
                include=("secp521_encrypted_private_key",),
            )
            values["cps_certificate_chain"] = common.CertificateChain(certificate=b"\x00")
        return minimal(_msgs.response_class(ptype, request), values, include=include)

    def _loop_branch(self, kind: str) -> str:
        side = "dc" if self.dc else "ac"
        mode = "dynamic" if self.control_mode is ControlMode.DYNAMIC else "scheduled"
        bpt = "bpt_" if self.service is not None and self.service.is_bpt else ""
        return f"{bpt}{mode}_{side}_cl_{kind}_control_mode"

    def _fail(self, request: str, ptype: int | None, now: float, code: str, reason: str) -> Iso20SeccState:
        """Answer ``request`` with ``code`` (only the mandatory fields) and end the session."""
        if ptype is None:
            ptype = _msgs.payload_type_for(request, self.dc)
        body = self._failed_body(request, ptype, code, now)
        element = _msgs.element_name(ptype, request, "Res")
        self._queue(ptype, _msgs.encode(ptype, body, element), element, body, now)
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
        allowed = self.table.allowed(self._state)
        request = next((r for r in allowed if r != "SessionStop"), allowed[0] if allowed else "SessionSetup")
        self._fail(request, None, now, code, reason)

    def _deadline(self, request: str, now: float) -> float:
        return now + self.config.performance.for_request(request)

    def _on_timeout(self, name: str, now: float) -> None:
        if name == "certificate" and self._pending_cert is not None:
            request, ptype = self._pending_cert
            self._pending_cert = None
            self._fail(request, ptype, now, "FAILED", "no certificate answer from the provider in time")
            return
        reason = {
            "sequence": "V2G_SECC_Sequence_Timeout: no request in time",
            "communication_setup": "V2G_SECC_CommunicationSetup_Performance_Time: no SessionSetupReq",
        }.get(name, name)
        self._end(now, S.ENDED, reason=reason, normal=False, close_delay=0.0, session_id=self.session_id)

    def _ongoing(self, request: str, now: float) -> bool:
        """Start or continue an Ongoing loop; False (and FAILED sent) when it has lasted too long."""
        if self._ongoing_since is None:
            self._ongoing_since = now
            self._asked = False
        elif now - self._ongoing_since > self.config.timeouts.ongoing_for(request):
            self._fail(request, None, now, "FAILED", f"{request}: Ongoing longer than the SECC's limit")
            return False
        return True

    def _done_ongoing(self) -> None:
        self._ongoing_since = None
        self._asked = False

    def _evse_status(self, mod: ModuleType) -> Any:
        if self._notification == "None":  # -20 has no "None" notification: EVSEStatus is left out
            return None
        return mod.EVSEStatus(
            notification_max_delay=self._notification_delay,
            evse_notification=mod.EvseNotification(self._notification),
        )

    # -- handlers: CommonMessages --------------------------------------------------------------

    def _session_setup(self, request: str, msg: Any, now: float) -> Iso20SeccState:
        offered = msg.header.session_id
        resumed = self._resume_id is not None and offered == self._resume_id and offered != _ZERO
        if resumed:
            assert self._resume_id is not None
            self.session_id = self._resume_id
            code = "OK_OldSessionJoined"
        else:
            self.session_id = os.urandom(8)
            code = "OK_NewSessionEstablished"
        self._respond(request, now, response_code=common.ResponseCode(code), evseid=self.config.evse_id)
        self._emit(SessionStarted(protocol="iso20", session_id=self.session_id, peer_id=msg.evccid, resumed=resumed))
        chain = self.handover.tls.peer_chain if self.handover.tls is not None else ()
        if chain:
            from .pnc import vehicle_certificate_hash

            self.vehicle_certificate_hash = vehicle_certificate_hash(chain)
            assert self.vehicle_certificate_hash is not None
            self._emit(VehicleCertificate(sha256=self.vehicle_certificate_hash, chain=chain))
        return S.VEHICLE_POSITIONING if self.acdp else S.WPT_SETUP if self.wpt else S.AUTHORIZATION_SETUP

    def _authorization_setup(self, request: str, msg: Any, now: float) -> Iso20SeccState:
        services = [common.Authorization.EIM if p is Payment.EIM else common.Authorization.PnC for p in self.payments]
        fields: dict[str, Any] = {}
        if Payment.PNC in self.payments:
            self.gen_challenge = os.urandom(16)
            fields["pn_c_as_res_authorization_mode"] = common.PnC_ASResAuthorizationMode(
                gen_challenge=self.gen_challenge
            )
        else:
            fields["eim_as_res_authorization_mode"] = common.EIM_ASResAuthorizationMode()
        self._respond(
            request,
            now,
            response_code=common.ResponseCode.OK,
            authorization_services=services,
            certificate_installation_service=self.config.certificate_installation_service and self.pnc_ready,
            **fields,
        )
        return S.AUTHORIZATION

    def _authorization(self, request: str, msg: Any, now: float) -> Iso20SeccState:
        selected = Payment.EIM if msg.selected_authorization_service == common.Authorization.EIM else Payment.PNC
        if selected not in self.payments or (
            (selected is Payment.EIM) != (msg.eim_a_req_authorization_mode is not None)
        ):
            self._respond(
                request,
                now,
                response_code=common.ResponseCode.WARNING_AuthorizationSelectionInvalid,
                evse_processing=common.Processing.Finished,
            )
            return S.AUTHORIZATION
        self.payment = selected
        chain: tuple[bytes, ...] = ()
        if selected is Payment.PNC:
            pnc = msg.pn_c_a_req_authorization_mode
            if pnc is None or pnc.gen_challenge != self.gen_challenge:
                self._respond(
                    request,
                    now,
                    response_code=common.ResponseCode.WARNING_ChallengeInvalid,
                    evse_processing=common.Processing.Finished,
                )
                return S.AUTHORIZATION
            cc = pnc.contract_certificate_chain
            chain = (cc.certificate, *cc.sub_certificates.certificate)
            problem = self._check_pnc(msg, pnc, now)
            if problem is not None:
                code, reason = problem
                if code.startswith("FAILED"):
                    return self._fail(request, COMMON, now, code, reason)
                self._respond(
                    request, now, response_code=common.ResponseCode(code), evse_processing=common.Processing.Finished
                )
                return S.AUTHORIZATION
        if self._authorized is None:
            if not self._ongoing(request, now):
                return S.ENDED
            if not self._asked:
                self._asked = True
                self._emit(
                    AuthorizationRequested(
                        request=request,
                        received_at=now,
                        deadline=self._deadline(request, now),
                        payment=selected,
                        emaid=self.emaid,
                        contract_chain=chain,
                    )
                )
            self._respond(request, now, response_code=common.ResponseCode.OK, evse_processing=common.Processing.Ongoing)
            return S.AUTHORIZATION
        self._done_ongoing()
        self._authorized_ok = bool(self._authorized)
        if not self._authorized:
            code = (
                "WARNING_EIMAuthorizationFailure" if selected is Payment.EIM else "WARNING_GeneralPnCAuthorizationError"
            )
            self._respond(
                request, now, response_code=common.ResponseCode(code), evse_processing=common.Processing.Finished
            )
            return S.AUTHORIZATION
        self._respond(request, now, response_code=self._pnc_ok_code, evse_processing=common.Processing.Finished)
        return S.SERVICE_DISCOVERY

    _pnc_ok_code = common.ResponseCode.OK

    def _check_pnc(self, msg: Any, pnc: Any, now: float) -> tuple[str, str] | None:
        """Plug & Charge checks ([V2G20-1000] signature; chain; 14-day flag), in
        :mod:`evcharge.iso15118.engines.iso20.pnc`."""
        from .pnc import check_authorization

        result = check_authorization(self, msg, pnc, now)
        if result is not None and result[0].startswith("OK"):
            self._pnc_ok_code = common.ResponseCode(result[0])
            return None
        return result

    def _certificate_installation(self, request: str, msg: Any, now: float) -> Iso20SeccState:
        if not self.pnc_ready:
            return self._fail(request, COMMON, now, "FAILED", "CertificateInstallation needs TLS and PnC trust")
        provider = self.config.pnc.provider
        if provider is not None:
            try:
                res, signature = provider.answer(msg)
            except Exception as exc:  # the provider could not answer: the car gets FAILED, not a hang
                return self._fail(request, COMMON, now, "FAILED", f"certificate provider: {exc}")
            self._respond(request, now, signature=signature, **_installation_fields(res))
            return S.AUTHORIZATION
        payload = _msgs.module_for(COMMON).encode(msg)
        self._pending_cert = (request, COMMON)
        self._arm("certificate", now + self.config.timeouts.certificate)
        self._emit(
            CertificateRequested(
                request=request,
                received_at=now,
                deadline=self._deadline(request, now),
                kind="installation",
                exi=payload,
                message=msg,
            )
        )
        return S.AUTHORIZATION

    def _answer_certificate(self, command: AnswerCertificate, now: float) -> None:
        if self._pending_cert is None:
            raise LocalProtocolError("no CertificateInstallationReq is waiting for an answer")
        request, ptype = self._pending_cert
        self._pending_cert = None
        self._disarm("certificate")
        if command.body is None:
            self._fail(request, ptype, now, command.response_code or "FAILED", "the provider gave no certificate")
            return
        body: Any = command.body
        self._respond(request, now, signature=getattr(body.header, "signature", None), **_installation_fields(body))
        self._arm("sequence", now + self.config.timeouts.sequence)

    def _service_discovery(self, request: str, msg: Any, now: float) -> Iso20SeccState:
        wanted = None if msg.supported_service_i_ds is None else set(msg.supported_service_i_ds.service_id)
        services = [s for s in self.services if wanted is None or int(s) in wanted]
        if not services:
            services = list(self.services)  # the EV finds out: no common service
        vas = [v for v in self.config.vas if wanted is None or v in wanted]
        self._respond(
            request,
            now,
            response_code=common.ResponseCode.OK,
            service_renegotiation_supported=self.config.service_renegotiation_supported,
            energy_transfer_service_list=common.ServiceList(
                service=[common.Service(service_id=int(s), free_service=self.config.free_service) for s in services]
            ),
            vas_list=common.ServiceList(
                service=[common.Service(service_id=v, free_service=self.config.free_service) for v in vas]
            )
            if vas
            else None,
        )
        return S.SERVICE_SELECTION

    def _parameter_sets(self, service_id: int) -> list[Any]:
        P = common.Parameter
        sets = []
        if service_id in {int(s) for s in self.services}:
            service = EnergyService(service_id)
            for mode in self.config.control_modes:
                params = [
                    P(name="Connector", int_value=2),  # DC: extended; AC: three-phase
                    P(name="ControlMode", int_value=int(mode)),
                    P(name="MobilityNeedsMode", int_value=1 if mode is ControlMode.SCHEDULED else 2),
                    P(name="Pricing", int_value=0),
                ]
                if not self.dc:
                    params.insert(2, P(name="EVSENominalVoltage", int_value=230))
                if service.is_bpt:
                    params += [P(name="BPTChannel", int_value=1), P(name="GeneratorMode", int_value=1)]
                sets.append(common.ParameterSet(parameter_set_id=int(mode), parameter=params))
        elif service_id in self.config.vas:
            sets.append(
                common.ParameterSet(
                    parameter_set_id=1, parameter=[P(name="Protocol", int_value=3), P(name="Port", int_value=443)]
                )
            )
        return sets

    def _service_detail(self, request: str, msg: Any, now: float) -> Iso20SeccState:
        sets = self._parameter_sets(msg.service_id)
        if not sets:
            return self._fail(
                request, COMMON, now, "FAILED_ServiceIDInvalid", f"ServiceID {msg.service_id} not offered"
            )
        self._respond(
            request,
            now,
            response_code=common.ResponseCode.OK,
            service_id=msg.service_id,
            service_parameter_list=common.ServiceParameterList(parameter_set=sets),
        )
        return S.SERVICE_SELECTION

    def _service_selection(self, request: str, msg: Any, now: float) -> Iso20SeccState:
        sel = msg.selected_energy_transfer_service
        if sel.service_id not in {int(s) for s in EnergyService}:
            return self._fail(
                request, COMMON, now, "FAILED_NoEnergyTransferServiceSelected", f"{sel.service_id} is no energy service"
            )
        if sel.service_id not in {int(s) for s in self.services} or sel.parameter_set_id not in {
            int(m) for m in self.config.control_modes
        }:
            return self._fail(
                request,
                COMMON,
                now,
                "FAILED_ServiceSelectionInvalid",
                f"service {sel.service_id} / parameter set {sel.parameter_set_id} not offered",
            )
        vas: tuple[int, ...] = ()
        if msg.selected_vas_list is not None:
            vas = tuple(s.service_id for s in msg.selected_vas_list.selected_service)
            if any(v not in self.config.vas for v in vas):
                return self._fail(request, COMMON, now, "FAILED_ServiceSelectionInvalid", f"VAS {vas} not offered")
        self.service = EnergyService(sel.service_id)
        self.control_mode = ControlMode(sel.parameter_set_id)
        self.vas = vas
        self._respond(request, now, response_code=common.ResponseCode.OK)
        self._emit(
            ServiceSelected(
                service=self.service, control_mode=self.control_mode, parameter_set_id=sel.parameter_set_id, vas=vas
            )
        )
        return S.CHARGE_PARAMETERS

    # -- charge parameters and schedules -------------------------------------------------------

    def _ev_limits(self, mode: Any) -> PowerLimits:
        g = _getter(mode)
        return PowerLimits(
            max_charge_power=g("ev_maximum_charge_power") or 0.0,
            min_charge_power=g("ev_minimum_charge_power") or 0.0,
            max_charge_current=g("ev_maximum_charge_current"),
            min_charge_current=g("ev_minimum_charge_current") or 0.0,
            max_voltage=g("ev_maximum_voltage"),
            min_voltage=g("ev_minimum_voltage") or 0.0,
            max_discharge_power=g("ev_maximum_discharge_power"),
            min_discharge_power=g("ev_minimum_discharge_power") or 0.0,
            max_discharge_current=g("ev_maximum_discharge_current"),
            min_discharge_current=g("ev_minimum_discharge_current") or 0.0,
        )

    def _evse_limits(self) -> PowerLimits:
        if self._limits is not None:
            return self._limits
        if self.dc:
            return PowerLimits(
                max_charge_power=50_000.0,
                max_charge_current=125.0,
                max_voltage=500.0,
                min_voltage=150.0,
                max_discharge_power=10_000.0,
                max_discharge_current=25.0,
            )
        return PowerLimits(
            max_charge_power=11_000.0,
            min_charge_power=1_380.0,
            max_discharge_power=11_000.0,
            min_discharge_power=1_380.0,
        )

    def _charge_parameters(self, request: str, msg: Any, now: float) -> Iso20SeccState:
        assert self.service is not None
        side = "dc" if self.dc else "ac"
        bpt_mode = getattr(msg, f"bpt_{side}_cpd_req_energy_transfer_mode")
        plain = getattr(msg, f"{side}_cpd_req_energy_transfer_mode")
        mode = bpt_mode if self.service.is_bpt else plain
        if mode is None:
            return self._fail(
                request,
                None,
                now,
                "FAILED_WrongChargeParameter",
                f"no {self.service.name} parameters in {type(msg).__name__}",
            )
        ev = self._ev_limits(mode)
        self.ev_limits = ev
        evse = self._evse_limits()
        if (
            self.dc
            and ev.max_voltage is not None
            and evse.max_voltage is not None
            and ev.max_voltage < evse.min_voltage
        ):
            return self._fail(
                request, None, now, "FAILED_WrongChargeParameter", "EV maximum voltage below EVSE minimum"
            )
        self._emit(
            ChargeParametersRequested20(
                request=request,
                received_at=now,
                deadline=self._deadline(request, now),
                service=self.service,
                ev=ev,
                target_soc=getattr(mode, "target_soc", None),
            )
        )
        mod = self.spec
        r = _rationals(mod)
        if self.dc:
            kw: dict[str, Any] = dict(
                evse_maximum_charge_power=r(evse.max_charge_power),
                evse_minimum_charge_power=r(evse.min_charge_power),
                evse_maximum_charge_current=r(evse.max_charge_current or 0.0),
                evse_minimum_charge_current=r(evse.min_charge_current),
                evse_maximum_voltage=r(evse.max_voltage or 0.0),
                evse_minimum_voltage=r(evse.min_voltage),
            )
            if self.service.is_bpt:
                kw.update(
                    evse_maximum_discharge_power=r(evse.max_discharge_power or 0.0),
                    evse_minimum_discharge_power=r(evse.min_discharge_power),
                    evse_maximum_discharge_current=r(evse.max_discharge_current or 0.0),
                    evse_minimum_discharge_current=r(evse.min_discharge_current),
                )
                self._respond(
                    request,
                    now,
                    response_code=mod.ResponseCode.OK,
                    bpt_dc_cpd_res_energy_transfer_mode=mod.BPT_DC_CPDResEnergyTransferMode(**kw),
                )
            else:
                self._respond(
                    request,
                    now,
                    response_code=mod.ResponseCode.OK,
                    dc_cpd_res_energy_transfer_mode=mod.DC_CPDResEnergyTransferMode(**kw),
                )
        else:
            kw = dict(
                evse_maximum_charge_power=r(evse.max_charge_power),
                evse_minimum_charge_power=r(evse.min_charge_power),
                evse_nominal_frequency=r(evse.nominal_frequency),
            )
            if self.service.is_bpt:
                kw.update(
                    evse_maximum_discharge_power=r(evse.max_discharge_power or 0.0),
                    evse_minimum_discharge_power=r(evse.min_discharge_power),
                )
                self._respond(
                    request,
                    now,
                    response_code=mod.ResponseCode.OK,
                    bpt_ac_cpd_res_energy_transfer_mode=mod.BPT_AC_CPDResEnergyTransferMode(**kw),
                )
            else:
                self._respond(
                    request,
                    now,
                    response_code=mod.ResponseCode.OK,
                    ac_cpd_res_energy_transfer_mode=mod.AC_CPDResEnergyTransferMode(**kw),
                )
        return S.SCHEDULE_EXCHANGE

    def _energy_request(self, m: Any) -> EnergyRequest | None:
        if m is None or getattr(m, "ev_target_energy_request", None) is None:
            return None
        return EnergyRequest(
            target_energy=from_rational(m.ev_target_energy_request),
            max_energy=opt_rational(m.ev_maximum_energy_request) or 0.0,
            min_energy=opt_rational(m.ev_minimum_energy_request) or 0.0,
            departure_time=getattr(m, "departure_time", None) or 0,
            target_soc=getattr(m, "target_soc", None),
            min_soc=getattr(m, "minimum_soc", None),
            max_v2x_energy=opt_rational(getattr(m, "ev_maximum_v2_x_energy_request", None)),
            min_v2x_energy=opt_rational(getattr(m, "ev_minimum_v2_x_energy_request", None)),
        )

    def _schedule_tuple(self, s: PowerSchedule, now: float) -> Any:
        c = common
        r = _rationals(c)
        anchor = int(self.clock.unix(now))

        levels = s.price_levels
        if levels is None and self.config.flat_price_levels:
            levels = ((sum(d for d, _ in s.charging), 1),)

        def power(entries: tuple[tuple[int, float], ...]) -> Any:
            return c.ChargingSchedule(
                power_schedule=c.PowerSchedule(
                    time_anchor=anchor,
                    power_schedule_entries=c.PowerScheduleEntryList(
                        power_schedule_entry=[c.PowerScheduleEntry(duration=d, power=r(w)) for d, w in entries]
                    ),
                    power_tolerance=r(s.power_tolerance) if s.power_tolerance is not None else None,
                ),
                price_level_schedule=c.PriceLevelSchedule(
                    time_anchor=anchor,
                    price_schedule_id=s.tuple_id,
                    number_of_price_levels=s.number_of_price_levels,
                    price_level_schedule_entries=c.PriceLevelScheduleEntryList(
                        price_level_schedule_entry=[
                            c.PriceLevelScheduleEntry(duration=d, price_level=lv) for d, lv in levels
                        ]
                    ),
                )
                if levels
                else None,
            )

        discharging = None
        if s.discharging is not None and self.service is not None and self.service.is_bpt:
            discharging = power(tuple((d, -abs(w)) for d, w in s.discharging))
        return c.ScheduleTuple(
            schedule_tuple_id=s.tuple_id, charging_schedule=power(s.charging), discharging_schedule=discharging
        )

    def _schedule_exchange(self, request: str, msg: Any, now: float) -> Iso20SeccState:
        dynamic = self.control_mode is ControlMode.DYNAMIC
        branch = msg.dynamic_se_req_control_mode if dynamic else msg.scheduled_se_req_control_mode
        if branch is None:
            return self._fail(
                request, COMMON, now, "FAILED", f"ScheduleExchangeReq not in the {self.control_mode} mode"
            )
        if self.wpt:
            after = S.WPT_ALIGNMENT  # [V2G20-5045]
        elif not self.dc or self._cable_checked:
            after = S.POWER_DELIVERY
        else:
            after = S.ACDP_CONNECT if self.acdp else S.CABLE_CHECK
        if not self._ongoing(request, now):
            return S.ENDED
        if not self._asked:
            self._asked = True
            self._emit(
                ScheduleRequested(
                    request=request,
                    received_at=now,
                    deadline=self._deadline(request, now),
                    control_mode=self.control_mode or ControlMode.SCHEDULED,
                    energy=self._energy_request(branch),
                    max_supporting_points=msg.maximum_supporting_points,
                    renegotiation=self._renegotiating,
                )
            )
        if dynamic:
            self._done_ongoing()
            self._respond(
                request,
                now,
                response_code=common.ResponseCode.OK,
                evse_processing=common.Processing.Finished,
                dynamic_se_res_control_mode=common.Dynamic_SEResControlMode(),
            )
            return after
        if self._schedules is None:
            self._respond(
                request,
                now,
                response_code=common.ResponseCode.OK,
                evse_processing=common.Processing.Ongoing,
                scheduled_se_res_control_mode=minimal(common.Scheduled_SEResControlMode, _MIN_VALUES),
            )
            return S.SCHEDULE_EXCHANGE
        self._done_ongoing()
        self._respond(
            request,
            now,
            response_code=common.ResponseCode.OK,
            evse_processing=common.Processing.Finished,
            scheduled_se_res_control_mode=common.Scheduled_SEResControlMode(
                schedule_tuple=[self._schedule_tuple(s, now) for s in self._schedules]
            ),
        )
        return after

    # -- DC preparation ------------------------------------------------------------------------

    def _cable_check(self, request: str, msg: Any, now: float) -> Iso20SeccState:
        mod = self.spec
        if self._isolation in (Isolation.VALID, Isolation.WARNING):
            self._done_ongoing()
            self._cable_checked = True
            self._respond(request, now, response_code=mod.ResponseCode.OK, evse_processing=mod.Processing.Finished)
            return S.PRE_CHARGE
        if self._isolation is Isolation.FAULT:
            return self._fail(request, None, now, "FAILED", "isolation fault")
        if not self._ongoing(request, now):
            return S.ENDED
        if not self._asked:
            self._asked = True
            self._emit(CableCheckRequested(request=request, received_at=now, deadline=self._deadline(request, now)))
        self._respond(request, now, response_code=mod.ResponseCode.OK, evse_processing=mod.Processing.Ongoing)
        return S.CABLE_CHECK

    def _pre_charge(self, request: str, msg: Any, now: float) -> Iso20SeccState:
        mod = self.spec
        self._emit(
            PreChargeRequested(
                request=request,
                received_at=now,
                deadline=self._deadline(request, now),
                target_voltage=from_rational(msg.ev_target_voltage),
                target_current=0.0,
            )
        )
        self._respond(
            request, now, response_code=mod.ResponseCode.OK, evse_present_voltage=rational(mod, self._present.voltage)
        )
        # [V2G20-2005]: after Ongoing, PreCharge again; [V2G20-2006]: after Finished, PowerDelivery
        return S.POWER_DELIVERY if msg.ev_processing == mod.Processing.Finished else S.PRE_CHARGE

    # -- power delivery and the charge loop ----------------------------------------------------

    def _power_delivery(self, request: str, msg: Any, now: float) -> Iso20SeccState:
        c = common
        progress = msg.charge_progress
        state = self._state
        allowed = {
            S.PRE_CHARGE: {c.ChargeProgress.Start, c.ChargeProgress.Stop},
            S.POWER_DELIVERY: {c.ChargeProgress.Start, c.ChargeProgress.Stop},
            S.CHARGING: {c.ChargeProgress.Stop, c.ChargeProgress.Standby, c.ChargeProgress.ScheduleRenegotiation},
            S.STANDBY: {c.ChargeProgress.Start, c.ChargeProgress.Stop},
        }[state]
        if progress not in allowed:
            return self._fail(
                request, COMMON, now, "FAILED_SequenceError", f"PowerDelivery({progress.value}) in {state.name}"
            )
        if self._pd_result is not None:
            return self._fail(request, COMMON, now, self._pd_result, "the charger application refused PowerDelivery")
        if msg.ev_processing == c.Processing.Ongoing and progress is c.ChargeProgress.Start:
            # the car is not ready yet (Josev's AC car asks this way first): OK, ask again
            self._respond(request, now, response_code=c.ResponseCode.OK, evse_status=self._evse_status(c))
            return S.POWER_DELIVERY if state is S.PRE_CHARGE else state
        code = c.ResponseCode.OK
        nxt = state
        action = PowerAction.START
        profile: tuple[tuple[int, float], ...] = ()
        if progress is c.ChargeProgress.Start:
            if msg.ev_power_profile is not None:
                profile = tuple(
                    (e.duration, from_rational(e.power))
                    for e in msg.ev_power_profile.ev_power_profile_entries.ev_power_profile_entry
                )
            if self.control_mode is ControlMode.SCHEDULED and state in (S.POWER_DELIVERY, S.PRE_CHARGE):
                problem = self._check_profile(msg)
                if problem is not None:
                    return self._fail(request, COMMON, now, *problem)
                code = self._tolerance_code(msg)
                if code.value.startswith("FAILED"):
                    return self._fail(request, COMMON, now, code.value, "the car did not confirm the PowerTolerance")
            if self.service is not None and self.service.is_bpt and msg.bpt_channel_selection is None:
                return self._fail(
                    request,
                    COMMON,
                    now,
                    "FAILED_EVPowerProfileInvalid",
                    "BPT PowerDelivery(Start) without BPT_ChannelSelection",
                )
            if self.wpt and "PowerDelivery" in self._wpt_warnings:  # [V2G20-5061]: no power, position again
                self._wpt_warnings.discard("PowerDelivery")
                self._respond(request, now, response_code=c.ResponseCode.WARNING_WPT, evse_status=self._evse_status(c))
                return S.WPT_WARNED
            nxt = S.WPT_STARTED if self.wpt else S.CHARGING  # [V2G20-5123]
        elif progress is c.ChargeProgress.Stop:
            action = PowerAction.STOP
            nxt = S.ACDP_DISCONNECT if self.acdp else S.STOPPED  # [V2G20-4073]
        elif progress is c.ChargeProgress.Standby:
            action = PowerAction.STOP
            if self.config.standby_allowed:
                nxt = S.STANDBY
            else:
                code = c.ResponseCode.WARNING_StandbyNotAllowed
        else:  # ScheduleRenegotiation
            if not self.config.schedule_renegotiation_allowed:
                return self._fail(
                    request, COMMON, now, "FAILED_ScheduleRenegotiation", "schedule renegotiation refused"
                )
            action = PowerAction.RENEGOTIATE
            self._renegotiating = True
            nxt = S.SCHEDULE_EXCHANGE
        self._emit(
            PowerDeliveryRequested(
                request=request,
                received_at=now,
                deadline=self._deadline(request, now),
                action=action,
                schedule_id=self.schedule_id,
                profile=profile,
                discharge=(
                    msg.bpt_channel_selection.name == "Discharge"
                    if action is PowerAction.START and msg.bpt_channel_selection is not None
                    else None
                ),
            )
        )
        if self._notification in ("Terminate", "Pause", "ExitStandby") and nxt not in (S.CHARGING, S.WPT_STARTED):
            self._notification = "None"
        if self._notification == "ScheduleRenegotiation" and action is PowerAction.RENEGOTIATE:
            self._notification = "None"  # the car has taken the notice up: asking again would loop forever
        self._respond(request, now, response_code=code, evse_status=self._evse_status(c))
        return nxt

    def _tolerance_code(self, msg: Any) -> Any:
        """OK, or the PowerTolerance answer when the chosen schedule offered one."""
        c = common
        chosen = {s.tuple_id: s for s in self._schedules or ()}.get(self.schedule_id or 0)
        if chosen is None or chosen.power_tolerance is None:
            return c.ResponseCode.OK
        acceptance = msg.ev_power_profile.scheduled_evppt_control_mode.power_tolerance_acceptance
        if acceptance == c.PowerToleranceAcceptance.PowerToleranceConfirmed:
            return c.ResponseCode.OK_PowerToleranceConfirmed
        if self.config.require_power_tolerance_confirmation:
            return c.ResponseCode.FAILED_PowerToleranceNotConfirmed
        return c.ResponseCode.WARNING_PowerToleranceNotConfirmed

    def _check_profile(self, msg: Any) -> tuple[str, str] | None:
        prof = msg.ev_power_profile
        if prof is None or prof.scheduled_evppt_control_mode is None:
            return (
                "FAILED_EVPowerProfileInvalid",
                "scheduled mode PowerDelivery(Start) without a scheduled EVPowerProfile",
            )
        tuple_id = prof.scheduled_evppt_control_mode.selected_schedule_tuple_id
        chosen = {s.tuple_id: s for s in self._schedules or ()}.get(tuple_id)
        if chosen is None:
            return ("FAILED_ScheduleSelectionInvalid", f"ScheduleTupleID {tuple_id} was not offered")
        self.schedule_id = tuple_id
        t = 0
        for entry in prof.ev_power_profile_entries.ev_power_profile_entry:
            watts = from_rational(entry.power)
            limit = chosen.charge_power_at(t) if watts >= 0 else chosen.discharge_power_at(t)
            if abs(watts) > limit + self.config.profile_tolerance:
                return ("FAILED_EVPowerProfileViolation", f"EVPowerProfile {watts} W above the schedule's {limit} W")
            t += entry.duration
        return None

    def _charge_loop(self, request: str, msg: Any, now: float) -> Iso20SeccState:
        mod = self.spec
        dynamic = self.control_mode is ControlMode.DYNAMIC
        branch = getattr(msg, self._loop_branch("req"))
        if branch is None:
            return self._fail(request, None, now, "FAILED", f"ChargeLoopReq does not match {self._loop_branch('req')}")
        soc = msg.display_parameters.present_soc if msg.display_parameters is not None else None
        event = ChargeLoopRequested(
            request=request,
            received_at=now,
            deadline=now + self.config.performance.charge_loop,
            control_mode=self.control_mode or ControlMode.SCHEDULED,
            present_voltage=opt_rational(getattr(msg, "ev_present_voltage", None)),
            target_voltage=opt_rational(getattr(branch, "ev_target_voltage", None)),
            target_current=opt_rational(getattr(branch, "ev_target_current", None)),
            present_power=opt_rational(getattr(branch, "ev_present_active_power", None)),
            ev=self._ev_limits(branch) if dynamic else None,
            energy=self._energy_request(branch) if dynamic else None,
            soc=soc,
            meter_info_requested=msg.meter_info_requested,
        )
        self._emit(event)
        evse = self._evse_limits()
        r = _rationals(mod)
        fields: dict[str, Any] = {"response_code": mod.ResponseCode.OK, "evse_status": self._evse_status(mod)}
        wanted = msg.meter_info_requested or self._notification == "MeteringConfirmation"
        if wanted and self._meter is not None:
            m = self._meter
            fields["meter_info"] = mod.MeterInfo(
                meter_id=m.meter_id,
                charged_energy_reading_wh=m.wh or 0,
                meter_signature=m.signature,
                meter_status=m.status,
                meter_timestamp=m.t_meter,
            )
        bpt = self.service is not None and self.service.is_bpt
        cls = getattr(mod, self._class_of_branch())
        if self.dc:
            p = self._present
            fields.update(
                evse_present_current=r(p.current),
                evse_present_voltage=r(p.voltage),
                evse_power_limit_achieved=p.power_limit_achieved,
                evse_current_limit_achieved=p.current_limit_achieved,
                evse_voltage_limit_achieved=p.voltage_limit_achieved,
            )
            kw: dict[str, Any] = {}
            if dynamic or self.config.quirks.send_evse_maximum_limits:
                kw = dict(
                    evse_maximum_charge_power=r(evse.max_charge_power),
                    evse_minimum_charge_power=r(evse.min_charge_power),
                    evse_maximum_charge_current=r(evse.max_charge_current or 0.0),
                    evse_maximum_voltage=r(evse.max_voltage or 0.0),
                )
                if bpt:
                    kw.update(
                        evse_maximum_discharge_power=r(evse.max_discharge_power or 0.0),
                        evse_minimum_discharge_power=r(evse.min_discharge_power),
                        evse_maximum_discharge_current=r(evse.max_discharge_current or 0.0),
                        evse_minimum_voltage=r(evse.min_voltage),
                    )
            fields[self._loop_branch("res")] = cls(**kw)
        else:
            target = self._target_power
            if target is None:
                target = self._scheduled_power(now) if not dynamic else evse.max_charge_power
            fields[self._loop_branch("res")] = cls(evse_target_active_power=r(target))
        self._respond(request, now, **fields)
        return S.CHARGING

    def _class_of_branch(self) -> str:
        side = "DC" if self.dc else "AC"
        mode = "Dynamic" if self.control_mode is ControlMode.DYNAMIC else "Scheduled"
        bpt = "BPT_" if self.service is not None and self.service.is_bpt else ""
        return f"{bpt}{mode}_{side}_CLResControlMode"

    def _scheduled_power(self, now: float) -> float:
        schedules = {s.tuple_id: s for s in self._schedules or ()}
        chosen = schedules.get(self.schedule_id or 0)
        limit = self._evse_limits().max_charge_power
        return min(limit, chosen.charge_power_at(now - self.handover.now)) if chosen is not None else limit

    def _metering_confirmation(self, request: str, msg: Any, now: float) -> Iso20SeccState:
        smd = msg.signed_metering_data
        mi = smd.meter_info
        if self.payment is Payment.PNC:
            from .pnc import check_metering

            problem = check_metering(self, msg)
            if problem is not None:
                return self._fail(request, COMMON, now, "FAILED_MeteringSignatureNotValid", problem)
        self._emit(
            MeteringReceiptReceived(
                request=request,
                received_at=now,
                deadline=self._deadline(request, now),
                meter=MeterReading(
                    meter_id=mi.meter_id,
                    wh=mi.charged_energy_reading_wh,
                    signature=mi.meter_signature,
                    status=mi.meter_status,
                    t_meter=mi.meter_timestamp,
                ),
                signed=msg.header.signature is not None,
            )
        )
        if self._notification == "MeteringConfirmation":
            self._notification = "None"
        self._respond(request, now, response_code=common.ResponseCode.OK)
        return self._state

    # -- ACDP: positioning, the pantograph down and up ------------------------------------------

    def _acdp_positioning(self, request: str, msg: Any, now: float) -> Iso20SeccState:
        immobilized = bool(msg.ev_mobility_status)
        if not self._ongoing(request, now):
            return S.ENDED
        self._emit(
            VehiclePositioningRequested(
                request=request,
                received_at=now,
                deadline=self._deadline(request, now),
                immobilized=immobilized,
                positioning_support=bool(msg.ev_positioning_support),
            )
        )
        mod = _msgs.module_for(_msgs.ACDP)
        if immobilized:  # [V2G20-4069]: Finished once the bus is immobilized, AuthorizationSetup next
            self._done_ongoing()
        p = self._position
        self._respond(
            request,
            now,
            response_code=mod.ResponseCode.OK,
            evse_processing=mod.Processing.Finished if immobilized else mod.Processing.Ongoing,
            evse_positioning_support=p.positioning_support,
            ev_relative_x_deviation=p.x_deviation,
            ev_relative_y_deviation=p.y_deviation,
            contact_window_xc=p.contact_window_xc,
            contact_window_yc=p.contact_window_yc,
            ev_in_charge_position=p.in_charge_position,
        )
        return S.AUTHORIZATION_SETUP if immobilized else S.VEHICLE_POSITIONING

    def _acdp_connect(self, request: str, msg: Any, now: float) -> Iso20SeccState:
        """ACDP_Connect and ACDP_Disconnect: Ongoing until the application reports the pantograph at its end
        position (connect, [V2G20-4072]) or home (disconnect, [V2G20-4075])."""
        connect = request == "ACDP_Connect"
        if not self._ongoing(request, now):
            return S.ENDED
        self._emit(
            AcdpDeviceRequested(
                request=request,
                received_at=now,
                deadline=self._deadline(request, now),
                connect=connect,
                ev_status=msg.ev_electrical_charging_device_status.value,
            )
        )
        mod = _msgs.module_for(_msgs.ACDP)
        device = self._device
        done = device.mechanical == ("EndPosition" if connect else "Home")
        if done:
            self._done_ongoing()
        self._respond(
            request,
            now,
            response_code=mod.ResponseCode.OK,
            evse_processing=mod.Processing.Finished if done else mod.Processing.Ongoing,
            evse_electrical_charging_device_status=mod.ElectricalChargingDeviceStatus(device.electrical),
            evse_mechanical_charging_device_status=mod.MechanicalChargingDeviceStatus(device.mechanical),
        )
        if connect:
            return S.CABLE_CHECK if done else S.ACDP_CONNECT
        return S.STOPPED if done else S.ACDP_DISCONNECT

    _acdp_disconnect = _acdp_connect

    def _acdp_system_status(self, payload: bytes, now: float) -> None:
        """ACDP_SystemStatusReq in its side channel (V2GTP 0x8103): answered at once at any time after SessionSetup
        with what the application pushed; outside the (state, request) table, so the session's state, its sequence
        timer and an Ongoing loop stay as they are. A broken request is answered FAILED and ends the session."""
        ptype = _msgs.ACDP_SYSTEM_STATUS
        mod = _msgs.module_for(_msgs.ACDP)
        try:
            element, msg = mod.codec.decode_with_name(payload)
        except Exception as exc:
            self._trace_rx(ptype, payload, "?", None, now)
            self._acdp_status_failed(now, "FAILED", f"not ACDP EXI in payload type 0x{ptype:04x}: {exc}")
            return
        self._trace_rx(ptype, payload, element, msg, now)
        if element != "ACDP_SystemStatusReq":
            self._acdp_status_failed(now, "FAILED_SequenceError", f"{element} in the ACDP system status channel")
            return
        if self._state is S.SESSION_SETUP:
            self._acdp_status_failed(now, "FAILED_SequenceError", "ACDP_SystemStatusReq before SessionSetup")
            return
        if msg.header.session_id != self.session_id:
            self._acdp_status_failed(now, "FAILED_UnknownSession", "the SessionID is not this session's")
            return
        t = msg.ev_technical_status
        request = "ACDP_SystemStatus"
        self._emit(
            AcdpSystemStatusRequested(
                request=request,
                received_at=now,
                deadline=self._deadline(request, now),
                ready_to_charge=t.ev_ready_to_charge,
                immobilization_request=t.ev_immobilization_request,
                immobilized=t.ev_immobilized,
                cp_status=t.evcp_status.value if t.evcp_status is not None else None,
                soc=t.evsoc,
                error_code=t.ev_error_code.value if t.ev_error_code is not None else None,
                timeout=t.ev_timeout,
            )
        )
        self._queue_acdp_status(now, "OK")

    def _queue_acdp_status(self, now: float, code: str) -> None:
        mod = _msgs.module_for(_msgs.ACDP)
        st = self._system
        res = mod.ACDP_SystemStatusRes(
            header=self._header(mod, now),
            response_code=mod.ResponseCode(code),
            evse_mechanical_charging_device_status=mod.MechanicalChargingDeviceStatus(self._device.mechanical),
            evse_ready_to_charge=st.ready_to_charge,
            evse_isolation_status=mod.IsolationStatus(st.isolation),
            evse_disabled=st.disabled,
            evse_utility_interrupt_event=st.utility_interrupt,
            evse_emergency_shutdown=st.emergency_shutdown,
            evse_malfunction=st.malfunction,
            ev_in_charge_position=self._position.in_charge_position,
            ev_association_status=st.associated,
        )
        element = "ACDP_SystemStatusRes"
        self._queue(_msgs.ACDP_SYSTEM_STATUS, mod.codec.encode(res, element), element, res, now)

    def _acdp_status_failed(self, now: float, code: str, reason: str) -> None:
        self._queue_acdp_status(now, code)
        self._emit(RequestRejected(request="ACDP_SystemStatus", response_code=code, reason=reason))
        self._end(
            now,
            S.ENDED,
            reason=reason,
            normal=False,
            close_delay=self.config.timeouts.close_delay,
            session_id=self.session_id,
            response_code=code,
        )

    # -- WPT: positioning, pairing, alignment, the wireless charge loop ---------------------------

    def _wpt_setup(self, request: str, msg: Any, now: float) -> Iso20SeccState:
        mod = _msgs.module_for(_msgs.WPT)
        if self._state is not S.WPT_SETUP:  # set up again: the steps start over
            self._wpt_done.clear()
            self._done_ongoing()
        self._emit(
            WptStepRequested(
                request=request,
                received_at=now,
                deadline=self._deadline(request, now),
                finished=msg.ev_processing == mod.Processing.Finished,
                ev_result=None,
            )
        )
        # the primary device takes up the methods the car offers (the first of each list is used)
        self._respond(
            request,
            now,
            response_code=mod.ResponseCode.OK,
            primary_device_fine_positioning_method_list=msg.ev_device_fine_positioning_method_list,
            primary_device_pairing_method_list=msg.ev_device_pairing_method_list,
            primary_device_alignment_check_method_list=msg.ev_device_alignment_check_method_list,
            natural_offset=msg.natural_offset,
        )
        return S.WPT_POSITIONING

    _WPT_STEP = {
        "WPT_FinePositioning": S.WPT_POSITIONING,
        "WPT_Pairing": S.WPT_PAIRING,
        "WPT_AlignmentCheck": S.WPT_ALIGNMENT,
    }
    _WPT_NEXT = {
        "WPT_FinePositioning": S.WPT_PAIRING,
        "WPT_Pairing": S.AUTHORIZATION_SETUP,
        "WPT_AlignmentCheck": S.POWER_DELIVERY,
    }

    def _wpt_step(self, request: str, msg: Any, now: float) -> Iso20SeccState:
        """WPT_FinePositioning, WPT_Pairing, WPT_AlignmentCheck: Ongoing while the car and the application are not
        done; the step ends when the car says Finished ([V2G20-5027], [V2G20-5032], [V2G20-5036]) or the application
        pushed :class:`~evcharge.iso15118.engines.iso20.events.WptStepDone`."""
        mod = _msgs.module_for(_msgs.WPT)
        ev_finished = msg.ev_processing == mod.Processing.Finished
        if msg.ev_result_code == mod.WPT_EVResult.EVResultFailed:
            return self._fail(request, _msgs.WPT, now, "FAILED", f"{request}: the car reports EVResultFailed")
        self._emit(
            WptStepRequested(
                request=request,
                received_at=now,
                deadline=self._deadline(request, now),
                finished=ev_finished,
                ev_result=msg.ev_result_code.value,
            )
        )
        if not self._ongoing(request, now):
            return S.ENDED
        fields: dict[str, Any] = {}
        if request == "WPT_Pairing":
            fields["observed_id_code"] = msg.observed_id_code
        if request in self._wpt_warnings:  # [V2G20-5055]: WARNING_WPT, Finished: set the positioning up again
            self._wpt_warnings.discard(request)
            self._done_ongoing()
            self._respond(
                request, now, response_code=mod.ResponseCode.WARNING_WPT, evse_processing=mod.Processing.Finished
            )
            return S.WPT_WARNED
        done = ev_finished or request in self._wpt_done
        if done:
            self._done_ongoing()
        self._respond(
            request,
            now,
            response_code=mod.ResponseCode.OK,
            evse_processing=mod.Processing.Finished if done else mod.Processing.Ongoing,
            **fields,
        )
        if not done:
            return self._WPT_STEP[request]
        if request == "WPT_Pairing" and self.service is not None:
            return S.WPT_ALIGNMENT  # a new positioning in a session past ServiceSelection (our reading)
        return self._WPT_NEXT[request]

    def _wpt_charge_parameters(self, request: str, msg: Any, now: float) -> Iso20SeccState:
        assert self.service is not None
        mod = _msgs.module_for(_msgs.WPT)
        ev = PowerLimits(max_charge_power=from_rational(msg.evpc_max_receivable_power))
        self.ev_limits = ev
        self._emit(
            ChargeParametersRequested20(
                request=request, received_at=now, deadline=self._deadline(request, now), service=self.service, ev=ev
            )
        )
        evse = self._evse_limits()
        r = _rationals(mod)
        # [V2G20-5066]: WARNING_WPT when the car's values allow only a limited power transfer (the application says so)
        warned = request in self._wpt_warnings
        self._wpt_warnings.discard(request)
        self._respond(
            request,
            now,
            response_code=mod.ResponseCode.WARNING_WPT if warned else mod.ResponseCode.OK,
            pd_input_power_class=mod.WPT_PowerClass(self.config.wpt_power_class),
            sd_min_output_power=r(evse.min_charge_power),
            sd_max_output_power=r(evse.max_charge_power),
            sd_max_ground_clearance_support=msg.sd_max_ground_clearence,
            sd_min_ground_clearance_support=msg.sd_min_ground_clearence,
            pd_min_coil_current=r(0),
            pd_max_coil_current=r(self.config.wpt_max_coil_current),
        )
        return S.SCHEDULE_EXCHANGE

    def _wpt_charge_loop(self, request: str, msg: Any, now: float) -> Iso20SeccState:
        mod = _msgs.module_for(_msgs.WPT)
        wanted = from_rational(msg.evpc_power_request)
        soc = msg.display_parameters.present_soc if msg.display_parameters is not None else None
        self._emit(
            ChargeLoopRequested(
                request=request,
                received_at=now,
                deadline=now + self.config.performance.for_request(request),
                control_mode=self.control_mode or ControlMode.SCHEDULED,
                present_power=from_rational(msg.evpc_power_output),
                soc=soc,
                meter_info_requested=msg.meter_info_requested,
            )
        )
        evse = self._evse_limits()
        target = self._target_power if self._target_power is not None else min(wanted, evse.max_charge_power)
        r = _rationals(mod)
        warned = request in self._wpt_warnings  # [V2G20-5058]: the car checks the alignment again (or pairs)
        self._wpt_warnings.discard(request)
        self._respond(
            request,
            now,
            response_code=mod.ResponseCode.WARNING_WPT if warned else mod.ResponseCode.OK,
            evpc_power_request=r(target),
            spc_max_output_power_limit=r(evse.max_charge_power),
            spc_min_output_power_limit=r(evse.min_charge_power),
            spc_charge_diagnostics=mod.WPT_SPCChargeDiagnostics.SPCNoIssue,
            evse_status=self._evse_status(mod),
        )
        return S.WPT_REALIGN if warned else S.CHARGING

    def _vehicle_check_in(self, request: str, msg: Any, now: float) -> Iso20SeccState:
        self._emit(
            VehicleCheckInRequested(
                request=request,
                received_at=now,
                deadline=self._deadline(request, now),
                status=msg.ev_check_in_status.value,
                parking_method=msg.parking_method.value,
                vehicle_frame=msg.vehicle_frame,
                device_offset=msg.device_offset,
                vehicle_travel=msg.vehicle_travel,
            )
        )
        answer = self._check_in
        if answer.response_code is not None and answer.response_code.startswith("FAILED"):
            return self._fail(request, COMMON, now, answer.response_code, "the application refused the check-in")
        self._respond(
            request,
            now,
            response_code=common.ResponseCode(answer.response_code or "OK"),
            parking_space=answer.parking_space,
            device_location=answer.device_location,
            target_distance=answer.target_distance,
        )
        return S.CHARGE_PARAMETERS

    def _vehicle_check_out(self, request: str, msg: Any, now: float) -> Iso20SeccState:
        self._emit(
            VehicleCheckOutRequested(
                request=request,
                received_at=now,
                deadline=self._deadline(request, now),
                status=msg.ev_check_out_status.value,
                check_out_time=msg.check_out_time,
            )
        )
        answer = self._check_out
        if answer.response_code is not None and answer.response_code.startswith("FAILED"):
            return self._fail(request, COMMON, now, answer.response_code, "the application refused the check-out")
        self._respond(
            request,
            now,
            response_code=common.ResponseCode(answer.response_code or "OK"),
            evse_check_out_status=common.EvseCheckOutStatus(answer.status),
        )
        return S.STOPPED

    def _welding_detection(self, request: str, msg: Any, now: float) -> Iso20SeccState:
        mod = self.spec
        self._emit(WeldingDetectionRequested(request=request, received_at=now, deadline=self._deadline(request, now)))
        self._respond(
            request, now, response_code=mod.ResponseCode.OK, evse_present_voltage=rational(mod, self._present.voltage)
        )
        return S.STOPPED

    def _session_stop(self, request: str, msg: Any, now: float) -> Iso20SeccState:
        kind = msg.charging_session
        cs = common.ChargingSession
        if kind is cs.Pause and not self.config.pause_allowed:
            return self._fail(request, COMMON, now, "FAILED_PauseNotAllowed", "pause is not allowed here")
        if kind is cs.ServiceRenegotiation and not self._authorized_ok:
            return self._fail(
                request, COMMON, now, "FAILED_SequenceError", "SessionStop(ServiceRenegotiation) before Authorization"
            )
        if kind is cs.ServiceRenegotiation and not self.config.service_renegotiation_supported:
            return self._fail(
                request, COMMON, now, "FAILED_NoServiceRenegotiationSupported", "no service renegotiation"
            )
        self._emit(
            SessionStopRequested(
                request=request, received_at=now, deadline=self._deadline(request, now), pause=kind is cs.Pause
            )
        )
        self._respond(request, now, response_code=common.ResponseCode.OK)
        if kind is cs.ServiceRenegotiation:
            self.service = None
            self.control_mode = None
            self._cable_checked = False
            self._renegotiating = False
            self._notification = "None"
            return S.SERVICE_DISCOVERY
        paused = kind is cs.Pause
        self._end(
            now,
            S.ENDED,
            reason="SessionStop(Pause)" if paused else "SessionStop(Terminate)",
            normal=True,
            paused=paused,
            close_delay=self.config.timeouts.close_delay,
            session_id=self.session_id,
        )
        return S.ENDED


def _checked_code(command: Any) -> Any:
    """A SetVehicleCheckIn/Out whose response code is one of the schema's (None: OK)."""
    code = command.response_code
    if code is not None and code not in {c.value for c in common.ResponseCode}:
        raise LocalProtocolError(f"{code!r} is not a -20 ResponseCode")
    return command


def _installation_fields(res: Any) -> dict[str, Any]:
    return {
        name: getattr(res, name)
        for name in (
            "response_code",
            "evse_processing",
            "cps_certificate_chain",
            "signed_installation_data",
            "remaining_contract_certificate_chains",
        )
    }
