"""`import evcharge.slac` and a whole emulated match work without scapy; the CLI loads lazily."""

from __future__ import annotations

import subprocess
import sys

NO_SCAPY = """
import sys
class _Block:
    def find_spec(self, name, path=None, target=None):
        if name == "scapy" or name.startswith("scapy."):
            raise ImportError("scapy is blocked for this test")
        return None
sys.meta_path.insert(0, _Block())
import random
import evcharge.slac as slac
import evcharge.slac.cli  # the subcommand module imports scapy only inside run()
import evcharge.slac.transport.rawsocket  # a stdlib AF_PACKET socket: no scapy either
import evcharge.slac.transport.asyncio
rng = random.Random(1)
emu = slac.PowerlineEmulator(rng=rng)
evse = emu.attach("evse", slac.EvseSlac(slac.EvseConfig(), mac=b"\\x02\\0\\0\\0\\0\\1", rng=rng))
pev = emu.attach("pev", slac.PevSlac(slac.PevConfig(), mac=b"\\x02\\0\\0\\0\\0\\2", rng=rng))
evse.machine.send(slac.StartMatching(), 0.0)
pev.machine.send(slac.StartMatching(), 0.1)
emu.run(until=10.0)
assert any(isinstance(e, slac.Matched) for e in pev.events), pev.events
assert not [m for m in sys.modules if m.startswith("scapy")]
try:
    import evcharge.slac.scapy_layers
except ImportError as exc:
    assert "blocked" in str(exc)
else:
    raise AssertionError("scapy_layers imported without scapy")
print("ok")
"""


def test_slac_works_without_scapy() -> None:
    out = subprocess.run([sys.executable, "-c", NO_SCAPY], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_cli_is_registered_and_describes_itself() -> None:
    out = subprocess.run([sys.executable, "-m", "evcharge", "slac", "--help"], capture_output=True, text=True,
                         check=True)
    assert "--iface" in out.stdout and "--emulate-modem" in out.stdout
    assert "{evse,pev,modem}" in out.stdout


def test_both_machines_have_the_house_shape() -> None:
    import random

    from evcharge import errors
    from evcharge.sansio import WireCore
    from evcharge.slac import EvseConfig, EvseSlac, PevConfig, PevSlac
    from evcharge.slac import errors as slac_errors

    for machine in (EvseSlac(EvseConfig(), mac=b"\x02\0\0\0\0\1", rng=random.Random(1)),
                    PevSlac(PevConfig(), mac=b"\x02\0\0\0\0\2", rng=random.Random(1))):
        assert isinstance(machine, WireCore)
    assert issubclass(slac_errors.LocalProtocolError, errors.LocalProtocolError)
    assert issubclass(slac_errors.MessageError, errors.RemoteProtocolError)
    assert issubclass(slac_errors.SlacError, errors.EvchargeError)
    assert slac_errors.TruncatedFrame("run_id", "ends early").hint is None  # SLAC answers a bad frame with silence
