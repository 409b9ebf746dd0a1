"""Simulated hardware for the EVSE manager: the DC power path (:mod:`.dc`) and a pilot board (:mod:`.board`)."""

from .board import SimBoard
from .dc import IsolationMonitorSim, PowerSupplySim, PowerSupplySimConfig

__all__ = ["IsolationMonitorSim", "PowerSupplySim", "PowerSupplySimConfig", "SimBoard"]
