"""Get15118EVCertificate through the reference CSMS to its test-PKI contract provider.

The car's request is made by our EVCC engines (ISO 15118-2 and -20, each against our SECC engine with no
certificate provider of its own), relayed by our 2.0.1 charge point over a real websocket to ``evcharge csms``;
the answer goes back to the car, which checks the CPS chain and signature, decrypts the contract key and uses the
new contract (PaymentDetails / Authorization, which the SECC checks against the MO root). The answer is also
checked here with the security package on its own: fresh eMAID, contract chain to the MO root, key pair.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import datetime as dt
import random
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from cryptography.x509.oid import NameOID

from evcharge.clock import WallClock
from evcharge.csms import CsmsServer
from evcharge.csms.contract import ISO2_NAMESPACE, ISO20_NAMESPACE, TestPkiContractProvider
from evcharge.iso15118 import iso2
from evcharge.iso15118.engines import EvccConfig
from evcharge.iso15118.engines import events as ev
from evcharge.iso15118.engines.pnc import Contract, PkiContractVerifier, Provisioning, sign_header
from evcharge.iso15118.iso20 import common
from evcharge.iso15118.security.chain import CertificateRole, validate_chain
from evcharge.iso15118.security.pki import PkiOptions, write_pki
from evcharge.ocpp import v201
from evcharge.ocpp.charge_point import BackoffConfig, ChargePointConfig
from evcharge.ocpp.transport.websocket import ChargePointClient, ClientSecurity

from .helpers import PASSWORD, Pki, Station, make_pki, start_server


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("csms-pki"))


@pytest.fixture(scope="module")
def v2g(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("v2g-pki")
    write_pki(out, PkiOptions(trees=("iso2", "iso20")))
    return out


@asynccontextmanager
async def csms_and_station(pki: Pki, tmp: Path, provider: Any) -> AsyncIterator[tuple[CsmsServer, Station]]:
    server = await start_server(pki, tmp / "csms.db", contract_provider=provider)
    cp = Station("EV-PNC")
    client = ChargePointClient(cp, f"ws://127.0.0.1:{server.ports['ws']}/ocpp",
                               ChargePointConfig(versions=(v201,), backoff=BackoffConfig(initial=0.05, maximum=0.2)),
                               security=ClientSecurity(profile=1, password=PASSWORD), rng=random.Random(1))
    task = asyncio.create_task(client.run())
    try:
        await asyncio.wait_for(cp.wait_connected(), 10)
        yield server, cp
    finally:
        await client.stop()
        await asyncio.wait_for(task, 10)
        await server.stop()


async def _ask(cp: Station, schema: str, exi: bytes | str, action: str = "Install") -> Any:
    text = exi if isinstance(exi, str) else base64.b64encode(exi).decode()
    return await cp.call(v201.Get15118EVCertificateRequest.from_json(
        {"iso15118SchemaVersion": schema, "action": action, "exiRequest": text}))


def _in_thread(loop: asyncio.AbstractEventLoop, cp: Station, schema: str) -> Callable[[bytes], Any]:
    """A blocking Get15118EVCertificate for the engines' thread (the websocket lives on ``loop``)."""
    def call(exi: bytes) -> Any:
        return asyncio.run_coroutine_threadsafe(_ask(cp, schema, exi), loop).result(30)

    return call


