"""Dead letters: what the workers could not judge, listed and read (`read` scope), and replayed
after a fix (`admin` scope). A tenant sees only its own; dead letters with no tenant (bytes that
are not JSON, with no `tenant:` key) are for the operator's command line
(`modstream deadletters … --unowned`), never for a tenant. See docs/deadletters.md."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from api import replay
from api.deps import ContextDep, ReadTenant, StateDep, TenantAdmin
from api.errors import ApiError, responses
from api.read import deadletters
from api.read.deadletters import (
    ID_DESCRIPTION,
    DeadLetterItem,
    DeadLetterPage,
    DeadLetterQuery,
    Scope,
)
from api.replay import ReplayReport, ReplayRequest
from api.state import AppState

router = APIRouter(prefix="/v1", tags=["dead letters"])

EXAMPLE: dict[str, Any] = {
    "id": "events.text:2:1534",
    "topic": "events.text",
    "partition": 2,
    "offset": 1534,
    "reason": "processing_error",
    "detail": "RuntimeError: the model choked",
    "tenant": "demo",
    "event_id": "comments-7731",
    "failed_at": "2026-11-21T09:30:01.250Z",
    "raw_size": 187,
    "raw": '{"event_id": "comments-7731", "tenant": "demo", "source": "comments", "kind": "post", '
    '"occurred_at": "2026-11-21T09:30:00Z", "payload": {"external_id": "7731", '
    '"author": "user-42", "text": "What a thoughtful reply!"}}',
    "raw_state": "complete",
    "replays": [],
}
EXAMPLE_HASHED: dict[str, Any] = EXAMPLE | {
    "id": "events.text:0:88",
    "partition": 0,
    "offset": 88,
    "reason": "schema_violation",
    "detail": "schema_violation",
    "raw": "sha256:9f2c4d1e0b7a6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d",
    "raw_state": "hashed",
}
EXAMPLE_REPORT: dict[str, Any] = {
    "dry_run": False,
    "replayed": [
        {
            "id": "events.text:2:1534",
            "event_id": "comments-7731",
            "reason": "processing_error",
            "key": "demo:user-42",
            "to": "events.text:1:20488",
        }
    ],
    "already_replayed": [],
    "refused": [],
    "incomplete": 0,
    "more": False,
}

DeadLetterPath = Annotated[
    str,
    Path(
        min_length=5,
        max_length=284,
        pattern=deadletters.ID_PATTERN,
        description=ID_DESCRIPTION,
        examples=["events.text:2:1534"],
    ),
]


def _private(state: AppState) -> deadletters.IsPrivate:
    state.privacy.refresh()
    return state.privacy.is_private


@router.get(
    "/deadletters",
    response_model=DeadLetterPage,
    responses=responses(400, 401, 403, 422, 429, 503),
    summary="Your tenant's dead letters, newest first",
    description="Input of your tenant that could not be judged: the reason and detail, the "
    "source topic, partition and offset (together, the dead letter's `id`), when it failed, "
    "the event id if the record says, and the record itself (`raw`, cut to 16 KiB; "
    "`raw_state` says whether it is whole). In privacy mode `raw` is only the SHA-256 that was "
    "stored (`raw_state: hashed`, `privacy_mode: true`) and `detail` only the reason. Filters "
    "combine with AND; pages follow `next`. Dead letters with no tenant (bytes that are not "
    "JSON, with no `tenant:` key) are never listed here: the operator reads them with "
    "`modstream deadletters list --unowned`.",
    openapi_extra={
        "responses": {
            "200": {
                "content": {
                    "application/json": {
                        "examples": {
                            "page": {
                                "summary": "A page",
                                "value": {
                                    "data": [EXAMPLE],
                                    "count": 1,
                                    "next": "eyJzIjoi…",
                                    "privacy_mode": False,
                                },
                            },
                            "privacy": {
                                "summary": "In privacy mode",
                                "value": {
                                    "data": [EXAMPLE_HASHED],
                                    "count": 1,
                                    "next": None,
                                    "privacy_mode": True,
                                },
                            },
                        }
                    }
                }
            }
        }
    },
)
def list_dead_letters(
    query: Annotated[DeadLetterQuery, Query()], state: StateDep, tenant: ReadTenant
) -> DeadLetterPage:
    return deadletters.page(state.warehouse, Scope.of(tenant), query, _private(state))


@router.get(
    "/deadletters/{dead_letter_id}",
    response_model=DeadLetterItem,
    responses=responses(401, 403, 404, 422, 429, 503),
    summary="One dead letter, with its replays",
    description="As in the list, plus every replay (when, by whom, where it was published). "
    "404 for an id that is not one of your tenant's dead letters.",
    openapi_extra={"responses": {"200": {"content": {"application/json": {"example": EXAMPLE}}}}},
)
def get_dead_letter(
    dead_letter_id: DeadLetterPath, state: StateDep, tenant: ReadTenant
) -> DeadLetterItem:
    try:
        deadletters.parse_id(dead_letter_id)
    except ValueError as exc:
        raise ApiError(422, "invalid_request", str(exc)) from exc
    item = deadletters.get(state.warehouse, Scope.of(tenant), dead_letter_id, _private(state))
    if item is None:
        raise ApiError(404, "not_found", f"no dead letter {dead_letter_id!r}")
    return item


@router.post(
    "/deadletters/replay",
    response_model=ReplayReport,
    responses=responses(401, 403, 404, 422, 429, 503),
    summary="Replay dead letters after a fix (tenant admins)",
    description="Needs the `admin` scope. Publishes each dead letter's stored record again, "
    "byte for byte, to the topic it came from, keyed as producers key it (`tenant:author`): "
    "the worker judges it anew. Give `ids` (all or nothing: 404 `not_found` for an id that is "
    "not yours, 422 `not_replayable` for one that cannot be replayed, with the reason per id; "
    "then nothing is published) or a `filter` (every match not replayed yet, oldest first, at "
    "most `limit`; what cannot be replayed is listed in `refused`). Refused: records kept only "
    "as a digest (`raw_hashed`, privacy mode) or cut to 16 KiB (`raw_truncated`), records that "
    "are still not a valid event (`still_invalid`) or not for that topic (`wrong_topic`), and "
    "dead letters of non-event topics. Idempotent: a dead letter replayed before is reported in "
    "`already_replayed` and not published again unless `force`; the event keeps its id, so the "
    "warehouse keeps one verdict for it either way. `dry_run` checks and reports only. Each "
    "replay is audited (`deadletter.replay`).",
    openapi_extra={
        "requestBody": {
            "content": {
                "application/json": {
                    "examples": {
                        "ids": {
                            "summary": "These dead letters",
                            "value": {"ids": ["events.text:2:1534"]},
                        },
                        "filter": {
                            "summary": "Every processing error since a date",
                            "value": {
                                "filter": {
                                    "reason": ["processing_error"],
                                    "since": "2026-11-21T00:00:00Z",
                                },
                                "dry_run": True,
                            },
                        },
                    }
                }
            }
        },
        "responses": {"200": {"content": {"application/json": {"example": EXAMPLE_REPORT}}}},
    },
)
async def replay_dead_letters(
    body: ReplayRequest, state: StateDep, principal: TenantAdmin, ctx: ContextDep
) -> ReplayReport:
    outcome, result = await replay.run(
        state.warehouse, state.publisher, Scope.of(principal.tenant), body,
        actor=principal.actor, lock=state.replay_lock,
    )  # fmt: skip
    await asyncio.to_thread(
        replay.audit, state.accounts, ctx, principal.actor, outcome, force=body.force
    )
    return result
