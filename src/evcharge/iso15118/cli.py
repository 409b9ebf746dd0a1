"""``evcharge exi``: encode and decode V2G EXI messages from the command line.

    evcharge exi decode iso2 809802000000000000000011d01808000000000400     # -> JSON
    evcharge exi encode iso2 '{"V2G_Message": {...}}'                        # -> hex
    evcharge exi decode iso20-dc --xml 8098...                               # -> XML

The schema is one of ``app-protocol``, ``din``, ``iso2``, ``iso20-common``, ``iso20-ac``, ``iso20-dc``,
``iso20-acdp``, ``iso20-wpt``.  A V2GTP frame (8-byte header) may be given instead of the bare payload:
``--v2gtp`` strips and checks the header.  ``-`` reads the input from standard input.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from types import ModuleType

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


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="exi_command", metavar="ACTION", required=True)
    dec = sub.add_parser("decode", help="EXI (hex) -> JSON (or XML)")
    dec.add_argument("schema", choices=sorted(SCHEMAS))
    dec.add_argument("data", help="the EXI payload as hex, or - for standard input")
    dec.add_argument("--xml", action="store_true", help="print XML instead of JSON")
    dec.add_argument("--v2gtp", action="store_true", help="the input is a whole V2GTP frame (8-byte header first)")
    enc = sub.add_parser("encode", help="JSON (or XML) -> EXI (hex)")
    enc.add_argument("schema", choices=sorted(SCHEMAS))
    enc.add_argument("message", help="the message as JSON (or XML with --xml), or - for standard input")
    enc.add_argument("--xml", action="store_true", help="the input is XML")


def _read(arg: str) -> str:
    return sys.stdin.read() if arg == "-" else arg


def run(args: argparse.Namespace) -> int:
    from evcharge._exi import ExiDecodeError, ExiEncodeError

    module: ModuleType = importlib.import_module(SCHEMAS[args.schema])
    try:
        if args.exi_command == "decode":
            text = "".join(_read(args.data).split())
            try:
                data = bytes.fromhex(text)
            except ValueError:
                print("evcharge exi: the input is not hexadecimal", file=sys.stderr)
                return 2
            if args.v2gtp:
                if len(data) < 8 or data[0] != 0x01 or data[1] != 0xFE:
                    print("evcharge exi: not a V2GTP frame (version 0x01, inverse 0xFE)", file=sys.stderr)
                    return 2
                length = int.from_bytes(data[4:8], "big")
                if length != len(data) - 8:
                    print(f"evcharge exi: V2GTP length {length} but {len(data) - 8} payload bytes", file=sys.stderr)
                    return 2
                data = data[8:]
            message = module.decode(data)
            if args.xml:
                sys.stdout.write(module.to_xml(message).decode("utf-8") + "\n")
            else:
                print(json.dumps(module.to_dict(message)))
        else:
            text = _read(args.message)
            message = module.from_xml(text) if args.xml else module.from_dict(json.loads(text))
            print(module.encode(message).hex())
    except (ExiDecodeError, ExiEncodeError, ValueError) as exc:
        print(f"evcharge exi: {exc}", file=sys.stderr)
        return 1
    return 0
