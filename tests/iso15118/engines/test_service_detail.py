"""ServiceDetail (ISO 15118-2): the car asks a service's details zero or more times after ServiceDiscoveryRes and
before PaymentServiceSelectionReq; the charger lists the certificate service (ID 2: ParameterSet 1 Installation,
2 Update) when it offers Plug & Charge, and the value-added services of its config. Engine to engine."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from evcharge.iso15118.engines import EvccConfig, SeccState
from evcharge.iso15118.engines import events as ev

from .conftest import DC, Car, run_session, secc_config
from .test_failures import ask, assert_failed, drive

CERT_SETS = ((1, (("Service", "Installation"),)), (2, (("Service", "Update"),)))
VAS = (
    ev.OfferedService(
        service_id=3,
        category="Internet",
        name="Internet",
        parameter_sets=((1, (("Protocol", "https"), ("Port", 443))), (2, (("Protocol", "http"), ("Port", 80)))),
    ),
    ev.OfferedService(service_id=61, category="OtherCustom", name="Parking", free=False),
)


def _tx(engine: Any) -> list[str]:
    return [t.name for t in engine.trace if t.direction == "tx"]


def _selected(evcc: Any) -> list[tuple[int, int | None]]:
    req = next(t for t in evcc.trace if t.name == "PaymentServiceSelectionReq").message.body
    return [
        (s.service_id, s.parameter_set_id)
        for s in req.payment_service_selection_req.selected_service_list.selected_service
    ]


def test_value_added_services_detailed_in_order() -> None:
    car = Car()
    evcc_cfg = EvccConfig(energy_mode=DC, trace=True, service_details=(3, 61, 1))
    _, secc, evcc = run_session(
        "iso2", DC, secc_cfg=secc_config(DC, services=VAS, trace=True), evcc_cfg=evcc_cfg, car=car
    )
    assert secc.ended is not None and secc.ended.normal, secc.ended
    assert _tx(evcc)[:6] == [
        "SessionSetupReq",
        "ServiceDiscoveryReq",
        "ServiceDetailReq",
        "ServiceDetailReq",
        "ServiceDetailReq",
        "PaymentServiceSelectionReq",
    ]
    asked = [t.message.body.service_detail_req.service_id for t in evcc.trace if t.name == "ServiceDetailReq"]
    assert asked == [3, 61, 1]
    # the charger's side of the same exchange
    assert [t.name for t in secc.trace if t.direction == "tx"][2:5] == ["ServiceDetailRes"] * 3
    offered = next(e for e in car.events if isinstance(e, ev.ServicesOffered))
    assert [(s.service_id, s.category, s.name, s.free) for s in offered.services] == [
        (3, "Internet", "Internet", True),
        (61, "OtherCustom", "Parking", False),
    ]
    details = [e for e in car.events if isinstance(e, ev.ServiceDetailReceived)]
    assert [(d.service_id, d.parameter_sets) for d in details] == [
        (3, VAS[0].parameter_sets),
        (61, ()),
        (1, ()),
    ]
    assert evcc.services[3].parameter_sets == VAS[0].parameter_sets
    assert _selected(evcc) == [(1, None)]  # the car uses no value-added service: only charging is selected


def test_no_service_detail_by_default() -> None:
    _, secc, evcc = run_session("iso2", DC, evcc_cfg=EvccConfig(energy_mode=DC, trace=True))
    assert secc.ended is not None and secc.ended.normal
    assert _tx(evcc)[:3] == ["SessionSetupReq", "ServiceDiscoveryReq", "PaymentServiceSelectionReq"]


def test_din_has_no_service_detail() -> None:
    _, secc, evcc = run_session("din", DC, evcc_cfg=EvccConfig(energy_mode=DC, trace=True, service_details=(1,)))
    assert secc.ended is not None and secc.ended.normal
    assert "ServiceDetailReq" not in _tx(evcc)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from evcharge.iso15118.security.pki import PkiOptions, write_pki

    pytest.importorskip("cryptography")
    out = tmp_path_factory.mktemp("pki")
    write_pki(out, PkiOptions(trees=("iso2",)))
    return out


@pytest.mark.parametrize("installed", [False, True])
def test_certificate_service_before_installation_or_update(pki: Path, installed: bool) -> None:
    """Plug & Charge over TLS: the car asks the certificate service's details, selects the ParameterSet of what it
    will do (1 Installation, 2 Update), then installs or updates its contract."""
    from evcharge.iso15118.engines.pnc import Contract, LocalTestProvider, PkiContractVerifier, Provisioning

    car = Car()
    evcc_cfg = EvccConfig(
        energy_mode=DC,
        payment=ev.Payment.PNC,
        trace=True,
        contract=Contract.from_pki(pki) if installed else None,
        update_contract=installed,
        provisioning=Provisioning.from_pki(pki),
        service_details=(2,),
    )
    secc_cfg = secc_config(
        DC,
        payments=(ev.Payment.PNC, ev.Payment.EIM),
        certificate_provider=LocalTestProvider(pki),
        contract_verifier=PkiContractVerifier(pki / "iso2" / "mo_roots.pem"),
    )
    _, secc, evcc = run_session("iso2", DC, secc_cfg=secc_cfg, evcc_cfg=evcc_cfg, car=car, tls=True)
    assert secc.ended is not None and secc.ended.normal, secc.ended
    certificate = "CertificateUpdateReq" if installed else "CertificateInstallationReq"
    assert _tx(evcc)[1:5] == ["ServiceDiscoveryReq", "ServiceDetailReq", "PaymentServiceSelectionReq", certificate]
    offered = next(e for e in car.events if isinstance(e, ev.ServicesOffered))
    assert [(s.service_id, s.category) for s in offered.services] == [(2, "ContractCertificate")]
    detail = next(e for e in car.events if isinstance(e, ev.ServiceDetailReceived))
    assert detail.service_id == 2 and detail.parameter_sets == CERT_SETS
    assert _selected(evcc) == [(1, None), (2, 2 if installed else 1)]


def test_certificate_service_not_listed_without_tls() -> None:
    """Plug & Charge is offered only over TLS, so is the certificate service: asking for it is
    FAILED_ServiceIDInvalid."""
    car = Car()
    evcc_cfg = EvccConfig(energy_mode=DC, trace=True, service_details=(2,))
    _, secc, evcc = run_session(
        "iso2", DC, secc_cfg=secc_config(DC, payments=(ev.Payment.PNC, ev.Payment.EIM)), evcc_cfg=evcc_cfg, car=car
    )
    assert secc.ended is not None and secc.ended.response_code == "FAILED_ServiceIDInvalid"
    assert evcc.ended is not None and not evcc.ended.normal and evcc.ended.response_code == "FAILED_ServiceIDInvalid"
    offered = next(e for e in car.events if isinstance(e, ev.ServicesOffered))
    assert offered.services == ()


@pytest.mark.parametrize("state", [SeccState.SERVICE_DISCOVERY, SeccState.AUTHORIZATION])
def test_service_detail_out_of_sequence(state: SeccState) -> None:
    """Before ServiceDiscoveryRes, or after PaymentServiceSelectionRes: FAILED_SequenceError."""
    secc, _, lb = drive("iso2", state, services=VAS)
    found = ask(secc, "ServiceDetail", secc.mod.ServiceDetailReq(service_id=3), lb.now)
    assert_failed(secc, found, "ServiceDetail", "FAILED_SequenceError", lb.now)


@pytest.mark.parametrize(("service", "set_id", "ok"), [(3, 2, True), (3, 7, False), (61, 1, False), (1, 1, True)])
def test_selected_parameter_set(service: int, set_id: int, ok: bool) -> None:
    """A selected service's ParameterSetID must be one the charger listed for it (one on the charge service, which
    has none, is tolerated)."""
    secc, _, lb = drive("iso2", SeccState.PAYMENT_SELECTION, services=VAS)
    mod = secc.mod
    body = mod.PaymentServiceSelectionReq(
        selected_payment_option=mod.PaymentOption.ExternalPayment,
        selected_service_list=mod.SelectedServiceList(
            selected_service=[
                mod.SelectedService(service_id=1),
                mod.SelectedService(service_id=service, parameter_set_id=set_id),
            ]
        ),
    )
    found = ask(secc, "PaymentServiceSelection", body, lb.now)
    if ok:
        assert found[1].response_code.value == "OK" and secc.state is SeccState.AUTHORIZATION
    else:
        assert_failed(secc, found, "PaymentServiceSelection", "FAILED_ServiceSelectionInvalid", lb.now)


@pytest.mark.parametrize("bad", [1, 2])
def test_service_ids_1_and_2_are_not_value_added(bad: int) -> None:
    from evcharge.errors import LocalProtocolError
    from evcharge.iso15118.engines import Secc

    from .conftest import handover

    with pytest.raises(LocalProtocolError, match="ServiceID"):
        Secc(handover("iso2"), secc_config(DC, services=(ev.OfferedService(service_id=bad),)))
