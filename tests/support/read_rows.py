"""Rows for the read API's tests, inserted straight into the warehouse under a fresh tenant."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from infra.warehouse import Warehouse
from infra.warehouse.sink import ACTIONS, EVENTS, VERDICTS
from schemas.events import Kind
from schemas.moderation import EFFECTS, REASONS, ActionKind, ModerationAction, Origin
from schemas.rows import ACTION_ROWS

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def new_tenant() -> str:
    return f"t-{uuid.uuid4().hex[:12]}"


def decide(toxic: float) -> str:
    return "approve" if toxic <= 0.2 else "reject" if toxic > 0.8 else "review"


def verdict_row(
    tenant: str,
    event_id: str,
    *,
    minutes: float = 0,
    toxic: float = 0.1,
    author: str = "alice",
    lang: str = "en",
    source: str = "comments",
    kind: str = "post",
    scores: dict[str, float] | None = None,
    duplicate_of: str | None = None,
    latency_ms: float = 100.0,
    judged_after_s: float = 1.0,
    decision: str | None = None,
) -> dict[str, Any]:
    occurred = T0 + timedelta(minutes=minutes)
    return {
        "tenant": tenant, "event_id": event_id, "source": source, "kind": kind,
        "item_id": event_id, "author": author, "occurred_at": occurred,
        "judged_at": occurred + timedelta(seconds=judged_after_s),
        "decision": decision or decide(toxic), "toxic": toxic,
        "scores": scores if scores is not None else {"toxic": toxic},
        "lang": lang, "spans": [(0, 3)] if toxic > 0.5 else [], "model_version": "m1",
        "policy_version": "p1", "duplicate_of": duplicate_of, "latency_ms": latency_ms,
        "rewrite": "", "context": "", "rules": "",
    }  # fmt: skip


def store(warehouse: Warehouse, rows: list[dict[str, Any]], text: str = "text of {id}") -> None:
    """Insert verdicts and their events (text `text` with `{id}` replaced by the event id)."""
    warehouse.insert(
        VERDICTS.name, [[r[c] for c in VERDICTS.columns] for r in rows], VERDICTS.columns
    )
    events = [
        [
            r["tenant"], r["event_id"], r["source"], r["kind"], r["item_id"], r["author"],
            r["occurred_at"], r["occurred_at"], r["lang"], text.replace("{id}", r["event_id"]),
            json.dumps({"author": r["author"]}), "",
        ]
        for r in rows
    ]  # fmt: skip
    warehouse.insert(EVENTS.name, events, EVENTS.columns)


def activity_row(
    tenant: str, event_id: str, session: str, action: str, mode: str | None, *,
    seconds: float = 0, user: str = "u1", linked: str | None = None,
) -> list[Any]:  # fmt: skip
    payload: dict[str, Any] = {"user": user, "session_id": session, "action": action, "mode": mode}
    if linked:
        payload["metadata"] = {"event_id": linked}
    at = T0 + timedelta(seconds=seconds)
    return [tenant, event_id, "composer", "activity", event_id, user, at, at, "", "",
            json.dumps(payload), ""]  # fmt: skip


def action(
    tenant: str,
    event_id: str,
    act: str = "remove",
    *,
    reason: str = "insult",
    author: str = "alice",
    kind: str = "post",
    minutes: float = 0,
    decided_after_min: float = 5,
    model_decision: str = "review",
) -> ModerationAction:
    """A reviewer's decision on an item stored by `verdict_row` (same `minutes`)."""
    occurred = T0 + timedelta(minutes=minutes)
    kind_of = ActionKind(act)
    return ModerationAction(
        action_id=f"act_{uuid.uuid4().hex[:16]}", tenant=tenant, event_id=event_id,
        item_id=event_id, author=author, source="chat" if kind == "chat_message" else "comments",
        kind=Kind(kind), occurred_at=occurred, action=kind_of, effect=EFFECTS[kind_of],
        reason=reason, dsa_category=REASONS[reason].dsa_category, reviewer="user:rev@example.com",
        decided_at=occurred + timedelta(minutes=decided_after_min), origin=Origin.VERDICT,
        reports=0, model_decision=model_decision, enqueued_at=occurred + timedelta(seconds=2),
    )  # fmt: skip


def store_actions(warehouse: Warehouse, actions: list[ModerationAction]) -> None:
    """Insert reviewers' decisions as the sink does from `moderation.actions`."""
    warehouse.insert(ACTIONS.name, [ACTION_ROWS.row(a) for a in actions], ACTIONS.columns)
