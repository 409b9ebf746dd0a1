"""IEC 61851-1 / SAE J1772 control pilot: CP states, duty cycle and current, charger and vehicle machines.

The pieces, from the bottom up:

- :mod:`~evcharge.iec61851.pwm` -- duty cycle <-> current (:func:`~evcharge.iec61851.pwm.duty_cycle_for_current`,
  :func:`~evcharge.iec61851.pwm.current_for_duty_cycle`, :func:`~evcharge.iec61851.pwm.hlc_required`)
- :mod:`~evcharge.iec61851.classify` -- measured pilot voltages -> CP state, diode fault, implausible reading
- :mod:`~evcharge.iec61851.states` -- the states and the transition table the charger runs on
- :mod:`~evcharge.iec61851.charger` -- the sans-I/O charger machine (:class:`~evcharge.iec61851.charger.Charger`)
- :mod:`~evcharge.iec61851.vehicle` -- a vehicle model (:class:`~evcharge.iec61851.vehicle.Vehicle`)
- :mod:`~evcharge.iec61851.line` -- both joined by a simulated pilot line on a fake clock
  (:class:`~evcharge.iec61851.line.PilotLine`)
- :mod:`~evcharge.iec61851.driver` -- the protocol a board driver implements
  (:class:`~evcharge.iec61851.driver.PilotBoard`)
"""

from __future__ import annotations

from .charger import Charger, ChargerStatus
from .classify import Classification, PilotBands, classify
from .config import ChargerConfig, VehicleConfig
from .driver import PilotBoard, apply_action, apply_actions
from .errors import ActionsRefused, LocalProtocolError, PilotError
from .events import PlugIn, SetDiodeFault, SetHlcPower, SetReady, Unplug, VehicleCommand
from .line import PilotLine
from .pwm import current_for_duty_cycle, duty_cycle_for_current, hlc_required
from .states import ChargerState, ChargingMode, CPState, PilotFault, PilotOutput, StepVia
from .vehicle import Vehicle

__all__ = [
    "ActionsRefused",
    "CPState",
    "Charger",
    "ChargerConfig",
    "ChargerState",
    "ChargerStatus",
    "ChargingMode",
    "Classification",
    "LocalProtocolError",
    "PilotBands",
    "PilotBoard",
    "PilotError",
    "PilotFault",
    "PilotLine",
    "PilotOutput",
    "PlugIn",
    "SetDiodeFault",
    "SetHlcPower",
    "SetReady",
    "StepVia",
    "Unplug",
    "Vehicle",
    "VehicleCommand",
    "VehicleConfig",
    "apply_action",
    "apply_actions",
    "classify",
    "current_for_duty_cycle",
    "duty_cycle_for_current",
    "hlc_required",
]
