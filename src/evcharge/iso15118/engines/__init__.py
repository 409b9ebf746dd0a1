"""V2G protocol engines: DIN 70121 and ISO 15118-2 charger (SECC) and car (EVCC), sans-I/O.

Each engine is an :class:`evcharge.iso15118.handover.Engine`: the communication layer hands a session
over after SupportedAppProtocol and then passes V2GTP payloads in and out. The application talks to an
engine with the typed events and commands of :mod:`evcharge.iso15118.engines.events`.

* :class:`Secc` / :class:`Evcc` (``engines.secc``, ``engines.evcc``): one class per side for DIN and ISO 15118-2.
* :func:`secc_factory` / :func:`evcc_factory`: the :data:`~evcharge.iso15118.handover.EngineFactory` to
  give the session; :func:`secc_engines`: the one mapping (AppProtocol -> factory) of a charger that offers
  DIN, ISO 15118-2 and -20 on one port and lets SupportedAppProtocol choose.
* :class:`Loopback` (``engines.loopback``): two engines wired together in one process on a simulated clock
  (tests, benchmarks, the guide's examples).

Protocol-neutral machinery for every engine (the ISO 15118-20 ones included):
:mod:`evcharge.iso15118.engines._table` (the (state, request) table), :mod:`evcharge.iso15118.engines._base`
(queues, timers, the end of a session), :mod:`evcharge.iso15118.engines._minimal` (FAILED bodies with only
the mandatory fields), :mod:`evcharge.iso15118.engines.events`, :mod:`evcharge.iso15118.engines.config`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from evcharge.iso15118.handover import AppProtocol, Engine, EngineFactory, HandOver, TlsInfo

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
    "engines_for_tls",
    "evcc_factory",
    "secc_engines",
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


def secc_engines(
    config: SeccConfig | None = None,
    iso20: Any = None,
    *,
    protocols: Iterable[str] = ("din", "iso2", "iso20"),
) -> dict[AppProtocol, EngineFactory]:
    """The engines of a charger that offers every protocol it speaks on one port: give the mapping to
    :class:`~evcharge.iso15118.session.SeccSession` (and its keys, as ``SupportedProtocol`` entries, to
    ``SeccSessionConfig.protocols``) and SupportedAppProtocol hands each connection to the engine of the
    protocol it chose.

    ``protocols``: any of ``din``, ``iso2``, ``iso20``. DIN 70121 and ISO 15118-2 get a :class:`Secc` with
    ``config`` (DIN only when ``config`` has a DC energy mode: DIN 70121 is DC only); ISO 15118-20 gets an
    :class:`~evcharge.iso15118.engines.iso20.secc.Iso20Secc` with ``iso20`` (an ``Iso20SeccConfig``) under the
    namespace of each kind of energy service it offers: ``ISO20_DC`` for DC / DC_BPT, ``ISO20_AC`` for AC /
    AC_BPT, ``ISO20_ACDP`` for DC_ACDP / DC_ACDP_BPT, ``ISO20_WPT`` for WPT."""
    wanted = set(protocols)
    unknown = wanted - {"din", "iso2", "iso20"}
    if unknown:
        raise ValueError(f"unknown protocols {sorted(unknown)}: din, iso2, iso20")
    cfg = config if config is not None else SeccConfig()
    engines: dict[AppProtocol, EngineFactory] = {}
    if "din" in wanted and any(mode.is_dc for mode in cfg.energy_modes):
        engines[AppProtocol.DIN] = lambda handover: Secc(handover, cfg)
    if "iso2" in wanted:
        engines[AppProtocol.ISO2] = lambda handover: Secc(handover, cfg)
    if "iso20" in wanted:
        from .iso20 import EnergyService, Iso20Secc, Iso20SeccConfig

        cfg20 = iso20 if iso20 is not None else Iso20SeccConfig()

        def build20(handover: HandOver) -> Engine:
            return Iso20Secc(handover, cfg20)

        if any(s in (EnergyService.DC, EnergyService.DC_BPT) for s in cfg20.services):
            engines[AppProtocol.ISO20_DC] = build20
        if any(s in (EnergyService.AC, EnergyService.AC_BPT) for s in cfg20.services):
            engines[AppProtocol.ISO20_AC] = build20
        if any(s in (EnergyService.DC_ACDP, EnergyService.DC_ACDP_BPT) for s in cfg20.services):
            engines[AppProtocol.ISO20_ACDP] = build20
        if EnergyService.WPT in cfg20.services:
            engines[AppProtocol.ISO20_WPT] = build20
    return engines


def engines_for_tls(engines: dict[AppProtocol, EngineFactory], tls: TlsInfo | None) -> dict[AppProtocol, EngineFactory]:
    """The engines a connection may negotiate in SupportedAppProtocol given its TLS version: ISO 15118-20 only
    over TLS 1.3, DIN 70121 and ISO 15118-2 only over TLS 1.2 (their TLS profile), every one over plain TCP. Give
    the result to the connection's :class:`~evcharge.iso15118.session.SeccSession`: a car whose protocols all
    need the other TLS version is answered Failed_NoNegotiation."""
    if tls is None:
        return dict(engines)
    tls13 = tls.version == "TLSv1.3"
    return {p: f for p, f in engines.items() if p.is_iso20 == tls13}
