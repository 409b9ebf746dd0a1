"""The OCPP side of the simulated charger: the functions package's ``Station`` with a simulated clock.

``Station`` (:mod:`evcharge.ocpp.functions`) is a charge point with the transaction manager, offline queue,
authorization, smart charging and device model wired in, and its application decisions made by the charge-point
core (:class:`~evcharge.ocpp.functions.application.ChargePointApp`): the flow of a card, the cable, the faults,
remote start and stop, and the connectors' StatusNotification.  The simulation feeds it what happened
(:meth:`~evcharge.ocpp.functions.transport.station.Station.app_input`) and carries out what the core decides;
:class:`SimStation` keeps nothing of its own but what the simulation shows: the core's verdicts on charging
(:attr:`SimStation.allowed`) and on identifiers (:attr:`SimStation.verdicts`), the connection's changes, and the
Authorize calls on their way (the simulated clock stands still for them).  Its timers run on the simulated clock:
the runner calls :meth:`~evcharge.ocpp.functions.transport.station.Station.tick` every step instead of
``Station.run()``'s real-time waits.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from evcharge.clock import WallClock
from evcharge.ocpp.functions.application import AuthorizationDone
from evcharge.ocpp.functions.transport.station import Station

__all__ = ["SimStation"]


class SimStation(Station):
    """A ``Station`` driven by a simulated clock (see the module docstring)."""

    def __init__(self, identity: str, *, version: Literal["1.6", "2.0.1"], directory: str | Path | None,
                 max_current_a: float, clock: Callable[[], float], wall: WallClock | None = None) -> None:
        if version == "1.6":
            boot: dict[str, Any] = {"chargePointVendor": "evcharge", "chargePointModel": "evcharge-sim"}
        else:
            boot = {"reason": "PowerUp", "chargingStation": {"vendorName": "evcharge", "model": "evcharge-sim"}}
        # the simulated clock counts UNIX seconds (epoch + t) unless ``wall`` maps it otherwise
        super().__init__(identity, version=version, directory=directory, max_current_a=max_current_a, clock=clock,
                         wall=wall if wall is not None else WallClock(datetime(1970, 1, 1, tzinfo=UTC)), boot=boot,
                         status_notifications=True)
        #: the core's ChargingAllowed, ``(evse_id, allowed)`` in order, for the charger logic
        self.allowed: deque[tuple[int, bool]] = deque()
        #: the core's verdicts on identifiers (cards, remote starts), for the event log
        self.verdicts: deque[AuthorizationDone] = deque()
        self.calls_made = 0
        self.authorizing = 0  #: Authorize calls waiting for the CSMS's answer now
        #: Each change of the OCPP connection in the order it happened, True when it came up. The runner
        #: logs them, so a short outage between two simulated steps is still seen.
        self.link_changes: deque[bool] = deque()

    # ------------------------------------------------------------ driven by the runner (``Station.tick``)
    async def run(self) -> None:
        """The offline-queue sender, until cancelled (the timers run in ``Station.tick``, called by the runner)."""
        self.start_clock()
        await self.sender.run()

    # ------------------------------------------------------------ the core's hooks
    def on_charging_allowed(self, evse_id: int, allowed: bool) -> None:
        """The core's ``ChargingAllowed``: kept in :attr:`allowed` for the charger logic (PWM on or off)."""
        super().on_charging_allowed(evse_id, allowed)
        self.allowed.append((evse_id, allowed))

    def on_authorization(self, done: AuthorizationDone) -> None:
        """The core's verdict on a card or a remote start: kept in :attr:`verdicts` for the event log."""
        super().on_authorization(done)
        self.verdicts.append(done)

    # ------------------------------------------------------------ connection
    async def on_connected(self) -> None:
        self.link_changes.append(True)
        await super().on_connected()  # BootNotification on the first connection, then the connectors' status

    async def on_disconnected(self) -> None:
        self.link_changes.append(False)
        await super().on_disconnected()

    async def call(self, request: Any, *, action: str | None = None, timeout: float | None = None) -> Any:
        self.calls_made += 1
        asking = action == "Authorize"
        self.authorizing += asking
        try:
            return await super().call(request, action=action, timeout=timeout)
        finally:
            self.authorizing -= asking
