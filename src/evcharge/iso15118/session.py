"""Connection-level sans-I/O cores: one V2G TCP/TLS connection, SECC side and EVCC side.

A session owns what every V2G protocol shares on the connection: the V2GTP framing, the
SupportedAppProtocol handshake (:mod:`evcharge.iso15118.sap`), and the hand-over to the engine of the
chosen protocol through the seam of :mod:`evcharge.iso15118.handover`::

    transport --bytes--> SeccSession.receive_data --V2GTP--> SAP --HandOver--> engine_factory(handover)
                                                                        payloads --> engine.receive_payload
    transport <--bytes-- SeccSession.data_to_send <--V2GTP-- engine.payloads_to_send
    app       <--------- SeccSession.next_event  <--------- (session events, then the engine's events)
    app       ---------> SeccSession.send(cmd)   ---------> engine.send(cmd)

After the hand-over the session forwards payloads, events, commands and timers, and it closes at the
engine's ``close_at``. The transport closes the TCP connection when the session's ``state`` is
:attr:`SessionState.CLOSED` (after writing what ``data_to_send()`` still holds).

Bad input: a V2GTP header that fails a check, an undecodable SupportedAppProtocol message, a payload
type the chosen protocol does not use, or an engine's ``RemoteProtocolError``
closes the session (a :class:`SessionClosed` event says why) and the error is raised to the caller.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from evcharge._exi.errors import ExiDecodeError, ExiEncodeError
from evcharge.errors import LocalProtocolError, RemoteProtocolError
from evcharge.iso15118 import app_protocol as ap
from evcharge.iso15118 import sap
from evcharge.iso15118.handover import AppProtocol, Engine, EngineFactory, HandOver, PayloadType, TlsInfo
from evcharge.iso15118.sap import Negotiation, OfferedProtocol, SupportedProtocol
from evcharge.iso15118.v2gtp import DEFAULT_MAX_PAYLOAD, V2gtpError, V2gtpFault, V2gtpFramer, encode_message

__all__ = [
    "DEFAULT_EVCC_OFFERS",
    "EvccSession",
    "EvccSessionConfig",
    "NegotiationFailed",
    "ProtocolNegotiated",
    "SapTraceEntry",
    "SeccSession",
    "SeccSessionConfig",
    "SessionClosed",
    "SessionCore",
    "SessionState",
    "payload_types_of",
]

#: the payload types a protocol uses on the connection after SupportedAppProtocol
_ISO20_TYPES = frozenset(
    {
        PayloadType.ISO20_COMMON,
        PayloadType.ISO20_AC,
        PayloadType.ISO20_DC,
        PayloadType.ISO20_ACDP,
        PayloadType.ISO20_WPT,
        PayloadType.ISO20_SCHEDULE_RENEGOTIATION,
        PayloadType.ISO20_METERING_CONFIRMATION,
        PayloadType.ISO20_ACDP_SYSTEM_STATUS,
        PayloadType.ISO20_PARKING_STATUS,
    }
)
_SAP_TYPES = frozenset({int(PayloadType.SAP)})


def payload_types_of(protocol: AppProtocol) -> frozenset[int]:
    """The V2GTP payload types ``protocol`` uses after the handshake (DIN/-2: 0x8001; -20: 0x8002-0x8104)."""
    return frozenset(int(p) for p in _ISO20_TYPES) if protocol.is_iso20 else _SAP_TYPES


class SessionState(Enum):
    SAP = "sap"  #: the SECC waits for SupportedAppProtocolReq, the EVCC for SupportedAppProtocolRes
    ENGINE = "engine"  #: handed over, the engine of the chosen protocol runs the session
    CLOSED = "closed"  #: the transport closes the connection


#: (state, input) -> next state. Anything else is not possible (inputs in other states raise).
_TRANSITIONS: dict[tuple[SessionState, str], SessionState] = {
    (SessionState.SAP, "negotiated"): SessionState.ENGINE,
    (SessionState.SAP, "no_negotiation"): SessionState.CLOSED,
    (SessionState.SAP, "timeout"): SessionState.CLOSED,
    (SessionState.SAP, "error"): SessionState.CLOSED,
    (SessionState.SAP, "connection_lost"): SessionState.CLOSED,
    (SessionState.ENGINE, "engine_closed"): SessionState.CLOSED,
    (SessionState.ENGINE, "error"): SessionState.CLOSED,
    (SessionState.ENGINE, "connection_lost"): SessionState.CLOSED,
}


# -- events ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class ProtocolNegotiated:
    """SupportedAppProtocol chose ``protocol``; the engine is running from now on."""

    protocol: AppProtocol
    schema_id: int
    response_code: ap.ResponseCode
    now: float

    @property
    def minor_deviation(self) -> bool:
        return self.response_code is ap.ResponseCode.OK_SuccessfulNegotiationWithMinorDeviation


@dataclass(frozen=True, slots=True, kw_only=True)
class NegotiationFailed:
    """No common protocol (Failed_NoNegotiation was answered or received)."""

    offered: tuple[str, ...]  #: the namespaces the EVCC offered
    now: float


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionClosed:
    """The session is over; the transport closes the connection. The last event of a session."""

    reason: str
    now: float
    error: RemoteProtocolError | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SapTraceEntry:
    """One SupportedAppProtocol message as it went by (``session.trace``, kept with ``trace=True``): the
    same fields as an engine's trace entry, so a log holds the whole connection."""

    direction: str  #: "rx" or "tx"
    time: float  #: the ``now`` it was received or queued at
    name: str  #: "SupportedAppProtocolReq" / "SupportedAppProtocolRes", "?" when it did not decode
    payload_type: int
    exi: bytes
    message: Any  #: the decoded message, None when it did not decode


