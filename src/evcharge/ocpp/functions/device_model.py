"""The OCPP 2.0.1 device model, kept in an injected store, with the 1.6 configuration keys on the same store.

A *component* (``EVSE`` 1, ``OCPPCommCtrlr``, ...) holds *variables* (``HeartbeatInterval``); a variable has
up to four *attributes* (``Actual``, ``Target``, ``MinSet``, ``MaxSet``), each with a value, a mutability
(``ReadOnly``, ``WriteOnly``, ``ReadWrite``) and the ``persistent`` / ``constant`` flags, and one set of
*characteristics* (data type, unit, limits, list of allowed values).

:class:`DeviceModel` loads a *template* (the JSON form shipped as ``data/device_model_ac.json``, see
:func:`default_template`) into its :class:`~evcharge.ocpp.functions.storage.StateStore` the first time and keeps
the values there afterwards (a :class:`~evcharge.ocpp.functions.transport.sqlite.SqliteStore` keeps them on disk):

* values set by the CSMS survive restarts; an attribute with ``persistent: false`` is back to its template
  value after a restart;
* a variable marked ``rebootRequired`` answers ``RebootRequired``: the new value is stored as *pending* and
  becomes the value when the model is next opened (the reboot);
* a variable with an ``ocpp16Key`` is also the 1.6 configuration key of that name (GetConfiguration /
  ChangeConfiguration), so a 1.6 and a 2.0.1 charge point share one store.

Extending the default model: pass more component entries in the same JSON form
(``default_template(2, extra=[{...}])``), or write your own template.
"""

from __future__ import annotations

import json
import math
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from importlib import resources
from typing import Any

from ._common import (
    FunctionsLocalError,
    FunctionsRemoteError,
    format_datetime,
    models_of,
    optional,
    parse_datetime,
    require,
    typed_request,
)
from .storage import MemoryStore, StateStore

ATTRIBUTE_TYPES = ("Actual", "Target", "MinSet", "MaxSet")
DATA_TYPES = ("string", "decimal", "integer", "dateTime", "boolean", "OptionList", "SequenceList", "MemberList")
MUTABILITIES = ("ReadOnly", "WriteOnly", "ReadWrite")
SUMMARY_VARIABLES = frozenset({"AvailabilityState", "Problem"})

_TABLE = "device_model"  # key: the attribute's identity (_attr_key), value: {"value": ..., "pending": ...}


@dataclass(frozen=True, slots=True)
class ComponentKey:
    """A component: name, optional instance, optional EVSE and connector."""

    name: str
    instance: str | None = None
    evse_id: int | None = None
    connector_id: int | None = None

    def to_json(self) -> dict[str, Any]:
        """The OCPP JSON form."""
        out: dict[str, Any] = {"name": self.name}
        if self.instance is not None:
            out["instance"] = self.instance
        if self.evse_id is not None:
            out["evse"] = {"id": self.evse_id}
            if self.connector_id is not None:
                out["evse"]["connectorId"] = self.connector_id
        return out

    @classmethod
    def of(cls, component: Any) -> ComponentKey:
        """From a typed ``ComponentType`` (2.0.1 / 2.1)."""
        evse = component.evse
        if evse is None:
            return cls(component.name, component.instance)
        return cls(component.name, component.instance, evse.id, evse.connector_id)

    @classmethod
    def from_json(cls, data: Mapping[str, Any], where: str = "component") -> ComponentKey:
        evse = optional(data, "evse", Mapping, where)
        return cls(
            name=require(data, "name", str, where),
            instance=optional(data, "instance", str, where),
            evse_id=None if evse is None else require(evse, "id", int, f"{where}.evse"),
            connector_id=None if evse is None else optional(evse, "connectorId", int, f"{where}.evse"),
        )


