"""OCPP JSON schemas -> typed models and compiled validators.

One pass per OCPP version reads the shipped schemas (``evcharge/ocpp/schemas/<version>``),
builds a small intermediate form (object types, enums, field types with their constraints),
merges structurally identical types that several actions share, and writes two modules into
``evcharge/ocpp/<version>/_generated``: ``models.py`` (enums, frozen slotted dataclasses with
``to_json``/``from_json`` and an explicit ``JSON_NAMES`` table) and ``validators.py`` (one plain
Python function per object type; no schema is interpreted at run time).

The output is deterministic: no timestamps, sorted names, and a header carrying the sha256 of the
schema files it was made from.
"""

from __future__ import annotations

import decimal
import hashlib
import json
import keyword
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PACKAGE_DIR = Path(__file__).resolve().parent.parent  # src/evcharge/ocpp
SCHEMA_DIR = PACKAGE_DIR / "schemas"

TOOL = "evcharge.ocpp.codegen"


@dataclass(frozen=True, slots=True)
class VersionSpec:
    key: str  # package / schema folder name
    version: str
    subprotocol: str
    request_suffix: str  # file name suffix of request schemas ("" for 1.6)


VERSIONS: tuple[VersionSpec, ...] = (
    VersionSpec("v16", "1.6", "ocpp1.6", ""),
    VersionSpec("v201", "2.0.1", "ocpp2.0.1", "Request"),
    VersionSpec("v21", "2.1", "ocpp2.1", "Request"),
)

# Known defects of the published 1.6 schemas (facts/ocpp.md): these fields were typed ``number``
# in editions of the schemas that devices were built against; lenient mode accepts any number.
LENIENT_INTEGER_FIELDS: frozenset[tuple[str, str, str]] = frozenset({
    ("v16", "BootNotificationResponse", "interval"),
    ("v16", "UpdateFirmwareRequest", "retries"),
    ("v16", "UpdateFirmwareRequest", "retryInterval"),
})

# Names of the inline (unnamed) object types of the 1.6 core schemas, as the 1.6 specification
# calls them; other inline objects are named after their property.
INLINE_NAMES_16 = {
    "csChargingProfiles": "ChargingProfile",
    "chargingProfile": "ChargingProfile",
    "localAuthorizationList": "AuthorizationData",
    "configurationKey": "KeyValue",
    "transactionData": "MeterValue",
}

# Names of the inline enums of the 1.6 core schemas, as the 1.6 specification (section 7) calls
# them: by property, and for the generic ``status`` / ``type`` properties by owning type.
ENUM_NAMES_16 = {
    "errorCode": "ChargePointErrorCode",
    "chargingProfileKind": "ChargingProfileKindType",
    "chargingProfilePurpose": "ChargingProfilePurposeType",
    "chargingRateUnit": "ChargingRateUnitType",
    "recurrencyKind": "RecurrencyKindType",
    "requestedMessage": "MessageTrigger",
    "context": "ReadingContext",
    "format": "ValueFormat",
    "unit": "UnitOfMeasure",
    "updateType": "UpdateType",
    "measurand": "Measurand",
    "phase": "Phase",
    "location": "Location",
    "reason": "Reason",
}
OWNED_ENUM_NAMES_16 = {
    ("IdTagInfo", "status"): "AuthorizationStatus",
    ("BootNotificationResponse", "status"): "RegistrationStatus",
    ("CancelReservationResponse", "status"): "CancelReservationStatus",
    ("ChangeAvailabilityRequest", "type"): "AvailabilityType",
    ("ChangeAvailabilityResponse", "status"): "AvailabilityStatus",
    ("ChangeConfigurationResponse", "status"): "ConfigurationStatus",
    ("ClearCacheResponse", "status"): "ClearCacheStatus",
    ("ClearChargingProfileResponse", "status"): "ClearChargingProfileStatus",
    ("DataTransferResponse", "status"): "DataTransferStatus",
    ("DiagnosticsStatusNotificationRequest", "status"): "DiagnosticsStatus",
    ("FirmwareStatusNotificationRequest", "status"): "FirmwareStatus",
    ("GetCompositeScheduleResponse", "status"): "GetCompositeScheduleStatus",
    ("RemoteStartTransactionResponse", "status"): "RemoteStartStopStatus",
    ("RemoteStopTransactionResponse", "status"): "RemoteStartStopStatus",
    ("ReserveNowResponse", "status"): "ReservationStatus",
    ("ResetRequest", "type"): "ResetType",
    ("ResetResponse", "status"): "ResetStatus",
    ("SendLocalListResponse", "status"): "UpdateStatus",
    ("SetChargingProfileResponse", "status"): "ChargingProfileStatus",
    ("StatusNotificationRequest", "status"): "ChargePointStatus",
    ("TriggerMessageResponse", "status"): "TriggerMessageStatus",
    ("UnlockConnectorResponse", "status"): "UnlockStatus",
}

