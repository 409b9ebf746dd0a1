"""Plug & Charge (ISO 15118-2) ours vs ours: certificate installation from a test-PKI provider, the contract
chain and signature checks of the security package, signed Authorization and MeteringReceipt."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from evcharge.iso15118.engines import EvccConfig, SeccState
from evcharge.iso15118.engines import events as ev

from .conftest import AC, DC, Charger, run_session, secc_config

pytest.importorskip("cryptography")

#: an ISO 15118-2 eMAID: 14 characters and a check digit once the separators are gone (EMAIDType: at most 15)
EMAID = "DE-ABC-C12345678-9"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from evcharge.iso15118.security.pki import PkiOptions, write_pki

    out = tmp_path_factory.mktemp("pki")
    write_pki(out, PkiOptions(emaid=EMAID, trees=("iso2",)))
    return out


def _secc_cfg(pki: Path, mode: ev.EnergyMode, **kw: Any) -> Any:
    from evcharge.iso15118.engines.pnc import LocalTestProvider, PkiContractVerifier

    kw.setdefault("certificate_provider", LocalTestProvider(pki))
    kw.setdefault("contract_verifier", PkiContractVerifier(pki / "iso2" / "mo_roots.pem"))
    return secc_config(mode, payments=(ev.Payment.PNC, ev.Payment.EIM), auto_authorize=True, **kw)


class MeteringCharger(Charger):
    """Asks for a MeteringReceipt once charging runs."""

    def __call__(self, engine: Any, event: Any, now: float) -> None:
        super().__call__(engine, event, now)
        if isinstance(event, ev.PowerDeliveryRequested) and event.action is ev.PowerAction.START:
            engine.send(ev.SetMeter(meter=ev.MeterReading(meter_id="M1", wh=1234), receipt_required=True), now)
        if isinstance(event, ev.MeteringReceiptReceived):
            engine.send(ev.SetMeter(meter=ev.MeterReading(meter_id="M1", wh=1300), receipt_required=False), now)


@pytest.mark.parametrize("mode", [DC, AC])
@pytest.mark.parametrize("installed", [False, True])
def test_pnc_session_over_tls(pki: Path, mode: ev.EnergyMode, installed: bool) -> None:
    from evcharge.iso15118.engines.pnc import Contract, Provisioning

    evcc_cfg = EvccConfig(
        energy_mode=mode,
        payment=ev.Payment.PNC,
        trace=True,
        contract=Contract.from_pki(pki) if installed else None,
        provisioning=Provisioning.from_pki(pki),
        v2g_roots=(pki / "iso2" / "v2g_roots.pem").read_bytes(),  # the car checks the provider's signature
    )
    charger = MeteringCharger()
    _, secc, evcc = run_session(
        "iso2", mode, secc_cfg=_secc_cfg(pki, mode), evcc_cfg=evcc_cfg, charger=charger, tls=True
    )
    assert secc.ended is not None and secc.ended.normal, secc.ended
    sent = [t.name for t in evcc.trace if t.direction == "tx"]
    expected = (
        ["PaymentDetailsReq", "AuthorizationReq"]
        if installed
        else ["CertificateInstallationReq", "PaymentDetailsReq", "AuthorizationReq"]
    )
    assert sent[3 : 3 + len(expected)] == expected
    assert "MeteringReceiptReq" in sent
    auth = [e for e in charger.events if isinstance(e, ev.AuthorizationRequested)]
    assert auth[0].payment is ev.Payment.PNC and auth[0].emaid and len(auth[0].contract_chain) >= 2
    receipts = [e for e in charger.events if isinstance(e, ev.MeteringReceiptReceived)]
    assert receipts and receipts[0].signed and receipts[0].meter.wh == 1234
    # the signatures were really checked: the header carries one, from the contract key
    signed = [t for t in evcc.trace if t.direction == "tx" and t.name in ("AuthorizationReq", "MeteringReceiptReq")]
    assert all(t.message.header.signature is not None for t in signed)


def test_certificate_update(pki: Path) -> None:
    from evcharge.iso15118.engines.pnc import Contract

    evcc_cfg = EvccConfig(payment=ev.Payment.PNC, contract=Contract.from_pki(pki), update_contract=True, trace=True)
    _, secc, evcc = run_session("iso2", DC, secc_cfg=_secc_cfg(pki, DC), evcc_cfg=evcc_cfg, tls=True)
    assert secc.ended is not None and secc.ended.normal
    names = [t.name for t in evcc.trace]
    assert names[6:10] == ["CertificateUpdateReq", "CertificateUpdateRes", "PaymentDetailsReq", "PaymentDetailsRes"]
    update = evcc.trace[6].message
    assert update.header.signature is not None  # signed with the contract key being renewed
    res = evcc.trace[7].message.body.certificate_update_res
    assert res.response_code.value == "OK" and evcc.trace[7].message.header.signature is not None


def test_pnc_without_tls_falls_back_to_eim(pki: Path) -> None:
    from evcharge.iso15118.engines.pnc import Contract

    evcc_cfg = EvccConfig(payment=ev.Payment.PNC, contract=Contract.from_pki(pki), trace=True)
    _, secc, evcc = run_session("iso2", DC, secc_cfg=_secc_cfg(pki, DC), evcc_cfg=evcc_cfg, tls=False)
    assert secc.ended is not None and secc.ended.normal and secc.payment is ev.Payment.EIM
    assert "PaymentDetailsReq" not in [t.name for t in evcc.trace]


def test_forged_signature_is_refused(pki: Path, tmp_path: Path) -> None:
    """A contract key that is not the certificate's: AuthorizationReq's signature does not verify."""
    from cryptography.hazmat.primitives.asymmetric import ec

    from evcharge.iso15118.engines.pnc import Contract

    real = Contract.from_pki(pki)
    forged = Contract(real.chain, ec.generate_private_key(ec.SECP256R1()), real.emaid)
    evcc_cfg = EvccConfig(payment=ev.Payment.PNC, contract=forged)
    _, secc, evcc = run_session("iso2", DC, secc_cfg=_secc_cfg(pki, DC), evcc_cfg=evcc_cfg, tls=True)
    assert secc.ended is not None and secc.ended.response_code == "FAILED_SignatureError"
    assert secc.state is SeccState.ENDED and evcc.ended is not None and not evcc.ended.normal


def test_foreign_contract_chain_is_refused(pki: Path, tmp_path: Path) -> None:
    """A contract chain from another PKI: FAILED_CertChainError at PaymentDetails."""
    from evcharge.iso15118.engines.pnc import Contract
    from evcharge.iso15118.security.pki import PkiOptions, write_pki

    other = tmp_path / "other"
    write_pki(other, PkiOptions(emaid=EMAID, trees=("iso2",)))
    evcc_cfg = EvccConfig(payment=ev.Payment.PNC, contract=Contract.from_pki(other))
    _, secc, _ = run_session("iso2", DC, secc_cfg=_secc_cfg(pki, DC), evcc_cfg=evcc_cfg, tls=True)
    assert secc.ended is not None and secc.ended.response_code == "FAILED_CertChainError"


def test_certificate_request_relayed_to_the_application(pki: Path) -> None:
    """No provider in the config: CertificateRequested goes to the application, which answers (here from the
    local provider, as an OCPP Get15118EVCertificate round trip would)."""
    from evcharge.iso15118.engines.pnc import LocalTestProvider, Provisioning

    provider = LocalTestProvider(pki)

    class Relay(Charger):
        def __call__(self, engine: Any, event: Any, now: float) -> None:
            super().__call__(engine, event, now)
            if isinstance(event, ev.CertificateRequested):
                body, signature = provider.answer(event.kind, event.message)  # type: ignore[misc]
                engine.send(ev.AnswerCertificate(body=body, signature=signature), now)

    cfg = _secc_cfg(pki, DC, certificate_provider=None)
    evcc_cfg = EvccConfig(payment=ev.Payment.PNC, provisioning=Provisioning.from_pki(pki))
    _, secc, _ = run_session("iso2", DC, secc_cfg=cfg, evcc_cfg=evcc_cfg, charger=Relay(), tls=True)
    assert secc.ended is not None and secc.ended.normal


def test_certificate_request_unanswered_times_out(pki: Path) -> None:
    from evcharge.iso15118.engines.pnc import Provisioning

    cfg = _secc_cfg(pki, DC, certificate_provider=None)
    evcc_cfg = EvccConfig(payment=ev.Payment.PNC, provisioning=Provisioning.from_pki(pki))
    lb, secc, _ = run_session("iso2", DC, secc_cfg=cfg, evcc_cfg=evcc_cfg, tls=True)
    assert secc.ended is not None and secc.ended.response_code == "FAILED"
    asked = [e for e in lb.secc_events if isinstance(e, ev.CertificateRequested)]
    assert asked and secc.close_at is not None
    # answered FAILED at the 4.5 s performance time, before the car's 5 s
    assert secc.close_at - secc.config.timeouts.close_delay == pytest.approx(asked[0].deadline)


def test_installation_response_from_an_untrusted_provider(pki: Path, tmp_path: Path) -> None:
    """The car checks the SA provisioning chain against its V2G roots: a provider of another PKI is refused."""
    from evcharge.iso15118.engines.pnc import LocalTestProvider, Provisioning
    from evcharge.iso15118.security.pki import PkiOptions, write_pki

    other = tmp_path / "other"
    write_pki(other, PkiOptions(emaid=EMAID, trees=("iso2",)))
    cfg = _secc_cfg(pki, DC, certificate_provider=LocalTestProvider(other))
    evcc_cfg = EvccConfig(
        payment=ev.Payment.PNC,
        provisioning=Provisioning.from_pki(pki),
        v2g_roots=(pki / "iso2" / "v2g_roots.pem").read_bytes(),
    )
    _, _, evcc = run_session("iso2", DC, secc_cfg=cfg, evcc_cfg=evcc_cfg, tls=True)
    assert evcc.ended is not None and not evcc.ended.normal
    assert evcc.ended.reason.startswith("CertificateInstallationRes")


def test_tampered_metering_receipt(pki: Path) -> None:
    """A MeteringReceiptReq changed after the car signed it: FAILED_MeteringSignatureNotValid."""
    import dataclasses

    from evcharge.iso15118 import iso2
    from evcharge.iso15118.engines import Evcc, Loopback, Secc
    from evcharge.iso15118.engines.pnc import Contract

    from .conftest import Car, handover

    def tap(direction: str, ptype: int, payload: bytes) -> bytes:
        msg = iso2.decode(payload)
        req = msg.body.metering_receipt_req if direction == "to_secc" else None
        if req is None:
            return payload
        forged = dataclasses.replace(req, meter_info=dataclasses.replace(req.meter_info, meter_reading=1))
        return bytes(iso2.encode(dataclasses.replace(msg, body=iso2.Body(metering_receipt_req=forged))))

    ho = handover("iso2", tls=True)
    secc = Secc(ho, _secc_cfg(pki, DC))
    evcc = Evcc(ho, EvccConfig(payment=ev.Payment.PNC, contract=Contract.from_pki(pki)))
    Loopback(secc, evcc, secc_app=MeteringCharger(), evcc_app=Car(), tap=tap).run()
    assert secc.ended is not None and secc.ended.response_code == "FAILED_MeteringSignatureNotValid"


# -- CertificateUpdateReq: signed with the key of the contract it renews, its chain to the MO roots -------------


def _update_session(pki: Path, contract: Any, *, tap: Any = None, **secc_kw: Any) -> tuple[Any, Any]:
    evcc_cfg = EvccConfig(payment=ev.Payment.PNC, contract=contract, update_contract=True, trace=True)
    kw = {"tap": tap} if tap is not None else {}
    _, secc, evcc = run_session("iso2", DC, secc_cfg=_secc_cfg(pki, DC, **secc_kw), evcc_cfg=evcc_cfg, tls=True, **kw)
    return secc, evcc


def _refused_update(secc: Any, evcc: Any, code: str) -> None:
    """The SECC answered CertificateUpdateReq with ``code`` and ended; no PaymentDetails followed."""
    assert secc.ended is not None and secc.ended.response_code == code, secc.ended
    res = [t for t in evcc.trace if t.name == "CertificateUpdateRes"]
    assert len(res) == 1 and res[0].message.body.certificate_update_res.response_code.value == code
    assert "PaymentDetailsReq" not in [t.name for t in evcc.trace]
    assert evcc.ended is not None and not evcc.ended.normal


def _update_tap(change: Any) -> Any:
    """A tap that rewrites the CertificateUpdateReq on its way to the SECC with ``change(message)``."""
    from evcharge.iso15118 import iso2

    def tap(direction: str, ptype: int, payload: bytes) -> bytes:
        if direction != "to_secc":
            return payload
        msg = iso2.decode(payload)
        if msg.body.certificate_update_req is None:
            return payload
        return bytes(iso2.encode(change(msg)))

    return tap


def test_certificate_update_signature_checked_good(pki: Path) -> None:
    """The well-signed update from the trusted contract passes the checks (they run: the verifier is set)."""
    from evcharge.iso15118.engines.pnc import Contract, PkiContractVerifier

    calls: list[str] = []

    class Spy(PkiContractVerifier):
        def verify_signature(self, message: Any, body: Any, chain: tuple[bytes, ...]) -> bool:
            ok = super().verify_signature(message, body, chain)
            calls.append(f"{type(body).__name__}:{ok}")
            return ok

    spy = Spy(pki / "iso2" / "mo_roots.pem")
    secc, evcc = _update_session(pki, Contract.from_pki(pki), contract_verifier=spy)
    assert secc.ended is not None and secc.ended.normal, secc.ended
    assert calls[0] == "CertificateUpdateReq:True"
    assert [t.name for t in evcc.trace][6:9] == ["CertificateUpdateReq", "CertificateUpdateRes", "PaymentDetailsReq"]


def test_certificate_update_signed_with_another_key(pki: Path) -> None:
    """The car's chain is good but it signs with a key that is not the contract certificate's."""
    from cryptography.hazmat.primitives.asymmetric import ec

    from evcharge.iso15118.engines.pnc import Contract

    real = Contract.from_pki(pki)
    secc, evcc = _update_session(pki, Contract(real.chain, ec.generate_private_key(ec.SECP256R1()), real.emaid))
    _refused_update(secc, evcc, "FAILED_SignatureError")


def test_certificate_update_without_signature(pki: Path) -> None:
    import dataclasses

    from evcharge.iso15118.engines.pnc import Contract

    def strip(msg: Any) -> Any:
        return dataclasses.replace(msg, header=dataclasses.replace(msg.header, signature=None))

    secc, evcc = _update_session(pki, Contract.from_pki(pki), tap=_update_tap(strip))
    _refused_update(secc, evcc, "FAILED_SignatureError")


def test_certificate_update_changed_after_signing(pki: Path) -> None:
    """The request's root certificate list changed after the car signed: the digest no longer matches."""
    import dataclasses

    from evcharge.iso15118 import iso2
    from evcharge.iso15118.engines.pnc import Contract

    def change(msg: Any) -> Any:
        req = msg.body.certificate_update_req
        roots = iso2.ListOfRootCertificateIDs(
            root_certificate_id=[iso2.X509IssuerSerial(x509_issuer_name="CN=Other Root", x509_serial_number=7)]
        )
        req = dataclasses.replace(req, list_of_root_certificate_i_ds=roots)
        return dataclasses.replace(msg, body=iso2.Body(certificate_update_req=req))

    secc, evcc = _update_session(pki, Contract.from_pki(pki), tap=_update_tap(change))
    _refused_update(secc, evcc, "FAILED_SignatureError")


