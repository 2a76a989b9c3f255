"""Rule sets compiled once into closures: no `eval`, no Python objects reachable from a rule.

A rule reads only the facts of the catalogue (`fields.py`) and the counters its set declares;
every operator is checked for its operands' types here, so evaluation cannot fail on an event.
One module on purpose (over 400 lines): type checking and closure building are one pass over
the tree, and splitting them would pass the same typed nodes back and forth.
The language has no loops, calls only a fixed list of functions, and the limits below bound
the number of nodes, so evaluating a rule set costs at most `nodes x len(text)` steps: bounded
in time by construction, not by a watchdog.

Facts are a dict (`field path → value`, `scores` → the label map, a counter's name → its count)
that the worker fills (`streams/rules/facts.py`: the costly fields only when the set reads them,
`RuleSet.reads`).
"""

from __future__ import annotations

import hashlib
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from infra.errors import InvalidRules, RuleProblem
from infra.rules.closures import (
    arithmetic,
    compare,
    lower_once,
    scores_arithmetic,
    text_match,
)
from infra.rules.fields import DEFAULTS, FIELDS, SCORES_PREFIX, Type, field_type
from infra.rules.index import Guard, RuleIndex, guard_of, rest_of
from infra.rules.syntax import (
    Action,
    At,
    Call,
    Const,
    CounterNode,
    Expr,
    Field,
    Op,
    RuleNode,
    parse,
)

MAX_RULES = 500
MAX_COUNTERS = 50
MAX_NODES = 200
"""Per rule (and per counter): operators, fields and constants."""
MAX_LIST = 1_000
MAX_STRING = 1_000
MAX_ACTIONS = 10
MAX_WINDOW_S = 30 * 86_400.0

Facts = dict[str, Any]
Test = Callable[[Facts], Any]

_SEVERITY = {"approve": 0, "review": 1, "reject": 2}
_COMPARE = {
    "==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le,
    ">": operator.gt, ">=": operator.ge,
}  # fmt: skip


_ARITHMETIC = frozenset({"+", "-", "*", "/"})  # closures.arithmetic: dividing by zero gives 0
_FUNCTIONS: dict[str, tuple[tuple[Type, ...], Type, Callable[..., Any]]] = {
    "len": ((Type.STRING,), Type.NUMBER, lambda s: float(len(s))),
    "lower": ((Type.STRING,), Type.STRING, str.casefold),
    "abs": ((Type.NUMBER,), Type.NUMBER, abs),
    "min": ((Type.NUMBER, Type.NUMBER), Type.NUMBER, min),
    "max": ((Type.NUMBER, Type.NUMBER), Type.NUMBER, max),
}


@dataclass(frozen=True, slots=True, eq=False)  # hashed by identity: cheap as a cache key
class CompiledCounter:
    """Counts the events whose `key` is the same, in a sliding `window` (seconds) of event time;
    only events for which `where` holds are counted."""

    name: str
    key: Test
    window: float
    where: Test | None
    version: str
    every_item_by_author: bool = False
    """`count by author` without `where`: the same events as the author's history
    (`author.items`), which the engine keeps them with, whatever the window."""


@dataclass(frozen=True, slots=True, eq=False)  # hashed by identity: cheap as a cache key
class CompiledRule:
    name: str
    version: str
    shadow: bool
    test: Test
    actions: tuple[Action, ...]
    decision: str | None  # the decision it sets, if any
    labels: tuple[str, ...] = ()  # the labels it adds

    def fires(self, facts: Facts) -> bool:
        return bool(self.test(facts))


