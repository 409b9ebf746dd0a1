"""PKI generator checked by `openssl verify`, and our chain validation against the standard's checks."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
from pathlib import Path

import pytest

pytest.importorskip("cryptography")

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from evcharge.iso15118.security.chain import CertificateRole, load_certificates, validate_chain
from evcharge.iso15118.security.errors import CertificateError, CertificateExpiredError

TREES = ("iso2", "iso20", "iso20-ed448")
LEAVES = {"secc": ("v2g_root", "cpo"), "cps": ("v2g_root", "cps"), "oem_prov": ("oem_root", "oem"),
          "contract": ("mo_root", "mo")}
ROLES = {"secc": CertificateRole.SECC, "cps": CertificateRole.CPS, "oem_prov": CertificateRole.OEM_PROVISIONING,
         "contract": CertificateRole.CONTRACT}
NOW = dt.datetime.now(dt.UTC)


def cert(folder: Path, name: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate((folder / f"{name}.pem").read_bytes())


@pytest.mark.interop
@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")
@pytest.mark.parametrize("tree", TREES)
def test_openssl_verifies_every_chain(pki: Path, tree: str) -> None:
    folder = pki / tree
    for leaf, (root, prefix) in LEAVES.items():
        subs = folder / f"{prefix}_subs.tmp.pem"
        subs.write_bytes((folder / f"{prefix}_sub2.pem").read_bytes() + (folder / f"{prefix}_sub1.pem").read_bytes())
        out = subprocess.run(["openssl", "verify", "-x509_strict", "-CAfile", str(folder / f"{root}.pem"),
                              "-untrusted", str(subs), str(folder / f"{leaf}.pem")], capture_output=True, text=True)
        subs.unlink()
        assert out.returncode == 0 and out.stdout.strip().endswith(": OK"), out.stdout + out.stderr
    # the SECC certificate is fit for a TLS server; the OEM one for a TLS client
    for leaf, purpose, root in (("secc", "sslserver", "v2g_root"), ("oem_prov", "sslclient", "oem_root")):
        chain = folder / f"{leaf}_chain.pem"
        out = subprocess.run(["openssl", "verify", "-purpose", purpose, "-CAfile", str(folder / f"{root}.pem"),
                              "-untrusted", str(chain), str(folder / f"{leaf}.pem")], capture_output=True, text=True)
        assert out.returncode == 0, out.stdout + out.stderr


@pytest.mark.interop
@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")
def test_the_hubject_style_root_fails_openssls_purpose_check_but_not_ours(pki: Path) -> None:
    folder = pki / "iso2" / "hubject"
    out = subprocess.run(["openssl", "verify", "-purpose", "sslserver", "-CAfile", str(folder / "v2g_root.pem"),
                          "-untrusted", str(folder / "secc_chain.pem"), str(folder / "secc.pem")],
                         capture_output=True, text=True)
    assert out.returncode != 0 and "purpose" in (out.stdout + out.stderr)
    root = cert(folder, "v2g_root")
    eku = root.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.SERVER_AUTH not in list(eku)
    result = validate_chain(cert(folder, "secc"), [cert(folder, "cpo_sub2"), cert(folder, "cpo_sub1")], [root],
                            now=NOW, role=CertificateRole.SECC)
    assert result.root == root


@pytest.mark.parametrize("tree", TREES)
def test_every_generated_chain_validates(pki: Path, tree: str) -> None:
    folder = pki / tree
    for leaf, (root, _) in LEAVES.items():
        chain = load_certificates((folder / f"{leaf}_chain.pem").read_bytes())
        assert len(chain) == 3  # leaf, sub-CA 2, sub-CA 1 (the root is the trust anchor)
        result = validate_chain(chain[0], chain[:0:-1], [cert(folder, root)], now=NOW, role=ROLES[leaf])
        assert [c.subject for c in result.path] == [chain[0].subject, chain[1].subject, chain[2].subject,
                                                     cert(folder, root).subject]
        assert not result.expires_soon
    # the profile: DC of the leaves, curves
    secc = cert(folder, "secc")
    assert [a.value for a in secc.subject.get_attributes_for_oid(NameOID.DOMAIN_COMPONENT)] == ["CPO"]
    key = secc.public_key()
    if tree == "iso2":
        assert isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name == "secp256r1"
        assert secc.signature_hash_algorithm is not None and secc.signature_hash_algorithm.name == "sha256"
    elif tree == "iso20":
        assert isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name == "secp521r1"
        assert secc.signature_hash_algorithm is not None and secc.signature_hash_algorithm.name == "sha512"


def test_the_standards_checks(pki: Path) -> None:
    folder = pki / "iso2"
    secc, sub2, sub1, root = (cert(folder, n) for n in ("secc", "cpo_sub2", "cpo_sub1", "v2g_root"))
    # validity: expiry within 14 days is flagged; outside the period is FAILED_CertificateExpired
    soon = secc.not_valid_after_utc - dt.timedelta(days=10)
    assert validate_chain(secc, [sub2, sub1], [root], now=soon).expires_soon
    assert not validate_chain(secc, [sub2, sub1], [root], now=soon - dt.timedelta(days=5)).expires_soon
    with pytest.raises(CertificateExpiredError) as info:
        validate_chain(secc, [sub2, sub1], [root], now=secc.not_valid_after_utc + dt.timedelta(seconds=1))
    assert info.value.hint == "FAILED_CertificateExpired"
    with pytest.raises(CertificateExpiredError):
        validate_chain(secc, [sub2, sub1], [root], now=secc.not_valid_before_utc - dt.timedelta(seconds=1))
    # path: a missing sub-CA, a foreign root
    with pytest.raises(CertificateError, match="no issuer") as info2:
        validate_chain(secc, [sub2], [root], now=NOW)
    assert info2.value.hint == "FAILED_CertChainError"
    with pytest.raises(CertificateError):
        validate_chain(secc, [sub2, sub1], [cert(folder, "mo_root")], now=NOW)
    # role: the contract certificate is not an SECC certificate (DC=MO, not CPO) [V2G2-875]
    contract, mo2, mo1 = (cert(folder, n) for n in ("contract", "mo_sub2", "mo_sub1"))
    with pytest.raises(CertificateError, match="domain component CPO"):
        validate_chain(contract, [mo2, mo1], [cert(folder, "mo_root")], now=NOW, role=CertificateRole.SECC)
    # naive times are refused (certificates are about the calendar: UTC)
    with pytest.raises(ValueError):
        validate_chain(secc, [sub2, sub1], [root], now=dt.datetime(2026, 1, 1))


def _issue(subject_cn: str, issuer: x509.Certificate, issuer_key: ec.EllipticCurvePrivateKey, *, ca: bool,
           cert_sign: bool = True, digital_signature: bool = True, dc: str = "CPO",
           path_length: int | None = None) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject_cn),
                      x509.NameAttribute(NameOID.DOMAIN_COMPONENT, dc)])
    usage = dict(digital_signature=digital_signature, content_commitment=False, key_encipherment=False,
                 data_encipherment=False, key_agreement=False, key_cert_sign=cert_sign and ca, crl_sign=ca,
                 encipher_only=False, decipher_only=False)
    built = (x509.CertificateBuilder().subject_name(name).issuer_name(issuer.subject).public_key(key.public_key())
             .serial_number(x509.random_serial_number()).not_valid_before(now)
             .not_valid_after(now + dt.timedelta(days=30))
             .add_extension(x509.BasicConstraints(ca=ca, path_length=path_length if ca else None), critical=True)
             .add_extension(x509.KeyUsage(**usage), critical=True)
             .sign(issuer_key, hashes.SHA256()))
    return built, key


def test_broken_profiles_are_refused(pki: Path) -> None:
    folder = pki / "iso2"
    sub2 = cert(folder, "cpo_sub2")
    sub2_key = serialization.load_pem_private_key((folder / "cpo_sub2.key.pem").read_bytes(), None)
    assert isinstance(sub2_key, ec.EllipticCurvePrivateKey)
    chain = [sub2, cert(folder, "cpo_sub1")]
    roots = [cert(folder, "v2g_root")]
    # a third sub-CA below sub-CA 2 (path length 0): refused
    sub3, sub3_key = _issue("CPOSubCA3", sub2, sub2_key, ca=True)
    leaf, _ = _issue("DE*ABC*E1*1", sub3, sub3_key, ca=False)
    with pytest.raises(CertificateError):
        validate_chain(leaf, [sub3, *chain], roots, now=NOW)
    # a leaf without digitalSignature, a CA as leaf, a leaf signing another leaf
    no_sig, _ = _issue("x", sub2, sub2_key, ca=False, digital_signature=False)
    with pytest.raises(CertificateError, match="digitalSignature"):
        validate_chain(no_sig, chain, roots, now=NOW)
    ca_leaf, _ = _issue("y", sub2, sub2_key, ca=True, path_length=0)
    with pytest.raises(CertificateError, match="is a CA"):
        validate_chain(ca_leaf, chain, roots, now=NOW)
    ok_leaf, ok_key = _issue("z", sub2, sub2_key, ca=False)
    child, _ = _issue("w", ok_leaf, ok_key, ca=False)
    with pytest.raises(CertificateError, match="not a CA"):
        validate_chain(child, [ok_leaf, *chain], roots, now=NOW)
    assert validate_chain(ok_leaf, chain, roots, now=NOW, role=CertificateRole.SECC).leaf == ok_leaf


def test_pki_command(tmp_path: Path) -> None:
    import sys

    out = tmp_path / "pki"
    done = subprocess.run([sys.executable, "-m", "evcharge", "v2g", "pki", "--out", str(out), "--emaid", "DE-XYZ-C1-2"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    contract = cert(out / "iso20", "contract")
    assert contract.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "DE-XYZ-C1-2"
    again = subprocess.run([sys.executable, "-m", "evcharge", "v2g", "pki", "--out", str(out)],
                           capture_output=True, text=True, timeout=120)
    assert again.returncode == 2 and "not empty" in again.stderr and "Traceback" not in again.stderr
    assert len(again.stderr.strip().splitlines()) == 1
    bad = subprocess.run([sys.executable, "-m", "evcharge", "v2g", "pki", "--out", str(tmp_path / "x"), "--days", "0"],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1
