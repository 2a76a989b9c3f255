"""Reviewers' decisions as the reads apply them: an item's effective state is its latest action
with an effect (`removed` or `visible`), over the model's verdict. One primary-key point per item
of `moderation_actions` (ordered by tenant and item).
Counts (the rollups, an author's statistics) apply it too: `api/rollups.py`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, Field

from infra.warehouse import Warehouse
from schemas.moderation import Effect


class Moderated(BaseModel):
    """What a read of an item adds to its verdict: the reviewers' decision, if any."""

    moderation: Literal["removed", "visible"] | None = Field(
        default=None,
        description="A reviewer's decision, which overrides the model's `decision`: `removed`, "
        "or `visible` (approved, or restored on appeal); null when no reviewer decided.",
    )


LATEST = "argMax(effect, (decided_at, action_id))"
"""An item's effective human decision among its actions with an effect ('' when none)."""


def effects(warehouse: Warehouse, tenant: str, event_ids: Sequence[str]) -> dict[str, Effect]:
    """The effective human decision of each item that has one."""
    if not event_ids:
        return {}
    rows = warehouse.rows(
        f"SELECT event_id, {LATEST} AS latest "  # noqa: S608 - a constant expression
        "FROM moderation_actions FINAL WHERE tenant = {tenant:String} "
        "AND event_id IN {ids:Array(String)} AND effect != 'none' GROUP BY event_id",
        {"tenant": tenant, "ids": list(event_ids)},
    )
    return {r["event_id"]: Effect(r["latest"]) for r in rows}
