"""Authorization cache, local list and offline policy (OCPP 1.6 section 3.5 / 2.0.1 C and D)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from evcharge.ocpp.functions._common import FunctionsRemoteError
from evcharge.ocpp.functions.authorization import Authorization, AuthorizationConfig, Source, Verdict
from evcharge.ocpp.functions.transport.sqlite import SqliteStore
from tests.conftest import ocpp_schema_dir

NOW = datetime(2024, 6, 1, 12, tzinfo=UTC).timestamp()  # now: without a WallClock, read as UNIX seconds
SCHEMAS = ocpp_schema_dir()


def auth16(tmp_path: Path, **kw: Any) -> Authorization:
    a = Authorization(AuthorizationConfig(version="1.6", **kw), store=SqliteStore(tmp_path / "auth.sqlite"))
    # the local list knows LIST-OK (Accepted) and LIST-BLOCKED; the cache knows CACHE-OK and CACHE-OLD (expired)
    assert a.handle_send_local_list({"listVersion": 1, "updateType": "Full", "localAuthorizationList": [
        {"idTag": "LIST-OK", "idTagInfo": {"status": "Accepted"}},
        {"idTag": "LIST-BLOCKED", "idTagInfo": {"status": "Blocked"}},
    ]}) == {"status": "Accepted"}
    a.update_cache("CACHE-OK", {"status": "Accepted", "expiryDate": "2024-07-01T00:00:00Z"}, NOW)
    a.update_cache("CACHE-OLD", {"status": "Accepted", "expiryDate": "2024-05-01T00:00:00Z"}, NOW)
    return a


ACCEPT, REJECT, ASK = Verdict.ACCEPT, Verdict.REJECT, Verdict.ASK_CSMS

# (online, LocalPreAuthorize, LocalAuthorizeOffline, AllowOfflineTxForUnknownId) ->
#     expected verdict for LIST-OK, LIST-BLOCKED, CACHE-OK, CACHE-OLD, NOBODY
POLICY_TABLE = [
    # online without pre-authorisation: always ask the CSMS
    ((True, False, True, True), (ASK, ASK, ASK, ASK, ASK)),
    # online with pre-authorisation: valid local entries start at once, the rest is asked
    ((True, True, True, False), (ACCEPT, ASK, ACCEPT, ASK, ASK)),
    # offline, local authorisation on, unknown not allowed
    ((False, False, True, False), (ACCEPT, REJECT, ACCEPT, REJECT, REJECT)),
    # offline, local authorisation on, unknown allowed: only the unknown one changes
    ((False, False, True, True), (ACCEPT, REJECT, ACCEPT, REJECT, ACCEPT)),
    # offline, local authorisation off: nothing local is used; unknown-id policy decides for everybody
    ((False, False, False, False), (REJECT, REJECT, REJECT, REJECT, REJECT)),
    ((False, False, False, True), (ACCEPT, ACCEPT, ACCEPT, ACCEPT, ACCEPT)),
]


@pytest.mark.parametrize(("policy", "expected"), POLICY_TABLE)
def test_policy_table(tmp_path: Path, policy: tuple[bool, bool, bool, bool], expected: tuple[Verdict, ...]) -> None:
    online, pre, offline_local, unknown = policy
    a = auth16(tmp_path, local_pre_authorize=pre, local_authorize_offline=offline_local,
               allow_offline_tx_for_unknown_id=unknown)
    got = tuple(a.decide(t, online=online, now=NOW).verdict
                for t in ("LIST-OK", "LIST-BLOCKED", "CACHE-OK", "CACHE-OLD", "NOBODY"))
    assert got == expected


def test_statuses_and_sources(tmp_path: Path) -> None:
    a = auth16(tmp_path)
    d = a.decide("CACHE-OLD", online=False, now=NOW)
    assert (d.source, d.status) == (Source.CACHE, "Expired")
    d = a.decide("list-ok", online=False, now=NOW)  # idTags compare case-insensitively
    assert (d.source, d.status) == (Source.LOCAL_LIST, "Accepted")
    # the local list takes precedence over the cache
    a.update_cache("LIST-BLOCKED", {"status": "Accepted"}, NOW)
    assert a.decide("LIST-BLOCKED", online=False, now=NOW).status == "Blocked"
    # disabling the list makes the cache entry visible
    b = Authorization(AuthorizationConfig(version="1.6", local_list_enabled=False),
                      store=SqliteStore(tmp_path / "auth.sqlite"))
    assert b.decide("LIST-BLOCKED", online=False, now=NOW).verdict is Verdict.ACCEPT
    assert b.handle_get_local_list_version() == {"listVersion": -1}
    assert b.handle_send_local_list({"listVersion": 9, "updateType": "Full"}) == {"status": "NotSupported"}


def test_persisted_across_restart(tmp_path: Path) -> None:
    auth16(tmp_path).close()
    again = Authorization(AuthorizationConfig(version="1.6"), store=SqliteStore(tmp_path / "auth.sqlite"))
    assert again.local_list_version == 1
    assert again.decide("CACHE-OK", online=False, now=NOW).verdict is Verdict.ACCEPT


def test_differential_updates_and_versions(tmp_path: Path) -> None:
    a = auth16(tmp_path)
    # differential with a version not above the current one: VersionMismatch, nothing changes
    assert a.handle_send_local_list({"listVersion": 1, "updateType": "Differential",
                                     "localAuthorizationList": [{"idTag": "NEW", "idTagInfo": {"status": "Accepted"}}]}
                                    ) == {"status": "VersionMismatch"}
    assert a.lookup("NEW", NOW) is None
    # differential v2: add NEW, delete LIST-BLOCKED (no idTagInfo), change LIST-OK to Blocked
    assert a.handle_send_local_list({"listVersion": 2, "updateType": "Differential", "localAuthorizationList": [
        {"idTag": "NEW", "idTagInfo": {"status": "Accepted"}},
        {"idTag": "LIST-BLOCKED"},
        {"idTag": "LIST-OK", "idTagInfo": {"status": "Blocked"}},
    ]}) == {"status": "Accepted"}
    assert a.handle_get_local_list_version() == {"listVersion": 2}
    assert a.local_list_size == 2
    assert a.decide("LIST-OK", online=False, now=NOW).verdict is Verdict.REJECT
    assert a.decide("NEW", online=False, now=NOW).verdict is Verdict.ACCEPT
    # a full update replaces everything, even with a lower version
    assert a.handle_send_local_list({"listVersion": 1, "updateType": "Full", "localAuthorizationList": []}) == {
        "status": "Accepted"}
    assert a.local_list_size == 0
    assert a.handle_get_local_list_version() == {"listVersion": 1}


def test_list_too_long_fails_atomically(tmp_path: Path) -> None:
    a = auth16(tmp_path, local_list_max_entries=3)
    entries = [{"idTag": f"T{i}", "idTagInfo": {"status": "Accepted"}} for i in range(2)]
    assert a.handle_send_local_list({"listVersion": 5, "updateType": "Differential",
                                     "localAuthorizationList": entries}) == {"status": "Failed"}
    assert a.local_list_size == 2 and a.local_list_version == 1  # unchanged


def test_cache_eviction_and_lifetime(tmp_path: Path) -> None:
    a = Authorization(AuthorizationConfig(cache_max_entries=2, cache_lifetime=3600),
                      store=SqliteStore(tmp_path / "c.sqlite"))
    tok = {"idToken": "abc", "type": "ISO14443"}
    a.update_cache(tok, {"status": "Accepted"}, NOW)
    a.update_cache({"idToken": "bad", "type": "ISO14443"}, {"status": "Blocked"}, NOW + 1)
    a.update_cache({"idToken": "x", "type": "ISO14443"}, {"status": "Accepted"}, NOW + 2)
    # full: the non-accepted entry went first although the accepted one is older
    assert a.cache_size == 2
    assert a.lookup({"idToken": "bad", "type": "ISO14443"}, NOW) is None
    assert a.lookup(tok, NOW + 10) is not None
    assert a.cache_lifetime_timer(NOW) == NOW + 3600
    assert a.lookup(tok, NOW + 3599) is not None
    assert a.lookup(tok, NOW + 3600) is None  # past its lifetime
    assert a.clear_cache() == {"status": "Accepted"} and a.cache_size == 0


def test_v201_send_local_list_validates_against_schema(tmp_path: Path) -> None:
    a = Authorization(AuthorizationConfig(), store=SqliteStore(tmp_path / "c.sqlite"))
    request = {"versionNumber": 3, "updateType": "Full", "localAuthorizationList": [
        {"idToken": {"idToken": "04A1B2", "type": "ISO14443"},
         "idTokenInfo": {"status": "Accepted", "cacheExpiryDateTime": "2024-06-01T11:00:00Z"}},
        {"idToken": {"idToken": "04A1B3", "type": "ISO14443"}, "idTokenInfo": {"status": "Accepted"}},
    ]}
    schema = json.loads((SCHEMAS / "v201" / "SendLocalListRequest.json").read_text())
    jsonschema.Draft202012Validator(schema).validate(request)
    response = a.handle_send_local_list(request)
    jsonschema.Draft202012Validator(json.loads((SCHEMAS / "v201" / "SendLocalListResponse.json").read_text())
                                    ).validate(response)
    assert response == {"status": "Accepted"}
    assert a.handle_get_local_list_version() == {"versionNumber": 3}
    assert a.decide({"idToken": "04A1B2", "type": "ISO14443"}, online=False, now=NOW).status == "Expired"
    assert a.decide({"idToken": "04a1b3", "type": "ISO14443"}, online=False, now=NOW).verdict is Verdict.ACCEPT
    # same id, other type: a different identifier
    assert a.lookup({"idToken": "04A1B3", "type": "eMAID"}, NOW) is None
    with pytest.raises(FunctionsRemoteError, match="updateType"):
        a.handle_send_local_list({"versionNumber": 4, "updateType": "Partial"})
