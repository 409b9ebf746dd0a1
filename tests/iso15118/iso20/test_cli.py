"""``evcharge v2g secc|evcc --protocol iso20``: whole -20 sessions over SDP + TCP on ::1, two processes."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from ..conftest import CMD


def run_pair(lo: list[str], tmp_path: Path, secc_args: list[str], evcc_args: list[str]) -> tuple[int, int, dict, list]:
    secc_json, evcc_json = tmp_path / "secc.json", tmp_path / "evcc.json"
    secc = subprocess.Popen(
        [
            *lo,
            "v2g",
            "secc",
            "--protocols",
            "iso20",
            "--iface",
            "lo",
            "--timeout",
            "60",
            "--json",
            str(secc_json),
            *secc_args,
        ],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert secc.stderr is not None
        line = secc.stderr.readline()
        assert "listening" in line, line
        evcc = subprocess.run(
            [
                *lo,
                "v2g",
                "evcc",
                "--protocol",
                "iso20",
                "--iface",
                "lo",
                "--timeout",
                "60",
                "--json",
                str(evcc_json),
                *evcc_args,
            ],
            capture_output=True,
            text=True,
            timeout=90,
        )
        assert evcc.returncode == 0, evcc.stderr
        secc_rc = secc.wait(timeout=30)
    finally:
        if secc.poll() is None:
            secc.kill()
    return secc_rc, evcc.returncode, json.loads(evcc_json.read_text()), json.loads(secc_json.read_text())


@pytest.mark.parametrize(
    ("energy", "control", "loop"),
    [
        ("dc", "scheduled", "DC_ChargeLoopReq"),
        ("ac-bpt", "dynamic", "AC_ChargeLoopReq"),
    ],  # the other combinations run engine to engine in test_sessions.py (each pair of processes costs ~6 s)
)
def test_whole_iso20_session_between_the_commands(
    lo: list[str], tmp_path: Path, energy: str, control: str, loop: str
) -> None:
    extra = ["--discharge"] if energy.endswith("bpt") else []
    secc_rc, evcc_rc, car, charger = run_pair(
        lo,
        tmp_path,
        ["--energy", energy],
        ["--energy", energy, "--control", control, "--loops", "3", *extra],
    )
    assert (secc_rc, evcc_rc) == (0, 0)
    assert car["normal"] and charger[0]["normal"] and car["protocol"] == "iso20" and car["control"] == control
    v2g = [m for m in car["messages"] if m["layer"] == "v2g"]
    names = [m["name"] for m in v2g]
    assert names[0] == "SessionSetupReq" and names[-1] == "SessionStopRes"
    assert names.count(loop) >= 3
    assert [m["name"] for m in charger[0]["messages"] if m["layer"] == "v2g"] == names
    for side in (car["messages"], charger[0]["messages"]):
        times = [m["time"] for m in side]
        assert times == sorted(times)
    # as in the ISO-2 commands: SDP, then SupportedAppProtocol, then the session
    _check_sdp_and_sap(car, charger[0], "DC" if energy.startswith("dc") else "AC")
    # the control mode and the direction are on the wire
    selection = next(m for m in car["messages"] if m["name"] == "ServiceSelectionReq")
    assert json.dumps(selection["message"]).count(f'"ParameterSetID": {1 if control == "scheduled" else 2}') == 1
    if extra:
        pd = next(m for m in car["messages"] if m["name"] == "PowerDeliveryReq")
        assert "Discharge" in json.dumps(pd["message"])


def _check_sdp_and_sap(car: dict, charger: dict, kind: str) -> None:
    """SDP until the answer, then SupportedAppProtocol with the -20 namespace of ``kind`` (AC or DC) agreed, then
    the session's messages; the charger saw the same SAP messages the other way round."""
    layers = [m["layer"] for m in car["messages"]]
    sdp = layers.count("sdp")
    assert sdp >= 2 and layers[:sdp] == ["sdp"] * sdp and layers[sdp : sdp + 3] == ["sap", "sap", "v2g"]
    car_sdp = [(m["dir"], m["name"]) for m in car["messages"][:sdp]]
    assert car_sdp[-1] == ("recv", "SdpRes") and set(car_sdp[:-1]) == {("send", "SdpReq")}
    sdp_res = car["messages"][sdp - 1]["message"]
    assert sdp_res["port"] > 0 and sdp_res["address"] == "::1"
    charger_sdp = [(m["dir"], m["name"]) for m in charger["messages"] if m["layer"] == "sdp"]
    assert charger_sdp and charger_sdp == [("recv", "SdpReq"), ("send", "SdpRes")] * (len(charger_sdp) // 2)
    req, res = car["messages"][sdp], car["messages"][sdp + 1]
    assert (req["dir"], req["name"], res["dir"], res["name"]) == (
        "send",
        "SupportedAppProtocolReq",
        "recv",
        "SupportedAppProtocolRes",
    )
    offered = req["message"]["supportedAppProtocolReq"]["AppProtocol"]
    assert [p["ProtocolNamespace"] for p in offered] == [f"urn:iso:std:iso:15118:-20:{kind}"]
    agreed = res["message"]["supportedAppProtocolRes"]
    assert agreed["ResponseCode"] == "OK_SuccessfulNegotiation" and agreed["SchemaID"] == offered[0]["SchemaID"]
    charger_sap = [(m["dir"], m["exi"]) for m in charger["messages"] if m["layer"] == "sap"]
    assert charger_sap == [("recv", req["exi"]), ("send", res["exi"])]


def test_wrong_combinations_answer_plainly() -> None:
    for args, text in (
        (["evcc", "--protocol", "iso2", "--energy", "ac-bpt"], "ISO 15118-20 options"),
        (["evcc", "--protocol", "din", "--control", "dynamic"], "ISO 15118-20 options"),
        (["secc", "--protocols", "iso2,iso20", "--tls"], "--tls needs --pki"),
        (["secc", "--protocols", "iso2,iso15"], "din, iso2, iso20"),
    ):
        proc = subprocess.run([*CMD, "v2g", *args], capture_output=True, text=True, timeout=30)
        assert proc.returncode == 2 and text in proc.stderr and "Traceback" not in proc.stderr


def test_plug_and_charge_over_tls13(lo: list[str], tmp_path: Path) -> None:
    """--tls --pki DIR --payment pnc: TLS 1.3 with the -20 PKI (the car presents its OEM provisioning chain),
    CertificateInstallation, a signed AuthorizationReq, over ::1 between the two commands."""
    pytest.importorskip("cryptography")
    pki = tmp_path / "pki"
    subprocess.run([*CMD, "v2g", "pki", "--out", str(pki)], check=True, capture_output=True, timeout=60)
    tls = ["--tls", "--pki", str(pki), "--payment", "pnc"]
    secc_rc, evcc_rc, car, charger = run_pair(
        lo, tmp_path, ["--energy", "dc", *tls], ["--energy", "dc", "--loops", "2", *tls]
    )
    assert (secc_rc, evcc_rc) == (0, 0)
    _check_sdp_and_sap(car, charger[0], "DC")
    names = [m["name"] for m in car["messages"] if m["layer"] == "v2g"]
    assert names[4:8] == [
        "CertificateInstallationReq",
        "CertificateInstallationRes",
        "AuthorizationReq",
        "AuthorizationRes",
    ]
    auth = next(m for m in charger[0]["messages"] if m["name"] == "AuthorizationReq")
    assert "ecdsa-sha512" in json.dumps(auth["message"]) and "PnC_AReqAuthorizationMode" in json.dumps(auth["message"])
    assert charger[0]["normal"]
    from evcharge.iso15118.engines.iso20.pnc import EvccContract, vehicle_certificate_hash

    oem = EvccContract.from_pki(pki).provisioning_chain
    assert charger[0]["vehicle_certificate_sha256"] == vehicle_certificate_hash(tuple(oem)).hex()


def test_pause_and_resume_across_two_connections(lo: list[str], tmp_path: Path) -> None:
    """The -20 charger serves two sessions; the car pauses the first and resumes it with the old SessionID."""
    secc_json = tmp_path / "secc.json"
    secc = subprocess.Popen(
        [
            *lo,
            "v2g",
            "secc",
            "--protocols",
            "iso20",
            "--iface",
            "lo",
            "--sessions",
            "2",
            "--timeout",
            "60",
            "--json",
            str(secc_json),
        ],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert secc.stderr is not None
        assert "listening" in secc.stderr.readline()
        cars: list[dict] = []
        for extra in (["--pause"], None):
            out = tmp_path / f"car{len(cars)}.json"
            if extra is None:
                extra = ["--resume", cars[0]["session_id"]]
            run = subprocess.run(
                [
                    *lo,
                    "v2g",
                    "evcc",
                    "--protocol",
                    "iso20",
                    "--iface",
                    "lo",
                    "--loops",
                    "2",
                    "--json",
                    str(out),
                    *extra,
                ],
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert run.returncode == 0, run.stderr
            cars.append(json.loads(out.read_text()))
        assert secc.wait(timeout=30) == 0
    finally:
        if secc.poll() is None:
            secc.kill()
            secc.wait()
    assert cars[0]["paused"] and cars[0]["session_id"]
    stop = next(m for m in cars[0]["messages"] if m["name"] == "SessionStopReq")
    assert stop["message"]["SessionStopReq"]["ChargingSession"] == "Pause"
    setup = next(m for m in cars[1]["messages"] if m["name"] == "SessionSetupRes")
    assert setup["message"]["SessionSetupRes"]["ResponseCode"] == "OK_OldSessionJoined"
    assert setup["message"]["SessionSetupRes"]["Header"]["SessionID"].lower() == cars[0]["session_id"]
    sessions = json.loads(secc_json.read_text())
    assert [s["normal"] for s in sessions] == [True, True] and sessions[0]["paused"]


SECC_OPTS = ("--timeout", "90", "--iface", "lo", "--json")
EVCC_OPTS = ("--iface", "lo", "--loops", "2", "--timeout", "60", "--json")


def test_one_tls_port_for_iso20_and_iso2_between_the_commands(lo: list[str], tmp_path: Path) -> None:
    """``evcharge v2g secc --tls --protocols iso2,iso20``: one TLS port, a -20 car (TLS 1.3, the -20 PKI) and then an
    ISO-2 car (TLS 1.2, the -2 PKI), each its own process, both served to a normal end."""
    pytest.importorskip("cryptography")
    pki = tmp_path / "pki"
    subprocess.run([*CMD, "v2g", "pki", "--out", str(pki)], check=True, capture_output=True, timeout=60)
    tls = ["--tls", "--pki", str(pki)]
    secc_json = tmp_path / "secc.json"
    secc = subprocess.Popen(
        [*lo, "v2g", "secc", "--protocols", "iso2,iso20", "--sessions", "2", *SECC_OPTS, str(secc_json), *tls],
        stderr=subprocess.PIPE,
        text=True,
    )
    cars = []
    try:
        assert secc.stderr is not None
        assert "listening" in secc.stderr.readline()
        for protocol in ("iso20", "iso2"):
            out = tmp_path / f"{protocol}.json"
            car = subprocess.run(
                [*lo, "v2g", "evcc", "--protocol", protocol, *EVCC_OPTS, str(out), *tls],
                capture_output=True,
                text=True,
                timeout=90,
            )
            assert car.returncode == 0, car.stderr
            cars.append(json.loads(out.read_text()))
        assert secc.wait(timeout=30) == 0
    finally:
        if secc.poll() is None:
            secc.kill()
            secc.wait()
    sessions = json.loads(secc_json.read_text())
    assert [s["protocol"] for s in sessions] == ["iso20", "iso2"]
    assert all(s["normal"] for s in sessions) and all(c["normal"] for c in cars)
    assert sessions[0]["vehicle_certificate_sha256"]  # TLS 1.3 with the car's OEM chain
