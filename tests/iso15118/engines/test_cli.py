"""``evcharge v2g secc`` against ``evcharge v2g evcc``: whole sessions over SDP + TCP on ::1, two processes.

The SDP server listens on UDP 15118 (the port the standard fixes) with SO_REUSEADDR, so two charger processes on
one host's ``lo`` both receive a car's SdpReq and the car may connect to the other one's TCP port: two test runs
at the same time collided.  As root each test runs its pair in a network namespace of its own (``lo`` only).
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from ..conftest import CMD
from .test_josev import link  # noqa: F401  (the veth pair fixture)


def _run_pair(lo: list[str], tmp_path: Path, secc_args: list[str], evcc_args: list[str]
              ) -> tuple[int, int, dict, list]:
    secc_json, evcc_json = tmp_path / "secc.json", tmp_path / "evcc.json"
    secc = subprocess.Popen(
        [*lo, "v2g", "secc", "--iface", "lo", "--timeout", "60", "--json", str(secc_json), *secc_args],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert secc.stderr is not None
        line = secc.stderr.readline()  # "listening on ..." once SDP and TCP are up
        assert "listening" in line, line
        evcc = subprocess.run(
            [*lo, "v2g", "evcc", "--iface", "lo", "--timeout", "60", "--json", str(evcc_json), *evcc_args],
            capture_output=True,
            text=True,
            timeout=90,
        )
        secc_rc = secc.wait(timeout=30)
    finally:
        if secc.poll() is None:
            secc.kill()
    return secc_rc, evcc.returncode, json.loads(evcc_json.read_text()), json.loads(secc_json.read_text())


@pytest.mark.parametrize(
    ("secc_args", "evcc_args", "loop"),
    [
        ([], ["--protocol", "din"], "CurrentDemandReq"),
        (
            ["--energy", "ac"],
            ["--protocol", "iso2", "--energy", "ac", "--loops", "3", "--service-details", "1"],
            "ChargingStatusReq",
        ),
    ],
)
def test_secc_and_evcc_commands(lo: list[str], tmp_path: Path, secc_args: list[str], evcc_args: list[str],
                                loop: str) -> None:
    started = time.monotonic()
    secc_rc, evcc_rc, car, charger = _run_pair(lo, tmp_path, secc_args, evcc_args)
    assert (secc_rc, evcc_rc) == (0, 0)
    assert car["normal"] and charger[0]["normal"]
    # SDP first: the car's requests (a retry after 250 ms on a busy machine) until the answer; on the charger each
    # request received and answered
    car_sdp = [(m["dir"], m["name"]) for m in car["messages"] if m["layer"] == "sdp"]
    assert car_sdp[-1] == ("recv", "SdpRes") and set(car_sdp[:-1]) == {("send", "SdpReq")}
    charger_sdp = [(m["dir"], m["name"]) for m in charger[0]["messages"] if m["layer"] == "sdp"]
    assert charger_sdp and charger_sdp == [("recv", "SdpReq"), ("send", "SdpRes")] * (len(charger_sdp) // 2)
    assert car["messages"][len(car_sdp)]["layer"] == "sap"
    # then the connection: SupportedAppProtocol and the session, the same messages seen from both ends
    car_tcp = [m for m in car["messages"] if m["layer"] != "sdp"]
    charger_tcp = [m for m in charger[0]["messages"] if m["layer"] != "sdp"]
    names = [m["name"] for m in car_tcp]
    assert names[:3] == ["SupportedAppProtocolReq", "SupportedAppProtocolRes", "SessionSetupReq"]
    assert [m["layer"] for m in car_tcp[:3]] == ["sap", "sap", "v2g"]
    assert names[-1] == "SessionStopRes" and loop in names
    assert [m["name"] for m in charger_tcp] == names
    flip = {"send": "recv", "recv": "send"}
    assert [flip[m["dir"]] for m in charger_tcp] == [m["dir"] for m in car_tcp]
    assert [m["dir"] for m in car_tcp[:3]] == ["send", "recv", "send"]
    # every message with its time, in order
    for side in (car["messages"], charger[0]["messages"]):
        times = [m["time"] for m in side]
        assert all(isinstance(t, float) for t in times) and times == sorted(times)
    # each layer's message decoded: what SDP announced and what SAP agreed
    sdp_res = car["messages"][len(car_sdp) - 1]
    assert sdp_res["message"]["port"] > 0 and sdp_res["message"]["address"] == "::1" and sdp_res["data"]
    offered = car_tcp[0]["message"]["supportedAppProtocolReq"]["AppProtocol"]
    want = "urn:din:70121:2012:MsgDef" if "din" in evcc_args else "urn:iso:15118:2:2013:MsgDef"
    assert [p["ProtocolNamespace"] for p in offered] == [want]
    if "--service-details" in evcc_args:  # between ServiceDiscoveryRes and PaymentServiceSelectionReq
        i = names.index("ServiceDiscoveryRes")
        assert names[i + 1 : i + 4] == ["ServiceDetailReq", "ServiceDetailRes", "PaymentServiceSelectionReq"]
    agreed = charger_tcp[1]["message"]["supportedAppProtocolRes"]
    assert agreed["ResponseCode"] == "OK_SuccessfulNegotiation" and agreed["SchemaID"] == offered[0]["SchemaID"]
    assert time.monotonic() - started < 60


def test_not_built_and_wrong_combinations_answer_plainly() -> None:
    for args, text in (
        (["secc", "--protocols", "iso2", "--energy", "dc-bpt"], "ISO 15118-20 options"),
        (["evcc", "--payment", "pnc"], "only over TLS"),
        (["evcc", "--tls"], "--pki"),
        (["evcc", "--protocol", "din", "--service-details", "2"], "ISO 15118-2 option"),
        (["evcc", "--service-details", "2,x"], "ServiceIDs"),
    ):
        proc = subprocess.run([*CMD, "v2g", *args], capture_output=True, text=True, timeout=30)
        assert proc.returncode == 2 and text in proc.stderr and "Traceback" not in proc.stderr


def test_plug_and_charge_over_tls(lo: list[str], tmp_path: Path) -> None:
    pki = tmp_path / "pki"
    subprocess.run([*CMD, "v2g", "pki", "--out", str(pki)], check=True, capture_output=True, timeout=60)
    tls = ["--tls", "--pki", str(pki), "--payment", "pnc"]
    secc_rc, evcc_rc, car, charger = _run_pair(lo, tmp_path, ["--protocols", "iso2", *tls],
                                               ["--protocol", "iso2", *tls])
    assert (secc_rc, evcc_rc) == (0, 0)
    names = [m["name"] for m in car["messages"]]
    sdp_res = next(m for m in car["messages"] if m["name"] == "SdpRes")
    assert sdp_res["message"]["security"] == 0  # SDP: secured with TLS (0x00)
    assert [n for n in names if n != "SdpReq"][:3] == ["SdpRes", "SupportedAppProtocolReq", "SupportedAppProtocolRes"]
    i = names.index("PaymentServiceSelectionRes") + 1
    assert names[i : i + 6] == [
        "CertificateInstallationReq",
        "CertificateInstallationRes",
        "PaymentDetailsReq",
        "PaymentDetailsRes",
        "AuthorizationReq",
        "AuthorizationRes",
    ]
    assert charger[0]["normal"]


@pytest.mark.netns
def test_secc_and_evcc_commands_on_a_veth_pair(link: dict[str, str], tmp_path: Path) -> None:  # noqa: F811
    """Both commands in their own network namespace, SDP on ff02::1 and TCP over IPv6 link-local addresses."""
    secc_json, evcc_json = tmp_path / "secc.json", tmp_path / "evcc.json"
    secc = subprocess.Popen(
        [
            "ip",
            "netns",
            "exec",
            link["secc"],
            *CMD,
            "v2g",
            "secc",
            "--iface",
            "eth0",
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
        line = secc.stderr.readline()
        assert "listening on [fe80::" in line and "%eth0]" in line, line
        evcc = subprocess.run(
            [
                "ip",
                "netns",
                "exec",
                link["evcc"],
                *CMD,
                "v2g",
                "evcc",
                "--iface",
                "eth0",
                "--protocol",
                "iso2",
                "--json",
                str(evcc_json),
            ],
            capture_output=True,
            text=True,
            timeout=90,
        )
        assert secc.wait(timeout=30) == 0 and evcc.returncode == 0, evcc.stderr
    finally:
        if secc.poll() is None:
            secc.kill()
            secc.wait()
    car = json.loads(evcc_json.read_text())
    assert car["normal"] and car["messages"][-1]["name"] == "SessionStopRes"
    assert json.loads(secc_json.read_text())[0]["normal"]


def test_pause_and_resume_across_two_connections(lo: list[str], tmp_path: Path) -> None:
    """The charger serves two sessions; the car pauses the first and resumes it with the old SessionID."""
    secc_json = tmp_path / "secc.json"
    secc = subprocess.Popen(
        [*lo, "v2g", "secc", "--iface", "lo", "--sessions", "2", "--timeout", "60", "--json", str(secc_json)],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert secc.stderr is not None
        assert "listening" in secc.stderr.readline()
        cars = []
        for extra in (["--pause"], None):
            out = tmp_path / f"car{len(cars)}.json"
            if extra is None:
                extra = ["--resume", cars[0]["session_id"]]
            run = subprocess.run(
                [*lo, "v2g", "evcc", "--iface", "lo", "--loops", "2", "--json", str(out), *extra],
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
    setup = next(m for m in cars[1]["messages"] if m["name"] == "SessionSetupRes")
    assert setup["message"]["V2G_Message"]["Body"]["SessionSetupRes"]["ResponseCode"] == "OK_OldSessionJoined"
    assert setup["message"]["V2G_Message"]["Header"]["SessionID"].lower() == cars[0]["session_id"]
    assert [s["normal"] for s in json.loads(secc_json.read_text())] == [True, True]


def test_one_port_for_din_iso2_and_iso20(lo: list[str], tmp_path: Path) -> None:
    """One charger process offers DIN 70121, ISO 15118-2 and ISO 15118-20 on one port; three cars, each offering
    one protocol in SupportedAppProtocolReq, are each served by the engine of the protocol SAP chose."""
    secc_json = tmp_path / "secc.json"
    secc = subprocess.Popen(
        [
            *lo,
            "v2g",
            "secc",
            "--iface",
            "lo",
            "--protocols",
            "din,iso2,iso20",
            "--sessions",
            "3",
            "--timeout",
            "90",
            "--json",
            str(secc_json),
        ],
        stderr=subprocess.PIPE,
        text=True,
    )
    cars = []
    try:
        assert secc.stderr is not None
        assert "listening" in secc.stderr.readline()
        for protocol in ("din", "iso2", "iso20"):
            out = tmp_path / f"{protocol}.json"
            run = subprocess.run(
                [*lo, "v2g", "evcc", "--iface", "lo", "--protocol", protocol, "--loops", "2", "--json", str(out)],
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
    sessions = json.loads(secc_json.read_text())
    namespaces = {
        "din": "urn:din:70121:2012:MsgDef",
        "iso2": "urn:iso:15118:2:2013:MsgDef",
        "iso20": "urn:iso:std:iso:15118:-20:DC",  # --energy dc: the -20 DC namespace
    }
    loop = {"din": "CurrentDemandReq", "iso2": "CurrentDemandReq", "iso20": "DC_ChargeLoopReq"}
    assert [s["protocol"] for s in sessions] == ["din", "iso2", "iso20"]
    for car, session in zip(cars, sessions, strict=True):
        protocol = car["protocol"]
        assert car["normal"] and session["normal"], (car["reason"], session["reason"])
        # the charger's SAP exchange: the car's one namespace, accepted
        sap = [m for m in session["messages"] if m["layer"] == "sap"]
        assert [(m["dir"], m["name"]) for m in sap] == [
            ("recv", "SupportedAppProtocolReq"),
            ("send", "SupportedAppProtocolRes"),
        ]
        assert namespaces[protocol] in json.dumps(sap[0]["message"])
        assert "OK_SuccessfulNegotiation" in json.dumps(sap[1]["message"])
        # then that protocol's messages, the same on both sides
        names = [m["name"] for m in session["messages"] if m["layer"] == "v2g"]
        assert names[0] == "SessionSetupReq" and names[-1] == "SessionStopRes" and loop[protocol] in names
        assert [m["name"] for m in car["messages"] if m["layer"] == "v2g"] == names
        exi = {m["exi"] for m in session["messages"] if m["layer"] == "v2g"}
        assert exi == {m["exi"] for m in car["messages"] if m["layer"] == "v2g"}
    # SDP: each car found the charger on the same port
    ports = {json.dumps(next(m for m in c["messages"] if m["name"] == "SdpRes")["message"]) for c in cars}
    assert len(ports) == 1
