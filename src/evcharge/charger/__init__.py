"""The EVSE manager a vendor composes (or copies): pilot, board, SLAC, the V2G SECC, the DC power path and
the OCPP side of one EVSE, joined by one sans-I/O coordinator (:class:`EvseManager`).

* ``evcharge.charger.manager`` -- :class:`EvseManager` and its state table;
* :mod:`evcharge.charger.events` -- its commands (a token, a remote start, a charging profile, the CSMS's
  answers) and events
  (the OCPP calls to make, power switched, faults);
* :mod:`evcharge.charger.power` -- the DC power supply and isolation monitor it drives;
* ``evcharge.charger.schedule`` -- the CSMS's charging profiles as one limit;
* :mod:`evcharge.charger.sim` -- simulated board, power supply and isolation monitor (with fault injection);
* :mod:`evcharge.charger.sim.car` -- a simulated car composing the IEC 61851 vehicle, the SLAC PEV and the EVCC.
"""

from .config import EvseManagerConfig
from .events import (
    CsmsAnswered,
    EnableEvse,
    FaultDetected,
    FaultKind,
    IdTokenPresented,
    OcppCall,
    PowerSwitched,
    RemoteStart,
    RemoteStop,
    SessionFinished,
    SetChargingProfile,
    V2gLinkReady,
)
from .manager import TRANSITIONS, EvseManager, ManagerState

__all__ = [
    "TRANSITIONS",
    "CsmsAnswered",
    "EnableEvse",
    "EvseManager",
    "EvseManagerConfig",
    "FaultDetected",
    "FaultKind",
    "IdTokenPresented",
    "ManagerState",
    "OcppCall",
    "PowerSwitched",
    "RemoteStart",
    "RemoteStop",
    "SessionFinished",
    "SetChargingProfile",
    "V2gLinkReady",
]
