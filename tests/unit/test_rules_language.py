"""The rule language: what parses, what is refused and where (line, column, reason), what a rule
can reach (its fields, nothing of Python), the bounds on its size, and what rules compute."""

from __future__ import annotations

from typing import Any

import pytest

from infra.errors import InvalidRules
from infra.rules.compile import MAX_NODES, compile_rules, example_facts
from infra.rules.syntax import MAX_DEPTH, MAX_SOURCE_CHARS

GOOD = """
# Link floods from new authors.
counter links = count by url within 10m where kind == "post"

rule link_flood:
    when links >= 10 and author.items < 5
    then reject, label "spam", queue "priority", webhook "trust-safety"
    example fires: links = 12, author.items = 1
    example skips: links = 12, author.items = 40

shadow rule strict_insults:
    when scores.insult > 0.6 or (text contains "idiot" and lang in ["en", "fr"])
    then review, block_author, hold 15m
"""


def problems(source: str) -> list[tuple[int, int, str]]:
    with pytest.raises(InvalidRules) as info:
        compile_rules(source)
    return [(p.line, p.column, p.reason) for p in info.value.problems]


def fires(condition: str, **given: Any) -> bool:
    rules = compile_rules(f"rule r: when {condition} then review")
    counters = {k for k in given if "." not in k and k not in ("toxic", "text", "lang")}
    facts = example_facts({k.replace("__", "."): v for k, v in given.items()}, counters)
    return rules.rules[0].fires(facts)


def test_a_rule_set_compiles_with_its_counters_rules_and_actions() -> None:
    rules = compile_rules(GOOD, version=3)
    assert [c.name for c in rules.counters] == ["links"]
    assert rules.counters[0].window == 600
    flood, strict = rules.rules
    assert (flood.name, flood.shadow, flood.decision) == ("link_flood", False, "reject")
    assert [(a.kind, a.value) for a in flood.actions] == [
        ("decision", "reject"), ("label", "spam"), ("queue", "priority"),
        ("webhook", "trust-safety"),
    ]  # fmt: skip
    assert strict.shadow
    assert [(a.kind, a.value) for a in strict.actions][1:] == [
        ("block_author", ""),
        ("hold", "900"),
    ]
    assert rules.reads == {"url", "kind", "author.items", "scores", "text", "lang"}
    assert rules.version == 3


def test_a_rule_version_follows_its_text_only() -> None:
    before = compile_rules(GOOD).rules
    after = compile_rules(GOOD.replace("0.6", "0.7")).rules
    assert before[0].version == after[0].version
    assert before[1].version != after[1].version


@pytest.mark.parametrize(
    ("source", "line", "column", "reason"),
    [
        ("rule r: when toxic > then reject", 1, 22, "unexpected 'then'; expected one of"),
        ("rule r:\n  when toxic > 0.5\n  then smite", 3, 8, "unexpected 'smite'"),
        ("rule r when toxic > 0.5 then reject", 1, 8, "unexpected 'when'; expected one of: ':'"),
        ("rule r: when toxic @ 1 then reject", 1, 20, "unexpected character '@'"),
        ("rule r: when toxic > 0.5", 1, 25, "the rules end too early"),
        ('rule r: when toxic > 0.5 then label spam', 1, 37, "expected one of: a string"),
        ("counter c = count by author within 10 rule", 1, 36, "expected one of: a duration"),
        ("rule r: when toxic > \"x\" then reject", 1, 14, "cannot compare a number with a string"),
        ("rule r: when lang > \"en\" then reject", 1, 14, "'>' compares numbers, not strings"),
        ("rule r: when toxic then reject", 1, 14, "a condition is true or false, not a number"),
        ("rule r: when toxix > 0.5 then reject", 1, 14, "unknown field 'toxix'; known: toxic"),
        ("rule r: when len(toxic) > 1 then reject", 1, 18, "len() wants a string, got a number"),
        ("rule r: when toxic > 0.5 then reject, approve", 1, 6, "one decision at most"),
        ("rule r: when toxic > 0.5 then hold 60d", 1, 6, "a hold lasts between 1s and 30d"),
        ("counter c = count by author within 1h where c > 1", 1, 45, "cannot read another"),
        ("counter c = count by author within 1h where author.items > 1", 1, 45, "history"),
        ("counter toxic = count by author within 1h", 1, 9, "'toxic' is a field's name"),
        ("rule a: when true then review\nrule a: when true then review", 2, 6, "defined twice"),
        ("rule r: when toxic > 0.5 then reject\n  example fires: toxic = 0.1", 2, 3,
         "rule 'r' should fire on this example; it does not"),
        ("rule r: when toxic > 0.5 then reject\n  example skips: toxic = 0.9", 2, 3,
         "should not fire on this example; it does"),
        ("rule r: when toxic > 0.5 then reject\n  example fires: toxic = \"x\"", 2, 3,
         "toxic is a number, in the example too"),
        ("rule r: when toxic > 0.5 then reject\n  example fires: mood = 1", 2, 3,
         "unknown field 'mood' in the example"),
    ],
)  # fmt: skip
def test_each_problem_names_its_line_column_and_reason(
    source: str, line: int, column: int, reason: str
) -> None:
    found = problems(source)
    assert (found[0][0], found[0][1]) == (line, column), found
    assert reason in found[0][2], found


