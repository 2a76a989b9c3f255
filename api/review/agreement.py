"""The model against the reviewers: for one label, how the classifier's scores agree with people's
decisions on the same items, and which threshold would have agreed best.

A reviewer's effective decision is the truth: `removed` positive, `visible` negative (items with
no decision, or only escalations and labels, are left out). The model's call is its verdict's
decision (`reject` positive, `review` and `approve` negative) for precision and recall as the
policy stands, and `score >= t` for each candidate threshold `t`; the best threshold is the one
with the highest F1 (ties: the higher threshold, the fewer removals).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel, Field

from infra.warehouse import Warehouse

THRESHOLDS = tuple(round(t / 100, 2) for t in range(5, 100, 5))


@dataclass(frozen=True, slots=True)
class Pair:
    score: float
    model_rejected: bool
    removed: bool


class Counts(BaseModel):
    true_positive: int
    false_positive: int
    false_negative: int
    true_negative: int
    precision: float | None = Field(description="Of what the model rejected, removed by people.")
    recall: float | None = Field(description="Of what people removed, rejected by the model.")
    f1: float | None


class Agreement(BaseModel):
    label: str
    decisions: int = Field(description="Items with a reviewer's effective decision.")
    removed: int
    current: Counts = Field(description="The policy's decisions against the reviewers'.")
    best_threshold: float | None = Field(description="The score cut-off that agreed best (F1).")
    best: Counts | None
    by_threshold: dict[str, Counts]


def _counts(calls: Sequence[tuple[bool, bool]]) -> Counts:
    tp = sum(1 for model, human in calls if model and human)
    fp = sum(1 for model, human in calls if model and not human)
    fn = sum(1 for model, human in calls if not model and human)
    tn = len(calls) - tp - fp - fn
    precision = tp / (tp + fp) if tp + fp else None
    recall = tp / (tp + fn) if tp + fn else None
    f1 = (
        2 * precision * recall / (precision + recall)
        if precision is not None and recall is not None and precision + recall
        else None
    )
    return Counts(
        true_positive=tp, false_positive=fp, false_negative=fn, true_negative=tn,
        precision=precision, recall=recall, f1=f1,
    )  # fmt: skip


def agreement(label: str, pairs: Sequence[Pair]) -> Agreement:
    by_threshold = {
        f"{t:.2f}": _counts([(p.score >= t, p.removed) for p in pairs]) for t in THRESHOLDS
    }
    scored = [(float(t), c) for t, c in by_threshold.items() if c.f1 is not None]
    best = max(scored, key=lambda tc: (tc[1].f1 or 0.0, tc[0]), default=None)
    return Agreement(
        label=label, decisions=len(pairs), removed=sum(p.removed for p in pairs),
        current=_counts([(p.model_rejected, p.removed) for p in pairs]),
        best_threshold=best[0] if best else None, best=best[1] if best else None,
        by_threshold=by_threshold,
    )  # fmt: skip


def pairs(
    warehouse: Warehouse, tenant: str, label: str, since: datetime, until: datetime
) -> list[Pair]:
    """Each item decided by people in the period (by decision time): its effective human
    decision, and the model's score for `label` (`toxic` is the overall score) and decision."""
    score = "v.toxic" if label == "toxic" else "v.scores[{label:String}]"
    rows = warehouse.rows(
        f"""
        SELECT a.event_id AS event_id, a.latest AS latest, {score} AS score,
               v.decision = 'reject' AS rejected
        FROM (
            SELECT event_id, argMax(effect, (decided_at, action_id)) AS latest
            FROM moderation_actions FINAL
            WHERE tenant = {{tenant:String}} AND effect != 'none'
              AND decided_at >= {{since:DateTime64(3, 'UTC')}}
              AND decided_at < {{until:DateTime64(3, 'UTC')}}
            GROUP BY event_id
        ) AS a
        INNER JOIN (
            SELECT event_id, toxic, scores, decision FROM verdicts FINAL
            WHERE tenant = {{tenant:String}} AND event_id IN (
                SELECT event_id FROM moderation_actions WHERE tenant = {{tenant:String}})
        ) AS v ON v.event_id = a.event_id
        """,  # noqa: S608 - the score expression is one of two constants
        {"tenant": tenant, "label": label, "since": since, "until": until},
    )
    return [
        Pair(score=float(r["score"]), model_rejected=bool(r["rejected"]),
             removed=r["latest"] == "removed")
        for r in rows
    ]  # fmt: skip
