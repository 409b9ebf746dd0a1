"""evcharge: the protocol stacks inside an electric-vehicle charger.

Import only the stack you need; each subpackage stands on its own:

- :mod:`evcharge.iec61851` -- control pilot (IEC 61851-1 / SAE J1772)
- :mod:`evcharge.slac` -- SLAC (ISO 15118-3) over HomePlug Green PHY
- :mod:`evcharge.iso15118` -- V2GTP, SDP, EXI messages, DIN 70121 / ISO 15118-2 / -20
- :mod:`evcharge.ocpp` -- OCPP 1.6J, 2.0.1 and 2.1
- :mod:`evcharge.bsp` -- board drivers (PIONIX Yeti, YAK) with simulated boards
- :mod:`evcharge.sim` -- a whole charger, car and CSMS composed on one machine
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
