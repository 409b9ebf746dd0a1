"""The EXIficient peer against the conformance corpus: proves the harness and documents EXIficient's own limits.

For every SAP, DIN, ISO-2 and ISO-20 entry of pcap_corpus.tsv and vectors.md:
  * EXIficient's JSON path decodes the bytes to the JSON beside them (exact: the JSON came from the same codec);
  * EXIficient's JSON path re-encodes that JSON to the identical bytes;
  * the EXIficient core (XML strings, no JAXB) decodes and re-encodes to the identical bytes.
The entries where EXIficient itself cannot do this are listed in ``KNOWN_PEER_LIMITS`` with the reason; the tests
assert that they fail *in the documented way*, so the list cannot go stale silently.
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any

import pytest

from tests.exi import corpus
from tests.exi.exificient import NS_ISO2, NS_XMLDSIG, ExificientError, ExificientPeer, exificient  # noqa: F401
from tests.exi.jsoncompare import compare, format_differences

pytestmark = pytest.mark.interop

#: origin -> what EXIficient does with the entry instead of a clean round trip
KNOWN_PEER_LIMITS = {
    "vec9": "JSON path: JAXB invents NumEPriceLevels=0 for the absent optional element, re-encoding gives 287 B "
    "instead of 286 B (the core path round-trips it)",
    "vec10": "JSON path: JAXB rejects the control characters in EVSEID (UnmarshalException); core path decodes, but "
    "XML 1.0 cannot carry U+0001..U+0008, so its XML output only re-encodes when declared as XML 1.1",
}

DOCUMENTS = [v for v in corpus.all_vectors() if not v.fragment]
FRAGMENTS = [v for v in corpus.all_vectors() if v.fragment]
DOCS_WITH_JSON = [v for v in DOCUMENTS if v.expected_json is not None]


def _ids(vs: list[corpus.ExiVector]) -> list[str]:
    return [v.id for v in vs]


class _PeerResults:
    """All corpus requests, sent in a handful of batches (one per namespace and operation) and kept for the session."""

    def __init__(self, peer: ExificientPeer) -> None:
        by_ns: dict[str, list[corpus.ExiVector]] = defaultdict(list)
        for v in DOCUMENTS:
            by_ns[v.namespace].append(v)
        self.json_decoded: dict[str, Any] = {}
        self.json_encoded: dict[str, Any] = {}
        self.xml_decoded: dict[str, Any] = {}
        self.xml_encoded: dict[str, Any] = {}
        for ns, vs in by_ns.items():
            datas = [v.data for v in vs]
            for v, r in zip(vs, peer.decode_batch(ns, datas, return_errors=True), strict=True):
                self.json_decoded[v.id] = r
            with_json = [v for v in vs if v.expected_json is not None]
            encoded = peer.encode_batch(ns, [v.expected_json for v in with_json], return_errors=True)
            for v, r in zip(with_json, encoded, strict=True):
                self.json_encoded[v.id] = r
            xmls = peer.decode_xml_batch(ns, datas, return_errors=True)
            for v, r in zip(vs, xmls, strict=True):
                self.xml_decoded[v.id] = r
            ok = [(v, x) for v, x in zip(vs, xmls, strict=True) if isinstance(x, str)]
            reenc = peer.encode_xml_batch(ns, [x for _, x in ok], return_errors=True)
            for (v, _), r in zip(ok, reenc, strict=True):
                self.xml_encoded[v.id] = r


@pytest.fixture(scope="module")
def results(exificient: ExificientPeer) -> _PeerResults:  # noqa: F811
    return _PeerResults(exificient)


def test_corpus_covers_every_family() -> None:
    families = {v.family for v in DOCUMENTS}
    assert {"SAP", "DIN", "ISO2", "ISO20-Common", "ISO20-AC", "ISO20-DC"} <= families
    assert len(corpus.pcap_corpus()) == 457
    assert len(corpus.vectors()) == 16


@pytest.mark.parametrize("v", DOCUMENTS, ids=_ids(DOCUMENTS))
def test_json_decode_matches_corpus(v: corpus.ExiVector, results: _PeerResults) -> None:
    got = results.json_decoded[v.id]
    if not v.exificient_decodes:
        assert v.origin in KNOWN_PEER_LIMITS
        assert isinstance(got, ExificientError) and "UnmarshalException" in got.message
        return
    assert not isinstance(got, ExificientError), got
    # No leniency: the expected JSON was produced by this very codec.
    diffs = compare(got, v.expected_json, invented_defaults={})
    assert not diffs, format_differences(diffs)


@pytest.mark.parametrize("v", DOCS_WITH_JSON, ids=_ids(DOCS_WITH_JSON))
def test_json_encode_gives_corpus_bytes(v: corpus.ExiVector, results: _PeerResults) -> None:
    got = results.json_encoded[v.id]
    assert not isinstance(got, ExificientError), got
    if not v.exificient_roundtrips:
        assert v.origin in KNOWN_PEER_LIMITS
        assert "NumEPriceLevels" in str(v.expected_json)
        assert (len(got), len(v.data)) == (287, 286), "vectors.md #9 documents 287 B for the JSON re-encoding"
        return
    assert got.hex() == v.hex


@pytest.mark.parametrize("v", DOCUMENTS, ids=_ids(DOCUMENTS))
def test_core_xml_roundtrip(v: corpus.ExiVector, results: _PeerResults, exificient: ExificientPeer) -> None:  # noqa: F811
    xml = results.xml_decoded[v.id]
    assert isinstance(xml, str), xml
    got = results.xml_encoded[v.id]
    if v.origin == "vec10":
        assert isinstance(got, ExificientError) and "invalid XML character" in got.message
        # The same XML declared as XML 1.1 (which allows character references to C0 controls) re-encodes exactly.
        xml11 = re.sub(r"^<\?xml version=\"1\.0\"", '<?xml version="1.1"', xml)
        assert exificient.encode_xml(v.namespace, xml11).hex() == v.hex
        return
    assert not isinstance(got, ExificientError), got
    assert got.hex() == v.hex


def test_vec10_meaning_via_core(exificient: ExificientPeer) -> None:  # noqa: F811
    """vectors.md #10: EVSEID is U+0001..U+0008, EVSETimeStamp 123456789, ResponseCode OK."""
    (v,) = [v for v in corpus.vectors() if v.origin == "vec10"]
    xml = exificient.decode_xml(v.namespace, v.data)
    assert re.search(r"<(\w+:)?EVSEID>(&#[0-9]+;){8}</(\w+:)?EVSEID>", xml), xml
    assert [int(n) for n in re.findall(r"&#([0-9]+);", xml)] == list(range(1, 9))
    assert re.search(r"EVSETimeStamp>123456789<", xml)
    assert re.search(r"ResponseCode>OK<", xml)


