"""The ClientHello parser behind one TLS port for -20 (TLS 1.3) and DIN / ISO-2 (TLS 1.2): real ClientHellos of
OpenSSL (through Python's ssl), hand-built ones for the corner cases (RFC 8446 §4.1.2, §4.2.1, §4.2.3; RFC 6066 §3),
and fuzzing: any bytes give a ClientHello or a ClientHelloError, nothing else."""

from __future__ import annotations

import ssl
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evcharge.errors import RemoteProtocolError
from evcharge.iso15118.security.tls import (
    ED448,
    TLS12,
    TLS13,
    ClientHello,
    ClientHelloError,
    ClientHelloIncomplete,
    TlsProfile,
    TlsSelector,
    parse_client_hello,
)

V12, V13 = ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3


def openssl_hello(lo: ssl.TLSVersion, hi: ssl.TLSVersion, *, sni: str | None = None) -> bytes:
    """The first flight of an OpenSSL client (a ClientHello in one or more TLS records)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.minimum_version, ctx.maximum_version = lo, hi
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(incoming, outgoing, server_hostname=sni)
    with pytest.raises(ssl.SSLWantReadError):
        obj.do_handshake()
    return outgoing.read()


def ext(kind: int, body: bytes) -> bytes:
    return struct.pack("!HH", kind, len(body)) + body


def u16s(values: list[int], length_bytes: int = 2) -> bytes:
    body = b"".join(struct.pack("!H", v) for v in values)
    return len(body).to_bytes(length_bytes, "big") + body


def hello_bytes(
    *extensions: bytes, version: int = TLS12, suites: tuple[int, ...] = (0x1302,), record: int = 0
) -> bytes:
    """A ClientHello (in ``record``-byte records when given) with these extensions."""
    body = struct.pack("!H", version) + bytes(32) + b"\x00" + u16s(list(suites)) + b"\x01\x00"
    if extensions:
        joined = b"".join(extensions)
        body += struct.pack("!H", len(joined)) + joined
    handshake = b"\x01" + len(body).to_bytes(3, "big") + body
    size = record or len(handshake)
    out = b""
    for i in range(0, len(handshake), size):
        chunk = handshake[i : i + size]
        out += b"\x16\x03\x01" + struct.pack("!H", len(chunk)) + chunk
    return out


@pytest.mark.parametrize(
    ("lo", "hi", "versions"),
    [(V12, V12, (TLS12,)), (V13, V13, (TLS13,)), (V12, V13, (TLS13, TLS12))],
    ids=["tls12", "tls13", "both"],
)
def test_openssl_client_hellos(lo: ssl.TLSVersion, hi: ssl.TLSVersion, versions: tuple[int, ...]) -> None:
    data = openssl_hello(lo, hi, sni="secc.example")
    hello = parse_client_hello(data)
    assert hello.length == len(data)
    assert hello.legacy_version == TLS12  # RFC 8446 §4.1.2: 0x0303 in the legacy field, also for 1.3
    if hi is V12:  # a TLS 1.2-only OpenSSL client sends no supported_versions: the legacy version counts
        assert hello.versions == (TLS12,)
    else:
        assert hello.versions == versions
    assert hello.offers_tls13 == (TLS13 in versions) and hello.offers_tls12 == (TLS12 in versions)
    assert hello.server_name == "secc.example"
    assert 0x0403 in hello.signature_algorithms  # ecdsa_secp256r1_sha256, offered by every OpenSSL client
    assert 23 in hello.groups  # secp256r1
    if hi is V13:
        assert 0x1302 in hello.cipher_suites  # TLS_AES_256_GCM_SHA384


def test_every_prefix_asks_for_more() -> None:
    """A prefix of a valid ClientHello is never an error: it is incomplete, and says how many bytes to wait for
    (the record header's 5, then the whole record)."""
    data = openssl_hello(V12, V13)
    for n in range(len(data)):
        with pytest.raises(ClientHelloIncomplete) as info:
            parse_client_hello(data[:n])
        assert info.value.needed == (5 if n < 5 else len(data))


def test_a_client_hello_over_several_records() -> None:
    """RFC 8446 §5.1: a handshake message may be split over records; the parser joins them."""
    one = hello_bytes(ext(43, b"\x04" + struct.pack("!HH", TLS13, TLS12)), ext(13, u16s([ED448, 0x0403])))
    split = hello_bytes(ext(43, b"\x04" + struct.pack("!HH", TLS13, TLS12)), ext(13, u16s([ED448, 0x0403])), record=20)
    a, b = parse_client_hello(one), parse_client_hello(split)
    assert a.versions == b.versions == (TLS13, TLS12)
    assert a.signature_algorithms == b.signature_algorithms == (ED448, 0x0403)
    assert b.length == len(split) > a.length
    with pytest.raises(ClientHelloIncomplete) as info:
        parse_client_hello(split[:30])
    assert info.value.needed == 50  # two whole 20-byte records with their headers


def test_no_extensions_at_all() -> None:
    """An SSLv3-style ClientHello without the extensions block: the legacy version is all there is."""
    hello = parse_client_hello(hello_bytes(version=TLS12))
    assert hello == ClientHello(legacy_version=TLS12, versions=(TLS12,), cipher_suites=(0x1302,), length=hello.length)


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"GET / HTTP/1.1\r\n\r\n", "record type 71"),
        (b"\x16\x02\x00\x00\x05hello", "not TLS"),
        (b"\x16\x03\x01\x00\x00", "length 0"),
        (b"\x16\x03\x01\x40\x01" + bytes(16385), "length 16385"),
        (b"\x16\x03\x01\x00\x04\x02\x00\x00\x00", "not ClientHello"),
        (b"\x17\x03\x03\x00\x01\x00", "record type 23"),
        # a V2GTP header (a plain-TCP car on the TLS port)
        (b"\x01\xfe\x80\x01\x00\x00\x00\x10" + bytes(16), "record type 1"),
    ],
)
def test_not_a_client_hello(data: bytes, words: str) -> None:
    with pytest.raises(ClientHelloError, match=words) as info:
        parse_client_hello(data)
    assert not isinstance(info.value, ClientHelloIncomplete)
    assert isinstance(info.value, RemoteProtocolError) and info.value.hint is None  # the answer: close


