"""Deterministic edge instances of every message of every V2G schema, in the JSON form of EXIficient / Josev.

Where :mod:`tests.exi.xsd_strategies` draws random valid instances (arrays capped at 3 items, strings at 64
characters), this module builds the instances at the *edges* of each schema, the ones an interop lab tries:

* every array empty (or at its minOccurs), at one item, and filled to its maxOccurs (unbounded: ``unbounded_cap``);
* every optional element and attribute absent, and present;
* each branch of every choice (variant ``k`` takes branch ``k mod n`` of each n-way choice);
* strings empty (or at minLength), at maxLength (64 when unbounded), and made of non-ASCII characters (2- to 4-byte
  UTF-8, an astral code point included);
* integers at the bounds of their facets and of their built-in type, booleans both ways, enumerations first and last;
* binary values empty (or at minLength) and at maxLength.

The instances are built from the XSDs through the same lxml reader as the strategies (independent of the codec's
generator). ``variants(xs, name)`` lists the edge instances of one message; :mod:`tests.exi.edge_differential` runs
them through EXIficient and our codec.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

from lxml import etree

from tests.exi.xsd_strategies import (
    _INT_RANGES,
    _XS,
    XS,
    ElementUse,
    Facets,
    Group,
    IdStr,
    QName,
    XsdStrategies,
    _has_wildcard,
    _merge,
    unique_ids,
)

_ASCII = "abcdefghijklmnopqrstuvwxyz"
_NON_ASCII = "é€中\U0001f600ßж"  # 2-, 3- and 4-byte UTF-8
_NCNAME = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_"
_UNBOUNDED_INT_BITS = 70  # xs:integer without facets: beyond 64 bits on purpose
_BINARY_CAP = 64  # binary and string values without maxLength
_STRINGISH = ("string", "anyURI", "ID", "IDREF", "NCName", "Name", "token", "normalizedString", "NMTOKEN", "language")


@dataclass(frozen=True, slots=True)
class Profile:
    """How to fill one instance.

    ``optional``: include optional elements and attributes; ``repeat``: "min" | "one" | "max" items per array;
    ``choice``: the branch index (mod n) taken in every choice; ``text``: "min" | "max" | "non-ascii";
    ``numbers``: "min" | "max" | "mid".
    """

    name: str
    optional: bool
    repeat: str
    choice: int = 0
    text: str = "min"
    numbers: str = "min"
    unbounded_cap: int = 3


BASE_PROFILES: tuple[Profile, ...] = (
    Profile("minimal", optional=False, repeat="min", text="min", numbers="min"),
    Profile("one", optional=True, repeat="one", text="max", numbers="max"),
    Profile("full", optional=True, repeat="max", text="non-ascii", numbers="mid"),
)


class _TooBig(Exception):
    pass


class EdgeBuilder:
    """Builds JSON-form instances of one schema family under a :class:`Profile`."""

    def __init__(self, xs: XsdStrategies, profile: Profile, *, max_nodes: int = 200_000) -> None:
        self.xs = xs
        self.p = profile
        self.max_nodes = max_nodes
        self.nodes = 0
        self.max_choice = 1  # widest choice met (to know how many choice variants exist)

    # -- messages ----------------------------------------------------------------------------------------------------
    def message(self, name: str) -> dict[str, Any]:
        xs = self.xs
        if xs.family in ("DIN", "ISO2"):
            header = xs._v2g_child("Header")
            assert header.type is not None
            member = xs._find_global(name, None)
            return unique_ids({"V2G_Message": {"Header": self.type_value(header.type),
                                               "Body": {name: self.element_value(member)}}})
        qn = xs._find_global(name, xs.namespace if xs.family != "XMLDSIG" else None)
        return unique_ids({name: self.element_value(qn)})

    def element_value(self, qn: QName) -> Any:
        return self.type_value(self.xs.schema._type_of(self.xs.schema.elements[qn]))

    # -- types -----------------------------------------------------------------------------------------------------
    def type_value(self, t: QName | etree._Element) -> Any:
        self.nodes += 1
        if self.nodes > self.max_nodes:
            raise _TooBig
        node = self.xs._type_node(t)
        if node is None or node.tag == _XS + "simpleType":
            return self.simple(self.xs.schema.facets(t))
        model = self.xs._model(node)
        parts: list[list[tuple[str, Any]]] = []
        for a in model.attributes:
            if a.required or self.p.optional:
                parts.append([(a.name, self.simple(self.xs.schema.facets(a.type), attribute=True))])
        if model.simple is not None:
            parts.append([("value", self.simple(self.xs.schema.facets(model.simple)))])
        elif model.content is not None and not model.mixed and not _has_wildcard(model.content):
            parts.append(self.group(model.content))
        return _merge(parts)

    def group(self, g: Group) -> list[tuple[str, Any]]:
        if g.kind == "any":
            return []
        if g.max != 1 and g.min == 0 and not self.p.optional:
            return []
        if g.kind == "sequence":
            out: list[tuple[str, Any]] = []
            for item in g.items:
                out += self.particle(item)
            return out
        options = [i for i in g.items if self.xs._particle_possible(i)]
        if not options:
            return []
        self.max_choice = max(self.max_choice, len(options))
        return self.particle(options[self.p.choice % len(options)], force=True)

    def particle(self, item: Any, force: bool = False) -> list[tuple[str, Any]]:
        if isinstance(item, Group):
            return self.group(item)
        use: ElementUse = item
        lo = max(use.min, 1) if force else use.min
        if not self.xs._particle_possible(use):
            return []
        repeated = use.max is None or use.max > 1
        if not repeated:
            if lo == 0 and not self.p.optional:
                return []
            return [self.one(use)]
        hi = use.max if use.max is not None else max(lo, self.p.unbounded_cap)
        n = {"min": lo, "one": max(lo, 1), "max": hi}[self.p.repeat]
        if n == 0:
            return []
        values = [self.one(use) for _ in range(n)]
        grouped: dict[str, list[Any]] = {}
        for k, v in values:
            grouped.setdefault(k, []).append(v)
        return list(grouped.items())

    def one(self, use: ElementUse) -> tuple[str, Any]:
        if use.ref:
            members = self.xs._members(use.name)
            m = members[self.p.choice % len(members)]
            self.max_choice = max(self.max_choice, len(members))
            return m[1], self.element_value(m)
        assert use.type is not None
        return use.name[1], self.type_value(use.type)

    # -- simple values ---------------------------------------------------------------------------------------------
    def simple(self, f: Facets, *, attribute: bool = False) -> Any:
        how = self.p.numbers
        if f.enumeration:
            vals = list(f.enumeration)
            v = {"min": vals[0], "max": vals[-1], "mid": vals[len(vals) // 2]}[how]
            if f.base in _INT_RANGES:
                return int(v)
            if f.base == "boolean":
                return v in ("true", "1")
            return v
        if f.base in _INT_RANGES:
            lo, hi = _INT_RANGES[f.base]
            lo = f.min_value if f.min_value is not None else lo
            hi = f.max_value if f.max_value is not None else hi
            lo = lo if lo is not None else -(2**_UNBOUNDED_INT_BITS)
            hi = hi if hi is not None else 2**_UNBOUNDED_INT_BITS
            if how == "min":
                return lo
            if how == "max":
                return hi
            return 0 if lo <= 0 <= hi else (lo + hi) // 2
        if f.base == "boolean":
            return how != "min"
        lo_len, hi_len = _length_bounds(f)
        n = {"min": lo_len, "max": hi_len, "non-ascii": hi_len}[self.p.text]
        if f.base in ("hexBinary", "base64Binary"):
            b = bytes((i * 37 + 11) & 0xFF for i in range(n))
            return b.hex().upper() if f.base == "hexBinary" else base64.b64encode(b).decode()
        if f.base in _STRINGISH:
            if f.base in ("ID", "IDREF", "NCName"):
                s = "".join(_NCNAME[(i * 7) % len(_NCNAME)] for i in range(max(n, 1)))
                return IdStr(s) if f.base == "ID" else s
            if f.base == "anyURI" or attribute:
                return ("urn:x:" + _ASCII * 8)[:n] if n >= 6 else "ab"[:n]
            alphabet = _NON_ASCII if self.p.text == "non-ascii" else _ASCII
            return "".join(alphabet[i % len(alphabet)] for i in range(n))
        raise NotImplementedError(f"xs:{f.base}")


def _length_bounds(f: Facets) -> tuple[int, int]:
    if f.length is not None:
        return f.length, f.length
    lo = f.min_length or 0
    hi = f.max_length if f.max_length is not None else max(lo, _BINARY_CAP)
    return lo, hi


@dataclass(frozen=True, slots=True)
class EdgeInstance:
    family: str
    message: str
    profile: str
    instance: dict[str, Any]


def variants(xs: XsdStrategies, name: str, *, max_nodes: int = 200_000) -> Iterator[EdgeInstance]:
    """The edge instances of one message: the base profiles, then one per further choice branch."""
    widest = 1
    for prof in BASE_PROFILES:
        b = EdgeBuilder(xs, prof, max_nodes=max_nodes)
        try:
            inst = b.message(name)
        except _TooBig:
            # filled to every maxOccurs at once the message is too big: fill the outer arrays only
            b = EdgeBuilder(xs, replace(prof, name=prof.name), max_nodes=max_nodes)
            b.p = replace(prof, repeat="one")
            inst = b.message(name)
        widest = max(widest, b.max_choice)
        yield EdgeInstance(xs.family, name, prof.name, inst)
    for k in range(1, widest):
        prof = replace(BASE_PROFILES[1], name=f"choice{k}", choice=k)
        yield EdgeInstance(xs.family, name, prof.name, EdgeBuilder(xs, prof, max_nodes=max_nodes).message(name))


__all__ = ["BASE_PROFILES", "XS", "EdgeBuilder", "EdgeInstance", "Profile", "variants"]
