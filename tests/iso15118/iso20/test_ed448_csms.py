"""The CSMS's test-PKI contract provider (Get15118EVCertificate) serves -20 cars of both PKIs: a car whose OEM
provisioning certificate is Ed448 gets a fresh Ed448 contract from the ``iso20-ed448`` tree, its key sent with
``ECDHCurve`` X448 to the certificate's Alternate Subject Public Key; a secp521r1 car still gets SECP521 from
``iso20``. The request is made by our EVCC's own code; the answer is installed by our EVCC's own code and the
issued contract checked with the security package (chain to the tree's MO root, the key the car holds)."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

pytest.importorskip("cryptography")

from cryptography.hazmat.primitives.asymmetric import ed448

from evcharge.clock import WallClock
from evcharge.csms.contract import ISO20_NAMESPACE, TestPkiContractProvider
from evcharge.iso15118.engines.iso20.pnc import EvccContract
from evcharge.iso15118.iso20 import common
from evcharge.iso15118.security.chain import CertificateRole, validate_chain
from evcharge.iso15118.security.ed448 import Ed448ScalarKey
from evcharge.iso15118.security.pki import PkiOptions, write_pki


@pytest.fixture(scope="module")
def v2g(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("v2g-both")
    write_pki(out, PkiOptions(trees=("iso20", "iso20-ed448")))
    return out


def _request(car: EvccContract) -> str:
    req = common.CertificateInstallationReq(header=common.MessageHeader(session_id=b"\x03" * 8, time_stamp=1),
                                            **car.certificate_installation_fields(None))
    return base64.b64encode(common.encode(car.sign_request(None, "CertificateInstallation", req, common))).decode()


def _ask(provider: TestPkiContractProvider, car: EvccContract) -> Any:
    return asyncio.run(provider.get_ev_certificate("EV-PNC", ISO20_NAMESPACE, "Install", _request(car)))


def _install(car: EvccContract, answer: Any) -> common.CertificateInstallationRes:
    res = common.decode(base64.b64decode(answer.exi_response))
    assert isinstance(res, common.CertificateInstallationRes)
    evcc = SimpleNamespace(clock=WallClock.at(0.0, dt.datetime.now(dt.UTC)))
    car.installed(evcc, res, 0.0)  # the EVCC's checks: CPS chain, signature, decryption, key vs certificate
    return res


def test_an_ed448_car_gets_an_ed448_contract_by_x448(v2g: Path) -> None:
    provider = TestPkiContractProvider(v2g)
    car = EvccContract.from_pki(v2g / "iso20-ed448")
    answer = _ask(provider, car)
    assert answer.status == "Accepted", provider.log[-1]
    res = _install(car, answer)
    assert res.signed_installation_data.ecdh_curve == common.EcdhCurve.X448
    issued = provider.log[-1].emaid
    assert issued is not None and provider.log[-1].schema == "iso20"
    leaf = validate_chain(car.chain[0], car.chain[1:], (v2g / "iso20-ed448" / "mo_roots.pem").read_bytes(),
                          now=dt.datetime.now(dt.UTC), role=CertificateRole.CONTRACT).leaf
    public = leaf.public_key()
    assert isinstance(public, ed448.Ed448PublicKey) and isinstance(car.key, Ed448ScalarKey)
    assert car.key.public_bytes_raw() == public.public_bytes_raw()
    public.verify(car.key.sign(b"AuthorizationReq"), b"AuthorizationReq")
    assert leaf.subject.rfc4514_string().startswith(f"DC=MO,C=DE,O=evcharge test PKI,CN={issued}")


def test_a_secp521_car_is_still_served_from_the_iso20_tree(v2g: Path) -> None:
    provider = TestPkiContractProvider(v2g)
    car = EvccContract.from_pki(v2g / "iso20")
    answer = _ask(provider, car)
    assert answer.status == "Accepted", provider.log[-1]
    res = _install(car, answer)
    assert res.signed_installation_data.ecdh_curve == common.EcdhCurve.SECP521
    validate_chain(car.chain[0], car.chain[1:], (v2g / "iso20" / "mo_roots.pem").read_bytes(),
                   now=dt.datetime.now(dt.UTC), role=CertificateRole.CONTRACT)


def test_an_ed448_car_without_an_ed448_tree_is_refused(v2g: Path, tmp_path: Path) -> None:
    write_pki(tmp_path, PkiOptions(trees=("iso20",)))
    provider = TestPkiContractProvider(tmp_path)
    answer = _ask(provider, EvccContract.from_pki(v2g / "iso20-ed448"))
    assert (answer.status, answer.exi_response) == ("Failed", "")
    assert "iso20-ed448" in provider.log[-1].reason


def test_an_ed448_car_of_another_oem_is_refused(v2g: Path, tmp_path: Path) -> None:
    write_pki(tmp_path, PkiOptions(trees=("iso20-ed448",)))
    provider = TestPkiContractProvider(v2g)
    answer = _ask(provider, EvccContract.from_pki(tmp_path / "iso20-ed448"))
    assert answer.status == "Failed" and "OEM provisioning" in provider.log[-1].reason
