"""Every request outside the (state, request) table is FAILED_SequenceError; every FAILED code the SECC sends."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evcharge.iso15118.engines import events as ev
from evcharge.iso15118.engines.iso20 import ControlMode, EnergyService, Iso20SeccState, PowerSchedule, _msgs
from evcharge.iso15118.engines.iso20 import events as ev20
from evcharge.iso15118.engines.iso20.secc import SECC20_ROWS
from evcharge.iso15118.iso20 import common

from .conftest import Charger, answers, drive_to, engines, request

S = Iso20SeccState
#: states a DC session passes through on the way (ENDED excepted)
DC_STATES = [
    S.SESSION_SETUP,
    S.AUTHORIZATION_SETUP,
    S.AUTHORIZATION,
    S.SERVICE_DISCOVERY,
    S.SERVICE_SELECTION,
    S.CHARGE_PARAMETERS,
    S.SCHEDULE_EXCHANGE,
    S.CABLE_CHECK,
    S.PRE_CHARGE,
    S.POWER_DELIVERY,
    S.CHARGING,
    S.STOPPED,
]
ALL_REQUESTS = list(_msgs.REQUESTS)


def _assert_failed(secc: Any, request_name: str, code: str) -> Any:
    (res,) = answers(secc)
    assert _msgs.response_name(res) == request_name
    assert res.response_code.value == code
    assert secc.ended is not None and not secc.ended.normal and secc.ended.response_code == code
    assert secc.close_at is not None
    rejected = [e for e in iter(secc.next_event, None) if isinstance(e, ev.RequestRejected)]
    assert rejected and rejected[0].response_code == code
    return res


def _valid(name: str) -> dict[str, Any]:
    """PowerDelivery(Stop) is accepted in every state whose row has PowerDelivery (Start is not, in Charging)."""
    return {"charge_progress": common.ChargeProgress.Stop} if name == "PowerDelivery" else {}


def test_out_of_table_requests_exhaustive() -> None:
    """Each (state, request) pair of a DC session: outside the table FAILED_SequenceError (the response of
    that request, mandatory fields only) and the session ends; inside it, never FAILED_SequenceError."""
    checked = 0
    for state in DC_STATES:
        for name in ALL_REQUESTS:
            secc, evcc = engines(EnergyService.DC)
            now = drive_to(secc, evcc, state)
            secc.payloads_to_send()
            while secc.next_event() is not None:
                pass
            ptype, exi = request(name, True, secc.session_id, **_valid(name))
            secc.receive_payload(ptype, exi, now + 0.1)
            (res,) = answers(secc)
            assert _msgs.response_name(res) == name
            if (state, name) in secc.table:
                assert res.response_code.value != "FAILED_SequenceError", (state, name)
            else:
                assert res.response_code.value == "FAILED_SequenceError", (state, name)
                assert secc.ended is not None and secc.close_at == pytest.approx(now + 0.1 + 2.0)
            checked += 1
    assert checked == len(DC_STATES) * len(ALL_REQUESTS)


@pytest.mark.property
@settings(max_examples=60, deadline=None)
@given(
    service=st.sampled_from([EnergyService.AC, EnergyService.DC, EnergyService.AC_BPT, EnergyService.DC_BPT]),
    mode=st.sampled_from([ControlMode.SCHEDULED, ControlMode.DYNAMIC]),
    stop_at=st.integers(min_value=0, max_value=40),
    names=st.lists(st.sampled_from(ALL_REQUESTS), min_size=1, max_size=6),
)
def test_random_requests_follow_the_table(
    service: EnergyService, mode: ControlMode, stop_at: int, names: list[str]
) -> None:
    """Hypothesis over (state, request) pairs: after a real prefix of a session, random requests. Each is answered
    with its own response; FAILED_SequenceError exactly when the pair is not in the table; nothing raises."""
    secc, evcc = engines(service, mode)
    charger = Charger()
    states = [s for s in S if s is not S.ENDED]
    target = states[stop_at % len(states)]
    try:
        now = drive_to(secc, evcc, target, charger)
    except AssertionError:
        return  # this service/mode never waits in that state (AC has no CableCheck)
    secc.payloads_to_send()
    for name in names:
        if secc.ended is not None:
            break
        if not service.is_dc and name not in _msgs.COMMON_REQUESTS + _msgs.SPECIFIC_REQUESTS[_msgs.AC]:
            continue  # no such message in the AC schema
        state = secc.state
        ptype, exi = request(name, service.is_dc, secc.session_id, **_valid(name))
        secc.receive_payload(ptype, exi, now)
        (res,) = answers(secc)
        assert _msgs.response_name(res) == name
        failed_seq = res.response_code.value == "FAILED_SequenceError"
        assert failed_seq == ((state, name) not in secc.table)


def test_table_rows_cover_every_request() -> None:
    requests = {r.request for r in SECC20_ROWS}
    assert requests == set(ALL_REQUESTS) | set(_msgs.ACDP_REQUESTS) | set(_msgs.WPT_REQUESTS)


def test_unknown_session() -> None:
    secc, evcc = engines(EnergyService.DC)
    now = drive_to(secc, evcc, S.SERVICE_DISCOVERY)
    secc.payloads_to_send()
    secc.receive_payload(*request("ServiceDiscovery", True, b"\x01" * 8), now)
    _assert_failed(secc, "ServiceDiscovery", "FAILED_UnknownSession")


def test_garbage_and_foreign_payload_types_are_failed() -> None:
    secc, evcc = engines(EnergyService.DC)
    now = drive_to(secc, evcc, S.SERVICE_DISCOVERY)
    secc.payloads_to_send()
    secc.receive_payload(0x8002, b"\xff\x00garbage", now)
    _assert_failed(secc, "ServiceDiscovery", "FAILED")
    secc, evcc = engines(EnergyService.DC)
    now = drive_to(secc, evcc, S.CHARGE_PARAMETERS)
    secc.payloads_to_send()
    # an AC message in a DC session
    secc.receive_payload(*request("ChargeParameterDiscovery", False, secc.session_id), now)
    _assert_failed(secc, "ChargeParameterDiscovery", "FAILED")


def _at(state: S, service: EnergyService = EnergyService.DC, **secc_cfg: Any) -> tuple[Any, float]:
    secc, evcc = engines(service, secc=secc_cfg)
    now = drive_to(secc, evcc, state)
    secc.payloads_to_send()
    while secc.next_event() is not None:
        pass
    return secc, now


def test_service_id_invalid() -> None:
    secc, now = _at(S.SERVICE_SELECTION)
    secc.receive_payload(*request("ServiceDetail", True, secc.session_id, service_id=99), now)
    _assert_failed(secc, "ServiceDetail", "FAILED_ServiceIDInvalid")


def test_no_energy_transfer_service_selected() -> None:
    secc, now = _at(S.SERVICE_SELECTION)
    sel = common.SelectedService(service_id=65, parameter_set_id=1)
    secc.receive_payload(*request("ServiceSelection", True, secc.session_id, selected_energy_transfer_service=sel), now)
    _assert_failed(secc, "ServiceSelection", "FAILED_NoEnergyTransferServiceSelected")


@pytest.mark.parametrize("service_id,parameter_set", [(1, 1), (2, 9), (6, 1)])
def test_service_selection_invalid(service_id: int, parameter_set: int) -> None:
    """AC in a DC session; an unknown parameter set; DC_BPT when only DC is offered."""
    secc, now = _at(S.SERVICE_SELECTION, services=(EnergyService.DC,))
    sel = common.SelectedService(service_id=service_id, parameter_set_id=parameter_set)
    secc.receive_payload(*request("ServiceSelection", True, secc.session_id, selected_energy_transfer_service=sel), now)
    _assert_failed(secc, "ServiceSelection", "FAILED_ServiceSelectionInvalid")


def test_vas_not_offered_is_service_selection_invalid() -> None:
    secc, now = _at(S.SERVICE_SELECTION)
    sel = common.SelectedService(service_id=2, parameter_set_id=1)
    vas = common.SelectedServiceList(selected_service=[common.SelectedService(service_id=65, parameter_set_id=1)])
    secc.receive_payload(
        *request(
            "ServiceSelection", True, secc.session_id, selected_energy_transfer_service=sel, selected_vas_list=vas
        ),
        now,
    )
    _assert_failed(secc, "ServiceSelection", "FAILED_ServiceSelectionInvalid")


def test_wrong_charge_parameter_bpt_missing() -> None:
    secc, evcc = engines(EnergyService.DC_BPT)
    now = drive_to(secc, evcc, S.CHARGE_PARAMETERS)
    secc.payloads_to_send()
    from evcharge.iso15118.engines._minimal import minimal
    from evcharge.iso15118.iso20 import dc

    mode = minimal(dc.DC_CPDReqEnergyTransferMode)  # not the BPT parameters DC_BPT needs
    secc.receive_payload(
        *request("ChargeParameterDiscovery", True, secc.session_id, dc_cpd_req_energy_transfer_mode=mode), now
    )
    _assert_failed(secc, "ChargeParameterDiscovery", "FAILED_WrongChargeParameter")


def test_wrong_charge_parameter_voltage() -> None:
    from evcharge.iso15118.engines.iso20 import PowerLimits

    secc, evcc = engines(
        EnergyService.DC,
        evcc={"limits": PowerLimits(max_charge_power=50_000, max_charge_current=100, max_voltage=100)},
    )
    run_until_end(secc, evcc)
    res = [t.message for t in secc.trace if t.name == "DC_ChargeParameterDiscoveryRes"]
    assert res[0].response_code.value == "FAILED_WrongChargeParameter"
    assert evcc.ended is not None and evcc.ended.response_code == "FAILED_WrongChargeParameter"


def run_until_end(secc: Any, evcc: Any, charger: Any = None) -> None:
    from .conftest import run

    run(secc, evcc, charger)


def _pd_start(secc: Any, now: float, profile: Any) -> None:
    secc.receive_payload(
        *request(
            "PowerDelivery",
            True,
            secc.session_id,
            charge_progress=common.ChargeProgress.Start,
            ev_power_profile=profile,
        ),
        now,
    )


def _profile(tuple_id: int, watts: int, *, scheduled: bool = True) -> Any:
    c = common
    return c.EVPowerProfile(
        time_anchor=0,
        ev_power_profile_entries=c.EVPowerProfileEntryList(
            ev_power_profile_entry=[
                c.PowerScheduleEntry(duration=3600, power=c.RationalNumber(exponent=1, value=watts))
            ]
        ),
        scheduled_evppt_control_mode=c.Scheduled_EVPPTControlMode(selected_schedule_tuple_id=tuple_id)
        if scheduled
        else None,
        dynamic_evppt_control_mode=None if scheduled else c.Dynamic_EVPPTControlMode(),
    )


def test_schedule_selection_invalid() -> None:
    secc, now = _at(S.POWER_DELIVERY)
    _pd_start(secc, now, _profile(99, 1000))
    _assert_failed(secc, "PowerDelivery", "FAILED_ScheduleSelectionInvalid")


def test_power_profile_invalid() -> None:
    secc, now = _at(S.POWER_DELIVERY)
    _pd_start(secc, now, None)
    _assert_failed(secc, "PowerDelivery", "FAILED_EVPowerProfileInvalid")


def test_power_profile_violation() -> None:
    secc, now = _at(S.POWER_DELIVERY, schedules=(PowerSchedule(tuple_id=1, charging=((86_400, 20_000.0),)),))
    _pd_start(secc, now, _profile(1, 2_001))  # 20,010 W over a 20,000 W schedule
    _assert_failed(secc, "PowerDelivery", "FAILED_EVPowerProfileViolation")


def test_power_profile_within_schedule_and_tolerance() -> None:
    secc, now = _at(
        S.POWER_DELIVERY, schedules=(PowerSchedule(tuple_id=1, charging=((86_400, 20_000.0),)),), profile_tolerance=10.0
    )
    _pd_start(secc, now, _profile(1, 2_001))
    (res,) = answers(secc)
    assert res.response_code.value == "OK" and secc.state is S.CHARGING


@pytest.mark.parametrize("code", ["FAILED_PowerDeliveryNotApplied", "FAILED_ContactorError"])
def test_power_delivery_refused_by_the_application(code: str) -> None:
    secc, now = _at(S.POWER_DELIVERY)
    secc.send(ev20.SetPowerDeliveryResult(response_code=code), now)
    _pd_start(secc, now, _profile(1, 100))
    _assert_failed(secc, "PowerDelivery", code)


def test_schedule_renegotiation_refused() -> None:
    secc, now = _at(S.CHARGING, schedule_renegotiation_allowed=False)
    secc.receive_payload(
        *request("PowerDelivery", True, secc.session_id, charge_progress=common.ChargeProgress.ScheduleRenegotiation),
        now,
    )
    _assert_failed(secc, "PowerDelivery", "FAILED_ScheduleRenegotiation")


def test_power_delivery_progress_out_of_sequence() -> None:
    secc, now = _at(S.POWER_DELIVERY)
    secc.receive_payload(
        *request("PowerDelivery", True, secc.session_id, charge_progress=common.ChargeProgress.Standby), now
    )
    _assert_failed(secc, "PowerDelivery", "FAILED_SequenceError")


def test_pause_not_allowed() -> None:
    secc, now = _at(S.STOPPED, pause_allowed=False)
    secc.receive_payload(
        *request("SessionStop", True, secc.session_id, charging_session=common.ChargingSession.Pause), now
    )
    _assert_failed(secc, "SessionStop", "FAILED_PauseNotAllowed")


def test_no_service_renegotiation_supported() -> None:
    secc, now = _at(S.STOPPED, service_renegotiation_supported=False)
    secc.receive_payload(
        *request("SessionStop", True, secc.session_id, charging_session=common.ChargingSession.ServiceRenegotiation),
        now,
    )
    _assert_failed(secc, "SessionStop", "FAILED_NoServiceRenegotiationSupported")


def test_precharge_sequencing() -> None:
    """[V2G20-2005]: after DC_PreChargeReq(Ongoing) a PowerDeliveryReq is FAILED_SequenceError;
    [V2G20-2006]: after DC_PreChargeReq(Finished) a DC_PreChargeReq is FAILED_SequenceError."""
    from evcharge.iso15118.iso20 import dc

    secc, now = _at(S.PRE_CHARGE, power_delivery_after_precharge_ongoing=False)  # the strict sequencing
    secc.receive_payload(*request("PreCharge", True, secc.session_id, ev_processing=dc.Processing.Ongoing), now)
    answers(secc)
    assert secc.state is S.PRE_CHARGE
    _pd_start(secc, now, _profile(1, 100))
    _assert_failed(secc, "PowerDelivery", "FAILED_SequenceError")

    secc, now = _at(S.PRE_CHARGE)
    secc.receive_payload(*request("PreCharge", True, secc.session_id, ev_processing=dc.Processing.Finished), now)
    answers(secc)
    assert secc.state is S.POWER_DELIVERY
    secc.receive_payload(*request("PreCharge", True, secc.session_id, ev_processing=dc.Processing.Ongoing), now)
    _assert_failed(secc, "PreCharge", "FAILED_SequenceError")


def test_precharge_ongoing_then_power_delivery_tolerated_by_default() -> None:
    """Josev's EVCC goes from DC_PreChargeReq(Ongoing) straight to PowerDeliveryReq: accepted by default
    (the quirk switch power_delivery_after_precharge_ongoing)."""
    from evcharge.iso15118.iso20 import dc

    secc, now = _at(S.PRE_CHARGE)
    secc.receive_payload(*request("PreCharge", True, secc.session_id, ev_processing=dc.Processing.Ongoing), now)
    answers(secc)
    _pd_start(secc, now, _profile(1, 100))
    (res,) = answers(secc)
    assert res.response_code.value == "OK" and secc.state is S.CHARGING


def test_authorization_refused_is_a_warning_then_the_car_stops() -> None:
    secc, evcc = engines(EnergyService.AC)
    charger = Charger(authorize=False)
    run_until_end(secc, evcc, charger)
    res = [t.message for t in secc.trace if t.name == "AuthorizationRes"]
    assert res[-1].response_code.value == "WARNING_EIMAuthorizationFailure"
    assert [t.name for t in evcc.trace if t.direction == "tx"][-1] == "SessionStopReq"
    assert secc.ended is not None and secc.ended.normal


def test_isolation_fault_fails_cable_check() -> None:
    secc, now = _at(S.CABLE_CHECK)
    secc.send(ev.SetIsolation(level=ev.Isolation.FAULT), now)
    secc.receive_payload(*request("CableCheck", True, secc.session_id), now)
    _assert_failed(secc, "CableCheck", "FAILED")


def test_power_delivery_ongoing_is_answered_ok_and_asked_again() -> None:
    """PowerDeliveryReq(EVProcessing=Ongoing, Start) without a profile (Josev's AC car): OK, the state stays."""
    secc, now = _at(S.POWER_DELIVERY, EnergyService.AC)
    secc.receive_payload(
        *request(
            "PowerDelivery",
            False,
            secc.session_id,
            charge_progress=common.ChargeProgress.Start,
            ev_processing=common.Processing.Ongoing,
        ),
        now,
    )
    (res,) = answers(secc)
    assert res.response_code.value == "OK" and secc.state is S.POWER_DELIVERY and secc.ended is None


@pytest.mark.parametrize(
    ("acceptance", "required", "code"),
    [
        ("PowerToleranceConfirmed", False, "OK_PowerToleranceConfirmed"),
        (None, False, "WARNING_PowerToleranceNotConfirmed"),
        ("PowerToleranceNotConfirmed", True, "FAILED_PowerToleranceNotConfirmed"),
    ],
)
def test_power_tolerance(acceptance: str | None, required: bool, code: str) -> None:
    from .conftest import run

    schedule = PowerSchedule(tuple_id=1, charging=((86_400, 20_000.0),), power_tolerance=500.0)
    secc, evcc = engines(
        EnergyService.AC,
        secc={"schedules": (schedule,), "require_power_tolerance_confirmation": required},
        evcc={"power_tolerance_acceptance": acceptance, "limits": ev20.PowerLimits(max_charge_power=11_000)},
    )
    run(secc, evcc)
    sched = next(t.message for t in secc.trace if t.name == "ScheduleExchangeRes")
    tol = sched.scheduled_se_res_control_mode.schedule_tuple[0].charging_schedule.power_schedule.power_tolerance
    assert tol.value * 10**tol.exponent == 500
    res = [t.message.response_code.value for t in secc.trace if t.name == "PowerDeliveryRes"]
    assert res[0] == code
    assert (secc.ended is not None and secc.ended.normal) is (not code.startswith("FAILED"))


@pytest.mark.parametrize("state", [S.AUTHORIZATION_SETUP, S.AUTHORIZATION])
def test_service_renegotiation_cannot_skip_authorization(state: S) -> None:
    """SessionStop(ServiceRenegotiation) goes back to ServiceDiscovery: before Authorization it would skip it."""
    secc, evcc = engines(EnergyService.DC)
    now = drive_to(secc, evcc, state, Charger(authorize=None))
    secc.payloads_to_send()
    secc.receive_payload(
        *request("SessionStop", True, secc.session_id, charging_session=common.ChargingSession.ServiceRenegotiation),
        now,
    )
    _assert_failed(secc, "SessionStop", "FAILED_SequenceError")
