"""OCPP-J frames: the five message types, their JSON encoding and parsing, and the error codes of each version.

Frames are ``[2, id, action, payload]`` (CALL), ``[3, id, payload]`` (CALLRESULT),
``[4, id, code, description, details]`` (CALLERROR) and, in OCPP 2.1 only, ``[5, id, code, description,
details]`` (CALLRESULTERROR) and ``[6, id, action, payload]`` (SEND, here :class:`SendFrame`: ``send`` is the
name of every core's command input).
"""

from __future__ import annotations

import json
import json.scanner
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, Literal, Protocol, TypeAlias

from evcharge.ocpp.errors import LocalProtocolError, RemoteProtocolError, ViolationKind

__all__ = [
    "ERROR_CODES",
    "MAX_MESSAGE_ID_LENGTH",
    "UNKNOWN_MESSAGE_ID",
    "Call",
    "CallError",
    "CallResult",
    "CallResultError",
    "Frame",
    "FrameError",
    "MessageType",
    "Problem",
    "SendFrame",
    "VersionModule",
    "encode_frame",
    "error_code",
    "parse_frame",
    "translate_code",
]

#: Longest message id OCPP-J allows.
MAX_MESSAGE_ID_LENGTH = 36
#: Message id of a CALLERROR that answers a frame whose own id could not be read (OCPP 2.x).
UNKNOWN_MESSAGE_ID = "-1"


class MessageType(IntEnum):
    """The first element of every OCPP-J frame."""

    CALL = 2
    CALLRESULT = 3
    CALLERROR = 4
    CALLRESULTERROR = 5  # OCPP 2.1
    SEND = 6  # OCPP 2.1


_ERRORS_2X = frozenset(
    {
        "FormatViolation",
        "GenericError",
        "InternalError",
        "MessageTypeNotSupported",
        "NotImplemented",
        "NotSupported",
        "OccurrenceConstraintViolation",
        "PropertyConstraintViolation",
        "ProtocolError",
        "RpcFrameworkError",
        "SecurityError",
        "TypeConstraintViolation",
    }
)

#: The error codes each OCPP version defines (the 1.6 misspellings are the official codes).
ERROR_CODES: Mapping[str, frozenset[str]] = {
    "1.6": frozenset(
        {
            "NotImplemented",
            "NotSupported",
            "InternalError",
            "ProtocolError",
            "SecurityError",
            "FormationViolation",
            "PropertyConstraintViolation",
            "OccurenceConstraintViolation",
            "TypeConstraintViolation",
            "GenericError",
        }
    ),
    "2.0.1": _ERRORS_2X,
    "2.1": _ERRORS_2X,
}

#: What is wrong with a frame: a schema violation kind, or not a frame / an unknown message type / an unknown action.
Problem: TypeAlias = Literal["format", "type", "property", "occurrence", "frame", "message-type", "not-implemented"]

_CODES_16: Mapping[str, str] = {
    "format": "FormationViolation",
    "type": "TypeConstraintViolation",
    "property": "PropertyConstraintViolation",
    "occurrence": "OccurenceConstraintViolation",
    "frame": "ProtocolError",
    "message-type": "ProtocolError",
    "not-implemented": "NotImplemented",
}
_16_SPELLING: Mapping[str, str] = {
    "FormatViolation": "FormationViolation",
    "OccurrenceConstraintViolation": "OccurenceConstraintViolation",
    "RpcFrameworkError": "ProtocolError",
    "MessageTypeNotSupported": "ProtocolError",
}
_CODES_2X: Mapping[str, str] = {
    "format": "FormatViolation",
    "type": "TypeConstraintViolation",
    "property": "PropertyConstraintViolation",
    "occurrence": "OccurrenceConstraintViolation",
    "frame": "RpcFrameworkError",
    "message-type": "MessageTypeNotSupported",
    "not-implemented": "NotImplemented",
}


def translate_code(version: str, code: str) -> str | None:
    """An OCPP 2.x error code (a ``RemoteProtocolError.hint``) as ``version`` spells it; ``None`` if it has none."""
    if version == "1.6":
        code = _16_SPELLING.get(code, code)
    return code if code in ERROR_CODES.get(version, ()) else None


