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
import functools
import http
import inspect
import logging
import random
import socket
import ssl
import ssl as ssl_module
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import quote, unquote, urlsplit

from evcharge.errors import require
from evcharge.ocpp.charge_point import Backoff, ChargePoint, ChargePointConfig
from evcharge.ocpp.csms import Csms, CsmsSecurity, HandshakeInfo
from evcharge.ocpp.errors import LocalProtocolError
from evcharge.ocpp.rpc import VersionModule
from evcharge.ocpp.transport.session import OcppSession

__all__ = ["ChargePointClient", "ClientSecurity", "ConnectionFailed",
           "HandshakeCheck", "describe_connection_error", "identity_from_path", "serve_csms"]

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


#: An extra handshake check of :func:`serve_csms`, websockets' ``process_request`` signature: return ``None`` to go
#: on, or a response (``connection.respond(status, text)``) to refuse; may be ``async``.
HandshakeCheck = Callable[[Any, Any], Any]


def _handshake_info(connection: Any, request: Any, identity: str, served: tuple[int, ...]) -> HandshakeInfo:
    transport = connection.transport
    ssl_object = transport.get_extra_info("ssl_object")
    cert_der: bytes | None = None
    common_name: str | None = None
    if ssl_object is not None:
        cert_der = ssl_object.getpeercert(binary_form=True) or None
        common_name = _common_name(ssl_object.getpeercert()) if cert_der else None
    basic = request.headers.get("Authorization", "").lower().startswith("basic ")
    has_auth = "Authorization" in request.headers
    if ssl_object is None or all(p in (0, 1) for p in served):  # TLS given to serve_csms by hand: not a profile
        profile = 1 if has_auth else 0
    elif has_auth and (2 in served or not cert_der):
        profile = 2
    else:
        profile = 3 if cert_der else 2  # 2 without credentials: refused as such
    return HandshakeInfo(identity=identity, path=request.path, tls=ssl_object is not None,
                         tls_version=ssl_object.version() if ssl_object is not None else None,
                         client_certificate=cert_der, client_common_name=common_name, basic_auth=basic,
                         profile=profile, remote_address=transport.get_extra_info("peername"))


