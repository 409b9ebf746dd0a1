"""One charger, every protocol: :func:`evcharge.iso15118.engines.secc_engines` is the single mapping a SeccSession
needs to hand each connection to the DIN 70121, ISO 15118-2 or ISO 15118-20 engine that SupportedAppProtocol
chose (the whole sessions over a real port: test_cli.py::test_one_port_for_din_iso2_and_iso20)."""

from __future__ import annotations

from typing import Any

import pytest

from evcharge.iso15118.engines import EvccConfig, Secc, SeccConfig, evcc_factory, secc_engines
from evcharge.iso15118.engines import events as ev
from evcharge.iso15118.engines.iso20 import EnergyService, Iso20EvccConfig, Iso20Secc, Iso20SeccConfig
from evcharge.iso15118.handover import AppProtocol
from evcharge.iso15118.sap import OfferedProtocol, SupportedProtocol
from evcharge.iso15118.session import EvccSession, EvccSessionConfig, SeccSession, SeccSessionConfig

DC = SeccConfig(energy_modes=(ev.EnergyMode.DC_EXTENDED,))
AC = SeccConfig(energy_modes=(ev.EnergyMode.AC_THREE_PHASE,))


def _negotiate(engines: dict[AppProtocol, Any], offered: AppProtocol) -> tuple[SeccSession, EvccSession]:
    secc = SeccSession(
        SeccSessionConfig(protocols=tuple(SupportedProtocol(protocol=p) for p in engines)), engines, now=0.0
    )

    car = evcc_factory(
        EvccConfig(energy_mode=ev.EnergyMode.DC_EXTENDED),
        iso20=Iso20EvccConfig(service=EnergyService.DC if offered is AppProtocol.ISO20_DC else EnergyService.AC),
    )
    evcc = EvccSession(
        EvccSessionConfig(protocols=(OfferedProtocol(protocol=offered, schema_id=7, priority=1),)),
        {offered: car},
        now=0.0,
    )
    for _ in range(4):
        secc.receive_data(b"".join(evcc.data_to_send()), 0.0)
        evcc.receive_data(b"".join(secc.data_to_send()), 0.0)
    return secc, evcc


def test_one_mapping_for_every_protocol() -> None:
    engines = secc_engines(DC, Iso20SeccConfig(services=(EnergyService.DC, EnergyService.AC_BPT)))
    assert set(engines) == {AppProtocol.DIN, AppProtocol.ISO2, AppProtocol.ISO20_DC, AppProtocol.ISO20_AC}


@pytest.mark.parametrize(
    ("offered", "kind", "protocol"),
    [
        (AppProtocol.DIN, Secc, "din"),
        (AppProtocol.ISO2, Secc, "iso2"),
        (AppProtocol.ISO20_DC, Iso20Secc, "iso20"),
        (AppProtocol.ISO20_AC, Iso20Secc, "iso20"),
    ],
)
def test_sap_hands_the_connection_to_the_chosen_engine(offered: AppProtocol, kind: type, protocol: str) -> None:
    config20 = Iso20SeccConfig(services=(EnergyService.DC, EnergyService.AC))
    secc, evcc = _negotiate(secc_engines(DC, config20), offered)
    engine: Any = secc.engine
    assert isinstance(engine, kind) and engine.protocol == protocol
    assert engine.handover.protocol is offered and engine.handover.schema_id == 7
    assert engine.config is (config20 if protocol == "iso20" else DC)  # each engine with its own configuration
    # the car's SessionSetupReq reached that engine and its answer the car: both hold the charger's SessionID
    car: Any = evcc.engine
    assert engine.session_id and car.session_id == engine.session_id


def test_din_is_not_offered_by_an_ac_charger() -> None:
    """DIN 70121 is DC only: an AC-only configuration leaves it out, and a DIN car is refused in SAP."""
    engines = secc_engines(AC, Iso20SeccConfig(services=(EnergyService.AC,)))
    assert set(engines) == {AppProtocol.ISO2, AppProtocol.ISO20_AC}
    secc, _ = _negotiate(engines, AppProtocol.DIN)
    assert secc.engine is None


def test_a_subset_and_a_wrong_name() -> None:
    assert set(secc_engines(DC, protocols=("iso20",))) == {AppProtocol.ISO20_DC, AppProtocol.ISO20_AC}
    with pytest.raises(ValueError, match="iso15"):
        secc_engines(DC, protocols=("iso15",))
