"""The admin API of the reference CSMS (JSON over HTTP; see docs/csms.rst for every route).

=========  ======================================  ==========================================================
method     path                                    what
=========  ======================================  ==========================================================
GET        /api/stations                           the registry, with ``connected`` and the version in use
PUT        /api/stations/{id}                      ``{"password", "min_profile", "boot_status"}`` (any of them)
POST       /api/stations/{id}/call                 ``{"action", "payload", "timeout"}``: a CALL, its answer
POST       /api/stations/{id}/local-list           SendLocalList (full) of every stored token
GET        /api/tokens                             the tokens
PUT        /api/tokens/{id}                        ``{"type", "status", "expiry", "group_id"}``
DELETE     /api/tokens/{id}?type=...               forget a token
GET        /api/transactions?station=...           the transactions
GET        /api/transactions/{n}                   one transaction and its meter values
GET        /api/settlements?station=...            OCPP 2.1 NotifySettlement, one per payment reference
GET        /api/events?station=...&action=...      the 2.1 notifications kept (DER, battery swap, priority, VAT)
=========  ======================================  ==========================================================
"""

from __future__ import annotations

import hmac
import json
from dataclasses import asdict
from typing import Any

from evcharge.csms.handlers import CsmsService
from evcharge.csms.passwords import hash_password
from evcharge.csms.store import StationRecord, TokenRecord
from evcharge.ocpp.errors import CallTimeoutError, LocalProtocolError, NotConnectedError, OcppCallError

__all__ = ["AdminApi"]

_BOOT = ("Accepted", "Pending", "Rejected")
_TOKEN_STATUS = ("Accepted", "Blocked", "Expired", "Invalid", "NoCredit", "NotAllowedTypeEVSE", "NotAtThisLocation",
                 "NotAtThisTime", "Unknown", "ConcurrentTx")


