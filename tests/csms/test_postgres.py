"""The reference CSMS on a real PostgreSQL server (Debian's ``postgresql`` package), started here under a temp dir.

Same schema and migrations as SQLite; a full session of each version, then a restart that loses nothing.
"""

from __future__ import annotations

import asyncio
import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from evcharge.csms.transport.postgres import PostgresStore
from evcharge.ocpp import v16, v201

from .helpers import Pki, admin, make_pki, start_server
from .test_end_to_end import NOW, _session_16, _session_201, _setup_registry, station

pytest.importorskip("asyncpg")
BINDIRS = sorted(glob.glob("/usr/lib/postgresql/*/bin"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def postgres() -> Iterator[str]:
    """A PostgreSQL server of our own: initdb + pg_ctl as the postgres user, trust auth on 127.0.0.1."""
    if not BINDIRS or os.geteuid() != 0:
        pytest.skip("needs Debian's postgresql package (apt-get install postgresql) and root to run it as postgres")
    bindir = BINDIRS[-1]
    folder = tempfile.mkdtemp(prefix="evcharge-pg-")
    shutil.chown(folder, "postgres")
    data = os.path.join(folder, "data")
    port = _free_port()

    def as_postgres(*cmd: str) -> None:
        subprocess.run(["runuser", "-u", "postgres", "--", *cmd], check=True, capture_output=True, timeout=120)

    try:
        as_postgres(f"{bindir}/initdb", "-D", data, "-A", "trust", "-U", "postgres", "--no-sync")
        as_postgres(f"{bindir}/pg_ctl", "-D", data, "-w", "-t", "60", "-l", os.path.join(folder, "log"), "-o",
                    f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off", "start")
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(["runuser", "-u", "postgres", "--", f"{bindir}/pg_ctl", "-D", data, "-m", "immediate",
                        "stop"], capture_output=True, timeout=60)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("csms-pki"))


async def _fresh(dsn: str, name: str) -> str:
    import asyncpg

    conn = await asyncpg.connect(dsn)
    await conn.execute(f"DROP DATABASE IF EXISTS {name}")
    await conn.execute(f"CREATE DATABASE {name}")
    await conn.close()
    return dsn.rsplit("/", 1)[0] + "/" + name


def test_sessions_and_restart_on_postgres(postgres: str, pki: Pki, tmp_path: Path) -> None:
    async def main() -> None:
        dsn = await _fresh(postgres, "csms_e2e")
        server = await start_server(pki, "", store=PostgresStore(dsn), price_per_kwh=0.25)
        for version, identity in ((v201, "PG-201"), (v16, "PG-16")):
            await _setup_registry(server, identity, 2)
            async with station(server, pki, identity, 2, version) as cp:
                if version is v201:
                    await _session_201(cp, server, identity)
                else:
                    await _session_16(cp, server, identity)
        paths = ("/api/stations", "/api/tokens", "/api/transactions", "/api/transactions/1", "/api/transactions/2")
        before = {p: (await admin(server, "GET", p))[1] for p in paths}
        await server.stop()
        server = await start_server(pki, "", store=PostgresStore(dsn), price_per_kwh=0.25)
        after = {p: (await admin(server, "GET", p))[1] for p in paths}
        for p in paths:
            if p == "/api/stations":
                for s in before[p] + after[p]:
                    s["connected"] = False
                    s["profile"] = s["version"] = None
            assert after[p] == before[p], p
        assert len(before["/api/transactions/1"]["meter_values"]) == 6
        async with station(server, pki, "PG-16", 2, v16) as cp:
            tx = await cp.call(v16.StartTransactionRequest(connector_id=2, id_tag="GOOD", meter_start=5,
                                                           timestamp=NOW))
            assert tx.transaction_id == 3  # numbering goes on after the restart
        await server.stop()

    asyncio.run(main())


def test_version_1_database_upgrades_on_postgres(postgres: str) -> None:
    """A version-1 PostgreSQL database opened by today's store: upgraded to the last version, nothing lost."""
    import asyncpg

    from .test_migrations import check_upgraded, version1_script

    async def main() -> None:
        dsn = await _fresh(postgres, "csms_v1")
        conn = await asyncpg.connect(dsn)
        await conn.execute(version1_script(PostgresStore.serial_type))
        await conn.close()
        store = PostgresStore(dsn)
        await store.open()
        try:
            await check_upgraded(store)
        finally:
            await store.close()

    asyncio.run(main())
