"""The transaction manager: the charger's events in, transaction messages out (OCPP 1.6 and 2.0.1).

The application tells :class:`TransactionManager` what the hardware does (:class:`EVConnected`,
:class:`Authorized`, :class:`PowerPathClosed`, :class:`EnergyFlowing`, :class:`EnergySuspended`,
:class:`StopRequested`, :class:`EVDisconnected`) and pushes meter readings with
:meth:`~TransactionManager.update_meter`; the manager answers with :class:`OutgoingMessage` payloads in OCPP JSON:

* **1.6** -- ``StartTransaction`` when the EV is connected and authorized, ``MeterValues`` (sampled every
  ``MeterValueSampleInterval`` from the start, and clock-aligned every ``ClockAlignedDataInterval`` from midnight
  UTC), ``StopTransaction`` with ``meterStop``, ``reason`` and ``transactionData`` (``StopTxnSampledData``).
  The CSMS assigns 1.6 transaction ids: messages carry a local ``tx_ref`` that the
  :class:`~evcharge.ocpp.functions.offline_queue.OfflineQueue` replaces with the real ``transactionId``.
* **2.0.1 / 2.1** -- ``TransactionEvent`` ``Started`` / ``Updated`` / ``Ended`` with ``seqNo`` counting from 0 in
  each transaction, the ``triggerReason`` of the event, ``chargingState`` changes, the transaction starting at
  the first of ``TxStartPoint`` and ending when the first of ``TxStopPoint`` no longer holds; meter values with
  ``TxStartedMeasurands`` (Transaction.Begin), ``TxUpdatedMeasurands`` every ``TxUpdatedInterval``
  (Sample.Periodic, trigger MeterValuePeriodic), ``AlignedDataCtrlr.Measurands`` every ``Interval``
  (Sample.Clock, trigger MeterValueClock) and ``TxEndedMeasurands`` (Transaction.End).

Time is ``now``, monotonic seconds (the library's one convention); the timestamps in the messages and the
clock-aligned instants come from the manager's :class:`~evcharge.clock.WallClock` (without one, ``now`` is read
as UNIX seconds: ``now = 0`` is 1970-01-01T00:00:00Z).  :meth:`~TransactionManager.get_timer` says when
:meth:`~TransactionManager.handle_timer` must run for the next meter sample.  Running transactions (their ids,
``seqNo``, start meter) are kept in the injected ``store`` (a SQLite store on disk), so a restarted process either
continues them (:meth:`~TransactionManager.resume`) or ends them (:meth:`~TransactionManager.recover`).

Messages with ``transactional=True`` belong in the offline queue; the others (clock-aligned values outside a
transaction) are sent only while online (:func:`route`).
"""

from __future__ import annotations

import math
import random
import uuid
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from evcharge.clock import WallClock

from ._common import FunctionsLocalError, format_datetime
from .offline_queue import OfflineQueue
from .storage import MemoryStore, StateStore

UNITS = {
    "Energy.Active.Import.Register": "Wh",
    "Energy.Active.Export.Register": "Wh",
    "Energy.Active.Import.Interval": "Wh",
    "Power.Active.Import": "W",
    "Power.Active.Export": "W",
    "Power.Offered": "W",
    "Current.Import": "A",
    "Current.Offered": "A",
    "Voltage": "V",
    "Frequency": "Hz",
    "SoC": "Percent",
    "Temperature": "Celsius",
}
ENERGY = "Energy.Active.Import.Register"

# 1.6 StopTransaction reasons; 2.0.1 stoppedReason adds more, both accept these.
REASONS_16 = frozenset({"EmergencyStop", "EVDisconnected", "HardReset", "Local", "Other", "PowerLoss", "Reboot",
                        "Remote", "SoftReset", "UnlockCommand", "DeAuthorized"})
REASONS_201 = frozenset({"DeAuthorized", "EmergencyStop", "EnergyLimitReached", "EVDisconnected", "GroundFault",
                         "ImmediateReset", "Local", "LocalOutOfCredit", "MasterPass", "Other", "OvercurrentFault",
                         "PowerLoss", "PowerQuality", "Reboot", "Remote", "SOCLimitReached", "StoppedByEV",
                         "TimeLimitReached", "Timeout"})


# ---------------------------------------------------------------- charger events (inputs)


