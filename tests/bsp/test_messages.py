"""Yeti protobuf messages: protoc's classes, the firmware's reference definition, codegen --check."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message
from google.protobuf.unknown_fields import UnknownFieldSet
from hypothesis import given
from hypothesis import strategies as st

from evcharge.bsp import codegen
from evcharge.bsp.yeti import messages as pb

# Payloads from the firmware's framing (tests/data/yeti/golden_frames.txt, also checked frame by frame in
# test_framing.py): a oneof member is written even at its default value (cp_state A = b0 06 00).
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
    "b00601": pb.McuToEverest(cp_state=pb.STATE_B),
    "b00600": pb.McuToEverest(cp_state=pb.STATE_A),
    "b80600": pb.McuToEverest(relais_state=False),
    "a80600": pb.McuToEverest(reset=pb.USER),
}


def test_golden_payloads() -> None:
    for hexed, msg in GOLDEN.items():
        assert msg.SerializeToString().hex() == hexed
        assert pb.EverestToMcu.FromString(bytes.fromhex(hexed)) == msg
    for hexed, mcu in GOLDEN_MCU.items():
        assert mcu.SerializeToString().hex() == hexed
        assert pb.McuToEverest.FromString(bytes.fromhex(hexed)) == mcu


def test_oneof_holds_one_member() -> None:
    msg = pb.EverestToMcu(reset=True)
    msg.allow_power_on = False  # setting another member clears the first (protobuf semantics)
    assert msg.WhichOneof("payload") == "allow_power_on" and not msg.HasField("reset")
    # on the wire, the last member wins
    both = pb.EverestToMcu(reset=True).SerializeToString() + pb.EverestToMcu(allow_power_on=False).SerializeToString()
    assert pb.EverestToMcu.FromString(both) == pb.EverestToMcu(allow_power_on=False)


@pytest.mark.parametrize(
    "hexed",
    ["b006", "9a06", "9a06050801", "ffffffffffffffffffff01", "00", "1a0332ff", "1a033201ff", "0b", "0c"],
    ids=["truncated varint", "truncated length", "past the end", "11-byte varint", "field 0", "string past end",
         "bad UTF-8", "start group", "end group"],
)  # fmt: skip
def test_malformed_payloads_raise_decode_error(hexed: str) -> None:
    with pytest.raises(pb.DecodeError):
        pb.McuToEverest.FromString(bytes.fromhex(hexed))


def test_unknown_fields_are_kept_aside_and_the_payload_read() -> None:
    # a varint field 8191, a fixed32 field 8177, then cp_state C: what a newer firmware could send
    extra = bytes.fromhex("f8ff0301") + bytes.fromhex("8dff030000803f") + bytes.fromhex("b00602")
    msg = pb.McuToEverest.FromString(extra)
    assert msg.WhichOneof("payload") == "cp_state" and msg.cp_state == pb.STATE_C
    unknown = UnknownFieldSet(msg)
    assert sorted(unknown[i].field_number for i in range(len(unknown))) == [8177, 8191]


# ---------------------------------------------------------------- the firmware's reference definition
def _compile(proto: Path, name: str) -> descriptor_pb2.FileDescriptorProto:
    """protoc (grpcio-tools) compiles a .proto into its descriptor."""
    pytest.importorskip("grpc_tools")
    out = proto.parent / f"{name}.pb"
    subprocess.run(
        [sys.executable, "-m", "grpc_tools.protoc", f"-I{proto.parent}", f"--descriptor_set_out={out}", proto.name],
        check=True,
        capture_output=True,
    )
    fds = descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes())
    return fds.file[0]


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory, test_data: Path) -> dict[str, Any]:
    """Message classes of the firmware's own yeti.proto (tests/data/yeti), in a pool of their own."""
    tmp = tmp_path_factory.mktemp("yeti_ref")
    proto = tmp / "yeti.proto"
    proto.write_text((test_data / "yeti" / "yeti.proto").read_text())
    fdp = _compile(proto, "ref")
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fdp)
    return {m.name: message_factory.GetMessageClass(pool.FindMessageTypeByName(m.name)) for m in fdp.message_type}


def _shape(desc: Descriptor) -> list[tuple[str, int, int, str | None, str]]:
    return [
        (
            f.name,
            f.number,
            f.type,
            f.containing_oneof.name if f.containing_oneof else None,
            f.message_type.name if f.message_type else f.enum_type.name if f.enum_type else "",
        )
        for f in desc.fields
    ]


def test_our_proto_matches_the_firmwares(reference: dict[str, Any]) -> None:
    ours = pb.McuToEverest.DESCRIPTOR.file
    assert set(ours.message_types_by_name) == set(reference)
    for name, cls in reference.items():
        assert _shape(ours.message_types_by_name[name]) == _shape(cls.DESCRIPTOR), name
    theirs = reference["McuToEverest"].DESCRIPTOR.file
    for name, enum in ours.enum_types_by_name.items():
        assert [(v.name, v.number) for v in enum.values] == [
            (v.name, v.number) for v in theirs.enum_types_by_name[name].values
        ], name


