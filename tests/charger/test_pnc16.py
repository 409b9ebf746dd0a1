"""Plug & Charge through the EVSE manager on an OCPP 1.6 charge point, per the Open Charge Alliance's application
note "Using ISO 15118 Plug & Charge with OCPP 1.6": the 2.0.1 Authorize (eMAID, certificate hash data) and
Get15118EVCertificate travel in DataTransfer (vendorId ``org.openchargealliance.iso15118pnc``, messageId the 2.0.1
action, ``data`` the JSON text of the 2.0.1 payload; the answer's ``data`` the 2.0.1 response when Accepted).

Every outer message is checked against the 1.6 schema (``checked_calls``), every inner ``data`` against the 2.0.1
schema of its messageId."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from evcharge.charger import EvseManagerConfig, ManagerState
from evcharge.charger.sim.bench import Bench, accept_all
from evcharge.charger.sim.car import CarConfig
from evcharge.charger.sim.station import OcppCall
from evcharge.iso15118.engines import EvccConfig, SeccConfig
from evcharge.iso15118.engines import events as ev
from evcharge.ocpp import v201
from evcharge.ocpp.functions.application import PNC_VENDOR_ID, pnc_data

from .ocpp_check import checked_calls

pytest.importorskip("cryptography")

from .conftest import EMAID


def pnc(bench: Bench, message_id: str) -> list[tuple[dict[str, Any], dict[str, Any] | None]]:
    """The application note's DataTransfer calls of ``message_id``: (2.0.1 request, 2.0.1 response or ``None``),
    the outer messages valid for 1.6 and the inner ones for 2.0.1."""
    checked_calls(bench)
    out = []
    for _, call, answer in bench.calls:
        if call.action != "DataTransfer" or call.payload["vendorId"] != PNC_VENDOR_ID \
                or call.payload["messageId"] != message_id:
            continue
        request = json.loads(call.payload["data"])
        assert v201.validate(message_id, "request", request) == [], request
        response = None
        if answer is not None and answer["status"] == "Accepted":
            response = pnc_data(answer.get("data"))  # (None: the test's CSMS sent no 2.0.1 answer)
            assert response is None or v201.validate(message_id, "response", response) == [], response
        out.append((request, response))
    return out


def _config(pki: Path) -> EvseManagerConfig:
    from evcharge.iso15118.engines.pnc import PkiContractVerifier

    return EvseManagerConfig(
        ocpp_version="1.6", payments=(ev.Payment.PNC, ev.Payment.EIM),
        secc=SeccConfig(contract_verifier=PkiContractVerifier(pki / "iso2" / "mo_roots.pem"), trace=True))


def _bench(pki: Path, csms: Any = accept_all, *, contract: bool = True) -> Bench:
    from evcharge.iso15118.engines.pnc import Contract, Provisioning
    from evcharge.iso15118.security.tls import evcc_context, secc_context

    evcc = (EvccConfig(payment=ev.Payment.PNC, contract=Contract.from_pki(pki), loop_interval=0.25,
                       ongoing_interval=0.1, trace=True) if contract
            else EvccConfig(payment=ev.Payment.PNC, provisioning=Provisioning.from_pki(pki), loop_interval=0.25,
                            ongoing_interval=0.1, trace=True))
    car = CarConfig(protocol="iso2", charge_seconds=5.0, evcc=evcc)
    return Bench(_config(pki), car, csms=csms, tls=(secc_context(pki), evcc_context(pki)))


def _run(bench: Bench) -> None:
    bench.plug_in()
    bench.run(until=60.0, stop=lambda: bench.car.ended is not None)


def test_contract_authorizes_through_data_transfer(pki: Path) -> None:
    """The contract's eMAID (type eMAID) and hash data go as DataTransfer Authorize, not as a plain Authorize; the
    CSMS's Accepted (certificateStatus Accepted) authorizes the session, whose StartTransaction carries the eMAID
    idTag."""
    bench = _bench(pki)
    _run(bench)
    assert bench.car.ended is not None and bench.car.ended.normal, bench.errors
    ((request, response),) = pnc(bench, "Authorize")
    assert request["idToken"]["type"] == "eMAID"
    emaid = request["idToken"]["idToken"]
    assert emaid.replace("-", "") == EMAID.replace("-", "")
    hashes = request["iso15118CertificateHashData"]
    assert hashes and all(h["hashAlgorithm"] == "SHA256" and len(h["issuerNameHash"]) == 64 for h in hashes)
    assert response == {"idTokenInfo": {"status": "Accepted"}, "certificateStatus": "Accepted"}
    assert checked_calls(bench, "Authorize") == []
    (start,) = checked_calls(bench, "StartTransaction")
    assert start["idTag"] == emaid
    assert bench.manager.energy_wh > 0


def test_revoked_contract_stops_the_session(pki: Path) -> None:
    """The CSMS's verdict in data (Invalid, CertificateRevoked): no transaction, no energy."""
    def csms(call: OcppCall, now: float) -> dict[str, Any] | None:
        if call.action == "DataTransfer" and call.payload.get("messageId") == "Authorize":
            return {"status": "Accepted", "data": json.dumps({"idTokenInfo": {"status": "Invalid"},
                                                              "certificateStatus": "CertificateRevoked"})}
        return accept_all(call, now)

    bench = _bench(pki, csms)
    _run(bench)
    assert bench.car.ended is not None and not bench.car.ended.normal
    assert len(pnc(bench, "Authorize")) == 1
    assert bench.manager.energy_wh == 0.0 and not bench.power.on
    assert bench.manager.state in (ManagerState.FINISHED, ManagerState.V2G)
    assert checked_calls(bench, "StartTransaction") == []


