"""Short spellings of the RPC core's commands for the tests (the core takes frozen command dataclasses)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from evcharge.ocpp import rpc


def call(c: rpc.RpcConnection, action: str, request: Any, now: float, *, message_id: str | None = None,
         timeout: float | None = None) -> str:
    mid = c.new_message_id() if message_id is None else message_id
    c.send(rpc.StartCall(message_id=mid, action=action, request=request, timeout=timeout), now)
    return mid


def result(c: rpc.RpcConnection, message_id: str, response: Any, now: float = 0.0) -> None:
    c.send(rpc.SendResult(message_id=message_id, response=response), now)


def error(c: rpc.RpcConnection, message_id: str, code: str, description: str = "",
          details: Mapping[str, Any] | None = None, now: float = 0.0) -> None:
    c.send(rpc.SendError(message_id=message_id, code=code, description=description, details=details), now)


def result_error(c: rpc.RpcConnection, message_id: str, code: str, description: str = "", now: float = 0.0) -> None:
    c.send(rpc.SendResultError(message_id=message_id, code=code, description=description), now)


def unconfirmed(c: rpc.RpcConnection, action: str, request: Any, now: float = 0.0) -> str:
    mid = c.new_message_id()
    c.send(rpc.SendUnconfirmed(message_id=mid, action=action, request=request), now)
    return mid
