"""SeccSession / EvccSession joined by an in-memory link: SAP, the hand-over seam, forwarding, closing."""

from __future__ import annotations

import random
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evcharge.errors import LocalProtocolError, RemoteProtocolError
from evcharge.iso15118 import app_protocol as ap
from evcharge.iso15118.handover import AppProtocol, Engine, HandOver, TlsInfo
from evcharge.iso15118.sap import OfferedProtocol, SupportedProtocol
from evcharge.iso15118.session import (
    EvccSession,
    EvccSessionConfig,
    NegotiationFailed,
    ProtocolNegotiated,
    SeccSession,
    SeccSessionConfig,
    SessionClosed,
    SessionState,
)
from evcharge.iso15118.v2gtp import V2gtpError, V2gtpFault, V2gtpFramer, encode_message

from .engines import EchoEngine, Received, Say, Started, TimerFired, evcc_engines, secc_engines


def events(session: SeccSession | EvccSession) -> list[Any]:
    out = []
    while (e := session.next_event()) is not None:
        out.append(e)
    return out


Session = SeccSession | EvccSession


def pump(a: Session, b: Session, now: float, rng: random.Random | None = None) -> None:
    """Move bytes both ways until quiet (optionally cut into random chunks)."""
    for _ in range(100):
        moved = False
        for src, dst in ((a, b), (b, a)):
            data = b"".join(src.data_to_send())
            if data and dst.state is not SessionState.CLOSED:
                moved = True
                if rng is None:
                    dst.receive_data(data, now)
                else:
                    while data:
                        n = rng.randint(1, 9)
                        dst.receive_data(data[:n], now)
                        data = data[n:]
        if not moved:
            return


def test_whole_session_through_the_seam() -> None:
    tls = TlsInfo(version="TLSv1.3", cipher="TLS_AES_256_GCM_SHA384", peer_chain=(b"der",))
    secc = SeccSession(SeccSessionConfig(), secc_engines(), now=0.0, tls=tls, extra={"local": "x"})
    evcc = EvccSession(EvccSessionConfig(), evcc_engines(), now=0.0, resume_session_id=b"\x01" * 8)
    assert secc.state is SessionState.SAP and evcc.state is SessionState.SAP
    pump(secc, evcc, 0.5)
    s_events, e_events = events(secc), events(evcc)
    assert isinstance(s_events[0], ProtocolNegotiated) and s_events[0].protocol is AppProtocol.ISO2
    started = s_events[1]
    assert isinstance(started, Started)
    h = started.handover
    assert (h.protocol, h.schema_id, h.version_minor, h.minor_deviation, h.tls) == (AppProtocol.ISO2, 1, 0, False, tls)
    assert h.setup_deadline == 18.0 and h.extra == {"local": "x"} and h.now == 0.5
    e_started = e_events[1]
    assert isinstance(e_started, Started)
    assert e_started.handover.setup_deadline == 20.0 and e_started.handover.resume_session_id == b"\x01" * 8
    assert [e.payload for e in s_events if isinstance(e, Received)] == [b"ping 0", b"ping 1", b"ping 2"]
    assert [e.payload for e in e_events if isinstance(e, Received)] == [b"pong 0", b"pong 1", b"pong 2"]
    assert isinstance(e_events[-1], SessionClosed) and evcc.state is SessionState.CLOSED
    assert evcc.close_at == 0.5
    secc.connection_lost(0.6)
    closed = events(secc)
    assert isinstance(closed[-1], SessionClosed) and secc.state is SessionState.CLOSED


@pytest.mark.property
@given(seed=st.integers(min_value=0, max_value=2**32 - 1))
def test_any_chunking_runs_the_same_session(seed: int) -> None:
    secc = SeccSession(SeccSessionConfig(), secc_engines(), now=0.0)
    evcc = EvccSession(EvccSessionConfig(), evcc_engines(rounds=5), now=0.0)
    pump(secc, evcc, 1.0, random.Random(seed))
    assert [e.payload for e in events(secc) if isinstance(e, Received)] == [b"ping %d" % i for i in range(5)]
    assert evcc.state is SessionState.CLOSED


