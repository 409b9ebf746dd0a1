"""``evcharge exi`` run as a user would, in a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys

SESSION_SETUP_REQ = "809802000000000000000011d01808000000000400"
SESSION_SETUP_JSON = {"V2G_Message": {"Header": {"SessionID": "0000000000000000"},
                                      "Body": {"SessionSetupReq": {"EVCCID": "020000000001"}}}}


def exi(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "evcharge", "exi", *args], input=stdin,
                          capture_output=True, text=True, timeout=60)


def test_decode_prints_the_json_form() -> None:
    out = exi("decode", "iso2", SESSION_SETUP_REQ)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == SESSION_SETUP_JSON


def test_encode_gives_the_reference_bytes() -> None:
    # the bytes the EXIficient harness gives for this message (shared/tools/exificient/README.md)
    out = exi("encode", "iso2", json.dumps(SESSION_SETUP_JSON))
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == SESSION_SETUP_REQ


def test_v2gtp_frame_and_stdin() -> None:
    payload = bytes.fromhex(SESSION_SETUP_REQ)
    frame = bytes([0x01, 0xFE, 0x80, 0x01]) + len(payload).to_bytes(4, "big") + payload
    out = exi("decode", "iso2", "--v2gtp", "-", stdin=frame.hex())
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == SESSION_SETUP_JSON
    bad = exi("decode", "iso2", "--v2gtp", frame[:-1].hex())
    assert bad.returncode == 2 and "length" in bad.stderr


def test_xml_round_trip_through_the_command() -> None:
    xml = exi("decode", "iso2", "--xml", SESSION_SETUP_REQ)
    assert xml.returncode == 0 and "SessionSetupReq" in xml.stdout
    again = exi("encode", "iso2", "--xml", "-", stdin=xml.stdout)
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip() == SESSION_SETUP_REQ


def test_bad_input_is_a_clear_error() -> None:
    out = exi("decode", "iso2", "8098ff")
    assert out.returncode == 1 and "bit offset" in out.stderr
    out = exi("decode", "din", "zz")
    assert out.returncode == 2 and "hexadecimal" in out.stderr
    out = exi("encode", "iso2", '{"V2G_Message": {"Body": {}}}')
    assert out.returncode == 1 and "Header" in out.stderr
