"""A test PKI written once per test session (``evcharge.iso15118.security.pki``)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("cryptography")
    from evcharge.iso15118.security.pki import write_pki

    out = tmp_path_factory.mktemp("pki")
    write_pki(out)
    return out
