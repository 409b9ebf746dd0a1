"""``evcharge csms`` as its own process: a station connects with ``evcharge ocpp cp``, the admin API sees it."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

# the console script (under ``python -m evcharge.cli`` the command's CommandError is another module's class)
EVCHARGE = str(Path(sys.executable).parent / "evcharge")


def _evcharge(*args: str, **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([EVCHARGE, *args], capture_output=True, text=True, timeout=60,
                          **kw)  # type: ignore[call-overload,no-any-return]


def test_csms_command_serves_a_station(tmp_path: Path) -> None:
    csms = subprocess.Popen([EVCHARGE, "csms", "--port", "0", "--admin-port", "0",
                             "--db", str(tmp_path / "cli.db"), "--trace"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert csms.stdout is not None
        first = json.loads(csms.stdout.readline())
        assert first["event"] == "listening" and first["ws"].startswith("ws://")
        cp = _evcharge("ocpp", "cp", "--url", first["ws"] + "ocpp", "--id", "CLI-CS", "--versions", "1.6",
                       "--duration", "3", "--heartbeat", "0.5")
        assert cp.returncode == 0, cp.stderr
        results = [json.loads(line) for line in cp.stdout.splitlines()]
        assert results[0]["action"] == "BootNotification" and results[0]["payload"]["status"] == "Accepted"
        with urllib.request.urlopen(first["admin"] + "stations", timeout=20) as resp:
            stations = json.loads(resp.read())
        assert [(s["id"], s["ocpp_version"], s["vendor"]) for s in stations] == [("CLI-CS", "1.6", "evcharge")]
    finally:
        csms.terminate()
        out, err = csms.communicate(timeout=30)
    frames = [json.loads(line) for line in out.splitlines()]  # what followed the "listening" line
    actions = [json.loads(f["frame"])[2] for f in frames if f["direction"] == "in" and f["frame"].startswith("[2,")]
    assert actions[0] == "BootNotification" and "Heartbeat" in actions
    assert "Traceback" not in err


def test_csms_command_errors_are_one_line(tmp_path: Path) -> None:
    bad = _evcharge("csms", "--tls-port", "0", "--port", "0", "--admin-port", "0", "--db", str(tmp_path / "x.db"))
    assert bad.returncode == 2 and bad.stderr.strip() == "evcharge csms: --tls-port needs --cert and --key"
    unreachable = _evcharge("csms", "--port", "0", "--admin-port", "0", "--db", "postgresql://nobody@127.0.0.1:1/x")
    assert unreachable.returncode == 4, unreachable.stderr
    assert len(unreachable.stderr.strip().splitlines()) == 1 and "Traceback" not in unreachable.stderr


def _start_csms(tmp: Path, *options: str) -> tuple[subprocess.Popen[str], dict[str, str]]:
    csms = subprocess.Popen([EVCHARGE, "csms", "--port", "0", "--admin-port", "0", "--db", str(tmp / "opt.db"),
                             *options], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert csms.stdout is not None
    line = csms.stdout.readline()
    if not line:
        csms.kill()
        raise AssertionError(csms.communicate(timeout=30)[1])
    return csms, json.loads(line)


def test_csms_command_ocsp_and_contract_pki(tmp_path: Path) -> None:
    """--ocsp on with --ocsp-trust: Authorize's hash data goes to the responder, whose signature must be of the
    trusted CA; --contract-pki: Get15118EVCertificate answered with a contract the car can install."""
    import asyncio
    import base64
    import random

    from evcharge.csms.contract import ISO2_NAMESPACE
    from evcharge.iso15118 import iso2
    from evcharge.iso15118.engines.pnc import Contract, Provisioning
    from evcharge.iso15118.security.pki import PkiOptions, write_pki
    from evcharge.ocpp import v201
    from evcharge.ocpp.charge_point import BackoffConfig, ChargePointConfig
    from evcharge.ocpp.transport.websocket import ChargePointClient, ClientSecurity

    from .helpers import PASSWORD, Station, make_pki
    from .test_contract import _iso2_request
    from .test_ocsp import Responder, _cert, hash_data

    (tmp_path / "ca").mkdir()
    (tmp_path / "other").mkdir()
    pki, other = make_pki(tmp_path / "ca"), make_pki(tmp_path / "other")
    write_pki(tmp_path / "v2g", PkiOptions(trees=("iso2",)))
    prov = Provisioning.from_pki(tmp_path / "v2g")

    async def session(url: str, trust_ok: bool, pnc: bool) -> None:
        responder = Responder(pki)
        ocsp_url = await responder.start()
        good, revoked = _cert(pki, "GOOD"), _cert(pki, "REVOKED")
        responder.revoked.add(revoked.serial_number)
        cp = Station("OPT-1")
        client = ChargePointClient(cp, url + "ocpp", ChargePointConfig(
            versions=(v201,), backoff=BackoffConfig(initial=0.05, maximum=0.2)),
            security=ClientSecurity(profile=1, password=PASSWORD), rng=random.Random(1))
        task = asyncio.create_task(client.run())
        try:
            await asyncio.wait_for(cp.wait_connected(), 10)

            async def status(cert: object) -> str:
                res = await cp.call(v201.AuthorizeRequest.from_json({
                    "idToken": {"idToken": "EMAID1", "type": "eMAID"},
                    "iso15118CertificateHashData": [hash_data(cert, pki.ca_cert, ocsp_url)]}))  # type: ignore[arg-type]
                return str(res.certificate_status)

            if trust_ok:
                assert (await status(good), await status(revoked)) == ("Accepted", "CertificateRevoked")
            else:  # signed by a CA that --ocsp-trust does not name
                assert await status(good) == "CertChainError"
            assert len(responder.requests) == (2 if trust_ok else 1)
            res = await cp.call(v201.Get15118EVCertificateRequest.from_json({
                "iso15118SchemaVersion": ISO2_NAMESPACE, "action": "Install",
                "exiRequest": base64.b64encode(_iso2_request(prov.cert, prov.key)).decode()}))
            if pnc:
                msg = iso2.decode(base64.b64decode(res.exi_response))
                contract = Contract.from_installation(
                    msg.body.certificate_installation_res, prov.key, message=msg,
                    v2g_roots=(tmp_path / "v2g" / "iso2" / "v2g_roots.pem").read_bytes())
                assert res.status == "Accepted" and contract.emaid.startswith("NLXYZC")
            else:
                assert (res.status, res.exi_response) == ("Failed", "")
        finally:
            await client.stop()
            await asyncio.wait_for(task, 10)
            assert responder.server is not None
            responder.server.close()

    for trust, pnc in ((pki.ca_pem, True), (other.ca_pem, False)):
        extra = ["--contract-pki", str(tmp_path / "v2g"), "--emaid-prefix", "NL-XYZ"] if pnc else []
        csms, first = _start_csms(tmp_path, "--ocsp", "on", "--ocsp-trust", str(trust), *extra)
        try:
            asyncio.run(session(first["ws"], trust == pki.ca_pem, pnc))
        finally:
            csms.terminate()
            _, err = csms.communicate(timeout=30)
        assert "Traceback" not in err


def test_csms_command_ocsp_and_contract_pki_bad_values(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Through the command's entry point in this process (a process each would cost a second apiece)."""
    from evcharge.cli import main

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        try:
            code = main(list(args))
        except SystemExit as exc:  # argparse's own errors
            code = int(exc.code or 0)
        out, err = capsys.readouterr()
        return subprocess.CompletedProcess(list(args), code, out, err)

    not_cert = tmp_path / "not.pem"
    not_cert.write_text("hello")
    common = ("csms", "--port", "0", "--admin-port", "0", "--db", str(tmp_path / "bad.db"))
    cases = [
        (("--ocsp", "maybe"), "invalid choice: 'maybe'"),
        (("--ocsp-url", "http://127.0.0.1/"), "--ocsp-url and --ocsp-trust need --ocsp on"),
        (("--ocsp", "on", "--ocsp-url", "ftp://127.0.0.1/"), "--ocsp-url: an OCSP responder URL is http://"),
        (("--ocsp", "on", "--ocsp-trust", str(not_cert)), "--ocsp-trust"),
        (("--ocsp", "on", "--ocsp-trust", str(tmp_path / "missing.pem")), "no such file"),
        (("--contract-pki", str(tmp_path / "nowhere")), "--contract-pki: "),
        (("--contract-pki", str(tmp_path)), "neither an iso2 nor an iso20 tree"),
        (("--contract-pki", str(tmp_path), "--emaid-prefix", "DEU"), "--contract-pki: "),
    ]
    for options, words in cases:
        bad = run(*common, *options)
        assert bad.returncode == 2, (options, bad.stderr)
        lines = bad.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("evcharge csms: ") and words in lines[0], (options, lines)
