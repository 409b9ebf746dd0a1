"""Test PKIs for the EVSE manager's Plug & Charge tests (made once per run: writing one takes a while)."""

from __future__ import annotations

from pathlib import Path

import pytest

#: the contract's eMAID in the ISO 15118-2 test PKI
EMAID = "NL-TNM-000122045-U"


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An ISO 15118-2 test PKI (V2G root, CPO, SECC, OEM provisioning, MO, the contract of :data:`EMAID`)."""
    pytest.importorskip("cryptography")
    from evcharge.iso15118.security.pki import PkiOptions, write_pki

    out = tmp_path_factory.mktemp("pki")
    write_pki(out, PkiOptions(emaid=EMAID, trees=("iso2",)))
    return out


@pytest.fixture(scope="session")
def pki20(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An ISO 15118-20 test PKI."""
    pytest.importorskip("cryptography")
    from evcharge.iso15118.security.pki import PkiOptions, write_pki

    out = tmp_path_factory.mktemp("pki20")
    write_pki(out, PkiOptions(trees=("iso20",)))
    return out
