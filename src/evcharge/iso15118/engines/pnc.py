"""Plug & Charge for the ISO 15118-2 engines: contract checks, signatures, certificate provisioning.

The checks themselves are the communication layer's (``evcharge.iso15118.security``); this module
puts them behind the small interfaces the engines call:

* :class:`ContractVerifier` (SECC): the contract chain of PaymentDetailsReq up to a trusted MO root
  (FAILED_CertChainError, FAILED_CertificateExpired) and the header signatures of AuthorizationReq and
  MeteringReceiptReq with the contract key (FAILED_SignatureError, FAILED_MeteringSignatureNotValid).
  :class:`PkiContractVerifier` is the implementation on the security package.
* :class:`CertificateProvider` (SECC): answers CertificateInstallationReq / CertificateUpdateReq. The
  OCPP 2.0.1 Get15118EVCertificate path plugs in here (or through the
  :class:`~evcharge.iso15118.engines.events.CertificateRequested` event);
  :class:`LocalTestProvider` signs from a test PKI (``evcharge v2g pki --out DIR``).
* :class:`Contract` (EVCC): the car's contract certificate chain and key, and the helpers that sign its
  requests and install a contract from a CertificateInstallationRes.

Needs the ``cryptography`` package (the ``iso15118`` extra).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

__all__ = [
    "CertificateProvider",
    "Contract",
    "ContractVerifier",
    "LocalTestProvider",
    "PkiContractVerifier",
    "Provisioning",
    "iso2_emaid",
    "sign_header",
]


class ContractVerifier(Protocol):
    def verify_chain(self, certs: tuple[bytes, ...], emaid: str) -> str | None:
        """None when the chain (leaf first, DER) is good, else the response code to answer."""

    def verify_signature(self, message: Any, body: Any, chain: tuple[bytes, ...]) -> bool:
        """Whether ``message``'s header signature covers ``body`` and verifies with the chain's leaf."""


class CertificateProvider(Protocol):
    def answer(self, kind: str, message: Any) -> tuple[Any, Any] | None:
        """(response body, header Signature) for a CertificateInstallation/UpdateReq message, or None."""


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _load(path: Path) -> list[bytes]:
    from cryptography.hazmat.primitives.serialization import Encoding

    from evcharge.iso15118.security.chain import load_certificates

    return [c.public_bytes(Encoding.DER) for c in load_certificates(path.read_bytes())]


def _emaid_of(cert: Any) -> str:
    from cryptography.x509.oid import NameOID

    attrs = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(attrs[0].value) if attrs else ""


def _norm(emaid: str) -> str:
    """The eMAID as ISO 15118-2 compares it: without separators, upper case."""
    return emaid.replace("-", "").upper()


def iso2_emaid(cn: str) -> str:
    """The eMAID ISO 15118-2 carries for a contract certificate's CN: without separators, 14 or 15 characters
    (eMAIDType). A CN that does not fit is an error, never cut short (a cut eMAID names another contract)."""
    from evcharge.errors import LocalProtocolError

    emaid = _norm(cn)
    if not 14 <= len(emaid) <= 15 or not emaid.isalnum():
        raise LocalProtocolError(
            f"the contract certificate's CN {cn!r} is not an ISO 15118-2 eMAID: 14-15 letters and digits without"
            " its separators (e.g. NL-TNM-000122045-U)"
        )
    return emaid


class PkiContractVerifier:
    """Contract checks against the MO roots (``mo_roots``: PEM/DER bytes or a file)."""

    def __init__(self, mo_roots: bytes | Path, *, clock: Callable[[], Any] = _utcnow) -> None:
        from evcharge.errors import require

        require("cryptography", "iso15118", feature="Plug & Charge")
        self.roots = mo_roots.read_bytes() if isinstance(mo_roots, Path) else mo_roots
        self.clock = clock

    def verify_chain(self, certs: tuple[bytes, ...], emaid: str) -> str | None:
        from evcharge.iso15118.security.chain import CertificateRole, validate_chain
        from evcharge.iso15118.security.errors import CertificateError, CertificateExpiredError

        if not certs:
            return "FAILED_CertChainError"
        try:
            result = validate_chain(
                certs[0], list(certs[1:]), self.roots, now=self.clock(), role=CertificateRole.CONTRACT
            )
        except CertificateExpiredError:
            return "FAILED_CertificateExpired"
        except CertificateError:
            return "FAILED_CertChainError"
        if _norm(_emaid_of(result.leaf)) != _norm(emaid):
            return "FAILED_CertChainError"  # the eMAID is the contract certificate's subject CN
        return None

    def verify_signature(self, message: Any, body: Any, chain: tuple[bytes, ...]) -> bool:
        """The header signature verifies with the chain's leaf key and one of its References is the request
        element itself (``#`` + ``body.id_``): a signature over some other element of the message does not
        sign the request."""
        return bool(chain) and signed_by_certificate(message, body, chain[0])


def signed_by_certificate(message: Any, body: Any, certificate: bytes) -> bool:
    """Whether ``message``'s ISO 15118-2 header signature verifies with the public key of ``certificate`` (DER)
    and one of its References is the request element ``body`` itself (``#`` + ``body.id_``). A certificate that
    does not parse, a missing signature, a wrong digest or key: False."""
    from evcharge.errors import require

    require("cryptography", "iso15118", feature="Plug & Charge signatures")
    from cryptography import x509

    from evcharge.iso15118.security.errors import SignatureError
    from evcharge.iso15118.security.signature import ISO2_ALGORITHMS, find_fragments, signed_info_as_dict, verify

    signature = message.header.signature
    if signature is None or not certificate:
        return False
    try:
        leaf = x509.load_der_x509_certificate(certificate)
        verify(
            signature.signed_info,
            signature.signature_value.value,
            find_fragments(body),
            leaf.public_key(),  # type: ignore[arg-type]
            allowed=ISO2_ALGORITHMS,
        )
        references = signed_info_as_dict(signature.signed_info).get("Reference") or []
    except (SignatureError, ValueError, TypeError):  # TypeError: a key that is not an ECDSA one
        return False
    ident = getattr(body, "id_", None)
    return ident is None or any(ref.get("URI") == "#" + ident for ref in references)


def sign_header(mod: Any, elements: list[tuple[str, Any]], private_key: Any) -> Any:
    """A header ``Signature`` of message set ``mod`` over ``elements``: (XSD element name, element with an
    ``id_``) pairs; the digests are of each element's EXI fragment."""
    from evcharge.iso15118.security.signature import sign

    fragments = {element.id_: mod.codec.encode_fragment(element, name) for name, element in elements}
    signed = sign(fragments, private_key)
    info = mod.codec.fragment_from_dict({"SignedInfo": signed.signed_info})
    return mod.Signature(signed_info=info, signature_value=mod.SignatureValue(value=signed.signature_value))


def _chain(mod: Any, certs: list[bytes], id_: str | None) -> Any:
    subs = mod.SubCertificates(certificate=certs[1:]) if len(certs) > 1 else None
    return mod.CertificateChain(certificate=certs[0], sub_certificates=subs, id_=id_)


@dataclass(frozen=True, slots=True)
class _Key:
    cert: bytes
    key: Any


class LocalTestProvider:
    """Answers CertificateInstallation/Update from a test PKI folder (the ``iso2`` tree of
    ``evcharge v2g pki``): the contract chain and key of the tree, the key encrypted for the car's OEM
    provisioning (or old contract) certificate, the four elements signed by the CPS leaf."""

    def __init__(self, pki: str | Path) -> None:
        from cryptography.hazmat.primitives.serialization import load_pem_private_key

        tree = Path(pki) / "iso2" if (Path(pki) / "iso2").is_dir() else Path(pki)
        self.contract_chain = _load(tree / "contract_chain.pem")
        self.contract_key = load_pem_private_key((tree / "contract.key.pem").read_bytes(), None)
        self.cps_chain = _load(tree / "cps_chain.pem")
        self.cps_key = load_pem_private_key((tree / "cps.key.pem").read_bytes(), None)
        from cryptography import x509

        self.emaid = iso2_emaid(_emaid_of(x509.load_der_x509_certificate(self.contract_chain[0])))

    def answer(self, kind: str, message: Any) -> tuple[Any, Any] | None:
        from cryptography import x509

        from evcharge.iso15118 import iso2 as mod
        from evcharge.iso15118.security.contract_key import encrypt_iso2

        body = message.body
        if kind == "installation":
            receiver = x509.load_der_x509_certificate(body.certificate_installation_req.oem_provisioning_cert)
        else:
            receiver = x509.load_der_x509_certificate(
                body.certificate_update_req.contract_signature_cert_chain.certificate
            )
        encrypted = encrypt_iso2(self.contract_key, receiver.public_key())  # type: ignore[arg-type]
        elements = [
            _chain(mod, self.contract_chain, "id1"),
            mod.ContractSignatureEncryptedPrivateKey(id_="id2", value=encrypted.encrypted_private_key),
            mod.DiffieHellmanPublickey(id_="id3", value=encrypted.dh_public_key),
            mod.EMAID(id_="id4", value=self.emaid),
        ]
        fields = dict(
            response_code=mod.ResponseCode.OK,
            sa_provisioning_certificate_chain=_chain(mod, self.cps_chain, None),
            contract_signature_cert_chain=elements[0],
            contract_signature_encrypted_private_key=elements[1],
            d_hpublickey=elements[2],
            e_maid=elements[3],
        )
        res = mod.CertificateInstallationRes(**fields) if kind == "installation" else mod.CertificateUpdateRes(**fields)
        names = ("ContractSignatureCertChain", "ContractSignatureEncryptedPrivateKey", "DHpublickey", "eMAID")
        return res, sign_header(mod, list(zip(names, elements, strict=True)), self.cps_key)


class Contract:
    """The car's contract: chain (leaf first, DER), private key, eMAID."""

    def __init__(self, chain: list[bytes], key: Any, emaid: str) -> None:
        self.chain = chain
        self.key = key
        self.emaid = emaid

    @classmethod
    def from_pki(cls, pki: str | Path) -> Contract:
        from cryptography import x509
        from cryptography.hazmat.primitives.serialization import load_pem_private_key

        tree = Path(pki) / "iso2" if (Path(pki) / "iso2").is_dir() else Path(pki)
        chain = _load(tree / "contract_chain.pem")
        key = load_pem_private_key((tree / "contract.key.pem").read_bytes(), None)
        return cls(chain, key, iso2_emaid(_emaid_of(x509.load_der_x509_certificate(chain[0]))))

    @classmethod
    def from_installation(
        cls,
        res: Any,
        provisioning_key: Any,
        *,
        message: Any = None,
        v2g_roots: bytes | None = None,
        clock: Callable[[], Any] = _utcnow,
    ) -> Contract:
        """The contract of a CertificateInstallationRes / CertificateUpdateRes, its key decrypted.

        With ``v2g_roots`` (and the whole ``message``) the SA provisioning chain is checked up to a V2G root
        (role CPS) and the header signature over the four elements with its leaf, as the car must before it
        trusts the contract: :class:`~evcharge.iso15118.security.errors.CertificateError` /
        :class:`~evcharge.iso15118.security.errors.SignatureError` otherwise."""
        from cryptography import x509

        if v2g_roots is not None:
            from evcharge.iso15118 import iso2 as mod
            from evcharge.iso15118.security.chain import CertificateRole, validate_chain
            from evcharge.iso15118.security.errors import SignatureError
            from evcharge.iso15118.security.signature import ISO2_ALGORITHMS, verify

            sa = res.sa_provisioning_certificate_chain
            sa_certs = [sa.certificate, *(sa.sub_certificates.certificate if sa.sub_certificates else ())]
            leaf = validate_chain(sa_certs[0], sa_certs[1:], v2g_roots, now=clock(), role=CertificateRole.CPS).leaf
            signature = message.header.signature if message is not None else None
            if signature is None:
                raise SignatureError("the certificate response is not signed")
            names = ("ContractSignatureCertChain", "ContractSignatureEncryptedPrivateKey", "DHpublickey", "eMAID")
            elements = (
                res.contract_signature_cert_chain,
                res.contract_signature_encrypted_private_key,
                res.d_hpublickey,
                res.e_maid,
            )
            fragments = {e.id_: mod.codec.encode_fragment(e, n) for n, e in zip(names, elements, strict=True)}
            verify(
                signature.signed_info,
                signature.signature_value.value,
                fragments,
                leaf.public_key(),  # type: ignore[arg-type]
                allowed=ISO2_ALGORITHMS,
            )

        from evcharge.iso15118.security.contract_key import EncryptedContractKey, decrypt_iso2

        chain_msg = res.contract_signature_cert_chain
        chain = [chain_msg.certificate, *(chain_msg.sub_certificates.certificate if chain_msg.sub_certificates else ())]
        key = decrypt_iso2(
            EncryptedContractKey(
                dh_public_key=res.d_hpublickey.value,
                encrypted_private_key=res.contract_signature_encrypted_private_key.value,
            ),
            provisioning_key,
            contract_certificate=x509.load_der_x509_certificate(chain[0]),
        )
        return cls(chain, key, res.e_maid.value)


@dataclass(frozen=True, slots=True)
class Provisioning:
    """The car's OEM provisioning certificate and key (for CertificateInstallationReq)."""

    cert: bytes
    key: Any

    @classmethod
    def from_pki(cls, pki: str | Path) -> Provisioning:
        from cryptography.hazmat.primitives.serialization import load_pem_private_key

        tree = Path(pki) / "iso2" if (Path(pki) / "iso2").is_dir() else Path(pki)
        return cls(
            _load(tree / "oem_prov.pem")[0], load_pem_private_key((tree / "oem_prov.key.pem").read_bytes(), None)
        )
