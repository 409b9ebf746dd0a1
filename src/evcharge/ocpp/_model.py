"""Hand-written runtime helpers of the generated OCPP models and validators.

The generated modules in ``evcharge.ocpp.v16._generated``, ``v201._generated`` and
``v21._generated`` call these helpers; nothing here knows a message.  The helpers on the error
path (everything that starts with ``fail``) build the JSON path of the offending value lazily:
the generated code passes a *path chain* -- ``()`` for the payload itself and ``(parent, key)``
for a child, ``key`` being a property name or an array index -- and only a failure or a lenient
warning turns it into text.
"""

from __future__ import annotations

import calendar
import decimal
import importlib
import math
import re
from collections.abc import Callable, Mapping
from typing import Any, Final, Literal, NoReturn

from evcharge.ocpp.errors import OcppValidationError, ViolationKind

__all__ = [
    "ABSENT",
    "Absent",
    "PathChain",
    "Validator",
    "format_path",
    "load_models",
    "run_validator",
    "version_package",
]

# ``()`` for the payload, ``(parent_chain, key)`` for a value inside it.
PathChain = tuple[Any, ...]

# A generated validator: (value, path chain, warnings list or ``None`` in strict mode).
Validator = Callable[[Any, PathChain, "list[str] | None"], None]


class Absent:
    """Type of ``ABSENT``, the default of untyped optional fields (vendor data).

    Untyped fields such as ``DataTransferRequest.data`` in OCPP 2.x accept any JSON value,
    ``null`` included; ``ABSENT`` tells "not in the message" apart from "``null``".
    """

    __slots__ = ()
    _instance: Absent | None = None

    def __new__(cls) -> Absent:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "ABSENT"

    def __bool__(self) -> bool:
        return False

    def __reduce__(self) -> str:
        return "ABSENT"


ABSENT: Final = Absent()


def format_path(chain: PathChain) -> str:
    """Turn a path chain into ``meterValue[0].sampledValue[2].value``."""
    keys: list[Any] = []
    while chain:
        chain, key = chain
        keys.append(key)
    out = ""
    for key in reversed(keys):
        if isinstance(key, int):
            out += f"[{key}]"
        else:
            out += f".{key}" if out else str(key)
    return out


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def fail(kind: ViolationKind, message: str, chain: PathChain) -> NoReturn:
    raise OcppValidationError(kind, message, format_path(chain))


def fail_not_object(value: Any, chain: PathChain) -> NoReturn:
    """A value that must be a JSON object is not (the payload itself: a format violation)."""
    kind = ViolationKind.FORMAT if not chain else ViolationKind.TYPE
    fail(kind, f"expected an object, got {_json_type(value)}", chain)


def fail_type(expected: str, value: Any, chain: PathChain) -> NoReturn:
    fail(ViolationKind.TYPE, f"expected {expected}, got {_json_type(value)}", chain)


def fail_unknown(obj: Mapping[str, Any], allowed: frozenset[str], chain: PathChain) -> NoReturn:
    extra = sorted(str(k) for k in obj.keys() - allowed)
    fail(ViolationKind.PROPERTY, f"additional properties are not allowed: {', '.join(map(repr, extra))}", chain)


def fail_missing(obj: Mapping[str, Any], required: tuple[str, ...], chain: PathChain) -> NoReturn:
    missing = [k for k in required if k not in obj]
    fail(ViolationKind.OCCURRENCE, f"required property {missing[0]!r} is missing", chain)


def fail_enum(value: str, allowed: frozenset[str], chain: PathChain) -> NoReturn:
    fail(ViolationKind.PROPERTY, f"{value!r} is not one of {sorted(allowed)}", chain)


def fail_items(value: list[Any], bound: int, minimum: bool, chain: PathChain) -> NoReturn:
    if minimum:
        fail(ViolationKind.OCCURRENCE, f"{len(value)} items, at least {bound} required", chain)
    fail(ViolationKind.OCCURRENCE, f"{len(value)} items, at most {bound} allowed", chain)


def fail_range(value: Any, bound: Any, minimum: bool, chain: PathChain) -> NoReturn:
    word = "less than the minimum" if minimum else "greater than the maximum"
    fail(ViolationKind.PROPERTY, f"{value!r} is {word} {bound!r}", chain)


def max_length(value: str, limit: int, chain: PathChain, warnings: list[str] | None) -> None:
    """An over-long string: a violation when strict, a warning when lenient."""
    message = f"string of {len(value)} characters is longer than maxLength {limit}"
    if warnings is None:
        fail(ViolationKind.PROPERTY, message, chain)
    warnings.append(f"{format_path(chain)}: {message} (accepted in lenient mode)")


def lenient_integer(value: Any, chain: PathChain, warnings: list[str] | None) -> None:
    """A 1.6 field the published schemas once typed ``number``: lenient mode accepts any number."""
    if warnings is None or not is_number(value):
        fail_type("integer", value, chain)
    warnings.append(f"{format_path(chain)}: number {value!r} where the schema wants an integer "
                    "(a known OCPP 1.6 schema defect; accepted in lenient mode)")


# -- type tests for the slow path (the generated code first tests ``value.__class__``) --

