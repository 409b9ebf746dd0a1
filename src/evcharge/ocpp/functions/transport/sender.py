"""Drain an :class:`~evcharge.ocpp.functions.offline_queue.OfflineQueue` through a connected charge point.

:class:`QueueSender` is the loop-side part only: it waits for a connection, asks the queue what to send, makes
the call and reports the outcome.  Every decision (order, retry, back-off, dropping) is the queue's.

.. code-block:: python

    sender = QueueSender(charge_point, queue)
    task = asyncio.create_task(sender.run())
    ...
    route(manager.messages(), queue, online=charge_point.connected)
    sender.wake()
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from evcharge.ocpp.charge_point import ChargePoint
from evcharge.ocpp.errors import (
    CallTimeoutError,
    InvalidResponseError,
    LocalProtocolError,
    NotConnectedError,
    OcppCallError,
)
from evcharge.ocpp.functions.offline_queue import MessageDropped, OfflineQueue, QueuedMessage

__all__ = ["QueueSender"]

log = logging.getLogger("evcharge.ocpp.functions")


class QueueSender:
    """Sends the queued transaction messages in order whenever the charge point is connected."""

    def __init__(self, charge_point: ChargePoint, queue: OfflineQueue, *,
                 clock: Callable[[], float] = time.monotonic,
                 on_acknowledged: Callable[[QueuedMessage, Mapping[str, Any]], None] | None = None,
                 ready: Callable[[], bool] | None = None) -> None:
        """``on_acknowledged(message, response_json)`` runs after each acknowledgement (for example to act on
        the ``idTokenInfo`` of a TransactionEvent answer); while ``ready()`` is false nothing is sent (for
        example until the BootNotification is accepted) -- call :meth:`wake` when it turns true."""
        self.charge_point = charge_point
        self.queue = queue
        self._clock = clock
        self._on_acknowledged = on_acknowledged
        self._ready = ready
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self.sent = 0  #: CALLs made (retransmissions included)

    def wake(self) -> None:
        """New messages were enqueued."""
        self._idle.clear()
        self._wake.set()

    async def drained(self) -> None:
        """Return once the queue is empty (and nothing is in flight)."""
        while True:
            await self._idle.wait()
            if len(self.queue) == 0:
                return
            self._idle.clear()

    async def run(self) -> None:
        """Serve until cancelled."""
        cp, queue = self.charge_point, self.queue
        while True:
            if not cp.connected:
                if queue.online:
                    queue.disconnected(self._clock())
                await cp.wait_connected()
            if self._ready is not None and not self._ready():
                self._wake.clear()
                if not self._ready():
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(1.0):  # and look at the connection again
                            await self._wake.wait()
                continue
            if not queue.online:
                queue.connected(self._clock())
            message = queue.next_message(self._clock())
            if message is None:
                self._wake.clear()
                if len(queue) == 0:
                    self._idle.set()
                due = queue.get_timer()
                timeout = None if due is None else max(0.0, due - self._clock())
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(timeout):  # not wait_for: it can swallow a cancellation (3.11)
                        await self._wake.wait()
                if due is not None:
                    queue.handle_timer(self._clock())
                continue
            self.sent += 1
            try:
                response = await cp.call(message.payload, action=message.action)
            except OcppCallError as exc:
                self._report(queue.failed(message.message_id, self._clock(), exc.code))
            except (InvalidResponseError, LocalProtocolError) as exc:
                self._report(queue.failed(message.message_id, self._clock(), f"{type(exc).__name__}: {exc}"))
            except (NotConnectedError, CallTimeoutError, ConnectionError):
                # the answer may be lost: the message stays at the head and goes again, unchanged
                queue.disconnected(self._clock())
            else:
                answer = _as_json(response)
                acknowledged = queue.acknowledged(message.message_id, answer)
                if self._on_acknowledged is not None:
                    self._on_acknowledged(acknowledged, answer)


    @staticmethod
    def _report(dropped: MessageDropped | None) -> None:
        if dropped is not None:  # also in queue.next_event() and queue.dead_letters() for the application
            log.warning("%s %s given up: %s", dropped.message.action, dropped.message.message_id, dropped.reason)


def _as_json(response: Any) -> Mapping[str, Any]:
    if hasattr(response, "to_json"):
        result: Mapping[str, Any] = response.to_json()
        return result
    if isinstance(response, Mapping):
        return response
    return {}
