"""The persistent queue of transaction-related messages (OCPP 1.6 section 4.10 / 2.0.1 E, "Offline behaviour").

Every transaction message (1.6 ``StartTransaction``, ``StopTransaction``, transaction ``MeterValues``; 2.0.1
``TransactionEvent``) goes through this queue, online or not, so that the CSMS sees them in the order they
happened.  The queue lives in an injected store; with the SQLite store it is committed on every change, so
it survives a lost connection, a crash and a restart of the process.

Guarantees:

* **in order** -- only the oldest message is ever in flight (one outstanding CALL per direction);
* **no duplicates** -- a message is deleted in the same store transaction that records its acknowledgement, so an
  acknowledged message is never sent again.  A message whose answer was lost with the connection is sent again
  unchanged (same payload: same ``transactionId`` and ``seqNo`` in 2.0.1, same timestamps in 1.6), so a CSMS can
  recognise the copy (the same holds for the one copy a crash between an answer's arrival and its commit can
  cause); ``message_id`` names the message locally and stays the same across retries and restarts;
* **no loss** -- a message leaves the queue only when acknowledged, or, after the CSMS answered it with a
  CALLERROR ``retry_attempts`` times, by moving to the dead-letter table with a :class:`MessageDropped` event
  the application must look at.  A lost connection never counts as a failed attempt.

The queue is sans-I/O (its store is passed in): the charge point asks :meth:`~OfflineQueue.next_message`
what to send, reports the outcome (:meth:`~OfflineQueue.acknowledged`, :meth:`~OfflineQueue.failed`,
:meth:`~OfflineQueue.disconnected`) and calls :meth:`~OfflineQueue.handle_timer` when
:meth:`~OfflineQueue.get_timer` says so.  ``now`` is any monotonic-enough clock in seconds.

1.6 ``StartTransaction`` queued offline has no ``transactionId`` yet: enqueue the transaction's later messages with
the same ``tx_ref`` and no ``transactionId``; when the ``StartTransaction`` is acknowledged, the queue fills in the
``transactionId`` the CSMS gave (atomically with the acknowledgement).
"""

from __future__ import annotations

import uuid
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ._common import FunctionsLocalError
from .storage import MemoryStore, StateStore

# the store's tables: seq (12 digits) -> message; seq -> message and reason; tx_ref -> transactionId; "next_seq"
_QUEUE, _DEAD, _BINDING, _META = "queue", "dead_letters", "tx_binding", "queue_meta"

TRANSACTION_ACTIONS_16 = frozenset({"StartTransaction", "StopTransaction"})
TRANSACTION_ACTIONS_201 = frozenset({"TransactionEvent"})


def is_transaction_message(version: str, action: str, payload: Mapping[str, Any]) -> bool:
    """Whether a message belongs in the offline queue (everything else is not sent while offline).

    1.6: Start/StopTransaction and MeterValues that carry a ``transactionId``; 2.0.1/2.1: TransactionEvent.
    """
    if version == "1.6":
        return action in TRANSACTION_ACTIONS_16 or (action == "MeterValues" and "transactionId" in payload)
    return action in TRANSACTION_ACTIONS_201


@dataclass(frozen=True, slots=True, kw_only=True)
class OfflineQueueConfig:
    """1.6: TransactionMessageAttempts / TransactionMessageRetryInterval; 2.0.1: OCPPCommCtrlr
    MessageAttempts / MessageAttemptInterval (TransactionEvent instances)."""

    retry_attempts: int = 3
    retry_interval: float = 60.0  # the n-th retry waits n * retry_interval after the failure
    max_messages: int | None = None  # None: unlimited; enqueue beyond it raises (never drops)


@dataclass(frozen=True, slots=True)
class QueuedMessage:
    """A message in the queue: ``seq`` orders it, ``attempts`` counts the CALLERRORs it got."""

    seq: int
    message_id: str
    action: str
    payload: dict[str, Any]
    tx_ref: str | None
    attempts: int


@dataclass(frozen=True, slots=True)
class MessageDropped:
    """A message left the queue without an acknowledgement: the application must handle (log, report) it."""

    message: QueuedMessage
    reason: str


