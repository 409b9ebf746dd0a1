"""Turn a schema's EXI grammars into a generated Python module: message classes and grammar tables.

The generated module holds no code that runs per message: frozen, slotted dataclasses (one per
complex type), ``StrEnum`` classes (one per enumerated simple type) and ``TABLES``, the flat
integer tables that the interpreter in ``evcharge._exi._runtime`` runs.
"""

from __future__ import annotations

import keyword
import re
from dataclasses import dataclass, field

from evcharge._exi.codegen import grammar as g
from evcharge._exi.codegen.xsd import (
    XS,
    ComplexType,
    ElementDecl,
    ModelGroup,
    Particle,
    QName,
    Schema,
    SchemaError,
    SimpleType,
    qname_key,
)

# runtime constants (must match evcharge._exi._runtime)
P_EE, P_SE, P_AT, P_CH, P_UNSUPPORTED, P_MIXED = range(6)
D_BOOL, D_UINT, D_INT, D_NBIT, D_STRING, D_BINARY, D_ENUM = range(7)
T_COMPLEX, T_SIMPLE = range(2)
INF = 1 << 30


def snake(name: str) -> str:
    s = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", name)
    s = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", s)
    s = re.sub(r"[^0-9a-zA-Z]+", "_", s).strip("_").lower()
    s = re.sub(r"_+", "_", s)
    if not s or s[0].isdigit():
        s = "f_" + s
    if keyword.iskeyword(s) or s in ("value_", "type", "id"):
        s += "_"
    return s


def class_name(local: str) -> str:
    base = local[:-4] if local.endswith("Type") and len(local) > 4 else local
    base = re.sub(r"[^0-9a-zA-Z_]", "_", base)
    return base[0].upper() + base[1:]


@dataclass
class Slot:
    pyname: str
    xsd: str
    ns: str
    kind: str  # "attribute" | "value" | "element" | "mixed" (the character chunks of mixed content)
    is_list: bool
    required: bool
    max_occurs: int  # -1 unbounded
    child: int  # type id for elements, -1 otherwise
    dt: int  # datatype id for attributes/value, -1 otherwise
    qname: QName | None = None


@dataclass
class TypeInfo:
    tid: int
    t: ComplexType | SimpleType
    pyclass: str | None
    xsd_name: str
    slots: list[Slot] = field(default_factory=list)
    value_slot: int = -1
    dt: int = -1
    grammar: g.TypeGrammar | None = None


def _occurs(p: Particle, q: QName) -> tuple[int, int]:
    """(min, max) number of times an element named q can occur within particle p."""
    term = p.term
    if isinstance(term, ElementDecl):
        names = {term.qname} | ({m.qname for m in term.members} if term.is_global else set())
        lo, hi = (1, 1) if q in names else (0, 0)
        if q in names and len(names) > 1:
            lo = 0  # another member may be chosen
    elif isinstance(term, ModelGroup):
        parts = [_occurs(c, q) for c in term.particles]
        if not parts:
            lo, hi = 0, 0
        elif term.compositor == "choice":
            lo, hi = min(a for a, _ in parts), max(b for _, b in parts)
        else:
            lo, hi = sum(a for a, _ in parts), sum(b for _, b in parts)
    else:
        return (0, 0)
    mx = INF if p.max_occurs is None else p.max_occurs
    return (lo * p.min_occurs, min(INF, hi * mx))


def _element_leaves(p: Particle, out: list[ElementDecl]) -> None:
    term = p.term
    if isinstance(term, ElementDecl):
        members = [term, *term.members] if term.is_global else [term]
        for m in sorted({m.qname: m for m in members}.values(), key=lambda d: qname_key(d.qname)):
            out.append(m)
    elif isinstance(term, ModelGroup):
        for c in term.particles:
            _element_leaves(c, out)


