"""Test helpers: the shipped OCPP schemas, the jsonschema oracle, and hypothesis strategies.

The strategies are derived from the schema documents themselves (not from our generated code):
every keyword the OCPP schemas use (type, enum, maxLength, date-time, minimum/maximum, multipleOf,
minItems/maxItems, required, additionalProperties, $ref) shapes what is drawn, so every draw is a
valid instance -- which the oracle confirms in the tests.
"""

from __future__ import annotations

import copy
import datetime as dt
import decimal
import functools
import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
from hypothesis import strategies as st

import evcharge.ocpp

SCHEMA_ROOT = Path(evcharge.ocpp.__file__).parent / "schemas"
VERSION_KEYS = ("v16", "v201", "v21")
REQUEST_SUFFIX = {"v16": "", "v201": "Request", "v21": "Request"}


def schema_cases() -> list[tuple[str, str, str]]:
    """(version key, action, kind) for every shipped schema file."""
    cases = []
    for key in VERSION_KEYS:
        for path in sorted((SCHEMA_ROOT / key).glob("*.json")):
            stem = path.stem
            if stem.endswith("Response"):
                cases.append((key, stem[: -len("Response")], "response"))
            elif REQUEST_SUFFIX[key] and stem.endswith(REQUEST_SUFFIX[key]):
                cases.append((key, stem[: -len(REQUEST_SUFFIX[key])], "request"))
            else:
                cases.append((key, stem, "request"))
    return cases


def schema_path(key: str, action: str, kind: str) -> Path:
    if kind == "response":
        return SCHEMA_ROOT / key / f"{action}Response.json"
    path = SCHEMA_ROOT / key / f"{action}{REQUEST_SUFFIX[key]}.json"
    return path if path.exists() else SCHEMA_ROOT / key / f"{action}.json"