@dataclass(frozen=True, slots=True)
class EVConnected:
    """The cable is plugged in on the EVSE (and connector)."""

    evse_id: int
    connector_id: int = 1


@dataclass(frozen=True, slots=True)
class EVDisconnected:
    """The cable was unplugged."""

    evse_id: int


@dataclass(frozen=True, slots=True)
class Authorized:
    """The application accepted an identifier (locally or after Authorize / RequestStartTransaction)."""

    evse_id: int
    id_token: str | Mapping[str, Any]  # 1.6 idTag, 2.0.1 IdTokenType JSON
    remote_start_id: int | None = None  # set when the CSMS started it (2.0.1 RequestStartTransaction)
    #: The reservation this identifier used (2.0.1 H03.FR.09). The transaction message that carries the identifier
    #: says so (2.0.1 TransactionEvent ``reservationId``, H01.FR.15; 1.6 StartTransaction ``reservationId``).
    reservation_id: int | None = None


@dataclass(frozen=True, slots=True)
class PowerPathClosed:
    """The contactor closed: energy may flow."""

    evse_id: int


@dataclass(frozen=True, slots=True)
class EnergyFlowing:
    """The EV draws energy (chargingState Charging)."""

    evse_id: int


@dataclass(frozen=True, slots=True)
class EnergySuspended:
    """Energy stopped flowing, by the EV or by the EVSE, while the transaction goes on."""

    evse_id: int
    by_ev: bool = True  # SuspendedEV, else SuspendedEVSE


@dataclass(frozen=True, slots=True)
class StopRequested:
    """Authorization ends: ``reason`` is Local (card), Remote (CSMS), DeAuthorized, EmergencyStop, ..."""

    evse_id: int
    reason: str = "Local"
    id_token: str | Mapping[str, Any] | None = None
    #: the 2.x ``triggerReason`` of the message it causes; ``None``: from ``reason`` (Remote: RemoteStop,
    #: DeAuthorized: Deauthorized, a fault's reason -- GroundFault, OvercurrentFault, PowerQuality, EmergencyStop:
    #: AbnormalCondition, a reset's: ResetCommand, else StopAuthorized)
    trigger: str | None = None


@dataclass(frozen=True, slots=True)
class ChargingRateChanged:
    """The charging rate changed (a new limit from the CSMS or the grid, a renegotiated schedule): 2.x
    TransactionEvent Updated with triggerReason ChargingRateChanged and the meter's present values (1.6: nothing)."""

    evse_id: int


ChargerEvent = (EVConnected | EVDisconnected | Authorized | PowerPathClosed | EnergyFlowing | EnergySuspended
                | StopRequested | ChargingRateChanged)

#: the 2.x triggerReason of a StopRequested by its reason (others: StopAuthorized)
_STOP_TRIGGERS = {"Remote": "RemoteStop", "DeAuthorized": "Deauthorized", "GroundFault": "AbnormalCondition",
                  "OvercurrentFault": "AbnormalCondition", "PowerQuality": "AbnormalCondition",
                  "EmergencyStop": "AbnormalCondition", "ImmediateReset": "ResetCommand",
                  "EnergyLimitReached": "EnergyLimitReached", "TimeLimitReached": "TimeLimitReached"}


# ---------------------------------------------------------------- outputs


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    """A message to send: ``transactional`` ones belong in the offline queue."""

    action: str
    payload: dict[str, Any]
    tx_ref: str | None
    transactional: bool


@dataclass(frozen=True, slots=True)
class TransactionStarted:
    """A transaction started on the EVSE (``tx_ref`` is its id, or the 1.6 local reference)."""

    evse_id: int
    tx_ref: str


@dataclass(frozen=True, slots=True)
class AuthorizationTimedOut:
    """The identifier was accepted but no EV was plugged in within the connection timeout: it lapsed."""

    evse_id: int


