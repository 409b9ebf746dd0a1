"""Plug & Charge through the EVSE manager: ISO 15118-2 over real TLS (in memory), the contract's eMAID and
certificate hash data in OCPP 2.0.1 Authorize, the CSMS's answer deciding the SECC's AuthorizationRes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from evcharge.charger import EvseManagerConfig, ManagerState
from evcharge.charger.sim.bench import Bench, accept_all
from evcharge.charger.sim.car import CarConfig
from evcharge.charger.sim.station import OcppCall
from evcharge.iso15118.engines import EvccConfig, SeccConfig
from evcharge.iso15118.engines import events as ev

pytest.importorskip("cryptography")

from .conftest import EMAID


def _bench(pki: Path, csms: Any = accept_all) -> Bench:
    from evcharge.iso15118.engines.pnc import Contract, PkiContractVerifier
    from evcharge.iso15118.security.tls import evcc_context, secc_context

    config = EvseManagerConfig(
        payments=(ev.Payment.PNC, ev.Payment.EIM),
        secc=SeccConfig(contract_verifier=PkiContractVerifier(pki / "iso2" / "mo_roots.pem"), trace=True),
    )
    car = CarConfig(protocol="iso2", charge_seconds=5.0,
                    evcc=EvccConfig(payment=ev.Payment.PNC, contract=Contract.from_pki(pki), loop_interval=0.25,
                                    ongoing_interval=0.1, trace=True))
    return Bench(config, car, csms=csms, tls=(secc_context(pki), evcc_context(pki)))


def test_plug_and_charge_authorizes_with_the_contract(pki: Path) -> None:
    bench = _bench(pki)
    bench.plug_in()
    bench.run(until=60.0, stop=lambda: bench.car.ended is not None)
    assert bench.car.ended is not None and bench.car.ended.normal, bench.errors
    authorize = [c for _, c, _ in bench.calls if c.action == "Authorize"]
    assert len(authorize) == 1
    payload = authorize[0].payload
    assert payload["idToken"]["type"] == "eMAID"
    assert payload["idToken"]["idToken"].replace("-", "") == EMAID.replace("-", "")
    hashes = payload["iso15118CertificateHashData"]
    assert hashes and all(h["hashAlgorithm"] == "SHA256" and len(h["issuerNameHash"]) == 64 for h in hashes)
    # the wire carried TLS records, not V2GTP in the clear
    assert bench.wire and not any(chunk.startswith(b"\x01\xfe") for _, _, chunk in bench.wire)
    tx = [c.payload for _, c, _ in bench.calls if c.action == "TransactionEvent"]
    assert tx[-1]["transactionInfo"]["stoppedReason"] == "StoppedByEV"


def test_csms_rejecting_the_contract_stops_the_session(pki: Path) -> None:
    def csms(call: OcppCall, now: float) -> dict[str, Any] | None:
        if call.action == "Authorize":
            return {"idTokenInfo": {"status": "Accepted"}, "certificateStatus": "CertificateRevoked"}
        return accept_all(call, now)

    bench = _bench(pki, csms)
    bench.plug_in()
    bench.run(until=60.0, stop=lambda: bench.car.ended is not None)
    assert bench.car.ended is not None and not bench.car.ended.normal
    assert bench.manager.energy_wh == 0.0 and not bench.power.on
    assert bench.manager.state in (ManagerState.FINISHED, ManagerState.V2G)


def test_certificate_installation_through_the_csms(pki: Path) -> None:
    """No contract in the car: CertificateInstallationReq goes to the CSMS as Get15118EVCertificate, the mobility
    operator's signed answer comes back to the car, which then pays with the new contract."""
    from evcharge.charger.sim.contract import LocalContractService
    from evcharge.iso15118.engines.pnc import PkiContractVerifier, Provisioning
    from evcharge.iso15118.security.tls import evcc_context, secc_context

    operator = LocalContractService(pki)

    def csms(call: OcppCall, now: float) -> dict[str, Any] | None:
        if call.action == "Get15118EVCertificate":
            status, exi = operator.answer(call.payload["action"], call.payload["exiRequest"])
            return {"status": status, "exiResponse": exi}
        return accept_all(call, now)

    config = EvseManagerConfig(
        payments=(ev.Payment.PNC, ev.Payment.EIM),
        secc=SeccConfig(contract_verifier=PkiContractVerifier(pki / "iso2" / "mo_roots.pem"), trace=True),
    )
    car = CarConfig(protocol="iso2", charge_seconds=5.0,
                    evcc=EvccConfig(payment=ev.Payment.PNC, provisioning=Provisioning.from_pki(pki),
                                    loop_interval=0.25, ongoing_interval=0.1, trace=True))
    bench = Bench(config, car, csms=csms, tls=(secc_context(pki), evcc_context(pki)))
    bench.plug_in()
    bench.run(until=60.0, stop=lambda: bench.car.ended is not None)
    assert bench.car.ended is not None and bench.car.ended.normal, (bench.car.ended, bench.errors)
    get = [c.payload for _, c, _ in bench.calls if c.action == "Get15118EVCertificate"]
    assert len(get) == 1 and get[0]["action"] == "Install"
    assert get[0]["iso15118SchemaVersion"] == "urn:iso:15118:2:2013:MsgDef"
    assert operator.requests == ["Install"]
    authorize = [c.payload for _, c, _ in bench.calls if c.action == "Authorize"]
    assert authorize and authorize[0]["idToken"]["type"] == "eMAID"
    assert bench.manager.energy_wh > 0


