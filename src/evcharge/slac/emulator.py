"""A powerline-modem emulator: both SLAC sides on one machine, without HomePlug modems.

Two pieces, both sans-I/O:

* :class:`ModemEmulator` stands in for one host's modem.  It answers what a QCA7000/7005 answers
  itself (CM_SET_KEY.REQ, and the vendor VS_SW_VER / VS_LINK_STATUS / VS_RS_DEV requests), passes
  every other frame to the line, and turns each M-sound it hears on the line into a
  CM_ATTEN_PROFILE.IND for its host, with the attenuation profile of that path.  The raw-socket
  transport can put one in front of a real interface (``--emulate-modem`` on the command line), so
  two hosts on an Ethernet link (or a veth pair) run SLAC as if they had modems.
* :class:`PowerlineEmulator` is a simulated medium with a virtual clock: attach any number of
  machines (several chargers and cars: crosstalk), give each path an attenuation, and drop, delay
  or duplicate frames with :class:`Impairment` rules.  :meth:`PowerlineEmulator.run` drives the
  machines' timers and frames until a condition holds; no real time passes.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from evcharge.slac.errors import LocalProtocolError, MessageError
from evcharge.slac.events import SlacEvent
from evcharge.slac.messages import (
    AAG_GROUPS,
    BROADCAST_MAC,
    QCA_LOCAL_MAC,
    CmAttenProfileInd,
    CmMnbcSoundInd,
    CmSetKeyCnf,
    CmSetKeyReq,
    Frame,
    VsLinkStatusCnf,
    VsLinkStatusReq,
    VsRsDevCnf,
    VsRsDevReq,
    VsSwVerCnf,
    VsSwVerReq,
    decode_frame,
    encode_frame,
)

__all__ = ["Impairment", "ModemConfig", "ModemEmulator", "PowerlineEmulator", "SlacMachine", "Station"]


class SlacMachine(Protocol):
    """What the emulator needs from a machine (both :class:`~evcharge.slac.evse.EvseSlac` and the PEV have it)."""

    mac: bytes

    def receive_data(self, data: bytes, now: float) -> None: ...
    def data_to_send(self) -> list[bytes]: ...
    def next_event(self) -> SlacEvent | None: ...
    def get_timer(self) -> float | None: ...
    def handle_timer(self, now: float) -> None: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class ModemConfig:
    """How an emulated modem behaves."""

    #: The modem's own MAC (source of its answers and of CM_ATTEN_PROFILE.IND).
    mac: bytes = b"\x00\xb0\x52\x00\x00\x02"
    #: Result code of CM_SET_KEY.CNF (0 = success; some QCA firmware answers 1).
    set_key_result: int = 0
    #: Answer CM_SET_KEY.REQ at all (False emulates a dead or busy modem).
    answer_set_key: bool = True
    #: Firmware version text of VS_SW_VER.CNF.
    firmware: str = "evcharge-emulated-QCA7000-1.0"


class ModemEmulator:
    """One host's emulated powerline modem (see the module documentation)."""

    def __init__(self, config: ModemConfig, *, host_mac: bytes) -> None:
        if len(host_mac) != 6 or len(config.mac) != 6:
            raise LocalProtocolError("host_mac and ModemConfig.mac must be 6 bytes")
        self.config = config
        self.host_mac = bytes(host_mac)
        self.nid: bytes | None = None
        self.nmk: bytes | None = None
        self.resets = 0

    def _is_for_me(self, dst: bytes) -> bool:
        return dst in (QCA_LOCAL_MAC, self.config.mac)

    def host_to_line(self, data: bytes) -> tuple[list[bytes], list[bytes]]:
        """A frame the host wrote: returns (frames for the line, answers for the host)."""
        try:
            frame = decode_frame(data)
        except MessageError:
            return [data], []  # the modem bridges what it does not understand
        if not self._is_for_me(frame.dst):
            return [data], []
        answer = self._answer(frame)
        return [], [] if answer is None else [answer]

    def _answer(self, frame: Frame) -> bytes | None:
        msg = frame.message
        src = self.config.mac
        if isinstance(msg, CmSetKeyReq):
            if not self.config.answer_set_key:
                return None
            self.nid, self.nmk = msg.nid, msg.new_key
            cnf = CmSetKeyCnf(
                result=self.config.set_key_result,
                my_nonce=msg.your_nonce,
                your_nonce=msg.my_nonce,
                pid=msg.pid,
                prn=msg.prn,
                pmn=msg.pmn,
                cco_capability=msg.cco_capability,
            )
            return encode_frame(frame.src, src, cnf)
        if isinstance(msg, VsSwVerReq):
            return encode_frame(frame.src, src, VsSwVerCnf.make(self.config.firmware, device_id=0x20))
        if isinstance(msg, VsLinkStatusReq):
            return encode_frame(frame.src, src, VsLinkStatusCnf(link_status=1 if self.nmk else 0))
        if isinstance(msg, VsRsDevReq):
            self.resets += 1
            self.nid = self.nmk = None
            return encode_frame(frame.src, src, VsRsDevCnf(status=0))
        return None

    def line_to_host(self, data: bytes, attenuation: Sequence[int]) -> list[bytes]:
        """A frame heard on the line: what the host receives (an M-sound adds a CM_ATTEN_PROFILE.IND)."""
        out = [data]
        try:
            frame = decode_frame(data)
        except MessageError:
            return out
        if isinstance(frame.message, CmMnbcSoundInd):
            profile = CmAttenProfileInd(pev_mac=frame.src, aag=tuple(attenuation))
            out.append(encode_frame(self.host_mac, self.config.mac, profile))
        return out


