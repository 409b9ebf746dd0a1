"""The shape every protocol core of evcharge has, written once.

A core is a pure state machine: no sockets, no sleeps, no asyncio, no threads, no files. It is fed
bytes and the application's commands, and it hands back bytes to write and events to act on. Time
is an argument.

=================  ===============================================  ==========================================
what               name                                             note
=================  ===============================================  ==========================================
bytes in           ``receive_data(data, now)``                      one frame for frame links (SLAC frame,
                                                                    OCPP text message), any chunk for streams
                                                                    (V2GTP over TCP, serial)
the app's wishes   ``send(command, now)``                           commands are frozen dataclasses
bytes out          ``data_to_send() -> list[bytes]``                one item per frame or datagram; a stream
                                                                    transport joins them
what happened      ``next_event() -> Event | None``                 ``None`` when there is nothing more
timers             ``get_timer() -> float | None``,                 the transport calls ``handle_timer`` at
                   ``handle_timer(now)``                            (or after) the time ``get_timer`` gave
state              ``state``                                        the enum of the package's ``states.py``
errors             :mod:`evcharge.errors`                           ``LocalProtocolError`` (misuse),
                                                                    ``RemoteProtocolError`` (bad peer) with
                                                                    ``hint``: what the protocol answers
=================  ===============================================  ==========================================

**Time.** ``now`` is always *monotonic seconds* as a ``float``, from the transport's clock
(``time.monotonic()`` under asyncio, a simulated clock in tests). A charger boots with a wrong wall
clock and NTP moves it later: timers must not move with it. Wall time for messages (OCPP timestamps,
ISO 15118 schedules) comes from one place, :class:`evcharge.clock.WallClock`, which maps ``now`` to
UTC.

A core whose input is not bytes (the IEC 61851 pilot machines take pilot observations) follows
:class:`Core`; a core on a wire follows :class:`WireCore`. Both are checked by mypy
(``tests/foundation/test_vocabulary.py`` holds every core against them).
"""

from __future__ import annotations

from typing import Protocol, TypeVar, runtime_checkable

__all__ = ["Core", "WireCore"]

CommandT_contra = TypeVar("CommandT_contra", contravariant=True)
EventT_co = TypeVar("EventT_co", covariant=True)
StateT_co = TypeVar("StateT_co", covariant=True)


@runtime_checkable
class Core(Protocol[CommandT_contra, EventT_co, StateT_co]):
    """Commands and time in, events out, timers asked for."""

    def send(self, command: CommandT_contra, now: float) -> None:
        """The application's wish; raises ``LocalProtocolError`` when the state does not allow it."""

    def next_event(self) -> EventT_co | None:
        """The next thing the application must know, or ``None``."""

    def get_timer(self) -> float | None:
        """The ``now`` at which :meth:`handle_timer` must be called, or ``None`` when no timer runs."""

    def handle_timer(self, now: float) -> None:
        """Let time pass: fire every timer due at ``now``."""

    @property
    def state(self) -> StateT_co:
        """The present state (an enum)."""


@runtime_checkable
class WireCore(Core[CommandT_contra, EventT_co, StateT_co], Protocol[CommandT_contra, EventT_co, StateT_co]):
    """A :class:`Core` on a wire: bytes in, bytes out."""

    def receive_data(self, data: bytes, now: float) -> None:
        """Bytes from the peer: one frame on frame links, any chunk on streams.

        Bad input raises ``RemoteProtocolError`` (with ``hint``) or becomes the protocol's own answer
        in :meth:`data_to_send`; it never crashes the core.
        """

    def data_to_send(self) -> list[bytes]:
        """Everything to write, in order, one item per frame or datagram; empties the queue."""
