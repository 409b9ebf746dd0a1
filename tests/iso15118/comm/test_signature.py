"""Signatures over EXI fragments: ours checked by `cryptography` directly (not through our verify), the
SignedInfo bytes checked against the EXIficient-made conformance vector, and the signed messages of the
conformance data (tests/data/conformance/exi) re-checked for digest consistency."""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

import pytest

pytest.importorskip("cryptography")

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from evcharge.iso15118 import iso2
from evcharge.iso15118.security.errors import SignatureError
from evcharge.iso15118.security.signature import (
    ISO2_ALGORITHMS,
    ISO20_ALGORITHMS,
    SignatureAlgorithm,
    check_digests,
    find_fragments,
    sign,
    signed_info_as_dict,
    signed_info_exi,
    verify,
)
from tests.conftest import conformance_dir


def vector(number: int) -> bytes:
    """The hex block of vector ``number`` in vectors.md."""
    text = (conformance_dir() / "vectors.md").read_text()
    section = re.search(rf"^## {number}\. .*?(?=^## )", text, re.S | re.M)
    assert section is not None
    block = re.search(r"- hex:\s*```\s*([0-9a-f\s]+?)```", section.group(0))
    assert block is not None
    return bytes.fromhex("".join(block.group(1).split()))


AUTH_FRAGMENT = vector(11)  # AuthorizationReq Id=id1, as EXIficient encodes the fragment
SIGNED_INFO_EXI = vector(12)  # SignedInfo over it, as EXIficient encodes the xmldsig fragment


#: vector 12's SignedInfo, in the JSON form vectors.md gives for it (the encoder input of EXICodec.jar)
SIGNED_INFO_12 = {
    "CanonicalizationMethod": {"Algorithm": "http://www.w3.org/TR/canonical-exi/"},
    "SignatureMethod": {"Algorithm": "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"},
    "Reference": [{"Transforms": {"Transform": [{"Algorithm": "http://www.w3.org/TR/canonical-exi/"}]},
                   "DigestMethod": {"Algorithm": "http://www.w3.org/2001/04/xmlenc#sha256"},
                   "DigestValue": "PM0sV7LGDB5LkgyJ9aHZ74TG3VFht6RJG3Yk7bJl8eU=", "URI": "#id1"}],
}


def test_conformance_digest_of_authorization_req_is_consistent() -> None:
    # vector 11 is the AuthorizationReq fragment {"Id": "id1", "GenChallenge": ...}; our codec makes the same bytes
    element = iso2.codec.fragment_from_dict({"AuthorizationReq": {"Id": "id1",
                                                                  "GenChallenge": "b+tVuSltokN0XQfVJBygLQ=="}})
    assert iso2.codec.encode_fragment(element) == AUTH_FRAGMENT
    # vector 12's DigestValue is the SHA-256 of vector 11's bytes, and its SignedInfo encodes to vector 12's bytes
    check_digests(SIGNED_INFO_12, {"id1": AUTH_FRAGMENT})
    assert base64.b64decode(SIGNED_INFO_12["Reference"][0]["DigestValue"]) == hashlib.sha256(AUTH_FRAGMENT).digest()
    assert signed_info_exi(SIGNED_INFO_12) == SIGNED_INFO_EXI


def test_conformance_signed_charge_parameter_discovery_res_is_not_consistent() -> None:
    # vector 9 (a RISE-V2G sample with an empty SignatureValue): its SalesTariff digest is NOT the digest of the
    # SalesTariff's EXI fragment. We re-check it and report what we find, in both readings of NumEPriceLevels.
    message = iso2.decode(vector(9))
    signature = message.header.signature
    assert signature is not None and signature.signature_value.value == b""
    fragments = find_fragments(message)
    assert set(fragments) == {"id1"}
    with pytest.raises(SignatureError, match="digest does not match"):
        check_digests(signature.signed_info, fragments)
    tariff = message.body.charge_parameter_discovery_res.sa_schedule_list.sa_schedule_tuple[0].sales_tariff
    import dataclasses

    with_levels = iso2.codec.encode_fragment(dataclasses.replace(tariff, num_e_price_levels=0))
    with pytest.raises(SignatureError):
        check_digests(signature.signed_info, {"id1": with_levels})


def test_the_capture_corpus_signatures() -> None:
    # every message of the capture corpus with a header Signature gets its digests re-checked
    checked = 0
    for line in (conformance_dir() / "pcap_corpus.tsv").read_text().splitlines()[1:]:
        namespace, hex_, *_ = line.split("\t")
        if namespace != "urn:iso:15118:2:2013:MsgDef":
            continue
        message = iso2.decode(bytes.fromhex(hex_))
        signature = getattr(message.header, "signature", None)
        if signature is not None:
            check_digests(signature.signed_info, find_fragments(message))
            checked += 1
    assert checked == 0  # the dsV2Gshark captures hold no Plug & Charge message: the vectors above are the data


