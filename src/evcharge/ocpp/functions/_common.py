"""Helpers shared by the charge-point function modules: time parsing and formatting, payload access."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from .errors import FunctionsLocalError, FunctionsRemoteError

__all__ = ["FunctionsLocalError", "FunctionsRemoteError", "format_datetime", "from_timestamp", "models_of",
           "optional", "parse_datetime", "require", "typed_request"]


def typed_request(action: str, payload: Mapping[str, Any], version: str = "2.0.1") -> Any:
    """A JSON request checked against ``version``'s schema and built into its typed class, for the JSON-level entry
    points of the functions; a payload the schema refuses raises :class:`FunctionsRemoteError` with the violation's
    error code as ``hint``."""
    from evcharge.ocpp import v16, v21, v201  # the models load on first use

    from ..errors import OcppValidationError

    module: Any = {"1.6": v16, "2.0.1": v201, "2.1": v21}[version]
    try:
        module.validate(action, "request", payload)
    except OcppValidationError as exc:
        raise FunctionsRemoteError(f"{action}: {exc}", hint=exc.hint) from None
    return module.request_class(action).from_json(payload)


def models_of(message: object) -> Any:
    """The generated models module a typed message comes from (``evcharge.ocpp.v201._generated.models``...): the
    typed handlers answer with the response class of the request's own version."""
    return sys.modules[type(message).__module__]


def parse_datetime(value: Any, field: str) -> datetime:
    """Parse an OCPP ``date-time`` string into an aware UTC datetime."""
    if not isinstance(value, str):
        raise FunctionsRemoteError(f"{field}: expected a date-time string, got {type(value).__name__}")
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as exc:
        raise FunctionsRemoteError(f"{field}: not an ISO 8601 date-time: {value!r}") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)  # OCPP times are UTC; devices in the field omit the offset
    return parsed.astimezone(UTC)


def format_datetime(value: datetime) -> str:
    """Format an aware datetime as OCPP expects it: UTC, ``Z`` suffix, milliseconds only when non-zero."""
    if value.tzinfo is None:
        raise FunctionsLocalError("naive datetime: pass an aware datetime (UTC)")
    value = value.astimezone(UTC)
    if value.microsecond:
        return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def from_timestamp(now: float) -> datetime:
    """UNIX time (seconds) to an aware UTC datetime."""
    return datetime.fromtimestamp(now, tz=UTC)


def require(data: Mapping[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    """Fetch a required field of a CSMS payload, checking its JSON type."""
    if not isinstance(data, Mapping):
        raise FunctionsRemoteError(f"{where}: expected an object")
    if key not in data:
        raise FunctionsRemoteError(f"{where}.{key}: required field missing")
    value = data[key]
    if not isinstance(value, kind) or (isinstance(value, bool) and bool not in _as_tuple(kind)):
        raise FunctionsRemoteError(f"{where}.{key}: wrong type {type(value).__name__}")
    return value


def optional(data: Mapping[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    """Fetch an optional field (``None`` when absent), checking its JSON type."""
    if key not in data or data[key] is None:
        return None
    return require(data, key, kind, where)


def _as_tuple(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)