def test_iso20_uses_its_payload_types() -> None:
    offers = (OfferedProtocol(protocol=AppProtocol.ISO20_DC, schema_id=1, priority=1),)
    secc = SeccSession(SeccSessionConfig(), secc_engines(), now=0.0)
    evcc = EvccSession(EvccSessionConfig(protocols=offers), evcc_engines(), now=0.0)
    # watch the wire: the SAP frames are 0x8001, then the engine's frames are 0x8002
    seen: list[int] = []
    for _ in range(10):
        for src, dst in ((evcc, secc), (secc, evcc)):
            data = b"".join(src.data_to_send())
            framer = V2gtpFramer()
            framer.receive_data(data)
            seen += [m.payload_type for m in framer.messages()]
            if data and dst.state is not SessionState.CLOSED:
                dst.receive_data(data, 0.0)
    assert seen[:2] == [0x8001, 0x8001] and set(seen[2:]) == {0x8002}
    # a DIN/-2 payload type on a -20 session closes it
    secc2 = SeccSession(SeccSessionConfig(), secc_engines(), now=0.0)
    evcc2 = EvccSession(EvccSessionConfig(protocols=offers), evcc_engines(), now=0.0)
    secc2.receive_data(b"".join(evcc2.data_to_send()), 0.0)
    with pytest.raises(V2gtpError) as info:
        secc2.receive_data(encode_message(0x8001, b"ping 0"), 0.1)
    assert info.value.fault is V2gtpFault.PAYLOAD_TYPE
    assert secc2.state is SessionState.CLOSED and isinstance(events(secc2)[-1], SessionClosed)


def test_no_common_protocol() -> None:
    secc = SeccSession(SeccSessionConfig(protocols=(SupportedProtocol(protocol=AppProtocol.DIN),)), secc_engines(),
                       now=0.0)
    evcc = EvccSession(
        EvccSessionConfig(protocols=(OfferedProtocol(protocol=AppProtocol.ISO2, schema_id=5, priority=1),)),
        evcc_engines(), now=0.0)
    secc.receive_data(b"".join(evcc.data_to_send()), 0.1)
    answer = b"".join(secc.data_to_send())
    framer = V2gtpFramer()
    framer.receive_data(answer)
    response = ap.decode(framer.messages()[0].payload)
    assert response == ap.SupportedAppProtocolRes(response_code=ap.ResponseCode.Failed_NoNegotiation)
    s_events = events(secc)
    assert isinstance(s_events[0], NegotiationFailed) and s_events[0].offered == ("urn:iso:15118:2:2013:MsgDef",)
    assert secc.state is SessionState.CLOSED
    evcc.receive_data(answer, 0.2)
    assert evcc.state is SessionState.CLOSED and isinstance(events(evcc)[0], NegotiationFailed)


def test_only_protocols_with_an_engine_are_chosen() -> None:
    engines = {AppProtocol.DIN: secc_engines()[AppProtocol.DIN]}
    secc = SeccSession(SeccSessionConfig(), engines, now=0.0)  # the config lists -2 too, but no -2 engine
    evcc = EvccSession(EvccSessionConfig(), evcc_engines(), now=0.0)  # ISO2 priority 1, DIN priority 2
    pump(secc, evcc, 0.0)
    assert secc.negotiation is not None and secc.negotiation.protocol is AppProtocol.DIN
    with pytest.raises(LocalProtocolError, match="without an engine"):
        EvccSession(EvccSessionConfig(), engines, now=0.0)


