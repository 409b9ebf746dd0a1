"""OCPP-J RPC framing as a sans-I/O state machine.

One :class:`RpcConnection` per websocket connection:

* text frames from the peer go in through :meth:`~evcharge.ocpp.rpc.RpcConnection.receive_message`;
* the application's wishes go in through :meth:`~evcharge.ocpp.rpc.RpcConnection.call`,
  :meth:`~evcharge.ocpp.rpc.RpcConnection.send_result`, :meth:`~evcharge.ocpp.rpc.RpcConnection.send_error`,
  :meth:`~evcharge.ocpp.rpc.RpcConnection.send` (2.1 SEND) and
  :meth:`~evcharge.ocpp.rpc.RpcConnection.send_result_error` (2.1 CALLRESULTERROR);
* the frames to write come out of :meth:`~evcharge.ocpp.rpc.RpcConnection.messages_to_send`, and what the
  application must know out of :meth:`~evcharge.ocpp.rpc.RpcConnection.next_event`;
* time is an argument (``now``, seconds on any monotonic clock); the response timeout is a timer the caller asks
  for with :meth:`~evcharge.ocpp.rpc.RpcConnection.get_timer`.

Rules enforced (see ``shared/facts/ocpp.md``):

* frames are ``[2, id, action, payload]`` (CALL), ``[3, id, payload]`` (CALLRESULT),
  ``[4, id, code, description, details]`` (CALLERROR) and, in OCPP 2.1 only, ``[5, id, code, description,
  details]`` (CALLRESULTERROR) and ``[6, id, action, payload]`` (SEND);
* message ids are non-empty strings of at most 36 characters, unique per direction;
* one outstanding CALL per direction: further calls wait in a FIFO queue and go out when the
  outstanding one is answered, fails or times out;
* payloads are checked with the version module's ``validate()`` (strict or lenient per connection) and
  handed to the application as typed model objects;
* a CALLERROR is only ever sent in answer to a CALL (or, as OCPP 2.x asks, to a frame that cannot be read
  at all, under the message id ``"-1"``); never in answer to a CALLRESULT, CALLERROR or SEND;
* the error codes are those of the connection's version (1.6 ``FormationViolation`` /
  ``OccurenceConstraintViolation``, 2.x ``FormatViolation`` / ``OccurrenceConstraintViolation``...).
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, Literal, Protocol, TypeAlias

from evcharge.ocpp.errors import LocalProtocolError, OcppValidationError, RemoteProtocolError, ViolationKind

__all__ = [
    "ERROR_CODES",
    "MAX_MESSAGE_ID_LENGTH",
    "UNKNOWN_MESSAGE_ID",
    "Call",
    "CallAborted",
    "CallError",
    "CallReceived",
    "CallResult",
    "CallResultError",
    "CallTimedOut",
    "ErrorReceived",
    "Event",
    "Frame",
    "FrameError",
    "MessageType",
    "ProtocolViolation",
    "ResponseInvalid",
    "ResultErrorReceived",
    "ResultReceived",
    "RpcConfig",
    "RpcConnection",
    "Send",
    "SendReceived",
    "VersionModule",
    "error_code",
    "parse_frame",
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

_Problem: TypeAlias = Literal["format", "type", "property", "occurrence", "frame", "message-type", "not-implemented"]

_CODES_16: Mapping[str, str] = {
    "format": "FormationViolation",
    "type": "TypeConstraintViolation",
    "property": "PropertyConstraintViolation",
    "occurrence": "OccurenceConstraintViolation",
    "frame": "ProtocolError",
    "message-type": "ProtocolError",
    "not-implemented": "NotImplemented",
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


def error_code(version: str, problem: ViolationKind | _Problem) -> str:
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
class Send:
    """``[6, message_id, action, payload]`` (OCPP 2.1, never answered)."""

    message_id: str
    action: str
    payload: Mapping[str, Any]

    def to_list(self) -> list[Any]:
        """The frame as the JSON array it is sent as."""
        return [MessageType.SEND.value, self.message_id, self.action, self.payload]


Frame: TypeAlias = Call | CallResult | CallError | CallResultError | Send


class FrameError(RemoteProtocolError):
    """A text frame is not a well-formed OCPP-J message.

    ``problem`` is ``"format"`` (not JSON), ``"frame"`` (JSON, but not an RPC frame),
    ``"message-type"`` (an unknown message type number) or ``"format"``/``"type"`` for a payload that is
    not a JSON object.  ``message_type`` and ``message_id`` are what could be read of the frame (``None``
    when unreadable); the connection uses them to decide whether and how to answer.
    """

    def __init__(
        self, problem: _Problem, message: str, *, message_type: int | None = None, message_id: str | None = None
    ) -> None:
        self.problem: _Problem = problem
        self.message_type = message_type
        self.message_id = message_id
        super().__init__(message)


def _reject_constant(value: str) -> Any:
    raise ValueError(f"{value} is not JSON")


# made once: json.dumps / json.loads with arguments build a new encoder / decoder per call
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)
_DECODER = json.JSONDecoder(parse_constant=_reject_constant)


def _encode(frame: Frame) -> str:
    return _ENCODER.encode(frame.to_list())


def parse_frame(data: str | bytes) -> Frame:
    """Decode one websocket message into a frame, or raise :class:`FrameError`.

    Message ids are returned as read, even when longer than 36 characters: the connection decides.
    """
    try:
        decoded = _DECODER.decode(data if isinstance(data, str) else data.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise FrameError("format", f"the message is not JSON: {exc}") from None
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
        return Call(mid, action, payload) if mtype == MessageType.CALL else Send(mid, action, payload)
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


# --------------------------------------------------------------------------------------------- events


@dataclass(frozen=True, slots=True)
class CallReceived:
    """The peer sent a CALL: answer it with ``send_result`` or ``send_error``."""

    message_id: str
    action: str
    request: Any  #: the typed request object
    payload: Mapping[str, Any]  #: the payload as received
    warnings: tuple[str, ...] = ()  #: what lenient validation let through


@dataclass(frozen=True, slots=True)
class SendReceived:
    """The peer sent a SEND (2.1): nothing to answer."""

    message_id: str
    action: str
    request: Any
    payload: Mapping[str, Any]
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ResultReceived:
    """Our CALL ``message_id`` was answered with a valid CALLRESULT."""

    message_id: str
    action: str
    response: Any  #: the typed response object
    payload: Mapping[str, Any]
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ErrorReceived:
    """Our CALL ``message_id`` was answered with a CALLERROR."""

    message_id: str
    action: str
    error_code: str
    error_description: str
    error_details: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
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


@dataclass(frozen=True, slots=True)
class CallTimedOut:
    """Our CALL ``message_id`` got no answer within the response timeout."""

    message_id: str
    action: str


@dataclass(frozen=True, slots=True)
class CallAborted:
    """Our CALL ``message_id`` will never be answered (the connection closed, or the call was cancelled)."""

    message_id: str
    action: str
    reason: str


@dataclass(frozen=True, slots=True)
class ResultErrorReceived:
    """OCPP 2.1: the peer could not process the CALLRESULT we sent for its CALL ``message_id``."""

    message_id: str
    action: str | None
    error_code: str
    error_description: str
    error_details: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
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


# --------------------------------------------------------------------------------------------- config


@dataclass(frozen=True, slots=True, kw_only=True)
class RpcConfig:
    """Settings of one :class:`RpcConnection`."""

    response_timeout: float = 30.0  #: seconds a CALL waits for its answer
    lenient: bool = False  #: accept known schema defects of real devices, with a warning
    validate_incoming: bool = True
    validate_outgoing: bool = True  #: refuse to send payloads that break the schema (LocalProtocolError)
    max_queued_calls: int = 1000  #: calls waiting behind the outstanding one
    id_history: int = 32  #: incoming message ids remembered to reject duplicates (besides the pending ones)

    def __post_init__(self) -> None:
        if not self.response_timeout > 0:
            raise LocalProtocolError("response_timeout must be positive")
        if self.max_queued_calls < 0 or self.id_history < 0:
            raise LocalProtocolError("max_queued_calls and id_history must not be negative")


@dataclass(slots=True)
class _Outgoing:
    message_id: str
    action: str
    frame: str
    timeout: float
    deadline: float = 0.0


def _as_payload(obj: Any) -> Any:
    if isinstance(obj, Mapping):
        return dict(obj)
    to_json = getattr(obj, "to_json", None)
    if to_json is None:
        raise LocalProtocolError(f"{type(obj).__name__} is neither a model object (to_json) nor a mapping")
    return to_json()


# --------------------------------------------------------------------------------------------- connection


class RpcConnection:
    """The OCPP-J RPC layer of one websocket connection; pure, no I/O."""

    def __init__(self, version: VersionModule, config: RpcConfig | None = None, *,
                 rng: random.Random | None = None) -> None:
        if version.VERSION not in ERROR_CODES:
            raise LocalProtocolError(f"unsupported OCPP version {version.VERSION!r}")
        self.version = version
        self.config = config if config is not None else RpcConfig()
        self._rng = rng  # None: ids from uuid4 (the OS's randomness, and no per-connection generator state)
        self._out: list[str] = []
        # small containers on purpose: a CSMS holds thousands of idle connections
        self._events: list[Event] = []
        self._in_flight: _Outgoing | None = None
        self._queue: list[_Outgoing] = []
        self._incoming: dict[str, str] = {}  # CALLs of the peer awaiting our answer: id -> action
        self._answered: dict[str, str] = {}  # CALLs we answered with a CALLRESULT (2.1 CALLRESULTERROR): id -> action
        self._seen: dict[str, None] = {}  # the last id_history incoming ids, oldest first
        self._our_ids: set[str] = set()
        self._finished: dict[str, None] = {}  # our last ids that timed out or were cancelled, oldest first
        self._closed = False

    # ----------------------------------------------------------------- properties

    @property
    def ocpp_version(self) -> str:
        """``"1.6"``, ``"2.0.1"`` or ``"2.1"``."""
        return self.version.VERSION

    @property
    def outstanding_call(self) -> str | None:
        """Message id of our CALL on the wire, awaiting its answer."""
        return self._in_flight.message_id if self._in_flight else None

    @property
    def queued_calls(self) -> int:
        """How many of our calls wait behind the outstanding one."""
        return len(self._queue)

    @property
    def pending_incoming(self) -> frozenset[str]:
        """Ids of the peer's CALLs we have not answered yet."""
        return frozenset(self._incoming)

    # ----------------------------------------------------------------- output

    def messages_to_send(self) -> list[str]:
        """The text frames to write to the websocket, in order (and forget them)."""
        out, self._out = self._out, []
        return out

    def next_event(self) -> Event | None:
        """The oldest event the application has not taken yet, or ``None``."""
        return self._events.pop(0) if self._events else None

    def events(self) -> list[Event]:
        """All pending events (and forget them)."""
        evs, self._events = self._events, []
        return evs

    # ----------------------------------------------------------------- timers

    def get_timer(self) -> float | None:
        """When :meth:`~evcharge.ocpp.rpc.RpcConnection.handle_timer` must be called next (``None``: no timer)."""
        return self._in_flight.deadline if self._in_flight else None

    def handle_timer(self, now: float) -> None:
        """The outstanding call times out if ``now`` is past :meth:`~evcharge.ocpp.rpc.RpcConnection.get_timer`."""
        f = self._in_flight
        if f is not None and now >= f.deadline:
            self._in_flight = None
            self._our_ids.discard(f.message_id)
            self._gave_up(f.message_id)
            self._events.append(CallTimedOut(f.message_id, f.action))
            self._pump(now)

    # ----------------------------------------------------------------- application -> peer

    def new_message_id(self) -> str:
        """A fresh random id: a version-4 UUID (36 characters), drawn from ``rng`` if one was given."""
        while True:
            rng = self._rng
            mid = str(uuid.uuid4() if rng is None else uuid.UUID(int=rng.getrandbits(128), version=4))
            if mid not in self._our_ids:
                return mid

    def _check_our_id(self, message_id: str | None) -> str:
        if message_id is None:
            return self.new_message_id()
        if not isinstance(message_id, str) or not message_id:
            raise LocalProtocolError("a message id is a non-empty string")
        if len(message_id) > MAX_MESSAGE_ID_LENGTH:
            raise LocalProtocolError(f"message id {message_id!r} is longer than {MAX_MESSAGE_ID_LENGTH} characters")
        if message_id in self._our_ids or message_id in self._finished:
            raise LocalProtocolError(f"message id {message_id!r} is already in use")
        return message_id

    def _check_open(self) -> None:
        if self._closed:
            raise LocalProtocolError("the connection is closed")

    def _validate_out(self, action: str, kind: Literal["request", "response"], payload: Any) -> None:
        if not self.config.validate_outgoing:
            return
        try:
            self.version.validate(action, kind, payload)
        except KeyError:
            raise LocalProtocolError(f"OCPP {self.ocpp_version} has no action {action!r}") from None
        except OcppValidationError as exc:
            raise LocalProtocolError(f"invalid {action} {kind}: {exc}") from exc

    def call(
        self, action: str, request: Any, now: float, *, message_id: str | None = None, timeout: float | None = None
    ) -> str:
        """Send (or queue, if a CALL is outstanding) a CALL; returns its message id.

        ``request`` is a model object or a JSON mapping.  Exactly one of :class:`ResultReceived`,
        :class:`ErrorReceived`, :class:`ResponseInvalid`, :class:`CallTimedOut` or :class:`CallAborted`
        will later report its end.  ``timeout`` overrides the configured response timeout for this call
        (counted from when the CALL goes out, not from when it was queued).
        """
        if timeout is not None and not timeout > 0:
            raise LocalProtocolError("timeout must be positive")
        self._check_open()
        payload = _as_payload(request)
        self._validate_out(action, "request", payload)
        if len(self._queue) >= self.config.max_queued_calls and self._in_flight is not None:
            raise LocalProtocolError(f"{len(self._queue)} calls are already queued (max_queued_calls)")
        mid = self._check_our_id(message_id)
        self._our_ids.add(mid)
        self._queue.append(_Outgoing(mid, str(action), _encode(Call(mid, str(action), payload)),
                                     timeout if timeout is not None else self.config.response_timeout))
        self._pump(now)
        return mid

    def cancel(self, message_id: str, now: float) -> bool:
        """Give up on our CALL ``message_id``: removed from the queue, or its answer ignored if on the wire.

        Emits :class:`CallAborted`; returns ``False`` if no such call is pending.
        """
        for item in self._queue:
            if item.message_id == message_id:
                self._queue.remove(item)
                self._our_ids.discard(message_id)
                self._events.append(CallAborted(message_id, item.action, "cancelled"))
                return True
        f = self._in_flight
        if f is not None and f.message_id == message_id:
            self._in_flight = None
            self._our_ids.discard(message_id)
            self._gave_up(message_id)
            self._events.append(CallAborted(message_id, f.action, "cancelled"))
            self._pump(now)
            return True
        return False

    def _pump(self, now: float) -> None:
        if self._in_flight is None and self._queue and not self._closed:
            item = self._queue.pop(0)
            item.deadline = now + item.timeout
            self._in_flight = item
            self._out.append(item.frame)

    def send_result(self, message_id: str, response: Any) -> None:
        """Answer the peer's CALL ``message_id`` with a CALLRESULT (model object or JSON mapping)."""
        self._check_open()
        action = self._incoming.get(message_id)
        if action is None:
            raise LocalProtocolError(f"no CALL {message_id!r} of the peer is waiting for an answer")
        payload = _as_payload(response)
        self._validate_out(action, "response", payload)
        del self._incoming[message_id]
        if self.ocpp_version == "2.1":
            self._answered[message_id] = action
            if len(self._answered) > 64:
                del self._answered[next(iter(self._answered))]
        self._out.append(_encode(CallResult(message_id, payload)))

    def send_error(
        self, message_id: str, code: str, description: str = "", details: Mapping[str, Any] | None = None
    ) -> None:
        """Answer the peer's CALL ``message_id`` with a CALLERROR."""
        self._check_open()
        if message_id not in self._incoming:
            raise LocalProtocolError(f"no CALL {message_id!r} of the peer is waiting for an answer")
        self._check_code(code)
        del self._incoming[message_id]
        self._out.append(_encode(CallError(message_id, code, description, dict(details or {}))))

    def send_result_error(
        self, message_id: str, code: str, description: str = "", details: Mapping[str, Any] | None = None
    ) -> None:
        """OCPP 2.1: tell the peer we could not process its CALLRESULT for our CALL ``message_id``."""
        self._check_open()
        if self.ocpp_version != "2.1":
            raise LocalProtocolError(f"CALLRESULTERROR does not exist in OCPP {self.ocpp_version}")
        self._check_code(code)
        self._out.append(_encode(CallResultError(message_id, code, description, dict(details or {}))))

    def send(self, action: str, request: Any, *, message_id: str | None = None) -> str:
        """OCPP 2.1: send a SEND frame (no answer expected, not queued); returns its message id."""
        self._check_open()
        if self.ocpp_version != "2.1":
            raise LocalProtocolError(f"SEND does not exist in OCPP {self.ocpp_version}")
        payload = _as_payload(request)
        self._validate_out(action, "request", payload)
        mid = self._check_our_id(message_id)
        self._gave_up(mid)
        self._out.append(_encode(Send(mid, str(action), payload)))
        return mid

    def _check_code(self, code: str) -> None:
        if code not in ERROR_CODES[self.ocpp_version]:
            raise LocalProtocolError(f"{code!r} is not an OCPP {self.ocpp_version} error code")

    def connection_closed(self) -> None:
        """The websocket is gone: every pending CALL of ours ends with :class:`CallAborted`."""
        if self._closed:
            return
        self._closed = True
        pending = ([self._in_flight] if self._in_flight else []) + list(self._queue)
        self._in_flight = None
        self._queue.clear()
        for item in pending:
            self._events.append(CallAborted(item.message_id, item.action, "connection closed"))
        self._incoming.clear()

    # ----------------------------------------------------------------- peer -> application

    def _violation(self, description: str, message: str | bytes, answer: CallError | CallResultError | None) -> None:
        if answer is not None:
            self._out.append(_encode(answer))
        text = message if isinstance(message, str) else message.decode("utf-8", "replace")
        self._events.append(ProtocolViolation(description, text[:2000], answer))

    def receive_message(self, data: str | bytes, now: float) -> None:
        """Feed one websocket message from the peer."""
        if self._closed:
            raise LocalProtocolError("the connection is closed")
        try:
            frame = parse_frame(data)
        except FrameError as exc:
            self._frame_error(exc, data)
            return
        if isinstance(frame, Call):
            self._on_call(frame, data)
        elif isinstance(frame, CallResult):
            self._on_result(frame, data, now)
        elif isinstance(frame, CallError):
            self._on_error(frame, data, now)
        elif self.ocpp_version != "2.1":
            # CALLRESULTERROR / SEND are unknown message types before 2.1
            self._frame_error(
                FrameError("message-type", f"message type {frame.to_list()[0]} does not exist in OCPP "
                           f"{self.ocpp_version}", message_type=frame.to_list()[0], message_id=frame.message_id),
                data,
            )
        elif isinstance(frame, CallResultError):
            action = self._answered.pop(frame.message_id, None)
            if action is None:
                self._violation(f"CALLRESULTERROR for {frame.message_id!r}, which is no CALLRESULT of ours", data,
                                None)
                return
            self._events.append(ResultErrorReceived(frame.message_id, action, frame.error_code,
                                                    frame.error_description, frame.error_details))
        else:
            self._on_send(frame, data)

    def _frame_error(self, exc: FrameError, data: str | bytes) -> None:
        mtype = exc.message_type
        answer: CallError | None = None
        if mtype is None or mtype == MessageType.CALL:
            # could be (or is) a CALL: answer, under "-1" if its id is unreadable
            answer = CallError(exc.message_id or UNKNOWN_MESSAGE_ID, error_code(self.ocpp_version, exc.problem),
                               str(exc)[:255], {})
            if exc.message_id is not None:
                self._remember_incoming(exc.message_id)
        elif exc.problem == "message-type" and self.ocpp_version != "1.6":
            answer = CallError(exc.message_id or UNKNOWN_MESSAGE_ID, error_code(self.ocpp_version, "message-type"),
                               str(exc)[:255], {})
        self._violation(str(exc), data, answer)

    def _remember_incoming(self, message_id: str) -> bool:
        """Record an incoming CALL id; ``False`` if it was seen before."""
        seen = self._seen
        if message_id in seen or message_id in self._incoming:
            return False
        if self.config.id_history:
            seen[message_id] = None
            if len(seen) > self.config.id_history:
                del seen[next(iter(seen))]
        return True

    def _gave_up(self, message_id: str) -> None:
        """Remember one of our ids whose answer we no longer wait for (a late answer is then recognised)."""
        self._finished[message_id] = None
        if len(self._finished) > 16:
            del self._finished[next(iter(self._finished))]

    def _check_payload(self, action: str, kind: Literal["request", "response"], payload: Mapping[str, Any]
                       ) -> tuple[Any, tuple[str, ...]]:
        """Validate and convert; raises OcppValidationError or KeyError (unknown action)."""
        warnings: list[str] = []
        if self.config.validate_incoming:
            warnings = self.version.validate(action, kind, payload, lenient=self.config.lenient)
        cls = self.version.request_class(action) if kind == "request" else self.version.response_class(action)
        try:
            obj = cls.from_json(payload)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise OcppValidationError(ViolationKind.FORMAT, f"cannot build {cls.__name__}: {exc}") from exc
        return obj, tuple(warnings)

    def _on_call(self, frame: Call, data: str | bytes) -> None:
        mid = frame.message_id
        version = self.ocpp_version
        if len(mid) > MAX_MESSAGE_ID_LENGTH:
            self._violation(
                f"message id of {len(mid)} characters (at most {MAX_MESSAGE_ID_LENGTH})",
                data, CallError(mid, error_code(version, "frame"),
                                f"message id longer than {MAX_MESSAGE_ID_LENGTH} characters", {}),
            )
            return
        if not self._remember_incoming(mid):
            # never a second answer under one id: the first CALL's answer (sent, or still to come) is the only one
            self._violation(f"duplicate message id {mid!r} (not answered)", data, None)
            return
        try:
            request, warnings = self._check_payload(frame.action, "request", frame.payload)
        except KeyError:
            self._violation(f"unknown action {frame.action!r}", data,
                            CallError(mid, error_code(version, "not-implemented"),
                                      f"unknown action {frame.action}"[:255], {}))
            return
        except OcppValidationError as exc:
            self._violation(f"invalid {frame.action} request: {exc}", data,
                            CallError(mid, error_code(version, exc.kind), str(exc)[:255], {}))
            return
        self._incoming[mid] = frame.action
        self._events.append(CallReceived(mid, frame.action, request, frame.payload, warnings))

    def _on_send(self, frame: Send, data: str | bytes) -> None:
        if len(frame.message_id) > MAX_MESSAGE_ID_LENGTH or not self._remember_incoming(frame.message_id):
            self._violation(f"SEND with an over-long or duplicate message id {frame.message_id!r}", data, None)
            return
        try:
            request, warnings = self._check_payload(frame.action, "request", frame.payload)
        except KeyError:
            self._violation(f"SEND of unknown action {frame.action!r}", data, None)
            return
        except OcppValidationError as exc:
            self._violation(f"invalid {frame.action} SEND: {exc}", data, None)
            return
        self._events.append(SendReceived(frame.message_id, frame.action, request, frame.payload, warnings))

    def _match(self, message_id: str, what: str, data: str | bytes) -> _Outgoing | None:
        f = self._in_flight
        if f is not None and (message_id == f.message_id or (message_id == UNKNOWN_MESSAGE_ID and what == "CALLERROR")):
            return f
        late = message_id in self._finished
        self._violation(
            f"{what} for {message_id!r}, " + ("a call we gave up on" if late else "which matches no CALL of ours"),
            data, None,
        )
        return None

    def _finish(self, f: _Outgoing, now: float) -> None:
        self._in_flight = None
        self._our_ids.discard(f.message_id)
        self._pump(now)

    def _on_result(self, frame: CallResult, data: str | bytes, now: float) -> None:
        f = self._match(frame.message_id, "CALLRESULT", data)
        if f is None:
            return
        try:
            response, warnings = self._check_payload(f.action, "response", frame.payload)
        except (OcppValidationError, KeyError) as exc:
            kind = exc.kind if isinstance(exc, OcppValidationError) else ViolationKind.FORMAT
            code = error_code(self.ocpp_version, kind)
            reason = str(exc)
            if self.ocpp_version == "2.1":
                self._out.append(_encode(CallResultError(f.message_id, code, reason[:255], {})))
            self._events.append(ResponseInvalid(f.message_id, f.action, code, reason, frame.payload))
            self._finish(f, now)
            return
        self._events.append(ResultReceived(f.message_id, f.action, response, frame.payload, warnings))
        self._finish(f, now)

    def _on_error(self, frame: CallError, data: str | bytes, now: float) -> None:
        f = self._match(frame.message_id, "CALLERROR", data)
        if f is None:
            return
        self._events.append(ErrorReceived(f.message_id, f.action, frame.error_code, frame.error_description,
                                          frame.error_details))
        self._finish(f, now)
