"""SECC Discovery Protocol (SDP): how the car finds the charger's TCP/TLS port.

The EVCC multicasts an SDP request (V2GTP payload type 0x9000, 2 bytes: security, transport) to
``ff02::1`` port 15118 on the PLC link with hop limit 1; the SECC answers with its IPv6 link-local
address, its TCP port, and the security and transport it offers (0x9001, 20 bytes). The EVCC waits
250 ms for an answer and sends at most 50 requests ([V2G2-159], [V2G2-161]).

Sources: ``facts/v2g_slac_iec61851.md`` §1 (Josev ``shared/messages/sdp.py``, EVerest ``sdp.cpp``, RISE-V2G
``TimeRestrictions.java``).

Two sans-I/O cores: :class:`SdpServer` (SECC) and :class:`SdpClient` (EVCC). They take and give whole
datagrams (``receive_data`` / ``data_to_send``); the UDP sockets are in
:mod:`evcharge.iso15118.transport.udp`. The server answers each valid request with one response
datagram, to be sent back to the address the request came from.
"""

from __future__ import annotations

import ipaddress
import random
from collections import deque
from dataclasses import dataclass
from enum import Enum, IntEnum

from evcharge.errors import LocalProtocolError, RemoteProtocolError
from evcharge.iso15118.handover import PayloadType
from evcharge.iso15118.v2gtp import V2gtpError, decode_message, encode_message

__all__ = [
    "DYNAMIC_PORT_RANGE",
    "SDP_MULTICAST_ADDRESS",
    "SDP_PORT",
    "SdpAnswered",
    "SdpClient",
    "SdpClientConfig",
    "SdpClientState",
    "SdpDiscovered",
    "SdpError",
    "SdpFailed",
    "SdpRequest",
    "SdpResponse",
    "SdpServer",
    "SdpServerConfig",
    "SdpServerState",
    "Security",
    "StartDiscovery",
    "Transport",
    "decode_request",
    "decode_response",
    "dynamic_port",
    "encode_request",
    "encode_response",
]

SDP_PORT = 15118
SDP_MULTICAST_ADDRESS = "ff02::1"
#: RFC 6335 dynamic ports, from which the SECC picks its TCP port (Josev ``get_tcp_port``)
DYNAMIC_PORT_RANGE = (49152, 65535)


class Security(IntEnum):
    TLS = 0x00
    NO_TLS = 0x10


class Transport(IntEnum):
    TCP = 0x00
    UDP = 0x10


