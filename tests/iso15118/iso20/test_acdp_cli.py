"""``evcharge v2g secc|evcc --protocol iso20 --energy acdp``: a whole ACDP session (DC through a pantograph) between
the two commands, over SDP + TCP on ::1 in a network namespace of its own. What is checked is the message flow of
ISO 15118-20:2022 §8.6.4.6.3.5 on the wire: ACDP_VehiclePositioning right after SessionSetup ([V2G20-4067]),
ACDP_Connect after ScheduleExchange and before DC_CableCheck ([V2G20-4070]), ACDP_Disconnect after
PowerDelivery(Stop) ([V2G20-4073]) and no DC_WeldingDetection; the ACDP messages in V2GTP payload type 0x8005."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from ..conftest import CMD
from .test_cli import _check_sdp_and_sap, run_pair


def v2g(side: dict) -> list[dict]:
    return [m for m in side["messages"] if m["layer"] == "v2g"]


@pytest.mark.parametrize(
    ("energy", "extra"), [("acdp", []), ("acdp-bpt", ["--discharge", "--control", "dynamic"])], ids=["acdp", "acdp-bpt"]
)
def test_whole_acdp_session_between_the_commands(lo: list[str], tmp_path: Path, energy: str, extra: list[str]) -> None:
    secc_rc, evcc_rc, car, charger = run_pair(
        lo, tmp_path, ["--energy", energy], ["--energy", energy, "--loops", "3", *extra]
    )
    assert (secc_rc, evcc_rc) == (0, 0)
    (session,) = charger
    assert car["normal"] and session["normal"] and car["energy"] == session["energy"] == energy
    assert session["app_protocol"] == "ISO20_ACDP"
    # SupportedAppProtocol offers and agrees the ACDP namespace
    _check_sdp_and_sap(car, session, "ACDP")
    names = [m["name"] for m in v2g(car)]
    # each channel in the same order on both sides (the two channels interleave as they happen to)
    for channel in (lambda n: n.startswith("ACDP_SystemStatus"), lambda n: not n.startswith("ACDP_SystemStatus")):
        assert [m["name"] for m in v2g(session) if channel(m["name"])] == [n for n in names if channel(n)]
    requests = [n for n in names if n.endswith("Req") and not n.startswith("ACDP_SystemStatus")]
    assert requests[:2] == ["SessionSetupReq", "ACDP_VehiclePositioningReq"]  # [V2G20-4067]
    i = requests.index("ScheduleExchangeReq")
    assert requests[i + 1] == "ACDP_ConnectReq"  # [V2G20-4070]
    connects = requests.count("ACDP_ConnectReq")
    assert connects >= 2 and requests[i + 1 + connects] == "DC_CableCheckReq"  # Ongoing while it moves
    stop = len(requests) - 1 - requests[::-1].index("PowerDeliveryReq")
    disconnects = requests[stop + 1 : -1]
    assert disconnects and set(disconnects) == {"ACDP_DisconnectReq"}  # [V2G20-4073], until home
    assert requests[-1] == "SessionStopReq" and "DC_WeldingDetectionReq" not in requests
    assert requests.count("DC_ChargeLoopReq") >= 3
    for m in v2g(car):  # ACDP schema: 0x8005 (its system status: 0x8103); DC: 0x8004; CommonMessages: 0x8002
        name = m["name"]
        expected = 0x8103 if name.startswith("ACDP_SystemStatus") else 0x8005 if name.startswith("ACDP_") else 0
        assert m["payload_type"] == (expected or (0x8004 if name.startswith("DC_") else 0x8002)), name
    # the simulated bus asks the system status once the pantograph is down: answered beside the session
    status = [m for m in v2g(car) if m["name"].startswith("ACDP_SystemStatus")]
    assert [(m["dir"], m["name"]) for m in status] == [
        ("send", "ACDP_SystemStatusReq"),
        ("recv", "ACDP_SystemStatusRes"),
    ]
    answer = status[1]["message"]["ACDP_SystemStatusRes"]
    assert answer["ResponseCode"] == "OK" and answer["EVSEMechanicalChargingDeviceStatus"] == "EndPosition"
    assert answer["EVSEReadyToCharge"] is True and answer["EVSEIsolationStatus"] == "Safe"
    assert status[0]["message"]["ACDP_SystemStatusReq"]["EVTechnicalStatus"]["EVReadyToCharge"] is True
    selection = next(m for m in v2g(car) if m["name"] == "ServiceSelectionReq")["message"]["ServiceSelectionReq"]
    service = selection["SelectedEnergyTransferService"]
    assert service["ServiceID"] == (7 if energy == "acdp-bpt" else 4)  # DC_ACDP_BPT / DC_ACDP (Table 204)
    if extra:
        pd = next(m for m in v2g(car) if m["name"] == "PowerDeliveryReq")["message"]["PowerDeliveryReq"]
        assert pd["BPT_ChannelSelection"] == "Discharge"
    # the last ACDP_DisconnectRes says Finished with the pantograph home; the Connect ones end at its end position
    last = next(m for m in reversed(v2g(car)) if m["name"] == "ACDP_DisconnectRes")["message"]["ACDP_DisconnectRes"]
    assert (last["EVSEProcessing"], last["EVSEMechanicalChargingDeviceStatus"]) == ("Finished", "Home")
    down = [m["message"]["ACDP_ConnectRes"] for m in v2g(car) if m["name"] == "ACDP_ConnectRes"]
    assert [d["EVSEProcessing"] for d in down] == ["Ongoing"] * (connects - 1) + ["Finished"]
    assert down[-1]["EVSEMechanicalChargingDeviceStatus"] == "EndPosition"


def test_acdp_is_an_iso20_energy() -> None:
    for args in (
        ["evcc", "--protocol", "iso2", "--energy", "acdp"],
        ["secc", "--protocols", "din", "--energy", "acdp"],
    ):
        proc = subprocess.run([*CMD, "v2g", *args], capture_output=True, text=True, timeout=30)
        assert proc.returncode == 2 and "ISO 15118-20 options" in proc.stderr and "Traceback" not in proc.stderr
