"""``evcharge exi``: encode and decode V2G EXI messages from the command line.

    evcharge exi decode iso2 809802000000000000000011d01808000000000400     # -> JSON
    evcharge exi decode iso2 message.exi                                    # a file: binary EXI or hex text
    evcharge exi encode iso2 '{"V2G_Message": {...}}'                        # -> hex
    evcharge exi encode iso2 --v2gtp '{"V2G_Message": {...}}'                # -> hex of a whole V2GTP frame
    evcharge exi decode iso20-dc --xml 8098...                               # -> XML, indented

The schema is one of ``app-protocol``, ``din``, ``iso2``, ``iso20-common``, ``iso20-ac``, ``iso20-dc``,
``iso20-acdp``, ``iso20-wpt``, or the namespace URN of one (``urn:iso:15118:2:2013:MsgDef``).  A V2GTP frame
(8-byte header) may be given instead of the bare payload: ``--v2gtp`` checks and strips the header on decode and
adds it on encode.  ``-`` reads the input from standard input.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import re
import string
import sys
from types import ModuleType
from typing import Any

from evcharge.cli import EXIT_FAILED, EXIT_USAGE, CommandError

SCHEMAS = {
    "app-protocol": "evcharge.iso15118.app_protocol",
    "din": "evcharge.iso15118.din",
    "iso2": "evcharge.iso15118.iso2",
    "iso20-common": "evcharge.iso15118.iso20.common",
    "iso20-ac": "evcharge.iso15118.iso20.ac",
    "iso20-dc": "evcharge.iso15118.iso20.dc",
    "iso20-acdp": "evcharge.iso15118.iso20.acdp",
    "iso20-wpt": "evcharge.iso15118.iso20.wpt",
}

#: each schema's namespace URN (the ``NAMESPACE`` of its module), accepted in place of the short name
NAMESPACES = {
    "urn:iso:15118:2:2010:AppProtocol": "app-protocol",
    "urn:din:70121:2012:MsgDef": "din",
    "urn:iso:15118:2:2013:MsgDef": "iso2",
    "urn:iso:std:iso:15118:-20:CommonMessages": "iso20-common",
    "urn:iso:std:iso:15118:-20:AC": "iso20-ac",
    "urn:iso:std:iso:15118:-20:DC": "iso20-dc",
    "urn:iso:std:iso:15118:-20:ACDP": "iso20-acdp",
    "urn:iso:std:iso:15118:-20:WPT": "iso20-wpt",
}

#: V2GTP payload types (DIN 70121 / ISO 15118-2 table "V2GTP payload types", ISO 15118-20 table 12)
PAYLOAD_TYPES = {
    "app-protocol": 0x8001, "din": 0x8001, "iso2": 0x8001, "iso20-common": 0x8002, "iso20-ac": 0x8003,
    "iso20-dc": 0x8004, "iso20-acdp": 0x8005, "iso20-wpt": 0x8006,
}

#: the prefix each namespace gets in ``--xml`` output (declared once, on the root element)
PREFIXES = {
    "MsgDef": "v2g", "MsgHeader": "h", "MsgBody": "b", "MsgDataTypes": "t", "AppProtocol": "app",
    "CommonMessages": "cm", "CommonTypes": "ct", "AC": "ac", "DC": "dc", "ACDP": "acdp", "WPT": "wpt",
    "http://www.w3.org/2000/09/xmldsig#": "ds",
}


def _schema(text: str) -> str:
    name = NAMESPACES.get(text.strip(), text.strip())
    if name not in SCHEMAS:
        raise argparse.ArgumentTypeError(
            f"unknown schema {text!r} (give one of {', '.join(SCHEMAS)}, or its namespace URN)")
    return name


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="exi_command", metavar="ACTION", required=True)
    schemas = f"{', '.join(SCHEMAS)}, or a namespace URN such as urn:iso:15118:2:2013:MsgDef"
    dec = sub.add_parser("decode", help="EXI (hex or a file) -> JSON (or XML)")
    dec.add_argument("schema", type=_schema, metavar="SCHEMA", help=schemas)
    dec.add_argument("data", help="the EXI payload as hex, a file (binary EXI or hex text), or - for standard input")
    dec.add_argument("--xml", action="store_true", help="print XML (indented) instead of JSON")
    dec.add_argument("--v2gtp", action="store_true", help="the input is a whole V2GTP frame (8-byte header first)")
    enc = sub.add_parser("encode", help="JSON (or XML) -> EXI (hex)")
    enc.add_argument("schema", type=_schema, metavar="SCHEMA", help=schemas)
    enc.add_argument("message", help="the message as JSON (or XML with --xml), a file holding it, or - for "
                                     "standard input")
    enc.add_argument("--xml", action="store_true", help="the input is XML")
    enc.add_argument("--v2gtp", action="store_true", help="print a whole V2GTP frame (the 8-byte header first)")


_HEX = set(string.hexdigits + string.whitespace)


def _read_bytes(arg: str) -> bytes:
    """The EXI bytes of ``arg``: hex text, ``-`` (standard input), or a file (binary EXI, or hex text)."""
    if arg == "-":
        raw = sys.stdin.buffer.read()
        return _hex_or_binary(raw, "standard input")
    if os.path.isfile(arg):
        with open(arg, "rb") as f:
            raw = f.read()
        return _hex_or_binary(raw, arg)
    text = "".join(arg.split())
    if text.lower().startswith("0x"):
        text = text[2:]
    if not set(text) <= _HEX:
        bad = next(c for c in text if c not in _HEX)
        raise CommandError(f"the input is neither hexadecimal (it has {bad!r}) nor an existing file: {arg!r}")
    return _from_hex(text, "the input")


def _hex_or_binary(raw: bytes, where: str) -> bytes:
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError:
        return raw  # binary EXI
    if text.strip() and set(text) <= _HEX:
        return _from_hex("".join(text.split()), where)
    return raw


def _from_hex(text: str, where: str) -> bytes:
    if not text:
        raise CommandError(f"{where} is empty: give the EXI payload as hex")
    if len(text) % 2:
        raise CommandError(f"{where} has an odd number of hexadecimal digits ({len(text)}): "
                           "each byte is two digits; is one missing?")
    return bytes.fromhex(text)


def _read_text(arg: str) -> str:
    if arg == "-":
        return sys.stdin.read()
    if not arg.lstrip().startswith(("{", "<")) and os.path.isfile(arg):
        with open(arg, encoding="utf-8") as f:
            return f.read()
    return arg


def _strip_v2gtp(data: bytes) -> bytes:
    if len(data) < 8 or data[0] != 0x01 or data[1] != 0xFE:
        raise CommandError("not a V2GTP frame (it must start with version 0x01, inverse 0xFE): drop --v2gtp for a "
                           "bare EXI payload")
    length = int.from_bytes(data[4:8], "big")
    if length != len(data) - 8:
        raise CommandError(f"V2GTP length {length} but {len(data) - 8} payload bytes")
    return data[8:]


def _pretty_xml(data: bytes) -> str:
    """One prefix per namespace, declared on the root element; indented."""
    from evcharge.errors import require

    etree: Any = require("lxml.etree", "iso15118", feature="--xml")
    root = etree.fromstring(data)
    used: dict[str, str] = {}
    for element in root.iter():
        if isinstance(element.tag, str) and element.tag.startswith("{"):
            uri = element.tag[1:].split("}", 1)[0]
            if uri not in used:
                key = uri if uri in PREFIXES else uri.rsplit(":", 1)[-1]
                prefix = PREFIXES.get(key, f"ns{len(used)}")
                if prefix in used.values():
                    prefix = f"{prefix}{len(used)}"
                used[uri] = prefix
    top = {prefix: uri for uri, prefix in used.items()}
    new_root = etree.Element(root.tag, nsmap=top)
    new_root.extend(list(root))
    for key, value in root.attrib.items():
        new_root.set(key, value)
    new_root.text = root.text
    etree.cleanup_namespaces(new_root, top_nsmap=top)
    etree.indent(new_root, space="  ")
    text: str = etree.tostring(new_root, encoding="unicode", pretty_print=True)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + text


_FROMHEX = re.compile(r"fromhex\(\) argument must be str, not (\w+)")


def _fields_message(exc: Exception) -> str:
    """The codec's message, with Python's wording of a wrong JSON type replaced by the schema's."""
    text = str(exc)
    text = _FROMHEX.sub(lambda m: f"expected a hexadecimal string (hexBinary), not a JSON {_json_type(m[1])}", text)
    return text


