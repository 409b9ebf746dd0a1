"""A sample of the edge differential in CI (the whole set: ``python -m tests.exi.edge_differential``).

Each sampled message runs in all its edge variants (tests/exi/edges.py): arrays empty / one / full, optional parts
absent / present, every choice branch, empty / maximal / non-ASCII strings, boundary integers; bytes, decoding and
the JSON form compared with EXIficient both ways.
"""

from __future__ import annotations

import pytest

from tests.exi.codecs import RUNTIMES
from tests.exi.edge_differential import cases, run
from tests.exi.exificient import ExificientPeer

pytestmark = [pytest.mark.interop]

SAMPLE = {
    "SAP": ["supportedAppProtocolReq", "supportedAppProtocolRes"],
    "DIN": ["CurrentDemandReq", "ServiceDiscoveryRes"],
    "ISO2": ["PowerDeliveryReq", "ServiceDetailRes", "PaymentServiceSelectionReq", "CertificateInstallationReq",
             "CurrentDemandRes"],
    "XMLDSIG": ["SignedInfo"],
    "ISO20-Common": ["AuthorizationReq", "PowerDeliveryReq", "ScheduleExchangeReq"],
    "ISO20-AC": ["AC_ChargeLoopRes"],
    "ISO20-DC": ["DC_ChargeLoopReq"],
    "ISO20-WPT": ["WPT_FinePositioningSetupReq"],
    "ISO20-ACDP": ["ACDP_VehiclePositioningReq"],
}


@pytest.mark.parametrize("family", list(SAMPLE))
def test_edge_sample_agrees_with_exificient(family: str, exificient: ExificientPeer) -> None:
    items = cases([family], SAMPLE[family])
    assert {c.message for c in items} == set(SAMPLE[family])
    assert {"minimal", "one", "full"} <= {c.profile for c in items}
    backend = "cython" if "cython" in RUNTIMES else "python"
    problems = run(exificient, items, backend=backend)
    assert not problems, "\n".join(str(p) for p in problems[:5])
