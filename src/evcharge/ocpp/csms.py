"""The CSMS role.

A :class:`Csms` accepts many charge points, each over the OCPP version both sides share.  For every
connection it creates one handler object with its ``handler_factory`` -- a subclass of
:class:`CsmsHandler` with ``@on(...)`` methods -- and keeps it in :attr:`Csms.connections` under the
charge point's identity, so the application can call a charge point at any time:

.. code-block:: python

    class Handler(CsmsHandler):
        @on(v201.Action.BOOT_NOTIFICATION)
        async def boot(self, request: v201.BootNotificationRequest) -> v201.BootNotificationResponse:
            return v201.BootNotificationResponse(current_time=now(), interval=300,
                                                 status=v201.RegistrationStatusEnumType.ACCEPTED)

    csms = Csms(CsmsConfig(versions=(v201, v16)), Handler)
    server = await serve_csms(csms, "0.0.0.0", 9000)
    ...
    await csms.connections["CP001"].call(v201.ResetRequest(type=v201.ResetEnumType.IMMEDIATE))

The websocket server itself is :func:`evcharge.ocpp.transport.websocket.serve_csms`.
"""

from __future__ import annotations

import ssl
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from evcharge.ocpp.errors import LocalProtocolError
from evcharge.ocpp.routing import HandlerT, Peer
from evcharge.ocpp.rpc import RpcConfig, VersionModule

__all__ = ["AfterHook", "Csms", "CsmsConfig", "CsmsHandler", "CsmsSecurity", "HandlerFactory", "HandshakeInfo",
           "MinimumProfile", "PasswordCheck", "Trace", "after"]


@dataclass(frozen=True, slots=True, kw_only=True)
class HandshakeInfo:
    """What the CSMS knows of a connecting charge point during the HTTP handshake, before any OCPP message."""

    identity: str  #: the last path segment of the URL
    path: str  #: the request path
    tls: bool  #: the connection runs over TLS
    tls_version: str | None = None  #: e.g. ``"TLSv1.3"``
    client_certificate: bytes | None = None  #: the verified client certificate (DER), if one was presented
    client_common_name: str | None = None  #: its subject's common name
    basic_auth: bool = False  #: an ``Authorization: Basic`` header was sent
    profile: int = 0  #: the security profile this connection uses (0 to 3), told from the above
    remote_address: Any = None  #: the peer's socket address


#: The basic-auth check of profiles 1 and 2, ``(identity, password, info) -> bool`` or an awaitable of it;
#: ``info`` tells the TLS state of the connection (profile 1 on plain ``ws://``, profile 2 over TLS).
PasswordCheck = Callable[[str, str, HandshakeInfo], "bool | Awaitable[bool]"]
#: The lowest security profile a charge point may use, ``identity -> int`` (or an awaitable of it); ``None``: any.
MinimumProfile = Callable[[str], "int | Awaitable[int | None] | None"]
#: The frame trace hook, ``(identity, direction, message)``, direction ``"in"`` or ``"out"``.
Trace = Callable[[str, Literal["in", "out"], str], None]


