"""EXIficient driven the way Josev drives it, as time-able callables for ``benchmarks/exi_codec.py``.

Josev (SwitchEV/EcoG iso15118) starts one JVM with py4j's ``JavaGateway.launch_gateway`` on the classpath of
EXICodec.jar (``--add-opens java.base/java.lang=ALL-UNNAMED``), creates ``com.siemens.ct.exi.main.cmd.EXICodec``
through the gateway, and for every message calls ``encode(json_text, namespace) -> byte[]`` or
``decode(bytes, namespace) -> json_text`` across the py4j socket; ``None`` means failure, and the reason is asked for
with ``get_last_encoding_error()`` / ``get_last_decoding_error()``. Around it Josev turns its pydantic objects into
JSON text and back (``json.dumps`` / ``json.loads``). :class:`JosevPath` does the same, with the JSON part done by the
standard library so that the figures are the codec's, not pydantic's.

For comparison, :class:`JosevPath` also reaches the EXIficient *core* without JSON/JAXB (XML text in and out, the
V2G factory settings; the class ``ExiBatch.Core`` of tests/exi/java) through the same gateway, and
:func:`core_cpu_micros` measures the core inside the JVM (no py4j crossing), which is what facts/exi.md reports.

The jar comes from the pinned ``iso15118`` wheel via ``tests.exi.exificient`` (downloaded once into the test cache).

Example::

    with JosevPath() as peer:
        data = peer.encode(NS_ISO2, message_dict)          # dict -> JSON text -> EXI bytes
        obj = peer.decode(NS_ISO2, data)                   # EXI bytes -> JSON text -> dict
        cpu0 = peer.jvm_cpu_seconds(); ...; cpu = peer.jvm_cpu_seconds() - cpu0
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

_REPO = Path(__file__).resolve().parent.parent
if str(_REPO) not in sys.path:
    sys.path.insert(0, str(_REPO))

from tests.exi.exificient import (  # noqa: E402
    JAVA_OPTS,
    NS_DIN,
    NS_ISO2,
    NS_SAP,
    NS_XMLDSIG,
    ExificientPeer,
    Harness,
    ensure_harness,
)

__all__ = ["NS_DIN", "NS_ISO2", "NS_SAP", "NS_XMLDSIG", "JosevPath", "PeerError", "core_cpu_micros"]


class PeerError(RuntimeError):
    """EXICodec returned None; the message is its last error."""


class JosevPath:
    """One py4j gateway JVM with EXICodec, used exactly as Josev uses it (see the module doc)."""

    def __init__(self, harness: Harness | None = None) -> None:
        from py4j.java_gateway import JavaGateway

        self.harness = harness or ensure_harness()
        logging.getLogger("py4j").setLevel(logging.CRITICAL)
        classpath = os.pathsep.join([str(self.harness.jar), str(self.harness.classes)])
        # exactly Josev's call (iso15118/shared/exificient_exi_codec.py), plus our classes on the classpath
        self.gateway = JavaGateway.launch_gateway(
            classpath=classpath,
            die_on_exit=True,
            javaopts=list(JAVA_OPTS),
        )  # py4j sends the JVM's stdout/stderr (EXICodec prints diagnostics there) to /dev/null by default
        self._proc = self.gateway.java_process
        self.codec = self.gateway.jvm.com.siemens.ct.exi.main.cmd.EXICodec()
        self._core: Any = None

    # -- Josev's calls ---------------------------------------------------------------------------------------------
    def encode_json(self, ns: str, json_text: str) -> bytes:
        """EXICodec.encode(json, namespace) across py4j."""
        out = self.codec.encode(json_text, ns)
        if out is None:
            raise PeerError(self.codec.get_last_encoding_error())
        return bytes(out)

    def decode_json(self, ns: str, data: bytes) -> str:
        """EXICodec.decode(bytes, namespace) across py4j."""
        out = self.codec.decode(data, ns)
        if out is None:
            raise PeerError(self.codec.get_last_decoding_error())
        return str(out)

    def encode(self, ns: str, obj: Any) -> bytes:
        """From a Python object (the JSON form) to EXI bytes: json.dumps + EXICodec.encode."""
        return self.encode_json(ns, json.dumps(obj))

    def decode(self, ns: str, data: bytes) -> Any:
        """From EXI bytes to a Python object: EXICodec.decode + json.loads."""
        return json.loads(self.decode_json(ns, data))

    # -- the EXIficient core, across the same gateway ---------------------------------------------------------------
    def _core_obj(self) -> Any:
        if self._core is None:
            self._core = getattr(self.gateway.jvm, "ExiBatch$Core")()
        return self._core

    def encode_xml(self, ns: str, xml: str, fragment: bool = False) -> bytes:
        return bytes(self._core_obj().encode(ns, fragment, xml))

    def decode_xml(self, ns: str, data: bytes, fragment: bool = False) -> str:
        return str(self._core_obj().decode(ns, fragment, data))

    # -- timing helpers --------------------------------------------------------------------------------------------
    def jvm_cpu_seconds(self) -> float:
        """CPU time (user + system) the gateway JVM has used so far, all threads (JIT and GC included)."""
        with open(f"/proc/{self._proc.pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        ticks = os.sysconf("SC_CLK_TCK")
        return (int(fields[11]) + int(fields[12])) / ticks

    def callables(self, ns: str, obj: Any) -> dict[str, Callable[[], Any]]:
        """Zero-argument callables for a timing loop on one message: Josev's path and the core path."""
        data = self.encode(ns, obj)
        text = json.dumps(obj)
        xml = self.decode_xml(ns, data)
        return {
            "josev encode (obj -> EXI)": lambda: self.encode(ns, obj),
            "josev decode (EXI -> obj)": lambda: self.decode(ns, data),
            "josev encode (JSON text -> EXI)": lambda: self.encode_json(ns, text),
            "josev decode (EXI -> JSON text)": lambda: self.decode_json(ns, data),
            "core encode via py4j (XML -> EXI)": lambda: self.encode_xml(ns, xml),
            "core decode via py4j (EXI -> XML)": lambda: self.decode_xml(ns, data),
        }

    def close(self) -> None:
        try:
            self.gateway.shutdown()
        finally:
            if self._proc.poll() is None:
                self._proc.kill()
                self._proc.wait()

    def __enter__(self) -> JosevPath:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def core_cpu_micros(ns: str, data: bytes, harness: Harness | None = None) -> tuple[float, float]:
    """(encode, decode) CPU microseconds per message of the EXIficient core measured inside a JVM (no py4j):
    XML text -> EXI and EXI -> XML text, best of 5 half-second runs after a 2 s warm-up (about 7 s in all)."""
    with ExificientPeer(harness or ensure_harness()) as peer:
        ((ok, payload),) = peer.request_batch([("benchxml", ns, data)])
    if not ok:
        raise PeerError(payload.decode("utf-8", "replace"))
    enc, dec = (float(x) for x in payload.decode().split())
    return enc, dec


if __name__ == "__main__":  # a quick look: python benchmarks/_exificient.py
    import time

    from tests.exi import corpus

    v = next(v for v in corpus.vectors() if v.origin == "vec8")  # the 38-byte ISO-2 CurrentDemandReq
    with JosevPath() as peer:
        for name, fn in peer.callables(v.namespace, v.expected_json).items():
            for _ in range(5):
                fn()
            n, t0, c0 = 20, time.perf_counter(), peer.jvm_cpu_seconds()
            for _ in range(n):
                fn()
            wall, cpu = (time.perf_counter() - t0) / n, (peer.jvm_cpu_seconds() - c0) / n
            print(f"{name:38s} {wall * 1e3:8.3f} ms wall  {cpu * 1e3:8.3f} ms JVM CPU")
    enc, dec = core_cpu_micros(v.namespace, v.data)
    print(f"core in-JVM: encode {enc:.1f} us CPU, decode {dec:.1f} us CPU")
