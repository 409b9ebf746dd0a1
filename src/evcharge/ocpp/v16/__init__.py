"""OCPP 1.6J: typed models and compiled validators, generated from the official JSON schemas.

Every action has a ``<Action>Request`` and a ``<Action>Response`` frozen, slotted dataclass with
``to_json()`` and ``from_json()``; nested types and enums are classes of their own. ``validate()``
checks a payload exactly as the schema does (see the guide, docs/ocpp-models.rst).
"""

from __future__ import annotations

from typing import Any, Literal

from evcharge.ocpp._model import ABSENT, Absent, run_validator
from evcharge.ocpp.v16._generated import models as _models
from evcharge.ocpp.v16._generated.models import *  # noqa: F403
from evcharge.ocpp.v16._generated.models import (
    REQUESTS,
    RESPONSES,
    SUBPROTOCOL,
    VERSION,
    Action,
    request_class,
    response_class,
)
from evcharge.ocpp.v16._generated.validators import VALIDATORS

__all__ = [
    "ABSENT",
    "REQUESTS",
    "RESPONSES",
    "SUBPROTOCOL",
    "VERSION",
    "Absent",
    "Action",
    "request_class",
    "response_class",
    "validate",
]
__all__ += _models.__all__


def validate(action: str, kind: Literal["request", "response"], payload: Any, *, lenient: bool = False) -> list[str]:
    """Check ``payload`` against the schema of ``action``'s request or response.

    Raises :class:`evcharge.ocpp.errors.OcppValidationError` at the first violation; returns the
    warnings of lenient mode (always an empty list in strict mode). ``KeyError`` for an unknown
    action (or the response of a SEND-only action).
    """
    return run_validator(VALIDATORS, action, kind, payload, lenient)
