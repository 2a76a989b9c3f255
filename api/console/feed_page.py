"""The live feed of verdicts: the latest judged items matching the filters, rendered on the
server, then each new verdict as it reaches `verdicts.text`, added by `static/feed.js` from a
same-origin EventSource.

The stream is the live feed's own route function (`/v1/verdicts/stream`) called with the
console session's caller: the same hub, positions and resume (`Last-Event-ID`), the tenant taken
from the session and chat messages only with the `private` scope, as the API decides. The
console adds two filters the feed's query lacks (kind and language), applied in the hub's
filter, so a verdict the page does not want never leaves the server.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Depends, Query, Request
from fastapi.routing import APIRouter
from pydantic import Field
from starlette.responses import Response

from api.console import session
from api.console.web import TenantReaderDep, render
from api.errors import ApiError
from api.feed.hub import FeedFilter
from api.read import posts
from api.routes import feed
from infra.errors import WarehouseError
from schemas.events import Kind
from schemas.records import Decision

router = APIRouter(prefix=session.PATH, include_in_schema=False)

RECENT = 50
KINDS = (Kind.POST, Kind.CHAT_MESSAGE)  # what `verdicts.text` carries
LABEL = r"^[A-Za-z0-9_.\-]{1,64}$"
LANG = r"^[a-z]{2,3}$"

DecisionQ = Annotated[Decision | None, Query()]
LabelQ = Annotated[str | None, Query(pattern=LABEL)]
KindQ = Annotated[Kind | None, Query()]
LangQ = Annotated[str | None, Query(pattern=LANG)]


@dataclass(frozen=True, slots=True)
class Chosen:
    """The filters a feed page or its stream was asked for, from the query string."""

    decision: Decision | None
    label: str | None
    kind: Kind | None
    lang: str | None

    @property
    def decisions(self) -> list[Decision]:
        return [self.decision] if self.decision else []


def chosen_filters(
    decision: DecisionQ = None, label: LabelQ = None, kind: KindQ = None, lang: LangQ = None
) -> Chosen:
    return Chosen(decision, label, kind, lang)


ChosenDep = Annotated[Chosen, Depends(chosen_filters)]


@dataclass(frozen=True, slots=True)
class KindLangFilter(FeedFilter):
    """The feed's filter, narrowed to one kind and one language when given."""

    kind: str | None = None
    lang: str | None = None

    def matches(self, verdict: dict[str, Any]) -> bool:
        if self.kind is not None and verdict.get("kind") != self.kind:
            return False
        if self.lang is not None and verdict.get("lang") != self.lang:
            return False
        return FeedFilter.matches(self, verdict)


class ConsoleFeedQuery(feed.FeedQuery):
    kind: Kind | None = None
    lang: str | None = Field(default=None, pattern=LANG)

    def feed_filter(self, reader: Any) -> FeedFilter:
        wide = super().feed_filter(reader)
        return KindLangFilter(
            tenant=wide.tenant, sources=wide.sources, decisions=wide.decisions, label=wide.label,
            min_score=wide.min_score, private=wide.private,
            kind=self.kind.value if self.kind else None, lang=self.lang,
        )  # fmt: skip


@router.get("/feed")
def feed_page(request: Request, caller: TenantReaderDep, filters: ChosenDep) -> Response:
    private = "private" in caller.principal.scopes
    query = posts.PostQuery(
        decision=filters.decisions,
        label=filters.label,
        kind=filters.kind,
        lang=filters.lang,
        limit=RECENT,
    )
    try:
        recent: list[posts.JudgedItem] | None = posts.page(
            caller.state.warehouse, caller.principal.tenant, query, private=private
        ).data
    except WarehouseError:
        recent = None
    chosen = {"decision": filters.decision, "label": filters.label, "kind": filters.kind,
              "lang": filters.lang}  # fmt: skip
    stream = f"{session.PATH}/feed/stream?" + urlencode(
        {k: (v.value if hasattr(v, "value") else v) for k, v in chosen.items() if v}
    )
    kinds = [k for k in KINDS if private or k != Kind.CHAT_MESSAGE]
    return render(
        request, "feed.html", caller, recent=recent, stream=stream, decisions=list(Decision),
        kinds=kinds, chosen=chosen, live=caller.state.feed is not None,
    )  # fmt: skip


@router.get("/feed/stream")
async def feed_stream(request: Request, caller: TenantReaderDep, filters: ChosenDep) -> Response:
    """The live feed's SSE stream for the session's caller (the same route function)."""
    query = ConsoleFeedQuery(
        decision=filters.decisions, label=filters.label, kind=filters.kind, lang=filters.lang,
        min_score=0.5, since=None,
    )  # fmt: skip
    hub = caller.state.feed
    if hub is None:
        return Response("the live feed is not running", status_code=503, media_type="text/plain")
    last = request.headers.get("last-event-id")
    try:
        return await feed.stream_verdicts(
            query, caller.principal, hub, caller.state, caller.ctx, last[:2000] if last else None
        )
    except ApiError as exc:
        return Response(exc.message, status_code=exc.status, media_type="text/plain")
