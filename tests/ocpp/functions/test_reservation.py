"""Reservations in the charge-point core (ReserveNow, CancelReservation, the use of a reserved EVSE, expiry),
composed without sockets (the bench of ``test_cp_core``: every message checked against the schema of its
version), and the Station's ReserveNow / CancelReservation handlers over loopback websockets.

Expected behaviour:

* OCPP 2.0.1 H01 ReserveNow: ReserveNowStatusEnumType Accepted, Faulted, Occupied, Rejected, Unavailable;
  H01.FR.01 not configured to accept reservations (ReservationCtrlr.Enabled false): Rejected; H01.FR.02 a
  reservation with the id of an existing one replaces it; H01.FR.19 no evseId without ReservationCtrlr.NonEvseSpecific:
  Rejected; the reserved EVSE's connectors report ConnectorStatusEnumType Reserved; an EVSE that becomes Faulted or
  Unavailable ends its reservation: ReservationStatusUpdate Removed (H01.FR.16 / FR.17, as numbered by the OCPP
  2.0.1 status table of libocpp and the OCTT case TC_H_20).
* H02 CancelReservation: H02.FR.01 unknown id: Rejected; H02.FR.02 known: Accepted; H02.FR.03 / FR.04 the EVSE is
  free again, StatusNotification Available.
* H03 Use a reserved EVSE: only the reservation's idToken, or an idToken of its groupIdToken (told by Authorize,
  the local list or the cache), may charge there; H03.FR.09 the matching identifier uses (consumes) the
  reservation; H01.FR.15 the TransactionEvent carrying it has ``reservationId``; G01.FR.09 (errata 2025-01) an EV
  plugged in at a Reserved connector without the matching idToken leaves the status Reserved; scenario S1 #2 a
  transaction begun by the cable (TxStartPoint EVConnected) stays Reserved, without energy, until the idToken.
* H04 Reservation ended, not used: H04.FR.01 at expiryDateTime ReservationStatusUpdate Expired, the EVSE
  Available again.
* OCPP 1.6 5.13 ReserveNow / 5.2 CancelReservation (Reservation profile, listed in SupportedFeatureProfiles):
  ReservationStatus Accepted, Faulted, Occupied, Rejected, Unavailable; connectorId 0 without
  ReserveConnectorZeroSupported: Rejected; ChargePointStatus Reserved; only the idTag (or its parentIdTag) starts a
  transaction there, StartTransaction carries ``reservationId``; at expiryDate the reservation ends (1.6 has no
  ReservationStatusUpdate: the StatusNotification says Available).
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from evcharge.ocpp import v16, v201
from evcharge.ocpp.charge_point import BackoffConfig, ChargePointConfig
from evcharge.ocpp.csms import Csms, CsmsConfig
from evcharge.ocpp.functions.application import (
    AuthorizationDone,
    CancelReservationRequested,
    CardPresented,
    ChangeAvailabilityRequested,
    ChargingAllowed,
    FaultCleared,
    FaultRaised,
    Plugged,
    PowerPathChanged,
    RemoteStartRequested,
    ReserveNowRequested,
    Unplugged,
)
from evcharge.ocpp.functions.device_model import DeviceModel, default_template
from evcharge.ocpp.functions.transport.station import Station
from evcharge.ocpp.transport.websocket import ChargePointClient, serve_csms

from .test_app_charger_inputs import Rig, events_of
from .test_cp_core import ACCEPTED, CARD, OTHER, actions
from .test_station import IDENTITY, handlers, teardown, until

FLEET = {"idToken": "FLEET", "type": "Central"}  # a groupIdToken (C09.FR.13: type Central)
INFO = {"1.6": "idTagInfo", "2.0.1": "idTokenInfo"}


def reserve(b: Rig, reservation_id: int = 7, evse_id: int | None = 1, token: Any = None, *, minutes: float = 30,
            group: Any = None, connector_type: str | None = None) -> str:
    expiry = b.wall.utc(b.now) + timedelta(minutes=minutes)
    return b.answer(ReserveNowRequested(reservation_id=reservation_id, evse_id=evse_id,
                                        token=CARD[b.version] if token is None else token, expiry=expiry,
                                        group=group, connector_type=connector_type))


def updates(sent: list[tuple[str, dict[str, Any]]]) -> list[dict[str, Any]]:
    return [p for a, p in sent if a == "ReservationStatusUpdate"]


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
def test_reserved_evse_serves_only_its_identifier(version: str) -> None:
    b = Rig(version)
    b.boot()
    b.take()
    assert reserve(b) == "Accepted"
    assert b.statuses(b.take()) == [(1, "Reserved")]
    assert b.app.reservation(1) == 7 and b.app.connector_status(1) == "Reserved"
    b.send(Plugged(evse_id=1))
    # 2.0.1 G01.FR.09: an EV plugged in at a Reserved connector without the matching identifier: no change, and
    # no energy
    assert b.statuses(b.take()) == []
    assert ChargingAllowed(evse_id=1, allowed=True) not in b.events()
    b.send(CardPresented(evse_id=1, token=OTHER[version]))
    assert b.take() == []  # refused at once: not asked of the CSMS (the reservation has no group)
    assert b.events() == [AuthorizationDone(evse_id=1, token=OTHER[version], accepted=False, status="NotAtThisTime")]
    b.send(CardPresented(evse_id=1, token=CARD[version]))
    key = "idTag" if version == "1.6" else "idToken"
    assert b.take() == [("Authorize", {key: CARD[version]})]
    b.reply("Authorize", {INFO[version]: ACCEPTED})
    assert b.app.reservation(1) is None  # H03.FR.09: used
    if version == "1.6":
        sent = b.take()
        (start,) = [p for a, p in sent if a == "StartTransaction"]
        assert start["reservationId"] == 7 and start["idTag"] == CARD["1.6"]  # 1.6 5.13
        assert b.statuses(sent) == [(1, "Preparing")]
    else:
        assert b.statuses(b.take()) == [(1, "Occupied")]
        b.send(PowerPathChanged(evse_id=1, closed=True))
        (started,) = events_of(b.take(), "Started")
        assert started["reservationId"] == 7 and started["idToken"] == CARD["2.0.1"]  # H01.FR.15
    assert ChargingAllowed(evse_id=1, allowed=True) in b.events()


def test_201_transaction_begun_by_the_cable_stays_reserved_until_the_identifier() -> None:
    # H03 S1 scenario #2 (TxStartPoint EVConnected): the transaction starts, the connector stays Reserved
    b = Rig("2.0.1")
    b.boot()
    b.tm.config = replace(b.tm.config, tx_start_points=frozenset({"EVConnected"}))
    b.take()
    assert reserve(b, reservation_id=3) == "Accepted"
    b.take()
    b.send(Plugged(evse_id=1))
    sent = b.take()
    (started,) = events_of(sent, "Started")
    assert "reservationId" not in started and b.statuses(sent) == []
    assert ChargingAllowed(evse_id=1, allowed=True) not in b.events()  # no energy for whoever plugged in
    b.send(CardPresented(evse_id=1, token=CARD["2.0.1"]))
    b.reply("Authorize", {"idTokenInfo": ACCEPTED})
    sent = b.take()
    (updated,) = events_of(sent)
    assert updated["eventType"] == "Updated" and updated["triggerReason"] == "Authorized"
    assert updated["reservationId"] == 3 and updated["idToken"] == CARD["2.0.1"]
    assert b.statuses(sent) == [(1, "Occupied")]
    assert ChargingAllowed(evse_id=1, allowed=True) in b.events()


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
def test_an_identifier_of_the_reservation_group_may_use_it(version: str) -> None:
    group = "FLEET" if version == "1.6" else FLEET
    b = Rig(version)
    b.boot()
    assert reserve(b, group=group) == "Accepted"
    b.take()
    b.send(CardPresented(evse_id=1, token=OTHER[version]))
    b.reply("Authorize", {INFO[version]: {"status": "Accepted"}})  # no group: not this reservation's
    assert b.events()[-1] == AuthorizationDone(evse_id=1, token=OTHER[version], accepted=False,
                                               status="NotAtThisTime")
    assert b.app.reservation(1) == 7
    other = "CAFE0001" if version == "1.6" else {"idToken": "CAFE0001", "type": "ISO14443"}
    b.send(CardPresented(evse_id=1, token=other))
    b.reply("Authorize", {INFO[version]: {"status": "Accepted",
                                          ("parentIdTag" if version == "1.6" else "groupIdToken"): group}})
    assert AuthorizationDone(evse_id=1, token=other, accepted=True, status="Accepted") in b.events()
    assert b.app.reservation(1) is None  # H03.FR.09: a groupIdToken match uses it too


def test_201_reserve_now_statuses() -> None:
    b = Rig("2.0.1", evse_count=2)
    b.boot()
    b.take()
    b.send(Plugged(evse_id=2))
    assert reserve(b, reservation_id=1, evse_id=2) == "Occupied"
    b.send(FaultRaised(evse_id=1, error_code="GroundFailure"))
    assert reserve(b, reservation_id=1, evse_id=1) == "Faulted"
    b.send(FaultCleared(evse_id=1))
    assert b.answer(ChangeAvailabilityRequested(evse_id=1, operative=False)) == "Accepted"
    assert reserve(b, reservation_id=1, evse_id=1) == "Unavailable"
    assert b.answer(ChangeAvailabilityRequested(evse_id=1, operative=True)) == "Accepted"
    assert reserve(b, reservation_id=1, evse_id=None) == "Rejected"  # H01.FR.19
    assert reserve(b, reservation_id=1, evse_id=3) == "Rejected"  # no such EVSE
    assert reserve(b, reservation_id=1, evse_id=1, minutes=-1) == "Rejected"  # expired already
    assert reserve(b, reservation_id=1, evse_id=1, connector_type="cCCS2") == "Rejected"  # its connector is sType2
    assert reserve(b, reservation_id=1, evse_id=1, connector_type="sType2") == "Accepted"
    assert reserve(b, reservation_id=2, evse_id=1, token=OTHER["2.0.1"]) == "Occupied"  # reserved by another
    b.take()
    # H01.FR.02: the same id replaces the reservation (here: moved to another EVSE)
    b.send(Unplugged(evse_id=2))
    b.take()
    assert reserve(b, reservation_id=1, evse_id=2) == "Accepted"
    sent = b.take()
    assert sorted(b.statuses(sent)) == [(1, "Available"), (2, "Reserved")]
    assert b.app.reservation(1) is None and b.app.reservation(2) == 1
    assert updates(sent) == []


def test_201_reservations_disabled_are_rejected() -> None:
    b = Rig("2.0.1")
    b.app.device_model = DeviceModel(default_template(1))
    b.app.device_model.set_local("ReservationCtrlr", "Enabled", "false")  # the template has it true
    b.boot()
    assert reserve(b) == "Rejected"  # H01.FR.01
    assert b.app.device_model.get("ReservationCtrlr", "Enabled") == "false"
    b.app.device_model.set_local("ReservationCtrlr", "Enabled", "true")
    assert reserve(b) == "Accepted"


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
def test_cancel_reservation(version: str) -> None:
    b = Rig(version)
    b.boot()
    assert b.answer(CancelReservationRequested(reservation_id=7)) == "Rejected"  # H02.FR.01
    assert reserve(b) == "Accepted"
    b.take()
    assert b.answer(CancelReservationRequested(reservation_id=7)) == "Accepted"  # H02.FR.02
    sent = b.take()
    assert b.statuses(sent) == [(1, "Available")] and updates(sent) == []  # H02.FR.03 / FR.04
    b.send(CardPresented(evse_id=1, token=OTHER[version]))
    assert actions(b.take()) == ["Authorize"]  # anyone may charge again


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
def test_reservation_expires_on_the_core_timer(version: str) -> None:
    b = Rig(version)
    b.boot()
    made = b.now  # the expiry: 2 minutes after this
    assert reserve(b, minutes=2) == "Accepted"
    b.take()
    due = b.app.get_timer()
    assert due is not None and due == pytest.approx(made + 120)  # (the heartbeat is due later: 300 s after boot)
    b.now = due - 0.5
    b.app.handle_timer(b.now)
    b.run()
    assert b.take() == [] and b.app.reservation(1) == 7
    b.now = due
    b.app.handle_timer(b.now)
    b.run()
    sent = b.take()
    if version == "1.6":
        assert actions(sent) == ["StatusNotification"]  # 1.6 has no ReservationStatusUpdate
    else:
        assert updates(sent) == [{"reservationId": 7, "reservationUpdateStatus": "Expired"}]  # H04.FR.01
        b.reply("ReservationStatusUpdate", {})
    assert b.statuses(sent) == [(1, "Available")]
    assert b.app.reservation(1) is None


def test_201_expiry_follows_the_wall_clock() -> None:
    b = Rig("2.0.1")
    b.boot()
    made = b.now
    assert reserve(b, minutes=4) == "Accepted"
    assert b.app.get_timer() == pytest.approx(made + 240)
    # the CSMS's time is a minute later than ours: the expiry (a wall time) comes a minute sooner
    b.wall.set_utc(b.now, b.wall.utc(b.now) + timedelta(minutes=1))
    assert b.app.get_timer() == pytest.approx(made + 180)


def test_201_fault_and_unavailability_remove_the_reservation() -> None:
    b = Rig("2.0.1", evse_count=2)
    b.boot()
    assert reserve(b, reservation_id=1, evse_id=1) == "Accepted"
    assert reserve(b, reservation_id=2, evse_id=2, token=OTHER["2.0.1"]) == "Accepted"
    b.take()
    b.send(FaultRaised(evse_id=1, error_code="GroundFailure"))
    sent = b.take()
    assert updates(sent) == [{"reservationId": 1, "reservationUpdateStatus": "Removed"}]
    assert b.statuses(sent) == [(1, "Faulted")]
    assert b.answer(ChangeAvailabilityRequested(evse_id=2, operative=False)) == "Accepted"
    sent = b.take()
    assert updates(sent) == [{"reservationId": 2, "reservationUpdateStatus": "Removed"}]
    assert b.statuses(sent) == [(2, "Unavailable")]
    b.send(FaultCleared(evse_id=1))
    assert b.statuses(b.take()) == [(1, "Available")]  # the reservation is gone with the fault


def test_201_remote_start_on_a_reserved_evse() -> None:
    b = Rig("2.0.1")
    b.boot()
    assert reserve(b) == "Accepted"
    # another identifier, the reservation without a group: Rejected
    assert b.answer(RemoteStartRequested(evse_id=1, token=OTHER["2.0.1"], remote_start_id=1)) == "Rejected"
    assert b.answer(RemoteStartRequested(evse_id=None, token=OTHER["2.0.1"], remote_start_id=2)) == "Rejected"
    assert b.app.reservation(1) == 7
    # H03.FR.09 (note: the idToken may come in a RequestStartTransaction): the reserved one uses it
    assert b.answer(RemoteStartRequested(evse_id=1, token=CARD["2.0.1"], remote_start_id=3)) == "Accepted"
    b.reply("Authorize", {"idTokenInfo": ACCEPTED})
    assert b.app.reservation(1) is None


def test_16_reserve_now_statuses_and_profile() -> None:
    b = Rig("1.6", evse_count=2)
    b.boot()
    b.take()
    assert reserve(b, evse_id=0) == "Rejected"  # 1.6 5.13: connectorId 0 without ReserveConnectorZeroSupported
    b.send(Plugged(evse_id=2))
    assert reserve(b, reservation_id=8, evse_id=2) == "Occupied"
    assert reserve(b, reservation_id=8, evse_id=1) == "Accepted"
    assert b.statuses(b.take()) == [(2, "Preparing"), (1, "Reserved")]
    # 1.6 5.13: reservations only with the Reservation profile in SupportedFeatureProfiles
    b.dm.set_local("OCPP16Ctrlr", "SupportedFeatureProfiles", "Core,SmartCharging")
    assert reserve(b, reservation_id=9, evse_id=1) == "Rejected"


# ---------------------------------------------------------------- the Station's handlers


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
def test_station_reserve_now_and_cancel(tmp_path: Path, version: str) -> None:
    async def main() -> None:
        received: list[tuple[str, dict[str, Any]]] = []
        base = handlers(received)
        module = v16 if version == "1.6" else v201
        csms = Csms(CsmsConfig(versions=(module,), ping_interval=None), {version: base[version]})
        server = await serve_csms(csms, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        station = Station(IDENTITY, version=version, directory=tmp_path, evse_count=1)  # type: ignore[arg-type]
        client = ChargePointClient(station, f"ws://127.0.0.1:{port}/ocpp", ChargePointConfig(
            versions=(module,), backoff=BackoffConfig(initial=0.05, maximum=0.2), ping_interval=None))
        tasks = [asyncio.create_task(client.run()), asyncio.create_task(station.run())]
        await until(lambda: IDENTITY in csms.connections and station.connected)
        expiry = (station.wall.utc(station.now()) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        if version == "1.6":
            payload: dict[str, Any] = {"connectorId": 1, "expiryDate": expiry, "idTag": "TAG1", "reservationId": 4}
            missing: dict[str, Any] = {"connectorId": 0, "expiryDate": expiry, "idTag": "TAG1", "reservationId": 5}
        else:
            payload = {"id": 4, "evseId": 1, "expiryDateTime": expiry,
                       "idToken": {"idToken": "TAG1", "type": "ISO14443"}, "groupIdToken": FLEET}
            missing = {"id": 5, "expiryDateTime": expiry, "idToken": {"idToken": "TAG1", "type": "ISO14443"}}
        got = await csms.call(IDENTITY, payload, action="ReserveNow")
        assert got.to_json()["status"] == "Accepted"
        assert station.app.reservation(1) == 4 and station.app.connector_status(1) == "Reserved"
        assert (await csms.call(IDENTITY, missing, action="ReserveNow")).to_json()["status"] == "Rejected"
        got = await csms.call(IDENTITY, {"reservationId": 4}, action="CancelReservation")
        assert got.to_json()["status"] == "Accepted"
        assert station.app.reservation(1) is None and station.app.connector_status(1) == "Available"
        got = await csms.call(IDENTITY, {"reservationId": 4}, action="CancelReservation")
        assert got.to_json()["status"] == "Rejected"
        await teardown(server, station, client, tasks)

    asyncio.run(main())


def test_reserve_now_expiry_is_an_aware_datetime() -> None:
    # the command's expiry is compared with the wall clock (UTC); the bench's wall starts 2024-05-01T00:00:00Z
    b = Rig("2.0.1")
    b.boot()
    late = datetime.fromisoformat("2024-05-01T01:00:00+02:00")  # 2024-04-30T23:00Z: in the past
    assert b.answer(ReserveNowRequested(reservation_id=1, evse_id=1, token=CARD["2.0.1"], expiry=late)) == "Rejected"