_IGNORED_KEYWORDS = frozenset({"description", "javaType", "comment", "$comment", "default", "title", "$schema", "$id"})
_KNOWN_KEYWORDS = frozenset({
    "type", "properties", "required", "additionalProperties", "enum", "maxLength", "format", "items",
    "minItems", "maxItems", "additionalItems", "minimum", "maximum", "multipleOf", "$ref", "definitions",
}) | _IGNORED_KEYWORDS


class SchemaError(Exception):
    """A schema uses something the generator does not support."""


# ---------------------------------------------------------------------------------------------
# names

def snake_case(name: str) -> str:
    """``idTag`` -> ``id_tag``, ``EVSE`` -> ``evse``, ``Get15118EVCertificate`` -> ``get_15118_ev_certificate``.

    Used by the generator only: the result is written into the generated ``JSON_NAMES`` tables and
    ``to_json``/``from_json`` code, so no name is ever converted at run time.
    """
    s = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", name)  # EVCertificate -> EV_Certificate
    s = re.sub(r"([a-z])([A-Z])", r"\1_\2", s)  # idTag -> id_Tag
    s = re.sub(r"([0-9])([A-Z][a-z]|[A-Z]{2,})", r"\1_\2", s)  # hv10Min -> hv10_Min, Level1DC -> Level1_DC
    s = re.sub(r"([a-z])([0-9]{3,})", r"\1_\2", s)  # iso15118 -> iso_15118 (but address1, hv10, v2x)
    return re.sub(r"_+", "_", s).lower()


def pascal_case(name: str) -> str:
    return name[:1].upper() + name[1:]


def member_name(value: str) -> str:
    """Enum member name of a value: ``Energy.Active.Import.Register`` -> ``ENERGY_ACTIVE_IMPORT_REGISTER``."""
    # PascalCase words are split (PowerUp -> POWER_UP); unit symbols stay whole (kWh -> KWH)
    parts = [snake_case(p) if p[0].isupper() else p for p in re.split(r"[^0-9A-Za-z]+", value) if p]
    name = "_".join(parts).upper()
    if not name or not name[0].isalpha():
        name = "V_" + name
    return name


# ---------------------------------------------------------------------------------------------
# intermediate form

@dataclass(eq=False)
class EnumType:
    name: str
    values: tuple[str, ...]


@dataclass(eq=False)
class FieldType:
    kind: str  # str int num bool enum obj raw array any
    enum: EnumType | None = None
    obj: ObjType | None = None
    item: FieldType | None = None
    max_length: int | None = None
    date_time: bool = False
    minimum: Any = None
    maximum: Any = None
    multiple_of: str | None = None
    min_items: int | None = None
    max_items: int | None = None
    draft6: bool = True
    lenient_integer: bool = False


@dataclass(eq=False)
class Field:
    json_name: str
    py_name: str
    required: bool
    type: FieldType


@dataclass(eq=False)
class ObjType:
    name: str
    closed: bool  # additionalProperties false
    fields: list[Field] = field(default_factory=list)
    key: str = ""
    description: str = ""


@dataclass
class Action:
    name: str
    request: ObjType
    response: ObjType | None


@dataclass
class VersionModel:
    spec: VersionSpec
    actions: list[Action]
    enums: dict[str, EnumType]
    objects: dict[str, ObjType]
    digest: str


def _canonical(node: Any, definitions: dict[str, Any], draft6: bool) -> Any:
    """The schema with refs inlined and documentation dropped: the identity of a type."""
    if isinstance(node, dict):
        if "$ref" in node:
            return _canonical(_deref(node["$ref"], definitions), definitions, draft6)
        return {k: _canonical(v, definitions, draft6) for k, v in sorted(node.items()) if k not in _IGNORED_KEYWORDS}
    if isinstance(node, list):
        return [_canonical(v, definitions, draft6) for v in node]
    return node


