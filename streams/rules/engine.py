"""A tenant's compiled rules applied to one verdict: the hook between the models and the
published verdict (`TextPipeline` calls `RuleEngine.apply` on each verdict it builds).

Order per item: facts of the item; the counters (each counts the item if its `where` holds,
then reads its window); the author's history; then every rule, in the order written. Live
rules that fire set the decision (the most severe they name wins over the policy's) and add
labels; their queues, webhooks, author blocks and holds are recorded in `Verdict.rules` for the
services that carry them out. Shadow rules change nothing: they are recorded in the verdict and,
as `ShadowRecord`s (infra/rules/shadow.py), published on `rules.shadow`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from functools import lru_cache
from typing import Protocol

from infra.rules.compile import CompiledRule, Facts, RuleSet
from infra.rules.fields import AUTHOR_HISTORY_DAYS
from schemas.records import Decision, FiredRule, RuleAction, RulesOutcome, Verdict
from schemas.trusted import construct, replace
from streams.rules.counters import CounterStore, Entity
from streams.rules.facts import TextEvent, item_facts

_HISTORY_S = AUTHOR_HISTORY_DAYS * 86_400.0
_HISTORY = frozenset({"author.items", "author.harmful", "author.harmful_share", "author.age"})
_SEVERITY = {"approve": 0, "review": 1, "reject": 2}
_DECISIONS = {d.value: d for d in Decision}


class RuleBook(Protocol):
    def for_tenant(self, tenant: str) -> RuleSet: ...

    def refresh(self) -> None: ...


class OneRuleSet:
    """A book of one rule set for every tenant, never changing (benchmarks, tests)."""

    def __init__(self, rules: RuleSet) -> None:
        self.rules = rules

    def for_tenant(self, tenant: str) -> RuleSet:
        return self.rules

    def refresh(self) -> None:
        pass


class RuleEngine:
    """Applies each tenant's rule set; re-reads the rule sets every `refresh_every` seconds,
    between batches, so a change saved through the API applies without a restart."""

    def __init__(
        self,
        book: RuleBook,
        counters: CounterStore,
        *,
        refresh_every: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.book = book
        self.counters = counters
        self.refresh_every = refresh_every
        self._clock = clock
        self._refreshed = clock()
        self._lock = threading.Lock()

    def maybe_refresh(self) -> None:
        with self._lock:
            if self._clock() - self._refreshed < self.refresh_every:
                return
            self._refreshed = self._clock()
        self.book.refresh()  # keeps the last known rules if the store cannot be read

    def apply(self, verdict: Verdict, event: TextEvent) -> Verdict:
        """The verdict under its tenant's rules (unchanged, and without `rules`, if none)."""
        rules = self.book.for_tenant(verdict.tenant)
        if not rules.rules and not rules.counters:
            return verdict
        facts = item_facts(rules.reads, verdict, event)
        at = verdict.occurred_at.timestamp()
        history = not _HISTORY.isdisjoint(rules.reads)
        counts = {}
        if rules.counters or history:
            counts = self._count(rules, facts, verdict, at, history)
        live: list[FiredRule] = []
        shadow: list[FiredRule] = []
        labels: set[str] = set()
        decision, severity = verdict.decision, -1  # the policy's, unless a live rule names one
        for rule in rules.evaluate(facts):  # one pass: 20-odd rules fire on a busy item
            if rule.shadow:
                shadow.append(_fired(rule))
                continue
            live.append(_fired(rule))
            if rule.labels:
                labels.update(rule.labels)
            if rule.decision is not None and _SEVERITY[rule.decision] > severity:
                decision, severity = _DECISIONS[rule.decision], _SEVERITY[rule.decision]
        outcome = construct(  # its parts are records already
            RulesOutcome,
            ruleset_version=rules.version,
            policy_decision=verdict.decision,
            fired=live,
            shadow=shadow,
            labels=sorted(labels) if labels else [],
            counters=counts,
        )
        return replace(verdict, decision=decision, rules=outcome)

    def _count(
        self, rules: RuleSet, facts: Facts, verdict: Verdict, at: float, history: bool
    ) -> dict[str, int]:
        """The counters' counts and the author's history, observed in one call (a counter
        reads neither another counter nor the history, so the order between them is free)."""
        counts: dict[str, int] = {}
        tenant = verdict.tenant
        requests: list[tuple[Entity, float, bool]] = []
        named: list[str] = []
        for counter in rules.counters:
            key = counter.key(facts)
            name = counter.name
            if key == "" or key is None:
                facts[name] = 0.0
                counts[name] = 0
                continue
            where = counter.where
            if counter.every_item_by_author:  # counted once with the history, read per window
                entity: Entity = (tenant, "author.items", key)
            else:
                entity = (tenant, name, counter.version, key if type(key) is str else f"{key}")
            requests.append((entity, counter.window, where is None or bool(where(facts))))
            named.append(name)
        if history:
            author = verdict.author
            requests.append(((tenant, "author.items", author), _HISTORY_S, True))
            requests.append(
                ((tenant, "author.harmful", author), _HISTORY_S,
                 verdict.decision is not Decision.APPROVE)
            )  # fmt: skip
        if not requests:
            return counts
        observed = self.counters.observe_all(requests, verdict.event_id, at)
        for name, (n, _) in zip(named, observed, strict=False):
            facts[name] = float(n)
            counts[name] = n
        if history:
            (items, first), (harmful, _) = observed[-2:]
            facts["author.items"] = float(items)
            facts["author.harmful"] = float(harmful)
            facts["author.harmful_share"] = harmful / items if items else 0.0
            facts["author.age"] = at - first if first is not None else 0.0
        return counts

    def flush(self) -> None:
        """Store what was counted; call before the batch's verdicts are published."""
        self.counters.flush()


@lru_cache(maxsize=4096)  # by the rule's identity: one record per compiled rule
def _fired(rule: CompiledRule) -> FiredRule:
    """The record of a rule that fired, built once per rule (records are immutable)."""
    actions = [RuleAction.model_validate({"kind": a.kind, "value": a.value}) for a in rule.actions]
    return FiredRule(rule=rule.name, version=rule.version, actions=actions)