def test_csms_without_the_application_note_gets_the_plain_authorize(pki: Path) -> None:
    """UnknownVendorId (a 1.6 CSMS that does not know the application note): the eMAID goes as Authorize(idTag)
    and its Accepted authorizes the session."""
    def csms(call: OcppCall, now: float) -> dict[str, Any] | None:
        if call.action == "DataTransfer":
            return {"status": "UnknownVendorId"}
        return accept_all(call, now)

    bench = _bench(pki, csms)
    _run(bench)
    assert bench.car.ended is not None and bench.car.ended.normal, bench.errors
    (plain,) = checked_calls(bench, "Authorize")
    assert plain["idTag"].replace("-", "") == EMAID.replace("-", "")
    assert [c.payload["messageId"] for _, c, _ in bench.calls if c.action == "DataTransfer"] == ["Authorize"]
    assert bench.manager.energy_wh > 0


def _operator_csms(operator: Any) -> Any:
    """A CSMS that accepts everything and answers the application note's Get15118EVCertificate from ``operator``
    (the 2.0.1 response in the DataTransfer's data)."""

    def csms(call: OcppCall, now: float) -> dict[str, Any] | None:
        if call.action == "DataTransfer" and call.payload.get("messageId") == "Get15118EVCertificate":
            request = json.loads(call.payload["data"])
            status, exi = operator.answer(request["action"], request["exiRequest"], request["iso15118SchemaVersion"])
            return {"status": "Accepted", "data": json.dumps({"status": status, "exiResponse": exi})}
        return accept_all(call, now)

    return csms


def test_certificate_installation_through_data_transfer(pki: Path) -> None:
    """No contract in the car: its CertificateInstallationReq goes to the CSMS as DataTransfer
    Get15118EVCertificate (the 2.0.1 request: the -2 namespace, Install, the EXI in base64); the mobility
    operator's answer in the response's data reaches the car, which then pays with the new contract."""
    from evcharge.charger.sim.contract import LocalContractService

    operator = LocalContractService(pki)
    csms = _operator_csms(operator)

    bench = _bench(pki, csms, contract=False)
    _run(bench)
    assert bench.car.ended is not None and bench.car.ended.normal, (bench.car.ended, bench.errors)
    ((request, response),) = pnc(bench, "Get15118EVCertificate")
    assert request["action"] == "Install" and request["iso15118SchemaVersion"] == "urn:iso:15118:2:2013:MsgDef"
    assert response is not None and response["status"] == "Accepted"
    assert operator.requests == ["Install"]
    assert len(pnc(bench, "Authorize")) == 1  # then the new contract authorizes
    assert bench.manager.energy_wh > 0


@pytest.mark.parametrize("answer", [
    {"status": "UnknownMessageId"},
    {"status": "Accepted", "data": "{not json"},
    {"status": "Accepted", "data": json.dumps({"status": "Failed", "exiResponse": ""})},
], ids=["unknown-message", "undecodable", "failed"])
def test_installation_refused_is_no_certificate_available(pki: Path, answer: dict[str, Any]) -> None:
    """A CSMS that cannot install (UnknownMessageId, data that is no 2.0.1 answer, Failed): the car hears
    FAILED_NoCertificateAvailable (ISO 15118-2 [V2G2-928]'s code for no certificate), no energy flows."""
    def csms(call: OcppCall, now: float) -> dict[str, Any] | None:
        if call.action == "DataTransfer" and call.payload.get("messageId") == "Get15118EVCertificate":
            return answer
        return accept_all(call, now)

    bench = _bench(pki, csms, contract=False)
    _run(bench)
    assert len(pnc(bench, "Get15118EVCertificate")) == 1
    assert bench.car.ended is not None and not bench.car.ended.normal
    assert "NoCertificateAvailable" in str(bench.car.ended.reason)
    assert bench.manager.energy_wh == 0.0


def test_iso20_installation_through_data_transfer(pki20: Path) -> None:
    """ISO 15118-20 over TLS 1.3, OCPP 1.6: Get15118EVCertificate in DataTransfer with the -20 CommonMessages
    namespace; the provider's CertificateInstallationRes comes back in data; the car then authorizes with the new
    contract through DataTransfer Authorize."""
    from datetime import UTC, datetime

    from evcharge.charger.sim.contract import LocalContractService
    from evcharge.iso15118.engines.iso20.pnc import EvccContract, PncTrust
    from evcharge.iso15118.security.tls import TlsProfile, evcc_context, secc_context

    operator = LocalContractService(pki20)
    csms = _operator_csms(operator)

    config = EvseManagerConfig(ocpp_version="1.6", payments=(ev.Payment.PNC, ev.Payment.EIM),
                               secc=SeccConfig(trace=True), iso20_pnc=PncTrust.from_pki(pki20, provider=False))
    car = CarConfig(protocol="iso20", charge_seconds=5.0, payment=ev.Payment.PNC,
                    contract=EvccContract.from_pki(pki20, installed=False))
    tls = (secc_context(pki20, TlsProfile.ISO20), evcc_context(pki20, TlsProfile.ISO20))
    bench = Bench(config, car, csms=csms, tls=tls, start=datetime.now(UTC))
    _run(bench)
    assert bench.car.ended is not None and bench.car.ended.normal, (bench.car.ended, bench.errors)
    ((request, response),) = pnc(bench, "Get15118EVCertificate")
    assert request["iso15118SchemaVersion"] == "urn:iso:std:iso:15118:-20:CommonMessages"
    assert response is not None and response["status"] == "Accepted"
    ((authorize, _),) = pnc(bench, "Authorize")
    assert authorize["idToken"]["type"] == "eMAID"
    assert bench.manager.energy_wh > 0
