"""The public face of one schema family: encode, decode, dict and XML views, fragments.

A :class:`SchemaCodec` wraps a generated module (message classes + grammar tables) and the
runtime :class:`~evcharge._exi._runtime.Grammar` of the selected backend.  The dict form is the
JSON form of the EXIficient harness and Josev: XSD element and attribute names as keys, hexBinary
as upper-case hex, base64Binary as base64 text, enumerations as their XSD strings, repeated
elements as lists, simple content under ``"value"``.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Mapping
from types import ModuleType
from typing import Any

from evcharge._exi._backend import runtime
from evcharge._exi.errors import ExiDecodeError, ExiEncodeError
from evcharge.errors import require

_D_BOOL, _D_UINT, _D_INT, _D_NBIT, _D_STRING, _D_BINARY, _D_ENUM = range(7)


def _bits_for(n: int) -> int:
    """Bits of an n-valued code: ceil(log2(n)), 0 for n <= 1."""
    return 0 if n <= 1 else (n - 1).bit_length()
_T_COMPLEX, _T_SIMPLE = range(2)


class _TypeView:
    """Per-type metadata read from the generated tables."""

    __slots__ = ("children", "cls", "dt", "dts", "islist", "kind", "kinds", "names", "ns", "required", "tid", "xsd")

    def __init__(self, tid: int, row: tuple[Any, ...]) -> None:
        self.tid = tid
        self.kind: int = row[0]
        self.dt: int = row[2]
        self.cls: type | None = row[3]
        self.names: tuple[str, ...] = row[4]
        self.xsd: tuple[str, ...] = row[6]
        self.islist: tuple[bool, ...] = row[7]
        self.required: tuple[bool, ...] = row[8]
        self.ns: tuple[str, ...] = row[10]
        self.kinds: tuple[str, ...] = row[11]
        self.children: tuple[int, ...] = row[12]
        self.dts: tuple[int, ...] = row[13]


class SchemaCodec:
    """Encoder, decoder and converters for one EXI schema family."""

    def __init__(self, module: ModuleType, namespace: str, *, backend: ModuleType | None = None) -> None:
        """``backend`` is the runtime module to run on (default: the one :mod:`evcharge._exi` chose)."""
        self.module = module
        self.namespace = namespace
        tables = module.TABLES
        self._types = [_TypeView(i, row) for i, row in enumerate(tables["types"])]
        self._messages = self._message_roots(tables, tuple(d[0] for d in module._DOC))
        # the document grammar of encode/decode knows the message roots only: a KeyName or a Body member
        # as document root is not a message (fragments have their own API)
        doc_tables = dict(tables)
        doc_tables["doc_types"] = tuple(t if i in self._messages else -1 for i, t in enumerate(tables["doc_types"]))
        self._rt = backend or runtime
        self._grammar = self._rt.Grammar(doc_tables)
        self._dts = tables["datatypes"]
        self._by_class: dict[type, int] = {}
        for tv in self._types:
            if tv.cls is not None:
                self._by_class.setdefault(tv.cls, tv.tid)
        self._doc_names: tuple[str, ...] = tables["doc_names"]
        self._doc_types: tuple[int, ...] = tables["doc_types"]
        self._doc_ns: tuple[str, ...] = tuple(d[0] for d in module._DOC)
        self._frag_names: tuple[str, ...] = tables["frag_names"]
        self._frag_types: tuple[int, ...] = tables["frag_types"]
        self._frag_ns: tuple[str, ...] = tuple(f[0] for f in module._FRAGMENT)
        self._doc_index = {name: i for i, name in enumerate(self._doc_names)}
        self._root_of: dict[int, int] = {}  # message roots by type (-1: several)
        self._root_any: dict[int, int] = {}  # every global element by type, for the dict and XML views
        for i, t in enumerate(self._doc_types):
            if t >= 0:
                self._root_any[t] = -1 if t in self._root_any else i
            if t >= 0 and i in self._messages:
                self._root_of[t] = -1 if t in self._root_of else i
        roots = {cls: self._root_of[tid] for cls, tid in self._by_class.items() if self._root_of.get(tid, -1) >= 0}
        self._grammar.set_message_encoder(roots, self._encode)
        # the instance's encode and decode are the compiled fast paths; SchemaCodec.encode/decode document them
        self.encode = self._grammar.encode_message  # type: ignore[method-assign]
        self.decode = self._grammar.decode_message  # type: ignore[method-assign]
        self._frag_relaxed: dict[int, tuple[int, ...]] = dict(getattr(module, "FRAGMENT_RELAXED", {}))
        self._frag_attrs: tuple[tuple[str, str, int], ...] = tuple(getattr(module, "FRAGMENT_ATTRIBUTES", ()))
        self._frag_width: int = tables["frag_width"]
        self._doc_width: int = tables["doc_width"]
        self._frag_of: dict[int, int] = {}
        for i, t in enumerate(self._frag_types):
            if t >= 0:
                self._frag_of[t] = -1 if t in self._frag_of else i
        for i, cands in self._frag_relaxed.items():
            for t in cands:
                self._frag_of.setdefault(t, i)

    def _message_roots(self, tables: dict[str, Any], doc_ns: tuple[str, ...]) -> frozenset[int]:
        """The document roots that are messages of this schema.

        DIN and ISO-2: ``V2G_Message``.  ISO 15118-20: the global elements of the schema's namespace
        that carry a ``Header``.  A schema without either (SupportedAppProtocol, xmldsig): the global
        elements of its namespace.
        """
        names, types = tables["doc_names"], tables["doc_types"]
        if "V2G_Message" in names:
            return frozenset(i for i, n in enumerate(names) if n == "V2G_Message" and types[i] >= 0)
        own = [i for i, t in enumerate(types) if t >= 0 and doc_ns[i] == self.namespace]
        with_header = [i for i in own if "Header" in self._types[types[i]].xsd]
        return frozenset(with_header or own)

    # -- EXI ---------------------------------------------------------------------------------
    def root_elements(self) -> tuple[str, ...]:
        """Names of the message roots: the global elements that ``decode`` accepts as a document root."""
        return tuple(n for i, n in enumerate(self._doc_names) if i in self._messages)

    def _root_index(self, message: object, element: str | None, *, messages_only: bool = True) -> int:
        tid = self._by_class.get(type(message))
        if tid is None:
            raise ExiEncodeError(f"{type(message).__name__} is not a message class of {self.namespace}")
        if element is not None:
            i = self._doc_index.get(element, -1)
            if i >= 0 and self._doc_types[i] == tid:
                if messages_only and i not in self._messages:
                    raise ExiEncodeError(f"{element} is not a message of {self.namespace} "
                                         "(encode_fragment encodes the other elements)")
                return i
            raise ExiEncodeError(f"{element} is not a global element of type {type(message).__name__}")
        found = (self._root_of if messages_only else self._root_any).get(tid)
        if found is None:
            raise ExiEncodeError(f"{type(message).__name__} is not a message of {self.namespace} "
                                 "(encode_fragment encodes the other elements)")
        i = found
        if i < 0:
            raise ExiEncodeError(f"several global elements have type {type(message).__name__}: name one")
        return i

    def encode(self, message: object, element: str | None = None) -> bytes:
        """Encode ``message`` (an instance of a root element's class) as an EXI document.

        ``element`` names the root element when several global elements share the message's type.
        """
        return self._encode(message, element)

    def _encode(self, message: object, element: str | None = None) -> bytes:
        return bytes(self._grammar.encode(self._root_index(message, element), message))

    def decode(self, data: bytes) -> Any:
        """Decode an EXI document to its message object."""
        if type(data) is not bytes:
            if not isinstance(data, (bytes, bytearray, memoryview)):
                raise TypeError("decode() takes bytes")
            data = bytes(data)
        return self._grammar.decode(data)

    def decode_with_name(self, data: bytes) -> tuple[str, Any]:
        """Decode, and also return the root element's name."""
        obj = self.decode(data)
        code = self._rt.BitReader(bytes(data), 8).read_bits(self._doc_width)
        return self._doc_names[code], obj

    def encode_fragment(self, element: object, name: str | None = None) -> bytes:
        """Encode one element as an EXI fragment of this schema (what is hashed for signatures)."""
        tid = self._by_class.get(type(element))
        if tid is None:
            raise ExiEncodeError(f"{type(element).__name__} is not a class of {self.namespace}")
        if name is not None:
            matches = [i for i, n in enumerate(self._frag_names)
                       if n == name and (self._frag_types[i] == tid or tid in self._frag_relaxed.get(i, ()))]
            if not matches:
                raise ExiEncodeError(f"{name} is not an element of type {type(element).__name__}")
            index = matches[0]
        else:
            index = self._frag_of.get(tid, -2)
            if index == -2:
                raise ExiEncodeError(f"no element of type {type(element).__name__} in the fragment grammar")
            if index < 0:
                raise ExiEncodeError(f"several elements have type {type(element).__name__}: name one")
        if index in self._frag_relaxed:
            return self._encode_relaxed(index, tid, element)
        return bytes(self._grammar.encode_fragment([(index, element)]))

    def decode_fragment(self, data: bytes) -> list[tuple[str, Any]]:
        """Decode an EXI fragment: ``[(element name, object), ...]``."""
        if not self._frag_relaxed:
            return list(self._grammar.decode_fragment(bytes(data)))
        return self._decode_fragment_relaxed(bytes(data))

    # -- the relaxed element fragment grammar (EXI 8.5.3) ----------------------------------------
    # ElementFragment_0: AT(A_0..A_n-1) AT(*) SE(F_0..F_m-1) SE(*) EE CH[untyped], then the escape
    # ElementFragment_2: SE(F_0..F_m-1) SE(*) EE CH[untyped], then the escape
    # (strict = false adds second-level productions to both, hence the escape in the widths).
    # Only signature digests use it (ISO-2 eMAID); it runs on the grammar's public element-level API.
    def _relaxed_widths(self) -> tuple[int, int, int, int]:
        n, m = len(self._frag_attrs), len(self._frag_names)
        return n, m, _bits_for(n + m + 5), _bits_for(m + 4)

    def _encode_relaxed(self, index: int, tid: int, element: object) -> bytes:
        w = self._rt.BitWriter()
        w.write_bits(0x80, 8)
        w.write_bits(index, self._frag_width)
        try:
            self._relaxed_content(w, tid, element)
        except ExiEncodeError as exc:
            raise ExiEncodeError(exc.reason, path=f"{self._frag_names[index]}.{exc.path}" if exc.path else
                                 self._frag_names[index]) from None
        w.write_bits(len(self._frag_names) + 1, self._frag_width)
        return bytes(w.getvalue())

    def _relaxed_content(self, w: Any, tid: int, obj: object) -> None:
        n, m, w0, w2 = self._relaxed_widths()
        g = self._grammar
        tv = self._types[tid]
        first = True  # in ElementFragment_0
        text: str | None = None
        attr_index = {(ns, local): (i, dt) for i, (ns, local, dt) in enumerate(self._frag_attrs)}
        frag_index = {(ns, local): i for i, (ns, local) in enumerate(zip(self._frag_ns, self._frag_names,
                                                                         strict=True))}
        if tv.kind == _T_SIMPLE:
            text = self._lexical(tv.dt, obj)
        else:
            for i, pyname in enumerate(tv.names):
                v = getattr(obj, pyname)
                if v is None:
                    continue
                kind = tv.kinds[i]
                if kind == "attribute":
                    ai, dt = attr_index[(tv.ns[i], tv.xsd[i])]
                    w.write_bits(ai, w0)
                    if dt >= 0:
                        g.write_value(w, dt, v)
                    else:
                        lexical = self._lexical(tv.dts[i], v)
                        w.write_uint(len(lexical) + 2)
                        w.write_string_chars(lexical)
                elif kind == "value":
                    text = self._lexical(tv.dts[i], v)
                else:
                    for item in (v if tv.islist[i] else [v]):
                        j = frag_index[(tv.ns[i], tv.xsd[i])]
                        w.write_bits(n + 1 + j if first else j, w0 if first else w2)
                        first = False
                        child = self._frag_types[j]
                        if child >= 0:
                            g.encode_content(w, child, item)
                        else:
                            self._relaxed_content(w, tv.children[i], item)
        if text:
            w.write_bits(n + m + 3 if first else m + 2, w0 if first else w2)
            w.write_uint(len(text) + 2)
            w.write_string_chars(text)
            first = False
        w.write_bits(n + m + 2 if first else m + 1, w0 if first else w2)

    def _decode_fragment_relaxed(self, data: bytes) -> list[tuple[str, Any]]:
        if not data or data[0] != 0x80:
            raise ExiDecodeError("EXI header must be 0x80", bit_offset=0)
        r = self._rt.BitReader(data, 8)
        g = self._grammar
        out: list[tuple[str, Any]] = []
        nf = len(self._frag_names)
        while True:
            code = r.read_bits(self._frag_width)
            if code == nf + 1:
                if r.bits_left >= 8:
                    raise ExiDecodeError(f"{r.bits_left // 8} byte(s) left after the end of the fragment",
                                         bit_offset=r.bit_offset)
                return out
            if code >= nf:
                raise ExiDecodeError(f"fragment event code {code} is not supported", bit_offset=r.bit_offset)
            name = self._frag_names[code]
            try:
                if code in self._frag_relaxed:
                    out.append((name, self._decode_relaxed(r, code)))
                elif self._frag_types[code] >= 0:
                    out.append((name, g.decode_content(r, self._frag_types[code])))
                else:
                    raise ExiDecodeError(f"fragment element {name} is not supported", bit_offset=r.bit_offset)
            except ExiDecodeError as exc:
                exc.path = name if not exc.path else f"{name}.{exc.path}"
                raise
            if len(out) > 64:
                raise ExiDecodeError("too many elements in a fragment", bit_offset=r.bit_offset)

    def _decode_relaxed(self, r: Any, index: int) -> Any:
        """Read a relaxed element's attributes and text, then build it as the candidate type they fit."""
        n, m, w0, w2 = self._relaxed_widths()
        g = self._grammar
        attrs: dict[tuple[str, str], Any] = {}
        text = ""
        first = True
        while True:
            code = r.read_bits(w0 if first else w2)
            if first and code < n:
                ns, local, dt = self._frag_attrs[code]
                if dt >= 0:
                    attrs[(ns, local)] = g.read_value(r, dt)
                else:
                    length = r.read_uint()
                    if length < 2 or (length - 2) * 8 > r.bits_left:
                        raise ExiDecodeError("bad untyped attribute value", bit_offset=r.bit_offset)
                    attrs[(ns, local)] = r.read_string_chars(length - 2)
                continue
            ee = n + m + 2 if first else m + 1
            ch = n + m + 3 if first else m + 2
            if code == ee:
                break
            if code == ch:
                length = r.read_uint()
                if length < 2 or (length - 2) * 8 > r.bits_left:
                    raise ExiDecodeError("bad untyped character value", bit_offset=r.bit_offset)
                text += r.read_string_chars(length - 2)
                first = False
                continue
            raise ExiDecodeError("element content in a relaxed fragment element is not supported",
                                 bit_offset=r.bit_offset)
        for tid in self._frag_relaxed[index]:
            tv = self._types[tid]
            try:
                if tv.kind == _T_SIMPLE:
                    if attrs:
                        continue
                    return self._parse_lexical(tv.dt, text, self._frag_names[index])
                kw: dict[str, Any] = {}
                for i, pyname in enumerate(tv.names):
                    if tv.kinds[i] == "attribute" and (tv.ns[i], tv.xsd[i]) in attrs:
                        kw[pyname] = attrs.pop((tv.ns[i], tv.xsd[i]))
                    elif tv.kinds[i] == "value":
                        kw[pyname] = self._parse_lexical(tv.dts[i], text, self._frag_names[index])
                if attrs or any(tv.required[i] and n_ not in kw for i, n_ in enumerate(tv.names)):
                    attrs.update({(tv.ns[i], tv.xsd[i]): kw[p] for i, p in enumerate(tv.names)
                                  if tv.kinds[i] == "attribute" and p in kw})
                    continue
                assert tv.cls is not None
                return tv.cls(**kw)
            except ExiEncodeError:
                continue
        raise ExiDecodeError("relaxed fragment element fits none of its declarations", bit_offset=r.bit_offset)

    # -- dict (JSON) form --------------------------------------------------------------------
    def to_dict(self, message: object, element: str | None = None) -> dict[str, Any]:
        """The JSON form of a root message: ``{"V2G_Message": {...}}``."""
        i = self._root_index(message, element, messages_only=False)
        return {self._doc_names[i]: self._obj_to_dict(self._doc_types[i], message)}

    def fragment_to_dict(self, element: object) -> dict[str, Any]:
        """The JSON form of a fragment element's content (without the element name)."""
        tid = self._by_class[type(element)]
        out: dict[str, Any] = self._obj_to_dict(tid, element)
        return out

    def _obj_to_dict(self, tid: int, obj: object) -> Any:
        tv = self._types[tid]
        if tv.kind == _T_SIMPLE:
            return self._value_to_json(tv.dt, obj)
        out: dict[str, Any] = {}
        mixed = "mixed" in tv.kinds
        for i, name in enumerate(tv.names):
            v = getattr(obj, name)
            if v is None:
                continue
            if tv.kinds[i] == "element":
                child = tv.children[i]
                if tv.islist[i]:
                    out[tv.xsd[i]] = [self._obj_to_dict(child, x) for x in v]
                elif mixed:  # EXIficient's JSON form (JAXB's mixed content): every child element is a list
                    out[tv.xsd[i]] = [self._obj_to_dict(child, v)]
                else:
                    out[tv.xsd[i]] = self._obj_to_dict(child, v)
            else:
                dt = tv.dts[i]
                out[tv.xsd[i]] = [self._value_to_json(dt, x) for x in v] if tv.islist[i] else \
                    self._value_to_json(dt, v)
        return out

    def _value_to_json(self, dt: int, v: Any) -> Any:
        kind, primitive = self._dts[dt][0], self._dts[dt][7]
        if kind == _D_BINARY:
            return bytes(v).hex().upper() if primitive == "hexBinary" else base64.b64encode(bytes(v)).decode("ascii")
        if kind == _D_ENUM:
            return str(v.value)
        return v

    def from_dict(self, data: Mapping[str, Any]) -> Any:
        """Build the message object from its JSON form (``{"V2G_Message": {...}}``)."""
        if not isinstance(data, Mapping) or len(data) != 1:
            raise ExiEncodeError("expected a mapping with exactly one root element name as key")
        ((name, body),) = data.items()
        for n, t in zip(self._doc_names, self._doc_types, strict=True):
            if n == name and t >= 0:
                return self._obj_from_dict(t, body, name)
        raise ExiEncodeError(f"{name!r} is not a root element of {self.namespace}")

    def fragment_from_dict(self, data: Mapping[str, Any]) -> Any:
        """Build a fragment element (``{"AuthorizationReq": {...}}``) from its JSON form.

        For an element declared with several types (relaxed fragment grammar), the first type the
        data fits is used: a complex type for an object, a simple type for a plain value."""
        if not isinstance(data, Mapping) or len(data) != 1:
            raise ExiEncodeError("expected a mapping with exactly one element name as key")
        ((name, body),) = data.items()
        for i, (n, t) in enumerate(zip(self._frag_names, self._frag_types, strict=True)):
            if n != name:
                continue
            if t >= 0:
                return self._obj_from_dict(t, body, name)
            for cand in self._frag_relaxed.get(i, ()):
                if (self._types[cand].kind == _T_SIMPLE) == isinstance(body, Mapping):
                    continue
                try:
                    return self._obj_from_dict(cand, body, name)
                except ExiEncodeError:
                    continue
        raise ExiEncodeError(f"{name!r} is not an element of {self.namespace}")

    def _obj_from_dict(self, tid: int, data: Any, path: str) -> Any:
        tv = self._types[tid]
        if tv.kind == _T_SIMPLE:
            return self._value_from_json(tv.dt, data, path)
        if not isinstance(data, Mapping):
            raise ExiEncodeError(f"{path}: expected an object, got {type(data).__name__}")
        index = {x: i for i, x in enumerate(tv.xsd)}
        mixed = "mixed" in tv.kinds
        unknown = [k for k in data if k not in index]
        if unknown:
            raise ExiEncodeError(f"{path}: unknown field(s) {unknown}; expected some of {list(tv.xsd)}")
        kwargs: dict[str, Any] = {}
        for key, v in data.items():
            i = index[key]
            sub = f"{path}.{key}"
            element = tv.kinds[i] == "element"
            ref = tv.children[i] if element else tv.dts[i]
            conv = self._obj_from_dict if element else self._value_from_json
            if tv.islist[i]:
                items = v if isinstance(v, list) else [v]
                kwargs[tv.names[i]] = [conv(ref, x, sub) for x in items]
            elif isinstance(v, list) and mixed:
                # EXIficient writes the children of mixed content as lists, one item each here
                if len(v) != 1:
                    raise ExiEncodeError(f"{sub}: {len(v)} items, the schema allows one")
                kwargs[tv.names[i]] = conv(ref, v[0], sub)
            else:
                kwargs[tv.names[i]] = conv(ref, v, sub)
        missing = [tv.xsd[i] for i, n in enumerate(tv.names) if tv.required[i] and n not in kwargs]
        if missing:
            raise ExiEncodeError(f"{path}: required field(s) missing: {missing}")
        assert tv.cls is not None
        return tv.cls(**kwargs)

    def _value_from_json(self, dt: int, v: Any, path: str) -> Any:
        row = self._dts[dt]
        kind, primitive, members = row[0], row[7], row[6]
        try:
            if kind == _D_BINARY:
                if isinstance(v, (bytes, bytearray)):
                    return bytes(v)
                return bytes.fromhex(v) if primitive == "hexBinary" else base64.b64decode(v, validate=True)
            if kind == _D_ENUM:
                for m in members:
                    if m.value == v:
                        return m
                raise ExiEncodeError(f"{v!r} is not one of {[m.value for m in members]}")
            if kind == _D_BOOL:
                if not isinstance(v, bool):
                    raise ExiEncodeError(f"expected a boolean, got {v!r}")
                return v
            if kind in (_D_UINT, _D_INT, _D_NBIT):
                if isinstance(v, bool) or not isinstance(v, int):
                    raise ExiEncodeError(f"expected an integer, got {v!r}")
                return v
            if not isinstance(v, str):
                raise ExiEncodeError(f"expected a string, got {v!r}")
            return v
        except ExiEncodeError as exc:
            raise ExiEncodeError(f"{path}: {exc}") from None
        except (binascii.Error, ValueError, TypeError) as exc:
            raise ExiEncodeError(f"{path}: {exc}") from None

    # -- XML ---------------------------------------------------------------------------------
    def to_xml(self, message: object, element: str | None = None) -> bytes:
        """The message as XML (valid against the schema when the message is)."""
        require("lxml", "iso15118", feature="XML output")
        from lxml import etree

        i = self._root_index(message, element, messages_only=False)
        root = self._obj_to_xml(etree, self._doc_types[i], message, self._doc_ns[i], self._doc_names[i], None)
        return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))

    def _obj_to_xml(self, etree: Any, tid: int, obj: Any, ns: str, name: str, parent: Any) -> Any:
        tag = f"{{{ns}}}{name}" if ns else name
        el = etree.Element(tag) if parent is None else etree.SubElement(parent, tag)
        tv = self._types[tid]
        if tv.kind == _T_SIMPLE:
            el.text = self._lexical(tv.dt, obj)
            return el
        for i, pyname in enumerate(tv.names):
            v = getattr(obj, pyname)
            if v is None:
                continue
            kind = tv.kinds[i]
            if kind == "attribute":
                el.set(f"{{{tv.ns[i]}}}{tv.xsd[i]}" if tv.ns[i] else tv.xsd[i], self._lexical(tv.dts[i], v))
            elif kind == "value":
                el.text = self._lexical(tv.dts[i], v)
            elif kind == "mixed":
                el.text = "".join(v)
            else:
                for item in (v if tv.islist[i] else [v]):
                    self._obj_to_xml(etree, tv.children[i], item, tv.ns[i], tv.xsd[i], el)
        return el

    def _lexical(self, dt: int, v: Any) -> str:
        kind = self._dts[dt][0]
        if kind == _D_BOOL:
            return "true" if v else "false"
        if kind == _D_BINARY or kind == _D_ENUM:
            return str(self._value_to_json(dt, v))
        return str(v)

    def from_xml(self, xml: bytes | str | Any) -> Any:
        """Parse XML (text, bytes or an lxml element) into the message object."""
        require("lxml", "iso15118", feature="XML input")
        from lxml import etree

        if isinstance(xml, (bytes, str)):
            el = etree.fromstring(xml.encode() if isinstance(xml, str) else xml)
        else:
            el = xml
        q = etree.QName(el)
        for n, ns, t in zip(self._doc_names, self._doc_ns, self._doc_types, strict=True):
            if n == q.localname and ns == (q.namespace or "") and t >= 0:
                return self._obj_from_xml(etree, t, el, n)
        raise ExiEncodeError(f"{el.tag} is not a root element of {self.namespace}")

    def _obj_from_xml(self, etree: Any, tid: int, el: Any, path: str) -> Any:
        tv = self._types[tid]
        if tv.kind == _T_SIMPLE:
            return self._parse_lexical(tv.dt, el.text or "", path)
        kwargs: dict[str, Any] = {}
        by_qname = {(tv.ns[i], tv.xsd[i]): i for i in range(len(tv.names)) if tv.kinds[i] == "element"}
        for key, text in el.attrib.items():
            q = etree.QName(key)
            i = next((j for j in range(len(tv.names)) if tv.kinds[j] == "attribute" and tv.xsd[j] == q.localname), -1)
            if i < 0:
                raise ExiEncodeError(f"{path}: unexpected attribute {key}")
            kwargs[tv.names[i]] = self._parse_lexical(tv.dts[i], text, f"{path}@{q.localname}")
        for i in range(len(tv.names)):
            if tv.kinds[i] == "value":
                kwargs[tv.names[i]] = self._parse_lexical(tv.dts[i], el.text or "", path)
            elif tv.kinds[i] == "mixed" and el.text:
                kwargs[tv.names[i]] = [el.text]
        for child in el:
            if not isinstance(child.tag, str):
                continue
            q = etree.QName(child)
            i = by_qname.get((q.namespace or "", q.localname), -1)
            if i < 0:
                raise ExiEncodeError(f"{path}: unexpected element {child.tag}")
            v = self._obj_from_xml(etree, tv.children[i], child, f"{path}.{q.localname}")
            if tv.islist[i]:
                kwargs.setdefault(tv.names[i], []).append(v)
            else:
                kwargs[tv.names[i]] = v
        missing = [tv.xsd[i] for i, n in enumerate(tv.names) if tv.required[i] and n not in kwargs]
        if missing:
            raise ExiEncodeError(f"{path}: required field(s) missing: {missing}")
        assert tv.cls is not None
        return tv.cls(**kwargs)

    def _parse_lexical(self, dt: int, text: str, path: str) -> Any:
        kind = self._dts[dt][0]
        text_s = text.strip() if kind != _D_STRING else text
        if kind == _D_BOOL:
            if text_s not in ("true", "false", "1", "0"):
                raise ExiEncodeError(f"{path}: {text!r} is not a boolean")
            return text_s in ("true", "1")
        if kind in (_D_UINT, _D_INT, _D_NBIT):
            try:
                return int(text_s)
            except ValueError:
                raise ExiEncodeError(f"{path}: {text!r} is not an integer") from None
        return self._value_from_json(dt, text_s, path)


