"""-20 Plug & Charge ours vs ours: CertificateInstallation from a test-PKI provider, signed AuthorizationReq
(ecdsa-sha512 on secp521r1 and Ed448), GenChallenge, the 14-day flag, expired and untrusted contracts, a repeated
request that differs in more than its timestamp, signed MeteringConfirmation, the vehicle certificate hash."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
from pathlib import Path
from typing import Any

import pytest

from evcharge.iso15118.engines import events as ev
from evcharge.iso15118.engines.iso20 import EnergyService, Iso20Evcc, Iso20EvccConfig, Iso20Secc, Iso20SeccConfig
from evcharge.iso15118.engines.iso20 import events as ev20

from .conftest import CLOCK, Charger, handover, names, run

pytest.importorskip("cryptography")

from evcharge.iso15118.engines.iso20.pnc import EvccContract, PncTrust

T0 = CLOCK.utc(0.0)


def _pki(factory: pytest.TempPathFactory, name: str, **options: Any) -> Path:
    from evcharge.iso15118.security.pki import PkiOptions, write_pki

    out = factory.mktemp(name)
    write_pki(out, PkiOptions(trees=options.pop("trees", ("iso20",)), now=options.pop("now", T0), **options))
    return out


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _pki(tmp_path_factory, "pki20", trees=("iso20", "iso20-ed448"))


def _pair(
    pki: Path,
    *,
    contract: EvccContract | None = None,
    trust: PncTrust | None = None,
    service: EnergyService = EnergyService.DC,
    chain: tuple[bytes, ...] = (),
    **evcc: Any,
) -> tuple[Iso20Secc, Iso20Evcc]:
    secc = Iso20Secc(
        handover(service.is_dc, tls=True, chain=chain),
        Iso20SeccConfig(clock=CLOCK, trace=True, pnc=trust or PncTrust.from_pki(pki), auto_authorize=True),
    )
    evcc_cfg = Iso20EvccConfig(
        service=service,
        payment=ev.Payment.PNC,
        contract=contract or EvccContract.from_pki(pki),
        clock=CLOCK,
        trace=True,
        charge_loop_requests=2,
        **evcc,
    )
    return secc, Iso20Evcc(handover(service.is_dc, tls=True), evcc_cfg)


def _codes(secc: Iso20Secc, name: str) -> list[str]:
    return [t.message.response_code.value for t in secc.trace if t.name == name]


def test_certificate_installation_then_signed_authorization(pki: Path) -> None:
    oem_chain = tuple(EvccContract.from_pki(pki).provisioning_chain)
    secc, evcc = _pair(pki, chain=oem_chain)
    charger = Charger()
    run(secc, evcc, charger)
    sent = names(evcc)
    assert sent[:5] == [
        "SessionSetupReq",
        "AuthorizationSetupReq",
        "CertificateInstallationReq",
        "AuthorizationReq",
        "ServiceDiscoveryReq",
    ]
    assert _codes(secc, "CertificateInstallationRes") == ["OK"]
    assert _codes(secc, "AuthorizationRes") == ["OK"]
    # the request and the response were signed with ecdsa-sha512
    auth = next(t.message for t in secc.trace if t.name == "AuthorizationReq")
    assert auth.header.signature.signed_info.signature_method.algorithm.endswith("ecdsa-sha512")
    assert len(auth.header.signature.signature_value.value) == 132  # r||s on secp521r1 [V2G20-1000]
    cert_res = next(t.message for t in secc.trace if t.name == "CertificateInstallationRes")
    assert cert_res.header.signature is not None
    # the car uses the installed contract, whose key it decrypted
    assert evcc.pnc.chain[0] == auth.pn_c_a_req_authorization_mode.contract_certificate_chain.certificate
    assert secc.emaid == "NL-TNM-000122045-U"
    assert secc.ended is not None and secc.ended.normal
    # TLS 1.3 mutual authentication: the vehicle certificate hash reaches the application
    vc = charger.of(ev20.VehicleCertificate)
    assert vc and vc[0].sha256 == hashlib.sha256(oem_chain[0]).digest() == secc.vehicle_certificate_hash


def test_authorization_event_carries_the_contract(pki: Path) -> None:
    secc = Iso20Secc(handover(True, tls=True), Iso20SeccConfig(clock=CLOCK, trace=True, pnc=PncTrust.from_pki(pki)))
    evcc = Iso20Evcc(
        handover(True, tls=True),
        Iso20EvccConfig(
            payment=ev.Payment.PNC,
            contract=EvccContract.from_pki(pki, installed=True),
            clock=CLOCK,
            charge_loop_requests=1,
        ),
    )
    charger = Charger()
    run(secc, evcc, charger)
    (asked,) = charger.of(ev.AuthorizationRequested)
    assert asked.payment is ev.Payment.PNC and asked.emaid == "NL-TNM-000122045-U" and len(asked.contract_chain) == 3
    assert "CertificateInstallationReq" not in [t.name for t in secc.trace]


def test_ed448_signatures(pki: Path) -> None:
    tree = pki / "iso20-ed448"
    secc, evcc = _pair(pki, contract=EvccContract.from_pki(tree, installed=True), trust=PncTrust.from_pki(tree))
    run(secc, evcc)
    auth = next(t.message for t in secc.trace if t.name == "AuthorizationReq")
    assert auth.header.signature.signed_info.signature_method.algorithm.endswith("eddsa-ed448")
    assert _codes(secc, "AuthorizationRes") == ["OK"] and secc.ended is not None and secc.ended.normal


def test_signature_with_another_key_is_failed_signature_error(
    pki: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    other = EvccContract.from_pki(_pki(tmp_path_factory, "other"), installed=True)
    mine = EvccContract.from_pki(pki, installed=True)
    mine.key = other.key  # the chain is ours, the signature is not made with its key
    secc, evcc = _pair(pki, contract=mine)
    run(secc, evcc)
    assert _codes(secc, "AuthorizationRes") == ["FAILED_SignatureError"]
    assert evcc.ended is not None and evcc.ended.response_code == "FAILED_SignatureError"


class _Challenge(EvccContract):
    def authorization_mode(self, evcc: Any) -> Any:
        return dataclasses.replace(super().authorization_mode(evcc), gen_challenge=b"\x01" * 16)


def test_gen_challenge_checked(pki: Path) -> None:
    base = EvccContract.from_pki(pki, installed=True)
    contract = _Challenge(
        chain=base.chain,
        key=base.key,
        provisioning_chain=base.provisioning_chain,
        provisioning_key=base.provisioning_key,
        v2g_roots=base.v2g_roots,
    )
    secc, evcc = _pair(pki, contract=contract)
    run(secc, evcc)
    assert _codes(secc, "AuthorizationRes") == ["WARNING_ChallengeInvalid"]
    assert names(evcc)[-1] == "SessionStopReq"


def test_contract_expiring_within_14_days(tmp_path_factory: pytest.TempPathFactory) -> None:
    pki = _pki(tmp_path_factory, "soon", leaf_days=10)
    secc, evcc = _pair(pki, contract=EvccContract.from_pki(pki, installed=True))
    run(secc, evcc)
    assert _codes(secc, "AuthorizationRes") == ["OK_CertificateExpiresSoon"]
    assert secc.ended is not None and secc.ended.normal  # the session goes on


def test_expired_contract(tmp_path_factory: pytest.TempPathFactory) -> None:
    pki = _pki(tmp_path_factory, "expired", now=T0 - dt.timedelta(days=40), leaf_days=30)
    secc, evcc = _pair(pki, contract=EvccContract.from_pki(pki, installed=True))
    run(secc, evcc)
    assert _codes(secc, "AuthorizationRes") == ["WARNING_CertificateExpired"]


def test_contract_of_an_untrusted_mo(pki: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    other = _pki(tmp_path_factory, "untrusted")
    secc, evcc = _pair(pki, contract=EvccContract.from_pki(other, installed=True))
    run(secc, evcc)
    assert _codes(secc, "AuthorizationRes") == ["WARNING_CertificateValidationError"]


class _Drifting(EvccContract):
    """The second AuthorizationReq of the Ongoing loop changes its Id (still validly signed)."""

    calls = 0

    def authorization_mode(self, evcc: Any) -> Any:
        self.calls += 1
        mode = super().authorization_mode(evcc)
        return mode if self.calls == 1 else dataclasses.replace(mode, id_="id9")


def test_repeated_request_may_differ_only_in_its_timestamp(pki: Path) -> None:
    """[V2G20-1582]: the Ongoing loop repeats AuthorizationReq; a repeat identical but for the header timestamp
    is accepted, one whose body changed is FAILED."""
    base = EvccContract.from_pki(pki, installed=True)
    for cls, last in ((EvccContract, "OK"), (_Drifting, "FAILED")):
        contract = cls(
            chain=base.chain,
            key=base.key,
            provisioning_chain=base.provisioning_chain,
            provisioning_key=base.provisioning_key,
            v2g_roots=base.v2g_roots,
        )
        secc = Iso20Secc(handover(True, tls=True), Iso20SeccConfig(clock=CLOCK, trace=True, pnc=PncTrust.from_pki(pki)))
        evcc = Iso20Evcc(
            handover(True, tls=True),
            Iso20EvccConfig(
                payment=ev.Payment.PNC, contract=contract, clock=CLOCK, ongoing_interval=1.0, charge_loop_requests=1
            ),
        )
        run(secc, evcc, Charger(authorize=None), car=None)  # never decided: Ongoing until a limit
        if last == "OK":
            codes = _codes(secc, "AuthorizationRes")
            assert codes[:3] == ["OK", "OK", "OK"]  # Ongoing answers to identical repeats
            stamps = {t.message.header.time_stamp for t in secc.trace if t.name == "AuthorizationReq"}
            assert len(stamps) > 1  # the timestamps did differ
        else:
            assert _codes(secc, "AuthorizationRes")[-1] == "FAILED"
            assert secc.ended is not None and "V2G20-1582" in secc.ended.reason


class _BadMeter(EvccContract):
    def sign_request(self, evcc: Any, request: str, msg: Any, mod: Any) -> Any:
        if request == "MeteringConfirmation":
            key, self.key = self.key, self.wrong_key
            try:
                return super().sign_request(evcc, request, msg, mod)
            finally:
                self.key = key
        return super().sign_request(evcc, request, msg, mod)


@pytest.mark.parametrize("good", [True, False])
def test_metering_confirmation_signature(pki: Path, tmp_path_factory: pytest.TempPathFactory, good: bool) -> None:
    base = EvccContract.from_pki(pki, installed=True)
    contract = (EvccContract if good else _BadMeter)(
        chain=base.chain,
        key=base.key,
        provisioning_chain=base.provisioning_chain,
        provisioning_key=base.provisioning_key,
        v2g_roots=base.v2g_roots,
    )
    if not good:
        contract.wrong_key = EvccContract.from_pki(_pki(tmp_path_factory, "meter"), installed=True).key  # type: ignore[attr-defined]
    secc, evcc = _pair(pki, contract=contract, service=EnergyService.AC)
    charger = Charger()

    def app(engine: Any, event: Any, now: float) -> None:
        charger(engine, event, now)
        if isinstance(event, ev20.ChargeLoopRequested) and not charger.of(ev.MeteringReceiptReceived):
            engine.send(ev.SetMeter(meter=ev.MeterReading(meter_id="M1", wh=77)), now)
            engine.send(ev.Notify(action="metering_confirmation"), now)

    run(secc, evcc, app)
    if good:
        assert _codes(secc, "MeteringConfirmationRes") == ["OK"]
        assert charger.of(ev.MeteringReceiptReceived)[0].signed
    else:
        assert _codes(secc, "MeteringConfirmationRes") == ["FAILED_MeteringSignatureNotValid"]


def test_no_pnc_without_tls(pki: Path) -> None:
    secc = Iso20Secc(
        handover(True), Iso20SeccConfig(clock=CLOCK, trace=True, pnc=PncTrust.from_pki(pki), auto_authorize=True)
    )
    evcc = Iso20Evcc(
        handover(True),
        Iso20EvccConfig(
            payment=ev.Payment.PNC, contract=EvccContract.from_pki(pki), clock=CLOCK, charge_loop_requests=1
        ),
    )
    run(secc, evcc)
    setup = next(t.message for t in secc.trace if t.name == "AuthorizationSetupRes")
    assert [a.value for a in setup.authorization_services] == ["EIM"] and not setup.certificate_installation_service
    auth = next(t.message for t in secc.trace if t.name == "AuthorizationReq")
    assert auth.selected_authorization_service.value == "EIM" and secc.ended is not None and secc.ended.normal


def test_certificate_installation_through_the_application(pki: Path) -> None:
    """Without a provider the request goes to the application (CertificateRequested); its answer is relayed."""
    from evcharge.iso15118.engines.iso20.pnc import Iso20TestProvider

    provider = Iso20TestProvider(pki)
    secc = Iso20Secc(
        handover(True, tls=True),
        Iso20SeccConfig(clock=CLOCK, trace=True, pnc=PncTrust.from_pki(pki, provider=False), auto_authorize=True),
    )
    evcc = Iso20Evcc(
        handover(True, tls=True),
        Iso20EvccConfig(
            payment=ev.Payment.PNC, contract=EvccContract.from_pki(pki), clock=CLOCK, charge_loop_requests=1
        ),
    )
    charger = Charger()

    def app(engine: Any, event: Any, now: float) -> None:
        charger(engine, event, now)
        if isinstance(event, ev.CertificateRequested):
            res, signature = provider.answer(event.message)
            res = dataclasses.replace(res, header=dataclasses.replace(res.header, signature=signature))
            engine.send(ev.AnswerCertificate(body=res), now)

    run(secc, evcc, app)
    assert charger.of(ev.CertificateRequested)[0].kind == "installation"
    assert _codes(secc, "AuthorizationRes") == ["OK"] and secc.ended is not None and secc.ended.normal


def test_certificate_provider_timeout(pki: Path) -> None:
    secc = Iso20Secc(
        handover(True, tls=True), Iso20SeccConfig(clock=CLOCK, trace=True, pnc=PncTrust.from_pki(pki, provider=False))
    )
    evcc = Iso20Evcc(
        handover(True, tls=True),
        Iso20EvccConfig(payment=ev.Payment.PNC, contract=EvccContract.from_pki(pki), clock=CLOCK),
    )
    run(secc, evcc)
    assert _codes(secc, "CertificateInstallationRes") == ["FAILED"]
    req = next(t.time for t in secc.trace if t.name == "CertificateInstallationReq")
    res = next(t.time for t in secc.trace if t.name == "CertificateInstallationRes")
    assert res - req == pytest.approx(4.5)  # within the EVCC's 5 s


def test_evcc_certificate_installation_timeout(pki: Path) -> None:
    """The car waits 5 s for CertificateInstallationRes (Josev's -20 value), then ends the session."""
    from evcharge.iso15118.engines import Loopback
    from evcharge.iso15118.engines.iso20 import _msgs

    secc, evcc = _pair(pki)

    def tap(direction: str, ptype: int, payload: bytes) -> bytes | None:
        name = type(_msgs.module_for(ptype).decode(payload)).__name__
        return None if name == "CertificateInstallationRes" else payload

    Loopback(secc, evcc, tap=tap).run(until=100.0)
    sent = next(t.time for t in evcc.trace if t.name == "CertificateInstallationReq")
    assert evcc.ended is not None and "Msg_Timeout" in evcc.ended.reason
    assert evcc.close_at == pytest.approx(sent + 5.0)
