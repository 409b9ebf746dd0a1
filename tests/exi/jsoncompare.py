"""Content comparison of a decoded message in the JSON form against the JSON the EXIficient peer gives.

``compare(actual, expected)`` returns the list of differences, each with a JSONPath-like location
(``$.V2G_Message.Body.ChargeParameterDiscoveryRes.SAScheduleList.SAScheduleTuple[0]...``); an empty list means the
contents agree. ``actual`` is what the codec under test produced (e.g. ``to_dict(decode(data))``), ``expected`` is the
JSON beside the bytes in the corpus or what EXIficient decoded.

The comparison is strict except for the leniency rules below. Each rule exists because of a known behaviour of the
peer, never to hide a difference of our own:

Rule 1 -- invented defaults (``INVENTED_DEFAULTS``).
    EXICodec.jar maps a few *optional* XSD elements to primitive Java fields (``short``/``long``) in its JAXB classes.
    An absent element then reads as 0 and its JSON output contains the element with value 0 (facts/exi.md: "an absent
    NumEPriceLevels -> 0"; vectors.md #9). A key that is present in ``expected`` with exactly that default value and
    absent from ``actual`` is therefore not a difference, for exactly these (parent element, element) pairs. The table
    was derived from the JAXB classes in EXICodec.jar (javap: primitive fields) crossed with the XSDs (minOccurs="0");
    ``test_peer_invented_defaults`` re-checks every entry against the running peer. Because of this rule a JSON
    round trip through EXIficient is not a byte round trip: tests compare bytes, not JSON, for round trips.

Rule 2 -- key order.
    JSON objects are unordered; element order is fixed by the schema, so it is not a content difference. (Order
    *inside lists* -- repeated elements -- is significant and compared.)

Everything else is a difference: a missing or extra key, a different scalar, a list of another length, and a type
mismatch. In particular ``True`` is not ``1`` (Python would say so), ``1`` is not ``"1"``, and a hexBinary string in
lower case is not its upper-case form (the JSON form uses upper-case hex; a codec that writes lower case is wrong).
Integers and floats compare by value (``2 == 2.0``) because JSON does not distinguish them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

#: (parent element, element) -> the value EXICodec.jar invents when the optional element is absent.
INVENTED_DEFAULTS: Mapping[tuple[str, str], Any] = {
    # V2G_CI_AppProtocol.xsd: supportedAppProtocolRes/SchemaID minOccurs=0 (JAXB: short schemaID)
    ("supportedAppProtocolRes", "SchemaID"): 0,
    # ISO 15118-2 MsgDataTypes: SalesTariffType/NumEPriceLevels minOccurs=0 (JAXB: short numEPriceLevels)
    ("SalesTariff", "NumEPriceLevels"): 0,
    # ISO 15118-2 MsgDataTypes: SalesTariffEntryType/EPriceLevel minOccurs=0 (JAXB: short ePriceLevel)
    ("SalesTariffEntry", "EPriceLevel"): 0,
    # ISO 15118-2 MsgBody: MeteringReceiptReqType/SAScheduleTupleID minOccurs=0 (JAXB: short saScheduleTupleID)
    ("MeteringReceiptReq", "SAScheduleTupleID"): 0,
}


@dataclass(frozen=True, slots=True)
class Difference:
    """One content difference. ``kind``: missing | extra | value | type | length."""

    path: str
    kind: str
    actual: Any
    expected: Any

    def __str__(self) -> str:
        if self.kind == "missing":
            return f"{self.path}: missing (expected {self.expected!r})"
        if self.kind == "extra":
            return f"{self.path}: unexpected {self.actual!r}"
        return f"{self.path}: {self.kind} differs: got {self.actual!r}, expected {self.expected!r}"


_MISSING = object()


def _kind(v: Any) -> str:
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int | float):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list | tuple):
        return "list"
    if isinstance(v, Mapping):
        return "object"
    if v is None:
        return "null"
    return type(v).__name__


def compare(
    actual: Any,
    expected: Any,
    *,
    invented_defaults: Mapping[tuple[str, str], Any] = INVENTED_DEFAULTS,
    path: str = "$",
) -> list[Difference]:
    """All content differences between ``actual`` and ``expected`` (empty when they agree); see the module doc."""
    diffs: list[Difference] = []
    _walk(actual, expected, path, None, invented_defaults, diffs)
    return diffs


def _walk(
    a: Any,
    e: Any,
    path: str,
    element: str | None,
    defaults: Mapping[tuple[str, str], Any],
    out: list[Difference],
) -> None:
    ka, ke = _kind(a), _kind(e)
    if ka != ke:
        out.append(Difference(path, "type", a, e))
        return
    if ka == "object":
        for key in sorted(set(a) | set(e), key=str):
            sub = f"{path}.{key}"
            av, ev = a.get(key, _MISSING), e.get(key, _MISSING)
            if av is _MISSING:
                if element is not None and (element, key) in defaults and _same_scalar(ev, defaults[(element, key)]):
                    continue  # rule 1: the peer invented a default for an absent optional element
                out.append(Difference(sub, "missing", None, ev))
            elif ev is _MISSING:
                out.append(Difference(sub, "extra", av, None))
            else:
                _walk(av, ev, sub, str(key), defaults, out)
    elif ka == "list":
        if len(a) != len(e):
            out.append(Difference(path, "length", len(a), len(e)))
        for i, (av, ev) in enumerate(zip(a, e, strict=False)):
            _walk(av, ev, f"{path}[{i}]", element, defaults, out)
    elif not _same_scalar(a, e):
        out.append(Difference(path, "value", a, e))


def _same_scalar(a: Any, e: Any) -> bool:
    if _kind(a) != _kind(e):
        return False
    return bool(a == e)


def format_differences(diffs: Iterable[Difference], limit: int = 20) -> str:
    """A readable multi-line summary for assertion messages."""
    diffs = list(diffs)
    lines = [str(d) for d in diffs[:limit]]
    if len(diffs) > limit:
        lines.append(f"... and {len(diffs) - limit} more")
    return "\n".join(lines)


def assert_same_content(actual: Any, expected: Any, **kwargs: Any) -> None:
    """Raise AssertionError listing the differences, if any."""
    diffs = compare(actual, expected, **kwargs)
    if diffs:
        raise AssertionError(f"{len(diffs)} content difference(s):\n{format_differences(diffs)}")


def invented_default_gaps(
    obj: Any, *, invented_defaults: Mapping[tuple[str, str], Any] = INVENTED_DEFAULTS
) -> list[str]:
    """Paths where ``obj`` lacks an optional element that EXICodec.jar's JSON path would invent (rule 1).

    An instance with such a gap does not survive EXIficient's JSON path unchanged: its JSON decoding gains the
    element, and its JSON *encoding* already contains it (JAXB fills the primitive field before encoding), so the
    bytes differ from those of a codec that encodes what it was given."""
    gaps: list[str] = []

    def walk(o: Any, path: str, element: str | None) -> None:
        if isinstance(o, Mapping):
            if element is not None:
                gaps.extend(
                    f"{path}.{key}" for (parent, key) in invented_defaults if parent == element and key not in o
                )  # fmt: skip
            for k, v in o.items():
                walk(v, f"{path}.{k}", str(k))
        elif isinstance(o, list | tuple):
            for i, v in enumerate(o):
                walk(v, f"{path}[{i}]", element)

    walk(obj, "$", None)
    return gaps
