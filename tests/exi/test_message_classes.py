"""The generated message classes behave as @dataclass(frozen=True, slots=True, kw_only=True) classes.

They are written out by the generator instead of decorated at import (evcharge._exi._message); this pins the
dataclass behaviour the rest of the library relies on (fields with their xsd metadata, replace, asdict, typed
keyword-only construction, frozen, slotted, equality, hashing, pickling, get_type_hints).
"""

from __future__ import annotations

import copy
import dataclasses
import pickle
import sys
import typing

import pytest

from evcharge.iso15118 import iso2
from evcharge.iso15118.iso20 import dc


def _header() -> iso2.MessageHeader:
    return iso2.MessageHeader(session_id=b"\x01\x02")


def test_fields_carry_defaults_and_xsd_metadata() -> None:
    assert dataclasses.is_dataclass(iso2.MessageHeader) and dataclasses.is_dataclass(_header())
    fields = {f.name: f for f in dataclasses.fields(iso2.MessageHeader)}
    assert list(fields) == ["session_id", "notification", "signature"]
    assert fields["session_id"].default is dataclasses.MISSING
    assert fields["notification"].default is None
    assert fields["session_id"].metadata == {"xsd": "SessionID", "kind": "element"}
    assert all(f.kw_only for f in fields.values())
    assert fields["session_id"].type == "bytes"


def test_construction_is_keyword_only_and_checks_required_fields() -> None:
    with pytest.raises(TypeError):
        iso2.MessageHeader(b"\x01")  # type: ignore[misc]
    with pytest.raises(TypeError):
        iso2.MessageHeader()  # type: ignore[call-arg]
    h = _header()
    assert h.notification is None and h.signature is None


def test_frozen_slotted_equal_hashable() -> None:
    h = _header()
    with pytest.raises(dataclasses.FrozenInstanceError):
        h.session_id = b""  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        del h.session_id  # type: ignore[misc]
    assert not hasattr(h, "__dict__")
    assert h == _header() and h != iso2.MessageHeader(session_id=b"\x09")
    assert h != object() and hash(h) == hash(_header())
    assert repr(h) == "MessageHeader(session_id=b'\\x01\\x02', notification=None, signature=None)"
    assert iso2.MessageHeader.__match_args__ == ()


def test_replace_asdict_pickle_copy() -> None:
    h = _header()
    h2 = dataclasses.replace(h, session_id=b"\x03")
    assert h2.session_id == b"\x03" and h2.notification is None
    assert dataclasses.asdict(h) == {"session_id": b"\x01\x02", "notification": None, "signature": None}
    for clone in (pickle.loads(pickle.dumps(h)), copy.copy(h), copy.deepcopy(h)):
        assert clone == h and type(clone) is type(h)


def test_type_hints_resolve_in_the_generated_module() -> None:
    cls = dc.DC_ChargeLoopReq
    hints = typing.get_type_hints(cls, vars(sys.modules[cls.__module__]))
    assert set(hints) == {f.name for f in dataclasses.fields(cls)}
