"""asyncio TCP/TLS transport: runs a SeccSession (server) or an EvccSession (client) on a stream::

    server = await start_secc_server(make_session, host="::1", port=0, handler=handle)
    conn = await connect_evcc(make_session, host="::1", port=server.port)
    async for event in conn.events():
        ...

``make_session(info)`` builds the core for each connection from a :class:`ConnectionInfo` (the
monotonic ``now``, what TLS negotiated, the addresses). A :class:`V2gConnection` pumps bytes between
the socket and the core, fires the core's timers, and closes the socket when the core's state is
``CLOSED``. A peer that breaks the protocol ends its connection with one log line, never a traceback.

One TLS port for TLS 1.2 (DIN / ISO 15118-2) and TLS 1.3 (ISO 15118-20): ``start_secc_server(...,
ssl_select=TlsSelector(iso2=..., iso20=...))`` accepts each connection itself, peeks at its ClientHello
(``MSG_PEEK``: nothing is consumed), lets ``ssl_select`` choose the context
(:class:`~evcharge.iso15118.security.tls.TlsSelector`) and only then wraps the socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import socket
import ssl as _ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from evcharge.errors import RemoteProtocolError
from evcharge.iso15118.handover import TlsInfo
from evcharge.iso15118.sdp import DYNAMIC_PORT_RANGE
from evcharge.iso15118.security.tls import ClientHello, ClientHelloError, ClientHelloIncomplete, parse_client_hello
from evcharge.iso15118.session import EvccSession, SeccSession, SessionState

__all__ = [
    "DEFAULT_TLS_HANDSHAKE_TIMEOUT",
    "ConnectionInfo",
    "SeccServer",
    "V2gConnection",
    "bind_dynamic_port",
    "connect_evcc",
    "start_secc_server",
    "tls_info",
]

log = logging.getLogger(__name__)

#: EVerest's default TLS handshake timeout (IsoMux ``tls_timeout`` 15 000 ms)
DEFAULT_TLS_HANDSHAKE_TIMEOUT = 15.0
_READ_SIZE = 65536


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectionInfo:
    """What ``make_session(info)`` knows of a new connection: when it was complete, what TLS negotiated
    (``None`` for plain TCP), the peer's and our socket addresses and free-form ``extra`` data."""

    now: float  #: monotonic seconds when the connection (and the TLS handshake) was complete
    tls: TlsInfo | None
    peer: tuple[Any, ...] | None
    local: tuple[Any, ...] | None
    extra: dict[str, Any] = field(default_factory=dict)


def _peer_chain(ssl_object: _ssl.SSLObject | _ssl.SSLSocket) -> tuple[bytes, ...]:
    """The chain the peer sent, leaf first (DER). Python 3.13 has ``get_unverified_chain``; 3.10-3.12
    have it on the private ``_sslobj``; otherwise only the leaf is known."""
    getter = getattr(ssl_object, "get_unverified_chain", None)
    if getter is None:
        getter = getattr(getattr(ssl_object, "_sslobj", None), "get_unverified_chain", None)
    if getter is not None:
        with contextlib.suppress(Exception):
            chain = getter() or []
            der = tuple(
                c if isinstance(c, bytes) else c.public_bytes(_ssl._ssl.ENCODING_DER)  # type: ignore[attr-defined]
                for c in chain
            )
            if der:
                return der
    leaf = ssl_object.getpeercert(binary_form=True)
    return (leaf,) if leaf else ()


def tls_info(ssl_object: _ssl.SSLObject | _ssl.SSLSocket | None) -> TlsInfo | None:
    """What the TLS layer negotiated (``None`` for plain TCP), with the chain the peer sent."""
    if ssl_object is None:
        return None
    cipher = ssl_object.cipher()
    return TlsInfo(
        version=ssl_object.version() or "",
        cipher=cipher[0] if cipher else "",
        peer_chain=_peer_chain(ssl_object),
    )


