"""The rule index: it picks the rules to test by their guards, and the rules that fire (and
their order) are exactly those of testing every rule, whatever the facts."""

from __future__ import annotations

import math
import random
from typing import Any

from infra.rules.compile import compile_rules, example_facts
from infra.rules.index import Guard, guard_of
from infra.rules.syntax import parse

RULES = """
counter posts = count by author within 10m

rule a: when scores.insult > 0.5 and lang in ["en", "fr"] then reject
rule b: when scores.insult >= 0.7 then review
rule c: when toxic < 0.2 and source == "chat" then approve
rule d: when toxic <= 0.1 then approve
rule e: when decision == "review" and author.harmful_share > 0.5 then reject
rule f: when lang in ["ar", "en"] then label "watch"
rule g: when posts >= 3 and not duplicate then queue "flood"
rule h: when (scores.insult + scores.threat) / 2 > 0.6 or spans >= 3 then review
rule i: when lower(text) contains "free" then label "spam"
rule i2: when text startswith "FREE" and toxic > 0.5 then review
rule i3: when text contains "ell" then label "greeting"
rule j: when spans == 2 then review
rule k: when scores.threat > 0.5 then reject
rule l: when 0.5 < toxic then review
rule m: when toxic > 0.9 and scores.insult > 0.9 then reject
rule n: when not duplicate and toxic > 0.3 and lang == "fr" then review
"""


def _facts(rng: random.Random) -> dict[str, Any]:
    def number() -> float:
        return rng.choice([0.0, 0.1, 0.2, 0.5, 0.7, 0.9, 1.0, rng.random(), math.nan])

    given: dict[str, Any] = {
        "toxic": number(),
        "scores.insult": number(),
        "scores.threat": number(),
        "lang": rng.choice(["en", "fr", "ar", "es", ""]),
        "source": rng.choice(["chat", "x"]),
        "decision": rng.choice(["approve", "review", "reject"]),
        "author.harmful_share": number(),
        "spans": float(rng.randint(0, 4)),
        "duplicate": rng.random() < 0.5,
        "text": rng.choice(["FREE stuff", "hello", ""]),
        "posts": float(rng.randint(0, 5)),
    }
    if rng.random() < 0.2:
        del given["scores.insult"]  # unscored: reads as 0
    return example_facts({k: v for k, v in given.items() if k != "posts"}, {"posts"}) | {
        "posts": given["posts"]
    }


def test_indexed_evaluation_fires_exactly_the_rules_testing_every_rule_fires() -> None:
    rules = compile_rules(RULES)
    assert rules.index is not None
    rng = random.Random(3)
    fired_somewhere: set[str] = set()
    for _ in range(3000):
        facts = _facts(rng)
        every = [r for r in rules.rules if r.test(facts)]
        assert rules.evaluate(facts) == every, facts
        fired_somewhere |= {r.name for r in every}
    assert fired_somewhere == {r.name for r in rules.rules}  # every rule was exercised


def test_facts_a_rule_never_reads_do_not_break_the_index() -> None:
    """A rule's later terms are read only when its earlier ones hold; the index reads its guard
    regardless, and treats an absent fact as 'test the rule'."""
    rules = compile_rules('rule a: when lang == "xx" and toxic > 0.5 then review')
    assert rules.evaluate({"lang": "en"}) == []
    assert [r.name for r in rules.evaluate({"lang": "xx", "toxic": 0.9})] == ["a"]


def test_guards_are_thresholds_and_matches_of_a_field_against_a_constant() -> None:
    def guard(condition: str) -> Guard | None:
        return guard_of(parse(f"rule r: when {condition} then review").rules[0].when)

    assert guard('scores.insult > 0.7 and lang == "en"') == Guard("scores.insult", ">", 0.7)
    assert guard('lower(text) contains "x" and lang == "en"') == Guard(
        "text", "contains", "x", lower=True
    )
    assert guard('text startswith "Hi" and lang == "en"') == Guard("text", "startswith", "Hi")
    assert guard('text contains lang and lang == "en"') == Guard("lang", "==", "en")
    assert guard('lang in ["en", "fr"]') == Guard("lang", "in", ("en", "fr"))
    assert guard("toxic > 0.5 or spans > 2") is None  # either may fire it
    assert guard("not toxic > 0.5") is None
    assert guard("toxic != 0.5") is None
    assert guard("0.5 < toxic") is None
