"""Per-class routing and the pure reconnect backoff."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evcharge.ocpp import v16, v201
from evcharge.ocpp.charge_point import Backoff, BackoffConfig, ChargePoint
from evcharge.ocpp.errors import LocalProtocolError, NotConnectedError
from evcharge.ocpp.routing import Router, action_of, on


class Base(Router):
    @on(v201.Action.RESET)
    def reset(self, request: Any) -> str:
        return "base reset"

    @on("Heartbeat", "StatusNotification")
    async def many(self, request: Any) -> str:
        return "many"


class Child(Base):
    def reset(self, request: Any) -> str:  # overrides without @on: keeps the route
        return "child reset"

    @on(v201.Action.CLEAR_CACHE)
    def clear(self, request: Any) -> str:
        return "clear"


class Unrelated(Router):
    @on(v201.Action.CLEAR_CACHE)
    def other(self, request: Any) -> str:
        return "other"


def test_routes_are_per_class() -> None:
    assert Base.handled_actions() == {"Reset", "Heartbeat", "StatusNotification"}
    assert Child.handled_actions() == {"Reset", "Heartbeat", "StatusNotification", "ClearCache"}
    assert Unrelated.handled_actions() == {"ClearCache"}
    assert Router.handled_actions() == frozenset()
    assert Base().handler_for("ClearCache") is None

    async def main() -> None:
        assert await Child().dispatch("Reset", None) == "child reset"
        assert await Base().dispatch("Reset", None) == "base reset"
        assert await Child().dispatch("StatusNotification", None) == "many"
        assert await Unrelated().dispatch("ClearCache", None) == "other"
        with pytest.raises(LookupError):
            await Base().dispatch("ClearCache", None)

    asyncio.run(main())


def test_on_needs_an_action() -> None:
    with pytest.raises(TypeError):
        on()


def test_action_of() -> None:
    assert action_of(v201.HeartbeatRequest()) == "Heartbeat"
    assert action_of(v16.BootNotificationRequest(charge_point_vendor="a", charge_point_model="b")) == \
        "BootNotification"
    with pytest.raises(LocalProtocolError):
        action_of({"not": "a model"})


def test_charge_point_not_connected() -> None:
    async def main() -> None:
        cp = ChargePoint("CP1")
        assert not cp.connected and cp.version is None
        with pytest.raises(NotConnectedError):
            await cp.call(v201.HeartbeatRequest())
        await cp.close()  # nothing to close

    asyncio.run(main())
    with pytest.raises(LocalProtocolError):
        ChargePoint("a/b")
    with pytest.raises(LocalProtocolError):
        ChargePoint("")


def test_backoff_exponential_capped() -> None:
    b = Backoff(BackoffConfig(initial=1.0, factor=2.0, maximum=10.0, jitter=0.0), random.Random(0))
    assert [b.next_delay() for _ in range(6)] == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]
    b.reset()
    assert b.next_delay() == 1.0


@pytest.mark.property
@given(seed=st.integers(0, 2**32), jitter=st.floats(0.0, 0.9), attempts=st.integers(1, 80))
def test_backoff_jitter_bounds(seed: int, jitter: float, attempts: int) -> None:
    cfg = BackoffConfig(initial=0.5, factor=3.0, maximum=120.0, jitter=jitter)
    b = Backoff(cfg, random.Random(seed))
    for n in range(attempts):
        base = min(0.5 * 3.0**n, 120.0)
        d = b.next_delay()
        assert base * (1 - jitter) <= d <= base * (1 + jitter)


def test_backoff_jitter_spreads_clients() -> None:
    delays = {Backoff(BackoffConfig(jitter=0.25), random.Random(seed)).next_delay() for seed in range(50)}
    assert len(delays) == 50 and min(delays) >= 0.75 and max(delays) <= 1.25


def test_backoff_config_checked() -> None:
    with pytest.raises(LocalProtocolError):
        BackoffConfig(initial=0)
    with pytest.raises(LocalProtocolError):
        BackoffConfig(jitter=1.0)
    with pytest.raises(LocalProtocolError):
        BackoffConfig(initial=10, maximum=5)
