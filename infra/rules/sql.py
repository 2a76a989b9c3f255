"""Rules translated into ClickHouse SQL over the stored verdicts, for backtests.

The same syntax tree the workers compile is translated here, term for term: a field becomes its
column (`scores.insult` → `scores['insult']`, `decision` → the policy's decision stored in the
verdict), a counter a window function over event time (`count by author within 10m where …` →
`countIf(…) OVER (PARTITION BY author ORDER BY ts RANGE BETWEEN 600000 PRECEDING AND CURRENT
ROW)`), and the author's history the same over 30 days; counters by author and the history
are counted per author over arrays instead where they can be (`by_author.py`, with the parts
of conditions that need no counting computed before: `Translator.hoisted`). Literals travel as
query parameters, never in the SQL text. Fields verdicts do not store (the text, its link, its
content hash) are refused with their line and column.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from infra.errors import InvalidRules, RuleProblem
from infra.rules.fields import AUTHOR_HISTORY_DAYS, SCORES_PREFIX, Type, field_type
from infra.rules.syntax import Call, Const, CounterNode, Expr, Field, Op

EVERY = "1"
"""A counter's `where` when it has none (it counts every row: the arrays need no flag for it)."""

NOT_STORED = frozenset({"text", "url", "content_hash"})

COLUMNS = {
    "toxic": "toxic",
    "decision": "policy_decision",
    "lang": "lang",
    "source": "source",
    "kind": "kind",
    "author": "author",
    "item_id": "item_id",
    "spans": "f_spans",
    "duplicate": "f_duplicate",
    "context.items": "f_context_items",
    "author.items": "author_items",
    "author.harmful": "author_harmful",
    "author.harmful_share": "if(author_items = 0, 0, author_harmful / author_items)",
    "author.age": "author_age",
}
DERIVED = {
    "f_spans": "length(spans)",
    "f_duplicate": "isNotNull(duplicate_of)",
    "f_context_items": "JSONExtractUInt(context, 'items')",
}
"""Columns computed from a verdict's own, once, before anything else: what reaches the window
functions, or the per-author arrays, is then a few narrow columns rather than maps and JSON."""
ROW_FIELDS = ("toxic", "lang", "source", "kind", "item_id")
TICKS_PER_S = 100
"""`ts` counts hundredths of a second: ClickHouse takes a RANGE frame's offset as a 32-bit
integer, and 30 days in milliseconds would not fit."""
HISTORY_TICKS = AUTHOR_HISTORY_DAYS * 86_400 * TICKS_PER_S
HISTORY_COLUMNS = (
    f"count() OVER (PARTITION BY author ORDER BY ts RANGE BETWEEN {HISTORY_TICKS} PRECEDING "
    "AND CURRENT ROW) AS author_items",
    f"countIf(policy_decision != 'approve') OVER (PARTITION BY author ORDER BY ts RANGE BETWEEN "
    f"{HISTORY_TICKS} PRECEDING AND CURRENT ROW) AS author_harmful",
    f"(ts - min(ts) OVER (PARTITION BY author ORDER BY ts RANGE BETWEEN {HISTORY_TICKS} "
    f"PRECEDING AND CURRENT ROW)) / {TICKS_PER_S} AS author_age",
)
"""The author's history as window functions: for periods longer than the history's 30 days."""
_FUNCTIONS = {"len": "lengthUTF8", "lower": "lowerUTF8", "abs": "abs", "min": "least",
              "max": "greatest"}  # fmt: skip
_COMPARE = {"==": "=", "!=": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}


_BOOLEAN_OPS = frozenset({"and", "or", "not", "in", "not_in", "contains", "startswith", *_COMPARE})


def _is_bool(e: Expr) -> bool:
    if isinstance(e, Op):
        return e.op in _BOOLEAN_OPS
    return isinstance(e, Field) and field_type(e.path) is Type.BOOL


