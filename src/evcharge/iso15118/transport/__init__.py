"""Thin asyncio adapters for the V2G communication cores.

* :mod:`~evcharge.iso15118.transport.tcp`: TCP/TLS server (SECC) and client (EVCC) running a
  :class:`~evcharge.iso15118.session.SeccSession` / :class:`~evcharge.iso15118.session.EvccSession`;
  dynamic TCP port 49152-65535.
* :mod:`~evcharge.iso15118.transport.udp`: the SDP server and client on UDP/IPv6 (port 15118,
  ``ff02::1`` with the interface's scope id, hop limit 1).

They own the sockets, the event loop and the clock (``time.monotonic``); every protocol decision is
the cores'.
"""