@dataclass(frozen=True, slots=True)
class TransactionEnded:
    """A transaction ended on the EVSE for ``reason``."""

    evse_id: int
    tx_ref: str
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class TransactionConfig:
    """Names: 1.6 key / 2.0.1 variable."""

    version: Literal["1.6", "2.0.1", "2.1"] = "2.0.1"
    evse_count: int = 1
    sampled_interval: float = 60.0  # MeterValueSampleInterval / SampledDataCtrlr.TxUpdatedInterval (0: off)
    sampled_measurands: tuple[str, ...] = (ENERGY, "Power.Active.Import")  # MeterValuesSampledData / TxUpdated..
    started_measurands: tuple[str, ...] = (ENERGY,)  # SampledDataCtrlr.TxStartedMeasurands (2.0.1)
    ended_measurands: tuple[str, ...] = (ENERGY,)  # StopTxnSampledData / SampledDataCtrlr.TxEndedMeasurands
    aligned_interval: float = 900.0  # ClockAlignedDataInterval / AlignedDataCtrlr.Interval (0: off)
    aligned_measurands: tuple[str, ...] = (ENERGY,)  # MeterValuesAlignedData / AlignedDataCtrlr.Measurands
    tx_start_points: frozenset[str] = frozenset({"PowerPathClosed"})  # TxCtrlr.TxStartPoint (2.0.1)
    tx_stop_points: frozenset[str] = frozenset({"EVConnected", "Authorized"})  # TxCtrlr.TxStopPoint (2.0.1)
    stop_on_ev_side_disconnect: bool = True  # StopTransactionOnEVSideDisconnect / TxCtrlr.StopTxOnEVSideDisconnect
    ev_connection_timeout: float = 0.0  # ConnectionTimeOut / TxCtrlr.EVConnectionTimeOut (0: wait for ever)


@dataclass(slots=True)
class _Tx:
    tx_ref: str  # 2.0.1: the transactionId itself; 1.6: local reference until the CSMS gives an id
    started_at: float
    meter_start: float
    seq_no: int = 0
    id_token: Any = None
    remote_start_id: int | None = None
    next_sample: float | None = None
    connector_id: int = 1
    time_charging: float = 0.0  # seconds in chargingState Charging so far
    charging_since: float | None = None


@dataclass(slots=True)
class _Evse:
    connected: bool = False
    connector_id: int = 1
    authorized: bool = False
    id_token: Any = None
    remote_start_id: int | None = None
    reservation_id: int | None = None  # the reservation the authorized identifier used, until a message carries it
    power_path_closed: bool = False
    charging_state: str = "Idle"
    readings: dict[str, float] = field(default_factory=dict)
    tx: _Tx | None = None
    auth_deadline: float | None = None  # the EV must be connected by then


_TABLE = "tx_state"  # EVSE id -> the running transaction's state