def test_our_signed_info_bytes_match_exificient() -> None:
    # the SignedInfo we build for vector 11's fragment encodes to vector 12's bytes, except the slash-less
    # canonicalization URI: vector 12 uses "http://www.w3.org/TR/canonical-exi/" as we do
    info = sign({"id1": AUTH_FRAGMENT}, ec.generate_private_key(ec.SECP256R1())).signed_info
    reordered = {"CanonicalizationMethod": info["CanonicalizationMethod"],
                 "SignatureMethod": info["SignatureMethod"], "Reference": info["Reference"]}
    assert signed_info_exi(reordered) == SIGNED_INFO_EXI


def _independent_verify(public: ec.EllipticCurvePublicKey | ed448.Ed448PublicKey, signature: bytes,
                        data: bytes, algorithm: SignatureAlgorithm) -> None:
    if isinstance(public, ed448.Ed448PublicKey):
        public.verify(signature, data)
        return
    n = (public.curve.key_size + 7) // 8
    der = encode_dss_signature(int.from_bytes(signature[:n], "big"), int.from_bytes(signature[n:], "big"))
    public.verify(der, data, ec.ECDSA(hashes.SHA256() if n == 32 else hashes.SHA512()))


@pytest.mark.parametrize(("tree", "algorithm", "length"), [
    ("iso2", SignatureAlgorithm.ECDSA_SHA256, 64),
    ("iso20", SignatureAlgorithm.ECDSA_SHA512, 132),
    ("iso20-ed448", SignatureAlgorithm.ED448, 114),
])
def test_signatures_verified_by_cryptography(pki: Path, tree: str, algorithm: SignatureAlgorithm,
                                             length: int) -> None:
    key = serialization.load_pem_private_key((pki / tree / "contract.key.pem").read_bytes(), None)
    assert isinstance(key, ec.EllipticCurvePrivateKey | ed448.Ed448PrivateKey)
    fragments = {"id1": AUTH_FRAGMENT, "id2": b"\x80\x04\x01other"}
    signed = sign(fragments, key)
    assert len(signed.signature_value) == length  # r||s for ECDSA [V2G20-1000], raw for Ed448
    assert signed.signed_info["SignatureMethod"]["Algorithm"] == algorithm.value
    # the signed bytes are the SignedInfo fragment; checked without our verify
    _independent_verify(key.public_key(), signed.signature_value, signed.signed_info_exi, algorithm)
    digests = [base64.b64decode(r["DigestValue"]) for r in signed.signed_info["Reference"]]
    if algorithm is SignatureAlgorithm.ECDSA_SHA256:
        assert digests == [hashlib.sha256(f).digest() for f in fragments.values()]
    elif algorithm is SignatureAlgorithm.ECDSA_SHA512:
        assert digests == [hashlib.sha512(f).digest() for f in fragments.values()]
    else:
        assert digests == [hashlib.shake_256(f).digest(64) for f in fragments.values()]
    allowed = ISO2_ALGORITHMS if tree == "iso2" else ISO20_ALGORITHMS
    assert verify(signed.signed_info, signed.signature_value, fragments, key.public_key(), allowed=allowed) is algorithm


def test_failed_signature_error_conditions(pki: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    fragments = {"id1": AUTH_FRAGMENT}
    signed = sign(fragments, key)
    public = key.public_key()
    cases = [
        ({"id1": AUTH_FRAGMENT[:-1] + b"\x00"}, signed.signature_value, public, "digest"),  # element changed
        ({}, signed.signature_value, public, "does not point"),  # referenced element missing
        (fragments, bytes(64), public, "does not verify"),  # signature value wrong
        (fragments, signed.signature_value[:-1], public, "r||s"),  # wrong length
        (fragments, signed.signature_value, ec.generate_private_key(ec.SECP256R1()).public_key(), "does not verify"),
    ]
    for frags, value, pub, words in cases:
        with pytest.raises(SignatureError, match=words) as info:
            verify(signed.signed_info, value, frags, pub)
        assert info.value.hint == "FAILED_SignatureError"
    # -2 allows ecdsa-sha256 only
    big = ec.generate_private_key(ec.SECP521R1())
    other = sign(fragments, big)
    with pytest.raises(SignatureError, match="not allowed"):
        verify(other.signed_info, other.signature_value, fragments, big.public_key(), allowed=ISO2_ALGORITHMS)
    with pytest.raises(SignatureError, match="secp256r1"):
        verify(signed.signed_info, signed.signature_value, fragments, big.public_key())
    # and cryptography agrees that a flipped bit breaks it
    bad = bytearray(signed.signature_value)
    bad[5] ^= 1
    with pytest.raises(InvalidSignature):
        _independent_verify(public, bytes(bad), signed.signed_info_exi, SignatureAlgorithm.ECDSA_SHA256)


def test_signed_info_into_a_message_and_back() -> None:
    # the JSON form goes into an ISO 15118-2 header and comes back out of the decoded message unchanged
    key = ec.generate_private_key(ec.SECP256R1())
    signed = sign({"id1": AUTH_FRAGMENT}, key)
    element = iso2.codec.fragment_from_dict({"SignedInfo": signed.signed_info})
    assert signed_info_as_dict(element)["Reference"][0]["DigestValue"] == signed.signed_info["Reference"][0][
        "DigestValue"]
    verify(element, signed.signature_value, {"id1": AUTH_FRAGMENT}, key.public_key(), allowed=ISO2_ALGORITHMS)
