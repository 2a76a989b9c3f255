"""Backtests: a rule set run over a tenant's stored verdicts, reporting what would have changed.

The candidate set is translated into SQL (`sql.py`, `by_author.py`) and run where the verdicts
are, in one pass that groups every verdict of the period by (decision as published, decision
under the candidate, top label), with a count per rule and action and a few examples per rule;
when the event ids crossed the per-author arrays as hashes, a second small query finds the
examples' ids back. A counter or the author's history only sees the period backtested (what
came before it is not counted).

`mode="replace"`: the candidate is the whole new rule set, applied over the policy's decisions.
`mode="add"`: the candidate's rules are added to those in force: a verdict keeps its published
decision unless a candidate rule names a more severe one.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from datetime import datetime
from typing import Any, Literal, NamedTuple

from pydantic import BaseModel, Field

from infra.rules.by_author import by_author_sql, flags
from infra.rules.compile import compile_rules
from infra.rules.fields import AUTHOR_HISTORY_DAYS
from infra.rules.sql import HISTORY_COLUMNS, CounterSQL, Translator
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


def _decision_sql(rules: list[RuleNode], hit: list[str], values: dict[str, str], base: str) -> str:
    """The severest decision the live rules that fired name (as `values` writes it), else
    `base`."""
    branches = []
    for decision in ("reject", "review", "approve"):
        naming = [
            hit[i]
            for i, r in enumerate(rules)
            if not r.shadow and any(a.kind == "decision" and a.value == decision for a in r.actions)
        ]
        if naming:
            branches.append(f"({' OR '.join(naming)}), {values[decision]}")
    return f"multiIf({', '.join(branches)}, {base})" if branches else base


def backtest_sql(
    source: str,
    mode: Literal["replace", "add"],
    *,
    until: bool = False,
    days: int | None = None,
    arrays: bool = True,
) -> BacktestQuery:
    """The per-verdict query of `source` (`BacktestQuery`). The period is the `days` before now,
    or before the parameter `until` if `until`. With `arrays`, the counters by author are
    counted per author over arrays (`by_author.py`), and so is the author's history when the
    period (`days`) is at most the history's 30 days; the other counts are window functions.
    Without, every count is (the same counts, slower). Raises `InvalidRules`."""
    compile_rules(source)  # the same checks and examples as a save
    program = parse(source)
    rules = list(program.rules)
    tr = Translator({c.name for c in program.counters})
    period = _UNTIL if until else _SINCE_NOW
    counters = [tr.counter(c) for c in program.counters]
    by_author = [c for c in counters if c.by_author] if arrays else []
    history_arrays = (
        arrays
        and days is not None
        and days <= AUTHOR_HISTORY_DAYS
        and any(tr.by_author(r.when) for r in rules)
    )
    if by_author or history_arrays:
        tr.hoisted = {}  # the conditions' parts that need no counting, before the arrays
    hits = [f"h{i}" for i in range(len(rules))]
    conditions = [f"toUInt8({tr.expr(r.when)}) AS {h}" for r, h in zip(rules, hits, strict=True)]
    history_arrays = history_arrays and tr.uses_history
    coded = bool(by_author or history_arrays)
    narrow = _rows(tr, counters, by_author, period, history=history_arrays)
    if coded:  # decisions and top labels as their places among the period's values
        every = f"FROM verdicts WHERE tenant = {{tenant:String}} AND {period}"
        codes = {  # every value of the period (a few)
            "decision": f"(SELECT groupUniqArray(decision) {every})",
            "policy_decision": f"(SELECT groupUniqArray({_POLICY_DECISION}) {every})",
            "top_label": f"(SELECT groupUniqArrayArray(mapKeys(scores)) {every})",
        }
        rows = by_author_sql(
            narrow.sql, narrow.carried, by_author, history=history_arrays, bits=narrow.bits,
            codes=codes, hashed=["event_id"],
        )  # fmt: skip
        columns = "k_top_label AS top_label, k_decision AS decision, k_policy_decision AS policy"
        rule_code = _decision_sql(rules, hits, {"reject": "3", "review": "2", "approve": "1"}, "0")
        # replace: the rules' decision (negative), or the policy's place; add: the rules' code
        new = "if(new_rules = 0, toInt64(policy), -toInt64(new_rules))"
        new = new if mode == "replace" else "toInt64(new_rules)"
        published = f"{codes['decision']}[g_decision]"
        decode = {
            "decision": published,
            "top_label": f"{codes['top_label']}[g_top]",
            "new_decision": (
                f"if(g_new < 0, ['approve', 'review', 'reject'][-g_new], "
                f"{codes['policy_decision']}[g_new])"
                if mode == "replace"
                else f"multiIf({published} = 'reject' OR g_new = 3, 'reject', "
                f"{published} = 'review' OR g_new = 2, 'review', {published})"
            ),
        }
    else:
        rows = narrow.sql
        columns = "top_label, decision, policy_decision AS policy"
        decisions = {d: f"'{d}'" for d in ("reject", "review", "approve")}
        if mode == "replace":
            rule_code = _decision_sql(rules, hits, decisions, "policy")
            new = "new_rules"
        else:  # the severer of the published decision and the candidate's
            rule_code = _decision_sql(rules, hits, decisions, "''")
            new = (
                "multiIf(decision = 'reject' OR new_rules = 'reject', 'reject', "
                "decision = 'review' OR new_rules = 'review', 'review', decision)"
            )
        decode = {"decision": "g_decision", "new_decision": "g_new", "top_label": "g_top"}
    # Names in this SQL come from the grammar ([a-z_][a-z0-9_]*); every literal is a parameter.
    # One level per step, so that each step reads columns of the one below: an alias used in
    # its own SELECT would be expanded in place, and a hundred rules would be written out
    # hundreds of times over.
    sql = f"""
        SELECT event_id, author, toxic, top_label AS g_top, decision AS g_decision,
               {new} AS g_new {"".join(", " + h for h in hits)}
        FROM (
            SELECT *, {rule_code} AS new_rules
            FROM (
                SELECT event_id, author, toxic, {columns},
                       {", ".join(conditions) or "toUInt8(0) AS h_none"}
                FROM ({rows})
            )
        )
    """  # noqa: S608
    return BacktestQuery(sql, tr.parameters, len(rules), coded, decode)


class _Rows(NamedTuple):
    sql: str
    carried: list[str]
    bits: list[str]


def _rows(
    tr: Translator,
    counters: list[CounterSQL],
    by_author: list[CounterSQL],
    period: str,
    *,
    history: bool,
) -> _Rows:
    """Each verdict of the period narrowed first to what the rules read (the scores map read
    once per label), with its window counts, and for the per-author arrays the parts computed
    per verdict and the flags to count: what is sorted or grouped next is a few plain columns.
    `carried`: the columns the arrays carry (the others are read before them)."""
    row = ["event_id", "toxic", "top_label", "decision", "policy_decision"]
    row += [c for c in tr.row_columns() if c not in row]
    windows = [c.window() for c in counters if c not in by_author]
    if tr.uses_history and not history:
        windows += HISTORY_COLUMNS
    hoisted = [f"{sql} AS {name}" for sql, name in (tr.hoisted or {}).items()]
    if tr.hoisted is None:
        carried = [c.split(" AS ")[-1] for c in row]
    else:  # the rules read the parts computed per verdict, not the columns they came from
        carried = [*row[:5], *(n for n in tr.hoisted.values() if n not in tr.flags)]
    sql = f"""
        SELECT author, ts, {", ".join(row)}
        FROM (
            SELECT *, {_POLICY_DECISION} AS policy_decision,
                   intDiv(toUnixTimestamp64Milli(occurred_at), 10) AS ts,
                   if(empty(scores), '',
                      arrayReduce('argMax', mapKeys(scores), mapValues(scores))) AS top_label
            FROM verdicts FINAL
            WHERE tenant = {{tenant:String}}
              AND {period}
        )
    """  # noqa: S608 (names from the grammar, literals as parameters)
    extra = [*windows, *hoisted, *flags(by_author, history)]
    if extra:
        sql = f"SELECT *, {', '.join(extra)} FROM ({sql})"  # noqa: S608 (as above)
        carried += [w.split(" AS ")[-1] for w in windows]
    return _Rows(sql, carried, sorted(tr.flags, key=lambda n: int(n[1:])))


class BacktestQuery(NamedTuple):
    """The per-verdict query: `event_id`, `author`, `toxic`, a column per rule (`h<i>`, 0 or 1),
    and the group columns `g_decision`, `g_new`, `g_top`, which `decode` turns into the decision
    as published, the candidate's and the top label (expressions of those columns)."""

    sql: str
    parameters: dict[str, Any]
    rules: int
    hashed: bool
    """`event_id` is the id's 64-bit hash (`cityHash64`; see `_found_back`)."""
    decode: dict[str, str]


