"""Shadow rules against live outcomes, from the warehouse's copy of `rules.shadow`."""

from __future__ import annotations

from pydantic import BaseModel, Field

from infra.warehouse import Warehouse


class ShadowRule(BaseModel):
    rule: str
    version: str = Field(description="The newest version of the rule seen in the period.")
    fired: int = Field(description="Items the shadow rule would have fired on.")
    would_change: int = Field(description="Of those, items whose decision would differ.")
    outcomes: dict[str, int] = Field(description="`live>shadow` decision → items.")
    examples: list[str] = Field(description="A few event ids whose decision would differ.")


class ShadowComparison(BaseModel):
    days: int
    rules: list[ShadowRule]


def shadow_comparison(warehouse: Warehouse, tenant: str, days: int) -> ShadowComparison:
    rows = warehouse.rows(
        "SELECT rule, live_decision, shadow_decision, count() AS n, "
        "argMax(version, judged_at) AS version, max(judged_at) AS last, "
        "groupArray(5)(event_id) AS examples "
        "FROM rule_shadow FINAL "
        "WHERE tenant = {tenant:String} AND judged_at >= now64(3) - toIntervalDay({days:UInt32}) "
        "GROUP BY rule, live_decision, shadow_decision",
        {"tenant": tenant, "days": days},
    )
    found: dict[str, ShadowRule] = {}
    for row in sorted(rows, key=lambda r: r["last"]):
        rule = found.setdefault(
            row["rule"],
            ShadowRule(rule=row["rule"], version="", fired=0, would_change=0, outcomes={},
                       examples=[]),
        )  # fmt: skip
        n = int(row["n"])
        rule.fired += n
        rule.outcomes[f"{row['live_decision']}>{row['shadow_decision']}"] = n
        rule.version = row["version"]  # rows come oldest first: the newest version stays
        if row["live_decision"] != row["shadow_decision"]:
            rule.would_change += n
            rule.examples = (rule.examples + list(row["examples"]))[:5]
    ordered = sorted(found.values(), key=lambda r: (-r.fired, r.rule))
    return ShadowComparison(days=days, rules=ordered)
