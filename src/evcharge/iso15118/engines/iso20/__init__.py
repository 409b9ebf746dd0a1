"""ISO 15118-20 engines: charger (SECC) and car (EVCC) for AC, DC, AC_BPT and DC_BPT, sans-I/O.

Built on the machinery of the DIN / ISO 15118-2 engines (``evcharge.iso15118.engines``): the (state, request)
table, ``EngineBase``, the minimal FAILED bodies and the protocol-neutral events. The -20 vocabulary is in
:mod:`evcharge.iso15118.engines.iso20.events`, the configuration in
:mod:`evcharge.iso15118.engines.iso20.config`.
"""

from __future__ import annotations

from evcharge.iso15118.handover import Engine, HandOver

from .config import Iso20EvccConfig, Iso20EvccTimeouts, Iso20PerformanceTimes, Iso20SeccConfig, Iso20SeccTimeouts
from .evcc import Iso20Evcc, Iso20EvccState
from .events import ControlMode, EnergyRequest, EnergyService, PowerLimits, PowerSchedule
from .secc import Iso20Secc, Iso20SeccState

__all__ = [
    "ControlMode",
    "EnergyRequest",
    "EnergyService",
    "Iso20Evcc",
    "Iso20EvccConfig",
    "Iso20EvccState",
    "Iso20EvccTimeouts",
    "Iso20PerformanceTimes",
    "Iso20Secc",
    "Iso20SeccConfig",
    "Iso20SeccState",
    "Iso20SeccTimeouts",
    "PowerLimits",
    "PowerSchedule",
    "iso20_evcc_factory",
    "iso20_secc_factory",
]


def iso20_secc_factory(config: Iso20SeccConfig | None = None):  # type: ignore[no-untyped-def]
    """An EngineFactory building an :class:`~evcharge.iso15118.engines.iso20.secc.Iso20Secc` for ISO20_AC /
    ISO20_DC hand-overs."""

    def build(handover: HandOver) -> Engine:
        return Iso20Secc(handover, config)

    return build


def iso20_evcc_factory(config: Iso20EvccConfig | None = None):  # type: ignore[no-untyped-def]
    """An EngineFactory building an :class:`~evcharge.iso15118.engines.iso20.evcc.Iso20Evcc` for ISO20_AC /
    ISO20_DC hand-overs."""

    def build(handover: HandOver) -> Engine:
        return Iso20Evcc(handover, config)

    return build
