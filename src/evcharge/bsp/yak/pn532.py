"""NXP PN532 RFID/NFC reader over HSU (UART): frames and a sans-I/O reader core.

Frames (PN532 user manual, section 6.2): normal information frame ``00 00 FF LEN LCS TFI DATA.. DCS 00`` with
``LEN = len(TFI + DATA)``, ``LCS = -LEN``, ``DCS = -(TFI + sum(DATA))`` (mod 256); host-to-reader TFI ``D4``,
reader-to-host ``D5`` with the command code + 1; ACK ``00 00 FF 00 FF 00``; NACK ``00 00 FF FF 00 00``;
application error frame ``00 00 FF 01 FF 7F 81 00``.  The reader in HSU mode sleeps until woken by ``55 55``
followed by zeros.

:class:`Pn532Reader` wakes the reader, configures the SAM (normal mode), reads the firmware version, limits the
passive-activation retries so that polling returns when no card is in the field, then polls for ISO 14443-A
cards with ``InListPassiveTarget`` and reports :class:`CardDetected` / :class:`CardRemoved` with the UID.
"""

from __future__ import annotations

import enum
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING

from evcharge.bsp.errors import LocalProtocolError
from evcharge.bsp.events import Start
from evcharge.sansio import WireCore

PREAMBLE_START = b"\x00\x00\xff"
ACK = b"\x00\x00\xff\x00\xff\x00"
NACK = b"\x00\x00\xff\xff\x00\x00"
ERROR_FRAME = b"\x00\x00\xff\x01\xff\x7f\x81\x00"
WAKE_UP = b"\x55\x55" + b"\x00" * 14
TFI_HOST = 0xD4
TFI_READER = 0xD5

CMD_GET_FIRMWARE_VERSION = 0x02
CMD_SAM_CONFIGURATION = 0x14
CMD_RF_CONFIGURATION = 0x32
CMD_IN_LIST_PASSIVE_TARGET = 0x4A
BRTY_ISO14443A = 0x00  #: 106 kbps type A


def build_frame(tfi: int, data: bytes) -> bytes:
    """A normal information frame carrying ``TFI + data`` (data starts with the command code)."""
    body = bytes([tfi]) + data
    if len(body) > 255:
        raise LocalProtocolError(f"PN532 frame body of {len(body)} bytes needs an extended frame")
    length = len(body)
    return PREAMBLE_START + bytes([length, (-length) & 0xFF]) + body + bytes([(-sum(body)) & 0xFF, 0x00])


def command_frame(command: int, params: bytes = b"") -> bytes:
    """Host-to-reader command frame."""
    return build_frame(TFI_HOST, bytes([command]) + params)


class ItemKind(enum.Enum):
    """What :class:`FrameParser` found."""

    ACK = "ack"
    NACK = "nack"
    FRAME = "frame"
    ERROR = "error"  #: application-level error frame (TFI 7F)
    BAD_CHECKSUM = "bad-checksum"  #: a frame with the right shape whose LCS/DCS/postamble is wrong


@dataclass(frozen=True, slots=True)
class Item:
    """One thing on the wire: an ACK, a NACK, a frame (``tfi`` + ``data``), or a damaged frame."""

    kind: ItemKind
    tfi: int = 0
    data: bytes = b""


class FrameParser:
    """Streaming parser: scans for the start code, checks LCS, DCS and postamble, skips anything else."""

    MAX_BUFFER = 1024

    def __init__(self) -> None:
        self._buf = bytearray()
        self.discarded = 0

    def feed(self, data: bytes) -> list[Item]:
        """Consume bytes; return the complete items found."""
        self._buf += data
        out: list[Item] = []
        while True:
            idx = self._buf.find(b"\x00\xff")
            if idx < 0:
                keep = 1 if self._buf.endswith(b"\x00") else 0
                self.discarded += len(self._buf) - keep
                del self._buf[: len(self._buf) - keep]
                return out
            if idx > 0:
                self.discarded += idx
                del self._buf[:idx]
            buf = self._buf
            if len(buf) < 4:
                return out
            length, lcs = buf[2], buf[3]
            if length == 0x00 and lcs == 0xFF:
                if len(buf) < 5:
                    return out
                del buf[:5 if buf[4] == 0 else 4]
                out.append(Item(ItemKind.ACK))
                continue
            if length == 0xFF and lcs == 0x00:
                if len(buf) < 5:
                    return out
                del buf[:5 if buf[4] == 0 else 4]
                out.append(Item(ItemKind.NACK))
                continue
            if length == 0xFF and lcs == 0xFF:
                # extended frame: not used by the commands this driver sends; skip the start code
                self.discarded += 2
                del buf[:2]
                continue
            if (length + lcs) & 0xFF != 0:
                self.discarded += 2
                del buf[:2]
                continue
            total = 4 + length + 2
            if len(buf) < total:
                if len(buf) > self.MAX_BUFFER:
                    self.discarded += len(buf)
                    buf.clear()
                return out
            body = bytes(buf[4 : 4 + length])
            dcs, post = buf[4 + length], buf[5 + length]
            del buf[:total]
            if (sum(body) + dcs) & 0xFF != 0 or post != 0x00:
                out.append(Item(ItemKind.BAD_CHECKSUM))
                continue
            if body == b"\x7f":
                out.append(Item(ItemKind.ERROR))
                continue
            out.append(Item(ItemKind.FRAME, body[0], body[1:]))


