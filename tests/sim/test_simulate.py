"""`evcharge simulate` end to end, through the command line, at high time scale.

Every test runs the real composition -- the Yeti board simulator with the car on a pty, the Yeti driver over
pyserial, the IEC 61851 charger, the PN532 reader on a second pty, the OCPP station with its offline queue, the
embedded CSMS over a websocket on loopback -- and checks the JSON event log against what IEC 61851-1 and OCPP
say, with its own reading of the log (not the command's own checks).
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

SCALE = "400"  # simulated seconds per real second
DURATION = "5m"


def simulate(tmp_path: Path, *args: str, timeout: float = 150.0) -> tuple[int, dict[str, Any], str]:
    log = tmp_path / "log.json"
    proc = subprocess.run(
        [sys.executable, "-m", "evcharge", "simulate", "--time-scale", SCALE, "--duration", DURATION,
         "--json", str(log), *args],
        capture_output=True, text=True, timeout=timeout,
    )
    doc = json.loads(log.read_text()) if log.exists() else {}
    return proc.returncode, doc, proc.stdout + proc.stderr


def events(doc: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e for e in doc["events"] if e["type"] == kind]


def pilot_states(doc: dict[str, Any]) -> list[str]:
    """The vehicle's states as the board read them, repeats and the charger's own F removed."""
    seq = ["A"]
    for e in events(doc, "cp"):
        if e["state"] != "F" and e["state"] != seq[-1]:
            seq.append(e["state"])
    return seq


def unsafe_relay_intervals(doc: dict[str, Any]) -> list[tuple[float, float]]:
    """Intervals during which the relays were closed while the car was not in C or the pilot showed no PWM."""
    cp, pilot, closed = "A", "X1", False
    bad_from: float | None = None
    intervals = []
    for e in doc["events"]:
        if e["type"] == "cp":
            cp = e["state"]
        elif e["type"] == "pilot":
            pilot = e["output"]
        elif e["type"] == "relays":
            closed = e["closed"]
        else:
            continue
        unsafe = closed and not (cp == "C" and pilot == "X2")
        if unsafe and bad_from is None:
            bad_from = e["t"]
        elif not unsafe and bad_from is not None:
            intervals.append((bad_from, e["t"]))
            bad_from = None
    if bad_from is not None:
        intervals.append((bad_from, float("inf")))
    return intervals


def relay_closures_outside_c2(doc: dict[str, Any]) -> list[dict[str, Any]]:
    cp, pilot, wrong = "A", "X1", []
    for e in doc["events"]:
        if e["type"] == "cp":
            cp = e["state"]
        elif e["type"] == "pilot":
            pilot = e["output"]
        elif e["type"] == "relays" and e["closed"] and not (cp == "C" and pilot == "X2"):
            wrong.append(e)
    return wrong


def meter_energy(doc: dict[str, Any]) -> float:
    (start,), (end,) = events(doc, "transaction_started"), events(doc, "transaction_ended")
    return float(end["meter_wh"]) - float(start["meter_wh"])


def integrated_energy(doc: dict[str, Any]) -> float:
    """Energy from the logged power samples (trapezoids), between the transaction's start and end."""
    t0, t1 = events(doc, "transaction_started")[0]["t"], events(doc, "transaction_ended")[0]["t"]
    samples = [(e["t"], e["power_w"]) for e in events(doc, "meter") if t0 <= e["t"] <= t1]
    return sum((b[0] - a[0]) * (a[1] + b[1]) / 2 for a, b in itertools.pairwise(samples)) / 3600.0


def csms_transaction(doc: dict[str, Any]) -> dict[str, Any]:
    (tx,) = doc["csms"]["transactions"]
    return tx


def connector_statuses(doc: dict[str, Any]) -> list[tuple[str, str | None]]:
    """The StatusNotifications of connector 1 the CSMS received: (status, 1.6 errorCode), in order."""
    return [(m["payload"].get("connectorStatus") or m["payload"]["status"], m["payload"].get("errorCode"))
            for m in doc["csms"]["messages"]
            if m["action"] == "StatusNotification" and m["payload"]["connectorId"] == 1 and not m["duplicate"]]


