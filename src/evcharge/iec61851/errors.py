"""Errors of the control-pilot package.

The pilot has no byte-level peer: what the vehicle "says" is a measured voltage, and a reading that
makes no sense is reported as a fault (:class:`~evcharge.iec61851.events.FaultRaised`), never raised.
So the only exception the machines raise is :class:`LocalProtocolError`: the application asked for
something the standard or the current state does not allow.
"""

from __future__ import annotations


class PilotError(Exception):
    """Base class of every error of :mod:`evcharge.iec61851`."""


class LocalProtocolError(PilotError):
    """The application misused the API (for example asked for 3 A, or cleared a fault that is not there)."""
