"""Errors of the charge-point functions (subclasses of the OCPP stack's errors)."""

from __future__ import annotations

from evcharge.ocpp.errors import LocalProtocolError, RemoteProtocolError

__all__ = ["FunctionsLocalError", "FunctionsRemoteError"]


class FunctionsRemoteError(RemoteProtocolError):
    """The CSMS sent a payload the charge-point functions cannot use (missing or malformed field).

    The payload passed the schema, so the answer is ``PropertyConstraintViolation`` ("syntactically correct but
    at least one field contains an invalid value") unless ``hint`` says otherwise.
    """

    def __init__(self, message: str, *, hint: str | None = "PropertyConstraintViolation") -> None:
        super().__init__(message, hint=hint)


class FunctionsLocalError(LocalProtocolError):
    """The application misused a charge-point function API."""