def _value(field: FieldDescriptor) -> st.SearchStrategy[Any]:
    if field.type == FieldDescriptor.TYPE_UINT32:
        return st.integers(0, 2**32 - 1)
    if field.type == FieldDescriptor.TYPE_BOOL:
        return st.booleans()
    if field.type == FieldDescriptor.TYPE_FLOAT:
        return st.floats(width=32, allow_nan=False)
    if field.type == FieldDescriptor.TYPE_STRING:
        return st.text(max_size=12).filter(lambda s: len(s.encode()) <= pb.SW_VERSION_MAX_BYTES)
    if field.type == FieldDescriptor.TYPE_ENUM:
        return st.sampled_from([v.number for v in field.enum_type.values])
    return _message(field.message_type._concrete_class)


def _message(cls: type[Message]) -> st.SearchStrategy[Message]:
    fields = cls.DESCRIPTOR.fields
    plain = {f.name: _value(f) for f in fields if f.containing_oneof is None}
    members = [f for f in fields if f.containing_oneof is not None]
    if not members:
        return st.builds(cls, **plain)
    return st.one_of(*[st.builds(cls, **plain, **{f.name: _value(f)}) for f in members])


@pytest.mark.interop
@pytest.mark.property
@given(st.one_of(_message(pb.McuToEverest), _message(pb.EverestToMcu)))
def test_the_firmwares_definition_reads_our_bytes_and_we_read_its(reference: dict[str, Any], msg: Message) -> None:
    data = msg.SerializeToString()
    theirs = reference[type(msg).__name__].FromString(data)
    assert theirs.SerializeToString() == data  # every field known on both sides, in the same order
    assert type(msg).FromString(theirs.SerializeToString()) == msg


# ---------------------------------------------------------------- generated code
def test_generated_files_say_so_with_the_source_hash() -> None:
    text = codegen.PROTO.read_text(encoding="utf-8")
    for path in (codegen.OUTPUT, codegen.STUB):
        first = path.read_text(encoding="utf-8").splitlines()[0]
        digest = codegen.source_digest(text)
        assert first.startswith(f"# @generated by evcharge.bsp.codegen from {codegen.SOURCE_NAME} sha256={digest}")
        assert first.endswith("-- DO NOT EDIT")


def test_codegen_check_is_clean_and_detects_changes() -> None:
    pytest.importorskip("grpc_tools")
    text = codegen.PROTO.read_text(encoding="utf-8")
    assert codegen.check(text) == []
    assert codegen.main(["--check"]) == 0
    changed = text.replace("bool allow_power_on = 104;", "bool allow_power_on = 114;")
    assert changed != text
    assert codegen.check(changed) != []  # the recorded hash is another file's
    fresh = codegen.generate(changed)
    assert codegen.embedded_descriptor(fresh.module) != codegen.embedded_descriptor(codegen.OUTPUT.read_text())


def test_codegen_reports_protoc_errors() -> None:
    pytest.importorskip("grpc_tools")
    with pytest.raises(codegen.CodegenError, match="protoc failed"):
        codegen.generate('syntax = "proto3"; message M { sint64 x = 1; uint32 y = 1; }')


def test_a_vendors_own_yeti_pb2_loads_beside_ours(tmp_path: Path, test_data: Path) -> None:
    """The firmware's yeti.proto, compiled as a vendor would (no package), into the same default pool."""
    pytest.importorskip("grpc_tools")
    import importlib.util

    (tmp_path / "yeti.proto").write_text((test_data / "yeti" / "yeti.proto").read_text())
    subprocess.run(
        [sys.executable, "-m", "grpc_tools.protoc", f"-I{tmp_path}", f"--python_out={tmp_path}", "yeti.proto"],
        check=True,
        capture_output=True,
    )
    spec = importlib.util.spec_from_file_location("vendor_yeti_pb2", tmp_path / "yeti_pb2.py")
    assert spec is not None and spec.loader is not None
    vendor = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(vendor)  # would raise on a duplicate file or symbol in the default pool
    data = vendor.EverestToMcu(pwm_duty_cycle=1000).SerializeToString()
    assert pb.EverestToMcu.FromString(data) == pb.EverestToMcu(pwm_duty_cycle=1000)


def test_codegen_check_with_other_tool_versions_compares_the_descriptor(monkeypatch: pytest.MonkeyPatch) -> None:
    """CI may install a newer protoc: the text then differs, the compiled descriptor must not."""
    pytest.importorskip("grpc_tools")
    text = codegen.PROTO.read_text(encoding="utf-8")
    monkeypatch.setattr(codegen, "tool_versions", lambda: "grpcio-tools 99.0, mypy-protobuf 99.0")
    assert codegen.check(text) == []
    changed = text.replace("float hwcap_min_current = 8;", "float hwcap_min_current = 18;")
    monkeypatch.setattr(codegen, "source_digest", lambda _text: codegen.hashlib.sha256(text.encode()).hexdigest())
    assert codegen.check(changed) == ["yeti_pb2.py's descriptor differs from what protoc compiles now"]
