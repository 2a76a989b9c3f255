"""Dependencies shared by the routers, as `Annotated` aliases."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request

from api.state import AppState


def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.modstream
    return state


def get_tenant(
    x_tenant: Annotated[
        str | None,
        Header(
            pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$",
            description="The caller's tenant (until accounts and tokens decide it).",
        ),
    ] = None,
) -> str:
    """The one place that decides which tenant a request may see."""
    return x_tenant or "demo"


StateDep = Annotated[AppState, Depends(get_state)]
TenantDep = Annotated[str, Depends(get_tenant)]