class V2gConnection:
    """One session on one stream. Create it through :func:`start_secc_server` or :func:`connect_evcc`."""

    def __init__(
        self,
        session: SeccSession | EvccSession,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.session = session
        self._reader = reader
        self._writer = writer
        self._clock = clock
        self._events: asyncio.Queue[Any] = asyncio.Queue()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.error: BaseException | None = None  #: why the connection ended, when it was an error

    @property
    def peer(self) -> Any:
        return self._writer.get_extra_info("peername")

    def start(self) -> asyncio.Task[None]:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())
        return self._task

    async def wait_closed(self) -> None:
        await self.start()

    def send(self, command: Any) -> None:
        """Pass the application's command to the session (and on to the engine); writes at once."""
        self.session.send(command, self._clock())
        self._flush()
        self._wake.set()

    async def next_event(self) -> Any | None:
        """The next event of the session, or ``None`` when the connection is closed and all are read."""
        self.start()
        return await self._events.get()

    async def events(self) -> AsyncIterator[Any]:
        while (event := await self.next_event()) is not None:
            yield event

    def close(self) -> None:
        """Close now (the session is told the connection is gone)."""
        if self.session.state is not SessionState.CLOSED:
            self.session.connection_lost(self._clock())
        self._wake.set()

    def _flush(self) -> None:
        data = self.session.data_to_send()
        if data and not self._writer.is_closing():
            self._writer.write(b"".join(data))
        while (event := self.session.next_event()) is not None:
            self._events.put_nowait(event)

    async def _run(self) -> None:
        session = self.session
        read: asyncio.Task[bytes] = asyncio.ensure_future(self._reader.read(_READ_SIZE))
        try:
            while True:
                self._flush()
                if session.state is SessionState.CLOSED:
                    break
                with contextlib.suppress(ConnectionError):
                    await self._writer.drain()
                timer = session.get_timer()
                timeout = None if timer is None else max(0.0, timer - self._clock())
                self._wake.clear()
                wake = asyncio.ensure_future(self._wake.wait())
                done, _ = await asyncio.wait({read, wake}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
                wake.cancel()
                now = self._clock()
                if read in done:
                    try:
                        data = read.result()
                    except (ConnectionError, OSError, _ssl.SSLError) as exc:
                        self.error = exc
                        data = b""
                    if not data:
                        session.connection_lost(now)
                        continue
                    read = asyncio.ensure_future(self._reader.read(_READ_SIZE))
                    try:
                        session.receive_data(data, now)
                    except RemoteProtocolError as exc:
                        self.error = exc
                        log.warning("V2G peer %s: %s", self.peer, exc)
                timer = session.get_timer()
                if timer is not None and self._clock() >= timer:
                    try:
                        session.handle_timer(self._clock())
                    except RemoteProtocolError as exc:
                        self.error = exc
                        log.warning("V2G session with %s: %s", self.peer, exc)
        except Exception as exc:  # a bug in an engine or the application: one log line, the connection closed
            self.error = exc
            log.error(
                "V2G session with %s ended by an internal error: %r",
                self.peer,
                exc,
                exc_info=log.isEnabledFor(logging.DEBUG),
            )
        finally:
            read.cancel()
            with contextlib.suppress(BaseException):
                await read
            self._flush()
            with contextlib.suppress(ConnectionError, OSError, _ssl.SSLError, asyncio.TimeoutError):
                await asyncio.wait_for(self._writer.drain(), 1.0)
            self._writer.close()
            with contextlib.suppress(ConnectionError, OSError, _ssl.SSLError, asyncio.TimeoutError):
                await asyncio.wait_for(self._writer.wait_closed(), 1.0)
            self._events.put_nowait(None)


def bind_dynamic_port(host: str, *, rng: random.Random | None = None, attempts: int = 64) -> socket.socket:
    """A listening TCP socket on a free port of 49152-65535 (RFC 6335 dynamic range), as the SECC
    announces in its SDP response. ``host`` may carry a scope (``fe80::1%eth0``)."""
    rng = rng or random.Random()
    infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    family, _, _, _, sockaddr = infos[0]
    last: OSError | None = None
    for _ in range(attempts):
        port = rng.randint(*DYNAMIC_PORT_RANGE)
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((sockaddr[0], port, *sockaddr[2:]))
            sock.listen(8)
            sock.setblocking(False)
            return sock
        except OSError as exc:
            sock.close()
            last = exc
    raise OSError(f"no free TCP port in {DYNAMIC_PORT_RANGE[0]}-{DYNAMIC_PORT_RANGE[1]} on {host}: {last}")


class _PeekingServer:
    """The accept loop of a port whose TLS context is chosen per connection from its ClientHello (the part of
    ``asyncio.Server`` that :class:`SeccServer` uses)."""

    def __init__(
        self,
        sock: socket.socket,
        select: Callable[[ClientHello], _ssl.SSLContext | None],
        on_client: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]],
        handshake_timeout: float,
    ) -> None:
        self.sockets = [sock]
        self._select = select
        self._on_client = on_client
        self._timeout = handshake_timeout
        self._tasks: set[asyncio.Task[None]] = set()
        self._accept = asyncio.get_running_loop().create_task(self._serve())

    async def _serve(self) -> None:
        loop = asyncio.get_running_loop()
        lsock = self.sockets[0]
        while True:
            try:
                conn, _ = await loop.sock_accept(lsock)
            except OSError as exc:  # e.g. too many open files: log, go on accepting
                log.warning("V2G accept failed: %s", exc)
                await asyncio.sleep(0.1)
                continue
            task = loop.create_task(self._connection(conn))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _connection(self, conn: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        conn.setblocking(False)
        peer: Any = None
        with contextlib.suppress(OSError):
            peer = conn.getpeername()
        try:
            hello = await asyncio.wait_for(_peek_client_hello(conn), self._timeout)
            context = self._select(hello)
            if context is None:
                raise ClientHelloError(
                    f"no TLS context for a client offering versions {[hex(v) for v in hello.versions]}"
                )
            reader = asyncio.StreamReader(limit=_READ_SIZE)
            protocol = asyncio.StreamReaderProtocol(reader)
            transport, _ = await loop.connect_accepted_socket(
                lambda: protocol, sock=conn, ssl=context, ssl_handshake_timeout=self._timeout
            )
        except (TimeoutError, ClientHelloError, OSError, _ssl.SSLError, ConnectionError) as exc:
            log.warning("V2G connection from %s closed before TLS: %s", peer, exc or type(exc).__name__)
            conn.close()
            return
        writer = asyncio.StreamWriter(transport, protocol, reader, loop)
        await self._on_client(reader, writer)

    def close(self) -> None:
        self._accept.cancel()
        for task in list(self._tasks):
            task.cancel()
        self.sockets[0].close()

    async def wait_closed(self) -> None:
        with contextlib.suppress(asyncio.CancelledError):
            await self._accept
        for task in list(self._tasks):
            with contextlib.suppress(BaseException):
                await task


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


async def _peek_client_hello(conn: socket.socket) -> ClientHello:
    """Wait for a whole ClientHello in ``conn``'s receive buffer and parse it without consuming a byte."""
    try:
        return await _peek_loop(conn)
    finally:
        with contextlib.suppress(OSError):  # the TLS layer reads byte by byte again
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_RCVLOWAT, 1)


