"""The session core's SupportedAppProtocol trace (``trace=True``): what ``evcharge v2g secc|evcc --json`` adds in
front of the engine's messages. Real sessions with the DIN/-2 engines, joined in memory."""

from __future__ import annotations

from typing import Any

import pytest

from evcharge.errors import RemoteProtocolError
from evcharge.iso15118 import app_protocol as ap
from evcharge.iso15118.engines import Evcc, EvccConfig, Secc
from evcharge.iso15118.handover import AppProtocol, PayloadType
from evcharge.iso15118.sap import OfferedProtocol, SupportedProtocol
from evcharge.iso15118.session import (
    EvccSession,
    EvccSessionConfig,
    SapTraceEntry,
    SeccSession,
    SeccSessionConfig,
    SessionState,
)
from evcharge.iso15118.v2gtp import encode_message

from .conftest import DC, secc_config


def _pair(
    trace: bool, *, secc_protocols: tuple[AppProtocol, ...] = (AppProtocol.ISO2,)
) -> tuple[SeccSession, EvccSession]:
    secc_engines: dict[AppProtocol, Any] = {
        p: (lambda ho: Secc(ho, secc_config(DC, trace=True))) for p in secc_protocols
    }
    evcc_engines: dict[AppProtocol, Any] = {
        AppProtocol.ISO2: lambda ho: Evcc(ho, EvccConfig(energy_mode=DC, trace=True))
    }
    secc = SeccSession(
        SeccSessionConfig(protocols=tuple(SupportedProtocol(protocol=p) for p in secc_protocols)),
        secc_engines,
        now=1.0,
        trace=trace,
    )
    offers = (OfferedProtocol(protocol=AppProtocol.ISO2, schema_id=1, priority=1),)
    evcc = EvccSession(EvccSessionConfig(protocols=offers), evcc_engines, now=2.0, trace=trace)
    return secc, evcc


def test_sap_messages_with_their_times() -> None:
    secc, evcc = _pair(True)
    secc.receive_data(b"".join(evcc.data_to_send()), 3.0)  # SupportedAppProtocolReq
    evcc.receive_data(b"".join(secc.data_to_send()), 4.0)  # SupportedAppProtocolRes, then SessionSetupReq
    assert secc.trace is not None and evcc.trace is not None
    assert [(t.direction, t.time, t.name) for t in evcc.trace] == [
        ("tx", 2.0, "SupportedAppProtocolReq"),
        ("rx", 4.0, "SupportedAppProtocolRes"),
    ]
    assert [(t.direction, t.time, t.name) for t in secc.trace] == [
        ("rx", 3.0, "SupportedAppProtocolReq"),
        ("tx", 3.0, "SupportedAppProtocolRes"),
    ]
    # the bytes are the EXI that went over the wire, the message what it decodes to
    req, res = secc.trace
    assert ap.decode(req.exi) == req.message == evcc.trace[0].message
    assert isinstance(res.message, ap.SupportedAppProtocolRes) and res.message.schema_id == 1
    assert res.exi == evcc.trace[1].exi and all(t.payload_type == PayloadType.SAP for t in secc.trace)
    # after the hand-over the engine keeps the rest: the session's trace does not grow
    engine = evcc.engine
    assert isinstance(engine, Evcc) and engine.trace is not None
    assert [t.name for t in engine.trace] == ["SessionSetupReq"] and engine.trace[0].time == 4.0
    secc.receive_data(b"".join(evcc.data_to_send()), 5.0)
    assert len(secc.trace) == 2 and isinstance(secc.engine, Secc) and secc.engine.trace is not None
    assert [t.name for t in secc.engine.trace] == ["SessionSetupReq", "SessionSetupRes"]


def test_no_trace_by_default() -> None:
    secc, evcc = _pair(False)
    secc.receive_data(b"".join(evcc.data_to_send()), 3.0)
    assert secc.trace is None and evcc.trace is None and secc.state is SessionState.ENGINE


def test_failed_negotiation_is_traced() -> None:
    secc, evcc = _pair(True, secc_protocols=(AppProtocol.DIN,))
    secc.receive_data(b"".join(evcc.data_to_send()), 3.0)
    assert secc.trace is not None and secc.state is SessionState.CLOSED
    res = secc.trace[-1].message
    assert isinstance(res, ap.SupportedAppProtocolRes) and res.response_code is ap.ResponseCode.Failed_NoNegotiation


def test_undecodable_request_is_traced_as_bytes() -> None:
    secc, _ = _pair(True)
    garbage = b"\x80\x00\xff\xff"
    with pytest.raises(RemoteProtocolError):
        secc.receive_data(encode_message(PayloadType.SAP, garbage), 3.0)
    assert secc.trace == [
        SapTraceEntry(direction="rx", time=3.0, name="?", payload_type=PayloadType.SAP, exi=garbage, message=None)
    ]