@dataclass(frozen=True, slots=True)
class VariableKey:
    """A variable of a component: name and optional instance."""

    name: str
    instance: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The OCPP JSON form."""
        return {"name": self.name} if self.instance is None else {"name": self.name, "instance": self.instance}

    @classmethod
    def of(cls, variable: Any) -> VariableKey:
        """From a typed ``VariableType`` (2.0.1 / 2.1)."""
        return cls(variable.name, variable.instance)

    @classmethod
    def from_json(cls, data: Mapping[str, Any], where: str = "variable") -> VariableKey:
        return cls(require(data, "name", str, where), optional(data, "instance", str, where))


@dataclass(frozen=True, slots=True, kw_only=True)
class Characteristics:
    """What values a variable takes: data type, unit, limits (lengths for strings), allowed values."""

    data_type: str
    unit: str | None = None
    min_limit: float | None = None
    max_limit: float | None = None
    values_list: tuple[str, ...] | None = None
    supports_monitoring: bool = False

    def to_json(self) -> dict[str, Any]:
        """The OCPP JSON form."""
        out: dict[str, Any] = {"dataType": self.data_type, "supportsMonitoring": self.supports_monitoring}
        if self.unit is not None:
            out["unit"] = self.unit
        if self.min_limit is not None:
            out["minLimit"] = self.min_limit
        if self.max_limit is not None:
            out["maxLimit"] = self.max_limit
        if self.values_list is not None:
            out["valuesList"] = ",".join(self.values_list)
        return out


@dataclass(frozen=True, slots=True, kw_only=True)
class Attribute:
    """One attribute (Actual, Target, MinSet, MaxSet) of a variable with its value and flags."""

    type: str
    value: str
    mutability: str = "ReadWrite"
    persistent: bool = True
    constant: bool = False


@dataclass(frozen=True, slots=True)
class VariableChanged:
    """A value changed through SetVariables / ChangeConfiguration (``pending``: only after the next reboot)."""

    component: ComponentKey
    variable: VariableKey
    attribute: str
    value: str
    pending: bool


@dataclass(slots=True)
class _Var:
    component: ComponentKey
    variable: VariableKey
    characteristics: Characteristics
    attributes: dict[str, Attribute]
    defaults: dict[str, str]
    pending: dict[str, str] = field(default_factory=dict)
    reboot_required: bool = False
    ocpp16_key: str | None = None
    ocpp16_attribute: str = "Actual"
    ocpp16_values: dict[str, str] = field(default_factory=dict)


# ---------------------------------------------------------------- templates


def default_template(evse_count: int = 1, *, extra: Iterable[Mapping[str, Any]] = ()) -> list[dict[str, Any]]:
    """The shipped model of an AC station with ``evse_count`` EVSEs (one connector each), expanded, plus ``extra``
    component entries (same JSON form as ``data/device_model_ac.json``)."""
    if not 1 <= evse_count <= 2:
        raise FunctionsLocalError("the default model describes a one- or two-EVSE AC charger")
    text = resources.files("evcharge.ocpp.functions").joinpath("data/device_model_ac.json").read_text("utf-8")
    raw = json.loads(text.replace("{evse_count}", str(evse_count)))["components"]
    return expand_template([*raw, *extra], evse_count=evse_count)


def expand_template(components: Iterable[Mapping[str, Any]], *, evse_count: int,
                    connectors_per_evse: int = 1) -> list[dict[str, Any]]:
    """Repeat the entries with ``"scope": "evse"`` / ``"connector"`` for every EVSE / connector."""
    out: list[dict[str, Any]] = []
    for comp in components:
        scope = comp.get("scope")
        body = {k: v for k, v in comp.items() if k != "scope"}
        if scope is None:
            out.append(body)
        elif scope == "evse":
            out.extend({**body, "evse": {"id": e}} for e in range(1, evse_count + 1))
        elif scope == "connector":
            out.extend({**body, "evse": {"id": e, "connectorId": c}}
                       for e in range(1, evse_count + 1) for c in range(1, connectors_per_evse + 1))
        else:
            raise FunctionsLocalError(f"component {comp.get('name')!r}: unknown scope {scope!r}")
    return out


def _vars_of_template(components: Iterable[Mapping[str, Any]]) -> list[_Var]:
    result = []
    for comp in components:
        ckey = ComponentKey.from_json(comp, "template component")
        for v in comp.get("variables", []):
            vkey = VariableKey.from_json(v, f"template {ckey.name}.variable")
            data_type = v.get("dataType", "string")
            if data_type not in DATA_TYPES:
                raise FunctionsLocalError(f"{ckey.name}.{vkey.name}: unknown dataType {data_type!r}")
            values = v.get("valuesList")
            chars = Characteristics(
                data_type=data_type, unit=v.get("unit"), min_limit=v.get("minLimit"), max_limit=v.get("maxLimit"),
                values_list=None if values is None else tuple(x for x in values.split(",") if x),
                supports_monitoring=bool(v.get("supportsMonitoring", False)),
            )
            raw_attrs = v.get("attributes") or {"Actual": {k: v[k] for k in
                                                           ("value", "mutability", "persistent", "constant") if k in v}}
            attrs = {}
            for atype, a in raw_attrs.items():
                if atype not in ATTRIBUTE_TYPES:
                    raise FunctionsLocalError(f"{ckey.name}.{vkey.name}: unknown attribute type {atype!r}")
                mut = a.get("mutability", "ReadWrite")
                if mut not in MUTABILITIES:
                    raise FunctionsLocalError(f"{ckey.name}.{vkey.name}: unknown mutability {mut!r}")
                attrs[atype] = Attribute(type=atype, value=str(a.get("value", "")), mutability=mut,
                                         persistent=bool(a.get("persistent", True)),
                                         constant=bool(a.get("constant", False)))
            result.append(_Var(
                component=ckey, variable=vkey, characteristics=chars, attributes=attrs,
                defaults={t: a.value for t, a in attrs.items()}, reboot_required=bool(v.get("rebootRequired", False)),
                ocpp16_key=v.get("ocpp16Key"), ocpp16_attribute=v.get("ocpp16Attribute", "Actual"),
                ocpp16_values=dict(v.get("ocpp16Values", {})),
            ))
    return result


# ---------------------------------------------------------------- the model


class DeviceModel:
    """Components, variables and attributes of a charging station, with their values in an injected store.

    Opening the model is the station's boot: pending (reboot-required) values become current and
    non-persistent values return to their template defaults.
    """

    def __init__(self, template: Sequence[Mapping[str, Any]], *, store: StateStore | None = None) -> None:
        """``store`` keeps the values across restarts (:class:`~evcharge.ocpp.functions.storage.MemoryStore` when
        ``None``: nothing is kept)."""
        self._db: StateStore = store if store is not None else MemoryStore()
        self._vars: dict[tuple[ComponentKey, VariableKey], _Var] = {}
        self._components: set[ComponentKey] = set()
        self._by_key16: dict[str, _Var] = {}
        self._events: deque[VariableChanged] = deque()
        self._load(_vars_of_template(template))

    def close(self) -> None:
        """Close the store."""
        self._db.close()

    def _load(self, variables: list[_Var]) -> None:
        db = self._db
        with db.transaction():
            for var in variables:
                c = var.component
                for atype, attr in list(var.attributes.items()):
                    key = _attr_key(var, atype)
                    row = db.get(_TABLE, key)
                    value = attr.value if row is None else row["value"]
                    if row is not None and row.get("pending") is not None:  # the reboot happened: pending applies now
                        value = row["pending"]
                    if not attr.persistent or attr.constant:
                        value = var.defaults[atype]
                    db.put(_TABLE, key, {"value": value})
                    var.attributes[atype] = _with_value(attr, value)
                key2 = (c, var.variable)
                if key2 in self._vars:
                    raise FunctionsLocalError(f"template defines {c.name}.{var.variable.name} twice")
                self._vars[key2] = var
                self._components.add(c)
                if var.ocpp16_key is not None:
                    self._by_key16[var.ocpp16_key.lower()] = var

    # ------------------------------------------------------------ local access (the charger itself)

    def get(self, component: ComponentKey | str, variable: VariableKey | str, attribute: str = "Actual") -> str:
        """The current value; :class:`.FunctionsLocalError` if the model has no such variable or attribute."""
        var = self._var_or_raise(component, variable)
        if attribute not in var.attributes:
            raise FunctionsLocalError(f"{var.component.name}.{var.variable.name} has no {attribute} attribute")
        return var.attributes[attribute].value

    def get_int(self, component: ComponentKey | str, variable: VariableKey | str, attribute: str = "Actual") -> int:
        """The value as an integer."""
        return int(self.get(component, variable, attribute))

    def get_bool(self, component: ComponentKey | str, variable: VariableKey | str, attribute: str = "Actual") -> bool:
        """The value as a boolean (``"true"``)."""
        return self.get(component, variable, attribute).lower() == "true"

    def get_list(self, component: ComponentKey | str, variable: VariableKey | str,
                 attribute: str = "Actual") -> list[str]:
        """The value as a list (comma-separated members)."""
        return [x.strip() for x in self.get(component, variable, attribute).split(",") if x.strip()]

    def set_local(self, component: ComponentKey | str, variable: VariableKey | str, value: str,
                  attribute: str = "Actual") -> None:
        """The charger updates a value (for example AvailabilityState or Power): mutability does not apply, the
        characteristics do, and the value is in effect at once."""
        var = self._var_or_raise(component, variable)
        if attribute not in var.attributes:
            raise FunctionsLocalError(f"{var.component.name}.{var.variable.name} has no {attribute} attribute")
        reason = _check_value(var, value)
        if reason:
            raise FunctionsLocalError(f"{var.component.name}.{var.variable.name}: {reason}: {value!r}")
        self._store(var, attribute, value, pending=False)

    def variables(self) -> list[tuple[ComponentKey, VariableKey]]:
        """Every (component, variable) of the model, in template order."""
        return list(self._vars)

    def next_event(self) -> VariableChanged | None:
        """The next :class:`VariableChanged` not yet taken, or ``None``."""
        return self._events.popleft() if self._events else None

    def _var_or_raise(self, component: ComponentKey | str, variable: VariableKey | str) -> _Var:
        c = ComponentKey(component) if isinstance(component, str) else component
        v = VariableKey(variable) if isinstance(variable, str) else variable
        var = self._vars.get((c, v))
        if var is None:
            raise FunctionsLocalError(f"the device model has no {c} / {v}")
        return var

    def _store(self, var: _Var, attribute: str, value: str, *, pending: bool) -> None:
        key = _attr_key(var, attribute)
        row = self._db.get(_TABLE, key) or {"value": var.attributes[attribute].value}
        row["pending" if pending else "value"] = value
        self._db.put(_TABLE, key, row)
        if pending:
            var.pending[attribute] = value
        else:
            var.attributes[attribute] = _with_value(var.attributes[attribute], value)

    # ------------------------------------------------------------ 2.0.1 Get/SetVariables

    def _find(self, comp: ComponentKey, variable: VariableKey) -> tuple[str, _Var | None]:
        var = self._vars.get((comp, variable))
        if var is not None:
            return "", var
        if comp not in self._components:
            return "UnknownComponent", None
        return "UnknownVariable", None

    def get_variables(self, request: Any) -> Any:
        """GetVariables: a typed ``GetVariablesRequest`` (2.0.1 / 2.1) -> its typed response, one result per
        requested item, in order."""
        m = models_of(request)
        results = []
        for item in request.get_variable_data:
            atype = item.attribute_type or "Actual"
            status, var = self._find(ComponentKey.of(item.component), VariableKey.of(item.variable))
            value = info = None
            if var is None:
                pass
            elif atype not in var.attributes:
                status = "NotSupportedAttributeType"
            elif var.attributes[atype].mutability == "WriteOnly":
                status, info = "Rejected", m.StatusInfoType(reason_code="WriteOnly")
            else:
                status, value = "Accepted", var.attributes[atype].value
            results.append(m.GetVariableResultType(attribute_status=status, component=item.component,
                                                   variable=item.variable, attribute_type=item.attribute_type,
                                                   attribute_value=value, attribute_status_info=info))
        return m.GetVariablesResponse(get_variable_result=tuple(results))

    def set_variables(self, request: Any) -> Any:
        """SetVariables: typed request -> typed response.  Accepted values are stored at once (reboot-required
        ones as pending) and reported as :class:`VariableChanged` events."""
        m = models_of(request)
        value_size = self._limit("DeviceDataCtrlr", "ConfigurationValueSize", 1000)
        results = []
        for item in request.set_variable_data:
            status, reason = self._set(ComponentKey.of(item.component), VariableKey.of(item.variable),
                                       item.attribute_type or "Actual", item.attribute_value, value_size)
            results.append(m.SetVariableResultType(
                attribute_status=status, component=item.component, variable=item.variable,
                attribute_type=item.attribute_type,
                attribute_status_info=m.StatusInfoType(reason_code=reason) if reason else None))
        return m.SetVariablesResponse(set_variable_result=tuple(results))

    def get_configuration(self, request: Any) -> Any:
        """1.6 GetConfiguration: typed request -> typed response (see :meth:`handle_get_configuration`)."""
        m = models_of(request)
        out = self.handle_get_configuration({"key": list(request.key)} if request.key else {})
        return m.GetConfigurationResponse(
            configuration_key=tuple(m.KeyValue(key=e["key"], readonly=e["readonly"], value=e.get("value"))
                                    for e in out.get("configurationKey", ())) or None,
            unknown_key=tuple(out["unknownKey"]) if "unknownKey" in out else None)

    def change_configuration(self, request: Any) -> Any:
        """1.6 ChangeConfiguration: typed request -> typed response."""
        return models_of(request).ChangeConfigurationResponse(
            status=self._change16(request.key, request.value))

    def _change16(self, key: str, value: str) -> str:
        var = self._by_key16.get(key.lower())
        if var is None:
            return "NotSupported"
        status, _ = self._set(var.component, var.variable, var.ocpp16_attribute, _from16(var, value), 500)
        return status

    def handle_get_variables(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        """GetVariables from JSON (checked against the 2.0.1 schema) -> JSON: :meth:`get_variables` for callers
        that hold a payload rather than a typed request."""
        return dict(self.get_variables(typed_request("GetVariables", payload)).to_json())

    def handle_set_variables(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        """SetVariables from JSON (checked against the 2.0.1 schema) -> JSON: :meth:`set_variables`."""
        return dict(self.set_variables(typed_request("SetVariables", payload)).to_json())

    def _set(self, comp: ComponentKey, variable: VariableKey, atype: str, value: str,
             value_size: int) -> tuple[str, str]:
        status, var = self._find(comp, variable)
        if var is None:
            return status, ""
        if atype not in var.attributes:
            return "NotSupportedAttributeType", ""
        attr = var.attributes[atype]
        if attr.mutability == "ReadOnly" or attr.constant:
            return "Rejected", "ReadOnly"
        if len(value) > value_size:
            return "Rejected", "ValueTooLarge"
        reason = _check_value(var, value)
        if reason:
            return "Rejected", reason
        pending = var.reboot_required and value != attr.value
        self._store(var, atype, value, pending=pending)
        self._events.append(VariableChanged(comp, variable, atype, value, pending))
        return ("RebootRequired", "") if pending else ("Accepted", "")

    def _limit(self, component: str, variable: str, default: int, instance: str | None = None) -> int:
        var = self._vars.get((ComponentKey(component), VariableKey(variable, instance)))
        try:
            return int(var.attributes["Actual"].value) if var is not None else default
        except (KeyError, ValueError):
            return default

    # ------------------------------------------------------------ 2.0.1 reports

    def report_data(self, keys: Iterable[tuple[ComponentKey, VariableKey]] | None = None) -> list[dict[str, Any]]:
        """ReportData entries (JSON) for the given variables (all of them when ``None``), in model order."""
        if keys is None:
            return self._report_data(self._vars.values())
        return self._report_data(self._vars[k] for k in keys)

    def _report_data(self, variables: Iterable[_Var]) -> list[dict[str, Any]]:
        out = []
        for var in variables:
            attrs = []
            for a in var.attributes.values():
                entry: dict[str, Any] = {"type": a.type}
                if a.mutability != "WriteOnly":
                    entry["value"] = a.value
                entry.update(mutability=a.mutability, persistent=a.persistent, constant=a.constant)
                attrs.append(entry)
            out.append({
                "component": var.component.to_json(),
                "variable": var.variable.to_json(),
                "variableAttribute": attrs,
                "variableCharacteristics": var.characteristics.to_json(),
            })
        return out

    def base_report(self, report_base: str) -> list[dict[str, Any]]:
        """Report data of GetBaseReport: ``FullInventory``, ``ConfigurationInventory`` (writable variables) or
        ``SummaryInventory`` (availability and problems)."""
        if report_base == "FullInventory":
            chosen = list(self._vars.values())
        elif report_base == "ConfigurationInventory":
            chosen = [v for v in self._vars.values()
                      if any(a.mutability != "ReadOnly" and not a.constant for a in v.attributes.values())]
        elif report_base == "SummaryInventory":
            chosen = [v for v in self._vars.values() if v.variable.name in SUMMARY_VARIABLES]
        else:
            raise FunctionsRemoteError(f"GetBaseReport.reportBase: unknown report base {report_base!r}")
        return self._report_data(chosen)

    def handle_get_base_report(self, payload: Mapping[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """GetBaseReport -> (response, report data to send with :meth:`notify_reports`)."""
        require(payload, "requestId", int, "GetBaseReport")
        data = self.base_report(require(payload, "reportBase", str, "GetBaseReport"))
        return ({"status": "Accepted"} if data else {"status": "EmptyResultSet"}), data

    def report(self, request: Any) -> list[dict[str, Any]]:
        """The report data of a typed GetReport request (see :meth:`handle_get_report` for the filters)."""
        chosen = list(self._vars.values())
        if request.component_variable:
            filters = [(cv.component, None if cv.variable is None else VariableKey.of(cv.variable))
                       for cv in request.component_variable]
            chosen = [v for v in chosen if any(_component_matches_typed(v.component, c) and
                                               (vk is None or vk == v.variable) for c, vk in filters)]
        if request.component_criteria:
            chosen = self._with_criteria(chosen, request.component_criteria)
        return self._report_data(chosen)

    def _with_criteria(self, chosen: list[_Var], criteria: Sequence[str]) -> list[_Var]:
        ok = {var.component for var in self._vars.values()
              if var.variable.name in criteria and var.variable.instance is None
              and "Actual" in var.attributes and var.attributes["Actual"].value.lower() == "true"}
        return [v for v in chosen if v.component in ok]

    def handle_get_report(self, payload: Mapping[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """GetReport -> (response, report data).  ``componentVariable`` entries without instance / EVSE / variable
        match every instance / EVSE / variable; ``componentCriteria`` keep the components that have that
        variable (Active, Available, Enabled, Problem) set to ``true``; both filters combine."""
        where = "GetReport"
        require(payload, "requestId", int, where)
        wanted = optional(payload, "componentVariable", list, where)
        criteria = optional(payload, "componentCriteria", list, where)
        chosen = list(self._vars.values())
        if wanted:
            filters = []
            for i, cv in enumerate(wanted):
                cw = f"{where}.componentVariable[{i}]"
                comp_json = require(cv, "component", Mapping, cw)
                var_json = optional(cv, "variable", Mapping, cw)
                filters.append((comp_json, None if var_json is None else VariableKey.from_json(var_json, cw)))
            chosen = [v for v in chosen if any(_component_matches(v.component, c) and
                                               (vk is None or vk == v.variable) for c, vk in filters)]
        if criteria:
            for c in criteria:
                if c not in ("Active", "Available", "Enabled", "Problem"):
                    raise FunctionsRemoteError(f"{where}.componentCriteria: unknown criterion {c!r}")
            ok = {var.component for var in self._vars.values()
                  if var.variable.name in criteria and var.variable.instance is None
                  and "Actual" in var.attributes and var.attributes["Actual"].value.lower() == "true"}
            chosen = [v for v in chosen if v.component in ok]
        data = self._report_data(chosen)
        return ({"status": "Accepted"} if data else {"status": "EmptyResultSet"}), data

    def notify_reports(self, request_id: int, report_data: Sequence[Mapping[str, Any]],
                       generated_at: datetime) -> list[dict[str, Any]]:
        """The NotifyReport payloads carrying ``report_data``: ``DeviceDataCtrlr.ItemsPerMessage[GetReport]``
        entries each, ``seqNo`` from 0, ``tbc`` true on all but the last."""
        per = max(1, self._limit("DeviceDataCtrlr", "ItemsPerMessage", 50, "GetReport"))
        chunks = [list(report_data[i:i + per]) for i in range(0, len(report_data), per)] or [[]]
        out = []
        for seq, chunk in enumerate(chunks):
            msg: dict[str, Any] = {"requestId": request_id, "generatedAt": format_datetime(generated_at),
                                   "seqNo": seq, "tbc": seq < len(chunks) - 1}
            if chunk:
                msg["reportData"] = chunk
            out.append(msg)
        return out

    # ------------------------------------------------------------ 1.6 configuration keys

    def handle_get_configuration(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        """1.6 GetConfiguration: every key (no ``key`` list) or the listed ones; unknown keys in ``unknownKey``."""
        keys = optional(payload, "key", list, "GetConfiguration")
        if keys:
            chosen, unknown = [], []
            for k in keys:
                if not isinstance(k, str):
                    raise FunctionsRemoteError("GetConfiguration.key: keys must be strings")
                var = self._by_key16.get(k.lower())
                if var is None:
                    unknown.append(k)
                else:
                    chosen.append(var)
        else:
            chosen, unknown = list(self._by_key16.values()), []
        entries = []
        for var in chosen:
            attr = var.attributes[var.ocpp16_attribute]
            assert var.ocpp16_key is not None
            entry: dict[str, Any] = {"key": var.ocpp16_key, "readonly": attr.mutability == "ReadOnly" or attr.constant}
            if attr.mutability != "WriteOnly":
                entry["value"] = _to16(var, attr.value)
            entries.append(entry)
        out: dict[str, Any] = {}
        if entries:
            out["configurationKey"] = entries
        if unknown:
            out["unknownKey"] = unknown
        return out

    def handle_change_configuration(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        """1.6 ChangeConfiguration: Accepted, Rejected, RebootRequired or NotSupported (unknown key)."""
        key = require(payload, "key", str, "ChangeConfiguration")
        value = require(payload, "value", str, "ChangeConfiguration")
        return {"status": self._change16(key, value)}


# ---------------------------------------------------------------- helpers


def _attr_key(var: _Var, attribute: str) -> str:
    """The store key of one attribute of a variable: component, instance, EVSE, connector, variable, instance, type
    (JSON, so no separator can be confused with a name)."""
    c, v = var.component, var.variable
    return json.dumps([c.name, c.instance, c.evse_id, c.connector_id, v.name, v.instance, attribute],
                      separators=(",", ":"))


def _with_value(a: Attribute, value: str) -> Attribute:
    return Attribute(type=a.type, value=value, mutability=a.mutability, persistent=a.persistent, constant=a.constant)


def _component_matches_typed(comp: ComponentKey, wanted: Any) -> bool:
    if comp.name != wanted.name or (wanted.instance is not None and wanted.instance != comp.instance):
        return False
    evse = wanted.evse
    return evse is None or (evse.id == comp.evse_id and
                            (evse.connector_id is None or evse.connector_id == comp.connector_id))


def _component_matches(comp: ComponentKey, data: Mapping[str, Any]) -> bool:
    if comp.name != data.get("name"):
        return False
    if "instance" in data and data["instance"] != comp.instance:
        return False
    evse = data.get("evse")
    if isinstance(evse, Mapping):
        if evse.get("id") != comp.evse_id:
            return False
        if "connectorId" in evse and evse["connectorId"] != comp.connector_id:
            return False
    return True


def _to16(var: _Var, value: str) -> str:
    if not var.ocpp16_values:
        return value
    return ",".join(var.ocpp16_values.get(x, x) for x in value.split(","))


def _from16(var: _Var, value: str) -> str:
    if not var.ocpp16_values:
        return value
    back = {v: k for k, v in var.ocpp16_values.items()}
    return ",".join(back.get(x.strip(), x.strip()) for x in value.split(","))


def _check_value(var: _Var, value: str) -> str:
    """Empty when ``value`` fits the variable's characteristics, else the reason code (at most 20 characters)."""
    ch = var.characteristics
    dt = ch.data_type
    if dt == "integer" or dt == "decimal":
        try:
            number = int(value) if dt == "integer" else float(value)
        except ValueError:
            return "InvalidValue"
        if dt == "decimal" and not math.isfinite(number):
            return "InvalidValue"
        if (ch.min_limit is not None and number < ch.min_limit) or (ch.max_limit is not None and number > ch.max_limit):
            return "ValueOutOfRange"
        return ""
    if dt == "boolean":
        return "" if value in ("true", "false") else "InvalidValue"
    if dt == "dateTime":
        try:
            parse_datetime(value, var.variable.name)
        except FunctionsRemoteError:
            return "InvalidValue"
        return ""
    if dt == "OptionList":
        return "" if ch.values_list is None or value in ch.values_list else "ValueNotInList"
    if dt in ("MemberList", "SequenceList"):
        members = [x.strip() for x in value.split(",") if x.strip()]
        if ch.values_list is not None and any(m not in ch.values_list for m in members):
            return "ValueNotInList"
        if dt == "MemberList" and len(set(members)) != len(members):
            return "DuplicateMember"
        return ""
    # string: minLimit / maxLimit are lengths
    if (ch.max_limit is not None and len(value) > ch.max_limit) or (
            ch.min_limit is not None and len(value) < ch.min_limit):
        return "InvalidLength"
    return ""


__all__ = [
    "ATTRIBUTE_TYPES",
    "Attribute",
    "Characteristics",
    "ComponentKey",
    "DeviceModel",
    "VariableChanged",
    "VariableKey",
    "default_template",
    "expand_template",
]
