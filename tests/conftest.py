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


#: Test data carried in the repository (copied with provenance notes; see each folder's PROVENANCE.md).
DATA_DIR = REPO_ROOT / "tests" / "data"
#: The official XSDs and OCPP JSON schemas, as the package ships them.
PACKAGE_DIR = REPO_ROOT / "src" / "evcharge"


def conformance_dir() -> Path:
    """The EXI conformance corpus carried with the tests (``tests/data/conformance/exi``)."""
    return DATA_DIR / "conformance" / "exi"


def v2g_schema_dir() -> Path:
    """The V2G XSDs shipped in the package (``evcharge/_exi/schemas``)."""
    return PACKAGE_DIR / "_exi" / "schemas"


def ocpp_schema_dir() -> Path:
    """The OCPP JSON schemas shipped in the package (``evcharge/ocpp/schemas``)."""
    return PACKAGE_DIR / "ocpp" / "schemas"


@pytest.fixture(scope="session")
def test_data() -> Path:
    """The test data carried in the repository (``tests/data``)."""
    return DATA_DIR


# the EXIficient reference peer (session fixture ``exificient``)
pytest_plugins = ["tests.exi.exificient"]