def test_iso20_installation_through_the_csms_over_tls13(pki20: Path) -> None:
    """ISO 15118-20: TLS 1.3 with the car's OEM provisioning chain; the car has no contract, its
    CertificateInstallationReq goes to the CSMS as Get15118EVCertificate (the -20 CommonMessages namespace), the
    provider's CertificateInstallationRes comes back through the manager; the car then authorizes with the new
    contract (its eMAID in OCPP Authorize)."""
    from datetime import UTC, datetime

    from evcharge.charger.sim.contract import LocalContractService
    from evcharge.iso15118.engines.iso20.pnc import EvccContract, PncTrust
    from evcharge.iso15118.security.tls import TlsProfile, evcc_context, secc_context

    operator = LocalContractService(pki20)

    def csms(call: OcppCall, now: float) -> dict[str, Any] | None:
        if call.action == "Get15118EVCertificate":
            status, exi = operator.answer(call.payload["action"], call.payload["exiRequest"],
                                          call.payload["iso15118SchemaVersion"])
            return {"status": status, "exiResponse": exi}
        return accept_all(call, now)

    config = EvseManagerConfig(payments=(ev.Payment.PNC, ev.Payment.EIM), secc=SeccConfig(trace=True),
                               iso20_pnc=PncTrust.from_pki(pki20, provider=False))
    car = CarConfig(protocol="iso20", charge_seconds=5.0, payment=ev.Payment.PNC,
                    contract=EvccContract.from_pki(pki20, installed=False))
    tls = (secc_context(pki20, TlsProfile.ISO20), evcc_context(pki20, TlsProfile.ISO20))
    bench = Bench(config, car, csms=csms, tls=tls, start=datetime.now(UTC))
    bench.plug_in()
    bench.run(until=60.0, stop=lambda: bench.car.ended is not None)
    assert bench.car.ended is not None and bench.car.ended.normal, (bench.car.ended, bench.errors)
    assert bench.secc_tls is not None and bench.secc_tls.version == "TLSv1.3" and bench.secc_tls.peer_chain
    get = [c.payload for _, c, _ in bench.calls if c.action == "Get15118EVCertificate"]
    assert len(get) == 1 and get[0]["iso15118SchemaVersion"] == "urn:iso:std:iso:15118:-20:CommonMessages"
    issued = operator.provider.log[-1]
    assert issued.schema == "iso20" and issued.emaid is not None
    authorize = [c.payload for _, c, _ in bench.calls if c.action == "Authorize"]
    assert authorize[0]["idToken"] == {"idToken": issued.emaid, "type": "eMAID"}
    assert bench.manager.energy_wh > 0


def test_iso20_undecodable_certificate_answer_fails_the_car(pki20: Path) -> None:
    """A CSMS answer that is not a -20 CertificateInstallationRes: the car is answered FAILED, no crash."""
    from datetime import UTC, datetime

    from evcharge.iso15118.engines.iso20.pnc import EvccContract, PncTrust
    from evcharge.iso15118.security.tls import TlsProfile, evcc_context, secc_context

    def csms(call: OcppCall, now: float) -> dict[str, Any] | None:
        if call.action == "Get15118EVCertificate":
            return {"status": "Accepted", "exiResponse": "AAECAw=="}  # four bytes, not EXI of the schema
        return accept_all(call, now)

    config = EvseManagerConfig(payments=(ev.Payment.PNC, ev.Payment.EIM), secc=SeccConfig(trace=True),
                               iso20_pnc=PncTrust.from_pki(pki20, provider=False))
    car = CarConfig(protocol="iso20", charge_seconds=5.0, payment=ev.Payment.PNC,
                    contract=EvccContract.from_pki(pki20, installed=False))
    tls = (secc_context(pki20, TlsProfile.ISO20), evcc_context(pki20, TlsProfile.ISO20))
    bench = Bench(config, car, csms=csms, tls=tls, start=datetime.now(UTC))
    bench.plug_in()
    bench.run(until=60.0, stop=lambda: bench.car.ended is not None)
    assert bench.car.ended is not None and not bench.car.ended.normal
    codes = [x.message.response_code.value for x in bench.manager.secc.engine.trace
             if x.name == "CertificateInstallationRes"]
    assert codes and codes[-1].startswith("FAILED")
    assert bench.manager.energy_wh == 0.0
