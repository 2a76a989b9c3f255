"""The caller's tenant: settings (privacy mode, decision policy), users, invitation codes, usage,
audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Response, status
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.accounts import service
from api.accounts.service import Context, Principal
from api.deps import ContextDep, Reader, StateDep, TenantAdmin
from api.errors import ApiError, responses
from infra.accounts.models import (
    ApiToken,
    AuditEntry,
    Invite,
    Tenant,
    TenantPolicy,
    User,
    utcnow,
)
from schemas.policy import PolicyDocument

router = APIRouter(prefix="/v1", tags=["tenant"])


class TenantPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    name: str
    privacy_mode: bool = Field(
        description="Only a SHA-256 of each text and the verdict are stored (docs/security.md)."
    )
    quota_per_minute: int | None = Field(description="Requests; null: the server default.")
    quota_per_day: int | None
    created_at: datetime


class PrivacyChange(BaseModel):
    privacy_mode: bool


@router.get(
    "/tenant",
    response_model=TenantPublic,
    responses=responses(401, 403, 429, 503),
    summary="Your tenant's settings",
)
def get_tenant(principal: Reader, state: StateDep) -> TenantPublic:
    with state.accounts.session() as session:
        tenant = session.get(Tenant, principal.tenant_id)
        assert tenant is not None
        return TenantPublic.model_validate(tenant)


@router.put(
    "/tenant/privacy",
    response_model=TenantPublic,
    responses=responses(401, 403, 422, 429, 503),
    summary="Turn privacy mode on or off (tenant admins)",
    description="On: from now on the warehouse keeps a SHA-256 of each text instead of the "
    "text (items stored earlier are not rewritten). The embedded sink applies it at once; a "
    "separate `modstream sink` within `MODSTREAM_PRIVACY_REFRESH` seconds.",
)
def set_privacy(
    body: PrivacyChange, principal: TenantAdmin, state: StateDep, ctx: ContextDep
) -> TenantPublic:
    with state.accounts.session() as session:
        tenant = session.get(Tenant, principal.tenant_id)
        assert tenant is not None
        before = tenant.privacy_mode
        tenant.privacy_mode = body.privacy_mode
        service.audit(
            session,
            ctx,
            tenant.name,
            principal.actor,
            "tenant.privacy",
            target=f"tenant:{tenant.name}",
            detail=service.audit_json(before=before, after=body.privacy_mode),
        )
        out = TenantPublic.model_validate(tenant)
    state.privacy.invalidate()
    return out


class StoredPolicy(BaseModel):
    policy: PolicyDocument = Field(
        description="Your own policy; what it leaves out comes from the operator's."
    )
    updated_at: datetime | None = Field(description="Null: no policy of your own yet.")
    updated_by: str | None


def _stored(row: TenantPolicy | None) -> StoredPolicy:
    if row is None:
        return StoredPolicy(policy=PolicyDocument(), updated_at=None, updated_by=None)
    return StoredPolicy(
        policy=PolicyDocument.model_validate_json(row.document),
        updated_at=row.updated_at,
        updated_by=row.updated_by,
    )


@router.get(
    "/tenant/policy",
    response_model=StoredPolicy,
    responses=responses(401, 403, 429, 503),
    summary="Your tenant's decision policy",
)
def get_policy(principal: Reader, state: StateDep) -> StoredPolicy:
    with state.accounts.session() as session:
        return _stored(session.get(TenantPolicy, principal.tenant_id))


@router.put(
    "/tenant/policy",
    response_model=StoredPolicy,
    responses=responses(401, 403, 422, 429, 503),
    summary="Set your tenant's decision policy (tenant admins)",
    description="Thresholds per score: approve at or below `low`, reject above `high`, review "
    "between; the most severe decision of all bands wins. Replaces your whole policy; stream "
    "workers apply it within `MODSTREAM_POLICY_REFRESH` seconds, and each verdict names the "
    "policy version it was decided under. Audited.",
)
def set_policy(
    body: PolicyDocument, principal: TenantAdmin, state: StateDep, ctx: ContextDep
) -> StoredPolicy:
    with state.accounts.session() as session:
        row = session.get(TenantPolicy, principal.tenant_id)
        before = _stored(row).policy
        if row is None:
            row = TenantPolicy(tenant_id=principal.tenant_id)
            session.add(row)
        row.document = body.model_dump_json(exclude_defaults=True)
        row.updated_by = principal.actor
        row.updated_at = utcnow()
        _audit_policy(session, ctx, principal, before, body)
        session.flush()
        return _stored(row)


@router.delete(
    "/tenant/policy",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=responses(401, 403, 429, 503),
    summary="Drop your tenant's own policy: the operator's applies again (tenant admins)",
)
def delete_policy(principal: TenantAdmin, state: StateDep, ctx: ContextDep) -> Response:
    with state.accounts.session() as session:
        row = session.get(TenantPolicy, principal.tenant_id)
        if row is not None:
            _audit_policy(session, ctx, principal, _stored(row).policy, PolicyDocument())
            session.delete(row)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def _audit_policy(
    session: Session,
    ctx: Context,
    principal: Principal,
    before: PolicyDocument,
    after: PolicyDocument,
) -> None:
    service.audit(
        session,
        ctx,
        principal.tenant,
        principal.actor,
        "tenant.policy",
        target=f"tenant:{principal.tenant}",
        detail=service.audit_json(
            before=before.model_dump(exclude_defaults=True),
            after=after.model_dump(exclude_defaults=True),
        ),
    )


class UserRow(BaseModel):
    id: int
    email: str
    role: str
    active: bool
    created_at: datetime
    last_login_at: datetime | None


@router.get(
    "/users",
    response_model=list[UserRow],
    responses=responses(401, 403, 429, 503),
    summary="Users of your tenant (tenant admins)",
)
def list_users(principal: TenantAdmin, state: StateDep) -> list[UserRow]:
    with state.accounts.session() as session:
        users = session.scalars(
            select(User).where(User.tenant_id == principal.tenant_id).order_by(User.id)
        )
        return [
            UserRow(
                id=u.id,
                email=u.email,
                role=u.role,
                active=u.active,
                created_at=u.created_at,
                last_login_at=u.last_login_at,
            )
            for u in users
        ]


class InviteCreate(BaseModel):
    role: Literal["admin", "moderator", "member"] = "member"
    max_uses: int = Field(default=1, ge=1, le=10_000)
    expires_at: AwareDatetime | None = Field(default=None, description="Never, if unset.")


class InvitePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    hint: str
    role: str
    max_uses: int
    uses: int
    expires_at: datetime | None
    active: bool
    created_by: str
    created_at: datetime


class InviteCreated(InvitePublic):
    code: str = Field(description="Shown this once: only its hash is stored.")


@router.post(
    "/invites",
    status_code=status.HTTP_201_CREATED,
    response_model=InviteCreated,
    responses=responses(401, 403, 422, 429, 503),
    summary="Create an invitation code to your tenant (tenant admins)",
)
def create_invite(
    body: InviteCreate, principal: TenantAdmin, state: StateDep, ctx: ContextDep
) -> InviteCreated:
    with state.accounts.session() as session:
        tenant = session.get(Tenant, principal.tenant_id)
        assert tenant is not None
        invite, code = service.create_invite(
            session,
            tenant,
            role=body.role,
            max_uses=body.max_uses,
            expires_at=body.expires_at,
            actor=principal.actor,
            ctx=ctx,
        )
        return InviteCreated(**InvitePublic.model_validate(invite).model_dump(), code=code)


@router.get(
    "/invites",
    response_model=list[InvitePublic],
    responses=responses(401, 403, 429, 503),
    summary="Invitation codes of your tenant (tenant admins)",
)
def list_invites(principal: TenantAdmin, state: StateDep) -> list[InvitePublic]:
    with state.accounts.session() as session:
        found = session.scalars(
            select(Invite).where(Invite.tenant_id == principal.tenant_id).order_by(Invite.id)
        )
        return [InvitePublic.model_validate(i) for i in found]


def owned_invite(
    invite_id: Annotated[int, Path(ge=1, le=2**62)], principal: TenantAdmin, state: StateDep
) -> Invite:
    with state.accounts.session() as session:
        invite = session.get(Invite, invite_id)
    if invite is None or invite.tenant_id != principal.tenant_id:
        raise ApiError(404, "not_found", f"no invite {invite_id}")
    return invite


@router.delete(
    "/invites/{invite_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=responses(401, 403, 404, 429, 503),
    summary="Deactivate an invitation code (tenant admins)",
)
def deactivate_invite(
    invite: Annotated[Invite, Depends(owned_invite)],
    principal: TenantAdmin,
    state: StateDep,
    ctx: ContextDep,
) -> Response:
    with state.accounts.session() as session:
        found = session.get(Invite, invite.id)
        assert found is not None
        found.active = False
        service.audit(
            session,
            ctx,
            principal.tenant,
            principal.actor,
            "invite.deactivate",
            target=f"invite:{invite.id}",
        )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


class Counts(BaseModel):
    total: int
    today: int
    month: int


class SubjectUsage(Counts):
    subject: str = Field(description="`user:ID` or `token:ID`")
    name: str = Field(description="The user's email or the token's name.")


class Usage(BaseModel):
    tenant: Counts
    data: list[SubjectUsage]


@router.get(
    "/usage",
    response_model=Usage,
    responses=responses(401, 403, 429, 503),
    summary="Request counts per user and per token: total, today, this month (UTC)",
    description="A tenant admin sees every user and token of the tenant; others see themselves "
    "and their own tokens. Refused requests (401, 429) are not counted.",
)
def usage(principal: Reader, state: StateDep) -> Usage:
    with state.accounts.session() as session:
        users = select(User).where(User.tenant_id == principal.tenant_id)
        tokens = select(ApiToken).where(ApiToken.tenant_id == principal.tenant_id)
        if "admin" not in principal.scopes:
            users = users.where(User.id == principal.user_id)
            tokens = tokens.where(
                (ApiToken.user_id == principal.user_id)
                if principal.user_id is not None
                else (ApiToken.id == principal.token_id)
            )
        names = {f"user:{u.id}": u.email for u in session.scalars(users.order_by(User.id))}
        names |= {f"token:{t.id}": t.name for t in session.scalars(tokens.order_by(ApiToken.id))}
        tenant_key = f"tenant:{principal.tenant}"
        counts = service.usage_of(session, [*names, tenant_key])
    return Usage(
        tenant=Counts(**counts[tenant_key]),
        data=[SubjectUsage(subject=s, name=n, **counts[s]) for s, n in names.items()],
    )


class AuditRow(BaseModel):
    id: int
    at: datetime
    actor: str
    action: str
    target: str | None
    outcome: str
    request_id: str | None
    client: str | None
    detail: str | None


@router.get(
    "/audit",
    response_model=list[AuditRow],
    responses=responses(401, 403, 422, 429, 503),
    summary="The audit log of your tenant, newest first (tenant admins)",
    description="Logins, token and invite changes, privacy-mode and policy changes, bank imports "
    "and status changes, registrations: who, what, when, from where, with the request id.",
)
def audit_log(
    principal: TenantAdmin,
    state: StateDep,
    action: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=1_000)] = 100,
) -> list[AuditRow]:
    query = select(AuditEntry).where(AuditEntry.tenant == principal.tenant)
    if action:
        query = query.where(AuditEntry.action == action)
    with state.accounts.session() as session:
        rows = session.scalars(query.order_by(AuditEntry.id.desc()).limit(limit))
        return [
            AuditRow(
                id=r.id,
                at=r.at,
                actor=r.actor,
                action=r.action,
                target=r.target,
                outcome=r.outcome,
                request_id=r.request_id,
                client=r.client,
                detail=r.detail,
            )
            for r in rows
        ]
