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


def drive_to(secc: Any, evcc: Any, state: Any, charger: Charger | None = None, *, now: float = 0.0) -> float:
    """Run the pair until the SECC waits in ``state`` (its last response not yet delivered); returns the clock."""
    app = charger if charger is not None else Charger()
    for _ in range(500):
        if secc.state is state:
            return now
        moved = False
        for ptype, payload in evcc.payloads_to_send():
            moved = True
            secc.receive_payload(ptype, payload, now)
            while (event := secc.next_event()) is not None:
                app(secc, event, now)
            if secc.state is state:
                return now
        for ptype, payload in secc.payloads_to_send():
            moved = True
            evcc.receive_payload(ptype, payload, now)
        while evcc.next_event() is not None:
            pass
        if not moved:
            nxt = evcc.get_timer()
            if nxt is None:
                break
            now = max(now, nxt)
            evcc.handle_timer(now)
    raise AssertionError(f"the SECC did not reach {state} (it is in {secc.state})")


def request(name: str, dc: bool, session_id: bytes, **fields: Any) -> tuple[int, bytes]:
    """A request with only its mandatory fields (plus ``fields``), as (payload type, EXI)."""
    from evcharge.iso15118.engines._minimal import minimal
    from evcharge.iso15118.engines.iso20 import _msgs

    ptype = _msgs.payload_type_for(name, dc)
    mod = _msgs.module_for(ptype)
    values = {
        "header": mod.MessageHeader(session_id=session_id, time_stamp=1_700_000_000),
        "service_id": 2,
        "parameter_set_id": 1,
        "selected_schedule_tuple_id": 1,
        "id_": "ID1",
        "maximum_supporting_points": 12,
        "maximum_contract_certificate_chains": 1,
        **fields,
    }
    side = "dc" if dc else "ac"
    defaults = {
        "Authorization": ("eim_a_req_authorization_mode",),
        "ChargeParameterDiscovery": (f"{side}_cpd_req_energy_transfer_mode",),
        "ScheduleExchange": ("scheduled_se_req_control_mode",),
        "ChargeLoop": (f"scheduled_{side}_cl_req_control_mode",),
    }.get(name, ())
    if name == "MeteringConfirmation":
        values["signed_metering_data"] = minimal(
            mod.SignedMeteringData, {"id_": "ID1", "session_id": session_id}, include=("dynamic_smdt_control_mode",)
        )
    if any(f.endswith("_mode") for f in fields):
        defaults = ()
    msg = minimal(_msgs.request_class(ptype, name), values, include=defaults + tuple(fields))
    return ptype, mod.encode(msg)


def answers(secc: Any) -> list[Any]:
    """The SECC's queued responses, decoded."""
    from evcharge.iso15118.engines.iso20 import _msgs

    return [_msgs.module_for(t).decode(p) for t, p in secc.payloads_to_send()]
