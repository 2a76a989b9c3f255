"""Posts and comments for apps without a backend of their own: create a post, comment on it (or
on a comment), read the thread as a reader gets it.

Posts and comments are `post` events published onto `events.text` like any producer's, judged by
the workers, stored by the sink; the thread is read back from the warehouse. A rejected item is
withheld, masked or shown flagged per the tenant's mode (`MODSTREAM_POSTS_MODE(S)`), by the same
rule as chat (`infra.delivery`).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from starlette.concurrency import run_in_threadpool

from api import durations
from api.accounts.service import Principal
from api.deps import CurrentPrincipal, ItemReader, StateDep, check_scope
from api.errors import ApiError, responses
from api.feed.hub import FeedClosed, FeedFilter, Subscription
from api.read import cursor as cursors
from api.read import threads
from api.read.threads import Stored, Thread, ThreadItem
from api.review import grants
from api.routes.events import refuse_blocked
from api.state import AppState
from infra.delivery import Mode
from schemas.events import MAX_TEXT_CHARS, Identifier, LangCode, Post, PostEvent
from schemas.records import Verdict
from schemas.topics import topic_for_kind

router = APIRouter(prefix="/v1", tags=["posts"])

POST_SOURCE = "posts"
COMMENT_SOURCE = "comments"
_ID_PREFIX = {POST_SOURCE: "post", COMMENT_SOURCE: "comment"}
MAX_WAIT_S = durations.MAX_S
ANSWER_MARGIN_S = 0.1
"""Kept from `wait` to build and send the answer, so it arrives within `wait`."""
CONTEXT_DEPTH = 5
"""Ancestors' texts a comment carries to inform its verdict (parent first)…"""
CONTEXT_CHARS = 1_000
"""…each cut to this many characters, so a deep thread keeps events small."""

ItemId = Annotated[
    str,
    Path(min_length=1, max_length=256, pattern=r"^\S+$", examples=["post-5f0c9a4e…"]),
]
WaitParam = Annotated[
    str | None,
    Query(
        max_length=12,
        json_schema_extra={"pattern": durations.NON_NEGATIVE},
        description="Wait up to this long for the verdict (`2s`, `500ms`, or seconds; at most "
        f"{MAX_WAIT_S:.0f}s): 201 with it if it came in time, else 202 pending.",
        examples=["2s"],
    ),
]

EXAMPLE_ITEM: dict[str, Any] = {
    "id": "comment-9b2e41d07c3a4f55", "post_id": "post-5f0c9a4e2b7d4c19",
    "parent_id": "post-5f0c9a4e2b7d4c19", "author": "ana@example.com",
    "created_at": "2026-11-21T09:31:00Z", "lang": "en", "status": "masked",
    "text": "you are a ****** *****", "flagged": False, "masked": True,
    "verdict": {
        "event_id": "comment-9b2e41d07c3a4f55", "decision": "reject", "toxic": 0.94,
        "scores": {"toxic": 0.94, "insult": 0.9}, "spans": [[10, 22]], "lang": "en",
    },
}  # fmt: skip
EXAMPLE_POST: dict[str, Any] = EXAMPLE_ITEM | {
    "id": "post-5f0c9a4e2b7d4c19", "parent_id": None, "created_at": "2026-11-21T09:30:00Z",
    "author": "li@example.com", "status": "delivered", "text": "What a match last night!",
    "masked": False,
    "verdict": {
        "event_id": "post-5f0c9a4e2b7d4c19", "decision": "approve", "toxic": 0.02,
        "scores": {"toxic": 0.02}, "spans": [], "lang": "en",
    },
}  # fmt: skip


