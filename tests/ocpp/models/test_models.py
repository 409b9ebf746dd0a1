"""The rules of the OCPP schemas and facts, one by one, on the generated models and validators."""

from __future__ import annotations

import copy
import dataclasses
import importlib
import json
import subprocess
import sys
import typing
from typing import Any

import pytest

from evcharge.ocpp import v16, v21, v201
from evcharge.ocpp._model import ABSENT, format_path, is_date_time, multiple_of
from evcharge.ocpp.errors import OcppValidationError, RemoteProtocolError, ViolationKind

from .schema_tools import SCHEMA_ROOT, VERSION_KEYS, load_schema, oracle_valid, schema_cases

MODULES = {"v16": v16, "v201": v201, "v21": v21}


def _error(module: Any, action: str, kind: str, payload: Any) -> OcppValidationError:
    with pytest.raises(OcppValidationError) as info:
        module.validate(action, kind, payload)
    return info.value


def meter_values_16(unit: str = "Wh") -> dict[str, Any]:
    return {
        "connectorId": 1,
        "transactionId": 7,
        "meterValue": [{
            "timestamp": "2024-05-01T10:00:00Z",
            "sampledValue": [{"value": "1"}, {"value": "2", "unit": unit}, {"value": "3", "measurand": "Voltage"}],
        }],
    }


def charging_profile_16(limit: Any) -> dict[str, Any]:
    return {
        "connectorId": 1,
        "csChargingProfiles": {
            "chargingProfileId": 1,
            "stackLevel": 0,
            "chargingProfilePurpose": "TxDefaultProfile",
            "chargingProfileKind": "Absolute",
            "chargingSchedule": {
                "chargingRateUnit": "A",
                "chargingSchedulePeriod": [{"startPeriod": 0, "limit": limit}],
            },
        },
    }


# -- the contract of a version module ----------------------------------------------------------

@pytest.mark.parametrize(("module", "version", "subprotocol"),
                         [(v16, "1.6", "ocpp1.6"), (v201, "2.0.1", "ocpp2.0.1"), (v21, "2.1", "ocpp2.1")])
def test_version_constants(module: Any, version: str, subprotocol: str) -> None:
    assert module.VERSION == version
    assert module.SUBPROTOCOL == subprotocol


@pytest.mark.parametrize("key", VERSION_KEYS)
def test_every_action_has_named_request_and_response_classes(key: str) -> None:
    module = MODULES[key]
    actions = {action for k, action, _ in schema_cases() if k == key}
    assert {a.value for a in module.Action} == actions
    for action in actions:
        assert module.request_class(action).__name__ == f"{action}Request"
        assert getattr(module, f"{action}Request") is module.request_class(action)
        if action != "NotifyPeriodicEventStream":
            assert module.response_class(action).__name__ == f"{action}Response"
    assert module.Action.BOOT_NOTIFICATION == "BootNotification"


def test_action_member_names() -> None:
    assert v21.Action.AFRR_SIGNAL == "AFRRSignal"
    assert v201.Action.GET_15118_EV_CERTIFICATE == "Get15118EVCertificate"
    assert v201.Action.NOTIFY_EV_CHARGING_NEEDS == "NotifyEVChargingNeeds"
    assert v16.Action.SIGNED_UPDATE_FIRMWARE == "SignedUpdateFirmware"


@pytest.mark.parametrize("key", VERSION_KEYS)
def test_unknown_action_is_a_key_error(key: str) -> None:
    module = MODULES[key]
    with pytest.raises(KeyError):
        module.request_class("NoSuchAction")
    with pytest.raises(KeyError):
        module.response_class("NoSuchAction")
    with pytest.raises(KeyError):
        module.validate("NoSuchAction", "request", {})


def test_send_only_action_has_no_response() -> None:
    with pytest.raises(KeyError):
        v21.response_class("NotifyPeriodicEventStream")
    with pytest.raises(KeyError):
        v21.validate("NotifyPeriodicEventStream", "response", {})
    payload = {"id": 1, "pending": 0, "basetime": "2025-01-01T00:00:00Z", "data": [{"t": 0.5, "v": "230.1"}]}
    assert v21.validate("NotifyPeriodicEventStream", "request", payload) == []