def error_code(
    version: str,
    problem: ViolationKind
    | Literal["format", "type", "property", "occurrence", "frame", "message-type", "not-implemented"],
) -> str:
    """The error code ``version`` uses for ``problem``.

    ``problem`` is a :class:`~evcharge.ocpp.errors.ViolationKind` (a schema violation) or one of
    ``"frame"`` (not a valid RPC frame), ``"message-type"`` (unknown message type) and
    ``"not-implemented"`` (unknown action).
    """
    key = problem.value if isinstance(problem, ViolationKind) else problem
    if version == "1.6":
        return _CODES_16[key]
    if version in ("2.0.1", "2.1"):
        return _CODES_2X[key]
    raise LocalProtocolError(f"unknown OCPP version {version!r}")


class VersionModule(Protocol):
    """What the RPC layer needs of ``evcharge.ocpp.v16`` / ``v201`` / ``v21``."""

    VERSION: str
    SUBPROTOCOL: str

    def request_class(self, action: str) -> type[Any]: ...

    def response_class(self, action: str) -> type[Any]: ...

    def validate(
        self, action: str, kind: Literal["request", "response"], payload: Any, *, lenient: bool = False
    ) -> list[str]: ...


# --------------------------------------------------------------------------------------------- frames


@dataclass(frozen=True, slots=True)
class Call:
    """``[2, message_id, action, payload]``"""

    message_id: str
    action: str
    payload: Mapping[str, Any]

    def to_list(self) -> list[Any]:
        """The frame as the JSON array it is sent as."""
        return [MessageType.CALL.value, self.message_id, self.action, self.payload]


@dataclass(frozen=True, slots=True)
class CallResult:
    """``[3, message_id, payload]``"""

    message_id: str
    payload: Mapping[str, Any]

    def to_list(self) -> list[Any]:
        """The frame as the JSON array it is sent as."""
        return [MessageType.CALLRESULT.value, self.message_id, self.payload]


@dataclass(frozen=True, slots=True)
class CallError:
    """``[4, message_id, error_code, error_description, error_details]``"""

    message_id: str
    error_code: str
    error_description: str = ""
    error_details: Mapping[str, Any] = field(default_factory=dict)

    def to_list(self) -> list[Any]:
        """The frame as the JSON array it is sent as."""
        return [
            MessageType.CALLERROR.value,
            self.message_id,
            self.error_code,
            self.error_description,
            self.error_details,
        ]


@dataclass(frozen=True, slots=True)
class CallResultError:
    """``[5, message_id, error_code, error_description, error_details]`` (OCPP 2.1)."""

    message_id: str
    error_code: str
    error_description: str = ""
    error_details: Mapping[str, Any] = field(default_factory=dict)

    def to_list(self) -> list[Any]:
        """The frame as the JSON array it is sent as."""
        return [
            MessageType.CALLRESULTERROR.value,
            self.message_id,
            self.error_code,
            self.error_description,
            self.error_details,
        ]


@dataclass(frozen=True, slots=True)
class SendFrame:
    """``[6, message_id, action, payload]`` (OCPP 2.1's SEND, never answered)."""

    message_id: str
    action: str
    payload: Mapping[str, Any]

    def to_list(self) -> list[Any]:
        """The frame as the JSON array it is sent as."""
        return [MessageType.SEND.value, self.message_id, self.action, self.payload]


Frame: TypeAlias = Call | CallResult | CallError | CallResultError | SendFrame


class FrameError(RemoteProtocolError):
    """A text frame is not a well-formed OCPP-J message.

    ``problem`` is ``"format"`` (not JSON), ``"frame"`` (JSON, but not an RPC frame),
    ``"message-type"`` (an unknown message type number) or ``"format"``/``"type"`` for a payload that is
    not a JSON object.  ``message_type`` and ``message_id`` are what could be read of the frame (``None``
    when unreadable); the connection uses them to decide whether and how to answer.
    """

    def __init__(
        self,
        problem: Literal["format", "type", "property", "occurrence", "frame", "message-type", "not-implemented"],
        message: str,
        *,
        message_type: int | None = None,
        message_id: str | None = None,
    ) -> None:
        self.problem: Problem = problem
        self.message_type = message_type
        self.message_id = message_id
        super().__init__(message, hint=_CODES_2X[problem])


def _reject_constant(value: str) -> Any:
    raise ValueError(f"{value} is not JSON")


# made once: json.dumps / json.loads with arguments build a new encoder / decoder per call
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)
_DECODER = json.JSONDecoder(parse_constant=_reject_constant)
# what the decoder builds as its scan_once (typeshed types the context argument as the scanner class itself)
_SCAN = json.scanner.make_scanner(_DECODER)  # type: ignore[arg-type]


