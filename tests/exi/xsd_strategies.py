"""Hypothesis strategies that generate valid instances of the V2G XSDs in the JSON form of EXIficient / Josev.

The schemas are read with lxml from the package's copies (``evcharge/_exi/schemas``; nothing is hand-written per
message): global elements,
named and anonymous complex types (sequence, choice, complexContent extension, simpleContent extension, attributes),
simple types with their facets (enumeration, length/minLength/maxLength, min/max Inclusive/Exclusive, pattern via
``hypothesis.strategies.from_regex``), element references, substitution groups and abstract elements/types, and
minOccurs/maxOccurs.

The JSON form (what EXICodec.jar reads and writes, see facts/exi.md):
  * an element is a key with its XSD local name; the document is ``{root: value}``;
  * a repeated element (maxOccurs > 1) is a list, even with one item; an absent optional element is an absent key;
  * a simple-typed element is a scalar: integers as JSON numbers, booleans as true/false, strings as strings,
    hexBinary as upper-case hex, base64Binary as base64 text;
  * an element of complex type is an object; attributes are keys by their name (``Id``); simple content with
    attributes is ``{"value": ..., "Id": ...}``;
  * an abstract element (e.g. ``BodyElement``, ``EVSEChargeParameter``) appears as one of its substitution group
    members, under the member's name.

Choices made for the generated instances (all documented so the tests know what they cover):
  * ``maxOccurs="unbounded"`` and large bounds are capped at ``max_repeat`` (default 3) items;
  * strings use XML-safe characters: no C0/C1 controls, no surrogates/private/unassigned code points (XML 1.0 cannot
    carry most controls; vectors.md #10 is the separate control-character case) and no whitespace other than the
    space, which is also kept away from the ends of URIs and IDs (whitespace facets ``collapse``/``replace``);
  * wildcards (``xs:any``) are never generated, and the *content* of mixed types (xmldsig: Transform,
    CanonicalizationMethod, SignatureMethod, DigestMethod) is left empty -- only their attributes are generated;
    optional elements whose type cannot be instantiated that way (xmldsig KeyInfo, Object) are left out;
  * an element whose type is abstract is only generated through its substitution group members (no xsi:type);
  * all ``xs:ID`` values of one instance are distinct (``IdStr`` values, made unique per instance); ``xs:IDREF``
    values are plain NCNames (DIN uses IDREF on its ``Id`` attributes; they need not resolve to an ID for EXI,
    and ``validate`` ignores only that error).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, ClassVar

from hypothesis import strategies as st
from lxml import etree

from tests.conftest import v2g_schema_dir

XS = "http://www.w3.org/2001/XMLSchema"
_XS = "{" + XS + "}"

#: family -> (root schema file relative to evcharge/_exi/schemas, namespace EXICodec selects the grammar with)
FAMILIES: dict[str, tuple[str, str]] = {
    "SAP": ("V2G_CI_AppProtocol.xsd", "urn:iso:15118:2:2010:AppProtocol"),
    "DIN": ("din70121/V2G_CI_MsgDef.xsd", "urn:din:70121:2012:MsgDef"),
    "ISO2": ("iso15118-2/V2G_CI_MsgDef.xsd", "urn:iso:15118:2:2013:MsgDef"),
    "XMLDSIG": ("xmldsig-core-schema.xsd", "http://www.w3.org/2000/09/xmldsig#"),
    "ISO20-Common": ("iso15118-20/V2G_CI_CommonMessages.xsd", "urn:iso:std:iso:15118:-20:CommonMessages"),
    "ISO20-AC": ("iso15118-20/V2G_CI_AC.xsd", "urn:iso:std:iso:15118:-20:AC"),
    "ISO20-DC": ("iso15118-20/V2G_CI_DC.xsd", "urn:iso:std:iso:15118:-20:DC"),
    "ISO20-WPT": ("iso15118-20/V2G_CI_WPT.xsd", "urn:iso:std:iso:15118:-20:WPT"),
    "ISO20-ACDP": ("iso15118-20/V2G_CI_ACDP.xsd", "urn:iso:std:iso:15118:-20:ACDP"),
}

QName = tuple[str, str]  # (namespace, local name)

_INT_RANGES: dict[str, tuple[int | None, int | None]] = {
    "byte": (-(2**7), 2**7 - 1),
    "short": (-(2**15), 2**15 - 1),
    "int": (-(2**31), 2**31 - 1),
    "long": (-(2**63), 2**63 - 1),
    "unsignedByte": (0, 2**8 - 1),
    "unsignedShort": (0, 2**16 - 1),
    "unsignedInt": (0, 2**32 - 1),
    "unsignedLong": (0, 2**64 - 1),
    "integer": (None, None),
    "nonNegativeInteger": (0, None),
    "positiveInteger": (1, None),
    "nonPositiveInteger": (None, 0),
    "negativeInteger": (None, -1),
}
_STRINGISH = {"string", "normalizedString", "token", "anyURI", "ID", "IDREF", "NCName", "Name", "NMTOKEN", "language"}
#: integers without bounds are drawn from this many bits either side (EXI Integer is unbounded)
_UNBOUNDED_BITS = 80


class IdStr(str):
    """An ``xs:ID`` value; ``unique_ids`` renames repeated ones so that an instance stays valid."""

    __slots__ = ()


# --------------------------------------------------------------------------------------------------------------------
# schema model
# --------------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Facets:
    base: str  # the XSD built-in at the root of the derivation (local name)
    enumeration: tuple[str, ...] = ()
    length: int | None = None
    min_length: int | None = None
    max_length: int | None = None
    min_value: int | None = None
    max_value: int | None = None
    patterns: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ElementUse:
    """A particle: an element (local or reference) with its occurrence bounds."""

    name: QName  # for a reference: the referenced global element
    type: QName | etree._Element | None  # a named type, an anonymous type node, or None for references
    min: int
    max: int | None  # None = unbounded
    ref: bool


@dataclass(frozen=True, slots=True)
class Group:
    kind: str  # "sequence" | "choice" | "any"
    items: tuple[Any, ...]  # ElementUse | Group
    min: int
    max: int | None


@dataclass(frozen=True, slots=True)
class AttributeUse:
    name: str  # the local name: the key in the JSON form
    type: QName | etree._Element
    required: bool
    namespace: str = ""  # ISO 15118-2 and -20 declare attributeFormDefault="qualified": their Id is namespaced


@dataclass(slots=True)
class ComplexModel:
    content: Group | None  # element content (None: empty or simple content)
    attributes: list[AttributeUse] = field(default_factory=list)
    simple: QName | etree._Element | None = None  # simple content type
    mixed: bool = False
    abstract: bool = False


class Schema:
    """All declarations reachable from one root XSD (following imports and includes)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.elements: dict[QName, etree._Element] = {}
        self.types: dict[QName, etree._Element] = {}
        self.attributes: dict[QName, etree._Element] = {}
        self.substitutes: dict[QName, list[QName]] = {}
        self.files: list[Path] = []
        self._load(root.resolve())
        for qn, el in self.elements.items():
            head = el.get("substitutionGroup")
            if head:
                self.substitutes.setdefault(self.qname(el, head), []).append(qn)

    def _load(self, path: Path) -> None:
        if path in self.files:
            return
        self.files.append(path)
        doc = etree.parse(str(path)).getroot()
        tns = doc.get("targetNamespace", "")
        for child in doc:
            if not isinstance(child.tag, str):
                continue
            tag, name = child.tag, child.get("name")
            if tag in (_XS + "import", _XS + "include") and child.get("schemaLocation"):
                self._load((path.parent / child.get("schemaLocation", "")).resolve())
            elif tag == _XS + "element" and name:
                self.elements[(tns, name)] = child
            elif tag in (_XS + "complexType", _XS + "simpleType") and name:
                self.types[(tns, name)] = child
            elif tag == _XS + "attribute" and name:
                self.attributes[(tns, name)] = child

    @staticmethod
    def qname(node: etree._Element, text: str) -> QName:
        prefix, _, local = text.rpartition(":")
        ns = node.nsmap.get(prefix or None)
        if ns is None:
            raise ValueError(f"unresolvable QName {text!r} at line {node.sourceline}")
        return (ns, local)

    @staticmethod
    def target_ns(node: etree._Element) -> str:
        return str(node.getroottree().getroot().get("targetNamespace", ""))

    def element_qname(self, node: etree._Element) -> QName:
        """The name of a local element declaration (elementFormDefault="qualified" in every V2G schema)."""
        root = node.getroottree().getroot()
        qualified = node.get("form", root.get("elementFormDefault", "unqualified")) == "qualified"
        return (self.target_ns(node) if qualified else "", node.get("name", ""))

    # -- content models ------------------------------------------------------------------------------------------
    def complex_model(self, node: etree._Element) -> ComplexModel:
        model = ComplexModel(content=None, mixed=node.get("mixed") == "true", abstract=node.get("abstract") == "true")
        self._fill(node, model)
        return model

    def _fill(self, node: etree._Element, model: ComplexModel) -> None:
        for child in node:
            if not isinstance(child.tag, str):
                continue
            tag = child.tag
            if tag in (_XS + "sequence", _XS + "choice", _XS + "all"):
                model.content = _append(model.content, self._group(child))
            elif tag == _XS + "attribute":
                model.attributes.append(self._attribute(child))
            elif tag == _XS + "complexContent":
                if child.get("mixed") == "true":
                    model.mixed = True
                self._derive(child, model, simple=False)
            elif tag == _XS + "simpleContent":
                self._derive(child, model, simple=True)
            elif tag == _XS + "anyAttribute":
                pass  # never generated

    def _derive(self, content: etree._Element, model: ComplexModel, *, simple: bool) -> None:
        for der in content:
            if not isinstance(der.tag, str) or der.tag not in (_XS + "extension", _XS + "restriction"):
                continue
            base = self.qname(der, der.get("base", ""))
            if simple:
                if base[0] == XS or (self.types.get(base) is not None and self.types[base].tag == _XS + "simpleType"):
                    model.simple = base
                else:  # simple content derived from a complex type with simple content
                    inner = self.complex_model(self.types[base])
                    model.simple, model.attributes = inner.simple, list(inner.attributes)
                if der.tag == _XS + "restriction":
                    raise NotImplementedError("simpleContent restriction is not used by the V2G schemas")
            elif der.tag == _XS + "extension" and base != (XS, "anyType"):
                inner = self.complex_model(self.types[base])
                model.content, model.attributes = inner.content, list(inner.attributes)
                model.mixed = model.mixed or inner.mixed
            elif der.tag == _XS + "restriction":
                model.content, model.attributes = None, []  # a restriction restates the whole content model
            self._fill(der, model)

    def _occurs(self, node: etree._Element) -> tuple[int, int | None]:
        mx = node.get("maxOccurs", "1")
        return int(node.get("minOccurs", "1")), None if mx == "unbounded" else int(mx)

    def _group(self, node: etree._Element) -> Group:
        items: list[Any] = []
        for child in node:
            if not isinstance(child.tag, str):
                continue
            if child.tag == _XS + "element":
                items.append(self._element_use(child))
            elif child.tag in (_XS + "sequence", _XS + "choice", _XS + "all"):
                items.append(self._group(child))
            elif child.tag == _XS + "any":
                lo, hi = self._occurs(child)
                items.append(Group("any", (), lo, hi))
        lo, hi = self._occurs(node)
        kind = "sequence" if node.tag in (_XS + "sequence", _XS + "all") else "choice"
        return Group(kind, tuple(items), lo, hi)

    def _element_use(self, node: etree._Element) -> ElementUse:
        lo, hi = self._occurs(node)
        if node.get("ref"):
            return ElementUse(self.qname(node, node.get("ref", "")), None, lo, hi, True)
        return ElementUse(self.element_qname(node), self._type_of(node), lo, hi, False)

    def _type_of(self, node: etree._Element) -> QName | etree._Element:
        if node.get("type"):
            return self.qname(node, node.get("type", ""))
        for child in node:
            if isinstance(child.tag, str) and child.tag in (_XS + "complexType", _XS + "simpleType"):
                return child
        return (XS, "anyType")

    def _attribute(self, node: etree._Element) -> AttributeUse:
        required = node.get("use") == "required"
        if node.get("ref"):
            qn = self.qname(node, node.get("ref", ""))
            return AttributeUse(qn[1], self._type_of(self.attributes[qn]), required, qn[0])
        root = node.getroottree().getroot()
        qualified = node.get("form", root.get("attributeFormDefault", "unqualified")) == "qualified"
        ns = self.target_ns(node) if qualified else ""
        return AttributeUse(node.get("name", ""), self._type_of(node), required, ns)

    # -- simple types ----------------------------------------------------------------------------------------------
    def facets(self, t: QName | etree._Element) -> Facets:
        if isinstance(t, tuple) and t[0] == XS:
            return Facets(base=t[1])
        node = self.types[t] if isinstance(t, tuple) else t
        restriction = node.find(_XS + "restriction")
        if restriction is None:
            raise NotImplementedError(f"simple type without restriction (list/union) at line {node.sourceline}")
        if restriction.get("base"):
            base = self.facets(self.qname(restriction, restriction.get("base", "")))
        else:
            base = self.facets(restriction.find(_XS + "simpleType"))
        enum = tuple(e.get("value", "") for e in restriction.findall(_XS + "enumeration"))

        def num(tag: str) -> int | None:
            e = restriction.find(_XS + tag)
            return None if e is None else int(e.get("value", ""))

        lo, hi = base.min_value, base.max_value
        if num("minInclusive") is not None:
            lo = num("minInclusive")
        if num("minExclusive") is not None:
            lo = int(num("minExclusive") or 0) + 1
        if num("maxInclusive") is not None:
            hi = num("maxInclusive")
        if num("maxExclusive") is not None:
            hi = int(num("maxExclusive") or 0) - 1
        pats = tuple(e.get("value", "") for e in restriction.findall(_XS + "pattern"))
        return Facets(
            base=base.base,
            enumeration=enum or base.enumeration,
            length=num("length") if num("length") is not None else base.length,
            min_length=num("minLength") if num("minLength") is not None else base.min_length,
            max_length=num("maxLength") if num("maxLength") is not None else base.max_length,
            min_value=lo,
            max_value=hi,
            patterns=base.patterns + pats,
        )


