"""The OCPP messages of a session, checked against the JSON schemas of their version."""

from __future__ import annotations

from typing import Any

from evcharge.ocpp import v16, v201


def checked_calls(source: Any, action: str | None = None) -> list[dict[str, Any]]:
    """Every call a :class:`~evcharge.charger.sim.station.LocalStation` made (``source``: it, or a bench with it as
    ``station``), or those of ``action``, each request and answer valid for the station's version; the requests'
    payloads."""
    station = getattr(source, "station", source)
    module = v16 if station.version == "1.6" else v201
    out = []
    for _, call, answer in station.calls:
        assert module.validate(call.action, "request", call.payload) == [], (call.action, call.payload)
        if answer is not None:
            assert module.validate(call.action, "response", answer) == [], (call.action, answer)
        if action is None or call.action == action:
            out.append(call.payload)
    return out