# ---------------------------------------------------------------------------- events
@dataclass(frozen=True, slots=True)
class FirmwareVersion:
    """Answer to GetFirmwareVersion: IC (0x32 for a PN532), version, revision, supported protocols bit field."""

    ic: int
    version: int
    revision: int
    support: int


@dataclass(frozen=True, slots=True)
class ReaderReady:
    """The reader answered the start-up sequence and polling starts."""

    firmware: FirmwareVersion
    now: float


@dataclass(frozen=True, slots=True)
class CardDetected:
    """An ISO 14443-A card entered the field.  ``token`` is the UID in upper-case hex (the id token)."""

    uid: bytes
    sens_res: bytes
    sel_res: int
    now: float

    @property
    def token(self) -> str:
        """The UID as an upper-case hex string, e.g. ``"04A2B3C4D5E680"``."""
        return self.uid.hex().upper()


@dataclass(frozen=True, slots=True)
class CardRemoved:
    """The card with ``uid`` left the field."""

    uid: bytes
    now: float


@dataclass(frozen=True, slots=True)
class ReaderError:
    """The reader did not answer or answered wrongly; the core re-initialises it."""

    detail: str
    now: float


ReaderEvent = ReaderReady | CardDetected | CardRemoved | ReaderError


@dataclass(frozen=True, slots=True, kw_only=True)
class Pn532Config:
    """Settings of the reader core."""

    poll_interval: float = 0.5  #: time between two polls, s
    response_timeout: float = 1.0  #: ACK + answer must arrive within this, s
    max_retries: int = 2  #: resends of a command before the reader is re-initialised
    passive_activation_retries: int | None = 0x02  #: MxRtyPassiveActivation; None leaves the reader's default
    restart_delay: float = 1.0  #: wait before re-initialising after an error, s


class ReaderState(enum.Enum):
    """Where the reader core is."""

    IDLE = "idle"
    INITIALISING = "initialising"
    POLLING = "polling"


@dataclass(frozen=True, slots=True)
class _Pending:
    command: int
    params: bytes
    sent_at: float
    acked: bool
    attempts: int


