"""The Yeti link's protobuf messages as typed, frozen dataclasses.

Generated from ``yeti.proto`` by :mod:`evcharge.bsp.codegen`; encode with ``msg.encode()`` and decode with
``McuToEverest.decode(data)`` / ``EverestToMcu.decode(data)``.
"""

from __future__ import annotations

from evcharge.bsp.yeti._generated.yeti_pb import (
    CpState,
    ErrorFlags,
    EverestToMcu,
    FirmwareUpdate,
    KeepAlive,
    KeepAliveLo,
    LockState,
    McuToEverest,
    PowerMeter,
    PpState,
    ResetReason,
    Telemetry,
)

__all__ = [
    "CpState",
    "ErrorFlags",
    "EverestToMcu",
    "FirmwareUpdate",
    "KeepAlive",
    "KeepAliveLo",
    "LockState",
    "McuToEverest",
    "PowerMeter",
    "PpState",
    "ResetReason",
    "Telemetry",
]
