"""Media: batch submission, media verdicts and duplicate clusters, and hash banks.

The API never fetches or hashes (the worker does, under the SSRF policy): `POST /v1/media/batch`
validates and publishes `media` events and returns their ids; verdicts are read back from the
warehouse. Bank imports are published to `media.banks`, the topic workers replay and follow, and
the sink stores them for the listing endpoints (so a listing lags an import by a moment).
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, status
from pydantic import AnyHttpUrl, BaseModel, Field
from starlette.concurrency import run_in_threadpool

from api.accounts import service
from api.deps import ContextDep, IngestTenant, Moderator, ReadTenant, StateDep
from api.errors import ApiError, responses
from api.read.moderation import effects
from api.state import AppState
from schemas.events import Identifier, Media, MediaEvent, Name
from schemas.media import BankEntry, BankStatus, HashType
from schemas.records import Decision
from schemas.rows import MEDIA_VERDICT_ROWS
from schemas.topics import EVENTS_MEDIA, MEDIA_BANKS

router = APIRouter(prefix="/v1/media", tags=["media"])

MAX_BATCH = 50
MAX_BANK_IMPORT = 10_000


class MediaItem(BaseModel):
    url: AnyHttpUrl
    media_type: Literal["image", "video"]
    owner: Identifier
    external_id: Identifier | None = Field(default=None, description="Defaults to a new id.")


class MediaBatch(BaseModel):
    source: Name = "media"
    items: list[MediaItem] = Field(min_length=1, max_length=MAX_BATCH)


class Submitted(BaseModel):
    event_ids: list[str]
    results: list[str] = Field(description="Where each verdict will be, once judged.")


EVENT_ID_MAX = 256  # an `Identifier`'s length (schemas/events.py)


def _event_id(source: str, external_id: str) -> str:
    """`source-external_id`; where that would pass an event id's 256 characters, the external
    id's digest instead (stable, so a retried batch names the same events)."""
    event_id = f"{source}-{external_id}"
    if len(event_id) <= EVENT_ID_MAX:
        return event_id
    return f"{source}-sha256-{hashlib.sha256(external_id.encode()).hexdigest()}"


@router.post(
    "/batch",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Submitted,
    responses=responses(422, 503),
    summary="Submit up to 50 image or video URLs",
    description="Each URL becomes a `media` event on `events.media`; the workers fetch them "
    "(concurrently, bounded, under the SSRF policy), hash and match them. Poll the result URLs: "
    "404 until judged.",
)
async def submit_batch(body: MediaBatch, state: StateDep, tenant: IngestTenant) -> Submitted:
    now = datetime.now(UTC)
    events = []
    for item in body.items:
        external_id = item.external_id or uuid.uuid4().hex
        events.append(
            MediaEvent(
                event_id=_event_id(body.source, external_id),
                tenant=tenant,
                source=body.source,
                occurred_at=now,
                payload=Media(
                    external_id=external_id,
                    owner=item.owner,
                    url=item.url,
                    media_type=item.media_type,
                ),
            )
        )
    await state.publisher.publish_many(
        EVENTS_MEDIA.name, [(e.partition_key, e.model_dump_json().encode()) for e in events]
    )
    ids = [e.event_id for e in events]
    return Submitted(event_ids=ids, results=[f"/v1/media/{i}" for i in ids])


class _BankHash(BaseModel):
    label: str | None = Field(default=None, max_length=128, description="Overrides the bank's.")
    entry_id: Identifier | None = None


class PdqHash(_BankHash):
    hash_type: Literal[HashType.PDQ]
    value: str = Field(pattern=r"^[0-9a-f]{64}$", description="256 bits: 64 hex digits.")


class PhashHash(_BankHash):
    hash_type: Literal[HashType.PHASH]
    value: str = Field(pattern=r"^[0-9a-f]{16}$", description="64 bits: 16 hex digits.")


class Sha256Hash(_BankHash):
    hash_type: Literal[HashType.SHA256]
    value: str = Field(pattern=r"^[0-9a-f]{64}$", description="256 bits: 64 hex digits.")


