"""EXI 1.0 schema-informed grammars (W3C EXI 1.0 section 8.5) built from a :class:`~.xsd.Schema`.

The construction follows the specification step by step for every type used by an element:
proto-grammars (8.5.4.1), normalisation (8.5.4.2: epsilon elimination by copying right-hand sides,
then duplicate terminals merged into union non-terminals), event-code assignment (8.5.4.3) and the
undeclared productions of strict = false (8.5.4.4.1).  Only what changes the bits of a stream is
kept: per state the first-level productions in event-code order, and the number of second-level
productions with the position of a second-level EE.  With the V2G profile (no comments, processing
instructions, DTD, prefixes or self-contained elements) those are:

- j = 0:            [EE], AT(xsi:type), AT(xsi:nil), AT(*), AT-untyped group, SE(*), CH-untyped
- 0 < j <= content: [EE], AT(*), AT-untyped group, SE(*), CH-untyped
- j > content:      [EE], SE(*), CH-untyped

where [EE] is present when EE is not already a first-level production; it is always n.0.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from itertools import count

from evcharge._exi.codegen.xsd import (
    ComplexType,
    ElementDecl,
    ModelGroup,
    Particle,
    QName,
    Schema,
    SchemaError,
    SimpleType,
    Wildcard,
    qname_key,
)

# Terminal kinds, in event-code order (8.5.4.3)
AT, AT_URI_WILD, AT_WILD, SE, SE_URI_WILD, SE_WILD, EE, CH = range(8)


def bits_for(n: int) -> int:
    """Bits of an n-valued code: ceil(log2(n)), 0 for n <= 1 (exact integer arithmetic)."""
    return 0 if n <= 1 else (n - 1).bit_length()


@dataclass(frozen=True)
class Terminal:
    kind: int
    qname: QName | None = None
    # SE: the element declaration; AT: the attribute use
    decl: object = field(default=None, compare=False, hash=False)
    order: tuple[int, int] = field(default=(0, 0), compare=False, hash=False)
    untyped: bool = False  # CH [untyped value] of mixed content

    def sort_key(self) -> tuple[object, ...]:
        if self.kind == AT:
            assert self.qname is not None
            return (AT, qname_key(self.qname))
        if self.kind in (SE, SE_URI_WILD):
            return (self.kind, self.order)
        return (self.kind,)


EE_T = Terminal(EE)


@dataclass
class State:
    """A normalised non-terminal: first-level productions in event-code order."""

    productions: list[tuple[Terminal, int | None]]  # (terminal, next state index) ; EE has None
    n2: int  # number of second-level productions
    ee2: int  # second-level code of EE, -1 if EE is first-level

    @property
    def width(self) -> int:
        return bits_for(len(self.productions) + 1)  # + the escape to second level

    @property
    def width2(self) -> int:
        return bits_for(self.n2)


@dataclass
class TypeGrammar:
    states: list[State]  # index 0 is the start state


class _Proto:
    """Proto-grammar under construction: non-terminals with productions (terminal|None, target)."""

    def __init__(self) -> None:
        self.prods: list[list[tuple[Terminal | None, int | None]]] = []
        self.attr_part: set[int] = set()

    def new(self) -> int:
        self.prods.append([])
        return len(self.prods) - 1

    # A fragment is (start, [states]) ; EE productions are (EE_T, None)
    def concat(self, frags: list[tuple[int, list[int]]]) -> tuple[int, list[int]]:
        for (_, a_states), (b_start, _) in itertools.pairwise(frags):
            for s in a_states:
                self.prods[s] = [(None, b_start) if t is EE_T else (t, n) for t, n in self.prods[s]]
        states = [s for _, st in frags for s in st]
        return frags[0][0], states

    def empty(self) -> tuple[int, list[int]]:
        s = self.new()
        self.prods[s].append((EE_T, None))
        return s, [s]


class GrammarBuilder:
    def __init__(self, schema: Schema, looped: frozenset[str] = frozenset()) -> None:
        """``looped``: local names of the elements whose bounded repetition the reference grammars
        turn into a loop (see :attr:`evcharge._exi.codegen.Family.looped`)."""
        self.schema = schema
        self.looped = looped
        self._cache: dict[int, TypeGrammar] = {}

    # -- public ---------------------------------------------------------------------------------
    def type_grammar(self, t: ComplexType | SimpleType) -> TypeGrammar:
        key = id(t)
        if key not in self._cache:
            self._cache[key] = self._build(t)
        return self._cache[key]

    # -- proto-grammars -------------------------------------------------------------------------
    def _build(self, t: ComplexType | SimpleType) -> TypeGrammar:
        p = _Proto()
        if isinstance(t, SimpleType):
            s0, s1 = p.new(), p.new()
            p.prods[s0].append((Terminal(CH), s1))
            p.prods[s1].append((EE_T, None))
            p.attr_part.add(s0)  # content index 0: state 0 is j <= content
            start = s0
        else:
            start = self._complex(p, t)
        return self._normalise(p, start)

    def _complex(self, p: _Proto, t: ComplexType) -> int:
        if t.attribute_wildcard is not None:
            raise SchemaError(f"attribute wildcards are not supported ({t.name})")
        frags: list[tuple[int, list[int]]] = []
        for a in sorted(t.attributes, key=lambda a: qname_key(a.qname)):
            s0, s1 = p.new(), p.new()
            p.prods[s0].append((Terminal(AT, a.qname, a), s1))
            p.prods[s1].append((EE_T, None))
            if not a.required:
                p.prods[s0].append((EE_T, None))
            frags.append((s0, [s0, s1]))
        if not frags:
            frags.append(p.empty())
        for _, sts in frags:
            p.attr_part.update(sts)
        if t.content_kind == "simple":
            s0, s1 = p.new(), p.new()
            p.prods[s0].append((Terminal(CH), s1))
            p.prods[s1].append((EE_T, None))
            content = (s0, [s0, s1])
        elif t.particle is not None:
            order = _leaf_order(t.particle)
            content = self._particle(p, t.particle, order)
            if t.content_kind == "mixed":
                for s in content[1]:
                    p.prods[s].append((Terminal(CH, untyped=True), s))
        else:
            content = p.empty()
        start, _ = p.concat([*frags, content])
        return start

    def _particle(self, p: _Proto, part: Particle, order: dict[int, int]) -> tuple[int, list[int]]:
        mn, mx = part.min_occurs, part.max_occurs
        if mx == 0:
            return p.empty()
        if mx is not None and mx > 1 and isinstance(part.term, ElementDecl) and part.term.qname[1] in self.looped:
            mx = None  # a{n,m} -> a{n,unbounded}, as the reference grammars have it (Family.looped)
        copies = [self._term(p, part, order) for _ in range(mn)]
        if mx is not None:
            for _ in range(mx - mn):
                g = self._term(p, part, order)
                if not any(t is EE_T for t, _ in p.prods[g[0]]):
                    p.prods[g[0]].append((EE_T, None))
                copies.append(g)
        else:
            g = self._term(p, part, order)
            for s in g[1]:
                p.prods[s] = [(None, g[0]) if t is EE_T else (t, n) for t, n in p.prods[s]]
            if not any(t is EE_T for t, _ in p.prods[g[0]]):
                p.prods[g[0]].append((EE_T, None))
            copies.append(g)
        if not copies:
            return p.empty()
        return p.concat(copies)

    def _term(self, p: _Proto, part: Particle, order: dict[int, int]) -> tuple[int, list[int]]:
        term = part.term
        if isinstance(term, ElementDecl):
            s0, s1 = p.new(), p.new()
            members = [term, *term.members] if term.is_global else [term]
            uniq = {m.qname: m for m in members}
            for rank, q in enumerate(sorted(uniq, key=qname_key)):
                p.prods[s0].append((Terminal(SE, q, uniq[q], (order[id(part)], rank)), s1))
            p.prods[s1].append((EE_T, None))
            return s0, [s0, s1]
        if isinstance(term, Wildcard):
            s0, s1 = p.new(), p.new()
            if term.namespaces in ("##any", "##other"):
                p.prods[s0].append((Terminal(SE_WILD), s1))
            else:
                for rank, uri in enumerate(term.namespaces.split()):
                    uri = "" if uri == "##local" else uri
                    p.prods[s0].append((Terminal(SE_URI_WILD, (uri, "*"), None, (order[id(part)], rank)), s1))
            p.prods[s1].append((EE_T, None))
            return s0, [s0, s1]
        assert isinstance(term, ModelGroup)
        if not term.particles:
            return p.empty()
        if term.compositor == "sequence":
            return p.concat([self._particle(p, c, order) for c in term.particles])
        if term.compositor == "choice":
            s0 = p.new()
            states = [s0]
            for c in term.particles:
                g = self._particle(p, c, order)
                p.prods[s0].append((None, g[0]))
                states += g[1]
            return s0, states
        # all
        s0 = p.new()
        p.prods[s0].append((EE_T, None))
        states = [s0]
        for c in term.particles:
            g = self._particle(p, c, order)
            for s in g[1]:
                p.prods[s] = [(None, s0) if t is EE_T else (t, n) for t, n in p.prods[s]]
            p.prods[s0].append((None, g[0]))
            states += g[1]
        return s0, states

    # -- normalisation (8.5.4.2), event codes (8.5.4.3), undeclared productions (8.5.4.4.1) -------
    def _normalise(self, p: _Proto, start: int) -> TypeGrammar:
        """8.5.4.2 by subset construction over epsilon closures.

        Replacing ``G_j : G_k`` by the right-hand sides of ``G_k`` (8.5.4.2.1) and merging the
        productions that share a terminal into union non-terminals ``G_k⊔l`` (8.5.4.2.2) yields,
        for every reachable non-terminal, the terminals of the epsilon closure of a set of proto
        states.  Building those sets directly gives the same terminals per state, and stays
        quadratic for long bounded repetitions (``maxOccurs="1024"``) where the literal procedure
        is cubic.  A state is in the attribute part (j <= content) when its set holds a proto
        state of an attribute-use grammar.
        """
        prods = p.prods

        def closure(seed: frozenset[int] | set[int]) -> frozenset[int]:
            seen = set(seed)
            stack = list(seed)
            while stack:
                cur = stack.pop()
                for t, n in prods[cur]:
                    if t is None and n not in seen:
                        assert n is not None
                        seen.add(n)
                        stack.append(n)
            return frozenset(seen)

        index: dict[frozenset[int], int] = {}
        order: list[frozenset[int]] = []

        def idx(members: frozenset[int]) -> int:
            if members not in index:
                index[members] = len(order)
                order.append(members)
            return index[members]

        idx(closure({start}))
        states: list[State] = []
        i = 0
        while i < len(order):
            members = order[i]
            grouped: dict[Terminal, tuple[Terminal, set[int]]] = {}
            has_ee = False
            for m in sorted(members):
                for t, n in prods[m]:
                    if t is None:
                        continue
                    if t.kind == EE:
                        has_ee = True
                        continue
                    if t in grouped:
                        first, targets = grouped[t]
                        if t.kind == SE and first.decl is not t.decl and \
                                getattr(first.decl, "type", None) is not getattr(t.decl, "type", None):
                            raise SchemaError(f"two element declarations {t.qname} with different types in one state")
                        if t.order < first.order:
                            grouped[t] = (t, targets)
                    else:
                        grouped[t] = (t, set())
                    assert n is not None
                    grouped[t][1].add(n)
            out: list[tuple[Terminal, int | None]] = [
                (t, idx(closure(targets))) for t, targets in grouped.values()
            ]
            if has_ee:
                out.append((EE_T, None))
            out.sort(key=lambda pr: pr[0].sort_key())
            # strict = false (8.5.4.4.1): second-level productions
            is_start = i == 0
            in_attr_part = not members.isdisjoint(p.attr_part)
            n2 = 0 if has_ee else 1
            if is_start:
                n2 += 2  # AT(xsi:type), AT(xsi:nil)
            if is_start or in_attr_part:
                n2 += 2  # AT(*), AT(qname)[untyped] group
            n2 += 2  # SE(*), CH [untyped]
            states.append(State(out, n2, -1 if has_ee else 0))
            i += 1
        return TypeGrammar(states)


def _leaf_order(particle: Particle) -> dict[int, int]:
    """Schema order of the leaf particles (element and wildcard terms), depth first."""
    out: dict[int, int] = {}
    c = count()

    def walk(p: Particle) -> None:
        if isinstance(p.term, ModelGroup):
            for child in p.term.particles:
                walk(child)
        elif id(p) not in out:
            out[id(p)] = next(c)

    walk(particle)
    return out


__all__ = ["AT", "CH", "EE", "SE", "SE_WILD", "GrammarBuilder", "State", "Terminal", "TypeGrammar", "bits_for"]