def test_certificate_update_signature_over_another_element(pki: Path) -> None:
    """A valid contract-key signature that references only the certificate chain, not the request itself."""
    import dataclasses

    from evcharge.iso15118 import iso2
    from evcharge.iso15118.engines.pnc import Contract, sign_header

    contract = Contract.from_pki(pki)

    def resign(msg: Any) -> Any:
        req = msg.body.certificate_update_req
        chain = dataclasses.replace(req.contract_signature_cert_chain, id_="id2")
        req = dataclasses.replace(req, contract_signature_cert_chain=chain)
        signature = sign_header(iso2, [("ContractSignatureCertChain", chain)], contract.key)
        header = dataclasses.replace(msg.header, signature=signature)
        return iso2.V2G_Message(header=header, body=iso2.Body(certificate_update_req=req))

    secc, evcc = _update_session(pki, contract, tap=_update_tap(resign))
    _refused_update(secc, evcc, "FAILED_SignatureError")


def test_certificate_update_foreign_chain(pki: Path, tmp_path: Path) -> None:
    """A contract (signed with its own key, so the signature is fine) from a PKI whose MO root is not trusted."""
    from evcharge.iso15118.engines.pnc import Contract
    from evcharge.iso15118.security.pki import PkiOptions, write_pki

    write_pki(tmp_path / "other", PkiOptions(emaid=EMAID, trees=("iso2",)))
    secc, evcc = _update_session(pki, Contract.from_pki(tmp_path / "other"))
    _refused_update(secc, evcc, "FAILED_CertChainError")


