"""Strikes: count each author's rejected verdicts per tenant over a window; block past the limit.

The logic (`StrikeState`, `apply_verdict`, `apply_block_change`) is plain Python over a JSON-able
state per `tenant:author`; `register` wires it to Faust: one agent reads `verdicts.text` and
`authors.blocks` (both keyed `tenant:author`, four partitions: co-partitioned), keeps the state
in a changelog-backed table, and publishes `authors.strikes` and `authors.blocks`.

Why the counts survive a SIGKILL (the argument the tests check on the real broker):
1. Every state change is a table write, i.e. a changelog record carrying the key's *whole*
   state. Faust flushes the producer (changelog included, acks=all) before it commits the source
   offsets, so a committed verdict's effect is in the changelog; what was not committed is read
   again after a restart.
2. Reading a verdict again changes nothing: a strike is a set entry keyed by the verdict's
   event id, and what is published carries ids derived from it (`strike:<event id>`,
   `block:<tenant>:<author>:<event id>`), so a republished record replaces its first copy.
3. Recovery replays the changelog to its end offset, taken from Fetch responses
   (`infra.kafka.end_offsets`): the embedded broker's ListOffsets answer is too small, which
   would end recovery early and forget strikes after a restart.
4. The order of a verdict and an unblock (two topics) does not matter: an unblock at time T
   forgets every strike of an item sent at or before T, whichever is read first; the window is
   in item time (`occurred_at`), not in processing time. So a replay gives the same state.

Reviewers' decisions (`moderation.actions`, also keyed `tenant:author`) change the count: a
removal is a strike (the same id as the verdict's, so a rejected item removed again counts once);
an approval or an overturned removal takes it back (a `revoked` copy of the strike record) and
remembers the item as *forgiven*, so a verdict read again later does not count it anew. A later
removal of the same item (an appeal upheld after all) counts it again.

A live rule's `block_author` action (docs/rules.md) blocks the author at once, with the same
block record, topic and policy as the limit: it stays until a moderator lifts it, its reason
names the rule, and it is idempotent the same way (an author blocked already, or an item sent
before the last unblock, blocks nothing). Shadow rules' actions are never carried out.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from infra import metrics
from infra.logging import heartbeat
from infra.settings import StrikeSettings
from schemas.moderate import ANONYMOUS
from schemas.moderation import Effect, ModerationAction
from schemas.records import Decision, FiredRule, Verdict
from schemas.strikes import BlockAction, BlockChange, Strike
from schemas.topics import (
    AUTHOR_BLOCKS,
    AUTHOR_STRIKES,
    MODERATION_ACTIONS,
    READERS,
    STRIKES_GROUP,
    VERDICTS_TEXT,
)
from streams.app import ModstreamApp

log = logging.getLogger(__name__)

AGENT_ACTOR = "strikes"


@dataclass(slots=True)
class StrikeState:
    """One author's state: strikes (item event id → item time, epoch seconds), the time
    before which strikes are forgiven (the last unblock), whether they are blocked, and the
    items reviewers forgave (event id → item time; pruned with the window)."""

    strikes: dict[str, float] = field(default_factory=dict)
    cleared: float = 0.0
    blocked: bool = False
    forgiven: dict[str, float] = field(default_factory=dict)

    @classmethod
    def load(cls, doc: Any) -> StrikeState:
        if not isinstance(doc, dict):
            return cls()
        return cls(
            strikes={str(k): float(v) for k, v in dict(doc.get("s", {})).items()},
            cleared=float(doc.get("c", 0.0)),
            blocked=bool(doc.get("b", False)),
            forgiven={str(k): float(v) for k, v in dict(doc.get("f", {})).items()},
        )

    def dump(self) -> dict[str, Any]:
        return {"s": self.strikes, "c": self.cleared, "b": self.blocked, "f": self.forgiven}

    def copy(self) -> StrikeState:
        return StrikeState(dict(self.strikes), self.cleared, self.blocked, dict(self.forgiven))


@dataclass(frozen=True, slots=True)
class Outcome:
    state: StrikeState
    strike: Strike | None = None
    block: BlockChange | None = None


def apply_verdict(
    state: StrikeState, verdict: Verdict, *, limit: int, window: int, now: datetime
) -> Outcome:
    """Count a rejected verdict (once per event id) and block the author at `limit` strikes
    within `window` seconds of item time, or at once when a live rule fired `block_author`.
    Other verdicts change nothing, nor does an item with no named author (`anonymous`, the
    synchronous routes' default): it would count against, or block, everyone."""
    if verdict.author == ANONYMOUS or verdict.event_id in state.forgiven:
        return Outcome(state)
    item = _Item.of(verdict)
    counted = Outcome(state)
    if verdict.decision == Decision.REJECT:
        counted = _count(state, item, limit=limit, window=window, now=now)
    rule = blocking_rule(verdict)
    if rule is None or state.blocked or item.occurred_at.timestamp() <= state.cleared:
        return counted  # no rule block, blocked already, or forgiven by a later unblock
    new = counted.state if counted.state is not state else state.copy()
    new.blocked = True
    block = item.block(
        len(new.strikes), now, f"rule '{rule.rule}' (version {rule.version}): block_author"
    )
    return Outcome(new, counted.strike, block)


def blocking_rule(verdict: Verdict) -> FiredRule | None:
    """The first live rule that fired `block_author` on this verdict; shadow rules never count."""
    if verdict.rules is None:
        return None
    for fired in verdict.rules.fired:
        if any(action.kind == "block_author" for action in fired.actions):
            return fired
    return None


@dataclass(frozen=True, slots=True)
class _Item:
    """What a strike needs of a verdict or an action."""

    tenant: str
    author: str
    event_id: str
    source: str
    occurred_at: datetime

    @classmethod
    def of(cls, record: Verdict | ModerationAction) -> _Item:
        return cls(record.tenant, record.author, record.event_id, record.source, record.occurred_at)

    def strike(self, strikes: int, limit: int, window: int, revoked: bool = False) -> Strike:
        return Strike(
            strike_id=f"strike:{self.event_id}", tenant=self.tenant, author=self.author,
            verdict_event_id=self.event_id, source=self.source, occurred_at=self.occurred_at,
            strikes=max(strikes, 1), limit=limit, window_s=window, revoked=revoked,
        )  # fmt: skip

    def block(self, strikes: int, now: datetime, reason: str) -> BlockChange:
        """The block this item brings; its id derives from the item, so a replay replaces it."""
        return BlockChange(
            change_id=f"block:{self.tenant}:{self.author}:{self.event_id}", tenant=self.tenant,
            author=self.author, action=BlockAction.BLOCK, at=now, actor=AGENT_ACTOR,
            strikes=strikes, reason=reason,
        )  # fmt: skip


def _count(state: StrikeState, item: _Item, *, limit: int, window: int, now: datetime) -> Outcome:
    at = item.occurred_at.timestamp()
    if at <= state.cleared or item.event_id in state.strikes:
        return Outcome(state)  # forgiven by an unblock, or counted already (a replay)
    new = state.copy()
    new.strikes[item.event_id] = at
    newest = max(new.strikes.values())
    new.strikes = {k: v for k, v in new.strikes.items() if v > newest - window}
    new.forgiven = {k: v for k, v in new.forgiven.items() if v > newest - window}
    strike = None
    if item.event_id in new.strikes:  # not older than the window itself
        strike = item.strike(len(new.strikes), limit, window)
    block = None
    if not state.blocked and len(new.strikes) >= limit:
        new.blocked = True
        reason = f"{len(new.strikes)} strikes within {window} s (limit {limit})"
        block = item.block(len(new.strikes), now, reason)
    return Outcome(new, strike, block)


def apply_action(
    state: StrikeState, action: ModerationAction, *, limit: int, window: int, now: datetime
) -> Outcome:
    """A reviewer's removal counts as a strike; an approval or an overturn takes one back (a
    block already in force stays until a moderator lifts it). Other actions change nothing."""
    item = _Item.of(action)
    if action.effect == Effect.REMOVED:
        state = state.copy()
        state.forgiven.pop(item.event_id, None)
        return _count(state, item, limit=limit, window=window, now=now)
    if action.effect != Effect.VISIBLE:
        return Outcome(state)
    new = state.copy()
    new.forgiven[item.event_id] = item.occurred_at.timestamp()
    if new.strikes.pop(item.event_id, None) is None:
        return Outcome(new)
    return Outcome(new, item.strike(len(new.strikes), limit, window, revoked=True))


def apply_block_change(state: StrikeState, change: BlockChange) -> StrikeState:
    """An unblock forgives every strike of an item sent at or before it; a block is recorded."""
    if change.action == BlockAction.BLOCK:
        new = state.copy()
        new.blocked = True
        return new
    cleared = max(state.cleared, change.at.timestamp())
    kept = {k: v for k, v in state.strikes.items() if v > cleared}
    return StrikeState(kept, cleared, False, dict(state.forgiven))


def outcome_of(
    table: Any, topic: str, value: bytes, *, limit: int, window: int
) -> tuple[str, StrikeState, Outcome] | None:
    """The key and the state (from `table`) before and after one record of `topic`, or None if
    it changes nothing."""
    if topic == AUTHOR_BLOCKS.name:
        change = BlockChange.model_validate_json(value)
        if change.actor == AGENT_ACTOR:  # its own blocks are in the state already
            return None
        key = change.partition_key
        before = StrikeState.load(table[key])
        return key, before, Outcome(apply_block_change(before, change))
    now = datetime.now(UTC)
    if topic == MODERATION_ACTIONS.name:
        action = ModerationAction.model_validate_json(value)
        key = action.partition_key
        before = StrikeState.load(table[key])
        return key, before, apply_action(before, action, limit=limit, window=window, now=now)
    verdict = Verdict.model_validate_json(value)
    if verdict.decision != Decision.REJECT and blocking_rule(verdict) is None:
        return None
    key = verdict.partition_key
    before = StrikeState.load(table[key])
    return key, before, apply_verdict(before, verdict, limit=limit, window=window, now=now)


TOPICS = READERS[STRIKES_GROUP]
"""What the strikes worker's group consumes: verdicts.text, authors.blocks, moderation.actions."""


def register(
    app: ModstreamApp, settings: StrikeSettings, heartbeat_file: Path | None = None
) -> None:
    """Attach the strikes agent and its table to `app` (the strikes worker's own app)."""
    source = app.topic(*TOPICS, value_serializer="raw", key_serializer="raw")
    table = app.Table("strikes", default=dict, partitions=VERDICTS_TEXT.partitions)
    limit, window = settings.limit, settings.window

    @app.task  # type: ignore[untyped-decorator]
    async def beat() -> None:
        await heartbeat(heartbeat_file)

    @app.agent(source, name="strikes")
    async def count_strikes(stream: Any) -> AsyncIterator[None]:
        async for event in stream.events():
            message = event.message
            metrics.EVENTS_IN.labels(message.topic).inc()
            try:
                found = outcome_of(
                    table, message.topic, message.value or b"", limit=limit, window=window
                )
            except ValidationError as exc:  # the sink dead-letters these; nothing to count
                log.warning("unreadable record on %s@%d: %s", message.topic, message.offset, exc)
                found = None
            if found is not None:
                key, before, outcome = found
                if outcome.strike is not None:
                    await publish(app, AUTHOR_STRIKES.name, key, outcome.strike.model_dump_json())
                if outcome.block is not None:
                    await publish(app, AUTHOR_BLOCKS.name, key, outcome.block.model_dump_json())
                    log.info("blocked %s: %s", key, outcome.block.reason)
                if outcome.state is not before:
                    table[key] = outcome.state.dump()
            yield None


async def publish(app: ModstreamApp, topic: str, key: str, value: str) -> None:
    """Delivered before the event is acknowledged."""
    await (await app.produce(topic, key, value))
