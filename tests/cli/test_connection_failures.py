"""A connection that cannot be made is said within seconds, with its cause (refused, unresolvable, TLS, rejected
credentials, port in use), exit status 4; and the library hands each failure to its caller instead of logging it.
Real sockets, a real CSMS process and real TLS (a certificate made for the test)."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import json
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from .helpers import run_cli

CONNECTION = 4


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_csms(*args: str) -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen([sys.executable, "-m", "evcharge", "ocpp", "csms", "--port", "0", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line, proc.stderr.read() if proc.stderr else ""
    url = json.loads(line)["url"]
    return proc, int(url.rsplit(":", 1)[1].strip("/"))


@pytest.fixture
def self_signed(tmp_path: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 that no CA vouches for, and its key."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "evcharge test CSMS")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp_path / "csms.pem", tmp_path / "csms.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


@pytest.fixture
def csms_with_password() -> Iterator[int]:
    proc, port = start_csms("--profile", "1", "--password", "right")
    try:
        yield port
    finally:
        proc.terminate()
        proc.wait(10)


def test_ocpp_cp_says_the_connection_was_refused(capsys: pytest.CaptureFixture[str]) -> None:
    # it used to exit 0 after --duration and print nothing
    r = run_cli(capsys, "ocpp", "cp", "--url", f"ws://127.0.0.1:{closed_port()}/ocpp", "--duration", "30")
    assert r.status == CONNECTION
    assert "connection refused" in r.one_line()
    assert r.seconds < 10.0


def test_ocpp_cp_says_the_host_name_is_unknown(capsys: pytest.CaptureFixture[str]) -> None:
    # .invalid never resolves (RFC 6761)
    r = run_cli(capsys, "ocpp", "cp", "--url", "ws://csms.invalid:9000/ocpp", "--duration", "30")
    assert r.status == CONNECTION
    assert "cannot be resolved" in r.one_line()
    assert r.seconds < 10.0


def test_ocpp_cp_says_the_credentials_were_refused(capsys: pytest.CaptureFixture[str],
                                                   csms_with_password: int) -> None:
    r = run_cli(capsys, "ocpp", "cp", "--url", f"ws://127.0.0.1:{csms_with_password}/ocpp", "--profile", "1",
                "--password", "wrong", "--duration", "30")
    assert r.status == CONNECTION
    assert "401" in r.one_line() and "password" in r.one_line()
    assert r.seconds < 10.0


def test_ocpp_cp_says_the_tls_certificate_is_not_trusted(capsys: pytest.CaptureFixture[str],
                                                         self_signed: tuple[Path, Path]) -> None:
    cert, key = self_signed
    proc, port = start_csms("--profile", "2", "--password", "pw", "--cert", str(cert), "--key", str(key))
    try:
        r = run_cli(capsys, "ocpp", "cp", "--url", f"wss://127.0.0.1:{port}/ocpp", "--profile", "2",
                    "--password", "pw", "--duration", "30")
        assert r.status == CONNECTION
        assert "TLS certificate is not trusted" in r.one_line()
        assert r.seconds < 10.0
        # with the CSMS's certificate as the CA it connects (so the failure above was the trust, nothing else)
        ok = run_cli(capsys, "ocpp", "cp", "--url", f"wss://127.0.0.1:{port}/ocpp", "--profile", "2",
                     "--password", "pw", "--ca", str(cert), "--duration", "3")
        assert ok.status == 0, ok.err
        assert '"action": "BootNotification"' in ok.out
    finally:
        proc.terminate()
        proc.wait(10)


def test_ocpp_csms_says_the_port_is_in_use(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        r = run_cli(capsys, "ocpp", "csms", "--port", str(port))
    assert r.status == CONNECTION
    assert "cannot listen" in r.one_line() and "address already in use" in r.one_line()


def test_ocpp_csms_says_the_host_is_not_an_address_of_this_machine(capsys: pytest.CaptureFixture[str]) -> None:
    # 192.0.2.1 is TEST-NET-1 (RFC 5737): never assigned to this machine
    r = run_cli(capsys, "ocpp", "csms", "--host", "192.0.2.1", "--port", "0")
    assert r.status == CONNECTION
    assert "cannot listen on 192.0.2.1" in r.one_line() and "--host" in r.one_line()


# ---------------------------------------------------------------------------------------------- the library


def test_charge_point_client_hands_each_failure_to_its_caller() -> None:
    from evcharge.ocpp import v201
    from evcharge.ocpp.charge_point import BackoffConfig, ChargePoint, ChargePointConfig
    from evcharge.ocpp.transport.websocket import ChargePointClient

    async def scenario() -> list[str]:
        client = ChargePointClient(ChargePoint("CP1"), f"ws://127.0.0.1:{closed_port()}/ocpp",
                                   ChargePointConfig(versions=(v201,), backoff=BackoffConfig(initial=0.05,
                                                                                              maximum=0.1)))
        runner = asyncio.create_task(client.run())
        try:
            async with asyncio.timeout(5):
                failures = [await client.next_failure(), await client.next_failure()]
        finally:
            await client.stop()
            runner.cancel()
        assert client.last_failure is not None
        assert [f.attempt for f in failures] == [1, 2]
        assert all(isinstance(f.error, ConnectionRefusedError) for f in failures)
        return [f.reason for f in failures]

    assert asyncio.run(scenario()) == ["refused", "refused"]


def test_charge_point_client_raises_what_is_not_a_network_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without websockets the client used to log at INFO and retry forever; now run() raises and says the extra."""
    from evcharge.errors import MissingDependencyError
    from evcharge.ocpp import v201
    from evcharge.ocpp.charge_point import ChargePoint, ChargePointConfig
    from evcharge.ocpp.transport.websocket import ChargePointClient

    monkeypatch.setitem(sys.modules, "websockets.asyncio.client", None)
    client = ChargePointClient(ChargePoint("CP1"), "ws://127.0.0.1:9/ocpp", ChargePointConfig(versions=(v201,)))

    async def scenario() -> None:
        async with asyncio.timeout(5):
            await client.run()

    with pytest.raises(MissingDependencyError, match=r"evcharge\[ocpp\]"):
        asyncio.run(scenario())


