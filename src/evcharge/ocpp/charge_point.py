"""The charge-point role.

Subclass :class:`ChargePoint`, mark the handlers of the CSMS's calls with :func:`~evcharge.ocpp.routing.on`,
and make calls with :meth:`~evcharge.ocpp.routing.Peer.call`:

.. code-block:: python

    from evcharge.ocpp import v201
    from evcharge.ocpp.charge_point import ChargePoint
    from evcharge.ocpp.routing import on

    class MyChargePoint(ChargePoint):
        @on(v201.Action.RESET)
        async def reset(self, request: v201.ResetRequest) -> v201.ResetResponse:
            return v201.ResetResponse(status=v201.ResetStatusEnumType.ACCEPTED)

    cp = MyChargePoint("CP001")
    client = ChargePointClient(cp, "ws://csms.example/ocpp/CP001", ChargePointConfig(versions=(v201,)))
    asyncio.create_task(client.run())           # connects, reconnects with backoff
    await cp.wait_connected()
    response = await cp.call(v201.BootNotificationRequest(...))

The object outlives connections: the transport (:class:`evcharge.ocpp.transport.websocket.ChargePointClient`)
attaches it to each new connection, so handlers, state and subclasses survive a reconnect.  This API is what the
transaction, offline-queue and simulation layers build on: ``call``, ``send``, ``connected``, ``version``,
``wait_connected``, ``on_connected`` / ``on_disconnected``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from evcharge.ocpp.errors import LocalProtocolError
from evcharge.ocpp.routing import Link, Peer
from evcharge.ocpp.rpc import RpcConfig, VersionModule
from evcharge.ocpp.transport.signals import Flag

__all__ = ["Backoff", "BackoffConfig", "ChargePoint", "ChargePointConfig"]


@dataclass(frozen=True, slots=True, kw_only=True)
class BackoffConfig:
    """Reconnect delays: ``min(initial * factor**attempt, maximum)``, then scaled by a random factor in
    ``[1 - jitter, 1 + jitter]``."""

    initial: float = 1.0
    factor: float = 2.0
    maximum: float = 60.0
    jitter: float = 0.25

    def __post_init__(self) -> None:
        if self.initial <= 0 or self.factor < 1 or self.maximum < self.initial or not 0 <= self.jitter < 1:
            raise LocalProtocolError("BackoffConfig: need 0 < initial <= maximum, factor >= 1, 0 <= jitter < 1")


class Backoff:
    """Exponential backoff with jitter (pure: the random source is passed in)."""

    def __init__(self, config: BackoffConfig, rng: random.Random) -> None:
        self.config = config
        self._rng = rng
        self.attempt = 0

    def next_delay(self) -> float:
        """The delay before the next attempt; each call counts one failed attempt."""
        c = self.config
        base = min(c.initial * c.factor ** min(self.attempt, 64), c.maximum)
        self.attempt += 1
        return base * (1.0 + c.jitter * (2.0 * self._rng.random() - 1.0))

    def reset(self) -> None:
        """A connection succeeded: start again from ``initial``."""
        self.attempt = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class ChargePointConfig:
    """Settings of a charge point's connection to its CSMS."""

    versions: tuple[VersionModule, ...]  #: offered subprotocols, preferred first
    rpc: RpcConfig = field(default_factory=RpcConfig)
    backoff: BackoffConfig = field(default_factory=BackoffConfig)
    ping_interval: float | None = 30.0  #: seconds between websocket pings, None for none
    ping_timeout: float | None = 30.0  #: seconds to wait for the pong before closing the connection
    open_timeout: float = 10.0
    close_timeout: float = 10.0  #: seconds a closing handshake may take before the TCP connection is dropped
    compression: bool = False  #: permessage-deflate (costs ~40 KiB per connection)

    def __post_init__(self) -> None:
        if not self.versions:
            raise LocalProtocolError("ChargePointConfig.versions is empty")


class ChargePoint(Peer):
    """Base class of a charge point: subclass it and add ``@on(...)`` handlers for the CSMS's calls."""

    def __init__(self, identity: str) -> None:
        super().__init__()
        if not identity or "/" in identity:
            raise LocalProtocolError(f"invalid charge point identity {identity!r}")
        self.identity = identity
        self._connected_event = Flag()

    def attach(self, link: Link | None) -> None:
        super().attach(link)
        if link is None:
            self._connected_event.clear()
        else:
            self._connected_event.set()

    async def wait_connected(self) -> None:
        """Return once a connection to the CSMS is up."""
        await self._connected_event.wait()
