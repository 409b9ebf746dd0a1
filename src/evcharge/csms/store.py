"""What the reference CSMS keeps, and the one schema both databases share.

:class:`Store` is the interface (asynchronous, so a network database fits it); :class:`SqlStore` implements it
on top of four primitive calls a database adapter provides (``transport/sqlite.py``, ``transport/postgres.py``).
The schema and its migrations are one list of SQL scripts for both; the only dialect difference is the
auto-numbered primary key (``{serial}``) and the placeholders (``?`` here, ``$n`` for PostgreSQL, rewritten by
its adapter).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, replace
from typing import Any

__all__ = ["MIGRATIONS", "MeterValueRecord", "SettlementRecord", "SqlStore", "StationEvent", "StationRecord", "Store",
           "TokenRecord", "TransactionRecord"]


@dataclass(frozen=True, slots=True, kw_only=True)
class StationRecord:
    """A charging station the CSMS knows."""

    id: str
    password_hash: str | None = None
    min_profile: int = 0
    boot_status: str = "Accepted"  #: what BootNotification answers (Accepted, Pending or Rejected)
    vendor: str | None = None
    model: str | None = None
    serial: str | None = None
    firmware: str | None = None
    ocpp_version: str | None = None
    last_boot: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class TokenRecord:
    """An identifier token: its status, expiry (OCPP date-time) and group."""

    id_token: str
    token_type: str = ""  #: 2.0.1 IdTokenEnumType; empty for 1.6 idTags (any type matches)
    status: str = "Accepted"
    expiry: str | None = None
    group_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class TransactionRecord:
    """One transaction; ``id`` is the CSMS's monotonic number (the 1.6 transactionId)."""

    id: int
    station_id: str
    transaction_id: str  #: the station's id (2.0.1) or ``str(id)`` (1.6)
    evse_id: int | None = None
    connector_id: int | None = None
    id_token: str | None = None
    started_at: str | None = None
    ended_at: str | None = None
    meter_start_wh: float | None = None
    meter_stop_wh: float | None = None
    stop_reason: str | None = None
    next_seq_no: int = 0  #: the seqNo expected next (2.0.1)
    seq_nos: str = ""  #: the seqNos received, as ranges (``"0-41,45"``, 2.0.1)
    messages: int = 0
    cost: float | None = None  #: the final cost, set when the transaction ends (with a price per kWh)
    cost_sent: float | None = None  #: the last running cost sent in CostUpdated (schema version 2)

    def to_json(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        if self.meter_start_wh is not None and self.meter_stop_wh is not None:
            out["energy_wh"] = round(self.meter_stop_wh - self.meter_start_wh, 3)
        return out


@dataclass(frozen=True, slots=True, kw_only=True)
class SettlementRecord:
    """A payment settlement a station reported (OCPP 2.1 NotifySettlement), by its payment reference."""

    station_id: str
    psp_ref: str  #: the payment service provider's reference
    status: str  #: Settled, Canceled, Rejected or Failed
    amount: float  #: settlementAmount
    settled_at: str  #: settlementTime
    transaction_id: str | None = None  #: the station's transactionId
    transaction_ref: int | None = None  #: the CSMS's transaction it belongs to, when known
    receipt_id: str | None = None
    receipt_url: str | None = None
    vat_number: str | None = None
    vat_company: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class StationEvent:
    """A notification kept as it came (``payload``: its JSON)."""

    station_id: str
    received_at: str
    action: str
    payload: str
    id: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class MeterValueRecord:
    """One sampled value, linked to its transaction (``transaction`` ``None``: a reading outside any)."""

    station_id: str
    transaction: int | None
    timestamp: str
    measurand: str
    value: float
    unit: str = ""
    phase: str | None = None
    context: str | None = None
    location: str | None = None


#: The schema, one script per version; ``{serial}`` is the dialect's auto-numbered integer primary key.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE stations (
        id TEXT PRIMARY KEY, password_hash TEXT, min_profile INTEGER NOT NULL DEFAULT 0,
        boot_status TEXT NOT NULL DEFAULT 'Accepted', vendor TEXT, model TEXT, serial TEXT, firmware TEXT,
        ocpp_version TEXT, last_boot TEXT);
    CREATE TABLE tokens (
        id_token TEXT NOT NULL, type TEXT NOT NULL DEFAULT '', status TEXT NOT NULL, expiry TEXT, group_id TEXT,
        PRIMARY KEY (id_token, type));
    CREATE TABLE transactions (
        id {serial}, station_id TEXT NOT NULL, transaction_id TEXT NOT NULL, evse_id INTEGER, connector_id INTEGER,
        id_token TEXT, started_at TEXT, ended_at TEXT, meter_start_wh DOUBLE PRECISION,
        meter_stop_wh DOUBLE PRECISION, stop_reason TEXT, next_seq_no INTEGER NOT NULL DEFAULT 0,
        seq_nos TEXT NOT NULL DEFAULT '',
        messages INTEGER NOT NULL DEFAULT 0, cost DOUBLE PRECISION,
        UNIQUE (station_id, transaction_id));
    CREATE TABLE meter_values (
        id {serial}, station_id TEXT NOT NULL, transaction_ref INTEGER REFERENCES transactions (id),
        timestamp TEXT NOT NULL, measurand TEXT NOT NULL, value DOUBLE PRECISION NOT NULL, unit TEXT NOT NULL,
        phase TEXT, context TEXT, location TEXT);
    CREATE INDEX meter_values_tx ON meter_values (transaction_ref);
    CREATE TABLE certificates (
        serial TEXT PRIMARY KEY, station_id TEXT NOT NULL, pem TEXT NOT NULL, issued_at TEXT NOT NULL);
    CREATE TABLE local_lists (station_id TEXT PRIMARY KEY, version INTEGER NOT NULL);
    """,
    # 2: OCPP 2.1 -- NotifySettlement (payment terminal settlements), the station notifications kept as they came
    # (DER alarms and control reports, battery swaps, priority charging), the running cost sent in CostUpdated
    """
    CREATE TABLE settlements (
        id {serial}, station_id TEXT NOT NULL, transaction_ref INTEGER REFERENCES transactions (id),
        transaction_id TEXT, psp_ref TEXT NOT NULL, status TEXT NOT NULL, amount DOUBLE PRECISION NOT NULL,
        settled_at TEXT NOT NULL, receipt_id TEXT, receipt_url TEXT, vat_number TEXT, vat_company TEXT,
        UNIQUE (station_id, psp_ref));
    CREATE TABLE station_events (
        id {serial}, station_id TEXT NOT NULL, received_at TEXT NOT NULL, action TEXT NOT NULL,
        payload TEXT NOT NULL);
    CREATE INDEX station_events_station ON station_events (station_id, id);
    ALTER TABLE transactions ADD COLUMN cost_sent DOUBLE PRECISION;
    """,
)

_TX_FIELDS = tuple(f.name for f in fields(TransactionRecord))
_STATION_FIELDS = tuple(f.name for f in fields(StationRecord))
_TOKEN_FIELDS = tuple(f.name for f in fields(TokenRecord))
_SETTLEMENT_FIELDS = tuple(f.name for f in fields(SettlementRecord))
_TOKEN_COLUMNS = {"token_type": "type"}  # the field's column name where they differ


class Store:
    """The CSMS's storage (the methods :class:`~evcharge.csms.handlers` and the admin API use)."""

    async def open(self) -> None:
        """Connect and bring the schema up to date."""
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError

    async def get_station(self, station_id: str) -> StationRecord | None:
        raise NotImplementedError

    async def put_station(self, station: StationRecord) -> None:
        raise NotImplementedError

    async def list_stations(self) -> list[StationRecord]:
        raise NotImplementedError

    async def get_token(self, id_token: str, type_: str) -> TokenRecord | None:
        """The token of that type, else one stored without a type (a 1.6 idTag matches any type)."""
        raise NotImplementedError

    async def put_token(self, token: TokenRecord) -> None:
        raise NotImplementedError

    async def delete_token(self, id_token: str, type_: str) -> bool:
        raise NotImplementedError

    async def list_tokens(self) -> list[TokenRecord]:
        raise NotImplementedError

    async def get_transaction(self, station_id: str, transaction_id: str) -> TransactionRecord | None:
        raise NotImplementedError

    async def transaction_by_id(self, id_: int) -> TransactionRecord | None:
        raise NotImplementedError

    async def new_transaction(self, station_id: str, transaction_id: str | None, **values: Any) -> TransactionRecord:
        """Create a transaction; ``transaction_id`` ``None`` takes the CSMS's own number (1.6)."""
        raise NotImplementedError

    async def update_transaction(self, id_: int, **values: Any) -> TransactionRecord:
        raise NotImplementedError

    async def save_transaction(self, tx: TransactionRecord, **values: Any) -> TransactionRecord:
        """Write ``values`` into ``tx`` (as read before); the record with them, without reading it again."""
        raise NotImplementedError

    async def list_transactions(self, station_id: str | None = None) -> list[TransactionRecord]:
        raise NotImplementedError

    async def add_meter_values(self, values: Sequence[MeterValueRecord]) -> None:
        raise NotImplementedError

    async def meter_values(self, transaction: int) -> list[MeterValueRecord]:
        raise NotImplementedError

    async def add_certificate(self, serial: str, station_id: str, pem: str, issued_at: str) -> None:
        raise NotImplementedError

    async def next_local_list_version(self, station_id: str) -> int:
        raise NotImplementedError

    async def put_settlement(self, settlement: SettlementRecord) -> None:
        """Store a settlement; one reported again (same station and ``psp_ref``) replaces the first."""
        raise NotImplementedError

    async def list_settlements(self, station_id: str | None = None) -> list[SettlementRecord]:
        raise NotImplementedError

    async def add_event(self, event: StationEvent) -> None:
        raise NotImplementedError

    async def list_events(self, station_id: str | None = None, action: str | None = None) -> list[StationEvent]:
        raise NotImplementedError