def _make_encode_json() -> Callable[[Any], str]:
    """``_ENCODER.encode`` without its per-call set-up.

    ``JSONEncoder.encode`` re-reads its options and builds a C encoder on every call; the C encoder is built here
    with the same options, with fresh circular-reference markers per call as ``encode`` does (the output and the
    errors are the same).  Without the C accelerator, ``_ENCODER.encode`` itself.
    """
    make = getattr(json.encoder, "c_make_encoder", None)
    basestring = json.encoder.encode_basestring  # ensure_ascii=False
    if make is None:
        return _ENCODER.encode
    enc = _ENCODER
    args = (enc.default, basestring, enc.indent, enc.key_separator, enc.item_separator, enc.sort_keys,
            enc.skipkeys, enc.allow_nan)
    join = "".join

    def encode_json(obj: Any) -> str:
        return join(make({}, *args)(obj, 0))

    return encode_json


_encode_json = _make_encode_json()


def encode_frame(frame: Frame) -> bytes:
    """The frame as the UTF-8 JSON text it is sent as (compact, no NaN)."""
    return _encode_json(frame.to_list()).encode("utf-8")


def parse_frame(data: str | bytes) -> Frame:
    """Decode one websocket message into a frame, or raise :class:`FrameError`.

    Message ids are returned as read, even when longer than 36 characters: the connection decides.
    """
    try:
        text = data if isinstance(data, str) else data.decode("utf-8")
        try:
            # the decoder's scanner alone: what decode() runs when there is no white space around the value
            decoded, end = _SCAN(text, 0)
            if end != len(text):
                raise ValueError
        except (StopIteration, ValueError):
            decoded = _DECODER.decode(text)  # white space around the value, or the error decode() reports
    except (ValueError, UnicodeDecodeError) as exc:
        raise FrameError("format", f"the message is not JSON: {exc}") from None
    except RecursionError:
        raise FrameError("format", "the message nests arrays or objects deeper than the decoder can follow") from None
    if not isinstance(decoded, list) or not decoded:
        raise FrameError("frame", "an OCPP-J message is a JSON array that starts with the message type number")
    mtype = decoded[0]
    if type(mtype) is not int:
        raise FrameError("frame", f"the message type must be an integer, not {mtype!r}")
    mid = decoded[1] if len(decoded) > 1 and isinstance(decoded[1], str) and decoded[1] else None
    if mtype not in MessageType._value2member_map_:
        raise FrameError("message-type", f"unknown message type {mtype}", message_type=mtype, message_id=mid)
    if mid is None:
        raise FrameError("frame", "the message id must be a non-empty string", message_type=mtype)
    if mtype in (MessageType.CALL, MessageType.SEND):
        if len(decoded) != 4:
            raise FrameError(
                "frame", f"a {MessageType(mtype).name} has 4 elements, not {len(decoded)}", message_type=mtype,
                message_id=mid,
            )
        action, payload = decoded[2], decoded[3]
        if not isinstance(action, str) or not action:
            raise FrameError("frame", "the action must be a non-empty string", message_type=mtype, message_id=mid)
        if not isinstance(payload, dict):
            raise FrameError("format", "the payload must be a JSON object", message_type=mtype, message_id=mid)
        return Call(mid, action, payload) if mtype == MessageType.CALL else SendFrame(mid, action, payload)
    if mtype == MessageType.CALLRESULT:
        if len(decoded) != 3:
            raise FrameError("frame", f"a CALLRESULT has 3 elements, not {len(decoded)}", message_type=mtype,
                             message_id=mid)
        if not isinstance(decoded[2], dict):
            raise FrameError("format", "the payload must be a JSON object", message_type=mtype, message_id=mid)
        return CallResult(mid, decoded[2])
    # CALLERROR / CALLRESULTERROR
    if len(decoded) != 5:
        raise FrameError("frame", f"a {MessageType(mtype).name} has 5 elements, not {len(decoded)}",
                         message_type=mtype, message_id=mid)
    code, description, details = decoded[2], decoded[3], decoded[4]
    if not isinstance(code, str) or not isinstance(description, str) or not isinstance(details, dict):
        raise FrameError("frame", "error code and description must be strings, error details an object",
                         message_type=mtype, message_id=mid)
    cls = CallError if mtype == MessageType.CALLERROR else CallResultError
    return cls(mid, code, description, details)
