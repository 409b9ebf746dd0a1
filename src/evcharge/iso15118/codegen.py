"""Generator of the eight message-set modules of :mod:`evcharge.iso15118` (``python -m evcharge.iso15118.codegen``).

``app_protocol``, ``din``, ``iso2`` and ``iso20.{common,ac,dc,acdp,wpt}`` are one template filled from the
table :data:`MESSAGE_SETS`: a docstring, the star import of the schema's generated message classes (so
mypy and autodoc see every class by name) and the bindings of the schema's EXI codec.  Each written
file starts with an ``@generated`` line naming this module, then the sha256 of what it was rendered
from (the template and its row of the table).  ``--check`` renders in memory and exits 1 when a file
on disk differs: CI runs it.

Only a development tool: nothing imports it at run time.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["MESSAGE_SETS", "MessageSet", "main", "render", "render_all"]

TOOL = "evcharge.iso15118.codegen"
PACKAGE_DIR = Path(__file__).resolve().parent


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageSet:
    """One row of the table: the module to write and what it binds."""

    module: str  #: dotted name below ``evcharge.iso15118`` (``"iso2"``, ``"iso20.dc"``)
    generated: str  #: the schema's module in ``evcharge._exi._generated``
    title: str  #: the first words of the docstring
    namespace: str  #: the schema's target namespace
    payload_type: int | None = None  #: the V2GTP payload type (ISO 15118-20 only: it selects the schema)
    fragments: str | None = None  #: ``"signed"`` (SignedInfo through the xmldsig grammar), ``"codec"`` or none

    @property
    def path(self) -> Path:
        return PACKAGE_DIR.joinpath(*self.module.split(".")).with_suffix(".py")


MESSAGE_SETS: tuple[MessageSet, ...] = (
    MessageSet(module="app_protocol", generated="app_protocol", title="SupportedAppProtocol handshake messages",
               namespace="urn:iso:15118:2:2010:AppProtocol"),
    MessageSet(module="din", generated="din", title="DIN SPEC 70121 messages",
               namespace="urn:din:70121:2012:MsgDef", fragments="signed"),
    MessageSet(module="iso2", generated="iso2", title="ISO 15118-2 messages",
               namespace="urn:iso:15118:2:2013:MsgDef", fragments="signed"),
    MessageSet(module="iso20.common", generated="iso20_common", title="ISO 15118-20 CommonMessages messages",
               namespace="urn:iso:std:iso:15118:-20:CommonMessages", payload_type=0x8002, fragments="codec"),
    MessageSet(module="iso20.ac", generated="iso20_ac", title="ISO 15118-20 AC messages",
               namespace="urn:iso:std:iso:15118:-20:AC", payload_type=0x8003, fragments="codec"),
    MessageSet(module="iso20.dc", generated="iso20_dc", title="ISO 15118-20 DC messages",
               namespace="urn:iso:std:iso:15118:-20:DC", payload_type=0x8004, fragments="codec"),
    MessageSet(module="iso20.acdp", generated="iso20_acdp", title="ISO 15118-20 ACDP messages",
               namespace="urn:iso:std:iso:15118:-20:ACDP", payload_type=0x8005, fragments="codec"),
    MessageSet(module="iso20.wpt", generated="iso20_wpt", title="ISO 15118-20 WPT messages",
               namespace="urn:iso:std:iso:15118:-20:WPT", payload_type=0x8006, fragments="codec"),
)

# The template.  Placeholders in braces; the optional parts are filled in by render().
TEMPLATE = '''\
{header}
"""{title} ({namespace}).

