"""``evcharge simulate --hlc din|iso2|iso20 --energy dc|ac|dc-bpt``: a session with high-level communication.

The charger is :class:`evcharge.charger.EvseManager` (pilot, board, SLAC EVSE, the V2G SECC, the DC power
supply and isolation monitor simulators, or the AC meter); the car is :class:`evcharge.charger.sim.car.SimCar` (the
IEC 61851 vehicle, the SLAC PEV, the EVCC); they are joined in process by :class:`evcharge.charger.sim.bench.Bench`
over the powerline emulator, on a virtual clock with no physical delay (``--iface NAME``: over a veth pair between
two network namespaces on the real clock, :mod:`evcharge.sim.hlc_net`). The station's OCPP 2.0.1 calls go
over a websocket to the embedded CSMS (:mod:`evcharge.csms`): BootNotification, Authorize, the
TransactionEvents with the state of charge, NotifyEVChargingNeeds answered by a SetChargingProfile.

Scenarios: ``dc-normal``, ``csms-limit`` (the operator lowers the limit in the charge loop: new SECC
limits, a renegotiation in ISO 15118-2 and -20), ``isolation-fault`` (the isolation monitor measures a fault in
CableCheck), ``ev-stops-early`` (the driver stops after a few seconds), ``over-voltage`` (the supply's
output rises above the car's maximum voltage in the charge loop), ``pause-resume`` (ISO 15118-2 and -20),
``pnc-install`` (ISO 15118-2 and -20 Plug & Charge: the car has no contract; its CertificateInstallationReq goes
through the charge point to the embedded CSMS as Get15118EVCertificate, answered by
:class:`evcharge.csms.contract.TestPkiContractProvider`).
``--hlc iso20`` is ISO 15118-20 DC in scheduled mode (``--energy dc-bpt``: the car selects DC_BPT, charges for
half its time and then discharges with a negative target current; the supply runs both ways and the summary
shows the energy delivered and returned); ``--payment pnc`` runs ISO 15118-2 over TLS 1.2 or ISO 15118-20 over
TLS 1.3 with mutual authentication (``--keylog``) with a contract from a fresh test PKI.

``--energy ac`` (``--hlc iso2`` or ``iso20``): an AC session with high-level communication (the pilot at 5 %, the
car's three-phase 16 A on-board charger within what the SECC offers, the outlet's meter); the csms-limit scenario
lowers the limit to 3 kW there. ``--control dynamic`` (``--hlc iso20``): the car selects the dynamic control mode, the
CSMS's limit reaches it in every ChargeLoopRes (no renegotiation).

``--pcap FILE`` writes the simulated powerline: the SLAC frames and the IPv6 / UDP (SDP) / TCP (V2GTP)
traffic, for Wireshark or tshark.
"""

from __future__ import annotations

import argparse
import json
import struct
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from evcharge.cli import CommandError, output_file_arg

__all__ = ["HLC_SCENARIOS", "configure", "run"]

HLC_SCENARIOS = ("dc-normal", "csms-limit", "isolation-fault", "ev-stops-early", "over-voltage",
                 "pnc-install", "pause-resume", "csms-offline")
