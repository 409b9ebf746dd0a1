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
from evcharge.ocpp.routing import Peer
from evcharge.ocpp.rpc import RpcConfig, VersionModule

__all__ = ["Csms", "CsmsConfig", "CsmsHandler", "CsmsSecurity", "HandlerFactory", "PasswordCheck"]

#: The basic-auth check of profiles 1 and 2, ``(identity, password) -> bool`` or an awaitable of it.
PasswordCheck = Callable[[str, str], "bool | Awaitable[bool]"]


@dataclass(frozen=True, slots=True, kw_only=True)
class CsmsSecurity:
    """Security profile of the CSMS endpoint.

    * 0: no security (plain ``ws://``, no authentication; tests and labs only);
    * 1: HTTP basic auth over plain ``ws://``;
    * 2: TLS with a server certificate (``ssl_context``) and basic auth;
    * 3: mutual TLS: ``ssl_context`` must require and verify client certificates; with ``verify_cn`` the
      certificate's common name must be the charge point's identity.
    """

    profile: Literal[0, 1, 2, 3] = 0
    check_password: PasswordCheck | None = None
    ssl_context: ssl.SSLContext | None = None
    verify_cn: bool = True

    def __post_init__(self) -> None:
        if self.profile in (1, 2) and self.check_password is None:
            raise LocalProtocolError(f"security profile {self.profile} needs check_password")
        if self.profile in (2, 3) and self.ssl_context is None:
            raise LocalProtocolError(f"security profile {self.profile} needs an ssl_context")
        if self.profile == 3 and self.ssl_context is not None and self.ssl_context.verify_mode != ssl.CERT_REQUIRED:
            raise LocalProtocolError("security profile 3 needs ssl_context.verify_mode == CERT_REQUIRED")
        if self.profile in (0, 1) and self.ssl_context is not None:
            raise LocalProtocolError(f"security profile {self.profile} runs without TLS")


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

    def __post_init__(self) -> None:
        if not self.versions:
            raise LocalProtocolError("CsmsConfig.versions is empty")

    def version_for(self, subprotocol: str) -> VersionModule | None:
        for v in self.versions:
            if v.SUBPROTOCOL == subprotocol:
                return v
        return None


class CsmsHandler(Peer):
    """Base class of the CSMS's per-connection handler: subclass it, add ``@on(...)`` handlers."""

    def __init__(self, identity: str, csms: Csms) -> None:
        super().__init__()
        self.identity = identity
        self.csms = csms


#: Makes the handler of a new connection, ``(identity, csms) -> CsmsHandler``.
HandlerFactory = Callable[[str, "Csms"], CsmsHandler]


class Csms:
    """The CSMS role: the charge points connected now, each with its handler object."""

    def __init__(
        self,
        config: CsmsConfig,
        handler_factory: HandlerFactory | Mapping[str, HandlerFactory],
    ) -> None:
        """``handler_factory`` makes the handler of a new connection: one callable (often the handler class
        itself) for every version, or a mapping from version (``"1.6"``, ``"2.0.1"``, ``"2.1"``) to callable
        when each version has its own handler class."""
        self.config = config
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
        """Call the connected charge point ``identity`` (``KeyError`` if it is not connected)."""
        return await self._connections[identity].call(request, action=action, timeout=timeout)
