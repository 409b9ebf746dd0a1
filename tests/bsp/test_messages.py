"""Yeti protobuf messages: generated classes, wire format, interop with Google's protobuf runtime."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from hypothesis import given
from hypothesis import strategies as st

from evcharge.bsp import codegen
from evcharge.bsp.errors import DecodeError, LocalProtocolError
from evcharge.bsp.yeti import messages as pb
from evcharge.bsp.yeti.wire import Kind, Message

GOLDEN = {
    "b806e807": pb.EverestToMcu(pwm_duty_cycle=1000),
    "b80600": pb.EverestToMcu(pwm_duty_cycle=0),
    "b806904e": pb.EverestToMcu(pwm_duty_cycle=10000),
    "c00601": pb.EverestToMcu(allow_power_on=True),
    "c80601": pb.EverestToMcu(reset=True),
    "d00601": pb.EverestToMcu(set_number_of_phases=True),
    "a2060532036e2f61": pb.EverestToMcu(keep_alive=pb.KeepAlive(sw_version_string="n/a")),
    "8201020801": pb.EverestToMcu(firmware_update=pb.FirmwareUpdate(invoke_rom_bootloader=True)),
}
GOLDEN_MCU = {
    "b00601": pb.McuToEverest(cp_state=pb.CpState.STATE_B),
    "b00600": pb.McuToEverest(cp_state=pb.CpState.STATE_A),
    "b80600": pb.McuToEverest(relais_state=False),
    "a80600": pb.McuToEverest(reset=pb.ResetReason.USER),
}


def test_golden_payloads() -> None:
    for hexed, msg in GOLDEN.items():
        assert msg.encode().hex() == hexed
        assert pb.EverestToMcu.decode(bytes.fromhex(hexed)) == msg
    for hexed, mcu in GOLDEN_MCU.items():
        assert mcu.encode().hex() == hexed
        assert pb.McuToEverest.decode(bytes.fromhex(hexed)) == mcu


def test_oneof_holds_one_member() -> None:
    with pytest.raises(LocalProtocolError, match="oneof"):
        pb.EverestToMcu(reset=True, allow_power_on=True)
    # on the wire, the last member wins (protobuf semantics)
    both = pb.EverestToMcu(reset=True).encode() + pb.EverestToMcu(allow_power_on=False).encode()
    assert pb.EverestToMcu.decode(both) == pb.EverestToMcu(allow_power_on=False)


def test_encode_misuse_is_local_error() -> None:
    with pytest.raises(LocalProtocolError):
        pb.EverestToMcu(pwm_duty_cycle=-1).encode()
    with pytest.raises(LocalProtocolError):
        pb.EverestToMcu(pwm_duty_cycle=2**32).encode()
    with pytest.raises(LocalProtocolError, match="limit is 50"):
        pb.KeepAlive(sw_version_string="x" * 51).encode()
    with pytest.raises(LocalProtocolError):
        pb.PowerMeter(vrmsL1=1e300).encode()


@pytest.mark.parametrize(
    ("hexed", "why"),
    [
        ("b006", "truncated varint"),
        ("b00609", "not a CpState"),
        ("bd0600000000", "wire type 5 does not fit"),
        ("9a06", "truncated"),
        ("9a06050801", "runs past"),
        ("ffffffffffffffffffff01", "longer than 10"),
        ("00", "field number 0"),
        ("1a0332ff", "runs past"),
        ("1a033201ff", "UTF-8"),
        ("0b", "wire type 3"),
    ],
)
def test_decode_errors(hexed: str, why: str) -> None:
    with pytest.raises(DecodeError, match=why):
        pb.McuToEverest.decode(bytes.fromhex(hexed))


def test_unknown_fields_are_skipped() -> None:
    extra = bytes.fromhex("f8ff0301") + bytes.fromhex("8dff030000803f") + bytes.fromhex("b00602")
    assert pb.McuToEverest.decode(extra) == pb.McuToEverest(cp_state=pb.CpState.STATE_C)


# ---------------------------------------------------------------- interop with Google's runtime
def _google_classes(proto_text: str) -> dict[str, Any]:
    """Build a descriptor from a .proto (via our parser) and let Google's runtime make message classes."""
    messages, enums = codegen.parse(proto_text)
    fdp = descriptor_pb2.FileDescriptorProto(name="yeti_ref.proto", package="yetiref", syntax="proto3")
    scalar = {
        "uint32": descriptor_pb2.FieldDescriptorProto.TYPE_UINT32,
        "bool": descriptor_pb2.FieldDescriptorProto.TYPE_BOOL,
        "float": descriptor_pb2.FieldDescriptorProto.TYPE_FLOAT,
        "string": descriptor_pb2.FieldDescriptorProto.TYPE_STRING,
    }
    enum_names = {e.name for e in enums}
    for e in enums:
        ed = fdp.enum_type.add(name=e.name)
        for name, value in e.values:
            ed.value.add(name=f"{e.name}_{name}", number=value)
    for m in messages:
        md = fdp.message_type.add(name=m.name)
        for o in m.oneofs:
            md.oneof_decl.add(name=o)
        for f in m.fields:
            fd = md.field.add(name=f.name, number=f.number, label=descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL)
            if f.type in scalar:
                fd.type = scalar[f.type]
            elif f.type in enum_names:
                fd.type = descriptor_pb2.FieldDescriptorProto.TYPE_ENUM
                fd.type_name = f".yetiref.{f.type}"
            else:
                fd.type = descriptor_pb2.FieldDescriptorProto.TYPE_MESSAGE
                fd.type_name = f".yetiref.{f.type}"
            if f.oneof is not None:
                fd.oneof_index = m.oneofs.index(f.oneof)
    pool = descriptor_pool.DescriptorPool()
    fd_desc = pool.Add(fdp)
    del fd_desc
    return {m.name: message_factory.GetMessageClass(pool.FindMessageTypeByName(f"yetiref.{m.name}")) for m in messages}