#: csms-offline: the station's link to the CSMS is down from and until these virtual times (s)
_OFFLINE = (10.0, 30.0)
#: the operator's limit in the csms-limit scenario (W): below what the DC session draws, and for AC below what the
#: embedded CSMS grants after NotifyEVChargingNeeds (evMaxCurrent x evMaxVoltage x the phases of the transfer)
_PROFILE_LIMIT_W = {"ac": 3_000.0}
_DEFAULT_LIMIT_W = 10_000.0
_EXPECTED_STOP = {"dc-normal": "StoppedByEV", "csms-limit": "StoppedByEV", "ev-stops-early": "StoppedByEV",
                  "isolation-fault": "GroundFault", "over-voltage": "Other", "pause-resume": "StoppedByEV",
                  "pnc-install": "StoppedByEV", "csms-offline": "StoppedByEV"}


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the high-level-communication options to ``evcharge simulate``."""
    h = parser.add_argument_group("high-level communication (DC, ISO 15118 / DIN 70121)")
    h.add_argument("--hlc", choices=["din", "iso2", "iso20"], default=None,
                   help="run a session with high-level communication (the scenarios " + ", ".join(HLC_SCENARIOS)
                   + ")")
    h.add_argument("--energy", choices=["ac", "dc", "dc-bpt"], default="dc", help="energy transfer (with --hlc)")
    h.add_argument("--control", choices=["scheduled", "dynamic"], default="scheduled",
                   help="ISO 15118-20 control mode the car selects (dynamic: the charger steers in the charge loop)")
    h.add_argument("--payment", choices=["eim", "pnc"], default="eim", help="external identification or Plug & Charge")
    h.add_argument("--pcap", type=output_file_arg(".pcap"), default=None, metavar="FILE.pcap",
                   help="write the simulated powerline (SLAC, SDP, V2G TCP) as a pcap file")
    h.add_argument("--iface", default=None, metavar="NAME",
                   help="as root: the charger and the car in two network namespaces joined by a veth pair whose ends "
                   "are called NAME; SLAC, SDP and V2G TCP go over it in real time")
    h.add_argument("--keylog", type=output_file_arg(), default=None, metavar="FILE",
                   help="TLS key log for the V2G sessions (Plug & Charge runs over TLS)")


def _check(args: argparse.Namespace) -> str:
    if args.scenario not in (*HLC_SCENARIOS, "normal"):  # (normal, the default, is dc-normal with --hlc)
        raise CommandError(f"scenario {args.scenario} is one of the AC simulation (without --hlc); with --hlc: "
                           f"{', '.join(HLC_SCENARIOS)}")
    scenario = args.scenario if args.scenario in HLC_SCENARIOS else "dc-normal"
    if args.energy == "ac" and args.hlc == "din":
        raise CommandError("--energy ac needs --hlc iso2 or iso20 (DIN 70121 is DC only)")
    if args.energy == "ac" and scenario in ("isolation-fault", "over-voltage"):
        raise CommandError(f"{scenario} is a DC scenario (the isolation monitor and the DC supply): use --energy dc")
    if args.energy == "dc-bpt" and args.hlc != "iso20":
        raise CommandError(f"--energy dc-bpt needs --hlc iso20 (DIN 70121 and ISO 15118-2 have no bidirectional "
                           f"DC), not {args.hlc}")
    if args.control == "dynamic" and args.hlc != "iso20":
        raise CommandError(f"--control dynamic is an ISO 15118-20 control mode, not one of {args.hlc}")
    if args.keylog and args.payment != "pnc":
        raise CommandError("--keylog: an EIM session runs over plain TCP (TLS comes with --payment pnc)")
    if args.payment == "pnc" and args.hlc == "din":
        raise CommandError("--payment pnc needs --hlc iso2 or iso20 (DIN 70121 has no Plug & Charge)")
    if scenario == "pnc-install" and (args.hlc == "din" or args.payment != "pnc"):
        raise CommandError("pnc-install runs with --hlc iso2 or iso20 and --payment pnc")
    if scenario == "pause-resume" and args.hlc == "din":
        raise CommandError("pause-resume is composed for --hlc iso2 and iso20 (DIN 70121's SessionStop has no pause)")
    if args.iface is not None:
        if not args.iface or len(args.iface) > 15 or "/" in args.iface or args.iface.strip() != args.iface:
            raise CommandError(f"--iface {args.iface!r} is not a network interface name (1-15 characters)")
    return scenario


def run(args: argparse.Namespace) -> int:
    """Run the HLC session; 0 when it ended as the scenario expects."""
    import asyncio  # noqa: TID251 - evcharge.sim is the application that composes the cores: it runs the event loop

    from evcharge.errors import require

    require("websockets", "ocpp", feature="evcharge simulate --hlc")
    scenario = _check(args)
    started = time.perf_counter()
    try:
        result = asyncio.run(_session(args, scenario))
    except asyncio.CancelledError:  # SIGTERM during an --iface run: the namespaces are deleted on the way out
        raise KeyboardInterrupt from None
    result["wall_seconds"] = round(time.perf_counter() - started, 3)
    bench = result.pop("_bench")
    problems = _verify(result, scenario)
    _print(result, problems, args)
    if args.json:
        text = json.dumps({**result, "problems": problems}, indent=1, default=str)
        if args.json == "-":
            sys.stdout.write(text + "\n")
        else:
            with open(args.json, "w", encoding="utf-8") as fh:
                fh.write(text)
    if args.plot:
        from .hlc_plot import plot_hlc

        plot_hlc(result, args.plot)
    if args.pcap and getattr(bench, "capture", None) is not None:  # --iface: what the veth pair carried
        from evcharge.slac.pcap import write_pcap

        write_pcap(args.pcap, bench.capture)
    elif args.pcap:
        from .hlc_pcap import write_session_pcap

        write_session_pcap(args.pcap, bench)
    return 0 if not problems else 1


async def _session(args: argparse.Namespace, scenario: str) -> dict[str, Any]:
    import asyncio  # noqa: TID251 - the application runs the event loop
    from datetime import UTC, datetime

    from evcharge.charger import EvseManagerConfig, IdTokenPresented, SetPowerSetpoint
    from evcharge.charger.sim.bench import Bench
    from evcharge.charger.sim.car import CarConfig
    from evcharge.clock import WallClock
    from evcharge.iso15118.engines.config import SeccConfig
    from evcharge.iso15118.engines.events import EnergyMode
    from evcharge.ocpp import v16, v201
    from evcharge.ocpp.charge_point import BackoffConfig, ChargePointConfig
    from evcharge.ocpp.transport.websocket import ChargePointClient, serve_csms

    from .csms import CsmsBooks, make_csms
    from .hlc_live import HlcProgress
    from .hlc_station import HlcStation
    from .transport import LinkRelay

    seconds = {"ev-stops-early": 8.0, "pause-resume": 20.0}.get(
        scenario, 60.0 if args.duration is None else args.duration)
    car = CarConfig(protocol=args.hlc, charge_seconds=seconds, soc=args.soc, capacity_wh=args.capacity * 1000.0,
                    stop_soc=args.until_soc or 100.0, pause_after=20.0 if scenario == "pause-resume" else None,
                    discharge_after=seconds / 2 if args.energy == "dc-bpt" else None,
                    # (dynamic mode: the charger decides the direction, the car stays on its channel)
                    discharge_by_power_delivery=args.energy == "dc-bpt" and args.control != "dynamic")
    if args.energy == "ac":  # the car's on-board charger: --car-current per phase on --phases phases
        car = replace(car, energy_mode=EnergyMode.AC_THREE_PHASE if args.phases == 3 else EnergyMode.AC_SINGLE_PHASE,
                      ac_max_current=args.car_current, ac_phases=args.phases)
    if args.control == "dynamic":
        from evcharge.iso15118.engines.iso20 import ControlMode

        car = replace(car, control_mode=ControlMode.DYNAMIC)
    config = EvseManagerConfig(energy=args.energy, ac_phases=args.phases, secc=SeccConfig(trace=True))
    tls = None
    pki_folder = None
    start = datetime(2026, 1, 1, tzinfo=UTC)
    if args.payment == "pnc":
        pki_folder, config, car, tls = _pnc(args, scenario, car)
        start = datetime.now(UTC)  # the test PKI is valid from now: the simulated wall clock starts now too
    config = replace(config, ocpp_version=args.ocpp)
    version: Any = v16 if args.ocpp == "1.6" else v201
    bench_box: dict[str, Bench] = {}

    def clock() -> float:
        return bench_box["b"].now if "b" in bench_box else 0.0

    books = CsmsBooks(clock)
    provider = None
    if pki_folder is not None:  # the mobility operator behind the CSMS: contracts from the test PKI
        from evcharge.csms.contract import TestPkiContractProvider

        provider = TestPkiContractProvider(pki_folder.name)
    csms = make_csms(books, (version,), contract_provider=provider)
    server = await serve_csms(csms, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    relay = None
    if scenario == "csms-offline":  # the station reaches the CSMS through a link the scenario cuts
        relay = LinkRelay("127.0.0.1", port)
        port = await relay.start()
    # the charge point: the functions package's Station (the charge-point core, the transaction manager, the
    # offline queue) on the bench's clock, its device model preset for the EVSE manager
    station = HlcStation(args.identity, version=args.ocpp, directory=None, max_current_a=config.ac_max_current,
                         clock=clock, wall=WallClock.at(0.0, start))
    station.configure(config.ocpp_settings())
    client = ChargePointClient(station, f"ws://127.0.0.1:{port}/ocpp", ChargePointConfig(
        versions=(version,), backoff=BackoffConfig(initial=0.05, maximum=0.5)))
    tasks = [asyncio.create_task(client.run()), asyncio.create_task(station.run())]
    namespaces: Any = None
    bench: Any = None
    try:
        await asyncio.wait_for(station.wait_connected(), 10.0)
        if not await _until(lambda: station.booted and not station.in_flight, 10.0):  # the core's BootNotification
            raise CommandError("the embedded CSMS did not accept the station's BootNotification within 10 s")
        if args.iface is not None:
            import signal

            from .hlc_net import NetBench, NetNamespaces

            task = asyncio.current_task()
            assert task is not None
            # a stopped run still deletes its namespaces (the finally below): SIGTERM cancels like Ctrl-C
            asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
            try:
                namespaces = NetNamespaces(args.iface).__enter__()
                bench = NetBench(config, car, namespaces=namespaces, station=station, tls=tls, start=start,
                                 capture=bool(args.pcap))
                await bench.start()
            except OSError as exc:
                raise CommandError(f"--iface: {exc}") from None
        else:
            bench = Bench(config, car, station=station, tls=tls, start=start)
        bench_box["b"] = bench
        if scenario == "isolation-fault":
            bench.imd.inject_fault(10_000.0)
        if scenario == "over-voltage":
            bench.power.inject_over_voltage(250.0, at=12.0)

        async def settle() -> None:
            """Let the station work at the present virtual time: its timers, and the CSMS's answers to the calls
            on their way (the virtual clock stands still for them); then the profiles it accepted go to the
            manager."""
            station.tick(bench.now)
            await asyncio.sleep(0)
            await _until(lambda: not station.in_flight, 10.0)
            while station.profiles:
                bench.send(station.profiles.popleft())
            bench.pump()

        live = None if args.quiet else HlcProgress(sys.stderr)
        bench.plug_in()
        await settle()
        if args.payment == "eim":
            bench.send(IdTokenPresented(id_token="04A2B3C4D5"))  # the RFID card
        limit_sent = False
        charging_at: float | None = None
        setpoint_sent = False
        waited = False
        ended_at: float | None = None
        paused_at: float | None = None
        resuming = False
        end = 600.0
        while bench.now < end:
            await settle()
            if bench.manager.awaiting_csms and not station.profiles and not waited:
                waited = True  # once per NotifyEVChargingNeeds: the CSMS's after-hook sends the profile
                await _until(lambda: bool(station.profiles) or not bench.manager.awaiting_csms, 2.0)
                await settle()
            if scenario == "csms-limit" and not limit_sent and bench.manager.state.value == "charging" \
                    and bench.now >= 15.0:
                limit_sent = True
                await csms.call(args.identity, _limit_request(args, station), action="SetChargingProfile")
                await asyncio.sleep(0)
                await settle()
            if relay is not None and relay.up and relay.cuts == 0 and bench.now >= _OFFLINE[0]:
                relay.cut()  # the CSMS is out of reach: the transaction messages wait in the offline queue
            elif relay is not None and not relay.up and bench.now >= _OFFLINE[1]:
                relay.restore()  # the client reconnects (the virtual clock waits for it); the queue replays in order
                await _until(lambda: station.connected, 10.0)
                await _until(lambda: len(station.queue) == 0 and not station.in_flight, 10.0)
            if args.control == "dynamic" and args.energy == "dc-bpt" and not setpoint_sent:
                # dynamic mode: the charger decides the direction; the site's energy manager asks for the car's
                # energy half-way through the charging time (OCPP 2.0.1 has no discharge setpoint for the CSMS)
                if charging_at is None and bench.manager.state.value == "charging":
                    charging_at = bench.now
                if charging_at is not None and bench.now >= charging_at + seconds / 2:
                    setpoint_sent = True
                    bench.send(SetPowerSetpoint(watts=-car.max_discharge_power))
            if getattr(bench, "failures", None):
                break  # the veth link failed (SDP unanswered, a connection refused): said in the summary
            paused = bench.car.ended is not None and bench.car.ended.paused
            if not paused:
                resuming = False
            if paused and not resuming:  # (resuming: the car's new connection is being made, over a veth pair
                # it takes SDP and TCP)
                paused_at = bench.now if paused_at is None else paused_at
                if bench.now >= paused_at + 10.0:  # the driver comes back after 10 s
                    bench.resume()
                    resuming = True
                    paused_at = None
                    continue
            elif not paused and ended_at is None and (bench.car.ended is not None or (
                    bench.car.evcc is not None and bench.car.evcc.state.value == "closed")
                    or any(trigger == "slac_failed" for _, trigger, _ in bench.manager.history)):
                ended_at = bench.now  # (SLAC failed: no session will come; over the veth pair it is a real run)
            if ended_at is not None and not station.in_flight and bench.now >= ended_at + 3.0:
                break
            if ended_at is not None:
                end = min(end, ended_at + 3.0)
            if live is not None:
                live(bench)
            if paused_at is not None:
                await _step(bench, min(end, paused_at + 10.0))
            elif not await _step(bench, end):
                break
        after = bench.now + 1.0
        while await _step(bench, after):
            await settle()
        await settle()
        bench.unplug()
        await settle()
        # the transaction messages in the offline queue reach the CSMS before the summary
        await _until(lambda: len(station.queue) == 0 and not station.in_flight, 10.0)
        if live is not None:
            live(bench, last=True)
        await asyncio.sleep(0.05)
    finally:
        try:
            await client.stop()
            for task in tasks:
                task.cancel()
            for task in tasks:
                try:
                    await task
                except asyncio.CancelledError:
                    pass  # (what was asked; another error of the client or the sender is the run's)
            if relay is not None:
                await relay.close()
            server.close()
            await server.wait_closed()
            if bench is not None and hasattr(bench, "close"):
                await bench.close()
        finally:  # whatever went wrong above, the namespaces and the test PKI go
            if namespaces is not None:
                namespaces.__exit__()
            if pki_folder is not None:
                pki_folder.cleanup()
    return _result(bench, station.log, books, args, scenario)


def _limit_request(args: argparse.Namespace, station: Any) -> dict[str, Any]:
    """The operator's SetChargingProfile of the csms-limit scenario: a TxProfile of the running transaction,
    below what the session draws."""
    limit_w = _PROFILE_LIMIT_W.get(args.energy, _DEFAULT_LIMIT_W)
    period = [{"startPeriod": 0, "limit": limit_w}]
    ref = station.transactions.transaction_ref(1)
    if args.ocpp == "1.6":
        profile16: dict[str, Any] = {"chargingProfileId": 7, "stackLevel": 1, "chargingProfilePurpose": "TxProfile",
                                     "chargingProfileKind": "Relative",
                                     "chargingSchedule": {"chargingRateUnit": "W", "chargingSchedulePeriod": period}}
        tx_id = station.queue.transaction_id_of(ref) if ref is not None else None
        if tx_id is not None:
            profile16["transactionId"] = tx_id
        return {"connectorId": 1, "csChargingProfiles": profile16}
    profile: dict[str, Any] = {"id": 7, "stackLevel": 1, "chargingProfilePurpose": "TxProfile",
                               "chargingProfileKind": "Relative",
                               "chargingSchedule": [{"id": 7, "chargingRateUnit": "W",
                                                     "chargingSchedulePeriod": period}]}
    if ref is not None:
        profile["transactionId"] = ref
    return {"evseId": 1, "chargingProfile": profile}


async def _until(condition: Any, limit: float) -> bool:
    """Wait (in real time, at most ``limit`` seconds) until ``condition()``; whether it came."""
    import asyncio  # noqa: TID251 - the application runs the event loop

    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    while not condition() and loop.time() < deadline:
        await asyncio.sleep(0.001)
    return bool(condition())


def _pnc(args: argparse.Namespace, scenario: str, car: Any) -> tuple[Any, Any, Any, Any]:
    """Plug & Charge: a test PKI (V2G root, CPO sub-CAs, SECC, OEM provisioning, MO, contract) of the session's
    protocol, the TLS contexts (ISO 15118-2: TLS 1.2, server authentication; -20: TLS 1.3, mutual), the SECC's
    contract trust (the MO roots) and the car's contract (none with ``pnc-install``: it is installed through the
    CSMS). Returns (the PKI's temporary folder, the manager's configuration, the car's, the two contexts)."""
    import tempfile

    from evcharge.charger import EvseManagerConfig
    from evcharge.iso15118.engines import SeccConfig
    from evcharge.iso15118.engines import events as v2g
    from evcharge.iso15118.security.pki import PkiOptions, write_pki
    from evcharge.iso15118.security.tls import TlsProfile, evcc_context, secc_context

    folder = tempfile.TemporaryDirectory(prefix="evcharge-pki-")
    pki = Path(folder.name)
    install = scenario == "pnc-install"
    payments = (v2g.Payment.PNC, v2g.Payment.EIM)
    if args.hlc == "iso20":
        from evcharge.iso15118.engines.iso20.pnc import EvccContract, PncTrust

        write_pki(pki, PkiOptions(trees=("iso20",)))
        config = EvseManagerConfig(energy=args.energy, ac_phases=args.phases, payments=payments,
                                   secc=SeccConfig(trace=True),
                                   iso20_pnc=PncTrust.from_pki(pki, provider=False))
        car = replace(car, payment=v2g.Payment.PNC, contract=EvccContract.from_pki(pki, installed=not install))
        profile = TlsProfile.ISO20
    else:
        from evcharge.iso15118.engines.pnc import Contract, PkiContractVerifier, Provisioning

        write_pki(pki, PkiOptions(trees=("iso2",)))
        config = EvseManagerConfig(energy=args.energy, ac_phases=args.phases, payments=payments, secc=SeccConfig(
            trace=True, contract_verifier=PkiContractVerifier(pki / "iso2" / "mo_roots.pem")))
        car = replace(car, payment=v2g.Payment.PNC, contract=None if install else Contract.from_pki(pki),
                      provisioning=Provisioning.from_pki(pki))
        profile = TlsProfile.ISO2
    tls = (secc_context(pki, profile, keylog=args.keylog), evcc_context(pki, profile))
    return folder, config, car, tls


async def _step(bench: Any, until: float) -> bool:
    """One step of the bench: on the virtual clock in process, or on the real one over the veth pair."""
    if hasattr(bench, "astep"):
        return bool(await bench.astep(until=until))
    return bool(bench.step(until=until))


def _result(bench: Any, ocpp_log: list[dict[str, Any]], books: Any, args: argparse.Namespace, scenario: str
            ) -> dict[str, Any]:
    from evcharge.charger import FaultDetected, SessionFinished

    messages = []
    secc = bench.manager.secc
    names = list(getattr(secc.engine, "trace", [])) if secc is not None and secc.engine is not None else []
    for t, direction, chunk in bench.v2g:
        # one V2GTP message per chunk (the session cores write whole messages): 8-byte header, then the payload
        _version, _inverse, payload_type, length = struct.unpack("!BBHI", chunk[:8])
        messages.append({"t": round(t, 3), "direction": direction, "payload_type": payload_type, "length": length,
                         "v2gtp_hex": chunk.hex()})
    trace = [{"t": round(x.now, 3) if hasattr(x, "now") else None, "direction": x.direction, "name": x.name}
             for x in names]
    finished = [e for _, e in bench.events if isinstance(e, SessionFinished)]
    tx_id = _transaction_id(ocpp_log)
    faults = [e for _, e in bench.events if isinstance(e, FaultDetected)]
    phases = bench.phases  # AC samples are per phase
    peak_w = max((v * a * phases for _, v, a, _ in bench.samples), default=0.0)
    return {
        "scenario": scenario, "hlc": args.hlc, "energy": args.energy, "payment": args.payment,
        "control": args.control if args.hlc == "iso20" else None,
        "virtual_seconds": round(bench.now, 3), "phases": phases,
        "car": {"soc_start": args.soc, "soc_end": round(bench.car.battery.soc, 2),
                "ended": None if bench.car.ended is None else {"reason": bench.car.ended.reason,
                                                               "normal": bench.car.ended.normal}},
        "transaction": None if not finished else {"id": tx_id,
                                                  "stopped_reason": finished[-1].stopped_reason,
                                                  "energy_wh": finished[-1].energy_wh,
                                                  "energy_returned_wh": finished[-1].energy_returned_wh},
        "faults": [{"kind": f.kind.value, "detail": f.detail, "at": f.at, "power_off_at": f.power_off_at,
                    "phase": f.phase} for f in faults],
        "peak_power_w": round(peak_w, 1),
        "errors": [str(e) for e in bench.errors],  # what a session refused of its peer (RemoteProtocolError)
        "link_failures": [f"{type(e).__name__}: {e}" for e in getattr(bench, "failures", [])],  # over a veth pair
        "link": {"kind": "veth pair", "iface": args.iface, "namespaces": [bench.ns.evse, bench.ns.ev],
                 "slac_frames_sent": dict(bench.frames), "sdp_requests": bench.sdp_requests}
        if hasattr(bench, "ns") else {"kind": "in process"},
        "pilot": [[round(t, 3), output, duty] for t, output, duty in bench.board.pilot_log],
        "tls": None if bench.secc_tls is None else {
            "version": bench.secc_tls.version, "cipher": bench.secc_tls.cipher,
            "car_certificates": len(bench.secc_tls.peer_chain)},  # -20: the car's OEM provisioning chain
        "service": None if secc is None or getattr(secc.engine, "service", None) is None
        else secc.engine.service.name,  # the -20 energy service the car selected
        "peak_discharge_w": round(-min((v * a for _, v, a, _ in bench.samples), default=0.0), 1),
        "power_after_limit_w": _power_after(bench, ocpp_log),
        "csms_limit_w": _PROFILE_LIMIT_W.get(args.energy, _DEFAULT_LIMIT_W) if scenario == "csms-limit" else None,
        "ocpp": ocpp_log,
        "csms_transactions": [t.to_json() for t in books.ended()] if hasattr(books, "ended") else [],
        "v2g_trace": trace,
        "v2gtp": messages,
        "samples": [[round(t, 3), round(v, 1), round(a, 1), None if s is None else round(s, 2)]
                    for t, v, a, s in bench.samples[:: max(1, len(bench.samples) // 400)]],
        "_bench": bench,
    }


def _transaction_id(ocpp_log: list[dict[str, Any]]) -> str | None:
    """The id of the session's transaction, as the station sent it (2.x) or the CSMS gave it (1.6)."""
    for e in ocpp_log:
        if e["action"] == "TransactionEvent":
            return str(e["request"]["transactionInfo"]["transactionId"])
        if e["action"] == "StartTransaction" and e.get("answer"):
            return str(e["answer"]["transactionId"])
    return None


def _power_after(bench: Any, ocpp_log: list[dict[str, Any]]) -> float | None:
    times = [e["t"] for e in ocpp_log if e["action"].startswith("SetChargingProfile (from") and
             e["request"].get("id") == 7]
    if not times:
        return None
    after = [v * a * bench.phases for t, v, a, _ in bench.samples if t > times[0] + 1.0]
    return round(max(after), 1) if after else 0.0


def _verify(result: dict[str, Any], scenario: str) -> list[str]:
    problems = [f"the link failed: {e}" for e in result["link_failures"]]
    tx = result["transaction"]
    if tx is None:
        problems.append("no transaction ended")
    elif tx["stopped_reason"] != _EXPECTED_STOP[scenario]:
        problems.append(f"the transaction ended with {tx['stopped_reason']}, expected {_EXPECTED_STOP[scenario]}")
    if scenario in ("dc-normal", "csms-limit", "ev-stops-early") and tx is not None and tx["energy_wh"] <= 0:
        problems.append("no energy was delivered")
    if result["energy"] == "dc-bpt" and scenario == "dc-normal" and tx is not None and (
            tx["energy_returned_wh"] <= 0 or tx["energy_wh"] <= 0):
        problems.append("dc-bpt: the car did not both take and give back energy")
    if scenario == "isolation-fault":
        if not result["faults"] or result["faults"][0]["phase"] != "cable_check":
            problems.append("no isolation fault in CableCheck")
        if tx is not None and tx["energy_wh"] > 0:
            problems.append("energy was delivered despite the isolation fault")
    if scenario == "csms-limit":
        after = result["power_after_limit_w"]
        if after is None:
            problems.append("the CSMS's limit was never sent")
        elif after > result["csms_limit_w"] * 1.01:
            problems.append(f"{after:.0f} W after the CSMS's {result['csms_limit_w']:.0f} W limit")
    if scenario == "pnc-install":
        from evcharge.ocpp.functions.application import pnc_data

        answers = [e["answer"] for e in result["ocpp"] if e["action"] == "Get15118EVCertificate" and e.get("answer")]
        # OCPP 1.6: the 2.0.1 answer in an Accepted DataTransfer of the OCA Plug & Charge application note
        answers += [pnc_data(e["answer"].get("data")) or {} for e in result["ocpp"]
                    if e["action"] == "DataTransfer" and e["request"].get("messageId") == "Get15118EVCertificate"
                    and e.get("answer") and e["answer"].get("status") == "Accepted"]
        if not answers or answers[0].get("status") != "Accepted":
            problems.append("the contract certificate was not installed through Get15118EVCertificate")
    if scenario == "csms-offline" and any(e["action"] == "StartTransaction" for e in result["ocpp"]):  # 1.6
        if not any(e["action"] == "StopTransaction" and e.get("answer") is not None for e in result["ocpp"]):
            problems.append("the CSMS did not get the StopTransaction once the link was back")
    elif scenario == "csms-offline":
        sent = [e for e in result["ocpp"] if e["action"] == "TransactionEvent" and e.get("answer") is not None]
        seq = [e["request"]["seqNo"] for e in sent]
        if sorted(set(seq)) != list(range(len(set(seq)))):
            problems.append(f"the CSMS did not get every TransactionEvent once the link was back: seqNo {seq}")
        if not any(e["request"].get("offline") for e in sent):
            problems.append("no TransactionEvent was made while offline")
        if result["csms_transactions"] == []:
            problems.append("the CSMS has no ended transaction")
    if scenario == "over-voltage" and (not result["faults"] or result["faults"][0]["kind"] != "over_voltage"):
        problems.append("the over-voltage was not detected")
    for f in result["faults"]:
        if f["power_off_at"] - f["at"] > 0.1:
            problems.append(f"power off {f['power_off_at'] - f['at']:.3f} s after the {f['kind']} fault")
    return problems


def _print(result: dict[str, Any], problems: list[str], args: argparse.Namespace) -> None:
    out = sys.stderr if args.json == "-" else sys.stdout
    tx = result["transaction"] or {}
    lines = [
        f"evcharge simulate --hlc {result['hlc']} --energy {result['energy']}: scenario {result['scenario']}",
        f"  V2G messages: {len(result['v2gtp'])}; OCPP calls: {len(result['ocpp'])}; "
        f"simulated {result['virtual_seconds']:.1f} s in {result['wall_seconds']:.2f} s",
        f"  state of charge {result['car']['soc_start']:.0f} % -> {result['car']['soc_end']:.1f} %; "
        f"energy {tx.get('energy_wh', 0.0):.0f} Wh; peak {result['peak_power_w'] / 1000:.1f} kW",
        *([f"  energy delivered {tx.get('energy_wh', 0.0):.0f} Wh, returned by the car "
           f"{tx.get('energy_returned_wh', 0.0):.0f} Wh; peak discharge {result['peak_discharge_w'] / 1000:.1f} kW"]
          if result["energy"] == "dc-bpt" else []),
        f"  transaction ended: {tx.get('stopped_reason', '-')}",
    ]
    for f in result["faults"]:
        lines.append(f"  fault: {f['kind']} in {f['phase']} at {f['at']:.2f} s ({f['detail']}), power off at "
                     f"{f['power_off_at']:.2f} s")
    if result["power_after_limit_w"] is not None:
        lines.append(f"  power after the CSMS's limit: {result['power_after_limit_w'] / 1000:.1f} kW")
    lines += [f"PROBLEM: {p}" for p in problems] or ["OK: the session ended as the scenario expects"]
    print("\n".join(lines), file=out)
