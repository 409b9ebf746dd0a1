"""An Ed448 contract installed with X448 and used for Plug & Charge: -20 EVCC and SECC, ours vs ours.

The car holds only its Ed448 OEM provisioning certificate (with its X448 Alternate Subject Public Key); the
charger's provider answers CertificateInstallationReq with ``ECDHCurve`` X448 ([V2G20-2534], [V2G20-2495] ..
[V2G20-2502]); the car decrypts the 448-bit key, checks it against the contract certificate ([V2G20-2510]) and
signs its AuthorizationReq (eddsa-ed448) with it; the charger verifies that signature with the contract
certificate and authorizes. Once over real TLS 1.3 with mutual authentication on ::1 (the Ed448 PKI on both ends
of the handshake), once through the engines' loopback.

``DHPublicKey`` of an X448 installation is the 56-byte key, not padded to 133 bytes ([V2G20-2495]), while the
published XSD gives ``dhPublicKeyType`` a fixed length of 133. Until the EXI codec takes the normative text over
the facet, the installation cannot be encoded: the tests that need it are expected to fail (strictly: they fail
loudly once the codec accepts the 56-byte key, and the marker must go).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("cryptography")

from evcharge.iso15118.engines import events as ev
from evcharge.iso15118.engines.iso20 import EnergyService, Iso20Evcc, Iso20EvccConfig, Iso20Secc, Iso20SeccConfig
from evcharge.iso15118.engines.iso20.pnc import EvccContract, Iso20TestProvider, PncTrust
from evcharge.iso15118.iso20 import common
from evcharge.iso15118.security.ed448 import Ed448ScalarKey

from .conftest import CLOCK, Charger, handover, names, run


def test_the_codec_carries_a_56_byte_dh_public_key() -> None:
    """[V2G20-2495]: the X448 key is sent without padding although the XSD fixes 133 bytes (the codec reads the facet
    as at most 133); the fragment round-trips with its 56 bytes."""
    element = common.SignedInstallationData(
        id_="id1",
        contract_certificate_chain=common.ContractCertificateChain(
            certificate=b"\x30", sub_certificates=common.SubCertificates(certificate=[b"\x30"])
        ),
        ecdh_curve=common.EcdhCurve.X448,
        dh_public_key=bytes(range(56)),
        x448_encrypted_private_key=bytes(84),
    )
    data = common.codec.encode_fragment(element, "SignedInstallationData")
    [(name, decoded)] = common.codec.decode_fragment(data)
    assert name == "SignedInstallationData" and decoded.dh_public_key == bytes(range(56))


def _write(folder: Path, **options: Any) -> Path:
    from evcharge.iso15118.security.pki import PkiOptions, write_pki

    write_pki(folder, PkiOptions(trees=("iso20-ed448",), **options))
    return folder / "iso20-ed448"


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An Ed448 PKI valid at the conftest's CLOCK (the loopback runs)."""
    return _write(tmp_path_factory.mktemp("ed448"), now=CLOCK.utc(0.0))


def test_the_car_starts_without_a_contract_and_with_an_x448_key(tree: Path) -> None:
    car = EvccContract.from_pki(tree)
    assert car.chain == [] and car.key is None
    assert car.provisioning_agreement_key is not None  # oem_prov.x448.key.pem


def test_the_provider_refuses_a_provisioning_certificate_without_an_x448_key(tree: Path) -> None:
    """An Ed448 OEM certificate without the Alternate Subject Public Key cannot receive a key: the provider says so
    (the SECC answers FAILED), it does not fall back to another key."""
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    from evcharge.iso15118.security.errors import ContractKeyError
    from evcharge.iso15118.security.pki import PkiOptions, Profile, issue_certificate, subject_name

    profile = Profile(name="iso20-ed448", curve="ed448", ski_bytes=8)
    bare = issue_certificate("oem_prov", subject_name("WMIV1234567890ABCD", "OEM", PkiOptions()), profile,
                             PkiOptions(), issuer=None, ca=False, days=30, key_usage={"digital_signature": True})
    der = bare.certificate.public_bytes(Encoding.DER)
    request = common.CertificateInstallationReq(
        header=common.MessageHeader(session_id=bytes(8), time_stamp=1),
        oem_provisioning_certificate_chain=common.SignedCertificateChain(id_="id1", certificate=der),
        list_of_root_certificate_i_ds=common.ListOfRootCertificateIDs(
            root_certificate_id=[common.X509IssuerSerial(x509_issuer_name="CN=x", x509_serial_number=1)]
        ),
        maximum_contract_certificate_chains=1,
    )
    assert x509.load_der_x509_certificate(der).extensions  # the profile's extensions, but not 2.5.29.72
    with pytest.raises(ContractKeyError, match="Alternate Subject Public Key"):
        Iso20TestProvider(tree).answer(request)


