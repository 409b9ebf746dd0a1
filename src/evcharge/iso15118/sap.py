"""SupportedAppProtocol negotiation: which of DIN 70121, ISO 15118-2, ISO 15118-20 the session speaks.

The EVCC lists the protocols it supports (namespace, major/minor version, SchemaID, Priority 1 =
most preferred, at most 20 entries). The SECC picks the entry with the best (lowest) priority among
those whose namespace *and major version* it supports, and answers:

* ``OK_SuccessfulNegotiation`` with the entry's SchemaID when the minor versions agree too,
* ``OK_SuccessfulNegotiationWithMinorDeviation`` with the SchemaID when only the minor differs,
* ``Failed_NoNegotiation`` without SchemaID when nothing matches (then the SECC closes).

(ISO 15118-2 §8.2 / -20 §8.3 handshake; DIN 70121 §9.1. The message classes are
:mod:`evcharge.iso15118.app_protocol`.) Pure functions; :mod:`evcharge.iso15118.session` runs them on
a connection.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from evcharge.errors import LocalProtocolError, RemoteProtocolError
from evcharge.iso15118 import app_protocol as ap
from evcharge.iso15118.handover import AppProtocol

__all__ = [
    "Negotiation",
    "OfferedProtocol",
    "SupportedProtocol",
    "build_request",
    "choose",
    "interpret_response",
    "lookup_protocol",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class SupportedProtocol:
    """SECC side: a protocol the charger speaks, with the minor version it implements."""

    protocol: AppProtocol
    minor: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class OfferedProtocol:
    """EVCC side: one AppProtocol entry of the request."""

    protocol: AppProtocol
    schema_id: int
    priority: int
    minor: int = 0

    def __post_init__(self) -> None:
        if not 1 <= self.priority <= 20:
            raise LocalProtocolError(f"SAP priority {self.priority} is outside 1..20")
        if not 0 <= self.schema_id <= 255:
            raise LocalProtocolError(f"SAP SchemaID {self.schema_id} is outside 0..255")


@dataclass(frozen=True, slots=True, kw_only=True)
class Negotiation:
    """The outcome, on either side."""

    response_code: ap.ResponseCode
    protocol: AppProtocol | None = None
    schema_id: int | None = None
    ev_minor: int | None = None  #: the EV's minor version for the chosen namespace

    @property
    def ok(self) -> bool:
        return self.protocol is not None

    @property
    def minor_deviation(self) -> bool:
        return self.response_code is ap.ResponseCode.OK_SuccessfulNegotiationWithMinorDeviation


def lookup_protocol(namespace: str, major: int) -> AppProtocol | None:
    """The ``AppProtocol`` of a namespace and major version, or ``None``."""
    for protocol in AppProtocol:
        if protocol.namespace == namespace and protocol.major == major:
            return protocol
    return None


def choose(request: ap.SupportedAppProtocolReq, supported: Iterable[SupportedProtocol]) -> Negotiation:
    """SECC: pick the EV's most preferred protocol that we support."""
    ours = {s.protocol: s for s in supported}
    best: tuple[int, int, ap.AppProtocol, SupportedProtocol] | None = None
    for index, entry in enumerate(request.app_protocol):
        protocol = lookup_protocol(entry.protocol_namespace, entry.version_number_major)
        if protocol is None or protocol not in ours:
            continue
        key = (entry.priority, index)
        if best is None or key < best[:2]:
            best = (entry.priority, index, entry, ours[protocol])
    if best is None:
        return Negotiation(response_code=ap.ResponseCode.Failed_NoNegotiation)
    _, _, entry, our = best
    code = (
        ap.ResponseCode.OK_SuccessfulNegotiation
        if entry.version_number_minor == our.minor
        else ap.ResponseCode.OK_SuccessfulNegotiationWithMinorDeviation
    )
    return Negotiation(
        response_code=code, protocol=our.protocol, schema_id=entry.schema_id, ev_minor=entry.version_number_minor
    )


def build_request(offers: Sequence[OfferedProtocol]) -> ap.SupportedAppProtocolReq:
    """EVCC: the request listing ``offers``."""
    if not 1 <= len(offers) <= 20:
        raise LocalProtocolError(f"SupportedAppProtocolReq holds 1..20 protocols, not {len(offers)}")
    if len({o.schema_id for o in offers}) != len(offers):
        raise LocalProtocolError("SupportedAppProtocolReq: SchemaIDs must be unique")
    return ap.SupportedAppProtocolReq(
        app_protocol=[
            ap.AppProtocol(
                protocol_namespace=o.protocol.namespace,
                version_number_major=o.protocol.major,
                version_number_minor=o.minor,
                schema_id=o.schema_id,
                priority=o.priority,
            )
            for o in offers
        ]
    )


def interpret_response(response: ap.SupportedAppProtocolRes, offers: Sequence[OfferedProtocol]) -> Negotiation:
    """EVCC: what the SECC chose; ``RemoteProtocolError`` when the answer is inconsistent."""
    code = response.response_code
    if code is ap.ResponseCode.Failed_NoNegotiation:
        return Negotiation(response_code=code)
    if response.schema_id is None:
        raise RemoteProtocolError(f"SupportedAppProtocolRes {code.value} without SchemaID")
    for offer in offers:
        if offer.schema_id == response.schema_id:
            return Negotiation(response_code=code, protocol=offer.protocol, schema_id=offer.schema_id,
                               ev_minor=offer.minor)
    raise RemoteProtocolError(f"SupportedAppProtocolRes chose SchemaID {response.schema_id}, which we did not offer")