@dataclass
class Translator:
    """Collects the parameters of the SQL it writes (`p0`, `p1`, …)."""

    counters: set[str]
    parameters: dict[str, Any] = field(default_factory=dict)
    uses_history: bool = False
    labels: set[str] = field(default_factory=set)
    """Labels read: each is read out of the scores map once per verdict, as `s_<label>`."""
    columns: set[str] = field(default_factory=set)
    """Columns of the verdict read (`ROW_FIELDS`) or derived from it (`DERIVED`)."""
    hoisted: dict[str, str] | None = None
    """When set (SQL → column): each largest part of a condition that reads neither a counter
    nor the author's history becomes a column `r<k>`, computed per verdict before the verdicts
    are grouped by author; what the arrays carry is then its number or 0/1, not the strings it
    reads, and a part repeated across rules is one column."""
    flags: set[str] = field(default_factory=set)
    """Hoisted columns that are true or false (the others are numbers)."""
    _names: dict[tuple[str, Any], str] = field(default_factory=dict)
    _hoisting: bool = False

    def param(self, value: Any) -> str:
        """One parameter per distinct literal: the same term in many rules (`lang in ["en"]`,
        `source == "chat"`) is then the same expression, which ClickHouse computes once."""
        kind = {bool: "Bool", float: "Float64", str: "String"}[type(value)]
        name = self._names.get((kind, value))
        if name is None:
            name = self._names[(kind, value)] = f"p{len(self.parameters)}"
            self.parameters[name] = value
        return f"{{{name}:{kind}}}"

    def expr(self, e: Expr) -> str:
        if self.hoisted is None or self._hoisting or isinstance(e, Const) or self.by_author(e):
            return self._expr(e)
        self._hoisting = True  # its parts are in it
        try:
            sql = self._expr(e)
        finally:
            self._hoisting = False
        name = self.hoisted.setdefault(sql, f"r{len(self.hoisted)}")
        if _is_bool(e):
            self.flags.add(name)
        return name

    def by_author(self, e: Expr) -> bool:
        """Whether `e` reads a counter or the author's history (counted per author)."""
        match e:
            case Field(path=path):
                return path in self.counters or path.startswith("author.")
            case Call(args=args) | Op(args=args):
                return any(self.by_author(a) for a in args)
        return False

    def _expr(self, e: Expr) -> str:
        match e:
            case Const(value=tuple() as values):
                if not values:
                    return "tuple()"  # pragma: no cover - an empty list matches nothing
                return "(" + ", ".join(self.param(v) for v in values) + ")"
            case Const(value=value):
                return self.param(value)
            case Field():
                return self.field(e)
            case Call(name=name, args=args):
                return f"{_FUNCTIONS[name]}({', '.join(self.expr(a) for a in args)})"
            case Op():
                return self.op(e)
        raise AssertionError(e)  # pragma: no cover

    def field(self, e: Field) -> str:
        path = e.path
        if path in self.counters:
            return f"c_{path}"
        if path.startswith(SCORES_PREFIX):
            label = path.removeprefix(SCORES_PREFIX)  # a name of the grammar: [a-z_][a-z0-9_]*
            self.labels.add(label)
            return f"s_{label}"
        if path in NOT_STORED:
            raise InvalidRules(
                [RuleProblem(e.at.line, e.at.column, f"{path} is not stored with verdicts: "
                             "rules that read it cannot be backtested")]
            )  # fmt: skip
        if path.startswith("author."):
            self.uses_history = True
        column = COLUMNS[path]
        if column in DERIVED or column in ROW_FIELDS:
            self.columns.add(column)
        return column

    def op(self, e: Op) -> str:  # noqa: PLR0911 (one per operator)
        args = [self.expr(a) for a in e.args]
        match e.op:
            case "and" | "or":
                return "(" + f" {e.op.upper()} ".join(args) + ")"
            case "not":
                return f"(NOT {args[0]})"
            case "neg":
                return f"(-{args[0]})"
            case "/":
                return f"if({args[1]} = 0, 0, {args[0]} / {args[1]})"
            case "+" | "-" | "*":
                return f"({args[0]} {e.op} {args[1]})"
            case "contains":
                return f"(position({args[0]}, {args[1]}) > 0)"
            case "startswith":
                return f"startsWith({args[0]}, {args[1]})"
            case "in":
                return f"({args[0]} IN {args[1]})"
            case "not_in":
                return f"({args[0]} NOT IN {args[1]})"
        return f"({args[0]} {_COMPARE[e.op]} {args[1]})"

    def label_columns(self) -> list[str]:
        return [f"scores[{self.param(label)}] AS s_{label}" for label in sorted(self.labels)]

    def row_columns(self) -> list[str]:
        """What the rules read of each verdict, beyond the columns every backtest reads."""
        row = [c for c in ROW_FIELDS if c in self.columns]
        derived = [f"{DERIVED[c]} AS {c}" for c in sorted(self.columns & DERIVED.keys())]
        return row + derived + self.label_columns()

    def counter(self, c: CounterNode) -> CounterSQL:
        key = self.expr(c.key)
        where = self.expr(c.where) if c.where is not None else EVERY
        # The engine counts (t - window, t]; a RANGE frame includes its start: one tick less.
        ticks = max(1, round(c.window * TICKS_PER_S))
        by_author = isinstance(c.key, Field) and c.key.path == "author"
        return CounterSQL(c.name, key, where, ticks, by_author)


@dataclass(frozen=True)
class CounterSQL:
    """A counter's parts in SQL: it counts the rows with the same `key` where `where` holds,
    in the `ticks` up to a row's own time (`(ts - ticks, ts]`, rows of the same time included)."""

    name: str
    key: str
    where: str
    ticks: int
    by_author: bool

    def window(self) -> str:
        """As a window function over the rows (a RANGE frame includes its start: one tick less)."""
        return (
            f"if(toString({self.key}) = '', 0, countIf({self.where}) OVER (PARTITION BY "
            f"toString({self.key}) ORDER BY ts RANGE BETWEEN {self.ticks - 1} PRECEDING AND "
            f"CURRENT ROW)) AS c_{self.name}"
        )