async def _peek_loop(conn: socket.socket) -> ClientHello:
    loop = asyncio.get_running_loop()
    needed = 5
    while True:
        readable: asyncio.Future[None] = loop.create_future()
        loop.add_reader(conn.fileno(), _wake, readable)
        try:
            await readable
        finally:
            loop.remove_reader(conn.fileno())
        try:
            data = conn.recv(max(needed, 4096), socket.MSG_PEEK)
        except BlockingIOError:
            continue
        if not data:
            raise ConnectionError("the peer closed before its ClientHello")
        try:
            return parse_client_hello(data)
        except ClientHelloIncomplete as more:
            if more.needed <= len(data):  # pragma: no cover - the parser asks for more than it had
                raise
            needed = more.needed
            # wake when that much is there (Linux honours SO_RCVLOWAT for TCP), else poll gently
            try:
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_RCVLOWAT, needed)
            except OSError:
                await asyncio.sleep(0.005)


class SeccServer:
    """A listening SECC: each accepted connection runs its own session."""

    def __init__(self, server: Any) -> None:  # an asyncio.Server, or the ClientHello-peeking accept loop
        self.server = server
        self.connections: set[V2gConnection] = set()

    @property
    def port(self) -> int:
        return int(self.server.sockets[0].getsockname()[1])

    @property
    def address(self) -> tuple[Any, ...]:
        return tuple(self.server.sockets[0].getsockname())

    async def close(self) -> None:
        self.server.close()
        for conn in list(self.connections):
            conn.close()
        for conn in list(self.connections):
            with contextlib.suppress(Exception):
                await conn.wait_closed()
        await self.server.wait_closed()

    async def __aenter__(self) -> SeccServer:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


