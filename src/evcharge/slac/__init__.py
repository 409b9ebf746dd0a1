"""SLAC (ISO 15118-3) over HomePlug Green PHY: EVSE and PEV state machines, messages, transports.

The names below, and the raw-socket transport, need nothing but the standard library; scapy (the
``slac`` extra) is imported only by :mod:`evcharge.slac.scapy_layers` (dissecting captures).
"""

from evcharge.slac.config import EvseConfig, PevConfig
from evcharge.slac.emulator import Impairment, ModemConfig, ModemEmulator, PowerlineEmulator
from evcharge.slac.errors import LocalProtocolError, MessageError, RemoteProtocolError, SlacError
from evcharge.slac.events import (
    FrameIgnored,
    KeySet,
    Matched,
    MatchingFailed,
    ReportToggles,
    SlacFailed,
    StartMatching,
    StopMatching,
    ToggleRequested,
    ValidationRequested,
)
from evcharge.slac.evse import EvseSlac
from evcharge.slac.messages import MMType, decode_frame, encode_frame, nid_from_nmk
from evcharge.slac.pev import PevSlac
from evcharge.slac.states import EvseState, PevState, SessionState

__all__ = [
    "EvseConfig", "EvseSlac", "EvseState", "FrameIgnored", "Impairment", "KeySet", "LocalProtocolError", "MMType",
    "Matched", "MatchingFailed", "MessageError", "ModemConfig", "ModemEmulator", "PevConfig", "PevSlac", "PevState",
    "PowerlineEmulator", "RemoteProtocolError", "ReportToggles", "SessionState", "SlacError", "SlacFailed",
    "StartMatching", "StopMatching", "ToggleRequested", "ValidationRequested", "decode_frame", "encode_frame",
    "nid_from_nmk",
]
