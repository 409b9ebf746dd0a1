"""Plug & Charge for the ISO 15118-20 engines: contract checks, -20 signatures, CertificateInstallation.

The cryptography is the communication layer's (``evcharge.iso15118.security``: chain validation with the
14-day expiry flag, XML signatures over EXI fragments with ecdsa-sha512 (secp521r1) or Ed448, the -20
contract-key transport); this module applies the -20 rules (``shared/facts/v2g_slac_iec61851.md`` §2.5):

* SECC, AuthorizationReq(PnC): the header signature covers ``PnC_AReqAuthorizationMode`` and verifies with the
  contract certificate's key, r||s encoding ([V2G20-1000]; FAILED_SignatureError); the GenChallenge is the
  one of AuthorizationSetupRes ([V2G20-2565]; WARNING_ChallengeInvalid, checked by the engine); the contract
  chain reaches a trusted MO root (WARNING_CertificateValidationError / WARNING_CertificateExpired), and a
  chain that expires within 14 days is answered OK_CertificateExpiresSoon ([V2G20-2218]); a repeated
  AuthorizationReq (the Ongoing loop) may differ from the first only in its header's timestamp
  ([V2G20-1582]; FAILED otherwise).
* SECC, MeteringConfirmationReq under PnC: the signature covers ``SignedMeteringData`` and verifies with the
  contract key (FAILED_MeteringSignatureNotValid).
* CertificateInstallation: :class:`Iso20TestProvider` answers from a test PKI (``evcharge v2g pki``): the
  contract key encrypted for the car's OEM provisioning certificate (AES-256-GCM, AAD = PCID || contract SKI;
  ``ECDHCurve`` SECP521 for a secp521r1 certificate, X448 with the certificate's Alternate Subject Public Key for
  an Ed448 one), ``SignedInstallationData`` signed by the CPS leaf. The car (:class:`EvccContract`) checks
  the CPS chain up to a V2G root, the signature, decrypts the key and uses the new contract (an Ed448 contract
  key installed with X448 is an :class:`~evcharge.iso15118.security.ed448.Ed448ScalarKey`, which signs like
  any Ed448 key).

Needs the ``cryptography`` package (the ``v2g`` extra).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evcharge.iso15118.iso20 import common

from ..pnc import _emaid_of, _load, sign_header

__all__ = [
    "EvccContract",
    "Iso20TestProvider",
    "PncTrust",
    "chain_of",
    "check_authorization",
    "check_metering",
    "vehicle_certificate_hash",
    "verify_header_signature",
]


def _tree(pki: str | Path) -> Path:
    return Path(pki) / "iso20" if (Path(pki) / "iso20").is_dir() else Path(pki)


def chain_of(chain: Any) -> tuple[bytes, ...]:
    """The DER certificates of a -20 certificate chain element (``CertificateChain``,
    ``SignedCertificateChain``, ``ContractCertificateChain``): the leaf first, then its sub-CAs."""
    subs = chain.sub_certificates.certificate if chain.sub_certificates is not None else []
    return (chain.certificate, *subs)


def vehicle_certificate_hash(peer_chain: tuple[bytes, ...]) -> bytes | None:
    """SHA-256 of the vehicle's (OEM provisioning) leaf certificate of the TLS 1.3 mutual authentication."""
    if not peer_chain:
        return None
    import hashlib

    return hashlib.sha256(peer_chain[0]).digest()