# -- configuration -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class SeccSessionConfig:
    """SECC connection settings.

    ``protocols``: what the charger speaks (only those that also have an engine factory are chosen).
    ``sap_timeout``: how long a new connection may stay silent before SupportedAppProtocolReq (the
    EVCC's V2G_EVCC_CommunicationSetup_Timeout, 20 s, bounds it from the other side; Josev waits 20 s).
    ``communication_setup_time``: V2G_SECC_CommunicationSetup_Performance_Time, 18 s [V2G2-716]; its
    deadline (from the connection) is handed to the engine as ``HandOver.setup_deadline``.
    """

    protocols: tuple[SupportedProtocol, ...] = (
        SupportedProtocol(protocol=AppProtocol.ISO20_DC),
        SupportedProtocol(protocol=AppProtocol.ISO20_AC),
        SupportedProtocol(protocol=AppProtocol.ISO2),
        SupportedProtocol(protocol=AppProtocol.DIN),
    )
    sap_timeout: float = 20.0
    communication_setup_time: float = 18.0
    max_payload: int = DEFAULT_MAX_PAYLOAD


#: a car that prefers ISO 15118-2, then DIN 70121
DEFAULT_EVCC_OFFERS: tuple[OfferedProtocol, ...] = (
    OfferedProtocol(protocol=AppProtocol.ISO2, schema_id=1, priority=1),
    OfferedProtocol(protocol=AppProtocol.DIN, schema_id=2, priority=2),
)


@dataclass(frozen=True, slots=True, kw_only=True)
class EvccSessionConfig:
    """EVCC connection settings.

    ``protocols``: the entries of SupportedAppProtocolReq (SchemaID, Priority 1 = preferred).
    ``sap_timeout``: V2G_EVCC_Msg_Timeout for SupportedAppProtocolRes, 2 s (Table 109).
    ``communication_setup_timeout``: V2G_EVCC_CommunicationSetup_Timeout, 20 s (Table 111), which runs
    until SessionSetupRes; its deadline goes to the engine as ``HandOver.setup_deadline``.
    """

    protocols: tuple[OfferedProtocol, ...] = DEFAULT_EVCC_OFFERS
    sap_timeout: float = 2.0
    communication_setup_timeout: float = 20.0
    max_payload: int = DEFAULT_MAX_PAYLOAD


# -- the shared part ---------------------------------------------------------------------------------