@pytest.fixture(scope="module")
def google(test_data: Path) -> dict[str, Any]:
    # the reference .proto from the firmware, not ours: proves our field numbers and types are the same
    return _google_classes((test_data / "yeti" / "yeti.proto").read_text())


def test_our_proto_matches_the_reference(test_data: Path) -> None:
    ours = codegen.parse(codegen.PROTO.read_text())
    ref = codegen.parse((test_data / "yeti" / "yeti.proto").read_text())
    shape = lambda parsed: (  # noqa: E731
        {m.name: [(f.name, f.type, f.number, f.oneof) for f in m.fields] for m in parsed[0]},
        {e.name: e.values for e in parsed[1]},
    )
    assert shape(ours) == shape(ref)


def _value(kind: Kind, typ: Any) -> st.SearchStrategy[Any]:
    if kind is Kind.UINT32:
        return st.integers(0, 2**32 - 1)
    if kind is Kind.BOOL:
        return st.booleans()
    if kind is Kind.FLOAT:
        return st.floats(width=32, allow_nan=False)
    if kind is Kind.STRING:
        return st.text(max_size=12).filter(lambda s: len(s.encode()) <= 50)
    if kind is Kind.ENUM:
        return st.sampled_from(list(typ))
    return _message(typ)


def _message(cls: type[Message]) -> st.SearchStrategy[Any]:
    plain = {f.name: _value(f.kind, f.type) for f in cls.FIELDS if f.oneof is None}
    oneof_members = [f for f in cls.FIELDS if f.oneof is not None]
    if not oneof_members:
        return st.builds(cls, **plain)
    return st.one_of(*[st.builds(cls, **plain, **{f.name: _value(f.kind, f.type)}) for f in oneof_members])


def _assert_same(ours: Message, theirs: Any) -> None:
    for spec in ours.FIELDS:
        value = getattr(ours, spec.name)
        if spec.oneof is not None:
            present = theirs.WhichOneof(spec.oneof) == spec.name
            assert present == (value is not None), spec.name
            if value is None:
                continue
        other = getattr(theirs, spec.name)
        if spec.kind is Kind.MESSAGE:
            _assert_same(value, other)
        elif spec.kind is Kind.FLOAT:
            assert value == other or (math.isnan(value) and math.isnan(other)), spec.name
        elif spec.kind is Kind.ENUM:
            assert int(value) == other
        else:
            assert value == other, spec.name


@pytest.mark.interop
@pytest.mark.property
@given(st.one_of(_message(pb.McuToEverest), _message(pb.EverestToMcu)))
def test_google_protobuf_reads_our_bytes_and_we_read_theirs(google: dict[str, Any], msg: Message) -> None:
    theirs = google[type(msg).__name__]()
    theirs.ParseFromString(msg.encode())
    _assert_same(msg, theirs)
    # and back: Google's serialisation decodes to the same message
    assert type(msg).decode(theirs.SerializeToString()) == msg


def test_codegen_check_is_clean_and_detects_changes() -> None:
    assert codegen.main(["--check"]) == 0
    text = codegen.PROTO.read_text()
    assert codegen.generate(text) == codegen.OUTPUT.read_text()
    changed = text.replace("bool allow_power_on = 104;", "bool allow_power_on = 114;")
    assert changed != text
    assert codegen.generate(changed) != codegen.OUTPUT.read_text()
    first = codegen.OUTPUT.read_text().splitlines()[0]
    assert first.startswith("# @generated by evcharge.bsp.codegen from evcharge/bsp/yeti/yeti.proto sha256=")
    assert first.endswith("-- DO NOT EDIT")


def test_codegen_rejects_unsupported_syntax() -> None:
    with pytest.raises(codegen.ProtoSyntaxError, match="repeated"):
        codegen.parse('syntax = "proto3"; message M { repeated uint32 x = 1; }')
    with pytest.raises(codegen.ProtoSyntaxError, match="unknown type"):
        codegen.parse('syntax = "proto3"; message M { sint64 x = 1; }')
