"""The app's routes, enumerated from the app itself: a new route is in every check at once."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from starlette.routing import Mount

from api.app import create_app
from tests.support.settings import settings_for

PUBLIC = {
    ("GET", "/health"), ("POST", "/v1/auth/login"), ("POST", "/v1/auth/register"),
    ("GET", "/openapi.json"), ("GET", "/docs"), ("GET", "/docs/oauth2-redirect"),
    ("GET", "/redoc"),
    ("GET", "/metrics"),  # for Prometheus: no tenant's data (docs/metrics.md)
    ("GET", "/v1/x/callback"),  # from X's redirect; the single-use state stands for the caller
    ("GET", "/$discovery/rest"),  # Perspective's discovery document, public as Google's is
}  # fmt: skip
"""What anyone may call without a credential."""

FOREIGN = {("POST", "/v1alpha1/comments:analyze"), ("POST", "/v1/moderations")}
"""Routes that refuse a missing credential in another API's shape (Perspective's 403, OpenAI's
401): tests/integration/test_compat_perspective.py and test_compat_openai.py test those."""

CONSOLE = "/console"
"""The moderator console's pages: an anonymous caller is sent to its sign-in page, not given a
401 (tests/unit/test_console.py tests every one of them)."""


def every_route(app: Any) -> set[tuple[str, str]]:
    """(method, path) of every route, `WS` for WebSockets, through included routers."""
    found: set[tuple[str, str]] = set()

    def walk(routes: list[Any]) -> None:
        for route in routes:
            if hasattr(route, "effective_route_contexts"):
                walk(list(route.effective_route_contexts()))
            elif getattr(route, "methods", None):
                found.update((m, route.path) for m in route.methods if m != "HEAD")
            elif isinstance(route, Mount):  # static files: the docs pages' assets, public
                continue
            else:  # a WebSocket (its effective context leaves `path` empty)
                found.add(("WS", route.path or route.original_route.path))

    walk(app.routes)
    return found


def protected_routes() -> list[tuple[str, str]]:
    """Every route but the public and foreign-shaped ones, sorted, from an app that is built
    but not started."""
    app = create_app(settings_for(Path(tempfile.gettempdir()), "127.0.0.1:9"))
    return sorted(r for r in every_route(app) - PUBLIC - FOREIGN if not console_route(r))


def console_route(route: tuple[str, str]) -> bool:
    return route[1] == CONSOLE or route[1].startswith(CONSOLE + "/")


def console_routes() -> list[tuple[str, str]]:
    app = create_app(settings_for(Path(tempfile.gettempdir()), "127.0.0.1:9"))
    return sorted(r for r in every_route(app) if console_route(r))
