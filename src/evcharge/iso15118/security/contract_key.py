"""Contract private key transport of CertificateInstallation / CertificateUpdate.

The sender (the eMSP / CPS side; an SECC only relays the bytes) makes an ephemeral ECDH key pair,
derives a session key from the shared secret with the EVCC's static public key (the OEM provisioning
certificate's for installation, the old contract certificate's for update), and encrypts the contract
private key; the response carries the ephemeral public key (``DHpublickey``) and the encrypted key.
The EVCC derives the same key with its static private key and decrypts.

ISO 15118-2 ([V2G2-818] .. [V2G2-826]; the values as Josev ``shared/security.py`` implements them):
ECDH on secp256r1; KDF = NIST SP 800-56A concatenation KDF with SHA-256, 128-bit output,
OtherInfo = AlgorithmID 0x01 || PartyUInfo 0x55 || PartyVInfo 0x56; AES-128-CBC without padding;
``ContractSignatureEncryptedPrivateKey`` = IV (16 B) || ciphertext of the 32-byte key (32 B).

ISO 15118-20 ([V2G20-2492] .. [V2G20-2510], for an EVCC without TPM), two curves, named by ``ECDHCurve``:

* ``SECP521``: ECDH on secp521r1 with the OEM provisioning certificate's key; AES-256-GCM with a 96-bit random
  IV and a 128-bit tag; AAD = PCID (18 characters) || the contract certificate's SKI in upper-case hex
  ([V2G20-2492]); ``SECP521_EncryptedPrivateKey`` = IV (12) || ciphertext of the key padded to 528 bits (66)
  || tag (16); the EVCC checks the 7 padding bits are zero and that the key matches the certificate.
* ``X448`` (the Ed448 PKI of [V2G20-2319]): X448 (RFC 7748) between the sender's ephemeral key and the key of
  the OEM provisioning certificate's *Alternate Subject Public Key* ([V2G20-2534]; X.509 extension
  ``subjectAltPublicKeyInfo``, OID 2.5.29.72, see :func:`alternate_public_key`); ``DHPublicKey`` is the 56-byte
  X448 public key, not padded to 133 ([V2G20-2495]); the same AES-256-GCM and AAD; ``X448_EncryptedPrivateKey``
  = IV (12) || ciphertext of the 448-bit key, big-endian (56) || tag (16) = 84 bytes, no padding
  ([V2G20-2500] .. [V2G20-2502]). The EVCC rejects the response on any decryption failure ([V2G20-2504]), takes
  the 448 bits as the contract private key ([V2G20-2509]) and checks that it is below the order of the base
  point and that it gives the contract certificate's public key ([V2G20-2510]). Our reading of "the 448-bit
  private key" of an Ed448 certificate is its secret scalar (:mod:`evcharge.iso15118.security.ed448`).

The session key of -20 ([V2G20-2535]): ephemeral-static ECDH, NIST SP 800-56A C(1e, 1s, ECC CDH); the
concatenation KDF with SHA-512 and exactly 256 bits of output; the SA is party U, the EVCC party V, OtherInfo =
AlgorithmID 0x01 || PartyUInfo 0x55 || PartyVInfo 0x56 (:data:`KDF_OTHERINFO`, as for -2); for X448 the shared
secret the KDF takes is RFC 7748's (the 56-byte little-endian u-coordinate X448 outputs).

:func:`x448_private_from_ed448` and :func:`x448_public_from_ed448` map an Ed448 key to an X448 key (RFC 7748
birational map); the test PKI does not use them for the provisioning certificate: -20 names a separate
alternate key ([V2G20-2534]), and a key used for both signing and key agreement is what the profile avoids.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed448, x448
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.concatkdf import ConcatKDFHash
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from evcharge.errors import LocalProtocolError
from evcharge.iso15118.security.ed448 import Ed448ScalarKey
from evcharge.iso15118.security.errors import ContractKeyError

__all__ = [
    "ALT_PUBLIC_KEY_OID",
    "KDF_OTHERINFO",
    "EncryptedContractKey",
    "aad_iso20",
    "alternate_public_key",
    "decrypt_iso2",
    "decrypt_iso20",
    "decrypt_x448",
    "encrypt_iso2",
    "encrypt_iso20",
    "encrypt_x448",
    "session_key",
    "x448_private_from_ed448",
    "x448_public_from_ed448",
]

#: AlgorithmID 0x01, PartyUInfo 0x55 ('U'), PartyVInfo 0x56 ('V') [V2G2-818]
KDF_OTHERINFO = bytes((0x01, 0x55, 0x56))
#: X.509 ``subjectAltPublicKeyInfo`` (ITU-T X.509 (10/2019) §9.8.2): the "Alternate Subject Public Key" of the
#: -20 OEM provisioning certificate of the Ed448 PKI, an X448 SubjectPublicKeyInfo ([V2G20-2534])
ALT_PUBLIC_KEY_OID = x509.ObjectIdentifier("2.5.29.72")


@dataclass(frozen=True, slots=True, kw_only=True)
class EncryptedContractKey:
    #: the sender's ephemeral public key, an uncompressed point (65 B P-256, 133 B P-521) or X448 (56 B)
    dh_public_key: bytes
    #: -2 IV || CBC ciphertext (48 B), -20 IV || GCM ciphertext || tag (SECP521 94 B, X448 84 B)
    encrypted_private_key: bytes


def session_key(shared_secret: bytes, *, iso20: bool, otherinfo: bytes = KDF_OTHERINFO) -> bytes:
    """The concatenation KDF: -2 SHA-256 -> 16 bytes (AES-128); -20 SHA-512 -> 32 bytes (AES-256)."""
    kdf = ConcatKDFHash(algorithm=hashes.SHA512() if iso20 else hashes.SHA256(), length=32 if iso20 else 16,
                        otherinfo=otherinfo)
    return kdf.derive(shared_secret)


def _point(key: ec.EllipticCurvePublicKey) -> bytes:
    return key.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)


def _peer_public(data: bytes, curve: ec.EllipticCurve) -> ec.EllipticCurvePublicKey:
    try:
        return ec.EllipticCurvePublicKey.from_encoded_point(curve, data)
    except ValueError as exc:
        raise ContractKeyError(f"DHpublickey is not a {curve.name} point: {exc}") from exc


def _check_matches(private: ec.EllipticCurvePrivateKey, certificate: x509.Certificate | None) -> None:
    if certificate is None:
        return
    public = certificate.public_key()
    if not isinstance(public, ec.EllipticCurvePublicKey) or _point(public) != _point(private.public_key()):
        raise ContractKeyError("the decrypted private key does not belong to the contract certificate")


def _check_curve(key: ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey, name: str, what: str) -> None:
    if key.curve.name != name:
        raise LocalProtocolError(f"{what} must be on {name}, not {key.curve.name}")


# -- ISO 15118-2 --------------------------------------------------------------------------------------------


def encrypt_iso2(
    contract_key: ec.EllipticCurvePrivateKey,
    receiver: ec.EllipticCurvePublicKey,
    *,
    ephemeral: ec.EllipticCurvePrivateKey | None = None,
    iv: bytes | None = None,
) -> EncryptedContractKey:
    """Sender side (-2). ``receiver``: the OEM provisioning (or old contract) certificate's public key."""
    _check_curve(contract_key, "secp256r1", "the contract key")
    _check_curve(receiver, "secp256r1", "the receiver's key")
    ephemeral = ephemeral or ec.generate_private_key(ec.SECP256R1())
    key = session_key(ephemeral.exchange(ec.ECDH(), receiver), iso20=False)
    iv = iv if iv is not None else os.urandom(16)
    encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    secret = contract_key.private_numbers().private_value.to_bytes(32, "big")
    ciphertext = encryptor.update(secret) + encryptor.finalize()
    return EncryptedContractKey(dh_public_key=_point(ephemeral.public_key()), encrypted_private_key=iv + ciphertext)