@dataclass(frozen=True, slots=True)
class RuleSet:
    rules: tuple[CompiledRule, ...]
    counters: tuple[CompiledCounter, ...]
    reads: frozenset[str]
    """Field paths the set reads (`scores` for any label), counters excluded."""
    version: int = 0
    index: RuleIndex | None = None
    """Which rules to test for given facts (`index.py`); None: test every rule."""
    rests: tuple[Test | None, ...] = ()
    """With `index`: what to test of each rule the index gives (its guard holds): the rest of
    its condition (None: nothing else), or the whole of it for a rule without a guard."""

    def evaluate(self, facts: Facts) -> list[CompiledRule]:
        """The rules that fire on `facts`, live and shadow, in the order written."""
        if self.index is None:
            return [rule for rule in self.rules if rule.test(facts)]
        rules, rests = self.rules, self.rests
        return [
            rules[i]
            for i in self.index.candidates(facts)
            if (rest := rests[i]) is None or rest(facts)
        ]


EMPTY = RuleSet((), (), frozenset())


def severest(decisions: list[str]) -> str | None:
    return max(decisions, key=_SEVERITY.__getitem__) if decisions else None


def version_of(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:10]


def compile_rules(source: str, version: int = 0) -> RuleSet:
    """Parse, check and compile `source`, and run each rule's examples. Raises `InvalidRules`
    listing every problem found (line, column, reason)."""
    program = parse(source)
    checker = _Checker({c.name for c in program.counters})
    problems: list[RuleProblem] = []
    if len(program.rules) > MAX_RULES:
        problems.append(_at(program.rules[MAX_RULES].at, f"more than {MAX_RULES} rules"))
    if len(program.counters) > MAX_COUNTERS:
        problems.append(
            _at(program.counters[MAX_COUNTERS].at, f"more than {MAX_COUNTERS} counters")
        )
    counters = [checker.counter(c) for c in program.counters]
    rules = [checker.rule(r) for r in program.rules]
    problems += checker.problems
    if not problems:
        for rule, node in zip(rules, program.rules, strict=True):
            problems += _examples(rule, node, checker.counters)
    if problems:
        raise InvalidRules(sorted(problems, key=lambda p: (p.line, p.column)))
    guards = [guard_of(node.when) for node in program.rules]
    index = RuleIndex(guards, [rule.test for rule in rules])
    rests = tuple(
        rule.test if guard is None else _rest(node.when, guard, checker.counters)
        for rule, node, guard in zip(rules, program.rules, guards, strict=True)
    )
    return RuleSet(tuple(rules), tuple(counters), frozenset(checker.reads), version, index, rests)


def _rest(when: Expr, guard: Guard, counters: set[str]) -> Test | None:
    """The condition `when` less its guard's term (None if nothing is left), compiled on its
    own (the whole was checked already)."""
    terms = rest_of(when, guard)
    if not terms:
        return None
    checker = _Checker(counters)
    tests = tuple(checker.condition(t) for t in terms)
    return tests[0] if len(tests) == 1 else _all(tests)


def _at(at: At, reason: str) -> RuleProblem:
    return RuleProblem(at.line, at.column, reason)


