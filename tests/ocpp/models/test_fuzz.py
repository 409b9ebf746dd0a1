"""Arbitrary JSON at every validator: only OcppValidationError or success, and the oracle's verdict."""

from __future__ import annotations

import functools
import importlib
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evcharge.ocpp.errors import OcppValidationError

from .schema_tools import VERSION_KEYS, json_scalars, load_schema, oracle_valid, schema_cases


@functools.cache
def _property_names(key: str) -> list[str]:
    names: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            names.update(node.get("properties", {}))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for k, action, kind in schema_cases():
        if k == key:
            walk(load_schema(k, action, kind))
    return sorted(names)


def _documents(key: str) -> st.SearchStrategy[Any]:
    """JSON documents built from the version's own property names, so they reach deep into the schemas."""
    keys = st.sampled_from(_property_names(key)) | st.text(max_size=5)
    return st.recursive(
        json_scalars | st.sampled_from(["Accepted", "2024-01-01T00:00:00Z", "Voltage", "Wh", ""]),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(keys, inner, max_size=6),
        max_leaves=25,
    )


@pytest.mark.fuzz
@pytest.mark.property
@pytest.mark.parametrize("key", VERSION_KEYS)
def test_random_documents_never_crash_and_agree_with_oracle(key: str) -> None:
    module = importlib.import_module(f"evcharge.ocpp.{key}")
    cases = [(a, kind) for k, a, kind in schema_cases() if k == key]

    @settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(case=st.sampled_from(cases), document=_documents(key), lenient=st.booleans())
    def check(case: tuple[str, str], document: Any, lenient: bool) -> None:
        action, kind = case
        try:
            module.validate(action, kind, document, lenient=lenient)
        except OcppValidationError:
            ours = False
        else:
            ours = True
        expected = oracle_valid(key, action, kind, document)
        if lenient:
            assert ours or not expected
        else:
            assert ours == expected, document

    check()
