"""A tenant's taxonomy of reasons: the default one (`schemas.moderation.REASONS`) and the codes the
tenant added, each mapped to a category of the EU Transparency Database as the defaults are.
Reports name a category of it and decisions a reason; an action keeps the DSA category it was
decided with, so changing or removing a code later does not rewrite what was decided."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from infra.accounts.review import TenantReason
from infra.errors import Conflict, InvalidInput
from schemas.dsa import CATEGORY
from schemas.moderation import REASONS, Reason

CODE = r"^[a-z][a-z0-9_]{1,63}$"


class ReasonIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "title": "Doxxing a streamer",
                    "dsa_category": "STATEMENT_CATEGORY_DATA_PROTECTION_AND_PRIVACY_VIOLATIONS",
                    "ground": "illegal",
                }
            ]
        },
    )

    title: str = Field(min_length=1, max_length=200, description="Shown to reviewers and authors.")
    dsa_category: str = Field(
        description="The Transparency Database category it maps to.",
        json_schema_extra={"enum": list(CATEGORY)},
    )
    ground: Literal["illegal", "incompatible"] = Field(
        default="incompatible",
        description="Whether a removal for it is for illegal content or for content incompatible "
        "with the terms of service.",
    )


def reasons_of(session: Session, tenant: str) -> dict[str, Reason]:
    """The tenant's taxonomy: the default reasons, then its own by code."""
    own = session.scalars(
        select(TenantReason).where(TenantReason.tenant == tenant).order_by(TenantReason.code)
    )
    return REASONS | {r.code: _reason(r) for r in own}


def lookup(session: Session, tenant: str, code: str, *, what: str = "reason") -> Reason:
    """The reason `code` of the tenant's taxonomy (422 `unknown_<what>` if it has none)."""
    found = REASONS.get(code)
    if found is None:
        row = session.scalar(
            select(TenantReason).where(TenantReason.tenant == tenant, TenantReason.code == code)
        )
        found = _reason(row) if row is not None else None
    if found is None:
        raise InvalidInput(
            f"unknown_{what}",
            f"unknown {what} {code!r}; the taxonomy has {sorted(reasons_of(session, tenant))}",
        )
    return found


def put(session: Session, tenant: str, code: str, body: ReasonIn, now: datetime) -> bool:
    """Add or change one of the tenant's own reasons; whether it is new. The default reasons are
    every tenant's and cannot be changed (409 `default_reason`)."""
    if code in REASONS:
        raise Conflict("default_reason", f"{code!r} is a default reason: pick another code")
    if body.dsa_category not in CATEGORY:
        raise InvalidInput(
            "unknown_dsa_category",
            f"unknown DSA category {body.dsa_category!r}; one of {list(CATEGORY)}",
        )
    row = session.scalar(
        select(TenantReason).where(TenantReason.tenant == tenant, TenantReason.code == code)
    )
    new = row is None
    if row is None:
        row = TenantReason(tenant=tenant, code=code)
        session.add(row)
    row.title, row.dsa_category, row.ground = body.title, body.dsa_category, body.ground
    row.updated_at = now
    return new


def drop(session: Session, tenant: str, code: str) -> bool:
    """Remove one of the tenant's own reasons; whether it had it."""
    if code in REASONS:
        raise Conflict("default_reason", f"{code!r} is a default reason and cannot be removed")
    done = session.execute(
        delete(TenantReason).where(TenantReason.tenant == tenant, TenantReason.code == code)
    )
    return bool(getattr(done, "rowcount", 0))


def _reason(row: TenantReason) -> Reason:
    return Reason.model_validate(
        {"code": row.code, "title": row.title, "dsa_category": row.dsa_category,
         "ground": row.ground}
    )  # fmt: skip
