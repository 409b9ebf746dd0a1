"""The reference CSMS put together: store, service, the OCPP endpoints and the admin API.

.. code-block:: python

    server = CsmsServer(ServerConfig(port=9000, admin_port=9080), SqliteStore("csms.db"))
    await server.start()
    ...
    await server.stop()
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from typing import Any, Literal

from evcharge.csms.admin import AdminApi
from evcharge.csms.handlers import CsmsService, CsmsSettings
from evcharge.csms.passwords import verify_password
from evcharge.csms.store import Store
from evcharge.ocpp.csms import Csms, CsmsConfig, CsmsSecurity, HandshakeInfo, Trace
from evcharge.ocpp.errors import LocalProtocolError
from evcharge.ocpp.rpc import VersionModule

__all__ = ["CsmsServer", "ServerConfig", "open_store"]


def _modules(versions: tuple[str, ...]) -> tuple[VersionModule, ...]:
    from evcharge.ocpp import v16, v21, v201

    known: dict[str, Any] = {"1.6": v16, "2.0.1": v201, "2.1": v21}
    try:
        return tuple(known[v] for v in versions)
    except KeyError as exc:
        raise LocalProtocolError(f"unknown OCPP version {exc.args[0]!r} (1.6, 2.0.1, 2.1)") from None


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerConfig:
    """Where and how the reference CSMS listens."""

    host: str = "127.0.0.1"
    port: int | None = 9000  #: ``ws://`` for profiles 0 and 1 (``None``: no plain endpoint)
    tls_port: int | None = None  #: ``wss://`` for profiles 2 and 3 (needs ``ssl_context``)
    ssl_context: ssl.SSLContext | None = None  #: the server certificate; ``CERT_OPTIONAL`` asks for client ones
    admin_host: str = "127.0.0.1"
    admin_port: int | None = 9080  #: the HTTP admin API (``None`` for none)
    admin_token: str | None = None  #: the bearer token of the admin API
    versions: tuple[str, ...] = ("2.0.1", "2.1", "1.6")  #: preferred first
    duplicate_connection: Literal["replace", "keep"] = "replace"
    ping_interval: float | None = 30.0
    settings: CsmsSettings = field(default_factory=CsmsSettings)

    def __post_init__(self) -> None:
        if self.tls_port is not None and self.ssl_context is None:
            raise LocalProtocolError("a wss:// endpoint (tls_port) needs ssl_context")
        if self.port is None and self.tls_port is None:
            raise LocalProtocolError("the CSMS needs port, tls_port or both")


def open_store(url: str) -> Store:
    """The store of a ``--db`` URL: a file path or ``sqlite:///path`` (SQLite), ``postgresql://...``."""
    if url.startswith(("postgresql://", "postgres://")):
        from evcharge.csms.transport.postgres import PostgresStore

        return PostgresStore(url)
    from evcharge.csms.transport.sqlite import SqliteStore

    return SqliteStore(url.removeprefix("sqlite://").removeprefix("/") if url.startswith("sqlite:///") else url)


class CsmsServer:
    """Runs the reference CSMS; :attr:`csms` is the OCPP role, ``service`` its decisions."""

    def __init__(self, config: ServerConfig, store: Store, *, trace: Trace | None = None) -> None:
        self.config = config
        self.store = store
        self.service = CsmsService(store, config.settings)
        self.trace = trace
        self._servers: list[Any] = []
        self.ports: dict[str, int] = {}  #: the ports bound, by endpoint ("ws", "wss", "admin")

    @property
    def csms(self) -> Csms:
        """The OCPP role object (both endpoints share its connections)."""
        assert self.service.csms is not None, "not started"
        return self.service.csms

    async def _check_password(self, identity: str, password: str, info: HandshakeInfo) -> bool:
        station = await self.store.get_station(identity)
        if station is None or station.password_hash is None:
            return self.config.settings.auto_register  # no password set: the registry is open, or closed
        return verify_password(password, station.password_hash)

    async def _minimum_profile(self, identity: str) -> int | None:
        station = await self.store.get_station(identity)
        if station is None:
            return None if self.config.settings.auto_register else 4  # 4: nobody gets in
        if station.password_hash is not None:
            return max(station.min_profile, 1)  # a station with a password must use it (or a certificate)
        return station.min_profile

    async def start(self) -> None:
        from evcharge.csms.transport.http import serve_http
        from evcharge.ocpp.transport.websocket import serve_csms

        await self.store.open()
        cfg = self.config
        versions = _modules(cfg.versions)
        factories = self.service.handler_factories()
        common: dict[str, Any] = {"versions": versions, "duplicate_connection": cfg.duplicate_connection,
                                  "ping_interval": cfg.ping_interval}
        # one Csms, so one table of connections: a station is connected once, on either endpoint
        plain = CsmsSecurity(profiles=(0, 1), check_password=self._check_password,
                             minimum_profile=self._minimum_profile)
        csms = Csms(CsmsConfig(security=plain, **common), {v.VERSION: factories[v.VERSION] for v in versions},
                    trace=self.trace)
        self.service.csms = csms
        if cfg.port is not None:
            server = await serve_csms(csms, cfg.host, cfg.port)
            self._servers.append(server)
            self.ports["ws"] = server.sockets[0].getsockname()[1]
        if cfg.tls_port is not None:
            assert cfg.ssl_context is not None
            profiles = (2, 3) if cfg.ssl_context.verify_mode != ssl.CERT_NONE else (2,)
            tls = CsmsSecurity(profiles=profiles, check_password=self._check_password,
                               ssl_context=cfg.ssl_context, minimum_profile=self._minimum_profile)
            server = await serve_csms(csms, cfg.host, cfg.tls_port, security=tls)
            self._servers.append(server)
            self.ports["wss"] = server.sockets[0].getsockname()[1]
        if cfg.admin_port is not None:
            admin = await serve_http(AdminApi(self.service, token=cfg.admin_token), cfg.admin_host, cfg.admin_port)
            self._servers.append(admin)
            self.ports["admin"] = admin.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        for server in self._servers:
            server.close()
        for server in self._servers:
            await server.wait_closed()
        self._servers.clear()
        await self.store.close()
