"""EXIficient as a reference peer: one JVM per test session serving batches of requests.

The codec is EXICodec.jar from the ``iso15118`` wheel on PyPI (Josev; EXIficient plus JAXB bindings, Apache-2.0).
It is fetched once per cache directory with ``pip download --no-deps iso15118==0.31.2`` (hash-checked), unpacked, and
our own harness ``tests/exi/java/ExiBatch.java`` is compiled beside it with ``javac``. The cache lives in
``$XDG_CACHE_HOME/evcharge-tests`` (default ``~/.cache/evcharge-tests``), keyed by the wheel version and the harness
source hash, and is built under a file lock so parallel sessions do not race.

Use the session fixture ``exificient`` (register this module as a pytest plugin:
``pytest_plugins = ["tests.exi.exificient"]``). It returns an :class:`ExificientPeer`:

* ``encode(ns, obj) -> bytes`` / ``decode(ns, data) -> obj``: the JSON path, exactly what Josev does (JSON -> JAXB ->
  XML -> EXIficient). EXICodec chooses fragment mode itself: for the xmldsig namespace (SignedInfo) and for the signed
  ISO-2 elements used as JSON root (AuthorizationReq, MeteringReceiptReq, SalesTariff, ...). Decoding a MsgDef
  *fragment* is not supported by the jar's JSON path; use ``decode_xml(ns, data, fragment=True)``.
* ``encode_xml(ns, xml, fragment=False) -> bytes`` / ``decode_xml(ns, data, fragment=False) -> str``: the EXIficient
  core alone with XML strings (no JAXB), same factory settings as the V2G profile (valueMaxLength 0,
  valuePartitionCapacity 0, no built-in grammars) and the jar's precompiled grammars.
* ``encode_instances(xs, objs)`` / ``decode_instances(xs, datas)``: instances in the JSON form through the core
  path, converted with an ``XsdStrategies`` (``xs.to_xml`` / ``xs.from_xml``) -- the reference for differential
  tests, for every schema.
* ``*_batch`` variants take lists and send them in one go; ``return_errors=True`` puts an :class:`ExificientError`
  in place of each rejected item instead of raising on the first.

Rejections raise :class:`ExificientError` carrying the peer's own message. Fixture policy: in CI (env ``CI=true``)
the peer must work or the tests fail loudly; elsewhere the fixture skips when ``java``/``javac`` are missing or the
wheel cannot be downloaded.
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import fcntl
import hashlib
import json
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import pytest

ISO15118_VERSION = "0.31.2"
WHEEL_NAME = f"iso15118-{ISO15118_VERSION}-py3-none-any.whl"
WHEEL_SHA256 = "2e1fd191888ca5f5f3a34ccd0588611dba1cb6f33bbe7ad0588bab0cfe48d45a"
JAR_MEMBER = "iso15118/shared/EXICodec.jar"
JAR_SHA256 = "fa12153a7aa2f625d424d1a3794a5c81e83747ae3ddb6fe1963569840ad126bc"
HARNESS_SOURCE = Path(__file__).resolve().parent / "java" / "ExiBatch.java"
JAVA_OPTS = ("--add-opens", "java.base/java.lang=ALL-UNNAMED", "-XX:+UseSerialGC", "-Xss4m")

NS_SAP = "urn:iso:15118:2:2010:AppProtocol"
NS_DIN = "urn:din:70121:2012:MsgDef"
NS_ISO2 = "urn:iso:15118:2:2013:MsgDef"
NS_XMLDSIG = "http://www.w3.org/2000/09/xmldsig#"
NS_ISO20_COMMON = "urn:iso:std:iso:15118:-20:CommonMessages"
NS_ISO20_AC = "urn:iso:std:iso:15118:-20:AC"
NS_ISO20_DC = "urn:iso:std:iso:15118:-20:DC"
NS_ISO20_WPT = "urn:iso:std:iso:15118:-20:WPT"
#: namespaces EXICodec.jar knows (its ACDP grammar exists, but the facts say the jar cannot serve ACDP messages)
NAMESPACES = (NS_SAP, NS_DIN, NS_ISO2, NS_XMLDSIG, NS_ISO20_COMMON, NS_ISO20_AC, NS_ISO20_DC, NS_ISO20_WPT)


class ExificientError(Exception):
    """The peer rejected a request; ``message`` is EXIficient's own error text."""

    def __init__(self, command: str, namespace: str, message: str) -> None:
        super().__init__(f"EXIficient {command} ({namespace}) failed: {message}")
        self.command = command
        self.namespace = namespace
        self.message = message


