"""``evcharge simulate --hlc``: DC sessions with DIN 70121 / ISO 15118-2 through the command line, against the
embedded CSMS, and the ``--pcap`` capture dissected by tshark."""

from __future__ import annotations

import itertools
import json
import os
import shutil
import struct
import subprocess
from pathlib import Path
from typing import Any

import pytest

from evcharge.cli import main


def simulate(tmp_path: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any], str]:
    out = tmp_path / "log.json"
    code = main(["simulate", *args, "--quiet", "--json", str(out)])
    text = capsys.readouterr()
    doc = json.loads(out.read_text()) if out.exists() else {}
    return code, doc, text.out + text.err


def calls(doc: dict[str, Any], action: str) -> list[dict[str, Any]]:
    return [e for e in doc["ocpp"] if e["action"] == action]


def v2g_requests(doc: dict[str, Any]) -> list[str]:
    """The requests the SECC received (-20's DC_ prefixes dropped: DC_CableCheckReq -> CableCheckReq)."""
    return [x["name"].removeprefix("DC_") for x in doc["v2g_trace"] if x["direction"] == "rx"]


@pytest.mark.parametrize("hlc", ["din", "iso2", "iso20"])
def test_dc_normal(tmp_path: Path, capsys: pytest.CaptureFixture[str], hlc: str) -> None:
    code, doc, text = simulate(tmp_path, capsys, "--hlc", hlc, "--scenario", "dc-normal", "--capacity", "10")
    assert code == 0, text
    requests = v2g_requests(doc)
    assert requests[0] == "SessionSetupReq" and requests[-1] == "SessionStopReq"
    assert "CableCheckReq" in requests and "PreChargeReq" in requests and "WeldingDetectionReq" in requests
    # OCPP 2.0.1 carried the ISO 15118 parts
    assert calls(doc, "BootNotification")[0]["answer"]["status"] == "Accepted"
    assert calls(doc, "Authorize")[0]["answer"]["idTokenInfo"]["status"] == "Accepted"
    needs = calls(doc, "NotifyEVChargingNeeds")[0]
    assert needs["request"]["chargingNeeds"]["requestedEnergyTransfer"] == "DC"
    assert needs["answer"]["status"] == "Accepted"
    # the embedded CSMS answered with a SetChargingProfile, which became the SECC's power limit
    profiles = calls(doc, "SetChargingProfile (from the CSMS)")
    assert profiles and profiles[0]["t"] == needs["t"]
    limit = profiles[0]["request"]["chargingSchedule"][0]["chargingSchedulePeriod"][0]["limit"]
    assert 0 < doc["peak_power_w"] <= limit * 1.001
    tx = calls(doc, "TransactionEvent")
    assert [e["request"]["eventType"] for e in tx][::len(tx) - 1] == ["Started", "Ended"]
    socs = [sv["value"] for e in tx for mv in e["request"].get("meterValue", []) for sv in mv["sampledValue"]
            if sv["measurand"] == "SoC"]
    assert socs[-1] > socs[0]
    assert doc["transaction"]["stopped_reason"] == "StoppedByEV" and doc["transaction"]["energy_wh"] > 0
    # the CSMS's books hold the same transaction
    assert doc["csms_transactions"][0]["stop_reason"] == "StoppedByEV"


@pytest.mark.parametrize("hlc", ["din", "iso2", "iso20"])
def test_isolation_fault(tmp_path: Path, capsys: pytest.CaptureFixture[str], hlc: str) -> None:
    code, doc, text = simulate(tmp_path, capsys, "--hlc", hlc, "--scenario", "isolation-fault")
    assert code == 0, text
    assert "fault: isolation in cable_check" in text
    fault = doc["faults"][0]
    assert fault["kind"] == "isolation" and fault["power_off_at"] - fault["at"] <= 0.1
    assert not {"PreChargeReq", "CurrentDemandReq", "ChargeLoopReq"} & set(v2g_requests(doc))
    ended = calls(doc, "TransactionEvent")[-1]["request"]
    assert ended["eventType"] == "Ended" and ended["triggerReason"] == "AbnormalCondition"
    assert ended["transactionInfo"]["stoppedReason"] == "GroundFault"
    statuses = [c["request"]["connectorStatus"] for c in calls(doc, "StatusNotification")]
    assert "Faulted" in statuses and statuses[-1] == "Available"
    assert calls(doc, "NotifyEvent")[0]["request"]["eventData"][0]["techCode"] == "isolation"
    assert doc["transaction"]["energy_wh"] == 0


@pytest.mark.parametrize("hlc", ["din", "iso2", "iso20"])
def test_csms_limit(tmp_path: Path, capsys: pytest.CaptureFixture[str], hlc: str) -> None:
    code, doc, text = simulate(tmp_path, capsys, "--hlc", hlc, "--scenario", "csms-limit")
    assert code == 0, text
    assert doc["power_after_limit_w"] <= 10_000.0 * 1.001 < doc["peak_power_w"]
    requests = v2g_requests(doc)
    if hlc in ("iso2", "iso20"):  # the SECC asked the car to renegotiate: PowerDelivery Start, Renegotiate, Start, Stop
        assert requests.count("PowerDeliveryReq") == 4
    if hlc == "iso20":  # -20: EVSENotification ScheduleRenegotiation -> a new ScheduleExchange between the two Starts
        pd = [i for i, r in enumerate(requests) if r == "PowerDeliveryReq"]
        assert "ScheduleExchangeReq" in requests[pd[1]:pd[2]]
    if hlc == "din":  # DIN has no renegotiation: the new limit comes in the CurrentDemand answers (Start, Stop)
        assert requests.count("PowerDeliveryReq") == 2
    assert any(e["request"]["triggerReason"] == "ChargingRateChanged" for e in calls(doc, "TransactionEvent"))