_POLICY_DECISION = "if(rules = '', decision, JSONExtractString(rules, 'policy_decision'))"
_SINCE_NOW = "occurred_at >= now64(3) - toIntervalDay({days:UInt32})"
_UNTIL = (
    "occurred_at > {until:DateTime64(3, 'UTC')} - toIntervalDay({days:UInt32}) "
    "AND occurred_at <= {until:DateTime64(3, 'UTC')}"
)


def backtest(
    warehouse: Warehouse,
    tenant: str,
    source: str,
    *,
    days: int = 7,
    mode: Literal["replace", "add"] = "replace",
    until: datetime | None = None,
    arrays: bool = True,
) -> BacktestReport:
    """Run `source` over `tenant`'s verdicts of the last `days`, in one pass: the aggregates
    are grouped by (published decision, candidate decision, top label), a handful of groups,
    with a sum and a few examples per rule and a count per action. The period ends now, or at
    `until` (a period of history already loaded); `arrays`: see `backtest_sql`. Raises
    `InvalidRules`, or `WarehouseError`."""
    query = backtest_sql(source, mode, until=until is not None, days=days, arrays=arrays)
    per_verdict, parameters, n, decode = query.sql, query.parameters, query.rules, query.decode
    parameters |= {"tenant": tenant, "days": days} | ({"until": until} if until else {})
    rules = parse(source).rules
    actions = _actions(rules)
    columns = [f"sum(h{i}) AS r{i}" for i in range(n)]
    columns += [
        f"groupArrayIf({EXAMPLES_PER_RULE})((event_id, author, toxic), h{i} = 1) AS x{i}"
        for i in range(n)
    ]
    columns += [
        f"sum(toUInt8({' OR '.join(f'h{i}' for i in hit)})) AS a{k}"
        for k, hit in enumerate(actions.values())
    ]
    any_hit = " OR ".join(f"h{i}" for i in range(n)) or "0"
    started = time.perf_counter()
    groups = warehouse.rows(
        f"SELECT {decode['decision']} AS decision, {decode['new_decision']} AS new_decision, "  # noqa: S608 (see above)
        f"{decode['top_label']} AS top_label, count() AS n, "
        f"sum(toUInt8({any_hit})) AS any_hit{''.join(', ' + c for c in columns)} "
        f"FROM ({per_verdict}) GROUP BY g_decision, g_new, g_top",
        parameters,
    )
    if query.hashed:
        _found_back(warehouse, groups, n, parameters, period=_UNTIL if until else _SINCE_NOW)
    seconds = time.perf_counter() - started
    return _report(rules, list(actions), groups, days, mode, seconds)


