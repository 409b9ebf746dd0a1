"""Shared helpers for the control-pilot tests: build chargers in any state, collect what they emit."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from evcharge.iec61851.charger import Charger
from evcharge.iec61851.config import ChargerConfig
from evcharge.iec61851.events import (
    ChargerEvent,
    Disable,
    RaiseFault,
    Replug,
    RequestHlc,
    RetryHlc,
    SetCurrentLimit,
    SwitchPhases,
)
from evcharge.iec61851.states import ChargerState, CPState


def events(charger: Charger) -> list[ChargerEvent]:
    out = []
    while (e := charger.next_event()) is not None:
        out.append(e)
    return out


def fresh(**config: Any) -> Charger:
    c = Charger(ChargerConfig(**config))
    c.actions()
    events(c)
    return c


def _charging(c: Charger) -> None:
    c.send(SetCurrentLimit(amps=16), 0.0)
    c.receive_cp_state(CPState.B, 0.0)
    c.receive_cp_state(CPState.C, 0.0)


RECIPES: dict[ChargerState, Callable[[Charger], None]] = {
    ChargerState.DISABLED: lambda c: c.send(Disable(), 0.0),
    ChargerState.IDLE: lambda c: None,
    ChargerState.CONNECTED: lambda c: c.receive_cp_state(CPState.B, 0.0),
    ChargerState.READY: lambda c: (c.send(SetCurrentLimit(amps=16), 0.0), c.receive_cp_state(CPState.B, 0.0)),
    ChargerState.CHARGING: _charging,
    ChargerState.STEP_X1: lambda c: (_charging(c), c.send(RequestHlc(), 0.0)),
    ChargerState.STEP_EF: lambda c: (c.send(RequestHlc(), 0.0), c.receive_cp_state(CPState.B, 0.0),
                                     c.send(RetryHlc(), 0.0)),
    ChargerState.PHASE_SWITCH: lambda c: (_charging(c), c.send(SwitchPhases(phases=1), 0.0)),
    ChargerState.REPLUG: lambda c: (_charging(c), c.send(Replug(), 0.0)),
    ChargerState.FAULT: lambda c: c.send(RaiseFault(reason="test"), 0.0),
}


def charger_in(state: ChargerState, **config: Any) -> Charger:
    config.setdefault("phase_switching", True)
    c = fresh(**config)
    RECIPES[state](c)
    assert c.state is state, (state, c.state)
    c.actions()
    events(c)
    return c