BankHash = Annotated[PdqHash | PhashHash | Sha256Hash, Field(discriminator="hash_type")]
"""One hash to import; its length is fixed by its type (the schema's `oneOf` says which)."""


class BankImport(BaseModel):
    label: str = Field(max_length=128, examples=["csam-known"])
    source: str = Field(max_length=256, examples=["ncmec-2026-11"])
    decision: Decision = Field(description="What a match decides: reject for known-bad.")
    entries: list[BankHash] = Field(min_length=1, max_length=MAX_BANK_IMPORT)


class Imported(BaseModel):
    bank: str
    imported: int
    entry_ids: list[str]


@router.post(
    "/banks/{bank}/entries",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Imported,
    responses=responses(422, 503),
    summary="Import hashes into a bank (up to 10,000 per request)",
)
async def import_bank(
    bank: Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")],
    body: BankImport,
    state: StateDep,
    principal: Moderator,
    ctx: ContextDep,
) -> Imported:
    tenant = principal.tenant
    now = datetime.now(UTC)
    entries = []
    for item in body.entries:
        entries.append(
            BankEntry(
                tenant=tenant,
                bank=bank,
                entry_id=item.entry_id or f"{bank}:{item.hash_type.value}:{item.value}",
                hash_type=item.hash_type,
                value=item.value,
                label=item.label or body.label,
                source=body.source,
                decision=body.decision,
                updated_at=now,
            )
        )
    await state.publisher.publish_many(
        MEDIA_BANKS.name, [(e.partition_key, e.model_dump_json().encode()) for e in entries]
    )
    await run_in_threadpool(
        _audit, state, ctx, principal.tenant, principal.actor, "bank.import", f"bank:{bank}",
        service.audit_json(entries=len(entries), decision=body.decision.value),
    )  # fmt: skip
    return Imported(bank=bank, imported=len(entries), entry_ids=[e.entry_id for e in entries])


class StatusChange(BaseModel):
    status: BankStatus
    note: str | None = Field(default=None, max_length=1_000)


@router.put(
    "/banks/{bank}/entries/{entry_id}/status",
    response_model=dict[str, Any],
    responses=responses(404, 422, 503),
    summary="Re-activate, quarantine or remove a bank entry",
)
async def change_status(
    bank: Annotated[str, Path(max_length=64)],
    entry_id: Annotated[str, Path(max_length=256)],
    body: StatusChange,
    state: StateDep,
    principal: Moderator,
    ctx: ContextDep,
) -> dict[str, Any]:
    tenant = principal.tenant
    rows = await run_in_threadpool(
        state.warehouse.rows,
        "SELECT * FROM bank_entries FINAL WHERE tenant = {t:String} AND entry_id = {e:String} "
        "AND bank = {b:String}",
        {"t": tenant, "e": entry_id, "b": bank},
    )
    if not rows:
        raise ApiError(404, "not_found", f"no entry {entry_id!r} in bank {bank!r}")
    row = rows[0]
    entry = BankEntry(
        tenant=tenant, bank=bank, entry_id=entry_id, hash_type=row["hash_type"],
        value=row["value"], label=row["label"], source=row["source"], decision=row["decision"],
        status=body.status, note=body.note, updated_at=datetime.now(UTC),
    )  # fmt: skip
    await state.publisher.publish_many(
        MEDIA_BANKS.name, [(entry.partition_key, entry.model_dump_json().encode())]
    )
    await run_in_threadpool(
        _audit, state, ctx, tenant, principal.actor, "bank.status", f"bank:{bank}/{entry_id}",
        service.audit_json(before=row["status"], after=body.status.value),
    )  # fmt: skip
    return entry.model_dump(mode="json")


def _audit(state: AppState, ctx: service.Context, tenant: str, actor: str, action: str,
           target: str, detail: str) -> None:  # fmt: skip
    with state.accounts.session() as session:
        service.audit(session, ctx, tenant, actor, action, target=target, detail=detail)