def _append(content: Group | None, group: Group) -> Group:
    if content is None:
        return group
    return Group("sequence", (content, group), 1, 1)


# --------------------------------------------------------------------------------------------------------------------
# strategies
# --------------------------------------------------------------------------------------------------------------------

_TEXT_ALPHABET = st.characters(
    codec="utf-8",
    exclude_categories=("Cc", "Cs", "Co", "Cn", "Zl", "Zp"),
    exclude_characters="\ufeff\ufffe\uffff",
)
_URI_ALPHABET = st.sampled_from("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~:/?#[]@!$&'()*+,;=%")
#: anyURI values that libxml2 accepts: absolute URIs, same-document references, and the empty URI
_URIS = st.one_of(
    st.from_regex(r"[a-z][a-z0-9+.-]{0,6}:[A-Za-z0-9._~/-]{0,40}(#[A-Za-z0-9._~-]{0,8})?", fullmatch=True),
    st.from_regex(r"#[A-Za-z_][A-Za-z0-9._-]{0,12}", fullmatch=True),
    st.just(""),
)
_NCNAME_START = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_"
_NCNAME_REST = _NCNAME_START + "0123456789-."


class XsdStrategies:
    """Strategies for the declarations of one schema family (see the module doc)."""

    def __init__(
        self,
        family: str,
        schema_dir: Path | None = None,
        *,
        max_repeat: int = 3,
        max_text: int = 64,
        schema_file: Path | None = None,
        namespace: str | None = None,
    ) -> None:
        """``family`` names one of ``FAMILIES``; or pass any ``schema_file`` and its ``namespace`` (family is then
        only a label)."""
        if schema_file is not None:
            self.schema_path, self.namespace = schema_file, namespace or ""
        elif family in FAMILIES:
            rel, self.namespace = FAMILIES[family]
            self.schema_path = (schema_dir or v2g_schema_dir()) / rel
        else:
            raise ValueError(f"unknown family {family!r}; known: {sorted(FAMILIES)}")
        self.family = family
        self.schema = Schema(self.schema_path)
        self.max_repeat = max_repeat
        self.max_text = max_text
        self._type_cache: dict[Any, st.SearchStrategy[Any]] = {}
        self._models: dict[Any, tuple[etree._Element, ComplexModel]] = {}
        self._xmlschema: etree.XMLSchema | None = None

    # -- public ----------------------------------------------------------------------------------------------------
    def global_elements(self, namespace: str | None = None) -> list[str]:
        """Names of the global elements that can be instantiated (optionally of one namespace)."""
        return sorted(
            n for (ns, n), el in self.schema.elements.items()
            if (namespace is None or ns == namespace) and self._instantiable_global((ns, n))
        )  # fmt: skip

    def element(self, name: str, namespace: str | None = None) -> st.SearchStrategy[dict[str, Any]]:
        """``{name: value}`` for a global element (abstract heads give one of their members)."""
        qn = self._find_global(name, namespace)
        return self._global_entry(qn).map(lambda kv: unique_ids({kv[0]: kv[1]}))

    def local_element(self, name: str, type_name: str | None = None) -> st.SearchStrategy[dict[str, Any]]:
        """``{name: value}`` for an element declared locally (signed ISO-2 fragments such as SalesTariff, eMAID).

        ``type_name`` picks one declaration when the name is declared with several types (ISO-2 ``eMAID``: the
        signed one is ``EMAIDType``)."""
        use = self._local_use(name, type_name)
        assert use.type is not None
        return self._type(use.type).map(lambda v: unique_ids({name: v}))

    def message(self) -> st.SearchStrategy[dict[str, Any]]:
        """A whole message: ``V2G_Message`` (DIN, ISO-2), a SAP root, or any root element of an ISO-20 schema."""
        if self.family in ("DIN", "ISO2"):
            return self.element("V2G_Message")
        if self.family == "XMLDSIG":
            return self.element("SignedInfo")
        return st.one_of([self.element(n, self.namespace) for n in self.global_elements(self.namespace)])

    def message_names(self) -> list[str]:
        """The messages of the schema: DIN/ISO-2 Body members, the SAP roots, the ISO-20 roots that carry a Header."""
        if self.family in ("DIN", "ISO2"):
            return self.body_elements()
        names = self.global_elements(self.namespace)
        if self.family.startswith("ISO20"):
            names = [n for n in names if self._has_header((self.namespace, n))]
        return names

    def message_strategy(self, name: str) -> st.SearchStrategy[dict[str, Any]]:
        """One message by name, as a whole document (DIN/ISO-2: inside a V2G_Message)."""
        if self.family in ("DIN", "ISO2"):
            return self.v2g_message(name)
        return self.element(name, self.namespace)

    def _has_header(self, qn: QName) -> bool:
        t = self.schema._type_of(self.schema.elements[qn])
        node = self._type_node(t)
        if node is None or node.tag != _XS + "complexType":
            return False
        model = self._model(node)
        return model.content is not None and any(n[1] == "Header" for n, _, _ in self._children(model.content))

    def body_elements(self) -> list[str]:
        """DIN / ISO-2: the message names that can stand in the Body (the BodyElement substitution group)."""
        heads = [qn for qn in self.schema.elements if qn[1] == "BodyElement"]
        return sorted({m[1] for h in heads for m in self._members(h)})

    def v2g_message(self, body: str) -> st.SearchStrategy[dict[str, Any]]:
        """DIN / ISO-2: a ``V2G_Message`` whose Body holds the named message."""
        header_use = self._v2g_child("Header")
        assert header_use.type is not None
        member = self._find_global(body, None)
        return st.tuples(self._type(header_use.type), self._element_value(member)).map(
            lambda hv: unique_ids({"V2G_Message": {"Header": hv[0], "Body": {body: hv[1]}}})
        )

    # -- XML <-> JSON form -----------------------------------------------------------------------------------------
    def to_xml(self, obj: dict[str, Any]) -> str:
        """The XML document (or fragment root) for an instance in the JSON form, following the schema.

        Unknown keys raise ValueError, so this also checks that an object is in the JSON form of the schema."""
        ((name, value),) = obj.items()
        qn, t = self._root_decl(name)
        root = etree.Element(_clark(qn))
        self._fill_xml(root, t, value, name)
        return str(etree.tostring(root, encoding="unicode"))

    def from_xml(self, xml: str | bytes) -> dict[str, Any]:
        """The JSON form of an XML document or fragment root (e.g. EXIficient's decoding), typed by the schema."""
        data = xml.encode() if isinstance(xml, str) else xml
        root = etree.fromstring(re.sub(rb"^<\?xml[^>]*\?>", b"", data))
        q = etree.QName(root)
        _, t = self._root_decl(q.localname, q.namespace or "")
        return {q.localname: self._json_of(root, t, q.localname)}

    #: local elements used as fragment roots whose name is declared with several types -> the type to use
    FRAGMENT_ROOT_TYPES: ClassVar[dict[str, str]] = {"eMAID": "EMAIDType"}

    def _root_decl(self, name: str, namespace: str | None = None) -> tuple[QName, QName | etree._Element]:
        cands = [qn for qn in self.schema.elements if qn[1] == name and (namespace is None or qn[0] == namespace)]
        if len(cands) == 1:
            return cands[0], self.schema._type_of(self.schema.elements[cands[0]])
        use = self._local_use(name, self.FRAGMENT_ROOT_TYPES.get(name))
        assert use.type is not None
        return use.name, use.type

    def _local_use(self, name: str, type_name: str | None = None) -> ElementUse:
        found: dict[Any, ElementUse] = {}
        for t in list(self.schema.types.values()) + list(self.schema.elements.values()):
            for node in t.iter(_XS + "element"):
                parent = node.getparent()
                if node.get("name") == name and parent is not None and parent.tag != _XS + "schema":
                    use = self.schema._element_use(node)
                    if type_name is None or (isinstance(use.type, tuple) and use.type[1] == type_name):
                        found[self._type_key(use.type)] = use
        if len(found) != 1:
            raise ValueError(f"{name!r} is declared locally {len(found)} times with different types")
        return next(iter(found.values()))

    def _children(self, g: Group) -> list[tuple[QName, QName | etree._Element, bool]]:
        """(element name, type, repeated) for every element that may appear in a content model, in schema order."""
        out: list[tuple[QName, QName | etree._Element, bool]] = []
        for item in g.items:
            if isinstance(item, Group):
                out.extend(
                    (qn, t, rep or item.max != 1) for qn, t, rep in self._children(item)
                )  # fmt: skip
                continue
            repeated = item.max is None or item.max > 1 or g.max != 1
            if item.ref:
                for m in self._members(item.name):
                    out.append((m, self.schema._type_of(self.schema.elements[m]), repeated))
            else:
                assert item.type is not None
                out.append((item.name, item.type, repeated))
        return out

    def _fill_xml(self, el: etree._Element, t: QName | etree._Element, value: Any, path: str) -> None:
        node = self._type_node(t)
        if node is None or node.tag == _XS + "simpleType":
            el.text = _lexical(value, path)
            return
        model = self._model(node)
        if not isinstance(value, dict):
            raise ValueError(f"{path}: expected an object, got {value!r}")
        used: set[str] = set()
        for a in model.attributes:
            if a.name in value:
                el.set(_clark((a.namespace, a.name)), _lexical(value[a.name], f"{path}@{a.name}"))
                used.add(a.name)
        if model.simple is not None:
            if "value" in value:
                el.text = _lexical(value["value"], f"{path}.value")
                used.add("value")
        elif model.content is not None:
            for qn, ct, repeated in self._children(model.content):
                if qn[1] not in value or qn[1] in used:
                    continue
                used.add(qn[1])
                v = value[qn[1]]
                if repeated and not isinstance(v, list):
                    raise ValueError(f"{path}.{qn[1]}: a repeated element must be a list")
                for i, item in enumerate(v if repeated else [v]):
                    self._fill_xml(etree.SubElement(el, _clark(qn)), ct, item, f"{path}.{qn[1]}[{i}]")
        extra = set(value) - used
        if extra:
            raise ValueError(f"{path}: {sorted(extra)} not in the content model")

    def _json_of(self, el: etree._Element, t: QName | etree._Element, path: str) -> Any:
        node = self._type_node(t)
        if node is None or node.tag == _XS + "simpleType":
            return _typed(el.text or "", self.schema.facets(t))
        model = self._model(node)
        out: dict[str, Any] = {}
        attrs = {etree.QName(k).localname: v for k, v in el.attrib.items()}
        for a in model.attributes:
            if a.name in attrs:
                out[a.name] = _typed(attrs[a.name], self.schema.facets(a.type))
        if model.simple is not None:
            out["value"] = _typed(el.text or "", self.schema.facets(model.simple))
            return out
        if model.content is None:
            return out
        table = {qn: (ct, rep) for qn, ct, rep in self._children(model.content)}
        for child in el:
            if not isinstance(child.tag, str):
                continue
            q = etree.QName(child)
            key = (q.namespace or "", q.localname)
            if key not in table:
                raise ValueError(f"{path}: unexpected child {child.tag}")
            ct, rep = table[key]
            v = self._json_of(child, ct, f"{path}.{q.localname}")
            if rep:
                out.setdefault(q.localname, []).append(v)
            else:
                out[q.localname] = v
        return out

    # -- validation ------------------------------------------------------------------------------------------------
    def xml_schema(self) -> etree.XMLSchema:
        if self._xmlschema is None:
            self._xmlschema = etree.XMLSchema(etree.parse(str(self.schema_path)))
        return self._xmlschema

    def validate(self, xml: str | bytes) -> list[str]:
        """XSD validation errors of an XML document (e.g. EXIficient's decoding of an encoded instance).

        Only the "IDREF without matching ID" error is ignored (see the module doc)."""
        data = xml.encode() if isinstance(xml, str) else xml
        data = re.sub(rb"^<\?xml[^>]*\?>", b"", data)
        schema = self.xml_schema()
        schema.validate(etree.fromstring(data))
        return [f"line {e.line}: {e.message}" for e in schema.error_log if "IDREF" not in e.message]

    # -- internals -------------------------------------------------------------------------------------------------
    def _v2g_child(self, name: str) -> ElementUse:
        model = self._model(self.schema.elements[self._find_global("V2G_Message", None)])
        assert model.content is not None
        for item in model.content.items:
            if isinstance(item, ElementUse) and item.name[1] == name:
                return item
        raise KeyError(name)

    def _find_global(self, name: str, namespace: str | None) -> QName:
        cands = [qn for qn in self.schema.elements if qn[1] == name and (namespace is None or qn[0] == namespace)]
        if len(cands) != 1:
            raise KeyError(f"global element {name!r} ({namespace}) matches {cands}")
        return cands[0]

    def _members(self, head: QName) -> list[QName]:
        """The instantiable elements that may stand for ``head`` (itself unless abstract, plus substitutes)."""
        out: list[QName] = []
        if self._instantiable_decl(head):
            out.append(head)
        for sub in self.schema.substitutes.get(head, []):
            out.extend(m for m in self._members(sub) if m not in out)
        return out

    def _instantiable_decl(self, qn: QName) -> bool:
        el = self.schema.elements[qn]
        if el.get("abstract") == "true":
            return False
        t = self.schema._type_of(el)
        return self._type_instantiable(t)

    def _instantiable_global(self, qn: QName) -> bool:
        return bool(self._members(qn))

    def _type_key(self, t: Any) -> Any:
        return t if isinstance(t, tuple) else id(t)

    def _model(self, node: etree._Element) -> ComplexModel:
        if node.tag == _XS + "element":
            t = self.schema._type_of(node)
            node = self.schema.types[t] if isinstance(t, tuple) else t
        key = id(node)
        if key not in self._models or self._models[key][0] is not node:
            # the node is kept with its model: an lxml proxy that dies can hand its id to another node
            self._models[key] = (node, self.schema.complex_model(node))
        return self._models[key][1]

    def _type_node(self, t: QName | etree._Element) -> etree._Element | None:
        if isinstance(t, tuple):
            if t[0] == XS:
                return None
            return self.schema.types[t]
        return t

    def _type_instantiable(self, t: QName | etree._Element) -> bool:
        node = self._type_node(t)
        if node is None:
            return t != (XS, "anyType")
        if node.tag == _XS + "simpleType":
            return True
        model = self._model(node)
        if model.abstract:
            return False
        return not (model.content is not None and (model.mixed or _has_wildcard(model.content)) and
                    _min_size(model.content, self) > 0)  # fmt: skip

    def _global_entry(self, qn: QName) -> st.SearchStrategy[tuple[str, Any]]:
        members = self._members(qn)
        if not members:
            raise ValueError(f"{qn} cannot be instantiated (abstract without substitutes, or wildcard content)")
        return st.one_of([self._element_value(m).map(lambda v, n=m[1]: (n, v)) for m in members])

    def _element_value(self, qn: QName) -> st.SearchStrategy[Any]:
        return self._type(self.schema._type_of(self.schema.elements[qn]))

    def _type(self, t: QName | etree._Element) -> st.SearchStrategy[Any]:
        key = self._type_key(t)
        if key in self._type_cache:
            return self._type_cache[key]
        node = self._type_node(t)
        strat: st.SearchStrategy[Any]
        if node is None or node.tag == _XS + "simpleType":
            strat = self._simple(self.schema.facets(t))
        else:
            # deferred: the strategy is built on first draw, which makes recursive types possible
            strat = st.deferred(lambda node=node: self._complex(self._model(node)))
        self._type_cache[key] = strat
        return strat

    def _complex(self, model: ComplexModel) -> st.SearchStrategy[Any]:
        parts: list[st.SearchStrategy[list[tuple[str, Any]]]] = []
        for a in model.attributes:
            value = self._simple(self.schema.facets(a.type), attribute=True)
            pair = value.map(lambda v, n=a.name: [(n, v)])
            parts.append(pair if a.required else st.one_of(st.just([]), pair))
        if model.simple is not None:
            # after the attributes: EXICodec's JSON reader (EclipseLink MOXy) drops a "value" that precedes them
            parts.append(self._simple(self.schema.facets(model.simple)).map(lambda v: [("value", v)]))
        elif model.content is not None and not model.mixed and not _has_wildcard(model.content):
            parts.append(self._group(model.content))
        elif model.content is not None and _min_size(model.content, self) > 0:
            raise ValueError("mixed or wildcard content with required items cannot be generated")
        return st.tuples(*parts).map(_merge) if parts else st.just({})

    def _occurrences(self, lo: int, hi: int | None) -> st.SearchStrategy[int]:
        cap = self.max_repeat if hi is None else min(hi, max(lo, self.max_repeat))
        return st.integers(min_value=lo, max_value=max(lo, cap))

    def _group(self, g: Group) -> st.SearchStrategy[list[tuple[str, Any]]]:
        if g.kind == "any":
            return st.just([])
        # A repeated sequence/choice has no place in the JSON form for interleaved repetitions: one occurrence is
        # generated (or none when optional). Only xmldsig uses such groups, and only around wildcard/mixed content.
        lo = g.min if g.max == 1 else min(g.min, 1)
        if g.kind == "sequence":
            items = [self._particle(i) for i in g.items]
            one = st.tuples(*items).map(lambda ls: [kv for part in ls for kv in part]) if items else st.just([])
        else:
            options = [self._particle(i, force=True) for i in g.items if self._particle_possible(i)]
            one = st.one_of(options) if options else st.just([])
        return one if lo >= 1 else st.one_of(st.just([]), one)

    def _particle_possible(self, p: Any) -> bool:
        if isinstance(p, Group):
            return p.kind != "any" or p.min == 0
        if p.ref:
            return bool(self._members(p.name))
        assert p.type is not None
        return self._type_instantiable(p.type)

    def _particle(self, p: Any, force: bool = False) -> st.SearchStrategy[list[tuple[str, Any]]]:
        if isinstance(p, Group):
            return self._group(p)
        lo = max(p.min, 1) if force else p.min
        if not self._particle_possible(p):
            if lo > 0:
                raise ValueError(f"required element {p.name} cannot be generated")
            return st.just([])
        repeated = p.max is None or p.max > 1
        if p.ref:
            value = self._global_entry(p.name)
        else:
            assert p.type is not None
            value = self._type(p.type).map(lambda v, n=p.name[1]: (n, v))
        if not repeated:
            return value.map(lambda kv: [kv]) if lo >= 1 else st.one_of(st.just([]), value.map(lambda kv: [kv]))
        # a repeated reference to an abstract head may mix members; the JSON form keys each by its own name
        return self._occurrences(lo, p.max).flatmap(
            lambda n: st.lists(value, min_size=n, max_size=n).map(_group_repeats)
        )

    # -- simple values ---------------------------------------------------------------------------------------------
    def _simple(self, f: Facets, *, attribute: bool = False) -> st.SearchStrategy[Any]:
        if f.enumeration:
            vals = list(f.enumeration)
            if f.base in _INT_RANGES:
                return st.sampled_from([int(v) for v in vals])
            if f.base == "boolean":
                return st.sampled_from([v in ("true", "1") for v in vals])
            return st.sampled_from(vals)
        if f.base in _INT_RANGES:
            lo, hi = _INT_RANGES[f.base]
            lo = f.min_value if f.min_value is not None else lo
            hi = f.max_value if f.max_value is not None else hi
            lo = lo if lo is not None else -(2**_UNBOUNDED_BITS)
            hi = hi if hi is not None else 2**_UNBOUNDED_BITS
            return st.integers(min_value=lo, max_value=hi)
        if f.base == "boolean":
            return st.booleans()
        lo_len, hi_len = self._length_bounds(f)
        if f.base == "hexBinary":
            return st.binary(min_size=lo_len, max_size=hi_len).map(lambda b: b.hex().upper())
        if f.base == "base64Binary":
            return st.binary(min_size=lo_len, max_size=hi_len).map(lambda b: base64.b64encode(b).decode())
        if f.base in _STRINGISH:
            if f.patterns:
                pats = [st.from_regex(p, fullmatch=True) for p in f.patterns]
                return st.one_of(pats).filter(lambda s: lo_len <= len(s) <= hi_len)
            if f.base in ("ID", "IDREF", "NCName"):
                s = _ncname(max(lo_len, 1), max(hi_len, 1))
                return s.map(IdStr) if f.base == "ID" else s
            if f.base == "anyURI":
                return _URIS.filter(lambda u: lo_len <= len(u) <= hi_len)
            if attribute:
                return st.text(_URI_ALPHABET, min_size=lo_len, max_size=hi_len)
            return st.text(_TEXT_ALPHABET, min_size=lo_len, max_size=hi_len).map(_no_edge_space)
        raise NotImplementedError(f"XSD type xs:{f.base} is not supported by the strategies")

    def _length_bounds(self, f: Facets) -> tuple[int, int]:
        if f.length is not None:
            return f.length, f.length
        lo = f.min_length or 0
        hi = f.max_length if f.max_length is not None else max(lo, self.max_text)
        return lo, hi


