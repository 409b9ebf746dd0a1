"""SDP cores (ISO 15118-2 §7.10, [V2G2-159], [V2G2-161])."""

from __future__ import annotations

import ipaddress
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evcharge.errors import LocalProtocolError
from evcharge.iso15118.sdp import (
    SdpClient,
    SdpClientConfig,
    SdpClientState,
    SdpDiscovered,
    SdpError,
    SdpFailed,
    SdpRequest,
    SdpResponse,
    SdpServer,
    SdpServerConfig,
    Security,
    StartDiscovery,
    Transport,
    decode_request,
    decode_response,
    dynamic_port,
    encode_request,
    encode_response,
)

ADDR = ipaddress.IPv6Address("fe80::1:2")


def test_wire_format() -> None:
    # request: V2GTP 0x9000, 2 bytes (security 0x00 TLS / 0x10 none, transport 0x00 TCP)
    assert encode_request(SdpRequest(security=Security.NO_TLS)) == bytes.fromhex("01fe9000000000021000")
    # response: 0x9001, 20 bytes: address, port (BE), security, transport
    response = SdpResponse(address=ADDR, port=0xC350, security=Security.TLS)
    wire = bytes.fromhex("01fe900100000014" "fe800000000000000000000000010002" "c350" "0000")
    assert encode_response(response) == wire
    assert decode_response(encode_response(response)) == response


@pytest.mark.parametrize(
    "data",
    [
        bytes.fromhex("01fe9000000000021020"),  # transport 0x20
        bytes.fromhex("01fe9000000000020100"),  # security 0x01
        bytes.fromhex("01fe900000000003100000"),  # 3 bytes
        bytes.fromhex("01fe90010000000210 00"),  # a response type where a request belongs
        bytes.fromhex("02fd9000000000021000"),  # version
        bytes.fromhex("01fe9000000000021000ff"),  # trailing byte
    ],
)
def test_bad_requests_are_refused(data: bytes) -> None:
    with pytest.raises(SdpError):
        decode_request(data)
    server = SdpServer(SdpServerConfig(address=ADDR, tcp_port=50000))
    with pytest.raises(SdpError):
        server.receive_data(data, 0.0)
    assert server.data_to_send() == []


@pytest.mark.parametrize(
    ("tls_port", "tcp_port", "enforce", "asked", "answer"),
    [
        (50001, 50000, False, Security.TLS, (50001, Security.TLS)),
        (50001, 50000, False, Security.NO_TLS, (50000, Security.NO_TLS)),
        (50001, 50000, True, Security.NO_TLS, (50001, Security.TLS)),  # the EVCC decides whether to go on
        (None, 50000, False, Security.TLS, (50000, Security.NO_TLS)),
        (50001, None, False, Security.NO_TLS, (50001, Security.TLS)),
    ],
)
def test_security_negotiation(tls_port: int | None, tcp_port: int | None, enforce: bool, asked: Security,
                              answer: tuple[int, Security]) -> None:
    server = SdpServer(SdpServerConfig(address=ADDR, tls_port=tls_port, tcp_port=tcp_port, enforce_tls=enforce))
    server.receive_data(encode_request(SdpRequest(security=asked, transport=Transport.UDP)), 1.0)
    (datagram,) = server.data_to_send()
    response = decode_response(datagram)
    assert (response.port, response.security, response.address) == (*answer, ADDR)
    assert response.transport is Transport.TCP
    event = server.next_event()
    assert event is not None and event.response == response and event.request.security is asked


def test_server_config_checks() -> None:
    with pytest.raises(LocalProtocolError):
        SdpServerConfig(address=ADDR)
    with pytest.raises(LocalProtocolError):
        SdpServerConfig(address=ADDR, tcp_port=1, enforce_tls=True)


def test_client_retries_250ms_50_times_then_fails() -> None:
    client = SdpClient()
    client.send(StartDiscovery(), 10.0)
    now = 10.0
    sent = 0
    while client.state is SdpClientState.WAITING:
        sent += len(client.data_to_send())
        timer = client.get_timer()
        assert timer is not None and timer == pytest.approx(now + 0.25)
        client.handle_timer(timer - 0.001)  # too early: nothing happens
        assert client.data_to_send() == []
        now = timer
        client.handle_timer(now)
    assert sent == 50 and client.requests_sent == 50
    assert client.next_event() == SdpFailed(requests_sent=50, now=pytest.approx(22.5))
    client.send(StartDiscovery(), 30.0)  # a new cycle may start
    assert client.state is SdpClientState.WAITING


def test_client_takes_the_first_acceptable_response() -> None:
    client = SdpClient(SdpClientConfig(security=Security.TLS))
    with pytest.raises(LocalProtocolError):
        client.send("go", 0.0)  # type: ignore[arg-type]
    client.send(StartDiscovery(), 0.0)
    (request,) = client.data_to_send()
    assert decode_request(request) == SdpRequest(security=Security.TLS)
    with pytest.raises(LocalProtocolError):
        client.send(StartDiscovery(), 0.1)
    plain = encode_response(SdpResponse(address=ADDR, port=50000, security=Security.NO_TLS))
    with pytest.raises(SdpError, match="NO_TLS"):
        client.receive_data(plain, 0.1)  # asked for TLS, got none: not accepted
    assert client.state is SdpClientState.WAITING
    client.handle_timer(0.25)
    good = SdpResponse(address=ADDR, port=50001, security=Security.TLS)
    client.receive_data(encode_response(good), 0.3)
    assert client.state is SdpClientState.DISCOVERED and client.get_timer() is None
    assert client.next_event() == SdpDiscovered(response=good, requests_sent=2, now=0.3)
    client.receive_data(encode_response(good), 0.4)  # a late duplicate is ignored
    assert client.next_event() is None
    lenient = SdpClient(SdpClientConfig(security=Security.TLS, accept=frozenset(Security)))
    lenient.send(StartDiscovery(), 0.0)
    lenient.receive_data(plain, 0.1)
    assert lenient.state is SdpClientState.DISCOVERED


def test_dynamic_port_range() -> None:
    rng = random.Random(1)
    ports = {dynamic_port(rng) for _ in range(2000)}
    assert min(ports) >= 49152 and max(ports) <= 65535


@pytest.mark.fuzz
@given(data=st.binary(max_size=40))
def test_fuzz_sdp_parsers(data: bytes) -> None:
    for parse in (decode_request, decode_response):
        try:
            parse(data)
        except SdpError:
            pass
    server = SdpServer(SdpServerConfig(address=ADDR, tcp_port=50000))
    try:
        server.receive_data(data, 0.0)
    except SdpError:
        assert server.data_to_send() == []
    else:
        assert len(server.data_to_send()) == 1
