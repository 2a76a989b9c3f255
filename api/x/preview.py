"""A preview: poll one X account now, as the poller would, and summarise the verdicts of what
it published once they arrive (or `wait` runs out)."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from typing import Any

from starlette.concurrency import run_in_threadpool

from api.accounts import service
from api.accounts.service import Context, Principal
from api.rollups import HARMFUL
from api.state import AppState
from api.x.connect import audit, configured
from api.x.models import LabelCount, PreviewSummary
from infra.errors import Conflict, NotFound, RateLimited, UpstreamFailed
from infra.settings import Settings
from infra.warehouse import Warehouse
from infra.x import TokenCipher, XAccounts, XAuthError, XClient, XError, XPoll, XRateLimited
from infra.x.poll import PollResult


async def preview(
    state: AppState,
    settings: Settings,
    principal: Principal,
    account_id: int,
    wait: float,
    ctx: Context,
) -> PreviewSummary:
    store = XAccounts(state.accounts)
    account = await run_in_threadpool(store.get, account_id, principal.tenant)
    if account is None:
        raise NotFound("not_found", f"no X account {account_id}")
    configured(settings)
    if account.status != "active":
        raise Conflict("x_reauthorize", "X refused this account's tokens: connect it again")
    cipher = TokenCipher.from_settings(settings.x, settings.development_secret)
    try:
        async with XClient(settings.x) as client:
            poll = XPoll(settings.x, store, client, state.publisher, cipher)
            result = await poll.poll(account_id, max_wait=0)
    except XRateLimited as exc:
        retry = max(1, int(exc.retry_at - time.time()) + 1)
        raise RateLimited(
            "x_rate_limited", f"X's rate limit is spent; try again in {retry}s", retry_after=retry
        ) from exc
    except XAuthError as exc:
        raise Conflict("x_reauthorize", f"{exc}: connect the account again") from exc
    except XError as exc:
        raise UpstreamFailed("x_unavailable", f"X did not answer as expected: {exc}") from exc
    verdicts = await _wait_for_verdicts(state.warehouse, principal.tenant, result.event_ids, wait)
    summary = _summary(account_id, result, verdicts)
    await run_in_threadpool(
        audit, state.accounts, ctx, principal.tenant, principal.actor, "x.preview",
        f"x:{account.x_user_id}",
        detail=service.audit_json(fetched=summary.fetched, new=summary.new, judged=summary.judged),
    )  # fmt: skip
    return summary


def _summary(account_id: int, result: PollResult, verdicts: list[dict[str, Any]]) -> PreviewSummary:
    labels: Counter[str] = Counter(
        label for v in verdicts for label, score in v["scores"].items() if score >= HARMFUL
    )
    return PreviewSummary(
        account_id=account_id,
        fetched=result.fetched,
        new=result.new,
        pages=result.pages,
        truncated=result.truncated,
        judged=len(verdicts),
        pending=result.new - len(verdicts),
        decisions=dict(Counter(v["decision"] for v in verdicts)),
        top_labels=[LabelCount(label=k, items=n) for k, n in labels.most_common(10)],
        event_ids=result.event_ids,
    )


async def _wait_for_verdicts(
    warehouse: Warehouse, tenant: str, event_ids: list[str], wait: float
) -> list[dict[str, Any]]:
    """The verdicts of `event_ids` in the warehouse, polled until all are there or `wait` ends."""
    deadline = time.monotonic() + wait
    found: list[dict[str, Any]] = []
    while event_ids:
        found = await run_in_threadpool(
            warehouse.rows,
            "SELECT event_id, decision, scores FROM verdicts FINAL "
            "WHERE tenant = {tenant:String} AND event_id IN {ids:Array(String)}",
            {"tenant": tenant, "ids": event_ids},
        )
        if len(found) >= len(event_ids) or time.monotonic() >= deadline:
            break
        await asyncio.sleep(0.25)
    return found
