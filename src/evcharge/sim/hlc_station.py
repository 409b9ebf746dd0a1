"""The charge point of ``evcharge simulate --hlc``: the functions package's ``Station`` on the bench's clock.

:class:`HlcStation` is a :class:`~evcharge.sim.station.SimStation` (a
:class:`~evcharge.ocpp.functions.transport.station.Station`: the charge-point core, the transaction manager, the
offline queue, smart charging, the device model) that the EVSE manager's inputs reach through
:class:`~evcharge.charger.sim.bench.Bench` (``app_input``, ``update_meter``) and whose decisions for the manager
wait in :attr:`~evcharge.sim.station.SimStation.results`. The CSMS's charging profiles the station
accepted wait in :attr:`HlcStation.profiles` for the manager, in the 2.0.1 shape. Every call it makes is logged
(:attr:`HlcStation.log`) for the JSON summary, and :attr:`HlcStation.in_flight` counts the calls on their way, so
the simulation holds its virtual clock while the CSMS answers.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from evcharge.charger.events import SetChargingProfile

from .station import SimStation

__all__ = ["HlcStation"]


class HlcStation(SimStation):
    """A ``Station`` for the EVSE manager on the bench's clock (see the module documentation)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.profiles: deque[SetChargingProfile] = deque()  #: accepted CSMS profiles for the manager
        self.log: list[dict[str, Any]] = []  #: every call: t, action, request, answer (or error)
        self.in_flight = 0  #: calls waiting for the CSMS's answer now

    async def call(self, request: Any, *, action: str | None = None, timeout: float | None = None) -> Any:
        self.in_flight += 1
        t = round(self.now(), 3)
        payload = request if isinstance(request, dict) else request.to_json()
        try:
            response = await super().call(request, action=action, timeout=timeout)
        except Exception as exc:
            self.log.append({"t": t, "action": action, "request": payload, "error": str(exc)})
            raise
        finally:
            self.in_flight -= 1
        self.log.append({"t": t, "action": action, "request": payload, "answer": response.to_json()})
        return response

    def on_charging_profile(self, request: Any, response: Any) -> None:
        super().on_charging_profile(request, response)
        body = request.to_json()
        profile = body.get("chargingProfile") or body.get("csChargingProfiles") or {}
        if self.ocpp_version == "1.6":  # the manager reads the 2.0.1 shape: id, a list of schedules
            profile = {**profile, "id": profile.get("chargingProfileId", 0),
                       "chargingSchedule": [profile.get("chargingSchedule", {})]}
        self.log.append({"t": round(self.now(), 3), "action": "SetChargingProfile (from the CSMS)",
                         "request": profile, "answer": response.to_json()})
        if str(response.status) == "Accepted":
            self.profiles.append(SetChargingProfile(profile=dict(profile)))