class _Checker:
    """Type-checks and compiles; collects problems rather than stopping at the first."""

    def __init__(self, counters: set[str]) -> None:
        self.counters = counters
        self.problems: list[RuleProblem] = []
        self.reads: set[str] = set()
        self._names: set[str] = set()
        self._nodes = 0
        self._in_counter = False

    def _name(self, name: str, at: At) -> None:
        if name in self._names:
            self.problems.append(_at(at, f"{name!r} is defined twice"))
        if field_type(name) is not None:
            self.problems.append(_at(at, f"{name!r} is a field's name; choose another"))
        self._names.add(name)

    def counter(self, node: CounterNode) -> CompiledCounter:
        self._name(node.name, node.at)
        self._nodes, self._in_counter = 0, True
        if not 0 < node.window <= MAX_WINDOW_S:
            self.problems.append(_at(node.at, "a counter's window is between 1s and 30d"))
        key_type, key = self.expr(node.key)
        if key_type not in (Type.STRING, Type.NUMBER, None):
            reason = f"a counter counts by a string, not a {key_type}"
            self.problems.append(_at(node.key.at, reason))
        where = None
        if node.where is not None:
            where = self.condition(node.where)
        self._in_counter = False
        by_author = isinstance(node.key, Field) and node.key.path == "author"
        return CompiledCounter(
            node.name, key, node.window, where, version_of(node.text),
            by_author and node.where is None,
        )  # fmt: skip

    def rule(self, node: RuleNode) -> CompiledRule:
        self._name(node.name, node.at)
        self._nodes = 0
        test = self.condition(node.when)
        if len(node.actions) > MAX_ACTIONS:
            self.problems.append(_at(node.at, f"more than {MAX_ACTIONS} actions"))
        decisions = [a.value for a in node.actions if a.kind == "decision"]
        if len(decisions) > 1:
            self.problems.append(_at(node.at, "a rule sets one decision at most"))
        for action in node.actions:
            if action.kind == "hold" and not 0 < float(action.value) <= MAX_WINDOW_S:
                self.problems.append(_at(node.at, "a hold lasts between 1s and 30d"))
        return CompiledRule(
            node.name, version_of(node.text), node.shadow, test, node.actions,
            decisions[0] if decisions else None,
            tuple(a.value for a in node.actions if a.kind == "label"),
        )  # fmt: skip

    def condition(self, expr: Expr) -> Test:
        kind, test = self.expr(expr)
        if kind not in (Type.BOOL, None):
            self.problems.append(_at(expr.at, f"a condition is true or false, not a {kind}"))
        return test

    def expr(self, expr: Expr) -> tuple[Type | None, Test]:
        """(type, closure); the type is None after a problem (no second error for it)."""
        self._nodes += 1
        if self._nodes == MAX_NODES + 1:
            self.problems.append(_at(expr.at, f"more than {MAX_NODES} terms in one rule"))
        match expr:
            case Const():
                return self._const(expr)
            case Field():
                return self._field(expr)
            case Call():
                return self._call(expr)
            case Op():
                return self._op(expr)

    def _const(self, expr: Const) -> tuple[Type | None, Test]:
        value = expr.value
        if isinstance(value, tuple):
            if len(value) > MAX_LIST:
                self.problems.append(_at(expr.at, f"a list holds {MAX_LIST} values at most"))
            members = frozenset(value)
            return Type.LIST, lambda _f: members
        if isinstance(value, str) and len(value) > MAX_STRING:
            self.problems.append(_at(expr.at, f"a string holds {MAX_STRING} characters at most"))
        kind = {bool: Type.BOOL, float: Type.NUMBER, str: Type.STRING}[type(value)]
        return kind, lambda _f: value

    def _field(self, expr: Field) -> tuple[Type | None, Test]:
        path = expr.path
        if path in self.counters:
            if self._in_counter:
                self.problems.append(_at(expr.at, "a counter cannot read another counter"))
                return None, lambda _f: 0
            return Type.NUMBER, operator.itemgetter(path)
        kind = field_type(path)
        if kind is None:
            known = ", ".join([*FIELDS, "scores.<label>", *sorted(self.counters)])
            self.problems.append(_at(expr.at, f"unknown field {path!r}; known: {known}"))
            return None, lambda _f: None
        if self._in_counter and path.startswith("author."):
            self.problems.append(_at(expr.at, "a counter cannot read the author's history"))
        if path.startswith(SCORES_PREFIX):
            self.reads.add("scores")
            label = path.removeprefix(SCORES_PREFIX)
            return kind, lambda f: f["scores"].get(label, 0.0)
        self.reads.add(path)
        return kind, operator.itemgetter(path)

    def _call(self, expr: Call) -> tuple[Type | None, Test]:
        spec = _FUNCTIONS.get(expr.name)
        if spec is None:
            known = ", ".join(_FUNCTIONS)
            self.problems.append(_at(expr.at, f"unknown function {expr.name!r}; known: {known}"))
            return None, lambda _f: None
        wants, gives, fn = spec
        if len(expr.args) != len(wants):
            self.problems.append(
                _at(expr.at, f"{expr.name}() takes {len(wants)} argument(s), not {len(expr.args)}")
            )
            return None, lambda _f: None
        where = f"{expr.name}()"
        args = [self._typed(a, w, where) for a, w in zip(expr.args, wants, strict=True)]
        if len(args) == 1:
            (a,) = args
            (arg,) = expr.args
            if expr.name == "lower" and isinstance(arg, Field) and field_type(arg.path):
                return gives, lower_once(arg.path)  # often read by many rules of a set
            return gives, lambda f: fn(a(f))
        a, b = args
        return gives, lambda f: fn(a(f), b(f))

    def _typed(self, expr: Expr, want: Type, where: str) -> Test:
        kind, test = self.expr(expr)
        if kind is not None and kind != want:
            self.problems.append(_at(expr.at, f"{where} wants a {want}, got a {kind}"))
        return test

    def _op(self, expr: Op) -> tuple[Type | None, Test]:
        op, args = expr.op, expr.args
        if op in ("and", "or"):
            tests = tuple(self._typed(a, Type.BOOL, f"'{op}'") for a in args)
            return Type.BOOL, _all(tests) if op == "and" else _any(tests)
        if op == "not":
            inner = self._typed(args[0], Type.BOOL, "'not'")
            return Type.BOOL, lambda f: not inner(f)
        if op == "neg":
            inner = self._typed(args[0], Type.NUMBER, "'-'")
            return Type.NUMBER, lambda f: -inner(f)
        if op in _ARITHMETIC:
            a, b = (self._typed(x, Type.NUMBER, f"'{op}'") for x in args)
            left, right = args
            constant = right.value if isinstance(right, Const) else None
            fused = _scores_arithmetic(op, left, right)
            return Type.NUMBER, fused or arithmetic(
                op, a, b, constant if type(constant) is float else None
            )
        if op in ("contains", "startswith"):
            a, b = (self._typed(x, Type.STRING, f"'{op}'") for x in args)
            right = args[1]
            if isinstance(right, Const) and type(right.value) is str:
                return Type.BOOL, text_match(op, a, right.value)
            fn = operator.contains if op == "contains" else str.startswith
            return Type.BOOL, _binary(fn, a, b)
        if op in ("in", "not_in"):
            return Type.BOOL, self._membership(expr)
        return Type.BOOL, self._compare(expr)

    def _membership(self, expr: Op) -> Test:
        kind, left = self.expr(expr.args[0])
        right = expr.args[1]
        _, members_of = self.expr(right)
        if kind not in (Type.STRING, Type.NUMBER, None):
            self.problems.append(_at(expr.at, f"'in' looks for a string or number, not a {kind}"))
        members = members_of({})
        field = expr.args[0]
        if isinstance(field, Field) and not field.path.startswith(SCORES_PREFIX):
            path = field.path
            if expr.op == "in":
                return lambda f: f[path] in members
            return lambda f: f[path] not in members
        if expr.op == "in":
            return lambda f: left(f) in members
        return lambda f: left(f) not in members

    def _compare(self, expr: Op) -> Test:
        (ka, a), (kb, b) = self.expr(expr.args[0]), self.expr(expr.args[1])
        op = expr.op
        if ka is not None and kb is not None:
            if ka != kb:
                self.problems.append(_at(expr.at, f"cannot compare a {ka} with a {kb}"))
            elif op not in ("==", "!=") and ka != Type.NUMBER:
                self.problems.append(_at(expr.at, f"'{op}' compares numbers, not {ka}s"))
        left, right = expr.args
        if isinstance(right, Const) and not isinstance(right.value, tuple):
            return _against_constant(op, left, a, right.value)
        return _binary(_COMPARE[op], a, b)


