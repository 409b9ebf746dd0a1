"""ISO 15118-20 contract-key transport with ``ECDHCurve`` X448 and the Ed448 secret-scalar key it installs.

Checked independently of our code where it can be: the Ed448 public keys and signatures by ``cryptography``'s
Ed448 (an RFC 8032 implementation we did not write), the X448 agreement by ``cryptography``'s X448, the KDF of
[V2G20-2535] written out by hand (SHA-512(counter || Z || 0x01 0x55 0x56), 256 bits), the layout of
``X448_EncryptedPrivateKey`` with plain AES-GCM, and the Alternate Subject Public Key extension by ``openssl``.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
from pathlib import Path

import pytest

pytest.importorskip("cryptography")

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, x448
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from evcharge.errors import LocalProtocolError
from evcharge.iso15118.security.contract_key import (
    EncryptedContractKey,
    aad_iso20,
    alternate_public_key,
    decrypt_x448,
    encrypt_x448,
)
from evcharge.iso15118.security.ed448 import ED448_ORDER, Ed448ScalarKey
from evcharge.iso15118.security.errors import ContractKeyError, SignatureError
from evcharge.iso15118.security.signature import SignatureAlgorithm, sign, verify

PCID = "WMIV1234567890ABCD"
#: the order L of edwards448 as RFC 8032 §5.2 writes it, not taken from our module. That it is B's order is shown by
#: the public keys: our scalar is the clamped value (>= 2^447 > L) reduced mod L, and its point is cryptography's key.
RFC8032_L = 2**446 - 13818066809895115352007386748515426880336692474882178609894547503885


def _tree(pki: Path) -> Path:
    return pki / "iso20-ed448"


def _load_key(path: Path) -> object:
    return serialization.load_pem_private_key(path.read_bytes(), None)


def _contract(pki: Path) -> tuple[x509.Certificate, ed448.Ed448PrivateKey]:
    cert = x509.load_pem_x509_certificate((_tree(pki) / "contract.pem").read_bytes())
    key = _load_key(_tree(pki) / "contract.key.pem")
    assert isinstance(key, ed448.Ed448PrivateKey)
    return cert, key


def _receiver(pki: Path) -> tuple[x509.Certificate, x448.X448PrivateKey]:
    oem = x509.load_pem_x509_certificate((_tree(pki) / "oem_prov.pem").read_bytes())
    key = _load_key(_tree(pki) / "oem_prov.x448.key.pem")
    assert isinstance(key, x448.X448PrivateKey)
    return oem, key


# -- the Ed448 secret-scalar key ------------------------------------------------------------------------------


def test_order_is_rfc8032s() -> None:
    assert ED448_ORDER == RFC8032_L


def test_scalar_key_has_the_public_key_and_signs_like_ed448() -> None:
    for seed in (bytes(57), bytes(range(57)), b"\xff" * 57):
        key = ed448.Ed448PrivateKey.from_private_bytes(seed)
        scalar = Ed448ScalarKey.from_private_key(key)
        assert 0 < scalar.scalar < RFC8032_L
        assert scalar.public_bytes_raw() == key.public_key().public_bytes_raw()
        message = b"SignedInfo" + seed
        signature = scalar.sign(message)
        assert len(signature) == 114
        key.public_key().verify(signature, message)  # the independent verifier accepts it
        with pytest.raises(InvalidSignature):
            key.public_key().verify(signature, message + b"!")
        # a fresh nonce each time: two signatures of the same message differ, both verify
        again = scalar.sign(message)
        assert again != signature
        key.public_key().verify(again, message)


def test_scalar_key_bytes_round_trip_and_range() -> None:
    key = Ed448ScalarKey.from_private_key(ed448.Ed448PrivateKey.generate())
    raw = key.to_bytes()
    assert len(raw) == 56 and int.from_bytes(raw, "big") == key.scalar  # 448 bits, big-endian [V2G20-2501]
    assert Ed448ScalarKey.from_bytes(raw) == key
    for bad in (0, RFC8032_L, RFC8032_L + 1, 2**448 - 1):
        with pytest.raises(ValueError):
            Ed448ScalarKey(bad)
    with pytest.raises(ValueError, match="56 bytes"):
        Ed448ScalarKey.from_bytes(raw[:-1])


def test_v2g_signature_with_the_scalar_key(pki: Path) -> None:
    """The -20 header signature (eddsa-ed448 over SignedInfo's EXI) made with the installed scalar verifies with
    the contract certificate's key, by our verify and by cryptography's."""
    cert, key = _contract(pki)
    scalar = Ed448ScalarKey.from_private_key(key)
    fragments = {"id1": b"\x80\x01\x02 a fragment"}
    signed = sign(fragments, scalar)
    assert signed.signed_info["SignatureMethod"]["Algorithm"] == SignatureAlgorithm.ED448.value
    public = cert.public_key()
    assert isinstance(public, ed448.Ed448PublicKey)
    public.verify(signed.signature_value, signed.signed_info_exi)
    assert verify(signed.signed_info, signed.signature_value, fragments, public) is SignatureAlgorithm.ED448
    other = ed448.Ed448PrivateKey.generate().public_key()
    with pytest.raises(SignatureError):
        verify(signed.signed_info, signed.signature_value, fragments, other)
    with pytest.raises(LocalProtocolError):
        sign(fragments, scalar, SignatureAlgorithm.ECDSA_SHA512)


# -- the Alternate Subject Public Key of the OEM provisioning certificate ---------------------------------------


def test_provisioning_certificate_carries_the_x448_key(pki: Path) -> None:
    oem, private = _receiver(pki)
    extension = oem.extensions.get_extension_for_oid(x509.ObjectIdentifier("2.5.29.72"))
    assert not extension.critical
    assert alternate_public_key(oem).public_bytes_raw() == private.public_key().public_bytes_raw()
    # only the Ed448 tree has it
    secp = x509.load_pem_x509_certificate((pki / "iso20" / "oem_prov.pem").read_bytes())
    with pytest.raises(ContractKeyError, match="Alternate Subject Public Key"):
        alternate_public_key(secp)
    assert not (pki / "iso20" / "oem_prov.x448.key.pem").exists()


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")
def test_openssl_reads_the_extension_as_the_x448_subject_public_key_info(pki: Path) -> None:
    tree = _tree(pki)
    parsed = subprocess.run(["openssl", "asn1parse", "-in", str(tree / "oem_prov.pem")], capture_output=True,
                            text=True, check=True).stdout
    found = re.search(r":2\.5\.29\.72\s*\n.*?OCTET STRING\s*\[HEX DUMP\]:([0-9A-F]+)", parsed)
    assert found, parsed
    spki = subprocess.run(["openssl", "pkey", "-in", str(tree / "oem_prov.x448.key.pem"), "-pubout", "-outform",
                           "DER"], capture_output=True, check=True).stdout
    assert bytes.fromhex(found.group(1)) == spki
    text = subprocess.run(["openssl", "pkey", "-pubin", "-inform", "DER", "-noout", "-text"], input=spki,
                          capture_output=True, check=True).stdout
    assert b"X448" in text


# -- encrypt / decrypt ------------------------------------------------------------------------------------------


def test_x448_round_trip_and_layout(pki: Path) -> None:
    contract_cert, contract_key = _contract(pki)
    oem, receiver_key = _receiver(pki)
    aad = aad_iso20(PCID, contract_cert)
    sent = encrypt_x448(contract_key, alternate_public_key(oem), aad=aad)
    assert len(sent.dh_public_key) == 56  # the X448 key, not padded to 133 [V2G20-2495]
    assert len(sent.encrypted_private_key) == 84  # IV (12) || ciphertext (56) || tag (16) [V2G20-2502]
    got = decrypt_x448(sent, receiver_key, aad=aad, contract_certificate=contract_cert)
    assert got.public_bytes_raw() == contract_key.public_key().public_bytes_raw()
    # independent: X448 by cryptography, the concatenation KDF of [V2G20-2535] by hand, plain AES-256-GCM
    z = receiver_key.exchange(x448.X448PublicKey.from_public_bytes(sent.dh_public_key))
    session = hashlib.sha512(b"\x00\x00\x00\x01" + z + b"\x01\x55\x56").digest()[:32]
    iv, sealed = sent.encrypted_private_key[:12], sent.encrypted_private_key[12:]
    plain = AESGCM(session).decrypt(iv, sealed, aad)
    assert len(plain) == 56
    # the plaintext is the secret scalar of the contract key, big-endian; cryptography's Ed448 accepts what it signs
    scalar = Ed448ScalarKey.from_bytes(plain)
    contract_key.public_key().verify(scalar.sign(b"x"), b"x")
    # and the ephemeral key is fresh each time
    assert encrypt_x448(contract_key, alternate_public_key(oem), aad=aad).dh_public_key != sent.dh_public_key


def test_x448_given_ephemeral_and_iv_are_used(pki: Path) -> None:
    contract_cert, contract_key = _contract(pki)
    oem, receiver_key = _receiver(pki)
    aad = aad_iso20(PCID, contract_cert)
    ephemeral = x448.X448PrivateKey.generate()
    sent = encrypt_x448(Ed448ScalarKey.from_private_key(contract_key), alternate_public_key(oem), aad=aad,
                        ephemeral=ephemeral, iv=bytes(12))
    assert sent.dh_public_key == ephemeral.public_key().public_bytes_raw()
    assert sent.encrypted_private_key[:12] == bytes(12)
    decrypt_x448(sent, receiver_key, aad=aad, contract_certificate=contract_cert)
    with pytest.raises(LocalProtocolError, match="96 bits"):
        encrypt_x448(contract_key, alternate_public_key(oem), aad=aad, iv=bytes(16))


def test_x448_every_failure_is_a_contract_key_error(pki: Path) -> None:
    """[V2G20-2504]: any decryption failure rejects the response; [V2G20-2510]: the key must give the certificate's
    public key."""
    contract_cert, contract_key = _contract(pki)
    oem, receiver_key = _receiver(pki)
    aad = aad_iso20(PCID, contract_cert)
    sent = encrypt_x448(contract_key, alternate_public_key(oem), aad=aad)

    def attempt(dh: bytes = sent.dh_public_key, data: bytes = sent.encrypted_private_key, **kw: object) -> None:
        decrypt_x448(EncryptedContractKey(dh_public_key=dh, encrypted_private_key=data), kw.pop("key", receiver_key),
                     aad=kw.pop("aad", aad), contract_certificate=contract_cert)  # type: ignore[arg-type]

    with pytest.raises(ContractKeyError, match="56"):
        attempt(dh=b"\x04" + bytes(132))  # a P-521 sized key
    with pytest.raises(ContractKeyError, match="84"):
        attempt(data=sent.encrypted_private_key[:-1])
    with pytest.raises(ContractKeyError, match="shared secret"):
        attempt(dh=bytes(56))  # u = 0: a low-order point, the all-zero secret
    with pytest.raises(ContractKeyError, match="authentication"):
        attempt(aad=aad_iso20("WMIV1234567890ABCE", contract_cert))  # another PCID
    tampered = bytearray(sent.encrypted_private_key)
    tampered[30] ^= 1
    with pytest.raises(ContractKeyError, match="authentication"):
        attempt(data=bytes(tampered))
    with pytest.raises(ContractKeyError, match="authentication"):
        attempt(key=x448.X448PrivateKey.generate())
    # a well-sealed key of another contract: not the certificate's [V2G20-2510]
    other = encrypt_x448(ed448.Ed448PrivateKey.generate(), alternate_public_key(oem), aad=aad)
    with pytest.raises(ContractKeyError, match="V2G20-2510"):
        attempt(dh=other.dh_public_key, data=other.encrypted_private_key)
    # a value not below L, sealed correctly: refused before use [V2G20-2510]
    ephemeral = x448.X448PrivateKey.generate()
    z = ephemeral.exchange(alternate_public_key(oem))
    session = hashlib.sha512(b"\x00\x00\x00\x01" + z + b"\x01\x55\x56").digest()[:32]
    big = AESGCM(session).encrypt(bytes(12), RFC8032_L.to_bytes(56, "big"), aad)
    with pytest.raises(ContractKeyError, match="not an Ed448 contract key"):
        attempt(dh=ephemeral.public_key().public_bytes_raw(), data=bytes(12) + big)


def test_x448_wrong_key_types_are_local_errors(pki: Path) -> None:
    contract_cert, contract_key = _contract(pki)
    oem, _ = _receiver(pki)
    aad = aad_iso20(PCID, contract_cert)
    with pytest.raises(LocalProtocolError):
        encrypt_x448(ec.generate_private_key(ec.SECP521R1()), alternate_public_key(oem), aad=aad)  # type: ignore[arg-type]
    with pytest.raises(LocalProtocolError):
        encrypt_x448(contract_key, ec.generate_private_key(ec.SECP521R1()).public_key(), aad=aad)  # type: ignore[arg-type]
    sent = encrypt_x448(contract_key, alternate_public_key(oem), aad=aad)
    with pytest.raises(LocalProtocolError):
        decrypt_x448(sent, ec.generate_private_key(ec.SECP521R1()), aad=aad)  # type: ignore[arg-type]
