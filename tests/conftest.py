"""Shared test configuration."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci", max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=False
)
settings.register_profile("dev", max_examples=50, deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")

REPO_ROOT = Path(__file__).resolve().parent.parent


def shared_dir() -> Path:
    """The ``shared/`` folder beside the checkout (schemas, facts, conformance data, tools)."""
    env = os.environ.get("EVCHARGE_SHARED")
    candidates = [Path(env)] if env else []
    candidates += [REPO_ROOT.parent / "shared", REPO_ROOT / "shared"]
    for c in candidates:
        if (c / "conformance").is_dir():
            return c
    raise FileNotFoundError("the shared/ folder (conformance data) is not beside the checkout; set EVCHARGE_SHARED")


@pytest.fixture(scope="session")
def shared() -> Path:
    return shared_dir()

# the EXIficient reference peer (session fixture ``exificient``)
pytest_plugins = ["tests.exi.exificient"]
