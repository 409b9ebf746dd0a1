"""Our EXI grammars, state by state, against the grammars EXIficient ships in EXICodec.jar (all nine families).

``tests/exi/java/GrammarDump.java`` prints the precompiled grammars of the jar (the ones Josev's EXICodec runs, and
from which libcbv2g's cbExiGen code is generated); this test walks them beside the grammars of our generator from
every global element, and requires the same first-level productions (event kind and qualified name, in event-code
order) in every reachable state. A difference here is a difference in the bits on the wire: this is how the loop
after a full bounded array (``Family.looped``) was found, and it keeps it found.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from evcharge._exi.codegen import FAMILIES, SCHEMA_DIR
from evcharge._exi.codegen import grammar as g
from evcharge._exi.codegen.xsd import Schema
from tests.exi.exificient import ExificientUnavailable, _in_ci, _locked, default_cache_dir, ensure_jar

pytestmark = [pytest.mark.interop]

DUMP_SOURCE = Path(__file__).resolve().parent / "java" / "GrammarDump.java"
JAVA_CLASS = {
    "app_protocol": "CommonAppProtocol", "din": "DINSpec_70121", "iso2": "ISO15118_2Grammar",
    "xmldsig": "XMLDSIG_Core_Schema_Grammar", "iso20_common": "ISO15118_20_V2G_CI_CommonMessages",
    "iso20_ac": "ISO15118_20_V2G_CI_AC", "iso20_dc": "ISO15118_20_V2G_CI_DC", "iso20_wpt": "ISO15118_20_V2G_CI_WPT",
    "iso20_acdp": "ISO15118_20_V2G_CI_ACDP",
}
KIND = {g.SE: "START_ELEMENT", g.AT: "ATTRIBUTE", g.CH: "CHARACTERS", g.EE: "END_ELEMENT",
        g.SE_WILD: "START_ELEMENT_GENERIC", g.SE_URI_WILD: "START_ELEMENT_NS", g.AT_WILD: "ATTRIBUTE_GENERIC"}


class Dump:
    def __init__(self) -> None:
        self.roots: dict[tuple[str, str], int] = {}
        self.prods: dict[int, list[tuple[str, str | None, dict[str, str]]]] = defaultdict(list)


def _dump_all() -> dict[str, Dump]:
    java, javac = shutil.which("java"), shutil.which("javac")
    if not java or not javac:
        raise ExificientUnavailable("java and javac are needed")
    cache = default_cache_dir()
    jar = ensure_jar(cache)
    classes = cache / f"grammardump-{hashlib.sha256(DUMP_SOURCE.read_bytes()).hexdigest()[:16]}"
    with _locked(cache):
        if not (classes / "GrammarDump.class").is_file():
            tmp = Path(tempfile.mkdtemp(dir=cache, prefix="grammardump-tmp-"))
            subprocess.run([javac, "-nowarn", "-cp", str(jar), "-d", str(tmp), str(DUMP_SOURCE)], check=True,
                           capture_output=True, timeout=600)
            if classes.exists():
                shutil.rmtree(classes)
            tmp.rename(classes)
    out = subprocess.run([java, "-cp", f"{jar}:{classes}", "GrammarDump", *JAVA_CLASS.values()], check=True,
                         capture_output=True, text=True, timeout=600).stdout
    dumps: dict[str, Dump] = {}
    cur = Dump()
    for line in out.splitlines():
        f = line.split()
        if f[0] == "F":
            cur = dumps.setdefault(f[1], Dump())
        elif f[0] == "E":
            cur.roots[(f[1] if len(f) == 4 else "", f[-2])] = int(f[-1])
        elif f[0] == "P":
            rest = dict(x.split("=", 1) for x in f[4:] if "=" in x)
            qname = next((x for x in f[4:] if x.startswith("{")), None)
            cur.prods[int(f[1])].append((f[3], qname, rest))
    return dumps


@pytest.fixture(scope="module")
def reference() -> dict[str, Dump]:
    try:
        return _dump_all()
    except ExificientUnavailable as exc:
        if _in_ci():
            pytest.fail(f"EXIficient grammars unavailable in CI: {exc}", pytrace=False)
        pytest.skip(str(exc))


def _ours(term: Any) -> tuple[str, str | None]:
    kind = "CHARACTERS_GENERIC" if term.kind == g.CH and term.untyped else KIND[term.kind]
    if term.kind in (g.SE, g.AT):
        return kind, f"{{{term.qname[0]}}}{term.qname[1]}"
    if term.kind == g.SE_URI_WILD:
        return kind, f"{{{term.qname[0]}}}*"
    return kind, None


@pytest.mark.parametrize("family", FAMILIES, ids=[f.module for f in FAMILIES])
def test_every_state_matches_exificient(family: Any, reference: dict[str, Dump]) -> None:
    schema = Schema(SCHEMA_DIR / family.schema)
    builder = g.GrammarBuilder(schema, family.looped)
    ref = reference[JAVA_CLASS[family.module]]
    todo = [(ref.roots[d.qname], d.type, 0, d.qname[1]) for d in schema.elements.values()
            if not d.abstract and d.qname in ref.roots]
    assert todo, "no global element in common"
    seen: set[tuple[int, int, int]] = set()
    problems: list[str] = []
    while todo:
        gid, t, s, path = todo.pop()
        if (gid, id(t), s) in seen:
            continue
        seen.add((gid, id(t), s))
        state = builder.type_grammar(t).states[s]
        theirs = ref.prods[gid]
        ours = [_ours(term) for term, _ in state.productions]
        if [(k, q) for k, q, _ in theirs] != ours:
            problems.append(f"{path} (state {s}):\n  EXIficient {[(k, q) for k, q, _ in theirs]}\n  ours       {ours}")
            continue
        for (kind, _, rest), (term, nxt) in zip(theirs, state.productions, strict=True):
            if kind == "START_ELEMENT":
                todo.append((int(rest["se"]), term.decl.type, 0, f"{path}/{term.qname[1]}"))
            if nxt is not None:
                todo.append((int(rest["next"]), t, nxt, f"{path}/{term.qname[1] if term.qname else kind}"))
    assert not problems, f"{len(problems)} state(s) differ:\n" + "\n".join(problems[:5])
    assert len(seen) > 30
