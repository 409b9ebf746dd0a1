"""Large powers in DIN 70121 and ISO 15118-2: what the schemas let each field carry (150 kW and 350 kW chargers).

DIN 70121's schema (din70121/V2G_CI_MsgDataTypes.xsd) gives the power limits as PhysicalValueType (Multiplier
-3..3, Value an xs:short): 150 kW is 15000 x 10^1 W, 350 kW 3500 x 10^2 W. Its PMaxType (the PMax of an
SAScheduleList entry and of a ChargingProfile entry) is a bare xs:short with no multiplier: at most 32767 W.
ISO 15118-2's PMax is a PhysicalValue.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

import evcharge
from evcharge.iso15118.engines import EvccConfig
from evcharge.iso15118.engines import events as ev
from evcharge.iso15118.engines._v2g import from_pv

from .conftest import DC, run_session, secc_config

XS = "{http://www.w3.org/2001/XMLSchema}"
DIN_TYPES = Path(evcharge.__file__).parent / "_exi" / "schemas" / "din70121" / "V2G_CI_MsgDataTypes.xsd"


def _type(name: str) -> ET.Element:
    root = ET.parse(DIN_TYPES).getroot()
    found = [t for t in root if t.get("name") == name]
    assert len(found) == 1, name
    return found[0]


def test_din_schema_types() -> None:
    """The facts the engine follows, read from the DIN schema itself."""
    pv = {e.get("name"): e.get("type") for e in _type("PhysicalValueType").iter(XS + "element")}
    assert pv["Multiplier"] == "unitMultiplierType" and pv["Value"] == "xs:short"
    mult = _type("unitMultiplierType").find(XS + "restriction")
    assert mult is not None
    bounds = {c.tag[len(XS) :]: int(c.get("value", "")) for c in mult}
    assert bounds == {"minInclusive": -3, "maxInclusive": 3}
    pmax = _type("PMaxType").find(XS + "restriction")
    assert pmax is not None and pmax.get("base") == "xs:short" and len(pmax) == 0  # no multiplier, no facets


@pytest.mark.parametrize("protocol", ["din", "iso2"])
@pytest.mark.parametrize("watts", [150_000, 350_000])
def test_large_power_whole_session(protocol: str, watts: int) -> None:
    limits = ev.DcLimits(max_voltage=920, max_current=500, max_power=watts)
    car = EvccConfig(
        energy_mode=DC,
        trace=True,
        dc_limits=ev.EvLimits(max_voltage=900, max_current=500, max_power=watts, soc=20),
    )
    _, secc, evcc = run_session(protocol, DC, secc_cfg=secc_config(DC, dc_limits=limits), evcc_cfg=car)
    assert secc.ended is not None and secc.ended.normal, secc.ended

    def bodies(name: str) -> list[Any]:
        attr = name[0].lower() + "".join("_" + c.lower() if c.isupper() else c for c in name[1:])
        return [getattr(t.message.body, attr) for t in evcc.trace if t.name == name]

    def exact(value: Any) -> None:
        assert -32768 <= value.value <= 32767 and -3 <= value.multiplier <= 3
        assert from_pv(value) == watts  # the whole power, through the multiplier: nothing clamped

    cpd_res = bodies("ChargeParameterDiscoveryRes")[-1]
    exact(cpd_res.dc_evse_charge_parameter.evse_maximum_power_limit)
    exact(bodies("ChargeParameterDiscoveryReq")[0].dc_ev_charge_parameter.ev_maximum_power_limit)
    loop = bodies("CurrentDemandRes")
    assert loop and all(from_pv(r.evse_maximum_power_limit) == watts for r in loop)
    exact(loop[0].evse_maximum_power_limit)
    exact(bodies("CurrentDemandReq")[0].ev_maximum_power_limit)

    entries = cpd_res.sa_schedule_list.sa_schedule_tuple[0].p_max_schedule.p_max_schedule_entry
    profile = bodies("PowerDeliveryReq")[0].charging_profile.profile_entry
    if protocol == "din":
        # PMaxType is a bare short (the engine writes watts): the schedule says the most it can,
        # the PhysicalValue limits above say the rest
        assert [e.p_max for e in entries] == [32767]
        assert [p.charging_profile_entry_max_power for p in profile] == [32767]
    else:
        assert [from_pv(e.p_max) for e in entries] == [watts]
        assert [from_pv(p.charging_profile_entry_max_power) for p in profile] == [watts]