def test_certificate_update_emaid_not_the_certificates(pki: Path) -> None:
    """The eMAID of the request is not the contract certificate's: the chain does not belong to it."""
    from evcharge.iso15118.engines.pnc import Contract

    real = Contract.from_pki(pki)
    secc, evcc = _update_session(pki, Contract(real.chain, real.key, "NLTNM000122045U"))
    _refused_update(secc, evcc, "FAILED_CertChainError")


def test_certificate_update_expired_contract(pki: Path) -> None:
    import datetime as dt

    from evcharge.iso15118.engines.pnc import Contract, PkiContractVerifier

    later = PkiContractVerifier(
        pki / "iso2" / "mo_roots.pem", clock=lambda: dt.datetime.now(dt.UTC) + dt.timedelta(days=20 * 365)
    )
    secc, evcc = _update_session(pki, Contract.from_pki(pki), contract_verifier=later)
    _refused_update(secc, evcc, "FAILED_CertificateExpired")


# -- CertificateInstallationReq: signed with the key of the OEM provisioning certificate it carries ------------


def _install_session(pki: Path, provisioning: Any, *, tap: Any = None) -> tuple[Any, Any]:
    evcc_cfg = EvccConfig(payment=ev.Payment.PNC, provisioning=provisioning, trace=True)
    kw = {"tap": tap} if tap is not None else {}
    _, secc, evcc = run_session("iso2", DC, secc_cfg=_secc_cfg(pki, DC), evcc_cfg=evcc_cfg, tls=True, **kw)
    return secc, evcc


