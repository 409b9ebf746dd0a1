"""The -20 message sets as the engines use them: request names, payload types, RationalNumber.

The engines speak of requests by their name without the AC_/DC_ prefix (``"ChargeLoop"``,
``"ChargeParameterDiscovery"``); :func:`request_name` and :func:`response_class` map them to the
generated classes of :mod:`evcharge.iso15118.iso20` (CommonMessages 0x8002, AC 0x8003, DC 0x8004).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from types import ModuleType
from typing import Any

from evcharge.iso15118.iso20 import ac, acdp, common, dc, wpt

__all__ = [
    "ACDP_REQUESTS",
    "COMMON_REQUESTS",
    "REQUESTS",
    "SPECIFIC_REQUESTS",
    "WPT_REQUESTS",
    "from_rational",
    "module_for",
    "rational",
    "request_name",
    "response_class",
    "response_name",
]

COMMON = 0x8002
AC = 0x8003
DC = 0x8004
ACDP = 0x8005
WPT = 0x8006
#: the side channel of ACDP_SystemStatusReq/Res (ACDP EXI, outside the session's request-response sequence)
ACDP_SYSTEM_STATUS = 0x8103

#: requests of CommonMessages (0x8002)
COMMON_REQUESTS: tuple[str, ...] = (
    "SessionSetup",
    "AuthorizationSetup",
    "Authorization",
    "CertificateInstallation",
    "ServiceDiscovery",
    "ServiceDetail",
    "ServiceSelection",
    "ScheduleExchange",
    "PowerDelivery",
    "MeteringConfirmation",
    "SessionStop",
    "VehicleCheckIn",
    "VehicleCheckOut",
)
#: requests of the AC (0x8003) and DC (0x8004) schemas, without their prefix
SPECIFIC_REQUESTS: dict[int, tuple[str, ...]] = {
    AC: ("ChargeParameterDiscovery", "ChargeLoop"),
    DC: ("ChargeParameterDiscovery", "CableCheck", "PreCharge", "ChargeLoop", "WeldingDetection"),
}
#: requests of the ACDP schema (0x8005), named as the schema does (ACDP_DisconnectReq/Res share the types of
#: ACDP_ConnectReq/Res: one class, two root elements); ACDP_SystemStatus travels in the side channel 0x8103
ACDP_REQUESTS: tuple[str, ...] = ("ACDP_VehiclePositioning", "ACDP_Connect", "ACDP_Disconnect")
#: requests of the WPT schema (0x8006), named as the schema does
WPT_REQUESTS: tuple[str, ...] = (
    "WPT_FinePositioningSetup",
    "WPT_FinePositioning",
    "WPT_Pairing",
    "WPT_ChargeParameterDiscovery",
    "WPT_AlignmentCheck",
    "WPT_ChargeLoop",
)
REQUESTS: tuple[str, ...] = COMMON_REQUESTS + SPECIFIC_REQUESTS[DC]

_MODULES: dict[int, ModuleType] = {COMMON: common, AC: ac, DC: dc, ACDP: acdp, WPT: wpt}
_PREFIX = {COMMON: "", AC: "AC_", DC: "DC_", ACDP: "", WPT: ""}
_NAMED = {ACDP: ACDP_REQUESTS, WPT: WPT_REQUESTS}
#: root elements whose class is another element's
_CLASS_OF = {"ACDP_DisconnectReq": "ACDP_ConnectReq", "ACDP_DisconnectRes": "ACDP_ConnectRes"}


def module_for(payload_type: int) -> ModuleType:
    return _MODULES[payload_type]


def payload_type_for(request: str, dc_side: bool) -> int:
    """The payload type a request travels in (its schema)."""
    if request in COMMON_REQUESTS:
        return COMMON
    if request in ACDP_REQUESTS:
        return ACDP
    if request in WPT_REQUESTS:
        return WPT
    return DC if dc_side else AC


_NAMES: dict[str, tuple[str, str] | None] = {}


def _names(cls: type) -> tuple[str, str] | None:
    """(request name, "Req"/"Res") of a generated class, by its qualified name (memoized)."""
    key = f"{cls.__module__}.{cls.__qualname__}"
    if key not in _NAMES:
        _NAMES[key] = _names_of(cls.__name__)
    return _NAMES[key]


def _names_of(name: str) -> tuple[str, str] | None:
    for prefix in ("AC_", "DC_"):
        if name.startswith(prefix):
            name = name[len(prefix) :]
    for suffix in ("Req", "Res"):
        if name.endswith(suffix):
            base = name[: -len(suffix)]
            if base in REQUESTS:
                return base, suffix
    return None


def request_name(message: Any) -> str | None:
    """The request a decoded message is (``None``: not a request)."""
    found = _names(type(message))
    return found[0] if found is not None and found[1] == "Req" else None


def response_name(message: Any) -> str | None:
    found = _names(type(message))
    return found[0] if found is not None and found[1] == "Res" else None


def element_name(payload_type: int, request: str, kind: str) -> str:
    """The root element of ``request``'s ``kind`` ("Req"/"Res") in its schema (``DC_CableCheckRes``)."""
    return f"{_PREFIX[payload_type]}{request}{kind}"


