"""Plug & Charge on an OCPP 1.6 charge point: the charge-point core's Authorize of a contract (eMAID and the
certificate hash data) per the Open Charge Alliance's application note "Using ISO 15118 Plug & Charge with OCPP
1.6" -- DataTransfer with vendorId ``org.openchargealliance.iso15118pnc``, messageId the 2.0.1 action, ``data`` the
JSON text of the 2.0.1 payload (the response's ``data`` too, status Accepted when carried).

Expected behaviour:

* online and accepted, the contract goes to the CSMS as DataTransfer Authorize (2.0.1 C07: the CSMS checks the
  contract certificate, so it is asked even when the eMAID is in the cache); every outer message valid for the 1.6
  schema (the bench checks each call) and the inner ``data`` valid for the 2.0.1 schema of its messageId;
* the 2.0.1 AuthorizeResponse in the answer decides: ``idTokenInfo.status`` and ``certificateStatus`` are the
  verdict, the authorization cache keeps the 1.6 ``idTagInfo`` of the eMAID idTag (1.6 3.5: the cache holds
  idTagInfo; a 2.0.1 status 1.6 cannot name is Invalid there);
* a CSMS without the application note (UnknownVendorId, UnknownMessageId, Rejected, data that is no 2.0.1
  AuthorizeResponse): the plain 1.6 Authorize(idTag=eMAID) follows;
* offline: the authorization's offline rules (1.6 3.5), no call.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from evcharge.ocpp import v16, v201
from evcharge.ocpp.functions.application import (
    PNC_VENDOR_ID,
    AuthorizationDone,
    AuthorizeToken,
    ChargingAllowed,
    Plugged,
)
from evcharge.ocpp.functions.authorization import AuthorizationConfig

from .test_cp_core import HASH_DATA, Bench

EMAID = "DEMOUFOO0001234"


def _contract(b: Bench) -> dict[str, Any]:
    """Present the contract on EVSE 1; the one call it made (a 1.6 DataTransfer), its 2.0.1 payload checked."""
    b.send(AuthorizeToken(evse_id=1, token=EMAID, ref="pnc", hash_data=HASH_DATA))
    (call,) = b.take()
    action, payload = call
    assert action == "DataTransfer"  # the bench checked it against the 1.6 schema
    assert payload["vendorId"] == PNC_VENDOR_ID and payload["messageId"] == "Authorize"
    inner: dict[str, Any] = json.loads(payload["data"])
    assert v201.validate("Authorize", "request", inner) == [], inner
    return inner


def _answer(b: Bench, response: dict[str, Any]) -> None:
    assert v16.validate("DataTransfer", "response", response) == [], response
    if response.get("status") == "Accepted" and "data" in response:
        assert v201.validate("Authorize", "response", json.loads(response["data"])) == []
    b.reply("DataTransfer", response)


def _done(b: Bench) -> list[AuthorizationDone]:
    return [e for e in b.events() if isinstance(e, AuthorizationDone)]


def _booted(**auth: Any) -> Bench:
    b = Bench("1.6", auth=AuthorizationConfig(version="1.6", **auth))
    b.boot()
    b.send(Plugged(evse_id=1))
    b.take()
    b.events()
    return b


def test_contract_goes_as_data_transfer_authorize_even_when_cached() -> None:
    """The 2.0.1 AuthorizeRequest in data: idToken {eMAID, type eMAID}, iso15118CertificateHashData; asked of the
    CSMS although the eMAID is Accepted in the cache and LocalPreAuthorize is on (C07: only the CSMS checks the
    certificate)."""
    b = _booted(local_pre_authorize=True)
    b.auth.update_cache(EMAID, {"status": "Accepted"}, b.now)
    inner = _contract(b)
    assert inner == {"idToken": {"idToken": EMAID, "type": "eMAID"}, "iso15118CertificateHashData": list(HASH_DATA)}
    assert _done(b) == []  # the verdict waits for the CSMS


def test_accepted_contract_authorizes_with_its_certificate_status() -> None:
    b = _booted()
    _contract(b)
    _answer(b, {"status": "Accepted", "data": json.dumps({"idTokenInfo": {"status": "Accepted"},
                                                          "certificateStatus": "Accepted"})})
    events = b.events()
    assert [e for e in events if isinstance(e, AuthorizationDone)] == [
        AuthorizationDone(evse_id=1, token=EMAID, accepted=True, status="Accepted", ref="pnc",
                          certificate_status="Accepted")]
    assert ChargingAllowed(evse_id=1, allowed=True) in events
    found = b.auth.lookup(EMAID, b.now)  # the 1.6 cache holds the eMAID idTag's idTagInfo
    assert found is not None and found.info == {"status": "Accepted"}
    # 1.6 StartTransaction (plugged and authorized) carries the eMAID as its idTag
    assert [p["idTag"] for a, p in b.take() if a == "StartTransaction"] == [EMAID]


def test_revoked_contract_is_refused() -> None:
    b = _booted()
    _contract(b)
    _answer(b, {"status": "Accepted", "data": json.dumps({"idTokenInfo": {"status": "Invalid"},
                                                          "certificateStatus": "CertificateRevoked"})})
    events = b.events()
    assert [e for e in events if isinstance(e, AuthorizationDone)] == [
        AuthorizationDone(evse_id=1, token=EMAID, accepted=False, status="Invalid", ref="pnc",
                          certificate_status="CertificateRevoked")]
    assert ChargingAllowed(evse_id=1, allowed=True) not in events
    assert not any(a == "StartTransaction" for a, _ in b.take())


def test_a_status_16_cannot_name_is_cached_as_invalid() -> None:
    """2.0.1 NotAtThisLocation is the verdict; the 1.6 cache (AuthorizationStatus has no such value) keeps Invalid,
    with the expiry and the group in their 1.6 names."""
    b = _booted()
    _contract(b)
    info = {"status": "NotAtThisLocation", "cacheExpiryDateTime": "2030-01-01T00:00:00Z",
            "groupIdToken": {"idToken": "FLEET1", "type": "Central"}}
    _answer(b, {"status": "Accepted", "data": json.dumps({"idTokenInfo": info})})
    (done,) = _done(b)
    assert (done.accepted, done.status, done.certificate_status) == (False, "NotAtThisLocation", None)
    found = b.auth.lookup(EMAID, b.now)
    assert found is not None
    assert found.info == {"status": "Invalid", "expiryDate": "2030-01-01T00:00:00Z", "parentIdTag": "FLEET1"}
    assert v16.validate("Authorize", "response", {"idTagInfo": found.info}) == []


@pytest.mark.parametrize("response", [
    {"status": "UnknownVendorId"},
    {"status": "UnknownMessageId"},
    {"status": "Rejected"},
    {"status": "Accepted"},  # no data
    {"status": "Accepted", "data": "not json"},
    {"status": "Accepted", "data": "[1, 2]"},
    {"status": "Accepted", "data": json.dumps({"certificateStatus": "Accepted"})},  # no idTokenInfo
], ids=["unknown-vendor", "unknown-message", "rejected", "no-data", "not-json", "not-object", "no-id-token-info"])
def test_csms_without_the_application_note_gets_the_plain_authorize(response: dict[str, Any]) -> None:
    b = _booted()
    _contract(b)
    b.reply("DataTransfer", response)
    assert _done(b) == []
    assert b.take() == [("Authorize", {"idTag": EMAID})]
    b.reply("Authorize", {"idTagInfo": {"status": "Accepted"}})
    assert _done(b) == [AuthorizationDone(evse_id=1, token=EMAID, accepted=True, status="Accepted", ref="pnc")]


def test_call_error_while_online_gets_the_plain_authorize() -> None:
    b = _booted()
    _contract(b)
    b.reply("DataTransfer", None)  # CALLERROR (NotImplemented, ...) on a connection that stays up
    assert b.take() == [("Authorize", {"idTag": EMAID})]
    b.reply("Authorize", {"idTagInfo": {"status": "Blocked"}})
    assert _done(b) == [AuthorizationDone(evse_id=1, token=EMAID, accepted=False, status="Blocked", ref="pnc")]


def test_connection_lost_meanwhile_decides_offline() -> None:
    """1.6 3.5: no answer and no connection: the cache decides (LocalAuthorizeOffline)."""
    b = _booted()
    b.auth.update_cache(EMAID, {"status": "Accepted"}, b.now)
    _contract(b)
    b.disconnect()
    b.reply("DataTransfer", None)
    assert [a for a, _ in b.take() if a in ("Authorize", "DataTransfer")] == []
    (done,) = _done(b)
    assert (done.accepted, done.status, done.certificate_status) == (True, "Accepted", None)


def test_offline_contract_follows_the_offline_rules() -> None:
    """Offline when the car presents its contract: no call; an unknown eMAID is refused (no
    AllowOfflineTxForUnknownId), a cached one accepted (LocalAuthorizeOffline)."""
    b = _booted()
    b.disconnect()
    b.take()
    b.send(AuthorizeToken(evse_id=1, token=EMAID, ref="pnc", hash_data=HASH_DATA))
    assert b.take() == []
    (done,) = _done(b)
    assert (done.accepted, done.status) == (False, "Unknown")
    b.auth.update_cache(EMAID, {"status": "Accepted"}, b.now)
    b.send(AuthorizeToken(evse_id=1, token=EMAID, ref="pnc2", hash_data=HASH_DATA))
    assert [a for a, _ in b.take() if a in ("Authorize", "DataTransfer")] == []  # (StartTransaction is queued)
    (done,) = _done(b)
    assert (done.accepted, done.status, done.ref) == (True, "Accepted", "pnc2")


def test_card_on_16_still_goes_as_plain_authorize() -> None:
    """Without hash data (an RFID card, an EIM identifier) nothing changes: Authorize(idTag)."""
    b = _booted()
    b.send(AuthorizeToken(evse_id=1, token="04A1B2C3", ref="card"))
    assert b.take() == [("Authorize", {"idTag": "04A1B2C3"})]
