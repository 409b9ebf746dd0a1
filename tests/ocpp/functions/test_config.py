"""The functions' configurations read off the device model, through the 1.6 keys and the 2.0.1 variables."""

from __future__ import annotations

from pathlib import Path

from evcharge.ocpp.functions.config import (
    authorization_config,
    offline_queue_config,
    smart_charging_config,
    transaction_config,
)
from evcharge.ocpp.functions.device_model import DeviceModel, default_template
from evcharge.ocpp.functions.smart_charging import ChargingRateUnit
from evcharge.ocpp.functions.transport.sqlite import SqliteStore


def test_defaults_of_the_shipped_model(tmp_path: Path) -> None:
    dm = DeviceModel(default_template(2), store=SqliteStore(tmp_path / "dm.sqlite"))
    tx = transaction_config(dm, version="2.0.1", evse_count=2)
    assert (tx.sampled_interval, tx.aligned_interval, tx.ev_connection_timeout) == (60, 900, 120)
    assert tx.tx_start_points == {"PowerPathClosed"} and tx.tx_stop_points == {"EVConnected", "Authorized"}
    assert tx.sampled_measurands == ("Energy.Active.Import.Register", "Power.Active.Import")
    auth = authorization_config(dm, version="2.0.1")
    assert (auth.local_authorize_offline, auth.local_pre_authorize, auth.allow_offline_tx_for_unknown_id) == (
        True, False, False)
    assert (auth.cache_lifetime, auth.local_list_max_entries, auth.send_local_list_max_length) == (86400, 1000, 100)
    sc = smart_charging_config(dm, version="2.0.1", evse_count=2)
    assert (sc.max_stack_level, sc.max_periods_per_schedule, sc.max_profiles) == (10, 24, 20)
    assert sc.allowed_units == {ChargingRateUnit.A, ChargingRateUnit.W}
    q = offline_queue_config(dm)
    assert (q.retry_attempts, q.retry_interval) == (3, 60)


def test_changes_through_16_keys_and_201_variables(tmp_path: Path) -> None:
    dm = DeviceModel(default_template(1), store=SqliteStore(tmp_path / "dm.sqlite"))
    for key, value in [("LocalPreAuthorize", "true"), ("AllowOfflineTxForUnknownId", "true"),
                       ("AuthorizationCacheEnabled", "false"), ("MeterValueSampleInterval", "15"),
                       ("MeterValuesAlignedData", "Energy.Active.Import.Register,Voltage"),
                       ("TransactionMessageAttempts", "5"), ("TransactionMessageRetryInterval", "20"),
                       ("StopTransactionOnEVSideDisconnect", "false"), ("ConnectionTimeOut", "0")]:
        assert dm.handle_change_configuration({"key": key, "value": value}) == {"status": "Accepted"}, key
    auth = authorization_config(dm, version="1.6")
    assert (auth.local_pre_authorize, auth.allow_offline_tx_for_unknown_id, auth.cache_enabled) == (True, True, False)
    tx = transaction_config(dm, version="1.6", evse_count=1)
    assert (tx.sampled_interval, tx.stop_on_ev_side_disconnect, tx.ev_connection_timeout) == (15, False, 0)
    assert tx.aligned_measurands == ("Energy.Active.Import.Register", "Voltage")
    assert (offline_queue_config(dm).retry_attempts, offline_queue_config(dm).retry_interval) == (5, 20)
    # a disabled controller switches its meter values off
    result = dm.handle_set_variables({"setVariableData": [
        {"component": {"name": "SampledDataCtrlr"}, "variable": {"name": "Enabled"}, "attributeValue": "false"},
        {"component": {"name": "AlignedDataCtrlr"}, "variable": {"name": "Enabled"}, "attributeValue": "false"}]})
    assert [r["attributeStatus"] for r in result["setVariableResult"]] == ["Accepted", "Accepted"]
    tx = transaction_config(dm, version="2.0.1", evse_count=1)
    assert (tx.sampled_interval, tx.aligned_interval) == (0, 0)


def test_missing_variables_keep_the_defaults(tmp_path: Path) -> None:
    dm = DeviceModel([{"name": "ChargingStation", "variables": []}], store=SqliteStore(tmp_path / "dm.sqlite"))
    assert transaction_config(dm, version="2.0.1", evse_count=1).sampled_interval == 60
    assert authorization_config(dm, version="2.0.1").cache_lifetime is None
    assert offline_queue_config(dm).retry_attempts == 3