def _against_constant(  # noqa: PLR0911 (one closure per operator: the hot path)
    op: str, left: Expr, a: Test, value: Any
) -> Test:
    """`field > 0.8`, the common case, as one closure that reads the fact itself."""
    if isinstance(left, Field) and not left.path.startswith(SCORES_PREFIX):
        path = left.path
        match op:
            case ">":
                return lambda f: f[path] > value
            case ">=":
                return lambda f: f[path] >= value
            case "<":
                return lambda f: f[path] < value
            case "<=":
                return lambda f: f[path] <= value
            case "==":
                return lambda f: f[path] == value
            case "!=":
                return lambda f: f[path] != value
    if isinstance(left, Field) and op in (">", ">="):
        label = left.path.removeprefix(SCORES_PREFIX)
        if op == ">":
            return lambda f: f["scores"].get(label, 0.0) > value
        return lambda f: f["scores"].get(label, 0.0) >= value
    special = compare(op, a, value)
    if special is not None:
        return special
    fn = _COMPARE[op]  # pragma: no cover - every operator has its closure
    return lambda f: fn(a(f), value)


def _scores_arithmetic(op: str, left: Expr, right: Expr) -> Test | None:
    """`scores.a + scores.b` (or `-`, `*`) as one closure; None for another shape."""
    if not (isinstance(left, Field) and isinstance(right, Field)):
        return None
    if not (left.path.startswith(SCORES_PREFIX) and right.path.startswith(SCORES_PREFIX)):
        return None
    a, b = (x.path.removeprefix(SCORES_PREFIX) for x in (left, right))
    return scores_arithmetic(op, a, b)