def test_every_problem_is_reported_at_once_in_source_order() -> None:
    found = problems(
        "rule a: when tox > 1 then review\n"
        "rule b: when lang > 2 then review\n"
        "rule c: when nope(1) then review\n"
    )
    assert [(line, col) for line, col, _ in found] == [(1, 14), (2, 14), (3, 14)]
    with pytest.raises(InvalidRules) as info:
        compile_rules("rule a: when tox > 1 then review\nrule b: when lang > 2 then review")
    assert info.value.code == "invalid_rules"
    assert (
        str(info.value)
        == "line 1, column 14: unknown field 'tox'; known: "
        + (info.value.problems[0].reason.split("known: ", 1)[1])
        + " (and 1 more)"
    )
    assert info.value.details[1] == {
        "line": 2, "column": 14, "reason": "cannot compare a string with a number",
    }  # fmt: skip


@pytest.mark.parametrize(
    "condition",
    [
        "toxic.__class__ == 1",
        '__import__("os") == 1',
        'eval("1") == 1',
        'text.upper() == "A"',
        'scores["insult"] > 1',
        "lambda: 1",
        "[x for x in text]",
        'open("/etc/passwd") == ""',
    ],
)
def test_nothing_of_python_is_reachable(condition: str) -> None:
    """Only the catalogue's fields and five functions exist: attribute access, subscripts, calls
    of anything else, comprehensions and lambdas are refused before anything runs."""
    with pytest.raises(InvalidRules):
        compile_rules(f"rule r: when {condition} then reject")


def test_size_and_depth_are_bounded_and_refused_with_a_place() -> None:
    n = MAX_DEPTH + 5
    deep = "rule r: when " + "(" * n + "toxic" + " + 1)" * n + " > 1 then review"
    assert "nested deeper than" in problems(deep)[0][2]
    parentheses = "rule r: when " + "(" * 500 + "true" + ")" * 500 + " then review"
    compile_rules(parentheses)  # parentheses alone nest nothing
    nots = "rule r: when " + "not " * 10_000 + "true then review"  # no RecursionError either
    assert "nested deeper than" in problems(nots)[0][2]
    wide = "rule r: when " + " or ".join(["toxic > 0.5"] * MAX_NODES) + " then review"
    assert f"more than {MAX_NODES} terms in one rule" in problems(wide)[0][2]
    assert "longer than" in problems("#" * (MAX_SOURCE_CHARS + 1))[0][2]
    at_the_limit = "rule r: when " + " or ".join(["toxic > 0.5"] * 66) + " then review"
    compile_rules(at_the_limit)  # 199 terms


def test_a_rule_never_fails_on_an_event() -> None:
    """Types are checked when compiled and absent values read as their defaults, so evaluating
    cannot raise: division by zero is 0, an unscored label is 0."""
    assert fires("toxic / 0 == 0")
    assert fires("scores.never_scored == 0")
    assert fires("len(text) == 0")


def test_operators_compute_what_they_say() -> None:
    assert fires('toxic > 0.5 and not (lang in ["en"])', toxic=0.9, lang="fr")
    assert not fires('toxic > 0.5 and not (lang in ["en"])', toxic=0.9, lang="en")
    assert fires('lang not in ["en", "fr"] or toxic >= 1', lang="ar")
    assert fires('lower(text) contains "idiot"', text="You IDIOT")
    assert fires('text startswith "buy"', text="buy now")
    assert fires("-toxic + 2 * 3 - 1 == 4.5", toxic=0.5)  # left to right, * before +
    assert fires("max(toxic, 0.3) == 0.3 and min(toxic, 0.3) == 0.1 and abs(-2) == 2", toxic=0.1)
    assert fires("author.age < 1d and author.age >= 90s", author__age=120.0)
    assert fires("duplicate == false and true")
