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
from schemas.records import Decision, Verdict
from schemas.strikes import BlockAction, BlockChange, Strike
from schemas.topics import AUTHOR_BLOCKS, AUTHOR_STRIKES, VERDICTS_TEXT
from streams.app import ModstreamApp

log = logging.getLogger(__name__)

AGENT_ACTOR = "strikes"


@dataclass(slots=True)
class StrikeState:
    """One author's state: strikes (verdict event id → item time, epoch seconds), the time
    before which strikes are forgiven (the last unblock), and whether they are blocked."""

    strikes: dict[str, float] = field(default_factory=dict)
    cleared: float = 0.0
    blocked: bool = False

    @classmethod
    def load(cls, doc: Any) -> StrikeState:
        if not isinstance(doc, dict):
            return cls()
        return cls(
            strikes={str(k): float(v) for k, v in dict(doc.get("s", {})).items()},
            cleared=float(doc.get("c", 0.0)),
            blocked=bool(doc.get("b", False)),
        )

    def dump(self) -> dict[str, Any]:
        return {"s": self.strikes, "c": self.cleared, "b": self.blocked}


@dataclass(frozen=True, slots=True)
class Outcome:
    state: StrikeState
    strike: Strike | None = None
    block: BlockChange | None = None


def apply_verdict(
    state: StrikeState, verdict: Verdict, *, limit: int, window: int, now: datetime
) -> Outcome:
    """Count a rejected verdict (once per event id) and block the author at `limit` strikes
    within `window` seconds of item time. Other verdicts change nothing."""
    if verdict.decision != Decision.REJECT:
        return Outcome(state)
    at = verdict.occurred_at.timestamp()
    if at <= state.cleared or verdict.event_id in state.strikes:
        return Outcome(state)  # forgiven by an unblock, or counted already (a replay)
    strikes = dict(state.strikes)
    strikes[verdict.event_id] = at
    newest = max(strikes.values())
    strikes = {k: v for k, v in strikes.items() if v > newest - window}
    new = StrikeState(strikes, state.cleared, state.blocked)
    strike = None
    if verdict.event_id in strikes:  # not older than the window itself
        strike = Strike(
            strike_id=f"strike:{verdict.event_id}",
            tenant=verdict.tenant,
            author=verdict.author,
            verdict_event_id=verdict.event_id,
            source=verdict.source,
            occurred_at=verdict.occurred_at,
            strikes=len(strikes),
            limit=limit,
            window_s=window,
        )
    block = None
    if not state.blocked and len(strikes) >= limit:
        new.blocked = True
        block = BlockChange(
            change_id=f"block:{verdict.tenant}:{verdict.author}:{verdict.event_id}",
            tenant=verdict.tenant,
            author=verdict.author,
            action=BlockAction.BLOCK,
            at=now,
            actor=AGENT_ACTOR,
            strikes=len(strikes),
            reason=f"{len(strikes)} strikes within {window} s (limit {limit})",
        )
    return Outcome(new, strike, block)


def apply_block_change(state: StrikeState, change: BlockChange) -> StrikeState:
    """An unblock forgives every strike of an item sent at or before it; a block is recorded."""
    if change.action == BlockAction.BLOCK:
        return StrikeState(dict(state.strikes), state.cleared, blocked=True)
    cleared = max(state.cleared, change.at.timestamp())
    kept = {k: v for k, v in state.strikes.items() if v > cleared}
    return StrikeState(kept, cleared, blocked=False)


TOPICS = (VERDICTS_TEXT.name, AUTHOR_BLOCKS.name)
"""What the strikes worker's group (`modstream-strikes`) consumes."""


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
                if message.topic == AUTHOR_BLOCKS.name:
                    change = BlockChange.model_validate_json(message.value or b"")
                    if change.actor != AGENT_ACTOR:  # its own blocks are in the state already
                        key = change.partition_key
                        table[key] = apply_block_change(StrikeState.load(table[key]), change).dump()
                    yield None
                    continue
                verdict = Verdict.model_validate_json(message.value or b"")
            except ValidationError as exc:  # the sink dead-letters these; nothing to count
                log.warning("unreadable record on %s@%d: %s", message.topic, message.offset, exc)
                yield None
                continue
            if verdict.decision != Decision.REJECT:
                yield None
                continue
            key = verdict.partition_key
            outcome = apply_verdict(
                StrikeState.load(table[key]), verdict, limit=limit, window=window,
                now=datetime.now(UTC),
            )  # fmt: skip
            if outcome.strike is not None:
                await publish(app, AUTHOR_STRIKES.name, key, outcome.strike.model_dump_json())
            if outcome.block is not None:
                await publish(app, AUTHOR_BLOCKS.name, key, outcome.block.model_dump_json())
                log.info("blocked %s after %d strikes", key, outcome.block.strikes)
            if outcome.strike is not None or outcome.block is not None:
                table[key] = outcome.state.dump()
            yield None


async def publish(app: ModstreamApp, topic: str, key: str, value: str) -> None:
    """Delivered before the event is acknowledged."""
    await (await app.produce(topic, key, value))
