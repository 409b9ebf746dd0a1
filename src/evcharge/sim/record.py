"""The session's event log: what happened, when (simulated seconds), as plain JSON-ready records."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["FAULT_NAMES", "EventLog", "describe"]

#: The board's error kinds in words (the Yeti's names, as :class:`evcharge.bsp.events.BoardErrorKind` values).
FAULT_NAMES = {
    "MREC2GroundFailure": "RCD tripped (residual current)",
    "MREC4OverCurrentFailure": "over-current",
    "MREC17EVSEContactorFault": "contactor fault (welded relay)",
    "DiodeFault": "the car's pilot diode is missing",
    "VentilationNotAvailable": "the car asks for ventilation (state D)",
    "RCDSelftestFailed": "the RCD self-test failed",
    "MREC14PilotFault": "control pilot fault",
    "MREC1ConnectorLockFailure": "connector lock failure",
    "CommunicationFault": "the board stopped answering",
}


@dataclass(slots=True)
class EventLog:
    """An append-only list of ``{"t": seconds, "type": kind, ...}`` records; the parts of the simulation write
    into it, the checks and the output read it."""

    events: list[dict[str, Any]] = field(default_factory=list)

    def add(self, now: float, kind: str, **fields: Any) -> None:
        """Record ``kind`` at simulated time ``now``."""
        self.events.append({"t": round(now, 3), "type": kind, **fields})

    def of(self, kind: str) -> list[dict[str, Any]]:
        """The records of one kind, in order."""
        return [e for e in self.events if e["type"] == kind]


_ACTIONS = {
    "PlugIn": "the car is plugged in",
    "Unplug": "the cable is pulled",
    "StopCharging": "the car stops charging",
    "PresentCard": "an RFID card is presented",
    "RemoveCard": None,
    "RemoteStart": "the CSMS starts the session remotely",
    "InjectRcd": "a residual current is injected",
    "ClearRcd": "the residual current is gone",
    "CutLink": "the CSMS link is cut",
    "RestoreLink": "the CSMS link is restored",
    "Finish": None,
}


def describe(event: dict[str, Any]) -> str | None:
    """A few words for a notable event (the console's notices and the plot's labels), ``None`` for the rest."""
    kind = event["type"]
    if kind == "scenario":
        action = event.get("action", "")
        if action == "SendLimit":
            return f"the CSMS sends a {event.get('amps', 0):g} A limit"
        if action == "InjectRcd":
            return f"{event.get('milliamps', 0):g} mA residual current injected"
        return _ACTIONS.get(action, action)
    if kind == "board_error":
        return "FAULT: " + FAULT_NAMES.get(event["error"], str(event["error"]))
    if kind == "board_error_cleared":
        return "fault cleared: " + FAULT_NAMES.get(event["error"], str(event["error"]))
    if kind == "charger_fault":
        return f"charger fault: {event['fault']}"
    if kind == "ocpp_link":
        if event["connected"]:
            queued = event.get("queued")
            return "CSMS link up" + (f" ({queued} queued messages to replay)" if queued else "")
        return "CSMS link down: messages are queued"
    if kind == "limit":
        return f"charging limit {event['amps']:g} A"
    if kind == "transaction_started":
        return f"transaction {event['transaction_id']} started"
    if kind == "transaction_ended":
        return f"transaction {event['transaction_id']} ended"
    return None