def _clark(qn: QName) -> str:
    return f"{{{qn[0]}}}{qn[1]}" if qn[0] else qn[1]


def _lexical(v: Any, path: str) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | str):
        return str(v)
    raise ValueError(f"{path}: {v!r} is not a simple value")


def _typed(text: str, f: Facets) -> Any:
    if f.base in _INT_RANGES:
        return int(text.strip())
    if f.base == "boolean":
        return text.strip() in ("true", "1")
    if f.base == "hexBinary":
        return text.strip().upper()
    if f.base == "base64Binary":
        return base64.b64encode(base64.b64decode("".join(text.split()))).decode()
    return text


def _ncname(lo: int, hi: int) -> st.SearchStrategy[str]:
    return st.tuples(st.sampled_from(_NCNAME_START), st.text(_NCNAME_REST, min_size=lo - 1, max_size=hi - 1)).map(
        "".join
    )


def _no_edge_space(s: str) -> str:
    """Replace a leading/trailing space by "_" (same length: facets stay met) -- no filtering, no rejected draws."""
    if s[:1] == " ":
        s = "_" + s[1:]
    if s[-1:] == " ":
        s = s[:-1] + "_"
    return s


def _has_wildcard(g: Group) -> bool:
    return g.kind == "any" or any(isinstance(i, Group) and _has_wildcard(i) for i in g.items)