class Iso20TestProvider:
    """Answers CertificateInstallationReq from the ``iso20`` tree of a test PKI."""

    def __init__(self, pki: str | Path) -> None:
        from cryptography.hazmat.primitives.serialization import load_pem_private_key

        tree = _tree(pki)
        self.contract_chain = _load(tree / "contract_chain.pem")
        self.contract_key = load_pem_private_key((tree / "contract.key.pem").read_bytes(), None)
        self.cps_chain = _load(tree / "cps_chain.pem")
        self.cps_key = load_pem_private_key((tree / "cps.key.pem").read_bytes(), None)

    def answer(self, message: Any) -> tuple[Any, Any]:
        """(CertificateInstallationRes, its header Signature) for a CertificateInstallationReq. The contract key is
        encrypted for the car's OEM provisioning certificate: ``ECDHCurve`` SECP521 (ECDH with its secp521r1 key)
        or, for an Ed448 certificate, X448 (with its Alternate Subject Public Key, [V2G20-2534])."""
        from cryptography import x509
        from cryptography.hazmat.primitives.asymmetric import ed448

        from evcharge.iso15118.security.contract_key import (
            aad_iso20,
            alternate_public_key,
            encrypt_iso20,
            encrypt_x448,
        )

        oem = x509.load_der_x509_certificate(message.oem_provisioning_certificate_chain.certificate)
        contract = x509.load_der_x509_certificate(self.contract_chain[0])
        aad = aad_iso20(_emaid_of(oem), contract)
        curve: dict[str, Any]
        if isinstance(oem.public_key(), ed448.Ed448PublicKey):
            encrypted = encrypt_x448(self.contract_key, alternate_public_key(oem), aad=aad)  # type: ignore[arg-type]
            curve = {"ecdh_curve": common.EcdhCurve.X448, "x448_encrypted_private_key": encrypted.encrypted_private_key}
        else:
            encrypted = encrypt_iso20(
                self.contract_key,  # type: ignore[arg-type]
                oem.public_key(),  # type: ignore[arg-type]
                aad=aad,
            )
            curve = {
                "ecdh_curve": common.EcdhCurve.SECP521,
                "secp521_encrypted_private_key": encrypted.encrypted_private_key,
            }
        c = common
        data = c.SignedInstallationData(
            id_="id1",
            contract_certificate_chain=c.ContractCertificateChain(
                certificate=self.contract_chain[0],
                sub_certificates=c.SubCertificates(certificate=list(self.contract_chain[1:])),
            ),
            dh_public_key=encrypted.dh_public_key,
            **curve,
        )
        res = c.CertificateInstallationRes(
            header=c.MessageHeader(session_id=message.header.session_id, time_stamp=message.header.time_stamp),
            response_code=c.ResponseCode.OK,
            evse_processing=c.Processing.Finished,
            cps_certificate_chain=c.CertificateChain(
                certificate=self.cps_chain[0],
                sub_certificates=c.SubCertificates(certificate=list(self.cps_chain[1:]))
                if len(self.cps_chain) > 1
                else None,
            ),
            signed_installation_data=data,
            remaining_contract_certificate_chains=0,
        )
        return res, sign_header(common, [("SignedInstallationData", data)], self.cps_key)


@dataclass(frozen=True, slots=True, kw_only=True)
class PncTrust:
    """What the SECC trusts for Plug & Charge: the MO roots, and who answers CertificateInstallation
    (``None``: the application, through :class:`~evcharge.iso15118.engines.events.CertificateRequested`)."""

    mo_roots: bytes
    provider: Iso20TestProvider | None = None

    @classmethod
    def from_pki(cls, pki: str | Path, *, provider: bool = True) -> PncTrust:
        tree = _tree(pki)
        return cls(mo_roots=(tree / "mo_roots.pem").read_bytes(), provider=Iso20TestProvider(pki) if provider else None)


def verify_header_signature(message: Any, name: str, element: Any, leaf_der: bytes) -> str | None:
    """Whether ``message``'s -20 header signature signs ``element`` (the XSD element ``name`` with an ``id_``, its
    digest taken over its EXI fragment) and verifies with the key of the certificate ``leaf_der`` (ecdsa-sha512 or
    Ed448): ``None`` when it does, else why not (no signature, a wrong digest, key or algorithm, a certificate
    that does not parse)."""
    from cryptography import x509

    from evcharge.iso15118.security.errors import SignatureError
    from evcharge.iso15118.security.signature import ISO20_ALGORITHMS, verify

    signature = message.header.signature
    if signature is None:
        return "the request is not signed"
    try:
        leaf = x509.load_der_x509_certificate(leaf_der)
        fragments = {element.id_: common.codec.encode_fragment(element, name)}
        verify(
            signature.signed_info,
            signature.signature_value.value,
            fragments,
            leaf.public_key(),  # type: ignore[arg-type]
            allowed=ISO20_ALGORITHMS,
        )
    except SignatureError as exc:
        return str(exc)
    except ValueError as exc:
        return f"the contract certificate cannot be read: {exc}"
    return None


