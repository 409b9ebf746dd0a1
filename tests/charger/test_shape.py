"""The EVSE manager and the DC simulators have the house shape (evcharge.sansio), and the state table is data."""

from __future__ import annotations

import random
from datetime import UTC, datetime

from evcharge.charger import TRANSITIONS, EvseManager, EvseManagerConfig, ManagerState
from evcharge.charger.events import ManagerCommand, ManagerEvent
from evcharge.charger.power import DcPowerSupply, IsolationMonitor
from evcharge.charger.schedule import composite_limit
from evcharge.charger.sim import IsolationMonitorSim, PowerSupplySim, SimBoard
from evcharge.clock import WallClock
from evcharge.iec61851 import Vehicle
from evcharge.sansio import Core


def _shape(manager: EvseManager) -> Core[ManagerCommand, ManagerEvent, ManagerState]:
    return manager  # mypy checks the manager against the Core protocol here


def test_manager_is_a_core() -> None:
    manager = EvseManager(EvseManagerConfig(), board=SimBoard(Vehicle()), rng=random.Random(1), now=0.0,
                          clock=WallClock.at(0.0, datetime(2026, 1, 1, tzinfo=UTC)),
                          power=PowerSupplySim(), imd=IsolationMonitorSim())
    assert isinstance(_shape(manager), Core)
    assert isinstance(PowerSupplySim(), DcPowerSupply) and isinstance(IsolationMonitorSim(), IsolationMonitor)


def test_every_state_is_reachable_and_every_plugged_state_ends_at_unplug() -> None:
    targets = {state for state in TRANSITIONS.values()}
    assert targets | {ManagerState.AVAILABLE} == set(ManagerState)
    for state in ManagerState:
        if state not in (ManagerState.AVAILABLE, ManagerState.UNAVAILABLE):
            assert TRANSITIONS[(state, "unplug")] is ManagerState.AVAILABLE


def test_composite_limit_highest_stack_level_wins_and_tx_overrides_default() -> None:
    def profile(pid: int, purpose: str, stack: int, periods: list[tuple[int, float]]) -> dict[str, object]:
        return {"id": pid, "stackLevel": stack, "chargingProfilePurpose": purpose, "chargingProfileKind": "Relative",
                "chargingSchedule": [{"id": pid, "chargingRateUnit": "W",
                                      "chargingSchedulePeriod": [{"startPeriod": s, "limit": w} for s, w in periods]}]}

    default = profile(1, "TxDefaultProfile", 0, [(0, 22_000.0)])
    assert composite_limit([default], 10).value == 22_000.0  # type: ignore[union-attr]
    tx_low = profile(2, "TxProfile", 0, [(0, 11_000.0), (60, 7_000.0)])
    tx_high = profile(3, "TxProfile", 1, [(0, 5_000.0)])
    assert composite_limit([default, tx_low], 10).value == 11_000.0  # type: ignore[union-attr]
    assert composite_limit([default, tx_low], 61).value == 7_000.0  # type: ignore[union-attr]
    assert composite_limit([default, tx_low, tx_high], 10).value == 5_000.0  # type: ignore[union-attr]
    cap = profile(4, "ChargingStationMaxProfile", 0, [(0, 3_000.0)])
    assert composite_limit([tx_high, cap], 0).value == 3_000.0  # type: ignore[union-attr]
    assert composite_limit([], 0) is None