class AdminApi:
    """Answers admin requests; ``token``: the bearer token every request must carry (``None``: none needed)."""

    def __init__(self, service: CsmsService, *, token: str | None = None) -> None:
        self.service = service
        self.token = token

    async def __call__(self, method: str, path: str, query: dict[str, str], headers: dict[str, str], body: Any
                       ) -> tuple[int, Any]:
        if self.token is not None:
            given = headers.get("authorization", "")
            if not hmac.compare_digest(given.encode(), f"Bearer {self.token}".encode()):
                return 401, {"error": "a bearer token is needed"}
        parts = [p for p in path.split("/") if p]
        if not parts or parts[0] != "api":
            return 404, {"error": "no such route"}
        parts = parts[1:]
        try:
            return await self._route(method, parts, query, body)
        except (KeyError, TypeError, ValueError) as exc:
            return 400, {"error": f"bad request: {type(exc).__name__}: {exc}"}

    async def _route(self, method: str, parts: list[str], query: dict[str, str], body: Any) -> tuple[int, Any]:
        store = self.service.store
        match (method, parts):
            case ("GET", ["stations"]):
                return 200, [self._station(s) for s in await store.list_stations()]
            case ("PUT", ["stations", identity]):
                return await self._put_station(identity, body or {})
            case ("POST", ["stations", identity, "call"]):
                return await self._call(identity, body)
            case ("POST", ["stations", identity, "local-list"]):
                return await self._local_list(identity)
            case ("GET", ["tokens"]):
                return 200, [_token(t) for t in await store.list_tokens()]
            case ("PUT", ["tokens", id_token]):
                body = body or {}
                status = body.get("status", "Accepted")
                if status not in _TOKEN_STATUS:
                    return 400, {"error": f"status is one of {', '.join(_TOKEN_STATUS)}"}
                token = TokenRecord(id_token=id_token, token_type=str(body.get("type", "")), status=status,
                                    expiry=body.get("expiry"), group_id=body.get("group_id"))
                await store.put_token(token)
                return 200, _token(token)
            case ("DELETE", ["tokens", id_token]):
                found = await store.delete_token(id_token, query.get("type", ""))
                return (204, None) if found else (404, {"error": "no such token"})
            case ("GET", ["transactions"]):
                return 200, [t.to_json() for t in await store.list_transactions(query.get("station"))]
            case ("GET", ["transactions", number]):
                tx = await store.transaction_by_id(int(number))
                if tx is None:
                    return 404, {"error": "no such transaction"}
                values = await store.meter_values(tx.id)
                return 200, {**tx.to_json(), "meter_values": [
                    {"timestamp": v.timestamp, "measurand": v.measurand, "value": v.value, "unit": v.unit,
                     "phase": v.phase, "context": v.context} for v in values]}
            case ("GET", ["settlements"]):
                return 200, [asdict(t) for t in await store.list_settlements(query.get("station"))]
            case ("GET", ["events"]):
                return 200, [{**asdict(e), "payload": json.loads(e.payload)}
                             for e in await store.list_events(query.get("station"), query.get("action"))]
        return 404, {"error": f"no route {method} /api/{'/'.join(parts)}"}

    def _station(self, s: StationRecord) -> dict[str, Any]:
        csms = self.service.csms
        handler = csms.connections.get(s.id) if csms is not None else None
        return {"id": s.id, "connected": handler is not None and handler.connected,
                "version": handler.version.VERSION if handler is not None and handler.version else None,
                "profile": handler.handshake.profile if handler is not None and handler.handshake else None,
                "has_password": s.password_hash is not None, "min_profile": s.min_profile,
                "boot_status": s.boot_status, "vendor": s.vendor, "model": s.model, "serial": s.serial,
                "firmware": s.firmware, "ocpp_version": s.ocpp_version, "last_boot": s.last_boot}

    async def _put_station(self, identity: str, body: dict[str, Any]) -> tuple[int, Any]:
        old = await self.service.store.get_station(identity) or StationRecord(id=identity)
        boot = body.get("boot_status", old.boot_status)
        if boot not in _BOOT:
            return 400, {"error": f"boot_status is one of {', '.join(_BOOT)}"}
        minimum = int(body.get("min_profile", old.min_profile))
        if minimum not in (0, 1, 2, 3):
            return 400, {"error": "min_profile is 0 to 3"}
        password = body.get("password", ...)
        if password is not ... and password is not None and not (isinstance(password, str) and 16 <= len(password)
                                                                    <= 40):
            return 400, {"error": "an OCPP basic-auth password has 16 to 40 characters"}
        pw_hash = old.password_hash if password is ... else (hash_password(password) if password else None)
        new = StationRecord(id=identity, password_hash=pw_hash, min_profile=minimum, boot_status=boot,
                            vendor=old.vendor, model=old.model, serial=old.serial, firmware=old.firmware,
                            ocpp_version=old.ocpp_version, last_boot=old.last_boot)
        await self.service.store.put_station(new)
        return 200, self._station(new)

    async def _call(self, identity: str, body: Any) -> tuple[int, Any]:
        if not isinstance(body, dict) or not isinstance(body.get("action"), str):
            return 400, {"error": 'the body is {"action": ..., "payload": {...}}'}
        csms = self.service.csms
        handler = csms.connections.get(identity) if csms is not None else None
        if handler is None or not handler.connected:
            return 404, {"error": f"{identity} is not connected"}
        timeout = body.get("timeout")
        try:
            result = await handler.call(body.get("payload") or {}, action=body["action"],
                                        timeout=float(timeout) if timeout is not None else None)
        except OcppCallError as exc:
            return 200, {"error": {"code": exc.code, "description": exc.description, "details": exc.details}}
        except CallTimeoutError:
            return 504, {"error": "no answer in time"}
        except LocalProtocolError as exc:
            return 400, {"error": f"the request breaks the schema: {exc}"}
        except NotConnectedError:
            return 404, {"error": f"{identity} disconnected"}
        except Exception as exc:  # an invalid answer of the station
            return 502, {"error": f"{type(exc).__name__}: {exc}"}
        return 200, {"result": result.to_json() if hasattr(result, "to_json") else result}

    async def _local_list(self, identity: str) -> tuple[int, Any]:
        csms = self.service.csms
        handler = csms.connections.get(identity) if csms is not None else None
        if handler is None or handler.version is None:
            return 404, {"error": f"{identity} is not connected"}
        tokens = await self.service.store.list_tokens()
        version = await self.service.store.next_local_list_version(identity)
        now = self.service.settings.clock()
        from evcharge.csms.authorization import decide

        if handler.version.VERSION == "1.6":
            payload: dict[str, Any] = {"listVersion": version, "updateType": "Full", "localAuthorizationList": [
                {"idTag": t.id_token[:20], "idTagInfo": decide(t, now).v16()} for t in tokens]}
        else:
            payload = {"versionNumber": version, "updateType": "Full", "localAuthorizationList": [
                {"idToken": {"idToken": t.id_token, "type": t.token_type or "ISO14443"},
                 "idTokenInfo": decide(t, now).v201()} for t in tokens]}
        status, answer = await self._call(identity, {"action": "SendLocalList", "payload": payload})
        return status, {"version": version, **answer}


def _token(t: TokenRecord) -> dict[str, Any]:
    return {"id_token": t.id_token, "type": t.token_type, "status": t.status, "expiry": t.expiry,
            "group_id": t.group_id}
