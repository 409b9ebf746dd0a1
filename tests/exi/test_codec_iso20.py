"""ISO 15118-20: the conformance data, EXIficient differential tests (CommonMessages, AC, DC, WPT),
and ACDP (which EXIficient lacks): round trips and XSD-valid XML."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from evcharge.iso15118 import iso20
from tests.exi import corpus
from tests.exi.codecs import RUNTIMES, codec
from tests.exi.exificient import ExificientPeer
from tests.exi.jsoncompare import compare, format_differences
from tests.exi.test_codec_differential import _SETTINGS, BATCH, _differential
from tests.exi.xsd_strategies import strategies_for

ISO20 = ("ISO20-Common", "ISO20-AC", "ISO20-DC", "ISO20-WPT", "ISO20-ACDP")
VECTORS = [v for v in corpus.by_family(*ISO20) if not v.fragment]
PAYLOAD_TYPE = {"ISO20-Common": 0x8002, "ISO20-AC": 0x8003, "ISO20-DC": 0x8004, "ISO20-ACDP": 0x8005,
                "ISO20-WPT": 0x8006}


def test_iso20_conformance_data_is_there() -> None:
    assert len(VECTORS) >= 47


@pytest.mark.parametrize("backend", sorted(RUNTIMES))
@pytest.mark.parametrize("vector", VECTORS, ids=[v.id for v in VECTORS])
def test_iso20_vectors_round_trip_and_match_peer_json(vector: corpus.ExiVector, backend: str) -> None:
    c = codec(vector.family, backend)
    message = c.decode(vector.data)
    assert c.encode(message) == vector.data
    if vector.expected_json is not None:
        diffs = compare(c.to_dict(message), vector.expected_json)
        assert not diffs, format_differences(diffs)


@pytest.mark.parametrize("vector", VECTORS[:10], ids=[v.id for v in VECTORS[:10]])
def test_decode_payload_selects_the_schema_by_payload_type(vector: corpus.ExiVector) -> None:
    message = iso20.decode_payload(PAYLOAD_TYPE[vector.family], vector.data)
    assert iso20.schema_for_payload_type(PAYLOAD_TYPE[vector.family]).encode(message) == vector.data
    with pytest.raises(ValueError, match="payload type"):
        iso20.decode_payload(0x8001, vector.data)


def _plan() -> list[Any]:
    out = []
    for family in ("ISO20-Common", "ISO20-AC", "ISO20-DC", "ISO20-WPT"):
        names = strategies_for(family).message_names()
        per = -(-200 // len(names))
        out += [pytest.param(family, n, -(-per // BATCH), id=f"{family}-{n}") for n in names]
    return out


@pytest.mark.interop
@pytest.mark.property
@pytest.mark.parametrize(("family", "message", "examples"), _plan())
def test_iso20_messages_match_exificient(family: str, message: str, examples: int, exificient: ExificientPeer) -> None:
    xs = strategies_for(family)

    @settings(_SETTINGS, max_examples=examples)
    @given(st.lists(xs.message_strategy(message), min_size=BATCH, max_size=BATCH))
    def run(msgs: list[dict[str, Any]]) -> None:
        _differential(exificient, xs, family, msgs, fragment=False)

    run()


@pytest.mark.property
@pytest.mark.parametrize("message", strategies_for("ISO20-ACDP").message_names())
def test_acdp_round_trips_and_xml_is_schema_valid(message: str) -> None:
    """EXIficient has no ACDP grammar: round trips on both backends, and lxml validates our XML."""
    xs = strategies_for("ISO20-ACDP")
    schema = etree.XMLSchema(etree.parse(str(iso20.acdp.codec.module.__file__).replace(
        "_generated/iso20_acdp.py", "schemas/iso15118-20/V2G_CI_ACDP.xsd")))

    @settings(_SETTINGS, max_examples=25)
    @given(xs.message_strategy(message))
    def run(msg: dict[str, Any]) -> None:
        outputs = set()
        for backend in sorted(RUNTIMES):
            c = codec("ISO20-ACDP", backend)
            obj = c.from_dict(msg)
            data = c.encode(obj, next(iter(msg)))
            outputs.add(data)
            assert c.decode(data) == obj
        xml = iso20.acdp.to_xml(iso20.acdp.from_dict(msg), next(iter(msg)))
        schema.assertValid(etree.fromstring(xml))
        assert iso20.acdp.from_xml(xml) == iso20.acdp.from_dict(msg)
        assert len(outputs) == 1

    run()


#: the elements ISO 15118-20 signs (each has an Id), encoded as CommonMessages fragments for the digests
ISO20_SIGNED = ("AbsolutePriceSchedule", "PriceLevelSchedule", "PnC_AReqAuthorizationMode", "SignedInstallationData",
                "SignedMeteringData", "OEMProvisioningCertificateChain", "SignedInfo")


@pytest.mark.interop
@pytest.mark.property
@pytest.mark.parametrize("root", ISO20_SIGNED)
def test_iso20_signed_fragments_match_exificient(root: str, exificient: ExificientPeer) -> None:
    xs = strategies_for("ISO20-Common")
    glob = any(q[1] == root for q in xs.schema.elements)
    strategy = xs.element(root) if glob else xs.local_element(root)

    @settings(_SETTINGS, max_examples=6)
    @given(st.lists(strategy, min_size=BATCH, max_size=BATCH))
    def run(msgs: list[dict[str, Any]]) -> None:
        _differential(exificient, xs, "ISO20-Common", msgs, fragment=True)

    run()


def test_iso20_encode_fragment_is_what_the_public_api_gives() -> None:
    v = next(x for x in VECTORS if x.origin == "vec14")
    m = iso20.common.decode(v.data)
    schedule = m.scheduled_se_res_control_mode.schedule_tuple[0].charging_schedule.absolute_price_schedule
    fragment = iso20.common.encode_fragment(schedule)
    ((name, back),) = iso20.common.decode_fragment(fragment)
    assert name == "AbsolutePriceSchedule" and back == schedule