@dataclass(frozen=True, slots=True, kw_only=True)
class CsmsSecurity:
    """Security profile of the CSMS endpoint.

    * 0: no security (plain ``ws://``, no authentication; tests and labs only);
    * 1: HTTP basic auth over plain ``ws://``;
    * 2: TLS with a server certificate (``ssl_context``) and basic auth;
    * 3: mutual TLS: ``ssl_context`` must require and verify client certificates; with ``verify_cn`` the
      certificate's common name must be the charge point's identity.

    ``profiles`` serves several profiles on one endpoint (``profile`` is then ignored): ``(2, 3)`` on a
    ``wss://`` endpoint (the ``ssl_context`` asks for a client certificate with ``CERT_OPTIONAL``), ``(0, 1)`` on
    ``ws://``.  Each connection's profile is told from what it presents: over TLS an ``Authorization`` header
    means profile 2 (the password is checked), none with a verified client certificate means profile 3; without
    TLS a header means 1, none means 0.  ``minimum_profile`` then refuses a charge point below its own minimum.
    """

    profile: Literal[0, 1, 2, 3] = 0
    check_password: PasswordCheck | None = None
    ssl_context: ssl.SSLContext | None = None
    verify_cn: bool = True
    profiles: tuple[int, ...] = ()  #: the profiles served on this endpoint (``(profile,)`` when empty)
    minimum_profile: MinimumProfile | None = None

    def __post_init__(self) -> None:
        served = self.served_profiles
        if any(p not in (0, 1, 2, 3) for p in served):
            raise LocalProtocolError(f"security profiles are 0 to 3, not {served}")
        tls = any(p in (2, 3) for p in served)
        if tls and any(p in (0, 1) for p in served):
            raise LocalProtocolError("profiles 0 and 1 run without TLS, 2 and 3 with it: serve them on two endpoints")
        if any(p in (1, 2) for p in served) and self.check_password is None:
            raise LocalProtocolError(f"security profiles {served} need check_password")
        if tls and self.ssl_context is None:
            raise LocalProtocolError(f"security profiles {served} need an ssl_context")
        if 3 in served and self.ssl_context is not None and self.ssl_context.verify_mode == ssl.CERT_NONE:
            raise LocalProtocolError("security profile 3 needs ssl_context.verify_mode CERT_REQUIRED or CERT_OPTIONAL")
        if served == (3,) and self.ssl_context is not None and self.ssl_context.verify_mode != ssl.CERT_REQUIRED:
            raise LocalProtocolError("security profile 3 needs ssl_context.verify_mode == CERT_REQUIRED")
        if not tls and self.ssl_context is not None:
            raise LocalProtocolError(f"security profiles {served} run without TLS")

    @property
    def served_profiles(self) -> tuple[int, ...]:
        """The profiles this endpoint accepts."""
        return tuple(self.profiles) if self.profiles else (self.profile,)


@dataclass(frozen=True, slots=True, kw_only=True)
class CsmsConfig:
    """Settings of a CSMS endpoint."""

    versions: tuple[VersionModule, ...]  #: accepted subprotocols, preferred first
    rpc: RpcConfig = field(default_factory=RpcConfig)
    security: CsmsSecurity = field(default_factory=CsmsSecurity)
    ping_interval: float | None = 30.0
    ping_timeout: float | None = 30.0
    close_timeout: float = 10.0  #: seconds a closing handshake may take before the TCP connection is dropped
    compression: bool = False  #: permessage-deflate (costs ~40 KiB per connection)
    max_message_size: int = 2**20
    #: what happens to a client offering none of ``versions``; ``"refuse"`` answers HTTP 400 to its handshake,
    #: ``"accept-close"`` completes the handshake and closes the websocket with 1002 (what some CSMSs do)
    no_subprotocol: Literal["refuse", "accept-close"] = "refuse"
    #: what happens to a second connection of a connected identity; ``"replace"`` closes the older one, ``"keep"``
    #: refuses the new one (HTTP 409 during the handshake)
    duplicate_connection: Literal["replace", "keep"] = "replace"

    def __post_init__(self) -> None:
        if not self.versions:
            raise LocalProtocolError("CsmsConfig.versions is empty")
        if self.no_subprotocol not in ("refuse", "accept-close"):
            raise LocalProtocolError(f"no_subprotocol is 'refuse' or 'accept-close', not {self.no_subprotocol!r}")
        if self.duplicate_connection not in ("replace", "keep"):
            raise LocalProtocolError(f"duplicate_connection is 'replace' or 'keep', not {self.duplicate_connection!r}")

    def version_for(self, subprotocol: str) -> VersionModule | None:
        for v in self.versions:
            if v.SUBPROTOCOL == subprotocol:
                return v
        return None


#: An after-answer hook, ``(self, request, response)``, plain or ``async``.
AfterHook = Callable[..., Any]
_AFTER = "__ocpp_after__"


