"""In an install without an extra, every command and module that needs it says which extra to install (exit
status 3), instead of a bare ModuleNotFoundError.  Each case runs in a fresh interpreter in which the dependency
cannot be imported, as in such an install."""

from __future__ import annotations

import subprocess
import sys

import pytest

from .helpers import run_process

MISSING = 3


@pytest.mark.parametrize(("blocked", "args", "extra"), [
    (("websockets",), ("ocpp", "csms", "--port", "0"), "ocpp"),
    (("websockets",), ("ocpp", "cp", "--url", "ws://127.0.0.1:9/ocpp", "--duration", "1"), "ocpp"),
    (("serial",), ("simulate", "--quiet"), "bsp"),
    (("websockets",), ("simulate", "--quiet"), "ocpp"),
    (("matplotlib",), ("simulate", "--quiet", "--plot", "/tmp/evcharge-never-written.png"), "plot"),
    (("lxml", "lxml.etree"), ("exi", "decode", "iso2", "--xml", "809802000000000000000011d01808000000000400"),
     "iso15118"),
    (("serial",), ("yeti", "monitor", "--port", "/dev/null"), "bsp"),
    (("serial",), ("yeti", "rfid", "--port", "/dev/null"), "bsp"),
], ids=["ocpp-csms", "ocpp-cp", "simulate-serial", "simulate-websockets", "simulate-plot", "exi-xml",
        "yeti-monitor", "yeti-rfid"])
def test_a_command_names_the_extra(blocked: tuple[str, ...], args: tuple[str, ...], extra: str) -> None:
    r = run_process(*args, blocked=blocked)
    assert r.status == MISSING, r.err
    assert f'pip install "evcharge[{extra}]"' in r.one_line()


@pytest.mark.parametrize(("blocked", "statement", "extra"), [
    ("scapy", "import evcharge.slac.scapy_layers", "slac"),
    ("lxml", "from evcharge.iso15118 import iso2; iso2.to_xml(iso2.decode(bytes.fromhex("
             "'809802000000000000000011d01808000000000400')))", "iso15118"),
    ("websockets", "import asyncio; from evcharge.ocpp import v201;"
                   "from evcharge.ocpp.csms import Csms, CsmsConfig, CsmsHandler;"
                   "from evcharge.ocpp.transport.websocket import serve_csms;"
                   "asyncio.run(serve_csms(Csms(CsmsConfig(versions=(v201,)), CsmsHandler), '127.0.0.1', 0))", "ocpp"),
    ("serial", "from evcharge.bsp.yak.transport.serial import Pn532SerialReader; Pn532SerialReader('/dev/null').open()",
     "bsp"),
    ("pymodbus", "from evcharge.bsp.yak.meter import ModbusMeterReader; ModbusMeterReader.serial('/dev/null')",
     "bsp"),
    ("google.protobuf", "import evcharge.bsp.yeti.protocol", "bsp"),
], ids=["slac-scapy-layers", "iso15118-xml", "ocpp-transport", "bsp-pn532", "bsp-modbus", "bsp-yeti-protobuf"])
def test_a_library_module_names_the_extra(blocked: str, statement: str, extra: str) -> None:
    code = f"import sys\nsys.modules[{blocked!r}] = None\n{statement}\n"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("evcharge.errors.MissingDependencyError:"), proc.stderr
    assert f'pip install "evcharge[{extra}]"' in last