def assert_session_basics(doc: dict[str, Any], version: str) -> None:
    # contactors closed only while C with PWM; opened at once (within the simulation's step) otherwise
    assert relay_closures_outside_c2(doc) == []
    for start, end in unsafe_relay_intervals(doc):
        assert end - start <= 0.5, f"relays closed outside C2 from t={start} to t={end}"
    # energy delivered, and the CSMS's energy equals the meter's (1.6 sends whole Wh)
    energy = meter_energy(doc)
    assert energy > 100.0
    assert energy == pytest.approx(integrated_energy(doc), rel=0.02)
    tx = csms_transaction(doc)
    assert tx["ended_t"] is not None, "the transaction was not closed at the CSMS"
    assert abs(tx["meter_stop_wh"] - tx["meter_start_wh"] - energy) <= (1.0 if version == "1.6" else 0.01)
    # every transaction message arrived; copies (resends after a lost answer) are recognised as such
    if version == "2.0.1":
        assert sorted(tx["seq_nos"]) == list(range(len(tx["seq_nos"])))


@pytest.mark.parametrize("version", ["2.0.1", "1.6"])
def test_normal_session(tmp_path: Path, version: str) -> None:
    rc, doc, out = simulate(tmp_path, "--ocpp", version)
    assert rc == 0, out
    assert doc["result"] == {"ok": True, "problems": []}
    assert pilot_states(doc) == ["A", "B", "C", "B", "A"]
    assert_session_basics(doc, version)
    # 16 A offered on three phases: the car draws 16 A (duty 26.67 % -> 16.0 A)
    assert max(max(e["current_a"]) for e in events(doc, "meter")) == pytest.approx(16.0, abs=0.01)
    assert csms_transaction(doc)["stop_reason"] == "EVDisconnected"
    # the pilot shows no PWM before the card was accepted
    first_pwm = next(e for e in events(doc, "pilot") if e["output"] == "X2")
    accepted = next(e for e in events(doc, "authorize") if e["accepted"])
    assert first_pwm["t"] >= accepted["t"]
    # the board started once, cleanly
    assert len(events(doc, "board_ready")) == 1
    assert not any(e["spurious"] for e in events(doc, "board_reset"))
    # the connector's status as OCPP says it goes: 2.0.1 G01 Available / Occupied; 1.6 4.9 Preparing once plugged
    # in, Charging while energy flows, SuspendedEV when the car stopped it, Available once the cable is out
    if version == "2.0.1":
        assert connector_statuses(doc) == [("Available", None), ("Occupied", None), ("Available", None)]
    else:
        assert connector_statuses(doc) == [(s, "NoError") for s in
                                           ("Available", "Preparing", "Charging", "SuspendedEV", "Available")]
    # the summary is printed
    assert "energy delivered" in out and "OK" in out


@pytest.mark.parametrize("version", ["2.0.1", "1.6"])
def test_limit_change(tmp_path: Path, version: str) -> None:
    rc, doc, out = simulate(tmp_path, "--ocpp", version, "--scenario", "limit-change", "--limit", "10")
    assert rc == 0, out
    assert pilot_states(doc) == ["A", "B", "C", "B", "A"]
    assert_session_basics(doc, version)
    (call,) = [e for e in events(doc, "csms_call") if e["call"] == "set_charging_profile"]
    assert call["status"] == "Accepted"
    limit = next(e for e in events(doc, "limit") if e["amps"] == 10.0)
    # the duty cycle for 10 A (16.67 %) within the 5 s a duty cycle must stand ...
    pwm = next(e for e in events(doc, "pilot") if e["t"] >= limit["t"] and e["output"] == "X2")
    assert pwm["duty"] == pytest.approx(10 / 0.6, abs=0.01)
    assert pwm["t"] - limit["t"] <= 5.0 + 0.1
    # ... and the car follows within the 5 s IEC 61851-1 gives it (meter samples every 0.5 s)
    follow = next(e for e in events(doc, "meter") if e["t"] >= pwm["t"] and max(e["current_a"]) <= 10.0 + 1e-6)
    assert follow["t"] - pwm["t"] <= 5.0 + 0.5
    ended = events(doc, "transaction_ended")[0]["t"]
    assert all(max(e["current_a"]) <= 10.0 + 1e-6 for e in events(doc, "meter") if follow["t"] <= e["t"] <= ended)


@pytest.mark.parametrize("version", ["2.0.1", "1.6"])
def test_unplug_mid_session(tmp_path: Path, version: str) -> None:
    rc, doc, out = simulate(tmp_path, "--ocpp", version, "--scenario", "unplug-mid-session")
    assert rc == 0, out
    assert pilot_states(doc) == ["A", "B", "C", "A"]
    assert_session_basics(doc, version)
    unplugged = next(e for e in events(doc, "cp") if e["state"] == "A" and e["t"] > 5)
    opened = next(e for e in events(doc, "relays") if not e["closed"])
    assert 0 <= opened["t"] - unplugged["t"] <= 0.5
    assert csms_transaction(doc)["stop_reason"] == "EVDisconnected"