def test_bad_kind_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="kind"):
        v16.validate("Heartbeat", "answer", {})  # type: ignore[arg-type]


# -- the models ------------------------------------------------------------------------------

def _model_classes(module: Any) -> list[type[Any]]:
    models = importlib.import_module(module.__name__ + "._generated.models")
    return [obj for obj in vars(models).values() if dataclasses.is_dataclass(obj) and isinstance(obj, type)]


@pytest.mark.parametrize("key", VERSION_KEYS)
def test_every_model_is_a_frozen_slotted_dataclass_with_an_exact_name_table(key: str) -> None:
    module = MODULES[key]
    classes = _model_classes(module)
    assert len(classes) > 2 * len(module.Action) - 2
    for cls in classes:
        params = cls.__dataclass_params__  # type: ignore[attr-defined]
        assert params.frozen, cls
        assert "__slots__" in vars(cls) and "__dict__" not in vars(cls), cls
        names = [f.name for f in dataclasses.fields(cls)]
        assert sorted(names) == sorted(cls.JSON_NAMES), cls
        for py_name, json_name in cls.JSON_NAMES.items():
            assert py_name == py_name.lower(), (cls, py_name)
            assert py_name.replace("_", "") == json_name.replace("_", "").lower(), (cls, py_name, json_name)
        hints = typing.get_type_hints(cls)  # every annotation names a real class
        assert set(names) <= set(hints)


@pytest.mark.parametrize(("key", "action", "kind"), schema_cases())
def test_root_name_table_matches_the_schema_properties(key: str, action: str, kind: str) -> None:
    module = MODULES[key]
    cls = module.request_class(action) if kind == "request" else module.response_class(action)
    schema = load_schema(key, action, kind)
    assert set(cls.JSON_NAMES.values()) == set(schema.get("properties", {}))
    required = set(schema.get("required", []))
    for f in dataclasses.fields(cls):
        is_required = f.default is dataclasses.MISSING
        assert is_required == (cls.JSON_NAMES[f.name] in required), (cls, f.name)


def test_models_are_typed_all_the_way_down() -> None:
    payload = meter_values_16("Celsius")
    model = v16.MeterValuesRequest.from_json(payload)
    assert model.connector_id == 1 and model.transaction_id == 7
    assert isinstance(model.meter_value, tuple)
    (meter_value,) = model.meter_value
    assert isinstance(meter_value, v16.MeterValue)
    assert all(isinstance(s, v16.SampledValue) for s in meter_value.sampled_value)
    assert meter_value.sampled_value[1].unit is v16.UnitOfMeasure.CELSIUS
    assert meter_value.sampled_value[2].measurand is v16.Measurand.VOLTAGE
    assert meter_value.sampled_value[0].unit is None
    assert model.to_json() == payload


def test_models_are_frozen_comparable_hashable_and_replaceable() -> None:
    a = v201.HeartbeatResponse(current_time="2024-01-01T00:00:00Z")
    b = v201.HeartbeatResponse.from_json({"currentTime": "2024-01-01T00:00:00Z"})
    assert a == b and hash(a) == hash(b)
    assert a != v201.HeartbeatResponse(current_time="2024-01-01T00:00:01Z")
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.current_time = "x"  # type: ignore[misc]
    with pytest.raises((AttributeError, TypeError)):  # TypeError: CPython 3.11's frozen+slots dataclass
        a.unknown = 1  # type: ignore[attr-defined]
    c = dataclasses.replace(a, current_time="2025-01-01T00:00:00Z")
    assert c.to_json() == {"currentTime": "2025-01-01T00:00:00Z"}
    assert repr(a) == "HeartbeatResponse(current_time='2024-01-01T00:00:00Z', custom_data=None)"
    with pytest.raises(TypeError):
        v201.HeartbeatResponse()  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        v201.HeartbeatResponse("2024-01-01T00:00:00Z")  # type: ignore[misc]