class ExificientUnavailable(RuntimeError):
    """The peer cannot be set up here (no Java, no network for the wheel, ...)."""


class ExificientCrashed(RuntimeError):
    """The JVM died or stopped answering."""


@dataclass(frozen=True, slots=True)
class Harness:
    """A ready-to-run harness: the jar, the compiled classes and the java binary."""

    jar: Path
    classes: Path
    java: str

    def command(self, *args: str) -> list[str]:
        return [self.java, *JAVA_OPTS, "-cp", f"{self.jar}{os.pathsep}{self.classes}", "ExiBatch", *args]


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "evcharge-tests" / f"exificient-{ISO15118_VERSION}"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@contextlib.contextmanager
def _locked(directory: Path) -> Iterator[None]:
    directory.mkdir(parents=True, exist_ok=True)
    with (directory / ".lock").open("w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def ensure_jar(cache_dir: Path | None = None) -> Path:
    """EXICodec.jar from the pinned iso15118 wheel, downloaded and hash-checked once per cache directory."""
    cache_dir = cache_dir or default_cache_dir()
    jar = cache_dir / "EXICodec.jar"
    with _locked(cache_dir):
        if jar.is_file() and _sha256(jar) == JAR_SHA256:
            return jar
        wheel_dir = cache_dir / "wheel"
        wheel = wheel_dir / WHEEL_NAME
        if not (wheel.is_file() and _sha256(wheel) == WHEEL_SHA256):
            wheel_dir.mkdir(parents=True, exist_ok=True)
            cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check", "-q",
                   f"iso15118=={ISO15118_VERSION}", "-d", str(wheel_dir)]  # fmt: skip
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)
            if proc.returncode != 0 or not wheel.is_file():
                tail = proc.stderr[-2000:]
                raise ExificientUnavailable(f"pip download of iso15118=={ISO15118_VERSION} failed: {tail}")
            got = _sha256(wheel)
            if got != WHEEL_SHA256:
                raise ExificientUnavailable(f"{WHEEL_NAME} has sha256 {got}, expected {WHEEL_SHA256}")
        with (
            zipfile.ZipFile(wheel) as zf,
            zf.open(JAR_MEMBER) as src,
            tempfile.NamedTemporaryFile(dir=cache_dir, delete=False) as dst,
        ):
            shutil.copyfileobj(src, dst)
            tmp = Path(dst.name)
        if _sha256(tmp) != JAR_SHA256:
            tmp.unlink()
            raise ExificientUnavailable(f"{JAR_MEMBER} in {WHEEL_NAME} does not have the expected sha256")
        tmp.replace(jar)
    return jar


def ensure_harness(cache_dir: Path | None = None) -> Harness:
    """Fetch the jar and compile ExiBatch.java against it (once per source version)."""
    java, javac = shutil.which("java"), shutil.which("javac")
    if not java or not javac:
        raise ExificientUnavailable("java and javac (JDK 11+) are needed for the EXIficient peer")
    cache_dir = cache_dir or default_cache_dir()
    jar = ensure_jar(cache_dir)
    src_hash = hashlib.sha256(HARNESS_SOURCE.read_bytes()).hexdigest()[:16]
    classes = cache_dir / f"classes-{src_hash}"
    with _locked(cache_dir):
        if not (classes / "ExiBatch.class").is_file():
            tmp = Path(tempfile.mkdtemp(dir=cache_dir, prefix="classes-tmp-"))
            proc = subprocess.run(
                [javac, "-nowarn", "-encoding", "UTF-8", "-cp", str(jar), "-d", str(tmp), str(HARNESS_SOURCE)],
                capture_output=True, text=True, timeout=600, check=False,
            )  # fmt: skip
            if proc.returncode != 0:
                shutil.rmtree(tmp, ignore_errors=True)
                raise RuntimeError(f"javac ExiBatch.java failed:\n{proc.stdout}\n{proc.stderr}")
            if classes.exists():
                shutil.rmtree(classes)
            tmp.rename(classes)
    return Harness(jar=jar, classes=classes, java=java)


Request = tuple[str, str, bytes]  # (command, namespace, payload)