class OfflineQueue:
    """An ordered, persistent, exactly-once queue of transaction messages in an injected store."""

    def __init__(self, config: OfflineQueueConfig | None = None, *, store: StateStore | None = None) -> None:
        """``store`` keeps the queue across a crash or restart (:class:`~evcharge.ocpp.functions.storage.MemoryStore`
        when ``None``: the order and exactly-once guarantees then hold only within the process)."""
        self.config = config or OfflineQueueConfig()
        if self.config.retry_attempts < 1:
            raise FunctionsLocalError("retry_attempts must be at least 1")
        self._db: StateStore = store if store is not None else MemoryStore()
        self._online = False
        self._in_flight: str | None = None
        self._not_before = 0.0  # retry back-off of the head message
        self._events: deque[MessageDropped] = deque()

    def close(self) -> None:
        """Close the store."""
        self._db.close()

    # ------------------------------------------------------------ filling

    def enqueue(self, action: str, payload: Mapping[str, Any], *, tx_ref: str | None = None) -> QueuedMessage:
        """Append a message; it is on disk when this returns."""
        if self.config.max_messages is not None and len(self) >= self.config.max_messages:
            raise FunctionsLocalError(f"offline queue full ({self.config.max_messages} messages)")
        body = dict(payload)
        if tx_ref is not None:
            bound = self._db.get(_BINDING, tx_ref)
            if bound is not None:
                body["transactionId"] = bound
        message_id = str(uuid.uuid4())
        with self._db.transaction():
            seq = int(self._db.get(_META, "next_seq") or 1)
            self._db.put(_META, "next_seq", seq + 1)  # never reused, like an AUTOINCREMENT key
            msg = QueuedMessage(seq, message_id, action, body, tx_ref, 0)
            self._db.put(_QUEUE, _key(seq), _value(msg))
        return msg

    def __len__(self) -> int:
        return self._db.count(_QUEUE)

    def pending(self) -> list[QueuedMessage]:
        """Every unacknowledged message, oldest first."""
        return [_message(k, v) for k, v in self._db.items(_QUEUE)]

    def dead_letters(self) -> list[tuple[QueuedMessage, str]]:
        """Messages given up after their attempts, with the reason, oldest first."""
        return [(_message(k, v), str(v["reason"])) for k, v in self._db.items(_DEAD)]

    def transaction_id_of(self, tx_ref: str) -> Any:
        """The CSMS's transactionId bound to a local ``tx_ref`` (``None`` while its start is unacknowledged)."""
        return self._db.get(_BINDING, tx_ref)

    # ------------------------------------------------------------ connection state

    @property
    def online(self) -> bool:
        """Whether :meth:`connected` was called since the last :meth:`disconnected`."""
        return self._online

    @property
    def in_flight(self) -> str | None:
        """Message id of the message sent and not yet answered."""
        return self._in_flight

    def connected(self, now: float) -> None:
        """The websocket is up: replay starts at once, with the retry back-off of a failed head message kept."""
        self._online = True

    def disconnected(self, now: float) -> None:
        """The connection is gone: the message in flight goes back to the head, no attempt is counted."""
        self._online = False
        self._in_flight = None

    # ------------------------------------------------------------ sending

    def next_message(self, now: float) -> QueuedMessage | None:
        """The message to send now, or ``None``; the returned message is in flight until its outcome is reported."""
        if not self._online or self._in_flight is not None or now < self._not_before:
            return None
        head = self._head()
        if head is None:
            return None
        self._in_flight = head.message_id
        return head

    def acknowledged(self, message_id: str, response: Mapping[str, Any] | None = None) -> QueuedMessage:
        """The CSMS answered with a CALLRESULT: the message is deleted, never to be sent again.

        For a 1.6 ``StartTransaction`` with a ``tx_ref``, the ``transactionId`` of ``response`` is written into
        the transaction's queued messages in the same store transaction.
        """
        msg = self._take_in_flight(message_id)
        with self._db.transaction():
            self._db.delete(_QUEUE, _key(msg.seq))
            if msg.action == "StartTransaction" and msg.tx_ref is not None and response is not None:
                tx_id = response.get("transactionId")
                if tx_id is not None:
                    self._bind(msg.tx_ref, tx_id)
        self._not_before = 0.0
        return msg

    def failed(self, message_id: str, now: float, reason: str = "CALLERROR") -> MessageDropped | None:
        """The CSMS answered with a CALLERROR (could not process it): retry later, or give up after
        ``retry_attempts`` and return the :class:`MessageDropped` event (also in :meth:`~OfflineQueue.next_event`)."""
        msg = self._take_in_flight(message_id)
        attempts = msg.attempts + 1
        if attempts < self.config.retry_attempts:
            self._db.put(_QUEUE, _key(msg.seq), _value(_with_attempts(msg, attempts)))
            self._not_before = now + self.config.retry_interval * attempts
            return None
        dropped = MessageDropped(_with_attempts(msg, attempts), f"{reason} after {attempts} attempts")
        with self._db.transaction():
            self._dead(dropped)
            if msg.action == "StartTransaction" and msg.tx_ref is not None:
                # the transaction's later messages cannot be sent without the transactionId the CSMS never gave
                for m in self.pending():
                    if m.tx_ref == msg.tx_ref:
                        self._dead(MessageDropped(m, "StartTransaction of this transaction was dropped"))
        self._not_before = 0.0
        return dropped

    def next_event(self) -> MessageDropped | None:
        """The next :class:`MessageDropped` event not yet taken, or ``None``."""
        return self._events.popleft() if self._events else None

    def get_timer(self) -> float | None:
        """When :meth:`next_message` may next return a message during a retry back-off."""
        if self._online and self._in_flight is None and self._not_before > 0 and len(self):
            return self._not_before
        return None

    def handle_timer(self, now: float) -> None:
        """Nothing to do but to be called: the charge point then asks :meth:`next_message` again."""

    # ------------------------------------------------------------ internals

    def _head(self) -> QueuedMessage | None:
        first = self._db.first(_QUEUE)
        return None if first is None else _message(*first)

    def _take_in_flight(self, message_id: str) -> QueuedMessage:
        if self._in_flight != message_id:
            raise FunctionsLocalError(f"message {message_id!r} is not the one in flight ({self._in_flight!r})")
        self._in_flight = None
        head = self._head()  # the one in flight is always the head
        if head is None or head.message_id != message_id:  # pragma: no cover - only if someone else edited the store
            raise FunctionsLocalError(f"message {message_id!r} is not in the queue")
        return head

    def _bind(self, tx_ref: str, transaction_id: Any) -> None:
        self._db.put(_BINDING, tx_ref, transaction_id)
        for m in self.pending():
            if m.tx_ref == tx_ref:
                body = dict(m.payload)
                body["transactionId"] = transaction_id
                self._db.put(_QUEUE, _key(m.seq), _value(QueuedMessage(m.seq, m.message_id, m.action, body, m.tx_ref,
                                                                       m.attempts)))

    def _dead(self, event: MessageDropped) -> None:
        m = event.message
        self._db.delete(_QUEUE, _key(m.seq))
        self._db.put(_DEAD, _key(m.seq), {**_value(m), "reason": event.reason})
        self._events.append(event)


def _key(seq: int) -> str:
    return f"{seq:012d}"  # ordered as text = ordered as numbers


def _value(m: QueuedMessage) -> dict[str, Any]:
    return {"message_id": m.message_id, "action": m.action, "payload": m.payload, "tx_ref": m.tx_ref,
            "attempts": m.attempts}


def _message(key: str, v: Mapping[str, Any]) -> QueuedMessage:
    return QueuedMessage(int(key), str(v["message_id"]), str(v["action"]), dict(v["payload"]), v["tx_ref"],
                         int(v["attempts"]))


def _with_attempts(m: QueuedMessage, attempts: int) -> QueuedMessage:
    return QueuedMessage(m.seq, m.message_id, m.action, m.payload, m.tx_ref, attempts)


__all__ = [
    "MessageDropped",
    "OfflineQueue",
    "OfflineQueueConfig",
    "QueuedMessage",
    "is_transaction_message",
]