def test_construct_then_serialize_gives_a_valid_payload() -> None:
    request = v201.BootNotificationRequest(
        reason=v201.BootReasonEnumType.POWER_UP,
        charging_station=v201.ChargingStationType(model="M1", vendor_name="ACME",
                                                  modem=v201.ModemType(iccid="8931")),
    )
    payload = request.to_json()
    assert payload == {"reason": "PowerUp", "chargingStation": {"model": "M1", "vendorName": "ACME",
                                                                "modem": {"iccid": "8931"}}}
    assert json.loads(json.dumps(payload)) == payload
    assert v201.validate("BootNotification", "request", payload) == []


# -- vendor data ------------------------------------------------------------------------------

def test_custom_data_is_passed_through_untouched() -> None:
    custom = {"vendorId": "com.example", "extra": {"nested": [1, 2.5, None, "x"]}, "flag": True}
    payload = {"currentTime": "2024-01-01T00:00:00Z", "customData": custom}
    assert v201.validate("Heartbeat", "response", payload) == []
    model = v201.HeartbeatResponse.from_json(payload)
    assert model.custom_data is custom
    assert model.to_json() == payload
    err = _error(v201, "Heartbeat", "response", {"currentTime": "2024-01-01T00:00:00Z", "customData": {"x": 1}})
    assert err.kind is ViolationKind.OCCURRENCE and err.path == "customData"


@pytest.mark.parametrize("data", [None, 0, 1.5, "text", [1, {"a": None}], {"k": {"deep": [True]}}, ""])
@pytest.mark.parametrize("module", [v201, v21])
def test_data_transfer_data_is_any_json_value(module: Any, data: Any) -> None:
    payload = {"vendorId": "com.example", "messageId": "m", "data": data}
    assert module.validate("DataTransfer", "request", payload) == []
    model = module.DataTransferRequest.from_json(payload)
    assert model.data is data
    assert model.to_json() == payload
    assert oracle_valid("v201" if module is v201 else "v21", "DataTransfer", "request", payload)


def test_absent_vendor_data_differs_from_null() -> None:
    assert v201.DataTransferRequest(vendor_id="v").to_json() == {"vendorId": "v"}
    assert v201.DataTransferRequest(vendor_id="v").data is ABSENT
    assert v201.DataTransferRequest(vendor_id="v", data=None).to_json() == {"vendorId": "v", "data": None}
    assert v201.DataTransferRequest.from_json({"vendorId": "v"}).data is ABSENT
    assert not ABSENT and repr(ABSENT) == "ABSENT"


def test_data_transfer_16_data_is_a_string() -> None:
    assert v16.validate("DataTransfer", "request", {"vendorId": "v", "data": "{\"a\": 1}"}) == []
    assert _error(v16, "DataTransfer", "request", {"vendorId": "v", "data": {"a": 1}}).kind is ViolationKind.TYPE


# -- validation rules -------------------------------------------------------------------------

def test_violation_kinds_and_paths() -> None:
    err = _error(v16, "MeterValues", "request", [1, 2])
    assert err.kind is ViolationKind.FORMAT and err.path == ""
    assert isinstance(err, RemoteProtocolError)

    bad = meter_values_16()
    bad["meterValue"][0]["sampledValue"][2]["value"] = 3
    err = _error(v16, "MeterValues", "request", bad)
    assert err.kind is ViolationKind.TYPE and err.path == "meterValue[0].sampledValue[2].value"

    bad = meter_values_16()
    del bad["meterValue"][0]["sampledValue"][1]["value"]
    err = _error(v16, "MeterValues", "request", bad)
    assert err.kind is ViolationKind.OCCURRENCE and err.path == "meterValue[0].sampledValue[1]"
    assert "'value'" in str(err)

    bad = meter_values_16()
    bad["meterValue"][0]["sampledValue"][0]["colour"] = "red"
    err = _error(v16, "MeterValues", "request", bad)
    assert err.kind is ViolationKind.PROPERTY and "'colour'" in str(err)

    bad = meter_values_16()
    bad["meterValue"][0]["sampledValue"] = []
    err = _error(v16, "MeterValues", "request", bad)
    assert err.kind is ViolationKind.OCCURRENCE and err.path == "meterValue[0].sampledValue"

    bad = meter_values_16()
    bad["meterValue"][0]["sampledValue"][2]["measurand"] = "voltage"
    err = _error(v16, "MeterValues", "request", bad)
    assert err.kind is ViolationKind.PROPERTY and err.path == "meterValue[0].sampledValue[2].measurand"

    err = _error(v16, "MeterValues", "request", {**meter_values_16(), "meterValue": {"0": 1}})
    assert err.kind is ViolationKind.TYPE and err.path == "meterValue"

    err = _error(v16, "MeterValues", "request", {**meter_values_16(), "meterValue": [5]})
    assert err.kind is ViolationKind.TYPE and err.path == "meterValue[0]"


