"""A simulated car: the IEC 61851 vehicle, the SLAC PEV and the V2G EVCC (DIN 70121 / ISO 15118-2), with a
battery, composed the way a car's charging controller composes them (sans-I/O, time as ``now``).

The pilot goes to B at plug-in; at 5 % the PEV starts SLAC; once matched the transport opens the V2G
connection (``SimCar.connect``); the car goes to C when the charger has offered its parameters and back
to B when the session ends. The battery's state of charge rises with the energy the charger delivers; the
car asks for its target voltage and current, and stops at ``stop_soc`` or after ``charge_seconds``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from evcharge.errors import LocalProtocolError
from evcharge.iec61851 import PlugIn, SetHlcPower, Unplug, Vehicle, VehicleConfig
from evcharge.iec61851.events import HlcRequested
from evcharge.iso15118.engines import EvccConfig, evcc_factory
from evcharge.iso15118.engines import events as ev
from evcharge.iso15118.handover import AppProtocol
from evcharge.iso15118.sap import OfferedProtocol
from evcharge.iso15118.session import EvccSession, EvccSessionConfig
from evcharge.slac.config import PevConfig
from evcharge.slac.events import Matched, StartMatching
from evcharge.slac.pev import PevSlac

__all__ = ["Battery", "CarConfig", "SimCar"]


@dataclass(frozen=True, slots=True, kw_only=True)
class CarConfig:
    protocol: str = "din"  #: "din", "iso2" or "iso20" (DC, scheduled mode)
    energy_mode: ev.EnergyMode = ev.EnergyMode.DC_EXTENDED
    payment: ev.Payment = ev.Payment.EIM
    capacity_wh: float = 60_000.0
    soc: float = 30.0
    stop_soc: float = 80.0
    max_voltage: float = 500.0
    max_current: float = 200.0
    max_power: float = 100_000.0
    charge_seconds: float | None = 60.0  #: the driver ends the session after this long (None: at stop_soc)
    pause_after: float | None = None  #: pause (ISO 15118-2 SessionStop Pause) after this many seconds
    #: ISO 15118-20 DC_BPT: the car selects the bidirectional service and, this many seconds into the charge loop,
    #: asks for a negative current (it gives energy back) up to its discharge limits; None: charge only
    discharge_after: float | None = None
    #: DC_BPT: change direction through PowerDelivery (ISO 15118-20 BPT_ChannelSelection): at ``discharge_after``
    #: the car asks 0 A and renegotiates (PowerDelivery ScheduleRenegotiation, ScheduleExchange), then starts
    #: again with PowerDelivery(Start, Discharge); False: the target current turns negative in the charge loop
    discharge_by_power_delivery: bool = False
    max_discharge_current: float = 30.0
    max_discharge_power: float = 11_000.0
    #: AC (``energy_mode`` AC_*): the car's on-board charger takes at most this current per phase, on this many
    #: phases, at the nominal voltage of the grid
    ac_max_current: float = 16.0
    ac_phases: int = 3
    ac_voltage: float = 230.0
    #: ISO 15118-20: the control mode the car selects (an :class:`~evcharge.iso15118.engines.iso20.ControlMode`;
    #: None: scheduled)
    control_mode: Any = None
    loop_interval: float = 0.25  #: seconds between two CurrentDemandReq
    ongoing_interval: float = 0.1
    evcc: EvccConfig | None = None  #: override the engine configuration entirely
    #: Plug & Charge (with ``payment`` PNC, over TLS): the car's contract, for ISO 15118-2 a
    #: :class:`~evcharge.iso15118.engines.pnc.Contract` (None: installed with CertificateInstallation, which needs
    #: ``provisioning``), for -20 an :class:`~evcharge.iso15118.engines.iso20.pnc.EvccContract` (with the OEM
    #: provisioning material; without a contract chain: CertificateInstallation)
    contract: Any = None
    provisioning: Any = None  #: ISO 15118-2: the :class:`~evcharge.iso15118.engines.pnc.Provisioning`
    pev: PevConfig = field(default_factory=PevConfig)


class Battery:
    """A battery whose open-circuit voltage rises with its state of charge."""

    def __init__(self, capacity_wh: float, soc: float) -> None:
        self.capacity_wh = capacity_wh
        self.soc = soc

    @property
    def voltage(self) -> float:
        return 330.0 + 1.2 * self.soc

    def charge(self, watts: float, seconds: float) -> None:
        self.soc = max(0.0, min(100.0, self.soc + watts * seconds / 3600.0 / self.capacity_wh * 100.0))


class SimCar:
    """See the module documentation. ``mac`` is the car's host MAC (SLAC, EVCCID)."""

    def __init__(self, config: CarConfig, *, rng: random.Random, now: float = 0.0,
                 mac: bytes = b"\x02\x00\x00\x00\x00\x01") -> None:
        self.config = config
        self.vehicle = Vehicle(VehicleConfig(hlc=True), now=now)
        self.pev = PevSlac(config.pev, mac=mac, rng=rng)
        self.mac = mac
        self.battery = Battery(config.capacity_wh, config.soc)
        self.evcc: EvccSession | None = None
        self.matched: Matched | None = None
        self.events: list[tuple[float, Any]] = []  #: every EVCC event with its time
        self.ended: ev.SessionEnded | None = None
        self._charging_since: float | None = None
        self._last = now
        self._stopped = False
        self.present_voltage = 0.0
        self.present_current = 0.0
        self.drawing = False  #: the car's contactors are closed and the battery takes current
        self.resumed = False
        self.direction = "charge"  #: DC_BPT: "charge", "switching" (renegotiating to discharge), "discharge"
        #: AC: the charger's relays are closed (set by the simulation); the limits the SECC offered: EVSEMaxCurrent
        #: per phase, and the schedule's first PMax (W)
        self.supplied = False
        self.evse_max_current: float | None = None
        self.evse_max_power: float | None = None

    # -- the driver ------------------------------------------------------------------------------

    def plug_in(self, now: float) -> None:
        self.vehicle.send(PlugIn(), now)

    def unplug(self, now: float) -> None:
        self.vehicle.send(Unplug(), now)
        if self.evcc is not None and self.evcc.state.value != "closed":
            self.evcc.connection_lost(now)

    # -- wiring ----------------------------------------------------------------------------------

    def evcc_config(self) -> EvccConfig:
        c = self.config
        if c.evcc is not None:
            return c.evcc
        return EvccConfig(
            evcc_id=self.mac, energy_mode=c.energy_mode, payment=c.payment,
            dc_limits=ev.EvLimits(max_voltage=c.max_voltage, max_current=c.max_current, max_power=c.max_power,
                                  soc=int(self.battery.soc), energy_request=(c.stop_soc - c.soc) / 100 * c.capacity_wh,
                                  energy_capacity=c.capacity_wh),
            ac_limits=ev.EvLimits(max_voltage=round(c.ac_voltage * 1.1), max_current=c.ac_max_current, min_current=6.0,
                                  energy_request=(c.stop_soc - c.soc) / 100 * c.capacity_wh),
            contract=c.contract, provisioning=c.provisioning,
            loop_interval=c.loop_interval, ongoing_interval=c.ongoing_interval, trace=True,
        )

    def iso20_config(self) -> Any:
        from evcharge.iso15118.engines.iso20 import (
            ControlMode,
            EnergyRequest,
            EnergyService,
            Iso20EvccConfig,
            PowerLimits,
        )

        c = self.config
        need = max(0.0, (c.stop_soc - self.battery.soc) / 100 * c.capacity_wh)
        bpt = c.discharge_after is not None
        if self.ac:  # -20 AC: the on-board charger's power; the car draws what EVSETargetActivePower says
            watts = c.ac_voltage * c.ac_max_current * c.ac_phases
            return Iso20EvccConfig(
                evcc_id="WMIV1234567890ABCDEX", service=EnergyService.AC, payment=c.payment, contract=c.contract,
                control_mode=c.control_mode or ControlMode.SCHEDULED,
                limits=PowerLimits(max_charge_power=watts, min_charge_power=0.0),
                energy=EnergyRequest(target_energy=need, max_energy=need + 1000.0), soc=int(self.battery.soc),
                target_power=watts, loop_interval=c.loop_interval, ongoing_interval=c.ongoing_interval, trace=True)
        return Iso20EvccConfig(
            evcc_id="WMIV1234567890ABCDEX", service=EnergyService.DC_BPT if bpt else EnergyService.DC,
            control_mode=c.control_mode or ControlMode.SCHEDULED,
            payment=c.payment, contract=c.contract,
            limits=PowerLimits(max_charge_power=c.max_power, max_charge_current=c.max_current,
                               max_voltage=c.max_voltage, min_voltage=150.0,
                               max_discharge_power=c.max_discharge_power if bpt else None,
                               max_discharge_current=c.max_discharge_current if bpt else None),
            energy=EnergyRequest(target_energy=need, max_energy=need + 1000.0),
            soc=int(self.battery.soc), battery_voltage=round(self.battery.voltage, 1),
            target_current=min(c.max_current, c.max_power / self.battery.voltage),
            loop_interval=c.loop_interval, ongoing_interval=c.ongoing_interval, trace=True)

    def connect(self, now: float, *, resume_session_id: bytes | None = None, tls: Any = None) -> EvccSession:
        """The V2G TCP connection is open: the session core for the transport to feed."""
        engines: dict[AppProtocol, Any]
        if self.config.protocol == "iso20":
            from evcharge.iso15118.engines.iso20 import iso20_evcc_factory

            protocol = AppProtocol.ISO20_AC if self.ac else AppProtocol.ISO20_DC
            engines = {protocol: iso20_evcc_factory(self.iso20_config())}
        else:
            protocol = AppProtocol.DIN if self.config.protocol == "din" else AppProtocol.ISO2
            engines = {protocol: evcc_factory(self.evcc_config())}
        offers = (OfferedProtocol(protocol=protocol, schema_id=1, priority=1),)
        self.evcc = EvccSession(EvccSessionConfig(protocols=offers), engines, now=now,
                                resume_session_id=resume_session_id, tls=tls)
        return self.evcc

    def resume(self, now: float, *, tls: Any = None) -> EvccSession:
        """Come back after a pause: a new connection (``tls``: its TLS layer) offering the paused session's id."""
        if self.ended is None or not self.ended.paused:
            raise LocalProtocolError("the car has no paused session to resume")
        session_id = self.ended.session_id
        self.ended = None
        self._stopped = False
        self._charging_since = None
        self.resumed = True
        return self.connect(now, resume_session_id=session_id, tls=tls)

    @property
    def ac(self) -> bool:
        return not self.config.energy_mode.is_dc

    @property
    def ac_current(self) -> float:
        """AC: the current per phase the on-board charger draws now, within the charger's offered limits
        (0 unless the car switched to charging and the charger's relays are closed)."""
        c = self.config
        if not (self.ac and self.drawing and self.supplied):
            return 0.0
        amps = c.ac_max_current
        if self.evse_max_current is not None:
            amps = min(amps, self.evse_max_current)
        if self.evse_max_power is not None:
            amps = min(amps, self.evse_max_power / (c.ac_voltage * c.ac_phases))
        return max(0.0, amps)

    def get_timer(self) -> float | None:
        timers = [t for t in (self.vehicle.get_timer(), self.evcc.get_timer() if self.evcc else None) if t is not None]
        return min(timers) if timers else None

    def handle_timer(self, now: float) -> None:
        t = self.vehicle.get_timer()
        if t is not None and t <= now:
            self.vehicle.handle_timer(now)
        if self.evcc is not None:
            t = self.evcc.get_timer()
            if t is not None and t <= now:
                self.evcc.handle_timer(now)
        self.update(now)

    def update(self, now: float) -> bool:
        """React to what the parts say; True when something happened."""
        moved = False
        while (vev := self.vehicle.next_event()) is not None:
            moved = True
            if isinstance(vev, HlcRequested) and self.pev.state.name in ("IDLE", "FAILED", "MATCHED"):
                self.pev.send(StartMatching(), now)
        while (sev := self.pev.next_event()) is not None:
            moved = True
            if isinstance(sev, Matched):
                self.matched = sev
        if self.evcc is not None and self.evcc.state.value != "closed" and not self.vehicle.hlc_requested:
            # the pilot left 5 % (E/F: the charger is not available, or X1): the car ends the session and
            # drops the connection (ISO 15118-3: no high-level communication without the 5 % duty cycle)
            self.evcc.connection_lost(now)
            moved = True
        if self.evcc is not None:
            while (event := self.evcc.next_event()) is not None:
                moved = True
                self.events.append((now, event))
                self._on_v2g(event, now)
        return moved

    def _set_power(self, on: bool, now: float) -> None:
        self.vehicle.send(SetHlcPower(requested=on), now)

    def _on_v2g(self, event: Any, now: float) -> None:
        assert self.evcc is not None
        name = type(event).__name__
        if isinstance(event, ev.ChargeParametersOffered) or name == "Iso20ChargeParametersOffered":
            if name == "Iso20ChargeParametersOffered" and self.ac:
                self.evse_max_power = event.limits.max_charge_power
            if isinstance(event, ev.ChargeParametersOffered) and event.ac is not None:
                self.evse_max_current = event.ac.max_current
                pmax = [w for s in event.schedules[:1] for _, w in s.pmax[:1]]
                self.evse_max_power = pmax[0] if pmax else None
            self._set_power(True, now)  # C before CableCheck (DC) / PowerDelivery (AC)
            self._push(now)
        elif isinstance(event, ev.PreChargeProgress):
            self.present_voltage = event.present_voltage
        elif isinstance(event, ev.PowerDeliveryAnswered):
            self.drawing = event.action is ev.PowerAction.START
            if event.action is ev.PowerAction.RENEGOTIATE and self.direction == "switching":
                # the next PowerDelivery(Start) selects the Discharge channel: the target current is negative now
                self.direction = "discharge"
                self._push(now)
            if self.drawing and self.ac and self.config.protocol == "iso20":
                self.evse_max_power = 0.0  # -20 AC: the car takes what the first AC_ChargeLoopRes sets as target
            if event.action is ev.PowerAction.START:
                self._charging_since = self._charging_since if self._charging_since is not None else now
                self._last = now
        elif isinstance(event, ev.ChargeLoopStatus) or name == "Iso20ChargeLoopStatus":
            dt = now - self._last
            self._last = now
            if self.ac:  # AC: the car knows what its on-board charger took; it obeys the EVSE's maximum current
                self.battery.charge(self.config.ac_voltage * self.config.ac_phases * self.present_current, dt)
                if getattr(event, "max_current", None) is not None:
                    self.evse_max_current = event.max_current
                if getattr(event, "target_power", None) is not None:  # -20: EVSETargetActivePower
                    self.evse_max_power = event.target_power
                self.present_voltage, self.present_current = self.config.ac_voltage, self.ac_current
            elif event.present_voltage is not None and event.present_current is not None:
                self.present_voltage, self.present_current = event.present_voltage, event.present_current
                self.battery.charge(event.present_voltage * event.present_current, dt)
            self._push(now)
            c = self.config
            since = now - (self._charging_since or now)
            if not self._stopped:
                if c.pause_after is not None and not self.resumed and since >= c.pause_after:
                    self._stopped = True
                    self.evcc.send(ev.StopCharging(pause=True), now)
                elif self.battery.soc >= c.stop_soc or (c.charge_seconds is not None and since >= c.charge_seconds):
                    self._stopped = True
                    self.evcc.send(ev.UpdateEv(charging_complete=True), now)
                    self.evcc.send(ev.StopCharging(), now)
        elif isinstance(event, ev.SessionEnded):
            self.ended = event
            self.drawing = False
            self.present_current = 0.0
            self._set_power(False, now)

    def _push(self, now: float) -> None:
        assert self.evcc is not None
        c = self.config
        watts = c.max_power
        volts = self.battery.voltage
        amps = min(c.max_current, watts / volts)
        if c.discharge_after is not None and self._charging_since is not None \
                and now - self._charging_since >= c.discharge_after:
            if c.discharge_by_power_delivery and self.direction == "charge":
                self.direction = "switching"
                self.evcc.send(ev.Renegotiate(), now)
            if self.direction == "switching":
                amps = 0.0
            else:
                self.direction = "discharge"
                amps = -min(c.max_discharge_current, c.max_discharge_power / volts)  # DC_BPT: give energy back
        self.evcc.send(ev.UpdateEv(soc=int(self.battery.soc), target_voltage=round(volts, 1),
                                   target_current=round(amps, 1),
                                   present_voltage=round(volts, 1)), now)
