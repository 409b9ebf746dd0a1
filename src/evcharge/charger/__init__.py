"""The EVSE manager a vendor composes (or copies): pilot, board, SLAC, the V2G SECC, the DC power path and
the OCPP side of one EVSE, joined by one sans-I/O coordinator (:class:`EvseManager`).

* ``evcharge.charger.manager`` -- :class:`EvseManager` and its state table;
* :mod:`evcharge.charger.events` -- its commands (a token, a charging profile, the charge-point core's decisions)
  and events (the charge-point core's inputs, the meter, power switched, faults);
* :mod:`evcharge.charger.power` -- the DC power supply and isolation monitor it drives;
* ``evcharge.charger.schedule`` -- the CSMS's charging profiles as one limit;
* :mod:`evcharge.charger.sim` -- simulated board, power supply and isolation monitor (with fault injection);
* :mod:`evcharge.charger.sim.car` -- a simulated car composing the IEC 61851 vehicle, the SLAC PEV and the EVCC;
* :mod:`evcharge.charger.sim.station` -- the charge point's OCPP side in process, without sockets (the
  charge-point core and the transaction manager, calls answered by a function).
"""

from .config import EvseManagerConfig
from .events import (
    EnableEvse,
    FaultDetected,
    FaultKind,
    IdTokenPresented,
    MeterUpdate,
    PowerSwitched,
    SessionFinished,
    SetAcCurrentLimit,
    SetChargingProfile,
    SetPowerSetpoint,
    StationInput,
    V2gLinkReady,
)
from .manager import TRANSITIONS, EvseManager, ManagerState

__all__ = [
    "TRANSITIONS",
    "EnableEvse",
    "EvseManager",
    "EvseManagerConfig",
    "FaultDetected",
    "FaultKind",
    "IdTokenPresented",
    "ManagerState",
    "MeterUpdate",
    "PowerSwitched",
    "SessionFinished",
    "SetAcCurrentLimit",
    "SetChargingProfile",
    "SetPowerSetpoint",
    "StationInput",
    "V2gLinkReady",
]