@functools.cache
def load_schema(key: str, action: str, kind: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(schema_path(key, action, kind).read_text(encoding="utf-8"))
    return data


# -- the oracle -------------------------------------------------------------------------------

def _decimal_multiple_of(validator: Any, factor: Any, instance: Any, schema: Any) -> Iterator[Any]:
    """multipleOf read with decimal arithmetic, as the OCPP schemas mean it (facts: 1.6 defects)."""
    if not validator.is_type(instance, "number"):
        return
    number = decimal.Decimal(repr(instance)) if isinstance(instance, float) else decimal.Decimal(instance)
    ctx = decimal.Context(prec=800, Emax=decimal.MAX_EMAX, Emin=decimal.MIN_EMIN)
    if not ctx.remainder(number, decimal.Decimal(repr(factor))).is_zero():
        yield jsonschema.ValidationError(f"{instance!r} is not a multiple of {factor}")


@functools.cache
def oracle(key: str, action: str, kind: str) -> Any:
    """A jsonschema validator of the schema's own draft, with the date-time format checked."""
    schema = load_schema(key, action, kind)
    base = jsonschema.validators.validator_for(schema)
    base.check_schema(schema)
    cls = jsonschema.validators.extend(base, {"multipleOf": _decimal_multiple_of})
    return cls(schema, format_checker=jsonschema.FormatChecker(["date-time"]))


def oracle_valid(key: str, action: str, kind: str, instance: Any) -> bool:
    return bool(oracle(key, action, kind).is_valid(instance))


# -- strategies -------------------------------------------------------------------------------

def _deref(node: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = root["definitions"][node["$ref"].rsplit("/", 1)[-1]]
    return node


json_scalars = st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.floats(
    allow_nan=False, allow_infinity=False, width=64) | st.text(max_size=8)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)

@st.composite
def rfc3339(draw: st.DrawFn) -> str:
    """Valid RFC 3339 date-times in the spellings real peers use."""
    moment = draw(st.datetimes(min_value=dt.datetime(1, 1, 1), max_value=dt.datetime(9999, 12, 31)))
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    text = f"{moment.year:04d}" + text[text.index("-"):]
    frac = draw(st.sampled_from(["", ".0", f".{moment.microsecond:06d}", ".123"]))
    zone = draw(st.sampled_from(["Z", "+00:00", "-05:30", "+14:00", "z"]))
    sep = draw(st.sampled_from(["T", "T", "t"]))
    return text.replace("T", sep) + frac + zone


def strategy(node: dict[str, Any], root: dict[str, Any], draft6: bool) -> st.SearchStrategy[Any]:
    node = _deref(node, root)
    kind = node.get("type")
    if kind is None:
        return json_values
    if kind == "string":
        if "enum" in node:
            return st.sampled_from(node["enum"])
        if node.get("format") == "date-time":
            return rfc3339()
        return st.text(max_size=min(node.get("maxLength", 40), 40))
    if kind == "integer":
        ints = st.integers(node.get("minimum", -(2**53)), node.get("maximum", 2**53))
        if draft6:  # draft-06 counts 2.0 as an integer
            return ints | ints.filter(lambda i: abs(i) < 2**52).map(float)
        return ints
    if kind == "number":
        if "multipleOf" in node:
            factor = decimal.Decimal(repr(node["multipleOf"]))
            return st.integers(-10**6, 10**6).map(lambda k: float(k * factor))
        lo, hi = node.get("minimum"), node.get("maximum")
        return st.floats(lo, hi, allow_nan=False, allow_infinity=False) | st.integers(
            math.ceil(lo) if lo is not None else None, math.floor(hi) if hi is not None else None)
    if kind == "boolean":
        return st.booleans()
    if kind == "array":
        low = node.get("minItems", 0)
        high = node.get("maxItems", low + 2)
        return st.lists(strategy(node["items"], root, draft6), min_size=low, max_size=min(high, low + 2))
    if kind == "object":
        props = node.get("properties", {})
        required = set(node.get("required", []))
        fixed = st.fixed_dictionaries(
            {k: strategy(v, root, draft6) for k, v in props.items() if k in required},
            optional={k: strategy(v, root, draft6) for k, v in props.items() if k not in required},
        )
        if node.get("additionalProperties", True) is False:
            return fixed
        extra = st.dictionaries(st.text(min_size=1, max_size=8).filter(lambda k: k not in props), json_values,
                                max_size=2)
        return st.tuples(fixed, extra).map(lambda pair: {**pair[1], **pair[0]})
    raise AssertionError(f"unsupported schema type {kind}")


@functools.cache
def instances(key: str, action: str, kind: str) -> st.SearchStrategy[Any]:
    root = load_schema(key, action, kind)
    return strategy(root, root, "draft-06" in root.get("$schema", ""))


# -- mutations --------------------------------------------------------------------------------

def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _paths(v, (*prefix, i))


_OTHER_VALUES = [None, True, False, 0, -1, 7, 2.5, 1.0, "", "x", "Accepted", [], [1], {}, {"a": 1}]
_BAD_DATES = ["2024-02-30T00:00:00Z", "2023-13-01T00:00:00Z", "2024-01-01 00:00:00Z", "2024-01-01T24:00:00Z",
              "2024-01-01T00:00:00", "0000-01-01T00:00:00Z", "2024-01-01T00:00:60Z", "2024-1-01T00:00:00Z",
              "2024-01-01T00:00:00+2400", "1900-02-29T00:00:00Z"]


@st.composite
def mutated(draw: st.DrawFn, instance: Any) -> Any:
    """A copy of ``instance`` with one random, schema-agnostic change (often, not always, invalid)."""
    value = copy.deepcopy(instance)
    path = draw(st.sampled_from(list(_paths(value))))
    parent, target = None, value
    for step in path:
        parent, target = target, target[step]
    ops = ["replace", "replace"]
    if isinstance(target, dict):
        ops += ["drop", "add"] if target else ["add"]
    if isinstance(target, str):
        ops += ["long", "enum", "date"]
    if isinstance(target, int | float) and not isinstance(target, bool):
        ops += ["nudge", "neg", "float"]
    if isinstance(target, list):
        ops += ["empty", "grow"]
    op = draw(st.sampled_from(ops))
    new: Any
    if op == "replace":
        new = draw(st.sampled_from(_OTHER_VALUES) | json_values)
    elif op == "drop":
        del target[draw(st.sampled_from(sorted(target)))]
        return value
    elif op == "add":
        target[draw(st.sampled_from(["unknownKey", "customData", "vendorId", *sorted(target)[:2]]))] = draw(
            st.sampled_from(_OTHER_VALUES))
        return value
    elif op == "long":
        new = target + "y" * draw(st.sampled_from([1, 5, 20, 100, 600, 3000]))
    elif op == "enum":
        new = draw(st.sampled_from([target.lower(), target.upper(), target + " ", "Celsius", "Celcius", "Unknown"]))
    elif op == "date":
        new = draw(st.sampled_from(_BAD_DATES))
    elif op == "nudge":
        new = target + draw(st.sampled_from([0.05, 0.1, 0.5, 1, -1]))
    elif op == "neg":
        new = -abs(target) - draw(st.sampled_from([1, 10**6, 10**20]))
    elif op == "float":
        new = float(target) if not isinstance(target, float) else target + 0.5
    elif op == "empty":
        new = []
    else:  # grow
        new = target + target * draw(st.sampled_from([1, 5, 60])) if target else [None]
    if parent is None:
        return new
    parent[path[-1]] = new
    return value


# -- targeted violations ----------------------------------------------------------------------

LENIENT = "lenient"  # marker: lenient mode accepts this violation with a warning


def violations(node: dict[str, Any], value: Any, root: dict[str, Any], draft6: bool,
               path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], str, Any, str]]:
    """Every single-point violation of ``node`` that can be made in ``value``.

    Yields (path, operation, argument, expected ViolationKind value); operation is ``set`` (put
    argument at path), ``delete`` (remove the key at path) or ``add`` (add key argument to the
    object at path). The expected kind is ``lenient`` for violations lenient mode accepts.
    """
    node = _deref(node, root)
    kind = node.get("type")
    if kind is None:
        return
    if kind == "object":
        yield path, "set", ["not", "an", "object"], "format" if not path else "type"
        props = node.get("properties", {})
        if node.get("additionalProperties", True) is False:
            yield path, "add", "zzUnknownProperty", "property"
        for name in node.get("required", []):
            yield (*path, name), "delete", None, "occurrence"
        for name, sub in props.items():
            if name in value:
                yield from violations(sub, value[name], root, draft6, (*path, name))
    elif kind == "string":
        yield path, "set", 12345, "type"
        yield path, "set", None, "type"
        if "enum" in node:
            yield path, "set", value + "X", "property"
        elif "maxLength" in node:
            yield path, "set", "a" * (node["maxLength"] + 1), LENIENT
        if node.get("format") == "date-time":
            for bad in _BAD_DATES:
                yield path, "set", bad, "type"
    elif kind == "integer":
        yield path, "set", "1", "type"
        yield path, "set", True, "type"
        yield path, "set", 0.5, "type"
        if not draft6:
            yield path, "set", 1.0, "type"
        if "minimum" in node:
            yield path, "set", node["minimum"] - 1, "property"
        if "maximum" in node:
            yield path, "set", node["maximum"] + 1, "property"
    elif kind == "number":
        yield path, "set", "1.5", "type"
        yield path, "set", False, "type"
        if "multipleOf" in node:
            factor = decimal.Decimal(repr(node["multipleOf"]))
            yield path, "set", float(decimal.Decimal(repr(value)) + factor / 2), "property"
        if "minimum" in node:
            yield path, "set", node["minimum"] - 0.5, "property"
        if "maximum" in node:
            yield path, "set", node["maximum"] + 0.5, "property"
    elif kind == "boolean":
        yield path, "set", "true", "type"
        yield path, "set", 1, "type"
    elif kind == "array":
        yield path, "set", {"0": value}, "type"
        if node.get("minItems", 0) > 0:
            yield path, "set", value[: node["minItems"] - 1], "occurrence"
        if "maxItems" in node and value:
            yield path, "set", (value * (node["maxItems"] + 1))[: node["maxItems"] + 1], "occurrence"
        for i, item in enumerate(value):
            yield from violations(node["items"], item, root, draft6, (*path, i))


