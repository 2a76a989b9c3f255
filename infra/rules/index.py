"""Rules indexed by a condition they cannot fire without, so an event tests few of them.

Most rules open with a threshold or a match (`scores.insult > 0.7 and …`, `toxic >= 0.9 …`,
`decision == "review" and …`, `lang in ["en", "fr"] and …`). Such a conjunct is a *guard*: the
rule fires only where it holds. Rules guarded on the same field are kept together, thresholds
sorted, so that one read of the field and one bisection find every rule whose guard holds (and
one dict look-up for a match; for text matches, `text contains "…"` or on `lower(text)`, one
read of the text and a plain substring test per rule instead of a call of its closure). The
answer is exact: where the field cannot be bisected or looked up (absent, NaN, another type),
each rule of the group is tested in full instead. So a rule the index gives has its guard
holding, and only the rest of its condition is tested (`RuleSet`); the rules without a guard
are tested in full. The rules that fire, and their order, are exactly those of testing every
rule.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from infra.rules.fields import SCORES_PREFIX
from infra.rules.syntax import Call, Const, Expr, Field, Op

Facts = dict[str, Any]
Read = Callable[[Facts], Any]

_ABOVE = (">", ">=")
_BELOW = ("<", "<=")
_TEXT = ("contains", "startswith")
_MISSING = object()


@dataclass(frozen=True, slots=True)
class Guard:
    """`path op value`: a condition the rule needs."""

    path: str
    op: str  # > >= < <= == in contains startswith
    value: Any  # a number, a string, or a tuple of them for `in`
    term: Expr | None = field(default=None, compare=False)  # the term of the condition it is
    lower: bool = False  # a text match on `lower(path)`


def rest_of(when: Expr, guard: Guard) -> list[Expr]:
    """The terms of `when` other than its guard's, in their order."""
    terms = when.args if isinstance(when, Op) and when.op == "and" else (when,)
    return [t for t in terms if t is not guard.term]


def guard_of(when: Expr) -> Guard | None:
    """A guard of the condition `when`: itself or one of its top-level `and` terms."""
    terms = when.args if isinstance(when, Op) and when.op == "and" else (when,)
    for term in terms:
        found = _guard(term)
        if found is not None:
            return found
    return None


def _guard(term: Expr) -> Guard | None:
    if not isinstance(term, Op) or len(term.args) != 2:
        return None
    left, right = term.args
    if term.op in _TEXT and isinstance(right, Const) and type(right.value) is str:
        lower = isinstance(left, Call) and left.name == "lower" and len(left.args) == 1
        field = left.args[0] if isinstance(left, Call) and lower else left
        if isinstance(field, Field) and not field.path.startswith(SCORES_PREFIX):
            return Guard(field.path, term.op, right.value, term, lower)
        return None
    if not isinstance(left, Field) or not isinstance(right, Const):
        return None
    value = right.value
    if term.op in _ABOVE + _BELOW and type(value) is float:
        return Guard(left.path, term.op, value, term)
    if term.op == "==" and type(value) in (str, float):
        return Guard(left.path, "==", value, term)
    if term.op == "in" and isinstance(value, tuple):
        return Guard(left.path, "in", value, term)
    return None


def _lowered(path: str) -> Read:
    """`lower(path)`, kept in the facts under the name `closures.lower_once` uses, so a rule
    that reads it again does not lower the text twice; `_MISSING` where it is not a string."""
    key = f"lower({path})"

    def read(f: Facts) -> Any:
        found = f.get(key)
        if found is None:
            value = f.get(path)
            if type(value) is not str:
                return _MISSING
            found = f[key] = value.casefold()
        return found

    return read


def _reader(path: str) -> Read:
    """What the rule itself reads for `path`; `_MISSING` where the facts lack it."""
    if path.startswith(SCORES_PREFIX):
        label = path.removeprefix(SCORES_PREFIX)
        return lambda f: f["scores"].get(label, 0.0) if "scores" in f else _MISSING
    return lambda f: f.get(path, _MISSING)


