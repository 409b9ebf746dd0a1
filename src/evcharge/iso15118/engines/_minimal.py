"""Message bodies holding only their mandatory fields ([V2G2-736]: a FAILED response carries nothing else).

:func:`minimal` builds an instance of any generated message class from its dataclass fields: every field
without a default gets a value, every optional field is left out. Values come, in order, from the
``values`` the engine passes (by field name: the EVSE ID, the response code, the present voltage...),
then from the field's type (0, False, the first enumeration member, a nested minimal element, a
one-element list). Protocol-neutral: the -20 engines use it for their message sets too.
"""

from __future__ import annotations

import dataclasses
import enum
import sys
import typing
from collections.abc import Mapping
from functools import cache
from typing import Any

__all__ = ["minimal"]

_UNIT_BY_NAME = (("voltage", "V"), ("current", "A"), ("power", "W"), ("energy", "Wh"))


@cache
def _hints(cls: type) -> dict[str, Any]:
    module = sys.modules[cls.__module__]
    return typing.get_type_hints(cls, vars(module))


def _mandatory(cls: type) -> tuple[dataclasses.Field[Any], ...]:
    return tuple(
        f
        for f in dataclasses.fields(cls)
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    )


def _value_for(tp: Any, name: str, values: Mapping[str, Any], parent: str) -> Any:
    origin = typing.get_origin(tp)
    if origin is list:
        (inner,) = typing.get_args(tp)
        return [_value_for(inner, name, values, parent)]
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return _value_for(args[0], name, values, parent)
    if isinstance(tp, type):
        if issubclass(tp, enum.Enum):
            if name == "unit" or tp.__name__ == "UnitSymbol":
                for key, unit in _UNIT_BY_NAME:
                    if key in parent:
                        return tp(unit)
            members = list(tp)
            return members[0]
        if tp is bool:
            return False
        if tp is int:
            return 0
        if tp is bytes:
            return b"\x00"
        if tp is str:
            return "0"
        if dataclasses.is_dataclass(tp):
            return minimal(tp, values, _parent=name)
    raise TypeError(f"no minimal value for {name}: {tp!r}")


def minimal(
    cls: Any, values: Mapping[str, Any] | None = None, *, include: tuple[str, ...] = (), _parent: str = ""
) -> Any:
    """An instance of ``cls`` with only its mandatory fields set (``values`` by field name first).

    ``include`` names optional fields to set as well: the branch of a mandatory XSD choice (which the
    generated class models as optional fields), e.g. ``dc_evse_status`` of a PowerDeliveryRes.
    """
    values = values or {}
    hints = _hints(cls)
    kwargs: dict[str, Any] = {}
    fields = _mandatory(cls) + tuple(f for f in dataclasses.fields(cls) if f.name in include)
    for f in fields:
        if f.name in values:
            kwargs[f.name] = values[f.name]
        else:
            kwargs[f.name] = _value_for(hints[f.name], f.name, values, _parent or f.name)
    return cls(**kwargs)