async def start_secc_server(
    make_session: Callable[[ConnectionInfo], SeccSession],
    *,
    handler: Callable[[V2gConnection], Awaitable[None]] | None = None,
    host: str = "::1",
    port: int | None = 0,
    ssl: _ssl.SSLContext | None = None,
    ssl_handshake_timeout: float = DEFAULT_TLS_HANDSHAKE_TIMEOUT,
    sock: socket.socket | None = None,
    ssl_select: Callable[[ClientHello], _ssl.SSLContext | None] | None = None,
) -> SeccServer:
    """Listen for EVCCs. ``port=None`` takes a dynamic port (49152-65535, :func:`bind_dynamic_port`),
    ``0`` lets the OS choose. ``handler(conn)`` runs per connection beside the pump (it reads
    ``conn.events()`` and calls ``conn.send``); without a handler the events are dropped.

    ``ssl_select(client_hello)`` (instead of ``ssl``): the TLS context of each connection, chosen from its
    ClientHello (``None`` closes it); a connection whose first bytes are not a ClientHello is closed with one
    log line."""
    if ssl is not None and ssl_select is not None:
        raise ValueError("give ssl or ssl_select, not both")
    holder: list[SeccServer] = []

    async def on_client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        ssl_object = writer.get_extra_info("ssl_object")
        info = ConnectionInfo(
            now=time.monotonic(),
            tls=tls_info(ssl_object),
            peer=writer.get_extra_info("peername"),
            local=writer.get_extra_info("sockname"),
        )
        try:
            session = make_session(info)
        except Exception as exc:
            log.error("V2G connection from %s refused: the session could not be made: %r", info.peer, exc)
            writer.close()
            return
        conn = V2gConnection(session, reader, writer)
        holder[0].connections.add(conn)
        task = conn.start()
        try:
            if handler is not None:
                await handler(conn)
            else:
                while await conn.next_event() is not None:
                    pass
            await task
        finally:
            holder[0].connections.discard(conn)

    if sock is None and port is None:
        sock = bind_dynamic_port(host)
    if ssl_select is not None:
        if sock is None:
            sock = _listening_socket(host, port or 0)
        holder.append(SeccServer(_PeekingServer(sock, ssl_select, on_client, ssl_handshake_timeout)))
        return holder[0]
    tls_args: dict[str, Any] = {"ssl": ssl, "ssl_handshake_timeout": ssl_handshake_timeout} if ssl else {}
    if sock is not None:
        server = await asyncio.start_server(on_client, sock=sock, **tls_args)
    else:
        server = await asyncio.start_server(on_client, host=host, port=port, **tls_args)
    holder.append(SeccServer(server))
    return holder[0]


def _listening_socket(host: str, port: int) -> socket.socket:
    family, _, _, _, sockaddr = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(sockaddr)
        sock.listen(8)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


async def connect_evcc(
    make_session: Callable[[ConnectionInfo], EvccSession],
    *,
    host: str,
    port: int,
    ssl: _ssl.SSLContext | None = None,
    server_hostname: str | None = None,
    ssl_handshake_timeout: float = DEFAULT_TLS_HANDSHAKE_TIMEOUT,
    connect_timeout: float = 5.0,
    verify_peer: Callable[[tuple[bytes, ...]], None] | None = None,
) -> V2gConnection:
    """Connect to an SECC (``host`` may carry a scope: ``fe80::1%eth0``) and start the session; the
    returned connection is running (read ``conn.events()``).

    ``verify_peer(chain)`` (from :func:`evcharge.iso15118.security.tls.evcc_tls`) runs right after the
    TLS handshake; when it raises, the connection is closed before any V2G byte is sent and the error
    is raised here."""
    tls_args: dict[str, Any] = {}
    if ssl is not None:
        tls_args = {
            "ssl": ssl,
            "ssl_handshake_timeout": ssl_handshake_timeout,
            "server_hostname": server_hostname if server_hostname is not None else "",
        }
    reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port, **tls_args), connect_timeout)
    info = ConnectionInfo(
        now=time.monotonic(),
        tls=tls_info(writer.get_extra_info("ssl_object")),
        peer=writer.get_extra_info("peername"),
        local=writer.get_extra_info("sockname"),
    )
    try:
        if verify_peer is not None:
            verify_peer(info.tls.peer_chain if info.tls else ())
        session = make_session(info)
    except Exception:
        writer.close()
        raise
    conn = V2gConnection(session, reader, writer)
    conn.start()
    return conn
