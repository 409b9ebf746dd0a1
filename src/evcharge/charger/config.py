"""Configuration of the EVSE manager: one frozen dataclass, defaults from the standards."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from evcharge.iec61851 import ChargerConfig, ChargingMode
from evcharge.iso15118.engines.config import SeccConfig
from evcharge.iso15118.engines.events import DcLimits, EnergyMode, Payment
from evcharge.iso15118.session import SeccSessionConfig
from evcharge.slac.config import EvseConfig

__all__ = ["EvseManagerConfig"]


@dataclass(frozen=True, slots=True, kw_only=True)
class EvseManagerConfig:
    """What one EVSE of a charger is and how its manager behaves.

    ``energy`` is ``"dc"`` (a DC power supply and an isolation monitor are given to the manager), ``"dc-bpt"``
    (DC with bidirectional power transfer, ISO 15118-20) or ``"ac"``. ``payments``: what the SECC offers
    (Plug & Charge only over TLS). ``free_charging``: authorize every session without asking the CSMS.
    ``profile_wait``: how long ChargeParameterDiscovery stays ``Ongoing`` after NotifyEVChargingNeeds for
    the CSMS's SetChargingProfile (then the charger's own limits are offered). ``meter_interval``: the
    TransactionEvent ``MeterValuePeriodic`` period while charging (OCPP 2.0.1 SampledDataTxUpdatedInterval).
    """

    evse_id: int = 1
    connector_id: int = 1
    energy: str = "dc"
    dc_limits: DcLimits = field(
        default_factory=lambda: DcLimits(max_voltage=920.0, max_current=200.0, max_power=150_000.0,
                                         min_voltage=150.0, min_current=0.0, peak_current_ripple=2.0)
    )
    ac_max_current: float = 32.0
    ac_phases: int = 3
    ac_voltage: float = 230.0
    payments: tuple[Payment, ...] = (Payment.EIM,)
    free_charging: bool = False
    #: the SECC engine's base configuration (EVSEID, timers, quirks, trace); energy modes, payments and limits
    #: are set by the manager
    secc: SeccConfig = field(default_factory=SeccConfig)
    #: ISO 15118-20 Plug & Charge trust (an :class:`~evcharge.iso15118.engines.iso20.pnc.PncTrust`: the MO roots;
    #: its ``provider`` None sends CertificateInstallation to the CSMS as Get15118EVCertificate); None: no -20 PnC
    iso20_pnc: Any = None
    session: SeccSessionConfig = field(default_factory=SeccSessionConfig)
    slac: EvseConfig = field(default_factory=EvseConfig)
    pilot: ChargerConfig = field(default_factory=lambda: ChargerConfig(mode=ChargingMode.HLC))
    profile_wait: float = 1.0
    meter_interval: float = 10.0
    #: the voltage of the CableCheck isolation test, or None for the lower of the car's and the charger's
    #: maximum voltage
    cable_check_voltage: float | None = None
    #: the PreCharge current limit, at most 2 A in IEC 61851-23
    pre_charge_current: float = 2.0
    #: the output trips above the car's maximum voltage plus this margin, in volts
    over_voltage_margin: float = 10.0

    @property
    def energy_modes(self) -> tuple[EnergyMode, ...]:
        if self.energy == "ac":
            return (EnergyMode.AC_THREE_PHASE if self.ac_phases == 3 else EnergyMode.AC_SINGLE_PHASE,)
        return (EnergyMode.DC_EXTENDED, EnergyMode.DC_CORE)

    def __post_init__(self) -> None:
        if self.energy not in ("ac", "dc", "dc-bpt"):
            raise ValueError(f"energy {self.energy!r}: ac, dc or dc-bpt")
