"""Every FAILED response code from a bad request, garbage EXI, wrong SessionID, out-of-sequence requests.

Each test drives our SECC with our EVCC to a state, then hands the SECC one crafted request and reads
the answer as the car would: the response code the standard names, only the mandatory fields
([V2G2-736]), and the session ends with the connection closed within 5 s.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from evcharge.iso15118.engines import Evcc, EvccConfig, Loopback, Secc, SeccState
from evcharge.iso15118.engines import events as ev
from evcharge.iso15118.engines._minimal import minimal
from evcharge.iso15118.handover import PayloadType

from .conftest import AC, DC, Car, Charger, handover, secc_config

#: optional fields that are the branch of a mandatory XSD choice (may be set in a FAILED answer)
CHOICE_BRANCHES = {
    "sa_schedule_list",
    "dc_evse_charge_parameter",
    "ac_evse_charge_parameter",
    "dc_evse_status",
    "ac_evse_status",
}


def drive(
    protocol: str, state: SeccState, mode: ev.EnergyMode = DC, *, tls: bool = False, **cfg: Any
) -> tuple[Secc, Evcc, Loopback]:
    """Run a session until the SECC waits in ``state`` (the EVCC's next request not yet delivered)."""
    ho = handover(protocol, tls=tls)
    secc = Secc(ho, secc_config(mode, **cfg))
    evcc = Evcc(ho, EvccConfig(energy_mode=mode))
    held: list[tuple[int, bytes]] = []

    def tap(direction: str, ptype: int, payload: bytes) -> bytes | None:
        if direction == "to_secc" and secc.state is state:
            held.append((ptype, payload))
            return None
        return payload

    lb = Loopback(secc, evcc, secc_app=Charger(), evcc_app=Car(loops=2), tap=tap)
    lb.run(until=lb.now)  # no timer fires: the held request is never answered
    assert secc.state is state, f"the session never reached {state}"
    return secc, evcc, lb


def ask(secc: Secc, request: str, body: Any, now: float, *, session_id: bytes | None = None) -> tuple[str, Any]:
    ms = secc.ms
    msg = ms.message(secc.session_id if session_id is None else session_id, ms.req_attr[request], body)
    secc.payloads_to_send()
    secc.receive_payload(PayloadType.EXI, ms.encode(msg), now)
    out = secc.payloads_to_send()
    assert len(out) == 1 and out[0][0] == PayloadType.EXI
    answer = ms.decode(out[0][1])
    found = ms.response_of(answer.body)
    assert found is not None
    assert answer.header.session_id == secc.session_id
    return found


def assert_failed(secc: Secc, found: tuple[str, Any], request: str, code: str, now: float) -> None:
    name, body = found
    assert name == request, "a request is answered with its own response type"
    assert body.response_code.value == code
    for f in dataclasses.fields(body):
        if f.default is not dataclasses.MISSING and f.name not in CHOICE_BRANCHES:
            assert getattr(body, f.name) is None, f"[V2G2-736]: optional {f.name} in a FAILED answer"
    assert secc.state is SeccState.ENDED and secc.ended is not None and not secc.ended.normal
    assert secc.close_at is not None and secc.close_at - now <= 5.0
    rejected = [e for e in _events(secc) if isinstance(e, ev.RequestRejected)]
    assert rejected and rejected[-1].response_code == code


def _events(secc: Secc) -> list[Any]:
    out = []
    while (e := secc.next_event()) is not None:
        out.append(e)
    return out


def req(secc: Secc, request: str, **kw: Any) -> Any:
    return minimal(secc.ms.req_class[request], kw)


@pytest.mark.parametrize("protocol", ["din", "iso2"])
def test_out_of_sequence(protocol: str) -> None:
    secc, _, lb = drive(protocol, SeccState.SERVICE_DISCOVERY)
    mod = secc.mod
    body = mod.PreChargeReq(
        dc_ev_status=mod.DC_EVStatus(ev_ready=True, ev_error_code=mod.DC_EVErrorCode.NO_ERROR, evresssoc=10),
        ev_target_voltage=secc.ms.pv(400, "V"),
        ev_target_current=secc.ms.pv(2, "A"),
    )
    assert_failed(secc, ask(secc, "PreCharge", body, lb.now), "PreCharge", "FAILED_SequenceError", lb.now)


@pytest.mark.parametrize("protocol", ["din", "iso2"])
def test_wrong_session_id(protocol: str) -> None:
    secc, _, lb = drive(protocol, SeccState.SERVICE_DISCOVERY)
    found = ask(secc, "ServiceDiscovery", req(secc, "ServiceDiscovery"), lb.now, session_id=b"\x01" * 8)
    assert_failed(secc, found, "ServiceDiscovery", "FAILED_UnknownSession", lb.now)


@pytest.mark.parametrize("protocol", ["din", "iso2"])
@pytest.mark.parametrize("garbage", [b"", b"\x00", b"\xff" * 40, bytes(range(256))])
def test_garbage_exi(protocol: str, garbage: bytes) -> None:
    secc, _, lb = drive(protocol, SeccState.CHARGE_PARAMETERS)
    secc.receive_payload(PayloadType.EXI, garbage, lb.now)
    (out,) = secc.payloads_to_send()
    found = secc.ms.response_of(secc.ms.decode(out[1]).body)
    assert found is not None
    assert_failed(secc, found, "ChargeParameterDiscovery", "FAILED", lb.now)
    # and nothing more is answered on a session that is over
    secc.receive_payload(PayloadType.EXI, garbage, lb.now)
    assert secc.payloads_to_send() == []


def test_payment_contract_without_tls() -> None:
    secc, _, lb = drive("iso2", SeccState.PAYMENT_SELECTION, payments=(ev.Payment.EIM, ev.Payment.PNC))
    mod = secc.mod
    body = mod.PaymentServiceSelectionReq(
        selected_payment_option=mod.PaymentOption.Contract,
        selected_service_list=mod.SelectedServiceList(selected_service=[mod.SelectedService(service_id=1)]),
    )
    found = ask(secc, "PaymentServiceSelection", body, lb.now)
    assert_failed(secc, found, "PaymentServiceSelection", "FAILED_PaymentSelectionInvalid", lb.now)


def test_contract_offered_only_over_tls() -> None:
    for tls, offered in ((False, ["ExternalPayment"]), (True, ["ExternalPayment", "Contract"])):
        secc, _, lb = drive("iso2", SeccState.SERVICE_DISCOVERY, tls=tls, payments=(ev.Payment.EIM, ev.Payment.PNC))
        _, body = ask(secc, "ServiceDiscovery", req(secc, "ServiceDiscovery"), lb.now)
        assert [p.value for p in body.payment_option_list.payment_option] == offered


@pytest.mark.parametrize(
    ("protocol", "ids", "code"),
    [
        ("iso2", [1, 7], "FAILED_ServiceSelectionInvalid"),
        ("iso2", [], "FAILED_NoChargeServiceSelected"),
        ("din", [7], "FAILED_ServiceSelectionInvalid"),
    ],
)
def test_service_selection(protocol: str, ids: list[int], code: str) -> None:
    secc, _, lb = drive(protocol, SeccState.PAYMENT_SELECTION)
    mod = secc.mod
    if not ids:  # the schema needs one SelectedService: select a service that is not the charge service
        secc.config = dataclasses.replace(secc.config)
        secc._service_ids = {1, 2}
        ids = [2]
    body = secc.ms.req_class["PaymentServiceSelection"](
        selected_payment_option=mod.PaymentOption.ExternalPayment,
        selected_service_list=mod.SelectedServiceList(
            selected_service=[mod.SelectedService(service_id=i) for i in ids]
        ),
    )
    assert_failed(secc, ask(secc, "PaymentServiceSelection", body, lb.now), "PaymentServiceSelection", code, lb.now)


def test_service_detail_unknown_id() -> None:
    secc, _, lb = drive("iso2", SeccState.PAYMENT_SELECTION)
    found = ask(secc, "ServiceDetail", secc.mod.ServiceDetailReq(service_id=99), lb.now)
    assert_failed(secc, found, "ServiceDetail", "FAILED_ServiceIDInvalid", lb.now)


@pytest.mark.parametrize(
    ("protocol", "code"), [("iso2", "FAILED_WrongEnergyTransferMode"), ("din", "FAILED_WrongEnergyTransferType")]
)
def test_wrong_energy_transfer_mode(protocol: str, code: str) -> None:
    secc, evcc, lb = drive(protocol, SeccState.CHARGE_PARAMETERS)
    body = evcc._req_charge_parameter_discovery()
    field = "ev_requested_energy_transfer_type" if protocol == "din" else "requested_energy_transfer_mode"
    body = dataclasses.replace(body, **{field: type(getattr(body, field))("DC_core")})
    found = ask(secc, "ChargeParameterDiscovery", body, lb.now)
    assert_failed(secc, found, "ChargeParameterDiscovery", code, lb.now)


def test_wrong_charge_parameter() -> None:
    secc, _, lb = drive("iso2", SeccState.CHARGE_PARAMETERS)
    mod = secc.mod
    pv = secc.ms.pv
    body = mod.ChargeParameterDiscoveryReq(
        requested_energy_transfer_mode=mod.EnergyTransferMode.DC_extended,
        ac_ev_charge_parameter=mod.AC_EVChargeParameter(
            e_amount=pv(1000, "Wh"), ev_max_voltage=pv(400, "V"), ev_max_current=pv(32, "A"), ev_min_current=pv(6, "A")
        ),
    )
    found = ask(secc, "ChargeParameterDiscovery", body, lb.now)
    assert_failed(secc, found, "ChargeParameterDiscovery", "FAILED_WrongChargeParameter", lb.now)


def _power_delivery(secc: Secc, tuple_id: int, watts: float) -> Any:
    mod = secc.mod
    return mod.PowerDeliveryReq(
        charge_progress=mod.ChargeProgress.Start,
        sa_schedule_tuple_id=tuple_id,
        charging_profile=mod.ChargingProfile(
            profile_entry=[
                mod.ProfileEntry(
                    charging_profile_entry_start=0, charging_profile_entry_max_power=secc.ms.pv(watts, "W")
                )
            ]
        ),
    )


def test_tariff_selection_invalid() -> None:
    secc, _, lb = drive("iso2", SeccState.POWER_DELIVERY, AC)
    found = ask(secc, "PowerDelivery", _power_delivery(secc, 7, 1000), lb.now)
    assert_failed(secc, found, "PowerDelivery", "FAILED_TariffSelectionInvalid", lb.now)


def test_charging_profile_above_schedule() -> None:
    schedules = (ev.Schedule(tuple_id=3, pmax=((0, 11_000.0), (3600, 4_000.0))),)
    secc, _, lb = drive("iso2", SeccState.POWER_DELIVERY, AC, default_schedules=schedules)
    assert set(secc.offered) == {3}
    mod = secc.mod
    body = mod.PowerDeliveryReq(
        charge_progress=mod.ChargeProgress.Start,
        sa_schedule_tuple_id=3,
        charging_profile=mod.ChargingProfile(
            profile_entry=[
                mod.ProfileEntry(
                    charging_profile_entry_start=0, charging_profile_entry_max_power=secc.ms.pv(11_000, "W")
                ),
                mod.ProfileEntry(
                    charging_profile_entry_start=3600, charging_profile_entry_max_power=secc.ms.pv(5_000, "W")
                ),
            ]
        ),
    )
    found = ask(secc, "PowerDelivery", body, lb.now)
    assert_failed(secc, found, "PowerDelivery", "FAILED_ChargingProfileInvalid", lb.now)


def test_charging_profile_within_schedule_is_accepted() -> None:
    schedules = (ev.Schedule(tuple_id=3, pmax=((0, 11_000.0), (3600, 4_000.0))),)
    secc, _, lb = drive("iso2", SeccState.POWER_DELIVERY, AC, default_schedules=schedules)
    _, body = ask(secc, "PowerDelivery", _power_delivery(secc, 3, 11_000), lb.now)
    assert body.response_code.value == "OK" and secc.state is SeccState.CHARGING


def _pnc_secc(**extra: Any) -> tuple[Secc, float]:
    secc, _, lb = drive("iso2", SeccState.PAYMENT_SELECTION, tls=True, payments=(ev.Payment.PNC,))
    secc.handover = dataclasses.replace(secc.handover, extra=extra)
    mod = secc.mod
    _, body = ask(
        secc,
        "PaymentServiceSelection",
        mod.PaymentServiceSelectionReq(
            selected_payment_option=mod.PaymentOption.Contract,
            selected_service_list=mod.SelectedServiceList(selected_service=[mod.SelectedService(service_id=1)]),
        ),
        lb.now,
    )
    assert body.response_code.value == "OK" and secc.state is SeccState.PAYMENT_DETAILS
    return secc, lb.now


def _payment_details(secc: Secc) -> Any:
    mod = secc.mod
    return mod.PaymentDetailsReq(
        e_maid="DEABCC123456789", contract_signature_cert_chain=mod.CertificateChain(certificate=b"\x30\x00")
    )


class Verifier:
    def __init__(self, chain: str | None = None, signature: bool = True) -> None:
        self.chain, self.signature = chain, signature

    def verify_chain(self, certs: tuple[bytes, ...], emaid: str) -> str | None:
        return self.chain

    def verify_signature(self, msg: Any, body: Any, chain: tuple[bytes, ...]) -> bool:
        return self.signature


def test_challenge_invalid() -> None:
    secc, now = _pnc_secc()
    _, res = ask(secc, "PaymentDetails", _payment_details(secc), now)
    assert res.response_code.value == "OK" and len(res.gen_challenge) == 16
    wrong = bytes(b ^ 0xFF for b in res.gen_challenge)
    found = ask(secc, "Authorization", secc.mod.AuthorizationReq(id_="ID1", gen_challenge=wrong), now)
    assert_failed(secc, found, "Authorization", "FAILED_ChallengeInvalid", now)


def test_cert_chain_error() -> None:
    secc, now = _pnc_secc(contract_verifier=Verifier(chain="FAILED_CertChainError"))
    found = ask(secc, "PaymentDetails", _payment_details(secc), now)
    assert_failed(secc, found, "PaymentDetails", "FAILED_CertChainError", now)


def test_signature_error() -> None:
    secc, now = _pnc_secc(contract_verifier=Verifier(signature=False))
    _, res = ask(secc, "PaymentDetails", _payment_details(secc), now)
    found = ask(secc, "Authorization", secc.mod.AuthorizationReq(id_="ID1", gen_challenge=res.gen_challenge), now)
    assert_failed(secc, found, "Authorization", "FAILED_SignatureError", now)


def test_authorization_rejected() -> None:
    secc, _, lb = drive("iso2", SeccState.AUTHORIZATION, auto_authorize=False)
    _, body = ask(secc, "Authorization", req(secc, "Authorization"), lb.now)
    assert body.evse_processing.value == "Ongoing"  # the application has not decided yet
    secc.send(ev.Authorize(accepted=False), lb.now)
    assert_failed(
        secc, ask(secc, "Authorization", req(secc, "Authorization"), lb.now), "Authorization", "FAILED", lb.now
    )


@pytest.mark.parametrize("quirk", [True, False])
def test_session_stop_after_cable_check(quirk: bool) -> None:
    from evcharge.iso15118.engines.config import Quirks

    secc, _, lb = drive("iso2", SeccState.PRE_CHARGE, quirks=Quirks(session_stop_in_any_state=quirk))
    found = ask(
        secc, "SessionStop", secc.mod.SessionStopReq(charging_session=secc.mod.ChargingSession.Terminate), lb.now
    )
    if quirk:
        assert found[1].response_code.value == "OK" and secc.ended is not None and secc.ended.normal
    else:
        assert_failed(secc, found, "SessionStop", "FAILED_SequenceError", lb.now)