@dataclass(slots=True)
class _Context:
    tls: TlsInfo | None
    resume_session_id: bytes | None
    extra: dict[str, Any] = field(default_factory=dict)


class SessionCore:
    """What both roles share: V2GTP framing, the state table, the hand-over, forwarding. The two
    roles add the SupportedAppProtocol step."""

    def __init__(
        self,
        engines: Mapping[AppProtocol, EngineFactory],
        *,
        now: float,
        tls: TlsInfo | None,
        resume_session_id: bytes | None,
        extra: Mapping[str, Any] | None,
        max_payload: int,
        trace: bool = False,
    ) -> None:
        #: the SupportedAppProtocol messages (with ``trace=True``; the engine keeps its own messages)
        self.trace: list[SapTraceEntry] | None = [] if trace else None
        self._engines = dict(engines)
        self._context = _Context(tls=tls, resume_session_id=resume_session_id, extra=dict(extra or {}))
        self._framer = V2gtpFramer(allowed=_SAP_TYPES, max_payload=max_payload)
        self._accepted = _SAP_TYPES
        self._state = SessionState.SAP
        self._out: list[bytes] = []
        self._events: deque[Any] = deque()
        self._engine: Engine | None = None
        self._negotiation: Negotiation | None = None
        self._deadline: float | None = None  # the SAP step's timer
        self._opened_at = now

    # -- public surface ---------------------------------------------------------------------------

    @property
    def state(self) -> SessionState:
        return self._state

    @property
    def engine(self) -> Engine | None:
        """The engine of the chosen protocol (``None`` before the hand-over)."""
        return self._engine

    @property
    def negotiation(self) -> Negotiation | None:
        return self._negotiation

    @property
    def tls(self) -> TlsInfo | None:
        return self._context.tls

    def receive_data(self, data: bytes, now: float) -> None:
        """TCP bytes in any chunking. Raises ``RemoteProtocolError`` (the session is then closed)."""
        if self._state is SessionState.CLOSED:
            return
        try:
            self._framer.receive_data(data)
            while not self._closed():
                message = self._framer.next_message()
                if message is None:
                    break
                if message.payload_type not in self._accepted:
                    raise V2gtpError(
                        f"V2GTP payload type 0x{message.payload_type:04X} is not used in state {self._state.value}",
                        fault=V2gtpFault.PAYLOAD_TYPE,
                    )
                if self._state is SessionState.SAP:
                    self._receive_sap(message.payload, now)
                else:
                    engine = self._engine
                    assert engine is not None
                    engine.receive_payload(message.payload_type, message.payload, now)
                    self._pump(now)
        except RemoteProtocolError as exc:
            self._fail(exc, now)
            raise

    def send(self, command: Any, now: float) -> None:
        """The application's command, for the engine; a ``LocalProtocolError`` before the hand-over."""
        if self._engine is None or self._state is not SessionState.ENGINE:
            raise LocalProtocolError(f"no engine runs in session state {self._state.value}")
        self._engine.send(command, now)
        self._pump(now)

    def data_to_send(self) -> list[bytes]:
        out, self._out = self._out, []
        return out

    def next_event(self) -> Any | None:
        if self._engine is not None and self._state is SessionState.ENGINE:
            self._drain_events()
        return self._events.popleft() if self._events else None

    def get_timer(self) -> float | None:
        if self._state is SessionState.CLOSED:
            return None
        if self._state is SessionState.SAP:
            return self._deadline
        engine = self._engine
        assert engine is not None
        times = [t for t in (engine.get_timer(), engine.close_at) if t is not None]
        return min(times) if times else None

    def handle_timer(self, now: float) -> None:
        if self._state is SessionState.SAP:
            if self._deadline is not None and now >= self._deadline:
                self._close("timeout", f"no SupportedAppProtocol {self._waiting_for} within the timeout", now)
            return
        if self._state is SessionState.ENGINE:
            engine = self._engine
            assert engine is not None
            timer = engine.get_timer()
            if timer is not None and now >= timer:
                try:
                    engine.handle_timer(now)
                except RemoteProtocolError as exc:
                    self._fail(exc, now)
                    raise
            self._pump(now)

    def connection_lost(self, now: float) -> None:
        """The transport saw the peer close (or the link drop)."""
        if self._state is not SessionState.CLOSED:
            if self._engine is not None:
                self._drain_events()
            self._close("connection_lost", "the connection was closed by the peer or lost", now)

    @property
    def close_at(self) -> float | None:
        """The time by which the transport must close (the closing time once CLOSED, else the engine's
        ``close_at``)."""
        if self._state is SessionState.CLOSED:
            return self._closed_at
        return self._engine.close_at if self._engine is not None else None

    # -- internals ------------------------------------------------------------------------------

    _waiting_for = "message"
    _closed_at: float | None = None

    def _receive_sap(self, payload: bytes, now: float) -> None:  # pragma: no cover - per role
        raise NotImplementedError

    def _closed(self) -> bool:
        return self._state is SessionState.CLOSED

    def _go(self, event: str) -> None:
        self._state = _TRANSITIONS[(self._state, event)]

    def _close(self, event: str, reason: str, now: float, error: RemoteProtocolError | None = None) -> None:
        self._go(event)
        self._deadline = None
        self._closed_at = now
        self._events.append(SessionClosed(reason=reason, now=now, error=error))

    def _fail(self, exc: RemoteProtocolError, now: float) -> None:
        if self._state is not SessionState.CLOSED:
            if self._engine is not None:
                self._drain_events()
            self._close("error", str(exc), now, exc)

    def _frame(self, payload_type: int, payload: bytes) -> None:
        self._out.append(encode_message(payload_type, payload))

    def _trace_sap(self, direction: str, now: float, exi: bytes, message: Any) -> None:
        if self.trace is not None:
            name = type(message).__name__ if message is not None else "?"
            self.trace.append(
                SapTraceEntry(
                    direction=direction, time=now, name=name, payload_type=PayloadType.SAP, exi=exi, message=message
                )
            )

    def _drain_events(self) -> None:
        engine = self._engine
        assert engine is not None
        while (event := engine.next_event()) is not None:
            self._events.append(event)

    def _pump(self, now: float) -> None:
        """Move the engine's payloads and events out; close when its ``close_at`` has come."""
        engine = self._engine
        assert engine is not None
        for payload_type, payload in engine.payloads_to_send():
            self._frame(payload_type, payload)
        self._drain_events()
        close_at = engine.close_at
        if close_at is not None and now >= close_at and self._state is SessionState.ENGINE:
            self._close("engine_closed", "the engine ended the session", now)

    def _hand_over(self, negotiation: Negotiation, now: float, setup_deadline: float) -> None:
        protocol = negotiation.protocol
        assert protocol is not None and negotiation.schema_id is not None and negotiation.ev_minor is not None
        handover = HandOver(
            protocol=protocol,
            schema_id=negotiation.schema_id,
            version_minor=negotiation.ev_minor,
            minor_deviation=negotiation.minor_deviation,
            tls=self._context.tls,
            now=now,
            setup_deadline=setup_deadline,
            resume_session_id=self._context.resume_session_id,
            extra=dict(self._context.extra),
        )
        self._negotiation = negotiation
        self._deadline = None
        self._go("negotiated")
        self._accepted = payload_types_of(protocol)
        self._framer.allowed = self._accepted
        self._events.append(
            ProtocolNegotiated(
                protocol=protocol, schema_id=negotiation.schema_id, response_code=negotiation.response_code, now=now
            )
        )
        self._engine = self._engines[protocol](handover)
        self._pump(now)


