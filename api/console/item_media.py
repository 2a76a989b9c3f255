"""A media item on its page: the verdict's hashes and bank matches, its duplicate cluster (the
media route's own cluster, plus every item carrying one of its exact hashes), and the image or
video itself.

The console keeps no media: it fetches the item's URL again when a reviewer opens the page,
through the same SSRF guard and limits as the media worker (`MODSTREAM_MEDIA_*`), and serves
the bytes from its own origin, so the page's `img-src 'self'` policy holds and the reviewer's
browser never contacts the upstream host. The content type is sniffed from the bytes, as the
worker does; anything that is not an image or video it decodes is refused, and so are bytes
whose SHA-256 is not the one judged (the URL now serves something else).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from api.console import session
from api.console.reviewing import ReviewCaller, ReviewerDep
from api.console.web import refused_page
from api.errors import ApiError
from api.routes import media, review
from api.state import AppState
from infra.errors import FetchError, NotFound, Refused, WarehouseError
from infra.fetch import Fetcher, FetchPolicy
from schemas.events import Kind
from schemas.media import HashType

router = APIRouter(prefix=session.PATH, include_in_schema=False)

ItemPath = Annotated[int, Path(ge=1, le=2**62)]
SAME_HASH = 100
MEDIA_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
    "Content-Disposition": "inline",
}


@dataclass(frozen=True, slots=True)
class Member:
    event_id: str
    how: str  # first seen, near copy, same hash
    decision: str
    url: str


@dataclass(frozen=True, slots=True)
class MediaView:
    verdict: dict[str, Any]
    banks: list[dict[str, Any]]
    cluster: list[Member]


def same_hash(state: AppState, tenant: str, event_id: str) -> list[dict[str, Any]]:
    """Other items of the tenant that carry one of this item's hashes exactly (any type)."""
    return state.warehouse.rows(
        "SELECT h.event_id AS event_id, any(v.decision) AS decision, any(v.url) AS url "
        "FROM media_hashes AS h FINAL INNER JOIN media_verdicts AS v FINAL "
        "ON v.tenant = h.tenant AND v.event_id = h.event_id "
        "WHERE h.tenant = {t:String} AND h.event_id != {e:String} AND (h.hash_type, h.value) IN "
        "(SELECT hash_type, value FROM media_hashes WHERE tenant = {t:String} "
        "AND event_id = {e:String}) GROUP BY h.event_id ORDER BY h.event_id LIMIT {n:UInt32}",
        {"t": tenant, "e": event_id, "n": SAME_HASH},
    )


def media_view(state: AppState, tenant: str, event_id: str) -> MediaView | None:
    """The item's media verdict, bank matches and cluster; None until it is stored (or when the
    warehouse does not answer)."""
    try:
        verdict = media.get_media(event_id, state, tenant)
        found = media.get_cluster(event_id, state, tenant)
        exact = same_hash(state, tenant, event_id)
    except (ApiError, WarehouseError):
        return None
    root = found["root"]
    cluster = [
        Member(m["event_id"], "first seen" if m["event_id"] == root else "near copy",
               m["decision"], m["url"])
        for m in found["members"] if m["event_id"] != event_id
    ]  # fmt: skip
    known = {m.event_id for m in cluster}
    cluster += [
        Member(r["event_id"], "same hash", r["decision"], r["url"])
        for r in exact
        if r["event_id"] not in known
    ]
    banks = [m for m in verdict.get("matches", []) if m.get("kind") == "bank"]
    return MediaView(verdict, banks, cluster)


def fetcher(state: AppState) -> Fetcher:
    settings = state.settings.media
    return Fetcher(
        FetchPolicy.build(
            allowed_networks=settings.allowed_networks, max_bytes=settings.max_image_bytes,
            timeout=settings.fetch_timeout, max_redirects=settings.fetch_max_redirects,
        ),
        max_video_bytes=settings.max_video_bytes,
    )  # fmt: skip


def _media_url(caller: ReviewCaller, item: int) -> tuple[str, str | None]:
    """The URL of a queue entry the caller may see (its tenant, its granted queues) and the
    SHA-256 its bytes had when judged (if the verdict holds one), or `Refused` saying why not."""
    try:
        entry = review.get_item(item, caller.access, caller.state, caller.ctx)
    except ApiError as exc:
        raise NotFound(exc.code, exc.message) from exc
    if entry.kind != Kind.MEDIA.value:
        raise NotFound("not_media", f"item {item} is not an image or a video")
    try:
        verdict = media.get_media(entry.event_id, caller.state, caller.principal.tenant)
    except (ApiError, WarehouseError) as exc:
        raise NotFound("not_found", f"item {item}'s media verdict is not stored (yet)") from exc
    sha = next(
        (h["value"] for h in verdict.get("hashes", []) if h.get("hash_type") == HashType.SHA256),
        None,
    )
    return str(verdict["url"]), sha


@router.get("/items/{item}/media")
async def item_media(item: ItemPath, request: Request, caller: ReviewerDep) -> Response:
    """The media of a queue entry the caller may see, fetched again under the SSRF policy; not
    shown if its bytes are no longer those that were judged."""
    try:
        url, judged = await run_in_threadpool(_media_url, caller, item)
    except Refused as exc:
        return refused_page(request, exc.message, 404)
    client = fetcher(caller.state)
    try:
        fetched = await client.fetch(url)
    except FetchError as exc:
        return refused_page(request, f"The media could not be fetched again: {exc}", 502)
    finally:
        await client.aclose()
    if judged is not None and hashlib.sha256(fetched.body).hexdigest() != judged:
        message = "The media at this URL changed since it was judged (another SHA-256): not shown."
        return refused_page(request, message, 409)
    return Response(fetched.body, media_type=fetched.content_type, headers=MEDIA_HEADERS)