def is_int4(value: Any) -> bool:
    """draft-04 ``integer``: a Python int that is not a bool."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_int6(value: Any) -> bool:
    """draft-06 ``integer``: also a float with an integral value (``1.0``)."""
    if isinstance(value, float):
        return value.is_integer()
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    """A JSON number: an int or a finite float, not a bool (NaN and infinities are not JSON)."""
    if isinstance(value, float):
        return math.isfinite(value)
    return isinstance(value, int) and not isinstance(value, bool)


# -- multipleOf with decimal arithmetic --

_DECIMAL: Final = decimal.Context(prec=800, Emax=decimal.MAX_EMAX, Emin=decimal.MIN_EMIN)


def multiple_of(value: int | float, factor: decimal.Decimal) -> bool:
    """True when ``value`` is a multiple of ``factor``, reading the float by its shortest repr.

    ``0.3`` is a multiple of ``0.1`` here (binary floating point would say ``0.3 / 0.1`` is
    ``2.9999999999999996``).
    """
    try:
        number = decimal.Decimal(repr(value)) if isinstance(value, float) else decimal.Decimal(value)
        return _DECIMAL.remainder(number, factor).is_zero()
    except (decimal.InvalidOperation, ValueError):
        return False


def fail_multiple(value: Any, factor: decimal.Decimal, chain: PathChain) -> NoReturn:
    fail(ViolationKind.PROPERTY, f"{value!r} is not a multiple of {factor}", chain)


# -- format: date-time (RFC 3339 section 5.6) --

_DATE_TIME: Final = re.compile(
    r"(\d{4})-(0[1-9]|1[0-2])-(\d{2})[Tt](?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d(?:\.\d+)?(?:[Zz]|[+-](?:[01]\d|2[0-3]):[0-5]\d)",
    re.ASCII,
)


def is_date_time(value: str) -> bool:
    """RFC 3339 ``date-time``: full date, ``T``, full time with a ``Z`` or numeric offset.

    Year 0000 and days beyond the month's length are rejected; a leap second (``:60``) is
    rejected too, as the reference validator of the JSON Schema ecosystem does.
    """
    match = _DATE_TIME.fullmatch(value)
    if match is None:
        return False
    year_text, month_text, day_text = match.group(1, 2, 3)
    if year_text == "0000" or day_text == "00":
        return False
    if day_text <= "28":  # two ASCII digits: every month has these days (the common case, no arithmetic)
        return True
    return int(day_text) <= calendar.monthrange(int(year_text), int(month_text))[1]


def fail_date_time(value: str, chain: PathChain) -> NoReturn:
    fail(ViolationKind.TYPE, f"{value!r} is not an RFC 3339 date-time", chain)


# -- the version modules' validate() --

def run_validator(
    validators: Mapping[str, tuple[Validator | None, Validator | None]],
    action: str,
    kind: Literal["request", "response"],
    payload: Any,
    lenient: bool,
) -> list[str]:
    """Run the generated validator of ``action``'s request or response (see a version's ``validate``)."""
    pair = validators[action]
    if kind == "request":
        func = pair[0]
    elif kind == "response":
        func = pair[1]
    else:
        raise ValueError(f"kind must be 'request' or 'response', not {kind!r}")
    if func is None:
        raise KeyError(f"{action} has no {kind} (it is a SEND-only message)")
    if lenient:
        warnings: list[str] = []
        func(payload, (), warnings)
        return warnings
    func(payload, (), None)
    return []


def load_models(namespace: dict[str, Any], module_name: str, names: tuple[str, ...], name: str) -> Any:
    """The module ``__getattr__`` of a version package: import its models on first use.

    Importing ``evcharge.ocpp.v201`` loads only the constants, ``Action`` and the validators;
    the first access to a model (or to ``request_class``...) imports the generated models and
    copies their names into the package, so later accesses are plain attribute lookups.
    """
    if name not in names:
        raise AttributeError(f"module {namespace['__name__']!r} has no attribute {name!r}")
    module = importlib.import_module(module_name)
    for each in names:
        namespace[each] = getattr(module, each)
    return namespace[name]


_VALIDATE_DOC = """Check ``payload`` against the schema of ``action``'s request or response.

    Raises :class:`evcharge.ocpp.errors.OcppValidationError` at the first violation; returns the
    warnings of lenient mode (always an empty list in strict mode). ``KeyError`` for an unknown
    action (or the response of a SEND-only action).
    """


def version_package(
    namespace: dict[str, Any],
    validators: Mapping[str, tuple[Validator | None, Validator | None]],
    names: tuple[str, ...],
) -> tuple[Callable[..., list[str]], Callable[[str], Any]]:
    """The ``validate`` and the module ``__getattr__`` of the version package whose ``globals()`` is ``namespace``.

    The three version packages (``v16``, ``v201``, ``v21``) are this one function applied to their generated
    modules: ``validate`` runs the package's validators, ``__getattr__`` imports its models on first use
    (from ``<package>._generated.models``).
    """
    module_name = f"{namespace['__name__']}._generated.models"

    def validate(action: str, kind: Literal["request", "response"], payload: Any, *, lenient: bool = False
                 ) -> list[str]:
        return run_validator(validators, action, kind, payload, lenient)

    def getattr_(name: str) -> Any:
        return load_models(namespace, module_name, names, name)

    validate.__doc__ = _VALIDATE_DOC
    validate.__module__ = namespace["__name__"]
    return validate, getattr_
