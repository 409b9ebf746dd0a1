"""Errors of the charge-point functions (subclasses of the OCPP stack's errors)."""

from __future__ import annotations

from evcharge.ocpp.errors import LocalProtocolError, RemoteProtocolError

__all__ = ["FunctionsLocalError", "FunctionsRemoteError"]


class FunctionsRemoteError(RemoteProtocolError):
    """The CSMS sent a payload the charge-point functions cannot use (missing or malformed field)."""


class FunctionsLocalError(LocalProtocolError):
    """The application misused a charge-point function API."""
