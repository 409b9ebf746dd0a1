"""The local contract-certificate provider of Get15118EVCertificate: a test PKI acting as the Plug & Charge
ecosystem (OEM provisioning trust, MO sub-CA, CPS signer).

:class:`TestPkiContractProvider` reads a folder written by ``evcharge v2g pki --out DIR`` and answers the car's
CertificateInstallationReq (ISO 15118-2 and -20) and CertificateUpdateReq (ISO 15118-2) as a contract
provisioning service would:

1. the request EXI is decoded with the schema that the OCPP ``iso15118SchemaVersion`` names
   (``urn:iso:15118:2:2013:MsgDef`` or ``urn:iso:std:iso:15118:-20:CommonMessages``); a -20 request whose OEM
   provisioning certificate has an Ed448 key is served from the ``iso20-ed448`` tree, others from ``iso20``;
2. the OEM provisioning certificate (installation) or the old contract certificate (update) is checked up to the
   tree's OEM or MO root, and the request's header signature with that certificate's key;
3. a contract certificate is issued by the tree's MO sub-CA 2 for a fresh eMAID, with a fresh key;
4. the response is built and signed by the engines' own providers
   (:class:`~evcharge.iso15118.engines.pnc.LocalTestProvider`,
   :class:`~evcharge.iso15118.engines.iso20.pnc.Iso20TestProvider`): the contract key is encrypted to the car
   (ECDH with the OEM provisioning key, ISO 15118-2 AES-128-CBC or -20 AES-256-GCM; for the Ed448 tree X448 with
   the certificate's Alternate Subject Public Key, ``ECDHCurve`` X448), the signed elements are signed by the CPS
   leaf.

A request that fails a check is answered ``Failed`` with an empty ``exiResponse`` (the station then answers the
car FAILED_NoCertificateAvailable); :attr:`TestPkiContractProvider.log` keeps each outcome.
"""

from __future__ import annotations

import base64
import binascii
import copy
import dataclasses
import datetime
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evcharge.csms.pki import ContractResponse
from evcharge.errors import EvchargeError, require

__all__ = ["ISO2_NAMESPACE", "ISO20_NAMESPACE", "ContractOutcome", "TestPkiContractProvider"]

ISO2_NAMESPACE = "urn:iso:15118:2:2013:MsgDef"
ISO20_NAMESPACE = "urn:iso:std:iso:15118:-20:CommonMessages"


@dataclass(frozen=True, slots=True, kw_only=True)
class ContractOutcome:
    """What the provider did with one request."""

    station_id: str
    schema: str  #: ``iso2`` or ``iso20``
    action: str  #: ``Install`` or ``Update``
    emaid: str | None  #: the eMAID issued (``None`` when refused)
    reason: str = ""  #: why it was refused


def _utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


class _Tree:
    """One tree of the test PKI: the MO sub-CA that issues, and the roots the requests are checked against."""

    def __init__(self, folder: Path, profile_name: str) -> None:
        from cryptography import x509
        from cryptography.hazmat.primitives.serialization import load_pem_private_key

        from evcharge.iso15118.security.pki import TREES, Issued

        self.folder = folder
        self.profile = next(p for p in TREES if p.name == profile_name)
        sub1 = x509.load_pem_x509_certificate((folder / "mo_sub1.pem").read_bytes())
        self.mo_sub2 = Issued(
            name="mo_sub2",
            certificate=x509.load_pem_x509_certificate((folder / "mo_sub2.pem").read_bytes()),
            key=load_pem_private_key((folder / "mo_sub2.key.pem").read_bytes(), None),  # type: ignore[arg-type]
            chain=[sub1],
        )
        self.oem_roots = (folder / "oem_roots.pem").read_bytes()
        self.mo_roots = (folder / "mo_roots.pem").read_bytes()
        # ISO 15118-2 sends the OEM provisioning leaf alone: its sub-CAs are the tree's
        self.oem_subs = [(folder / name).read_bytes() for name in ("oem_sub2.der", "oem_sub1.der")]

    def issue(self, emaid: str, now: datetime.datetime) -> tuple[list[bytes], Any]:
        """A contract certificate for ``emaid`` from MO sub-CA 2: (chain leaf first, DER; private key)."""
        from cryptography.hazmat.primitives.serialization import Encoding

        from evcharge.iso15118.security.pki import PkiOptions, issue_certificate, subject_name

        options = PkiOptions(emaid=emaid, now=now)
        leaf = issue_certificate(
            "contract", subject_name(emaid, "MO", options), self.profile, options, issuer=self.mo_sub2, ca=False,
            days=options.leaf_days,
            key_usage={"digital_signature": True, "key_agreement": True, "content_commitment": True})
        return [c.public_bytes(Encoding.DER) for c in (leaf.certificate, *leaf.chain)], leaf.key


class _Refused(Exception):
    pass