def decrypt_iso2(
    data: EncryptedContractKey,
    receiver_key: ec.EllipticCurvePrivateKey,
    *,
    contract_certificate: x509.Certificate | None = None,
) -> ec.EllipticCurvePrivateKey:
    """EVCC side (-2): the contract private key; ``ContractKeyError`` when it cannot be."""
    _check_curve(receiver_key, "secp256r1", "the receiver's key")
    if len(data.encrypted_private_key) != 48:
        raise ContractKeyError(f"encrypted private key of {len(data.encrypted_private_key)} bytes, expected 48")
    peer = _peer_public(data.dh_public_key, ec.SECP256R1())
    key = session_key(receiver_key.exchange(ec.ECDH(), peer), iso20=False)
    iv, ciphertext = data.encrypted_private_key[:16], data.encrypted_private_key[16:]
    decryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
    value = int.from_bytes(decryptor.update(ciphertext) + decryptor.finalize(), "big")
    try:
        private = ec.derive_private_key(value, ec.SECP256R1())
    except ValueError as exc:
        raise ContractKeyError(f"the decrypted value is not a secp256r1 private key: {exc}") from exc
    _check_matches(private, contract_certificate)
    return private


# -- ISO 15118-20 -------------------------------------------------------------------------------------------


def aad_iso20(pcid: str, contract_certificate: x509.Certificate) -> bytes:
    """[V2G20-2492]: the PCID (upper-case letters and digits) followed by the contract certificate's SKI
    as an upper-case hexadecimal string."""
    if not pcid.isalnum() or pcid.upper() != pcid:
        raise LocalProtocolError(f"PCID {pcid!r} must be upper-case letters and digits")
    ski = contract_certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    return pcid.encode("ascii") + ski.hex().upper().encode("ascii")