# -- SECC ----------------------------------------------------------------------------------------------


class SeccSession(SessionCore):
    """The charger's side of one connection: waits for SupportedAppProtocolReq, answers, hands over.

    ``engines`` maps each protocol to the factory of its SECC engine; a protocol is chosen only when
    it is both in ``config.protocols`` and in ``engines``.
    """

    _waiting_for = "request"

    def __init__(
        self,
        config: SeccSessionConfig,
        engines: Mapping[AppProtocol, EngineFactory],
        *,
        now: float,
        tls: TlsInfo | None = None,
        resume_session_id: bytes | None = None,
        extra: Mapping[str, Any] | None = None,
        trace: bool = False,
    ) -> None:
        super().__init__(
            engines,
            now=now,
            tls=tls,
            resume_session_id=resume_session_id,
            extra=extra,
            max_payload=config.max_payload,
            trace=trace,
        )
        self.config = config
        self._deadline = now + config.sap_timeout
        self._supported = tuple(p for p in config.protocols if p.protocol in self._engines)

    def _receive_sap(self, payload: bytes, now: float) -> None:
        try:
            request = ap.decode(payload)
        except ExiDecodeError as exc:
            self._trace_sap("rx", now, payload, None)
            raise RemoteProtocolError(f"SupportedAppProtocolReq does not decode: {exc}") from exc
        self._trace_sap("rx", now, payload, request)
        if not isinstance(request, ap.SupportedAppProtocolReq):
            raise RemoteProtocolError(f"expected SupportedAppProtocolReq, got {type(request).__name__}")
        negotiation = sap.choose(request, self._supported)
        response = ap.SupportedAppProtocolRes(response_code=negotiation.response_code, schema_id=negotiation.schema_id)
        exi = ap.encode(response)
        self._trace_sap("tx", now, exi, response)
        self._frame(PayloadType.SAP, exi)
        if not negotiation.ok:
            self._negotiation = negotiation
            self._events.append(
                NegotiationFailed(offered=tuple(e.protocol_namespace for e in request.app_protocol), now=now)
            )
            self._close("no_negotiation", "Failed_NoNegotiation: no protocol in common", now)
            return
        self._hand_over(negotiation, now, self._opened_at + self.config.communication_setup_time)


