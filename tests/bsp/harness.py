"""A fake link joining the Yeti protocol core and the simulator, driven by a fake clock."""

from __future__ import annotations

from evcharge.bsp.events import BoardEvent, Start
from evcharge.bsp.yeti.protocol import YetiConfig, YetiProtocol
from evcharge.bsp.yeti.simulator import SimulatorConfig, YetiSimulator
from evcharge.bsp.yeti.vehicle import SimpleVehicle


class Link:
    """Core <-> simulator with a shared fake clock; `run(seconds)` advances time in timer-sized steps."""

    def __init__(
        self,
        config: YetiConfig | None = None,
        sim_config: SimulatorConfig | None = None,
        *,
        start: bool = True,
    ) -> None:
        self.now = 100.0
        self.car = SimpleVehicle(max_current_a=16.0, phases=3)
        self.sim = YetiSimulator(sim_config, self.car)
        self.core = YetiProtocol(config)
        self.events: list[BoardEvent] = []
        self.host_to_board_enabled = True
        self.board_to_host_enabled = True
        if start:
            self.sim.power_up(self.now)
            self.core.send(Start(), self.now)
            self.pump()

    def pump(self) -> None:
        for _ in range(20):
            a = b"".join(self.core.data_to_send())
            if a and self.host_to_board_enabled:
                self.sim.receive_data(a, self.now)
            b = self.sim.data_to_send()
            if b and self.board_to_host_enabled:
                self.core.receive_data(b, self.now)
            while (ev := self.core.next_event()) is not None:
                self.events.append(ev)
            if not a and not b:
                return

    def run(self, seconds: float) -> None:
        end = self.now + seconds
        while True:
            timers = [t for t in (self.core.get_timer(), self.sim.get_timer()) if t is not None]
            nxt = min(timers) if timers else end + 1.0
            if nxt > end:
                self.now = end
                self.pump()
                return
            self.now = max(self.now, nxt)
            self.sim.handle_timer(self.now)
            self.core.handle_timer(self.now)
            self.pump()

    def take(self) -> list[BoardEvent]:
        out, self.events = self.events, []
        return out

    def of(self, kind: type) -> list:
        return [e for e in self.events if isinstance(e, kind)]