def _pair(tree: Path) -> tuple[Iso20Secc, Iso20Evcc]:
    car = EvccContract.from_pki(tree)
    secc = Iso20Secc(
        handover(True, tls=True, chain=tuple(car.provisioning_chain)),
        Iso20SeccConfig(clock=CLOCK, trace=True, pnc=PncTrust.from_pki(tree), auto_authorize=True),
    )
    evcc = Iso20Evcc(
        handover(True, tls=True),
        Iso20EvccConfig(service=EnergyService.DC, payment=ev.Payment.PNC, contract=car, clock=CLOCK, trace=True,
                        charge_loop_requests=2),
    )
    return secc, evcc


def _codes(engine: Any, name: str) -> list[str]:
    return [t.message.response_code.value for t in engine.trace if t.name == name]


def test_install_with_x448_then_authorize_with_the_installed_key(tree: Path) -> None:
    secc, evcc = _pair(tree)
    charger = Charger()
    run(secc, evcc, charger)
    assert _codes(secc, "CertificateInstallationRes") == ["OK"], secc.ended
    res = next(t.message for t in secc.trace if t.name == "CertificateInstallationRes")
    data = res.signed_installation_data
    assert data.ecdh_curve == common.EcdhCurve.X448
    assert len(data.dh_public_key) == 56 and len(data.x448_encrypted_private_key) == 84
    assert data.secp521_encrypted_private_key is None
    assert names(evcc)[2:4] == ["CertificateInstallationReq", "AuthorizationReq"]
    # the car signs with the scalar it decrypted; the charger checks it with the contract certificate
    assert isinstance(evcc.pnc.key, Ed448ScalarKey)
    auth = next(t.message for t in secc.trace if t.name == "AuthorizationReq")
    assert auth.header.signature.signed_info.signature_method.algorithm.endswith("eddsa-ed448")
    assert len(auth.header.signature.signature_value.value) == 114
    assert _codes(secc, "AuthorizationRes") == ["OK"]
    assert secc.emaid == "NL-TNM-000122045-U"  # the installed contract's
    assert secc.ended is not None and secc.ended.normal and evcc.ended is not None and evcc.ended.normal


def test_a_key_sealed_for_another_car_is_refused(tree: Path, tmp_path: Path) -> None:
    """The car decrypts with its own X448 key: an installation sealed for another car's Alternate Subject Public
    Key fails authentication and the car stops ([V2G20-2504]) instead of signing with a wrong key."""
    other = EvccContract.from_pki(_write(tmp_path, now=CLOCK.utc(0.0)))
    secc, evcc = _pair(tree)
    evcc.pnc.provisioning_agreement_key = other.provisioning_agreement_key
    run(secc, evcc)
    assert _codes(secc, "CertificateInstallationRes") == ["OK"], secc.ended
    assert "AuthorizationReq" not in names(evcc)
    assert evcc.ended is not None and not evcc.ended.normal and "authentication" in evcc.ended.reason


# -- over TLS 1.3 with mutual authentication ---------------------------------------------------------------------