def _found_back(
    warehouse: Warehouse,
    groups: list[dict[str, Any]],
    n: int,
    parameters: dict[str, Any],
    *,
    period: str,
) -> None:
    """The examples' event ids in place of their hashes: looked up among their authors'
    verdicts of the period (a few hundred at most, by the author index)."""
    wanted = {(a, h) for g in groups for i in range(n) for h, a, _ in g[f"x{i}"]}
    if not wanted:
        return
    found = warehouse.rows(
        "SELECT DISTINCT author, cityHash64(event_id) AS h, event_id FROM verdicts "  # noqa: S608
        f"WHERE tenant = {{tenant:String}} AND {period} AND author IN {{authors:Array(String)}} "
        "AND cityHash64(event_id) IN {hashes:Array(UInt64)}",
        parameters | {"authors": sorted({a for a, _ in wanted}),
                      "hashes": sorted({h for _, h in wanted})},
    )  # fmt: skip
    ids = {(r["author"], r["h"]): r["event_id"] for r in found}
    for g in groups:  # (one erased meanwhile is no longer an example)
        for i in range(n):
            g[f"x{i}"] = [(ids[(a, h)], a, toxic) for h, a, toxic in g[f"x{i}"] if (a, h) in ids]


def _actions(rules: tuple[RuleNode, ...]) -> dict[str, list[int]]:
    """`kind:value` of each action of a live rule → the rules that take it."""
    found: dict[str, list[int]] = {}
    for i, rule in enumerate(rules):
        if rule.shadow:
            continue
        for a in rule.actions:
            found.setdefault(f"{a.kind}:{a.value}" if a.value else a.kind, []).append(i)
    return found


def _report(
    rules: tuple[RuleNode, ...],
    actions: list[str],
    groups: list[dict[str, Any]],
    days: int,
    mode: Literal["replace", "add"],
    seconds: float,
) -> BacktestReport:
    decisions: Counter[str] = Counter()
    by_action: Counter[str] = Counter()
    by_label: Counter[str] = Counter()
    fired: Counter[int] = Counter()
    rule_labels: dict[int, Counter[str]] = defaultdict(Counter)
    examples: dict[int, list[Example]] = defaultdict(list)
    total = changed = 0
    for g in groups:
        n, label = int(g["n"]), g["top_label"] or "none"
        total += n
        decisions[f"{g['decision']}>{g['new_decision']}"] += n
        changed += n if g["decision"] != g["new_decision"] else 0
        if g["any_hit"]:
            by_label[label] += int(g["any_hit"])
        for k, action in enumerate(actions):
            if g[f"a{k}"]:
                by_action[action] += int(g[f"a{k}"])
        for i, rule in enumerate(rules):
            hits = int(g[f"r{i}"])
            if not hits:
                continue
            fired[i] += hits
            rule_labels[i][label] += hits
            for event_id, author, toxic in g[f"x{i}"]:
                examples[i].append(
                    Example(
                        rule=rule.name, event_id=event_id, author=author,
                        toxic=round(float(toxic), 4), top_label=g["top_label"],
                        decision=g["decision"], new_decision=g["new_decision"],
                    )
                )  # fmt: skip
    changed_first = sorted(
        (e for found in examples.values() for e in found),
        key=lambda e: (e.rule, e.decision == e.new_decision, e.event_id),
    )
    kept: Counter[str] = Counter()
    picked = []
    for e in changed_first:  # per rule: changed decisions first, then the others
        if kept[e.rule] < EXAMPLES_PER_RULE:
            kept[e.rule] += 1
            picked.append(e)
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
        examples=picked,
        seconds=round(seconds, 3),
    )
