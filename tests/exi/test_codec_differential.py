"""Differential testing against EXIficient (the reference codec of the field).

Hypothesis generates valid instances of every message type of SAP, DIN and ISO-2, and of the
signed fragments (xmldsig SignedInfo, the signed ISO-2 elements), from the XSDs themselves
(tests/exi/xsd_strategies.py, independent of our generator).  For each instance:

1. our bytes (``from_dict`` then ``encode``) equal EXIficient's (its core path, XML in);
2. we decode EXIficient's bytes back to the same content;
3. EXIficient decodes our bytes back to the same content.

The instances go to one JVM in batches (tests/exi/exificient.py).
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.exi.codecs import codec
from tests.exi.exificient import ExificientError, ExificientPeer
from tests.exi.jsoncompare import compare, format_differences
from tests.exi.xsd_strategies import XsdStrategies, strategies_for

pytestmark = [pytest.mark.interop, pytest.mark.property]

MIN_PER_SCHEMA = 240
BATCH = 4
_SETTINGS = settings(
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example, HealthCheck.filter_too_much,
    ],
)
ISO2_FRAGMENT_ROOTS = (
    "AuthorizationReq", "MeteringReceiptReq", "CertificateInstallationReq", "SalesTariff",
    "ContractSignatureCertChain", "ContractSignatureEncryptedPrivateKey", "DHpublickey", "eMAID",
)


def _differential(
    peer: ExificientPeer, xs: XsdStrategies, family: str, msgs: list[dict[str, Any]], *, fragment: bool
) -> None:
    ours = codec(family, "cython" if "cython" in _backends() else "python")
    problems: list[str] = []
    objects = [ours.fragment_from_dict(m) if fragment else ours.from_dict(m) for m in msgs]
    our_bytes = [ours.encode_fragment(o, name=next(iter(m))) if fragment else ours.encode(o)
                 for o, m in zip(objects, msgs, strict=True)]
    their_bytes = peer.encode_xml_batch(xs.namespace, [xs.to_xml(m) for m in msgs], fragment=fragment,
                                        return_errors=True)
    for i, (mine, theirs) in enumerate(zip(our_bytes, their_bytes, strict=True)):
        if isinstance(theirs, ExificientError):
            problems.append(f"#{i} EXIficient rejects a valid instance: {theirs}")
            continue
        if mine != theirs:
            problems.append(f"#{i} bytes differ:\n ours   {mine.hex()}\n theirs {theirs.hex()}\n {msgs[i]}")
            continue
        if fragment:
            ((_, back),) = ours.decode_fragment(theirs)
        else:
            back = ours.decode(theirs)
        if back != objects[i]:
            problems.append(f"#{i} our decoding of EXIficient's bytes differs from the instance")
    back_xml = peer.decode_xml_batch(xs.namespace, our_bytes, fragment=fragment, return_errors=True)
    for i, xml in enumerate(back_xml):
        if isinstance(xml, ExificientError):
            problems.append(f"#{i} EXIficient cannot decode our bytes: {xml}")
            continue
        diffs = compare(xs.from_xml(xml), msgs[i], invented_defaults={})
        if diffs:
            problems.append(f"#{i} EXIficient decodes our bytes to other content:\n{format_differences(diffs)}")
    assert not problems, "\n".join(problems[:5])


def _backends() -> list[str]:
    from tests.exi.codecs import RUNTIMES

    return sorted(RUNTIMES)


def _plan() -> list[Any]:
    out = []
    for family in ("SAP", "DIN", "ISO2"):
        names = strategies_for(family).message_names()
        per = -(-MIN_PER_SCHEMA // len(names))
        examples = -(-per // BATCH)
        out += [pytest.param(family, n, examples, id=f"{family}-{n}") for n in names]
    return out


@pytest.mark.parametrize(("family", "message", "examples"), _plan())
def test_every_message_type_matches_exificient(
    family: str, message: str, examples: int, exificient: ExificientPeer
) -> None:
    xs = strategies_for(family)

    @settings(_SETTINGS, max_examples=examples)
    @given(st.lists(xs.message_strategy(message), min_size=BATCH, max_size=BATCH))
    def run(msgs: list[dict[str, Any]]) -> None:
        _differential(exificient, xs, family, msgs, fragment=False)

    run()


def test_signed_info_fragments_match_exificient(exificient: ExificientPeer) -> None:
    xs = strategies_for("XMLDSIG")

    @settings(_SETTINGS, max_examples=MIN_PER_SCHEMA // BATCH)
    @given(st.lists(xs.element("SignedInfo"), min_size=BATCH, max_size=BATCH))
    def run(msgs: list[dict[str, Any]]) -> None:
        _differential(exificient, xs, "XMLDSIG", msgs, fragment=True)

    run()


@pytest.mark.parametrize("root", ISO2_FRAGMENT_ROOTS)
def test_signed_iso2_fragments_match_exificient(root: str, exificient: ExificientPeer) -> None:
    xs = strategies_for("ISO2")
    strategy = xs.element(root) if any(q[1] == root for q in xs.schema.elements) else xs.local_element(
        root, "EMAIDType" if root == "eMAID" else None)

    @settings(_SETTINGS, max_examples=8)
    @given(st.lists(strategy, min_size=BATCH, max_size=BATCH))
    def run(msgs: list[dict[str, Any]]) -> None:
        _differential(exificient, xs, "ISO2", msgs, fragment=True)

    run()
