"""The OCPP side of the simulated charger: the functions package's ``Station`` with a simulated clock.

``Station`` (:mod:`evcharge.ocpp.functions`) is a charge point with the transaction manager, offline queue,
authorization, smart charging and device model wired in, and its application decisions made by the charge-point
core (:class:`~evcharge.ocpp.functions.application.ChargePointApp`): the flow of a card, the cable, the faults,
remote start and stop, and the connectors' StatusNotification.  The simulation feeds it what happened
(:meth:`~evcharge.ocpp.functions.transport.station.Station.app_input`) and carries out what the core decides;
:class:`SimStation` keeps nothing of its own but what the simulation shows and hands on: the core's decisions
for the EVSE manager (:attr:`SimStation.results`: verdicts on identifiers, answers to its calls, ends of
transactions, whether charging is allowed, availability), the verdicts on identifiers for the event log
(:attr:`SimStation.verdicts`), the connection's changes, and the Authorize calls on their way (the simulated clock
stands still for them).  Its timers run on the simulated clock:
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
from evcharge.ocpp.functions.application import (
    AuthorizationDone,
    CallResult,
    ChargingAllowed,
    SetAvailability,
    StopTransaction,
)
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
        #: the core's decisions for the EVSE manager (``manager.send`` each), oldest first
        self.results: deque[AuthorizationDone | CallResult | StopTransaction | ChargingAllowed | SetAvailability] = (
            deque())
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
        """Whether the manager may deliver energy (PWM, the V2G session)."""
        super().on_charging_allowed(evse_id, allowed)
        self.results.append(ChargingAllowed(evse_id=evse_id, allowed=allowed))

    def on_authorization(self, done: AuthorizationDone) -> None:
        """The core's verdict on an identifier: for the manager, and in :attr:`verdicts` for the event log."""
        super().on_authorization(done)
        self.verdicts.append(done)
        self.results.append(done)

    def on_call_result(self, result: CallResult) -> None:
        """The answer to a call the manager asked for."""
        super().on_call_result(result)
        self.results.append(result)

    def on_stop_transaction(self, stop: StopTransaction) -> None:
        """The core ended the transaction: the manager stops the energy."""
        super().on_stop_transaction(stop)
        self.results.append(stop)

    def on_availability(self, evse_id: int, operative: bool) -> None:
        """The CSMS made the EVSE operative or inoperative: the manager's too."""
        super().on_availability(evse_id, operative)
        self.results.append(SetAvailability(evse_id=evse_id, operative=operative))

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
