"""benchmarks/_exificient.py drives EXICodec.jar through py4j as Josev does; prove it gives the peer's bytes."""

from __future__ import annotations

import pytest

from tests.exi import corpus
from tests.exi.exificient import ExificientPeer, exificient  # noqa: F401

pytestmark = pytest.mark.interop


def test_josev_path_through_py4j(exificient: ExificientPeer) -> None:  # noqa: F811 - the fixture checks the setup
    import py4j  # noqa: F401 - a test extra; missing it must fail, not skip
    from benchmarks._exificient import JosevPath, PeerError

    v = next(v for v in corpus.vectors() if v.origin == "vec8")  # the 38-byte ISO-2 CurrentDemandReq
    with JosevPath() as peer:
        assert peer.encode(v.namespace, v.expected_json) == v.data
        assert peer.decode(v.namespace, v.data) == v.expected_json
        xml = peer.decode_xml(v.namespace, v.data)
        assert peer.encode_xml(v.namespace, xml) == v.data
        calls = peer.callables(v.namespace, v.expected_json)
        assert calls["josev encode (obj -> EXI)"]() == v.data
        cpu0 = peer.jvm_cpu_seconds()
        for fn in calls.values():
            fn()
        assert peer.jvm_cpu_seconds() >= cpu0 > 0
        with pytest.raises(PeerError):
            peer.decode(v.namespace, b"\xff")
