"""Replaying dead letters after a fix (`POST /v1/deadletters/replay`, `modstream deadletters
replay`): the stored raw record is published again, byte for byte, to the topic it came from.

What can be replayed: a record of an event topic (`events.text`, `events.media`,
`events.activity`) whose bytes are stored whole, that is an event of the dead letter's tenant
under today's schemas, of a kind that belongs on that topic. So the realistic case is
`processing_error` (judging failed; the bug is fixed since); a `schema_violation` replays only if
the schemas changed so that the record is now valid, and `invalid_json`, `oversized` (always
beyond the 16 KiB kept) and `wrong_topic` never do: they are refused with the reason, since
replaying them would only make the same dead letter again. Refused as well: a record kept only as
a digest (privacy mode) or cut to its first 16 KiB.

The key: a dead letter does not keep its record's Kafka key, so the replay derives it from the
event as every producer does (`event.partition_key`: `tenant:author`, or `tenant:session` for
activity) and the event lands in its author's partition.

Idempotent: the event keeps its `event_id`, and the warehouse keeps one verdict per tenant and
event id (a ReplacingMergeTree read with FINAL), so even a forced replay never makes a second
verdict there; the text worker, too, publishes one verdict per tenant and event id (its ledger,
`streams/dedupe.py`), so a forced replay of an event judged since puts no second verdict on
`verdicts.text` either. Each replay is a row of `dead_letter_replays`; a dead letter replayed
once is reported as `already_replayed` and not published again unless `force`. Within one API
process replays are serialised, so two concurrent requests cannot both replay one dead letter;
a replay from the command line at the same moment could (the warehouse still keeps one verdict).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, Strict, ValidationError, model_validator
from pydantic.json_schema import SkipJsonSchema

from api.accounts import service
from api.accounts.service import Context
from api.read.deadletters import (
    EVENT_TOPICS,
    DeadLetterFilter,
    DeadLetterId,
    Replay,
    Scope,
    Stored,
    find,
    make_id,
    matching,
    replays,
)
from infra.accounts import AccountsDB
from infra.errors import InvalidInput, NotFound
from infra.warehouse import Warehouse
from schemas.events import Event, parse_event
from schemas.records import DeadLetterReason
from schemas.topics import topic_for_kind

MAX_IDS = 1_000
REPLAYS_TABLE = "dead_letter_replays"
REPLAY_COLUMNS = (
    "topic", "partition", "offset", "tenant", "event_id", "replayed_at", "actor", "forced",
    "to_topic", "to_partition", "to_offset",
)  # fmt: skip

RefusalCode = Literal[
    "not_an_event_topic",
    "raw_hashed",
    "raw_truncated",
    "raw_not_original",
    "still_invalid",
    "wrong_topic",
    "tenant_mismatch",
]


class Publishes(Protocol):
    async def publish_many(
        self, topic: str, records: Sequence[tuple[str | None, bytes]]
    ) -> list[tuple[int, int]]: ...


class ReplayRequest(BaseModel):
    """Which dead letters to replay: `ids`, or a `filter` (exactly one; the schema's `oneOf`
    says so, and neither may be null)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"oneOf": [{"required": ["ids"]}, {"required": ["filter"]}]},
    )

    ids: (
        Annotated[list[DeadLetterId], Field(min_length=1, max_length=MAX_IDS)]
        | SkipJsonSchema[None]
    ) = Field(
        default=None,
        description="These dead letters, all or nothing: an unknown id is a 404 and one that "
        "cannot be replayed a 422, and then none is replayed.",
    )
    filter: DeadLetterFilter | SkipJsonSchema[None] = Field(
        default=None,
        description="Every matching dead letter not replayed yet (unless `force`), oldest first, "
        "at most `limit`; those that cannot be replayed are reported in `refused`.",
    )
    force: Annotated[bool, Strict()] = Field(
        default=False, description="Replay even what was replayed before."
    )
    dry_run: Annotated[bool, Strict()] = Field(
        default=False, description="Check and report; publish nothing."
    )
    limit: int = Field(
        default=MAX_IDS, ge=1, le=MAX_IDS, description="With `filter`: at most this many."
    )

    @model_validator(mode="after")
    def _one_selection(self) -> ReplayRequest:
        given = {"ids", "filter"} & self.model_fields_set
        if len(given) != 1 or (self.ids is None and self.filter is None):
            raise ValueError("give either `ids` or `filter` (not both, not null)")
        return self


class Refusal(BaseModel):
    id: str
    code: RefusalCode
    message: str