def encrypt_iso20(
    contract_key: ec.EllipticCurvePrivateKey,
    receiver: ec.EllipticCurvePublicKey,
    *,
    aad: bytes,
    ephemeral: ec.EllipticCurvePrivateKey | None = None,
    iv: bytes | None = None,
    otherinfo: bytes = KDF_OTHERINFO,
) -> EncryptedContractKey:
    """Sender side (-20, SECP521)."""
    _check_curve(contract_key, "secp521r1", "the contract key")
    _check_curve(receiver, "secp521r1", "the receiver's key")
    ephemeral = ephemeral or ec.generate_private_key(ec.SECP521R1())
    key = session_key(ephemeral.exchange(ec.ECDH(), receiver), iso20=True, otherinfo=otherinfo)
    iv = iv if iv is not None else os.urandom(12)
    plain = contract_key.private_numbers().private_value.to_bytes(66, "big")  # 521 bits + 7 leading zero bits
    sealed = AESGCM(key).encrypt(iv, plain, aad)  # ciphertext (66) || tag (16)
    return EncryptedContractKey(dh_public_key=_point(ephemeral.public_key()), encrypted_private_key=iv + sealed)


def decrypt_iso20(
    data: EncryptedContractKey,
    receiver_key: ec.EllipticCurvePrivateKey,
    *,
    aad: bytes,
    contract_certificate: x509.Certificate | None = None,
    otherinfo: bytes = KDF_OTHERINFO,
) -> ec.EllipticCurvePrivateKey:
    """EVCC side (-20, SECP521): [V2G20-2505], [V2G20-2678], [V2G20-2506], [V2G20-2507]."""
    _check_curve(receiver_key, "secp521r1", "the receiver's key")
    if len(data.encrypted_private_key) != 12 + 66 + 16:
        raise ContractKeyError(f"SECP521_EncryptedPrivateKey of {len(data.encrypted_private_key)} bytes, expected 94")
    peer = _peer_public(data.dh_public_key, ec.SECP521R1())
    key = session_key(receiver_key.exchange(ec.ECDH(), peer), iso20=True, otherinfo=otherinfo)
    iv, sealed = data.encrypted_private_key[:12], data.encrypted_private_key[12:]
    try:
        plain = AESGCM(key).decrypt(iv, sealed, aad)
    except InvalidTag:
        raise ContractKeyError("SECP521_EncryptedPrivateKey: authentication failed (key, IV, AAD or data)") from None
    if plain[0] & 0xFE:
        raise ContractKeyError("the 7 most significant bits of the decrypted key are not zero [V2G20-2678]")
    try:
        private = ec.derive_private_key(int.from_bytes(plain, "big"), ec.SECP521R1())
    except ValueError as exc:
        raise ContractKeyError(f"the decrypted value is not a secp521r1 private key: {exc}") from exc
    _check_matches(private, contract_certificate)
    return private