class SqlStore(Store):
    """:class:`Store` on SQL; an adapter provides ``_script``, ``_execute``, ``_fetch`` and ``_insert_id``."""

    serial_type = "INTEGER PRIMARY KEY"

    # -- the adapter's part ------------------------------------------------------------------------

    async def _script(self, sql: str) -> None:
        """Run several statements (a migration) in one transaction, with its schema_version update."""
        raise NotImplementedError

    async def _execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one statement; the number of rows it changed."""
        raise NotImplementedError

    async def _fetch(self, sql: str, params: Sequence[Any] = ()) -> list[Mapping[str, Any]]:
        raise NotImplementedError

    async def _insert_id(self, sql: str, params: Sequence[Any]) -> int:
        """Run an INSERT ... RETURNING id; the id."""
        rows = await self._fetch(sql + " RETURNING id", params)
        return int(rows[0]["id"])

    # -- schema ------------------------------------------------------------------------------------

    async def migrate(self) -> int:
        """Apply the migrations not applied yet; the schema version now."""
        await self._execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        rows = await self._fetch("SELECT MAX(version) AS v FROM schema_version")
        done = int(rows[0]["v"] or 0) if rows else 0
        for number, script in enumerate(MIGRATIONS, start=1):
            if number > done:
                await self._script(script.replace("{serial}", self.serial_type)
                                   + f";\nINSERT INTO schema_version (version) VALUES ({number})")
        return len(MIGRATIONS)

    # -- stations ----------------------------------------------------------------------------------

    async def get_station(self, station_id: str) -> StationRecord | None:
        rows = await self._fetch("SELECT * FROM stations WHERE id = ?", (station_id,))
        return StationRecord(**{k: rows[0][k] for k in _STATION_FIELDS}) if rows else None

    async def put_station(self, station: StationRecord) -> None:
        values = [getattr(station, f) for f in _STATION_FIELDS]
        cols = ", ".join(_STATION_FIELDS)
        marks = ", ".join("?" for _ in _STATION_FIELDS)
        updates = ", ".join(f"{f} = EXCLUDED.{f}" for f in _STATION_FIELDS[1:])
        await self._execute(f"INSERT INTO stations ({cols}) VALUES ({marks}) ON CONFLICT (id) DO UPDATE SET {updates}",
                            values)

    async def list_stations(self) -> list[StationRecord]:
        rows = await self._fetch("SELECT * FROM stations ORDER BY id")
        return [StationRecord(**{k: r[k] for k in _STATION_FIELDS}) for r in rows]

    # -- tokens ------------------------------------------------------------------------------------

    async def get_token(self, id_token: str, type_: str) -> TokenRecord | None:
        rows = await self._fetch("SELECT * FROM tokens WHERE id_token = ? AND (type = ? OR type = '') "
                                 "ORDER BY type DESC", (id_token, type_))
        return self._token(rows[0]) if rows else None

    @staticmethod
    def _token(row: Mapping[str, Any]) -> TokenRecord:
        return TokenRecord(**{k: row[_TOKEN_COLUMNS.get(k, k)] for k in _TOKEN_FIELDS})

    async def put_token(self, token: TokenRecord) -> None:
        await self._execute(
            "INSERT INTO tokens (id_token, type, status, expiry, group_id) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (id_token, type) DO UPDATE SET status = EXCLUDED.status, expiry = EXCLUDED.expiry, "
            "group_id = EXCLUDED.group_id",
            (token.id_token, token.token_type, token.status, token.expiry, token.group_id))

    async def delete_token(self, id_token: str, type_: str) -> bool:
        return await self._execute("DELETE FROM tokens WHERE id_token = ? AND type = ?", (id_token, type_)) > 0

    async def list_tokens(self) -> list[TokenRecord]:
        rows = await self._fetch("SELECT * FROM tokens ORDER BY id_token, type")
        return [self._token(r) for r in rows]

    # -- transactions ------------------------------------------------------------------------------

    @staticmethod
    def _tx(row: Mapping[str, Any]) -> TransactionRecord:
        return TransactionRecord(**{k: row[k] for k in _TX_FIELDS})

    async def get_transaction(self, station_id: str, transaction_id: str) -> TransactionRecord | None:
        rows = await self._fetch("SELECT * FROM transactions WHERE station_id = ? AND transaction_id = ?",
                                 (station_id, transaction_id))
        return self._tx(rows[0]) if rows else None

    async def transaction_by_id(self, id_: int) -> TransactionRecord | None:
        rows = await self._fetch("SELECT * FROM transactions WHERE id = ?", (id_,))
        return self._tx(rows[0]) if rows else None

    async def new_transaction(self, station_id: str, transaction_id: str | None, **values: Any) -> TransactionRecord:
        cols = ["station_id", "transaction_id", *values]
        marks = ", ".join("?" for _ in cols)
        # 1.6: the transaction id is the row's own number; a placeholder first, unique per row
        placeholder = transaction_id if transaction_id is not None else "pending:" + station_id + ":" + str(id(values))
        id_ = await self._insert_id(f"INSERT INTO transactions ({', '.join(cols)}) VALUES ({marks})",
                                    (station_id, placeholder, *values.values()))
        if transaction_id is None:
            await self._execute("UPDATE transactions SET transaction_id = ? WHERE id = ?", (str(id_), id_))
        tx = await self.transaction_by_id(id_)
        assert tx is not None
        return tx

    async def update_transaction(self, id_: int, **values: Any) -> TransactionRecord:
        if values:
            sets = ", ".join(f"{k} = ?" for k in values if k in _TX_FIELDS)
            await self._execute(f"UPDATE transactions SET {sets} WHERE id = ?", (*values.values(), id_))
        tx = await self.transaction_by_id(id_)
        assert tx is not None
        return tx

    async def save_transaction(self, tx: TransactionRecord, **values: Any) -> TransactionRecord:
        if not values:
            return tx
        sets = ", ".join(f"{k} = ?" for k in values if k in _TX_FIELDS)
        await self._execute(f"UPDATE transactions SET {sets} WHERE id = ?", (*values.values(), tx.id))
        return replace(tx, **values)

    async def list_transactions(self, station_id: str | None = None) -> list[TransactionRecord]:
        if station_id is None:
            rows = await self._fetch("SELECT * FROM transactions ORDER BY id")
        else:
            rows = await self._fetch("SELECT * FROM transactions WHERE station_id = ? ORDER BY id", (station_id,))
        return [self._tx(r) for r in rows]

    async def add_meter_values(self, values: Sequence[MeterValueRecord]) -> None:
        for v in values:
            await self._execute(
                "INSERT INTO meter_values (station_id, transaction_ref, timestamp, measurand, value, unit, phase, "
                "context, location) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (v.station_id, v.transaction, v.timestamp, v.measurand, v.value, v.unit, v.phase, v.context,
                 v.location))

    async def meter_values(self, transaction: int) -> list[MeterValueRecord]:
        rows = await self._fetch("SELECT * FROM meter_values WHERE transaction_ref = ? ORDER BY id", (transaction,))
        return [MeterValueRecord(station_id=r["station_id"], transaction=r["transaction_ref"],
                                 timestamp=r["timestamp"], measurand=r["measurand"], value=r["value"], unit=r["unit"],
                                 phase=r["phase"], context=r["context"], location=r["location"]) for r in rows]

    # -- certificates, local lists -----------------------------------------------------------------

    async def add_certificate(self, serial: str, station_id: str, pem: str, issued_at: str) -> None:
        await self._execute("INSERT INTO certificates (serial, station_id, pem, issued_at) VALUES (?, ?, ?, ?)",
                            (serial, station_id, pem, issued_at))

    async def next_local_list_version(self, station_id: str) -> int:
        await self._execute("INSERT INTO local_lists (station_id, version) VALUES (?, 1) ON CONFLICT (station_id) "
                            "DO UPDATE SET version = local_lists.version + 1", (station_id,))
        rows = await self._fetch("SELECT version FROM local_lists WHERE station_id = ?", (station_id,))
        return int(rows[0]["version"])

    # -- OCPP 2.1: settlements, station events ----------------------------------------------------

    async def put_settlement(self, settlement: SettlementRecord) -> None:
        names = _SETTLEMENT_FIELDS
        updates = ", ".join(f"{f} = EXCLUDED.{f}" for f in names if f not in ("station_id", "psp_ref"))
        await self._execute(f"INSERT INTO settlements ({', '.join(names)}) VALUES ({', '.join('?' for _ in names)}) "
                            f"ON CONFLICT (station_id, psp_ref) DO UPDATE SET {updates}",
                            [getattr(settlement, f) for f in names])

    async def list_settlements(self, station_id: str | None = None) -> list[SettlementRecord]:
        where, params = ("WHERE station_id = ? ", (station_id,)) if station_id is not None else ("", ())
        rows = await self._fetch(f"SELECT * FROM settlements {where}ORDER BY id", params)
        return [SettlementRecord(**{k: r[k] for k in _SETTLEMENT_FIELDS}) for r in rows]

    async def add_event(self, event: StationEvent) -> None:
        await self._execute("INSERT INTO station_events (station_id, received_at, action, payload) VALUES (?, ?, ?, ?)",
                            (event.station_id, event.received_at, event.action, event.payload))

    async def list_events(self, station_id: str | None = None, action: str | None = None) -> list[StationEvent]:
        conditions, params = [], []
        if station_id is not None:
            conditions.append("station_id = ?")
            params.append(station_id)
        if action is not None:
            conditions.append("action = ?")
            params.append(action)
        where = ("WHERE " + " AND ".join(conditions) + " ") if conditions else ""
        rows = await self._fetch(f"SELECT * FROM station_events {where}ORDER BY id", params)
        return [StationEvent(id=r["id"], station_id=r["station_id"], received_at=r["received_at"], action=r["action"],
                             payload=r["payload"]) for r in rows]