class Replayed(BaseModel):
    id: str = Field(description="The dead letter.")
    event_id: str
    reason: DeadLetterReason = Field(description="Why it was dead-lettered.")
    key: str = Field(description="The Kafka key it was published with (derived from the event).")
    to: str | None = Field(
        description="`topic:partition:offset` where it was published (null on a dry run)."
    )


class AlreadyReplayed(BaseModel):
    id: str
    event_id: str
    replays: list[Replay]


class ReplayReport(BaseModel):
    dry_run: bool
    replayed: list[Replayed] = Field(
        description="Published again (on a dry run: would be). Their verdicts follow."
    )
    already_replayed: list[AlreadyReplayed] = Field(
        description="Replayed before, so not published again (`force` would)."
    )
    refused: list[Refusal] = Field(description="What cannot be replayed, and why.")
    incomplete: int = Field(
        default=0,
        description="With `filter`: matching dead letters left out because their record is "
        "not stored whole (a digest in privacy mode, the first 16 KiB, or text that was not "
        "UTF-8).",
    )
    more: bool = Field(
        default=False, description="With `filter`: more match than `limit`; call again."
    )


@dataclass(frozen=True, slots=True)
class Planned:
    letter: Stored
    event: Event

    @property
    def key(self) -> str:
        return self.event.partition_key


def check(letter: Stored) -> Planned | Refusal:
    """Whether `letter` can be replayed as it is stored, under today's schemas."""

    def refuse(code: RefusalCode, message: str) -> Refusal:
        return Refusal(id=letter.id, code=code, message=f"{letter.id}: {message}")

    if letter.topic not in EVENT_TOPICS:
        return refuse(
            "not_an_event_topic",
            f"{letter.topic} carries Modstream's own records, not events; only dead letters "
            f"of {', '.join(EVENT_TOPICS)} are replayed",
        )
    if letter.hashed:
        return refuse(
            "raw_hashed",
            "only a SHA-256 of the record was stored (privacy mode), not the record; its "
            "producer must send the event again",
        )
    stored = letter.stored_bytes
    if stored < letter.raw_size:
        return refuse(
            "raw_truncated",
            f"only the first {stored} of its {letter.raw_size} bytes were kept; its producer "
            "must send the event again",
        )
    if stored != letter.raw_size or (
        letter.reason is DeadLetterReason.INVALID_JSON and "\ufffd" in letter.raw
    ):
        return refuse(
            "raw_not_original",
            "the record was not valid UTF-8, so the stored text is not its bytes",
        )
    try:
        event = parse_event(letter.raw)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False)
        detail = "; ".join(f"{'.'.join(map(str, e['loc'])) or '$'}: {e['msg']}" for e in errors[:5])
        return refuse(
            "still_invalid",
            f"the record is still not a valid event ({detail[:500]}); replaying it would only "
            "dead-letter it again",
        )
    belongs = topic_for_kind(event.kind).name
    if belongs != letter.topic:
        return refuse(
            "wrong_topic",
            f"a {event.kind.value!r} event belongs on {belongs}, not {letter.topic}; replaying "
            "it there would only dead-letter it again (publish it to its topic instead)",
        )
    if letter.tenant is not None and event.tenant != letter.tenant:
        return refuse("tenant_mismatch", "the record names another tenant than its dead letter")
    return Planned(letter, event)


def plan(letters: Sequence[Stored]) -> tuple[list[Planned], list[Refusal]]:
    planned: list[Planned] = []
    refused: list[Refusal] = []
    for letter in letters:
        outcome = check(letter)
        (planned if isinstance(outcome, Planned) else refused).append(outcome)  # type: ignore[arg-type]
    return planned, refused


@dataclass(slots=True)
class Outcome:
    replayed: list[tuple[Planned, Replayed]]
    already: list[AlreadyReplayed]
    dry_run: bool = False


