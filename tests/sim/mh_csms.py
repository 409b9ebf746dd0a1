"""An external CSMS for the interop test: the mobilityhouse ``ocpp`` library (OCPP 2.0.1) on a websockets server.

Run as ``python mh_csms.py [--password P] [--cert CERT --key KEY]``: prints the port, then one JSON line per
CALL received (action and the library's snake_case arguments).  With a password it demands HTTP basic auth
(security profile 1); with a certificate it serves TLS (profile 2), with ``--client-ca`` mutual TLS (3).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import ssl
from datetime import UTC, datetime
from typing import Any

from ocpp.routing import on
from ocpp.v201 import ChargePoint, call_result
from websockets.asyncio.server import ServerConnection, serve
from websockets.http11 import Request, Response


def now() -> str:
    return datetime.now(UTC).isoformat()


def record(action: str, **kwargs: Any) -> None:
    print(json.dumps({"action": action, "args": kwargs}, default=str), flush=True)


class Station(ChargePoint):  # type: ignore[misc]
    @on("BootNotification")
    def boot(self, **kwargs: Any) -> Any:
        record("BootNotification", **kwargs)
        return call_result.BootNotification(current_time=now(), interval=300, status="Accepted")

    @on("StatusNotification")
    def status(self, **kwargs: Any) -> Any:
        record("StatusNotification", **kwargs)
        return call_result.StatusNotification()

    @on("Heartbeat")
    def heartbeat(self, **kwargs: Any) -> Any:
        return call_result.Heartbeat(current_time=now())

    @on("Authorize")
    def authorize(self, **kwargs: Any) -> Any:
        record("Authorize", **kwargs)
        return call_result.Authorize(id_token_info={"status": "Accepted"})

    @on("TransactionEvent")
    def transaction_event(self, **kwargs: Any) -> Any:
        record("TransactionEvent", **kwargs)
        if "id_token" in kwargs:
            return call_result.TransactionEvent(id_token_info={"status": "Accepted"})
        return call_result.TransactionEvent()

    @on("MeterValues")
    def meter_values(self, **kwargs: Any) -> Any:
        record("MeterValues", **kwargs)
        return call_result.MeterValues()


async def main(password: str | None, ssl_context: ssl.SSLContext | None) -> None:
    def check(connection: ServerConnection, request: Request) -> Response | None:
        if password is None:
            return None
        identity = request.path.rstrip("/").split("/")[-1]
        expected = "Basic " + base64.b64encode(f"{identity}:{password}".encode()).decode()
        if request.headers.get("Authorization") != expected:
            record("Rejected", path=request.path)
            return connection.respond(401, "wrong credentials\n")
        record("BasicAuth", identity=identity)
        return None

    async def handler(connection: ServerConnection) -> None:
        peer_cert = connection.transport.get_extra_info("peercert")
        if peer_cert:
            record("ClientCertificate", subject=peer_cert.get("subject"))
        station = Station(connection.request.path.rstrip("/").split("/")[-1], connection)
        try:
            await station.start()
        except Exception:  # the station closed the connection
            pass

    async with serve(handler, "127.0.0.1", 0, subprotocols=["ocpp2.0.1"],  # type: ignore[list-item]
                     process_request=check, ssl=ssl_context) as server:
        print(next(iter(server.sockets)).getsockname()[1], flush=True)
        await asyncio.Future()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--password")
    parser.add_argument("--cert")
    parser.add_argument("--key")
    parser.add_argument("--client-ca", help="require a client certificate signed by this CA (profile 3)")
    args = parser.parse_args()
    context = None
    if args.cert:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(args.cert, args.key)
        if args.client_ca:
            context.verify_mode = ssl.CERT_REQUIRED
            context.load_verify_locations(args.client_ca)
    asyncio.run(main(args.password, context))
