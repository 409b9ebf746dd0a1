"""OCPP 2.0.1: typed models and compiled validators, generated from the official JSON schemas.

Every action has a ``<Action>Request`` and a ``<Action>Response`` frozen, slotted dataclass with
``to_json()`` and ``from_json()``; nested types and enums are classes of their own. ``validate()``
checks a payload exactly as the schema does. See the guide, docs/ocpp-models.rst.

Importing this package loads the constants, ``Action`` and the validators; the models are
imported on first use of any of their names (the package is :func:`evcharge.ocpp._model.version_package`
applied to its generated modules, like the other versions).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from evcharge.ocpp._model import ABSENT, Absent, version_package
from evcharge.ocpp.v201._generated.actions import MODEL_NAMES, SUBPROTOCOL, VERSION, Action
from evcharge.ocpp.v201._generated.validators import VALIDATORS

if TYPE_CHECKING:
    from evcharge.ocpp.v201._generated.models import *  # noqa: F403
    from evcharge.ocpp.v201._generated.models import request_class, response_class

__all__ = ["ABSENT", "SUBPROTOCOL", "VERSION", "Absent", "Action", "request_class", "response_class", "validate"]
__all__ += [n for n in MODEL_NAMES if n not in __all__]

validate, _load = version_package(globals(), VALIDATORS, MODEL_NAMES)

if not TYPE_CHECKING:
    __getattr__ = _load