def _install_tap(change: Any) -> Any:
    """A tap that rewrites the CertificateInstallationReq on its way to the SECC with ``change(message)``."""
    from evcharge.iso15118 import iso2

    def tap(direction: str, ptype: int, payload: bytes) -> bytes:
        if direction != "to_secc":
            return payload
        msg = iso2.decode(payload)
        if msg.body.certificate_installation_req is None:
            return payload
        return bytes(iso2.encode(change(msg)))

    return tap


def _refused_installation(secc: Any, evcc: Any, pki: Path) -> None:
    """The SECC answered CertificateInstallationReq with FAILED_SignatureError and ended; no certificate was sent."""
    assert secc.ended is not None and secc.ended.response_code == "FAILED_SignatureError", secc.ended
    res = [t for t in evcc.trace if t.name == "CertificateInstallationRes"]
    assert len(res) == 1
    body = res[0].message.body.certificate_installation_res
    assert body.response_code.value == "FAILED_SignatureError"
    from evcharge.iso15118.engines.pnc import Contract

    contract = Contract.from_pki(pki).chain  # the provider's contract is not handed out
    assert body.contract_signature_cert_chain is None or body.contract_signature_cert_chain.certificate not in contract
    assert "PaymentDetailsReq" not in [t.name for t in evcc.trace]
    assert evcc.ended is not None and not evcc.ended.normal