def _json_type(python: str) -> str:
    return {"int": "number", "float": "number", "bool": "boolean", "NoneType": "null", "list": "array",
            "dict": "object"}.get(python, python)


def run(args: argparse.Namespace) -> int:
    from evcharge._exi import ExiDecodeError, ExiEncodeError

    module: ModuleType = importlib.import_module(SCHEMAS[args.schema])
    if args.xml:
        from evcharge.errors import require

        require("lxml.etree", "iso15118", feature="--xml")
    if args.exi_command == "decode":
        data = _read_bytes(args.data)
        if args.v2gtp:
            data = _strip_v2gtp(data)
        try:
            message = module.decode(data)
        except ExiDecodeError as exc:
            raise CommandError(f"not a valid {args.schema} EXI stream: {exc}", EXIT_FAILED) from None
        if args.xml:
            sys.stdout.write(_pretty_xml(module.to_xml(message)))
        else:
            print(json.dumps(module.to_dict(message)))
        return 0
    text = _read_text(args.message)
    if args.xml:
        try:
            message = module.from_xml(text)
        except ExiEncodeError as exc:
            raise CommandError(f"the message does not fit the {args.schema} schema: {exc}", EXIT_FAILED) from None
        except Exception as exc:  # lxml's XMLSyntaxError and friends: the input is not usable XML
            if type(exc).__module__.startswith("lxml"):
                raise CommandError(f"the message is not well-formed XML: {exc}", EXIT_USAGE) from None
            raise
    else:
        try:
            document = json.loads(text)
        except json.JSONDecodeError as exc:
            raise CommandError(f"the message is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})",
                               EXIT_USAGE) from None
        if not isinstance(document, dict):
            raise CommandError("the message must be a JSON object such as {\"V2G_Message\": {...}}", EXIT_USAGE)
        try:
            message = module.from_dict(document)
        except (ExiEncodeError, ValueError, TypeError, KeyError) as exc:
            raise CommandError(f"the message does not fit the {args.schema} schema: {_fields_message(exc)}",
                               EXIT_FAILED) from None
    try:
        payload = module.encode(message)
    except (ExiEncodeError, ValueError, TypeError) as exc:
        raise CommandError(f"the message does not fit the {args.schema} schema: {_fields_message(exc)}",
                           EXIT_FAILED) from None
    if args.v2gtp:
        from evcharge.iso15118.handover import PayloadType

        header = bytes([0x01, 0xFE]) + int(PayloadType(PAYLOAD_TYPES[args.schema])).to_bytes(2, "big")
        payload = header + len(payload).to_bytes(4, "big") + payload
    print(payload.hex())
    return 0
