"""One author: their statistics, recent items with decisions and labels, strikes and block
state, and the unblock form (the unblock route's own function: published on `authors.blocks`,
audited)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from starlette.responses import Response

from api.console import session
from api.console.web import FormDep, ModeratorDep, TenantReaderDep, redirect, render
from api.deps import context
from api.errors import ApiError
from api.read import authors, posts
from api.routes import strikes
from infra.errors import Refused, WarehouseError

router = APIRouter(prefix=session.PATH, include_in_schema=False)

AuthorPath = Annotated[str, Path(min_length=1, max_length=256)]
RECENT = 50


@router.get("/authors/{author}")
def author_page(author: AuthorPath, request: Request, caller: TenantReaderDep) -> Response:
    state, tenant = caller.state, caller.principal.tenant
    private = "private" in caller.principal.scopes
    try:
        stats = authors.get(state.warehouse, tenant, author)
        recent = posts.page(
            state.warehouse, tenant, posts.PostQuery(author=author, limit=RECENT), private=private
        ).data
    except WarehouseError:
        stats, recent = None, []
    try:
        report: strikes.StrikeReport | None = strikes.strike_report(author, state, tenant)
    except (ApiError, WarehouseError):
        report = None
    return render(
        request, "author.html", caller, author=author, stats=stats, recent=recent, report=report,
        may_unblock="moderate" in caller.principal.scopes,
    )  # fmt: skip


@router.post("/authors/{author}/unblock")
async def unblock(
    author: AuthorPath, request: Request, caller: ModeratorDep, form: FormDep
) -> Response:
    back = f"{session.PATH}/authors/{author}"
    body = strikes.Unblock(reason=form.get("reason", "")[:1000])
    try:
        await strikes.unblock(author, caller.state, caller.principal, context(request), body)
    except (ApiError, Refused) as exc:
        return redirect(back, caller.state, error=exc.message)
    return redirect(back, caller.state, ok=f"{author} is unblocked.")