@pytest.mark.parametrize("version", ["2.0.1", "1.6"])
def test_rcd_fault_opens_the_relays(tmp_path: Path, version: str) -> None:
    rc, doc, out = simulate(tmp_path, "--ocpp", version, "--scenario", "rcd-fault")
    assert rc == 0, out
    assert_session_basics(doc, version)
    (trip,) = [e for e in events(doc, "board_error") if e["error"] == "MREC2GroundFailure"]
    injected = next(e for e in events(doc, "scenario") if e["action"] == "InjectRcd")
    assert injected["milliamps"] >= 30.0  # above the 30 mA AC trip level
    opened = next(e for e in events(doc, "relays") if e["t"] >= trip["t"])
    assert not opened["closed"] and opened["t"] - trip["t"] <= 0.5
    # no power after the trip, and the pilot shows F (EVSE error)
    assert not any(e["closed"] for e in events(doc, "relays") if e["t"] > trip["t"])
    assert any(e["output"] == "F" and e["t"] >= trip["t"] for e in events(doc, "pilot"))
    assert csms_transaction(doc)["stop_reason"] == ("EmergencyStop" if version == "1.6" else "GroundFault")
    # the connector Faulted from the trip (1.6 errorCode GroundFailure) until the fault is cleared; then, the
    # transaction over and the cable still in, 1.6 Finishing / 2.0.1 Occupied, and Available once unplugged
    if version == "2.0.1":
        assert connector_statuses(doc) == [("Available", None), ("Occupied", None), ("Faulted", None),
                                           ("Occupied", None), ("Available", None)]
    else:
        assert connector_statuses(doc) == [("Available", "NoError"), ("Preparing", "NoError"),
                                           ("Charging", "NoError"), ("Faulted", "GroundFailure"),
                                           ("Finishing", "NoError"), ("Available", "NoError")]
    faulted = next(m for m in doc["csms"]["messages"] if m["action"] == "StatusNotification"
                   and (m["payload"].get("connectorStatus") or m["payload"]["status"]) == "Faulted")
    assert faulted["made_t"] is None or faulted["made_t"] <= trip["t"] + 0.5


@pytest.mark.parametrize("version", ["2.0.1", "1.6"])
def test_offline_messages_delivered_exactly_once(tmp_path: Path, version: str) -> None:
    rc, doc, out = simulate(tmp_path, "--ocpp", version, "--scenario", "offline")
    assert rc == 0, out
    assert pilot_states(doc) == ["A", "B", "C", "B", "A"]
    assert_session_basics(doc, version)
    cut = next(e for e in events(doc, "scenario") if e["action"] == "CutLink")
    restored = next(e for e in events(doc, "scenario") if e["action"] == "RestoreLink")
    link = events(doc, "ocpp_link")
    # the log is in order; the simulated clock stands still while the station waits on the CSMS, so
    # the reconnection may carry the same simulated time as the loss: take the next one in the log
    i_lost = next(i for i, e in enumerate(link) if not e["connected"] and e["t"] >= cut["t"])
    lost = link[i_lost]
    back = next((e for e in link[i_lost + 1:] if e["connected"]), None)
    assert back is not None, f"no reconnection after the outage in the link log: {link}"
    assert back["t"] >= restored["t"]
    messages = [m for m in doc["csms"]["messages"]
                if m["action"] in ("TransactionEvent", "StartTransaction", "StopTransaction", "MeterValues")]
    originals = [m for m in messages if not m["duplicate"]]
    # transaction messages made while the station was offline reached the CSMS after the link came back
    offline = [m for m in originals if lost["t"] < m["made_t"] < back["t"] - 0.1]
    assert offline, "no transaction message was made during the outage"
    assert all(m["t"] >= back["t"] - 0.1 for m in offline)
    if version == "2.0.1":
        assert all(m["payload"].get("offline") is True for m in offline)
    # exactly once: no two originals with the same content, and (2.0.1) every seqNo once
    keys = [json.dumps(m["payload"], sort_keys=True) for m in originals]
    assert len(keys) == len(set(keys))
    if version == "2.0.1":
        seq = [m["payload"]["seqNo"] for m in originals if m["action"] == "TransactionEvent"]
        assert sorted(seq) == list(range(len(seq)))
    else:  # 1.6: every periodic meter value of the transaction once, in order
        stamps = [m["made_t"] for m in originals if m["action"] == "MeterValues"]
        assert stamps == sorted(stamps) and len(stamps) == len(set(stamps))