def _check_contract(v2g: Path, tree: str, chain: list[bytes], key: Any, emaid: str) -> None:
    """What the security package says of the issued contract: it chains to the tree's MO root, its CN is the
    eMAID, the key the car decrypted is its key, and it is not the tree's own contract (a fresh one)."""
    leaf = validate_chain(chain[0], chain[1:], (v2g / tree / "mo_roots.pem").read_bytes(),
                          now=dt.datetime.now(dt.UTC), role=CertificateRole.CONTRACT).leaf
    assert leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == emaid
    raw = (Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    assert key.public_key().public_bytes(*raw) == leaf.public_key().public_bytes(*raw)
    tree_contract = x509.load_pem_x509_certificate((v2g / tree / "contract.pem").read_bytes())
    assert leaf.serial_number != tree_contract.serial_number
    assert leaf.public_key().public_bytes(*raw) != tree_contract.public_key().public_bytes(*raw)


def test_iso2_installation_from_our_evcc_through_the_csms(pki: Pki, v2g: Path, tmp_path: Path) -> None:
    from tests.iso15118.engines.conftest import DC, Charger, run_session, secc_config

    provider = TestPkiContractProvider(v2g)

    class Relay(Charger):
        def __init__(self, call: Callable[[bytes], Any]) -> None:
            super().__init__()
            self.call = call
            self.answers: list[Any] = []

        def __call__(self, engine: Any, event: Any, now: float) -> None:
            super().__call__(engine, event, now)
            if isinstance(event, ev.CertificateRequested):
                answer = self.call(event.exi)
                self.answers.append((event.exi, answer))
                msg = iso2.decode(base64.b64decode(answer.exi_response))
                engine.send(ev.AnswerCertificate(body=msg.body.certificate_installation_res,
                                                 signature=msg.header.signature), now)

    async def main() -> None:
        async with csms_and_station(pki, tmp_path, provider) as (_, cp):
            relay = Relay(_in_thread(asyncio.get_running_loop(), cp, ISO2_NAMESPACE))
            cfg = secc_config(DC, payments=(ev.Payment.PNC,), certificate_provider=None,
                              contract_verifier=PkiContractVerifier(v2g / "iso2" / "mo_roots.pem"))
            evcc_cfg = EvccConfig(payment=ev.Payment.PNC, provisioning=Provisioning.from_pki(v2g),
                                  v2g_roots=(v2g / "iso2" / "v2g_roots.pem").read_bytes())
            _, secc, evcc = await asyncio.to_thread(run_session, "iso2", DC, secc_cfg=cfg, evcc_cfg=evcc_cfg,
                                                    charger=relay, tls=True)
            # the car installed the contract (CPS chain, signature, key decrypted: the EVCC's own path) and
            # charged with it: PaymentDetails and the signed AuthorizationReq verified by the SECC
            assert secc.ended is not None and secc.ended.normal, secc.ended
            assert len(relay.answers) == 1 and relay.answers[0][1].status == "Accepted"
            issued = provider.log[-1].emaid
            assert issued is not None and evcc.contract.emaid == issued.replace("-", "")
            # the same answer, checked on its own with the security package
            request, answer = relay.answers[0]
            msg = iso2.decode(base64.b64decode(answer.exi_response))
            res = msg.body.certificate_installation_res
            assert res.response_code == iso2.ResponseCode.OK
            contract = Contract.from_installation(res, Provisioning.from_pki(v2g).key, message=msg,
                                                  v2g_roots=(v2g / "iso2" / "v2g_roots.pem").read_bytes())
            _check_contract(v2g, "iso2", contract.chain, contract.key, issued)
            assert msg.header.session_id == iso2.decode(request).header.session_id
            # every request gets a fresh eMAID
            again = await _ask(cp, ISO2_NAMESPACE, request)
            assert again.status == "Accepted" and provider.log[-1].emaid not in (None, issued)

    asyncio.run(main())


def _iso2_request(prov_cert: bytes, sign_key: Any) -> bytes:
    req = iso2.CertificateInstallationReq(
        id_="id1", oem_provisioning_cert=prov_cert,
        list_of_root_certificate_i_ds=iso2.ListOfRootCertificateIDs(
            root_certificate_id=[iso2.X509IssuerSerial(x509_issuer_name="CN=V2GRootCA", x509_serial_number=1)]))
    signature = sign_header(iso2, [("CertificateInstallationReq", req)], sign_key)
    return iso2.encode(iso2.V2G_Message(header=iso2.MessageHeader(session_id=b"\x01" * 8, signature=signature),
                                        body=iso2.Body(certificate_installation_req=req)))


def _iso20_request(car: Any, sign_key: Any = None) -> bytes:
    """A -20 CertificateInstallationReq as our -20 EVCC makes it (its fields and signing code)."""
    req = common.CertificateInstallationReq(header=common.MessageHeader(session_id=b"\x03" * 8, time_stamp=1),
                                            **car.certificate_installation_fields(None))
    if sign_key is not None:
        car = copy.copy(car)
        car.provisioning_key = sign_key
    return common.encode(car.sign_request(None, "CertificateInstallation", req, common))


def test_refusals(pki: Pki, v2g: Path, tmp_path: Path) -> None:
    """A foreign OEM, a signature by another key, bytes that are not EXI, an unknown schema, -20 Update:
    Failed with no exiResponse, and the CSMS goes on answering."""
    other = tmp_path / "other"
    write_pki(other, PkiOptions(trees=("iso2", "iso20")))
    mine, foreign = Provisioning.from_pki(v2g), Provisioning.from_pki(other)
    from evcharge.iso15118.engines.iso20.pnc import EvccContract

    car20, foreign20 = EvccContract.from_pki(v2g), EvccContract.from_pki(other)
    provider = TestPkiContractProvider(v2g)

    async def main() -> None:
        async with csms_and_station(pki, tmp_path, provider) as (_, cp):
            cases = [
                (ISO2_NAMESPACE, _iso2_request(foreign.cert, foreign.key), "Install", "OEM provisioning"),
                (ISO2_NAMESPACE, _iso2_request(mine.cert, foreign.key), "Install", "signature"),
                (ISO2_NAMESPACE, b"\x80\x98\x02\x10garbage", "Install", "decode"),
                (ISO2_NAMESPACE, "not base64!", "Install", "base64"),
                ("urn:iso:15118:9:2099:MsgDef", _iso2_request(mine.cert, mine.key), "Install", "schema"),
                (ISO20_NAMESPACE, b"\x80", "Update", "Install only"),
                (ISO20_NAMESPACE, _iso20_request(foreign20), "Install", "OEM provisioning"),
                (ISO20_NAMESPACE, _iso20_request(car20, foreign20.provisioning_key), "Install", "signature"),
                (ISO20_NAMESPACE, _iso2_request(mine.cert, mine.key), "Install", "decode"),  # -2 bytes named -20
            ]
            for schema, exi, action, reason in cases:
                res = await _ask(cp, schema, exi, action)
                assert (res.status, res.exi_response) == ("Failed", ""), reason
                assert reason in provider.log[-1].reason and provider.log[-1].emaid is None
            good = await _ask(cp, ISO2_NAMESPACE, _iso2_request(mine.cert, mine.key))
            assert good.status == "Accepted"
            assert (await _ask(cp, ISO20_NAMESPACE, _iso20_request(car20))).status == "Accepted"

    asyncio.run(main())


def test_iso2_update(pki: Pki, v2g: Path, tmp_path: Path) -> None:
    """CertificateUpdateReq signed by the old contract: the new contract's key is encrypted to the old one."""
    old = Contract.from_pki(v2g)
    req = iso2.CertificateUpdateReq(
        id_="id1",
        contract_signature_cert_chain=iso2.CertificateChain(
            certificate=old.chain[0], sub_certificates=iso2.SubCertificates(certificate=old.chain[1:])),
        e_maid=old.emaid,
        list_of_root_certificate_i_ds=iso2.ListOfRootCertificateIDs(
            root_certificate_id=[iso2.X509IssuerSerial(x509_issuer_name="CN=V2GRootCA", x509_serial_number=1)]))
    signature = sign_header(iso2, [("CertificateUpdateReq", req)], old.key)
    exi = iso2.encode(iso2.V2G_Message(header=iso2.MessageHeader(session_id=b"\x02" * 8, signature=signature),
                                       body=iso2.Body(certificate_update_req=req)))
    provider = TestPkiContractProvider(v2g)

    async def main() -> None:
        async with csms_and_station(pki, tmp_path, provider) as (_, cp):
            res = await _ask(cp, ISO2_NAMESPACE, exi, "Update")
            assert res.status == "Accepted", provider.log[-1]
            msg = iso2.decode(base64.b64decode(res.exi_response))
            body = msg.body.certificate_update_res
            contract = Contract.from_installation(body, old.key, message=msg,
                                                  v2g_roots=(v2g / "iso2" / "v2g_roots.pem").read_bytes())
            _check_contract(v2g, "iso2", contract.chain, contract.key, provider.log[-1].emaid or "")

    asyncio.run(main())


def test_iso20_installation_from_our_evcc_through_the_csms(pki: Pki, v2g: Path, tmp_path: Path) -> None:
    from evcharge.iso15118.engines.iso20 import Iso20Evcc, Iso20EvccConfig, Iso20Secc, Iso20SeccConfig
    from evcharge.iso15118.engines.iso20.pnc import EvccContract, PncTrust
    from tests.iso15118.iso20.conftest import Charger, handover, run

    provider = TestPkiContractProvider(v2g)
    clock = WallClock.at(0.0, dt.datetime.now(dt.UTC))

    async def main() -> None:
        async with csms_and_station(pki, tmp_path, provider) as (_, cp):
            call = _in_thread(asyncio.get_running_loop(), cp, ISO20_NAMESPACE)
            charger = Charger()
            answers: list[Any] = []

            def app(engine: Any, event: Any, now: float) -> None:
                charger(engine, event, now)
                if isinstance(event, ev.CertificateRequested):
                    answer = call(event.exi)
                    answers.append(answer)
                    engine.send(ev.AnswerCertificate(body=common.decode(base64.b64decode(answer.exi_response))), now)

            secc = Iso20Secc(handover(True, tls=True), Iso20SeccConfig(
                clock=clock, trace=True, pnc=PncTrust.from_pki(v2g, provider=False), auto_authorize=True))
            car = EvccContract.from_pki(v2g)
            evcc = Iso20Evcc(handover(True, tls=True), Iso20EvccConfig(
                payment=ev.Payment.PNC, contract=car, clock=clock, charge_loop_requests=1))
            await asyncio.to_thread(run, secc, evcc, app)
            assert [a.status for a in answers] == ["Accepted"]
            assert len(answers[0].exi_response) <= 7500  # the maxLength of OCPP 2.0.1's exiResponse
            codes = [t.message.response_code.value for t in secc.trace if t.name == "AuthorizationRes"]
            assert codes == ["OK"] and secc.ended is not None and secc.ended.normal
            issued = provider.log[-1].emaid
            assert issued is not None and provider.log[-1].schema == "iso20"
            _check_contract(v2g, "iso20", car.chain, car.key, issued)
            res = common.decode(base64.b64decode(answers[0].exi_response))
            assert isinstance(res, common.CertificateInstallationRes) and res.response_code == common.ResponseCode.OK
            # the answer on its own: a fresh car object checks and installs it (the EVCC's path)
            fresh = EvccContract.from_pki(v2g)
            fresh.installed(evcc, res, 0.0)
            assert fresh.chain == car.chain

    asyncio.run(main())
