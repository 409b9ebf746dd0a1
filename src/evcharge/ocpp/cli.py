"""``evcharge ocpp``: a small CSMS and a small charge point on the command line.

``evcharge ocpp csms --port 9000`` accepts charge points of every configured version, answers boot,
heartbeat, authorization, status and transaction messages positively and prints one JSON line per message.
``evcharge ocpp cp --url ws://127.0.0.1:9000/ocpp --id CP001`` connects (reconnecting with backoff), boots,
sends heartbeats and accepts resets and remote start/stop requests.

Every option is checked before anything starts; a CSMS that cannot listen, or a charge point whose first
connection fails (refused, unresolvable, TLS, rejected credentials), ends with one line on standard error and
exit status 4 within seconds.  Once connected, the charge point reconnects after a lost connection by itself and
prints each failed attempt as a JSON line.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
from typing import Any
from urllib.parse import urlsplit

from evcharge.cli import (
    EXIT_CONNECTION,
    CommandError,
    float_range_arg,
    host_arg,
    identity_arg,
    port_arg,
    readable_file_arg,
)

VERSIONS = {"1.6": "v16", "2.0.1": "v201", "2.1": "v21"}


def _versions_arg(text: str) -> str:
    names = [s.strip() for s in text.split(",") if s.strip()]
    unknown = [n for n in names if n not in VERSIONS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown OCPP version {', '.join(unknown) or repr(text)} (give a comma separated list of "
            f"{', '.join(VERSIONS)})")
    return ",".join(names)


def _url_arg(text: str) -> str:
    parts = urlsplit(text)
    if parts.scheme not in ("ws", "wss") or not parts.hostname:
        raise argparse.ArgumentTypeError(f"not a websocket URL: {text!r} (give e.g. ws://127.0.0.1:9000/ocpp)")
    try:
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        raise argparse.ArgumentTypeError(f"bad port in {text!r} (give 1 ... 65535)") from None
    return text


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="role", metavar="ROLE", required=True)
    csms = sub.add_parser("csms", help="run a CSMS that accepts charge points")
    csms.add_argument("--host", type=host_arg, default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    csms.add_argument("--port", type=port_arg, default=9000, help="TCP port (0: any free port; default 9000)")
    csms.add_argument("--versions", type=_versions_arg, default="2.1,2.0.1,1.6",
                      help="accepted OCPP versions, comma separated (default 2.1,2.0.1,1.6)")
    csms.add_argument("--interval", type=int, default=300, help="heartbeat interval handed out at boot (s)")
    _security_args(csms, server=True)

    cp = sub.add_parser("cp", help="run a charge point")
    cp.add_argument("--url", type=_url_arg, required=True, help="CSMS endpoint, e.g. ws://127.0.0.1:9000/ocpp")
    cp.add_argument("--id", dest="identity", type=identity_arg, default="CP001",
                    help="charge point identity (default CP001)")
    cp.add_argument("--versions", type=_versions_arg, default="2.0.1,1.6",
                    help="offered OCPP versions, preferred first")
    cp.add_argument("--duration", type=float_range_arg(0.0, None, what="duration"), default=None,
                    help="stop after this many seconds (default: run)")
    cp.add_argument("--heartbeat", type=float_range_arg(0.1, None, what="heartbeat period"), default=None,
                    help="heartbeat period in seconds (default: the interval from the boot answer)")
    _security_args(cp, server=False)


def _security_args(p: argparse.ArgumentParser, *, server: bool) -> None:
    p.add_argument("--profile", type=int, choices=(0, 1, 2, 3), default=0,
                   help="OCPP security profile: 0 none, 1 basic auth, 2 TLS + basic auth, 3 mutual TLS")
    p.add_argument("--password", help="basic-auth password (profiles 1, 2)" + (
        "; the same for every charge point" if server else ""))
    p.add_argument("--cert", type=readable_file_arg,
                   help="PEM certificate of this side (server: profiles 2, 3; charge point: profile 3)")
    p.add_argument("--key", type=readable_file_arg, help="PEM private key of --cert")
    p.add_argument("--ca", type=readable_file_arg, help="PEM CA bundle to verify the other side")


def _check_security(args: argparse.Namespace, *, server: bool) -> None:
    """Refuse a combination of security options that cannot work, before anything starts."""
    profile = args.profile
    if profile in (1, 2) and not args.password:
        raise CommandError(f"security profile {profile} needs --password (basic auth)")
    if not server and profile in (1, 2) and ":" in args.identity:
        raise CommandError("with basic auth the identity cannot contain ':' (it separates user and password)")
    if profile in (0, 1) and (args.cert or args.ca):
        raise CommandError(f"security profile {profile} runs without TLS: drop --cert/--ca or use --profile 2 or 3")
    if server and profile >= 2 and not args.cert:
        raise CommandError(f"security profile {profile} needs --cert (and --key): the CSMS's TLS certificate")
    if server and profile == 3 and not args.ca:
        raise CommandError("security profile 3 needs --ca: the CA bundle that signed the charge points' certificates")
    if not server and profile == 3 and not args.cert:
        raise CommandError("security profile 3 needs --cert (and --key): the charge point's certificate")
    if not server:
        scheme = urlsplit(args.url).scheme
        want = "wss" if profile >= 2 else "ws"
        if scheme != want:
            raise CommandError(f"security profile {profile} needs a {want}:// URL, not {scheme}:// "
                               f"(change --url or --profile)")


def _ssl_context(args: argparse.Namespace, *, server: bool) -> Any:
    import ssl

    if args.profile < 2:
        return None
    try:
        if server:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(args.cert, args.key)
            if args.profile == 3:
                ctx.verify_mode = ssl.CERT_REQUIRED
                ctx.load_verify_locations(args.ca)
            return ctx
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        if args.ca:
            ctx.load_verify_locations(args.ca)
        else:
            ctx.load_default_certs()
        if args.profile == 3:
            ctx.load_cert_chain(args.cert, args.key)
        return ctx
    except ssl.SSLError as exc:
        raise CommandError(f"cannot use the certificate or key ({exc.reason or exc}): give PEM files, "
                           "--key matching --cert") from None


def _modules(spec: str) -> tuple[Any, ...]:
    import importlib

    return tuple(importlib.import_module(f"evcharge.ocpp.{VERSIONS[name]}") for name in spec.split(","))


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _print(**fields: Any) -> None:
    print(json.dumps(fields, default=str), flush=True)


def run(args: argparse.Namespace) -> int:
    import asyncio  # noqa: TID251 - the command is the application: it runs the event loop

    from evcharge.errors import require

    server = args.role == "csms"
    _check_security(args, server=server)
    require("websockets", "ocpp", feature=f"evcharge ocpp {args.role}")
    if server:
        return asyncio.run(_run_csms(args))
    return asyncio.run(_run_cp(args))


# ---------------------------------------------------------------------------------------------- CSMS


def _csms_handler_class() -> type[Any]:
    from evcharge.ocpp.csms import CsmsHandler
    from evcharge.ocpp.routing import on

    class AcceptingCsms(CsmsHandler):
        """Says yes to everything a charge point reports, and prints it."""

        interval = 300
        next_transaction = 1

        def _answer(self, action: str, request: Any, payload: dict[str, Any]) -> Any:
            assert self.version is not None
            _print(event="call", identity=self.identity, version=self.version.VERSION, action=action,
                   payload=request.to_json())
            return self.version.response_class(action).from_json(payload)

        @on("BootNotification")
        def boot(self, request: Any) -> Any:
            return self._answer("BootNotification", request,
                                {"status": "Accepted", "currentTime": _now(), "interval": self.interval})

        @on("Heartbeat")
        def heartbeat(self, request: Any) -> Any:
            return self._answer("Heartbeat", request, {"currentTime": _now()})

        @on("Authorize")
        def authorize(self, request: Any) -> Any:
            key = "idTagInfo" if self.version is not None and self.version.VERSION == "1.6" else "idTokenInfo"
            return self._answer("Authorize", request, {key: {"status": "Accepted"}})

        @on("StartTransaction")
        def start_transaction(self, request: Any) -> Any:
            AcceptingCsms.next_transaction += 1
            return self._answer("StartTransaction", request, {"transactionId": AcceptingCsms.next_transaction,
                                                               "idTagInfo": {"status": "Accepted"}})

        @on("StopTransaction", "MeterValues", "StatusNotification", "TransactionEvent", "NotifyReport",
            "NotifyEvent", "SecurityEventNotification", "FirmwareStatusNotification", "LogStatusNotification",
            "DiagnosticsStatusNotification", "SignedFirmwareStatusNotification")
        def acknowledge(self, request: Any) -> Any:
            action = type(request).__name__.removesuffix("Request")
            return self._answer(action, request, {})

        async def on_connected(self) -> None:
            assert self.version is not None
            _print(event="connected", identity=self.identity, version=self.version.VERSION)

        async def on_disconnected(self) -> None:
            _print(event="disconnected", identity=self.identity)

    return AcceptingCsms


async def _run_csms(args: argparse.Namespace) -> int:
    import asyncio  # noqa: TID251 - the command is the application: it runs the event loop

    from evcharge.ocpp.csms import Csms, CsmsConfig, CsmsSecurity
    from evcharge.ocpp.transport.websocket import serve_csms

    password = args.password
    security = CsmsSecurity(
        profile=args.profile,
        check_password=(lambda identity, pw, info: pw == password) if args.profile in (1, 2) else None,
        ssl_context=_ssl_context(args, server=True),
    )
    handler = _csms_handler_class()
    handler.interval = args.interval
    csms = Csms(CsmsConfig(versions=_modules(args.versions), security=security), handler)
    try:
        server = await serve_csms(csms, args.host, args.port)
    except OSError as exc:
        raise CommandError(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc} "
                           "(choose another --port, 0 for any free one, or an address of this machine for --host)",
                           EXIT_CONNECTION) from None
    host, port = server.sockets[0].getsockname()[:2]
    scheme = "wss" if args.profile >= 2 else "ws"
    _print(event="listening", url=f"{scheme}://{host}:{port}/", versions=args.versions.split(","))
    try:
        await asyncio.Future()
    finally:
        server.close()
    return 0


# ---------------------------------------------------------------------------------------------- charge point


async def _run_cp(args: argparse.Namespace) -> int:
    import asyncio  # noqa: TID251 - the command is the application: it runs the event loop
    import contextlib

    from evcharge.ocpp.charge_point import ChargePoint, ChargePointConfig
    from evcharge.ocpp.errors import OcppError
    from evcharge.ocpp.routing import on
    from evcharge.ocpp.transport.websocket import ChargePointClient, ClientSecurity

    class SimpleChargePoint(ChargePoint):
        def _accept(self, request: Any, action: str) -> Any:
            assert self.version is not None
            _print(event="call", identity=self.identity, action=action, payload=request.to_json())
            return self.version.response_class(action).from_json({"status": "Accepted"})

        @on("Reset")
        def reset(self, request: Any) -> Any:
            return self._accept(request, "Reset")

        @on("RemoteStartTransaction")
        def remote_start_16(self, request: Any) -> Any:
            return self._accept(request, "RemoteStartTransaction")

        @on("RemoteStopTransaction")
        def remote_stop_16(self, request: Any) -> Any:
            return self._accept(request, "RemoteStopTransaction")

        @on("RequestStartTransaction")
        def remote_start(self, request: Any) -> Any:
            return self._accept(request, "RequestStartTransaction")

        @on("RequestStopTransaction")
        def remote_stop(self, request: Any) -> Any:
            return self._accept(request, "RequestStopTransaction")

    cp = SimpleChargePoint(args.identity)
    security = ClientSecurity(profile=args.profile, password=args.password,
                              ssl_context=_ssl_context(args, server=False))
    client = ChargePointClient(cp, args.url, ChargePointConfig(versions=_modules(args.versions)), security=security)

    async def behave() -> None:
        while True:
            await cp.wait_connected()
            version = cp.version
            assert version is not None
            try:
                if version.VERSION == "1.6":
                    boot_payload: dict[str, Any] = {"chargePointVendor": "evcharge", "chargePointModel": "cli"}
                else:
                    boot_payload = {"chargingStation": {"vendorName": "evcharge", "model": "cli"},
                                    "reason": "PowerUp"}
                boot = await cp.call(version.request_class("BootNotification").from_json(boot_payload))
                _print(event="result", action="BootNotification", version=version.VERSION, payload=boot.to_json())
                period = args.heartbeat or float(boot.interval) or 60.0
                while cp.connected:
                    await asyncio.sleep(period)
                    hb = await cp.call(version.request_class("Heartbeat").from_json({}))
                    _print(event="result", action="Heartbeat", payload=hb.to_json())
            except OcppError as exc:
                _print(event="error", error=str(exc))
                await asyncio.sleep(1.0)

    async def report_failures() -> None:
        """The first connection must succeed; later failures are reported and retried."""
        while True:
            failure = await client.next_failure()
            if client.connections == 0:
                raise CommandError(f"cannot connect to {client.url}: {failure.message}", EXIT_CONNECTION)
            _print(event="connection_failed", url=client.url, reason=failure.reason, error=failure.message)

    runner = asyncio.create_task(client.run())
    actor = asyncio.create_task(behave())
    watcher = asyncio.create_task(report_failures())
    timer = asyncio.ensure_future(asyncio.sleep(args.duration) if args.duration is not None
                                  else asyncio.get_running_loop().create_future())
    try:
        done, _ = await asyncio.wait({runner, watcher, timer}, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            if task is not timer:
                task.result()  # raises what ended it (a refused first connection, a bug)
    finally:
        actor.cancel()
        watcher.cancel()
        timer.cancel()
        await client.stop()
        runner.cancel()
        for task in (runner, actor, watcher, timer):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
    return 0


if __name__ == "__main__":  # pragma: no cover
    from evcharge.cli import main

    sys.exit(main(["ocpp", *sys.argv[1:]]))
