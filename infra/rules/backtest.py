"""Backtests: a rule set run over a tenant's stored verdicts, reporting what would have changed.

The candidate set is translated into SQL (`sql.py`) and run where the verdicts are, in two
passes: one groups every verdict of the period by (decision as published, decision under the
candidate, top label, which rules fired), from which the counts by rule, action, label and
decision change follow; the other picks a few examples per rule. A counter or the author's
history only sees the period backtested (what came before it is not counted).

`mode="replace"`: the candidate is the whole new rule set, applied over the policy's decisions.
`mode="add"`: the candidate's rules are added to those in force: a verdict keeps its published
decision unless a candidate rule names a more severe one.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from typing import Any, Literal

from pydantic import BaseModel, Field

from infra.rules.compile import compile_rules
from infra.rules.sql import HISTORY_COLUMNS, Translator
from infra.rules.syntax import RuleNode, parse
from infra.warehouse.client import Warehouse

EXAMPLES_PER_RULE = 5


class RuleCounts(BaseModel):
    rule: str
    shadow: bool
    fired: int = Field(description="Verdicts the rule fires on.")
    by_label: dict[str, int] = Field(description="Those verdicts by their top-scored label.")


class Example(BaseModel):
    rule: str
    event_id: str
    author: str
    toxic: float
    top_label: str
    decision: str = Field(description="As published.")
    new_decision: str = Field(description="Under the candidate rules.")


class BacktestReport(BaseModel):
    days: int
    mode: Literal["replace", "add"]
    verdicts: int = Field(description="Verdicts of the period.")
    changed: int = Field(description="Verdicts whose decision would change.")
    decisions: dict[str, int] = Field(
        description="`published>candidate` → verdicts, for every pair seen."
    )
    by_action: dict[str, int] = Field(
        description="`kind:value` → verdicts on which a live candidate rule would take it."
    )
    by_label: dict[str, int] = Field(
        description="Verdicts on which any candidate rule fires, by their top-scored label."
    )
    rules: list[RuleCounts]
    examples: list[Example]
    seconds: float = Field(description="Time the warehouse took.")


def _decision_sql(rules: list[RuleNode], hit: list[str], base: str) -> str:
    """The severest decision the live rules that fired name, else `base`."""
    branches = []
    for decision in ("reject", "review", "approve"):
        naming = [
            hit[i]
            for i, r in enumerate(rules)
            if not r.shadow and any(a.kind == "decision" and a.value == decision for a in r.actions)
        ]
        if naming:
            branches.append(f"({' OR '.join(naming)}), '{decision}'")
    return f"multiIf({', '.join(branches)}, {base})" if branches else base


def backtest_sql(source: str, mode: Literal["replace", "add"]) -> tuple[str, dict[str, Any], int]:
    """The per-verdict query (event_id, author, toxic, top_label, decision, new_decision, hits)
    of `source`, its parameters, and the number of rules. Raises `InvalidRules`."""
    compile_rules(source)  # the same checks and examples as a save
    program = parse(source)
    tr = Translator({c.name for c in program.counters})
    counters = [tr.counter(c) for c in program.counters]
    hits = [f"h{i}" for i in range(len(program.rules))]
    conditions = [
        f"toUInt8({tr.expr(r.when)}) AS {h}" for r, h in zip(program.rules, hits, strict=True)
    ]
    windows = counters + (list(HISTORY_COLUMNS) if tr.uses_history else [])
    if mode == "replace":
        new_rules = _decision_sql(list(program.rules), hits, "policy_decision")
        new = "new_rules"
    else:  # the severer of the published decision and the candidate's
        new_rules = _decision_sql(list(program.rules), hits, "''")
        new = (
            "multiIf(decision = 'reject' OR new_rules = 'reject', 'reject', "
            "decision = 'review' OR new_rules = 'review', 'review', decision)"
        )
    # Names in this SQL come from the grammar ([a-z_][a-z0-9_]*); every literal is a parameter.
    # One level per step, so that each step reads columns of the one below: an alias used in
    # its own SELECT would be expanded in place, and a hundred rules would be written out
    # hundreds of times over.
    sql = f"""
        SELECT event_id, author, toxic, top_label, decision, {new} AS new_decision,
               [{", ".join(hits) or "toUInt8(0)"}] AS hits
        FROM (
            SELECT *, {new_rules} AS new_rules
            FROM (
                SELECT event_id, author, toxic, top_label, decision, policy_decision,
                       {", ".join(conditions) or "toUInt8(0) AS h_none"}
                FROM (
                    SELECT *{"".join(", " + w for w in windows)}
                    FROM (
                        SELECT event_id, author, toxic, scores, lang, source, kind, item_id,
                               spans, duplicate_of, context, decision,
                               if(rules = '', decision,
                                  JSONExtractString(rules, 'policy_decision')) AS policy_decision,
                               intDiv(toUnixTimestamp64Milli(occurred_at), 10) AS ts,
                               if(empty(scores), '',
                                  arrayReduce('argMax', mapKeys(scores), mapValues(scores)))
                                   AS top_label
                        FROM verdicts FINAL
                        WHERE tenant = {{tenant:String}}
                          AND occurred_at >= now64(3) - toIntervalDay({{days:UInt32}})
                    )
                )
            )
        )
    """  # noqa: S608
    return sql, tr.parameters, len(program.rules)


def backtest(
    warehouse: Warehouse,
    tenant: str,
    source: str,
    *,
    days: int = 7,
    mode: Literal["replace", "add"] = "replace",
) -> BacktestReport:
    """Run `source` over `tenant`'s verdicts of the last `days`. Raises `InvalidRules`, or
    `WarehouseError`."""
    per_verdict, parameters, _ = backtest_sql(source, mode)
    parameters |= {"tenant": tenant, "days": days}
    program = parse(source)
    started = time.perf_counter()
    groups = warehouse.rows(
        f"SELECT decision, new_decision, top_label, hits, count() AS n FROM ({per_verdict}) "  # noqa: S608
        "GROUP BY decision, new_decision, top_label, hits",
        parameters,
    )
    examples = warehouse.rows(
        f"SELECT rule_index, event_id, author, toxic, top_label, decision, new_decision "  # noqa: S608
        f"FROM ({per_verdict}) ARRAY JOIN arrayFilter(i -> hits[i] = 1, "
        f"arrayEnumerate(hits)) AS rule_index "
        f"ORDER BY rule_index, event_id LIMIT {EXAMPLES_PER_RULE} BY rule_index",
        parameters,
    )
    seconds = time.perf_counter() - started
    return _report(program.rules, groups, examples, days, mode, seconds)


def _report(
    rules: tuple[RuleNode, ...],
    groups: list[dict[str, Any]],
    examples: list[dict[str, Any]],
    days: int,
    mode: Literal["replace", "add"],
    seconds: float,
) -> BacktestReport:
    decisions: Counter[str] = Counter()
    by_action: Counter[str] = Counter()
    by_label: Counter[str] = Counter()
    fired: Counter[int] = Counter()
    rule_labels: dict[int, Counter[str]] = defaultdict(Counter)
    total = changed = 0
    for g in groups:
        n = int(g["n"])
        total += n
        decisions[f"{g['decision']}>{g['new_decision']}"] += n
        changed += n if g["decision"] != g["new_decision"] else 0
        hit = [i for i, h in enumerate(g["hits"]) if h and i < len(rules)]
        live = [a for i in hit if not rules[i].shadow for a in rules[i].actions]
        for action in {f"{a.kind}:{a.value}" if a.value else a.kind for a in live}:
            by_action[action] += n
        if hit:
            by_label[g["top_label"] or "none"] += n
        for i in hit:
            fired[i] += n
            rule_labels[i][g["top_label"] or "none"] += n
    return BacktestReport(
        days=days,
        mode=mode,
        verdicts=total,
        changed=changed,
        decisions=dict(decisions),
        by_action=dict(by_action),
        by_label=dict(by_label),
        rules=[
            RuleCounts(rule=r.name, shadow=r.shadow, fired=fired[i], by_label=dict(rule_labels[i]))
            for i, r in enumerate(rules)
        ],
        examples=[
            Example(
                rule=rules[int(e["rule_index"]) - 1].name,
                event_id=e["event_id"],
                author=e["author"],
                toxic=round(float(e["toxic"]), 4),
                top_label=e["top_label"],
                decision=e["decision"],
                new_decision=e["new_decision"],
            )
            for e in examples
        ],
        seconds=round(seconds, 3),
    )