def test_ev_stops_early_and_over_voltage(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, doc, text = simulate(tmp_path, capsys, "--hlc", "iso2", "--scenario", "ev-stops-early")
    assert code == 0, text
    assert doc["transaction"]["stopped_reason"] == "StoppedByEV" and doc["virtual_seconds"] < 20
    code, doc, text = simulate(tmp_path, capsys, "--hlc", "din", "--scenario", "over-voltage")
    assert code == 0, text
    fault = doc["faults"][0]
    assert fault["kind"] == "over_voltage" and fault["phase"] == "charging" and fault["power_off_at"] == fault["at"]


def test_iso20_dc_bpt_charges_then_discharges(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, doc, text = simulate(tmp_path, capsys, "--hlc", "iso20", "--energy", "dc-bpt", "--duration", "20")
    assert code == 0, text
    assert doc["service"] == "DC_BPT"
    # the supply ran in both directions: the car's targets went negative after half the charge time (ISO 15118-20
    # DC_BPT: a negative EVTargetCurrent discharges), bounded by the car's 30 A / 11 kW discharge limits
    currents = [a for _, _, a, _ in doc["samples"]]
    assert max(currents) > 0 and min(currents) < 0 and min(currents) >= -30.0
    assert 0 < doc["peak_discharge_w"] <= 11_000.0
    tx = doc["transaction"]
    assert tx["energy_wh"] > 0 and tx["energy_returned_wh"] > 0 and tx["stopped_reason"] == "StoppedByEV"
    ended = calls(doc, "TransactionEvent")[-1]["request"]
    values = {v["measurand"]: v["value"] for m in ended["meterValue"] for v in m["sampledValue"]}
    assert values["Energy.Active.Import.Register"] == round(tx["energy_wh"], 1)
    assert values["Energy.Active.Export.Register"] == round(tx["energy_returned_wh"], 1)
    assert "returned by the car" in text
    # the direction changes through PowerDelivery: Start (Charge channel), ScheduleRenegotiation, a new
    # ScheduleExchange, Start (Discharge channel), Stop (ISO 15118-20 BPT_ChannelSelection)
    deliveries = _responses(doc, "PowerDeliveryReq", "ev->evse")
    steps = [(m.charge_progress.value, m.bpt_channel_selection.value if m.bpt_channel_selection else None)
             for _, m in deliveries]
    assert steps == [("Start", "Charge"), ("ScheduleRenegotiation", None), ("Start", "Discharge"), ("Stop", None)]
    switched = deliveries[2][0]
    assert all(a >= 0 for t, _, a, _ in doc["samples"] if t < switched)  # no discharge before the new Start


@pytest.mark.parametrize("hlc", ["iso2", "iso20"])
def test_ac_session(tmp_path: Path, capsys: pytest.CaptureFixture[str], hlc: str) -> None:
    """AC with high-level communication: the pilot stays at the 5 % duty cycle (IEC 61851-1: digital
    communication), the relays close on PowerDelivery(Start), the car's on-board charger takes what the SECC
    offers (ISO 15118-2 EVSEMaxCurrent and PMax / -20 EVSETargetActivePower; at most its --car-current, 32 A, per
    phase), the meter integrates it."""
    code, doc, text = simulate(tmp_path, capsys, "--hlc", hlc, "--energy", "ac", "--duration", "20")
    assert code == 0, text
    names = [x["name"] for x in doc["v2g_trace"] if x["direction"] == "rx"]
    if hlc == "iso2":
        assert {"ChargeParameterDiscoveryReq", "PowerDeliveryReq", "ChargingStatusReq"} <= set(names)
    else:
        assert {"AC_ChargeParameterDiscoveryReq", "PowerDeliveryReq", "AC_ChargeLoopReq"} <= set(names)
    assert not [n for n in names if "CableCheck" in n or "PreCharge" in n or "CurrentDemand" in n or "DC_" in n]
    # the pilot: PWM at 5 % once the car is plugged in, never a current-coding duty cycle
    duties = {duty for _, output, duty in doc["pilot"] if output == "X2"}
    assert duties == {5.0}
    needs = calls(doc, "NotifyEVChargingNeeds")[0]["request"]["chargingNeeds"]
    assert needs["requestedEnergyTransfer"] == "AC_three_phase" and "acChargingParameters" in needs
    limit = calls(doc, "SetChargingProfile (from the CSMS)")[0]["request"]["chargingSchedule"][0]
    granted = limit["chargingSchedulePeriod"][0]["limit"]
    assert limit["chargingRateUnit"] == "W" and 0 < doc["peak_power_w"] <= min(granted, 3 * 32 * 230) * 1.001
    tx = doc["transaction"]
    assert tx["stopped_reason"] == "StoppedByEV" and tx["energy_wh"] > 0
    # the energy register is the integral of the metered power: within the peak power over the charging time
    charging = [e["t"] for e in calls(doc, "TransactionEvent")
                if e["request"]["transactionInfo"].get("chargingState") == "Charging"]
    assert tx["energy_wh"] <= doc["peak_power_w"] * (doc["virtual_seconds"] - charging[0]) / 3600 * 1.001
    ended = calls(doc, "TransactionEvent")[-1]["request"]
    values = {v["measurand"]: v["value"] for m in ended["meterValue"] for v in m["sampledValue"]}
    assert values["Energy.Active.Import.Register"] == round(tx["energy_wh"], 1)
    periodic = [e["request"] for e in calls(doc, "TransactionEvent") if e["request"]["triggerReason"] ==
                "MeterValuePeriodic"]
    sampled = {v["measurand"]: v["value"] for m in periodic[0]["meterValue"] for v in m["sampledValue"]}
    amps = sampled["Current.Import"]  # per phase, rounded to 0.1 A
    assert sampled["Voltage"] == 230.0 and 0 < amps <= min(32.0, granted / (3 * 230)) + 0.05
    assert doc["car"]["soc_end"] > doc["car"]["soc_start"]


@pytest.mark.parametrize("hlc", ["iso2", "iso20"])
def test_ac_csms_limit(tmp_path: Path, capsys: pytest.CaptureFixture[str], hlc: str) -> None:
    code, doc, text = simulate(tmp_path, capsys, "--hlc", hlc, "--energy", "ac", "--scenario", "csms-limit")
    assert code == 0, text
    assert doc["csms_limit_w"] == 3000.0
    assert doc["power_after_limit_w"] <= 3000.0 * 1.001 < doc["peak_power_w"]
    requests = v2g_requests(doc)
    assert requests.count("PowerDeliveryReq") == 4  # Start, Renegotiate, Start, Stop
    if hlc == "iso20":
        pd = [i for i, r in enumerate(requests) if r == "PowerDeliveryReq"]
        assert "ScheduleExchangeReq" in requests[pd[1]:pd[2]]


def _responses(doc: dict[str, Any], name: str, direction: str = "evse->ev") -> list[tuple[float, Any]]:
    """The -20 messages called ``name`` (the SECC's, or the car's with ``ev->evse``), decoded from the V2GTP bytes
    of the JSON log."""
    from evcharge.iso15118.iso20 import decode_payload

    out = []
    for m in doc["v2gtp"]:
        if m["direction"] == direction and m["payload_type"] != 0x8001:
            message = decode_payload(m["payload_type"], bytes.fromhex(m["v2gtp_hex"])[8:])
            if type(message).__name__ == name:
                out.append((m["t"], message))
    return out


def _rational(r: Any) -> float:
    return float(r.value * 10 ** r.exponent)


@pytest.mark.parametrize("energy", ["dc", "ac"])
def test_iso20_dynamic_mode_csms_limit(tmp_path: Path, capsys: pytest.CaptureFixture[str], energy: str) -> None:
    """-20 dynamic control mode: the CSMS's new limit reaches the car in the next ChargeLoopRes (DC:
    EVSEMaximumChargePower; AC: EVSETargetActivePower), with no schedule renegotiation."""
    code, doc, text = simulate(tmp_path, capsys, "--hlc", "iso20", "--control", "dynamic", "--energy", energy,
                               "--scenario", "csms-limit")
    assert code == 0, text
    assert doc["control"] == "dynamic"
    limit = doc["csms_limit_w"]
    at = next(e["t"] for e in calls(doc, "SetChargingProfile (from the CSMS)") if e["request"]["id"] == 7)
    side = energy.upper()
    loop = _responses(doc, f"{side}_ChargeLoopRes")
    assert loop and all(getattr(m, f"dynamic_{energy}_cl_res_control_mode") is not None for _, m in loop)
    if energy == "dc":
        offered = [(t, _rational(m.dynamic_dc_cl_res_control_mode.evse_maximum_charge_power)) for t, m in loop]
    else:
        offered = [(t, _rational(m.dynamic_ac_cl_res_control_mode.evse_target_active_power)) for t, m in loop]
    assert max(w for t, w in offered if t < at) > limit
    assert all(w <= limit for t, w in offered if t > at) and any(t > at for t, _ in offered)
    assert doc["power_after_limit_w"] <= limit * 1.001
    requests = v2g_requests(doc)
    assert requests.count("PowerDeliveryReq") == 2 and requests.count("ScheduleExchangeReq") >= 1
    pd = [i for i, r in enumerate(requests) if r == "PowerDeliveryReq"]
    assert "ScheduleExchangeReq" not in requests[pd[0]:pd[1]]  # no renegotiation in dynamic mode


def test_not_built_yet_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    refused = (["--hlc", "iso2", "--energy", "dc-bpt"], ["--hlc", "din", "--payment", "pnc"],
               ["--hlc", "iso20", "--scenario", "pnc-install"],
               ["--hlc", "din", "--scenario", "pause-resume"], ["--hlc", "din", "--energy", "ac"],
               ["--hlc", "iso2", "--energy", "ac", "--scenario", "isolation-fault"],
               ["--hlc", "iso2", "--control", "dynamic"],
               ["--hlc", "iso2", "--keylog", "keys.txt"], ["--scenario", "pnc-install"],
               ["--hlc", "din", "--scenario", "rcd-fault"])
    for args in refused:
        assert main(["simulate", *args]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("evcharge simulate: ")


@pytest.mark.skipif(shutil.which("tshark") is None, reason="needs tshark (Debian package tshark)")
def test_pcap_dissected_by_tshark(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pcap = tmp_path / "session.pcap"
    code, doc, text = simulate(tmp_path, capsys, "--hlc", "din", "--scenario", "ev-stops-early", "--pcap", str(pcap))
    assert code == 0, text
    slac = subprocess.run(["tshark", "-r", str(pcap), "-Y", "homeplug-av", "-T", "fields", "-e", "_ws.col.Info"],
                          capture_output=True, text=True, check=True).stdout.split("\n")
    assert any("CM_SLAC_PARM.REQ" in line for line in slac) and any("CM_SLAC_MATCH.CNF" in line for line in slac)
    sdp = subprocess.run(["tshark", "-r", str(pcap), "-Y", "udp.port == 15118", "-T", "fields", "-e", "udp.payload"],
                         capture_output=True, text=True, check=True).stdout.split()
    assert sdp and sdp[0].startswith("01fe9000")  # V2GTP, SDP request
    follow = subprocess.run(["tshark", "-r", str(pcap), "-q", "-z", "follow,tcp,raw,0"],
                            capture_output=True, text=True, check=True).stdout
    ev_bytes, evse_bytes = b"", b""
    for line in follow.splitlines():
        if not line or line.startswith(("=", "Follow", "Filter", "Node")):
            continue
        if line.startswith("\t"):
            evse_bytes += bytes.fromhex(line.strip())
        else:
            ev_bytes += bytes.fromhex(line.strip())
    # the reassembled streams split into exactly the V2GTP messages of the JSON log, in order
    for stream, direction in ((ev_bytes, "ev->evse"), (evse_bytes, "evse->ev")):
        logged = [m["v2gtp_hex"] for m in doc["v2gtp"] if m["direction"] == direction]
        split, pos = [], 0
        while pos < len(stream):
            length = struct.unpack("!I", stream[pos + 4:pos + 8])[0]
            split.append(stream[pos:pos + 8 + length].hex())
            pos += 8 + length
        assert split == logged
        assert len(split) > 10


@pytest.mark.parametrize("hlc", ["iso2", "iso20"])
def test_pause_resume(tmp_path: Path, capsys: pytest.CaptureFixture[str], hlc: str) -> None:
    code, doc, text = simulate(tmp_path, capsys, "--hlc", hlc, "--scenario", "pause-resume")
    assert code == 0, text
    tx = [e["request"] for e in calls(doc, "TransactionEvent")]
    states = [e["transactionInfo"].get("chargingState") for e in tx]
    suspended = states.index("SuspendedEV")
    assert "Charging" in states[suspended:]  # charging again after the pause, in the same transaction
    assert sum(e["eventType"] == "Started" for e in tx) == 1 and tx[-1]["eventType"] == "Ended"
    # two V2G connections: SupportedAppProtocol twice (payload type 0x8001 first message of each is SAP 0x8001)
    if hlc == "iso20":  # -20 messages have their own payload types: 0x8001 is SupportedAppProtocol
        setups = [m for m in doc["v2gtp"] if m["direction"] == "ev->evse" and m["payload_type"] == 0x8001]
    else:
        setups = [m for m in doc["v2gtp"] if m["direction"] == "ev->evse" and m["v2gtp_hex"][16:20] == "8000"]
    assert len(setups) == 2


def test_plot(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("matplotlib")
    png = tmp_path / "session.png"
    code, _doc, text = simulate(tmp_path, capsys, "--hlc", "din", "--scenario", "ev-stops-early", "--plot", str(png))
    assert code == 0, text
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plug_and_charge_over_tls(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("cryptography")
    keylog, pcap = tmp_path / "keys.txt", tmp_path / "pnc.pcap"
    code, doc, text = simulate(tmp_path, capsys, "--hlc", "iso2", "--payment", "pnc", "--scenario", "ev-stops-early",
                               "--keylog", str(keylog), "--pcap", str(pcap))
    assert code == 0, text
    authorize = calls(doc, "Authorize")[0]["request"]
    assert authorize["idToken"]["type"] == "eMAID"
    assert authorize["iso15118CertificateHashData"][0]["hashAlgorithm"] == "SHA256"
    assert "PaymentDetailsReq" in v2g_requests(doc)  # the contract chain went to the SECC
    # the key log has the TLS secrets (NSS key log format), and the pcap carries TLS, not V2GTP in the clear
    assert any(line.split()[0] in ("CLIENT_RANDOM", "CLIENT_TRAFFIC_SECRET_0", "SERVER_TRAFFIC_SECRET_0")
               for line in keylog.read_text().splitlines())
    if shutil.which("tshark") is not None:
        out = subprocess.run(["tshark", "-r", str(pcap), "-d", "tcp.port==50000,tls", "-Y", "tls",
                              "-T", "fields", "-e", "tls.record.content_type"],
                             capture_output=True, text=True, check=True).stdout.split()
        assert out and any("22" in x for x in out) and any("23" in x for x in out)  # handshake + application data


@pytest.mark.parametrize("hlc", ["iso2", "iso20"])
def test_pnc_install_through_the_csms(tmp_path: Path, capsys: pytest.CaptureFixture[str], hlc: str) -> None:
    """No contract in the car: its CertificateInstallationReq goes through the SECC and the charge point to the
    embedded CSMS (OCPP 2.0.1 Get15118EVCertificate, the schema namespace of the session's protocol), whose
    contract provider issues a contract for a fresh eMAID; the car then authorizes with that contract."""
    pytest.importorskip("cryptography")
    code, doc, text = simulate(tmp_path, capsys, "--hlc", hlc, "--payment", "pnc", "--scenario", "pnc-install",
                               "--duration", "10s")
    assert code == 0, text
    requests = v2g_requests(doc)
    # -2: the contract chain goes in PaymentDetailsReq; -20: in AuthorizationReq (PnC_AReqAuthorizationMode)
    paid = "PaymentDetailsReq" if hlc == "iso2" else "AuthorizationReq"
    assert requests.index("CertificateInstallationReq") < requests.index(paid)
    got = calls(doc, "Get15118EVCertificate")
    assert len(got) == 1
    namespace = {"iso2": "urn:iso:15118:2:2013:MsgDef", "iso20": "urn:iso:std:iso:15118:-20:CommonMessages"}[hlc]
    assert got[0]["request"]["iso15118SchemaVersion"] == namespace
    assert got[0]["request"]["action"] == "Install" and got[0]["answer"]["status"] == "Accepted"
    assert len(got[0]["answer"]["exiResponse"]) <= 7500  # OCPP 2.0.1 exiResponse maxLength
    authorize = calls(doc, "Authorize")[0]
    assert doc["ocpp"].index(authorize) > doc["ocpp"].index(got[0])
    token = authorize["request"]["idToken"]
    # the eMAID of the contract just issued (the provider's DE-EVC prefix), not one the car had before
    assert token["type"] == "eMAID" and token["idToken"].replace("-", "").startswith("DEEVC")
    assert authorize["request"]["iso15118CertificateHashData"]
    assert doc["transaction"]["energy_wh"] > 0
    assert doc["csms_transactions"][0]["id_token"] == token["idToken"]


def test_iso20_plug_and_charge_over_tls13(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """ISO 15118-20 Plug & Charge: TLS 1.3 with mutual authentication (the car's OEM provisioning chain), the
    contract in AuthorizationReq, its eMAID and certificate hash data in OCPP Authorize."""
    pytest.importorskip("cryptography")
    keylog = tmp_path / "keys.txt"
    code, doc, text = simulate(tmp_path, capsys, "--hlc", "iso20", "--payment", "pnc", "--scenario",
                               "ev-stops-early", "--keylog", str(keylog))
    assert code == 0, text
    assert doc["tls"]["version"] == "TLSv1.3" and doc["tls"]["car_certificates"] >= 1
    requests = v2g_requests(doc)
    assert "AuthorizationReq" in requests and "CertificateInstallationReq" not in requests
    authorize = calls(doc, "Authorize")[0]["request"]
    assert authorize["idToken"]["type"] == "eMAID"
    assert authorize["iso15118CertificateHashData"][0]["hashAlgorithm"] == "SHA256"
    assert not calls(doc, "Get15118EVCertificate")
    # TLS 1.3 secrets in the NSS key log format
    labels = {line.split()[0] for line in keylog.read_text().splitlines() if line.strip()}
    assert {"CLIENT_TRAFFIC_SECRET_0", "SERVER_TRAFFIC_SECRET_0"} <= labels
    assert doc["transaction"]["stopped_reason"] == "StoppedByEV" and doc["transaction"]["energy_wh"] > 0


def test_live_progress_and_quiet(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Without --quiet: a header, the manager's phases each on a line of their own, the end; --quiet: nothing on
    stderr."""
    assert main(["simulate", "--hlc", "iso2", "--scenario", "ev-stops-early"]) == 0
    err = capsys.readouterr().err.splitlines()
    assert err[0].lstrip().startswith("sim time  state")
    phases = [line.split()[-1] for line in err if line.startswith("  -- ") and "->" in line]
    assert phases[:4] == ["v2g", "cable_check", "pre_charge", "charging"] and phases[-1] == "available"
    assert err[-1].split()[1] == "available" and err[-1].split()[-1] == "SessionStopReq"
    assert main(["simulate", "--hlc", "iso2", "--scenario", "ev-stops-early", "--quiet"]) == 0
    assert capsys.readouterr().err == ""


def test_live_progress_once_per_wall_second() -> None:
    import io

    from evcharge.charger import EvseManagerConfig
    from evcharge.charger.sim.bench import Bench
    from evcharge.charger.sim.car import CarConfig
    from evcharge.sim.hlc_live import HlcProgress

    wall = [0.0]
    out = io.StringIO()
    live = HlcProgress(out, clock=lambda: wall[0])
    bench = Bench(EvseManagerConfig(free_charging=True), CarConfig(protocol="din", charge_seconds=5.0))
    bench.plug_in()
    lines_at = []
    for _ in range(200):
        bench.step(until=30.0)
        before = out.getvalue().count("\n")
        live(bench)
        if any(not x.startswith("  --") for x in out.getvalue().splitlines()[before:]):
            lines_at.append(wall[0])
        wall[0] += 0.25  # each step takes a quarter of a wall second here
    gaps = [b - a for a, b in itertools.pairwise(lines_at)]
    assert lines_at and max(gaps) <= 1.0 and min(gaps) >= 1.0  # one line per wall second, not per step


def _require_root_and_ip() -> None:
    problem = None
    if shutil.which("ip") is None:
        problem = "iproute2 (ip) is not installed"
    elif os.geteuid() != 0:
        problem = "network namespaces need root"
    if problem:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"netns test cannot run in CI: {problem}")
        pytest.skip(problem)


def _namespaces() -> set[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
    return {line.split()[0] for line in out.splitlines() if line.startswith("evcharge-")}


@pytest.mark.netns
@pytest.mark.parametrize(("hlc", "payment"), [("din", "eim"), ("iso20", "pnc")])
def test_over_a_veth_pair(tmp_path: Path, capsys: pytest.CaptureFixture[str], hlc: str, payment: str) -> None:
    """--iface: SLAC over raw Ethernet, SDP on ff02::1, V2G over TCP (-20 Plug & Charge: TLS 1.3) between two
    network namespaces, in real time; the namespaces are gone afterwards."""
    _require_root_and_ip()
    before = _namespaces()
    pcap = tmp_path / "veth.pcap"
    code, doc, text = simulate(tmp_path, capsys, "--hlc", hlc, "--payment", payment, "--duration", "2",
                               "--iface", "eth0", "--pcap", str(pcap))
    assert code == 0, text
    link = doc["link"]
    assert link["kind"] == "veth pair" and link["iface"] == "eth0"
    # SLAC on the wire: the car's CM_SLAC_PARM.REQ, 3 START_ATTEN_CHAR.IND, its M-sounds, CM_SLAC_MATCH.REQ; the
    # charger's answers (the emulated modems answer CM_SET_KEY in each namespace)
    assert link["slac_frames_sent"]["ev"] >= 5 and link["slac_frames_sent"]["evse"] >= 3
    assert link["sdp_requests"] >= 1
    requests = v2g_requests(doc)
    assert requests[0] == "SessionSetupReq" and requests[-1] == "SessionStopReq"
    if payment == "pnc":
        assert doc["tls"]["version"] == "TLSv1.3" and doc["tls"]["car_certificates"] >= 1
        assert calls(doc, "Authorize")[0]["request"]["idToken"]["type"] == "eMAID"
    assert doc["transaction"]["stopped_reason"] == "StoppedByEV" and doc["transaction"]["energy_wh"] > 0
    charging = [e["t"] for e in calls(doc, "TransactionEvent")
                if e["request"]["transactionInfo"].get("chargingState") == "Charging"]
    assert doc["virtual_seconds"] - charging[0] >= 2.0  # the real clock: the driver stops after 2 s of charging
    assert _namespaces() == before
    if shutil.which("tshark") is None:
        return
    # --pcap is a real capture of the charger's end of the veth pair: SLAC, SDP, and the V2G TCP stream, which
    # carries exactly the V2GTP messages of the JSON log (EIM) or TLS records (Plug & Charge)
    def fields(display_filter: str, field: str, *extra: str) -> list[str]:
        return subprocess.run(["tshark", "-r", str(pcap), *extra, "-Y", display_filter, "-T", "fields", "-e", field],
                              capture_output=True, text=True, check=True).stdout.split("\n")
    slac = fields("homeplug-av", "_ws.col.Info")
    assert any("CM_SLAC_PARM.REQ" in x for x in slac) and any("CM_SLAC_MATCH.CNF" in x for x in slac)
    assert any(x.startswith("01fe9000") for x in fields("udp.port == 15118", "udp.payload"))
    if payment == "pnc":
        info = fields("tls", "_ws.col.Info", "-d", f"tcp.port=={_secc_port(pcap)},tls")
        assert any("Client Hello" in x for x in info) and any("Application Data" in x for x in info)
        return
    ev_bytes = bytes.fromhex("".join(fields(f"tcp.len > 0 && tcp.dstport == {_secc_port(pcap)}", "tcp.payload")))
    assert ev_bytes.hex() == "".join(m["v2gtp_hex"] for m in doc["v2gtp"] if m["direction"] == "ev->evse")


def _secc_port(pcap: Path) -> int:
    """The SECC's TCP port, from the SDP answer in the capture (V2GTP header, 16-byte address, 2-byte port)."""
    out = subprocess.run(["tshark", "-r", str(pcap), "-Y", "udp.srcport == 15118", "-T", "fields", "-e", "udp.payload"],
                         capture_output=True, text=True, check=True).stdout.split()
    return int(out[0][8 * 2 + 32:8 * 2 + 36], 16)


def test_iface_refusals(capsys: pytest.CaptureFixture[str]) -> None:
    for args in (["--iface", "a/b"], ["--iface", "sixteen-letters!"], ["--iface", ""]):
        iface = [] if "--iface" in args else ["--iface", "eth0"]
        assert main(["simulate", "--hlc", "iso2", *iface, *args]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("evcharge simulate: ")


def test_ocpp16_dc_session(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--hlc with --ocpp 1.6: the same EVSE manager on a 1.6 charge point; the core and the transaction manager
    write the 1.6 messages (StartTransaction once authorized, StopTransaction with the CSMS's transactionId), and
    without NotifyEVChargingNeeds (2.x only) the SECC offers the charger's own limits."""
    code, doc, text = simulate(tmp_path, capsys, "--hlc", "iso2", "--ocpp", "1.6", "--scenario", "dc-normal")
    assert code == 0, text
    start = calls(doc, "StartTransaction")[0]
    assert start["request"]["idTag"] == "04A2B3C4D5" and start["answer"]["idTagInfo"]["status"] == "Accepted"
    stop = calls(doc, "StopTransaction")[0]["request"]
    assert stop["transactionId"] == start["answer"]["transactionId"] and stop["meterStop"] > 0
    assert not calls(doc, "NotifyEVChargingNeeds") and not calls(doc, "TransactionEvent")
    statuses = [c["request"]["status"] for c in calls(doc, "StatusNotification")]
    assert "Charging" in statuses and statuses[-1] == "Available"
    assert doc["transaction"]["id"] == str(start["answer"]["transactionId"])
    assert doc["csms_transactions"] and doc["csms_transactions"][0]["ended_t"] is not None


def test_ocpp16_csms_limit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """1.6 SetChargingProfile (csChargingProfiles, a TxProfile of the running transaction) becomes the SECC's
    limit."""
    code, doc, text = simulate(tmp_path, capsys, "--hlc", "iso2", "--ocpp", "1.6", "--scenario", "csms-limit")
    assert code == 0, text
    got = calls(doc, "SetChargingProfile (from the CSMS)")
    assert got and got[-1]["answer"]["status"] == "Accepted"
    assert doc["power_after_limit_w"] <= doc["csms_limit_w"] * 1.01


def pnc16(doc: dict[str, Any], message_id: str) -> list[tuple[dict[str, Any], dict[str, Any] | None]]:
    """The OCA application note's DataTransfer calls of ``message_id`` in the JSON log: (2.0.1 request, 2.0.1
    response of an Accepted answer or ``None``); each outer message valid for 1.6, each inner one for 2.0.1."""
    from evcharge.ocpp import v16, v201
    from evcharge.ocpp.functions.application import PNC_VENDOR_ID

    out = []
    for e in calls(doc, "DataTransfer"):
        assert v16.validate("DataTransfer", "request", e["request"]) == []
        if e["answer"] is not None:
            assert v16.validate("DataTransfer", "response", e["answer"]) == []
        if e["request"]["vendorId"] != PNC_VENDOR_ID or e["request"].get("messageId") != message_id:
            continue
        request = json.loads(e["request"]["data"])
        assert v201.validate(message_id, "request", request) == []
        response = None
        if e["answer"] is not None and e["answer"]["status"] == "Accepted":
            response = json.loads(e["answer"]["data"])
            assert v201.validate(message_id, "response", response) == []
        out.append((request, response))
    return out


@pytest.mark.parametrize("install", [False, True], ids=["contract", "pnc-install"])
@pytest.mark.parametrize("hlc", ["iso2", "iso20"])
def test_ocpp16_plug_and_charge_through_data_transfer(tmp_path: Path, capsys: pytest.CaptureFixture[str], hlc: str,
                                                      install: bool) -> None:
    """--ocpp 1.6 --payment pnc: the OCA application note "Using ISO 15118 Plug & Charge with OCPP 1.6" --
    the 2.0.1 Authorize (eMAID, certificate hash data) and, with pnc-install, Get15118EVCertificate go as
    DataTransfer (vendorId org.openchargealliance.iso15118pnc, messageId the 2.0.1 action, data the JSON text of
    the 2.0.1 payload), answered by the embedded reference CSMS in the Accepted answer's data; no plain
    Authorize; the eMAID is the StartTransaction idTag."""
    pytest.importorskip("cryptography")
    scenario = ("--scenario", "pnc-install", "--duration", "10s") if install else ("--scenario", "ev-stops-early")
    code, doc, text = simulate(tmp_path, capsys, "--hlc", hlc, "--ocpp", "1.6", "--payment", "pnc", *scenario)
    assert code == 0, text
    ((authorize, verdict),) = pnc16(doc, "Authorize")
    token = authorize["idToken"]
    assert token["type"] == "eMAID" and authorize["iso15118CertificateHashData"][0]["hashAlgorithm"] == "SHA256"
    assert verdict is not None and verdict["idTokenInfo"]["status"] == "Accepted"
    assert not calls(doc, "Authorize")
    (start,) = calls(doc, "StartTransaction")
    assert start["request"]["idTag"] == token["idToken"] and len(token["idToken"]) <= 20  # 1.6 CiString20
    installs = pnc16(doc, "Get15118EVCertificate")
    if install:
        ((request, response),) = installs
        namespace = {"iso2": "urn:iso:15118:2:2013:MsgDef", "iso20": "urn:iso:std:iso:15118:-20:CommonMessages"}[hlc]
        assert request["iso15118SchemaVersion"] == namespace and request["action"] == "Install"
        assert response is not None and response["status"] == "Accepted"
        # the eMAID of the contract just issued (the provider's DE-EVC prefix), after the installation
        assert token["idToken"].replace("-", "").startswith("DEEVC")
        order = [e["request"].get("messageId") for e in calls(doc, "DataTransfer")]
        assert order.index("Get15118EVCertificate") < order.index("Authorize")
    else:
        assert installs == []
    assert doc["transaction"]["energy_wh"] > 0


@pytest.mark.parametrize("version", ["2.0.1", "1.6"])
def test_csms_offline_during_a_dc_session(tmp_path: Path, capsys: pytest.CaptureFixture[str], version: str) -> None:
    """The link to the CSMS is cut in the charge loop and restored later: the transaction messages made meanwhile
    wait in the offline queue and reach the CSMS in order once the link is back (2.0.1 E04 / 1.6 4.7: offline
    TransactionEvents carry offline=true, seqNo without gaps; 1.6 MeterValues of the transaction)."""
    code, doc, text = simulate(tmp_path, capsys, "--hlc", "iso2", "--ocpp", version, "--scenario", "csms-offline")
    assert code == 0, text
    if version == "2.0.1":
        sent = [e["request"] for e in calls(doc, "TransactionEvent") if e.get("answer") is not None]
        assert [e["seqNo"] for e in sent] == list(range(len(sent)))
        offline = [e for e in sent if e.get("offline")]
        assert offline and all(e["eventType"] == "Updated" for e in offline)
        assert sent[-1]["eventType"] == "Ended"
    else:
        assert calls(doc, "StopTransaction")[0]["answer"] is not None
    assert doc["csms_transactions"][0]["ended_t"] is not None


@pytest.mark.parametrize("args", [
    ("--hlc", "iso20", "--energy", "ac", "--control", "dynamic"),
    ("--hlc", "iso20", "--control", "dynamic"),
    ("--hlc", "iso20", "--energy", "dc-bpt"),
    ("--hlc", "iso2", "--energy", "ac"),
    ("--hlc", "iso20", "--payment", "pnc"),
    ("--hlc", "iso2", "--scenario", "pause-resume"),
], ids=lambda a: "-".join(x.lstrip("-") for x in a[1:]))
def test_ocpp16_combinations(tmp_path: Path, capsys: pytest.CaptureFixture[str], args: tuple[str, ...]) -> None:
    """The EVSE manager's inputs do not depend on the OCPP version: every combination runs on a 1.6 charge point
    too (limits without NotifyEVChargingNeeds, Plug & Charge identified by the eMAID as idTag)."""
    code, doc, text = simulate(tmp_path, capsys, *args, "--ocpp", "1.6")
    assert code == 0, text
    assert doc["transaction"]["energy_wh"] > 0
    start = calls(doc, "StartTransaction")
    assert len(start) == 1 and calls(doc, "StopTransaction")[0]["request"]["transactionId"] == \
        start[0]["answer"]["transactionId"]
    if "pnc" in args:
        # the OCA application note: the eMAID in the DataTransfer Authorize (no plain Authorize)
        ((authorize, _),) = pnc16(doc, "Authorize")
        emaid = authorize["idToken"]["idToken"]
        assert not calls(doc, "Authorize")
        assert start[0]["request"]["idTag"] == emaid and len(emaid) <= 20  # 1.6 IdToken: CiString20


def test_dynamic_bpt(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--control dynamic --energy dc-bpt: the charger decides the direction (one PowerDelivery Start, no
    renegotiation); the site's setpoint half-way turns the current negative and the car gives energy back."""
    code, doc, text = simulate(tmp_path, capsys, "--hlc", "iso20", "--energy", "dc-bpt", "--control", "dynamic")
    assert code == 0, text
    names = [x["name"] for x in doc["v2g_trace"] if x["direction"] == "rx"]
    assert names.count("PowerDeliveryReq") == 2 and "ScheduleExchangeReq" in names  # Start and Stop only
    assert doc["transaction"]["energy_returned_wh"] > 0 and doc["peak_discharge_w"] > 0


@pytest.mark.netns
def test_namespaces_of_a_killed_run_are_deleted() -> None:
    """A run killed with SIGKILL cannot delete its namespaces; the next --iface run deletes those whose process is
    gone, and leaves a live process's alone."""
    _require_root_and_ip()
    from evcharge.sim.hlc_net import NetNamespaces

    dead = subprocess.Popen(["true"])
    dead.wait()  # a process that has ended: the namespace named after it is stale
    stale = f"evcharge-ev-{dead.pid}"
    alive = subprocess.Popen(["sleep", "30"])
    mine = f"evcharge-ev-{alive.pid}"
    try:
        for ns in (stale, mine):
            subprocess.run(["ip", "netns", "add", ns], check=True)
        with NetNamespaces("eth0") as made:
            left = _namespaces()
        assert stale not in left and mine in left
        assert {made.evse, made.ev} <= left  # this run's own
    finally:
        alive.kill()
        alive.wait()
        for ns in (stale, mine):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