def test_sap_timeouts() -> None:
    secc = SeccSession(SeccSessionConfig(sap_timeout=20.0), secc_engines(), now=100.0)
    assert secc.get_timer() == 120.0
    secc.handle_timer(119.9)
    assert secc.state is SessionState.SAP
    secc.handle_timer(120.0)
    assert secc.state is SessionState.CLOSED and secc.get_timer() is None
    assert "SupportedAppProtocol request" in events(secc)[0].reason
    evcc = EvccSession(EvccSessionConfig(), evcc_engines(), now=5.0)
    assert evcc.get_timer() == 7.0  # V2G_EVCC_Msg_Timeout for SupportedAppProtocolRes: 2 s
    evcc.handle_timer(7.0)
    assert evcc.state is SessionState.CLOSED


def test_bad_sap_bytes_close_the_connection() -> None:
    secc = SeccSession(SeccSessionConfig(), secc_engines(), now=0.0)
    with pytest.raises(RemoteProtocolError, match="does not decode"):
        secc.receive_data(encode_message(0x8001, b"\xff\xff\xff"), 0.0)
    assert secc.state is SessionState.CLOSED
    closed = events(secc)[-1]
    assert isinstance(closed, SessionClosed) and isinstance(closed.error, RemoteProtocolError)
    secc.receive_data(b"more", 0.1)  # ignored once closed
    # a response where a request belongs
    secc = SeccSession(SeccSessionConfig(), secc_engines(), now=0.0)
    res = ap.encode(ap.SupportedAppProtocolRes(response_code=ap.ResponseCode.Failed_NoNegotiation))
    with pytest.raises(RemoteProtocolError, match="expected SupportedAppProtocolReq"):
        secc.receive_data(encode_message(0x8001, res), 0.0)
    # SDP on the TCP connection
    secc = SeccSession(SeccSessionConfig(), secc_engines(), now=0.0)
    with pytest.raises(V2gtpError):
        secc.receive_data(encode_message(0x9000, b"\x10\x00"), 0.0)


def test_engine_errors_commands_and_timers_pass_through_the_seam() -> None:
    def secc_factory(handover: HandOver) -> Engine:
        return EchoEngine(handover, role="secc", timer_after=10.0)

    secc = SeccSession(SeccSessionConfig(), {p: secc_factory for p in AppProtocol}, now=0.0)
    evcc = EvccSession(EvccSessionConfig(), evcc_engines(rounds=1000), now=0.0)
    with pytest.raises(LocalProtocolError):
        secc.send(Say(text=b"early"), 0.0)
    pump(secc, evcc, 1.0)
    events(secc)
    events(evcc)
    assert secc.get_timer() == 11.0  # the engine's timer
    secc.send(Say(text=b"hello"), 2.0)
    evcc.receive_data(b"".join(secc.data_to_send()), 2.0)
    assert events(evcc)[-1] == Received(payload_type=0x8001, payload=b"hello", now=2.0)
    secc.handle_timer(11.0)
    assert events(secc) == [TimerFired(now=11.0)]
    assert secc.state is SessionState.ENGINE and secc.close_at == pytest.approx(11.05)
    secc.handle_timer(11.05)
    assert secc.state is SessionState.CLOSED
    # an engine's RemoteProtocolError closes the session and reaches the caller
    secc2 = SeccSession(SeccSessionConfig(), secc_engines(), now=0.0)
    evcc2 = EvccSession(EvccSessionConfig(), evcc_engines(), now=0.0)
    secc2.receive_data(b"".join(evcc2.data_to_send()), 0.0)
    with pytest.raises(RemoteProtocolError, match="said bad") as info:
        secc2.receive_data(encode_message(0x8001, b"bad"), 0.1)
    assert info.value.hint == "FAILED" and secc2.state is SessionState.CLOSED
    assert isinstance(events(secc2)[-1], SessionClosed)


@pytest.mark.fuzz
@given(data=st.binary(max_size=120))
def test_fuzz_secc_session(data: bytes) -> None:
    secc = SeccSession(SeccSessionConfig(), secc_engines(), now=0.0)
    try:
        secc.receive_data(encode_message(0x8001, data), 0.0)
        secc.receive_data(data, 0.0)
    except RemoteProtocolError:
        assert secc.state is SessionState.CLOSED
