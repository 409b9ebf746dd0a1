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
# The build must work offline: the Python inventory comes from Debian's python3.11-doc when it is
# installed (.ci/run installs it); without it, references to the standard library are left as
# plain text (see nitpick_ignore_regex) instead of failing the build.
_PY_INV = [p for p in ("/usr/share/doc/python3.11/html/objects.inv", "/usr/share/doc/python3/html/objects.inv")
           if os.path.exists(p)]
intersphinx_mapping = {"python": ("https://docs.python.org/3", _PY_INV[0])} if _PY_INV else {}
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "show-inheritance": True}
nitpicky = True
nitpick_ignore_regex = [
    (r"py:.*", r"(builtins\.)?(int|str|bytes|float|bool|object|list|dict|tuple|set|type|None|Exception)"),
    (r"py:.*", r"(typing|collections\.abc|enum|dataclasses|asyncio|argparse|types|random|pathlib|ssl|socket|os)\..*"),
    (r"py:.*", r"(scapy|websockets|serial|google\.protobuf|lxml|cryptography|pymodbus)\..*"),
    (r"py:class", r"(Any|Callable|Iterable|Iterator|Sequence|Mapping|ModuleType|Path|Enum|IntEnum|StrEnum|Random)"),
]
exclude_patterns = ["_build"]
html_theme = "alabaster"