def test_charge_point_client_refuses_a_url_it_cannot_use() -> None:
    from evcharge.ocpp import v201
    from evcharge.ocpp.charge_point import ChargePoint, ChargePointConfig
    from evcharge.ocpp.errors import LocalProtocolError
    from evcharge.ocpp.transport.websocket import ChargePointClient

    for url in ("notaurl", "http://127.0.0.1:9000/ocpp", "ws://127.0.0.1:99999/ocpp"):
        with pytest.raises(LocalProtocolError):
            ChargePointClient(ChargePoint("CP1"), url, ChargePointConfig(versions=(v201,)))


# ---------------------------------------------------------------------------------------------- simulate


def test_simulate_says_the_csms_refused_within_seconds(capsys: pytest.CaptureFixture[str]) -> None:
    # it used to run 32 s and fail with "no energy flowed"
    r = run_cli(capsys, "simulate", "--csms-url", f"ws://127.0.0.1:{closed_port()}/ocpp", "--quiet")
    assert r.status == CONNECTION
    assert "cannot connect to the CSMS" in r.lines[-1] and "connection refused" in r.lines[-1]
    assert "Traceback" not in r.err
    assert r.seconds < 10.0


def test_simulate_offline_scenario_says_the_real_csms_refused(capsys: pytest.CaptureFixture[str]) -> None:
    # the offline scenario puts a cuttable relay in front of an external CSMS: the cause is the CSMS's, not the relay's
    url = f"ws://127.0.0.1:{closed_port()}/ocpp"
    r = run_cli(capsys, "simulate", "--scenario", "offline", "--csms-url", url, "--quiet")
    assert r.status == CONNECTION
    assert f"cannot connect to the CSMS at {url}: connection refused" in r.lines[-1]
    assert r.seconds < 10.0


def test_csms_call_to_a_station_that_is_gone_says_so() -> None:
    # the CSMS example of the docs used to end in a bare KeyError: 'CP001'
    from evcharge.ocpp import v201
    from evcharge.ocpp.csms import Csms, CsmsConfig, CsmsHandler
    from evcharge.ocpp.errors import NotConnectedError

    csms = Csms(CsmsConfig(versions=(v201,)), CsmsHandler)
    with pytest.raises(NotConnectedError, match="charge point 'CP001' is not connected"):
        asyncio.run(csms.call("CP001", v201.ResetRequest(type=v201.ResetEnumType.IMMEDIATE)))


def test_ocpp_cp_reports_a_lost_csms_and_keeps_trying() -> None:
    """Once connected, a lost CSMS is not fatal (the station reconnects), but every failed attempt is said."""
    proc, port = start_csms()
    cp = subprocess.Popen([sys.executable, "-m", "evcharge", "ocpp", "cp", "--url", f"ws://127.0.0.1:{port}/ocpp",
                           "--duration", "5"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert cp.stdout is not None
        first = json.loads(cp.stdout.readline())
        assert first["event"] == "result" and first["action"] == "BootNotification"
    finally:
        proc.terminate()
        proc.wait(10)
    out, err = cp.communicate(timeout=30)
    assert cp.returncode == 0, err
    failures = [json.loads(line) for line in out.splitlines() if '"connection_failed"' in line]
    assert failures and failures[0]["reason"] == "refused"
    assert "connection refused" in failures[0]["error"]
