"""Simulated hardware for the EVSE manager: the DC power path (:mod:`evcharge.charger.sim.dc`) and a pilot
board (:mod:`evcharge.charger.sim.board`)."""

from .board import SimBoard
from .dc import IsolationMonitorSim, PowerSupplySim, PowerSupplySimConfig

__all__ = ["IsolationMonitorSim", "PowerSupplySim", "PowerSupplySimConfig", "SimBoard"]
