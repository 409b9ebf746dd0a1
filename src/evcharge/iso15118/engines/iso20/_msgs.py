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

from evcharge.iso15118.iso20 import ac, common, dc

__all__ = [
    "COMMON_REQUESTS",
    "REQUESTS",
    "SPECIFIC_REQUESTS",
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
REQUESTS: tuple[str, ...] = COMMON_REQUESTS + SPECIFIC_REQUESTS[DC]

_MODULES: dict[int, ModuleType] = {COMMON: common, AC: ac, DC: dc}
_PREFIX = {COMMON: "", AC: "AC_", DC: "DC_"}


def module_for(payload_type: int) -> ModuleType:
    return _MODULES[payload_type]


def payload_type_for(request: str, dc_side: bool) -> int:
    """The payload type a request travels in (its schema)."""
    if request in COMMON_REQUESTS:
        return COMMON
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


def response_class(payload_type: int, request: str) -> type:
    return getattr(_MODULES[payload_type], f"{_PREFIX[payload_type]}{request}Res")  # type: ignore[no-any-return]


def request_class(payload_type: int, request: str) -> type:
    return getattr(_MODULES[payload_type], f"{_PREFIX[payload_type]}{request}Req")  # type: ignore[no-any-return]


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
