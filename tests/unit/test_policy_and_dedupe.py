from __future__ import annotations

import json
from pathlib import Path

import pytest

from schemas.policy import PolicyDocument
from schemas.records import Decision
from streams.dedupe import LRUCache, digest
from streams.policy import DecisionPolicy, PolicyBook, Thresholds


@pytest.mark.parametrize(
    ("score", "decision"),
    [
        (0.0, Decision.APPROVE),
        (0.2, Decision.APPROVE),  # at the low threshold: approve
        (0.2001, Decision.REVIEW),
        (0.8, Decision.REVIEW),  # at the high threshold: still review
        (0.8001, Decision.REJECT),
        (1.0, Decision.REJECT),
    ],
)
def test_default_policy_thresholds(score: float, decision: Decision) -> None:
    assert DecisionPolicy().decide(score) is decision


def test_policy_is_configurable_and_versioned() -> None:
    strict = DecisionPolicy(low=0.05, high=0.5)
    assert strict.decide(0.3) is Decision.REVIEW
    assert strict.decide(0.6) is Decision.REJECT
    assert strict.version != DecisionPolicy().version


def test_policy_refuses_inverted_thresholds() -> None:
    with pytest.raises(ValueError, match="low"):
        DecisionPolicy(low=0.9, high=0.1)


def test_lru_forgets_the_least_recently_used() -> None:
    cache: LRUCache[int] = LRUCache(2)
    cache.put(b"a", 1)
    cache.put(b"b", 2)
    assert cache.get(b"a") == 1  # touch a: b is now the oldest
    cache.put(b"c", 3)
    assert b"b" not in cache
    assert cache.get(b"a") == 1
    assert len(cache) == 2


def test_digest_separates_its_parts() -> None:
    assert digest("ab", "c") != digest("a", "bc")
    assert digest("t", "x") == digest("t", "x")
    assert len(digest("t")) == 16


def test_a_label_threshold_can_make_the_decision_stricter() -> None:
    policy = DecisionPolicy(labels={"identity_hate": Thresholds(0.1, 0.5)})
    assert policy.decide(0.1, {"identity_hate": 0.6}) is Decision.REJECT
    assert policy.decide(0.1, {"identity_hate": 0.3}) is Decision.REVIEW
    assert policy.decide(0.9, {"identity_hate": 0.0}) is Decision.REJECT  # most severe wins
    assert policy.decide(0.1, {"obscene": 0.99}) is Decision.APPROVE  # no threshold: no vote


def test_unknown_language_gets_the_fallback_decision() -> None:
    policy = DecisionPolicy(unknown_language=Decision.REVIEW)
    assert policy.decide(0.0, {}, "und") is Decision.REVIEW
    assert policy.decide(0.0, {}, "en") is Decision.APPROVE


def test_policy_book_reads_tenant_policies_over_the_default(tmp_path: Path) -> None:
    path = tmp_path / "policies.json"
    path.write_text(
        json.dumps(
            {
                "default": {"unknown_language": "review"},
                "tenants": {"kids-app": {"toxic": [0.05, 0.4], "identity_hate": [0.01, 0.2]}},
            }
        )
    )
    book = PolicyBook.load(path, DecisionPolicy(0.2, 0.8))
    kids = book.for_tenant("kids-app")
    assert (kids.low, kids.high) == (0.05, 0.4)
    assert kids.unknown_language is Decision.REVIEW  # inherited from the default
    assert kids.decide(0.5) is Decision.REJECT
    assert book.for_tenant("anyone").decide(0.5) is Decision.REVIEW
    assert kids.version != book.default.version


def test_policy_json_round_trips() -> None:
    policy = DecisionPolicy(0.1, 0.7, {"threat": Thresholds(0.05, 0.3)}, Decision.REVIEW)
    assert DecisionPolicy.from_document(PolicyDocument.from_flat(policy.to_json())) == policy
