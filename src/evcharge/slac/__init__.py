"""SLAC (ISO 15118-3) over HomePlug Green PHY: EVSE and PEV state machines, messages, transports."""