async def replay(
    warehouse: Warehouse,
    publisher: Publishes,
    planned: Sequence[Planned],
    *,
    actor: str,
    force: bool,
    dry_run: bool,
    lock: asyncio.Lock | None = None,
) -> Outcome:
    """Publish each planned record again to its topic (unless replayed before and not `force`),
    in the order given, and record each replay. Returns only once the broker acknowledged them."""
    async with lock or contextlib.nullcontext():
        history = await asyncio.to_thread(replays, warehouse, [p.letter for p in planned])
        already = [
            AlreadyReplayed(id=p.letter.id, event_id=p.event.event_id, replays=history[p.letter.id])
            for p in planned
            if not force and history.get(p.letter.id)
        ]
        skip = {a.id for a in already}
        todo = [p for p in planned if p.letter.id not in skip]
        if dry_run:
            return Outcome([(p, _replayed(p, None)) for p in todo], already, dry_run=True)
        done: list[tuple[Planned, Replayed]] = []
        for topic in dict.fromkeys(p.letter.topic for p in todo):  # topics in order of first use
            batch = [p for p in todo if p.letter.topic == topic]
            positions = await publisher.publish_many(
                topic, [(p.key, p.letter.raw.encode("utf-8")) for p in batch]
            )
            now = datetime.now(UTC)
            rows = [
                [p.letter.topic, p.letter.partition, p.letter.offset, p.letter.tenant,
                 p.event.event_id, now, actor, force, topic, partition, offset]
                for p, (partition, offset) in zip(batch, positions, strict=True)
            ]  # fmt: skip
            await asyncio.to_thread(warehouse.insert, REPLAYS_TABLE, rows, REPLAY_COLUMNS)
            done += [
                (p, _replayed(p, make_id(topic, partition, offset)))
                for p, (partition, offset) in zip(batch, positions, strict=True)
            ]
        return Outcome(done, already)


def _replayed(p: Planned, to: str | None) -> Replayed:
    return Replayed(
        id=p.letter.id, event_id=p.event.event_id, reason=p.letter.reason, key=p.key, to=to
    )


def audit(accounts: AccountsDB, ctx: Context, actor: str, outcome: Outcome, *, force: bool) -> None:
    """One audit entry per dead letter replayed (`deadletter.replay`), in its tenant's log (a
    dry run replays nothing)."""
    if outcome.dry_run or not outcome.replayed:
        return
    with accounts.session() as session:
        for planned, done in outcome.replayed:
            service.audit(
                session, ctx, planned.letter.tenant, actor, "deadletter.replay",
                target=f"deadletter:{done.id}",
                detail=service.audit_json(
                    event_id=done.event_id, reason=done.reason.value, to=done.to, forced=force
                ),
            )  # fmt: skip


def report(
    outcome: Outcome,
    refused: list[Refusal],
    *,
    dry_run: bool,
    incomplete: int = 0,
    more: bool = False,
) -> ReplayReport:
    return ReplayReport(
        dry_run=dry_run,
        replayed=[r for _, r in outcome.replayed],
        already_replayed=outcome.already,
        refused=refused,
        incomplete=incomplete,
        more=more,
    )


async def run(
    warehouse: Warehouse,
    publisher: Publishes,
    scope: Scope,
    request: ReplayRequest,
    *,
    actor: str,
    lock: asyncio.Lock | None = None,
) -> tuple[Outcome, ReplayReport]:
    """A replay request within `scope`: by ids, all or nothing (`NotFound` for an id not
    found, `InvalidInput` for one that cannot be replayed, and nothing is published); or by
    filter."""

    async def replay_all(planned: list[Planned]) -> Outcome:
        return await replay(
            warehouse, publisher, planned, actor=actor, force=request.force,
            dry_run=request.dry_run, lock=lock,
        )  # fmt: skip

    if request.ids is not None:
        ids = list(dict.fromkeys(request.ids))
        found = await asyncio.to_thread(find, warehouse, scope, ids)
        unknown = [i for i in ids if i not in found]
        if unknown:
            raise NotFound(
                "not_found",
                f"no dead letter {unknown[0]!r}" if len(unknown) == 1
                else f"{len(unknown)} of {len(ids)} dead letters are unknown; none was replayed",
                unknown,
            )  # fmt: skip
        planned, refused = plan([found[i] for i in ids])
        if refused:
            raise InvalidInput(
                "not_replayable",
                refused[0].message if len(ids) == 1
                else f"{len(refused)} of {len(ids)} dead letters cannot be replayed; none was "
                "replayed",
                [r.model_dump() for r in refused],
            )  # fmt: skip
        outcome = await replay_all(planned)
        return outcome, report(outcome, [], dry_run=request.dry_run)
    assert request.filter is not None  # the model requires one of the two
    letters, more, incomplete = await asyncio.to_thread(
        matching, warehouse, scope, request.filter, limit=request.limit, force=request.force
    )
    planned, refused = plan(letters)
    outcome = await replay_all(planned)
    return outcome, report(
        outcome, refused, dry_run=request.dry_run, incomplete=incomplete, more=more
    )
