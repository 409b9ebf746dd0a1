"""Rule 1 of jsoncompare, checked against the running peer: EXICodec's JSON path invents exactly the listed defaults.

For each entry of ``INVENTED_DEFAULTS`` an instance *without* the optional element is encoded through the EXIficient
core (which encodes what it is given), and EXICodec's JSON path must then report the element with the default value.
The other direction (no invented value outside the table) is covered by the property tests in
test_peer_strategies.py, whose JSON-path round trips only tolerate the listed defaults.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.exi import corpus
from tests.exi.exificient import ExificientPeer, exificient  # noqa: F401
from tests.exi.jsoncompare import INVENTED_DEFAULTS, compare, invented_default_gaps
from tests.exi.xsd_strategies import strategies_for

pytestmark = pytest.mark.interop


def _vec9_without(*keys: str) -> dict[str, Any]:
    v9 = next(v for v in corpus.vectors() if v.origin == "vec9")
    msg = copy.deepcopy(v9.expected_json)
    assert msg is not None
    tariff = msg["V2G_Message"]["Body"]["ChargeParameterDiscoveryRes"]["SAScheduleList"]["SAScheduleTuple"][0][
        "SalesTariff"
    ]
    tariff["Id"] = "id2"  # vectors.md #9 reuses "id1" (Reference and SalesTariff): invalid XML, irrelevant here
    if "NumEPriceLevels" in keys:
        del tariff["NumEPriceLevels"]
    if "EPriceLevel" in keys:
        for entry in tariff["SalesTariffEntry"]:
            del entry["EPriceLevel"]
    return msg


CASES: dict[tuple[str, str], tuple[str, dict[str, Any]]] = {
    ("supportedAppProtocolRes", "SchemaID"): (
        "SAP",
        {"supportedAppProtocolRes": {"ResponseCode": "Failed_NoNegotiation"}},
    ),
    ("SalesTariff", "NumEPriceLevels"): ("ISO2", _vec9_without("NumEPriceLevels")),
    ("SalesTariffEntry", "EPriceLevel"): ("ISO2", _vec9_without("EPriceLevel")),
    ("MeteringReceiptReq", "SAScheduleTupleID"): (
        "ISO2",
        {
            "V2G_Message": {
                "Header": {"SessionID": "0102030405060708"},
                "Body": {"MeteringReceiptReq": {"SessionID": "0102030405060708", "MeterInfo": {"MeterID": "M1"}}},
            }
        },
    ),
}


def test_every_rule_has_a_case() -> None:
    assert set(CASES) == set(INVENTED_DEFAULTS)


@pytest.mark.parametrize("key", list(CASES), ids=["/".join(k) for k in CASES])
def test_peer_invents_the_listed_default(key: tuple[str, str], exificient: ExificientPeer) -> None:  # noqa: F811
    family, msg = CASES[key]
    xs = strategies_for(family)
    assert not xs.validate(xs.to_xml(msg)), "the instance without the optional element is valid"
    gaps = invented_default_gaps(msg)
    assert gaps and all(g.endswith("." + key[1]) for g in gaps)
    data = exificient.encode_xml(xs.namespace, xs.to_xml(msg))  # honest bytes: the element is absent
    assert xs.from_xml(exificient.decode_xml(xs.namespace, data)) == msg
    via_json = exificient.decode(xs.namespace, data)
    diffs = compare(msg, via_json, invented_defaults={})
    assert diffs and all(d.kind == "missing" and d.path.endswith("." + key[1]) for d in diffs)
    assert all(d.expected == INVENTED_DEFAULTS[key] for d in diffs)
    assert compare(msg, via_json) == []  # ... which rule 1 tolerates
    # and the JSON path re-encodes the invented value: different bytes
    assert exificient.encode(xs.namespace, via_json) != data
