"""ISO 15118-20: one module per schema, and the V2GTP payload type that selects it.

The EXI bytes alone do not say which -20 schema they belong to: the V2GTP payload type does
(0x8002 CommonMessages, 0x8003 AC, 0x8004 DC, 0x8005 ACDP, 0x8006 WPT).  :func:`decode_payload`
picks the schema from it.  The modules load on first use.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

#: V2GTP payload type -> module name in this package
PAYLOAD_TYPES: dict[int, str] = {0x8002: "common", 0x8003: "ac", 0x8004: "dc", 0x8005: "acdp", 0x8006: "wpt"}


def schema_for_payload_type(payload_type: int) -> ModuleType:
    """The module (``common``, ``ac``, ``dc``, ``acdp`` or ``wpt``) of a V2GTP payload type."""
    try:
        name = PAYLOAD_TYPES[payload_type]
    except KeyError:
        raise ValueError(f"0x{payload_type:04x} is not an ISO 15118-20 payload type") from None
    return importlib.import_module(f"{__name__}.{name}")


def decode_payload(payload_type: int, data: bytes) -> Any:
    """Decode an EXI payload with the schema its V2GTP payload type selects."""
    module = schema_for_payload_type(payload_type)
    return module.decode(data)


def __getattr__(name: str) -> ModuleType:
    if name in PAYLOAD_TYPES.values():
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(name)


__all__ = ["PAYLOAD_TYPES", "decode_payload", "schema_for_payload_type"]
