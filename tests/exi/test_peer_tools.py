"""Unit tests of the peer-side test tools: the corpus loader and the JSON content comparison (no JVM needed)."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest

from tests.exi import corpus
from tests.exi.jsoncompare import INVENTED_DEFAULTS, assert_same_content, compare

# -- corpus ------------------------------------------------------------------------------------------------------


def test_vectors_md_entries_and_remarks() -> None:
    vs = {v.origin: v for v in corpus.vectors()}
    assert list(vs) == [f"vec{i}" for i in range(1, 17)]
    assert [vs[f"vec{i}"].family for i in range(1, 17)] == (
        ["SAP"] * 3 + ["DIN"] * 3 + ["ISO2"] * 6 + ["ISO20-Common"] * 2 + ["ISO20-DC", "ISO20-AC"]
    )
    # length fields were checked against the hex while loading; spot-check two
    assert len(vs["vec8"].data) == 38 and len(vs["vec9"].data) == 286
    # the edge cases the remarks describe, as flags
    special = {o: (v.exificient_decodes, v.exificient_roundtrips, v.libcbv2g_decodes) for o, v in vs.items()}
    assert special["vec9"] == (True, False, False)  # NumEPriceLevels invented; empty SignatureValue
    assert special["vec10"] == (False, False, True)  # control characters in EVSEID
    assert all(flags == (True, True, True) for o, flags in special.items() if o not in {"vec9", "vec10"})
    assert vs["vec10"].expected_json is None and "U+0001" in vs["vec10"].meaning
    # fragments: JSON is the encoder input, namespace taken from the remark
    assert [o for o, v in vs.items() if v.fragment] == ["vec11", "vec12"]
    assert vs["vec11"].namespace == corpus.NS_ISO2 and vs["vec11"].root == "AuthorizationReq"
    assert vs["vec12"].namespace == corpus.NS_XMLDSIG and vs["vec12"].root == "SignedInfo"
    assert vs["vec16"].rejected_twins == ("800c041e9869d6a61dc1ef895b9b4a8062004841801804180180418019a900",)
    assert vs["vec8"].message_name == "CurrentDemandReq" and "SwitchEV/iso15118" in vs["vec8"].source


def test_pcap_corpus_rows() -> None:
    rows = corpus.pcap_corpus()
    assert len(rows) == 457
    assert len({r.hex for r in rows}) == 457  # "457 unique payloads"
    for r in rows:
        assert r.data[0] == 0x80, r.id  # EXI header byte of the profile
        assert r.expected_json is not None and len(r.expected_json) == 1
        assert r.source.endswith(".pcapng")
        assert corpus.FAMILY_NAMESPACE[r.family] == r.namespace
    assert {r.family for r in rows} == {"SAP", "DIN", "ISO2", "ISO20-Common", "ISO20-AC"}  # the DC capture is TLS


def test_by_family() -> None:
    sap = corpus.by_family("SAP")
    assert sap and all(v.family == "SAP" for v in sap)
    assert not any(v.fragment for v in corpus.by_family("ISO2", include_fragments=False))
    with pytest.raises(ValueError, match="unknown families"):
        corpus.by_family("ISO-2")


def test_records_are_frozen() -> None:
    v = corpus.vectors()[0]
    with pytest.raises(AttributeError):
        v.hex = "00"  # type: ignore[misc]


# -- jsoncompare ------------------------------------------------------------------------------------------------

VEC9 = next(v for v in corpus.vectors() if v.origin == "vec9")


def test_identical_is_clean() -> None:
    for v in corpus.vectors():
        if v.expected_json is not None:
            assert compare(copy.deepcopy(v.expected_json), v.expected_json) == []


def test_rule1_invented_default_is_tolerated_only_where_listed() -> None:
    expected = VEC9.expected_json
    assert expected is not None
    ours = copy.deepcopy(expected)
    tariff = ours["V2G_Message"]["Body"]["ChargeParameterDiscoveryRes"]["SAScheduleList"]["SAScheduleTuple"][0][
        "SalesTariff"
    ]
    del tariff["NumEPriceLevels"]  # what a codec that does not invent values gives for the 286-byte stream
    assert compare(ours, expected) == []
    # ... but not when the peer's value is something other than the invented default
    tariff_e = copy.deepcopy(expected)
    tariff_e["V2G_Message"]["Body"]["ChargeParameterDiscoveryRes"]["SAScheduleList"]["SAScheduleTuple"][0][
        "SalesTariff"
    ]["NumEPriceLevels"] = 4
    (d,) = compare(ours, tariff_e)
    assert d.kind == "missing" and d.path.endswith("SalesTariff.NumEPriceLevels")
    # ... nor for an element with another parent
    (d,) = compare({"X": {}}, {"X": {"NumEPriceLevels": 0}})
    assert d.kind == "missing" and d.path == "$.X.NumEPriceLevels"
    # ... nor when strictness is asked for
    assert compare(ours, expected, invented_defaults={})
    # ... and never the other way round (we must not invent values)
    (d,) = compare(expected, ours)
    assert d.kind == "extra"


def test_rule1_applies_inside_lists() -> None:
    e = {"SalesTariff": {"SalesTariffEntry": [{"EPriceLevel": 0, "X": 1}, {"EPriceLevel": 3, "X": 2}]}}
    a = {"SalesTariff": {"SalesTariffEntry": [{"X": 1}, {"EPriceLevel": 3, "X": 2}]}}
    assert compare(a, e) == []
    a2 = {"SalesTariff": {"SalesTariffEntry": [{"X": 1}, {"X": 2}]}}
    (d,) = compare(a2, e)
    assert d.path == "$.SalesTariff.SalesTariffEntry[1].EPriceLevel"


def test_invented_defaults_table_names_optional_elements() -> None:
    for parent, element in INVENTED_DEFAULTS:
        assert re.fullmatch(r"[A-Za-z_]+", parent) and re.fullmatch(r"[A-Za-z_]+", element)


@pytest.mark.parametrize(
    ("actual", "expected", "kind", "path"),
    [
        ({"a": True}, {"a": 1}, "type", "$.a"),
        ({"a": 1}, {"a": "1"}, "type", "$.a"),
        ({"a": "0A"}, {"a": "0a"}, "value", "$.a"),
        ({"a": [1, 2]}, {"a": [1, 2, 3]}, "length", "$.a"),
        ({"a": [1, 3]}, {"a": [1, 2]}, "value", "$.a[1]"),
        ({"a": {"b": 1}}, {"a": [{"b": 1}]}, "type", "$.a"),
        ({"a": 1, "b": 2}, {"a": 1}, "extra", "$.b"),
        ({}, {"a": {"b": 0}}, "missing", "$.a"),
        ({"a": None}, {"a": 0}, "type", "$.a"),
    ],
)
def test_strict_differences(actual: object, expected: object, kind: str, path: str) -> None:
    (d,) = compare(actual, expected)
    assert (d.kind, d.path) == (kind, path)
    assert path in str(d)


def test_numbers_compare_by_value_and_order_of_keys_is_free() -> None:
    assert compare({"b": 2.0, "a": [1]}, {"a": [1], "b": 2}) == []


def test_assert_same_content_lists_all() -> None:
    with pytest.raises(AssertionError, match=r"2 content difference\(s\)") as info:
        assert_same_content({"a": 1, "b": 1}, {"a": 2, "b": 2})
    assert "$.a" in str(info.value) and "$.b" in str(info.value)


# -- xsd_strategies on a synthetic schema (features the V2G schemas use, and some they do not) ---------------------

SYNTHETIC_XSD = """<?xml version="1.0"?>
<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns="urn:t" targetNamespace="urn:t"
           elementFormDefault="qualified" attributeFormDefault="qualified">
  <xs:element name="Root" type="RootType"/>
  <xs:element name="Item" type="ItemBase" abstract="true"/>
  <xs:element name="IntItem" substitutionGroup="Item" type="IntItemType"/>
  <xs:element name="TextItem" substitutionGroup="Item" type="TextItemType"/>
  <xs:complexType name="ItemBase" abstract="true"/>
  <xs:complexType name="IntItemType"><xs:complexContent><xs:extension base="ItemBase"><xs:sequence>
      <xs:element name="N" type="odd"/></xs:sequence></xs:extension></xs:complexContent></xs:complexType>
  <xs:complexType name="TextItemType"><xs:complexContent><xs:extension base="ItemBase"><xs:sequence>
      <xs:element name="T" type="code"/></xs:sequence></xs:extension></xs:complexContent></xs:complexType>
  <xs:simpleType name="odd"><xs:restriction base="xs:short">
      <xs:minExclusive value="-5"/><xs:maxExclusive value="5"/></xs:restriction></xs:simpleType>
  <xs:simpleType name="code"><xs:restriction base="xs:string">
      <xs:pattern value="[A-Z]{2}-[0-9]{1,3}"/><xs:maxLength value="5"/></xs:restriction></xs:simpleType>
  <xs:simpleType name="level"><xs:restriction base="xs:unsignedByte">
      <xs:enumeration value="1"/><xs:enumeration value="7"/></xs:restriction></xs:simpleType>
  <xs:complexType name="Signed"><xs:simpleContent><xs:extension base="xs:base64Binary">
      <xs:attribute name="Id" type="xs:ID" use="required"/></xs:extension></xs:simpleContent></xs:complexType>
  <xs:complexType name="RootType">
    <xs:sequence>
      <xs:element ref="Item" minOccurs="0" maxOccurs="2"/>
      <xs:element name="Level" type="level"/>
      <xs:element name="Key" type="Signed" minOccurs="0"/>
      <xs:element name="Hex" type="xs:hexBinary" minOccurs="0"/>
      <xs:choice>
        <xs:element name="A" type="xs:boolean"/>
        <xs:element name="B" type="xs:anyURI"/>
      </xs:choice>
      <xs:element name="Names" type="xs:string" minOccurs="1" maxOccurs="unbounded"/>
    </xs:sequence>
    <xs:attribute name="Id" type="xs:ID"/>
  </xs:complexType>