async def serve_csms(
    csms: Csms,
    host: str | None,
    port: int,
    *,
    ssl: ssl_module.SSLContext | None = None,
    process_request: HandshakeCheck | None = None,
    security: CsmsSecurity | None = None,
    **kwargs: Any,
) -> Any:
    """Start the CSMS websocket server; returns the ``websockets`` server (``close()``, ``sockets``...).

    The handshake is checked in this order: an identity in the path (else 404), an offered subprotocol of
    ``csms.config.versions`` (else 400, unless ``CsmsConfig.no_subprotocol`` is ``"accept-close"``), the
    security profile the connection presents (see :class:`~evcharge.ocpp.csms.CsmsSecurity`: 401 for missing or
    wrong credentials, 403 for a client certificate of another identity or a profile below the station's
    minimum), a connected identity under ``duplicate_connection="keep"`` (409), then ``process_request``: an
    extra check of your own, with websockets' ``(connection, request)`` signature; it may read
    ``connection.handshake_info`` (a :class:`~evcharge.ocpp.csms.HandshakeInfo`).

    ``ssl`` is the TLS context to serve with; by default the security's ``ssl_context``.  ``security`` replaces
    ``csms.config.security`` on this endpoint: one :class:`~evcharge.ocpp.csms.Csms` can serve a ``ws://``
    endpoint (profiles 0, 1) and a ``wss://`` one (2, 3) with one table of connections.  Other keyword arguments
    go to :func:`websockets.asyncio.server.serve`.
    """
    require("websockets", "ocpp", feature="the OCPP websocket transport")
    from websockets.asyncio.server import ServerConnection, serve
    from websockets.exceptions import InvalidHeader
    from websockets.headers import build_www_authenticate_basic, parse_authorization_basic
    from websockets.http11 import Request, Response

    config = csms.config
    sec = security if security is not None else config.security
    served = sec.served_profiles
    ssl_context = ssl if ssl is not None else sec.ssl_context
    offered = [v.SUBPROTOCOL for v in config.versions]

    def select_subprotocol(connection: ServerConnection, subprotocols: Sequence[str]) -> Any:
        for proto in subprotocols:  # the charge point's preference order
            if proto in offered:
                return proto
        return None  # only under no_subprotocol="accept-close": the handler closes such a connection

    def unauthorized(connection: ServerConnection, text: str) -> Response:
        response = connection.respond(http.HTTPStatus.UNAUTHORIZED, text + "\n")
        response.headers["WWW-Authenticate"] = build_www_authenticate_basic("OCPP")
        return response

    def offers_ours(request: Request) -> bool:
        for header in request.headers.get_all("Sec-WebSocket-Protocol"):
            if any(p.strip() in offered for p in header.split(",")):
                return True
        return False

    async def check_security(connection: ServerConnection, request: Request, info: HandshakeInfo
                             ) -> Response | None:
        identity = info.identity
        if info.profile not in served:
            if info.tls and not info.basic_auth and "Authorization" not in request.headers:
                return unauthorized(connection, "missing credentials (basic auth or a client certificate)")
            return unauthorized(connection, f"security profile {info.profile} is not served on this endpoint")
        if info.profile == 3 and sec.verify_cn and info.client_common_name != identity:
            return connection.respond(http.HTTPStatus.FORBIDDEN, "client certificate does not match\n")
        if info.profile in (1, 2):
            assert sec.check_password is not None
            try:
                username, password = parse_authorization_basic(request.headers["Authorization"])
            except KeyError:
                return unauthorized(connection, "missing credentials")
            except InvalidHeader:
                return unauthorized(connection, "unsupported credentials")
            if username != identity:
                return unauthorized(connection, "the user name must be the charge point identity")
            ok = sec.check_password(identity, password, info)
            if not isinstance(ok, bool):
                ok = await ok
            if not ok:
                return unauthorized(connection, "invalid credentials")
        if sec.minimum_profile is not None:
            minimum = sec.minimum_profile(identity)
            if minimum is not None and not isinstance(minimum, int):
                minimum = await minimum
            if minimum is not None and info.profile < minimum:
                return connection.respond(http.HTTPStatus.FORBIDDEN,
                                          f"this charge point must use security profile {minimum} or higher\n")
        return None

    async def check(connection: ServerConnection, request: Request) -> Response | None:
        identity = identity_from_path(request.path)
        if not identity:
            return connection.respond(http.HTTPStatus.NOT_FOUND, "no charge point identity in the URL path\n")
        if config.no_subprotocol == "refuse" and not offers_ours(request):
            return connection.respond(http.HTTPStatus.BAD_REQUEST,
                                      "no supported OCPP subprotocol offered (Sec-WebSocket-Protocol: "
                                      + ", ".join(offered) + ")\n")
        info = _handshake_info(connection, request, identity, served)
        connection.handshake_info = info  # type: ignore[attr-defined]
        refused = await check_security(connection, request, info)
        if refused is not None:
            return refused
        if config.duplicate_connection == "keep":
            old = csms.connections.get(identity)
            if old is not None and old.connected:
                return connection.respond(http.HTTPStatus.CONFLICT, "this charge point is connected already\n")
        if process_request is not None:
            answer = process_request(connection, request)
            if inspect.isawaitable(answer):
                answer = await answer
            return answer  # type: ignore[no-any-return]
        return None

    async def handler(connection: ServerConnection) -> None:
        version = config.version_for(connection.subprotocol or "")
        assert connection.request is not None
        identity = identity_from_path(connection.request.path)
        if version is None:
            await connection.close(1002, "no common OCPP subprotocol")
            return
        old = csms.connections.get(identity)
        if config.duplicate_connection == "keep" and old is not None and old.connected:
            await connection.close(1008, "this charge point is connected already")  # lost a handshake race
            return
        peer = csms.new_handler(identity, version)
        peer.handshake = getattr(connection, "handshake_info", None)
        trace = functools.partial(csms.trace, identity) if csms.trace is not None else None
        session = OcppSession(connection, version, peer, config.rpc, trace=trace)
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
        process_request=check,
        ssl=ssl_context,
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


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectionFailed:
    """One failed attempt of :class:`ChargePointClient` to connect (the client retries after its backoff).

    ``reason`` is one of ``"refused"`` (nothing listens there), ``"unresolvable"`` (the host name is unknown),
    ``"tls"`` (the handshake or the certificate check failed), ``"unauthorized"`` (HTTP 401: wrong or missing
    credentials), ``"rejected"`` (another HTTP answer, or no common OCPP subprotocol), ``"timeout"`` or
    ``"network"`` (any other socket error).  ``error`` is the exception itself.
    """

    url: str
    reason: str
    message: str
    error: BaseException
    attempt: int  #: 1 for the first failure since the last successful connection


def describe_connection_error(exc: BaseException) -> tuple[str, str]:
    """(reason, one line in words) for an exception of a failed connection attempt (see :class:`ConnectionFailed`)."""
    return _classify(exc)