# -- ISO 15118-20, X448 (the Ed448 PKI) ---------------------------------------------------------------------


def alternate_public_key(certificate: x509.Certificate) -> x448.X448PublicKey:
    """The X448 key of a certificate's Alternate Subject Public Key (extension 2.5.29.72, a
    SubjectPublicKeyInfo): what the sender agrees with for ``ECDHCurve`` X448 ([V2G20-2534]).
    ``ContractKeyError`` when the certificate has none or it is not an X448 key."""
    from cryptography.hazmat.primitives.serialization import load_der_public_key

    try:
        extension = certificate.extensions.get_extension_for_oid(ALT_PUBLIC_KEY_OID).value
    except x509.ExtensionNotFound:
        raise ContractKeyError("the certificate has no Alternate Subject Public Key (2.5.29.72) for X448") from None
    assert isinstance(extension, x509.UnrecognizedExtension)
    try:
        key = load_der_public_key(extension.value)
    except (ValueError, TypeError) as exc:  # cryptography raises either for a malformed or unsupported key
        raise ContractKeyError(f"the Alternate Subject Public Key does not parse: {exc}") from None
    if not isinstance(key, x448.X448PublicKey):
        raise ContractKeyError(f"the Alternate Subject Public Key is a {type(key).__name__}, not an X448 key")
    return key


def _scalar_key(contract_key: Ed448ScalarKey | ed448.Ed448PrivateKey) -> Ed448ScalarKey:
    if isinstance(contract_key, Ed448ScalarKey):
        return contract_key
    if isinstance(contract_key, ed448.Ed448PrivateKey):
        return Ed448ScalarKey.from_private_key(contract_key)
    raise LocalProtocolError(f"the contract key must be an Ed448 key, not {type(contract_key).__name__}")


def encrypt_x448(
    contract_key: Ed448ScalarKey | ed448.Ed448PrivateKey,
    receiver: x448.X448PublicKey,
    *,
    aad: bytes,
    ephemeral: x448.X448PrivateKey | None = None,
    iv: bytes | None = None,
    otherinfo: bytes = KDF_OTHERINFO,
) -> EncryptedContractKey:
    """Sender side (-20, ``ECDHCurve`` X448): the Ed448 contract key's 448-bit scalar, big-endian, sealed with
    AES-256-GCM under the session key of an ephemeral X448 agreement with ``receiver`` (the OEM provisioning
    certificate's :func:`alternate_public_key`)."""
    scalar = _scalar_key(contract_key)
    if not isinstance(receiver, x448.X448PublicKey):
        raise LocalProtocolError(f"the receiver's key must be an X448 key, not {type(receiver).__name__}")
    ephemeral = ephemeral or x448.X448PrivateKey.generate()
    key = session_key(ephemeral.exchange(receiver), iso20=True, otherinfo=otherinfo)
    iv = iv if iv is not None else os.urandom(12)
    if len(iv) != 12:
        raise LocalProtocolError("the AES-GCM IV of -20 is 96 bits [V2G20-2500]")
    sealed = AESGCM(key).encrypt(iv, scalar.to_bytes(), aad)  # ciphertext (56) || tag (16)
    return EncryptedContractKey(dh_public_key=ephemeral.public_key().public_bytes_raw(),
                                encrypted_private_key=iv + sealed)


