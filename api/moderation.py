"""Synchronous moderation below the routes: `POST /v1/moderate`, Perspective's
`comments:analyze` and OpenAI's `/v1/moderations` all come here (the compatible routes through
`tenant_of_key` and `moderate_all`, and only word the outcome in their vendor's shapes).

The API may not load models (`api/` does not import `streams/`), so the judge is the `/moderate`
route of the assist service (`modstream assist`, loopback, shared secret): it runs the worker's
pipeline code, the tenant's policy and rules included, and answers the verdict
(`streams/moderate.py`). This module then publishes the event on `events.judged` (stored, never
judged again), the verdict on `verdicts.text` (the sink, strikes, review queues, webhooks and the
live feed take it like a worker's) and its shadow rules' records on `rules.shadow`, and answers
only once the broker has acknowledged them, all within the deadline.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from hashlib import blake2b

import httpx
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from api.compat import MISSING_KEY
from api.deps import principal_for
from api.errors import ApiError
from api.state import AppState
from infra.errors import AccountsError, BrokerError, Forbidden, Unauthenticated
from infra.rules.shadow import shadow_records
from schemas.events import Post, PostEvent
from schemas.moderate import ModerateAnswer, ModerateQuery, ModerateRequest, ModerateResponse
from schemas.topics import (
    EVENTS_JUDGED,
    HASH_ONLY,
    HASH_ONLY_HEADER,
    RULES_SHADOW,
    VERDICTS_TEXT,
)

log = logging.getLogger(__name__)

REQUEST_POLICY = "request:"  # the judge's prefix for a verdict decided by request thresholds
UNAVAILABLE = "the judge (`modstream assist`) is not running or failed"
UNAVAILABLE_STORE = "The service is unavailable."


@dataclass(frozen=True, slots=True)
class Moderated:
    """What a route makes its answer from."""

    response: ModerateResponse
    answer: ModerateAnswer


def event_for(tenant: str, body: ModerateRequest, now: datetime | None = None) -> PostEvent:
    """The item as an event. With an id, the event id follows from it (a retry is the same
    event); without, each request is a new item."""
    if body.id is not None:
        h = blake2b(f"{tenant}\x1f{body.source}\x1f{body.id}".encode(), digest_size=12)
        event_id, item_id = f"{body.source}-{h.hexdigest()}", body.id
    else:
        event_id = item_id = f"{body.source}-{uuid.uuid4().hex}"
    payload = Post(
        external_id=item_id, author=body.author, text=body.text, lang=body.lang,
        context=body.context,
    )  # fmt: skip
    return PostEvent(
        event_id=event_id, tenant=tenant, source=body.source,
        occurred_at=now or datetime.now(UTC), payload=payload,
    )  # fmt: skip


async def moderate(
    state: AppState,
    judge: httpx.AsyncClient,
    tenant: str,
    body: ModerateRequest,
    *,
    deadline: float,
    sentences: bool = False,
    accept: Callable[[ModerateAnswer], None] | None = None,
) -> Moderated:
    """Judge (`judge`: the connection pool to the assist service), publish, answer.

    `ApiError` 504 past `deadline` seconds, 409 for an item a worker judged under another event
    id, 503 when the judge or the broker is down. `accept` may refuse the verdict (raise) before
    anything is published, e.g. for an unsupported language."""
    event = event_for(tenant, body)
    query = ModerateQuery(event=event, thresholds=body.thresholds, sentences=sentences)
    try:
        async with asyncio.timeout(deadline):
            answer = await _ask(judge, query, deadline)
            if accept is not None:
                accept(answer)
            await _publish(state, event, answer, hash_only=not body.store)
            if not state.privacy.fresh:  # a read every few seconds, in a thread
                await asyncio.to_thread(state.privacy.refresh)
    except TimeoutError:
        raise ApiError(
            504,
            "deadline_exceeded",
            f"no verdict within {deadline:g} s; retry with the same `id` to get the verdict "
            "once it is made (it is judged once)",
        ) from None
    verdict = answer.verdict
    private = not body.store or state.privacy.is_private(tenant)
    response = ModerateResponse(
        **verdict.model_dump(),
        policy="request" if verdict.policy_version.startswith(REQUEST_POLICY) else "tenant",
        stored="hash" if private else "text",
        replayed=answer.replayed,
    )
    return Moderated(response, answer)


async def tenant_of_key(state: AppState, key: str | None) -> str:
    """The tenant of a compatible route's API key (Perspective's `?key=`, OpenAI's bearer): a
    Modstream API token with the `ingest` scope. Raises `Unauthenticated` (`MISSING_KEY`, or a
    key not known), `RateLimited`, `Forbidden` (no `ingest` scope) or another `Refused`, which
    each route words in its vendor's error shape; `ApiError` 503 when the store is down."""
    if not key:
        raise Unauthenticated(MISSING_KEY, "the request carries no API key")
    try:
        principal = await run_in_threadpool(principal_for, state, key)
    except AccountsError as exc:
        log.error("accounts store: %s", exc)
        raise ApiError(503, "unavailable", UNAVAILABLE_STORE) from exc
    if "ingest" not in principal.scopes:
        raise Forbidden("insufficient_scope", "The API key needs the 'ingest' scope.")
    return principal.tenant


