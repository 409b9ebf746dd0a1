"""The simulated DC supply in both directions (ISO 15118-20 DC_BPT): a unidirectional module refuses a negative
current; a bidirectional one takes current from the car within its current and power ratings."""

from __future__ import annotations

import pytest

from evcharge.charger.power import SetDcOutput
from evcharge.charger.sim.dc import PowerSupplySim, PowerSupplySimConfig
from evcharge.errors import LocalProtocolError


def test_unidirectional_refuses_negative_current() -> None:
    supply = PowerSupplySim(PowerSupplySimConfig())
    with pytest.raises(LocalProtocolError):
        supply.send(SetDcOutput(voltage=400.0, current=-10.0, protection_voltage=450.0), 0.0)


def test_bidirectional_bounded_by_ratings() -> None:
    supply = PowerSupplySim(PowerSupplySimConfig(bidirectional=True, max_current=250.0, max_power=20_000.0))
    supply.load_on = True
    supply.send(SetDcOutput(voltage=400.0, current=-25.0, protection_voltage=450.0), 0.0)
    assert supply.present_current == -25.0
    supply.send(SetDcOutput(voltage=400.0, current=-200.0, protection_voltage=450.0), 1.0)
    assert supply.present_current == -50.0  # 20 kW at 400 V
    supply.send(SetDcOutput(voltage=400.0, current=-900.0, protection_voltage=450.0), 2.0)
    assert supply.present_current == -50.0
