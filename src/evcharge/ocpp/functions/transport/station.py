"""A charge point with the functions wired in: :class:`Station`.

:class:`Station` is a :class:`~evcharge.ocpp.charge_point.ChargePoint` whose handlers answer the CSMS's
device-model, configuration, local-list and smart-charging calls from the pure cores of this package, and which
turns the charger's events into transaction messages sent through the persistent offline queue:

.. code-block:: python

    station = Station("CP001", version="2.0.1", directory=Path("/var/lib/charger"), evse_count=2)
    client = ChargePointClient(station, "wss://csms.example/ocpp", ChargePointConfig(versions=(v201,)))
    asyncio.create_task(client.run())
    asyncio.create_task(station.run())          # meter-value timers and the queue sender
    ...
    station.plug_in(1)
    station.present_card(1, {"idToken": "04A1B2C3", "type": "ISO14443"})   # Authorize, then the transaction
    station.power_path(1, True)                                            # the contactor closed
    station.update_meter(1, {"Energy.Active.Import.Register": 1234.0})

Everything the station decides -- boot, heartbeat, the flow of a card (local list, cache, Authorize), remote start /
stop and AuthorizeRemoteStart, StopTxOnInvalidId, availability, reset, reservations (ReserveNow /
CancelReservation), the connectors' StatusNotification, the
configuration reload after a device-model change -- is decided by
:class:`~evcharge.ocpp.functions.application.ChargePointApp` (:attr:`Station.app`), a sans-I/O core; the station
carries out its actions (:meth:`Station.on_charging_allowed`, :meth:`Station.on_authorization`,
:meth:`Station.on_availability`, :meth:`Station.on_reset` are the application's hooks) and answers the CSMS's calls
with its decisions.  The older inputs (:meth:`Station.charger_event`, :meth:`Station.authorize`) still work and keep
the core informed.

All state lives in SQLite files in ``directory`` (device model, authorization, queue, running transactions), so
a restarted process picks up where the previous one stopped; with ``directory=None`` it lives in memory.
Time is one clock: ``clock`` (monotonic seconds, ``time.monotonic`` by default) gives every core its ``now``;
``wall`` (a :class:`~evcharge.clock.WallClock`) maps it to UTC for timestamps, schedules and expiry dates.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from evcharge.clock import WallClock
from evcharge.ocpp.charge_point import ChargePoint
from evcharge.ocpp.errors import OcppError
from evcharge.ocpp.routing import on

from .._common import models_of, parse_datetime
from ..application import (
    AppCommand,
    AppConfig,
    AppEvent,
    AuthorizationDone,
    AuthorizationLapsed,
    AuthorizeRemoteStart,
    AuthorizeToken,
    BootAccepted,
    BootState,
    CacheVerdict,
    CallAnswered,
    CallFailed,
    CallResult,
    CancelReservationRequested,
    CardPresented,
    ChangeAvailabilityRequested,
    ChargePointApp,
    ChargerInput,
    ChargerObserved,
    ChargingAllowed,
    Connected,
    Disconnected,
    EnergyStateChanged,
    FaultCleared,
    FaultRaised,
    MakeCall,
    Plugged,
    PowerPathChanged,
    Reconfigure,
    RemoteStartRequested,
    RemoteStopRequested,
    RequestCall,
    ReserveNowRequested,
    ResetNow,
    ResetRequested,
    SetAvailability,
    StopTransaction,
    TransactionClosed,
    TransactionMessageAnswered,
    TransactionOpened,
    Unplugged,
    VariableSet,
)
from ..authorization import Authorization, IdToken
from ..config import (
    authorization_config,
    offline_queue_config,
    smart_charging_config,
    transaction_config,
)
from ..device_model import ComponentKey, DeviceModel, VariableKey, default_template
from ..offline_queue import OfflineQueue, QueuedMessage
from ..smart_charging import SmartCharging
from ..storage import StateStore
from ..transactions import (
    AuthorizationTimedOut,
    Authorized,
    ChargerEvent,
    EVConnected,
    PowerPathClosed,
    StopRequested,
    TransactionEnded,
    TransactionManager,
    TransactionStarted,
    route,
)
from .sender import QueueSender
from .sqlite import SqliteStore

__all__ = ["Station"]

log = logging.getLogger("evcharge.ocpp.functions")


class Station(ChargePoint):
    """A charge point (1.6 or 2.0.1) with device model, authorization, smart charging and transactions."""

    def __init__(self, identity: str, *, version: Literal["1.6", "2.0.1", "2.1"], directory: str | Path | None,
                 evse_count: int = 1, template: Sequence[Mapping[str, Any]] | None = None,
                 max_current_a: float = 32.0, clock: Callable[[], float] = time.monotonic,
                 wall: WallClock | None = None, boot: Mapping[str, Any] | None = None,
                 status_notifications: bool = True) -> None:
        """``boot``: the BootNotification payload.  When given, the station sends it on its first connection and
        sends no transaction message before the CSMS accepted it (retrying after the answer's ``interval`` while
        Pending or Rejected); without it the application boots the station itself.  ``status_notifications``:
        the application core sends the connectors' StatusNotification (after the boot and on every change; the
        default); turn it off for an application that sends its own."""
        super().__init__(identity)
        self.ocpp_version = version
        self.evse_count = evse_count
        self.max_current_a = max_current_a
        self.clock = clock  #: the one clock of the station and its cores, in monotonic seconds
        #: maps :attr:`clock` to UTC (message timestamps, schedules, expiry dates); read once from the system clock
        #: unless given, corrected with :meth:`~evcharge.clock.WallClock.set_utc`
        self.wall = wall if wall is not None else WallClock.at(clock(), datetime.now(UTC))
        def store(name: str) -> StateStore | None:  # one SQLite file per function, as before; None: in memory
            return None if directory is None else SqliteStore(Path(directory) / f"{name}.sqlite")

        self.device_model = DeviceModel(template or default_template(evse_count), store=store("device_model"))
        dm = self.device_model
        self.authorization = Authorization(authorization_config(dm, version=version), store=store("authorization"),
                                           wall=self.wall)
        self.smart_charging = SmartCharging(smart_charging_config(dm, version=version, evse_count=evse_count,
                                                                  max_current_a=max_current_a),
                                            store=store("smart_charging"), wall=self.wall)
        self.queue = OfflineQueue(offline_queue_config(dm), store=store("queue"))
        self.transactions = TransactionManager(transaction_config(dm, version=version, evse_count=evse_count),
                                               store=store("transactions"), wall=self.wall)
        #: the application's decisions (boot, heartbeat, remote start / stop, availability, reset), a sans-I/O
        #: core on the station's clock; the station carries out what it decides
        self.app = ChargePointApp(AppConfig(version=version, evse_count=evse_count,
                                            boot=dict(boot) if boot is not None else None,
                                            status_notifications=status_notifications, max_current_a=max_current_a),
                                  authorization=self.authorization, device_model=dm, wall=self.wall)
        #: the boot and its retry (part of :attr:`app`; ``None`` when the application boots the station itself)
        self.boot = self.app.boot
        #: drains ``queue`` on the station's clock (its retry back-off timed by :meth:`now`, woken by :meth:`tick`)
        self.sender = QueueSender(self, self.queue, clock=self.now, on_acknowledged=self._acknowledged,
                                  ready=lambda: self.booted)
        self._wake = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._answers: dict[str, asyncio.Future[bool]] = {}  # AuthorizeToken ref -> the waiting authorize()
        self._refs = 0
        self._feeding = False  # carrying out the core's ChargerInput (the core knows of it already)
        self._queue_woken: float | None = None  # the queue's back-off end the sender was woken for

    # ------------------------------------------------------------ the application's side

    def charger_event(self, event: ChargerEvent) -> None:
        """Feed a charger event to the transaction manager and queue what it produces.  (The application core
        makes these from :meth:`app_input`; an application that calls this itself keeps the core informed.)"""
        if not self._feeding:
            self.app.send(ChargerObserved(event=event), self.now())
        self.transactions.handle(event, self.now())
        self.flush()

    def app_input(self, command: AppCommand) -> None:
        """Tell the application core what happened at the station (the commands of
        :mod:`evcharge.ocpp.functions.application`: the cable plugged in or out, a card, a fault, the contactor, the
        energy) and carry out what it decides (authorization, transaction messages, StatusNotification)."""
        self.app.send(command, self.now())
        self._app_events()

    def plug_in(self, evse_id: int, connector_id: int = 1) -> None:
        """The cable was plugged in (:class:`~evcharge.ocpp.functions.application.Plugged`)."""
        self.app_input(Plugged(evse_id=evse_id, connector_id=connector_id))

    def unplug(self, evse_id: int) -> None:
        """The cable was unplugged (:class:`~evcharge.ocpp.functions.application.Unplugged`)."""
        self.app_input(Unplugged(evse_id=evse_id))

    def present_card(self, evse_id: int, token: IdToken) -> None:
        """A card was presented (:class:`~evcharge.ocpp.functions.application.CardPresented`): the core authorizes
        it, or ends the session it started."""
        self.app_input(CardPresented(evse_id=evse_id, token=token))

    def fault(self, evse_id: int, error_code: str = "OtherError", *, ev_side: bool = False, info: str | None = None,
              stop_reason: str | None = None) -> None:
        """A fault (:class:`~evcharge.ocpp.functions.application.FaultRaised`)."""
        self.app_input(FaultRaised(evse_id=evse_id, error_code=error_code, ev_side=ev_side, info=info,
                                   stop_reason=stop_reason))

    def clear_fault(self, evse_id: int, *, ev_side: bool = False) -> None:
        """The fault is gone (:class:`~evcharge.ocpp.functions.application.FaultCleared`)."""
        self.app_input(FaultCleared(evse_id=evse_id, ev_side=ev_side))

    def power_path(self, evse_id: int, closed: bool) -> None:
        """The contactor closed or opened (:class:`~evcharge.ocpp.functions.application.PowerPathChanged`)."""
        self.app_input(PowerPathChanged(evse_id=evse_id, closed=closed))

    def energy_state(self, evse_id: int, state: str) -> None:
        """Energy flows or was suspended (:class:`~evcharge.ocpp.functions.application.EnergyStateChanged`)."""
        self.app_input(EnergyStateChanged(evse_id=evse_id, state=state))

    def configure(self, settings: Mapping[tuple[str, str], str]) -> None:
        """The charger sets its own device-model variables (``{(component, variable): value}``, the Actual
        attribute; the 2.0.1 names, which 1.6 shares: TxCtrlr.TxStartPoint, SampledDataCtrlr.TxUpdatedMeasurands,
        ...): stored as the charger's own values, and the functions' configurations rebuilt from them."""
        for (component, variable), value in settings.items():
            self.device_model.set_local(component, variable, value)
            self.app.send(VariableSet(component=component, variable=variable, value=value), self.now())
        self._app_events()  # the core's Reconfigure rebuilds the configurations

    def update_meter(self, evse_id: int, readings: Mapping[str, float]) -> None:
        """The latest readings of the EVSE's meter."""
        self.transactions.update_meter(evse_id, readings, self.now())

    def request_call(self, action: str, payload: Mapping[str, Any], ref: str) -> None:
        """Make the CALL ``action`` for the application (:class:`~evcharge.ocpp.functions.application.RequestCall`:
        2.0.1 NotifyEVChargingNeeds, Get15118EVCertificate, NotifyEvent ...); its answer comes to
        :meth:`on_call_result` with ``ref``."""
        self.app_input(RequestCall(action=action, payload=payload, ref=ref))

    async def authorize(self, evse_id: int, token: IdToken, *, remote_start_id: int | None = None,
                        hash_data: Sequence[Mapping[str, Any]] | None = None) -> bool:
        """Authorize ``token`` for a session on ``evse_id``
        (:class:`~evcharge.ocpp.functions.application.AuthorizeToken`): the core decides per the offline policy,
        asking the CSMS with Authorize when it says so; on acceptance the transaction manager learns of it.
        ``hash_data``: the 2.x ``iso15118CertificateHashData`` of a Plug & Charge contract certificate (the CSMS
        checks it; :meth:`on_authorization` gets its ``certificateStatus``).  Whether it was accepted."""
        self._refs += 1
        ref = f"station-{self._refs}"
        answer: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._answers[ref] = answer
        try:
            self.app_input(AuthorizeToken(evse_id=evse_id, token=token, remote_start_id=remote_start_id, ref=ref,
                                          hash_data=tuple(hash_data) if hash_data else None))
            return await answer
        finally:
            self._answers.pop(ref, None)

    @property
    def booted(self) -> bool:
        """The CSMS accepted our BootNotification (always true when the application boots the station itself)."""
        return self.app.accepted

    def now(self) -> float:
        """The station's ``now``: monotonic seconds of :attr:`clock`."""
        return self.clock()

    def get_timer(self) -> float | None:
        """When :meth:`tick` must run next (the transaction manager's meter-value and connection timers, the boot
        retry, the heartbeat, the end of the offline queue's retry back-off)."""
        queue = self.queue.get_timer()
        if queue is not None and queue == self._queue_woken:
            queue = None  # the sender was woken for it already
        timers = [t for t in (self.transactions.get_timer(), self.app.get_timer(), queue) if t is not None]
        return min(timers) if timers else None

    def tick(self, now: float | None = None) -> None:
        """Let time pass: the meter values and timeouts due at ``now`` (default :meth:`now`) are made and routed.
        :meth:`run` calls it; an application with its own loop (a simulation) calls it instead of :meth:`run`."""
        now = self.now() if now is None else now
        due = self.transactions.get_timer()
        if due is not None and now >= due:
            self.transactions.handle_timer(now)
            self.flush()
        due = self.app.get_timer()
        if due is not None and now >= due:
            self.app.handle_timer(now)
            self._app_events()
        due = self.queue.get_timer()
        if due is not None and now >= due and due != self._queue_woken:
            self._queue_woken = due  # the back-off ended on the station's clock: the sender goes on
            self.sender.wake()

    def start_clock(self, now: float | None = None) -> None:
        """Arm the clock-aligned meter values (:meth:`run` does it; call it once when driving :meth:`tick`)."""
        self.transactions.start_clock(self.now() if now is None else now)

    async def run(self) -> None:
        """Meter-value timers and the queue sender, until cancelled."""
        sender = asyncio.create_task(self.sender.run())
        self.start_clock()
        try:
            while True:
                due = self.get_timer()
                self._wake.clear()
                timeout = None if due is None else max(0.0, due - self.now())
                await _wait(self._wake, timeout)
                self.tick()
        finally:
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sender

    def interrupted_transactions(self) -> dict[int, str]:
        """Transactions that were running when the previous process stopped: ``{evse_id: tx_ref}``."""
        return self.transactions.interrupted_transactions()

    def resume_transactions(self) -> None:
        """Continue the interrupted transactions (only the software restarted; the EVs kept charging)."""
        started = self.transactions.interrupted_transactions()
        self.transactions.resume(self.now())
        for evse_id, ref in started.items():
            self.smart_charging.transaction_started(evse_id, ref, self.now())
            # the EV kept charging: the cable is in, the contactor closed
            connector = self.transactions.connector_id(evse_id)
            self.app.send(ChargerObserved(event=EVConnected(evse_id, connector)), self.now())
            self.app.send(ChargerObserved(event=PowerPathClosed(evse_id)), self.now())
            self.app.send(TransactionOpened(evse_id=evse_id, tx_ref=ref, authorized=True), self.now())
        self.flush()

    def recover_transactions(self, reason: str = "PowerLoss") -> None:
        """End the interrupted transactions (the station lost power or rebooted)."""
        self.transactions.recover(self.now(), reason)
        self.flush()

    def close_stores(self) -> None:
        """Close the SQLite files (after the connection and :meth:`run` are stopped)."""
        for closeable in (self.device_model, self.authorization, self.queue, self.transactions, self.smart_charging):
            closeable.close()

    def flush(self) -> None:
        """Route the transaction manager's messages (queue or direct) and react to its events; the charger-facing
        methods call it, an application that drives the manager itself calls it after."""
        for message in route(self.transactions.messages(), self.queue, online=self.connected):
            self.spawn(self._send_direct(message.action, message.payload))
        while (event := self.transactions.next_event()) is not None:
            if isinstance(event, TransactionStarted):
                self.smart_charging.transaction_started(event.evse_id, event.tx_ref, self.now())
                self.app.send(TransactionOpened(evse_id=event.evse_id, tx_ref=event.tx_ref), self.now())
            elif isinstance(event, TransactionEnded):
                self.smart_charging.transaction_ended(event.evse_id)
                self._profiles_changed()
                self.app.send(TransactionClosed(evse_id=event.evse_id), self.now())
            elif isinstance(event, AuthorizationTimedOut):
                self.app.send(AuthorizationLapsed(evse_id=event.evse_id), self.now())
        self._app_events()
        self.sender.wake()
        self._wake.set()

    async def _send_direct(self, action: str, payload: dict[str, Any]) -> None:
        try:
            await self.call(payload, action=action)
        except OcppError as exc:
            log.info("%s not delivered: %s", action, exc)

    def spawn(self, coro: Any) -> None:
        """Run ``coro`` as a task the station keeps a reference to (until it is done)."""
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _reload(self) -> None:
        """Rebuild every function's configuration from the device model (the core decides when: it makes a
        :class:`~evcharge.ocpp.functions.application.Reconfigure` on every change of a variable)."""
        dm, v, n = self.device_model, self.ocpp_version, self.evse_count
        self.authorization.config = authorization_config(dm, version=v)
        self.smart_charging.config = smart_charging_config(dm, version=v, evse_count=n,
                                                           max_current_a=self.max_current_a)
        self.queue.config = offline_queue_config(dm)
        self.transactions.config = transaction_config(dm, version=v, evse_count=n)

    def _acknowledged(self, message: QueuedMessage, response: Mapping[str, Any]) -> None:
        """The CSMS answered a transaction message: cache its verdict on the identifier, and stop a transaction
        it refused when StopTransactionOnInvalidId / TxCtrlr.StopTxOnInvalidId says so (for example one started
        offline for an unknown identifier)."""
        if self.ocpp_version == "1.6" and message.action == "StartTransaction":
            tx_id = response.get("transactionId")
            for evse_id in range(1, self.evse_count + 1):
                if tx_id is not None and self.transactions.transaction_ref(evse_id) == message.tx_ref:
                    # 1.6 TxProfiles name the CSMS's transactionId, known only now
                    self.smart_charging.transaction_id_assigned(evse_id, tx_id)
        # the core reads TxCtrlr.StopTxOnInvalidId (1.6 StopTransactionOnInvalidId) off the device model
        self.app.send(TransactionMessageAnswered(action=message.action, payload=message.payload, response=response,
                                                 tx_ref=message.tx_ref), self.now())
        self._app_events()

    def _changed(self) -> None:
        changed = False
        while (event := self.device_model.next_event()) is not None:
            changed = True
            if not event.pending:
                self.app.send(VariableSet(component=event.component.name, variable=event.variable.name,
                                          value=event.value), self.now())
        if changed:
            self._app_events()  # the core's Reconfigure rebuilds the configurations
            self._wake.set()

    # ------------------------------------------------------------ connection hooks

    async def on_connected(self) -> None:
        """Transaction messages made from now on are online ones; the queue replays."""
        self.transactions.set_online(True)
        self.app.send(Connected(), self.now())
        self._app_events()
        self.sender.wake()

    def _app_events(self) -> None:
        """Carry out what the application core decided."""
        while (event := self.app.next_event()) is not None:
            self._carry_out(event)
        self._wake.set()  # its timers may have changed

    def _app_events_soon(self) -> None:
        """:meth:`_app_events` once the handler's response is on its way (what it decided follows the answer)."""
        try:
            asyncio.get_running_loop().call_soon(self._app_events)
        except RuntimeError:  # no loop (a handler called directly): at once
            self._app_events()

    def _carry_out(self, event: AppEvent) -> None:
        if isinstance(event, MakeCall):
            self.spawn(self._app_call(event))
        elif isinstance(event, BootAccepted):
            if event.interval:
                with contextlib.suppress(OcppError):
                    self.device_model.set_local("OCPPCommCtrlr", "HeartbeatInterval", str(event.interval))
            self.sender.wake()
        elif isinstance(event, ChargerInput):
            self._feeding = True
            try:
                self.charger_event(event.event)
            finally:
                self._feeding = False
        elif isinstance(event, AuthorizationDone):
            waiting = self._answers.pop(event.ref, None) if event.ref is not None else None
            if waiting is not None and not waiting.done():
                waiting.set_result(event.accepted)
            self.on_authorization(event)
        elif isinstance(event, ChargingAllowed):
            self.on_charging_allowed(event.evse_id, event.allowed)
        elif isinstance(event, Reconfigure):
            self.authorization.config = event.authorization
            self.smart_charging.config = event.smart_charging
            self.queue.config = event.offline_queue
            self.transactions.config = event.transactions
        elif isinstance(event, AuthorizeRemoteStart):  # made by an older core: carried out as before
            if event.ask:
                self.spawn(self.authorize(event.evse_id, event.token, remote_start_id=event.remote_start_id))
            else:
                self.charger_event(Authorized(event.evse_id, event.token, event.remote_start_id))
        elif isinstance(event, StopTransaction):
            log.info("stopping the transaction on EVSE %d (%s)", event.evse_id, event.reason)
            self.charger_event(StopRequested(event.evse_id, event.reason, trigger=event.trigger))
            self.on_stop_transaction(event)
        elif isinstance(event, CacheVerdict):
            self.authorization.update_cache(event.token, event.info, self.now())
        elif isinstance(event, SetAvailability):
            self.on_availability(event.evse_id, event.operative)
        elif isinstance(event, CallResult):
            self.on_call_result(event)
        else:  # ResetNow
            self.on_reset(event)

    def on_charging_profile(self, request: Any, response: Any) -> None:
        """The CSMS's SetChargingProfile (typed request) and the station's answer (``response.status``
        Accepted: installed in ``smart_charging``): the application overrides it to apply the new limit at
        once; the default does nothing more."""

    def on_stop_transaction(self, stop: StopTransaction) -> None:
        """The application decided to end the transaction on ``stop.evse_id`` (a remote stop, a fault, a reset,
        StopTxOnInvalidId): its messages are on their way; the application overrides it to stop the energy (the
        V2G session, the PWM); the default does nothing more."""

    def on_availability(self, evse_id: int, operative: bool) -> None:
        """The CSMS made ``evse_id`` (0: the station) operative or inoperative (ChangeAvailability, at once or after
        the transaction there ended); the charger refuses new sessions while inoperative.  Records the
        AvailabilityState in the device model; an application overrides it to tell its charger (and calls it)."""
        state = "Available" if operative else "Unavailable"
        component = ComponentKey("EVSE", evse_id=evse_id) if evse_id else ComponentKey("ChargingStation")
        with contextlib.suppress(OcppError):
            self.device_model.set_local(component, "AvailabilityState", state)

    def on_authorization(self, done: AuthorizationDone) -> None:
        """The verdict on an identifier (a card, a remote start, :meth:`authorize`): the application overrides it
        to tell the user (a display, a LED); the default only logs."""
        log.info("identifier at EVSE %d: %s", done.evse_id, done.status)

    def on_charging_allowed(self, evse_id: int, allowed: bool) -> None:
        """Whether the charger may deliver energy on ``evse_id`` now (cable in, identifier authorized, no fault,
        operative): the application overrides it to close the contactor / offer current, or to stop; the default
        only logs."""
        log.info("EVSE %d: charging %s", evse_id, "allowed" if allowed else "not allowed")

    def on_call_result(self, result: CallResult) -> None:
        """The answer to a call of :meth:`request_call` (``result.response`` ``None``: it failed): the application
        overrides it; the default only logs."""
        log.info("%s %s: %s", result.action, result.ref, "answered" if result.response is not None else result.reason)

    def on_reset(self, reset: ResetNow) -> None:
        """Reset now (every transaction concerned has ended): the application overrides it to restart the station
        or the EVSE (``reset.evse_id``); the default only logs."""
        log.info("reset %s of %s requested", reset.kind, "the station" if reset.evse_id is None
                 else f"EVSE {reset.evse_id}")

    def operative(self, evse_id: int) -> bool:
        """Whether ``evse_id`` takes new sessions (ChangeAvailability, no reset pending)."""
        return self.app.operative(evse_id)

    async def _app_call(self, call: MakeCall) -> None:
        booting = call.action == "BootNotification"
        try:
            response = await self.call(dict(call.payload), action=call.action)
        except OcppError as exc:
            log.info("%s failed: %s", call.action, exc)
            if not booting or self.app.state is BootState.BOOTING:
                self.app.send(CallFailed(action=call.action, reason=str(exc), ref=call.ref), self.now())
                self._app_events()
            return
        if booting and self.app.state is not BootState.BOOTING:
            return  # the connection dropped meanwhile: the core boots again on the next one
        answer = ({"status": response.status, "interval": response.interval} if booting
                  else response.to_json())
        self.app.send(CallAnswered(action=call.action, response=answer, ref=call.ref), self.now())
        self._app_events()

    async def on_disconnected(self) -> None:
        """Transaction messages made from now on are marked offline."""
        self.transactions.set_online(False)
        self.app.send(Disconnected(), self.now())
        self._app_events()

    # ------------------------------------------------------------ handlers: device model / configuration
    # Every handler receives the typed request the RPC core built (validated once) and returns a typed response of
    # the same version (``models_of(request)``); the session sends it.

    @on("GetVariables")
    def _get_variables(self, request: Any) -> Any:
        return self.device_model.get_variables(request)

    @on("SetVariables")
    def _set_variables(self, request: Any) -> Any:
        response = self.device_model.set_variables(request)
        self._changed()
        return response

    @on("GetBaseReport")
    def _get_base_report(self, request: Any) -> Any:
        data = self.device_model.base_report(request.report_base)
        if data:
            self.spawn(self._notify_reports(request.request_id, data))
        return models_of(request).GetBaseReportResponse(status="Accepted" if data else "EmptyResultSet")

    @on("GetReport")
    def _get_report(self, request: Any) -> Any:
        data = self.device_model.report(request)
        if data:
            self.spawn(self._notify_reports(request.request_id, data))
        return models_of(request).GetReportResponse(status="Accepted" if data else "EmptyResultSet")

    async def _notify_reports(self, request_id: int, data: list[dict[str, Any]]) -> None:
        for message in self.device_model.notify_reports(request_id, data, self.wall.utc(self.now())):
            try:
                await self.call(message, action="NotifyReport")
            except OcppError as exc:
                log.info("NotifyReport %s not delivered: %s", request_id, exc)
                return

    @on("GetConfiguration")
    def _get_configuration(self, request: Any) -> Any:
        return self.device_model.get_configuration(request)

    @on("ChangeConfiguration")
    def _change_configuration(self, request: Any) -> Any:
        response = self.device_model.change_configuration(request)
        self._changed()
        return response

    # ------------------------------------------------------------ handlers: authorization

    @on("SendLocalList")
    def _send_local_list(self, request: Any) -> Any:
        response = self.authorization.send_local_list(request)
        if self.ocpp_version != "1.6":
            with contextlib.suppress(OcppError):
                self.device_model.set_local("LocalAuthListCtrlr", "Entries",
                                            str(self.authorization.local_list_size))
        return response

    @on("GetLocalListVersion")
    def _get_local_list_version(self, request: Any) -> Any:
        return self.authorization.get_local_list_version(request)

    @on("ClearCache")
    def _clear_cache(self, request: Any) -> Any:
        return models_of(request).ClearCacheResponse(status=self.authorization.clear_cache()["status"])

    # ------------------------------------------------------------ handlers: smart charging

    @on("SetChargingProfile")
    def _set_charging_profile(self, request: Any) -> Any:
        response = self.smart_charging.set_charging_profile(request, self.now())
        self._profiles_changed()
        self.on_charging_profile(request, response)
        return response

    @on("ClearChargingProfile")
    def _clear_charging_profile(self, request: Any) -> Any:
        response = self.smart_charging.clear_charging_profile(request)
        self._profiles_changed()
        return response

    def _profiles_changed(self) -> None:
        """Keep SmartChargingCtrlr.Entries[ChargingProfiles] counting the installed profiles."""
        with contextlib.suppress(OcppError):
            self.device_model.set_local(ComponentKey("SmartChargingCtrlr"), VariableKey("Entries", "ChargingProfiles"),
                                        str(len(self.smart_charging.profiles)))
        self._wake.set()

    @on("GetCompositeSchedule")
    def _get_composite_schedule(self, request: Any) -> Any:
        return self.smart_charging.get_composite_schedule(request, self.now())

    # ------------------------------------------------------------ handlers: remote start / stop

    @on("RequestStartTransaction")
    def _request_start_transaction(self, request: Any) -> Any:
        # the token goes out again in Authorize / TransactionEvent payloads: its JSON form is what they carry
        answer = self._remote_start(request.evse_id, request.id_token.to_json(), request.remote_start_id)
        ref = self.transactions.transaction_ref(answer.evse_id) if answer.evse_id is not None else None
        self._app_events_soon()
        return models_of(request).RequestStartTransactionResponse(status=answer.status, transaction_id=ref)

    @on("RemoteStartTransaction")
    def _remote_start_transaction(self, request: Any) -> Any:
        answer = self._remote_start(request.connector_id, request.id_tag, None)
        self._app_events_soon()
        return models_of(request).RemoteStartTransactionResponse(status=answer.status)

    def _remote_start(self, evse_id: int | None, token: IdToken, remote_start_id: int | None) -> Any:
        # the core reads AuthCtrlr.AuthorizeRemoteStart (1.6 AuthorizeRemoteTxRequests) off the device model
        return self.app.answer(RemoteStartRequested(evse_id=evse_id, token=token, remote_start_id=remote_start_id),
                               self.now())

    @on("RequestStopTransaction")
    def _request_stop_transaction(self, request: Any) -> Any:
        found = next((e for e in range(1, self.evse_count + 1)
                      if self.transactions.transaction_ref(e) == request.transaction_id), None)
        answer = self.app.answer(RemoteStopRequested(evse_id=found), self.now())
        self._app_events()
        return models_of(request).RequestStopTransactionResponse(status=answer.status)

    @on("RemoteStopTransaction")
    def _remote_stop_transaction(self, request: Any) -> Any:
        found = None
        for evse_id in range(1, self.evse_count + 1):
            ref = self.transactions.transaction_ref(evse_id)
            if ref is not None and self.queue.transaction_id_of(ref) == request.transaction_id:
                found = evse_id
        answer = self.app.answer(RemoteStopRequested(evse_id=found), self.now())
        self._app_events()
        return models_of(request).RemoteStopTransactionResponse(status=answer.status)

    # ------------------------------------------------------------ handlers: availability, reset

    @on("ChangeAvailability")
    def _change_availability(self, request: Any) -> Any:
        if self.ocpp_version == "1.6":
            evse_id, operative = request.connector_id, str(request.type) == "Operative"
        else:
            evse_id = 0 if request.evse is None else request.evse.id
            operative = str(request.operational_status) == "Operative"
        answer = self.app.answer(ChangeAvailabilityRequested(evse_id=evse_id, operative=operative), self.now())
        self._app_events()
        return models_of(request).ChangeAvailabilityResponse(status=answer.status)

    # ------------------------------------------------------------ handlers: reservations

    @on("ReserveNow")
    def _reserve_now(self, request: Any) -> Any:
        if self.ocpp_version == "1.6":
            command = ReserveNowRequested(reservation_id=request.reservation_id, evse_id=request.connector_id,
                                          token=request.id_tag, group=request.parent_id_tag,
                                          expiry=parse_datetime(request.expiry_date, "expiryDate"))
        else:
            group = request.group_id_token
            connector_type = request.connector_type
            command = ReserveNowRequested(reservation_id=request.id, evse_id=request.evse_id,
                                          token=request.id_token.to_json(),
                                          group=group.to_json() if group is not None else None,
                                          expiry=parse_datetime(request.expiry_date_time, "expiryDateTime"),
                                          connector_type=str(connector_type) if connector_type is not None else None)
        answer = self.app.answer(command, self.now())
        self._app_events_soon()  # the connector's Reserved status follows the answer
        return models_of(request).ReserveNowResponse(status=answer.status)

    @on("CancelReservation")
    def _cancel_reservation(self, request: Any) -> Any:
        answer = self.app.answer(CancelReservationRequested(reservation_id=request.reservation_id), self.now())
        self._app_events_soon()
        return models_of(request).CancelReservationResponse(status=answer.status)

    @on("Reset")
    def _reset(self, request: Any) -> Any:
        evse_id = None if self.ocpp_version == "1.6" else request.evse_id
        answer = self.app.answer(ResetRequested(kind=str(request.type), evse_id=evse_id), self.now())
        self._app_events_soon()
        return models_of(request).ResetResponse(status=answer.status)


async def _wait(event: asyncio.Event, timeout: float | None) -> None:
    """Wait for ``event`` at most ``timeout`` seconds.  (``asyncio.wait_for`` of Python 3.11 can swallow a
    cancellation that arrives just as the event is set; ``asyncio.timeout`` does not.)"""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(timeout):
            await event.wait()