def _min_size(g: Group, xs: XsdStrategies) -> int:
    if g.min == 0 or g.kind == "any":
        return g.min
    sizes = [(_min_size(i, xs) if isinstance(i, Group) else i.min) for i in g.items]
    if g.kind == "choice":
        return min(sizes) if sizes else 0
    return sum(sizes)


def _merge(parts: Iterable[list[tuple[str, Any]]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for part in parts:
        for k, v in part:
            if k in out:
                raise ValueError(f"element {k!r} appears twice in one content model")
            out[k] = v
    return out


def _group_repeats(kvs: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
    grouped: dict[str, list[Any]] = {}
    for k, v in kvs:
        grouped.setdefault(k, []).append(v)
    return list(grouped.items())


def unique_ids(obj: Any) -> Any:
    """Turn ``IdStr`` values into plain strings, renaming repeats (``a``, ``a``  -> ``a``, ``a-2``)."""
    seen: set[str] = set()

    def walk(o: Any) -> Any:
        if isinstance(o, IdStr):
            name, n = str(o), 1
            while name in seen:
                n += 1
                name = f"{o}-{n}"
            seen.add(name)
            return name
        if isinstance(o, dict):
            return {k: walk(v) for k, v in o.items()}
        if isinstance(o, list):
            return [walk(v) for v in o]
        return o

    return walk(obj)


@cache
def strategies_for(family: str) -> XsdStrategies:
    """One cached XsdStrategies per family (schema parsing is the slow part)."""
    return XsdStrategies(family)


__all__ = ["FAMILIES", "IdStr", "XsdStrategies", "strategies_for", "unique_ids"]