def after(*actions: str) -> Callable[[HandlerT], HandlerT]:
    """Mark a method of a :class:`CsmsHandler` to run once the answer to an incoming ``actions`` CALL is written.

    The method receives the typed request and the response the handler returned; it runs in its own task after
    the CALLRESULT has gone to the websocket, so it may call the charge point (SignCertificate ->
    CertificateSigned, a TransactionEvent with a seqNo gap -> GetTransactionStatus).  It does not run when the
    CALL was answered with a CALLERROR.
    """
    if not actions:
        raise TypeError("after() needs at least one action")

    def mark(func: HandlerT) -> HandlerT:
        previous: tuple[str, ...] = getattr(func, _AFTER, ())
        setattr(func, _AFTER, previous + tuple(str(a) for a in actions))
        return func

    return mark


class CsmsHandler(Peer):
    """Base class of the CSMS's per-connection handler: subclass it, add ``@on(...)`` handlers and
    :func:`after` hooks."""

    __ocpp_after__: Mapping[str, tuple[str, ...]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        table: dict[str, list[str]] = {}
        for klass in reversed(cls.__mro__):
            for name, value in vars(klass).items():
                for action in getattr(value, _AFTER, ()):
                    names = table.setdefault(action, [])
                    if name not in names:
                        names.append(name)
        cls.__ocpp_after__ = {action: tuple(names) for action, names in table.items()}

    def __init__(self, identity: str, csms: Csms) -> None:
        super().__init__()
        self.identity = identity
        self.csms = csms
        self.handshake: HandshakeInfo | None = None  #: set by the transport before the connection runs

    def after_hooks(self, action: str) -> list[Callable[[Any, Any], Any]]:
        """The bound :func:`after` hooks of ``action`` (used by the transport)."""
        return [getattr(self, name) for name in self.__ocpp_after__.get(str(action), ())]


#: Makes the handler of a new connection, ``(identity, csms) -> CsmsHandler``.
HandlerFactory = Callable[[str, "Csms"], CsmsHandler]


class Csms:
    """The CSMS role: the charge points connected now, each with its handler object."""

    def __init__(
        self,
        config: CsmsConfig,
        handler_factory: HandlerFactory | Mapping[str, HandlerFactory],
        *,
        trace: Trace | None = None,
    ) -> None:
        """``handler_factory`` makes the handler of a new connection: one callable (often the handler class
        itself) for every version, or a mapping from version (``"1.6"``, ``"2.0.1"``, ``"2.1"``) to callable
        when each version has its own handler class.  ``trace`` sees every frame of every connection (a message
        log), ``(identity, "in" | "out", message)``."""
        self.config = config
        self.trace = trace
        self.handler_factory = handler_factory
        if isinstance(handler_factory, Mapping):
            missing = [v.VERSION for v in config.versions if v.VERSION not in handler_factory]
            if missing:
                raise LocalProtocolError(f"no handler factory for OCPP {', '.join(missing)}")
        self._connections: dict[str, CsmsHandler] = {}

    @property
    def connections(self) -> Mapping[str, CsmsHandler]:
        """Handlers of the connected charge points by identity."""
        return self._connections

    def new_handler(self, identity: str, version: VersionModule) -> CsmsHandler:
        """Used by the transport when a charge point connects with ``version``."""
        factory = self.handler_factory
        if isinstance(factory, Mapping):
            factory = factory[version.VERSION]
        return factory(identity, self)

    def connected(self, handler: CsmsHandler) -> CsmsHandler | None:
        """Used by the transport: register ``handler``; returns the handler it replaces (same identity)."""
        old = self._connections.get(handler.identity)
        self._connections[handler.identity] = handler
        return old

    def disconnected(self, handler: CsmsHandler) -> None:
        """Used by the transport: forget ``handler`` (unless a newer connection of the same identity replaced it)."""
        if self._connections.get(handler.identity) is handler:
            del self._connections[handler.identity]

    async def call(self, identity: str, request: Any, *, action: str | None = None, timeout: float | None = None
                   ) -> Any:
        """Call the connected charge point ``identity``; :class:`~evcharge.ocpp.errors.NotConnectedError` if it is
        not connected (now)."""
        peer = self._connections.get(identity)
        if peer is None:
            from evcharge.ocpp.errors import NotConnectedError

            raise NotConnectedError(f"charge point {identity!r} is not connected")
        return await peer.call(request, action=action, timeout=timeout)
