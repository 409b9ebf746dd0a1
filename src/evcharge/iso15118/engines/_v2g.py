"""What DIN 70121 and ISO 15118-2 share: request names, the body fields they live in, PhysicalValue.

The engines speak of requests by their ISO 15118-2 names (``"PaymentServiceSelection"``,
``"Authorization"``); :class:`MessageSet` maps them to each schema's body field (DIN's
``ServicePaymentSelectionReq`` and ``ContractAuthenticationReq``).
"""

from __future__ import annotations

import typing
from functools import cache, lru_cache
from types import ModuleType
from typing import Any

from ._minimal import _hints

__all__ = ["DIN_PMAX_MAX", "REQUESTS", "MessageSet", "din_pmax", "from_pv", "message_set"]

#: every DIN / ISO 15118-2 request, in the order of a session
REQUESTS: tuple[str, ...] = (
    "SessionSetup",
    "ServiceDiscovery",
    "ServiceDetail",
    "PaymentServiceSelection",
    "CertificateInstallation",
    "CertificateUpdate",
    "PaymentDetails",
    "Authorization",
    "ChargeParameterDiscovery",
    "CableCheck",
    "PreCharge",
    "PowerDelivery",
    "CurrentDemand",
    "ChargingStatus",
    "MeteringReceipt",
    "WeldingDetection",
    "SessionStop",
)

_DIN_NAMES = {"PaymentServiceSelection": "ServicePaymentSelection", "Authorization": "ContractAuthentication"}


def _snake(name: str) -> str:
    out = []
    for i, ch in enumerate(name):
        if ch.isupper() and i:
            out.append("_")
        out.append(ch.lower())
    return "".join(out)


class MessageSet:
    """One schema's messages as the engines use them."""

    def __init__(self, name: str, module: ModuleType) -> None:
        self.name = name
        self.din = name == "din"
        self.mod = module
        self.encode = module.encode
        self.decode = module.decode
        body_hints = _hints(module.Body)
        self.req_attr: dict[str, str] = {}
        self.res_attr: dict[str, str] = {}
        self.res_class: dict[str, type] = {}
        self.req_class: dict[str, type] = {}
        for req in REQUESTS:
            schema_name = _DIN_NAMES.get(req, req) if self.din else req
            self.req_attr[req] = _snake(schema_name) + "_req"
            self.res_attr[req] = _snake(schema_name) + "_res"
            self.res_class[req] = _strip_optional(body_hints[self.res_attr[req]])
            self.req_class[req] = _strip_optional(body_hints[self.req_attr[req]])
        #: (body field, request name) for every request, and for every response
        self.req_fields: tuple[tuple[str, str], ...] = tuple((a, r) for r, a in self.req_attr.items())
        self.res_fields: tuple[tuple[str, str], ...] = tuple((a, r) for r, a in self.res_attr.items())
        self.unit = module.UnitSymbol
        self._pv = lru_cache(maxsize=4096)(self._make_pv)

    def _make_pv(self, x: float, unit: str) -> Any:
        if x == int(x) and -32768 <= x <= 32767:
            return self.mod.PhysicalValue(multiplier=0, unit=self.unit(unit), value=int(x))
        for m in range(-3, 4):
            v = round(x * 10.0 ** (-m))
            if -32768 <= v <= 32767:
                return self.mod.PhysicalValue(multiplier=m, unit=self.unit(unit), value=v)
        raise ValueError(f"{x} {unit} does not fit a PhysicalValue")

    def pv(self, x: float, unit: str) -> Any:
        """A PhysicalValue for ``x`` (volts, amperes, watts, watt-hours, seconds)."""
        return self._pv(float(x), unit)

    def request_of(self, body: Any) -> tuple[str, Any] | None:
        """(request name, request body) of a message body, or None when it holds no request."""
        for attr, req in self.req_fields:
            value = getattr(body, attr)
            if value is not None:
                return req, value
        return None

    def response_of(self, body: Any) -> tuple[str, Any] | None:
        for attr, req in self.res_fields:
            value = getattr(body, attr)
            if value is not None:
                return req, value
        return None

    def message(self, session_id: bytes, attr: str, body: Any) -> Any:
        return self.mod.V2G_Message(
            header=self.mod.MessageHeader(session_id=session_id), body=self.mod.Body(**{attr: body})
        )


def _strip_optional(tp: Any) -> type:
    args = [a for a in typing.get_args(tp) if a is not type(None)]
    return args[0] if args else tp  # type: ignore[no-any-return]


#: DIN 70121's PMaxType (PMaxScheduleEntry/PMax, ProfileEntry/ChargingProfileEntryMaxPower) is a bare ``xs:short``
#: with no multiplier (din70121/V2G_CI_MsgDataTypes.xsd): written in watts, a schedule can say at most 32767 W. Every
#: other DIN power (EVSEMaximumPowerLimit, EVMaximumPowerLimit) is a PhysicalValue and carries the full value
#: with its multiplier; the car is held to those. ISO 15118-2's PMax is a PhysicalValue (no such limit).
DIN_PMAX_MAX = 32767


def din_pmax(watts: float) -> int:
    """A DIN PMax: the schedule's power in watts, at most the schema's ``DIN_PMAX_MAX`` (the real limit
    travels in the PhysicalValue ``EVSEMaximumPowerLimit``)."""
    return max(-DIN_PMAX_MAX - 1, min(DIN_PMAX_MAX, int(watts)))


def from_pv(pv: Any) -> float:
    """The value of a PhysicalValue as a float (SI unit)."""
    return float(pv.value * 10.0**pv.multiplier)


@cache
def message_set(name: str) -> MessageSet:
    """``"din"`` or ``"iso2"``."""
    if name == "din":
        from evcharge.iso15118 import din

        return MessageSet("din", din)
    if name == "iso2":
        from evcharge.iso15118 import iso2

        return MessageSet("iso2", iso2)
    raise ValueError(f"no DIN/ISO 15118-2 message set {name!r}")
