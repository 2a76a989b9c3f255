"""Ingest: `POST /v1/events` validates one event or a batch and publishes it to its topic."""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

from fastapi import APIRouter, Request, status
from pydantic import BaseModel, Field, ValidationError

from api.deps import IngestTenant, StateDep
from api.errors import ApiError, responses
from api.state import AppState
from schemas.events import EVENT_ADAPTER, Event, Kind
from schemas.topics import topic_for_kind

router = APIRouter(prefix="/v1", tags=["ingest"])

MAX_BATCH = 1_000
MAX_BODY_BYTES = 16 * 1024 * 1024

EXAMPLE_EVENT = {
    "event_id": "comments-7731",
    "tenant": "demo",
    "source": "comments",
    "kind": "post",
    "occurred_at": "2026-11-21T09:30:00Z",
    "payload": {"external_id": "7731", "author": "user-42", "text": "What a thoughtful reply!"},
}


class Accepted(BaseModel):
    accepted: int = Field(description="How many events were published.")
    event_ids: list[str]


def _request_body_schema() -> dict[str, Any]:
    one = EVENT_ADAPTER.json_schema(ref_template="#/components/schemas/{model}")
    one.pop("$defs", None)
    return {
        "oneOf": [
            one,
            {"type": "array", "items": one, "minItems": 1, "maxItems": MAX_BATCH},
        ]
    }


def event_schema_components() -> dict[str, Any]:
    """The `$defs` of the event schema, to merge into the OpenAPI components. Each event's
    `kind` is required there: it picks the event type, so a body without it is refused even
    though the Python models default it."""
    defs: dict[str, Any] = EVENT_ADAPTER.json_schema(
        ref_template="#/components/schemas/{model}"
    ).get("$defs", {})
    for model in defs.values():
        if "const" in model.get("properties", {}).get("kind", {}):
            model["required"] = [*model.get("required", []), "kind"]
    return defs


@router.post(
    "/events",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Accepted,
    responses=responses(400, 401, 403, 413, 422, 429, 503),
    summary="Publish one event or a batch of up to 1,000",
    description="Needs the `ingest` scope. Events by a blocked author (strikes or a rule) "
    "are refused (403 `author_blocked`, with the indexes; nothing published). Every event must "
    "belong to the caller's tenant (its "
    "`tenant` field): otherwise 403 `tenant_mismatch` lists the offending indexes and nothing is "
    "published. Every event is validated first; if any is invalid, none is published and the "
    "response lists the reason for each bad item by its index. Accepted events are on their "
    "topic when this returns; their verdicts follow on `verdicts.*` and in the warehouse.",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": _request_body_schema(),
                    "examples": {
                        "one": {"summary": "One post", "value": EXAMPLE_EVENT},
                        "batch": {"summary": "A batch", "value": [EXAMPLE_EVENT]},
                    },
                }
            },
        }
    },
)
async def publish_events(request: Request, state: StateDep, tenant: IngestTenant) -> Accepted:
    body = await request.body()
    if len(body) > MAX_BODY_BYTES:
        raise ApiError(413, "body_too_large", f"the body exceeds {MAX_BODY_BYTES} bytes")
    try:
        doc = json.loads(body)
    except ValueError as exc:
        raise ApiError(400, "invalid_json", f"the body is not valid JSON: {exc}") from exc
    items = doc if isinstance(doc, list) else [doc]
    if not items:
        raise ApiError(422, "empty_batch", "the batch holds no events")
    if len(items) > MAX_BATCH:
        raise ApiError(422, "batch_too_large", f"at most {MAX_BATCH} events per request")
    foreign = [
        {"index": i, "event_id": item.get("event_id"), "tenant": item.get("tenant")}
        for i, item in enumerate(items)
        if isinstance(item, dict) and "tenant" in item and item["tenant"] != tenant
    ]
    if foreign:
        raise ApiError(
            403, "tenant_mismatch",
            f"{len(foreign)} of {len(items)} events belong to another tenant than yours "
            f"({tenant!r}); none was published", foreign,
        )  # fmt: skip
    events, problems = _validate(items)
    if problems:
        raise ApiError(
            422, "invalid_events", f"{len(problems)} of {len(items)} events are invalid", problems
        )
    refuse_blocked(state, events)
    by_topic: dict[str, list[tuple[str | None, bytes]]] = defaultdict(list)
    for event in events:
        by_topic[topic_for_kind(event.kind).name].append(
            (event.partition_key, event.model_dump_json().encode())
        )
    for topic, records in by_topic.items():
        await state.publisher.publish_many(topic, records)
    return Accepted(accepted=len(events), event_ids=[e.event_id for e in events])


def refuse_blocked(state: AppState, events: list[Event]) -> None:
    """403 `author_blocked` (nothing published) if an author of a post, chat message or media
    item is blocked by strikes. Activity events are not content: they pass."""
    if state.blocks is None:
        return
    blocked = [
        {"index": i, "event_id": e.event_id, "author": e.author}
        for i, e in enumerate(events)
        if e.kind != Kind.ACTIVITY and state.blocks.blocked(e.tenant, e.author) is not None
    ]
    if blocked:
        raise ApiError(
            403, "author_blocked",
            f"{len(blocked)} of {len(events)} events are by authors blocked for repeated "
            "harmful content; none was published", blocked,
        )  # fmt: skip


def _validate(items: list[Any]) -> tuple[list[Event], list[dict[str, Any]]]:
    events: list[Event] = []
    problems: list[dict[str, Any]] = []
    for index, item in enumerate(items):
        try:
            events.append(EVENT_ADAPTER.validate_python(item))
        except ValidationError as exc:
            problems.append(
                {
                    "index": index,
                    "event_id": item.get("event_id") if isinstance(item, dict) else None,
                    "errors": [
                        {"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]}
                        for e in exc.errors(include_url=False, include_input=False)
                    ],
                }
            )
    return events, problems
