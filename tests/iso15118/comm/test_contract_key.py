"""Contract private key transport (CertificateInstallation/Update): sender encrypts, EVCC decrypts.

The -2 layout is checked independently of our code: the session key is derived here with the KDF written
out by hand (SHA-256(counter || Z || 0x01 0x55 0x56)), and the key decrypted with plain AES-128-CBC."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

pytest.importorskip("cryptography")

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from evcharge.errors import LocalProtocolError
from evcharge.iso15118.security.contract_key import (
    EncryptedContractKey,
    aad_iso20,
    decrypt_iso2,
    decrypt_iso20,
    encrypt_iso2,
    encrypt_iso20,
    session_key,
)
from evcharge.iso15118.security.errors import ContractKeyError


def load(folder: Path, name: str) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    cert = x509.load_pem_x509_certificate((folder / f"{name}.pem").read_bytes())
    key = serialization.load_pem_private_key((folder / f"{name}.key.pem").read_bytes(), None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return cert, key


def value(key: ec.EllipticCurvePrivateKey) -> int:
    return key.private_numbers().private_value


def test_iso2_installation_round_trip_and_layout(pki: Path) -> None:
    contract_cert, contract_key = load(pki / "iso2", "contract")
    oem_cert, oem_key = load(pki / "iso2", "oem_prov")
    oem_public = oem_cert.public_key()
    assert isinstance(oem_public, ec.EllipticCurvePublicKey)
    sent = encrypt_iso2(contract_key, oem_public)
    assert len(sent.dh_public_key) == 65 and sent.dh_public_key[0] == 0x04
    assert len(sent.encrypted_private_key) == 48  # IV (16) || AES-128-CBC of the 32-byte key
    got = decrypt_iso2(sent, oem_key, contract_certificate=contract_cert)
    assert value(got) == value(contract_key)
    # independent check of the layout: ECDH, concatenation KDF by hand, plain AES-CBC
    ephemeral = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), sent.dh_public_key)
    z = oem_key.exchange(ec.ECDH(), ephemeral)
    key = hashlib.sha256(b"\x00\x00\x00\x01" + z + b"\x01\x55\x56").digest()[:16]
    assert session_key(z, iso20=False) == key
    iv, ct = sent.encrypted_private_key[:16], sent.encrypted_private_key[16:]
    plain = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor().update(ct)
    assert int.from_bytes(plain, "big") == value(contract_key)


def test_iso2_update_uses_the_old_contract_key(pki: Path) -> None:
    old_cert, old_key = load(pki / "iso2", "contract")
    new_key = ec.generate_private_key(ec.SECP256R1())
    old_public = old_cert.public_key()
    assert isinstance(old_public, ec.EllipticCurvePublicKey)
    sent = encrypt_iso2(new_key, old_public)
    assert value(decrypt_iso2(sent, old_key)) == value(new_key)


def test_iso2_bad_input(pki: Path) -> None:
    contract_cert, contract_key = load(pki / "iso2", "contract")
    oem_cert, oem_key = load(pki / "iso2", "oem_prov")
    oem_public = oem_cert.public_key()
    assert isinstance(oem_public, ec.EllipticCurvePublicKey)
    sent = encrypt_iso2(contract_key, oem_public)
    with pytest.raises(ContractKeyError, match="48"):
        decrypt_iso2(EncryptedContractKey(dh_public_key=sent.dh_public_key,
                                          encrypted_private_key=sent.encrypted_private_key[:-1]), oem_key)
    with pytest.raises(ContractKeyError, match="point"):
        decrypt_iso2(EncryptedContractKey(dh_public_key=b"\x04" + bytes(64),
                                          encrypted_private_key=sent.encrypted_private_key), oem_key)
    # decrypted with the wrong receiver key: garbage, which does not match the contract certificate
    with pytest.raises(ContractKeyError):
        decrypt_iso2(sent, ec.generate_private_key(ec.SECP256R1()), contract_certificate=contract_cert)
    with pytest.raises(LocalProtocolError):
        encrypt_iso2(ec.generate_private_key(ec.SECP521R1()), oem_public)


def test_iso20_installation_round_trip_and_layout(pki: Path) -> None:
    contract_cert, contract_key = load(pki / "iso20", "contract")
    oem_cert, oem_key = load(pki / "iso20", "oem_prov")
    oem_public = oem_cert.public_key()
    assert isinstance(oem_public, ec.EllipticCurvePublicKey)
    pcid = "WMIV1234567890ABCD"
    aad = aad_iso20(pcid, contract_cert)
    assert len(aad) == 18 + 16  # PCID (18) || SKI as 16 upper-case hex digits [V2G20-2492]
    assert aad[18:].decode() == aad[18:].decode().upper()
    sent = encrypt_iso20(contract_key, oem_public, aad=aad)
    assert len(sent.dh_public_key) == 133 and sent.dh_public_key[0] == 0x04  # [V2G20-2489] NOTE 7
    assert len(sent.encrypted_private_key) == 94  # IV (12) || ciphertext (66) || tag (16) [V2G20-2499]
    got = decrypt_iso20(sent, oem_key, aad=aad, contract_certificate=contract_cert)
    assert value(got) == value(contract_key)
    # the layout with plain AES-GCM: IV first, tag last, 7 zero bits of padding
    ephemeral = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP521R1(), sent.dh_public_key)
    key = session_key(oem_key.exchange(ec.ECDH(), ephemeral), iso20=True)
    plain = AESGCM(key).decrypt(sent.encrypted_private_key[:12], sent.encrypted_private_key[12:], aad)
    assert len(plain) == 66 and plain[0] & 0xFE == 0 and int.from_bytes(plain, "big") == value(contract_key)
    # a different AAD (another PCID) fails authentication [V2G20-2504]
    with pytest.raises(ContractKeyError, match="authentication"):
        decrypt_iso20(sent, oem_key, aad=aad_iso20("WMIV1234567890ABCE", contract_cert))
    tampered = bytearray(sent.encrypted_private_key)
    tampered[20] ^= 1
    with pytest.raises(ContractKeyError):
        decrypt_iso20(EncryptedContractKey(dh_public_key=sent.dh_public_key, encrypted_private_key=bytes(tampered)),
                      oem_key, aad=aad)
    with pytest.raises(LocalProtocolError):
        aad_iso20("wmiv-lower", contract_cert)


def test_ed448_keys_give_the_x448_keys_cryptography_derives(pki: Path) -> None:
    from cryptography.hazmat.primitives.asymmetric import ed448

    from evcharge.iso15118.security.contract_key import x448_private_from_ed448, x448_public_from_ed448

    oem = serialization.load_pem_private_key((pki / "iso20-ed448" / "oem_prov.key.pem").read_bytes(), None)
    assert isinstance(oem, ed448.Ed448PrivateKey)
    for key in (oem, ed448.Ed448PrivateKey.generate()):
        private = x448_private_from_ed448(key)
        public = x448_public_from_ed448(key.public_key())
        assert public.public_bytes_raw() == private.public_key().public_bytes_raw()
    # an ECDHE between an ephemeral Ed448 key and the OEM key agrees on both sides
    ephemeral = ed448.Ed448PrivateKey.generate()
    one = x448_private_from_ed448(ephemeral).exchange(x448_public_from_ed448(oem.public_key()))
    two = x448_private_from_ed448(oem).exchange(x448_public_from_ed448(ephemeral.public_key()))
    assert one == two and len(one) == 56