@pytest.mark.parametrize("version", ["2.0.1", "1.6"])
def test_remote_start(tmp_path: Path, version: str) -> None:
    rc, doc, out = simulate(tmp_path, "--ocpp", version, "--auth", "remote")
    assert rc == 0, out
    (call,) = [e for e in events(doc, "csms_call") if e["call"] == "remote_start"]
    assert call["status"] == "Accepted"
    assert not events(doc, "card")
    assert pilot_states(doc) == ["A", "B", "C", "B", "A"]
    assert_session_basics(doc, version)


def test_unreachable_csms_fails_with_the_reason(tmp_path: Path) -> None:
    rc, doc, out = simulate(tmp_path, "--csms-url", "ws://127.0.0.1:9/ocpp", "--drain-timeout", "1")
    assert rc == 4  # could not connect: said at once, the session never starts
    assert doc == {}
    assert "cannot connect to the CSMS" in out and "connection refused" in out


def test_bad_arguments_exit_non_zero(tmp_path: Path) -> None:
    rc, _, out = simulate(tmp_path, "--duration", "soon")
    assert rc == 2 and "not a duration" in out


# ------------------------------------------------------------------------------------------------ external CSMS

PEER = Path(__file__).with_name("mh_csms.py")


def external_csms(*args: str) -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen([sys.executable, str(PEER), *args], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    port = int(proc.stdout.readline())
    return proc, port


def stop_peer(proc: subprocess.Popen[str]) -> list[dict[str, Any]]:
    proc.terminate()
    out, _ = proc.communicate(timeout=10)
    return [json.loads(line) for line in out.splitlines() if line.strip()]


@pytest.mark.interop
def test_external_csms_with_basic_auth(tmp_path: Path) -> None:
    """The mobilityhouse ``ocpp`` library as the operator, security profile 1: it sees the whole transaction."""
    password = "sim-password-0123456789"
    proc, port = external_csms("--password", password)
    try:
        rc, doc, out = simulate(tmp_path, "--csms-url", f"ws://127.0.0.1:{port}/ocpp", "--security-profile", "1",
                                "--password", password, "--drain-timeout", "15")
    finally:
        calls = stop_peer(proc)
    assert rc == 0, out
    assert doc["csms"] is None  # the books are the external CSMS's own
    actions = [c["action"] for c in calls]
    assert "BasicAuth" in actions and "Rejected" not in actions
    assert actions.index("BootNotification") < actions.index("TransactionEvent")
    events_ = [c["args"] for c in calls if c["action"] == "TransactionEvent"]
    tx_id = events(doc, "transaction_started")[0]["transaction_id"]
    assert {e["transaction_info"]["transaction_id"] for e in events_} == {tx_id}
    assert sorted(e["seq_no"] for e in events_) == list(range(len(events_)))
    assert events_[0]["event_type"] == "Started" and events_[-1]["event_type"] == "Ended"

    def energy(event: dict[str, Any]) -> float:
        (sample,) = [s for mv in event["meter_value"] for s in mv["sampled_value"]
                     if s.get("measurand") == "Energy.Active.Import.Register"]
        return float(sample["value"])

    assert energy(events_[-1]) - energy(events_[0]) == pytest.approx(meter_energy(doc), abs=0.01)


@pytest.mark.interop
def test_external_csms_refusing_the_password_fails_the_run(tmp_path: Path) -> None:
    proc, port = external_csms("--password", "the-right-password-000")
    try:
        rc, doc, out = simulate(tmp_path, "--csms-url", f"ws://127.0.0.1:{port}/ocpp", "--security-profile", "1",
                                "--password", "a-wrong-password-0000", "--drain-timeout", "1")
    finally:
        calls = stop_peer(proc)
    assert rc == 4  # the CSMS's 401 is said at once
    assert "Rejected" in [c["action"] for c in calls]
    assert doc == {}
    assert "401" in out


def make_certificates(directory: Path) -> tuple[Path, Path, Path]:
    """A CA, a server certificate for localhost / 127.0.0.1 and a client certificate for SIM001, both signed by
    the CA (PEM files ca.pem, server.pem + server.key, client.pem + client.key); returns the first three."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    now = datetime.datetime.now(datetime.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder().subject_name(name("sim test CA")).issuer_name(name("sim test CA"))
          .public_key(ca_key.public_key()).serial_number(1).not_valid_before(now - datetime.timedelta(hours=1))
          .not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    server = (x509.CertificateBuilder().subject_name(name("localhost")).issuer_name(ca.subject)
              .public_key(key.public_key()).serial_number(2).not_valid_before(now - datetime.timedelta(hours=1))
              .not_valid_after(now + datetime.timedelta(days=1))
              .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                          x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                             critical=False)
              .sign(ca_key, hashes.SHA256()))
    client_key = ec.generate_private_key(ec.SECP256R1())
    client = (x509.CertificateBuilder().subject_name(name("SIM001")).issuer_name(ca.subject)
              .public_key(client_key.public_key()).serial_number(3)
              .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=1))
              .sign(ca_key, hashes.SHA256()))
    (directory / "client.pem").write_bytes(client.public_bytes(serialization.Encoding.PEM))
    (directory / "client.key").write_bytes(client_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    paths = directory / "ca.pem", directory / "server.pem", directory / "server.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(server.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return paths


@pytest.mark.interop
def test_external_csms_over_tls(tmp_path: Path) -> None:
    """Security profile 2: wss:// verified against the CSMS's CA, plus basic auth."""
    ca, cert, key = make_certificates(tmp_path)
    password = "sim-password-tls-0123"
    proc, port = external_csms("--password", password, "--cert", str(cert), "--key", str(key))
    try:
        rc, doc, out = simulate(tmp_path, "--csms-url", f"wss://localhost:{port}/ocpp", "--security-profile", "2",
                                "--password", password, "--cafile", str(ca), "--drain-timeout", "15")
    finally:
        calls = stop_peer(proc)
    assert rc == 0, out
    actions = [c["action"] for c in calls]
    assert "BasicAuth" in actions and "TransactionEvent" in actions
    assert events(doc, "start")[0]["csms"].startswith("wss://localhost:")


@pytest.mark.interop
def test_external_csms_with_mutual_tls(tmp_path: Path) -> None:
    """Security profile 3: the CSMS demands the station's certificate."""
    ca, cert, key = make_certificates(tmp_path)
    proc, port = external_csms("--cert", str(cert), "--key", str(key), "--client-ca", str(ca))
    try:
        rc, _, out = simulate(tmp_path, "--csms-url", f"wss://localhost:{port}/ocpp", "--security-profile", "3",
                              "--cafile", str(ca), "--certfile", str(tmp_path / "client.pem"),
                              "--keyfile", str(tmp_path / "client.key"), "--drain-timeout", "15")
    finally:
        calls = stop_peer(proc)
    assert rc == 0, out
    (cert_seen,) = [c["args"] for c in calls if c["action"] == "ClientCertificate"]
    assert "SIM001" in json.dumps(cert_seen)
    assert "TransactionEvent" in [c["action"] for c in calls]


def test_plot(tmp_path: Path) -> None:
    if not os.environ.get("CI"):  # in CI the plot extra is installed: the test must run
        pytest.importorskip("matplotlib", reason="--plot needs the plot extra (matplotlib)")
    png = tmp_path / "session.png"
    rc, _, out = simulate(tmp_path, "--plot", str(png))
    assert rc == 0, out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_until_soc_with_a_single_phase_car(tmp_path: Path) -> None:
    rc, doc, out = simulate(tmp_path, "--capacity", "2", "--soc", "70", "--until-soc", "80", "--phases", "1",
                            "--duration", "2h")
    assert rc == 0, out
    assert pilot_states(doc) == ["A", "B", "C", "B", "A"]
    assert_session_basics(doc, "2.0.1")
    charging = [e for e in events(doc, "meter") if e["power_w"] > 0]
    assert all(e["current_a"][1] == e["current_a"][2] == 0.0 for e in charging)  # one phase: L1 only
    # the car stopped at 80 % by itself (C -> B), long before the 2 h
    assert doc["summary"]["final_soc"] == pytest.approx(80.0, abs=0.1)
    assert doc["summary"]["duration_s"] < 3600
    # 10 % of 2 kWh went into the battery; the meter counted the same energy
    assert meter_energy(doc) == pytest.approx(200.0, abs=2.0)


def test_the_readme_first_command(tmp_path: Path) -> None:
    """``evcharge simulate`` with no arguments: the default scenario at 60x ends as expected."""
    script = Path(sys.executable).with_name("evcharge")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "evcharge"]
    proc = subprocess.run([*command, "simulate"], capture_output=True, text=True, timeout=170, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "OK: the session ended as the scenario expects" in proc.stdout
    assert "control pilot      A-B-C-B-A" in proc.stdout


def test_json_to_stdout_stays_parseable(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "evcharge", "simulate", "--time-scale", SCALE, "--duration", "1m",
                           "--json", "-"], capture_output=True, text=True, timeout=150)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["result"]["ok"] is True and "session summary" in proc.stderr
