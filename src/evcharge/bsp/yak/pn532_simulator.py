"""A sans-I/O PN532 simulator (HSU): wake-up, ACKs, SAMConfiguration, GetFirmwareVersion, RFConfiguration and
InListPassiveTarget for ISO 14443-A cards that a test puts into and takes out of the field.

Like the chip, it ignores frames until woken by ``0x55``, ignores frames with a bad checksum (no ACK), answers an
unknown command with the application error frame, resends its last answer on a NACK, and with the default
MxRtyPassiveActivation (0xFF) holds an InListPassiveTarget until a card appears.  Run it on a pseudo-terminal
with :class:`evcharge.bsp.transport.pty.PtySimulator`.
"""

from __future__ import annotations

from dataclasses import dataclass

from evcharge.bsp.yak.pn532 import (
    ACK,
    CMD_GET_FIRMWARE_VERSION,
    CMD_IN_LIST_PASSIVE_TARGET,
    CMD_RF_CONFIGURATION,
    CMD_SAM_CONFIGURATION,
    ERROR_FRAME,
    TFI_HOST,
    TFI_READER,
    FrameParser,
    ItemKind,
    build_frame,
)


@dataclass(frozen=True, slots=True)
class SimulatedCard:
    """An ISO 14443-A card: UID (4, 7 or 10 bytes), SENS_RES (ATQA) and SEL_RES (SAK)."""

    uid: bytes
    sens_res: bytes = b"\x00\x44"
    sel_res: int = 0x00


class Pn532Simulator:
    """The PN532 as seen from its UART."""

    def __init__(self, *, ic: int = 0x32, version: int = 1, revision: int = 6, support: int = 7) -> None:
        self.firmware = (ic, version, revision, support)
        self._parser = FrameParser()
        self._out = bytearray()
        self.awake = False
        self.sam_configured = False
        self.passive_activation_retries = 0xFF
        self.card: SimulatedCard | None = None
        self.commands: list[int] = []  #: command codes received, for tests
        self._held_poll = False
        self._last_answer: bytes | None = None
        self._silent = False
        self._corrupt_next = 0

    # ---------------------------------------------------------------- the test's hands
    def present_card(self, card: SimulatedCard) -> None:
        """Put a card into the field."""
        self.card = card
        if self._held_poll:
            self._held_poll = False
            self._answer(CMD_IN_LIST_PASSIVE_TARGET, self._targets())

    def remove_card(self) -> None:
        """Take the card away."""
        self.card = None

    def go_silent(self, silent: bool = True) -> None:
        """Stop answering (a disconnected or dead reader)."""
        self._silent = silent

    def corrupt_next_answers(self, count: int) -> None:
        """Send the next ``count`` answers with a wrong data checksum."""
        self._corrupt_next += count

    # ---------------------------------------------------------------- sans-I/O
    def power_up(self, now: float) -> None:
        """Power on: the chip sleeps until woken."""
        self.awake = False

    def data_to_send(self) -> bytes:
        """Bytes the reader writes."""
        data = bytes(self._out)
        self._out.clear()
        return data

    def get_timer(self) -> float | None:
        """The simulator has no timers: it answers at once."""
        return None

    def handle_timer(self, now: float) -> None:
        """Nothing to do."""

    def receive_data(self, data: bytes, now: float) -> None:
        """Bytes the host wrote."""
        if self._silent:
            return
        if not self.awake:
            idx = data.find(b"\x55")
            if idx < 0:
                return
            self.awake = True
            data = data[idx:]
        for item in self._parser.feed(data):
            if item.kind is ItemKind.NACK and self._last_answer is not None:
                self._out += self._last_answer
            elif item.kind is ItemKind.ACK:
                self._held_poll = False  # the host aborts the running command
            elif item.kind is ItemKind.FRAME and item.tfi == TFI_HOST and item.data:
                self._command(item.data[0], item.data[1:])

    def _command(self, command: int, params: bytes) -> None:
        self.commands.append(command)
        self._out += ACK
        if command == CMD_SAM_CONFIGURATION:
            self.sam_configured = True
            self._answer(command, b"")
        elif command == CMD_GET_FIRMWARE_VERSION:
            self._answer(command, bytes(self.firmware))
        elif command == CMD_RF_CONFIGURATION and len(params) >= 4 and params[0] == 0x05:
            self.passive_activation_retries = params[3]
            self._answer(command, b"")
        elif command == CMD_IN_LIST_PASSIVE_TARGET and len(params) >= 2 and params[1] == 0x00:
            if self.card is None and self.passive_activation_retries == 0xFF:
                self._held_poll = True  # retries forever until a card comes
                return
            self._answer(command, self._targets())
        else:
            self._out += ERROR_FRAME

    def _targets(self) -> bytes:
        card = self.card
        if card is None:
            return b"\x00"
        return b"\x01\x01" + card.sens_res + bytes([card.sel_res, len(card.uid)]) + card.uid

    def _answer(self, command: int, data: bytes) -> None:
        frame = build_frame(TFI_READER, bytes([command + 1]) + data)
        self._last_answer = frame
        if self._corrupt_next > 0:
            self._corrupt_next -= 1
            frame = frame[:-2] + bytes([(frame[-2] + 1) & 0xFF]) + frame[-1:]
        self._out += frame