@pytest.mark.parametrize("v", FRAGMENTS, ids=_ids(FRAGMENTS))
def test_fragment_json_encode(v: corpus.ExiVector, exificient: ExificientPeer) -> None:  # noqa: F811
    """EXICodec picks fragment mode from the JSON root: SignedInfo (xmldsig) and signed MsgDef elements."""
    assert exificient.encode(v.namespace, v.expected_json).hex() == v.hex


@pytest.mark.parametrize("v", FRAGMENTS, ids=_ids(FRAGMENTS))
def test_fragment_core_roundtrip(v: corpus.ExiVector, exificient: ExificientPeer) -> None:  # noqa: F811
    xml = exificient.decode_xml(v.namespace, v.data, fragment=True)
    assert v.root is not None and re.search(rf"<(\w+:)?{v.root}[ >]", xml), xml
    assert exificient.encode_xml(v.namespace, xml, fragment=True).hex() == v.hex


def test_signedinfo_fragment_json_decode(exificient: ExificientPeer) -> None:  # noqa: F811
    (v,) = [v for v in FRAGMENTS if v.namespace == NS_XMLDSIG]
    diffs = compare(exificient.decode(v.namespace, v.data), v.expected_json, invented_defaults={})
    assert not diffs, format_differences(diffs)


def test_msgdef_fragment_not_decodable_by_json_path(exificient: ExificientPeer) -> None:  # noqa: F811
    """The jar's JSON path decodes MsgDef streams as documents only: a MsgDef fragment needs the core path."""
    (v,) = [v for v in FRAGMENTS if v.namespace == NS_ISO2]
    with pytest.raises(ExificientError):
        exificient.decode(v.namespace, v.data)


def test_negative_twins_rejected(exificient: ExificientPeer) -> None:  # noqa: F811
    twins = [(v, t) for v in corpus.vectors() for t in v.rejected_twins]
    assert twins, "vectors.md #16 documents a negative twin"
    for v, t in twins:
        with pytest.raises(ExificientError):
            exificient.decode(v.namespace, bytes.fromhex(t))


def test_errors_carry_peer_message_and_peer_survives(exificient: ExificientPeer) -> None:  # noqa: F811
    with pytest.raises(ExificientError, match="distinguishing bits"):
        exificient.decode(NS_ISO2, b"\xff\xff")
    with pytest.raises(ExificientError, match="root element NoSuchRoot") as info:
        exificient.encode(NS_ISO2, {"NoSuchRoot": {}})
    assert info.value.command == "enc" and info.value.namespace == NS_ISO2
    bad_hex = {"V2G_Message": {"Header": {"SessionID": "ZZ"}, "Body": {"SessionSetupReq": {"EVCCID": "00"}}}}
    with pytest.raises(ExificientError, match="illegal character for hexBinary"):
        exificient.encode(NS_ISO2, bad_hex)
    with pytest.raises(ExificientError, match="unknown namespace"):
        exificient.decode("urn:example:nothing", b"\x80")
    # the JVM is still there and answers correctly
    v = corpus.vectors()[2]
    assert exificient.decode(v.namespace, v.data) == v.expected_json


def test_batch_return_errors_keeps_order(exificient: ExificientPeer) -> None:  # noqa: F811
    v = corpus.vectors()[2]
    out = exificient.decode_batch(v.namespace, [v.data, b"\x00", v.data], return_errors=True)
    assert out[0] == v.expected_json and out[2] == v.expected_json
    assert isinstance(out[1], ExificientError)