class TestPkiContractProvider:
    """The local contract-certificate provider on a test PKI folder (``evcharge v2g pki --out DIR``).

    ``emaid_prefix`` is the country and provider part of the eMAIDs issued (``DE-EVC``: ``DE-EVC-C1A2B3C4D``);
    the instance part is random, so every request gets a fresh eMAID. ``clock`` gives the UTC time of the
    certificate checks and of the new certificate's validity.
    """

    __test__ = False  # not a pytest class despite its name

    def __init__(self, pki: str | Path, *, emaid_prefix: str = "DE-EVC",
                 clock: Callable[[], datetime.datetime] = _utcnow) -> None:
        require("cryptography", "csms", feature="the contract-certificate provider")
        from evcharge.iso15118.engines.iso20.pnc import Iso20TestProvider
        from evcharge.iso15118.engines.pnc import LocalTestProvider

        base = Path(pki)
        if not base.is_dir():
            raise ValueError(f"{base} is not a folder (make one with: evcharge v2g pki --out DIR)")
        country, _, operator = emaid_prefix.partition("-")
        if len(country) != 2 or len(operator) != 3 or not (country + operator).isalnum():
            raise ValueError(f"eMAID prefix {emaid_prefix!r} is not CC-PPP (country, provider id)")
        self.emaid_prefix = emaid_prefix.upper()
        self.clock = clock
        self._iso2: tuple[_Tree, LocalTestProvider] | None = None
        self._iso20: tuple[_Tree, Iso20TestProvider] | None = None
        self._iso20_ed448: tuple[_Tree, Iso20TestProvider] | None = None
        try:
            if (base / "iso2").is_dir():
                self._iso2 = (_Tree(base / "iso2", "iso2"), LocalTestProvider(base / "iso2"))
            if (base / "iso20").is_dir():
                self._iso20 = (_Tree(base / "iso20", "iso20"), Iso20TestProvider(base / "iso20"))
            if (base / "iso20-ed448").is_dir():
                ed_tree = base / "iso20-ed448"
                self._iso20_ed448 = (_Tree(ed_tree, "iso20-ed448"), Iso20TestProvider(ed_tree))
        except (OSError, ValueError, TypeError) as exc:
            raise ValueError(f"{base} is not a complete test PKI ({exc})") from None
        if self._iso2 is None and self._iso20 is None and self._iso20_ed448 is None:
            raise ValueError(f"{base} has neither an iso2 nor an iso20 tree (evcharge v2g pki --out DIR)")
        self.log: list[ContractOutcome] = []  #: what became of each request, in order

    def _fresh_emaid(self) -> str:
        instance = "C" + secrets.token_hex(4).upper()  # 9 characters: 14 without separators (eMAIDType 14-15)
        return f"{self.emaid_prefix}-{instance}"

    async def get_ev_certificate(self, station_id: str, schema_version: str, action: str, exi_request: str
                                 ) -> ContractResponse:
        schema = "iso2" if schema_version == ISO2_NAMESPACE else "iso20" if schema_version == ISO20_NAMESPACE else "?"
        try:
            if schema == "?":
                raise _Refused(f"unknown ISO 15118 schema {schema_version!r}")
            try:
                exi = base64.b64decode(exi_request, validate=True)
            except (binascii.Error, ValueError):
                raise _Refused("exiRequest is not base64") from None
            if schema == "iso2":
                emaid, answer = self._iso2_answer(action, exi)
            else:
                emaid, answer = self._iso20_answer(action, exi)
        except _Refused as exc:
            self.log.append(ContractOutcome(station_id=station_id, schema=schema, action=action, emaid=None,
                                            reason=str(exc)))
            return ContractResponse(status="Failed", exi_response="")
        self.log.append(ContractOutcome(station_id=station_id, schema=schema, action=action, emaid=emaid))
        return ContractResponse(status="Accepted", exi_response=base64.b64encode(answer).decode())

    # -- ISO 15118-2 ------------------------------------------------------------------------------

    def _iso2_answer(self, action: str, exi: bytes) -> tuple[str, bytes]:
        from evcharge.iso15118 import iso2
        from evcharge.iso15118.engines.pnc import PkiContractVerifier, iso2_emaid
        from evcharge.iso15118.security.chain import CertificateRole, validate_chain
        from evcharge.iso15118.security.errors import CertificateError

        if self._iso2 is None:
            raise _Refused("the test PKI has no iso2 tree")
        tree, provider = self._iso2
        try:
            msg = iso2.decode(exi)
        except Exception as exc:  # any decoding failure of the car's bytes is a refusal, never a crash
            raise _Refused(f"exiRequest does not decode as ISO 15118-2: {exc}") from None
        now = self.clock()
        body = msg.body
        if action == "Install":
            req = body.certificate_installation_req
            if req is None:
                raise _Refused("action Install without a CertificateInstallationReq")
            try:
                validate_chain(req.oem_provisioning_cert, tree.oem_subs, tree.oem_roots, now=now,
                               role=CertificateRole.OEM_PROVISIONING)
            except (CertificateError, ValueError) as exc:
                raise _Refused(f"the OEM provisioning certificate does not verify: {exc}") from None
            signer: tuple[bytes, ...] = (req.oem_provisioning_cert,)
            kind = "installation"
        elif action == "Update":
            req = body.certificate_update_req
            if req is None:
                raise _Refused("action Update without a CertificateUpdateReq")
            chain = req.contract_signature_cert_chain
            signer = (chain.certificate, *(chain.sub_certificates.certificate if chain.sub_certificates else ()))
            code = PkiContractVerifier(tree.mo_roots, clock=lambda: now).verify_chain(signer, req.e_maid)
            if code is not None:
                raise _Refused(f"the contract certificate to update does not verify ({code})")
            kind = "update"
        else:
            raise _Refused(f"unknown action {action!r}")
        if not PkiContractVerifier(tree.mo_roots).verify_signature(msg, req, signer[:1]):
            raise _Refused("the request's signature does not verify with its certificate's key")
        emaid = self._fresh_emaid()
        chain_der, key = tree.issue(emaid, now)
        issuer = copy.copy(provider)  # the engines' provider, with this request's contract
        issuer.contract_chain, issuer.contract_key, issuer.emaid = chain_der, key, iso2_emaid(emaid)
        try:
            answer = issuer.answer(kind, msg)
        except (ValueError, TypeError, EvchargeError) as exc:  # e.g. a key that is not on the tree's curve
            raise _Refused(f"cannot encrypt the contract key to the car: {exc}") from None
        assert answer is not None
        res, signature = answer
        attr = "certificate_installation_res" if kind == "installation" else "certificate_update_res"
        out = iso2.V2G_Message(header=iso2.MessageHeader(session_id=msg.header.session_id, signature=signature),
                               body=iso2.Body(**{attr: res}))
        return emaid, iso2.encode(out)

    # -- ISO 15118-20 -----------------------------------------------------------------------------

    def _iso20_answer(self, action: str, exi: bytes) -> tuple[str, bytes]:
        from cryptography import x509
        from cryptography.exceptions import UnsupportedAlgorithm
        from cryptography.hazmat.primitives.asymmetric import ed448

        from evcharge.iso15118.engines.iso20.pnc import chain_of, verify_header_signature
        from evcharge.iso15118.iso20 import common
        from evcharge.iso15118.security.chain import CertificateRole, validate_chain
        from evcharge.iso15118.security.errors import CertificateError

        if self._iso20 is None and self._iso20_ed448 is None:
            raise _Refused("the test PKI has no iso20 tree")
        if action != "Install":
            raise _Refused("ISO 15118-20 has no certificate update (action Install only)")
        try:
            msg = common.decode(exi)
        except Exception as exc:  # any decoding failure of the car's bytes is a refusal, never a crash
            raise _Refused(f"exiRequest does not decode as ISO 15118-20: {exc}") from None
        if not isinstance(msg, common.CertificateInstallationReq):
            raise _Refused(f"action Install with a {type(msg).__name__}, not a CertificateInstallationReq")
        try:
            leaf = x509.load_der_x509_certificate(msg.oem_provisioning_certificate_chain.certificate)
            ed = isinstance(leaf.public_key(), ed448.Ed448PublicKey)  # the curve of the car's PKI picks the tree
        except (ValueError, UnsupportedAlgorithm) as exc:
            raise _Refused(f"the OEM provisioning certificate does not parse: {exc}") from None
        pair = self._iso20_ed448 if ed else self._iso20
        if pair is None:
            raise _Refused(f"the test PKI has no {'iso20-ed448' if ed else 'iso20'} tree for this car's certificate")
        tree, provider = pair
        now = self.clock()
        oem = chain_of(msg.oem_provisioning_certificate_chain)
        try:
            validate_chain(oem[0], list(oem[1:]), tree.oem_roots, now=now, role=CertificateRole.OEM_PROVISIONING)
        except (CertificateError, ValueError) as exc:
            raise _Refused(f"the OEM provisioning chain does not verify: {exc}") from None
        problem = verify_header_signature(
            msg, "OEMProvisioningCertificateChain", msg.oem_provisioning_certificate_chain, oem[0]
        )
        if problem is not None:
            raise _Refused(f"the request's signature does not verify: {problem}")
        emaid = self._fresh_emaid()
        chain_der, key = tree.issue(emaid, now)
        issuer = copy.copy(provider)
        issuer.contract_chain, issuer.contract_key = chain_der, key
        try:
            res, signature = issuer.answer(msg)
        except (ValueError, TypeError, EvchargeError) as exc:
            raise _Refused(f"cannot encrypt the contract key to the car: {exc}") from None
        res = dataclasses.replace(res, header=dataclasses.replace(res.header, signature=signature))
        return emaid, common.encode(res)
