"""The control-pilot machines have the house shape (evcharge.sansio.Core) and the library's error root."""

from __future__ import annotations

import pytest

from evcharge import errors
from evcharge.iec61851 import Charger, PlugIn, SetReady, Unplug, Vehicle
from evcharge.iec61851 import errors as pilot_errors
from evcharge.iec61851.events import ResistorStateChanged, SetCurrentLimit
from evcharge.iec61851.states import CPState
from evcharge.sansio import Core


def test_charger_and_vehicle_are_cores() -> None:
    assert isinstance(Charger(), Core)
    assert isinstance(Vehicle(), Core)


def test_vehicle_commands_go_through_send_with_now() -> None:
    v = Vehicle()
    v.send(PlugIn(), 1.0)
    assert v.state is CPState.B and v.next_event() == ResistorStateChanged(state=CPState.B)
    v.send(SetReady(ready=False), 2.0)
    v.send(Unplug(), 3.0)
    assert v.state is CPState.A
    with pytest.raises(errors.LocalProtocolError, match="not plugged in"):
        v.send(Unplug(), 4.0)
    with pytest.raises(pilot_errors.LocalProtocolError, match="not a vehicle command"):
        v.send(SetCurrentLimit(amps=16), 5.0)  # type: ignore[arg-type]


def test_commands_are_keyword_only() -> None:
    with pytest.raises(TypeError):
        SetCurrentLimit(16)  # type: ignore[misc]


def test_errors_share_the_library_root() -> None:
    assert issubclass(pilot_errors.LocalProtocolError, errors.LocalProtocolError)
    assert issubclass(pilot_errors.ActionsRefused, errors.LocalProtocolError)
    assert issubclass(pilot_errors.PilotError, errors.EvchargeError)