def check_authorization(secc: Any, msg: Any, pnc: Any, now: float) -> tuple[str, str] | None:
    """The -20 PnC checks of an AuthorizationReq: ``None`` (go on), ``("OK_CertificateExpiresSoon", ...)``, a
    WARNING (answered, the car may stop) or a FAILED code (answered, the session ends)."""
    from evcharge.iso15118.security.chain import CertificateRole, validate_chain
    from evcharge.iso15118.security.errors import CertificateError, CertificateExpiredError

    trust: PncTrust | None = secc.config.pnc
    if trust is None:
        return ("WARNING_GeneralPnCAuthorizationError", "no Plug & Charge trust configured")
    fragment = common.codec.encode_fragment(pnc, "PnC_AReqAuthorizationMode")
    first = getattr(secc, "_pnc_first", None)
    if first is None:
        secc._pnc_first = fragment
    elif first != fragment:
        return ("FAILED", "a repeated AuthorizationReq differs from the first in more than its timestamp [V2G20-1582]")
    chain = chain_of(pnc.contract_certificate_chain)
    problem = verify_header_signature(msg, "PnC_AReqAuthorizationMode", pnc, chain[0])
    if problem is not None:
        return ("FAILED_SignatureError", problem)
    try:
        result = validate_chain(
            chain[0], list(chain[1:]), trust.mo_roots, now=secc.clock.utc(now), role=CertificateRole.CONTRACT
        )
    except CertificateExpiredError as exc:
        return ("WARNING_CertificateExpired", str(exc))
    except CertificateError as exc:
        return ("WARNING_CertificateValidationError", str(exc))
    secc.emaid = _emaid_of(result.leaf)
    secc.contract_chain = chain
    if result.expires_soon:
        return ("OK_CertificateExpiresSoon", "the contract chain expires within 14 days [V2G20-2218]")
    return None


def check_metering(secc: Any, msg: Any) -> str | None:
    chain = getattr(secc, "contract_chain", ())
    if not chain:
        return "no contract certificate in this session"
    return verify_header_signature(msg, "SignedMeteringData", msg.signed_metering_data, chain[0])