def _deref(ref: str, definitions: dict[str, Any]) -> Any:
    prefix = "#/definitions/"
    if not ref.startswith(prefix) or ref[len(prefix):] not in definitions:
        raise SchemaError(f"unsupported $ref {ref!r}")
    return definitions[ref[len(prefix):]]


class _Builder:
    def __init__(self, spec: VersionSpec) -> None:
        self.spec = spec
        self.enums: dict[str, EnumType] = {}
        self.objects: dict[str, ObjType] = {}
        self.by_key: dict[tuple[str, str], str] = {}  # (kind, structural key) -> name
        self.taken: dict[str, tuple[str, str]] = {}  # name -> (kind, key)
        self.action = ""  # the action whose schema is being read

    def _claim(self, kind: str, key: str, wanted: str, owner: str) -> tuple[str, bool]:
        """Name for a type; True when it is new."""
        if (kind, key) in self.by_key:
            return self.by_key[(kind, key)], False
        # a clash of names (same name, different structure): prefix the action, then the owner
        candidates = [wanted, self.action + wanted, owner + wanted] + [f"{owner}{wanted}{i}" for i in range(2, 50)]
        for name in candidates:
            if name not in self.taken and name not in {"Action", "VERSION", "SUBPROTOCOL"}:
                self.taken[name] = (kind, key)
                self.by_key[(kind, key)] = name
                return name, True
        raise SchemaError(f"cannot name {wanted}")

    def build_root(self, name: str, schema: dict[str, Any]) -> ObjType:
        self.action = name.removesuffix("Request").removesuffix("Response")
        draft6 = "draft-06" in schema.get("$schema", "")
        definitions = schema.get("definitions", {})
        key = json.dumps([draft6, _canonical(schema, definitions, draft6)], sort_keys=True)
        if name in self.taken:
            raise SchemaError(f"root name {name} already used")
        self.taken[name] = ("obj", key)
        obj = ObjType(name=name, closed=schema.get("additionalProperties") is False, key=key,
                      description=schema.get("description", ""))
        self.objects[name] = obj
        self._fill(obj, schema, definitions, draft6)
        return obj

    def _fill(self, obj: ObjType, node: dict[str, Any], definitions: dict[str, Any], draft6: bool) -> None:
        unknown = set(node) - _KNOWN_KEYWORDS
        if unknown:
            raise SchemaError(f"{obj.name}: unsupported keywords {sorted(unknown)}")
        additional = node.get("additionalProperties", True)
        if additional not in (True, False):
            raise SchemaError(f"{obj.name}: additionalProperties must be a boolean")
        properties: dict[str, Any] = node.get("properties", {})
        required = node.get("required", [])
        if set(required) - set(properties):
            raise SchemaError(f"{obj.name}: required names not among the properties")
        used: set[str] = set()
        for json_name, prop in properties.items():
            py_name = snake_case(json_name)
            if keyword.iskeyword(py_name) or py_name in {"to_json", "from_json", "JSON_NAMES"}:
                py_name += "_"
            if py_name in used:
                raise SchemaError(f"{obj.name}: two properties map to {py_name}")
            used.add(py_name)
            ftype = self._type(prop, definitions, draft6, obj.name, json_name)
            if ftype.kind == "int" and (self.spec.key, obj.name, json_name) in LENIENT_INTEGER_FIELDS:
                ftype.lenient_integer = True
            obj.fields.append(Field(json_name, py_name, json_name in required, ftype))

    def _type(
        self, node: dict[str, Any], definitions: dict[str, Any], draft6: bool, owner: str, prop: str
    ) -> FieldType:
        def_name = None
        if "$ref" in node:
            def_name = node["$ref"].rsplit("/", 1)[-1]
            node = _deref(node["$ref"], definitions)
        unknown = set(node) - _KNOWN_KEYWORDS
        if unknown:
            raise SchemaError(f"{owner}.{prop}: unsupported keywords {sorted(unknown)}")
        kind = node.get("type")
        if kind is None:
            if set(node) - _IGNORED_KEYWORDS:
                raise SchemaError(f"{owner}.{prop}: untyped schema with constraints")
            return FieldType("any")
        if kind == "string":
            ft = FieldType("str", max_length=node.get("maxLength"))
            fmt = node.get("format")
            if fmt == "date-time":
                ft.date_time = True
            elif fmt not in (None, "uri"):  # uri: not checked (real URLs are not all RFC 3986 URIs)
                raise SchemaError(f"{owner}.{prop}: unsupported format {fmt}")
            if "enum" in node:
                values = tuple(node["enum"])
                if not all(isinstance(v, str) for v in values):
                    raise SchemaError(f"{owner}.{prop}: non-string enum")
                generic = prop in {"status", "type"}
                wanted = def_name or (owner + pascal_case(prop) if generic else pascal_case(prop))
                if def_name is None and self.spec.key == "v16":
                    wanted = OWNED_ENUM_NAMES_16.get((owner, prop), ENUM_NAMES_16.get(prop, wanted))
                name, new = self._claim("enum", json.dumps([wanted, values]), wanted, owner)
                if new:
                    self.enums[name] = EnumType(name, values)
                ft.kind = "enum"
                ft.enum = self.enums[name]
            return ft
        if kind in ("integer", "number"):
            ft = FieldType("int" if kind == "integer" else "num", minimum=node.get("minimum"),
                           maximum=node.get("maximum"), draft6=draft6)
            if "multipleOf" in node:
                ft.multiple_of = repr(node["multipleOf"])
                decimal.Decimal(ft.multiple_of)
            return ft
        if kind == "boolean":
            return FieldType("bool")
        if kind == "array":
            items = node.get("items")
            if not isinstance(items, dict):
                raise SchemaError(f"{owner}.{prop}: only a single items schema is supported")
            return FieldType("array", item=self._type(items, definitions, draft6, owner, prop),
                             min_items=node.get("minItems"), max_items=node.get("maxItems"))
        if kind == "object":
            closed = node.get("additionalProperties") is False
            key = json.dumps([draft6, _canonical(node, definitions, draft6)], sort_keys=True)
            if def_name is not None:
                wanted = def_name
            elif self.spec.key == "v16" and prop in INLINE_NAMES_16:
                wanted = INLINE_NAMES_16[prop]
            else:
                wanted = pascal_case(prop)
            name, new = self._claim("obj", json.dumps([wanted, key]), wanted, owner)
            if new:
                obj = ObjType(name=name, closed=closed, key=key, description=node.get("description", ""))
                self.objects[name] = obj
                self._fill(obj, node, definitions, draft6)
            return FieldType("obj" if closed else "raw", obj=self.objects[name])
        raise SchemaError(f"{owner}.{prop}: unsupported type {kind!r}")


