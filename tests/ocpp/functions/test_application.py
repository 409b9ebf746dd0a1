"""The charge point's boot as a sans-I/O core, driven without sockets: pending, rejected, offline, reconnect.

Expected behaviour from OCPP 2.0.1 B02/B03 (Pending / Rejected: send BootNotification again after the
``interval`` of the answer) and OCPP 1.6 section 4.2 (the same, and no other messages before Accepted).
"""

from __future__ import annotations

import pytest

from evcharge.ocpp.functions.application import (
    BootAccepted,
    BootConfig,
    BootCore,
    BootState,
    CallAnswered,
    CallFailed,
    Connected,
    Disconnected,
    MakeCall,
)
from evcharge.ocpp.functions.errors import FunctionsLocalError
from evcharge.sansio import Core

PAYLOAD = {"reason": "PowerUp", "chargingStation": {"model": "m", "vendorName": "v"}}


def answer(status: str, interval: int = 0) -> CallAnswered:
    return CallAnswered(action="BootNotification",
                        response={"status": status, "interval": interval, "currentTime": "2024-05-01T12:00:00Z"})


def boots(core: BootCore) -> int:
    n = 0
    while (ev := core.next_event()) is not None:
        assert ev == MakeCall(action="BootNotification", payload=PAYLOAD)
        n += 1
    return n


def test_it_is_a_core() -> None:
    assert isinstance(BootCore(BootConfig(payload=PAYLOAD)), Core)


def test_pending_then_accepted() -> None:
    core = BootCore(BootConfig(payload=PAYLOAD))
    assert core.state is BootState.OFFLINE and core.get_timer() is None and not core.accepted
    core.send(Connected(), 100.0)
    assert boots(core) == 1 and core.state is BootState.BOOTING
    core.send(answer("Pending", 30), 100.5)
    assert core.state is BootState.WAITING and core.get_timer() == 130.5 and not core.accepted
    core.handle_timer(130.4)
    assert boots(core) == 0  # not yet
    core.handle_timer(130.5)
    assert boots(core) == 1
    core.send(answer("Accepted", 300), 131.0)
    assert core.next_event() == BootAccepted(interval=300) and core.accepted and core.get_timer() is None
    core.send(Disconnected(), 200.0)
    core.send(Connected(), 210.0)
    assert boots(core) == 0 and core.accepted  # accepted once for the life of the process


def test_rejected_without_interval_uses_the_configured_retry() -> None:
    core = BootCore(BootConfig(payload=PAYLOAD, retry_interval=7.0))
    core.send(Connected(), 0.0)
    boots(core)
    core.send(answer("Rejected"), 1.0)
    assert core.get_timer() == 8.0 and not core.accepted


def test_lost_connection_while_waiting_boots_again_on_the_next_one() -> None:
    core = BootCore(BootConfig(payload=PAYLOAD))
    core.send(Connected(), 0.0)
    boots(core)
    core.send(answer("Pending", 60), 1.0)
    core.send(Disconnected(), 5.0)
    assert core.state is BootState.OFFLINE and core.get_timer() is None
    core.handle_timer(61.0)
    assert boots(core) == 0  # no call while offline
    core.send(Connected(), 70.0)
    assert boots(core) == 1


def test_failed_call_waits_for_the_next_connection() -> None:
    core = BootCore(BootConfig(payload=PAYLOAD))
    core.send(Connected(), 0.0)
    boots(core)
    core.send(CallFailed(action="BootNotification", reason="timeout"), 30.0)
    assert core.state is BootState.OFFLINE and core.get_timer() is None and boots(core) == 0


def test_misuse_is_refused() -> None:
    core = BootCore(BootConfig(payload=PAYLOAD))
    with pytest.raises(FunctionsLocalError):
        core.send(answer("Accepted"), 0.0)  # no call was made
    core.send(Connected(), 0.0)
    with pytest.raises(FunctionsLocalError):
        core.send(Connected(), 0.0)  # connected twice


# ------------------------------------------------------------- StopTxOnInvalidId (1.6 StopTransactionOnInvalidId)


def test_token_verdict_16_start_transaction() -> None:
    from evcharge.ocpp.functions.application import token_verdict

    payload = {"connectorId": 1, "idTag": "UNKNOWN", "meterStart": 0, "timestamp": "2024-05-01T12:00:00Z"}
    refused = {"transactionId": 7, "idTagInfo": {"status": "Invalid"}}
    verdict = token_verdict("1.6", "StartTransaction", payload, refused, stop_tx_on_invalid_id=True)
    assert verdict is not None and verdict.token == "UNKNOWN" and verdict.stop
    assert token_verdict("1.6", "StartTransaction", payload, refused, stop_tx_on_invalid_id=False).stop is False  # type: ignore[union-attr]
    # 1.6 MeterValues / StopTransaction answers carry no verdict that can stop a transaction
    assert token_verdict("1.6", "MeterValues", payload, {}, stop_tx_on_invalid_id=True) is None


def test_token_verdict_201_transaction_event() -> None:
    from evcharge.ocpp.functions.application import token_verdict

    token = {"idToken": "04A1B2", "type": "ISO14443"}
    payload = {"eventType": "Started", "idToken": token}
    accepted = token_verdict("2.0.1", "TransactionEvent", payload, {"idTokenInfo": {"status": "Accepted"}},
                             stop_tx_on_invalid_id=True)
    assert accepted is not None and not accepted.stop and accepted.token == token
    blocked = token_verdict("2.0.1", "TransactionEvent", payload, {"idTokenInfo": {"status": "Blocked"}},
                            stop_tx_on_invalid_id=True)
    assert blocked is not None and blocked.stop
    assert token_verdict("2.0.1", "TransactionEvent", payload, {}, stop_tx_on_invalid_id=True) is None