class SdpError(RemoteProtocolError):
    """An SDP datagram the standard tells us to ignore (bad header, length, or field value)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, hint=None)


@dataclass(frozen=True, slots=True, kw_only=True)
class SdpRequest:
    security: Security
    transport: Transport = Transport.TCP


@dataclass(frozen=True, slots=True, kw_only=True)
class SdpResponse:
    address: ipaddress.IPv6Address  #: the SECC's IPv6 address (link-local on the PLC link)
    port: int
    security: Security
    transport: Transport = Transport.TCP


def encode_request(request: SdpRequest) -> bytes:
    """The whole datagram (V2GTP header + 2 bytes)."""
    return encode_message(PayloadType.SDP_REQUEST, bytes((request.security, request.transport)))


def encode_response(response: SdpResponse) -> bytes:
    """The whole datagram (V2GTP header + 20 bytes)."""
    if not 0 <= response.port <= 0xFFFF:
        raise LocalProtocolError(f"SDP response port {response.port} does not fit in 16 bits")
    body = response.address.packed + response.port.to_bytes(2, "big") + bytes((response.security, response.transport))
    return encode_message(PayloadType.SDP_RESPONSE, body)


def _fields(payload: bytes, offset: int) -> tuple[Security, Transport]:
    try:
        security = Security(payload[offset])
    except ValueError:
        raise SdpError(f"SDP: security 0x{payload[offset]:02X} is neither 0x00 (TLS) nor 0x10 (no TLS)") from None
    try:
        transport = Transport(payload[offset + 1])
    except ValueError:
        raise SdpError(f"SDP: transport 0x{payload[offset + 1]:02X} is neither 0x00 (TCP) nor 0x10 (UDP)") from None
    return security, transport


def _message(data: bytes, payload_type: int, size: int) -> bytes:
    try:
        message = decode_message(data, allowed=(payload_type,), max_payload=size)
    except V2gtpError as exc:
        raise SdpError(f"SDP: {exc}") from exc
    if len(message.payload) != size:
        raise SdpError(f"SDP: payload of {len(message.payload)} bytes, expected {size}")
    return message.payload


def decode_request(data: bytes) -> SdpRequest:
    """Parse a request datagram; :class:`SdpError` when it must be ignored."""
    payload = _message(data, PayloadType.SDP_REQUEST, 2)
    security, transport = _fields(payload, 0)
    return SdpRequest(security=security, transport=transport)


def decode_response(data: bytes) -> SdpResponse:
    """Parse a response datagram; :class:`SdpError` when it must be ignored."""
    payload = _message(data, PayloadType.SDP_RESPONSE, 20)
    security, transport = _fields(payload, 18)
    port = int.from_bytes(payload[16:18], "big")
    if port == 0:
        raise SdpError("SDP response: port 0")
    return SdpResponse(
        address=ipaddress.IPv6Address(payload[:16]), port=port, security=security, transport=transport
    )


def dynamic_port(rng: random.Random) -> int:
    """A port from the dynamic range 49152-65535 (the transport retries when it is taken)."""
    return rng.randint(*DYNAMIC_PORT_RANGE)


# -- server (SECC) --------------------------------------------------------------------------------


class SdpServerState(Enum):
    LISTENING = "listening"


@dataclass(frozen=True, slots=True, kw_only=True)
class SdpServerConfig:
    """What the SECC offers. At least one of ``tls_port`` and ``tcp_port`` is set.

    Negotiation: a request for TLS gets TLS when the SECC has a TLS port; a request without TLS gets
    plain TCP when the SECC has a TCP port and does not enforce TLS; otherwise the SECC answers what it
    has and the EVCC decides (-2: the EVCC may go on or stop; -20 requires TLS). Transport: V2G runs
    on TCP; a request for UDP is answered with TCP, the only transport offered.
    """

    address: ipaddress.IPv6Address
    tls_port: int | None = None
    tcp_port: int | None = None
    enforce_tls: bool = False

    def __post_init__(self) -> None:
        if self.tls_port is None and self.tcp_port is None:
            raise LocalProtocolError("SdpServerConfig needs a tls_port or a tcp_port")
        if self.enforce_tls and self.tls_port is None:
            raise LocalProtocolError("enforce_tls needs a tls_port")


@dataclass(frozen=True, slots=True, kw_only=True)
class SdpAnswered:
    """The server answered a request (event)."""

    request: SdpRequest
    response: SdpResponse
    now: float


class SdpServer:
    """SECC side: one response datagram per valid request; invalid requests raise :class:`SdpError`
    (the transport ignores the datagram, as the standard says)."""

    def __init__(self, config: SdpServerConfig) -> None:
        self.config = config
        self._out: list[bytes] = []
        self._events: deque[SdpAnswered] = deque()

    @property
    def state(self) -> SdpServerState:
        return SdpServerState.LISTENING

    def answer(self, request: SdpRequest) -> SdpResponse:
        """The negotiation rule (see :class:`SdpServerConfig`)."""
        c = self.config
        if c.tls_port is not None and (request.security is Security.TLS or c.enforce_tls or c.tcp_port is None):
            return SdpResponse(address=c.address, port=c.tls_port, security=Security.TLS)
        assert c.tcp_port is not None
        return SdpResponse(address=c.address, port=c.tcp_port, security=Security.NO_TLS)

    def receive_data(self, data: bytes, now: float) -> None:
        request = decode_request(data)
        response = self.answer(request)
        self._out.append(encode_response(response))
        self._events.append(SdpAnswered(request=request, response=response, now=now))

    def data_to_send(self) -> list[bytes]:
        out, self._out = self._out, []
        return out

    def send(self, command: object, now: float) -> None:
        raise LocalProtocolError(f"the SDP server takes no commands (got {command!r})")

    def next_event(self) -> SdpAnswered | None:
        return self._events.popleft() if self._events else None

    def get_timer(self) -> float | None:
        return None

    def handle_timer(self, now: float) -> None:
        return None


# -- client (EVCC) --------------------------------------------------------------------------------


class SdpClientState(Enum):
    IDLE = "idle"
    WAITING = "waiting"  #: a request is out, waiting up to ``response_timeout``
    DISCOVERED = "discovered"
    FAILED = "failed"  #: ``max_requests`` requests went unanswered


@dataclass(frozen=True, slots=True, kw_only=True)
class SdpClientConfig:
    """What the EVCC asks for and accepts.

    ``accept`` is the set of securities the EVCC goes on with: by default only what it asked for
    (a -2 car that asked for TLS may choose to accept ``NO_TLS`` by adding it; -20 requires TLS).
    """

    security: Security = Security.TLS
    transport: Transport = Transport.TCP
    accept: frozenset[Security] | None = None
    response_timeout: float = 0.25  #: wait at least 250 ms for a response [V2G2-159]
    max_requests: int = 50  #: at most 50 consecutive requests [V2G2-161]

    def accepted(self) -> frozenset[Security]:
        return self.accept if self.accept is not None else frozenset({self.security})


@dataclass(frozen=True, slots=True, kw_only=True)
class StartDiscovery:
    """Command: send the first request (again from the start after a failure or a discovery)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SdpDiscovered:
    response: SdpResponse
    requests_sent: int
    now: float


