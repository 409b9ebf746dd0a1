"""PN532 frames, the reader core against the simulator (sans-I/O and over a real pty)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evcharge.bsp.errors import LocalProtocolError
from evcharge.bsp.events import Start
from evcharge.bsp.transport.pty import PtySimulator
from evcharge.bsp.yak.pn532 import (
    ACK,
    NACK,
    WAKE_UP,
    CardDetected,
    CardRemoved,
    FirmwareVersion,
    FrameParser,
    Item,
    ItemKind,
    Pn532Config,
    Pn532Reader,
    ReaderError,
    ReaderEvent,
    ReaderReady,
    ReaderState,
    build_frame,
    command_frame,
)
from evcharge.bsp.yak.pn532_simulator import Pn532Simulator, SimulatedCard

UID7 = bytes.fromhex("04a2b3c4d5e680")
UID4 = bytes.fromhex("deadbeef")


def test_frame_vectors_from_the_user_manual() -> None:
    # GetFirmwareVersion command and answer (PN532 user manual, HSU examples)
    assert command_frame(0x02) == bytes.fromhex("0000ff02fed4022a00")
    assert build_frame(0xD5, bytes.fromhex("0332010607")) == bytes.fromhex("0000ff06fad50332010607e800")
    assert command_frame(0x14, b"\x01\x00\x01") == bytes.fromhex("0000ff05fbd4140100011600")
    assert command_frame(0x4A, b"\x01\x00") == bytes.fromhex("0000ff04fcd44a0100e100")
    assert ACK == bytes.fromhex("0000ff00ff00")
    assert NACK == bytes.fromhex("0000ffff0000")
    assert WAKE_UP[:2] == b"\x55\x55" and set(WAKE_UP[2:]) == {0}
    with pytest.raises(LocalProtocolError):
        build_frame(0xD4, bytes(255))


def test_parser_finds_items_between_garbage() -> None:
    answer = build_frame(0xD5, bytes.fromhex("0332010607"))
    bad = bytearray(answer)
    bad[-2] ^= 1
    stream = b"\x13\x00\x37" + ACK + b"\xff\xff" + answer + bytes(bad) + NACK + bytes.fromhex("0000ff01ff7f8100")
    parser = FrameParser()
    items: list[Item] = []
    for i in range(0, len(stream), 3):  # arbitrary chunking
        items += parser.feed(stream[i : i + 3])
    assert [i.kind for i in items] == [
        ItemKind.ACK,
        ItemKind.FRAME,
        ItemKind.BAD_CHECKSUM,
        ItemKind.NACK,
        ItemKind.ERROR,
    ]
    assert items[1] == Item(ItemKind.FRAME, 0xD5, bytes.fromhex("0332010607"))


def test_parser_rejects_wrong_length_checksum() -> None:
    parser = FrameParser()
    frame = bytearray(build_frame(0xD5, b"\x03\x01\x02\x03\x04"))
    frame[4] ^= 0x10  # LCS wrong
    assert parser.feed(bytes(frame)) == []
    good = build_frame(0xD5, b"\x15")
    assert parser.feed(good) == [Item(ItemKind.FRAME, 0xD5, b"\x15")]


@pytest.mark.fuzz
@given(st.binary(max_size=500), st.binary(min_size=1, max_size=40))
def test_parser_survives_noise_and_then_reads_good_frames(noise: bytes, body: bytes) -> None:
    parser = FrameParser()
    parser.feed(noise)
    frame = build_frame(0xD5, body)
    # a complete good frame after noise is found, possibly after items made from the noise
    # (a half frame in the noise may swallow it: give the parser a second copy)
    items = parser.feed(frame + frame)
    assert Item(ItemKind.FRAME, 0xD5, body) in items


class Bench:
    """Reader core <-> simulator with a fake clock."""

    def __init__(self, config: Pn532Config | None = None) -> None:
        self.now = 0.0
        self.reader = Pn532Reader(config)
        self.sim = Pn532Simulator()
        self.events: list[ReaderEvent] = []

    def pump(self) -> None:
        for _ in range(20):
            a = b"".join(self.reader.data_to_send())
            if a:
                self.sim.receive_data(a, self.now)
            b = self.sim.data_to_send()
            if b:
                self.reader.receive_data(b, self.now)
            while (e := self.reader.next_event()) is not None:
                self.events.append(e)
            if not a and not b:
                return

    def run(self, seconds: float) -> None:
        end = self.now + seconds
        self.pump()
        while True:
            t = self.reader.get_timer()
            if t is None or t > end:
                self.now = end
                return
            self.now = max(self.now, t)
            self.reader.handle_timer(self.now)
            self.pump()


def test_start_up_sequence_and_card_in_and_out() -> None:
    b = Bench()
    b.reader.send(Start(), 0.0)
    b.run(0.1)
    assert b.sim.awake and b.sim.sam_configured
    assert b.sim.commands[:3] == [0x14, 0x02, 0x32]
    assert b.sim.passive_activation_retries == 0x02
    assert b.events == [ReaderReady(FirmwareVersion(0x32, 1, 6, 7), 0.0)]
    assert b.reader.state is ReaderState.POLLING
    b.events.clear()
    b.run(2.0)
    assert b.events == []  # polling, no card
    b.sim.present_card(SimulatedCard(UID7, b"\x00\x44", 0x00))
    b.run(1.0)
    assert len(b.events) == 1
    detected = b.events[0]
    assert isinstance(detected, CardDetected)
    assert detected.uid == UID7 and detected.token == "04A2B3C4D5E680"
    assert detected.sens_res == b"\x00\x44"
    b.run(3.0)
    assert len(b.events) == 1  # still there: no repeated event
    b.sim.remove_card()
    b.run(1.0)
    assert isinstance(b.events[-1], CardRemoved) and b.events[-1].uid == UID7
    # a different card right away
    b.sim.present_card(SimulatedCard(UID4, b"\x00\x04", 0x08))
    b.run(1.0)
    assert isinstance(b.events[-1], CardDetected) and b.events[-1].token == "DEADBEEF"


def test_card_swapped_between_polls() -> None:
    b = Bench()
    b.reader.send(Start(), 0.0)
    b.sim.present_card(SimulatedCard(UID4))
    b.run(1.0)
    b.sim.present_card(SimulatedCard(UID7))
    b.run(1.0)
    kinds = [(type(e).__name__, getattr(e, "uid", None)) for e in b.events[1:]]
    assert kinds == [("CardDetected", UID4), ("CardRemoved", UID4), ("CardDetected", UID7)]


def test_bad_checksum_answer_is_nacked_and_resent() -> None:
    b = Bench()
    b.reader.send(Start(), 0.0)
    b.sim.corrupt_next_answers(1)
    b.run(0.1)
    assert b.reader.checksum_errors == 1
    assert isinstance(b.events[0], ReaderReady)


def test_silent_reader_is_an_error_and_is_reinitialised() -> None:
    b = Bench()
    b.reader.send(Start(), 0.0)
    b.sim.present_card(SimulatedCard(UID4))
    b.run(1.0)
    b.sim.go_silent()
    b.run(5.0)
    assert any(isinstance(e, ReaderError) for e in b.events)
    assert any(isinstance(e, CardRemoved) for e in b.events)
    b.sim.go_silent(False)
    b.events.clear()
    b.run(3.0)
    assert isinstance(b.events[0], ReaderReady)
    assert isinstance(b.events[1], CardDetected)


def test_unknown_command_error_frame() -> None:
    reader = Pn532Reader()
    reader.send(Start(), 0.0)
    reader.data_to_send()
    reader.receive_data(ACK + bytes.fromhex("0000ff01ff7f8100"), 0.1)
    ev = reader.next_event()
    assert isinstance(ev, ReaderError) and "application error" in ev.detail


def test_reader_without_retry_limit_waits_for_the_card() -> None:
    b = Bench(Pn532Config(passive_activation_retries=None, response_timeout=100.0))
    b.reader.send(Start(), 0.0)
    b.run(2.0)
    assert b.sim.commands == [0x14, 0x02, 0x4A]
    b.sim.present_card(SimulatedCard(UID4))
    b.pump()
    assert isinstance(b.events[-1], CardDetected)


def test_reader_over_a_pty() -> None:
    pytest.importorskip("serial")
    from evcharge.bsp.yak.transport.serial import Pn532SerialReader

    sim = Pn532Simulator()
    with PtySimulator(sim) as pty, Pn532SerialReader(pty.port, Pn532Config(poll_interval=0.1)) as reader:
        ev = reader.next_event(timeout=20)
        assert isinstance(ev, ReaderReady) and ev.firmware.ic == 0x32
        pty.call(lambda s, n: s.present_card(SimulatedCard(UID7)))
        ev = reader.next_event(timeout=20)
        assert isinstance(ev, CardDetected) and ev.token == "04A2B3C4D5E680"
        pty.call(lambda s, n: s.remove_card())
        ev = reader.next_event(timeout=20)
        assert isinstance(ev, CardRemoved) and ev.uid == UID7
    assert reader.failure is None and pty.error is None


@pytest.mark.fuzz
@given(st.lists(st.binary(max_size=80), max_size=10), st.lists(st.floats(0.0, 3.0), max_size=10))
def test_reader_core_survives_any_bytes(chunks: list[bytes], delays: list[float]) -> None:
    reader = Pn532Reader()
    reader.send(Start(), 0.0)
    now = 0.0
    for i, chunk in enumerate(chunks):
        now += delays[i] if i < len(delays) else 0.1
        reader.receive_data(chunk, now)
        reader.handle_timer(now)
        reader.data_to_send()
    while reader.next_event() is not None:
        pass
