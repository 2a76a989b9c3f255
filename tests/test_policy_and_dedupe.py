from __future__ import annotations

import pytest

from schemas.records import Decision
from streams.dedupe import LRUCache, digest
from streams.policy import DecisionPolicy


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
