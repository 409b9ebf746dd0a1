"""Helpers for the V2G engine tests: a charger and a car application, and a session runner."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from evcharge.iso15118.engines import Evcc, EvccConfig, Loopback, Secc, SeccConfig
from evcharge.iso15118.engines import events as ev
from evcharge.iso15118.handover import AppProtocol, HandOver, TlsInfo

DC = ev.EnergyMode.DC_EXTENDED
AC = ev.EnergyMode.AC_THREE_PHASE
DC_LIMITS = ev.DcLimits(max_voltage=500, max_current=200, max_power=100_000)
AC_LIMITS = ev.AcLimits(nominal_voltage=230, max_current=32)


def handover(
    protocol: str, *, now: float = 0.0, tls: bool = False, resume: bytes | None = None, **extra: Any
) -> HandOver:
    return HandOver(
        protocol=AppProtocol.DIN if protocol == "din" else AppProtocol.ISO2,
        schema_id=1,
        version_minor=0,
        minor_deviation=False,
        tls=TlsInfo(version="TLSv1.2", cipher="ECDHE-ECDSA-AES128-SHA256") if tls else None,
        now=now,
        resume_session_id=resume,
        extra=dict(extra),
    )


def secc_config(mode: ev.EnergyMode = DC, **kw: Any) -> SeccConfig:
    base: dict[str, Any] = {
        "energy_modes": (mode,),
        "dc_limits": DC_LIMITS,
        "ac_limits": AC_LIMITS,
        "auto_authorize": True,
    }
    base.update(kw)
    return SeccConfig(**base)


class Charger:
    """A charger application: isolation valid, output follows the car's targets."""

    def __init__(self) -> None:
        self.events: list[Any] = []

    def __call__(self, engine: Any, event: Any, now: float) -> None:
        self.events.append(event)
        if isinstance(event, ev.CableCheckRequested):
            engine.send(ev.SetIsolation(level=ev.Isolation.VALID), now)
        elif isinstance(event, ev.PreChargeRequested):
            engine.send(ev.SetPresentValues(voltage=event.target_voltage, current=event.target_current), now)
        elif isinstance(event, ev.ChargeLoopTargets):
            engine.send(ev.SetPresentValues(voltage=event.target_voltage, current=event.target_current), now)


class Car:
    """A car application: stops after ``loops`` charge-loop answers (pause when ``pause``)."""

    def __init__(
        self, loops: int = 5, pause: bool = False, on_loop: Callable[[Any, int, float], None] | None = None
    ) -> None:
        self.loops = loops
        self.pause = pause
        self.count = 0
        self.on_loop = on_loop
        self.events: list[Any] = []

    def __call__(self, engine: Any, event: Any, now: float) -> None:
        self.events.append(event)
        if isinstance(event, ev.ChargeLoopStatus):
            self.count += 1
            if self.on_loop is not None:
                self.on_loop(engine, self.count, now)
            if self.count == self.loops:
                engine.send(ev.StopCharging(pause=self.pause), now)


def run_session(
    protocol: str,
    mode: ev.EnergyMode = DC,
    *,
    secc_cfg: SeccConfig | None = None,
    evcc_cfg: EvccConfig | None = None,
    charger: Any = None,
    car: Any = None,
    resume: bytes | None = None,
    tls: bool = False,
    **kw: Any,
) -> tuple[Loopback, Secc, Evcc]:
    ho = handover(protocol, tls=tls, resume=resume)
    secc = Secc(ho, secc_cfg or secc_config(mode))
    evcc = Evcc(ho, evcc_cfg or EvccConfig(energy_mode=mode))
    lb = Loopback(secc, evcc, secc_app=charger or Charger(), evcc_app=car or Car(), **kw)
    lb.run()
    return lb, secc, evcc


@pytest.fixture
def charger() -> Charger:
    return Charger()
