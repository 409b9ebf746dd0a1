"""The seam between the V2G communication layer and the protocol engines.

The communication layer (``evcharge.iso15118.v2gtp``, ``.sdp``, ``.session``, ``.security``) owns the
TCP/TLS connection, the V2GTP framing and the SupportedAppProtocol handshake. When the handshake has
chosen a protocol, it builds the engine of that protocol with a :class:`HandOver` and from then on
passes every V2GTP payload to it, and writes every payload the engine queues::

    bytes --> V2GTP framer --> SAP (SupportedAppProtocolReq/Res) --> engine.receive_payload(type, exi, now)
                                                                  <-- engine.payloads_to_send()
                                    app <-- session.next_event() <-- engine.next_event()
                                    app --> session.send(cmd)   --> engine.send(cmd, now)

An engine (DIN 70121, ISO 15118-2, ISO 15118-20; SECC or EVCC) is therefore a sans-I/O core at the
level of V2GTP payloads. It follows :class:`Engine`: the house shape of :mod:`evcharge.sansio` with
``receive_payload``/``payloads_to_send`` in place of ``receive_data``/``data_to_send`` (the framing
is the session's). Engines are created by an :data:`EngineFactory` that the application passes to the
session per protocol, so a session that offers only DIN never imports ISO 15118-20 code.

Facts: V2GTP payload types, ISO 15118-2 §7.8.3 / -20 §V2GTP (0x8001 EXI / SAP; -20 0x8002 common,
0x8003 AC, 0x8004 DC, 0x8005 ACDP, 0x8006 WPT, 0x8101-0x8104 side channels; 0x9000-0x9003 SDP).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum, IntEnum
from typing import Any, Protocol, runtime_checkable

__all__ = [
    "AppProtocol",
    "Engine",
    "EngineFactory",
    "HandOver",
    "PayloadType",
    "TlsInfo",
]


class PayloadType(IntEnum):
    """V2GTP payload types of DIN 70121, ISO 15118-2 and ISO 15118-20."""

    EXI = 0x8001  #: DIN / -2 EXI message, and SupportedAppProtocol in -20
    SAP = 0x8001
    ISO20_COMMON = 0x8002
    ISO20_AC = 0x8003
    ISO20_DC = 0x8004
    ISO20_ACDP = 0x8005
    ISO20_WPT = 0x8006
    ISO20_SCHEDULE_RENEGOTIATION = 0x8101
    ISO20_METERING_CONFIRMATION = 0x8102
    ISO20_ACDP_SYSTEM_STATUS = 0x8103
    ISO20_PARKING_STATUS = 0x8104
    SDP_REQUEST = 0x9000
    SDP_RESPONSE = 0x9001
    SDP_REQUEST_WIRELESS = 0x9002
    SDP_RESPONSE_WIRELESS = 0x9003


class AppProtocol(Enum):
    """A protocol SupportedAppProtocol can choose: (namespace, major version)."""

    DIN = ("urn:din:70121:2012:MsgDef", 2)
    ISO2 = ("urn:iso:15118:2:2013:MsgDef", 2)
    ISO20_AC = ("urn:iso:std:iso:15118:-20:AC", 1)
    ISO20_DC = ("urn:iso:std:iso:15118:-20:DC", 1)
    ISO20_WPT = ("urn:iso:std:iso:15118:-20:WPT", 1)
    ISO20_ACDP = ("urn:iso:std:iso:15118:-20:ACDP", 1)

    @property
    def namespace(self) -> str:
        return str(self.value[0])

    @property
    def major(self) -> int:
        return int(self.value[1])

    @property
    def is_iso20(self) -> bool:
        return self.name.startswith("ISO20")


@dataclass(frozen=True, slots=True, kw_only=True)
class TlsInfo:
    """What the transport knows about the TLS layer under the session (``None`` in HandOver: plain TCP)."""

    version: str  #: e.g. "TLSv1.2", "TLSv1.3"
    cipher: str  #: e.g. "ECDHE-ECDSA-AES128-SHA256"
    #: the peer's certificate chain, leaf first, DER (empty when the peer sent none, as in -2 server-auth)
    peer_chain: tuple[bytes, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class HandOver:
    """Everything an engine needs from the handshake that chose it."""

    protocol: AppProtocol
    schema_id: int  #: the SchemaID the SAP response carried
    version_minor: int  #: the EV's minor version for this namespace (the engine may adapt)
    minor_deviation: bool  #: OK_SuccessfulNegotiationWithMinorDeviation was answered
    tls: TlsInfo | None  #: None on plain TCP; Plug & Charge requires it
    now: float  #: monotonic seconds of the hand-over
    #: monotonic deadline of the communication-setup timer, which runs across SAP and SessionSetup
    #: (V2G_EVCC_CommunicationSetup_Timeout 20 s on the EVCC; the SECC's 18 s performance time)
    setup_deadline: float | None = None
    #: the SessionID of a paused session on this charger/car, for resume (the SECC gives the one it
    #: kept, the EVCC the one to offer in SessionSetupReq), else None
    resume_session_id: bytes | None = None
    extra: dict[str, Any] = field(default_factory=dict)  #: transport-specific extras (local address, ...)


@runtime_checkable
class Engine(Protocol):
    """A DIN / ISO 15118-2 / ISO 15118-20 SECC or EVCC after the SupportedAppProtocol hand-over."""

    def receive_payload(self, payload_type: int, payload: bytes, now: float) -> None:
        """One whole V2GTP payload (EXI) from the peer. Bad input becomes the protocol's answer
        (a FAILED response code, or closing) and never escapes as an exception other than
        ``evcharge.errors.RemoteProtocolError``."""

    def payloads_to_send(self) -> list[tuple[int, bytes]]:
        """``(payload_type, exi)`` pairs to frame and write, in order; empties the queue."""

    def send(self, command: Any, now: float) -> None:
        """The application's input (present values, limits, authorization result, stop, ...)."""

    def next_event(self) -> Any | None:
        """The next application event, or ``None``."""

    def get_timer(self) -> float | None: ...

    def handle_timer(self, now: float) -> None: ...

    @property
    def state(self) -> Any: ...

    @property
    def close_at(self) -> float | None:
        """Monotonic time by which the session must close the TCP connection (after SessionStopRes,
        a FAILED response, or a timeout: within 5 s), or ``None`` while the session goes on."""


#: builds the engine of the negotiated protocol
EngineFactory = Callable[[HandOver], Engine]
