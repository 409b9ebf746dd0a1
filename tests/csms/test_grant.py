"""The CSMS's grant after NotifyEVChargingNeeds (the W limit of the SetChargingProfile it sends)."""

from __future__ import annotations

import pytest

from evcharge.csms.handlers import CsmsService, CsmsSettings
from evcharge.csms.transport.sqlite import SqliteStore


@pytest.mark.parametrize(("transfer", "watts"), [("AC_single_phase", 7_360.0), ("AC_two_phase", 14_720.0),
                                                 ("AC_three_phase", 22_080.0)])
def test_ac_grant_counts_the_phases_of_the_requested_transfer(transfer: str, watts: float) -> None:
    # 2.0.1 AC_Charging_Parameters: evMaxCurrent is the current per phase; a three-phase 32 A car at 230 V draws
    # 22 kW, not one phase's 7.4 kW
    service = CsmsService(SqliteStore(":memory:"), CsmsSettings(max_power_w=50_000.0))
    needs = {"requestedEnergyTransfer": transfer,
             "acChargingParameters": {"energyAmount": 20_000, "evMinCurrent": 6, "evMaxCurrent": 32,
                                      "evMaxVoltage": 230}}
    assert service.grant("ST", 1, needs) == watts