@router.get("/banks", summary="Banks of this tenant, with entries per status")
def list_banks(state: StateDep, tenant: ReadTenant) -> list[dict[str, Any]]:
    return state.warehouse.rows(
        "SELECT bank, count() AS entries, countIf(status = 'active') AS active, "
        "countIf(status = 'quarantined') AS quarantined, countIf(status = 'removed') AS removed, "
        "max(updated_at) AS updated_at FROM bank_entries FINAL WHERE tenant = {t:String} "
        "GROUP BY bank ORDER BY bank",
        {"t": tenant},
    )


@router.get("/banks/{bank}/entries", summary="Entries of a bank (e.g. the quarantined ones)")
def list_entries(
    bank: Annotated[str, Path(max_length=64)],
    state: StateDep,
    tenant: ReadTenant,
    status_: Annotated[BankStatus | None, Query(alias="status")] = None,
    limit: Annotated[int, Query(ge=1, le=1_000)] = 100,
) -> list[dict[str, Any]]:
    return state.warehouse.rows(
        "SELECT entry_id, hash_type, value, label, source, decision, status, note, updated_at "
        "FROM bank_entries FINAL WHERE tenant = {t:String} AND bank = {b:String} "
        "AND ({s:String} = '' OR status = {s:String}) ORDER BY entry_id LIMIT {n:UInt32}",
        {"t": tenant, "b": bank, "s": status_.value if status_ else "", "n": limit},
    )


_SHOWN = [c for c in MEDIA_VERDICT_ROWS.columns if c not in ("tenant", "matched_events")]
_VERDICT_SQL = (
    f"SELECT {', '.join(_SHOWN)} FROM media_verdicts FINAL "  # noqa: S608 - constant columns
    "WHERE tenant = {t:String} AND event_id = {e:String}"
)


def _media_row(row: dict[str, Any]) -> dict[str, Any]:
    """The row as the verdict says it: hashes and matches as objects again."""
    return MEDIA_VERDICT_ROWS.decoded(row)


@router.get(
    "/{event_id}",
    responses=responses(404, 422, 503),
    summary="The media verdict of one event: hashes, matches, decision and reason",
    description="The media worker's verdict, and `moderation`: a reviewer's decision, which "
    "overrides the worker's `decision` (`removed`, or `visible` when approved or restored on "
    "appeal; null when no reviewer decided).",
)
def get_media(
    event_id: Annotated[str, Path(min_length=1, max_length=256)],
    state: StateDep,
    tenant: ReadTenant,
) -> dict[str, Any]:
    rows = state.warehouse.rows(
        _VERDICT_SQL,
        {"t": tenant, "e": event_id},
    )
    if not rows:
        raise ApiError(404, "not_found", f"no media verdict for event {event_id!r} (yet)")
    decided = effects(state.warehouse, tenant, [event_id]).get(event_id)
    return _media_row(rows[0]) | {"moderation": decided.value if decided else None}


@router.get(
    "/{event_id}/duplicates",
    responses=responses(404, 422, 503),
    summary="The duplicate cluster of an item: the first-seen item and every near-copy of it",
)
def get_cluster(
    event_id: Annotated[str, Path(min_length=1, max_length=256)],
    state: StateDep,
    tenant: ReadTenant,
) -> dict[str, Any]:
    found = state.warehouse.rows(
        "SELECT duplicate_of FROM media_verdicts FINAL "
        "WHERE tenant = {t:String} AND event_id = {e:String}",
        {"t": tenant, "e": event_id},
    )
    if not found:
        raise ApiError(404, "not_found", f"no media verdict for event {event_id!r} (yet)")
    root = found[0]["duplicate_of"] or event_id
    members = state.warehouse.rows(
        "SELECT event_id, url, decision, reason, duplicate_of, judged_at FROM media_verdicts "
        "FINAL WHERE tenant = {t:String} AND (event_id = {r:String} OR duplicate_of = {r:String} "
        "OR has(matched_events, {r:String})) ORDER BY judged_at LIMIT 1000",
        {"t": tenant, "r": root},
    )
    return {"root": root, "count": len(members), "members": members}
