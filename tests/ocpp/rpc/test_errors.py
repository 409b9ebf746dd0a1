"""The OCPP errors are rooted on evcharge.errors, and a remote error's hint is the OCPP error code to answer."""

from __future__ import annotations

import pytest

import evcharge.errors
from evcharge.ocpp import v16, v201
from evcharge.ocpp.errors import (
    InvalidResponseError,
    LocalProtocolError,
    OcppError,
    OcppValidationError,
    RemoteProtocolError,
)
from evcharge.ocpp.functions.errors import FunctionsLocalError, FunctionsRemoteError


def test_roots() -> None:
    assert issubclass(LocalProtocolError, evcharge.errors.LocalProtocolError)
    assert issubclass(RemoteProtocolError, evcharge.errors.RemoteProtocolError)
    assert issubclass(OcppError, evcharge.errors.EvchargeError)
    assert issubclass(FunctionsLocalError, evcharge.errors.LocalProtocolError)
    assert issubclass(FunctionsRemoteError, evcharge.errors.RemoteProtocolError)
    assert not issubclass(LocalProtocolError, evcharge.errors.RemoteProtocolError)


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        # OCPP 2.0.1 part 4 (OCPP-J) 4.3: a missing required field is an occurrence violation,
        # a value of the wrong JSON type a type violation, a value outside its enumeration a property violation
        ({"reason": "PowerUp"}, "OccurrenceConstraintViolation"),
        ({"reason": 5, "chargingStation": {"model": "m", "vendorName": "v"}}, "TypeConstraintViolation"),
        ({"reason": "NotAReason", "chargingStation": {"model": "m", "vendorName": "v"}},
         "PropertyConstraintViolation"),
    ],
)
def test_validation_hint_is_the_error_code(payload: dict[str, object], code: str) -> None:
    with pytest.raises(evcharge.errors.RemoteProtocolError) as info:
        v201.validate("BootNotification", "request", payload)
    assert isinstance(info.value, OcppValidationError)
    assert info.value.hint == code


def test_16_validation_hint_uses_the_2x_spelling() -> None:
    # the hint is version-neutral (2.x spelling); the RPC core maps it to 1.6's "OccurenceConstraintViolation"
    with pytest.raises(OcppValidationError) as info:
        v16.validate("BootNotification", "request", {"chargePointVendor": "v"})
    assert info.value.hint == "OccurrenceConstraintViolation"


def test_other_remote_hints() -> None:
    assert InvalidResponseError("FormatViolation", "bad").hint == "FormatViolation"
    assert FunctionsRemoteError("evseId 9 does not exist").hint == "PropertyConstraintViolation"
    assert LocalProtocolError("misuse").hint is None