def test_null_is_not_an_absent_optional_field() -> None:
    err = _error(v16, "MeterValues", "request", {**meter_values_16(), "transactionId": None})
    assert err.kind is ViolationKind.TYPE and err.path == "transactionId"


@pytest.mark.parametrize("unit", ["Celsius", "Celcius"])
def test_both_spellings_of_celsius_are_accepted_in_16(unit: str) -> None:
    assert v16.validate("MeterValues", "request", meter_values_16(unit)) == []


def test_stop_transaction_reason_is_optional_in_16() -> None:
    payload = {"transactionId": 1, "timestamp": "2024-01-01T00:00:00Z", "meterStop": 100}
    assert v16.validate("StopTransaction", "request", payload) == []
    assert v16.StopTransactionRequest.from_json(payload).reason is None


@pytest.mark.parametrize("limit", [0.1, 0.3, 0.7, 16.1, 32.0, 1.2, 100, 0, 2.3, 1234567.8, -0.3])
def test_multiple_of_uses_decimal_arithmetic(limit: Any) -> None:
    payload = charging_profile_16(limit)
    assert v16.validate("SetChargingProfile", "request", payload) == []
    assert oracle_valid("v16", "SetChargingProfile", "request", payload)


def test_binary_floating_point_would_get_multiple_of_wrong() -> None:
    """The trap the facts warn about: a naive float check rejects 0.3 as a multiple of 0.1."""
    assert int(0.3 / 0.1) != 0.3 / 0.1
    assert 16.1 % 0.1 != 0


@pytest.mark.parametrize("limit", [0.05, 16.15, 0.31, 1e-7])
def test_non_multiples_are_rejected(limit: float) -> None:
    err = _error(v16, "SetChargingProfile", "request", charging_profile_16(limit))
    assert err.kind is ViolationKind.PROPERTY
    assert err.path == "csChargingProfiles.chargingSchedule.chargingSchedulePeriod[0].limit"


def test_multiple_of_helper_on_extreme_values() -> None:
    import decimal

    tenth = decimal.Decimal("0.1")
    assert multiple_of(1e300, tenth)
    assert multiple_of(-(2**70), tenth)
    assert not multiple_of(5e-324, tenth)
    assert multiple_of(0.0, tenth) and multiple_of(-0.0, tenth)


def test_integer_draft_04_versus_draft_06() -> None:
    # 1.6 core (draft-04): 1.0 is not an integer; 2.0.1 (draft-06): it is.
    err = _error(v16, "StatusNotification", "request",
                 {"connectorId": 1.0, "errorCode": "NoError", "status": "Available"})
    assert err.kind is ViolationKind.TYPE
    assert v201.validate("StatusNotification", "request", {
        "timestamp": "2024-01-01T00:00:00Z", "connectorStatus": "Available", "evseId": 1.0, "connectorId": 1}) == []
    # the 1.6 security extension schemas are draft-06
    assert v16.validate("GetLog", "request", {"logType": "SecurityLog", "requestId": 3.0,
                                              "log": {"remoteLocation": "ftp://x"}}) == []
    assert not oracle_valid("v16", "StatusNotification", "request",
                            {"connectorId": 1.0, "errorCode": "NoError", "status": "Available"})


@pytest.mark.parametrize("value", [True, False])
def test_a_boolean_is_not_a_number(value: bool) -> None:
    err = _error(v16, "StatusNotification", "request",
                 {"connectorId": value, "errorCode": "NoError", "status": "Available"})
    assert err.kind is ViolationKind.TYPE


