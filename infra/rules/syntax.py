"""The rule language's grammar and its syntax tree.

A rule set is counters and rules, in any order:

    counter same_link = count by author within 10m where kind == "post"

    rule link_flood:
        when same_link >= 10 and toxic > 0.3
        then reject, label "spam", queue "priority"
        example fires: same_link = 12, toxic = 0.5
        example skips: same_link = 2

    shadow rule strict_insults:
        when scores.insult > 0.6
        then review

Parsing is LALR (lark), linear in the source; the tree is checked for depth and size before
anything walks it, so no input can exhaust the stack. Every error names its line and column.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lark import Lark, Token, Tree, UnexpectedCharacters, UnexpectedEOF, UnexpectedInput
from lark.exceptions import UnexpectedToken

from infra.errors import InvalidRules, RuleProblem

MAX_SOURCE_CHARS = 100_000
MAX_DEPTH = 40
"""Nesting of the syntax tree (parentheses, `not`, operators)."""

GRAMMAR = r"""
start: _item*
_item: counter | rule

counter: "counter" NAME "=" "count" "by" expr "within" DURATION [where]
where: "where" expr
rule: [SHADOW] "rule" NAME ":" "when" expr "then" actions example*
SHADOW: "shadow"
actions: action ("," action)*
action: (APPROVE | REVIEW | REJECT) -> decide
      | "label" STRING        -> label
      | "queue" STRING        -> queue
      | "webhook" STRING      -> webhook
      | "block_author"        -> block_author
      | "hold" DURATION       -> hold
APPROVE: "approve"
REVIEW: "review"
REJECT: "reject"
example: "example" (FIRES | SKIPS) ":" assignment ("," assignment)*
FIRES: "fires"
SKIPS: "skips"
assignment: path "=" literal

?expr: or_expr
?or_expr: and_expr ("or" and_expr)*
?and_expr: not_expr ("and" not_expr)*
?not_expr: NOT not_expr -> not_
         | comparison
?comparison: sum
           | sum COMPARE sum -> compare
           | sum IN list -> member
           | sum NOT IN list -> not_member
           | sum CONTAINS sum -> contains
           | sum STARTSWITH sum -> startswith
?sum: product (ADD product)*
?product: atom (MUL atom)*
?atom: literal
     | path
     | call
     | "(" expr ")"
     | ADD atom -> neg
call: NAME "(" [expr ("," expr)*] ")"
path: NAME ("." NAME)*
?literal: NUMBER -> number
        | DURATION -> duration
        | STRING -> string
        | TRUE -> true
        | FALSE -> false
list: "[" [literal ("," literal)*] "]"

