"""Closures for the shapes rules are mostly written in, each one call per node on the hot path.

The general closure of `a + b` calls `a`, `b` and `operator.add`; `x / 2` also calls a closure
that returns 2. Here an operator is written into its closure, a constant operand is held rather
than called, and `lower(field)` is computed once per item (kept in the item's facts under a name
no field can have), however many rules read it. Each gives exactly what the general closure
gives: they are chosen by shape when a rule is compiled, not by value when it runs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Facts = dict[str, Any]
Test = Callable[[Facts], Any]


def arithmetic(op: str, a: Test, b: Test, constant: float | None) -> Test:
    """`a op b`; `constant`: b's value when b is a constant. Dividing by zero gives 0."""
    if constant is not None:
        c = constant
        match op:
            case "+":
                return lambda f: a(f) + c
            case "-":
                return lambda f: a(f) - c
            case "*":
                return lambda f: a(f) * c
            case _:
                return (lambda f: a(f) / c) if c else (lambda _f: 0.0)
    match op:
        case "+":
            return lambda f: a(f) + b(f)
        case "-":
            return lambda f: a(f) - b(f)
        case "*":
            return lambda f: a(f) * b(f)

    def divide(f: Facts) -> float:
        d = b(f)
        return a(f) / d if d else 0.0

    return divide


def scores_arithmetic(op: str, a: str, b: str) -> Test | None:
    """`scores.a op scores.b` as one closure (a label not scored reads 0); None for `/`."""
    match op:
        case "+":
            return lambda f: (s := f["scores"]).get(a, 0.0) + s.get(b, 0.0)
        case "-":
            return lambda f: (s := f["scores"]).get(a, 0.0) - s.get(b, 0.0)
        case "*":
            return lambda f: (s := f["scores"]).get(a, 0.0) * s.get(b, 0.0)
    return None


def compare(op: str, a: Test, value: Any) -> Test | None:
    """`a op value`, for a constant `value`; None for an operator not listed."""
    match op:
        case ">":
            return lambda f: a(f) > value
        case ">=":
            return lambda f: a(f) >= value
        case "<":
            return lambda f: a(f) < value
        case "<=":
            return lambda f: a(f) <= value
        case "==":
            return lambda f: a(f) == value
        case "!=":
            return lambda f: a(f) != value
    return None


def text_match(op: str, a: Test, value: str) -> Test:
    """`a contains value` or `a startswith value`, for a constant `value`."""
    if op == "contains":
        return lambda f: value in a(f)
    return lambda f: a(f).startswith(value)


def lower_once(path: str) -> Test:
    """`lower(path)`, computed on the first read per item and kept in its facts."""
    key = f"lower({path})"  # not a field's name: fields are [a-z_.]+

    def lower(f: Facts) -> str:
        found: str | None = f.get(key)
        if found is None:
            found = f[key] = f[path].casefold()
        return found

    return lower
