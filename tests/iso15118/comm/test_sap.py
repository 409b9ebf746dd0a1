"""SupportedAppProtocol negotiation (ISO 15118-2 §8.2, -20, DIN 70121)."""

from __future__ import annotations

import pytest

from evcharge.errors import LocalProtocolError, RemoteProtocolError
from evcharge.iso15118 import app_protocol as ap
from evcharge.iso15118.handover import AppProtocol
from evcharge.iso15118.sap import (
    OfferedProtocol,
    SupportedProtocol,
    build_request,
    choose,
    interpret_response,
    lookup_protocol,
)

Code = ap.ResponseCode


def entry(ns: str, major: int, minor: int, schema_id: int, priority: int) -> ap.AppProtocol:
    return ap.AppProtocol(protocol_namespace=ns, version_number_major=major, version_number_minor=minor,
                          schema_id=schema_id, priority=priority)


DIN = "urn:din:70121:2012:MsgDef"
ISO2 = "urn:iso:15118:2:2013:MsgDef"
ISO20_DC = "urn:iso:std:iso:15118:-20:DC"


def test_namespaces_of_the_standards() -> None:
    assert lookup_protocol(DIN, 2) is AppProtocol.DIN
    assert lookup_protocol(ISO2, 2) is AppProtocol.ISO2
    assert lookup_protocol(ISO20_DC, 1) is AppProtocol.ISO20_DC
    assert lookup_protocol(ISO2, 3) is None
    assert lookup_protocol("urn:example", 1) is None


def test_the_ev_priority_decides() -> None:
    request = ap.SupportedAppProtocolReq(app_protocol=[entry(DIN, 2, 0, 9, 2), entry(ISO2, 2, 0, 4, 1)])
    both = [SupportedProtocol(protocol=AppProtocol.DIN), SupportedProtocol(protocol=AppProtocol.ISO2)]
    result = choose(request, both)
    assert (result.response_code, result.protocol, result.schema_id) == (Code.OK_SuccessfulNegotiation,
                                                                          AppProtocol.ISO2, 4)
    # the charger without -2: the EV's second choice
    result = choose(request, [SupportedProtocol(protocol=AppProtocol.DIN)])
    assert (result.protocol, result.schema_id) == (AppProtocol.DIN, 9)


def test_minor_deviation_and_major_mismatch() -> None:
    request = ap.SupportedAppProtocolReq(app_protocol=[entry(ISO2, 2, 1, 3, 1)])
    result = choose(request, [SupportedProtocol(protocol=AppProtocol.ISO2, minor=0)])
    assert result.response_code is Code.OK_SuccessfulNegotiationWithMinorDeviation
    assert result.minor_deviation and result.ev_minor == 1 and result.schema_id == 3
    other_major = ap.SupportedAppProtocolReq(app_protocol=[entry(ISO2, 3, 0, 3, 1)])
    result = choose(other_major, [SupportedProtocol(protocol=AppProtocol.ISO2)])
    assert result.response_code is Code.Failed_NoNegotiation and result.schema_id is None and not result.ok


def test_unknown_namespaces_are_skipped() -> None:
    request = ap.SupportedAppProtocolReq(app_protocol=[entry("urn:vendor:x", 1, 0, 1, 1), entry(DIN, 2, 0, 2, 5)])
    assert choose(request, [SupportedProtocol(protocol=AppProtocol.DIN)]).schema_id == 2


def test_build_request_checks_the_schema_limits() -> None:
    offers = [OfferedProtocol(protocol=AppProtocol.ISO2, schema_id=1, priority=1)]
    request = build_request(offers)
    assert request.app_protocol[0] == entry(ISO2, 2, 0, 1, 1)
    assert ap.decode(ap.encode(request)) == request
    with pytest.raises(LocalProtocolError):
        OfferedProtocol(protocol=AppProtocol.ISO2, schema_id=1, priority=21)
    with pytest.raises(LocalProtocolError):
        build_request([])
    with pytest.raises(LocalProtocolError):
        build_request(offers * 2)  # the same SchemaID twice


def test_interpret_response() -> None:
    offers = [OfferedProtocol(protocol=AppProtocol.ISO2, schema_id=1, priority=1),
              OfferedProtocol(protocol=AppProtocol.DIN, schema_id=2, priority=2)]
    result = interpret_response(ap.SupportedAppProtocolRes(response_code=Code.OK_SuccessfulNegotiation, schema_id=2),
                                offers)
    assert result.protocol is AppProtocol.DIN
    failed = interpret_response(ap.SupportedAppProtocolRes(response_code=Code.Failed_NoNegotiation), offers)
    assert not failed.ok
    with pytest.raises(RemoteProtocolError, match="did not offer"):
        interpret_response(ap.SupportedAppProtocolRes(response_code=Code.OK_SuccessfulNegotiation, schema_id=7),
                           offers)
    with pytest.raises(RemoteProtocolError, match="without SchemaID"):
        interpret_response(ap.SupportedAppProtocolRes(response_code=Code.OK_SuccessfulNegotiation), offers)