def test_certificate_installation_signed_by_the_oem_key(pki: Path) -> None:
    """The request signed with the OEM provisioning key verifies (independently here, with the security package)
    and the SECC answers OK with the contract."""
    from cryptography import x509

    from evcharge.iso15118.engines.pnc import Provisioning
    from evcharge.iso15118.security.signature import ISO2_ALGORITHMS, find_fragments, verify

    prov = Provisioning.from_pki(pki)
    secc, evcc = _install_session(pki, prov)
    assert secc.ended is not None and secc.ended.normal, secc.ended
    req = next(t.message for t in evcc.trace if t.name == "CertificateInstallationReq")
    body = req.body.certificate_installation_req
    signature = req.header.signature
    key = x509.load_der_x509_certificate(body.oem_provisioning_cert).public_key()
    verify(signature.signed_info, signature.signature_value.value, find_fragments(body), key, allowed=ISO2_ALGORITHMS)
    res = next(t.message for t in evcc.trace if t.name == "CertificateInstallationRes")
    assert res.body.certificate_installation_res.response_code.value == "OK"


def test_certificate_installation_signed_with_another_key(pki: Path) -> None:
    """The car carries the real OEM provisioning certificate but signs with a key that is not its own."""
    from cryptography.hazmat.primitives.asymmetric import ec

    from evcharge.iso15118.engines.pnc import Provisioning

    real = Provisioning.from_pki(pki)
    secc, evcc = _install_session(pki, Provisioning(real.cert, ec.generate_private_key(ec.SECP256R1())))
    _refused_installation(secc, evcc, pki)


