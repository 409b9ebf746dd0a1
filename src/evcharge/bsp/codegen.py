"""Generate the Yeti message classes from ``yeti.proto``.

Usage::

    python -m evcharge.bsp.codegen            # (re)write src/evcharge/bsp/yeti/_generated/yeti_pb.py
    python -m evcharge.bsp.codegen --check    # exit 1 when regenerating would change the file

The parser understands the proto3 subset the Yeti link uses: top-level ``message`` and ``enum`` blocks, singular
scalar/enum/message fields and ``oneof`` groups.  Anything else is rejected with a clear message, so a change to
the ``.proto`` file cannot be silently ignored.  The output is deterministic (no timestamp) and starts with a
``# @generated`` line naming the source and its SHA-256.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
PROTO = PACKAGE_DIR / "yeti" / "yeti.proto"
OUTPUT = PACKAGE_DIR / "yeti" / "_generated" / "yeti_pb.py"
SOURCE_NAME = "evcharge/bsp/yeti/yeti.proto"

SCALARS = {"uint32": "UINT32", "bool": "BOOL", "float": "FLOAT", "string": "STRING"}
PY_TYPES = {"uint32": "int", "bool": "bool", "float": "float", "string": "str"}
PY_DEFAULTS = {"uint32": "0", "bool": "False", "float": "0.0", "string": '""'}


class ProtoSyntaxError(ValueError):
    """The ``.proto`` file uses something this generator does not understand."""


@dataclass
class ProtoField:
    name: str
    type: str
    number: int
    oneof: str | None
    comment: str
    max_length: int | None


@dataclass
class ProtoMessage:
    name: str
    fields: list[ProtoField] = field(default_factory=list)
    oneofs: list[str] = field(default_factory=list)


@dataclass
class ProtoEnum:
    name: str
    values: list[tuple[str, int]] = field(default_factory=list)


_TOKEN = re.compile(r'//[^\n]*|/\*.*?\*/|"[^"]*"|[A-Za-z_][A-Za-z0-9_.]*|\d+|[{}=;]|\S', re.S)


def parse(text: str) -> tuple[list[ProtoMessage], list[ProtoEnum]]:
    """Parse the supported proto3 subset."""
    lines = text.splitlines()
    messages: list[ProtoMessage] = []
    enums: list[ProtoEnum] = []
    tokens: list[tuple[str, int]] = []
    offset_to_line = []
    for lineno, text_line in enumerate(lines, 1):
        offset_to_line.extend([lineno] * (len(text_line) + 1))
    for m in _TOKEN.finditer(text):
        tok = m.group(0)
        where = offset_to_line[m.start()] if m.start() < len(offset_to_line) else len(lines)
        if tok.startswith("/*"):
            continue
        tokens.append((tok, where))

    pos = 0

    def peek() -> str:
        return tokens[pos][0] if pos < len(tokens) else ""

    def take(expected: str | None = None) -> str:
        nonlocal pos
        while pos < len(tokens) and tokens[pos][0].startswith("//"):
            pos += 1
        if pos >= len(tokens):
            raise ProtoSyntaxError(f"unexpected end of file, expected {expected or 'a token'}")
        tok, line = tokens[pos]
        if expected is not None and tok != expected:
            raise ProtoSyntaxError(f"line {line}: expected {expected!r}, got {tok!r}")
        pos += 1
        return tok

    def skip_comments() -> None:
        nonlocal pos
        while pos < len(tokens) and tokens[pos][0].startswith("//"):
            pos += 1

    def trailing_comment(line: int) -> str:
        if pos < len(tokens) and tokens[pos][0].startswith("//") and tokens[pos][1] == line:
            return tokens[pos][0][2:].strip()
        return ""

    def parse_field(msg: ProtoMessage, oneof: str | None) -> None:
        ftype = take()
        if ftype in ("repeated", "optional", "map"):
            raise ProtoSyntaxError(f"message {msg.name}: '{ftype}' fields are not supported")
        name = take()
        take("=")
        number_tok = take()
        if not number_tok.isdigit():
            raise ProtoSyntaxError(f"message {msg.name}: field {name} has no number")
        semicolon_line = tokens[pos][1]
        take(";")
        comment = trailing_comment(semicolon_line)
        match = re.search(r"max_length=(\d+)", comment)
        msg.fields.append(
            ProtoField(name, ftype, int(number_tok), oneof, comment, int(match.group(1)) if match else None)
        )

    skip_comments()
    while pos < len(tokens):
        tok = take()
        if tok == "syntax":
            take("=")
            if take() != '"proto3"':
                raise ProtoSyntaxError("only proto3 is supported")
            take(";")
        elif tok == "message":
            msg = ProtoMessage(take())
            take("{")
            while True:
                skip_comments()
                if peek() == "}":
                    take("}")
                    break
                if peek() == "oneof":
                    take("oneof")
                    oneof = take()
                    msg.oneofs.append(oneof)
                    take("{")
                    while True:
                        skip_comments()
                        if peek() == "}":
                            take("}")
                            break
                        parse_field(msg, oneof)
                elif peek() in ("message", "enum", "reserved", "option", "extensions"):
                    raise ProtoSyntaxError(f"message {msg.name}: '{peek()}' inside a message is not supported")
                else:
                    parse_field(msg, None)
            messages.append(msg)
        elif tok == "enum":
            en = ProtoEnum(take())
            take("{")
            while True:
                skip_comments()
                if peek() == "}":
                    take("}")
                    break
                vname = take()
                take("=")
                value = take()
                take(";")
                en.values.append((vname, int(value)))
            enums.append(en)
        else:
            raise ProtoSyntaxError(f"line {tokens[pos - 1][1]}: unsupported top-level statement {tok!r}")
        skip_comments()
    _validate(messages, enums)
    return messages, enums


def _validate(messages: list[ProtoMessage], enums: list[ProtoEnum]) -> None:
    known = {m.name for m in messages} | {e.name for e in enums} | set(SCALARS)
    for m in messages:
        numbers = [f.number for f in m.fields]
        if len(numbers) != len(set(numbers)):
            raise ProtoSyntaxError(f"message {m.name}: duplicate field number")
        for f in m.fields:
            if f.type not in known:
                raise ProtoSyntaxError(f"message {m.name}: field {f.name} has unknown type {f.type}")
            if not 1 <= f.number <= 536870911:
                raise ProtoSyntaxError(f"message {m.name}: field {f.name} number {f.number} out of range")
    for e in enums:
        if not e.values or e.values[0][1] != 0:
            raise ProtoSyntaxError(f"enum {e.name}: the first value must be 0 in proto3")


def _ordered(messages: list[ProtoMessage]) -> list[ProtoMessage]:
    by_name = {m.name: m for m in messages}
    done: list[ProtoMessage] = []
    seen: set[str] = set()

    def visit(m: ProtoMessage, stack: tuple[str, ...]) -> None:
        if m.name in seen:
            return
        if m.name in stack:
            raise ProtoSyntaxError(f"recursive message {m.name} is not supported")
        for f in m.fields:
            if f.type in by_name:
                visit(by_name[f.type], (*stack, m.name))
        seen.add(m.name)
        done.append(m)

    for m in messages:
        visit(m, ())
    return done


def generate(proto_text: str) -> str:
    """Python source for the message classes described by ``proto_text``."""
    messages, enums = parse(proto_text)
    enum_names = {e.name for e in enums}
    digest = hashlib.sha256(proto_text.encode("utf-8")).hexdigest()
    out = [
        f"# @generated by evcharge.bsp.codegen from {SOURCE_NAME} sha256={digest} -- DO NOT EDIT",
        '"""Yeti link messages (generated from yeti.proto; see :mod:`evcharge.bsp.yeti.messages`)."""',
        "",
        "from __future__ import annotations",
        "",
        "import enum",
        "from dataclasses import dataclass",
        "from typing import ClassVar",
        "",
        "from evcharge.bsp.yeti.wire import FieldSpec, Kind, Message",
        "",
    ]
    for e in enums:
        out += ["", f"class {e.name}(enum.IntEnum):"]
        out += [f"    {name} = {value}" for name, value in e.values]
        out.append("")
    for m in _ordered(messages):
        out += ["", "@dataclass(frozen=True, slots=True, kw_only=True)", f"class {m.name}(Message):"]
        for f in m.fields:
            if f.type in SCALARS:
                pytype, default = PY_TYPES[f.type], PY_DEFAULTS[f.type]
            elif f.type in enum_names:
                pytype, default = f.type, f"{f.type}({0})"
            else:
                pytype, default = f"{f.type} | None", "None"
            if f.oneof is not None:
                if not pytype.endswith("| None"):
                    pytype += " | None"
                default = "None"
            comment = f"  # {f.comment}" if f.comment else ""
            out.append(f"    {f.name}: {pytype} = {default}{comment}")
        out.append("")
        out.append("    FIELDS: ClassVar[tuple[FieldSpec, ...]] = (")
        for f in m.fields:
            if f.type in SCALARS:
                kind, typ = SCALARS[f.type], "None"
            elif f.type in enum_names:
                kind, typ = "ENUM", f.type
            else:
                kind, typ = "MESSAGE", f.type
            oneof = repr(f.oneof)
            out.append(
                f"        FieldSpec({f.name!r}, {f.number}, Kind.{kind}, {typ}, {oneof}, {f.max_length!r}),"
            )
        out.append("    )")
        out.append(f"    ONEOFS: ClassVar[tuple[str, ...]] = {tuple(m.oneofs)!r}")
        out.append("")
    while out[-1] == "":
        out.pop()
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evcharge.bsp.codegen", description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the generated file is out of date")
    args = parser.parse_args(argv)
    source = generate(PROTO.read_text(encoding="utf-8"))
    current = OUTPUT.read_text(encoding="utf-8") if OUTPUT.exists() else None
    if args.check:
        if current != source:
            print(f"{OUTPUT} is out of date: run python -m evcharge.bsp.codegen", file=sys.stderr)
            return 1
        print(f"{OUTPUT.name} is up to date")
        return 0
    if current != source:
        OUTPUT.write_text(source, encoding="utf-8")
        print(f"wrote {OUTPUT}")
    else:
        print(f"{OUTPUT.name} unchanged")
    return 0


if __name__ == "__main__":
    sys.exit(main())