def response_class(payload_type: int, request: str) -> type:
    name = element_name(payload_type, request, "Res")
    return getattr(_MODULES[payload_type], _CLASS_OF.get(name, name))  # type: ignore[no-any-return]


def request_class(payload_type: int, request: str) -> type:
    name = element_name(payload_type, request, "Req")
    return getattr(_MODULES[payload_type], _CLASS_OF.get(name, name))  # type: ignore[no-any-return]


def encode(payload_type: int, message: Any, element: str) -> bytes:
    """``message`` as the EXI of root element ``element`` (named: ACDP's Connect and Disconnect share classes)."""
    mod = _MODULES[payload_type]
    if payload_type == ACDP:
        return mod.codec.encode(message, element)  # type: ignore[no-any-return]
    return mod.encode(message)  # type: ignore[no-any-return]


def decode(payload_type: int, payload: bytes) -> tuple[Any, str | None, str | None]:
    """(message, request name, "Req"/"Res") of a payload; the names are None when it is neither. ACDP payloads
    are named by their root element (a Disconnect decodes to the Connect class)."""
    mod = _MODULES[payload_type]
    if payload_type in _NAMED:
        element, msg = mod.codec.decode_with_name(payload)
        for kind in ("Req", "Res"):
            if element.endswith(kind) and element[: -len(kind)] in _NAMED[payload_type]:
                return msg, element[: -len(kind)], kind
        return msg, None, None
    msg = mod.decode(payload)
    found = _names(type(msg))
    return (msg, found[0], found[1]) if found is not None else (msg, None, None)


@lru_cache(maxsize=8192)
def _rational(mod: ModuleType, x: float) -> Any:
    if x == int(x) and -32768 <= x <= 32767:
        return mod.RationalNumber(exponent=0, value=int(x))
    for e in range(-3, 6):
        v = round(x / 10.0**e)
        if -32768 <= v <= 32767:
            return mod.RationalNumber(exponent=e, value=v)
    raise ValueError(f"{x} does not fit a RationalNumber")


def rational(mod: ModuleType, x: float) -> Any:
    """A RationalNumber of ``mod`` for ``x`` (value int16, exponent int8; the most precise that fits)."""
    return _rational(mod, float(x))


def from_rational(r: Any) -> float:
    return float(r.value * 10.0**r.exponent)


def opt_rational(r: Any) -> float | None:
    return None if r is None else from_rational(r)


def _rationals(mod: ModuleType) -> Callable[[float], Any]:
    """``x -> rational(mod, x)``."""

    def r(x: float) -> Any:
        return rational(mod, x)

    return r


def _getter(obj: Any) -> Callable[[str], float | None]:
    """``name -> opt_rational(getattr(obj, name, None))``."""

    def g(name: str) -> float | None:
        return opt_rational(getattr(obj, name, None))

    return g
