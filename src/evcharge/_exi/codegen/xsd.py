"""A small XML Schema reader: just the components that EXI grammars are built from.

It reads a schema file and everything it imports or includes (lxml, no validation) into plain
objects: element declarations, type definitions (simple and complex), attribute uses and particles.
Only the XSD features that the V2G schemas use are supported; anything else raises
:class:`SchemaError` naming the construct, so an unsupported schema never produces a wrong codec.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree

XS = "http://www.w3.org/2001/XMLSchema"
QName = tuple[str, str]  # (namespace uri, local name)



#: Facets of the published schemas that the standard's own text overrides, applied after the XSD's facets.
#: ISO 15118-20 ``dhPublicKeyType`` is ``xs:length 133`` (a secp521r1 point), but [V2G20-2495] sends the 56-byte
#: X448 ephemeral key "without any extra filler/padding bytes to reach DHPublicKey size of 133 bytes": read as
#: at most 133 bytes (EXI writes binary length-prefixed, so the stream is the same; libcbv2g holds it as up to 133).
FACET_DEVIATIONS: dict[QName, dict[str, int | None]] = {
    ("urn:iso:std:iso:15118:-20:CommonMessages", "dhPublicKeyType"): {"length": None, "max_length": 133},
}

class SchemaError(Exception):
    """The schema uses something this reader does not support, or is inconsistent."""


def qname_key(q: QName) -> tuple[str, str]:
    """EXI sort order of qualified names: local name first, then uri."""
    return (q[1], q[0])


# Built-in simple types: name -> (primitive, base, facets of the built-in itself)
_INTEGER_BOUNDS: dict[str, tuple[int | None, int | None]] = {
    "integer": (None, None),
    "nonPositiveInteger": (None, 0),
    "negativeInteger": (None, -1),
    "nonNegativeInteger": (0, None),
    "positiveInteger": (1, None),
    "long": (-(2**63), 2**63 - 1),
    "int": (-(2**31), 2**31 - 1),
    "short": (-(2**15), 2**15 - 1),
    "byte": (-128, 127),
    "unsignedLong": (0, 2**64 - 1),
    "unsignedInt": (0, 2**32 - 1),
    "unsignedShort": (0, 2**16 - 1),
    "unsignedByte": (0, 255),
}
_STRINGLIKE = {
    "string", "normalizedString", "token", "language", "Name", "NCName", "ID", "IDREF", "ENTITY",
    "NMTOKEN", "anyURI", "anySimpleType",
}
_PRIMITIVE = {"boolean", "hexBinary", "base64Binary", "decimal", "float", "double", "dateTime", "QName"}


@dataclass(eq=False)
class SimpleType:
    """A simple type after following its restriction chain to a built-in primitive."""

    name: QName | None
    primitive: str  # "string", "boolean", "integer", "hexBinary", "base64Binary", "decimal", "float", ...
    builtin: str  # the XSD built-in type it derives from (e.g. "unsignedShort", "anyURI")
    enumeration: list[str] | None = None
    min_value: int | None = None
    max_value: int | None = None
    length: int | None = None
    min_length: int | None = None
    max_length: int | None = None


@dataclass(eq=False)
class AttributeUse:
    qname: QName
    type: SimpleType
    required: bool


@dataclass(eq=False)
class ElementDecl:
    qname: QName
    type: ComplexType | SimpleType | None  # None until resolved
    is_global: bool
    abstract: bool = False
    nillable: bool = False
    substitution_head: QName | None = None
    members: list[ElementDecl] = field(default_factory=list)  # elements substitutable for this one (global only)
    _type_ref: QName | None = None
    _anon: etree._Element | None = None


@dataclass(eq=False)
class Wildcard:
    namespaces: str  # "##any", "##other", or a list of uris separated by blanks


@dataclass(eq=False)
class ModelGroup:
    compositor: str  # "sequence" | "choice" | "all"
    particles: list[Particle]


@dataclass(eq=False)
class Particle:
    min_occurs: int
    max_occurs: int | None  # None = unbounded
    term: ElementDecl | Wildcard | ModelGroup


@dataclass(eq=False)
class ComplexType:
    name: QName | None
    attributes: list[AttributeUse]
    attribute_wildcard: Wildcard | None
    content_kind: str  # "empty" | "simple" | "element" | "mixed"
    simple_content: SimpleType | None
    particle: Particle | None
    abstract: bool = False


class Schema:
    """Every component reachable from one root schema file (with its imports and includes)."""

    def __init__(self, root_file: Path) -> None:
        self.root_file = Path(root_file)
        self.files: list[Path] = []
        self.elements: dict[QName, ElementDecl] = {}
        self._type_nodes: dict[QName, tuple[etree._Element, str]] = {}
        self._group_nodes: dict[QName, tuple[etree._Element, str]] = {}
        self._attr_nodes: dict[QName, tuple[etree._Element, str]] = {}
        self._types: dict[QName, ComplexType | SimpleType] = {}
        self._element_nodes: list[tuple[etree._Element, str, bool]] = []
        self._load(self.root_file)
        self._build()

    # -- loading -----------------------------------------------------------------------------
    def _load(self, path: Path) -> None:
        path = path.resolve()
        if path in self.files:
            return
        self.files.append(path)
        doc = etree.parse(str(path))
        root = doc.getroot()
        tns = root.get("targetNamespace", "")
        efd = root.get("elementFormDefault", "unqualified")
        afd = root.get("attributeFormDefault", "unqualified")
        root.set("{urn:evcharge}efd", efd)
        root.set("{urn:evcharge}afd", afd)
        for child in root:
            if not isinstance(child.tag, str):
                continue
            tag = etree.QName(child).localname
            if tag in ("import", "include"):
                loc = child.get("schemaLocation")
                if loc:
                    self._load(path.parent / loc)
            elif tag in ("complexType", "simpleType"):
                self._type_nodes[(tns, child.get("name"))] = (child, tns)
            elif tag == "element":
                self._element_nodes.append((child, tns, True))
            elif tag == "group":
                self._group_nodes[(tns, child.get("name"))] = (child, tns)
            elif tag == "attribute":
                self._attr_nodes[(tns, child.get("name"))] = (child, tns)
            elif tag in ("annotation", "notation"):
                pass
            else:
                raise SchemaError(f"{path.name}: unsupported top-level <{tag}>")

    def named_types(self) -> list[QName]:
        """The qualified names of every named type definition of the schema set, in load order."""
        return list(self._type_nodes)

    def digest(self) -> str:
        """SHA-256 over the bytes of every file of the schema set, in load order."""
        h = hashlib.sha256()
        for f in self.files:
            h.update(f.name.encode())
            h.update(f.read_bytes())
        return h.hexdigest()

    # -- resolution --------------------------------------------------------------------------
    @staticmethod
    def _resolve(node: etree._Element, value: str) -> QName:
        if ":" in value:
            prefix, local = value.split(":", 1)
        else:
            prefix, local = None, value
        uri = node.nsmap.get(prefix)
        if uri is None:
            uri = "" if prefix is None else None
        if uri is None:
            raise SchemaError(f"unknown namespace prefix in {value!r}")
        return (uri, local)

    def _build(self) -> None:
        for node, tns, _ in self._element_nodes:
            decl = ElementDecl(
                qname=(tns, node.get("name")),
                type=None,
                is_global=True,
                abstract=node.get("abstract") == "true",
                nillable=node.get("nillable") == "true",
            )
            if node.get("substitutionGroup"):
                decl.substitution_head = self._resolve(node, node.get("substitutionGroup"))
            if node.get("type"):
                decl._type_ref = self._resolve(node, node.get("type"))
            decl._anon = node
            self.elements[decl.qname] = decl
        for decl in self.elements.values():
            decl.type = self._element_type(decl, decl._anon, None)
        # substitution groups: transitive members of each head
        for decl in self.elements.values():
            head = decl.substitution_head
            seen: set[QName] = set()
            while head is not None:
                if head in seen:
                    raise SchemaError(f"substitution group cycle at {head}")
                seen.add(head)
                head_decl = self.elements.get(head)
                if head_decl is None:
                    raise SchemaError(f"unknown substitution group head {head}")
                head_decl.members.append(decl)
                head = head_decl.substitution_head

    def _element_type(
        self, decl: ElementDecl, node: etree._Element | None, tns: str | None
    ) -> ComplexType | SimpleType:
        if decl._type_ref is not None:
            return self.type(decl._type_ref)
        assert node is not None
        for child in node:
            if not isinstance(child.tag, str):
                continue
            tag = etree.QName(child).localname
            if tag == "complexType":
                return self._complex(child, None, self._tns(child))
            if tag == "simpleType":
                return self._simple(child, None)
        if decl.substitution_head is not None:
            head = self.elements[decl.substitution_head]
            return head.type if head.type is not None else self._element_type(head, head._anon, None)
        return self.type((XS, "anyType"))

    @staticmethod
    def _tns(node: etree._Element) -> str:
        root = node.getroottree().getroot()
        return str(root.get("targetNamespace", ""))

    def type(self, qn: QName) -> ComplexType | SimpleType:
        if qn in self._types:
            return self._types[qn]
        if qn[0] == XS:
            t = self._builtin(qn[1])
        else:
            if qn not in self._type_nodes:
                raise SchemaError(f"unknown type {qn}")
            node, _tns = self._type_nodes[qn]
            if etree.QName(node).localname == "simpleType":
                t = self._simple(node, qn)
            else:
                placeholder = ComplexType(qn, [], None, "empty", None, None)
                self._types[qn] = placeholder  # recursion guard
                built = self._complex(node, qn, _tns)
                placeholder.__dict__.update(built.__dict__)
                return placeholder
        self._types[qn] = t
        return t

    def _builtin(self, name: str) -> ComplexType | SimpleType:
        if name == "anyType":
            any_particle = Particle(0, None, Wildcard("##any"))
            return ComplexType((XS, "anyType"), [], Wildcard("##any"), "mixed", None, any_particle)
        if name in _INTEGER_BOUNDS:
            lo, hi = _INTEGER_BOUNDS[name]
            return SimpleType((XS, name), "integer", name, min_value=lo, max_value=hi)
        if name in _STRINGLIKE:
            return SimpleType((XS, name), "string", name)
        if name in _PRIMITIVE:
            return SimpleType((XS, name), name, name)
        raise SchemaError(f"unsupported built-in type xs:{name}")

    def _simple(self, node: etree._Element, name: QName | None) -> SimpleType:
        children = [c for c in node if isinstance(c.tag, str) and etree.QName(c).localname != "annotation"]
        if len(children) != 1 or etree.QName(children[0]).localname != "restriction":
            kinds = [etree.QName(c).localname for c in children]
            raise SchemaError(f"simple type {name}: only restrictions are supported, found {kinds}")
        return self._restriction(children[0], name)

    def _restriction(self, rnode: etree._Element, name: QName | None) -> SimpleType:
        base = self.type(self._resolve(rnode, rnode.get("base")))
        if not isinstance(base, SimpleType):
            raise SchemaError(f"simple type {name}: base is not simple")
        t = SimpleType(
            name, base.primitive, base.builtin,
            enumeration=None if base.enumeration is None else list(base.enumeration),
            min_value=base.min_value, max_value=base.max_value,
            length=base.length, min_length=base.min_length, max_length=base.max_length,
        )
        enum: list[str] = []
        for f in rnode:
            if not isinstance(f.tag, str):
                continue
            tag = etree.QName(f).localname
            v = f.get("value")
            if tag == "enumeration":
                enum.append(v)
            elif tag == "minInclusive":
                t.min_value = int(v)
            elif tag == "maxInclusive":
                t.max_value = int(v)
            elif tag == "minExclusive":
                t.min_value = int(v) + 1
            elif tag == "maxExclusive":
                t.max_value = int(v) - 1
            elif tag == "length":
                t.length = int(v)
            elif tag == "minLength":
                t.min_length = int(v)
            elif tag == "maxLength":
                t.max_length = int(v)
            elif tag in ("annotation", "whiteSpace"):
                pass
            elif tag == "simpleType":
                raise SchemaError(f"simple type {name}: anonymous base types are not supported")
            else:
                raise SchemaError(f"simple type {name}: unsupported facet <{tag}>")
        if enum:
            t.enumeration = enum
        if name is not None and name in FACET_DEVIATIONS:
            for facet, value in FACET_DEVIATIONS[name].items():
                setattr(t, facet, value)
        return t

    # -- complex types -----------------------------------------------------------------------
    def _complex(self, node: etree._Element, name: QName | None, tns: str) -> ComplexType:
        mixed = node.get("mixed") == "true"
        abstract = node.get("abstract") == "true"
        attrs: list[AttributeUse] = []
        wildcard: Wildcard | None = None
        particle: Particle | None = None
        for child in node:
            if not isinstance(child.tag, str):
                continue
            tag = etree.QName(child).localname
            if tag in ("sequence", "choice", "all", "group"):
                particle = self._particle(child, tns)
            elif tag == "attribute":
                attrs.append(self._attribute(child, tns))
            elif tag == "anyAttribute":
                wildcard = Wildcard(child.get("namespace", "##any"))
            elif tag == "complexContent":
                mixed = mixed or child.get("mixed") == "true"
                return self._complex_content(child, name, tns, mixed, abstract)
            elif tag == "simpleContent":
                return self._simple_content(child, name, tns, abstract)
            elif tag == "annotation":
                pass
            else:
                raise SchemaError(f"complex type {name}: unsupported <{tag}>")
        return self._finish(name, attrs, wildcard, particle, mixed, abstract)

    def _finish(self, name: QName | None, attrs: list[AttributeUse], wildcard: Wildcard | None,
                particle: Particle | None, mixed: bool, abstract: bool) -> ComplexType:
        if particle is not None and _is_empty_particle(particle):
            particle = None
        kind = "empty" if particle is None and not mixed else ("mixed" if mixed else "element")
        if kind == "mixed" and particle is None:
            particle = Particle(1, 1, ModelGroup("sequence", []))
        return ComplexType(name, attrs, wildcard, kind, None, particle, abstract)

    def _complex_content(self, node: etree._Element, name: QName | None, tns: str, mixed: bool,
                         abstract: bool) -> ComplexType:
        deriv = _derivation(node)
        kind = etree.QName(deriv).localname
        base = self.type(self._resolve(deriv, deriv.get("base")))
        if not isinstance(base, ComplexType):
            raise SchemaError(f"complex type {name}: complexContent over a simple type")
        own_particle: Particle | None = None
        attrs: list[AttributeUse] = []
        wildcard: Wildcard | None = None
        for child in deriv:
            if not isinstance(child.tag, str):
                continue
            tag = etree.QName(child).localname
            if tag in ("sequence", "choice", "all", "group"):
                own_particle = self._particle(child, tns)
            elif tag == "attribute":
                attrs.append(self._attribute(child, tns))
            elif tag == "anyAttribute":
                wildcard = Wildcard(child.get("namespace", "##any"))
            elif tag != "annotation":
                raise SchemaError(f"complex type {name}: unsupported <{tag}> in {kind}")
        if kind == "extension":
            merged = {a.qname: a for a in base.attributes}
            merged.update({a.qname: a for a in attrs})
            parts = [p for p in (base.particle, own_particle) if p is not None]
            if len(parts) == 2:
                particle: Particle | None = Particle(1, 1, ModelGroup("sequence", parts))
            else:
                particle = parts[0] if parts else None
            return self._finish(name, list(merged.values()), wildcard or base.attribute_wildcard, particle,
                                mixed or base.content_kind == "mixed", abstract)
        # restriction: the derived type states its whole content model again
        return self._finish(name, attrs, wildcard, own_particle, mixed, abstract)

    def _simple_content(self, node: etree._Element, name: QName | None, tns: str, abstract: bool) -> ComplexType:
        deriv = _derivation(node)
        base = self.type(self._resolve(deriv, deriv.get("base")))
        if isinstance(base, ComplexType):
            if base.simple_content is None:
                raise SchemaError(f"complex type {name}: simpleContent over a complex type without simple content")
            value_type = base.simple_content
            attrs = list(base.attributes)
        else:
            value_type = base
            attrs = []
        if etree.QName(deriv).localname == "restriction":
            value_type = self._restriction(deriv, None) if isinstance(base, SimpleType) else value_type
        for child in deriv:
            if isinstance(child.tag, str) and etree.QName(child).localname == "attribute":
                attrs.append(self._attribute(child, tns))
        return ComplexType(name, attrs, None, "simple", value_type, None, abstract)

    def _attribute(self, node: etree._Element, tns: str) -> AttributeUse:
        required = node.get("use") == "required"
        if node.get("ref"):
            qn = self._resolve(node, node.get("ref"))
            gnode, _ = self._attr_nodes[qn]
            return AttributeUse(qn, self._attr_type(gnode), required)
        root = node.getroottree().getroot()
        form = node.get("form") or root.get("{urn:evcharge}afd")
        qn = (tns if form == "qualified" else "", node.get("name"))
        return AttributeUse(qn, self._attr_type(node), required)

    def _attr_type(self, node: etree._Element) -> SimpleType:
        if node.get("type"):
            t = self.type(self._resolve(node, node.get("type")))
        else:
            st = next((c for c in node if isinstance(c.tag, str) and etree.QName(c).localname == "simpleType"), None)
            t = self._simple(st, None) if st is not None else self.type((XS, "anySimpleType"))
        if not isinstance(t, SimpleType):
            raise SchemaError("attribute with a complex type")
        return t

    # -- particles ---------------------------------------------------------------------------
    def _particle(self, node: etree._Element, tns: str) -> Particle:
        tag = etree.QName(node).localname
        mn = int(node.get("minOccurs", "1"))
        mx_s = node.get("maxOccurs", "1")
        mx = None if mx_s == "unbounded" else int(mx_s)
        if tag == "element":
            return Particle(mn, mx, self._local_element(node, tns))
        if tag == "any":
            return Particle(mn, mx, Wildcard(node.get("namespace", "##any")))
        if tag == "group":
            gnode, gtns = self._group_nodes[self._resolve(node, node.get("ref"))]
            inner = next(c for c in gnode if isinstance(c.tag, str) and etree.QName(c).localname != "annotation")
            p = self._particle(inner, gtns)
            return Particle(mn, mx, p.term) if (p.min_occurs, p.max_occurs) == (1, 1) else \
                Particle(mn, mx, ModelGroup("sequence", [p]))
        if tag in ("sequence", "choice", "all"):
            parts = [
                self._particle(c, tns) for c in node
                if isinstance(c.tag, str) and etree.QName(c).localname != "annotation"
            ]
            return Particle(mn, mx, ModelGroup(tag, parts))
        raise SchemaError(f"unsupported particle <{tag}>")

    def _local_element(self, node: etree._Element, tns: str) -> ElementDecl:
        if node.get("ref"):
            return self.elements[self._resolve(node, node.get("ref"))]
        root = node.getroottree().getroot()
        form = node.get("form") or root.get("{urn:evcharge}efd")
        qn = (tns if form == "qualified" else "", node.get("name"))
        decl = ElementDecl(qn, None, is_global=False, nillable=node.get("nillable") == "true")
        if node.get("type"):
            decl._type_ref = self._resolve(node, node.get("type"))
        decl.type = self._element_type(decl, node, tns)
        return decl


def _derivation(node: etree._Element) -> etree._Element:
    """The <extension> or <restriction> child of a complexContent / simpleContent node."""
    for c in node:
        if isinstance(c.tag, str) and etree.QName(c).localname in ("extension", "restriction"):
            return c
    raise SchemaError("complexContent/simpleContent without extension or restriction")


def _is_empty_particle(p: Particle) -> bool:
    if p.max_occurs == 0:
        return True
    t = p.term
    return isinstance(t, ModelGroup) and all(_is_empty_particle(c) for c in t.particles)
