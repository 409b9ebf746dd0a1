"""The OCPP-J RPC core of one websocket connection: :class:`RpcConnection`, pure, no I/O.

It speaks the vocabulary of every evcharge core (:class:`evcharge.sansio.WireCore`):

* each text message of the peer goes in through :meth:`RpcConnection.receive_data` (one message per call,
  UTF-8 ``bytes`` or the ``str`` the websocket library already decoded);
* the application's wishes go in through :meth:`RpcConnection.send` (:class:`StartCall`,
  :class:`SendResult`, :class:`SendError`, :class:`SendResultError`,
  :class:`SendUnconfirmed` (2.1 SEND frame), :class:`CancelCall`);
* the frames to write come out of :meth:`RpcConnection.data_to_send` as UTF-8 ``bytes``, one item per
  websocket message, each to be sent as a *text* frame (websockets: ``send(data, text=True)``);
* what the application must know comes out of :meth:`RpcConnection.next_event`;
* ``now`` is monotonic seconds; the response timeout is the timer of :meth:`RpcConnection.get_timer`.

Rules enforced (OCPP-J, OCPP 2.0.1 part 4 and 1.6 "JSON over WebSockets"):

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

import random
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal

from evcharge.ocpp.errors import LocalProtocolError, OcppValidationError, ViolationKind

from .events import (
    CallAborted,
    CallReceived,
    CallTimedOut,
    CancelCall,
    Command,
    ErrorReceived,
    Event,
    ProtocolViolation,
    ResponseInvalid,
    ResultErrorReceived,
    ResultReceived,
    SendError,
    SendReceived,
    SendResult,
    SendResultError,
    SendUnconfirmed,
    StartCall,
)
from .frames import (
    ERROR_CODES,
    MAX_MESSAGE_ID_LENGTH,
    UNKNOWN_MESSAGE_ID,
    Call,
    CallError,
    CallResult,
    CallResultError,
    FrameError,
    MessageType,
    SendFrame,
    VersionModule,
    _encode_json,
    encode_frame,
    error_code,
    parse_frame,
)

__all__ = ["RpcConfig", "RpcConnection", "RpcState"]


class RpcState(StrEnum):
    """The state of an :class:`RpcConnection` (as seen from our calls)."""

    IDLE = "idle"  #: no CALL of ours on the wire
    AWAITING_ANSWER = "awaiting-answer"  #: a CALL of ours is on the wire, waiting for its answer
    CLOSED = "closed"  #: the websocket is gone, nothing goes in or out any more


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
    frame: bytes
    timeout: float
    deadline: float = 0.0


# type -> whether it is a Mapping: isinstance() against the ABC costs more than the rest of _as_payload
_IS_MAPPING: dict[type, bool] = {dict: True}


def _as_payload(obj: Any) -> Any:
    cls = obj.__class__
    is_mapping = _IS_MAPPING.get(cls)
    if is_mapping is None:
        is_mapping = isinstance(obj, Mapping)
        if len(_IS_MAPPING) < 1024:
            _IS_MAPPING[cls] = is_mapping
    if is_mapping:
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
        self._out: list[bytes] = []
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
    def state(self) -> RpcState:
        """:class:`RpcState` of the connection."""
        if self._closed:
            return RpcState.CLOSED
        return RpcState.AWAITING_ANSWER if self._in_flight is not None else RpcState.IDLE

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

    def data_to_send(self) -> list[bytes]:
        """The frames to write, in order, as UTF-8 JSON (send each as a websocket *text* message); empties the
        queue."""
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
        """When :meth:`RpcConnection.handle_timer` must be called next (``None``: no timer)."""
        return self._in_flight.deadline if self._in_flight else None

    def handle_timer(self, now: float) -> None:
        """The outstanding call times out if ``now`` is past :meth:`RpcConnection.get_timer`."""
        f = self._in_flight
        if f is not None and now >= f.deadline:
            self._in_flight = None
            self._our_ids.discard(f.message_id)
            self._gave_up(f.message_id)
            self._events.append(CallTimedOut(message_id=f.message_id, action=f.action))
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

    def send(self, command: Command, now: float) -> None:
        """The application's wish (see ``evcharge.ocpp.rpc.events``); ``LocalProtocolError`` when the
        connection is closed or the command breaks the protocol (nothing is sent then)."""
        self._check_open()
        if isinstance(command, SendResult):
            self._send_result(command.message_id, command.response)
        elif isinstance(command, StartCall):
            self._start_call(command, now)
        elif isinstance(command, SendError):
            self._send_error(command.message_id, command.code, command.description, command.details)
        elif isinstance(command, CancelCall):
            self._cancel(command.message_id, now)
        elif isinstance(command, SendUnconfirmed):
            self._send_unconfirmed(command)
        elif isinstance(command, SendResultError):
            self._send_result_error(command.message_id, command.code, command.description, command.details)
        else:
            raise LocalProtocolError(f"{type(command).__name__} is not an RPC command")

    def _start_call(self, command: StartCall, now: float) -> None:
        timeout = command.timeout
        if timeout is not None and not timeout > 0:
            raise LocalProtocolError("timeout must be positive")
        action = str(command.action)
        payload = _as_payload(command.request)
        self._validate_out(action, "request", payload)
        if len(self._queue) >= self.config.max_queued_calls and self._in_flight is not None:
            raise LocalProtocolError(f"{len(self._queue)} calls are already queued (max_queued_calls)")
        mid = self._check_our_id(command.message_id)
        self._our_ids.add(mid)
        self._queue.append(_Outgoing(mid, action, encode_frame(Call(mid, action, payload)),
                                     timeout if timeout is not None else self.config.response_timeout))
        self._pump(now)

    def _cancel(self, message_id: str, now: float) -> None:
        for item in self._queue:
            if item.message_id == message_id:
                self._queue.remove(item)
                self._our_ids.discard(message_id)
                self._events.append(CallAborted(message_id=message_id, action=item.action, reason="cancelled"))
                return
        f = self._in_flight
        if f is not None and f.message_id == message_id:
            self._in_flight = None
            self._our_ids.discard(message_id)
            self._gave_up(message_id)
            self._events.append(CallAborted(message_id=message_id, action=f.action, reason="cancelled"))
            self._pump(now)

    def _pump(self, now: float) -> None:
        if self._in_flight is None and self._queue and not self._closed:
            item = self._queue.pop(0)
            item.deadline = now + item.timeout
            self._in_flight = item
            self._out.append(item.frame)

    def _send_result(self, message_id: str, response: Any) -> None:
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
        # the CALLRESULT frame [3, id, payload] written as encode_frame(CallResult(...)) does, without the frame object
        self._out.append(_encode_json([3, message_id, payload]).encode("utf-8"))

    def _send_error(self, message_id: str, code: str, description: str, details: Mapping[str, Any] | None) -> None:
        if message_id not in self._incoming:
            raise LocalProtocolError(f"no CALL {message_id!r} of the peer is waiting for an answer")
        self._check_code(code)
        del self._incoming[message_id]
        self._out.append(encode_frame(CallError(message_id, code, description, dict(details or {}))))

    def _send_result_error(self, message_id: str, code: str, description: str,
                           details: Mapping[str, Any] | None) -> None:
        if self.ocpp_version != "2.1":
            raise LocalProtocolError(f"CALLRESULTERROR does not exist in OCPP {self.ocpp_version}")
        self._check_code(code)
        self._out.append(encode_frame(CallResultError(message_id, code, description, dict(details or {}))))

    def _send_unconfirmed(self, command: SendUnconfirmed) -> None:
        if self.ocpp_version != "2.1":
            raise LocalProtocolError(f"SEND does not exist in OCPP {self.ocpp_version}")
        payload = _as_payload(command.request)
        action = str(command.action)
        self._validate_out(action, "request", payload)
        mid = self._check_our_id(command.message_id)
        self._gave_up(mid)
        self._out.append(encode_frame(SendFrame(mid, action, payload)))

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
            self._events.append(CallAborted(message_id=item.message_id, action=item.action,
                                            reason="connection closed"))
        self._incoming.clear()

    # ----------------------------------------------------------------- peer -> application

    def _violation(self, description: str, message: str | bytes, answer: CallError | CallResultError | None) -> None:
        if answer is not None:
            self._out.append(encode_frame(answer))
        text = message if isinstance(message, str) else message.decode("utf-8", "replace")
        self._events.append(ProtocolViolation(description=description, message=text[:2000], answer=answer))

    def receive_data(self, data: bytes | str, now: float) -> None:
        """One websocket message from the peer (UTF-8 ``bytes``, or the ``str`` of a text frame).

        Bad input never raises: it is answered as OCPP-J says (a CALLERROR in :meth:`RpcConnection.data_to_send`, or
        nothing) and reported as :class:`ProtocolViolation`."""
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
            self._events.append(ResultErrorReceived(message_id=frame.message_id, action=action,
                                                    error_code=frame.error_code,
                                                    error_description=frame.error_description,
                                                    error_details=frame.error_details))
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
        self._events.append(CallReceived(message_id=mid, action=frame.action, request=request, payload=frame.payload,
                                         warnings=warnings))

    def _on_send(self, frame: SendFrame, data: str | bytes) -> None:
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
        self._events.append(SendReceived(message_id=frame.message_id, action=frame.action, request=request,
                                         payload=frame.payload, warnings=warnings))

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
                self._out.append(encode_frame(CallResultError(f.message_id, code, reason[:255], {})))
            self._events.append(ResponseInvalid(message_id=f.message_id, action=f.action, error_code=code,
                                                reason=reason, payload=frame.payload))
            self._finish(f, now)
            return
        self._events.append(ResultReceived(message_id=f.message_id, action=f.action, response=response,
                                           payload=frame.payload, warnings=warnings))
        self._finish(f, now)

    def _on_error(self, frame: CallError, data: str | bytes, now: float) -> None:
        f = self._match(frame.message_id, "CALLERROR", data)
        if f is None:
            return
        self._events.append(ErrorReceived(message_id=f.message_id, action=f.action, error_code=frame.error_code,
                                          error_description=frame.error_description,
                                          error_details=frame.error_details))
        self._finish(f, now)
