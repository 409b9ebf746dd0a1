"""The 2.0.1 device model and the 1.6 configuration keys against the shipped default model (OCPP 2.0.1 B05-B08)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from evcharge.ocpp.functions._common import FunctionsLocalError, FunctionsRemoteError
from evcharge.ocpp.functions.device_model import ComponentKey, DeviceModel, VariableKey, default_template
from evcharge.ocpp.functions.transport.sqlite import SqliteStore
from tests.conftest import ocpp_schema_dir

SCHEMAS = ocpp_schema_dir()


def validator(version: str, name: str) -> Any:
    schema = json.loads((SCHEMAS / version / name).read_text())
    return jsonschema.Draft4Validator(schema) if version == "v16" else jsonschema.Draft202012Validator(schema)


def model(tmp_path: Path, evses: int = 2) -> DeviceModel:
    return DeviceModel(default_template(evses), store=SqliteStore(tmp_path / "dm.sqlite"))


def get_item(component: dict[str, Any], variable: dict[str, Any], attribute: str | None = None) -> dict[str, Any]:
    item = {"component": component, "variable": variable}
    if attribute:
        item["attributeType"] = attribute
    return item


def test_default_model_shape() -> None:
    one = default_template(1)
    two = default_template(2)
    assert [c.get("evse") for c in one if c["name"] == "EVSE"] == [{"id": 1}]
    assert [c.get("evse") for c in two if c["name"] == "Connector"] == [{"id": 1, "connectorId": 1},
                                                                        {"id": 2, "connectorId": 1}]
    with pytest.raises(FunctionsLocalError):
        default_template(3)


def test_get_variables(tmp_path: Path) -> None:
    dm = model(tmp_path)
    request = {"getVariableData": [
        get_item({"name": "OCPPCommCtrlr"}, {"name": "HeartbeatInterval"}),
        get_item({"name": "EVSE", "evse": {"id": 2}}, {"name": "Power"}, "MaxSet"),
        get_item({"name": "EVSE", "evse": {"id": 3}}, {"name": "Power"}),
        get_item({"name": "FluxCapacitor"}, {"name": "Enabled"}),
        get_item({"name": "OCPPCommCtrlr"}, {"name": "NoSuchVariable"}),
        get_item({"name": "OCPPCommCtrlr"}, {"name": "HeartbeatInterval"}, "Target"),
        get_item({"name": "SecurityCtrlr"}, {"name": "BasicAuthPassword"}),
        get_item({"name": "OCPPCommCtrlr"}, {"name": "MessageAttempts", "instance": "TransactionEvent"}),
    ]}
    validator("v201", "GetVariablesRequest.json").validate(request)
    response = dm.handle_get_variables(request)
    validator("v201", "GetVariablesResponse.json").validate(response)
    got = [(r["attributeStatus"], r.get("attributeValue")) for r in response["getVariableResult"]]
    assert got == [
        ("Accepted", "300"),
        ("Accepted", "22080"),
        ("UnknownComponent", None),
        ("UnknownComponent", None),
        ("UnknownVariable", None),
        ("NotSupportedAttributeType", None),
        ("Rejected", None),  # WriteOnly
        ("Accepted", "3"),
    ]
    # results echo component / variable / attributeType in request order
    assert response["getVariableResult"][1]["component"] == {"name": "EVSE", "evse": {"id": 2}}
    assert response["getVariableResult"][1]["attributeType"] == "MaxSet"


def set_item(component: dict[str, Any], variable: dict[str, Any], value: str, attribute: str | None = None
             ) -> dict[str, Any]:
    return {**get_item(component, variable, attribute), "attributeValue": value}


def test_set_variables_statuses(tmp_path: Path) -> None:
    dm = model(tmp_path)
    dm.set_local("DeviceDataCtrlr", "ConfigurationValueSize", "40")  # the station's own limit on values
    request = {"setVariableData": [
        set_item({"name": "OCPPCommCtrlr"}, {"name": "HeartbeatInterval"}, "60"),  # Accepted
        set_item({"name": "ChargingStation"}, {"name": "Model"}, "x"),  # ReadOnly -> Rejected
        set_item({"name": "OCPPCommCtrlr"}, {"name": "HeartbeatInterval"}, "0"),  # below minLimit 1 -> Rejected
        set_item({"name": "AuthCtrlr"}, {"name": "LocalPreAuthorize"}, "yes"),  # not a boolean -> Rejected
        set_item({"name": "TxCtrlr"}, {"name": "TxStartPoint"}, "EVConnected,Teleported"),  # not in list -> Rejected
        set_item({"name": "SecurityCtrlr"}, {"name": "Identity"}, "CP002"),  # RebootRequired
        set_item({"name": "Nope"}, {"name": "HeartbeatInterval"}, "1"),  # UnknownComponent
        set_item({"name": "OCPPCommCtrlr"}, {"name": "Nope"}, "1"),  # UnknownVariable
        set_item({"name": "OCPPCommCtrlr"}, {"name": "HeartbeatInterval"}, "1", "MinSet"),  # NotSupportedAttributeType
        set_item({"name": "TxCtrlr"}, {"name": "TxStopPoint"}, "EVConnected,Authorized,PowerPathClosed"),  # Accepted
        set_item({"name": "SecurityCtrlr"}, {"name": "OrganizationName"}, "x" * 41),  # > ConfigurationValueSize
    ]}
    validator("v201", "SetVariablesRequest.json").validate(request)
    response = dm.handle_set_variables(request)
    validator("v201", "SetVariablesResponse.json").validate(response)
    got = [(r["attributeStatus"], r.get("attributeStatusInfo", {}).get("reasonCode"))
           for r in response["setVariableResult"]]
    assert got == [
        ("Accepted", None),
        ("Rejected", "ReadOnly"),
        ("Rejected", "ValueOutOfRange"),
        ("Rejected", "InvalidValue"),
        ("Rejected", "ValueNotInList"),
        ("RebootRequired", None),
        ("UnknownComponent", None),
        ("UnknownVariable", None),
        ("NotSupportedAttributeType", None),
        ("Accepted", None),
        ("Rejected", "ValueTooLarge"),
    ]
    assert dm.get("OCPPCommCtrlr", "HeartbeatInterval") == "60"
    assert dm.get_list("TxCtrlr", "TxStopPoint") == ["EVConnected", "Authorized", "PowerPathClosed"]
    # reboot required: the old identity holds until the station restarts
    assert dm.get("SecurityCtrlr", "Identity") == "CP001"
    events = []
    while (e := dm.next_event()) is not None:
        events.append((e.variable.name, e.value, e.pending))
    assert events == [("HeartbeatInterval", "60", False), ("Identity", "CP002", True),
                      ("TxStopPoint", "EVConnected,Authorized,PowerPathClosed", False)]
    dm.close()
    rebooted = model(tmp_path)
    assert rebooted.get("SecurityCtrlr", "Identity") == "CP002"
    assert rebooted.get_int("OCPPCommCtrlr", "HeartbeatInterval") == 60  # persisted


def test_write_only_can_be_set_but_never_read(tmp_path: Path) -> None:
    dm = model(tmp_path)
    item = set_item({"name": "SecurityCtrlr"}, {"name": "BasicAuthPassword"}, "0123456789abcdef0123")
    assert dm.handle_set_variables({"setVariableData": [item]})["setVariableResult"][0]["attributeStatus"] == (
        "RebootRequired")
    short = set_item({"name": "SecurityCtrlr"}, {"name": "BasicAuthPassword"}, "short")
    assert dm.handle_set_variables({"setVariableData": [short]})["setVariableResult"][0]["attributeStatusInfo"] == {
        "reasonCode": "InvalidLength"}
    _, data = dm.handle_get_base_report({"requestId": 1, "reportBase": "FullInventory"})
    pw = next(d for d in data if d["variable"]["name"] == "BasicAuthPassword")
    assert "value" not in pw["variableAttribute"][0]


def test_non_persistent_values_reset_on_restart(tmp_path: Path) -> None:
    dm = model(tmp_path)
    evse1 = ComponentKey("EVSE", evse_id=1)
    dm.set_local(evse1, "Power", "7200")
    dm.set_local("ChargingStation", "AvailabilityState", "Occupied")
    with pytest.raises(FunctionsLocalError):
        dm.set_local("ChargingStation", "AvailabilityState", "Sleeping")
    assert dm.get(evse1, "Power") == "7200"
    dm.close()
    again = model(tmp_path)
    assert again.get(evse1, "Power") == "0"  # persistent: false
    assert again.get("ChargingStation", "AvailabilityState") == "Occupied"


def test_base_reports_and_notify_report_chunks(tmp_path: Path) -> None:
    dm = model(tmp_path)
    total = len(dm.variables())
    response, full = dm.handle_get_base_report({"requestId": 7, "reportBase": "FullInventory"})
    validator("v201", "GetBaseReportResponse.json").validate(response)
    assert response == {"status": "Accepted"} and len(full) == total
    messages = dm.notify_reports(7, full, datetime(2024, 1, 1, tzinfo=UTC))
    for m in messages:
        validator("v201", "NotifyReportRequest.json").validate(m)
    # ItemsPerMessage[GetReport] is 50 in the default model
    assert [len(m["reportData"]) for m in messages] == [50] * (total // 50) + ([total % 50] if total % 50 else [])
    assert [m["seqNo"] for m in messages] == list(range(len(messages)))
    assert [m["tbc"] for m in messages] == [True] * (len(messages) - 1) + [False]
    _, config = dm.handle_get_base_report({"requestId": 8, "reportBase": "ConfigurationInventory"})
    names = {(d["component"]["name"], d["variable"]["name"]) for d in config}
    assert ("OCPPCommCtrlr", "HeartbeatInterval") in names
    assert ("ChargingStation", "Model") not in names  # ReadOnly
    assert all(any(a["mutability"] != "ReadOnly" for a in d["variableAttribute"]) for d in config)
    _, summary = dm.handle_get_base_report({"requestId": 9, "reportBase": "SummaryInventory"})
    # ChargingStation + 2 EVSEs + 2 connectors report their AvailabilityState
    assert len(summary) == 5
    with pytest.raises(FunctionsRemoteError):
        dm.handle_get_base_report({"requestId": 9, "reportBase": "Everything"})


def test_get_report_filters(tmp_path: Path) -> None:
    dm = model(tmp_path)
    request = {"requestId": 3, "componentVariable": [{"component": {"name": "EVSE"}},
                                                     {"component": {"name": "OCPPCommCtrlr"},
                                                      "variable": {"name": "HeartbeatInterval"}}]}
    validator("v201", "GetReportRequest.json").validate(request)
    response, data = dm.handle_get_report(request)
    assert response == {"status": "Accepted"}
    # 4 EVSE variables on each of the 2 EVSEs, plus the one OCPPCommCtrlr variable
    assert len(data) == 9
    assert {d["component"].get("evse", {}).get("id") for d in data} == {1, 2, None}
    _, enabled = dm.handle_get_report({"requestId": 4, "componentCriteria": ["Enabled"]})
    comps = {d["component"]["name"] for d in enabled}
    assert {"OCPPCommCtrlr", "TxCtrlr", "SmartChargingCtrlr"} <= comps and "EVSE" not in comps
    dm.handle_set_variables({"setVariableData": [set_item({"name": "SmartChargingCtrlr"}, {"name": "Enabled"},
                                                          "false")]})
    _, enabled = dm.handle_get_report({"requestId": 5, "componentCriteria": ["Enabled"]})
    assert "SmartChargingCtrlr" not in {d["component"]["name"] for d in enabled}
    response, data = dm.handle_get_report({"requestId": 6, "componentVariable": [{"component": {"name": "Nope"}}]})
    assert (response, data) == ({"status": "EmptyResultSet"}, [])


def test_v16_configuration_keys_on_the_same_store(tmp_path: Path) -> None:
    dm = model(tmp_path, evses=2)
    request = {"key": ["HeartbeatInterval", "NumberOfConnectors", "ChargingScheduleAllowedChargingRateUnit",
                       "AuthorizationKey", "NoSuchKey"]}
    validator("v16", "GetConfiguration.json").validate(request)
    answer = dm.handle_get_configuration(request)
    validator("v16", "GetConfigurationResponse.json").validate(answer)
    assert answer["configurationKey"] == [
        {"key": "HeartbeatInterval", "readonly": False, "value": "300"},
        {"key": "NumberOfConnectors", "readonly": True, "value": "2"},
        {"key": "ChargingScheduleAllowedChargingRateUnit", "readonly": True, "value": "Current,Power"},
        {"key": "AuthorizationKey", "readonly": False},  # write-only: never reported
    ]
    assert answer["unknownKey"] == ["NoSuchKey"]
    everything = dm.handle_get_configuration({})
    validator("v16", "GetConfigurationResponse.json").validate(everything)
    assert "unknownKey" not in everything and len(everything["configurationKey"]) > 30

    def change(key: str, value: str) -> str:
        req = {"key": key, "value": value}
        validator("v16", "ChangeConfiguration.json").validate(req)
        return str(dm.handle_change_configuration(req)["status"])

    assert change("HeartbeatInterval", "120") == "Accepted"
    assert change("NumberOfConnectors", "4") == "Rejected"
    assert change("HeartbeatInterval", "-5") == "Rejected"
    assert change("MeterValuesSampledData", "Energy.Active.Import.Register,Voltage") == "Accepted"
    assert change("AuthorizationKey", "0123456789abcdef") == "RebootRequired"
    assert change("NoSuchKey", "1") == "NotSupported"
    # the 2.0.1 view of the same store
    assert dm.get("OCPPCommCtrlr", "HeartbeatInterval") == "120"
    assert dm.get(ComponentKey("SampledDataCtrlr"), VariableKey("TxUpdatedMeasurands")) == (
        "Energy.Active.Import.Register,Voltage")


def test_extending_the_default_model(tmp_path: Path) -> None:
    extra = [{"name": "VendorFanCtrlr", "variables": [
        {"name": "Speed", "dataType": "integer", "unit": "rpm", "minLimit": 0, "maxLimit": 5000, "value": "1200"},
        {"name": "Mode", "dataType": "OptionList", "valuesList": "Auto,Quiet", "value": "Auto",
         "ocpp16Key": "FanMode"}]}]
    dm = DeviceModel(default_template(1, extra=extra), store=SqliteStore(tmp_path / "x.sqlite"))
    assert dm.get_int("VendorFanCtrlr", "Speed") == 1200
    assert dm.handle_change_configuration({"key": "FanMode", "value": "Quiet"}) == {"status": "Accepted"}
    assert dm.handle_change_configuration({"key": "FanMode", "value": "Loud"}) == {"status": "Rejected"}