async def _over_tls(pki: Path) -> tuple[Any, Any, list[Any]]:
    from evcharge.iso15118.engines import secc_engines
    from evcharge.iso15118.engines.config import SeccConfig
    from evcharge.iso15118.engines.transport.runner import SimulatedCharger
    from evcharge.iso15118.handover import AppProtocol
    from evcharge.iso15118.sap import OfferedProtocol, SupportedProtocol
    from evcharge.iso15118.security.tls import TlsProfile, evcc_tls, secc_context
    from evcharge.iso15118.session import EvccSession, EvccSessionConfig, SeccSession, SeccSessionConfig
    from evcharge.iso15118.transport.tcp import connect_evcc, start_secc_server

    tree = pki / "iso20-ed448"
    config20 = Iso20SeccConfig(services=(EnergyService.DC,), payments=(ev.Payment.PNC,), pnc=PncTrust.from_pki(tree),
                               auto_authorize=True, trace=True)
    engines = secc_engines(SeccConfig(), config20, protocols=("iso20",))
    secc_config = SeccSessionConfig(protocols=tuple(SupportedProtocol(protocol=p) for p in engines))
    charger = SimulatedCharger()
    secc_engine: list[Any] = []
    secc_events: list[Any] = []

    async def handler(conn: Any) -> None:
        async for event in conn.events():
            if conn.session.engine is not None and not secc_engine:
                secc_engine.append(conn.session.engine)
            secc_events.append(event)
            charger(conn.session.engine, event, conn.send)

    server = await start_secc_server(
        lambda info: SeccSession(secc_config, engines, now=info.now, tls=info.tls),
        handler=handler, host="::1", port=0, ssl=secc_context(pki, TlsProfile.ISO20_ED448),
    )
    try:
        car_config = Iso20EvccConfig(service=EnergyService.DC, payment=ev.Payment.PNC,
                                     contract=EvccContract.from_pki(tree), trace=True, charge_loop_requests=2)
        offer = EvccSessionConfig(protocols=(OfferedProtocol(protocol=AppProtocol.ISO20_DC, schema_id=1, priority=1),))
        tls = evcc_tls(pki, TlsProfile.ISO20_ED448)
        conn = await connect_evcc(
            lambda info: EvccSession(offer, {AppProtocol.ISO20_DC: lambda ho: Iso20Evcc(ho, car_config)},
                                     now=info.now, tls=info.tls),
            host="::1", port=server.port, ssl=tls.context, verify_peer=tls.verify_peer,
        )
        car_engine: Any = None
        async for _ in conn.events():
            car_engine = conn.session.engine or car_engine
        for _ in range(100):  # the charger's side ends when the car closes
            if secc_engine and secc_engine[0].ended is not None:
                break
            await asyncio.sleep(0.02)
    finally:
        await server.close()
    return secc_engine[0] if secc_engine else None, car_engine, secc_events


def test_ed448_contract_installed_and_used_over_tls13_mutual_auth(tmp_path: Path) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import ed448

    from evcharge.iso15118.security.pki import PkiOptions, write_pki

    write_pki(tmp_path, PkiOptions(trees=("iso20-ed448",)))  # valid now: the TLS handshake checks the real time
    secc, car, _ = asyncio.run(asyncio.wait_for(_over_tls(tmp_path), 60))
    assert secc is not None and car is not None
    tls = secc.handover.tls
    assert tls is not None and tls.version == "TLSv1.3"
    # mutual authentication: the charger saw the car's Ed448 OEM provisioning chain
    vehicle = x509.load_der_x509_certificate(tls.peer_chain[0])
    assert isinstance(vehicle.public_key(), ed448.Ed448PublicKey)
    assert _codes(secc, "CertificateInstallationRes") == ["OK"], secc.ended
    res = next(t.message for t in secc.trace if t.name == "CertificateInstallationRes")
    assert res.signed_installation_data.ecdh_curve == common.EcdhCurve.X448
    assert isinstance(car.pnc.key, Ed448ScalarKey)
    assert car.pnc.chain[0] == res.signed_installation_data.contract_certificate_chain.certificate
    auth = next(t.message for t in secc.trace if t.name == "AuthorizationReq")
    assert auth.header.signature.signed_info.signature_method.algorithm.endswith("eddsa-ed448")
    assert _codes(secc, "AuthorizationRes") == ["OK"]
    assert secc.emaid == "NL-TNM-000122045-U"  # the installed contract's, from the chain the car signed with
    assert secc.ended is not None and secc.ended.normal, secc.ended
    assert car.ended is not None and car.ended.normal, car.ended
