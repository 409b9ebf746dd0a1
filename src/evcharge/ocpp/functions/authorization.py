"""Authorization cache, local authorization list and the offline policy (OCPP 1.6 section 3.5, 2.0.1 C and D).

:class:`Authorization` keeps both in its injected store (a SQLite store survives a restart), and answers the one
question a charger has when someone presents a card: :meth:`Authorization.decide` says *accept now*,
*reject now* or *ask the CSMS* (send ``Authorize``), per the configured policy:

=============================  ======================================  ==============================================
1.6 key                        2.0.1 variable                          :class:`AuthorizationConfig` field
=============================  ======================================  ==============================================
LocalAuthorizeOffline          AuthCtrlr.LocalAuthorizeOffline         ``local_authorize_offline``
LocalPreAuthorize              AuthCtrlr.LocalPreAuthorize             ``local_pre_authorize``
AllowOfflineTxForUnknownId     AuthCtrlr.OfflineTxForUnknownIdEnabled  ``allow_offline_tx_for_unknown_id``
AuthorizationCacheEnabled      AuthCacheCtrlr.Enabled                  ``cache_enabled``
LocalAuthListEnabled           LocalAuthListCtrlr.Enabled              ``local_list_enabled``
(none)                         AuthCacheCtrlr.LifeTime                 ``cache_lifetime``
=============================  ======================================  ==============================================

Rules applied:

* the local list takes precedence over the cache;
* an entry is usable only with status ``Accepted`` and an expiry date (if any) in the future; an expired one reads
  as ``Expired``;
* online: with ``local_pre_authorize`` a usable entry starts charging at once, anything else asks the CSMS;
* offline: with ``local_authorize_offline`` a usable entry is accepted and a known non-accepted one is rejected;
  an identifier that is not known (or when ``local_authorize_offline`` is off) is accepted only with
  ``allow_offline_tx_for_unknown_id``.

Identifiers: a 1.6 ``idTag`` string, or a 2.0.1 ``IdTokenType`` dict (``{"idToken": ..., "type": ...}``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal

from evcharge.clock import WallClock

from ._common import FunctionsLocalError, FunctionsRemoteError, models_of, optional, parse_datetime, require
from .storage import MemoryStore, StateStore

IdToken = str | Mapping[str, Any]
_UNIX_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# the store's tables: token key -> {"info": ..., "updated": UNIX seconds}; token key -> info; name -> value
_CACHE, _LIST, _META = "auth_cache", "local_list", "auth_meta"


@dataclass(frozen=True, slots=True, kw_only=True)
class AuthorizationConfig:
    """The offline-authorization policy and the sizes of the stores."""

    version: Literal["1.6", "2.0.1", "2.1"] = "2.0.1"
    local_authorize_offline: bool = True
    local_pre_authorize: bool = False
    allow_offline_tx_for_unknown_id: bool = False
    cache_enabled: bool = True
    local_list_enabled: bool = True
    cache_max_entries: int = 1000
    cache_lifetime: float | None = None  # seconds an entry stays in the cache; None: for ever
    local_list_max_entries: int = 1000  # LocalAuthListMaxLength / LocalAuthListCtrlr.Entries
    send_local_list_max_length: int = 100  # SendLocalListMaxLength / LocalAuthListCtrlr.ItemsPerMessage


class Verdict(StrEnum):
    """What the charger does with a presented identifier."""

    ACCEPT = "accept"  # start charging now
    REJECT = "reject"  # do not start
    ASK_CSMS = "ask_csms"  # send Authorize and wait for its answer


class Source(StrEnum):
    """Where a decision came from."""

    LOCAL_LIST = "LocalList"
    CACHE = "Cache"
    UNKNOWN_OFFLINE = "UnknownOffline"
    NONE = "None"


@dataclass(frozen=True, slots=True)
class AuthDecision:
    """The answer of :meth:`Authorization.decide`."""

    verdict: Verdict
    source: Source
    status: str  # the (effective) authorization status: Accepted, Blocked, Expired, Invalid, Unknown...
    info: dict[str, Any] | None  # the idTagInfo / idTokenInfo found, in OCPP JSON


def token_key(token: IdToken) -> str:
    """The lookup key of an identifier: the 1.6 idTag, or ``type:idToken`` for 2.0.1 (case-insensitive ids)."""
    if isinstance(token, str):
        return token.upper()
    where = "idToken"
    return f"{require(token, 'type', str, where)}:{require(token, 'idToken', str, where).upper()}"


class Authorization:
    """The authorization cache and the local list of one charging station, kept in an injected store."""

    def __init__(self, config: AuthorizationConfig | None = None, *, store: StateStore | None = None,
                 wall: WallClock | None = None) -> None:
        """``store`` keeps cache and local list across restarts (:class:`~evcharge.ocpp.functions.storage.MemoryStore`
        when ``None``)."""
        self.config = config or AuthorizationConfig()
        _check_config(self.config)
        self._db: StateStore = store if store is not None else MemoryStore()
        #: maps the monotonic ``now`` of every method to UTC (expiry dates, cache ages); without one, ``now`` is read
        #: as UNIX seconds
        self.wall = wall if wall is not None else WallClock(_UNIX_EPOCH)

    def close(self) -> None:
        """Close the store."""
        self._db.close()

    @property
    def _v16(self) -> bool:
        return self.config.version == "1.6"

    # ------------------------------------------------------------ decisions

    def decide(self, token: IdToken, *, online: bool, now: float) -> AuthDecision:
        """What to do with ``token`` presented at ``now`` (see the module documentation for the rules)."""
        cfg = self.config
        found = self.lookup(token, now)
        if online:
            if cfg.local_pre_authorize and found is not None and found.status == "Accepted":
                return AuthDecision(Verdict.ACCEPT, found.source, found.status, found.info)
            return AuthDecision(Verdict.ASK_CSMS, Source.NONE, "Unknown", None)
        if cfg.local_authorize_offline and found is not None:
            verdict = Verdict.ACCEPT if found.status == "Accepted" else Verdict.REJECT
            return AuthDecision(verdict, found.source, found.status, found.info)
        if cfg.allow_offline_tx_for_unknown_id:
            return AuthDecision(Verdict.ACCEPT, Source.UNKNOWN_OFFLINE, "Unknown", None)
        return AuthDecision(Verdict.REJECT, Source.NONE, "Unknown", None)

    def lookup(self, token: IdToken, now: float) -> AuthDecision | None:
        """The local list entry, else the cache entry, for ``token`` with its effective status; ``None`` if unknown.

        The ``verdict`` of the result is ACCEPT for a usable entry and REJECT otherwise.
        """
        key = token_key(token)
        if self.config.local_list_enabled:
            info = self._db.get(_LIST, key)
            if info is not None:
                return self._judge(info, Source.LOCAL_LIST, now)
        if self.config.cache_enabled:
            row = self._db.get(_CACHE, key)
            if row is not None:
                lifetime = self.config.cache_lifetime
                if lifetime is not None and self.wall.unix(now) - row["updated"] >= lifetime:
                    self._db.delete(_CACHE, key)
                    return None
                return self._judge(row["info"], Source.CACHE, now)
        return None

    def _judge(self, info: dict[str, Any], source: Source, now: float) -> AuthDecision:
        status = str(info.get("status", "Invalid"))
        expiry_key = "expiryDate" if self._v16 else "cacheExpiryDateTime"
        expiry = info.get(expiry_key)
        if status == "Accepted" and expiry is not None and parse_datetime(expiry, expiry_key) <= self.wall.utc(now):
            status = "Expired"
        verdict = Verdict.ACCEPT if status == "Accepted" else Verdict.REJECT
        return AuthDecision(verdict, source, status, info)

    # ------------------------------------------------------------ the cache

    def update_cache(self, token: IdToken, info: Mapping[str, Any], now: float) -> None:
        """Record the idTagInfo / idTokenInfo the CSMS returned (Authorize, Start/StopTransaction,
        TransactionEvent answers).  The least recently updated entries go when the cache is full, non-accepted
        ones first (2.0.1 C10.FR.08)."""
        if not self.config.cache_enabled:
            return
        require(info, "status", str, "idTokenInfo")
        key = token_key(token)
        self._db.put(_CACHE, key, {"info": dict(info), "updated": self.wall.unix(now)})  # wall time: survives restarts
        excess = self.cache_size - self.config.cache_max_entries
        if excess > 0:
            rows = sorted((r for r in self._db.items(_CACHE) if r[0] != key), key=lambda r: r[1]["updated"])
            ordered = sorted(rows, key=lambda r: r[1]["info"].get("status") == "Accepted")
            for victim, _ in ordered[:excess]:
                self._db.delete(_CACHE, victim)

    @property
    def cache_size(self) -> int:
        """Entries in the cache."""
        return self._db.count(_CACHE)

    def clear_cache(self) -> dict[str, Any]:
        """ClearCache: answer ``Accepted`` (``Rejected`` when the cache is disabled)."""
        if not self.config.cache_enabled:
            return {"status": "Rejected"}
        self._db.clear(_CACHE)
        return {"status": "Accepted"}

    # ------------------------------------------------------------ the local list

    @property
    def local_list_version(self) -> int:
        """The version of the local list; 0 when no list was ever sent."""
        value = self._db.get(_META, "list_version")
        return 0 if value is None else int(value)

    @property
    def local_list_size(self) -> int:
        """Entries in the local list."""
        return self._db.count(_LIST)

    def handle_get_local_list_version(self, payload: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """GetLocalListVersion: the version (1.6: -1 when the list is disabled)."""
        if self._v16:
            return {"listVersion": self.local_list_version if self.config.local_list_enabled else -1}
        return {"versionNumber": self.local_list_version}

    def get_local_list_version(self, request: Any) -> Any:
        """GetLocalListVersion: typed request -> typed response of its version."""
        m = models_of(request)
        if self._v16:
            return m.GetLocalListVersionResponse(
                list_version=self.local_list_version if self.config.local_list_enabled else -1)
        return m.GetLocalListVersionResponse(version_number=self.local_list_version)

    def send_local_list(self, request: Any) -> Any:
        """SendLocalList: typed request (validated by the RPC core) -> typed response; see
        :meth:`handle_send_local_list`.  The entries' ``idTagInfo`` / ``idTokenInfo`` are stored as JSON."""
        m = models_of(request)
        if self._v16:
            if not self.config.local_list_enabled:
                return m.SendLocalListResponse(status="NotSupported")
            version = request.list_version
            entries = [(token_key(e.id_tag), None if e.id_tag_info is None else e.id_tag_info.to_json())
                       for e in request.local_authorization_list or ()]
        else:
            version = request.version_number
            entries = [(f"{e.id_token.type}:{e.id_token.id_token.upper()}",
                        None if e.id_token_info is None else e.id_token_info.to_json())
                       for e in request.local_authorization_list or ()]
        return m.SendLocalListResponse(status=self._apply_list(version, request.update_type, entries))

    def _apply_list(self, version: int, update_type: str, parsed: list[tuple[str, dict[str, Any] | None]]) -> str:
        if len(parsed) > self.config.send_local_list_max_length:
            return "Failed"
        if version <= 0:
            return "Failed"  # 0 means "no list" and -1 "not supported": never a real version
        if update_type == "Differential" and version <= self.local_list_version:
            return "VersionMismatch"
        try:
            with self._db.transaction():  # all or nothing
                if update_type == "Full":
                    self._db.clear(_LIST)
                for key, info in parsed:
                    if info is None:
                        self._db.delete(_LIST, key)
                    else:
                        self._db.put(_LIST, key, info)
                if self.local_list_size > self.config.local_list_max_entries:
                    raise _ListTooLong
                self._db.put(_META, "list_version", version)
        except _ListTooLong:
            return "Failed"
        return "Accepted"

    def handle_send_local_list(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        """SendLocalList: full or differential update; answers Accepted / Failed / VersionMismatch
        (1.6 also NotSupported when the local list is disabled).  The update is atomic: all or nothing."""
        where = "SendLocalList"
        v16 = self._v16
        if v16 and not self.config.local_list_enabled:
            return {"status": "NotSupported"}
        version = require(payload, "listVersion" if v16 else "versionNumber", int, where)
        update_type = require(payload, "updateType", str, where)
        if update_type not in ("Full", "Differential"):
            raise FunctionsRemoteError(f"{where}.updateType: unknown update type {update_type!r}")
        entries = optional(payload, "localAuthorizationList", list, where) or []
        parsed: list[tuple[str, dict[str, Any] | None]] = []
        for i, entry in enumerate(entries):
            ew = f"{where}.localAuthorizationList[{i}]"
            if v16:
                key = token_key(require(entry, "idTag", str, ew))
                info = optional(entry, "idTagInfo", Mapping, ew)
            else:
                key = token_key(require(entry, "idToken", Mapping, ew))
                info = optional(entry, "idTokenInfo", Mapping, ew)
            if info is not None:
                require(info, "status", str, f"{ew}.info")
            parsed.append((key, None if info is None else dict(info)))
        return {"status": self._apply_list(version, update_type, parsed)}

    def expire_cache_before(self, when: datetime) -> int:
        """Drop cache entries last updated before ``when``; returns how many went."""
        limit = when.timestamp()
        with self._db.transaction():
            old = [key for key, row in self._db.items(_CACHE) if row["updated"] < limit]
            for key in old:
                self._db.delete(_CACHE, key)
        return len(old)

    def cache_lifetime_timer(self, now: float) -> float | None:
        """The ``now`` at which the oldest cache entry reaches ``cache_lifetime`` (``None`` if no lifetime or empty
        cache)."""
        if self.config.cache_lifetime is None:
            return None
        rows = self._db.items(_CACHE)
        if not rows:
            return None
        oldest = float(min(row["updated"] for _, row in rows))
        return now + max(0.0, oldest + self.config.cache_lifetime - self.wall.unix(now))


class _ListTooLong(Exception):
    """Rolls the local-list update back."""


def _check_config(config: AuthorizationConfig) -> None:
    if config.cache_max_entries < 0 or config.local_list_max_entries < 0:
        raise FunctionsLocalError("sizes must not be negative")


__all__ = [
    "AuthDecision",
    "Authorization",
    "AuthorizationConfig",
    "IdToken",
    "Source",
    "Verdict",
    "token_key",
]
