"""Configuration of the V2G engines: timers, field quirks, and what each side offers.

All frozen dataclasses; nothing is read from the environment. Timer values are the standards' (sources in
``shared/facts/v2g_slac_iec61851.md`` §2, repeated on each field); every one can be changed.

Two timer families (see :mod:`evcharge.iso15118.engines._base`):

* **enforced timeouts** end the session when they fire (:class:`SeccTimeouts`, :class:`EvccTimeouts`);
* **performance deadlines** (:class:`PerformanceTimes`) are only carried on the SECC's request events.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .events import AcLimits, DcLimits, EnergyMode, EvLimits, OfferedService, Payment, Schedule

__all__ = [
    "EvccConfig",
    "EvccTimeouts",
    "PerformanceTimes",
    "Quirks",
    "SeccConfig",
    "SeccTimeouts",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class PerformanceTimes:
    """V2G_SECC_Msg_Performance_Time: by when the SECC should answer (ISO 15118-2 Table 109,
    DIN 70121 Table 75). Shown to the application as ``RequestEvent.deadline``, never enforced."""

    default: float = 1.5  #: SessionSetup, ServiceDiscovery, Authorization, ... (EVCC timeout 2 s - 0.5 s)
    long: float = 4.5  #: ServiceDetail, PaymentDetails, PowerDelivery, CertificateInstallation/Update
    current_demand: float = 0.025  #: CurrentDemandRes — 25 ms (DIN Table 75; ecog-io/iso15118 #157)
    long_requests: frozenset[str] = frozenset(
        {"ServiceDetail", "PaymentDetails", "PowerDelivery", "CertificateInstallation", "CertificateUpdate"}
    )

    def for_request(self, request: str) -> float:
        if request == "CurrentDemand":
            return self.current_demand
        return self.long if request in self.long_requests else self.default


@dataclass(frozen=True, slots=True, kw_only=True)
class SeccTimeouts:
    """Enforced on the charger side."""

    #: V2G_SECC_Sequence_Timeout, 60 s from a response to the next request ([V2G2-443]; Table 111)
    sequence: float = 60.0
    #: V2G_SECC_Ongoing_Performance_Time — answer FAILED once Ongoing has lasted this long ([V2G2-712])
    ongoing: float = 55.0
    #: V2G_SECC_CableCheck_Performance_Time (EVCC's CableCheck timeout is 40 s)
    cable_check: float = 38.0
    #: V2G_SECC_PreCharge_Performance_Time (EVCC's PreCharge timeout is 7 s)
    pre_charge: float = 5.0
    #: close the TCP connection this long after SessionStopRes or a FAILED response (must be <= 5 s:
    #: ISO 15118-4 par_CMN_TCP_Connection_Termination_Timeout; Josev ends the data link at +2 s)
    close_delay: float = 2.0


@dataclass(frozen=True, slots=True, kw_only=True)
class EvccTimeouts:
    """Enforced on the car side: V2G_EVCC_Msg_Timeout per request (ISO 15118-2 Table 109) and the
    sequence timers (Table 111, DIN Table 76-77)."""

    default: float = 2.0
    long: float = 5.0  #: ServiceDetail, PaymentDetails, PowerDelivery, CertificateInstallation/Update
    current_demand: float = 0.25
    #: DIN's PowerDelivery timeout is 2 s, not 5 s (Josev din_spec/timeouts.py; Sevenstax/FreeV2G #250)
    din_power_delivery: float = 2.0
    ongoing: float = 60.0  #: V2G_EVCC_Ongoing_Timeout
    cable_check: float = 40.0  #: V2G_EVCC_CableCheck_Timeout
    pre_charge: float = 7.0  #: V2G_EVCC_PreCharge_Timeout
    communication_setup: float = 20.0  #: V2G_EVCC_CommunicationSetup_Timeout (used when HandOver has none)
    long_requests: frozenset[str] = frozenset(
        {"ServiceDetail", "PaymentDetails", "PowerDelivery", "CertificateInstallation", "CertificateUpdate"}
    )

    def for_request(self, request: str, *, din: bool = False) -> float:
        if request == "CurrentDemand":
            return self.current_demand
        if din and request == "PowerDelivery":
            return self.din_power_delivery
        return self.long if request in self.long_requests else self.default


@dataclass(frozen=True, slots=True, kw_only=True)
class Quirks:
    """Field behaviours as named switches (shared/facts/v2g_slac_iec61851.md §2.6), each with its source.

    The defaults are the safe choice for a charger in the field: tolerate what real cars do.
    """

    #: accept SessionStopReq in any state after SessionSetup (the standard expects it only after
    #: PowerDelivery(Stop)/WeldingDetection). Cars do it (Audi Q4 e-tron) — ecog-io/iso15118 #184, #432, PR #456.
    session_stop_in_any_state: bool = True
    #: [V2G2-847] — the car must switch CP to state C/D within 250 ms of PowerDeliveryReq(Start); real cars
    #: miss it, so a miss is reported as a warning, not an error (ecog-io/iso15118 PR #201, #282, #437).
    #: The engine learns the pilot from the station (``events.PilotObserved``) — a late C/D is a TimingWarning
    #: event with the switch on, the end of the session with it off.
    state_c_timing_as_warning: bool = True
    #: after PowerDelivery(Renegotiate) + ChargeParameterDiscovery, accept PowerDeliveryReq directly
    #: (CableCheck skipped) — some cars need it (EVerest/EVerest PR #2749). CableCheck is still accepted.
    cable_check_skipped_on_renegotiation: bool = True
    #: send the optional EVSE maximum limits in every CurrentDemandRes — renegotiation with some cars
    #: starts only when they are present (ecog-io/iso15118 #193).
    send_evse_maximum_limits: bool = True


@dataclass(frozen=True, slots=True, kw_only=True)
class SeccConfig:
    """What the charger offers and how its engine behaves."""

    evse_id: str = "DE*EVC*E0001"  #: ISO 15118-2 EVSEID (string, 7-37 chars); DIN sends ``din_evse_id``
    din_evse_id: bytes = b"\x00"  #: DIN 70121 EVSEID (hexBinary; 0x00 when unknown per DIN)
    energy_modes: tuple[EnergyMode, ...] = (EnergyMode.DC_EXTENDED,)
    payments: tuple[Payment, ...] = (Payment.EIM,)  #: Plug & Charge is offered over TLS only
    free_service: bool = False
    #: schedules when the application pushed none — one tuple at ``max power`` for 24 h
    default_schedules: tuple[Schedule, ...] = ()
    dc_limits: DcLimits | None = None  #: the limits known at start (else pushed with SetDcLimits)
    ac_limits: AcLimits | None = None
    timeouts: SeccTimeouts = field(default_factory=SeccTimeouts)
    performance: PerformanceTimes = field(default_factory=PerformanceTimes)
    quirks: Quirks = field(default_factory=Quirks)
    #: authorize EIM without asking the application (free charging, or identification done before plug-in)
    auto_authorize: bool = False
    #: the charger asks for a MeteringReceipt in ChargingStatusRes/CurrentDemandRes (with SetMeter)
    receipt_required: bool = False
    #: tolerated difference (W) between the car's ChargingProfile and the chosen PMax schedule
    profile_tolerance: float = 0.0
    trace: bool = False  #: keep every message with its time in ``engine.trace`` (for --json)
    #: Plug & Charge — checks of the contract chain and signatures (``pnc.PkiContractVerifier``); None — none
    contract_verifier: Any = None
    #: Plug & Charge — answers CertificateInstallation/Update at once (``pnc.LocalTestProvider``); None — the
    #: engine emits CertificateRequested and waits for AnswerCertificate
    certificate_provider: Any = None
    #: (ISO 15118-2) list the certificate service (ServiceID 2, ContractCertificate; ParameterSet 1 Installation,
    #: 2 Update) in ServiceDiscoveryRes whenever Plug & Charge is offered (over TLS)
    certificate_service: bool = True
    #: (ISO 15118-2) value-added services listed in ServiceDiscoveryRes and detailed in ServiceDetailRes (IDs
    #: other than 1, the charge service, and 2, the certificate service)
    services: tuple[OfferedService, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class EvccConfig:
    """The simulated or real car's side."""

    evcc_id: bytes = b"\x02\x00\x00\x00\x00\x01"  #: the EV's MAC address
    energy_mode: EnergyMode = EnergyMode.DC_EXTENDED
    payment: Payment = Payment.EIM
    dc_limits: EvLimits = field(
        default_factory=lambda: EvLimits(max_voltage=500.0, max_current=200.0, max_power=100_000.0, soc=30)
    )
    ac_limits: EvLimits = field(
        default_factory=lambda: EvLimits(max_voltage=400.0, max_current=32.0, min_current=6.0, energy_request=20_000)
    )
    #: PreCharge is done when EVSEPresentVoltage is this close to the target voltage (volts)
    pre_charge_tolerance: float = 20.0
    #: a simulated car goes on after this many PreCharge requests whatever the voltage (a simulated charger
    #: may never reach it — Josev's simulator answers 1 V); None — only the voltage counts (a real car)
    pre_charge_max_requests: int | None = None
    #: pause between two Ongoing requests, and between two charge-loop requests
    ongoing_interval: float = 0.0
    loop_interval: float = 0.0
    #: cars differ — re-run CableCheck/PreCharge after a renegotiation (False — straight to PowerDelivery)
    cable_check_on_renegotiation: bool = False
    #: a WeldingDetection request count before SessionStop (DC)
    welding_detection_requests: int = 1
    timeouts: EvccTimeouts = field(default_factory=EvccTimeouts)
    trace: bool = False
    #: Plug & Charge — the installed contract (``pnc.Contract``); None — install one with CertificateInstallation
    contract: Any = None
    #: Plug & Charge — the OEM provisioning certificate and key (``pnc.Provisioning``) for CertificateInstallation
    provisioning: Any = None
    #: Plug & Charge — renew the installed contract with CertificateUpdate before PaymentDetails
    update_contract: bool = False
    #: (ISO 15118-2) ask ServiceDetailReq for these ServiceIDs, in this order, between ServiceDiscoveryRes and
    #: PaymentServiceSelectionReq (e.g. ``(2,)``, the certificate service, before an installation or update;
    #: a value-added service's ID). Each answer is a ServiceDetailReceived event. DIN 70121 has no ServiceDetail:
    #: not asked in a DIN session.
    service_details: tuple[int, ...] = ()
    #: Plug & Charge — the V2G roots (PEM/DER bytes) the SA provisioning chain of a certificate response must
    #: reach, and whose leaf must have signed it; None — the response is taken unchecked
    v2g_roots: bytes | None = None
