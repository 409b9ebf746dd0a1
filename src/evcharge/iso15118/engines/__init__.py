"""V2G protocol engines: DIN 70121 and ISO 15118-2 charger (SECC) and car (EVCC), sans-I/O.

Each engine is an :class:`evcharge.iso15118.handover.Engine`: the communication layer hands a session
over after SupportedAppProtocol and then passes V2GTP payloads in and out. The application talks to an
engine with the typed events and commands of :mod:`evcharge.iso15118.engines.events`.

* :class:`Secc` / :class:`Evcc` (``engines.secc``, ``engines.evcc``): one class per side for DIN and ISO 15118-2.
* :func:`secc_factory` / :func:`evcc_factory`: the :data:`~evcharge.iso15118.handover.EngineFactory` to
  give the session.
* :class:`Loopback` (``engines.loopback``): two engines wired together in one process on a simulated clock
  (tests, benchmarks, the guide's examples).

Protocol-neutral machinery for every engine (the ISO 15118-20 ones included):
:mod:`evcharge.iso15118.engines._table` (the (state, request) table), :mod:`evcharge.iso15118.engines._base`
(queues, timers, the end of a session), :mod:`evcharge.iso15118.engines._minimal` (FAILED bodies with only
the mandatory fields), :mod:`evcharge.iso15118.engines.events`, :mod:`evcharge.iso15118.engines.config`.
"""

from __future__ import annotations

from typing import Any

from evcharge.iso15118.handover import Engine, HandOver

from .config import EvccConfig, EvccTimeouts, PerformanceTimes, Quirks, SeccConfig, SeccTimeouts
from .evcc import Evcc, EvccState
from .loopback import Loopback
from .secc import Secc, SeccState

__all__ = [
    "Evcc",
    "EvccConfig",
    "EvccState",
    "EvccTimeouts",
    "Loopback",
    "PerformanceTimes",
    "Quirks",
    "Secc",
    "SeccConfig",
    "SeccState",
    "SeccTimeouts",
    "evcc_factory",
    "secc_factory",
]


def secc_factory(config: SeccConfig | None = None, *, iso20: Any = None):  # type: ignore[no-untyped-def]
    """An EngineFactory building a :class:`Secc` with ``config`` for DIN and ISO 15118-2 hand-overs, and an
    :class:`~evcharge.iso15118.engines.iso20.secc.Iso20Secc` with ``iso20`` (an ``Iso20SeccConfig``) for -20 ones."""

    def build(handover: HandOver) -> Engine:
        if handover.protocol.is_iso20:
            from .iso20 import Iso20Secc

            return Iso20Secc(handover, iso20)
        return Secc(handover, config)

    return build


def evcc_factory(config: EvccConfig | None = None, *, iso20: Any = None):  # type: ignore[no-untyped-def]
    """An EngineFactory building an :class:`Evcc` with ``config`` (DIN, ISO 15118-2), or an
    :class:`~evcharge.iso15118.engines.iso20.evcc.Iso20Evcc` with ``iso20`` (an ``Iso20EvccConfig``) for -20."""

    def build(handover: HandOver) -> Engine:
        if handover.protocol.is_iso20:
            from .iso20 import Iso20Evcc

            return Iso20Evcc(handover, iso20)
        return Evcc(handover, config)

    return build