class Generator:
    def __init__(self, schema: Schema, family: str, looped: frozenset[str] = frozenset()) -> None:
        self.schema = schema
        self.family = family
        self.builder = g.GrammarBuilder(schema, looped)
        self.types: list[TypeInfo] = []
        self._tid: dict[int, int] = {}
        self.datatypes: list[tuple[object, ...]] = []
        self._dt: dict[int, int] = {}
        self.enums: dict[int, tuple[str, list[str]]] = {}  # dt id -> (class name, values)
        self._names: set[str] = set()
        self._attr_types: dict[tuple[QName, int], SimpleType] = {}
        self._build()

    # -- naming --------------------------------------------------------------------------------
    def _unique(self, name: str) -> str:
        base = name
        i = 2
        while name in self._names:
            name = f"{base}{i}"
            i += 1
        self._names.add(name)
        return name

    # -- datatypes -----------------------------------------------------------------------------
    def datatype(self, st: SimpleType, context: str) -> int:
        key = id(st)
        if key in self._dt:
            return self._dt[key]
        lo = st.min_value
        hi = st.max_value
        minlen = st.length if st.length is not None else st.min_length
        maxlen = st.length if st.length is not None else st.max_length
        enum_values = None
        if st.enumeration is not None and st.primitive not in ("QName",):
            kind, nbits = D_ENUM, g.bits_for(len(st.enumeration))
            enum_values = list(st.enumeration)
        elif st.primitive == "boolean":
            kind, nbits = D_BOOL, 1
        elif st.primitive == "integer":
            if lo is not None and hi is not None and hi - lo + 1 <= 4096:
                kind, nbits = D_NBIT, g.bits_for(hi - lo + 1)
            elif lo is not None and lo >= 0:
                kind, nbits = D_UINT, 0
            else:
                kind, nbits = D_INT, 0
        elif st.primitive == "string":
            kind, nbits = D_STRING, 0
        elif st.primitive in ("hexBinary", "base64Binary"):
            kind, nbits = D_BINARY, 0
        else:
            raise SchemaError(f"datatype {st.primitive} is not supported yet ({context})")
        dt = len(self.datatypes)
        self._dt[key] = dt
        self.datatypes.append((kind, nbits, lo, hi, minlen, maxlen, st.primitive, st.builtin))
        if enum_values is not None:
            local = st.name[1] if st.name else context
            self.enums[dt] = (self._unique(class_name(local)), enum_values)
        return dt

    # -- types ---------------------------------------------------------------------------------
    def type_id(self, t: ComplexType | SimpleType, context: str) -> int:
        key = id(t)
        if key in self._tid:
            return self._tid[key]
        tid = len(self.types)
        self._tid[key] = tid
        xsd_name = t.name[1] if t.name else context
        info = TypeInfo(tid, t, None, xsd_name)
        self.types.append(info)
        if isinstance(t, SimpleType):
            info.dt = self.datatype(t, context)
            info.slots = [Slot("value", "value", "", "value", False, True, 1, -1, info.dt)]
            info.value_slot = 0
        else:
            if t.name and t.name[0] == XS:
                info.pyclass = None
            else:
                info.pyclass = self._unique(class_name(xsd_name))
            self._complex_slots(info, t, context)
        info.grammar = self.builder.type_grammar(t)
        return tid

    def _complex_slots(self, info: TypeInfo, t: ComplexType, context: str) -> None:
        used: set[str] = set()

        def pyname(xsd: str) -> str:
            n = snake(xsd)
            base = n
            i = 2
            while n in used:
                n = f"{base}_{i}"
                i += 1
            used.add(n)
            return n

        for a in sorted(t.attributes, key=lambda a: qname_key(a.qname)):
            dt = self.datatype(a.type, f"{context}_{a.qname[1]}")
            info.slots.append(Slot(pyname(a.qname[1]), a.qname[1], a.qname[0], "attribute", False, a.required, 1,
                                   -1, dt, a.qname))
        if t.content_kind == "mixed":
            # the text of mixed content, as EXIficient's JSON form has it: "value": [chunk, ...]; the codec
            # reads and writes the chunks that come before the first child element
            xs_string = self.schema.type((XS, "string"))
            assert isinstance(xs_string, SimpleType)
            dt = self.datatype(xs_string, "string")
            info.slots.append(Slot(pyname("value"), "value", "", "mixed", True, False, -1, -1, dt))
        if t.content_kind == "simple":
            assert t.simple_content is not None
            info.dt = self.datatype(t.simple_content, f"{context}_value")
            info.value_slot = len(info.slots)
            info.slots.append(Slot(pyname("value"), "value", "", "value", False, True, 1, -1, info.dt))
        if t.particle is not None:
            leaves: list[ElementDecl] = []
            _element_leaves(t.particle, leaves)
            seen: set[QName] = set()
            for decl in leaves:
                if decl.qname in seen:
                    continue
                seen.add(decl.qname)
                lo, hi = _occurs(t.particle, decl.qname)
                info.slots.append(Slot(pyname(decl.qname[1]), decl.qname[1], decl.qname[0], "element", hi > 1,
                                       lo >= 1, -1 if hi >= INF else hi, -2, -1, decl.qname))
            # child types are resolved after the slots exist (recursion through type_id)
            decls = {d.qname: d for d in leaves}
            for s in info.slots:
                if s.kind == "element":
                    assert s.qname is not None
                    d = decls[s.qname]
                    assert d.type is not None
                    s.child = self.type_id(d.type, d.qname[1])

    def _build(self) -> None:
        globals_sorted = sorted(self.schema.elements.values(), key=lambda d: qname_key(d.qname))
        self.doc: list[tuple[ElementDecl, int]] = []
        for d in globals_sorted:
            assert d.type is not None
            try:
                tid = self.type_id(d.type, d.qname[1]) if not d.abstract else -1
            except SchemaError:
                tid = -1
            self.doc.append((d, tid))
        # fragment grammar: every element qname declared in the schema, global or local
        all_decls: dict[QName, list[ElementDecl]] = {}

        attrs: dict[QName, set[int]] = {}

        def collect(t: ComplexType | SimpleType, seen: set[int]) -> None:
            if id(t) in seen or not isinstance(t, ComplexType):
                return
            seen.add(id(t))
            for a in t.attributes:
                attrs.setdefault(a.qname, set()).add(id(a.type))
                self._attr_types[(a.qname, id(a.type))] = a.type
            if t.particle is None:
                return
            leaves: list[ElementDecl] = []
            _element_leaves(t.particle, leaves)
            for d in leaves:
                all_decls.setdefault(d.qname, [])
                if not any(x is d for x in all_decls[d.qname]):
                    all_decls[d.qname].append(d)
                assert d.type is not None
                collect(d.type, seen)

        seen: set[int] = set()
        for d, _ in self.doc:
            all_decls.setdefault(d.qname, [])
            if not any(x is d for x in all_decls[d.qname]):
                all_decls[d.qname].append(d)
            assert d.type is not None
            collect(d.type, seen)
        # 8.5.2 counts every element declared in the schema, also inside named types that no
        # element uses (ISO 15118-20 CommonTypes declares types that only AC or DC use)
        for qn in self.schema.named_types():
            collect(self.schema.type(qn), seen)
        self.frag: list[tuple[QName, int]] = []
        # 8.5.3: a qname declared with several types (or nillable values) uses the relaxed element
        # fragment grammar; its candidate types let the encoder find the declaration of an object
        self.frag_relaxed: dict[int, tuple[int, ...]] = {}
        for q in sorted(all_decls, key=qname_key):
            decls = all_decls[q]
            types = {id(d.type) for d in decls}
            nill = {d.nillable for d in decls}
            tid = -1
            if len(types) == 1 and len(nill) == 1 and decls[0].type is not None:
                try:
                    tid = self.type_id(decls[0].type, q[1])
                except SchemaError:
                    tid = -1
            else:
                cands = []
                for d in decls:
                    assert d.type is not None
                    try:
                        cands.append(self.type_id(d.type, q[1]))
                    except SchemaError:
                        pass
                self.frag_relaxed[len(self.frag)] = tuple(dict.fromkeys(cands))
            self.frag.append((q, tid))
        # the attributes of ElementFragment_0: every attribute qname of the schema, typed when all
        # its declarations share one type, a string otherwise
        self.frag_attrs: list[tuple[QName, int]] = []
        for q in sorted(attrs, key=qname_key):
            ids = attrs[q]
            dt = self.datatype(self._attr_types[(q, next(iter(ids)))], q[1]) if len(ids) == 1 else -1
            self.frag_attrs.append((q, dt))

    # -- tables --------------------------------------------------------------------------------
    def tables(self) -> dict[str, object]:
        states: list[tuple[int, ...]] = []
        prods: list[tuple[int, int, int, int]] = []
        enc: list[int] = []
        type_rows = []
        for info in self.types:
            assert info.grammar is not None
            base = len(states)
            nslots = len(info.slots)
            slot_of: dict[tuple[str, QName | None], int] = {}
            for i, s in enumerate(info.slots):
                slot_of[(s.kind, s.qname)] = i
            for st in info.grammar.states:
                p0 = len(prods)
                e0 = len(enc)
                row = [-1] * (nslots + 1)
                for k, (term, nxt) in enumerate(st.productions):
                    target = -1 if nxt is None else base + nxt
                    if term.kind == g.EE:
                        prods.append((P_EE, -1, -1, -1))
                        row[nslots] = p0 + k
                    elif term.kind == g.SE:
                        slot = slot_of[("element", term.qname)]
                        prods.append((P_SE, slot, info.slots[slot].child, target))
                        row[slot] = p0 + k
                    elif term.kind == g.AT:
                        slot = slot_of[("attribute", term.qname)]
                        prods.append((P_AT, slot, info.slots[slot].dt, target))
                        row[slot] = p0 + k
                    elif term.kind == g.CH and not term.untyped:
                        prods.append((P_CH, info.value_slot, info.dt, target))
                        row[info.value_slot] = p0 + k
                    elif term.kind == g.CH and ("mixed", None) in slot_of:
                        slot = slot_of[("mixed", None)]
                        prods.append((P_MIXED, slot, info.slots[slot].dt, target))
                        row[slot] = p0 + k
                    else:
                        prods.append((P_UNSUPPORTED, -1, -1, target))
                states.append((st.width, len(st.productions), st.width2, st.ee2, p0, e0))
                enc.extend(row)
            type_rows.append((info, base))
        return {"states": states, "productions": prods, "enc": enc, "types": type_rows}

    # -- source --------------------------------------------------------------------------------
    def source(self, header: str) -> str:
        out: list[str] = [header, "", "from __future__ import annotations", "",
                          "from enum import StrEnum", "",
                          "from evcharge._exi._message import Message as _Message", "",
                          "_set = object.__setattr__", "", ""]
        # enums
        for dt, (name, values) in self.enums.items():
            prim = self.datatypes[dt][7]
            out.append(f"class {name}(StrEnum):")
            out.append(f'    """XSD enumeration ({prim})."""')
            out.append("")
            used: set[str] = set()
            for v in values:
                m = re.sub(r"[^0-9a-zA-Z_]", "_", v)
                if not m or m[0].isdigit():
                    m = "V_" + m
                if keyword.iskeyword(m) or m in ("name", "value", "mro"):
                    m += "_"
                while m in used:
                    m += "_"
                used.add(m)
                out.append(f"    {m} = {v!r}")
            out.append("")
            out.append("")
        # classes
        for info in self.types:
            if info.pyclass is None:
                continue
            t = info.t
            assert isinstance(t, ComplexType)
            ns = t.name[0] if t.name else ""
            # what @dataclass(frozen=True, slots=True, kw_only=True) makes, written out (evcharge._exi._message)
            out.append(f"class {info.pyclass}(_Message):")
            what = f"complexType {info.xsd_name}" if t.name else f"anonymous type of element {info.xsd_name}"
            out.append(f'    """XSD {what}{f" ({ns})" if ns else ""}."""')
            out.append("")
            out.append(f"    __xsd_type__ = {info.xsd_name!r}")
            ordered = sorted(info.slots, key=lambda s: not s.required)
            anns = [self._annotation(s) + ("" if s.required else " | None") for s in ordered]
            out.append(f"    __slots__ = {tuple(s.pyname for s in ordered)!r}")
            spec = tuple((s.pyname, a, s.required, s.xsd, s.kind) for s, a in zip(ordered, anns, strict=True))
            out.append(f"    _SPEC = {spec!r}")
            for s, a in zip(ordered, anns, strict=True):
                out.append(f"    {s.pyname}: {a}")
            params = ", ".join(f"{s.pyname}: {a}" + ("" if s.required else " = None")
                               for s, a in zip(ordered, anns, strict=True))
            out.append("")
            out.append(f"    def __init__(self{', *, ' + params if params else ''}) -> None:")
            for s in ordered:
                out.append(f"        _set(self, {s.pyname!r}, {s.pyname})")
            if not ordered:
                out.append("        pass")
            out.append("")
            out.append("")
        return "\n".join(out)

    def _py_type(self, s: Slot) -> str:
        if s.kind == "element":
            child = self.types[s.child]
            if child.pyclass is not None:
                return child.pyclass
            return self._dt_py(child.dt)
        return self._dt_py(s.dt)

    def _dt_py(self, dt: int) -> str:
        if dt in self.enums:
            return self.enums[dt][0]
        kind = self.datatypes[dt][0]
        return {D_BOOL: "bool", D_UINT: "int", D_INT: "int", D_NBIT: "int", D_STRING: "str", D_BINARY: "bytes"}[
            int(kind)  # type: ignore[call-overload]
        ]

    def _annotation(self, s: Slot) -> str:
        base = self._py_type(s)
        return f"list[{base}]" if s.is_list else base

    def tables_source(self) -> str:
        tb = self.tables()
        lines = ["", "# -- EXI grammar tables (evcharge._exi._runtime.Grammar) " + "-" * 40, ""]
        lines.append("_STATES = (")
        lines += [f"    {tuple(s)!r}," for s in tb["states"]]  # type: ignore[attr-defined]
        lines.append(")")
        lines.append("_PRODUCTIONS = (")
        lines += [f"    {p!r}," for p in tb["productions"]]  # type: ignore[attr-defined]
        lines.append(")")
        enc = tb["enc"]
        assert isinstance(enc, list)
        lines.append("_ENC = (")
        for i in range(0, len(enc), 24):
            lines.append("    " + ", ".join(str(x) for x in enc[i:i + 24]) + ",")
        lines.append(")")
        lines.append("_DATATYPES = (")
        for dt, d in enumerate(self.datatypes):
            members = f"tuple({self.enums[dt][0]})" if dt in self.enums else "None"
            row = f"({d[0]}, {d[1]}, {d[2]!r}, {d[3]!r}, {d[4]!r}, {d[5]!r}, {members}, {d[6]!r})"
            lines.append(f"    {row},")
        lines.append(")")
        lines.append("# type: (kind, start state, datatype, class, slot names, value slot, XSD names, is-list,")
        lines.append("#        required, max occurs, namespaces, slot kinds, child type ids, slot datatypes)")
        lines.append("_TYPES = (")
        for info, base in tb["types"]:  # type: ignore[attr-defined]
            kind = T_SIMPLE if isinstance(info.t, SimpleType) else T_COMPLEX
            cls = info.pyclass if info.pyclass else "None"
            sl = info.slots
            lines.append(
                f"    ({kind}, {base}, {info.dt}, {cls}, {tuple(s.pyname for s in sl)!r}, {info.value_slot}, "
                f"{tuple(s.xsd for s in sl)!r}, {tuple(s.is_list for s in sl)!r}, "
                f"{tuple(s.required for s in sl)!r}, {tuple(s.max_occurs for s in sl)!r}, "
                f"{tuple(s.ns for s in sl)!r}, {tuple(s.kind for s in sl)!r}, {tuple(s.child for s in sl)!r}, "
                f"{tuple(s.dt for s in sl)!r}),  # {info.xsd_name}"
            )
        lines.append(")")
        nd = len(self.doc)
        lines.append(f"_DOC = {tuple((d.qname[0], d.qname[1], tid) for d, tid in self.doc)!r}")
        lines.append(f"_FRAGMENT = {tuple((q[0], q[1], tid) for q, tid in self.frag)!r}")
        lines.append("# relaxed element fragment grammar (EXI 8.5.3): fragment index -> candidate types;")
        lines.append("# attribute qnames of the schema with their datatype (-1: string)")
        lines.append(f"FRAGMENT_RELAXED = {self.frag_relaxed!r}")
        lines.append(f"FRAGMENT_ATTRIBUTES = {tuple((q[0], q[1], dt) for q, dt in self.frag_attrs)!r}")
        lines.append("")
        lines.append("TABLES = {")
        lines.append('    "states": _STATES,')
        lines.append('    "productions": _PRODUCTIONS,')
        lines.append('    "enc": _ENC,')
        lines.append('    "types": _TYPES,')
        lines.append('    "datatypes": _DATATYPES,')
        lines.append(f'    "doc_width": {g.bits_for(nd + 1)},')
        lines.append('    "doc_types": tuple(d[2] for d in _DOC),')
        lines.append('    "doc_names": tuple(d[1] for d in _DOC),')
        lines.append(f'    "frag_width": {g.bits_for(len(self.frag) + 2)},')
        lines.append('    "frag_types": tuple(f[2] for f in _FRAGMENT),')
        lines.append('    "frag_names": tuple(f[1] for f in _FRAGMENT),')
        lines.append("}")
        lines.append("")
        return "\n".join(lines)