@pytest.mark.parametrize(
    ("extensions", "words"),
    [
        ((ext(43, b"\x00"),), "supported_versions"),  # an empty list
        ((ext(43, b"\x03\x03\x04\x03"),), "odd length"),
        ((ext(43, b"\x02\x03\x04"), ext(43, b"\x02\x03\x04")), "twice"),
        ((ext(13, u16s([0x0403]) + b"\x00"),), "after signature_algorithms"),
        ((ext(10, b"\x00\x04\x00\x17"),), "supported_groups"),  # claims 4 bytes, has 2
        ((struct.pack("!HH", 43, 9) + b"\x02",), "extension 43"),  # an extension longer than what is left
    ],
)
def test_malformed_extensions(extensions: tuple[bytes, ...], words: str) -> None:
    with pytest.raises(ClientHelloError, match=words):
        parse_client_hello(hello_bytes(*extensions))


def test_the_body_must_be_well_formed() -> None:
    good = hello_bytes()
    body_at = 9  # record header 5 + handshake header 4
    no_suites = good[: body_at + 35] + b"\x00\x00" + b"\x01\x00"
    fix = len(no_suites) - 9
    no_suites = b"\x16\x03\x01" + struct.pack("!H", fix + 4) + b"\x01" + fix.to_bytes(3, "big") + no_suites[9:]
    with pytest.raises(ClientHelloError, match="no cipher suite"):
        parse_client_hello(no_suites)
    long_session = bytearray(good)
    long_session[body_at + 34] = 33
    with pytest.raises(ClientHelloError):
        parse_client_hello(bytes(long_session))


def _selector() -> TlsSelector:
    a, b, c = (ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER) for _ in range(3))
    return TlsSelector(iso2=a, iso20=b, iso20_ed448=c)


@pytest.mark.parametrize(
    ("versions", "sigalgs", "profile"),
    [
        ((TLS13, TLS12), (0x0403, 0x0603), TlsProfile.ISO20),
        ((TLS13,), (0x0603,), TlsProfile.ISO20),
        ((TLS13,), (ED448,), TlsProfile.ISO20_ED448),
        ((TLS13,), (ED448, 0x0603), TlsProfile.ISO20),  # the car can do both: secp521r1, the -20 default
        ((TLS12,), (ED448,), TlsProfile.ISO2),
        ((0x0302, 0x0301), (), None),  # TLS 1.1 / 1.0 only: ISO-2 needs TLS 1.2
    ],
)
def test_selector(versions: tuple[int, ...], sigalgs: tuple[int, ...], profile: TlsProfile | None) -> None:
    hello = ClientHello(legacy_version=TLS12, versions=versions, cipher_suites=(1,), signature_algorithms=sigalgs)
    sel = _selector()
    assert sel.profile(hello) is profile
    assert sel(hello) is (None if profile is None else sel.context(profile))


def test_selector_with_one_side_only() -> None:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    both = ClientHello(legacy_version=TLS12, versions=(TLS13, TLS12), cipher_suites=(1,))
    only13 = ClientHello(legacy_version=TLS12, versions=(TLS13,), cipher_suites=(1,))
    assert TlsSelector(iso2=ctx).profile(both) is TlsProfile.ISO2  # no -20 here: TLS 1.2 for a car that can
    assert TlsSelector(iso2=ctx).profile(only13) is None  # a TLS 1.3-only car on a -2-only port
    assert TlsSelector(iso20_ed448=ctx).profile(only13) is TlsProfile.ISO20_ED448
    with pytest.raises(KeyError):
        TlsSelector(iso2=ctx).context(TlsProfile.ISO20)


def _check(data: bytes) -> None:
    try:
        hello = parse_client_hello(data)
    except ClientHelloIncomplete as exc:
        assert exc.needed > len(data)
    except ClientHelloError:
        pass
    else:
        assert isinstance(hello, ClientHello) and 0 < hello.length <= len(data)


@pytest.mark.fuzz
@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=600))
def test_fuzz_any_bytes(data: bytes) -> None:
    _check(data)
    _check(b"\x16\x03\x01" + data)  # past the first checks


_REAL = [openssl_hello(V12, V12), openssl_hello(V13, V13), openssl_hello(V12, V13, sni="a.b")]


@pytest.mark.fuzz
@settings(max_examples=600, deadline=None)
@given(
    which=st.sampled_from(range(len(_REAL))),
    edits=st.lists(st.tuples(st.integers(min_value=0, max_value=600), st.integers(0, 255)), max_size=6),
    cut=st.integers(min_value=0, max_value=700),
)
def test_fuzz_mutated_real_hellos(which: int, edits: list[tuple[int, int]], cut: int) -> None:
    data = bytearray(_REAL[which])
    for pos, value in edits:
        data[pos % len(data)] = value
    _check(bytes(data[:cut]) if cut < len(data) else bytes(data))