@dataclass(frozen=True, slots=True, kw_only=True)
class Impairment:
    """A rule that drops, delays or duplicates matching frames on their way to one receiving host.

    A frame matches when every given criterion holds: ``mmtype``, the sending host ``src``, and the
    receiving station ``to`` (its name).  ``drop`` holds the 1-based numbers of the matching frames
    (counted per receiving station) that are lost; ``drop_probability`` loses others at random.
    """

    mmtype: int | None = None
    src: bytes | None = None
    to: str | None = None
    drop: frozenset[int] = field(default_factory=frozenset)
    drop_probability: float = 0.0
    delay: float = 0.0
    duplicate: bool = False


@dataclass(slots=True)
class Station:
    """A machine attached to the simulated medium, with its modem and the events it reported."""

    name: str
    machine: SlacMachine
    modem: ModemEmulator
    events: list[SlacEvent] = field(default_factory=list)
    received: int = 0


class PowerlineEmulator:
    """A simulated powerline medium with a virtual clock (see the module documentation)."""

    def __init__(
        self,
        *,
        rng: random.Random,
        latency: float = 0.002,
        default_attenuation: int = 20,
        attenuation_jitter: int = 0,
        impairments: Sequence[Impairment] = (),
        start: float = 0.0,
    ) -> None:
        self.now = start
        self._rng = rng
        self.latency = latency
        self.default_attenuation = default_attenuation
        self.attenuation_jitter = attenuation_jitter
        self.impairments = tuple(impairments)
        self.stations: dict[str, Station] = {}
        self._paths: dict[tuple[str, str], int] = {}
        self._queue: list[tuple[float, int, str, bytes, str]] = []
        self._seq = 0
        self._counts: dict[tuple[int, str], int] = {}
        #: Every frame put on the line, as (time, sending station, frame) -- the capture of the medium.
        self.capture: list[tuple[float, str, bytes]] = []
        #: What a sniffer on each host's interface sees -- (time, station, frame) for every frame the
        #: machine wrote (to the line or to its modem) and every frame its modem handed it.
        self.host_capture: list[tuple[float, str, bytes]] = []

    def attach(self, name: str, machine: SlacMachine, *, modem: ModemConfig | None = None) -> Station:
        """Put a machine on the medium behind an emulated modem."""
        if name in self.stations:
            raise LocalProtocolError(f"station {name!r} is already attached")
        config = modem or ModemConfig(mac=b"\x00\xb0\x52" + machine.mac[3:])
        station = Station(name, machine, ModemEmulator(config, host_mac=machine.mac))
        self.stations[name] = station
        return station

    def set_attenuation(self, a: str, b: str, db: int) -> None:
        """Attenuation in dB of the path between two stations (both directions)."""
        if not 0 <= db <= 0xFF:
            raise LocalProtocolError("attenuation is 0..255 dB")
        self._paths[(a, b)] = self._paths[(b, a)] = db

    def profile(self, sender: str, receiver: str) -> tuple[int, ...]:
        """One attenuation profile (58 carrier groups) for a sound from ``sender`` heard by ``receiver``."""
        base = self._paths.get((sender, receiver), self.default_attenuation)
        jitter = self.attenuation_jitter
        return tuple(
            max(0, min(255, base + (self._rng.randint(-jitter, jitter) if jitter else 0))) for _ in range(AAG_GROUPS)
        )

    # ------------------------------------------------------------------ the event loop
    def _schedule(self, when: float, kind: str, data: bytes, station: str) -> None:
        self._seq += 1
        heapq.heappush(self._queue, (when, self._seq, kind, data, station))

    def _flush(self) -> None:
        """Move what every machine wants to send onto its modem and the line."""
        for station in self.stations.values():
            for data in station.machine.data_to_send():
                self.host_capture.append((self.now, station.name, data))
                to_line, to_host = station.modem.host_to_line(data)
                for answer in to_host:
                    self._schedule(self.now + self.latency, "host", answer, station.name)
                for frame in to_line:
                    self._put_on_line(station, frame)
            while (event := station.machine.next_event()) is not None:
                station.events.append(event)

    def _put_on_line(self, sender: Station, data: bytes) -> None:
        self.capture.append((self.now, sender.name, data))
        dst = data[0:6]
        for receiver in self.stations.values():
            if receiver is sender:
                continue
            if dst != receiver.machine.mac and dst != BROADCAST_MAC:
                continue
            copies, delay = self._impair(sender, receiver, data)
            for _ in range(copies):
                self._schedule(self.now + self.latency + delay, "line:" + sender.name, data, receiver.name)

    def _impair(self, sender: Station, receiver: Station, data: bytes) -> tuple[int, float]:
        mmtype = data[15] | (data[16] << 8) if len(data) >= 17 else -1
        copies, delay = 1, 0.0
        for index, rule in enumerate(self.impairments):
            if rule.mmtype is not None and rule.mmtype != mmtype:
                continue
            if rule.src is not None and rule.src != sender.machine.mac:
                continue
            if rule.to is not None and rule.to != receiver.name:
                continue
            key = (index, receiver.name)
            self._counts[key] = number = self._counts.get(key, 0) + 1
            if number in rule.drop or (rule.drop_probability and self._rng.random() < rule.drop_probability):
                return 0, 0.0
            delay += rule.delay
            if rule.duplicate:
                copies = 2
        return copies, delay

    def step(self) -> bool:
        """Advance to the next frame delivery or timer and process it; False when nothing is left."""
        self._flush()
        next_time = self._queue[0][0] if self._queue else None
        for station in self.stations.values():
            timer = station.machine.get_timer()
            if timer is not None and (next_time is None or timer < next_time):
                next_time = timer
        if next_time is None:
            return False
        self.now = max(self.now, next_time)
        while self._queue and self._queue[0][0] <= self.now:
            _when, _seq, kind, data, name = heapq.heappop(self._queue)
            station = self.stations[name]
            if kind == "host":
                frames = [data]
            else:
                sender = kind.split(":", 1)[1]
                frames = station.modem.line_to_host(data, self.profile(sender, name))
            for frame in frames:
                station.received += 1
                self.host_capture.append((self.now, name, frame))
                station.machine.receive_data(frame, self.now)
        for station in self.stations.values():
            timer = station.machine.get_timer()
            if timer is not None and timer <= self.now:
                station.machine.handle_timer(self.now)
        self._flush()
        return True

    def run(self, *, until: float, stop: Callable[[], bool] | None = None) -> float:
        """Run until virtual time ``until``, until ``stop()`` is true, or until nothing is pending."""
        self._flush()
        while not (stop and stop()):
            if not self._queue and all(s.machine.get_timer() is None for s in self.stations.values()):
                break
            next_time = self._queue[0][0] if self._queue else float("inf")
            for station in self.stations.values():
                timer = station.machine.get_timer()
                if timer is not None:
                    next_time = min(next_time, timer)
            if next_time > until:
                self.now = until
                break
            self.step()
        return self.now