def _classify(exc: BaseException) -> tuple[str, str]:
    """(reason, one line) for a failed connection attempt."""
    status = getattr(getattr(exc, "response", None), "status_code", None)
    if status == 401:
        return "unauthorized", "the CSMS refused the credentials (HTTP 401): check the identity and the password"
    if status is not None:
        return "rejected", f"the CSMS refused the connection (HTTP {status})"
    if isinstance(exc, ConnectionRefusedError):
        return "refused", "connection refused: nothing listens at that address and port"
    if isinstance(exc, socket.gaierror):
        return "unresolvable", f"the host name cannot be resolved ({exc.strerror or exc})"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return "tls", f"the CSMS's TLS certificate is not trusted ({exc.verify_message or exc})"
    if isinstance(exc, ssl.SSLError):
        return "tls", f"the TLS handshake failed ({exc.reason or exc})"
    if isinstance(exc, TimeoutError):
        return "timeout", "no answer from the CSMS in time"
    if isinstance(exc, OSError):
        return "network", exc.strerror or str(exc) or type(exc).__name__
    return "rejected", str(exc) or type(exc).__name__


def _is_connection_failure(exc: BaseException) -> bool:
    """What a reconnecting client retries after: network errors and refused handshakes, not bugs."""
    if isinstance(exc, OSError | TimeoutError | ConnectionError):
        return True
    try:
        from websockets.exceptions import InvalidHandshake, InvalidMessage
    except ModuleNotFoundError:
        return False
    return isinstance(exc, InvalidHandshake | InvalidMessage)


class ChargePointClient:
    """Keeps a :class:`~evcharge.ocpp.charge_point.ChargePoint` connected to its CSMS.

    ``url`` is the CSMS endpoint; the charge point's identity is appended as the last path segment unless
    it is already there.  ``rng`` and ``sleep`` are injectable for tests (jitter, backoff delays).

    :meth:`run` retries a failed connection after its backoff and hands every failure to the caller as a
    :class:`ConnectionFailed` event (:meth:`next_failure`, :attr:`last_failure`); anything else that goes wrong
    (a missing dependency, a bug in a handler) is raised out of :meth:`run`.  The log is for diagnostics only.
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
        parts = urlsplit(url)
        scheme = parts.scheme
        if scheme not in ("ws", "wss") or not parts.netloc:
            raise LocalProtocolError(f"not a websocket URL: {url!r} (give e.g. ws://host:9000/ocpp)")
        try:
            parts.port  # noqa: B018 - raises on a port out of range or not a number
        except ValueError:
            raise LocalProtocolError(f"bad port in the URL {url!r}") from None
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
        self.last_failure: ConnectionFailed | None = None  #: the latest failed attempt
        self._failures: deque[ConnectionFailed] = deque(maxlen=100)
        self._failure_event = asyncio.Event()
        self._attempt = 0
        self._stopping = False

    def _headers(self) -> dict[str, str]:
        if self.security.profile in (1, 2):
            token = f"{self.charge_point.identity}:{self.security.password}".encode()
            return {"Authorization": "Basic " + base64.b64encode(token).decode("ascii")}
        return {}

    async def connect(self) -> OcppSession:
        """Open one connection (no retry) and attach the charge point; ``run_session`` serves it."""
        client: Any = require("websockets.asyncio.client", "ocpp", feature="the OCPP websocket transport")
        ws = await client.connect(
            self.url,
            subprotocols=[v.SUBPROTOCOL for v in self.config.versions],
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
            except Exception as exc:
                if not _is_connection_failure(exc):
                    raise  # not the network's fault: the caller must see it
                self._failed(exc)
            else:
                self.backoff.reset()
                self._attempt = 0
                await session.run()
                self.session = None
                log.info("connection to %s closed", self.url)
            if self._stopping:
                break
            await self._sleep(self.backoff.next_delay())

    def _failed(self, exc: BaseException) -> None:
        self._attempt += 1
        reason, message = _classify(exc)
        failure = ConnectionFailed(url=self.url, reason=reason, message=message, error=exc, attempt=self._attempt)
        self.last_failure = failure
        self._failures.append(failure)
        self._failure_event.set()
        log.info("connecting %s failed (%s): %s", self.url, reason, exc)

    async def next_failure(self) -> ConnectionFailed:
        """Wait for the next failed connection attempt not yet taken (the latest 100 are kept)."""
        while not self._failures:
            self._failure_event.clear()
            await self._failure_event.wait()
        return self._failures.popleft()

    async def stop(self) -> None:
        """Stop reconnecting and close the present connection."""
        self._stopping = True
        if self.session is not None:
            await self.session.close()
