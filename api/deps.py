"""Dependencies shared by the routers, as `Annotated` aliases.

`authenticate` is the one place that decides who is calling and for which tenant: from the
bearer credential (an API token or a login JWT), never from anything else the client sends.
It also counts the request and enforces the tenant's quota. The `…Tenant` aliases add the scope
a route needs (403 without it); handlers only ever see the tenant they are given. `read` across
the tenant is refused to a reviewer limited to granted queues (`reviewer_limited`); item routes
take `ItemReader` and check the item's queue instead.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.requests import HTTPConnection

from api.accounts import service
from api.accounts.service import Context, Principal
from api.errors import ApiError, unauthenticated
from api.state import AppState

bearer = HTTPBearer(
    auto_error=False,
    description="An API token (`mod_…`, from `POST /v1/tokens` or `modstream admin "
    "create-token`) or a login token (`POST /v1/auth/login`).",
)


def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.modstream
    return state


StateDep = Annotated[AppState, Depends(get_state)]


def context(conn: HTTPConnection) -> Context:
    client = conn.client.host if conn.client else None
    return Context(request_id=getattr(conn.state, "request_id", None), client=client)


ContextDep = Annotated[Context, Depends(context)]


def principal_for(state: AppState, credential: str | None) -> Principal:
    """Resolve a credential (read from the store on every request, so a revoked credential
    stops at once), count the request and apply the quota (401 / 429; `api/accounts/meter.py`)."""
    if not credential:
        raise unauthenticated("unauthenticated", "this needs an API token or a login token")
    with state.accounts.session() as session:
        principal = service.resolve(session, state.settings.accounts, credential)
        quota = service.quota_of(session, state.settings.accounts, principal)
    state.meter.count(principal, quota)
    return principal


def authenticate(
    request: Request,
    state: StateDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    cached: Principal | None = getattr(request.state, "principal", None)
    if cached is not None:  # once per request, however many dependencies ask
        return cached
    principal = principal_for(state, credentials.credentials if credentials else None)
    request.state.principal = principal
    return principal


CurrentPrincipal = Annotated[Principal, Depends(authenticate)]


def check_scope(principal: Principal, scope: str) -> Principal:
    if scope not in principal.scopes:
        raise ApiError(403, "insufficient_scope", f"this needs the {scope!r} scope")
    return principal


def check_tenant_read(principal: Principal) -> Principal:
    """The `read` scope for a read across the tenant (listings, analytics, authors, the live
    feed, settings): refused to a reviewer limited to granted queues, who reads items only
    through them."""
    check_scope(principal, "read")
    if principal.queue_limited:
        raise ApiError(
            403,
            "reviewer_limited",
            f"{principal.actor} reviews granted queues only, so it reads items only in them "
            "(GET /v1/review/queues, /v1/review/items/{review_item}, /v1/verdicts/{event_id}, "
            "/v1/posts/{post_id}/thread); reads across the tenant need the 'moderate' scope",
        )
    return principal


def _check(principal: Principal, scope: str) -> Principal:
    return check_tenant_read(principal) if scope == "read" else check_scope(principal, scope)


def _requiring(scope: str) -> Callable[[Principal], Principal]:
    def dependency(principal: CurrentPrincipal) -> Principal:
        return _check(principal, scope)

    dependency.__name__ = f"require_{scope}"
    return dependency


def _tenant_of(scope: str) -> Callable[[Principal], str]:
    def dependency(principal: CurrentPrincipal) -> str:
        return _check(principal, scope).tenant

    dependency.__name__ = f"{scope}_tenant"
    return dependency


def _item_reader(principal: CurrentPrincipal) -> Principal:
    return check_scope(principal, "read")


Reader = Annotated[Principal, Depends(_requiring("read"))]
"""The `read` scope across the tenant: not for a reviewer limited to granted queues."""
ItemReader = Annotated[Principal, Depends(_item_reader)]
"""The `read` scope for one item: a reviewer limited to granted queues passes, and the route
checks the item is in one of them (`api.review.grants.check_item`)."""
Ingester = Annotated[Principal, Depends(_requiring("ingest"))]
Moderator = Annotated[Principal, Depends(_requiring("moderate"))]
TenantAdmin = Annotated[Principal, Depends(_requiring("admin"))]

ReadTenant = Annotated[str, Depends(_tenant_of("read"))]
IngestTenant = Annotated[str, Depends(_tenant_of("ingest"))]
ModerateTenant = Annotated[str, Depends(_tenant_of("moderate"))]