def schema_files(spec: VersionSpec, schema_dir: Path = SCHEMA_DIR) -> list[Path]:
    return sorted((schema_dir / spec.key).glob("*.json"))


def load_version(spec: VersionSpec, schema_dir: Path = SCHEMA_DIR) -> VersionModel:
    files = schema_files(spec, schema_dir)
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    names = {p.stem for p in files}
    action_names = set()
    for stem in names:
        if stem.endswith("Response"):
            action_names.add(stem[: -len("Response")])
        elif spec.request_suffix and stem.endswith(spec.request_suffix):
            action_names.add(stem[: -len(spec.request_suffix)])
        else:
            action_names.add(stem)  # 1.6 requests, and 2.1's SEND-only NotifyPeriodicEventStream
    builder = _Builder(spec)
    actions = []
    for action in sorted(action_names):
        req_stem = action + spec.request_suffix if action + spec.request_suffix in names else action
        if req_stem not in names:
            raise SchemaError(f"{spec.key}: no request schema for {action}")
        req_schema = json.loads((schema_dir / spec.key / f"{req_stem}.json").read_text(encoding="utf-8"))
        request = builder.build_root(action + "Request", req_schema)
        response = None
        if action + "Response" in names:
            res_schema = json.loads((schema_dir / spec.key / f"{action}Response.json").read_text(encoding="utf-8"))
            response = builder.build_root(action + "Response", res_schema)
        actions.append(Action(action, request, response))
    return VersionModel(spec, actions, builder.enums, builder.objects, digest.hexdigest())


# ---------------------------------------------------------------------------------------------
# emitters

def _header(model: VersionModel) -> str:
    return (f"# @generated by {TOOL} from evcharge/ocpp/schemas/{model.spec.key} sha256={model.digest}"
            " -- DO NOT EDIT\n")


