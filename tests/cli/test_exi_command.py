"""``evcharge exi`` as issue 13 found it wanting: a file is not hex, an odd-length hex is not "not hexadecimal",
JSON errors and wrong JSON types are said in the schema's words, ``--v2gtp`` works both ways, a namespace URN names
its schema, and ``--xml`` is readable (indented, one prefix per namespace, declared once)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .helpers import run_cli

# SessionSetupReq with SessionID 0 and EVCCID 020000000001 (the EXIficient harness's bytes for it; the
# existing tests in tests/iso15118/test_cli.py compare against the same vector)
HEX = "809802000000000000000011d01808000000000400"
DOC = {"V2G_Message": {"Header": {"SessionID": "0000000000000000"},
                       "Body": {"SessionSetupReq": {"EVCCID": "020000000001"}}}}


def test_a_file_of_binary_exi_is_read_as_bytes(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "message.exi"
    path.write_bytes(bytes.fromhex(HEX))
    r = run_cli(capsys, "exi", "decode", "iso2", str(path))
    assert r.status == 0, r.err
    assert json.loads(r.out) == DOC


def test_a_file_of_hex_text_is_read_as_hex(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "message.hex"
    path.write_text(HEX[:20] + "\n" + HEX[20:] + "\n")
    r = run_cli(capsys, "exi", "decode", "iso2", str(path))
    assert r.status == 0, r.err
    assert json.loads(r.out) == DOC


def test_a_missing_file_is_not_called_bad_hex_alone(capsys: pytest.CaptureFixture[str]) -> None:
    r = run_cli(capsys, "exi", "decode", "iso2", "message.exi")
    assert r.status == 2
    assert "nor an existing file: 'message.exi'" in r.one_line()


def test_odd_length_hex_says_a_digit_is_missing(capsys: pytest.CaptureFixture[str]) -> None:
    r = run_cli(capsys, "exi", "decode", "iso2", HEX[:-1])
    assert r.status == 2
    assert f"odd number of hexadecimal digits ({len(HEX) - 1})" in r.one_line()


def test_broken_json_is_said_with_its_place(capsys: pytest.CaptureFixture[str]) -> None:
    r = run_cli(capsys, "exi", "encode", "iso2", '{"V2G_Message": ')
    assert r.status == 2
    assert "not valid JSON" in r.one_line() and "line 1, column" in r.one_line()


def test_a_number_where_the_schema_wants_hex_binary(capsys: pytest.CaptureFixture[str]) -> None:
    doc = json.loads(json.dumps(DOC))
    doc["V2G_Message"]["Body"]["SessionSetupReq"]["EVCCID"] = 12
    r = run_cli(capsys, "exi", "encode", "iso2", json.dumps(doc))
    assert r.status == 1
    line = r.one_line()
    assert "EVCCID" in line and "hexadecimal string (hexBinary), not a JSON number" in line
    assert "fromhex" not in line


def test_encode_v2gtp_adds_the_header(capsys: pytest.CaptureFixture[str]) -> None:
    r = run_cli(capsys, "exi", "encode", "iso2", "--v2gtp", json.dumps(DOC))
    assert r.status == 0, r.err
    frame = bytes.fromhex(r.out.strip())
    payload = bytes.fromhex(HEX)
    # ISO 15118-2 V2GTP header: version 0x01, inverse 0xFE, payload type 0x8001 (EXI encoded V2G message), length
    assert frame[:8] == bytes([0x01, 0xFE, 0x80, 0x01]) + len(payload).to_bytes(4, "big")
    assert frame[8:] == payload
    back = run_cli(capsys, "exi", "decode", "iso2", "--v2gtp", frame.hex())
    assert back.status == 0 and json.loads(back.out) == DOC


def test_encode_v2gtp_uses_the_iso20_payload_type(capsys: pytest.CaptureFixture[str]) -> None:
    # ISO 15118-20 payload types: 0x8002 common messages ... 0x8004 DC; take any DC message through decode first
    from evcharge.iso15118.iso20 import dc

    sample = dc.to_dict(dc.decode(dc.encode(dc.from_dict({"DC_ChargeLoopReq": _dc_charge_loop()}))))
    r = run_cli(capsys, "exi", "encode", "iso20-dc", "--v2gtp", json.dumps(sample))
    assert r.status == 0, r.err
    assert bytes.fromhex(r.out.strip())[2:4] == b"\x80\x04"


def _dc_charge_loop() -> dict[str, object]:
    rational = {"Exponent": 0, "Value": 100}
    return {"Header": {"SessionID": "0102030405060708", "TimeStamp": 1},
            "MeterInfoRequested": False, "EVPresentVoltage": rational,
            "Scheduled_DC_CLReqControlMode": {"EVTargetCurrent": rational, "EVTargetVoltage": rational}}


def test_a_namespace_urn_names_its_schema(capsys: pytest.CaptureFixture[str]) -> None:
    r = run_cli(capsys, "exi", "decode", "urn:iso:15118:2:2013:MsgDef", HEX)
    assert r.status == 0, r.err
    assert json.loads(r.out) == DOC
    r = run_cli(capsys, "exi", "decode", "urn:iso:15118:2:2099:Nothing", HEX)
    assert r.status == 2 and "unknown schema" in r.one_line()


def test_xml_is_indented_with_one_prefix_per_namespace(capsys: pytest.CaptureFixture[str]) -> None:
    r = run_cli(capsys, "exi", "decode", "iso2", "--xml", HEX)
    assert r.status == 0, r.err
    lines = r.out.splitlines()
    assert len(lines) > 5  # indented, not one line
    assert sum(line.count("xmlns:") for line in lines) == 3  # MsgDef, MsgHeader, MsgBody: declared once each
    assert all("xmlns" not in line for line in lines[2:])  # all on the root element
    assert "  <v2g:Header>" in lines and "      <b:EVCCID>020000000001</b:EVCCID>" in lines
    again = run_cli(capsys, "exi", "encode", "iso2", "--xml", r.out)
    assert again.status == 0 and again.out.strip() == HEX
