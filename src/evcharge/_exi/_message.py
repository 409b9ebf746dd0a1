"""The base of the generated message classes.

Each generated class behaves as ``@dataclass(frozen=True, slots=True, kw_only=True)`` would make it:
keyword-only ``__init__`` (generated, with its types), ``__slots__``, ``__repr__``, ``__eq__``, ``__hash__``,
frozen attributes, pickling, and ``dataclasses.fields`` / ``replace`` / ``asdict`` / ``is_dataclass`` with each
field's ``metadata`` (``"xsd"``, ``"kind"``).  The decorator is not run at import: it ``exec``-s six methods per
class, which was most of the import time of a message set (hundreds of classes).  The shared methods live here
once; ``__dataclass_fields__`` is built on first use.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from typing import ClassVar

_set = object.__setattr__


def _slots(obj: object) -> tuple[str, ...]:
    """The field names of a generated class, in field order."""
    return cast("tuple[str, ...]", type(obj).__slots__)  # type: ignore[attr-defined]


class _Fields:
    """``__dataclass_fields__`` of a generated class, built from its ``_SPEC`` when first asked for."""

    def __get__(self, obj: object, cls: type) -> dict[str, dataclasses.Field[Any]]:
        spec = cls.__dict__.get("_SPEC", ())
        fields: dict[str, dataclasses.Field[Any]] = {}
        for name, annotation, required, xsd, kind in spec:
            meta = {"xsd": xsd, "kind": kind}
            f = cast(
                "dataclasses.Field[Any]",
                dataclasses.field(metadata=meta, kw_only=True) if required
                else dataclasses.field(default=None, metadata=meta, kw_only=True),
            )
            f.name = name
            f.type = annotation
            f._field_type = dataclasses._FIELD  # type: ignore[attr-defined]
            fields[name] = f
        if spec:
            type.__setattr__(cls, "__dataclass_fields__", fields)
        return fields


class Message:
    """Base of the generated classes (see the module doc)."""

    # no annotations at run time here: typing.get_type_hints of a generated class resolves its bases' annotations
    # in the generated module's namespace
    __slots__ = ()
    __match_args__ = ()
    if TYPE_CHECKING:
        __dataclass_fields__: ClassVar[dict[str, dataclasses.Field[Any]]]
    else:
        __dataclass_fields__ = _Fields()

    def __repr__(self) -> str:
        return f"{type(self).__qualname__}({', '.join(f'{n}={getattr(self, n)!r}' for n in _slots(self))})"

    def __eq__(self, other: object) -> bool:
        if other.__class__ is self.__class__:
            return tuple(getattr(self, n) for n in _slots(self)) == tuple(getattr(other, n) for n in _slots(self))
        return NotImplemented

    def __hash__(self) -> int:
        return hash(tuple(getattr(self, n) for n in _slots(self)))

    def __setattr__(self, name: str, value: object) -> None:
        raise dataclasses.FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise dataclasses.FrozenInstanceError(f"cannot delete field {name!r}")

    def __getstate__(self) -> list[Any]:
        return [getattr(self, n) for n in _slots(self)]

    def __setstate__(self, state: list[Any]) -> None:
        for n, v in zip(_slots(self), state, strict=True):
            _set(self, n, v)


__all__ = ["Message"]