def _annotation(ft: FieldType) -> str:
    if ft.kind == "str":
        return "str"
    if ft.kind == "int":
        return "int"
    if ft.kind == "num":
        return "float"
    if ft.kind == "bool":
        return "bool"
    if ft.kind == "enum":
        assert ft.enum is not None
        return ft.enum.name
    if ft.kind == "obj":
        assert ft.obj is not None
        return ft.obj.name
    if ft.kind == "raw":
        return "dict[str, Any]"
    if ft.kind == "array":
        assert ft.item is not None
        return f"tuple[{_annotation(ft.item)}, ...]"
    return "Any"


def _from_expr(ft: FieldType, var: str, depth: int = 0) -> str:
    if ft.kind == "enum":
        assert ft.enum is not None
        return f"_{ft.enum.name}[{var}]"  # value -> member table (a call of the enum is 10x slower)
    if ft.kind == "obj":
        assert ft.obj is not None
        return f"{ft.obj.name}.from_json({var})"
    if ft.kind == "array":
        assert ft.item is not None
        loop = f"e{depth}"
        inner = _from_expr(ft.item, loop, depth + 1)
        if inner == loop:
            return f"tuple({var})"
        return f"tuple([{inner} for {loop} in {var}])"
    return var


def _to_expr(ft: FieldType, var: str, depth: int = 0) -> str:
    if ft.kind == "obj":
        return f"{var}.to_json()"
    if ft.kind == "array":
        assert ft.item is not None
        loop = f"e{depth}"
        inner = _to_expr(ft.item, loop, depth + 1)
        if inner == loop:
            return f"list({var})"
        return f"[{inner} for {loop} in {var}]"
    return var


def model_names(model: VersionModel) -> list[str]:
    """The names of ``models.py`` that a version package loads on first use."""
    return ["REQUESTS", "RESPONSES", "request_class", "response_class", *sorted(model.enums), *sorted(model.objects)]


def emit_actions(model: VersionModel) -> str:
    """The small module a version package imports eagerly: constants, ``Action``, model names."""
    spec = model.spec
    out: list[str] = [_header(model)]
    out.append(f'"""OCPP {spec.version}: version constants, the action names, the names of the models."""\n\n')
    out.append("from enum import StrEnum\n\n")
    out.append(f"VERSION = {spec.version!r}\nSUBPROTOCOL = {spec.subprotocol!r}\n\n\n")
    out.append('class Action(StrEnum):\n    """Every action of OCPP ' + spec.version + '."""\n\n')
    for action in model.actions:
        out.append(f"    {member_name(action.name)} = {action.name!r}\n")
    out.append("\n\nMODEL_NAMES = (\n" + "".join(f"    {n!r},\n" for n in model_names(model)) + ")\n")
    return "".join(out)


def emit_models(model: VersionModel) -> str:
    spec = model.spec
    out: list[str] = [_header(model)]
    out.append(f'"""OCPP {spec.version} typed models, generated from the official JSON schemas."""\n\n')
    out.append("from __future__ import annotations\n\n")
    out.append("from collections.abc import Mapping\n")
    out.append("from dataclasses import dataclass\n")
    out.append("from enum import StrEnum\n")
    out.append("from typing import Any, ClassVar, Self\n\n")
    out.append("from evcharge.ocpp._model import ABSENT\n")
    out.append(f"from evcharge.ocpp.{spec.key}._generated.actions import SUBPROTOCOL, VERSION, Action\n\n")
    out.append("__all__ = [\n" + "".join(f"    {n!r},\n" for n in ["Action", "SUBPROTOCOL", "VERSION",
                                                                    *model_names(model)]) + "]\n\n")
    out.append("_set = object.__setattr__\n")
    for name in sorted(model.enums):
        enum = model.enums[name]
        out.append(f"\n\nclass {name}(StrEnum):\n")
        used: set[str] = set()
        for value in enum.values:
            member = member_name(value)
            if member in used:
                member = re.sub(r"[^0-9A-Za-z]+", "_", value)
                if member in used:
                    raise SchemaError(f"{name}: enum member clash on {value!r}")
            used.add(member)
            out.append(f"    {member} = {value!r}\n")
        out.append(f"\n\n_{name} = {{m.value: m for m in {name}}}\n")
    for name in sorted(model.objects):
        out.append(_emit_class(model.objects[name], spec.version))
    out.append("\n\nREQUESTS: Mapping[str, type[Any]] = {\n")
    for action in model.actions:
        out.append(f"    {action.name!r}: {action.request.name},\n")
    out.append("}\n\nRESPONSES: Mapping[str, type[Any]] = {\n")
    for action in model.actions:
        if action.response is not None:
            out.append(f"    {action.name!r}: {action.response.name},\n")
    out.append("}\n")
    out.append(
        "\n\ndef request_class(action: str) -> type[Any]:\n"
        '    """The request model of ``action``; KeyError for an unknown action."""\n'
        "    return REQUESTS[action]\n"
        "\n\ndef response_class(action: str) -> type[Any]:\n"
        '    """The response model of ``action``; KeyError for an unknown or SEND-only action."""\n'
        "    return RESPONSES[action]\n"
    )
    return "".join(out)


