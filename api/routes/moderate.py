"""`POST /v1/moderate`: judge one text now and answer its full verdict (api/moderation.py)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from api import durations
from api.deps import IngestTenant, StateDep
from api.errors import ApiError, responses
from api.moderation import moderate as judge_now
from api.routes.assist import AssistDep
from schemas.moderate import ModerateRequest, ModerateResponse

router = APIRouter(prefix="/v1", tags=["moderate"])

MAX_DEADLINE_S = durations.MAX_S

DeadlineParam = Annotated[
    str | None,
    Query(
        max_length=12,
        json_schema_extra={"pattern": durations.POSITIVE},
        description="How long to wait for the verdict (`2s`, `800ms`, or seconds; at most "
        f"{MAX_DEADLINE_S:.0f}s) before 504; `MODSTREAM_MODERATE_DEADLINE` (2 s) by default.",
        examples=["2s"],
    ),
]

EXAMPLE_RESPONSE: dict[str, Any] = {
    "schema_version": 1, "event_id": "moderate-3f1c0d9a8b7e6f5a4d3c2b1a", "tenant": "demo",
    "source": "moderate", "kind": "post", "item_id": "comment-7731", "author": "user-42",
    "occurred_at": "2026-11-21T09:30:00Z", "judged_at": "2026-11-21T09:30:00.012Z",
    "decision": "reject", "toxic": 0.97,
    "scores": {"toxic": 0.97, "insult": 0.91, "identity_hate": 0.04, "obscene": 0.12,
               "severe_toxic": 0.02, "threat": 0.0, "harassment": 0.0},
    "lang": "en", "spans": [[0, 7], [19, 24]], "model_version": "cascade-v1:…",
    "policy_version": "request:threshold-v1:0.3/0.9", "duplicate_of": None, "latency_ms": 12.0,
    "rewrite": {"text": "please stop, you are wrong", "toxic": 0.08, "source": "offline",
                "note": None},
    "context": {"items": 1, "toxic_alone": 0.97, "toxic_in_context": None, "raised": False},
    "policy": "request", "stored": "text", "replayed": False,
}  # fmt: skip


def deadline_seconds(given: str | None, default: float) -> float:
    if given is None:
        return default
    seconds = durations.seconds(given, durations.POSITIVE)
    if seconds is None:
        raise ApiError(
            422,
            "invalid_deadline",
            f"deadline is a duration like 2s or 800ms, above 0 and at most {MAX_DEADLINE_S:.0f}s",
        )
    return seconds


@router.post(
    "/moderate",
    response_model=ModerateResponse,
    responses=responses(401, 403, 409, 422, 429, 503, 504)
    | {200: {"content": {"application/json": {"example": EXAMPLE_RESPONSE}}}},
    summary="Judge a text now: the full verdict, published and stored like any event",
    description="Needs the `ingest` scope. Answers the verdict a stream worker would publish "
    "(cascade scores, labels, spans, the decision under your tenant's policy or the request's "
    "`thresholds`, a rewrite suggestion for what is not approved), within the deadline or 504 "
    "`deadline_exceeded`. The item is published (`events.judged`) and its verdict on "
    "`verdicts.text`, so results, analytics, strikes and the live feed see it; `store: false` "
    "keeps only the text's SHA-256. The same `id` again answers the first verdict "
    "(`replayed: true`). 409 `already_judged` when a stream worker judged that item already. "
    "503 `judge_unavailable` when `modstream assist` is not running.",
)
async def moderate(
    body: ModerateRequest,
    state: StateDep,
    tenant: IngestTenant,
    judge: AssistDep,
    deadline: DeadlineParam = None,
) -> ModerateResponse:
    seconds = deadline_seconds(deadline, state.settings.moderate.deadline)
    done = await judge_now(state, judge.client, tenant, body, deadline=seconds)
    return done.response