@dataclass(frozen=True, slots=True, kw_only=True)
class SdpFailed:
    requests_sent: int
    now: float


SdpClientEvent = SdpDiscovered | SdpFailed

#: (state, input) -> next state; anything else is a LocalProtocolError (command) or ignored (datagram)
_CLIENT_TRANSITIONS: dict[tuple[SdpClientState, str], SdpClientState] = {
    (SdpClientState.IDLE, "start"): SdpClientState.WAITING,
    (SdpClientState.DISCOVERED, "start"): SdpClientState.WAITING,
    (SdpClientState.FAILED, "start"): SdpClientState.WAITING,
    (SdpClientState.WAITING, "response"): SdpClientState.DISCOVERED,
    (SdpClientState.WAITING, "timeout_retry"): SdpClientState.WAITING,
    (SdpClientState.WAITING, "timeout_last"): SdpClientState.FAILED,
}


class SdpClient:
    """EVCC side: request, wait 250 ms, repeat up to 50 times; the first acceptable response wins."""

    def __init__(self, config: SdpClientConfig | None = None) -> None:
        self.config = config or SdpClientConfig()
        self._state = SdpClientState.IDLE
        self._out: list[bytes] = []
        self._events: deque[SdpClientEvent] = deque()
        self._sent = 0
        self._deadline: float | None = None

    @property
    def state(self) -> SdpClientState:
        return self._state

    @property
    def requests_sent(self) -> int:
        return self._sent

    def _go(self, event: str) -> None:
        self._state = _CLIENT_TRANSITIONS[(self._state, event)]

    def _request(self, now: float) -> None:
        self._out.append(encode_request(SdpRequest(security=self.config.security, transport=self.config.transport)))
        self._sent += 1
        self._deadline = now + self.config.response_timeout

    def send(self, command: StartDiscovery, now: float) -> None:
        if not isinstance(command, StartDiscovery):
            raise LocalProtocolError(f"SdpClient takes StartDiscovery, not {command!r}")
        if (self._state, "start") not in _CLIENT_TRANSITIONS:
            raise LocalProtocolError(f"discovery is already running (state {self._state.value})")
        self._go("start")
        self._sent = 0
        self._request(now)

    def receive_data(self, data: bytes, now: float) -> None:
        """A datagram from the SDP port. A response that is not acceptable raises :class:`SdpError`
        and leaves the client waiting (a response arriving when not waiting is ignored)."""
        response = decode_response(data)
        if self._state is not SdpClientState.WAITING:
            return
        if response.security not in self.config.accepted():
            raise SdpError(f"SDP response offers {response.security.name}, which this EVCC does not accept")
        if response.transport is not self.config.transport:
            raise SdpError(f"SDP response offers transport {response.transport.name}, asked for "
                           f"{self.config.transport.name}")
        self._go("response")
        self._deadline = None
        self._events.append(SdpDiscovered(response=response, requests_sent=self._sent, now=now))

    def data_to_send(self) -> list[bytes]:
        out, self._out = self._out, []
        return out

    def next_event(self) -> SdpClientEvent | None:
        return self._events.popleft() if self._events else None

    def get_timer(self) -> float | None:
        return self._deadline

    def handle_timer(self, now: float) -> None:
        if self._deadline is None or now < self._deadline:
            return
        if self._sent < self.config.max_requests:
            self._go("timeout_retry")
            self._request(now)
        else:
            self._go("timeout_last")
            self._deadline = None
            self._events.append(SdpFailed(requests_sent=self._sent, now=now))
