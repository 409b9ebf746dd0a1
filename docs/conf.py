"""Sphinx configuration for the evcharge documentation."""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "src")))

import evcharge  # noqa: E402

project = "evcharge"
author = "evcharge developers"
copyright = "2026, evcharge developers"
release = evcharge.__version__
version = release

extensions = ["sphinx.ext.autodoc", "sphinx.ext.intersphinx", "sphinx.ext.viewcode", "sphinx.ext.napoleon"]
# The build works offline on any machine: the Python standard library's inventory is carried in the repository
# (docs/_inventories, see its PROVENANCE.md); nothing is fetched.
_HERE = os.path.dirname(os.path.abspath(__file__))
intersphinx_mapping = {
    "python": ("https://docs.python.org/3.11", os.path.join(_HERE, "_inventories", "python3.11-objects.inv")),
}
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "show-inheritance": True}
nitpicky = True
nitpick_ignore_regex = [
    (r"py:.*", r"(builtins\.)?(int|str|bytes|float|bool|object|list|dict|tuple|set|type|None|Exception)"),
    (r"py:.*", r"(typing|collections\.abc|enum|dataclasses|asyncio|argparse|types|random|pathlib|ssl|socket|os)\..*"),
    (r"py:.*", r"(scapy|websockets|serial|google\.protobuf|lxml|cryptography|pymodbus)\..*"),
    (r"py:.*", r"evcharge\.sansio\.\w+T(_co|_contra)?"),  # the cores' type variables (no page of their own)
    (r"py:class", r"(Any|Callable|Iterable|Iterator|Sequence|Mapping|ModuleType|Path|Enum|IntEnum|StrEnum|Random)"),
]
nitpick_ignore = [
    # The generated entry class of SupportedAppProtocolReq (app_protocol: list[AppProtocol], documented in
    # iso15118.rst) shares its short name with evcharge.iso15118.handover.AppProtocol. Sphinx leaves a class's
    # constructor annotations as strings ("Mapping[AppProtocol, EngineFactory]") and resolves them by short
    # name, so documenting this class too would make each of those references ambiguous.
    ("py:class", "evcharge._exi._generated.app_protocol.AppProtocol"),
]
exclude_patterns = ["_build", "_inventories"]
html_theme = "alabaster"
