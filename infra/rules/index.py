"""Rules indexed by a condition they cannot fire without, so an event tests few of them.

Most rules open with a threshold or a match (`scores.insult > 0.7 and …`, `toxic >= 0.9 …`,
`decision == "review" and …`, `lang in ["en", "fr"] and …`). Such a conjunct is a *guard*: the
rule fires only where it holds. Rules guarded on the same field are kept together, thresholds
sorted, so that one read of the field and one bisection find every rule whose guard holds (and
one dict look-up for a match); only those rules, and the rules without a guard, are then tested
in full. The guard is tested again as part of the rule: it only narrows the candidates, so the
rules that fire, and their order, are exactly those of testing every rule.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from infra.rules.fields import SCORES_PREFIX
from infra.rules.syntax import Const, Expr, Field, Op

Facts = dict[str, Any]
Read = Callable[[Facts], Any]

_ABOVE = (">", ">=")
_BELOW = ("<", "<=")
_MISSING = object()


@dataclass(frozen=True, slots=True)
class Guard:
    """`path op value`: a condition the rule needs."""

    path: str
    op: str  # > >= < <= == in
    value: Any  # a number, a string, or a tuple of them for `in`


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
    if not isinstance(left, Field) or not isinstance(right, Const):
        return None
    value = right.value
    if term.op in _ABOVE + _BELOW and type(value) is float:
        return Guard(left.path, term.op, value)
    if term.op == "==" and type(value) in (str, float):
        return Guard(left.path, "==", value)
    if term.op == "in" and isinstance(value, tuple):
        return Guard(left.path, "in", value)
    return None


def _reader(path: str) -> Read:
    """What the rule itself reads for `path`; `_MISSING` where the facts lack it."""
    if path.startswith(SCORES_PREFIX):
        label = path.removeprefix(SCORES_PREFIX)
        return lambda f: f["scores"].get(label, 0.0) if "scores" in f else _MISSING
    return lambda f: f.get(path, _MISSING)


class _Thresholds:
    """Rules guarded by `path > t` (or >=, <, <=), by `t` ascending."""

    def __init__(self, path: str, op: str, entries: list[tuple[float, int]]) -> None:
        entries.sort()
        self.read = _reader(path)
        self.op = op
        self.limits = [t for t, _ in entries]
        self.rules = [i for _, i in entries]

    def candidates(self, facts: Facts, out: list[int]) -> None:
        value = self.read(facts)
        if value is _MISSING or value != value:  # noqa: PLR0124 (NaN: no order, test them all)
            out.extend(self.rules)
            return
        try:
            match self.op:
                case ">":  # fires where t < value
                    out.extend(self.rules[: bisect.bisect_left(self.limits, value)])
                case ">=":
                    out.extend(self.rules[: bisect.bisect_right(self.limits, value)])
                case "<":  # fires where t > value
                    out.extend(self.rules[bisect.bisect_right(self.limits, value) :])
                case _:
                    out.extend(self.rules[bisect.bisect_left(self.limits, value) :])
        except TypeError:  # not a number after all: let the rules decide
            out.extend(self.rules)


class _Matches:
    """Rules guarded by `path == v` or `path in [v, …]`, by value."""

    def __init__(self, path: str, entries: list[tuple[Any, int]]) -> None:
        self.read = _reader(path)
        self.by_value: dict[Any, list[int]] = defaultdict(list)
        for value, i in entries:
            self.by_value[value].append(i)
        self.by_value = dict(self.by_value)
        self.all = sorted({i for _, i in entries})

    def candidates(self, facts: Facts, out: list[int]) -> None:
        value = self.read(facts)
        if value is _MISSING:
            out.extend(self.all)
            return
        try:
            found = self.by_value.get(value)
        except TypeError:  # unhashable: let the rules decide
            out.extend(self.all)
            return
        if found:
            out.extend(found)


class RuleIndex:
    """The rules to test for some facts: those whose guard holds, and those without one."""

    def __init__(self, guards: Sequence[Guard | None]) -> None:
        self.unguarded = [i for i, g in enumerate(guards) if g is None]
        thresholds: dict[tuple[str, str], list[tuple[float, int]]] = defaultdict(list)
        matches: dict[str, list[tuple[Any, int]]] = defaultdict(list)
        for i, g in enumerate(guards):
            if g is None:
                continue
            if g.op in _ABOVE + _BELOW:
                thresholds[(g.path, g.op)].append((g.value, i))
            elif g.op == "==":
                matches[g.path].append((g.value, i))
            else:
                matches[g.path].extend((v, i) for v in dict.fromkeys(g.value))
        self.groups: list[_Thresholds | _Matches] = [
            _Thresholds(path, op, entries) for (path, op), entries in thresholds.items()
        ]
        self.groups += [_Matches(path, entries) for path, entries in matches.items()]

    def candidates(self, facts: Facts) -> list[int]:
        """Indices of the rules to test, ascending (the order they were written)."""
        out = list(self.unguarded)
        for group in self.groups:
            group.candidates(facts, out)
        out.sort()
        return out
