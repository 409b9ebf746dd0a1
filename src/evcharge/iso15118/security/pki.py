"""The test PKI of ISO 15118-2 and ISO 15118-20, written to a folder (``evcharge v2g pki --out DIR``).

One tree per standard, each with four hierarchies of root -> sub-CA 1 -> sub-CA 2 -> leaf:

=========  ===========================  ========================================================
hierarchy  leaf                          use
=========  ===========================  ========================================================
V2G / CPO  ``secc`` (CN = EVSE id,       the SECC's TLS server certificate; its DC is ``CPO``
           DC = CPO)                     ([V2G2-875])
V2G / CPS  ``cps`` (DC = CPS)            signs CertificateInstallation/Update data
OEM        ``oem_prov`` (CN = PCID,      the vehicle's provisioning certificate; the -20 TLS client
           DC = OEM)                     certificate (mutual authentication)
MO         ``contract`` (CN = eMAID,     Plug & Charge contract certificate
           DC = MO)
=========  ===========================  ========================================================

``iso2/`` uses secp256r1 with ecdsa-with-SHA256 (ISO 15118-2 §7.9.2.2); ``iso20/`` uses secp521r1
with ecdsa-with-SHA512 ([V2G20-2674]); ``iso20-ed448/`` the alternative Ed448 ([V2G20-2319]).
Certificate profile (ISO 15118-2 Annex F, -20 Annex B): roots and sub-CAs carry a critical
BasicConstraints (sub-CA 1 path length 1, sub-CA 2 path length 0) and a critical KeyUsage of
keyCertSign + cRLSign; leaves are not CAs and have a critical KeyUsage of digitalSignature +
keyAgreement (the contract also nonRepudiation); every certificate has a SubjectKeyIdentifier and
every non-root an AuthorityKeyIdentifier.

Beside them, ``iso2/hubject/`` holds a V2G root with an Extended Key Usage extension that lacks
serverAuth (the shape of the Hubject roots that Python's default purpose check rejects, ecog-io/iso15118
#430) and a CPO chain and SECC certificate under it.

Files per certificate ``NAME``: ``NAME.pem``, ``NAME.der``, ``NAME.key.pem`` (PKCS#8, unencrypted: a
*test* PKI). In ``iso20-ed448/`` the OEM provisioning certificate also carries an *Alternate Subject Public
Key* (X.509 ``subjectAltPublicKeyInfo``, OID 2.5.29.72, non-critical): an X448 key, whose private key is
``oem_prov.x448.key.pem``; the contract key of a CertificateInstallation is encrypted to it ([V2G20-2534]).
Chains for TLS: ``secc_chain.pem`` (leaf, sub-CA 2, sub-CA 1), ``oem_chain.pem``,
``contract_chain.pem``, ``cps_chain.pem``; trust stores ``v2g_roots.pem``, ``oem_roots.pem``, ``mo_roots.pem``.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, x448
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from evcharge.iso15118.security.contract_key import ALT_PUBLIC_KEY_OID

__all__ = ["TREES", "Issued", "PkiOptions", "Profile", "build_tree", "issue_certificate", "subject_name", "write_pki"]

PrivateKey = ec.EllipticCurvePrivateKey | ed448.Ed448PrivateKey


@dataclass(frozen=True, slots=True, kw_only=True)
class Profile:
    """Key type and signature hash of one tree."""

    name: str
    curve: str  #: "secp256r1", "secp521r1" or "ed448"
    #: length of the SubjectKeyIdentifier; -20 uses 64 bits (its AAD carries 16 hex digits, [V2G20-2492])
    ski_bytes: int = 20

    def new_key(self) -> PrivateKey:
        if self.curve == "ed448":
            return ed448.Ed448PrivateKey.generate()
        return ec.generate_private_key(ec.SECP256R1() if self.curve == "secp256r1" else ec.SECP521R1())

    @property
    def hash(self) -> hashes.SHA256 | hashes.SHA512 | None:
        if self.curve == "secp256r1":
            return hashes.SHA256()
        return hashes.SHA512() if self.curve == "secp521r1" else None


TREES: tuple[Profile, ...] = (
    Profile(name="iso2", curve="secp256r1"),
    Profile(name="iso20", curve="secp521r1", ski_bytes=8),
    Profile(name="iso20-ed448", curve="ed448", ski_bytes=8),
)


@dataclass(frozen=True, slots=True, kw_only=True)
class PkiOptions:
    #: the contract certificate's CN, an eMAID of ISO 15118-1 form (country, provider, 9-character instance, check
    #: character) that is 15 characters without its separators, as ISO 15118-2's eMAIDType needs (14-15) and -20's
    #: identifier takes; its check character is the published example's (NL-TNM-000122045-U: the
    #: ShellRechargeSolutionsEU/mobilityid README, which computes it per ISO 15118-1 / DIN SPEC 91286)
    emaid: str = "NL-TNM-000122045-U"
    evcc_id: str = "WMIV1234567890ABCDEX"  #: the OEM provisioning certificate's CN (PCID)
    secc_id: str = "DE*ABC*E1234567*1"  #: the SECC certificate's CN (EVSE id)
    organization: str = "evcharge test PKI"
    country: str = "DE"
    leaf_days: int = 365
    sub_ca_days: int = 4 * 365
    root_days: int = 40 * 365
    trees: tuple[str, ...] = ("iso2", "iso20", "iso20-ed448")
    #: certificate validity starts this long before "now" (clock skew between test hosts)
    backdate: dt.timedelta = dt.timedelta(hours=1)
    now: dt.datetime | None = None


@dataclass(slots=True)
class Issued:
    name: str
    certificate: x509.Certificate
    key: PrivateKey
    chain: list[x509.Certificate] = field(default_factory=list)  #: issuers up to (not incl.) the root
    #: the private key of the Alternate Subject Public Key (the -20 Ed448 tree's OEM provisioning certificate)
    alternate_key: x448.X448PrivateKey | None = None


def subject_name(cn: str, dc: str, options: PkiOptions) -> x509.Name:
    """The subject of a test-PKI certificate: CN, O and C of ``options``, and the domain component ``dc``
    (``V2G``, ``CPO``, ``CPS``, ``OEM`` or ``MO``: what the chain checks of each role look for)."""
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, options.organization),
            x509.NameAttribute(NameOID.COUNTRY_NAME, options.country),
            x509.NameAttribute(NameOID.DOMAIN_COMPONENT, dc),
        ]
    )


def issue_certificate(
    name: str,
    subject: x509.Name,
    profile: Profile,
    options: PkiOptions,
    *,
    issuer: Issued | None,
    ca: bool,
    path_length: int | None = None,
    days: int,
    key_usage: dict[str, bool],
    eku: Sequence[x509.ObjectIdentifier] = (),
    alternate_key: x448.X448PrivateKey | None = None,
) -> Issued:
    """A new key of ``profile`` and its certificate, signed by ``issuer`` (``None``: self-signed root) with the
    profile of the module text: BasicConstraints (``ca``, ``path_length``), KeyUsage (``key_usage``: the
    ``x509.KeyUsage`` argument names that are set), SubjectKeyIdentifier of ``profile.ski_bytes``,
    AuthorityKeyIdentifier, an optional ExtendedKeyUsage ``eku``, and with ``alternate_key`` the X.509
    ``subjectAltPublicKeyInfo`` extension (OID 2.5.29.72, non-critical) carrying that X448 key's
    SubjectPublicKeyInfo ([V2G20-2534]). Valid from ``options.now`` less ``options.backdate`` for ``days``."""
    key = profile.new_key()
    now = (options.now or dt.datetime.now(dt.UTC)) - options.backdate
    signer_key = issuer.key if issuer else key
    issuer_name = issuer.certificate.subject if issuer else subject
    usage: dict[str, Any] = dict.fromkeys(
        ("digital_signature", "content_commitment", "key_encipherment", "data_encipherment", "key_agreement",
         "key_cert_sign", "crl_sign", "encipher_only", "decipher_only"), False)
    usage.update(key_usage)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=path_length if ca else None), critical=True)
        .add_extension(x509.KeyUsage(**usage), critical=True)
        .add_extension(
            x509.SubjectKeyIdentifier(x509.SubjectKeyIdentifier.from_public_key(key.public_key()).digest[
                : profile.ski_bytes]),
            critical=False,
        )
    )
    if issuer is not None:
        ski = issuer.certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False
        )
    if eku:
        builder = builder.add_extension(x509.ExtendedKeyUsage(list(eku)), critical=False)
    if alternate_key is not None:
        spki = alternate_key.public_key().public_bytes(serialization.Encoding.DER,
                                                        serialization.PublicFormat.SubjectPublicKeyInfo)
        builder = builder.add_extension(x509.UnrecognizedExtension(ALT_PUBLIC_KEY_OID, spki), critical=False)
    certificate = builder.sign(signer_key, profile.hash)
    chain: list[x509.Certificate] = []  # the root is the trust anchor, never part of the chain sent
    if issuer is not None and issuer.certificate.issuer != issuer.certificate.subject:
        chain = [issuer.certificate, *issuer.chain]
    return Issued(name=name, certificate=certificate, key=key, chain=chain, alternate_key=alternate_key)


_CA = {"key_cert_sign": True, "crl_sign": True}
_LEAF = {"digital_signature": True, "key_agreement": True}


def _hierarchy(prefix: str, dc_ca: str, profile: Profile, options: PkiOptions, *,
               root_eku: Sequence[x509.ObjectIdentifier] = (), root: Issued | None = None,
               root_cn: str | None = None) -> tuple[Issued, Issued, Issued]:
    issue, name = issue_certificate, subject_name
    if root is None:
        root = issue(f"{prefix}_root", name(root_cn or f"{prefix.upper()}RootCA", dc_ca, options), profile, options,
                     issuer=None, ca=True, days=options.root_days, key_usage=_CA, eku=root_eku)
    sub1 = issue(f"{prefix}_sub1", name(f"{prefix.upper()}SubCA1", dc_ca, options), profile, options,
                 issuer=root, ca=True, path_length=1, days=options.sub_ca_days, key_usage=_CA)
    sub2 = issue(f"{prefix}_sub2", name(f"{prefix.upper()}SubCA2", dc_ca, options), profile, options,
                 issuer=sub1, ca=True, path_length=0, days=options.sub_ca_days // 2, key_usage=_CA)
    return root, sub1, sub2


def build_tree(profile: Profile, options: PkiOptions) -> dict[str, Issued]:
    """All certificates of one tree, by name."""
    issue, name = issue_certificate, subject_name
    out: dict[str, Issued] = {}
    v2g_root = issue("v2g_root", name("V2GRootCA", "V2G", options), profile, options, issuer=None, ca=True,
                     days=options.root_days, key_usage=_CA)
    out["v2g_root"] = v2g_root
    _, cpo1, cpo2 = _hierarchy("cpo", "V2G", profile, options, root=v2g_root)
    out["cpo_sub1"], out["cpo_sub2"] = cpo1, cpo2
    out["secc"] = issue("secc", name(options.secc_id, "CPO", options), profile, options, issuer=cpo2, ca=False,
                        days=options.leaf_days, key_usage=_LEAF)
    _, cps1, cps2 = _hierarchy("cps", "V2G", profile, options, root=v2g_root)
    out["cps_sub1"], out["cps_sub2"] = cps1, cps2
    out["cps"] = issue("cps", name("CPS Leaf", "CPS", options), profile, options, issuer=cps2, ca=False,
                       days=options.leaf_days, key_usage={"digital_signature": True})
    oem_root, oem1, oem2 = _hierarchy("oem", "OEM", profile, options)
    out["oem_root"], out["oem_sub1"], out["oem_sub2"] = oem_root, oem1, oem2
    # the Ed448 tree's provisioning certificate carries the X448 key of the contract key transport ([V2G20-2534])
    out["oem_prov"] = issue("oem_prov", name(options.evcc_id, "OEM", options), profile, options, issuer=oem2,
                            ca=False, days=options.leaf_days, key_usage=_LEAF,
                            alternate_key=x448.X448PrivateKey.generate() if profile.curve == "ed448" else None)
    mo_root, mo1, mo2 = _hierarchy("mo", "MO", profile, options)
    out["mo_root"], out["mo_sub1"], out["mo_sub2"] = mo_root, mo1, mo2
    out["contract"] = issue("contract", name(options.emaid, "MO", options), profile, options, issuer=mo2,
                            ca=False, days=options.leaf_days,
                            key_usage={**_LEAF, "content_commitment": True})
    return out


def _hubject_style(profile: Profile, options: PkiOptions) -> dict[str, Issued]:
    eku = (ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.OCSP_SIGNING)  # no serverAuth
    root, sub1, sub2 = _hierarchy("cpo", "V2G", profile, options, root_eku=eku, root_cn="V2GRootCA EKU")
    root.name = "v2g_root"
    secc = issue_certificate("secc", subject_name(options.secc_id, "CPO", options), profile, options, issuer=sub2,
                             ca=False, days=options.leaf_days, key_usage=_LEAF)
    return {"v2g_root": root, "cpo_sub1": sub1, "cpo_sub2": sub2, "secc": secc}


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _write(folder: Path, issued: dict[str, Issued], written: list[Path]) -> None:
    folder.mkdir(parents=True, exist_ok=True)

    def put(name: str, data: bytes, *, secret: bool = False) -> None:
        path = folder / name
        path.write_bytes(data)
        if secret:
            os.chmod(path, 0o600)
        written.append(path)

    for name, item in issued.items():
        put(f"{name}.pem", _pem(item.certificate))
        put(f"{name}.der", item.certificate.public_bytes(serialization.Encoding.DER))
        put(f"{name}.key.pem", item.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                      serialization.NoEncryption()), secret=True)
        if item.alternate_key is not None:
            put(f"{name}.x448.key.pem", item.alternate_key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
                secret=True)
    for leaf in ("secc", "oem_prov", "contract", "cps"):
        if leaf in issued:
            item = issued[leaf]
            put(f"{leaf}_chain.pem", b"".join(_pem(c) for c in [item.certificate, *item.chain]))
    for store, root in (("v2g_roots", "v2g_root"), ("oem_roots", "oem_root"), ("mo_roots", "mo_root")):
        if root in issued:
            put(f"{store}.pem", _pem(issued[root].certificate))


def write_pki(out: str | os.PathLike[str], options: PkiOptions | None = None, *, overwrite: bool = False) -> list[Path]:
    """Generate every tree of ``options.trees`` into ``out`` and return the files written.

    Refuses (``ValueError``) to write into a folder that holds files unless ``overwrite``.
    """
    options = options or PkiOptions()
    base = Path(out)
    if base.exists() and any(base.iterdir()) and not overwrite:
        raise ValueError(f"{base} is not empty (use --force to overwrite)")
    unknown = set(options.trees) - {p.name for p in TREES}
    if unknown:
        raise ValueError(f"unknown PKI tree(s): {', '.join(sorted(unknown))}")
    written: list[Path] = []
    for profile in TREES:
        if profile.name not in options.trees:
            continue
        _write(base / profile.name, build_tree(profile, options), written)
        if profile.name == "iso2":
            _write(base / profile.name / "hubject", _hubject_style(profile, options), written)
    return written