class Pn532Reader:
    """Sans-I/O PN532 reader in the library's core shape: ``send(Start(), now)`` wakes it up; ``receive_data``,
    ``data_to_send`` (one item per frame), ``next_event``, ``get_timer`` / ``handle_timer``, ``state``."""

    def __init__(self, config: Pn532Config | None = None) -> None:
        self.config = config if config is not None else Pn532Config()
        self._parser = FrameParser()
        self._out: list[bytes] = []
        self._events: deque[ReaderEvent] = deque()
        self._state = ReaderState.IDLE
        self._pending: _Pending | None = None
        self._init_queue: list[tuple[int, bytes]] = []
        self._next_poll: float | None = None
        self._restart_at: float | None = None
        self._firmware: FirmwareVersion | None = None
        self._card: bytes | None = None
        self.checksum_errors = 0

    @property
    def state(self) -> ReaderState:
        """Life-cycle state."""
        return self._state

    @property
    def firmware(self) -> FirmwareVersion | None:
        """The reader's firmware version, once read."""
        return self._firmware

    @property
    def card(self) -> bytes | None:
        """UID of the card in the field, if any."""
        return self._card

    def data_to_send(self) -> list[bytes]:
        """The frames to write to the UART, in order (and forget them); a serial transport joins them."""
        out, self._out = self._out, []
        return out

    def next_event(self) -> ReaderEvent | None:
        """Next pending event or ``None``."""
        return self._events.popleft() if self._events else None

    def get_timer(self) -> float | None:
        """When :meth:`handle_timer` must run next."""
        times = [self._next_poll, self._restart_at]
        if self._pending is not None:
            times.append(self._pending.sent_at + self.config.response_timeout)
        present = [t for t in times if t is not None]
        return min(present) if present else None

    def send(self, command: Start, now: float) -> None:
        """:class:`~evcharge.bsp.events.Start`: wake the reader up and begin its configuration."""
        if not isinstance(command, Start):
            raise LocalProtocolError(f"not a PN532 reader command: {command!r}")
        if self._state is not ReaderState.IDLE:
            raise LocalProtocolError(f"Start in state {self._state.value}")
        self._initialise(now)

    def handle_timer(self, now: float) -> None:
        """Retries, polling and restarts that are due."""
        pending = self._pending
        if pending is not None and now >= pending.sent_at + self.config.response_timeout:
            if pending.attempts <= self.config.max_retries:
                self._send(pending.command, pending.params, now, pending.attempts + 1)
            else:
                self._fail(f"no answer to command 0x{pending.command:02X} after {pending.attempts} attempts", now)
        if self._restart_at is not None and now >= self._restart_at:
            self._restart_at = None
            self._initialise(now)
        if self._next_poll is not None and now >= self._next_poll and self._pending is None:
            self._next_poll = None
            self._send(CMD_IN_LIST_PASSIVE_TARGET, bytes([1, BRTY_ISO14443A]), now, 1)

    def receive_data(self, data: bytes, now: float) -> None:
        """Bytes read from the UART."""
        for item in self._parser.feed(data):
            pending = self._pending
            if item.kind is ItemKind.ACK:
                if pending is not None:
                    self._pending = _Pending(pending.command, pending.params, pending.sent_at, True, pending.attempts)
            elif item.kind is ItemKind.BAD_CHECKSUM:
                self.checksum_errors += 1
                if pending is not None:
                    self._out.append(NACK)  # ask the reader to send its answer again
            elif item.kind is ItemKind.ERROR:
                if pending is not None:
                    self._fail(f"reader reported an application error for command 0x{pending.command:02X}", now)
            elif item.kind is ItemKind.FRAME:
                self._on_frame(item, now)

    # ---------------------------------------------------------------- internals
    def _initialise(self, now: float) -> None:
        self._state = ReaderState.INITIALISING
        self._parser = FrameParser()
        self._out.append(WAKE_UP)
        self._init_queue = [(CMD_SAM_CONFIGURATION, b"\x01\x00\x01"), (CMD_GET_FIRMWARE_VERSION, b"")]
        if self.config.passive_activation_retries is not None:
            retries = self.config.passive_activation_retries
            if not 0 <= retries <= 0xFF:
                raise LocalProtocolError("passive_activation_retries must be 0..255")
            self._init_queue.append((CMD_RF_CONFIGURATION, bytes([0x05, 0xFF, 0x01, retries])))
        self._next_init(now)

    def _next_init(self, now: float) -> None:
        if self._init_queue:
            command, params = self._init_queue.pop(0)
            self._send(command, params, now, 1)
        else:
            self._state = ReaderState.POLLING
            assert self._firmware is not None
            self._events.append(ReaderReady(self._firmware, now))
            self._next_poll = now

    def _send(self, command: int, params: bytes, now: float, attempt: int) -> None:
        self._pending = _Pending(command, params, now, False, attempt)
        self._out.append(command_frame(command, params))

    def _fail(self, detail: str, now: float) -> None:
        self._pending = None
        self._next_poll = None
        self._init_queue = []
        self._state = ReaderState.INITIALISING
        self._events.append(ReaderError(detail, now))
        if self._card is not None:
            self._events.append(CardRemoved(self._card, now))
            self._card = None
        self._restart_at = now + self.config.restart_delay

    def _on_frame(self, item: Item, now: float) -> None:
        pending = self._pending
        if pending is None or item.tfi != TFI_READER or not item.data or item.data[0] != pending.command + 1:
            return  # unsolicited or stale answer
        self._pending = None
        answer = item.data[1:]
        if pending.command == CMD_GET_FIRMWARE_VERSION:
            if len(answer) != 4:
                self._fail(f"GetFirmwareVersion answer of {len(answer)} bytes, expected 4", now)
                return
            self._firmware = FirmwareVersion(answer[0], answer[1], answer[2], answer[3])
            self._next_init(now)
        elif pending.command in (CMD_SAM_CONFIGURATION, CMD_RF_CONFIGURATION):
            self._next_init(now)
        elif pending.command == CMD_IN_LIST_PASSIVE_TARGET:
            self._on_targets(answer, now)
            self._next_poll = now + self.config.poll_interval

    def _on_targets(self, answer: bytes, now: float) -> None:
        if not answer:
            self._fail("empty InListPassiveTarget answer", now)
            return
        count = answer[0]
        uid: bytes | None = None
        if count >= 1:
            # Tg, SENS_RES (2), SEL_RES, NFCIDLength, NFCID1 [, ATS]
            if len(answer) < 6 or len(answer) < 6 + answer[5]:
                self._fail(f"truncated InListPassiveTarget answer {answer.hex()}", now)
                return
            sens_res, sel_res, uid_len = answer[2:4], answer[4], answer[5]
            uid = bytes(answer[6 : 6 + uid_len])
            if uid_len not in (4, 7, 10):
                self._fail(f"ISO 14443-A UID of {uid_len} bytes", now)
                return
        if uid == self._card:
            return
        if self._card is not None:
            self._events.append(CardRemoved(self._card, now))
        self._card = uid
        if uid is not None:
            self._events.append(CardDetected(uid, bytes(sens_res), sel_res, now))


if TYPE_CHECKING:  # mypy holds the core to the library's shape
    _shape: WireCore[Start, ReaderEvent, ReaderState] = Pn532Reader()