def test_min_items_and_max_items() -> None:
    assert v201.validate("ClearVariableMonitoring", "request", {"id": [1]}) == []
    err = _error(v201, "ClearVariableMonitoring", "request", {"id": []})
    assert err.kind is ViolationKind.OCCURRENCE and err.path == "id"
    err = _error(v201, "ClearVariableMonitoring", "request", {"id": [1, "2"]})
    assert err.kind is ViolationKind.TYPE and err.path == "id[1]"
    hash_data = {"hashAlgorithm": "SHA256", "issuerNameHash": "a", "issuerKeyHash": "b", "serialNumber": "c",
                 "responderURL": "http://ocsp"}
    token = {"idToken": "04A1B2", "type": "ISO14443"}
    four = {"idToken": token, "iso15118CertificateHashData": [hash_data] * 4}
    assert v201.validate("Authorize", "request", four) == []
    err = _error(v201, "Authorize", "request", {"idToken": token, "iso15118CertificateHashData": [hash_data] * 5})
    assert err.kind is ViolationKind.OCCURRENCE and err.path == "iso15118CertificateHashData"
    assert not oracle_valid("v201", "Authorize", "request", {"idToken": token,
                                                             "iso15118CertificateHashData": [hash_data] * 5})


VALID_DATES = ["2024-02-29T12:00:00Z", "2023-12-31T23:59:59.999999+14:00", "1999-01-01t00:00:00z",
               "0001-01-01T00:00:00-00:00", "2024-06-30T10:20:30.1-05:30"]
INVALID_DATES = ["2023-02-29T12:00:00Z", "2024-04-31T00:00:00Z", "2024-01-01", "2024-01-01T00:00Z",
                 "2024-01-01T00:00:00", "2024-01-01 00:00:00Z", "0000-01-01T00:00:00Z", "2024-01-01T25:00:00Z",
                 "2024-01-01T00:00:00+01", "2024-01-01T00:00:00.Z", "２０２４-01-01T00:00:00Z", "",
                 "2024-01-01T00:00:60Z"]


@pytest.mark.parametrize("text", VALID_DATES)
def test_valid_rfc3339_date_times(text: str) -> None:
    assert is_date_time(text)
    assert v201.validate("Heartbeat", "response", {"currentTime": text}) == []
    assert oracle_valid("v201", "Heartbeat", "response", {"currentTime": text})


@pytest.mark.parametrize("text", INVALID_DATES)
def test_invalid_rfc3339_date_times(text: str) -> None:
    err = _error(v201, "Heartbeat", "response", {"currentTime": text})
    assert err.kind is ViolationKind.TYPE and err.path == "currentTime"
    assert not oracle_valid("v201", "Heartbeat", "response", {"currentTime": text})


def test_trailing_newline_is_not_a_date_time() -> None:
    """RFC 3339 has no trailing newline; the oracle's regex (``$``) lets one through, we do not."""
    assert not is_date_time("2024-01-01T00:00:00Z\n")
    _error(v201, "Heartbeat", "response", {"currentTime": "2024-01-01T00:00:00Z\n"})


# -- strict and lenient ------------------------------------------------------------------------

def test_over_long_strings_strict_and_lenient() -> None:
    payload = {"idTag": "X" * 25}
    err = _error(v16, "Authorize", "request", payload)
    assert err.kind is ViolationKind.PROPERTY and err.path == "idTag"
    warnings = v16.validate("Authorize", "request", payload, lenient=True)
    assert len(warnings) == 1 and warnings[0].startswith("idTag: ") and "25" in warnings[0]
    boot = {"chargePointVendor": "V" * 30, "chargePointModel": "M" * 30}
    assert len(v16.validate("BootNotification", "request", boot, lenient=True)) == 2


def test_lenient_mode_still_rejects_everything_else() -> None:
    with pytest.raises(OcppValidationError):
        v16.validate("Authorize", "request", {"idTag": 5}, lenient=True)
    with pytest.raises(OcppValidationError):
        v16.validate("Authorize", "request", {}, lenient=True)
    with pytest.raises(OcppValidationError):
        v16.validate("Authorize", "request", {"idTag": "a", "x": 1}, lenient=True)
    assert v16.validate("Authorize", "request", {"idTag": "a"}, lenient=True) == []


