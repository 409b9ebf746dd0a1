"""``evcharge v2g secc|evcc --protocol iso20 --energy wpt``: a whole wireless session between the two commands, over
SDP + TCP on ::1 in a network namespace of its own. Checked on the wire: the flow of ISO 15118-20:2022
§8.6.4.5.3.4 / §8.6.4.6.3.4 (WPT_FinePositioningSetup right after SessionSetup [V2G20-5042], fine positioning and
pairing before AuthorizationSetup, WPT_ChargeParameterDiscovery after ServiceSelection [V2G20-5041], the alignment
check after ScheduleExchange [V2G20-5045], WPT_ChargeLoop, PowerDelivery(Stop), SessionStop [V2G20-5094]) and the
WPT messages in V2GTP payload type 0x8006."""

from __future__ import annotations

from pathlib import Path

from .test_cli import _check_sdp_and_sap, run_pair


def test_whole_wpt_session_between_the_commands(lo: list[str], tmp_path: Path) -> None:
    secc_rc, evcc_rc, car, charger = run_pair(
        lo, tmp_path, ["--energy", "wpt"], ["--energy", "wpt", "--control", "dynamic", "--loops", "3"]
    )
    assert (secc_rc, evcc_rc) == (0, 0)
    (session,) = charger
    assert car["normal"] and session["normal"] and car["energy"] == session["energy"] == "wpt"
    assert session["app_protocol"] == "ISO20_WPT" and car["control"] == "dynamic"
    _check_sdp_and_sap(car, session, "WPT")
    v2g = [m for m in car["messages"] if m["layer"] == "v2g"]
    names = [m["name"] for m in v2g]
    assert [m["name"] for m in session["messages"] if m["layer"] == "v2g"] == names
    requests = [n for n in names if n.endswith("Req")]
    first = list(dict.fromkeys(requests))  # each request's first appearance, in order
    assert first == [
        "SessionSetupReq",
        "WPT_FinePositioningSetupReq",
        "WPT_FinePositioningReq",
        "WPT_PairingReq",
        "AuthorizationSetupReq",
        "AuthorizationReq",
        "ServiceDiscoveryReq",
        "ServiceDetailReq",
        "ServiceSelectionReq",
        "WPT_ChargeParameterDiscoveryReq",
        "ScheduleExchangeReq",
        "WPT_AlignmentCheckReq",
        "PowerDeliveryReq",
        "WPT_ChargeLoopReq",
        "SessionStopReq",
    ]
    assert requests[-2:] == ["PowerDeliveryReq", "SessionStopReq"] and requests.count("WPT_ChargeLoopReq") >= 3
    for m in v2g:
        assert m["payload_type"] == (0x8006 if m["name"].startswith("WPT_") else 0x8002), m["name"]
    # each step goes on until Finished; the pad grants the car's power within its 11 kW
    for step in ("WPT_FinePositioningRes", "WPT_PairingRes", "WPT_AlignmentCheckRes"):
        answers = [m["message"][step]["EVSEProcessing"] for m in v2g if m["name"] == step]
        assert answers[-1] == "Finished" and set(answers[:-1]) <= {"Ongoing"}
    loop = next(m for m in v2g if m["name"] == "WPT_ChargeLoopRes")["message"]["WPT_ChargeLoopRes"]
    assert loop["ResponseCode"] == "OK"