class ExificientPeer:
    """A client of one ExiBatch JVM; see the module doc. Thread-safe (one request batch at a time)."""

    def __init__(self, harness: Harness, *, cache_jaxb: bool = True, timeout: float = 600.0) -> None:
        self._harness = harness
        self._cache_jaxb = cache_jaxb
        self._timeout = timeout
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._answers: queue.Queue[bytes | None] = queue.Queue()
        self._stderr: IO[bytes] | None = None
        self.requests_served = 0

    # -- process management -------------------------------------------------------------------------------------
    def _start(self) -> subprocess.Popen[bytes]:
        if self._proc is not None and self._proc.poll() is None:
            return self._proc
        self._stderr = tempfile.TemporaryFile()
        args = ["--cache-jaxb"] if self._cache_jaxb else []
        proc = subprocess.Popen(
            self._harness.command(*args), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr
        )
        self._answers = queue.Queue()
        threading.Thread(target=self._pump, args=(proc, self._answers), daemon=True, name="exificient-out").start()
        self._proc = proc
        return proc

    @staticmethod
    def _pump(proc: subprocess.Popen[bytes], answers: queue.Queue[bytes | None]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            answers.put(line)
        answers.put(None)

    def _stderr_tail(self) -> str:
        if self._stderr is None:
            return ""
        self._stderr.seek(0, os.SEEK_END)
        size = self._stderr.tell()
        self._stderr.seek(max(0, size - 4000))
        return self._stderr.read().decode("utf-8", "replace")

    def _discard(self, proc: subprocess.Popen[bytes]) -> None:
        """Forget a JVM that died or hangs; the next request starts a fresh one."""
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        if self._proc is proc:
            self._proc = None

    def close(self) -> None:
        with self._lock:
            proc, self._proc = self._proc, None
            if proc is None:
                return
            with contextlib.suppress(OSError):
                assert proc.stdin is not None
                proc.stdin.close()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            if self._stderr is not None:
                self._stderr.close()
                self._stderr = None

    def __enter__(self) -> ExificientPeer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- wire ---------------------------------------------------------------------------------------------------
    def request_batch(self, requests: Sequence[Request]) -> list[tuple[bool, bytes]]:
        """Send raw requests; returns (ok, payload) per request, in order. Payload is the result or the error text."""
        if not requests:
            return []
        for cmd, ns, _ in requests:
            if not cmd.isidentifier() or not ns or any(c.isspace() for c in ns):
                raise ValueError(f"bad request ({cmd!r}, {ns!r})")
        lines = b"".join(f"{cmd} {ns} ".encode() + base64.b64encode(p) + b"\n" for cmd, ns, p in requests)
        with self._lock:
            proc = self._start()
            assert proc.stdin is not None
            # A pump thread drains stdout concurrently, so writing everything first cannot deadlock.
            try:
                proc.stdin.write(lines)
                proc.stdin.flush()
            except (BrokenPipeError, OSError) as exc:
                self._discard(proc)
                raise ExificientCrashed(f"the EXIficient JVM is gone: {exc}\n{self._stderr_tail()}") from exc
            out: list[tuple[bool, bytes]] = []
            for _ in requests:
                try:
                    line = self._answers.get(timeout=self._timeout)
                except queue.Empty:
                    self._discard(proc)
                    raise ExificientCrashed(f"no answer from EXIficient within {self._timeout} s") from None
                if line is None:
                    self._discard(proc)
                    raise ExificientCrashed(f"the EXIficient JVM exited ({proc.poll()}):\n{self._stderr_tail()}")
                status, _, b64 = line.strip().partition(b" ")
                out.append((status == b"OK", base64.b64decode(b64)))
            self.requests_served += len(out)
            return out

    def _batch(self, cmd: str, ns: str, payloads: Sequence[bytes], return_errors: bool) -> list[Any]:
        results: list[Any] = []
        for ok, payload in self.request_batch([(cmd, ns, p) for p in payloads]):
            if ok:
                results.append(payload)
                continue
            err = ExificientError(cmd, ns, payload.decode("utf-8", "replace"))
            if not return_errors:
                raise err
            results.append(err)
        return results

    # -- JSON path (EXICodec, as Josev) ---------------------------------------------------------------------------
    def encode(self, ns: str, obj: Any) -> bytes:
        """EXI bytes for a message in the JSON form (dict or JSON text)."""
        return bytes(self.encode_batch(ns, [obj])[0])

    def decode(self, ns: str, data: bytes) -> Any:
        """The JSON form (parsed) of an EXI message."""
        return self.decode_batch(ns, [data])[0]

    def encode_batch(self, ns: str, objs: Sequence[Any], *, return_errors: bool = False) -> list[Any]:
        texts = [(o if isinstance(o, str) else json.dumps(o, separators=(",", ":"))).encode() for o in objs]
        return self._batch("enc", ns, texts, return_errors)

    def decode_batch(self, ns: str, datas: Sequence[bytes], *, return_errors: bool = False) -> list[Any]:
        res = self._batch("dec", ns, [bytes(d) for d in datas], return_errors)
        return [r if isinstance(r, ExificientError) else json.loads(r) for r in res]

    # -- XML path (EXIficient core) -------------------------------------------------------------------------------
    def encode_xml(self, ns: str, xml: str | bytes, *, fragment: bool = False) -> bytes:
        """EXI bytes for an XML document (or, with ``fragment``, one element as an EXI fragment)."""
        return bytes(self.encode_xml_batch(ns, [xml], fragment=fragment)[0])

    def decode_xml(self, ns: str, data: bytes, *, fragment: bool = False) -> str:
        """The XML text EXIficient decodes an EXI document (or fragment) to."""
        return str(self.decode_xml_batch(ns, [data], fragment=fragment)[0])

    def encode_xml_batch(
        self, ns: str, xmls: Sequence[str | bytes], *, fragment: bool = False, return_errors: bool = False
    ) -> list[Any]:
        payloads = [x.encode() if isinstance(x, str) else bytes(x) for x in xmls]
        return self._batch("encxmlfrag" if fragment else "encxml", ns, payloads, return_errors)

    def decode_xml_batch(
        self, ns: str, datas: Sequence[bytes], *, fragment: bool = False, return_errors: bool = False
    ) -> list[Any]:
        res = self._batch("decxmlfrag" if fragment else "decxml", ns, [bytes(d) for d in datas], return_errors)
        return [r if isinstance(r, ExificientError) else r.decode("utf-8") for r in res]

    # -- instances in the JSON form through the core path (every schema, no JAXB quirks) ---------------------------
    def encode_instances(
        self, xs: Any, objs: Sequence[Any], *, fragment: bool = False, return_errors: bool = False
    ) -> list[Any]:
        """Reference EXI bytes for instances in the JSON form: ``xs.to_xml`` (an ``XsdStrategies``) + the core path.

        This is the path for differential tests: unlike the JSON path it serves every schema (DIN with base64,
        SignedInfo, WPT, ACDP) and encodes exactly what it is given (no invented defaults)."""
        return self.encode_xml_batch(
            xs.namespace, [xs.to_xml(o) for o in objs], fragment=fragment, return_errors=return_errors
        )

    def decode_instances(
        self, xs: Any, datas: Sequence[bytes], *, fragment: bool = False, return_errors: bool = False
    ) -> list[Any]:
        """The JSON form of EXI streams as EXIficient's core decodes them (``xs.from_xml`` of its XML)."""
        xmls = self.decode_xml_batch(xs.namespace, datas, fragment=fragment, return_errors=return_errors)
        return [x if isinstance(x, ExificientError) else xs.from_xml(x) for x in xmls]

    def version(self) -> str:
        return self.request_batch([("version", "-", b"")])[0][1].decode()


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


_PEERS: dict[str, ExificientPeer] = {}


def shared_peer() -> ExificientPeer:
    """One peer per test process, whichever way the fixture was registered (plugin or module import)."""
    peer = _PEERS.get("default")
    if peer is None:
        peer = ExificientPeer(ensure_harness())
        if peer.request_batch([("ping", "-", b"")]) != [(True, b"pong")]:
            raise ExificientCrashed("the EXIficient harness does not answer ping")
        _PEERS["default"] = peer
        atexit.register(peer.close)
    return peer


@pytest.fixture(scope="session")
def exificient() -> ExificientPeer:
    """The EXIficient reference peer (one JVM for the whole session)."""
    try:
        return shared_peer()
    except ExificientUnavailable as exc:
        if _in_ci():
            pytest.fail(f"EXIficient peer unavailable in CI: {exc}", pytrace=False)
        pytest.skip(f"EXIficient peer unavailable: {exc}")