# -- EVCC ----------------------------------------------------------------------------------------------


class EvccSession(SessionCore):
    """The car's side of one connection: sends SupportedAppProtocolReq at once (in
    ``data_to_send()``), waits 2 s for the response, hands over to the chosen engine."""

    _waiting_for = "response"

    def __init__(
        self,
        config: EvccSessionConfig,
        engines: Mapping[AppProtocol, EngineFactory],
        *,
        now: float,
        tls: TlsInfo | None = None,
        resume_session_id: bytes | None = None,
        extra: Mapping[str, Any] | None = None,
        trace: bool = False,
    ) -> None:
        super().__init__(
            engines,
            now=now,
            tls=tls,
            resume_session_id=resume_session_id,
            extra=extra,
            max_payload=config.max_payload,
            trace=trace,
        )
        self.config = config
        missing = [o.protocol.name for o in config.protocols if o.protocol not in self._engines]
        if missing:
            raise LocalProtocolError(f"offered protocols without an engine factory: {', '.join(missing)}")
        self._offers: Sequence[OfferedProtocol] = config.protocols
        message = sap.build_request(self._offers)
        try:
            request = ap.encode(message)
        except ExiEncodeError as exc:  # pragma: no cover - the offers are checked above
            raise LocalProtocolError(str(exc)) from exc
        self._trace_sap("tx", now, request, message)
        self._frame(PayloadType.SAP, request)
        self._deadline = now + config.sap_timeout

    def _receive_sap(self, payload: bytes, now: float) -> None:
        try:
            response = ap.decode(payload)
        except ExiDecodeError as exc:
            self._trace_sap("rx", now, payload, None)
            raise RemoteProtocolError(f"SupportedAppProtocolRes does not decode: {exc}") from exc
        self._trace_sap("rx", now, payload, response)
        if not isinstance(response, ap.SupportedAppProtocolRes):
            raise RemoteProtocolError(f"expected SupportedAppProtocolRes, got {type(response).__name__}")
        negotiation = sap.interpret_response(response, self._offers)
        if not negotiation.ok:
            self._negotiation = negotiation
            self._events.append(NegotiationFailed(offered=tuple(o.protocol.namespace for o in self._offers), now=now))
            self._close("no_negotiation", "Failed_NoNegotiation: the SECC supports none of the offered protocols", now)
            return
        self._hand_over(negotiation, now, self._opened_at + self.config.communication_setup_timeout)
