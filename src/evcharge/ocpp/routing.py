"""Per-class routing of incoming OCPP calls to handler methods.

Mark methods of a role class with :func:`on`; every instance of that class (and of its subclasses)
answers those actions.  The table is built once per class when the class is created and stored on
the class itself: there is no module-global registry, and two classes never see each other's handlers.

.. code-block:: python

    class MyCsms(CsmsHandler):
        @on(Action.BOOT_NOTIFICATION)
        async def boot(self, request: BootNotificationRequest) -> BootNotificationResponse:
            ...

A handler receives the typed request object and returns the typed response object (or a JSON
mapping).  It may be ``async`` or plain.  To answer with a CALLERROR it raises
:class:`~evcharge.ocpp.errors.OcppCallError`; any other exception becomes an ``InternalError``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, Protocol, TypeVar

from evcharge.ocpp.errors import LocalProtocolError, NotConnectedError
from evcharge.ocpp.rpc import VersionModule

__all__ = ["HandlerT", "Link", "Peer", "Router", "action_of", "on"]

#: A handler function (a type variable: :func:`on` returns the function it marks unchanged).
HandlerT = TypeVar("HandlerT", bound=Callable[..., Any])
_ATTR = "__ocpp_actions__"


def on(*actions: str) -> Callable[[HandlerT], HandlerT]:
    """Mark a method as the handler of the incoming CALL (or 2.1 SEND) ``actions``."""
    if not actions:
        raise TypeError("on() needs at least one action")

    def mark(func: HandlerT) -> HandlerT:
        previous: tuple[str, ...] = getattr(func, _ATTR, ())
        setattr(func, _ATTR, previous + tuple(str(a) for a in actions))
        return func

    return mark


class Router:
    """Base class of the two roles: collects the :func:`on` handlers of each subclass."""

    __ocpp_handlers__: Mapping[str, str] = MappingProxyType({})

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        table: dict[str, str] = {}
        for klass in reversed(cls.__mro__):
            for name, value in vars(klass).items():
                func = value.__func__ if isinstance(value, staticmethod | classmethod) else value
                for action in getattr(func, _ATTR, ()):
                    table[action] = name  # an override without @on keeps its base class's actions
        cls.__ocpp_handlers__ = MappingProxyType(table)

    @classmethod
    def handled_actions(cls) -> frozenset[str]:
        """The actions this class has a handler for."""
        return frozenset(cls.__ocpp_handlers__)

    def handler_for(self, action: str) -> Callable[[Any], Any] | None:
        """The bound handler method of ``action``, or ``None``."""
        name = self.__ocpp_handlers__.get(str(action))
        if name is None:
            return None
        method: Callable[[Any], Any] = getattr(self, name)
        return method

    async def dispatch(self, action: str, request: Any) -> Any:
        """Run the handler of ``action``; ``LookupError`` if there is none."""
        handler = self.handler_for(action)
        if handler is None:
            raise LookupError(action)
        result = handler(request)
        if inspect.isawaitable(result):
            result = await result
        return result


class Link(Protocol):
    """What a :class:`Peer` needs of the connection it is attached to (``transport.session.OcppSession``)."""

    @property
    def version(self) -> VersionModule: ...

    async def call(self, action: str, request: Any, timeout: float | None = None) -> Any: ...

    async def send(self, action: str, request: Any) -> None: ...

    async def close(self) -> None: ...


def action_of(request: Any) -> str:
    """The action of a request model object: its class name without the ``Request`` suffix."""
    name = type(request).__name__
    if not name.endswith("Request") or name == "Request":
        raise LocalProtocolError(f"cannot tell the action of a {name}: pass action=...")
    return name[: -len("Request")]


class Peer(Router):
    """The part both roles share: handlers (see :class:`Router`) and calls to the other side.

    A peer is attached to at most one connection at a time (the charge point gets a new one after each
    reconnect); :meth:`call` raises :class:`~evcharge.ocpp.errors.NotConnectedError` while it has none.
    """

    def __init__(self) -> None:
        self._link: Link | None = None

    # -- connection state (set by the transport) ---------------------------------------------------

    def attach(self, link: Link | None) -> None:
        """Used by the transport: bind the peer to a connection (``None`` when it is gone)."""
        self._link = link

    @property
    def connected(self) -> bool:
        return self._link is not None

    @property
    def version(self) -> VersionModule | None:
        """The version module negotiated on the present connection (``None`` when not connected)."""
        return self._link.version if self._link is not None else None

    # -- calls to the other side -------------------------------------------------------------------

    async def call(self, request: Any, *, action: str | None = None, timeout: float | None = None) -> Any:
        """Send a CALL and return the peer's typed response.

        ``request`` is a request model object of the connection's version (the action is its class name
        without ``Request``) or a JSON mapping together with ``action``.  Raises
        :class:`~evcharge.ocpp.errors.OcppCallError` (CALLERROR), ``InvalidResponseError``,
        ``CallTimeoutError`` or ``NotConnectedError``; ``LocalProtocolError`` for a request that breaks
        the schema.  Calls made while another is outstanding wait their turn.  ``timeout`` (seconds) overrides
        the connection's response timeout for this call.
        """
        link = self._link
        if link is None:
            raise NotConnectedError("not connected")
        return await link.call(action if action is not None else action_of(request), request, timeout)

    async def send(self, request: Any, *, action: str | None = None) -> None:
        """OCPP 2.1 SEND: deliver ``request`` without expecting an answer."""
        link = self._link
        if link is None:
            raise NotConnectedError("not connected")
        await link.send(action if action is not None else action_of(request), request)

    async def close(self) -> None:
        """Close the present connection (no-op when there is none); a charge point's client reconnects."""
        link = self._link
        if link is not None:
            await link.close()

    # -- hooks ------------------------------------------------------------------------------------

    async def on_connected(self) -> None:
        """Called when a connection is up (the version is known); override as needed."""

    async def on_disconnected(self) -> None:
        """Called when the connection is gone; override as needed."""

    def on_protocol_violation(self, description: str) -> None:
        """Called when the peer breaks the protocol (the answer, if any, has been sent)."""

    def on_result_error(self, action: str | None, code: str, description: str) -> None:
        """OCPP 2.1: called when the peer could not process the CALLRESULT we sent for its ``action``."""