class NewItem(BaseModel):
    """A post or a comment to publish."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"text": "What a match last night!", "lang": "en"}]},
    )

    text: str = Field(min_length=1, max_length=MAX_TEXT_CHARS)
    lang: LangCode | None = Field(default=None, description="ISO 639 code, if the app knows it.")
    author: Identifier | None = Field(
        default=None,
        description="With an API token (scope `ingest`): the author the app posts for; without "
        "one, the app itself (`token:<id>`). A signed-in user always posts as themselves (their "
        "email); another author is refused.",
    )

    @field_validator("text")
    @classmethod
    def _not_blank(cls, text: str) -> str:
        if not text.strip():
            raise ValueError("the text is blank")
        return text


def _wait_seconds(wait: str | None) -> float:
    if wait is None:
        return 0.0
    seconds = durations.seconds(wait, durations.NON_NEGATIVE)
    if seconds is None:
        raise ApiError(
            422, "invalid_wait", f"wait is a duration like 2s or 500ms, at most {MAX_WAIT_S:.0f}s"
        )
    return seconds


def _author(principal: Principal, given: str | None) -> str:
    """Who the item is by: the signed-in user, or the author an ingest token names."""
    if principal.is_session:
        if principal.email is None or (given is not None and given != principal.email):
            raise ApiError(403, "author_mismatch", "a signed-in user posts as themselves")
        return principal.email
    check_scope(principal, "ingest")
    return principal.actor if given is None else given  # the app itself: `token:<id>`


def _mode(state: AppState, tenant: str) -> Mode:
    return state.settings.posts.modes.get(tenant, state.settings.posts.mode)


async def _verdict_of(sub: Subscription, event_id: str, deadline: float) -> Verdict | None:
    """The verdict of `event_id` from the live feed, if it comes by `deadline` (monotonic)."""
    needle = f'"{event_id}"'.encode()
    while (left := deadline - time.monotonic()) > 0:
        try:
            delivery = await asyncio.wait_for(sub.next(), left)
        except (TimeoutError, FeedClosed):
            return None
        if needle not in delivery.value:
            continue
        try:
            verdict = Verdict.model_validate_json(delivery.value)
        except ValidationError:
            continue
        if verdict.event_id == event_id:
            return verdict
    return None


async def _publish(
    state: AppState, event: PostEvent, wait: float, response: Response
) -> ThreadItem:
    """Publish like any producer (403 if the author is blocked), optionally await the verdict,
    and answer with the item as its author gets it. `wait` bounds the whole answer, publishing
    included: a client waiting `wait` (a 10 s timeout for `?wait=10s`) gets it in time."""
    deadline = time.monotonic() + max(0.0, wait - ANSWER_MARGIN_S)
    refuse_blocked(state, [event])
    sub = None
    if wait and state.feed is not None:  # subscribed before publishing: the verdict can't slip by
        sub = await state.feed.subscribe(FeedFilter(event.tenant, frozenset({event.source})))
    try:
        await state.publisher.publish_many(
            topic_for_kind(event.kind).name,
            [(event.partition_key, event.model_dump_json().encode())],
        )
        verdict = await _verdict_of(sub, event.event_id, deadline) if sub else None
    finally:
        if sub is not None and state.feed is not None:
            state.feed.unsubscribe(sub)
    p = event.payload
    stored = Stored(
        event_id=event.event_id, author=p.author, occurred_at=event.occurred_at, text=p.text,
        lang=p.lang, parent_id=p.parent_id, thread_id=p.thread_id, context=list(p.context),
    )  # fmt: skip
    response.status_code = status.HTTP_201_CREATED if verdict else status.HTTP_202_ACCEPTED
    return threads.shown(stored, verdict, _mode(state, event.tenant), p.author)


def _event(
    tenant: str, source: str, author: str, body: NewItem, parent: Stored | None,
    context: list[str],
) -> PostEvent:  # fmt: skip
    event_id = f"{_ID_PREFIX[source]}-{uuid.uuid4().hex}"
    payload = Post(
        external_id=event_id, author=author, text=body.text, lang=body.lang,
        parent_id=parent.event_id if parent else None,
        thread_id=parent.post_id if parent else None, context=context,
    )  # fmt: skip
    return PostEvent(
        event_id=event_id, tenant=tenant, source=source, occurred_at=datetime.now(UTC),
        payload=payload,
    )  # fmt: skip


def _parent(state: AppState, tenant: str, item_id: str) -> tuple[Stored | None, list[str]]:
    """The post or comment replied to, waiting a little for one that may not be stored yet, and
    the thread context to judge the reply with (none for a tenant in privacy mode: the event's
    payload is stored, and it must not carry texts)."""
    deadline = time.monotonic() + state.settings.posts.parent_wait
    while (parent := threads.find(state.warehouse, tenant, item_id)) is None:
        if time.monotonic() >= deadline:
            return None, []
        time.sleep(0.1)
    state.privacy.refresh()
    if state.privacy.is_private(tenant):
        return parent, []
    texts = [parent.text, *parent.context][:CONTEXT_DEPTH]
    return parent, [t[:CONTEXT_CHARS] for t in texts if t]


_CREATED: dict[int | str, dict[str, Any]] = {
    201: {"model": ThreadItem, "description": "Published and judged within `wait`.",
          "content": {"application/json": {"example": EXAMPLE_ITEM}}},
    202: {"model": ThreadItem, "description": "Published; the verdict follows (`pending`)."},
}  # fmt: skip
_THREAD_EXAMPLE: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/json": {"example": {
        "post": EXAMPLE_POST, "comments": [EXAMPLE_ITEM], "count": 1, "next": None,
    }}}}
}  # fmt: skip
_WHO = (
    "A signed-in user posts as themselves; an API token needs the `ingest` scope and names the "
    "`author`. An author blocked (for strikes or by a rule) is refused (403 `author_blocked`)."
)


@router.post(
    "/posts",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=ThreadItem,
    responses=_CREATED | responses(401, 403, 422, 503),
    summary="Create a post",
    description=f"Publishes a `post` event (source `posts`) to be judged. {_WHO} The answer is "
    "the post as its author sees it; readers get it through `GET /v1/posts/{post_id}/thread`.",
)
async def create_post(
    body: NewItem,
    response: Response,
    state: StateDep,
    principal: CurrentPrincipal,
    wait: WaitParam = None,
) -> ThreadItem:
    seconds = _wait_seconds(wait)
    event = _event(principal.tenant, POST_SOURCE, _author(principal, body.author), body, None, [])
    return await _publish(state, event, seconds, response)


@router.post(
    "/posts/{post_id}/comments",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=ThreadItem,
    responses=_CREATED | responses(401, 403, 404, 422, 503),
    summary="Comment on a post or reply to a comment",
    description=f"`post_id` is the post, or the comment replied to. Publishes a `post` event "
    "(source `comments`) with `parent_id`, `thread_id` (the post) and the earlier texts of the "
    f"thread as context. {_WHO} 404 if no such post or comment is stored for your tenant "
    "(one created a moment ago is waited for briefly).",
)
async def create_comment(
    post_id: ItemId,
    body: NewItem,
    response: Response,
    state: StateDep,
    principal: CurrentPrincipal,
    wait: WaitParam = None,
) -> ThreadItem:
    seconds = _wait_seconds(wait)
    author = _author(principal, body.author)
    parent, context = await run_in_threadpool(_parent, state, principal.tenant, post_id)
    if parent is None:
        raise ApiError(404, "not_found", f"no post or comment {post_id!r}")
    event = _event(principal.tenant, COMMENT_SOURCE, author, body, parent, context)
    return await _publish(state, event, seconds, response)


@router.get(
    "/posts/{post_id}/thread",
    response_model=Thread,
    responses=responses(400, 401, 403, 404, 422, 503) | _THREAD_EXAMPLE,
    summary="A post and its comments, as a reader gets them",
    description="The post and a page of its comments (replies at any depth), oldest first, "
    "each with its verdict. Pending items (not judged yet) show no text except to their author; "
    "rejected ones are withheld (no text), masked (toxic spans as `*`) or flagged per the "
    "tenant's mode. Needs the `read` scope; a reviewer limited to granted queues reads the "
    "thread of a post in one of them (its comments as context), 403 `item_not_granted` "
    "otherwise. Items appear about a second after they are made.",
)
def get_thread(
    post_id: ItemId,
    state: StateDep,
    principal: ItemReader,
    limit: Annotated[int, Query(ge=1, le=1000, description="Comments per page.")] = 100,
    cursor: Annotated[
        str | None,
        Query(pattern=cursors.PATTERN, description=cursors.DESCRIPTION, examples=[cursors.EXAMPLE]),
    ] = None,
) -> Thread:
    # A sync handler: FastAPI runs it in its thread pool, so chdb never blocks the event loop.
    tenant = principal.tenant
    if principal.queue_limited:  # a reviewer: the post must be in one of its queues
        with state.accounts.session() as session:
            grants.check_item(session, principal, post_id)
    reader = principal.email if principal.is_session else None
    found = threads.thread(
        state.warehouse, tenant, post_id, mode=_mode(state, tenant), reader=reader,
        limit=limit, after=cursor,
    )  # fmt: skip
    if found is None:
        raise ApiError(404, "not_found", f"no post {post_id!r}")
    return found