def _docstring(obj: ObjType, version: str) -> str:
    text = " ".join(obj.description.split()) if obj.description else ""
    if len(text) > 300:
        text = text[:297].rsplit(" ", 1)[0] + " ..."
    text = text.replace("\\", "\\\\").replace('"', "'")
    first = f"OCPP {version} ``{obj.name}``."
    if text:
        return f'    """{first}\n\n    {text}\n    """\n'
    return f'    """{first}"""\n'


def _emit_class(obj: ObjType, version: str) -> str:
    # The dataclass decorator is told not to write __init__/__repr__/__eq__: their source is
    # generated here instead, because exec-ing them for every class at import time would make
    # importing a version module about three times slower. They behave as the dataclass defaults.
    out = ["\n\n@dataclass(frozen=True, slots=True, kw_only=True, init=False, repr=False, eq=False)\n",
           f"class {obj.name}:\n", _docstring(obj, version), "\n"]
    ordered = [f for f in obj.fields if f.required] + [f for f in obj.fields if not f.required]
    params = []
    for f in ordered:
        ann = _annotation(f.type)
        if f.required:
            decl = f"{f.py_name}: {ann}"
        elif f.type.kind == "any":
            decl = f"{f.py_name}: Any = ABSENT"
        else:
            decl = f"{f.py_name}: {ann} | None = None"
        out.append(f"    {decl}\n")
        params.append(decl)
    out.append("    JSON_NAMES: ClassVar[Mapping[str, str]] = {"
               + ", ".join(f"{f.py_name!r}: {f.json_name!r}" for f in obj.fields) + "}\n")
    if params:
        out.append("\n    def __init__(self, *, " + ", ".join(params) + ") -> None:\n")
        for f in ordered:
            out.append(f"        _set(self, {f.py_name!r}, {f.py_name})\n")
    else:
        out.append("\n    def __init__(self) -> None:\n        pass\n")
    fields_repr = ", ".join(f"{f.py_name}={{self.{f.py_name}!r}}" for f in ordered)
    out.append(f'\n    def __repr__(self) -> str:\n        return f"{obj.name}({fields_repr})"\n')
    mine = "(" + "".join(f"self.{f.py_name}, " for f in ordered) + ")"
    theirs = "(" + "".join(f"other.{f.py_name}, " for f in ordered) + ")"
    out.append("\n    def __eq__(self, other: object) -> bool:\n"
               "        if other.__class__ is not self.__class__:\n"
               "            return NotImplemented\n"
               f"        return {mine} == {theirs}  # type: ignore[attr-defined]\n")
    out.append(f"\n    def __hash__(self) -> int:\n        return hash({mine})\n")
    # to_json
    out.append("\n    def to_json(self) -> dict[str, Any]:\n")
    req = [f for f in obj.fields if f.required]
    opt = [f for f in obj.fields if not f.required]
    items = ", ".join(f"{f.json_name!r}: {_to_expr(f.type, 'self.' + f.py_name)}" for f in req)
    if not opt:
        out.append(f"        return {{{items}}}\n")
    else:
        out.append(f"        d: dict[str, Any] = {{{items}}}\n")
        for f in opt:
            if f.type.kind == "any":
                out.append(f"        if self.{f.py_name} is not ABSENT:\n")
            else:
                out.append(f"        if self.{f.py_name} is not None:\n")
            out.append(f"            d[{f.json_name!r}] = {_to_expr(f.type, 'self.' + f.py_name)}\n")
        out.append("        return d\n")
    # from_json
    out.append("\n    @classmethod\n    def from_json(cls, d: Mapping[str, Any]) -> Self:\n")
    if not obj.fields:
        out.append("        return cls()\n")
    else:
        out.append("        return cls(\n")
        for f in obj.fields:
            if f.required:
                expr = _from_expr(f.type, f"d[{f.json_name!r}]")
            elif f.type.kind == "any":
                expr = f"d.get({f.json_name!r}, ABSENT)"
            else:
                conv = _from_expr(f.type, "v")
                if conv == "v":
                    expr = f"d.get({f.json_name!r})"
                else:
                    expr = f"{_from_expr(f.type, f'd[{f.json_name!r}]')} if {f.json_name!r} in d else None"
            out.append(f"            {f.py_name}={expr},\n")
        out.append("        )\n")
    return "".join(out)


