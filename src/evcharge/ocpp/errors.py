"""Errors of the OCPP stack, rooted on :mod:`evcharge.errors`.

:class:`LocalProtocolError` is an :class:`evcharge.errors.LocalProtocolError` and
:class:`RemoteProtocolError` an :class:`evcharge.errors.RemoteProtocolError`: one ``except`` catches misuse or a
bad peer across the library.  The ``hint`` of a remote error is the OCPP error code the protocol answers it with,
spelled as OCPP 2.x spells it (``"FormatViolation"``); :func:`evcharge.ocpp.rpc.error_code` gives the spelling of
another version (1.6 ``FormationViolation``).

``OcppValidationError`` is raised by the generated validators; its ``kind`` is version-neutral and
the RPC layer maps it to the error code of the connection's OCPP version.
"""

from __future__ import annotations

from enum import StrEnum

from evcharge import errors as _root


class ViolationKind(StrEnum):
    """What kind of schema rule a payload broke."""

    FORMAT = "format"  # not an object, wrong JSON shape
    TYPE = "type"  # a value of the wrong JSON type
    PROPERTY = "property"  # a value outside its constraints (enum, maxLength, pattern, unknown property)
    OCCURRENCE = "occurrence"  # a required property missing, an array with too many/few items


#: The OCPP 2.x error code of each kind of schema violation (the ``hint`` of an :class:`OcppValidationError`).
VIOLATION_CODES: dict[ViolationKind, str] = {
    ViolationKind.FORMAT: "FormatViolation",
    ViolationKind.TYPE: "TypeConstraintViolation",
    ViolationKind.PROPERTY: "PropertyConstraintViolation",
    ViolationKind.OCCURRENCE: "OccurrenceConstraintViolation",
}


class OcppError(_root.EvchargeError):
    """Base class of every OCPP error."""


class LocalProtocolError(OcppError, _root.LocalProtocolError):
    """The application misused the API (for example sent a response to no request)."""


class RemoteProtocolError(OcppError, _root.RemoteProtocolError):
    """The peer sent something the protocol does not allow; ``hint`` is the OCPP error code to answer with
    (2.x spelling), ``None`` when nothing can be answered."""


class OcppValidationError(RemoteProtocolError):
    """A payload does not match its JSON schema.

    ``path`` is the JSON path of the offending value (``meterValue[0].sampledValue[2].value``),
    empty for the payload itself.
    """

    def __init__(self, kind: ViolationKind, message: str, path: str = "") -> None:
        self.kind = kind
        self.reason = message
        self.path = path
        super().__init__(f"{path}: {message}" if path else message, hint=VIOLATION_CODES[kind])


class OcppCallError(OcppError):
    """A CALLERROR.

    Raise it in a handler to answer the peer's CALL with ``code`` (an error code of the connection's
    version); ``call()`` raises it when the peer answered our CALL with a CALLERROR.
    """

    def __init__(self, code: str, description: str = "", details: dict[str, object] | None = None) -> None:
        self.code = code
        self.description = description
        self.details: dict[str, object] = dict(details or {})
        super().__init__(f"{code}: {description}" if description else code)


class InvalidResponseError(RemoteProtocolError):
    """The peer answered our CALL with a CALLRESULT that breaks the schema (``code`` in its version)."""

    def __init__(self, code: str, reason: str) -> None:
        self.code = code
        self.reason = reason
        super().__init__(f"{code}: {reason}", hint=code)


class CallTimeoutError(OcppError, TimeoutError):
    """The peer did not answer our CALL within the response timeout."""


class NotConnectedError(OcppError, ConnectionError):
    """The call could not be made or completed: no connection to the peer (or it closed meanwhile)."""