def test_certificate_installation_without_signature(pki: Path) -> None:
    import dataclasses

    from evcharge.iso15118.engines.pnc import Provisioning

    def strip(msg: Any) -> Any:
        return dataclasses.replace(msg, header=dataclasses.replace(msg.header, signature=None))

    secc, evcc = _install_session(pki, Provisioning.from_pki(pki), tap=_install_tap(strip))
    _refused_installation(secc, evcc, pki)


def test_certificate_installation_changed_after_signing(pki: Path) -> None:
    """The root certificate list changed after the car signed: the digest of the request no longer matches."""
    import dataclasses

    from evcharge.iso15118 import iso2
    from evcharge.iso15118.engines.pnc import Provisioning

    def change(msg: Any) -> Any:
        req = msg.body.certificate_installation_req
        roots = iso2.ListOfRootCertificateIDs(
            root_certificate_id=[iso2.X509IssuerSerial(x509_issuer_name="CN=Other Root", x509_serial_number=7)]
        )
        req = dataclasses.replace(req, list_of_root_certificate_i_ds=roots)
        return dataclasses.replace(msg, body=iso2.Body(certificate_installation_req=req))

    secc, evcc = _install_session(pki, Provisioning.from_pki(pki), tap=_install_tap(change))
    _refused_installation(secc, evcc, pki)


def test_certificate_installation_certificate_swapped(pki: Path, tmp_path: Path) -> None:
    """A request signed by another PKI's OEM provisioning key whose certificate was then swapped for ours: the
    signature must verify with the certificate in the request, so it is refused."""
    import dataclasses

    from evcharge.iso15118 import iso2
    from evcharge.iso15118.engines.pnc import Provisioning
    from evcharge.iso15118.security.pki import PkiOptions, write_pki

    write_pki(tmp_path / "other", PkiOptions(emaid=EMAID, trees=("iso2",)))
    ours = Provisioning.from_pki(pki)

    def swap(msg: Any) -> Any:
        req = dataclasses.replace(msg.body.certificate_installation_req, oem_provisioning_cert=ours.cert)
        return dataclasses.replace(msg, body=iso2.Body(certificate_installation_req=req))

    secc, evcc = _install_session(pki, Provisioning.from_pki(tmp_path / "other"), tap=_install_tap(swap))
    _refused_installation(secc, evcc, pki)
