"""The moderator console: server-rendered pages at `/console`, signed in with the project's
accounts (a session cookie, `session.py`), on the same route functions any API client calls.
No Node at run time and nothing from a CDN: Jinja2 templates, one stylesheet and one small
script of the project's own, served from `static/`."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.staticfiles import StaticFiles
from starlette.responses import Response

from api.console import (
    analytics_page,
    auth_pages,
    author_page,
    feed_page,
    item_media,
    item_page,
    operations_page,
    ops_audit,
    ops_policy,
    ops_tokens,
    ops_webhooks,
    review_pages,
    rules_page,
    session,
)
from api.console.web import HERE, CsrfFailed, NotAllowed, SignInRequired, refused_page, sign_in_page

STATIC = f"{session.PATH}/static"


def install(app: FastAPI) -> None:
    """Mount the pages, their static files, and what turns a missing session into a sign-in."""
    app.mount(STATIC, StaticFiles(directory=HERE / "static"), name="console-static")
    for module in (
        auth_pages, review_pages, item_page, author_page, analytics_page, operations_page,
        item_media, feed_page, ops_webhooks, ops_policy, ops_tokens, ops_audit, rules_page,
    ):  # fmt: skip
        app.include_router(module.router)

    @app.exception_handler(SignInRequired)
    async def _sign_in(request: Request, exc: SignInRequired) -> Response:
        return sign_in_page(request)

    @app.exception_handler(CsrfFailed)
    async def _csrf(request: Request, exc: CsrfFailed) -> Response:
        return refused_page(request, exc.message)

    @app.exception_handler(NotAllowed)
    async def _not_allowed(request: Request, exc: NotAllowed) -> Response:
        return refused_page(request, exc.message)
