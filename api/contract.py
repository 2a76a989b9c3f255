"""What the OpenAPI document promises beyond each route's own declarations, so that a client
generated from it handles every answer the API really gives.

- The shared error answers, each with the one error body (`ErrorBody`), added to every
  operation where they can happen: 401 and 403 where a credential is needed, 400 (a body that
  is not JSON) and 422 where there is input, 404 where a path names something, 429 and 503
  (the stores or the broker unavailable, a draining process) everywhere but `/health`.
  FastAPI's own 422 schema (`HTTPValidationError`) is replaced: that is not what it returns.
- `405 Method Not Allowed` lists in `Allow` every method of the path, not only those of the
  route that happened to match first.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.routing import compile_path
from starlette.types import ASGIApp, Receive, Scope, Send

from api.errors import ErrorBody, error_response

_ERROR = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
_DESCRIPTIONS = {
    "400": "The body is not valid JSON.",
    "401": "No credential, or one that is not (or no longer) valid.",
    "403": "The credential lacks the scope or role this needs.",
    "404": "Nothing of that id for this tenant.",
    "422": "The input does not match the schema, or breaks a rule the schema cannot state.",
    "429": "A rate limit or quota is reached; retry after `Retry-After` seconds.",
    "503": "A store or the broker is unavailable, or the process is shutting down: retry.",
}
_PUBLIC = ("/health", "/v1/auth/")


def _statuses(path: str, operation: dict[str, Any]) -> list[str]:
    params = operation.get("parameters", [])
    body = "requestBody" in operation
    out = []
    if not path.startswith(_PUBLIC):
        out += ["401", "403"]
    if body:
        out.append("400")
    if body or params:
        out.append("422")
    if any(p.get("in") == "path" for p in params):
        out.append("404")
    if path != "/health":
        out += ["429", "503"]
    return out


def document_errors(schema: dict[str, Any]) -> dict[str, Any]:
    """Add the shared error answers to every operation of `schema` (in place; returned)."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    error = ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}")
    components.update(error.pop("$defs", {}))
    components["ErrorBody"] = error
    for path, item in schema.get("paths", {}).items():
        for operation in item.values():
            responses = operation.setdefault("responses", {})
            for status in _statuses(path, operation):
                known = responses.setdefault(status, {"description": _DESCRIPTIONS[status]})
                if "HTTPValidationError" in str(known.get("content")):
                    del known["content"]
                known.setdefault("content", _ERROR)
    for unused in ("HTTPValidationError", "ValidationError"):
        components.pop(unused, None)
    return schema


def allowed_methods(app: FastAPI, path: str) -> list[str]:
    """The methods the document states for `path`: one list for the client and the `Allow`
    header. A literal path wins over a template that would also match it (`/v1/deadletters/
    replay` is not a dead letter's id)."""
    matches = [
        (len(converters), item)
        for template, item in app.openapi().get("paths", {}).items()
        for regex, _, converters in [compile_path(template)]
        if regex.match(path)
    ]
    fewest = min((n for n, _ in matches), default=0)
    return sorted({m.upper() for n, item in matches if n == fewest for m in item})


def _not_allowed(method: str, allowed: list[str]) -> JSONResponse:
    allow = ", ".join(allowed)
    return error_response(
        405, "method_not_allowed", f"{method} is not allowed here; use {allow}",
        headers={"Allow": allow},
    )  # fmt: skip


class LiteralPaths:
    """A path the document states literally is not a value of a template beside it: a method
    it lacks is answered 405, before routing could hand the request to the template's route
    (`GET /v1/deadletters/replay` is not a read of a dead letter named `replay`)."""

    def __init__(self, app: ASGIApp, api: FastAPI) -> None:
        self.app, self.api = app, api
        self._literal: dict[str, list[str]] | None = None

    def allowed(self, path: str) -> list[str] | None:
        if self._literal is None:
            paths = self.api.openapi().get("paths", {})
            self._literal = {
                p: sorted(m.upper() for m in item) for p, item in paths.items() if "{" not in p
            }
        return self._literal.get(path)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            method, allowed = scope["method"], self.allowed(scope["path"])
            if allowed and method not in allowed and not (method == "HEAD" and "GET" in allowed):
                await _not_allowed(method, allowed)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def install(app: FastAPI) -> None:
    """Answer 405 with the path's full `Allow` list (for a literal path, before routing), and a
    body that is not JSON with a message that says so."""

    @app.exception_handler(400)
    async def _bad_body(_: Request, exc: HTTPException) -> JSONResponse:
        return error_response(400, "invalid_body", f"{exc.detail}: send JSON")

    @app.exception_handler(405)
    async def _method(request: Request, _: HTTPException) -> JSONResponse:
        return _not_allowed(request.method, allowed_methods(app, request.url.path))

    app.add_middleware(LiteralPaths, api=app)