class _Thresholds:
    """Rules guarded by `path > t` (or >=, <, <=), by `t` ascending."""

    def __init__(
        self, path: str, op: str, entries: list[tuple[float, int]], tests: Sequence[Read]
    ) -> None:
        entries.sort()
        self.read = _reader(path)
        self.tests = tests
        # `> t` holds where t < value: the rules before bisect_left; `>=`: before bisect_right;
        # `< t` where t > value: from bisect_right on; `<=`: from bisect_left on.
        self.cut = bisect.bisect_left if op in (">", "<=") else bisect.bisect_right
        self.below = op in _BELOW
        self.limits = [t for t, _ in entries]
        self.rules = [i for _, i in entries]

    def candidates(self, facts: Facts, out: list[int]) -> None:
        value = self.read(facts)
        if value is _MISSING or value != value:  # noqa: PLR0124 (NaN: no order, test them all)
            out.extend(i for i in self.rules if self.tests[i](facts))
            return
        try:
            cut = self.cut(self.limits, value)
        except TypeError:  # not a number after all: let the rules decide
            out.extend(i for i in self.rules if self.tests[i](facts))
            return
        out.extend(self.rules[cut:] if self.below else self.rules[:cut])


class _Matches:
    """Rules guarded by `path == v` or `path in [v, …]`, by value."""

    def __init__(self, path: str, entries: list[tuple[Any, int]], tests: Sequence[Read]) -> None:
        self.read = _reader(path)
        self.tests = tests
        self.by_value: dict[Any, list[int]] = defaultdict(list)
        for value, i in entries:
            self.by_value[value].append(i)
        self.by_value = dict(self.by_value)
        self.all = sorted({i for _, i in entries})

    def candidates(self, facts: Facts, out: list[int]) -> None:
        value = self.read(facts)
        if value is _MISSING:
            out.extend(i for i in self.all if self.tests[i](facts))
            return
        try:
            found = self.by_value.get(value)
        except TypeError:  # unhashable: let the rules decide
            out.extend(i for i in self.all if self.tests[i](facts))
            return
        if found:
            out.extend(found)


class _Texts:
    """Rules guarded by `path contains s` or `path startswith s` (or on `lower(path)`): one
    read of the text, then a plain test per rule instead of a call of its closure."""

    def __init__(
        self, path: str, op: str, lower: bool, entries: list[tuple[str, int]], tests: Sequence[Read]
    ) -> None:
        self.read = _lowered(path) if lower else _reader(path)
        self.tests = tests
        self.starts = op == "startswith"
        self.entries = sorted(entries, key=lambda e: e[1])
        self.all = [i for _, i in self.entries]

    def candidates(self, facts: Facts, out: list[int]) -> None:
        text = self.read(facts)
        if type(text) is not str:  # absent, or not text: let the rules decide
            out.extend(i for i in self.all if self.tests[i](facts))
        elif self.starts:
            out.extend([i for s, i in self.entries if text.startswith(s)])
        else:
            out.extend([i for s, i in self.entries if s in text])


class RuleIndex:
    """The rules to test for some facts: those whose guard holds, and those without one.
    `tests`: each rule's whole condition, for when a guard cannot be looked up."""

    def __init__(self, guards: Sequence[Guard | None], tests: Sequence[Read]) -> None:
        self.unguarded = [i for i, g in enumerate(guards) if g is None]
        thresholds: dict[tuple[str, str], list[tuple[float, int]]] = defaultdict(list)
        matches: dict[str, list[tuple[Any, int]]] = defaultdict(list)
        texts: dict[tuple[str, str, bool], list[tuple[str, int]]] = defaultdict(list)
        for i, g in enumerate(guards):
            if g is None:
                continue
            if g.op in _TEXT:
                texts[(g.path, g.op, g.lower)].append((g.value, i))
            elif g.op in _ABOVE + _BELOW:
                thresholds[(g.path, g.op)].append((g.value, i))
            elif g.op == "==":
                matches[g.path].append((g.value, i))
            else:
                matches[g.path].extend((v, i) for v in dict.fromkeys(g.value))
        self.groups: list[_Thresholds | _Matches | _Texts] = [
            _Thresholds(path, op, entries, tests) for (path, op), entries in thresholds.items()
        ]
        self.groups += [_Matches(path, entries, tests) for path, entries in matches.items()]
        self.groups += [
            _Texts(path, op, lower, entries, tests) for (path, op, lower), entries in texts.items()
        ]

    def candidates(self, facts: Facts) -> list[int]:
        """Indices of the rules to test, ascending (the order they were written)."""
        out = list(self.unguarded)
        for group in self.groups:
            group.candidates(facts, out)
        out.sort()
        return out