@pytest.mark.parametrize(("action", "kind", "payload"), [
    ("BootNotification", "response", {"status": "Accepted", "currentTime": "2024-01-01T00:00:00Z", "interval": 300.0}),
    ("BootNotification", "response", {"status": "Accepted", "currentTime": "2024-01-01T00:00:00Z", "interval": 60.5}),
    ("UpdateFirmware", "request", {"location": "https://x/fw", "retrieveDate": "2024-01-01T00:00:00Z", "retries": 3.0}),
    ("UpdateFirmware", "request", {"location": "https://x/fw", "retrieveDate": "2024-01-01T00:00:00Z",
                                   "retryInterval": 30.0}),
])
def test_lenient_accepts_the_16_number_typed_integers(action: str, kind: str, payload: dict[str, Any]) -> None:
    assert _error(v16, action, kind, payload).kind is ViolationKind.TYPE
    warnings = v16.validate(action, kind, payload, lenient=True)
    assert len(warnings) == 1 and "integer" in warnings[0]
    with pytest.raises(OcppValidationError):
        v16.validate(action, kind, {**payload, "retries" if action == "UpdateFirmware" else "interval": "3"},
                     lenient=True)


def test_validation_does_not_modify_the_payload() -> None:
    payload = meter_values_16()
    before = copy.deepcopy(payload)
    v16.validate("MeterValues", "request", payload)
    v16.validate("MeterValues", "request", payload, lenient=True)
    assert payload == before


def test_enum_members_validate_as_their_values() -> None:
    payload = v16.BootNotificationResponse(status=v16.RegistrationStatus.ACCEPTED,
                                           current_time="2024-01-01T00:00:00Z", interval=60).to_json()
    assert v16.validate("BootNotification", "response", payload) == []
    assert json.dumps(payload) == '{"status": "Accepted", "currentTime": "2024-01-01T00:00:00Z", "interval": 60}'


def test_format_path() -> None:
    assert format_path(()) == ""
    assert format_path(((((), "a"), 0), "b")) == "a[0].b"
    assert format_path((((), "a"), 3)) == "a[3]"


def test_schemas_ship_with_provenance() -> None:
    assert (SCHEMA_ROOT / "PROVENANCE.md").is_file()
    assert len(list((SCHEMA_ROOT / "v16").glob("*.json"))) == 78
    assert len(list((SCHEMA_ROOT / "v201").glob("*.json"))) == 128
    assert len(list((SCHEMA_ROOT / "v21").glob("*.json"))) == 181


@pytest.mark.parametrize("key", VERSION_KEYS)
def test_importing_a_version_loads_the_models_on_first_use(key: str) -> None:
    code = f"""
import sys
import evcharge.ocpp.{key} as m
models = "evcharge.ocpp.{key}._generated.models"
assert models not in sys.modules, "models imported eagerly"
assert m.Action.HEARTBEAT == "Heartbeat"
assert m.validate("Heartbeat", "request", {{}}) == []
assert models not in sys.modules, "validation needs no model"
assert m.HeartbeatRequest.__module__ == models
assert m.request_class("Heartbeat") is m.HeartbeatRequest is sys.modules[models].HeartbeatRequest
assert "HeartbeatRequest" in vars(m), "names are cached in the package after the first load"
try:
    m.NoSuchName
except AttributeError as exc:
    assert "NoSuchName" in str(exc)
else:
    raise AssertionError("no AttributeError")
namespace = {{}}
exec("from evcharge.ocpp.{key} import *", namespace)
assert "HeartbeatResponse" in namespace and "validate" in namespace and "Action" in namespace
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr


def _ref_name(node: dict[str, Any]) -> str | None:
    if "$ref" in node:
        return str(node["$ref"]).rsplit("/", 1)[-1]
    if node.get("type") == "array" and "$ref" in node.get("items", {}):
        return str(node["items"]["$ref"]).rsplit("/", 1)[-1]
    return None


@pytest.mark.parametrize("key", ["v201", "v21"])
def test_2x_fields_are_typed_with_the_schema_definition_names(key: str) -> None:
    """A field whose schema refers to ``#/definitions/X`` is annotated with the class ``X``."""
    module = MODULES[key]
    models = importlib.import_module(f"evcharge.ocpp.{key}._generated.models")
    checked = 0
    for k, action, kind in schema_cases():
        if k != key:
            continue
        schema = load_schema(key, action, kind)
        definitions = schema.get("definitions", {})
        pending = [((module.request_class(action) if kind == "request" else module.response_class(action)), schema)]
        while pending:
            cls, node = pending.pop()
            by_json = {j: p for p, j in cls.JSON_NAMES.items()}
            hints = typing.get_type_hints(cls, vars(models))
            for json_name, prop in node.get("properties", {}).items():
                name = _ref_name(prop)
                if name is None or name == "CustomDataType":
                    continue
                hint = str(hints[by_json[json_name]])
                assert f".{name}" in hint or f"'{name}'" in hint, (cls, json_name, hint)
                checked += 1
                target = getattr(models, name)
                if dataclasses.is_dataclass(target):
                    pending.append((target, definitions[name]))
    assert checked > 100


