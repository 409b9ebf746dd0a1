"""POST an OCSP request to its responder (RFC 6960 appendix A.1: HTTP, ``application/ocsp-request``)."""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

__all__ = ["post_ocsp"]

_MAX = 1 << 20


async def post_ocsp(url: str, der: bytes, *, timeout: float = 10.0) -> bytes:
    """The responder's DER answer; ``OSError`` / ``TimeoutError`` / ``ValueError`` for any failure."""
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise ValueError(f"an OCSP responder URL is http://host[:port]/path, not {url!r}")
    port = parts.port or 80
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query

    async def exchange() -> bytes:
        reader, writer = await asyncio.open_connection(parts.hostname, port)
        try:
            writer.write((f"POST {path} HTTP/1.1\r\nHost: {parts.netloc}\r\nContent-Type: application/ocsp-request\r\n"
                          f"Accept: application/ocsp-response\r\nContent-Length: {len(der)}\r\n"
                          "Connection: close\r\n\r\n").encode() + der)
            await writer.drain()
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
            status = head.split(" ", 2)
            if len(status) < 2 or status[1] != "200":
                raise ValueError(f"the OCSP responder answered {head.splitlines()[0]!r}")
            length = None
            for line in head.split("\r\n")[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value.strip())
            if length is not None:
                if length > _MAX:
                    raise ValueError("the OCSP response is too large")
                return await reader.readexactly(length)
            return await reader.read(_MAX)
        finally:
            writer.close()

    try:
        return await asyncio.wait_for(exchange(), timeout)
    except asyncio.IncompleteReadError as exc:
        raise ValueError("the OCSP responder closed the connection early") from exc
