"""Schema migration 1 -> 2: a version-1 database (made with the version-1 script, as a CSMS of that version left it)
opened by today's store is upgraded and keeps every row; the new tables and column work.  SQLite here, PostgreSQL
in test_postgres.py with the same helpers."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from evcharge.csms.store import MIGRATIONS, SettlementRecord, SqlStore, StationEvent
from evcharge.csms.transport.sqlite import SqliteStore

#: what a version-1 CSMS stored: rows of every version-1 table (ids in insertion order from 1)
V1_ROWS: dict[str, list[dict[str, Any]]] = {
    "stations": [
        {"id": "CS-1", "password_hash": "pbkdf2$x", "min_profile": 1, "boot_status": "Accepted", "vendor": "ACME",
         "model": "M", "serial": "S1", "firmware": "1.0", "ocpp_version": "2.0.1", "last_boot": "2026-01-01T10:00:00Z"},
        {"id": "CS-2", "password_hash": None, "min_profile": 0, "boot_status": "Pending", "vendor": None,
         "model": None, "serial": None, "firmware": None, "ocpp_version": "1.6", "last_boot": None},
    ],
    "tokens": [
        {"id_token": "GOOD", "type": "ISO14443", "status": "Accepted", "expiry": None, "group_id": "FLEET"},
        {"id_token": "OLD", "type": "", "status": "Accepted", "expiry": "2020-01-01T00:00:00Z", "group_id": None},
    ],
    "transactions": [
        {"station_id": "CS-1", "transaction_id": "tx-A", "evse_id": 1, "connector_id": 1, "id_token": "GOOD",
         "started_at": "2026-01-01T10:00:00Z", "ended_at": "2026-01-01T11:00:00Z", "meter_start_wh": 1000.0,
         "meter_stop_wh": 3000.0, "stop_reason": "EVDisconnected", "next_seq_no": 3, "seq_nos": "0-2",
         "messages": 3, "cost": 0.5},
        {"station_id": "CS-2", "transaction_id": "2", "evse_id": None, "connector_id": 1, "id_token": "OLD",
         "started_at": "2026-01-01T12:00:00Z", "ended_at": None, "meter_start_wh": 5.0, "meter_stop_wh": None,
         "stop_reason": None, "next_seq_no": 0, "seq_nos": "", "messages": 1, "cost": None},
    ],
    "meter_values": [
        {"station_id": "CS-1", "transaction_ref": 1, "timestamp": "2026-01-01T10:00:00Z",
         "measurand": "Energy.Active.Import.Register", "value": 1000.0, "unit": "Wh", "phase": None,
         "context": "Transaction.Begin", "location": None},
        {"station_id": "CS-1", "transaction_ref": 1, "timestamp": "2026-01-01T10:00:00Z", "measurand": "Voltage",
         "value": 230.1, "unit": "V", "phase": "L1-N", "context": None, "location": "Outlet"},
        {"station_id": "CS-2", "transaction_ref": None, "timestamp": "2026-01-01T09:00:00Z",
         "measurand": "Energy.Active.Import.Register", "value": 4.0, "unit": "Wh", "phase": None, "context": None,
         "location": None},
    ],
    "certificates": [{"serial": "a1b2", "station_id": "CS-1", "pem": "-----BEGIN CERTIFICATE-----\nMII\n",
                      "issued_at": "2026-01-01T10:00:00Z"}],
    "local_lists": [{"station_id": "CS-1", "version": 4}],
}
_ORDER = {"stations": "id", "tokens": "id_token, type", "transactions": "id", "meter_values": "id",
          "certificates": "serial", "local_lists": "station_id"}


def _literal(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return repr(value)


def version1_script(serial_type: str) -> str:
    """The version-1 schema (migration 1, unchanged since it shipped), its rows and ``schema_version`` 1."""
    lines = [MIGRATIONS[0].replace("{serial}", serial_type).strip().rstrip(";") + ";",
             "CREATE TABLE schema_version (version INTEGER NOT NULL);", "INSERT INTO schema_version VALUES (1);"]
    for table, rows in V1_ROWS.items():
        for row in rows:
            lines.append(f"INSERT INTO {table} ({', '.join(row)}) VALUES ({', '.join(map(_literal, row.values()))});")
    return "\n".join(lines)


async def check_upgraded(store: SqlStore) -> None:
    """``store`` (a version-1 database, just opened) is at the last version and lost nothing."""
    versions = await store._fetch("SELECT version FROM schema_version ORDER BY version")
    assert [int(r["version"]) for r in versions] == list(range(1, len(MIGRATIONS) + 1))
    assert len(MIGRATIONS) >= 2
    for table, rows in V1_ROWS.items():
        got = [dict(r) for r in await store._fetch(f"SELECT * FROM {table} ORDER BY {_ORDER[table]}")]
        assert [{k: r[k] for k in rows[0]} for r in got] == rows, table
    # through the store's interface too: the records read, the new column empty
    assert [s.id for s in await store.list_stations()] == ["CS-1", "CS-2"]
    txs = await store.list_transactions()
    assert [(t.id, t.transaction_id, t.cost, t.cost_sent) for t in txs] == [
        (1, "tx-A", 0.5, None), (2, "2", None, None)]
    assert [(v.measurand, v.value) for v in await store.meter_values(1)] == [
        ("Energy.Active.Import.Register", 1000.0), ("Voltage", 230.1)]
    assert await store.next_local_list_version("CS-1") == 5
    # what version 2 adds works, and numbering goes on after the old rows
    await store.save_transaction(txs[1], cost_sent=0.12)
    assert (await store.transaction_by_id(2)).cost_sent == 0.12  # type: ignore[union-attr]
    new = await store.new_transaction("CS-2", None, connector_id=2)
    assert new.id == 3 and new.transaction_id == "3"
    settlement = SettlementRecord(station_id="CS-1", psp_ref="PSP-9", status="Settled", amount=0.5,
                                  settled_at="2026-01-01T11:01:00Z", transaction_id="tx-A", transaction_ref=1)
    await store.put_settlement(settlement)
    assert await store.list_settlements("CS-1") == [settlement]
    await store.add_event(StationEvent(station_id="CS-1", received_at="2026-01-01T11:02:00Z",
                                       action="NotifyDERAlarm", payload="{}"))
    assert [e.action for e in await store.list_events("CS-1")] == ["NotifyDERAlarm"]


def test_sqlite_version_1_upgrades_and_loses_nothing(tmp_path: Path) -> None:
    path = tmp_path / "v1.db"
    db = sqlite3.connect(path)
    db.executescript(version1_script(SqliteStore.serial_type))
    db.close()

    async def main() -> None:
        store = SqliteStore(path)
        await store.open()
        await check_upgraded(store)
        await store.close()
        again = SqliteStore(path)  # opening an upgraded database again changes nothing
        await again.open()
        rows: list[Mapping[str, Any]] = await again._fetch("SELECT COUNT(*) AS n FROM schema_version")
        assert rows[0]["n"] == len(MIGRATIONS)
        await again.close()

    asyncio.run(main())


def test_a_new_database_has_the_same_schema_as_an_upgraded_one(tmp_path: Path) -> None:
    """Migrations applied one by one to a version-1 database give the schema a new database gets."""
    old = tmp_path / "old.db"
    db = sqlite3.connect(old)
    db.executescript(version1_script(SqliteStore.serial_type))
    db.close()

    async def main() -> None:
        for path in (old, tmp_path / "new.db"):
            store = SqliteStore(path)
            await store.open()
            await store.close()

    asyncio.run(main())

    def schema(path: Path) -> dict[str, list[tuple[Any, ...]]]:
        db = sqlite3.connect(path)
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'index') "
                                           "AND name NOT LIKE 'sqlite_%' ORDER BY name")]
        out = {t: list(db.execute(f"PRAGMA table_info({t})")) for t in tables}
        db.close()
        return out

    assert schema(old) == schema(tmp_path / "new.db")
