"""Shared helpers for the SLAC tests: MACs, machine factories, capture readers."""

from __future__ import annotations

import random
from collections.abc import Sequence

from evcharge.slac.config import EvseConfig, PevConfig
from evcharge.slac.emulator import Impairment, PowerlineEmulator, Station
from evcharge.slac.events import Matched, SlacEvent, StartMatching
from evcharge.slac.evse import EvseSlac
from evcharge.slac.messages import Message, MMType, decode_frame
from evcharge.slac.pev import PevSlac

EVSE_MAC = bytes.fromhex("02e5e5000001")
EVSE2_MAC = bytes.fromhex("02e5e5000002")
PEV_MAC = bytes.fromhex("02ee00000001")
PEV2_MAC = bytes.fromhex("02ee00000002")


def matched(station: Station) -> Matched | None:
    for event in station.events:
        if isinstance(event, Matched):
            return event
    return None


def of_type(events: Sequence[SlacEvent], kind: type) -> list[SlacEvent]:
    return [e for e in events if isinstance(e, kind)]


def sent(emu: PowerlineEmulator, mmtype: int, by: str | None = None) -> list[tuple[float, Message]]:
    """Messages of one type put on the line (optionally by one station), with their send times."""
    out = []
    for when, name, data in emu.capture:
        if by is not None and name != by:
            continue
        frame = decode_frame(data)
        if frame.message.MMTYPE == mmtype:
            out.append((when, frame.message))
    return out


def pair(
    *,
    seed: int = 1,
    evse_config: EvseConfig | None = None,
    pev_config: PevConfig | None = None,
    impairments: Sequence[Impairment] = (),
    attenuation: int = 20,
    jitter: int = 0,
) -> tuple[PowerlineEmulator, Station, Station]:
    rng = random.Random(seed)
    emu = PowerlineEmulator(rng=rng, impairments=impairments, default_attenuation=attenuation,
                            attenuation_jitter=jitter)
    evse = emu.attach("evse", EvseSlac(evse_config or EvseConfig(), mac=EVSE_MAC, rng=rng))
    pev = emu.attach("pev", PevSlac(pev_config or PevConfig(), mac=PEV_MAC, rng=rng))
    return emu, evse, pev


def start_both(emu: PowerlineEmulator, evse: Station, pev: Station, *, pev_delay: float = 0.5) -> None:
    evse.machine.send(StartMatching(), emu.now)  # type: ignore[attr-defined]
    emu.run(until=emu.now + pev_delay)
    pev.machine.send(StartMatching(), emu.now)  # type: ignore[attr-defined]


def run_until_both_matched(emu: PowerlineEmulator, *stations: Station, limit: float = 60.0) -> None:
    emu.run(until=emu.now + limit, stop=lambda: all(matched(s) for s in stations))


MNBC = MMType.CM_MNBC_SOUND_IND