def _binary(fn: Callable[[Any, Any], Any], a: Test, b: Test) -> Test:
    return lambda f: fn(a(f), b(f))


def _all(tests: tuple[Test, ...]) -> Test:
    if len(tests) == 2:
        a, b = tests
        return lambda f: a(f) and b(f)

    def every(f: Facts) -> bool:
        for test in tests:  # noqa: SIM110 (a plain loop: no generator per event)
            if not test(f):
                return False
        return True

    return every


def _any(tests: tuple[Test, ...]) -> Test:
    if len(tests) == 2:
        a, b = tests
        return lambda f: a(f) or b(f)

    def some(f: Facts) -> bool:
        for test in tests:  # noqa: SIM110 (a plain loop: no generator per event)
            if test(f):
                return True
        return False

    return some


def example_facts(given: Mapping[str, Any], counters: set[str]) -> Facts:
    """Facts with every field at its default, then what an example (or a caller) gives."""
    facts: Facts = {path: DEFAULTS[spec.type] for path, spec in FIELDS.items()}
    facts["scores"] = {}
    facts.update(dict.fromkeys(counters, 0.0))
    for path, value in given.items():
        if path.startswith(SCORES_PREFIX):
            facts["scores"][path.removeprefix(SCORES_PREFIX)] = value
        else:
            facts[path] = value
    return facts


def _examples(rule: CompiledRule, node: RuleNode, counters: set[str]) -> list[RuleProblem]:
    """Each example of the rule, run: a problem for each that does not come out as written."""
    problems = []
    for example in node.examples:
        given = dict(example.facts)
        for path, value in given.items():
            kind = Type.NUMBER if path in counters else field_type(path)
            if kind is None:
                problems.append(_at(example.at, f"unknown field {path!r} in the example"))
            elif type(value) is not type(DEFAULTS[kind]):
                problems.append(_at(example.at, f"{path} is a {kind}, in the example too"))
        if problems:
            continue
        fired = rule.fires(example_facts(given, counters))
        if fired != example.fires:
            expected = "fire" if example.fires else "not fire"
            outcome = "it does" if fired else "it does not"
            problems.append(
                _at(example.at, f"rule {rule.name!r} should {expected} on this example; {outcome}")
            )
    return problems


__all__ = [
    "EMPTY",
    "CompiledCounter",
    "CompiledRule",
    "Facts",
    "RuleSet",
    "compile_rules",
    "example_facts",
    "severest",
    "version_of",
]