async def moderate_all(
    state: AppState,
    judge: httpx.AsyncClient,
    tenant: str,
    asks: Sequence[ModerateRequest],
    *,
    sentences: bool = False,
    accept: Callable[[ModerateAnswer], None] | None = None,
) -> list[Moderated]:
    """`moderate` for each of a compatible route's texts at once, within the configured
    deadline; a broker or store failure is `ApiError` 503 (the routes word it as their vendor
    does)."""
    deadline = state.settings.moderate.deadline
    try:
        return list(
            await asyncio.gather(
                *[
                    moderate(state, judge, tenant, ask, deadline=deadline, sentences=sentences,
                             accept=accept)
                    for ask in asks
                ]
            )
        )  # fmt: skip
    except (BrokerError, AccountsError) as exc:
        log.error("synchronous moderation: %s", exc)
        raise ApiError(503, "unavailable", UNAVAILABLE_STORE) from exc


async def _ask(judge: httpx.AsyncClient, query: ModerateQuery, timeout: float) -> ModerateAnswer:
    response = await _post(judge, query.model_dump_json(), timeout)
    if response.status_code in (409, 422):
        refusal = response.json()
        raise ApiError(response.status_code, refusal["code"], refusal["message"])
    if response.status_code != 200:
        log.error("judge answered HTTP %d", response.status_code)
        raise ApiError(503, "judge_unavailable", UNAVAILABLE)
    try:
        return ModerateAnswer.model_validate_json(response.content)
    except ValidationError as exc:
        log.error("judge answered an invalid body: %s", exc)
        raise ApiError(503, "judge_unavailable", UNAVAILABLE) from exc


async def _post(judge: httpx.AsyncClient, body: str, timeout: float) -> httpx.Response:
    for attempt in (1, 2):
        try:
            return await judge.post("/moderate", content=body, timeout=timeout)
        except httpx.TimeoutException as exc:
            raise TimeoutError from exc
        except (httpx.ReadError, httpx.RemoteProtocolError) as exc:
            # A keep-alive connection the service closed as it was reused: once more, on a new
            # one (safe: an event is judged once; asking again answers its first verdict).
            if attempt == 2:
                log.warning("judge unreachable: %s", type(exc).__name__)
                raise ApiError(503, "judge_unavailable", UNAVAILABLE) from exc
        except httpx.HTTPError as exc:
            log.warning("judge unreachable: %s", type(exc).__name__)
            raise ApiError(503, "judge_unavailable", UNAVAILABLE) from exc
    raise AssertionError("unreachable")


async def _publish(
    state: AppState, event: PostEvent, answer: ModerateAnswer, *, hash_only: bool
) -> None:
    """The event, its verdict and what its shadow rules would have done (`rules.shadow`, as a
    worker publishes them), all acknowledged. A replayed verdict is published again (the first
    answer may have timed out before it was): the warehouse keeps one row per event id (and per
    shadow rule) and strikes count an event once, so a copy changes nothing."""
    verdict = answer.verdict
    headers = [(HASH_ONLY_HEADER, HASH_ONLY)] if hash_only else None
    shadow = [(s.partition_key, s.model_dump_json().encode()) for s in shadow_records(verdict)]
    await asyncio.gather(
        state.publisher.publish_many(
            EVENTS_JUDGED.name,
            [(event.partition_key, event.model_dump_json().encode())],
            headers,
        ),
        state.publisher.publish_many(
            VERDICTS_TEXT.name,
            [(verdict.partition_key, verdict.model_dump_json().encode())],
            headers,
        ),
        *([state.publisher.publish_many(RULES_SHADOW.name, shadow)] if shadow else []),
    )
