"""A small HTTP/1.1 server on asyncio for the admin API: JSON in, JSON out, one request per connection.

No protocol decision here: :class:`~evcharge.csms.admin.AdminApi` answers ``(method, path, query, body)``.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl, urlsplit

__all__ = ["Responder", "serve_http"]

log = logging.getLogger("evcharge.csms")

#: ``(method, path, query, headers, body) -> (status, json)``.
Responder = Callable[[str, str, dict[str, str], dict[str, str], Any], Awaitable[tuple[int, Any]]]

_REASONS = {200: "OK", 201: "Created", 204: "No Content", 400: "Bad Request", 401: "Unauthorized",
            404: "Not Found", 405: "Method Not Allowed", 409: "Conflict", 413: "Payload Too Large",
            500: "Internal Server Error", 502: "Bad Gateway", 504: "Gateway Timeout"}
_MAX_BODY = 1 << 20


async def _read_request(reader: asyncio.StreamReader) -> tuple[str, str, dict[str, str], bytes] | int:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3:
        return 400
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0") or 0)
    if length > _MAX_BODY:
        return 413
    body = await reader.readexactly(length) if length else b""
    return parts[0].upper(), parts[1], headers, body


async def serve_http(responder: Responder, host: str, port: int) -> asyncio.Server:
    """Listen on ``host:port``; every request is answered by ``responder``."""

    async def client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        status: int
        payload: Any
        try:
            got = await asyncio.wait_for(_read_request(reader), 30)
            if isinstance(got, int):
                status, payload = got, {"error": _REASONS[got]}
            else:
                method, target, headers, raw = got
                url = urlsplit(target)
                try:
                    body = json.loads(raw) if raw.strip() else None
                except ValueError:
                    status, payload = 400, {"error": "the body is not JSON"}
                else:
                    status, payload = await responder(method, url.path, dict(parse_qsl(url.query)), headers, body)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, ConnectionError, ValueError):
            writer.close()
            return
        except Exception:
            log.exception("admin API request failed")
            status, payload = 500, {"error": "internal error"}
        data = b"" if status == 204 else json.dumps(payload).encode()
        head = (f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n")
        try:
            writer.write(head.encode() + data)
            await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    return await asyncio.start_server(client, host, port)
