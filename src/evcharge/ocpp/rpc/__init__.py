"""OCPP-J RPC as a sans-I/O core: frames, events and commands, and the connection.

* ``evcharge.ocpp.rpc.frames`` -- the five message types, JSON encoding and parsing, error codes per version;
* ``evcharge.ocpp.rpc.events`` -- what the core reports (:class:`CallReceived`, :class:`ResultReceived`...)
  and what the application commands (:class:`StartCall`, :class:`SendResult`, :class:`SendError`,
  :class:`SendResultError`, :class:`SendUnconfirmed`, :class:`CancelCall`);
* ``evcharge.ocpp.rpc.connection`` -- :class:`RpcConnection`, an :class:`evcharge.sansio.WireCore`.

Every public name is importable from here (``from evcharge.ocpp import rpc; rpc.RpcConnection``).
"""

from __future__ import annotations

from .connection import RpcConfig, RpcConnection, RpcState
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
    Frame,
    FrameError,
    MessageType,
    Problem,
    SendFrame,
    VersionModule,
    encode_frame,
    error_code,
    parse_frame,
    translate_code,
)

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
    "CancelCall",
    "Command",
    "ErrorReceived",
    "Event",
    "Frame",
    "FrameError",
    "MessageType",
    "Problem",
    "ProtocolViolation",
    "ResponseInvalid",
    "ResultErrorReceived",
    "ResultReceived",
    "RpcConfig",
    "RpcConnection",
    "RpcState",
    "SendError",
    "SendFrame",
    "SendReceived",
    "SendResult",
    "SendResultError",
    "SendUnconfirmed",
    "StartCall",
    "VersionModule",
    "encode_frame",
    "error_code",
    "parse_frame",
    "translate_code",
]
