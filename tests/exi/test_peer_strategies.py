"""The XSD strategies against lxml and EXIficient: every generated instance is valid and EXIficient takes it.

For each batch of generated instances (one JVM round trip per batch and operation):
  1. lxml validates ``to_xml(instance)`` against the XSD -- the instance is valid, independently of any EXI codec;
  2. the EXIficient core encodes that XML (the peer accepts it);
  3. the EXIficient core decodes the bytes, lxml validates its XML, and ``from_xml`` of it equals the instance
     (strict content comparison) -- nothing was lost or invented;
  4. where EXICodec's JSON path serves the schema (SAP, ISO-2 documents, DIN without base64Binary), the JSON path
     encodes the instance to the same bytes as the core path, and decodes them back to the same content (rule 1 of
     jsoncompare: the peer may invent its known defaults; instances lacking one are exempt from the byte check).

Documented limits of the JSON path (asserted, so they cannot change silently):
  * DIN: any base64Binary value makes EXICodec fail with NoClassDefFoundError javax/mail/internet/MimeMultipart
    (its DIN JAXB classes need javax.mail, which the jar lacks);
  * DIN: the ``Id`` attributes are xs:IDREF; JAXB resolves them and fails ("An object of type java.lang.Object with
    ID ... was not found") unless the document holds an element with that ID -- the core path does not care;
  * ISO-2 SalesTariff fragment: EXICodec reads it with hand-written org.json code that fails on ConsumptionCost
    (``JSONObject["Multiplier"] is not a string``);
  * xmldsig SignedInfo: EXICodec builds SignedInfo from the Reference URIs and DigestValues only, with fixed
    algorithms, and requires URI -- the core path is the reference for SignedInfo.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.exi.exificient import ExificientError, ExificientPeer, exificient  # noqa: F401
from tests.exi.jsoncompare import compare, format_differences, invented_default_gaps
from tests.exi.xsd_strategies import XsdStrategies, strategies_for

pytestmark = [pytest.mark.interop, pytest.mark.property]

#: generated instances per schema at least (spread over its messages); fragments: BATCH x EXAMPLES per root
MIN_PER_SCHEMA = 204
BATCH = 4
EXAMPLES = 2
_SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
        HealthCheck.filter_too_much,  # overruns of the buffer by large draws count as filtered; nothing is filtered
    ],
)

#: ISO-2 elements EXICodec encodes as EXI fragments (the signed elements; see AbstractEXICodec in the jar)
ISO2_FRAGMENT_ROOTS = (
    "AuthorizationReq",
    "MeteringReceiptReq",
    "CertificateInstallationReq",
    "SalesTariff",
    "ContractSignatureCertChain",
    "ContractSignatureEncryptedPrivateKey",
    "DHpublickey",
    "eMAID",
)
_DIN_MIME = "javax/mail/internet/MimeMultipart"
_SALES_TARIFF_COST = re.compile(r'JSONObject\["Multiplier"\] is not a string')
_DIN_IDREF = re.compile(r"An object of type java\.lang\.Object with ID \S+ was not found")


def check_batch(
    peer: ExificientPeer, xs: XsdStrategies, msgs: list[dict[str, Any]], *, fragment: bool, json_path: bool
) -> None:
    problems: list[str] = []
    xmls = [xs.to_xml(m) for m in msgs]
    for i, x in enumerate(xmls):
        errs = xs.validate(x) if not fragment or _is_global(xs, msgs[i]) else []
        if errs:
            problems.append(f"#{i} generated instance is invalid: {errs[:3]}")
    core = peer.encode_xml_batch(xs.namespace, xmls, fragment=fragment, return_errors=True)
    ok = [i for i, c in enumerate(core) if isinstance(c, bytes)]
    problems += [f"#{i} EXIficient core rejects the instance: {core[i]}" for i in range(len(msgs)) if i not in ok]
    back = peer.decode_xml_batch(xs.namespace, [core[i] for i in ok], fragment=fragment, return_errors=True)
    for i, xml in zip(ok, back, strict=True):
        if isinstance(xml, ExificientError):
            problems.append(f"#{i} EXIficient core cannot decode its own output: {xml}")
            continue
        if not fragment or _is_global(xs, msgs[i]):
            errs = xs.validate(xml)
            if errs:
                problems.append(f"#{i} decoded XML is invalid: {errs[:3]}")
        diffs = compare(xs.from_xml(xml), msgs[i], invented_defaults={})
        if diffs:
            problems.append(f"#{i} core round trip changed the content:\n{format_differences(diffs)}")
    if json_path and ok:
        enc = peer.encode_batch(xs.namespace, [msgs[i] for i in ok], return_errors=True)
        for i, b in zip(ok, enc, strict=True):
            if isinstance(b, ExificientError):
                if xs.family == "DIN" and (_DIN_MIME in b.message or _DIN_IDREF.search(b.message)):
                    continue  # documented limits of the jar's DIN JSON path (see the module doc)
                if fragment and "SalesTariff" in msgs[i] and _SALES_TARIFF_COST.search(b.message):
                    continue  # documented limit of the jar's hand-written SalesTariff fragment reader
                problems.append(f"#{i} EXICodec JSON path rejects the instance: {b}")
            elif b != core[i] and not invented_default_gaps(msgs[i]):
                problems.append(f"#{i} JSON path {b.hex()} != core path {core[i].hex()}")
        good = [(i, b) for i, b in zip(ok, enc, strict=True) if isinstance(b, bytes)]
        if good and not fragment:
            decoded = peer.decode_batch(xs.namespace, [b for _, b in good], return_errors=True)
            for (i, _), d in zip(good, decoded, strict=True):
                if isinstance(d, ExificientError):
                    problems.append(f"#{i} EXICodec JSON path cannot decode: {d}")
                    continue
                diffs = compare(msgs[i], d)
                if diffs:
                    problems.append(f"#{i} JSON path round trip changed the content:\n{format_differences(diffs)}")
    assert not problems, "\n".join(problems[:10])


def _is_global(xs: XsdStrategies, msg: dict[str, Any]) -> bool:
    name = next(iter(msg))
    return any(qn[1] == name for qn in xs.schema.elements)


#: family -> whether EXICodec's JSON path serves it (WPT and ACDP have no JAXB bindings in the jar: core path only)
FAMILIES = {
    "SAP": True,
    "DIN": True,
    "ISO2": True,
    "ISO20-Common": True,
    "ISO20-AC": True,
    "ISO20-DC": True,
    "ISO20-WPT": False,
    "ISO20-ACDP": False,
}


def _plan() -> list[Any]:
    """(family, message, batch, examples) so that every message is covered and every schema gets MIN_PER_SCHEMA."""
    out = []
    for family in FAMILIES:
        names = strategies_for(family).message_names()
        per = -(-MIN_PER_SCHEMA // len(names))
        batch = min(per, 4)  # a batch is drawn from one hypothesis buffer: big messages would overrun a larger one
        out.append(
            [pytest.param(family, n, batch, -(-per // batch), id=f"{family}-{n}") for n in names]
        )  # fmt: skip
    return [p for ps in out for p in ps]


@pytest.mark.parametrize(("family", "message", "batch", "examples"), _plan())
def test_messages(family: str, message: str, batch: int, examples: int, exificient: ExificientPeer) -> None:  # noqa: F811
    xs = strategies_for(family)

    @settings(_SETTINGS, max_examples=examples)
    @given(st.lists(xs.message_strategy(message), min_size=batch, max_size=batch))
    def run(msgs: list[dict[str, Any]]) -> None:
        check_batch(exificient, xs, msgs, fragment=False, json_path=FAMILIES[family])

    run()


def test_plan_covers_every_message_and_enough_instances() -> None:
    plan = [p.values for p in _plan()]
    for family in FAMILIES:
        rows = [r for r in plan if r[0] == family]
        assert {r[1] for r in rows} == set(strategies_for(family).message_names())
        assert sum(r[2] * r[3] for r in rows) >= MIN_PER_SCHEMA


def test_signedinfo_fragments(exificient: ExificientPeer) -> None:  # noqa: F811
    xs = strategies_for("XMLDSIG")

    @settings(_SETTINGS, max_examples=21)
    @given(st.lists(xs.element("SignedInfo"), min_size=10, max_size=10))
    def run(msgs: list[dict[str, Any]]) -> None:
        check_batch(exificient, xs, msgs, fragment=True, json_path=False)

    run()


@pytest.mark.parametrize("root", ISO2_FRAGMENT_ROOTS)
def test_iso2_signed_fragments(root: str, exificient: ExificientPeer) -> None:  # noqa: F811
    xs = strategies_for("ISO2")
    if _is_global(xs, {root: None}):
        strategy = xs.element(root)
    else:
        strategy = xs.local_element(root, xs.FRAGMENT_ROOT_TYPES.get(root))

    @_SETTINGS
    @given(st.lists(strategy, min_size=BATCH, max_size=BATCH))
    def run(msgs: list[dict[str, Any]]) -> None:
        # JSON path: EXICodec picks the fragment grammar from the root name; its bytes must equal the core's
        check_batch(exificient, xs, msgs, fragment=True, json_path=True)

    run()


def test_signedinfo_json_path_is_fixed_shape(exificient: ExificientPeer) -> None:  # noqa: F811
    """The documented SignedInfo limit: the JSON path ignores the algorithms it is given."""
    xs = strategies_for("XMLDSIG")
    msg = {
        "SignedInfo": {
            "CanonicalizationMethod": {"Algorithm": "urn:example:c14n"},
            "SignatureMethod": {"Algorithm": "urn:example:sig"},
            "Reference": [{"URI": "#id1", "DigestMethod": {"Algorithm": "urn:example:dig"}, "DigestValue": "AAAA"}],
        }
    }
    core = exificient.encode_xml(xs.namespace, xs.to_xml(msg), fragment=True)
    assert xs.from_xml(exificient.decode_xml(xs.namespace, core, fragment=True)) == msg
    via_json = exificient.decode(xs.namespace, exificient.encode(xs.namespace, msg))
    assert via_json["SignedInfo"]["SignatureMethod"]["Algorithm"] != "urn:example:sig"
    with pytest.raises(ExificientError, match="URI"):
        exificient.encode(xs.namespace, {"SignedInfo": {**msg["SignedInfo"], "Reference": [{"DigestValue": "AAAA"}]}})


def test_din_json_path_base64_limit(exificient: ExificientPeer) -> None:  # noqa: F811
    xs = strategies_for("DIN")
    msg = {"V2G_Message": {"Header": {"SessionID": "00"}, "Body": {"PaymentDetailsReq": {
        "ContractID": "abc", "ContractSignatureCertChain": {"Certificate": "AAAA"}}}}}  # fmt: skip
    assert not xs.validate(xs.to_xml(msg))
    with pytest.raises(ExificientError, match=re.escape(_DIN_MIME)):
        exificient.encode(xs.namespace, msg)
    assert exificient.encode_xml(xs.namespace, xs.to_xml(msg))  # the core path is fine


def test_din_json_path_idref_limit(exificient: ExificientPeer) -> None:  # noqa: F811
    xs = strategies_for("DIN")
    msg = {"V2G_Message": {"Header": {"SessionID": "00"}, "Body": {"MeteringReceiptReq": {
        "Id": "nowhere", "SessionID": "00", "MeterInfo": {"MeterID": "m"}}}}}  # fmt: skip
    assert not xs.validate(xs.to_xml(msg))  # validate() ignores only the unresolved IDREF
    with pytest.raises(ExificientError, match=_DIN_IDREF):
        exificient.encode(xs.namespace, msg)
    assert exificient.encode_xml(xs.namespace, xs.to_xml(msg))
