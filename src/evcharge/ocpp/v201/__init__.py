"""OCPP 2.0.1: typed models and compiled validators, generated from the official JSON schemas.

Every action has a ``<Action>Request`` and a ``<Action>Response`` frozen, slotted dataclass with
``to_json()`` and ``from_json()``; nested types and enums are classes of their own. ``validate()``
checks a payload exactly as the schema does. See the guide, docs/ocpp-models.rst.

Importing this package loads the constants, ``Action`` and the validators; the models are
imported on first use of any of their names.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from evcharge.ocpp._model import ABSENT, Absent, load_models, run_validator
from evcharge.ocpp.v201._generated.actions import MODEL_NAMES, SUBPROTOCOL, VERSION, Action
from evcharge.ocpp.v201._generated.validators import VALIDATORS

if TYPE_CHECKING:
    from evcharge.ocpp.v201._generated.models import *  # noqa: F403

__all__ = [
    "ABSENT",
    "SUBPROTOCOL",
    "VERSION",
    "Absent",
    "Action",
    "validate",
]
__all__ += MODEL_NAMES


def validate(action: str, kind: Literal["request", "response"], payload: Any, *, lenient: bool = False) -> list[str]:
    """Check ``payload`` against the schema of ``action``'s request or response.

    Raises :class:`evcharge.ocpp.errors.OcppValidationError` at the first violation; returns the
    warnings of lenient mode (always an empty list in strict mode). ``KeyError`` for an unknown
    action (or the response of a SEND-only action).
    """
    return run_validator(VALIDATORS, action, kind, payload, lenient)


if not TYPE_CHECKING:

    def __getattr__(name: str) -> Any:
        return load_models(globals(), "evcharge.ocpp.v201._generated.models", MODEL_NAMES, name)