class EvccContract:
    """The car's Plug & Charge material: the contract chain and key (empty until installed), the OEM
    provisioning certificate and key, and the V2G roots to check the CPS chain of an installation.

    With an Ed448 PKI, ``provisioning_agreement_key`` is the X448 private key of the provisioning certificate's
    Alternate Subject Public Key: an installation with ``ECDHCurve`` X448 is decrypted with it ([V2G20-2534]) and
    the contract key becomes an :class:`~evcharge.iso15118.security.ed448.Ed448ScalarKey`, which signs the
    AuthorizationReq and MeteringConfirmationReq like any Ed448 key."""

    def __init__(
        self,
        *,
        chain: list[bytes],
        key: Any,
        provisioning_chain: list[bytes],
        provisioning_key: Any,
        v2g_roots: bytes,
        provisioning_agreement_key: Any = None,
    ) -> None:
        self.chain = chain
        self.key = key
        self.provisioning_chain = provisioning_chain
        self.provisioning_key = provisioning_key
        self.v2g_roots = v2g_roots
        self.provisioning_agreement_key = provisioning_agreement_key

    @classmethod
    def from_pki(cls, pki: str | Path, *, installed: bool = False) -> EvccContract:
        """From a test PKI (the ``iso20`` tree of a folder, or a tree folder such as ``iso20-ed448``);
        ``installed=False``: no contract yet (CertificateInstallation first)."""
        from cryptography.hazmat.primitives.serialization import load_pem_private_key

        tree = _tree(pki)
        alternate = tree / "oem_prov.x448.key.pem"
        return cls(
            chain=_load(tree / "contract_chain.pem") if installed else [],
            key=load_pem_private_key((tree / "contract.key.pem").read_bytes(), None) if installed else None,
            provisioning_chain=_load(tree / "oem_prov_chain.pem"),
            provisioning_key=load_pem_private_key((tree / "oem_prov.key.pem").read_bytes(), None),
            v2g_roots=(tree / "v2g_roots.pem").read_bytes(),
            provisioning_agreement_key=(
                load_pem_private_key(alternate.read_bytes(), None) if alternate.exists() else None
            ),
        )

    # -- the engine calls these -------------------------------------------------------------------

    def needs_installation(self, evcc: Any, res: Any) -> bool:
        return not self.chain and bool(res.certificate_installation_service)

    def certificate_installation_fields(self, evcc: Any) -> dict[str, Any]:
        from cryptography import x509

        c = common
        roots = [x509.load_der_x509_certificate(r) for r in _load_bytes(self.v2g_roots)]
        return {
            "oem_provisioning_certificate_chain": c.SignedCertificateChain(
                id_="id1",
                certificate=self.provisioning_chain[0],
                sub_certificates=c.SubCertificates(certificate=list(self.provisioning_chain[1:]))
                if len(self.provisioning_chain) > 1
                else None,
            ),
            "list_of_root_certificate_i_ds": c.ListOfRootCertificateIDs(
                root_certificate_id=[
                    c.X509IssuerSerial(x509_issuer_name=r.issuer.rfc4514_string(), x509_serial_number=r.serial_number)
                    for r in roots
                ]
            ),
            "maximum_contract_certificate_chains": 1,
        }

    def authorization_mode(self, evcc: Any) -> Any:
        c = common
        return c.PnC_AReqAuthorizationMode(
            id_="id1",
            gen_challenge=evcc.gen_challenge or b"\x00" * 16,
            contract_certificate_chain=c.ContractCertificateChain(
                certificate=self.chain[0], sub_certificates=c.SubCertificates(certificate=list(self.chain[1:]))
            ),
        )

    def sign_request(self, evcc: Any, request: str, msg: Any, mod: Any) -> Any:
        """The header signature the -20 rules ask of a request (others are returned as they are)."""
        if request == "Authorization" and msg.pn_c_a_req_authorization_mode is not None:
            signature = sign_header(mod, [("PnC_AReqAuthorizationMode", msg.pn_c_a_req_authorization_mode)], self.key)
        elif request == "CertificateInstallation":
            signature = sign_header(
                mod,
                [("OEMProvisioningCertificateChain", msg.oem_provisioning_certificate_chain)],
                self.provisioning_key,
            )
        elif request == "MeteringConfirmation" and self.key is not None:
            signature = sign_header(mod, [("SignedMeteringData", msg.signed_metering_data)], self.key)
        else:
            return msg
        return dataclasses.replace(msg, header=dataclasses.replace(msg.header, signature=signature))

    def installed(self, evcc: Any, res: Any, now: float) -> None:
        """Check a CertificateInstallationRes (CPS chain to a V2G root, signature) and take its contract."""
        from cryptography import x509

        from evcharge.iso15118.security.chain import CertificateRole, validate_chain
        from evcharge.iso15118.security.contract_key import (
            EncryptedContractKey,
            aad_iso20,
            decrypt_iso20,
            decrypt_x448,
        )
        from evcharge.iso15118.security.errors import ContractKeyError

        cps = chain_of(res.cps_certificate_chain)
        leaf = validate_chain(cps[0], list(cps[1:]), self.v2g_roots, now=evcc.clock.utc(now), role=CertificateRole.CPS)
        data = res.signed_installation_data
        problem = verify_header_signature(res, "SignedInstallationData", data, cps[0])
        if problem is not None:
            from evcharge.iso15118.security.errors import SignatureError

            raise SignatureError(problem)
        del leaf
        chain = list(chain_of(data.contract_certificate_chain))
        contract = x509.load_der_x509_certificate(chain[0])
        oem = x509.load_der_x509_certificate(self.provisioning_chain[0])
        aad = aad_iso20(_emaid_of(oem), contract)
        key: Any
        if data.ecdh_curve == common.EcdhCurve.X448:
            if data.x448_encrypted_private_key is None:
                raise ContractKeyError("ECDHCurve X448 without an X448_EncryptedPrivateKey")
            if self.provisioning_agreement_key is None:
                raise ContractKeyError("ECDHCurve X448 but the car has no X448 key (Alternate Subject Public Key)")
            key = decrypt_x448(
                EncryptedContractKey(
                    dh_public_key=data.dh_public_key, encrypted_private_key=data.x448_encrypted_private_key
                ),
                self.provisioning_agreement_key,
                aad=aad,
                contract_certificate=contract,
            )
        else:
            if data.secp521_encrypted_private_key is None:
                raise ContractKeyError("ECDHCurve SECP521 without a SECP521_EncryptedPrivateKey")
            key = decrypt_iso20(
                EncryptedContractKey(
                    dh_public_key=data.dh_public_key, encrypted_private_key=data.secp521_encrypted_private_key
                ),
                self.provisioning_key,
                aad=aad,
                contract_certificate=contract,
            )
        self.chain = chain
        self.key = key


def _load_bytes(pem: bytes) -> list[bytes]:
    from cryptography.hazmat.primitives.serialization import Encoding

    from evcharge.iso15118.security.chain import load_certificates

    return [c.public_bytes(Encoding.DER) for c in load_certificates(pem)]