class TransactionManager:
    """Turns charger events into 1.6 or 2.0.1 transaction messages, per EVSE."""

    def __init__(self, config: TransactionConfig, *, store: StateStore | None = None,
                 rng: random.Random | None = None, wall: WallClock | None = None) -> None:
        """``store`` keeps the running transactions across a restart of the process
        (:class:`~evcharge.ocpp.functions.storage.MemoryStore` when ``None``); ``wall`` maps ``now`` to UTC for the
        messages' timestamps and the clock-aligned values."""
        self.wall = wall if wall is not None else WallClock(_UNIX_EPOCH)
        if config.evse_count < 1:
            raise FunctionsLocalError("evse_count must be at least 1")
        self.config = config
        self._rng = rng or random.Random()
        self._evses = {i: _Evse() for i in range(1, config.evse_count + 1)}
        self._out: deque[OutgoingMessage] = deque()
        self._events: deque[TransactionStarted | TransactionEnded | AuthorizationTimedOut] = deque()
        self._online = False
        self._next_aligned: float | None = None
        self._db: StateStore = store if store is not None else MemoryStore()
        self._persisted: dict[int, _Tx] = {}
        for evse_id, state in self._db.items(_TABLE):
            self._persisted[int(evse_id)] = _Tx(**state)

    @property
    def _v16(self) -> bool:
        return self.config.version == "1.6"

    def close(self) -> None:
        """Close the store."""
        self._db.close()

    # ------------------------------------------------------------ state

    def set_online(self, online: bool) -> None:
        """Connection state: 2.0.1 messages created while offline carry ``offline: true``."""
        self._online = online

    def transaction_ref(self, evse_id: int) -> str | None:
        """The running transaction's id (2.0.1) or local reference (1.6) on ``evse_id``."""
        tx = self._evse(evse_id).tx
        return None if tx is None else tx.tx_ref

    def connector_id(self, evse_id: int) -> int:
        """The connector of ``evse_id`` the cable was last plugged into (that of its transaction once resumed)."""
        return self._evse(evse_id).connector_id

    def interrupted_transactions(self) -> dict[int, str]:
        """Transactions that were running when the process stopped: ``{evse_id: tx_ref}``."""
        return {e: t.tx_ref for e, t in self._persisted.items()}

    def resume(self, now: float) -> None:
        """Continue the interrupted transactions (the hardware kept charging while the process restarted)."""
        for evse_id, tx in self._persisted.items():
            evse = self._evse(evse_id)
            evse.tx = tx
            evse.connected = evse.authorized = True
            evse.id_token = tx.id_token
            evse.connector_id = tx.connector_id
            if self.config.sampled_interval > 0:
                tx.next_sample = now + self.config.sampled_interval
            if tx.charging_since is not None:  # a time of the previous process's clock: count from now on
                tx.charging_since = now
        self._persisted = {}

    def recover(self, now: float, reason: str = "PowerLoss") -> None:
        """End the interrupted transactions (the station rebooted): Ended / StopTransaction with ``reason``,
        using the last meter value known before the restart."""
        persisted, self._persisted = self._persisted, {}
        for evse_id, tx in persisted.items():
            evse = self._evse(evse_id)
            evse.tx = tx
            tx.charging_since = None  # when the power went is unknown: the downtime does not count
            evse.readings.setdefault(ENERGY, tx.meter_start)
            self._end(evse_id, evse, now, reason, "AbnormalCondition")

    # ------------------------------------------------------------ inputs

    def update_meter(self, evse_id: int, readings: Mapping[str, float], now: float) -> None:
        """The latest readings of the EVSE's meter (``Energy.Active.Import.Register`` in Wh, Power in W, ...)."""
        evse = self._evse(evse_id)
        for k, v in readings.items():
            if not isinstance(v, int | float) or isinstance(v, bool) or not math.isfinite(v):
                raise FunctionsLocalError(f"meter reading {k}: not a finite number: {v!r}")
            evse.readings[k] = float(v)

    def handle(self, event: ChargerEvent, now: float) -> None:
        """A charger event happened at ``now``; the messages it causes are in :meth:`messages`."""
        evse = self._evse(event.evse_id)
        if self._v16:
            self._handle_16(event, evse, now)
        else:
            self._handle_201(event, evse, now)

    # ------------------------------------------------------------ outputs

    def messages(self) -> list[OutgoingMessage]:
        """Drain the messages produced so far, oldest first."""
        out = list(self._out)
        self._out.clear()
        return out

    def next_event(self) -> TransactionStarted | TransactionEnded | AuthorizationTimedOut | None:
        """The next transaction start / end / lapsed authorization not yet taken, or ``None``."""
        return self._events.popleft() if self._events else None

    def get_timer(self) -> float | None:
        """When :meth:`handle_timer` must next run (UNIX time), or ``None`` when no meter value is pending."""
        times = [e.tx.next_sample for e in self._evses.values() if e.tx is not None and e.tx.next_sample is not None]
        times += [e.auth_deadline for e in self._evses.values() if e.auth_deadline is not None]
        if self._next_aligned is not None:
            times.append(self._next_aligned)
        return min(times) if times else None

    def handle_timer(self, now: float) -> None:
        """Emit the sampled and clock-aligned meter values that are due at ``now``."""
        cfg = self.config
        for evse_id, evse in self._evses.items():
            if evse.auth_deadline is not None and now >= evse.auth_deadline:
                self._connection_timeout(evse_id, evse, now)
            tx = evse.tx
            if tx is not None and tx.next_sample is not None and now >= tx.next_sample:
                values = self._sampled(evse, cfg.sampled_measurands, "Sample.Periodic", now)
                if values:
                    self._meter_message(evse_id, evse, values, "MeterValuePeriodic", now)
                # the next sample stays on the grid of the start time, skipping missed slots
                missed = math.floor((now - tx.next_sample) / cfg.sampled_interval) + 1
                tx.next_sample += missed * cfg.sampled_interval
        if self._next_aligned is not None and now >= self._next_aligned:
            for evse_id, evse in self._evses.items():
                values = self._sampled(evse, cfg.aligned_measurands, "Sample.Clock", now)
                if values:
                    self._meter_message(evse_id, evse, values, "MeterValueClock", now)
            self._next_aligned = None
        self.start_clock(now)

    def _connection_timeout(self, evse_id: int, evse: _Evse, now: float) -> None:
        evse.auth_deadline = None
        if evse.connected or not evse.authorized:
            return
        if evse.tx is not None and not self._v16:
            self._end(evse_id, evse, now, "Timeout", "EVConnectTimeout")
        evse.authorized = False
        evse.id_token = evse.remote_start_id = evse.reservation_id = None
        self._events.append(AuthorizationTimedOut(evse_id))

    def _arm_connection_timeout(self, evse: _Evse, now: float) -> None:
        timeout = self.config.ev_connection_timeout
        evse.auth_deadline = now + timeout if timeout > 0 and not evse.connected else None

    def start_clock(self, now: float) -> None:
        """Arm the clock-aligned meter values (called by :meth:`handle_timer`; call once at boot)."""
        interval = self.config.aligned_interval
        if interval > 0 and self._next_aligned is None:
            unix = self.wall.unix(now)  # aligned to the wall clock (midnight UTC), timed on now
            self._next_aligned = now + (math.floor(unix / interval) + 1) * interval - unix

    # ------------------------------------------------------------ 1.6

    def _handle_16(self, event: ChargerEvent, evse: _Evse, now: float) -> None:
        eid = event.evse_id
        if isinstance(event, EVConnected):
            evse.connected, evse.connector_id = True, event.connector_id
            evse.auth_deadline = None
            if evse.authorized and evse.tx is None:
                self._start_16(eid, evse, now)
        elif isinstance(event, Authorized):
            evse.authorized, evse.id_token = True, event.id_token
            evse.reservation_id = event.reservation_id
            if evse.connected and evse.tx is None:
                self._start_16(eid, evse, now)
            elif evse.tx is None:
                self._arm_connection_timeout(evse, now)
        elif isinstance(event, PowerPathClosed):
            evse.power_path_closed = True
        elif isinstance(event, EnergyFlowing):
            evse.charging_state = "Charging"
        elif isinstance(event, EnergySuspended):
            evse.charging_state = "SuspendedEV" if event.by_ev else "SuspendedEVSE"
        elif isinstance(event, StopRequested):
            evse.authorized = False
            evse.reservation_id = None
            if evse.tx is not None:
                self._end(eid, evse, now, event.reason, "", id_token=event.id_token)
        elif isinstance(event, EVDisconnected):
            evse.connected = evse.power_path_closed = False
            evse.charging_state = "Idle"
            if evse.tx is not None and self.config.stop_on_ev_side_disconnect:
                self._end(eid, evse, now, "EVDisconnected", "")
            if evse.tx is None:
                evse.authorized = False
                evse.reservation_id = None

    def _start_16(self, evse_id: int, evse: _Evse, now: float) -> None:
        tx = self._new_tx(evse, now)
        evse.tx = tx
        payload: dict[str, Any] = {
            "connectorId": evse_id,
            "idTag": _id_tag(evse.id_token),
            "meterStart": round(tx.meter_start),
            "timestamp": self._ts(now),
        }
        if evse.reservation_id is not None:  # 1.6 5.13: the reservation this transaction ends
            payload["reservationId"], evse.reservation_id = evse.reservation_id, None
        self._emit("StartTransaction", payload, tx.tx_ref)
        self._after_start(evse_id, tx)

    # ------------------------------------------------------------ 2.0.1

    def _handle_201(self, event: ChargerEvent, evse: _Evse, now: float) -> None:
        eid = event.evse_id
        start_points = self.config.tx_start_points
        stop_points = self.config.tx_stop_points
        if isinstance(event, EVConnected):
            evse.connected, evse.connector_id = True, event.connector_id
            evse.auth_deadline = None
            self._set_state(evse, "EVConnected", now)
            self._start_or_update(eid, evse, now, "CablePluggedIn",
                                  {"EVConnected", "ParkingBayOccupancy"} & start_points, state_changed=True)
        elif isinstance(event, Authorized):
            evse.authorized, evse.id_token, evse.remote_start_id = True, event.id_token, event.remote_start_id
            evse.reservation_id = event.reservation_id
            trigger = "RemoteStart" if event.remote_start_id is not None else "Authorized"
            self._start_or_update(eid, evse, now, trigger, {"Authorized", "DataSigned"} & start_points,
                                  with_token=True)
            self._arm_connection_timeout(evse, now)
        elif isinstance(event, PowerPathClosed):
            evse.power_path_closed = True
            if evse.tx is None:  # a start point; for a running transaction the chargingState does not change
                self._start_or_update(eid, evse, now, "ChargingStateChanged", {"PowerPathClosed"} & start_points)
        elif isinstance(event, EnergyFlowing):
            self._set_state(evse, "Charging", now)
            self._start_or_update(eid, evse, now, "ChargingStateChanged", {"EnergyTransfer"} & start_points,
                                  state_changed=True)
        elif isinstance(event, EnergySuspended):
            self._set_state(evse, "SuspendedEV" if event.by_ev else "SuspendedEVSE", now)
            if evse.tx is not None and "EnergyTransfer" in stop_points:
                self._end(eid, evse, now, "StoppedByEV" if event.by_ev else "Other", "ChargingStateChanged")
            else:
                self._update(eid, evse, now, "ChargingStateChanged", state_changed=True)
        elif isinstance(event, StopRequested):
            evse.authorized = False
            evse.reservation_id = None
            trigger = event.trigger or _STOP_TRIGGERS.get(event.reason, "StopAuthorized")
            if evse.tx is None:
                return
            if stop_points & {"Authorized", "DataSigned", "PowerPathClosed", "EnergyTransfer"}:
                evse.power_path_closed = False
                self._set_state(evse, "EVConnected" if evse.connected else "Idle", now)
                self._end(eid, evse, now, event.reason, trigger, id_token=event.id_token)
            else:
                self._set_state(evse, "EVConnected" if evse.connected else "Idle", now)
                self._update(eid, evse, now, trigger, state_changed=True)
        elif isinstance(event, ChargingRateChanged):
            if evse.tx is not None:
                self._update(eid, evse, now, "ChargingRateChanged",
                             values=self._sampled(evse, self.config.sampled_measurands, "Sample.Periodic", now))
        elif isinstance(event, EVDisconnected):
            evse.connected = evse.power_path_closed = False
            self._set_state(evse, "Idle", now)
            if evse.tx is not None:
                if (stop_points & {"EVConnected", "PowerPathClosed", "EnergyTransfer", "ParkingBayOccupancy"}
                        or self.config.stop_on_ev_side_disconnect):
                    self._end(eid, evse, now, "EVDisconnected", "EVCommunicationLost")
                else:
                    self._update(eid, evse, now, "EVCommunicationLost", state_changed=True)
            if evse.tx is None:
                evse.authorized = False
                evse.reservation_id = None

    def _set_state(self, evse: _Evse, state: str, now: float) -> None:
        """Change the chargingState, counting the time spent in Charging (timeSpentCharging)."""
        tx = evse.tx
        if tx is not None:
            if state != "Charging" and tx.charging_since is not None:
                tx.time_charging += max(0.0, now - tx.charging_since)
                tx.charging_since = None
            elif state == "Charging" and tx.charging_since is None:
                tx.charging_since = now
        evse.charging_state = state

    def _start_or_update(self, evse_id: int, evse: _Evse, now: float, trigger: str, starts: set[str] | frozenset[str],
                         *, with_token: bool = False, state_changed: bool = False) -> None:
        if evse.tx is None:
            if starts:
                self._start_201(evse_id, evse, now, trigger)
            return
        if with_token:
            evse.tx.id_token = evse.id_token
        self._update(evse_id, evse, now, trigger, with_token=with_token, state_changed=state_changed)

    def _start_201(self, evse_id: int, evse: _Evse, now: float, trigger: str) -> None:
        tx = self._new_tx(evse, now)
        evse.tx = tx
        info: dict[str, Any] = {"transactionId": tx.tx_ref, "chargingState": evse.charging_state}
        if evse.authorized and evse.remote_start_id is not None:
            info["remoteStartId"] = evse.remote_start_id
            tx.remote_start_id = evse.remote_start_id
        payload = self._event_201("Started", evse_id, evse, tx, now, trigger, info)
        if evse.authorized and evse.id_token is not None:
            payload["idToken"] = dict(evse.id_token) if isinstance(evse.id_token, Mapping) else evse.id_token
            self._reservation_used(evse, payload)
        values = self._sampled(evse, self.config.started_measurands, "Transaction.Begin", now)
        if values:
            payload["meterValue"] = values
        self._emit("TransactionEvent", payload, tx.tx_ref)
        self._after_start(evse_id, tx)

    def _update(self, evse_id: int, evse: _Evse, now: float, trigger: str, *, with_token: bool = False,
                state_changed: bool = False, values: list[dict[str, Any]] | None = None) -> None:
        tx = evse.tx
        if tx is None:
            return
        info: dict[str, Any] = {"transactionId": tx.tx_ref}
        if state_changed or trigger == "ChargingStateChanged":
            info["chargingState"] = evse.charging_state
        if trigger == "RemoteStart" and evse.remote_start_id is not None:
            # F01 (remote start, cable plugged in first): the CSMS matches the transaction to its request
            info["remoteStartId"] = tx.remote_start_id = evse.remote_start_id
        payload = self._event_201("Updated", evse_id, evse, tx, now, trigger, info)
        if with_token and evse.id_token is not None:
            payload["idToken"] = dict(evse.id_token) if isinstance(evse.id_token, Mapping) else evse.id_token
            self._reservation_used(evse, payload)
        if values:
            payload["meterValue"] = values
        self._emit("TransactionEvent", payload, tx.tx_ref)

    @staticmethod
    def _reservation_used(evse: _Evse, payload: dict[str, Any]) -> None:
        """2.0.1 H01.FR.15: the TransactionEvent that carries the identifier of a reservation carries its id (the
        reservation that ends with this transaction), once."""
        if evse.reservation_id is not None:
            payload["reservationId"], evse.reservation_id = evse.reservation_id, None

    def _event_201(self, event_type: str, evse_id: int, evse: _Evse, tx: _Tx, now: float, trigger: str,
                   info: dict[str, Any]) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "eventType": event_type,
            "timestamp": self._ts(now),
            "triggerReason": trigger,
            "seqNo": tx.seq_no,
            "transactionInfo": info,
        }
        tx.seq_no += 1
        if not self._online:
            payload["offline"] = True
        if event_type == "Started" or trigger == "CablePluggedIn":
            payload["evse"] = {"id": evse_id, "connectorId": evse.connector_id}
        self._save(evse_id, tx)
        return payload

    # ------------------------------------------------------------ shared

    def _new_tx(self, evse: _Evse, now: float) -> _Tx:
        ref = str(uuid.UUID(int=self._rng.getrandbits(128), version=4))
        return _Tx(tx_ref=ref, started_at=now, meter_start=evse.readings.get(ENERGY, 0.0), id_token=evse.id_token,
                   connector_id=evse.connector_id, charging_since=now if evse.charging_state == "Charging" else None)

    def _after_start(self, evse_id: int, tx: _Tx) -> None:
        if self.config.sampled_interval > 0:
            tx.next_sample = tx.started_at + self.config.sampled_interval
        self._save(evse_id, tx)
        self._events.append(TransactionStarted(evse_id, tx.tx_ref))

    def _end(self, evse_id: int, evse: _Evse, now: float, reason: str, trigger: str,
             id_token: str | Mapping[str, Any] | None = None) -> None:
        tx = evse.tx
        assert tx is not None
        ended = self._sampled(evse, self.config.ended_measurands, "Transaction.End", now)
        if self._v16:
            payload: dict[str, Any] = {
                "meterStop": round(evse.readings.get(ENERGY, tx.meter_start)),
                "timestamp": self._ts(now),
                "reason": reason if reason in REASONS_16 else "Other",
            }
            if id_token is not None:
                payload["idTag"] = _id_tag(id_token)
            if ended:
                payload["transactionData"] = ended
            self._emit("StopTransaction", payload, tx.tx_ref)
        else:
            if tx.charging_since is not None:
                tx.time_charging += max(0.0, now - tx.charging_since)
                tx.charging_since = None
            info: dict[str, Any] = {"transactionId": tx.tx_ref, "chargingState": evse.charging_state,
                                    "timeSpentCharging": round(tx.time_charging),
                                    "stoppedReason": reason if reason in REASONS_201 else "Other"}
            payload = self._event_201("Ended", evse_id, evse, tx, now, trigger, info)
            if isinstance(id_token, Mapping):
                payload["idToken"] = dict(id_token)
            if ended:
                payload["meterValue"] = ended
            self._emit("TransactionEvent", payload, tx.tx_ref)
        evse.tx = None
        evse.authorized = False
        evse.remote_start_id = evse.reservation_id = None
        evse.auth_deadline = None
        self._db.delete(_TABLE, str(evse_id))
        self._events.append(TransactionEnded(evse_id, tx.tx_ref, reason))

    def _meter_message(self, evse_id: int, evse: _Evse, values: list[dict[str, Any]], trigger: str,
                       now: float) -> None:
        tx = evse.tx
        if self._v16:
            payload: dict[str, Any] = {"connectorId": evse_id, "meterValue": values}
            self._out.append(OutgoingMessage("MeterValues", payload, None if tx is None else tx.tx_ref,
                                             transactional=tx is not None))
        elif tx is not None:
            payload = self._event_201("Updated", evse_id, evse, tx, now, trigger, {"transactionId": tx.tx_ref})
            payload["meterValue"] = values
            self._emit("TransactionEvent", payload, tx.tx_ref)
        else:
            self._out.append(OutgoingMessage("MeterValues", {"evseId": evse_id, "meterValue": values}, None,
                                             transactional=False))

    def _sampled(self, evse: _Evse, measurands: tuple[str, ...], context: str, now: float) -> list[dict[str, Any]]:
        samples = []
        for m in measurands:
            if m not in evse.readings:
                continue
            value = evse.readings[m]
            sample: dict[str, Any] = {"context": context, "measurand": m}
            if self._v16:
                sample = {"value": _number_text(value), **sample}
                if m in UNITS:
                    sample["unit"] = UNITS[m]
            else:
                sample = {"value": value, **sample}
                if m in UNITS:
                    sample["unitOfMeasure"] = {"unit": UNITS[m]}
            samples.append(sample)
        return [{"timestamp": self._ts(now), "sampledValue": samples}] if samples else []

    def _ts(self, now: float) -> str:
        return format_datetime(self.wall.utc(now))

    def _emit(self, action: str, payload: dict[str, Any], tx_ref: str) -> None:
        self._out.append(OutgoingMessage(action, payload, tx_ref, transactional=True))

    def _save(self, evse_id: int, tx: _Tx) -> None:
        state = {"tx_ref": tx.tx_ref, "started_at": tx.started_at, "meter_start": tx.meter_start,
                 "seq_no": tx.seq_no, "id_token": tx.id_token, "remote_start_id": tx.remote_start_id,
                 "connector_id": tx.connector_id, "time_charging": tx.time_charging,
                 "charging_since": tx.charging_since}
        self._db.put(_TABLE, str(evse_id), state)

    def _evse(self, evse_id: int) -> _Evse:
        try:
            return self._evses[evse_id]
        except KeyError:
            raise FunctionsLocalError(f"no EVSE {evse_id} (evse_count={self.config.evse_count})") from None


def route(messages: list[OutgoingMessage], queue: OfflineQueue, *, online: bool) -> list[OutgoingMessage]:
    """Put the transactional messages in the offline queue; return the others to send now when online (they are
    dropped while offline, as OCPP says for non-transaction messages)."""
    direct = []
    for m in messages:
        if m.transactional:
            queue.enqueue(m.action, m.payload, tx_ref=m.tx_ref)
        elif online:
            direct.append(m)
    return direct


def _id_tag(token: Any) -> str:
    """The 1.6 idTag of an identifier given as a string or as a 2.0.1 IdTokenType."""
    if isinstance(token, Mapping):
        return str(token.get("idToken", ""))
    return "" if token is None else str(token)


_UNIX_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _number_text(value: float) -> str:
    return str(int(value)) if value == int(value) else repr(value)


__all__ = [
    "AuthorizationTimedOut",
    "Authorized",
    "ChargerEvent",
    "ChargingRateChanged",
    "EVConnected",
    "EVDisconnected",
    "EnergyFlowing",
    "EnergySuspended",
    "OutgoingMessage",
    "PowerPathClosed",
    "StopRequested",
    "TransactionConfig",
    "TransactionEnded",
    "TransactionManager",
    "TransactionStarted",
    "route",
]
