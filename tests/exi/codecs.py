"""The codec objects of each schema family on each available backend (shared by the codec tests)."""

from __future__ import annotations

import importlib
from typing import Any

from evcharge._exi import _runtime
from evcharge._exi.codec import SchemaCodec

try:
    from evcharge._exi import _runtime_c  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - no compiler
    _runtime_c = None

RUNTIMES: dict[str, Any] = {"python": _runtime}
if _runtime_c is not None:
    RUNTIMES["cython"] = _runtime_c

FAMILY_MODULE = {
    "SAP": "app_protocol", "DIN": "din", "ISO2": "iso2", "XMLDSIG": "xmldsig",
    "ISO20-Common": "iso20_common", "ISO20-AC": "iso20_ac", "ISO20-DC": "iso20_dc",
    "ISO20-WPT": "iso20_wpt", "ISO20-ACDP": "iso20_acdp",
}
FAMILY_NS = {
    "SAP": "urn:iso:15118:2:2010:AppProtocol",
    "DIN": "urn:din:70121:2012:MsgDef",
    "ISO2": "urn:iso:15118:2:2013:MsgDef",
    "XMLDSIG": "http://www.w3.org/2000/09/xmldsig#",
    "ISO20-Common": "urn:iso:std:iso:15118:-20:CommonMessages",
    "ISO20-AC": "urn:iso:std:iso:15118:-20:AC",
    "ISO20-DC": "urn:iso:std:iso:15118:-20:DC",
    "ISO20-WPT": "urn:iso:std:iso:15118:-20:WPT",
    "ISO20-ACDP": "urn:iso:std:iso:15118:-20:ACDP",
}
_cache: dict[tuple[str, str], SchemaCodec] = {}


def codec(family: str, backend: str) -> SchemaCodec:
    """A SchemaCodec of ``family`` whose grammar runs on ``backend`` ("python" or "cython")."""
    key = (family, backend)
    if key not in _cache:
        module = importlib.import_module(f"evcharge._exi._generated.{FAMILY_MODULE[family]}")
        c = SchemaCodec(module, FAMILY_NS[family], backend=RUNTIMES[backend])
        assert c.encode.__self__ is c._grammar  # the fast path runs on the backend under test
        assert type(c._grammar).__module__ == RUNTIMES[backend].__name__
        _cache[key] = c
    return _cache[key]
