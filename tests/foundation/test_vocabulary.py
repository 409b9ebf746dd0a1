"""Every protocol core of evcharge has the one shape of :mod:`evcharge.sansio` (issue 15).

Two checks per core: at run time ``isinstance(core, Core / WireCore)`` (the Protocols are runtime-checkable, so
this sees the method names), and statically: :func:`_typed_assignments` assigns each core to the Protocol, and
``test_mypy_accepts_every_core`` runs mypy on this file, which checks the signatures too (argument and return
types, ``now`` as a float, ``data_to_send() -> list[bytes]``).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from evcharge.sansio import Core, WireCore


def _rpc() -> Any:
    from evcharge.ocpp import rpc, v201

    return rpc.RpcConnection(v201)


def _slac_evse() -> Any:
    from evcharge.slac.config import EvseConfig
    from evcharge.slac.evse import EvseSlac

    return EvseSlac(EvseConfig(), mac=bytes.fromhex("02aa00000001"), rng=random.Random(1))


def _slac_pev() -> Any:
    from evcharge.slac.config import PevConfig
    from evcharge.slac.pev import PevSlac

    return PevSlac(PevConfig(), mac=bytes.fromhex("02bb00000001"), rng=random.Random(1))


def _charger() -> Any:
    from evcharge.iec61851.charger import Charger

    return Charger()


def _vehicle() -> Any:
    from evcharge.iec61851.vehicle import Vehicle

    return Vehicle()


def _yeti() -> Any:
    from evcharge.bsp.yeti.protocol import YetiProtocol

    return YetiProtocol()


def _secc_session() -> Any:
    from evcharge.iso15118.session import SeccSession, SeccSessionConfig

    return SeccSession(SeccSessionConfig(), {}, now=0.0)


def _evcc_session() -> Any:
    from evcharge.iso15118.engines.evcc import Evcc
    from evcharge.iso15118.handover import AppProtocol
    from evcharge.iso15118.session import EvccSession, EvccSessionConfig

    return EvccSession(EvccSessionConfig(), {AppProtocol.ISO2: Evcc, AppProtocol.DIN: Evcc}, now=0.0)


def _handover() -> Any:
    from evcharge.iso15118.handover import AppProtocol, HandOver

    return HandOver(protocol=AppProtocol.ISO2, schema_id=1, version_minor=0, minor_deviation=False, tls=None, now=0.0)


def _secc_engine() -> Any:
    from evcharge.iso15118.engines.secc import Secc

    return Secc(_handover())


def _evcc_engine() -> Any:
    from evcharge.iso15118.engines.evcc import Evcc

    return Evcc(_handover())


#: (name, factory, the Protocol it must follow, owner while it does not yet)
CORES: list[tuple[str, Callable[[], Any], Any, str | None]] = [
    ("ocpp.rpc.RpcConnection", _rpc, WireCore, None),
    ("slac.EvseSlac", _slac_evse, WireCore, None),
    ("slac.PevSlac", _slac_pev, WireCore, None),
    ("iec61851.Charger", _charger, Core, None),
    ("iec61851.Vehicle", _vehicle, Core, None),
    ("bsp.yeti.YetiProtocol", _yeti, WireCore, None),
    ("iso15118.SeccSession", _secc_session, WireCore, None),
    ("iso15118.EvccSession", _evcc_session, WireCore, None),
    ("iso15118.engines.Secc", _secc_engine, Core, None),
    ("iso15118.engines.Evcc", _evcc_engine, Core, None),
]


@pytest.mark.parametrize(
    ("factory", "shape"),
    [pytest.param(f, s, id=n, marks=[pytest.mark.xfail(reason=f"not renamed yet ({o})", strict=True)] if o else [])
     for n, f, s, o in CORES],
)
def test_core_has_the_shape(factory: Callable[[], Any], shape: Any) -> None:
    core: Any = factory()
    assert isinstance(core, shape)
    # the state is a value of an enum (states as data)
    import enum

    assert isinstance(core.state, enum.Enum)
    if shape is WireCore:  # bytes out, one item per frame (a core that starts talking may have some already)
        out = core.data_to_send()
        assert isinstance(out, list) and all(isinstance(b, bytes) for b in out)
    timer = core.get_timer()
    assert timer is None or isinstance(timer, float | int)


def _typed_assignments() -> None:
    """Never run: mypy checks that each core is assignable to its Protocol (signatures, not only names)."""
    from evcharge.bsp.yeti.protocol import YetiProtocol
    from evcharge.iec61851.charger import Charger
    from evcharge.iec61851.vehicle import Vehicle
    from evcharge.iso15118.engines.evcc import Evcc
    from evcharge.iso15118.engines.secc import Secc
    from evcharge.iso15118.session import EvccSession, EvccSessionConfig, SeccSession, SeccSessionConfig
    from evcharge.ocpp import rpc, v201
    from evcharge.slac.config import EvseConfig, PevConfig
    from evcharge.slac.evse import EvseSlac
    from evcharge.slac.pev import PevSlac

    rng = random.Random(1)
    _rpc: WireCore[Any, Any, Any] = rpc.RpcConnection(v201)
    _evse: WireCore[Any, Any, Any] = EvseSlac(EvseConfig(), mac=b"\x02" * 6, rng=rng)
    _pev: WireCore[Any, Any, Any] = PevSlac(PevConfig(), mac=b"\x02" * 6, rng=rng)
    _yeti: WireCore[Any, Any, Any] = YetiProtocol()
    _secc_s: WireCore[Any, Any, Any] = SeccSession(SeccSessionConfig(), {}, now=0.0)
    _evcc_s: WireCore[Any, Any, Any] = EvccSession(EvccSessionConfig(), {}, now=0.0)  # (engines: not checked here)
    _charger: Core[Any, Any, Any] = Charger()
    _vehicle: Core[Any, Any, Any] = Vehicle()
    _secc: Core[Any, Any, Any] = Secc(_handover())
    _evcc: Core[Any, Any, Any] = Evcc(_handover())


def test_mypy_accepts_every_core() -> None:
    api = pytest.importorskip("mypy.api")
    root = Path(__file__).resolve().parents[2]
    out, err, status = api.run([
        "--config-file", str(root / "pyproject.toml"), "--follow-imports=silent", "--no-error-summary",
        "--cache-dir", str(root / ".mypy_cache"), str(Path(__file__).resolve()),
    ])
    assert status == 0, out + err


def test_mypy_refuses_a_core_of_another_shape(tmp_path: Path) -> None:
    """The static check can fail: ``data_to_send() -> bytes`` (bsp's old spelling) is not a WireCore."""
    api = pytest.importorskip("mypy.api")
    root = Path(__file__).resolve().parents[2]
    code = (
        "from typing import Any\n"
        "from evcharge.sansio import WireCore\n"
        "class Old:\n"
        "    state = 0\n"
        "    def receive_data(self, data: bytes, now: float) -> None: ...\n"
        "    def send(self, command: int, now: float) -> None: ...\n"
        "    def data_to_send(self) -> bytes: return b''\n"
        "    def next_event(self) -> None: return None\n"
        "    def get_timer(self) -> float | None: return None\n"
        "    def handle_timer(self, now: float) -> None: ...\n"
        "_: WireCore[Any, Any, Any] = Old()\n"
    )
    (tmp_path / "old_core.py").write_text(code)
    out, err, status = api.run(["--config-file", str(root / "pyproject.toml"), "--follow-imports=silent",
                                "--no-error-summary", "--cache-dir", str(root / ".mypy_cache"),
                                str(tmp_path / "old_core.py")])
    assert status == 1 and "data_to_send" in out, out + err
