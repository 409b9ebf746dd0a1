"""What the RPC core tells the application (events) and what the application asks of it (commands).

Both are frozen, slotted, keyword-only dataclasses.  Events come out of
:meth:`RpcConnection.next_event`; commands go in through
:meth:`RpcConnection.send`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeAlias

from .frames import CallError, CallResultError

__all__ = [
    "CallAborted",
    "CallReceived",
    "CallTimedOut",
    "CancelCall",
    "Command",
    "ErrorReceived",
    "Event",
    "ProtocolViolation",
    "ResponseInvalid",
    "ResultErrorReceived",
    "ResultReceived",
    "SendError",
    "SendReceived",
    "SendResult",
    "SendResultError",
    "SendUnconfirmed",
    "StartCall",
]

# --------------------------------------------------------------------------------------------- events


@dataclass(frozen=True, slots=True, kw_only=True)
class CallReceived:
    """The peer sent a CALL: answer it with :class:`SendResult` or :class:`SendError`."""

    message_id: str
    action: str
    request: Any  #: the typed request object
    payload: Mapping[str, Any]  #: the payload as received
    warnings: tuple[str, ...] = ()  #: what lenient validation let through

    # the dataclass's own __init__, written out: one per CALL, and the slots' setters cost less than the
    # object.__setattr__ a frozen dataclass's generated __init__ goes through (the instance stays frozen)
    def __init__(self, *, message_id: str, action: str, request: Any, payload: Mapping[str, Any],
                 warnings: tuple[str, ...] = ()) -> None:
        _CR_ID(self, message_id)
        _CR_ACTION(self, action)
        _CR_REQUEST(self, request)
        _CR_PAYLOAD(self, payload)
        _CR_WARNINGS(self, warnings)


_CR_ID, _CR_ACTION, _CR_REQUEST, _CR_PAYLOAD, _CR_WARNINGS = (
    CallReceived.__dict__[name].__set__ for name in ("message_id", "action", "request", "payload", "warnings"))


@dataclass(frozen=True, slots=True, kw_only=True)
class SendReceived:
    """The peer sent a SEND frame (2.1): nothing to answer."""

    message_id: str
    action: str
    request: Any
    payload: Mapping[str, Any]
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class ResultReceived:
    """Our CALL ``message_id`` was answered with a valid CALLRESULT."""

    message_id: str
    action: str
    response: Any  #: the typed response object
    payload: Mapping[str, Any]
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class ErrorReceived:
    """Our CALL ``message_id`` was answered with a CALLERROR."""

    message_id: str
    action: str
    error_code: str
    error_description: str
    error_details: Mapping[str, Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class ResponseInvalid:
    """Our CALL ``message_id`` was answered with a CALLRESULT that failed validation.

    ``error_code`` is the code of the violation in the connection's version; in OCPP 2.1 the connection
    has already answered the peer with a CALLRESULTERROR carrying it.
    """

    message_id: str
    action: str
    error_code: str
    reason: str
    payload: Any


@dataclass(frozen=True, slots=True, kw_only=True)
class CallTimedOut:
    """Our CALL ``message_id`` got no answer within the response timeout."""

    message_id: str
    action: str


@dataclass(frozen=True, slots=True, kw_only=True)
class CallAborted:
    """Our CALL ``message_id`` will never be answered (the connection closed, or the call was cancelled)."""

    message_id: str
    action: str
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ResultErrorReceived:
    """OCPP 2.1: the peer could not process the CALLRESULT we sent for its CALL ``message_id``."""

    message_id: str
    action: str | None
    error_code: str
    error_description: str
    error_details: Mapping[str, Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class ProtocolViolation:
    """The peer broke the protocol.  ``answer`` is the error frame sent back, ``None`` when none is allowed."""

    description: str
    message: str
    answer: CallError | CallResultError | None = None


Event: TypeAlias = (
    CallReceived
    | SendReceived
    | ResultReceived
    | ErrorReceived
    | ResponseInvalid
    | CallTimedOut
    | CallAborted
    | ResultErrorReceived
    | ProtocolViolation
)


# --------------------------------------------------------------------------------------------- commands


@dataclass(frozen=True, slots=True, kw_only=True)
class StartCall:
    """Send (or queue, while another CALL of ours is outstanding) a CALL.

    ``request`` is a typed request object of the connection's version or a JSON mapping; ``message_id`` comes
    from :meth:`RpcConnection.new_message_id` (or is the application's own, at most 36
    characters, unused).  Exactly one of :class:`ResultReceived`, :class:`ErrorReceived`, :class:`ResponseInvalid`,
    :class:`CallTimedOut` or :class:`CallAborted` later reports its end.  ``timeout`` overrides the configured
    response timeout for this call (counted from when the CALL goes out, not from when it was queued).
    """

    message_id: str
    action: str
    request: Any
    timeout: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SendResult:
    """Answer the peer's CALL ``message_id`` with a CALLRESULT (typed response object or JSON mapping)."""

    message_id: str
    response: Any

    # written out for the same reason as CallReceived's
    def __init__(self, *, message_id: str, response: Any) -> None:
        _SEND_RESULT_ID(self, message_id)
        _SEND_RESULT_RESPONSE(self, response)


_SEND_RESULT_ID = SendResult.__dict__["message_id"].__set__
_SEND_RESULT_RESPONSE = SendResult.__dict__["response"].__set__


@dataclass(frozen=True, slots=True, kw_only=True)
class SendError:
    """Answer the peer's CALL ``message_id`` with a CALLERROR (``code``: an error code of the connection's
    version)."""

    message_id: str
    code: str
    description: str = ""
    details: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SendResultError:
    """OCPP 2.1: tell the peer we could not process its CALLRESULT for our CALL ``message_id``."""

    message_id: str
    code: str
    description: str = ""
    details: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SendUnconfirmed:
    """OCPP 2.1's SEND frame: deliver ``request`` without expecting an answer (not queued behind calls)."""

    message_id: str
    action: str
    request: Any


@dataclass(frozen=True, slots=True, kw_only=True)
class CancelCall:
    """Give up on our CALL ``message_id``: removed from the queue, or its answer ignored if it is on the wire.

    Emits :class:`CallAborted`; a call that is not pending (already answered) is left alone.
    """

    message_id: str


Command: TypeAlias = StartCall | SendResult | SendError | SendResultError | SendUnconfirmed | CancelCall