def decrypt_x448(
    data: EncryptedContractKey,
    receiver_key: x448.X448PrivateKey,
    *,
    aad: bytes,
    contract_certificate: x509.Certificate | None = None,
    otherinfo: bytes = KDF_OTHERINFO,
) -> Ed448ScalarKey:
    """EVCC side (-20, ``ECDHCurve`` X448): the contract key as an
    :class:`~evcharge.iso15118.security.ed448.Ed448ScalarKey`. ``receiver_key``: the
    private key of the OEM provisioning certificate's Alternate Subject Public Key. ``ContractKeyError`` on any
    failure ([V2G20-2504]): lengths, the agreement, authentication, a value not below L, another public key than
    the contract certificate's ([V2G20-2510])."""
    if not isinstance(receiver_key, x448.X448PrivateKey):
        raise LocalProtocolError(f"the receiver's key must be an X448 key, not {type(receiver_key).__name__}")
    if len(data.dh_public_key) != 56:
        raise ContractKeyError(f"DHPublicKey of {len(data.dh_public_key)} bytes, expected an X448 key of 56")
    if len(data.encrypted_private_key) != 12 + 56 + 16:
        raise ContractKeyError(f"X448_EncryptedPrivateKey of {len(data.encrypted_private_key)} bytes, expected 84")
    try:
        shared = receiver_key.exchange(x448.X448PublicKey.from_public_bytes(data.dh_public_key))
    except ValueError as exc:  # a low-order point gives the all-zero secret, which cryptography refuses
        raise ContractKeyError(f"DHPublicKey gives no X448 shared secret: {exc}") from None
    key = session_key(shared, iso20=True, otherinfo=otherinfo)
    iv, sealed = data.encrypted_private_key[:12], data.encrypted_private_key[12:]
    try:
        plain = AESGCM(key).decrypt(iv, sealed, aad)
    except InvalidTag:
        raise ContractKeyError("X448_EncryptedPrivateKey: authentication failed (key, IV, AAD or data)") from None
    try:
        private = Ed448ScalarKey.from_bytes(plain)
    except ValueError as exc:
        raise ContractKeyError(f"the decrypted value is not an Ed448 contract key: {exc}") from None
    if contract_certificate is not None:
        public = contract_certificate.public_key()
        if not isinstance(public, ed448.Ed448PublicKey) or public.public_bytes_raw() != private.public_bytes_raw():
            raise ContractKeyError("the decrypted private key does not give the contract certificate's public key"
                                   " [V2G20-2510]")
    return private


# -- Ed448 -> X448 (the key agreement keys of the Ed448 PKI) --------------------------------------------------

_P448 = 2**448 - 2**224 - 1
_D448 = -39081 % _P448


def x448_private_from_ed448(key: ed448.Ed448PrivateKey) -> x448.X448PrivateKey:
    """The X448 key of an Ed448 key: the secret scalar of RFC 8032 (the clamped first half of
    SHAKE256(seed, 114)), which X448 uses as is."""
    digest = bytearray(hashlib.shake_256(key.private_bytes_raw()).digest(114)[:57])
    digest[0] &= 0xFC
    digest[55] |= 0x80
    return x448.X448PrivateKey.from_private_bytes(bytes(digest[:56]))


def x448_public_from_ed448(key: ed448.Ed448PublicKey) -> x448.X448PublicKey:
    """The X448 public key of an Ed448 public key: u = y^2 / x^2 on edwards448 (RFC 7748 §4.2), with x^2
    taken from the curve equation, u = y^2 (d y^2 - 1) / (y^2 - 1)."""
    y = int.from_bytes(key.public_bytes_raw(), "little") & ((1 << 455) - 1)
    y2 = y * y % _P448
    if y2 == 1:
        raise ContractKeyError("Ed448 public key at a point without an X448 image")
    u = y2 * (_D448 * y2 - 1) * pow(y2 - 1, -1, _P448) % _P448
    return x448.X448PublicKey.from_public_bytes(u.to_bytes(56, "little"))