</xs:schema>
"""


def test_strategies_generate_valid_instances_of_a_synthetic_schema(tmp_path: Path) -> None:
    from hypothesis import given, settings

    from tests.exi.xsd_strategies import XsdStrategies

    path = tmp_path / "t.xsd"
    path.write_text(SYNTHETIC_XSD)
    xs = XsdStrategies("synthetic", schema_file=path, namespace="urn:t")
    # the abstract head counts: element("Item") gives one of its members
    assert xs.global_elements() == ["IntItem", "Item", "Root", "TextItem"]
    seen: set[str] = set()

    @settings(max_examples=150, deadline=None, database=None)
    @given(xs.element("Root"))
    def run(msg: dict[str, Any]) -> None:
        root = msg["Root"]
        assert root["Level"] in (1, 7)
        assert ("A" in root) != ("B" in root)  # choice: exactly one
        assert isinstance(root["Names"], list) and 1 <= len(root["Names"]) <= 3  # unbounded capped
        for key in ("IntItem", "TextItem"):
            if key in root:
                assert isinstance(root[key], list)  # a repeated abstract reference, keyed by member
                seen.add(key)
        for item in root.get("IntItem", []):
            assert -5 < item["N"] < 5
        for item in root.get("TextItem", []):
            assert re.fullmatch(r"[A-Z]{2}-[0-9]{1,3}", item["T"]) and len(item["T"]) <= 5
        if "Key" in root:
            assert list(root["Key"]) == ["Id", "value"]  # attributes before the simple content
            assert "Id" not in root or root["Id"] != root["Key"]["Id"]  # IDs unique in an instance
        if "Hex" in root:
            assert root["Hex"] == root["Hex"].upper()
        xml = xs.to_xml(msg)
        assert xs.validate(xml) == [], xml
        assert xs.from_xml(xml) == msg

    run()
    assert seen == {"IntItem", "TextItem"}


def test_to_xml_rejects_what_is_not_in_the_schema(tmp_path: Path) -> None:
    from tests.exi.xsd_strategies import XsdStrategies

    path = tmp_path / "t.xsd"
    path.write_text(SYNTHETIC_XSD)
    xs = XsdStrategies("synthetic", schema_file=path, namespace="urn:t")
    with pytest.raises(ValueError, match="not in the content model"):
        xs.to_xml({"Root": {"Level": 1, "A": True, "Names": ["x"], "Bogus": 1}})
    with pytest.raises(ValueError, match="must be a list"):
        xs.to_xml({"Root": {"Level": 1, "A": True, "Names": "x"}})
    xml = xs.to_xml({"Root": {"Id": "r", "Level": 7, "B": "urn:x", "Names": ["a", "b"]}})
    assert 't:Id="r"' in xml.replace("ns0:", "t:") and xs.validate(xml) == []
