"""The EXI conformance data of ``tests/data/conformance/exi`` as typed records (see its PROVENANCE.md).

Two sources:

* ``pcap_corpus.tsv``: 457 V2GTP payloads taken from real captures, each with the JSON that EXIficient (EXICodec.jar)
  decodes it to. Columns: namespace, hex, source capture, JSON.
* ``vectors.md``: 16 hand-picked vectors with their provenance and remarks (edge cases on which peers disagree,
  fragments used for signatures, negative twins). The remarks are kept as text (``note``) and also turned into flags
  (``exificient_decodes``, ``exificient_roundtrips``, ``libcbv2g_decodes``) so that tests can say why an entry is
  special.

Everything is loaded into frozen dataclasses; nothing here talks to a codec.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from tests.conftest import conformance_dir

NS_SAP = "urn:iso:15118:2:2010:AppProtocol"
NS_DIN = "urn:din:70121:2012:MsgDef"
NS_ISO2 = "urn:iso:15118:2:2013:MsgDef"
NS_XMLDSIG = "http://www.w3.org/2000/09/xmldsig#"
NS_ISO20_COMMON = "urn:iso:std:iso:15118:-20:CommonMessages"
NS_ISO20_AC = "urn:iso:std:iso:15118:-20:AC"
NS_ISO20_DC = "urn:iso:std:iso:15118:-20:DC"
NS_ISO20_WPT = "urn:iso:std:iso:15118:-20:WPT"
NS_ISO20_ACDP = "urn:iso:std:iso:15118:-20:ACDP"

#: schema family -> the namespace EXICodec.jar selects the grammar with
FAMILY_NAMESPACE: dict[str, str] = {
    "SAP": NS_SAP,
    "DIN": NS_DIN,
    "ISO2": NS_ISO2,
    "ISO20-Common": NS_ISO20_COMMON,
    "ISO20-AC": NS_ISO20_AC,
    "ISO20-DC": NS_ISO20_DC,
    "ISO20-WPT": NS_ISO20_WPT,
    "ISO20-ACDP": NS_ISO20_ACDP,
}
NAMESPACE_FAMILY: dict[str, str] = {ns: fam for fam, ns in FAMILY_NAMESPACE.items()}

#: the bracketed tags of vectors.md headings -> schema family
_TAG_FAMILY = {
    "SAP": "SAP",
    "DIN": "DIN",
    "ISO-2": "ISO2",
    "ISO-2 fragment": "ISO2",
    "-20 CommonMessages": "ISO20-Common",
    "-20 AC": "ISO20-AC",
    "-20 DC": "ISO20-DC",
    "-20 WPT": "ISO20-WPT",
    "-20 ACDP": "ISO20-ACDP",
}


@dataclass(frozen=True, slots=True)
class ExiVector:
    """One EXI stream with what is known about it.

    ``expected_json`` is the JSON form (Josev / EXICodec.jar: XSD element names, hexBinary in upper-case hex,
    base64Binary in base64, repeated elements as lists) or None when no JSON is given (EXIficient cannot decode it).
    For fragments (``fragment`` true) the JSON is the *encoder input* whose root is the fragment's element; decoding
    such a stream through EXICodec's JSON path only works for the xmldsig namespace.
    """

    family: str
    namespace: str
    hex: str
    expected_json: dict[str, Any] | None
    source: str
    origin: str
    title: str = ""
    note: str = ""
    meaning: str = ""
    fragment: bool = False
    exificient_decodes: bool = True
    exificient_roundtrips: bool = True
    libcbv2g_decodes: bool = True
    rejected_twins: tuple[str, ...] = field(default=())

    @property
    def data(self) -> bytes:
        return bytes.fromhex(self.hex)

    @property
    def root(self) -> str | None:
        """The root element name: the single key of the JSON (``V2G_Message`` for DIN/ISO-2 documents)."""
        if not self.expected_json:
            return None
        return next(iter(self.expected_json))

    @property
    def message_name(self) -> str | None:
        """The message (or fragment) name: the Body child for DIN/ISO-2 documents, else the JSON root."""
        root = self.root
        if root == "V2G_Message" and self.expected_json is not None:
            body = self.expected_json["V2G_Message"].get("Body", {})
            name: str | None = next(iter(body), None)
            return name
        return root

    @property
    def id(self) -> str:
        """A short, stable test id."""
        return f"{self.origin}-{self.family}-{self.message_name or 'raw'}"


def _exi_dir(data_dir: Path | None) -> Path:
    return data_dir if data_dir is not None else conformance_dir()


@cache
def _load_tsv(path: Path) -> tuple[ExiVector, ...]:
    out: list[ExiVector] = []
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            cols = line.split("\t")
            if len(cols) != 4:
                raise ValueError(f"{path.name}:{lineno}: expected 4 tab-separated columns, got {len(cols)}")
            ns, hexstr, source, js = cols
            if ns not in NAMESPACE_FAMILY:
                raise ValueError(f"{path.name}:{lineno}: unknown namespace {ns!r}")
            bytes.fromhex(hexstr)  # validates
            out.append(
                ExiVector(
                    family=NAMESPACE_FAMILY[ns],
                    namespace=ns,
                    hex=hexstr.lower(),
                    expected_json=json.loads(js),
                    source=source,
                    origin=f"tsv{lineno}",
                )
            )
    return tuple(out)


_HEADING = re.compile(r"^## (\d+)\. \[([^\]]+)\] (.*)$")
_FIELD = re.compile(r"^- (source|note|length|hex|decoded):\s*(.*)$")
_ENCODER_INPUT = re.compile(r"^\(encoder input, ns (\S+)\)\s*(\{.*\})\s*$", re.S)
_HEX_RUN = re.compile(r"\b([0-9a-f]{16,})\b")


def _parse_vector(number: int, tag: str, title: str, fields: dict[str, str], blocks: dict[str, str]) -> ExiVector:
    if tag not in _TAG_FAMILY:
        raise ValueError(f"vectors.md #{number}: unknown tag [{tag}]")
    family = _TAG_FAMILY[tag]
    namespace = FAMILY_NAMESPACE[family]
    note = fields.get("note", "")
    hexstr = "".join(blocks.get("hex", "").split()).lower()
    data = bytes.fromhex(hexstr)
    length = fields.get("length", "")
    m = re.match(r"(\d+) bytes", length)
    if not m or int(m.group(1)) != len(data):
        raise ValueError(f"vectors.md #{number}: length {length!r} does not match the hex ({len(data)} bytes)")
    decoded = blocks.get("decoded", "").strip()
    expected: dict[str, Any] | None = None
    meaning = ""
    fragment = "fragment" in tag
    enc_in = _ENCODER_INPUT.match(decoded)
    if enc_in:
        namespace = enc_in.group(1)
        expected = json.loads(enc_in.group(2))
    elif decoded.startswith("{"):
        expected = json.loads(decoded)
    else:
        meaning = decoded
    # The remarks, turned into flags. The prose of vectors.md is the authority; test_peer_corpus checks the flags
    # against the known edge cases so that a change of wording cannot silently drop one.
    exificient_decodes = expected is not None and not re.search(r"EXICodec\.jar fails", note)
    exificient_roundtrips = exificient_decodes and not re.search(r"EXICodec\.jar JSON below adds", note)
    libcbv2g_decodes = not re.search(r"libcbv2g decode FAILS", note)
    twins: tuple[str, ...] = ()
    if "NEGATIVE twin" in note:
        twins = tuple(_HEX_RUN.findall(note.split("NEGATIVE twin", 1)[1]))
    return ExiVector(
        family=family,
        namespace=namespace,
        hex=hexstr,
        expected_json=expected,
        source=fields.get("source", ""),
        origin=f"vec{number}",
        title=title,
        note=note,
        meaning=meaning,
        fragment=fragment,
        exificient_decodes=exificient_decodes,
        exificient_roundtrips=exificient_roundtrips,
        libcbv2g_decodes=libcbv2g_decodes,
        rejected_twins=twins,
    )


@cache
def _load_vectors(path: Path) -> tuple[ExiVector, ...]:
    out: list[ExiVector] = []
    lines = path.read_text(encoding="utf-8").splitlines()
    current: tuple[int, str, str] | None = None
    fields: dict[str, str] = {}
    blocks: dict[str, str] = {}
    pending: str | None = None
    in_block = False
    block: list[str] = []

    def flush() -> None:
        if current is not None:
            out.append(_parse_vector(*current, fields, blocks))

    for line in lines:
        if in_block:
            if line.startswith("```"):
                in_block = False
                if pending is not None:
                    blocks[pending] = "\n".join(block)
                pending = None
            else:
                block.append(line)
            continue
        if line.startswith("## "):
            flush()
            h = _HEADING.match(line)
            current = (int(h.group(1)), h.group(2), h.group(3)) if h else None
            fields, blocks, pending = {}, {}, None
            continue
        if current is None:
            continue
        f = _FIELD.match(line)
        if f:
            fields[f.group(1)] = f.group(2)
            pending = f.group(1)
            continue
        if line.startswith("```"):
            in_block, block = True, []
    flush()
    return tuple(out)


def pcap_corpus(data_dir: Path | None = None) -> tuple[ExiVector, ...]:
    """All rows of ``pcap_corpus.tsv``, in file order."""
    return _load_tsv(_exi_dir(data_dir) / "pcap_corpus.tsv")


def vectors(data_dir: Path | None = None) -> tuple[ExiVector, ...]:
    """All numbered entries of ``vectors.md``, in file order."""
    return _load_vectors(_exi_dir(data_dir) / "vectors.md")


def all_vectors(data_dir: Path | None = None) -> tuple[ExiVector, ...]:
    """vectors.md entries first, then the pcap corpus."""
    return vectors(data_dir) + pcap_corpus(data_dir)


def by_family(*families: str, data_dir: Path | None = None, include_fragments: bool = True) -> tuple[ExiVector, ...]:
    """Entries of the given families (e.g. ``by_family("SAP", "DIN", "ISO2")``)."""
    unknown = set(families) - set(FAMILY_NAMESPACE)
    if unknown:
        raise ValueError(f"unknown families {sorted(unknown)}")
    return tuple(v for v in all_vectors(data_dir) if v.family in families and (include_fragments or not v.fragment))