__all__ = ["ExiDecodeError", "ExiEncodeError", "SchemaCodec", "signed_fragment_encoder", "xmldsig_codec"]


_XMLDSIG: list[SchemaCodec] = []


def xmldsig_codec() -> SchemaCodec:
    """The codec of the xmldsig schema (SignedInfo fragments), built on first use."""
    if not _XMLDSIG:
        from evcharge._exi._generated import xmldsig

        _XMLDSIG.append(SchemaCodec(xmldsig, "http://www.w3.org/2000/09/xmldsig#"))
    return _XMLDSIG[0]


def signed_fragment_encoder(codec: SchemaCodec) -> Callable[[object], bytes]:
    """The ``encode_fragment`` of a DIN 70121 / ISO 15118-2 message set.

    The result encodes a signed element as an EXI fragment, the input of its SHA-256 digest: an xmldsig
    ``SignedInfo`` with the xmldsig schema's fragment grammar (what is signed); any other element
    (``AuthorizationReq``, ``SalesTariff``, ``eMAID``, ...) with ``codec``'s fragment grammar (what the
    ``Reference`` digests cover).
    """

    def encode_fragment(element: object) -> bytes:
        if getattr(type(element), "__xsd_type__", None) == "SignedInfoType":
            xmldsig = xmldsig_codec()
            return xmldsig.encode_fragment(xmldsig.fragment_from_dict({"SignedInfo": codec.fragment_to_dict(element)}))
        return codec.encode_fragment(element)

    encode_fragment.__doc__ = signed_fragment_encoder.__doc__
    return encode_fragment