def test_16_types_carry_the_specification_names() -> None:
    hints = {cls: typing.get_type_hints(cls, vars(importlib.import_module("evcharge.ocpp.v16._generated.models")))
             for cls in (v16.BootNotificationResponse, v16.IdTagInfo, v16.StatusNotificationRequest, v16.SampledValue,
                         v16.ResetRequest, v16.ResetResponse, v16.ChargingProfile, v16.SetChargingProfileRequest)}
    assert hints[v16.BootNotificationResponse]["status"] is v16.RegistrationStatus
    assert hints[v16.IdTagInfo]["status"] is v16.AuthorizationStatus
    assert hints[v16.StatusNotificationRequest]["status"] is v16.ChargePointStatus
    assert hints[v16.StatusNotificationRequest]["error_code"] is v16.ChargePointErrorCode
    assert hints[v16.SampledValue]["unit"] == v16.UnitOfMeasure | None
    assert hints[v16.SampledValue]["context"] == v16.ReadingContext | None
    assert hints[v16.ResetRequest]["type"] is v16.ResetType
    assert hints[v16.ResetResponse]["status"] is v16.ResetStatus
    assert hints[v16.ChargingProfile]["charging_profile_purpose"] is v16.ChargingProfilePurposeType
    assert hints[v16.SetChargingProfileRequest]["cs_charging_profiles"] is v16.ChargingProfile
    assert set(v16.ResetStatus) != set(v16.UnlockStatus)
    assert "Hertz" in set(v16.UnitOfMeasure) and "Hertz" not in set(v16.StopTransactionUnitOfMeasure)


@pytest.mark.parametrize("number", [float("nan"), float("inf"), float("-inf")])
def test_nan_and_infinity_are_not_json_numbers(number: float) -> None:
    """Python's json module reads ``NaN``/``Infinity``; JSON (RFC 8259) has no such numbers."""
    text = '{"evseId": 1, "meterValue": [{"timestamp": "2024-01-01T00:00:00Z", "sampledValue": [{"value": VALUE}]}]}'
    payload = json.loads(text.replace("VALUE", json.dumps(number)))
    err = _error(v201, "MeterValues", "request", payload)
    assert err.kind is ViolationKind.TYPE and err.path == "meterValue[0].sampledValue[0].value"
    with pytest.raises(OcppValidationError):
        v201.validate("MeterValues", "request", {**payload, "evseId": number}, lenient=True)
    with pytest.raises(OcppValidationError):
        v16.validate("BootNotification", "response", {"status": "Accepted", "currentTime": "2024-01-01T00:00:00Z",
                                                      "interval": number}, lenient=True)
    with pytest.raises(OcppValidationError):
        v16.validate("SetChargingProfile", "request", charging_profile_16(number))


def test_models_pickle() -> None:
    import pickle

    model = v16.MeterValuesRequest.from_json(meter_values_16())
    assert pickle.loads(pickle.dumps(model)) == model
    data = v201.DataTransferRequest(vendor_id="v")
    assert pickle.loads(pickle.dumps(data)).data is ABSENT
