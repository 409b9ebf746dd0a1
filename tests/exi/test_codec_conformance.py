"""Every SAP, DIN and ISO-2 message of the conformance data decodes to the JSON beside it and
re-encodes to the identical bytes, on both backends."""

from __future__ import annotations

import pytest

from evcharge.iso15118 import iso2
from tests.exi import corpus
from tests.exi.codecs import RUNTIMES, codec
from tests.exi.jsoncompare import compare, format_differences

PART1 = ("SAP", "DIN", "ISO2")
DOCUMENTS = [v for v in corpus.by_family(*PART1) if not v.fragment]
FRAGMENTS = [v for v in corpus.by_family(*PART1) if v.fragment]


def test_the_conformance_data_is_all_there() -> None:
    # 7 SAP + 36 DIN + 371 ISO-2 captured messages, plus the vectors.md entries
    tsv = [v for v in corpus.pcap_corpus() if v.family in PART1]
    assert len(tsv) == 414
    assert len(DOCUMENTS) > len(tsv)
    assert len(FRAGMENTS) == 2


@pytest.mark.parametrize("backend", sorted(RUNTIMES))
@pytest.mark.parametrize("vector", DOCUMENTS, ids=[v.id for v in DOCUMENTS])
def test_decode_matches_peer_json_and_reencodes_identically(vector: corpus.ExiVector, backend: str) -> None:
    c = codec(vector.family, backend)
    message = c.decode(vector.data)
    assert c.encode(message) == vector.data
    if vector.expected_json is not None:
        diffs = compare(c.to_dict(message), vector.expected_json)
        assert not diffs, format_differences(diffs)
        # the JSON form goes back to the same message
        assert c.from_dict(c.to_dict(message)) == message


def test_control_characters_in_evseid_are_decoded() -> None:
    """vectors.md 10: EXIficient's JAXB layer rejects it; the message is valid EXI and decodes."""
    data = bytes.fromhex("8098004011e0002804080c1014181c2012b35de740")
    m = iso2.decode(data)
    res = m.body.session_setup_res
    assert res.evseid == "".join(chr(c) for c in range(1, 9))
    assert res.evse_time_stamp == 123456789
    assert res.response_code == iso2.ResponseCode.OK
    assert m.header.session_id == b"\x00"
    assert iso2.encode(m) == data


def test_empty_signature_value_decodes_and_reencodes() -> None:
    """vectors.md 9 (RISE-V2G): an empty SignatureValue is a second-level EE; no NumEPriceLevels invented."""
    v = next(x for x in DOCUMENTS if x.origin == "vec9")
    m = iso2.decode(v.data)
    assert m.header.signature.signature_value.value == b""
    tariff = m.body.charge_parameter_discovery_res.sa_schedule_list.sa_schedule_tuple[0].sales_tariff
    assert tariff.num_e_price_levels is None
    assert len(v.data) == 286 and iso2.encode(m) == v.data


@pytest.mark.parametrize("backend", sorted(RUNTIMES))
@pytest.mark.parametrize("vector", FRAGMENTS, ids=[v.id for v in FRAGMENTS])
def test_signature_fragments_are_byte_identical(vector: corpus.ExiVector, backend: str) -> None:
    assert vector.expected_json is not None
    ((name, body),) = vector.expected_json.items()
    family = "XMLDSIG" if name == "SignedInfo" else "ISO2"
    c = codec(family, backend)
    element = c.fragment_from_dict({name: body})
    assert c.encode_fragment(element) == vector.data
    ((decoded_name, decoded),) = c.decode_fragment(vector.data)
    assert decoded_name == name and decoded == element


def test_iso2_encode_fragment_uses_the_xmldsig_grammar_for_signed_info() -> None:
    v = next(x for x in FRAGMENTS if "SignedInfo" in (x.expected_json or {}))
    assert v.expected_json is not None
    # the ISO-2 class of SignedInfo (as found in a V2G_Message header) gives the xmldsig fragment
    signed_info = iso2.codec._obj_from_dict(
        iso2.codec._types[iso2.codec._by_class[iso2.SignedInfo]].tid, v.expected_json["SignedInfo"], "SignedInfo"
    )
    assert iso2.encode_fragment(signed_info) == v.data
