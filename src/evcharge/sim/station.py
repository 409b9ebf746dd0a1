"""The OCPP side of the simulated charger: the functions package's ``Station`` with a simulated clock.

``Station`` (:mod:`evcharge.ocpp.functions`) is a charge point with the transaction manager, offline queue,
authorization, smart charging and device model wired in; it sends the BootNotification it is given.
:class:`SimStation` adds what a deployed station also needs from its application and the functions package
leaves to it: StatusNotification after every connection, and a way for the charger logic to learn of
authorizations that arrive through OCPP (remote start, remote stop).  Its timers run on the simulated clock:
the runner calls :meth:`~evcharge.ocpp.functions.transport.station.Station.tick` every step instead of
``Station.run()``'s real-time waits.
"""

from __future__ import annotations

import asyncio  # noqa: TID251 - evcharge.sim is the application that composes the cores: it runs the event loop
import contextlib
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from evcharge.clock import WallClock
from evcharge.ocpp.errors import OcppError
from evcharge.ocpp.functions._common import format_datetime
from evcharge.ocpp.functions.transactions import Authorized, ChargerEvent, StopRequested
from evcharge.ocpp.functions.transport.station import Station

__all__ = ["SimStation"]


class SimStation(Station):
    """A ``Station`` driven by a simulated clock (see the module docstring)."""

    def __init__(self, identity: str, *, version: Literal["1.6", "2.0.1"], directory: str | Path,
                 max_current_a: float, clock: Callable[[], float]) -> None:
        if version == "1.6":
            boot: dict[str, Any] = {"chargePointVendor": "evcharge", "chargePointModel": "evcharge-sim"}
        else:
            boot = {"reason": "PowerUp", "chargingStation": {"vendorName": "evcharge", "model": "evcharge-sim"}}
        # the simulated clock counts UNIX seconds (epoch + t): the wall clock maps it one to one
        super().__init__(identity, version=version, directory=directory, max_current_a=max_current_a, clock=clock,
                         wall=WallClock(datetime(1970, 1, 1, tzinfo=UTC)), boot=boot)
        self.authorizations: deque[Authorized | StopRequested] = deque()  #: for the charger logic
        self.connector_status = "Available"
        self.calls_made = 0
        self.authorizing = 0  #: authorizations waiting for the CSMS's answer now
        #: Each change of the OCPP connection in the order it happened, True when it came up. The runner
        #: logs them, so a short outage between two simulated steps is still seen.
        self.link_changes: deque[bool] = deque()

    # ------------------------------------------------------------ driven by the runner (``Station.tick``)
    async def run(self) -> None:
        """The offline-queue sender, until cancelled (the timers run in ``Station.tick``, called by the runner)."""
        self.start_clock()
        await self.sender.run()

    def charger_event(self, event: ChargerEvent) -> None:
        """As ``Station.charger_event``; authorizations and stops are also kept for the charger logic."""
        super().charger_event(event)
        if isinstance(event, Authorized | StopRequested):
            self.authorizations.append(event)

    async def authorize(self, evse_id: int, token: Any, *, remote_start_id: int | None = None) -> bool:
        """As ``Station.authorize``; :attr:`authorizing` counts the ones in progress."""
        self.authorizing += 1
        try:
            return await super().authorize(evse_id, token, remote_start_id=remote_start_id)
        finally:
            self.authorizing -= 1

    def set_connector_status(self, status: str) -> None:
        """The connector's status (2.0.1 names: Available, Occupied, Faulted); sent when connected."""
        if status != self.connector_status:
            self.connector_status = status
            if self.connected:
                self.spawn(self._status_notification())

    # ------------------------------------------------------------ connection
    async def on_connected(self) -> None:
        self.link_changes.append(True)
        await super().on_connected()  # BootNotification on the first connection
        self.spawn(self._announce())

    async def on_disconnected(self) -> None:
        self.link_changes.append(False)
        await super().on_disconnected()

    async def call(self, request: Any, *, action: str | None = None, timeout: float | None = None) -> Any:
        self.calls_made += 1
        return await super().call(request, action=action, timeout=timeout)

    async def _announce(self) -> None:
        """Once the CSMS accepted the boot, tell it the connector's status (again after every reconnection)."""
        while self.connected and not self.booted:
            await asyncio.sleep(0.01)
        if self.connected:
            await self._status_notification()

    async def _status_notification(self) -> None:
        now = format_datetime(self.wall.utc(self.now()))
        status = self.connector_status
        if self.ocpp_version == "1.6":
            names = {"Available": "Available", "Occupied": "Preparing", "Charging": "Charging",
                     "Faulted": "Faulted", "Finishing": "Finishing"}
            payload: dict[str, Any] = {"connectorId": 1, "errorCode": "NoError", "status": names[status],
                                       "timestamp": now}
        else:
            names = {"Available": "Available", "Occupied": "Occupied", "Charging": "Occupied",
                     "Faulted": "Faulted", "Finishing": "Occupied"}
            payload = {"timestamp": now, "connectorStatus": names[status], "evseId": 1, "connectorId": 1}
        with contextlib.suppress(OcppError):
            await self.call(payload, action="StatusNotification")