Typed message classes (frozen, slotted dataclasses generated from the schema; the XSD names are in
each field's ``metadata["xsd"]``) and this schema's EXI codec, with the functions every message set
of :mod:`evcharge.iso15118` has:

- ``encode(message, element=None) -> bytes`` / ``decode(data) -> message``: EXI (the V2GTP payload)
- ``to_dict`` / ``from_dict``: the JSON form used by EXIficient and Josev
- ``to_xml`` / ``from_xml``: XML through lxml, valid against the schema
{fragment_doc}
Errors: :class:`~evcharge._exi.ExiDecodeError` (with the bit offset and element path) for input that
is not a valid stream, :class:`~evcharge._exi.ExiEncodeError` (naming the field) for a message that
breaks its schema.
"""

from __future__ import annotations

from evcharge._exi._generated import {generated} as _generated
from evcharge._exi._generated.{generated} import *  # noqa: F403  (the message classes)
from evcharge._exi.codec import {codec_imports}
from evcharge._exi.errors import ExiDecodeError as ExiDecodeError
from evcharge._exi.errors import ExiEncodeError as ExiEncodeError

NAMESPACE = "{namespace}"
{payload_type}codec = SchemaCodec(_generated, NAMESPACE)

encode = codec.encode
decode = codec.decode
to_dict = codec.to_dict
from_dict = codec.from_dict
to_xml = codec.to_xml
from_xml = codec.from_xml
{fragment_bindings}'''

_FRAGMENT_DOC = """\
- ``encode_fragment(element)`` / ``decode_fragment(data)``: signed elements as EXI fragments, the
  input of their digests
"""
_FRAGMENT_BINDINGS = {
    None: "",
    "codec": "encode_fragment = codec.encode_fragment\ndecode_fragment = codec.decode_fragment\n",
    "signed": "decode_fragment = codec.decode_fragment\n\nencode_fragment = signed_fragment_encoder(codec)\n",
}


def source_digest(spec: MessageSet) -> str:
    """sha256 of what the module is rendered from: the template, the fragment parts and the table row."""
    digest = hashlib.sha256()
    for part in (TEMPLATE, _FRAGMENT_DOC, _FRAGMENT_BINDINGS[spec.fragments], repr(spec)):
        digest.update(part.encode() + b"\0")
    return digest.hexdigest()


def render(spec: MessageSet) -> str:
    """The text of one message-set module."""
    if spec.fragments not in _FRAGMENT_BINDINGS:
        raise ValueError(f"{spec.module}: fragments must be one of {sorted(map(str, _FRAGMENT_BINDINGS))}")
    header = f"# @generated by {TOOL} -- DO NOT EDIT\n# from the message-set template sha256={source_digest(spec)}"
    payload_type = ""
    if spec.payload_type is not None:
        payload_type = (f"#: the V2GTP payload type that carries this schema's messages\n"
                        f"PAYLOAD_TYPE = 0x{spec.payload_type:04x}\n")
    return TEMPLATE.format(
        header=header,
        title=spec.title,
        namespace=spec.namespace,
        fragment_doc=_FRAGMENT_DOC if spec.fragments else "",
        generated=spec.generated,
        codec_imports="SchemaCodec, signed_fragment_encoder" if spec.fragments == "signed" else "SchemaCodec",
        payload_type=payload_type,
        fragment_bindings=_FRAGMENT_BINDINGS[spec.fragments],
    )


def render_all(package_dir: Path = PACKAGE_DIR) -> dict[Path, str]:
    """Every message-set module below ``package_dir``: path -> content."""
    return {package_dir.joinpath(*spec.module.split(".")).with_suffix(".py"): render(spec) for spec in MESSAGE_SETS}


def main(argv: Sequence[str] | None = None, *, package_dir: Path = PACKAGE_DIR) -> int:
    """Write the stale modules (or, with ``--check``, list them and return 1)."""
    parser = argparse.ArgumentParser(prog=f"python -m {TOOL}", description="regenerate the iso15118 message-set "
                                     "modules; --check: exit 1 when a file is stale")
    parser.add_argument("--check", action="store_true", help="render in memory; exit 1 if any file would change")
    args = parser.parse_args(argv)
    stale: list[str] = []
    for path, content in render_all(package_dir).items():
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current == content:
            continue
        rel = path.relative_to(package_dir).as_posix()
        if args.check:
            stale.append(rel)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content, encoding="utf-8")
            print(f"wrote {rel}")
    if stale:
        print(f"generated files are out of date (run python -m {TOOL}): {', '.join(stale)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
