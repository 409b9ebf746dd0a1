"""Every action's request and response of OCPP 1.6, 2.0.1 and 2.1 against the jsonschema oracle.

For each shipped schema: hypothesis draws instances from the schema itself; the oracle (jsonschema,
the schema's own draft, date-time checked, multipleOf read in decimal) must call them valid, our
compiled validator must agree, and JSON -> model -> JSON must give back the same JSON text.  Then
one random mutation of the instance: ours must agree with the oracle on valid/invalid, and lenient
mode must accept everything strict mode accepts.
"""

from __future__ import annotations

import importlib
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evcharge.ocpp.errors import OcppValidationError, ViolationKind

from .schema_tools import (
    LENIENT,
    apply_violation,
    assert_typed,
    instances,
    load_schema,
    mutated,
    oracle_valid,
    schema_cases,
    violations,
)

CASES = schema_cases()
IDS = [f"{k}-{a}-{kind}" for k, a, kind in CASES]
SETTINGS = settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck), database=None)


def _module(key: str) -> Any:
    return importlib.import_module(f"evcharge.ocpp.{key}")


def _ours_valid(key: str, action: str, kind: str, instance: Any) -> bool:
    try:
        warnings = _module(key).validate(action, kind, instance)
    except OcppValidationError:
        return False
    assert warnings == []
    return True


def test_inventory_matches_the_facts() -> None:
    """39 actions for 1.6 (28 core + 11 security), 64 for 2.0.1, 91 for 2.1 (one SEND-only)."""
    from evcharge.ocpp import v16, v21, v201

    assert (len(v16.Action), len(v201.Action), len(v21.Action)) == (39, 64, 91)
    assert len(v16.RESPONSES) == 39 and len(v201.RESPONSES) == 64 and len(v21.RESPONSES) == 90
    assert "NotifyPeriodicEventStream" in v21.REQUESTS and "NotifyPeriodicEventStream" not in v21.RESPONSES
    assert len(CASES) == 39 * 2 + 64 * 2 + 90 * 2 + 1


@pytest.mark.property
@pytest.mark.parametrize(("key", "action", "kind"), CASES, ids=IDS)
def test_generated_instances_agree_with_oracle_and_round_trip(key: str, action: str, kind: str) -> None:
    module = _module(key)
    cls = module.request_class(action) if kind == "request" else module.response_class(action)

    @SETTINGS
    @given(data=st.data())
    def check(data: st.DataObject) -> None:
        instance = data.draw(instances(key, action, kind), label="instance")
        assert oracle_valid(key, action, kind, instance), "the strategy drew an invalid instance"
        assert module.validate(action, kind, instance) == []
        assert module.validate(action, kind, instance, lenient=True) == []
        model = cls.from_json(instance)
        assert_typed(model, cls)
        assert json.dumps(model.to_json(), sort_keys=True) == json.dumps(instance, sort_keys=True)
        assert cls.from_json(model.to_json()) == model

        bad = data.draw(mutated(instance), label="mutated")
        expected = oracle_valid(key, action, kind, bad)
        assert _ours_valid(key, action, kind, bad) == expected, bad
        try:
            warnings = module.validate(action, kind, bad, lenient=True)
        except OcppValidationError:
            assert not expected, "lenient mode rejected what strict mode accepts"
        else:
            assert isinstance(warnings, list)
            if expected:
                assert warnings == []

    check()


@pytest.mark.property
@pytest.mark.parametrize(("key", "action", "kind"), CASES, ids=IDS)
def test_targeted_violations_are_rejected_by_both(key: str, action: str, kind: str) -> None:
    """One schema rule broken on purpose: the oracle and ours reject it, with the right kind."""
    module = _module(key)
    schema = load_schema(key, action, kind)
    draft6 = "draft-06" in schema["$schema"]

    @SETTINGS
    @given(data=st.data())
    def check(data: st.DataObject) -> None:
        instance = data.draw(instances(key, action, kind), label="instance")
        options = list(violations(schema, instance, schema, draft6))
        path, op, arg, expected = data.draw(st.sampled_from(options), label="violation")
        bad = apply_violation(instance, path, op, arg)
        assert not oracle_valid(key, action, kind, bad), "the mutation did not break the schema"
        lenient_fields = {("BootNotification", "response", "interval"), ("UpdateFirmware", "request", "retries"),
                          ("UpdateFirmware", "request", "retryInterval")}
        if key == "v16" and (action, kind, path[-1] if path else None) in lenient_fields and isinstance(arg, float):
            expected = LENIENT
        with pytest.raises(OcppValidationError) as info:
            module.validate(action, kind, bad)
        if expected == LENIENT:
            assert info.value.kind is ViolationKind.PROPERTY or info.value.kind is ViolationKind.TYPE
            warnings = module.validate(action, kind, bad, lenient=True)
            assert len(warnings) == 1 and "lenient" in warnings[0]
        else:
            assert info.value.kind == expected, (path, op, arg, str(info.value))
            with pytest.raises(OcppValidationError):
                module.validate(action, kind, bad, lenient=True)
        if op != "add":
            shown = ".".join(str(p) for p in path if isinstance(p, str))
            if op == "delete":
                assert repr(path[-1]) in str(info.value)
            else:
                assert info.value.path.replace("[", ".").replace("]", "").split(".") == [
                    str(p) for p in path] or (not path and info.value.path == ""), (info.value.path, shown)

    check()