def apply_violation(instance: Any, path: tuple[Any, ...], op: str, arg: Any) -> Any:
    value = copy.deepcopy(instance)
    if op == "set" and not path:
        return arg
    target = value
    for step in path[:-1] if op in ("set", "delete") else path:
        target = target[step]
    if op == "set":
        target[path[-1]] = copy.deepcopy(arg)
    elif op == "delete":
        del target[path[-1]]
    else:
        target[arg] = 1
    return value


# -- typed models -----------------------------------------------------------------------------

@functools.cache
def _hints(cls: type[Any]) -> dict[str, Any]:
    import sys
    import typing

    return typing.get_type_hints(cls, vars(sys.modules[cls.__module__]))


def assert_typed(value: Any, hint: Any) -> None:
    """``value`` has the annotated type, recursively: no dict left where a model belongs."""
    import dataclasses
    import enum
    import types
    import typing

    origin = typing.get_origin(hint)
    if origin is types.UnionType:  # X | None
        if value is None:
            return
        (hint,) = [h for h in typing.get_args(hint) if h is not type(None)]
        origin = typing.get_origin(hint)
    if hint is Any:
        return
    if origin is tuple:
        assert isinstance(value, tuple), (value, hint)
        for item in value:
            assert_typed(item, typing.get_args(hint)[0])
    elif origin is dict:
        assert isinstance(value, dict), (value, hint)
    elif isinstance(hint, type) and dataclasses.is_dataclass(hint):
        assert type(value) is hint, (value, hint)
        for f in dataclasses.fields(hint):
            assert_typed(getattr(value, f.name), _hints(hint)[f.name])
    elif isinstance(hint, type) and issubclass(hint, enum.Enum):
        assert type(value) is hint, (value, hint)
    elif hint is float:
        assert isinstance(value, int | float) and not isinstance(value, bool), (value, hint)
    elif hint is int:  # draft-06 lets 2.0 stand for an integer; the model keeps the JSON value
        assert isinstance(value, int | float) and not isinstance(value, bool), (value, hint)
    else:
        assert type(value) is hint, (value, hint)
