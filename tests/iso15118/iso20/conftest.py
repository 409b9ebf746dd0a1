"""Helpers for the ISO 15118-20 engine tests: a charger application, hand-overs, a session runner."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from evcharge.clock import WallClock
from evcharge.iso15118.engines import Loopback
from evcharge.iso15118.engines import events as ev
from evcharge.iso15118.engines.iso20 import (
    ControlMode,
    EnergyService,
    Iso20Evcc,
    Iso20EvccConfig,
    Iso20Secc,
    Iso20SeccConfig,
)
from evcharge.iso15118.engines.iso20 import events as ev20
from evcharge.iso15118.handover import AppProtocol, HandOver, TlsInfo

CLOCK = WallClock.at(0.0, datetime(2026, 12, 7, 12, 0, tzinfo=UTC))


def handover(
    dc: bool = True, *, now: float = 0.0, tls: bool = False, resume: bytes | None = None, chain: tuple[bytes, ...] = ()
) -> HandOver:
    return HandOver(
        protocol=AppProtocol.ISO20_DC if dc else AppProtocol.ISO20_AC,
        schema_id=1,
        version_minor=0,
        minor_deviation=False,
        tls=TlsInfo(version="TLSv1.3", cipher="TLS_AES_256_GCM_SHA384", peer_chain=chain) if tls else None,
        now=now,
        resume_session_id=resume,
    )


class Charger:
    """A charger application: authorizes, isolation valid, the output follows the car's targets."""

    def __init__(self, *, authorize: bool | None = True) -> None:
        self.events: list[Any] = []
        self.authorize = authorize

    def __call__(self, engine: Any, event: Any, now: float) -> None:
        self.events.append(event)
        if isinstance(event, ev.AuthorizationRequested) and self.authorize is not None:
            engine.send(ev.Authorize(accepted=self.authorize), now)
        elif isinstance(event, ev.CableCheckRequested):
            engine.send(ev.SetIsolation(level=ev.Isolation.VALID), now)
        elif isinstance(event, ev.PreChargeRequested):
            engine.send(ev.SetPresentValues(voltage=event.target_voltage), now)
        elif isinstance(event, ev20.ChargeLoopRequested) and event.target_voltage is not None:
            engine.send(ev.SetPresentValues(voltage=event.target_voltage, current=event.target_current or 0.0), now)

    def of(self, cls: type) -> list[Any]:
        return [e for e in self.events if isinstance(e, cls)]


def engines(
    service: EnergyService = EnergyService.DC,
    mode: ControlMode = ControlMode.SCHEDULED,
    *,
    secc: dict[str, Any] | None = None,
    evcc: dict[str, Any] | None = None,
    tls: bool = False,
    resume: bytes | None = None,
) -> tuple[Iso20Secc, Iso20Evcc]:
    scfg = Iso20SeccConfig(clock=CLOCK, trace=True, **(secc or {}))
    ecfg_kw: dict[str, Any] = {
        "service": service,
        "control_mode": mode,
        "charge_loop_requests": 3,
        "clock": CLOCK,
        "trace": True,
    }
    ecfg_kw.update(evcc or {})
    s = Iso20Secc(handover(service.is_dc, tls=tls, resume=resume), scfg)
    e = Iso20Evcc(handover(service.is_dc, tls=tls, resume=resume), Iso20EvccConfig(**ecfg_kw))
    return s, e


def run(secc: Any, evcc: Any, charger: Charger | None = None, car: Any = None, **kw: Any) -> Loopback:
    lb = Loopback(secc, evcc, secc_app=charger if charger is not None else Charger(), evcc_app=car, **kw)
    lb.run()
    return lb


def names(engine: Any, direction: str = "tx") -> list[str]:
    assert engine.trace is not None
    return [t.name for t in engine.trace if t.direction == direction]
