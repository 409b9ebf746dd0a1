"""The batch harness itself: restart after a dead JVM, bounded waits, request validation, version, fixture policy."""

from __future__ import annotations

import pytest

from tests.exi import corpus
from tests.exi.exificient import (
    NS_ISO2,
    ExificientCrashed,
    ExificientPeer,
    ensure_harness,
    exificient,  # noqa: F401
)

pytestmark = pytest.mark.interop


@pytest.fixture
def own_peer(exificient: ExificientPeer) -> ExificientPeer:  # noqa: F811 - the shared fixture checks the setup
    """A private JVM, so that killing it does not disturb the session's peer."""
    peer = ExificientPeer(ensure_harness(), timeout=60)
    yield peer  # type: ignore[misc]
    peer.close()


def test_a_dead_jvm_is_restarted(own_peer: ExificientPeer) -> None:
    assert own_peer.request_batch([("ping", "-", b"")]) == [(True, b"pong")]
    proc = own_peer._proc
    assert proc is not None
    proc.kill()
    proc.wait()
    v = next(v for v in corpus.vectors() if v.origin == "vec8")
    assert own_peer.decode(v.namespace, v.data) == v.expected_json
    assert own_peer._proc is not proc


def test_a_silent_jvm_is_a_clear_error_not_a_hang(own_peer: ExificientPeer) -> None:
    v = next(v for v in corpus.vectors() if v.origin == "vec8")
    own_peer._timeout = 0.3  # the in-JVM benchmark command runs for seconds
    with pytest.raises(ExificientCrashed, match="no answer"):
        own_peer.request_batch([("benchxml", v.namespace, v.data)])
    own_peer._timeout = 60
    assert own_peer.decode(v.namespace, v.data) == v.expected_json  # a fresh JVM serves the next call


def test_requests_are_checked_before_sending(exificient: ExificientPeer) -> None:  # noqa: F811
    with pytest.raises(ValueError, match="bad request"):
        exificient.request_batch([("dec", "two words", b"")])
    with pytest.raises(ValueError, match="bad request"):
        exificient.request_batch([("no-such command", NS_ISO2, b"")])
    assert exificient.request_batch([]) == []
    ok, msg = exificient.request_batch([("nosuchcommand", NS_ISO2, b"")])[0]
    assert not ok and b"unknown command" in msg


def test_version_and_counter(exificient: ExificientPeer) -> None:  # noqa: F811
    assert exificient.version() == "1.55"  # EXICodec of iso15118 0.31.2
    before = exificient.requests_served
    exificient.decode_batch(corpus.NS_SAP, [bytes.fromhex("80400040")] * 3)
    assert exificient.requests_served == before + 3


def test_instances_through_the_core_path(exificient: ExificientPeer) -> None:  # noqa: F811
    from tests.exi.xsd_strategies import strategies_for

    xs = strategies_for("ISO2")
    docs = [v for v in corpus.vectors() if v.family == "ISO2" and v.exificient_roundtrips and not v.fragment]
    assert docs
    got = exificient.encode_instances(xs, [v.expected_json for v in docs])
    assert [g.hex() for g in got] == [v.hex for v in docs]
    assert exificient.decode_instances(xs, [v.data for v in docs]) == [v.expected_json for v in docs]
    (sig,) = [v for v in corpus.vectors() if v.origin == "vec12"]
    xsig = strategies_for("XMLDSIG")
    assert exificient.encode_instances(xsig, [sig.expected_json], fragment=True) == [sig.data]
    # the RISE-V2G message without the invented NumEPriceLevels: the core path encodes the original 286 bytes
    (v9,) = [v for v in corpus.vectors() if v.origin == "vec9"]
    (decoded,) = exificient.decode_instances(xs, [v9.data])
    assert exificient.encode_instances(xs, [decoded]) == [v9.data]
