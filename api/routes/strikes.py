"""Strikes and blocks of one author: the strike report, the can-chat check, lifting a block.

Whether an author is blocked comes from the process's `BlockList` (the `authors.blocks` topic,
replayed and followed); the strike report reads the `strikes` and `author_blocks` tables.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Body, Path
from pydantic import AwareDatetime, BaseModel, Field

from api.accounts import service
from api.deps import ContextDep, Moderator, ReadTenant, StateDep
from api.errors import ApiError, responses
from api.state import AppState
from schemas.strikes import BlockAction, BlockChange
from schemas.topics import AUTHOR_BLOCKS

router = APIRouter(prefix="/v1", tags=["strikes"])

AuthorId = Annotated[str, Path(min_length=1, max_length=256, examples=["user-42"])]


class StrikeItem(BaseModel):
    verdict_event_id: str
    source: str
    occurred_at: AwareDatetime


class BlockInfo(BaseModel):
    action: BlockAction
    at: AwareDatetime
    actor: str
    strikes: int
    reason: str


class StrikeReport(BaseModel):
    author: str
    strikes: int = Field(description="Strikes in the window since the last unblock.")
    limit: int
    window_s: int
    blocked: bool
    block: BlockInfo | None = Field(description="The latest block or unblock, if any.")
    recent: list[StrikeItem] = Field(description="The counted strikes, newest first (≤ 100).")


class CanChat(BaseModel):
    author: str
    can_chat: bool
    can_post: bool
    blocked_since: AwareDatetime | None = None
    reason: str | None = None


class Unblock(BaseModel):
    reason: str = Field(default="", max_length=1_000)


def _info(change: BlockChange | None) -> BlockInfo | None:
    if change is None:
        return None
    return BlockInfo(
        action=change.action, at=change.at, actor=change.actor, strikes=change.strikes,
        reason=change.reason,
    )  # fmt: skip


def _blocks(state: AppState) -> Any:
    if state.blocks is None:
        raise ApiError(503, "unavailable", "the block list is not running")
    return state.blocks


@router.get(
    "/authors/{author}/strikes",
    response_model=StrikeReport,
    responses=responses(422, 503),
    summary="An author's strikes and block state",
    description="Strikes are rejected items and reviewers' removals, counted by the strikes "
    "worker (once each; an approval or an overturned removal takes one back), within "
    "`MODSTREAM_STRIKE_WINDOW` seconds of item time and after the last unblock; at "
    "`MODSTREAM_STRIKE_LIMIT` the author is blocked until a moderator lifts it.",
)
def strike_report(author: AuthorId, state: StateDep, tenant: ReadTenant) -> StrikeReport:
    strikes = state.settings.strikes
    latest = _blocks(state).latest(tenant, author)
    since = datetime.now(UTC) - timedelta(seconds=strikes.window)
    if latest is not None and latest.action == BlockAction.UNBLOCK and latest.at > since:
        since = latest.at
    rows = state.warehouse.rows(
        "SELECT verdict_event_id, source, occurred_at FROM strikes FINAL "
        "WHERE tenant = {tenant:String} AND author = {author:String} "
        "AND occurred_at > {since:DateTime64(3, 'UTC')} AND NOT revoked ORDER BY occurred_at DESC",
        {"tenant": tenant, "author": author, "since": since},
    )
    recent = [
        StrikeItem(
            verdict_event_id=r["verdict_event_id"], source=r["source"],
            occurred_at=r["occurred_at"].replace(tzinfo=UTC),
        )
        for r in rows[:100]
    ]  # fmt: skip
    return StrikeReport(
        author=author, strikes=len(rows), limit=strikes.limit,
        window_s=strikes.window, blocked=_blocks(state).blocked(tenant, author) is not None,
        block=_info(latest), recent=recent,
    )  # fmt: skip


@router.get(
    "/authors/{author}/can-chat",
    response_model=CanChat,
    responses=responses(422, 503),
    summary="Whether an author may chat and post",
    description="False once the strikes worker blocked the author, until a moderator unblocks.",
)
def can_chat(author: AuthorId, state: StateDep, tenant: ReadTenant) -> CanChat:
    block = _blocks(state).blocked(tenant, author)
    return CanChat(
        author=author, can_chat=block is None, can_post=block is None,
        blocked_since=block.at if block else None, reason=block.reason if block else None,
    )  # fmt: skip


@router.post(
    "/authors/{author}/unblock",
    response_model=CanChat,
    responses=responses(401, 403, 422, 503),
    summary="Lift an author's block (moderators)",
    description="Needs the `moderate` scope. Publishes an unblock on `authors.blocks`: the "
    "author may chat and post at once, and strikes of items sent before now are forgiven. "
    "Audited (`author.unblock`). Unblocking an author who is not blocked changes nothing.",
)
async def unblock(
    author: AuthorId,
    state: StateDep,
    principal: Moderator,
    ctx: ContextDep,
    body: Annotated[Unblock | None, Body()] = None,
) -> CanChat:
    blocks = _blocks(state)
    tenant = principal.tenant
    if blocks.blocked(tenant, author) is not None:
        now = datetime.now(UTC)
        change = BlockChange(
            change_id=f"unblock:{tenant}:{author}:{now.timestamp():.6f}",
            tenant=tenant, author=author, action=BlockAction.UNBLOCK, at=now,
            actor=principal.actor, reason=body.reason if body else "",
        )  # fmt: skip
        await state.publisher.publish_many(
            AUTHOR_BLOCKS.name, [(change.partition_key, change.model_dump_json().encode())]
        )
        blocks.apply(change)
        with state.accounts.session() as session:
            service.audit(
                session, ctx, tenant, principal.actor, "author.unblock", target=f"author:{author}",
                detail=service.audit_json(reason=change.reason),
            )  # fmt: skip
    return CanChat(author=author, can_chat=True, can_post=True)