class _ValidatorEmitter:
    def __init__(self, model: VersionModel) -> None:
        self.model = model
        self.consts: dict[str, str] = {}  # source -> name
        self.const_lines: list[str] = []

    def const(self, prefix: str, source: str) -> str:
        if source not in self.consts:
            name = f"_{prefix}{len(self.consts)}"
            self.consts[source] = name
            self.const_lines.append(f"{name} = {source}\n")
        return self.consts[source]

    def emit(self) -> str:
        model = self.model
        funcs: list[str] = []
        for name in sorted(model.objects):
            funcs.append(self._function(model.objects[name]))
        out = [_header(model)]
        out.append(f'"""OCPP {model.spec.version} payload validators, compiled from the official JSON schemas."""\n\n')
        out.append("from decimal import Decimal\n\n")
        out.append("from evcharge.ocpp._model import (\n")
        for helper in ("fail_date_time", "fail_enum", "fail_items", "fail_missing", "fail_multiple",
                       "fail_not_object", "fail_range", "fail_type", "fail_unknown", "is_date_time", "is_int4",
                       "is_int6", "is_number", "lenient_integer", "max_length", "multiple_of"):
            out.append(f"    {helper},\n")
        out.append(")\n\n")
        out.append("_M = object()\n")
        out.extend(self.const_lines)
        out.extend(funcs)
        out.append("\n\nVALIDATORS = {\n")
        for action in model.actions:
            res = f"_v_{action.response.name}" if action.response is not None else "None"
            out.append(f"    {action.name!r}: (_v_{action.request.name}, {res}),\n")
        out.append("}\n")
        return "".join(out)

    def _function(self, obj: ObjType) -> str:
        lines = [f"\n\ndef _v_{obj.name}(o, p, w):\n",
                 "    if o.__class__ is not dict and not isinstance(o, dict):\n",
                 "        fail_not_object(o, p)\n"]
        if obj.closed:
            keys = self.const("K", "frozenset({" + ", ".join(repr(f.json_name) for f in obj.fields) + "})"
                              if obj.fields else "frozenset()")
            lines.append(f"    if not o.keys() <= {keys}:\n        fail_unknown(o, {keys}, p)\n")
        required = [f.json_name for f in obj.fields if f.required]
        if required:
            rset = self.const("R", "frozenset({" + ", ".join(map(repr, required)) + "})")
            rtup = self.const("T", "(" + "".join(f"{r!r}, " for r in required) + ")")
            lines.append(f"    if not {rset} <= o.keys():\n        fail_missing(o, {rtup}, p)\n")
        for f in obj.fields:
            if f.type.kind == "any":
                continue
            path = f"(p, {f.json_name!r})"
            if f.required:
                lines.append(f"    v = o[{f.json_name!r}]\n")
                lines.extend(self._check(f.type, "v", path, "    ", 0))
            else:
                lines.append(f"    v = o.get({f.json_name!r}, _M)\n    if v is not _M:\n")
                lines.extend(self._check(f.type, "v", path, "        ", 0))
        return "".join(lines)

    def _check(self, ft: FieldType, var: str, path: str, ind: str, depth: int) -> list[str]:
        out: list[str] = []
        k = ft.kind
        if k in ("str", "enum"):
            out.append(f"{ind}if {var}.__class__ is not str and not isinstance({var}, str):\n"
                       f"{ind}    fail_type('string', {var}, {path})\n")
            if ft.enum is not None:
                ename = self.const("E", "frozenset({" + ", ".join(map(repr, ft.enum.values)) + "})")
                out.append(f"{ind}if {var} not in {ename}:\n{ind}    fail_enum({var}, {ename}, {path})\n")
            if ft.max_length is not None:
                out.append(f"{ind}if len({var}) > {ft.max_length}:\n"
                           f"{ind}    max_length({var}, {ft.max_length}, {path}, w)\n")
            if ft.date_time:
                out.append(f"{ind}if not is_date_time({var}):\n{ind}    fail_date_time({var}, {path})\n")
        elif k == "int":
            test = "is_int6" if ft.draft6 else "is_int4"
            if ft.lenient_integer:
                out.append(f"{ind}if {var}.__class__ is not int and not {test}({var}):\n"
                           f"{ind}    lenient_integer({var}, {path}, w)\n")
            else:
                out.append(f"{ind}if {var}.__class__ is not int and not {test}({var}):\n"
                           f"{ind}    fail_type('integer', {var}, {path})\n")
            out.extend(self._range(ft, var, path, ind))
        elif k == "num":
            # NaN and the infinities are not JSON numbers (Python's json module reads them all the same)
            out.append(f"{ind}if {var}.__class__ is float:\n"
                       f"{ind}    if {var} - {var} != 0.0:\n"
                       f"{ind}        fail_type('a finite number', {var}, {path})\n"
                       f"{ind}elif {var}.__class__ is not int and not is_number({var}):\n"
                       f"{ind}    fail_type('number', {var}, {path})\n")
            if ft.multiple_of is not None:
                dname = self.const("D", f"Decimal({ft.multiple_of!r})")
                out.append(f"{ind}if not multiple_of({var}, {dname}):\n"
                           f"{ind}    fail_multiple({var}, {dname}, {path})\n")
            out.extend(self._range(ft, var, path, ind))
        elif k == "bool":
            out.append(f"{ind}if {var} is not True and {var} is not False:\n"
                       f"{ind}    fail_type('boolean', {var}, {path})\n")
        elif k in ("obj", "raw"):
            assert ft.obj is not None
            out.append(f"{ind}_v_{ft.obj.name}({var}, {path}, w)\n")
        elif k == "array":
            assert ft.item is not None
            out.append(f"{ind}if {var}.__class__ is not list and not isinstance({var}, list):\n"
                       f"{ind}    fail_type('array', {var}, {path})\n")
            if ft.min_items:
                out.append(f"{ind}if len({var}) < {ft.min_items}:\n"
                           f"{ind}    fail_items({var}, {ft.min_items}, True, {path})\n")
            if ft.max_items is not None:
                out.append(f"{ind}if len({var}) > {ft.max_items}:\n"
                           f"{ind}    fail_items({var}, {ft.max_items}, False, {path})\n")
            if ft.item.kind != "any":
                i, e = f"i{depth}", f"e{depth}"
                out.append(f"{ind}for {i}, {e} in enumerate({var}):\n")
                out.extend(self._check(ft.item, e, f"({path}, {i})", ind + "    ", depth + 1))
        return out

    @staticmethod
    def _range(ft: FieldType, var: str, path: str, ind: str) -> list[str]:
        out = []
        if ft.minimum is not None:
            out.append(f"{ind}if {var} < {ft.minimum!r}:\n{ind}    fail_range({var}, {ft.minimum!r}, True, {path})\n")
        if ft.maximum is not None:
            out.append(f"{ind}if {var} > {ft.maximum!r}:\n{ind}    fail_range({var}, {ft.maximum!r}, False, {path})\n")
        return out


def emit_validators(model: VersionModel) -> str:
    return _ValidatorEmitter(model).emit()


def emit_package_init(model: VersionModel) -> str:
    doc = f'"""Generated code of evcharge.ocpp.{model.spec.key}; import the version package instead."""\n'
    return _header(model) + doc


def generate(spec: VersionSpec, schema_dir: Path = SCHEMA_DIR) -> dict[Path, str]:
    """Every generated file of one version: path -> content."""
    model = load_version(spec, schema_dir)
    out_dir = PACKAGE_DIR / spec.key / "_generated"
    return {
        out_dir / "__init__.py": emit_package_init(model),
        out_dir / "actions.py": emit_actions(model),
        out_dir / "models.py": emit_models(model),
        out_dir / "validators.py": emit_validators(model),
    }
