"""``evcharge csms``: run the reference CSMS (see the guide "Test your charger against evcharge csms").

It prints one JSON line per event on standard output (``listening`` with the URLs, ``connected``,
``disconnected``; ``--trace`` adds every OCPP frame) and runs until interrupted.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from evcharge.cli import (
    EXIT_CONNECTION,
    EXIT_OK,
    CommandError,
    host_arg,
    output_file_arg,
    port_arg,
    readable_file_arg,
)

__all__ = ["configure", "run"]

_sqlite_file = output_file_arg()


def _db_arg(text: str) -> str:
    """``--db``: a PostgreSQL URL is checked when it connects; an SQLite file's folder must exist and be writable
    (checked here, before the server starts)."""
    if text.startswith(("postgresql://", "postgres://")) or text == ":memory:":
        return text
    path = text.removeprefix("sqlite://").removeprefix("/") if text.startswith("sqlite:///") else text
    _sqlite_file(path)
    return text


def configure(parser: argparse.ArgumentParser) -> None:
    parser.description = ("A reference OCPP CSMS (1.6, 2.0.1, 2.1) with a JSON admin API, to test a charging station "
                          "against. Plain ws:// serves security profiles 0 and 1, wss:// profiles 2 and 3.")
    parser.add_argument("--host", type=host_arg, default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=port_arg, default=9000, help="ws:// port, profiles 0 and 1 (default 9000)")
    parser.add_argument("--no-plain", action="store_true", help="no ws:// endpoint (only wss://)")
    parser.add_argument("--tls-port", type=port_arg, default=None, help="wss:// port, profiles 2 and 3")
    parser.add_argument("--cert", type=readable_file_arg, help="server certificate chain (PEM) for wss://")
    parser.add_argument("--key", type=readable_file_arg, help="its private key (PEM)")
    parser.add_argument("--client-ca", type=readable_file_arg,
                        help="CA (PEM) that station certificates chain to: enables profile 3 on wss://")
    parser.add_argument("--db", type=_db_arg, default="evcharge-csms.db",
                        help="storage: an SQLite file (default evcharge-csms.db) or postgresql://user@host/db")
    parser.add_argument("--admin-port", type=port_arg, default=9080, help="HTTP admin API port (default 9080)")
    parser.add_argument("--admin-token", default=None, help="bearer token the admin API requires")
    parser.add_argument("--versions", default="2.0.1,2.1,1.6", help="OCPP versions, preferred first")
    parser.add_argument("--closed", action="store_true",
                        help="only registered stations may connect (default: register at first boot)")
    parser.add_argument("--accept-unknown-tokens", action="store_true", help="accept tokens not in the store")
    parser.add_argument("--price", type=float, default=None, help="price per kWh: totalCost in Ended transactions")
    parser.add_argument("--ca-cert", type=readable_file_arg, help="CA certificate that signs station CSRs (PEM)")
    parser.add_argument("--ca-key", type=readable_file_arg, help="its private key (PEM)")
    parser.add_argument("--ocsp", choices=("on", "off"), default="off",
                        help="check 15118 certificate hash data by OCSP (Authorize) and relay GetCertificateStatus "
                             "to the responder the station names (default off: NoCertificateAvailable, Failed)")
    parser.add_argument("--ocsp-url", default=None,
                        help="the OCSP responder (http://host:port/path) for hash data that names none")
    parser.add_argument("--ocsp-trust", type=readable_file_arg, action="append", default=[],
                        help="PEM certificate(s) of the issuer or responder that must sign OCSP responses (repeat "
                             "for more; without it a response's signature is not checked)")
    parser.add_argument("--contract-pki", default=None, metavar="DIR",
                        help="answer Get15118EVCertificate from this test PKI (made by: evcharge v2g pki --out DIR): "
                             "a contract for a fresh eMAID, its key encrypted to the car, signed by the CPS")
    parser.add_argument("--emaid-prefix", default="DE-EVC",
                        help="country and provider of the eMAIDs --contract-pki issues (default DE-EVC)")
    parser.add_argument("--heartbeat", type=int, default=300, help="heartbeat interval of Accepted boots (s)")
    parser.add_argument("--keep-first", action="store_true",
                        help="refuse a second connection of a connected station (default: replace the first)")
    parser.add_argument("--trace", action="store_true", help="print every OCPP frame")


def _print(**fields: Any) -> None:
    print(json.dumps(fields), flush=True)


def _ssl(args: argparse.Namespace) -> Any:
    import ssl

    if args.tls_port is None:
        if args.cert or args.key or args.client_ca:
            raise CommandError("--cert, --key and --client-ca need --tls-port")
        return None
    if not (args.cert and args.key):
        raise CommandError("--tls-port needs --cert and --key")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        ctx.load_cert_chain(args.cert, args.key)
        if args.client_ca:
            ctx.load_verify_locations(args.client_ca)
            ctx.verify_mode = ssl.CERT_OPTIONAL
    except (ssl.SSLError, ValueError) as exc:
        raise CommandError(f"cannot load the TLS certificate or key: {exc}") from None
    return ctx


def run(args: argparse.Namespace) -> int:
    from evcharge.csms.transport import loop
    from evcharge.errors import require

    require("websockets", "csms", feature="evcharge csms")
    try:
        return loop.run(lambda: _main(args))
    except KeyboardInterrupt:
        return EXIT_OK


async def _main(args: argparse.Namespace) -> int:
    from evcharge.csms import CsmsServer, CsmsSettings, ServerConfig, open_store
    from evcharge.csms.pki import CertificateAuthority
    from evcharge.ocpp.errors import LocalProtocolError

    ca = None
    if bool(args.ca_cert) != bool(args.ca_key):
        raise CommandError("--ca-cert and --ca-key go together")
    if args.ca_cert:
        from pathlib import Path

        try:
            ca = CertificateAuthority(Path(args.ca_cert), Path(args.ca_key))
        except (ValueError, TypeError) as exc:
            raise CommandError(f"cannot load the CA: {exc}") from None
    versions = tuple(v.strip() for v in args.versions.split(",") if v.strip())
    settings = CsmsSettings(heartbeat_interval=args.heartbeat, auto_register=not args.closed,
                            accept_unknown_tokens=args.accept_unknown_tokens, price_per_kwh=args.price, ca=ca,
                            contract_provider=_contract_provider(args), **_ocsp(args))
    try:
        config = ServerConfig(host=args.host, port=None if args.no_plain else args.port, tls_port=args.tls_port,
                              ssl_context=_ssl(args), admin_host=args.host, admin_port=args.admin_port,
                              admin_token=args.admin_token, versions=versions,
                              duplicate_connection="keep" if args.keep_first else "replace", settings=settings)
    except LocalProtocolError as exc:
        raise CommandError(str(exc)) from None
    trace = (lambda ident, direction, msg: _print(event="frame", station=ident, direction=direction, frame=msg)
             ) if args.trace else None
    server = CsmsServer(config, open_store(args.db), trace=trace)
    try:
        await server.start()
    except LocalProtocolError as exc:
        raise CommandError(str(exc)) from None
    except OSError as exc:
        await _quiet_stop(server)
        raise CommandError(f"cannot listen or open the store: {exc}", EXIT_CONNECTION) from None
    except Exception as exc:  # a database refusing us (asyncpg's errors are not OSErrors)
        await _quiet_stop(server)
        raise CommandError(f"cannot open the store {args.db}: {type(exc).__name__}: {exc}", EXIT_CONNECTION) from None
    urls = {}
    if "ws" in server.ports:
        urls["ws"] = f"ws://{args.host}:{server.ports['ws']}/"
    if "wss" in server.ports:
        urls["wss"] = f"wss://{args.host}:{server.ports['wss']}/"
    if "admin" in server.ports:
        urls["admin"] = f"http://{args.host}:{server.ports['admin']}/api/"
    _print(event="listening", versions=list(versions), db=args.db if "://" not in args.db else args.db.split("@")[-1],
           **urls)
    from evcharge.csms.transport.loop import forever

    try:
        await forever()
    finally:
        await _quiet_stop(server)
        print("stopped", file=sys.stderr)
    return EXIT_OK


def _ocsp(args: argparse.Namespace) -> dict[str, Any]:
    """The OCSP checker and GetCertificateStatus relay of ``--ocsp on`` (none with ``off``)."""
    from urllib.parse import urlsplit

    if args.ocsp == "off":
        if args.ocsp_url or args.ocsp_trust:
            raise CommandError("--ocsp-url and --ocsp-trust need --ocsp on")
        return {}
    if args.ocsp_url is not None:
        parts = urlsplit(args.ocsp_url)
        if parts.scheme != "http" or not parts.hostname:
            raise CommandError(f"--ocsp-url: an OCSP responder URL is http://host[:port]/path, not {args.ocsp_url!r}")
    from evcharge.csms.ocsp import OcspChecker
    from evcharge.iso15118.security.chain import load_certificates
    from evcharge.iso15118.security.errors import CertificateError

    trusted: list[Any] = []
    for path in args.ocsp_trust:
        try:
            with open(path, "rb") as file:
                certs = load_certificates(file.read())
        except (OSError, ValueError, CertificateError) as exc:
            raise CommandError(f"--ocsp-trust {path}: not a PEM or DER certificate ({exc})") from None
        if not certs:
            raise CommandError(f"--ocsp-trust {path}: no certificate in it")
        trusted.extend(certs)
    checker = OcspChecker(default_url=args.ocsp_url, trusted=trusted)
    return {"certificate_checker": checker, "ocsp_relay": checker.relay}


def _contract_provider(args: argparse.Namespace) -> Any:
    """The test-PKI contract provider of ``--contract-pki DIR`` (None without it)."""
    if args.contract_pki is None:
        return None
    from evcharge.csms.contract import TestPkiContractProvider

    try:
        return TestPkiContractProvider(args.contract_pki, emaid_prefix=args.emaid_prefix)
    except ValueError as exc:
        raise CommandError(f"--contract-pki: {exc}") from None


async def _quiet_stop(server: Any) -> None:
    try:
        await server.stop()
    except Exception:  # stopping after a failed start: nothing more to say
        pass
