"""The header Signature of ISO 15118-2 and -20: XML signatures over EXI fragments.

A signed message carries, in its header, a ``Signature`` whose ``SignedInfo`` lists one ``Reference``
per signed body element (``URI="#<Id>"``, its digest), and a ``SignatureValue`` over ``SignedInfo``.
Both are computed on EXI, not XML (canonicalization ``http://www.w3.org/TR/canonical-exi/``):

* the digest of a reference is the hash of the referenced element encoded as an EXI *fragment* of its
  message set (:meth:`evcharge._exi.codec.SchemaCodec.encode_fragment`);
* the signature is over ``SignedInfo`` encoded as an EXI fragment of the xmldsig schema.

Algorithms (ISO 15118-2 §7.9.2.4; -20 §7.9.2.4 and [V2G20-1000]):

==================  ==================================================  ======================  ==========
message set         SignatureMethod                                     DigestMethod            value
==================  ==================================================  ======================  ==========
ISO 15118-2         ``xmldsig-more#ecdsa-sha256`` (secp256r1)           ``xmlenc#sha256``       r||s, 64 B
ISO 15118-20        ``xmldsig-more#ecdsa-sha512`` (secp521r1)           ``xmlenc#sha512``       r||s, 132 B
ISO 15118-20        ``2021/04/xmldsig-more#eddsa-ed448`` (RFC 9231)     SHAKE256 (64 B output)  114 B
==================  ==================================================  ======================  ==========

The SHAKE256 digest for Ed448 follows RFC 9231 (``2021/04/xmldsig-more#shake256``); its use with
Ed448 in -20 is from the public discussion (EVerest PR #2849), not the paywalled text: verify it.

Verification failures raise :class:`~evcharge.iso15118.security.errors.SignatureError`
(``FAILED_SignatureError``).
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import importlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed448
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

from evcharge._exi.codec import SchemaCodec, xmldsig_codec
from evcharge.errors import LocalProtocolError
from evcharge.iso15118.security.ed448 import Ed448ScalarKey
from evcharge.iso15118.security.errors import SignatureError

__all__ = [
    "CANONICAL_EXI",
    "ISO2_ALGORITHMS",
    "ISO20_ALGORITHMS",
    "DigestMethod",
    "SignatureAlgorithm",
    "SignedData",
    "build_signed_info",
    "check_digests",
    "codec_of",
    "decode_rs",
    "encode_rs",
    "find_fragments",
    "sign",
    "signed_info_as_dict",
    "signed_info_exi",
    "verify",
]

CANONICAL_EXI = "http://www.w3.org/TR/canonical-exi/"
#: the same without the final slash, as some samples write it (RISE-V2G); accepted when verifying
_CANONICAL_EXI_NO_SLASH = CANONICAL_EXI.rstrip("/")


class DigestMethod(Enum):
    SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"
    SHA512 = "http://www.w3.org/2001/04/xmlenc#sha512"
    SHAKE256 = "http://www.w3.org/2021/04/xmldsig-more#shake256"

    def digest(self, data: bytes) -> bytes:
        if self is DigestMethod.SHA256:
            return hashlib.sha256(data).digest()
        if self is DigestMethod.SHA512:
            return hashlib.sha512(data).digest()
        return hashlib.shake_256(data).digest(64)


class SignatureAlgorithm(Enum):
    ECDSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"
    ECDSA_SHA512 = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512"
    ED448 = "http://www.w3.org/2021/04/xmldsig-more#eddsa-ed448"

    @property
    def default_digest(self) -> DigestMethod:
        return {
            SignatureAlgorithm.ECDSA_SHA256: DigestMethod.SHA256,
            SignatureAlgorithm.ECDSA_SHA512: DigestMethod.SHA512,
            SignatureAlgorithm.ED448: DigestMethod.SHAKE256,
        }[self]


ISO2_ALGORITHMS = frozenset({SignatureAlgorithm.ECDSA_SHA256})
ISO20_ALGORITHMS = frozenset({SignatureAlgorithm.ECDSA_SHA512, SignatureAlgorithm.ED448})

#: an Ed448 key is either RFC 8032's (a seed) or the scalar a -20 car installs with X448 (an Ed448ScalarKey)
PrivateKey = ec.EllipticCurvePrivateKey | ed448.Ed448PrivateKey | Ed448ScalarKey
PublicKey = ec.EllipticCurvePublicKey | ed448.Ed448PublicKey


# -- r||s ---------------------------------------------------------------------------------------------


def _width(curve: ec.EllipticCurve) -> int:
    return (curve.key_size + 7) // 8


def encode_rs(der_signature: bytes, curve: ec.EllipticCurve) -> bytes:
    """DER ECDSA signature -> r||s, each as wide as the curve order (32 B for P-256, 66 B for P-521)."""
    r, s = decode_dss_signature(der_signature)
    n = _width(curve)
    return r.to_bytes(n, "big") + s.to_bytes(n, "big")


def decode_rs(raw: bytes, curve: ec.EllipticCurve) -> bytes:
    """r||s -> DER; ``SignatureError`` when the length does not fit the curve."""
    n = _width(curve)
    if len(raw) != 2 * n:
        raise SignatureError(f"SignatureValue of {len(raw)} bytes, expected r||s of {2 * n} for {curve.name}")
    return encode_dss_signature(int.from_bytes(raw[:n], "big"), int.from_bytes(raw[n:], "big"))


# -- SignedInfo ------------------------------------------------------------------------------------------


def build_signed_info(
    fragments: Mapping[str, bytes], algorithm: SignatureAlgorithm, digest: DigestMethod | None = None
) -> dict[str, Any]:
    """The JSON form of SignedInfo (as the codecs' ``fragment_from_dict`` take it) for the EXI
    fragments of ``fragments`` (``Id`` -> fragment bytes), in the given order."""
    if not fragments:
        raise LocalProtocolError("a Signature references at least one element")
    method = digest or algorithm.default_digest
    return {
        "CanonicalizationMethod": {"Algorithm": CANONICAL_EXI},
        "SignatureMethod": {"Algorithm": algorithm.value},
        "Reference": [
            {
                "URI": f"#{ident}",
                "Transforms": {"Transform": [{"Algorithm": CANONICAL_EXI}]},
                "DigestMethod": {"Algorithm": method.value},
                "DigestValue": base64.b64encode(method.digest(fragment)).decode("ascii"),
            }
            for ident, fragment in fragments.items()
        ],
    }


def signed_info_exi(signed_info: Mapping[str, Any]) -> bytes:
    """SignedInfo (JSON form) as the EXI fragment of the xmldsig schema: the bytes that are signed."""
    codec = xmldsig_codec()
    return codec.encode_fragment(codec.fragment_from_dict({"SignedInfo": dict(signed_info)}))


_CODEC_MODULES = {
    "evcharge._exi._generated.iso2": "evcharge.iso15118.iso2",
    "evcharge._exi._generated.din": "evcharge.iso15118.din",
    "evcharge._exi._generated.iso20_common": "evcharge.iso15118.iso20.common",
    "evcharge._exi._generated.iso20_ac": "evcharge.iso15118.iso20.ac",
    "evcharge._exi._generated.iso20_dc": "evcharge.iso15118.iso20.dc",
    "evcharge._exi._generated.iso20_acdp": "evcharge.iso15118.iso20.acdp",
    "evcharge._exi._generated.iso20_wpt": "evcharge.iso15118.iso20.wpt",
}


def codec_of(element: object) -> SchemaCodec:
    """The codec of the message set a generated message class belongs to."""
    name = type(element).__module__
    if name == "evcharge._exi._generated.xmldsig":
        return xmldsig_codec()
    module = _CODEC_MODULES.get(name)
    if module is None:
        raise LocalProtocolError(f"{type(element).__name__} is not a class of a V2G message set")
    codec: SchemaCodec = importlib.import_module(module).codec
    return codec


def signed_info_as_dict(signed_info: object) -> dict[str, Any]:
    """A message's SignedInfo object (of any message set) in its JSON form."""
    if isinstance(signed_info, Mapping):
        return dict(signed_info)
    result: dict[str, Any] = codec_of(signed_info).fragment_to_dict(signed_info)
    return result


def find_fragments(message: object, codec: SchemaCodec | None = None) -> dict[str, bytes]:
    """Every element of ``message`` that has an ``Id`` (field ``id_``), as its EXI fragment, by Id: what
    References point at (AuthorizationReq, SalesTariff, MeteringReceiptReq, ContractSignatureCertChain, ...)."""
    out: dict[str, bytes] = {}
    for element in _walk(message):
        ident = getattr(element, "id_", None)
        if isinstance(ident, str) and type(element).__name__ not in ("SignedInfo", "Signature", "Reference"):
            out[ident] = (codec or codec_of(element)).encode_fragment(element)
    return out


def _walk(obj: object) -> Iterator[object]:
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        yield obj
        for f in dataclasses.fields(obj):
            yield from _walk(getattr(obj, f.name))
    elif isinstance(obj, list | tuple):
        for item in obj:
            yield from _walk(item)


# -- sign and verify ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class SignedData:
    signed_info: dict[str, Any]  #: the JSON form, for the header through the message set's fragment_from_dict
    signature_value: bytes
    signed_info_exi: bytes  #: the bytes the signature is over


def _algorithm_for(key: PrivateKey | PublicKey) -> SignatureAlgorithm:
    if isinstance(key, ed448.Ed448PrivateKey | ed448.Ed448PublicKey | Ed448ScalarKey):
        return SignatureAlgorithm.ED448
    if key.curve.name == "secp256r1":
        return SignatureAlgorithm.ECDSA_SHA256
    if key.curve.name == "secp521r1":
        return SignatureAlgorithm.ECDSA_SHA512
    raise LocalProtocolError(f"no V2G signature algorithm for curve {key.curve.name}")


def sign(
    fragments: Mapping[str, bytes],
    private_key: PrivateKey,
    algorithm: SignatureAlgorithm | None = None,
    *,
    digest: DigestMethod | None = None,
) -> SignedData:
    """Sign the EXI fragments (``Id`` -> bytes). The algorithm follows the key unless given. An Ed448 key may be
    an :class:`~evcharge.iso15118.security.ed448.Ed448ScalarKey` (a contract key installed with X448)."""
    algorithm = algorithm or _algorithm_for(private_key)
    info = build_signed_info(fragments, algorithm, digest)
    data = signed_info_exi(info)
    if isinstance(private_key, ed448.Ed448PrivateKey | Ed448ScalarKey):
        if algorithm is not SignatureAlgorithm.ED448:
            raise LocalProtocolError(f"an Ed448 key cannot make {algorithm.name}")
        value = private_key.sign(data)
    else:
        if algorithm is SignatureAlgorithm.ED448:
            raise LocalProtocolError("ED448 needs an Ed448 key")
        hash_ = hashes.SHA256() if algorithm is SignatureAlgorithm.ECDSA_SHA256 else hashes.SHA512()
        value = encode_rs(private_key.sign(data, ec.ECDSA(hash_)), private_key.curve)
    return SignedData(signed_info=info, signature_value=value, signed_info_exi=data)


def _algorithm_uri(node: Mapping[str, Any], what: str) -> str:
    uri = node.get(what, {}).get("Algorithm") if isinstance(node.get(what), Mapping) else None
    if not isinstance(uri, str):
        raise SignatureError(f"SignedInfo without {what}")
    return uri


def check_digests(signed_info: Mapping[str, Any] | object, fragments: Mapping[str, bytes]) -> None:
    """Every Reference of SignedInfo points at one of ``fragments`` (by ``#Id``) and its DigestValue is
    the digest of that fragment; the transforms are canonical EXI. ``SignatureError`` otherwise."""
    info = signed_info_as_dict(signed_info)
    references = info.get("Reference") or []
    if not references:
        raise SignatureError("SignedInfo has no Reference")
    for ref in references:
        uri = ref.get("URI")
        if not isinstance(uri, str) or not uri.startswith("#") or uri[1:] not in fragments:
            raise SignatureError(f"Reference URI {uri!r} does not point at a signed element of the message")
        for transform in (ref.get("Transforms") or {}).get("Transform") or []:
            if transform.get("Algorithm") not in (CANONICAL_EXI, _CANONICAL_EXI_NO_SLASH):
                raise SignatureError(f"Reference {uri}: transform {transform.get('Algorithm')!r} is not canonical EXI")
        try:
            method = DigestMethod(_algorithm_uri(ref, "DigestMethod"))
        except ValueError:
            raise SignatureError(f"Reference {uri}: unknown DigestMethod {ref['DigestMethod']}") from None
        expected = base64.b64decode(ref.get("DigestValue") or "")
        if method.digest(fragments[uri[1:]]) != expected:
            raise SignatureError(f"Reference {uri}: the digest does not match the element's EXI fragment")


def verify(
    signed_info: Mapping[str, Any] | object,
    signature_value: bytes,
    fragments: Mapping[str, bytes],
    public_key: PublicKey,
    *,
    allowed: frozenset[SignatureAlgorithm] = ISO2_ALGORITHMS | ISO20_ALGORITHMS,
) -> SignatureAlgorithm:
    """Check the digests (:func:`check_digests`) and the signature over SignedInfo's EXI fragment with
    ``public_key`` (the contract or CPS certificate's). Returns the algorithm used."""
    info = signed_info_as_dict(signed_info)
    canonical = _algorithm_uri(info, "CanonicalizationMethod")
    if canonical not in (CANONICAL_EXI, _CANONICAL_EXI_NO_SLASH):
        raise SignatureError(f"CanonicalizationMethod {canonical!r} is not canonical EXI")
    try:
        algorithm = SignatureAlgorithm(_algorithm_uri(info, "SignatureMethod"))
    except ValueError:
        raise SignatureError(f"unknown SignatureMethod {info['SignatureMethod']}") from None
    if algorithm not in allowed:
        raise SignatureError(f"SignatureMethod {algorithm.value} is not allowed for this message set")
    check_digests(info, fragments)
    data = signed_info_exi(info)
    try:
        if algorithm is SignatureAlgorithm.ED448:
            if not isinstance(public_key, ed448.Ed448PublicKey):
                raise SignatureError("eddsa-ed448 signature but the certificate's key is not Ed448")
            public_key.verify(signature_value, data)
        else:
            if not isinstance(public_key, ec.EllipticCurvePublicKey):
                raise SignatureError(f"{algorithm.name} signature but the certificate's key is not ECDSA")
            want = "secp256r1" if algorithm is SignatureAlgorithm.ECDSA_SHA256 else "secp521r1"
            if public_key.curve.name != want:
                raise SignatureError(f"{algorithm.name} needs a {want} key, not {public_key.curve.name}")
            hash_ = hashes.SHA256() if algorithm is SignatureAlgorithm.ECDSA_SHA256 else hashes.SHA512()
            public_key.verify(decode_rs(signature_value, public_key.curve), data, ec.ECDSA(hash_))
    except InvalidSignature:
        raise SignatureError("the SignatureValue does not verify with the certificate's key") from None
    return algorithm
