"""OCPP-J over ``websockets`` (asyncio): the CSMS endpoint and the charge-point client.

* :func:`serve_csms` listens for charge points: the identity is the last path segment of the URL, the
  subprotocol is negotiated among the :class:`~evcharge.ocpp.csms.CsmsConfig` versions (the charge point's
  preference order wins), basic auth (profiles 1, 2) and the client certificate (profile 3) are checked
  during the HTTP handshake, before any OCPP message.
* :class:`ChargePointClient` connects a :class:`~evcharge.ocpp.charge_point.ChargePoint` and reconnects
  with exponential backoff and jitter after every failure or disconnection.

Ping/pong is websockets' own (``ping_interval`` / ``ping_timeout`` of the configs).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import http
import logging
import random
import ssl
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import quote, unquote, urlsplit

from evcharge.ocpp.charge_point import Backoff, ChargePoint, ChargePointConfig
from evcharge.ocpp.csms import Csms
from evcharge.ocpp.errors import LocalProtocolError
from evcharge.ocpp.rpc import VersionModule
from evcharge.ocpp.transport.session import OcppSession

__all__ = ["ChargePointClient", "ClientSecurity", "identity_from_path", "serve_csms"]

log = logging.getLogger("evcharge.ocpp")


def identity_from_path(path: str) -> str:
    """The charge point identity: the last non-empty segment of the request path, URL-decoded."""
    path = urlsplit(path).path
    segments = [s for s in path.split("/") if s]
    return unquote(segments[-1]) if segments else ""


def _common_name(cert: dict[str, Any] | None) -> str | None:
    if not cert:
        return None
    for rdn in cert.get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                return str(value)
    return None


# ---------------------------------------------------------------------------------------------- CSMS


async def serve_csms(csms: Csms, host: str | None, port: int, **kwargs: Any) -> Any:
    """Start the CSMS websocket server; returns the ``websockets`` server (``close()``, ``sockets``...).

    Extra keyword arguments go to :func:`websockets.asyncio.server.serve`.
    """
    from websockets.asyncio.server import ServerConnection, serve
    from websockets.exceptions import InvalidHeader
    from websockets.headers import build_www_authenticate_basic, parse_authorization_basic
    from websockets.http11 import Request, Response

    config = csms.config
    sec = config.security
    offered = [v.SUBPROTOCOL for v in config.versions]

    def select_subprotocol(connection: ServerConnection, subprotocols: Sequence[str]) -> Any:
        for proto in subprotocols:  # the charge point's preference order
            if proto in offered:
                return proto
        return None  # the handler closes such a connection

    def unauthorized(connection: ServerConnection, text: str) -> Response:
        response = connection.respond(http.HTTPStatus.UNAUTHORIZED, text + "\n")
        response.headers["WWW-Authenticate"] = build_www_authenticate_basic("OCPP")
        return response

    async def process_request(connection: ServerConnection, request: Request) -> Response | None:
        identity = identity_from_path(request.path)
        if not identity:
            return connection.respond(http.HTTPStatus.NOT_FOUND, "no charge point identity in the URL path\n")
        if sec.profile == 3 and sec.verify_cn:
            cn = _common_name(connection.transport.get_extra_info("peercert"))
            if cn != identity:
                return connection.respond(http.HTTPStatus.FORBIDDEN, "client certificate does not match\n")
        if sec.profile in (1, 2):
            assert sec.check_password is not None
            try:
                username, password = parse_authorization_basic(request.headers["Authorization"])
            except KeyError:
                return unauthorized(connection, "missing credentials")
            except InvalidHeader:
                return unauthorized(connection, "unsupported credentials")
            if username != identity:
                return unauthorized(connection, "the user name must be the charge point identity")
            ok = sec.check_password(identity, password)
            if not isinstance(ok, bool):
                ok = await ok
            if not ok:
                return unauthorized(connection, "invalid credentials")
        return None

    async def handler(connection: ServerConnection) -> None:
        version = config.version_for(connection.subprotocol or "")
        assert connection.request is not None
        identity = identity_from_path(connection.request.path)
        if version is None:
            await connection.close(1002, "no common OCPP subprotocol")
            return
        peer = csms.new_handler(identity, version)
        session = OcppSession(connection, version, peer, config.rpc)
        old = csms.connected(peer)
        if old is not None and old.connected:
            log.info("charge point %s reconnected: closing its previous connection", identity)
            with contextlib.suppress(Exception):
                await old.close()
        try:
            await session.run()
        finally:
            csms.disconnected(peer)

    return await serve(
        handler,
        host,
        port,
        subprotocols=offered,  # type: ignore[arg-type]
        select_subprotocol=select_subprotocol,
        process_request=process_request,
        ssl=sec.ssl_context,
        compression="deflate" if config.compression else None,
        ping_interval=config.ping_interval,
        ping_timeout=config.ping_timeout,
        close_timeout=config.close_timeout,
        max_size=config.max_message_size,
        **kwargs,
    )


# ---------------------------------------------------------------------------------------------- charge point


@dataclass(frozen=True, slots=True, kw_only=True)
class ClientSecurity:
    """Security profile of the charge point's connection.

    * 0: none (plain ``ws://``; tests and labs only);
    * 1: basic auth (user name = identity, ``password``) over plain ``ws://``;
    * 2: ``wss://`` verified against ``ssl_context``'s CAs, plus basic auth;
    * 3: ``wss://`` with the charge point's certificate loaded into ``ssl_context`` (mutual TLS).
    """

    profile: Literal[0, 1, 2, 3] = 0
    password: str | None = None
    ssl_context: ssl.SSLContext | None = None

    def __post_init__(self) -> None:
        if self.profile in (1, 2) and not self.password:
            raise LocalProtocolError(f"security profile {self.profile} needs a password")
        if self.profile in (2, 3) and self.ssl_context is None:
            raise LocalProtocolError(f"security profile {self.profile} needs an ssl_context")
        if self.profile in (0, 1) and self.ssl_context is not None:
            raise LocalProtocolError(f"security profile {self.profile} runs without TLS")


class ChargePointClient:
    """Keeps a :class:`~evcharge.ocpp.charge_point.ChargePoint` connected to its CSMS.

    ``url`` is the CSMS endpoint; the charge point's identity is appended as the last path segment unless
    it is already there.  ``rng`` and ``sleep`` are injectable for tests (jitter, backoff delays).
    """

    def __init__(
        self,
        charge_point: ChargePoint,
        url: str,
        config: ChargePointConfig,
        *,
        security: ClientSecurity | None = None,
        rng: random.Random | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.charge_point = charge_point
        self.config = config
        self.security = security if security is not None else ClientSecurity()
        scheme = urlsplit(url).scheme
        want = "wss" if self.security.profile in (2, 3) else "ws"
        if scheme != want:
            raise LocalProtocolError(f"security profile {self.security.profile} needs a {want}:// URL, not {url!r}")
        if identity_from_path(url) != charge_point.identity:
            url = url.rstrip("/") + "/" + quote(charge_point.identity, safe="")
        self.url = url
        self._rng = rng if rng is not None else random.Random()
        self._sleep = sleep
        self.backoff = Backoff(config.backoff, self._rng)
        self.session: OcppSession | None = None
        self.connections = 0  #: successful connections so far
        self._stopping = False

    def _headers(self) -> dict[str, str]:
        if self.security.profile in (1, 2):
            token = f"{self.charge_point.identity}:{self.security.password}".encode()
            return {"Authorization": "Basic " + base64.b64encode(token).decode("ascii")}
        return {}

    async def connect(self) -> OcppSession:
        """Open one connection (no retry) and attach the charge point; ``run_session`` serves it."""
        from websockets.asyncio.client import connect

        ws = await connect(
            self.url,
            subprotocols=[v.SUBPROTOCOL for v in self.config.versions],  # type: ignore[misc]
            additional_headers=self._headers(),
            ssl=self.security.ssl_context,
            compression="deflate" if self.config.compression else None,
            ping_interval=self.config.ping_interval,
            ping_timeout=self.config.ping_timeout,
            open_timeout=self.config.open_timeout,
            close_timeout=self.config.close_timeout,
            proxy=None,
        )
        version = self._version(ws.subprotocol)
        if version is None:
            await ws.close(1002, "no common OCPP subprotocol")
            raise ConnectionError(f"the CSMS chose subprotocol {ws.subprotocol!r}, which was not offered")
        self.session = OcppSession(ws, version, self.charge_point, self.config.rpc, rng=self._rng)
        self.connections += 1
        return self.session

    def _version(self, subprotocol: str | None) -> VersionModule | None:
        for v in self.config.versions:
            if v.SUBPROTOCOL == subprotocol:
                return v
        return None

    async def run(self) -> None:
        """Connect, serve, and reconnect with backoff, until :meth:`stop`."""
        self._stopping = False
        while not self._stopping:
            try:
                session = await self.connect()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # refused, handshake rejected, TLS failure, timeout
                log.info("connecting %s failed: %s", self.url, exc)
            else:
                self.backoff.reset()
                await session.run()
                self.session = None
                log.info("connection to %s closed", self.url)
            if self._stopping:
                break
            await self._sleep(self.backoff.next_delay())

    async def stop(self) -> None:
        """Stop reconnecting and close the present connection."""
        self._stopping = True
        if self.session is not None:
            await self.session.close()