NOT: "not"
IN: "in"
CONTAINS: "contains"
STARTSWITH: "startswith"
TRUE: "true"
FALSE: "false"
COMPARE: "==" | "!=" | "<=" | ">=" | "<" | ">"
ADD: "+" | "-"
MUL: "*" | "/"
DURATION.2: /\d+(\.\d+)?(ms|s|m|h|d)(?![A-Za-z0-9_])/
NUMBER: /\d+(\.\d+)?/
STRING: /"([^"\\\n]|\\["\\n])*"/
NAME: /[a-z_][a-z0-9_]*/

COMMENT: /#[^\n]*/
%import common.WS
%ignore WS
%ignore COMMENT
"""

_PARSER = Lark(
    GRAMMAR, parser="lalr", lexer="basic", propagate_positions=True, maybe_placeholders=True
)

_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


@dataclass(frozen=True, slots=True)
class At:
    line: int
    column: int


# -- the syntax tree: expressions -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Const:
    value: float | str | bool | tuple[float | str | bool, ...]
    at: At


@dataclass(frozen=True, slots=True)
class Field:
    path: str
    at: At


@dataclass(frozen=True, slots=True)
class Call:
    name: str
    args: tuple[Expr, ...]
    at: At


@dataclass(frozen=True, slots=True)
class Op:
    """`op` is one of: and or not == != < <= > >= in not_in contains startswith + - * / neg."""

    op: str
    args: tuple[Expr, ...]
    at: At


Expr = Const | Field | Call | Op


# -- the syntax tree: statements --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Action:
    kind: str  # decision, label, queue, webhook, block_author, hold
    value: str = ""


@dataclass(frozen=True, slots=True)
class Example:
    fires: bool
    facts: tuple[tuple[str, float | str | bool], ...]
    at: At


@dataclass(frozen=True, slots=True)
class RuleNode:
    name: str
    shadow: bool
    when: Expr
    actions: tuple[Action, ...]
    examples: tuple[Example, ...]
    text: str  # its source, for its version
    at: At


@dataclass(frozen=True, slots=True)
class CounterNode:
    name: str
    key: Expr
    window: float  # seconds
    where: Expr | None
    text: str
    at: At


@dataclass(frozen=True, slots=True)
class Program:
    counters: tuple[CounterNode, ...]
    rules: tuple[RuleNode, ...]


def parse(source: str) -> Program:
    """The syntax tree of `source`; raises `InvalidRules` with the line, column and reason."""
    if len(source) > MAX_SOURCE_CHARS:
        raise InvalidRules([RuleProblem(1, 1, f"longer than {MAX_SOURCE_CHARS} characters")])
    try:
        tree = _PARSER.parse(source)
    except UnexpectedInput as exc:
        raise InvalidRules([_problem(exc, source)]) from None
    _check_depth(tree)
    return _Builder(source).program(tree)


def _problem(exc: UnexpectedInput, source: str) -> RuleProblem:
    line, column = max(exc.line, 1), max(exc.column, 1)
    if isinstance(exc, UnexpectedCharacters):
        pos = exc.pos_in_stream or 0
        char = source[pos] if pos < len(source) else ""
        return RuleProblem(line, column, f"unexpected character {char!r}")
    expected = ""
    if isinstance(exc, UnexpectedToken):
        wanted = sorted(_readable(t) for t in exc.expected if not t.startswith("_"))
        expected = f"; expected one of: {', '.join(wanted)}" if wanted else ""
        if exc.token.type != "$END":
            return RuleProblem(line, column, f"unexpected {str(exc.token)!r}{expected}")
    if isinstance(exc, UnexpectedToken | UnexpectedEOF):
        lines = source.rstrip().splitlines() or [""]
        return RuleProblem(len(lines), len(lines[-1]) + 1, f"the rules end too early{expected}")
    return RuleProblem(line, column, str(exc).splitlines()[0])  # pragma: no cover


_TERMINALS = {
    "NAME": "a name", "NUMBER": "a number", "STRING": "a string", "DURATION": "a duration",
    "COMPARE": "a comparison", "LPAR": "'('", "RPAR": "')'", "COLON": "':'", "COMMA": "','",
    "EQUAL": "'='", "DOT": "'.'", "LSQB": "'['", "RSQB": "']'", "ADD": "'+' or '-'",
    "MUL": "'*' or '/'",
}  # fmt: skip


def _readable(terminal: str) -> str:
    if terminal == "$END":
        return "the end"
    if terminal in _TERMINALS:
        return _TERMINALS[terminal]
    pattern = _PARSER.get_terminal(terminal).pattern
    return repr(pattern.value) if pattern.type == "str" else terminal.lower()


def _check_depth(tree: Tree[Token]) -> None:
    """Refuse trees nested deeper than `MAX_DEPTH`, walking with a stack of our own."""
    stack: list[tuple[Tree[Token] | Token, int]] = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        if not isinstance(node, Tree):
            continue
        if depth > MAX_DEPTH:
            meta = node.meta
            line = getattr(meta, "line", 1)
            column = getattr(meta, "column", 1)
            raise InvalidRules([RuleProblem(line, column, f"nested deeper than {MAX_DEPTH}")])
        stack.extend((child, depth + 1) for child in node.children if child is not None)


def _at(node: Tree[Token] | Token) -> At:
    if isinstance(node, Token):
        return At(node.line or 1, node.column or 1)
    return At(getattr(node.meta, "line", 1), getattr(node.meta, "column", 1))


def _string(token: Token) -> str:
    return str(token)[1:-1].replace('\\"', '"').replace("\\n", "\n").replace("\\\\", "\\")


def duration(text: str) -> float:
    """Seconds in a duration such as `90s`, `10m`, `1.5h`, `7d`."""
    for unit in ("ms", "s", "m", "h", "d"):
        if text.endswith(unit) and text[: -len(unit)].replace(".", "", 1).isdigit():
            return float(text[: -len(unit)]) * _SECONDS[unit]
    raise ValueError(f"not a duration: {text}")


class _Builder:
    """Parse tree → syntax tree (recursion is bounded by `_check_depth`)."""

    def __init__(self, source: str) -> None:
        self.source = source

    def program(self, tree: Tree[Token]) -> Program:
        counters, rules = [], []
        for item in tree.children:
            assert isinstance(item, Tree)
            if item.data == "counter":
                counters.append(self.counter(item))
            else:
                rules.append(self.rule(item))
        return Program(tuple(counters), tuple(rules))

    def _text(self, node: Tree[Token]) -> str:
        start, end = node.meta.start_pos, node.meta.end_pos
        return " ".join(self.source[start:end].split())

    def counter(self, node: Tree[Token]) -> CounterNode:
        name, key, window, where = node.children
        assert isinstance(name, Token)
        assert isinstance(window, Token)
        where_expr = None
        if isinstance(where, Tree):
            where_expr = self.expr(where.children[0])
        return CounterNode(
            str(name), self.expr(key), duration(str(window)), where_expr, self._text(node),
            _at(name),
        )  # fmt: skip

    def rule(self, node: Tree[Token]) -> RuleNode:
        shadow, name, when, actions, *examples = node.children
        assert isinstance(name, Token)
        assert isinstance(actions, Tree)
        return RuleNode(
            name=str(name),
            shadow=shadow is not None,
            when=self.expr(when),
            actions=tuple(self.action(a) for a in actions.children if isinstance(a, Tree)),
            examples=tuple(self.example(e) for e in examples if isinstance(e, Tree)),
            text=self._text(node),
            at=_at(name),
        )

    def action(self, node: Tree[Token]) -> Action:
        arg = node.children[0] if node.children else None
        if node.data == "decide":
            return Action("decision", str(arg))
        if node.data == "hold":
            return Action("hold", f"{duration(str(arg)):g}")
        if node.data == "block_author":
            return Action("block_author")
        assert isinstance(arg, Token)
        return Action(str(node.data), _string(arg))

    def example(self, node: Tree[Token]) -> Example:
        outcome, *assignments = node.children
        facts = []
        for a in assignments:
            assert isinstance(a, Tree)
            path, value = a.children
            assert isinstance(path, Tree)
            literal = self.expr(value)
            assert isinstance(literal, Const)
            facts.append((".".join(str(t) for t in path.children), _scalar(literal)))
        return Example(str(outcome) == "fires", tuple(facts), _at(node))

    def expr(self, node: Tree[Token] | Token | None) -> Expr:
        assert node is not None
        if isinstance(node, Token):  # pragma: no cover - every token is wrapped by a rule
            raise AssertionError(node)
        at, kids = _at(node), node.children
        match node.data:
            case "number":
                return Const(float(str(kids[0])), at)
            case "duration":
                return Const(duration(str(kids[0])), at)
            case "string":
                assert isinstance(kids[0], Token)
                return Const(_string(kids[0]), at)
            case "true" | "false":
                return Const(node.data == "true", at)
            case "list":
                values = tuple(_scalar(self.expr(k)) for k in kids if k is not None)
                return Const(values, at)
            case "path":
                return Field(".".join(str(t) for t in kids), at)
            case "call":
                name, *args = kids
                exprs = tuple(self.expr(a) for a in args if a is not None)
                return Call(str(name), exprs, at)
        return self._operator(node, at, kids)

    def _operator(self, node: Tree[Token], at: At, kids: list[Any]) -> Expr:
        data = str(node.data)
        if data in ("or_expr", "and_expr"):
            return Op(data.removesuffix("_expr"), tuple(self.expr(k) for k in kids), at)
        if data == "not_":
            return Op("not", (self.expr(kids[1]),), at)
        if data == "neg":
            inner = self.expr(kids[1])
            return Op("neg", (inner,), at) if str(kids[0]) == "-" else inner
        if data == "compare":
            return Op(str(kids[1]), (self.expr(kids[0]), self.expr(kids[2])), at)
        if data in ("member", "not_member"):
            op = "in" if data == "member" else "not_in"
            return Op(op, (self.expr(kids[0]), self.expr(kids[-1])), at)
        if data in ("contains", "startswith"):
            return Op(data, (self.expr(kids[0]), self.expr(kids[2])), at)
        if data in ("sum", "product"):  # left to right: a - b + c is (a - b) + c
            left = self.expr(kids[0])
            for i in range(1, len(kids), 2):
                left = Op(str(kids[i]), (left, self.expr(kids[i + 1])), at)
            return left
        raise AssertionError(f"unknown node {data}")  # pragma: no cover


def _scalar(expr: Expr) -> Any:
    assert isinstance(expr, Const)
    return expr.value
