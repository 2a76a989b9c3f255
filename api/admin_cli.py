"""`modstream admin …`: the operator's commands against the accounts store (the first admin, a
tenant, a token, invitation codes, quotas, privacy mode), and the development bootstrap that
`modstream up` runs. Every change is written to the audit log with the actor `cli`."""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from sqlalchemy import select

from api.accounts import security, service
from infra.accounts import SCOPES, AccountsDB
from infra.accounts.models import ApiToken, Tenant
from infra.errors import ConfigError, ModstreamError, Refused
from infra.settings import get_settings

admin_app = typer.Typer(help="Accounts: tenants, users, tokens, invites.", no_args_is_help=True)
console = Console(stderr=True)
DEV_TENANT = "demo"
DEV_TOKEN_NAME = "development (modstream up)"  # noqa: S105 - a name, not a secret


def _db() -> AccountsDB:
    db = AccountsDB(get_settings().accounts_db_url)
    db.create_schema()
    return db


def _refused(exc: Refused) -> ModstreamError:
    return ModstreamError(f"{exc.message} ({exc.code})")


def _scopes(value: str) -> frozenset[str]:
    scopes = frozenset(s.strip() for s in value.split(",") if s.strip())
    unknown = scopes - set(SCOPES)
    if not scopes or unknown:
        raise typer.BadParameter(f"scopes are a comma-separated subset of {','.join(SCOPES)}")
    return scopes


@admin_app.command("create-tenant")
def create_tenant(
    name: str,
    privacy: Annotated[bool, typer.Option(help="Store only SHA-256 of texts.")] = False,
) -> None:
    """Create a tenant."""
    with _db().session() as session:
        try:
            service.create_tenant(session, name, privacy_mode=privacy)
        except Refused as exc:
            raise _refused(exc) from exc
        service.audit(session, service.CLI, name, "cli", "tenant.create", target=f"tenant:{name}")
    console.print(f"tenant {name!r} created" + (" (privacy mode)" if privacy else ""))


@admin_app.command("create-user")
def create_user(
    tenant: Annotated[str, typer.Option(help="The tenant the user belongs to.")],
    email: Annotated[str, typer.Option()],
    role: Annotated[str, typer.Option(help="admin, moderator, reviewer or member.")] = "member",
) -> None:
    """Create a user. The password comes from MODSTREAM_NEW_PASSWORD, or a prompt."""
    password = os.environ.get("MODSTREAM_NEW_PASSWORD") or typer.prompt(
        "password", hide_input=True, confirmation_prompt=True
    )
    try:
        email = service.check_credentials(email, password)
    except Refused as exc:
        raise _refused(exc) from exc
    hashed = security.hash_password(password)
    with _db().session() as session:
        try:
            found = service.tenant_by_name(session, tenant)
            user = service.create_user(session, found, email, hashed, role)
        except Refused as exc:
            raise _refused(exc) from exc
        service.audit(session, service.CLI, tenant, "cli", "user.create",
                      target=f"user:{user.id}", detail=service.audit_json(role=role))  # fmt: skip
    console.print(f"user {email} ({role}) created in tenant {tenant!r}")


@admin_app.command("create-token")
def create_token(
    tenant: Annotated[str, typer.Option()],
    scopes: Annotated[str, typer.Option(help="Comma-separated: ingest,read,moderate,admin.")],
    name: Annotated[str, typer.Option(help="What uses it.")] = "cli",
    days: Annotated[int | None, typer.Option(help="Expires after DAYS; never if unset.")] = None,
) -> None:
    """Create an API token and print it (once: only its hash is stored)."""
    settings = get_settings()
    expires = datetime.now(UTC) + timedelta(days=days) if days else None
    with _db().session() as session:
        try:
            found = service.tenant_by_name(session, tenant)
        except Refused as exc:
            raise _refused(exc) from exc
        _, secret = service.create_token(
            session, settings.accounts, found, name=name, scopes=_scopes(scopes), user_id=None,
            expires_at=expires, actor="cli", ctx=service.CLI,
        )  # fmt: skip
    console.print("[bold]the token, shown once[/] (only its hash is stored):")
    print(secret)  # stdout, so `TOKEN=$(modstream admin create-token …)` works


@admin_app.command("revoke-token")
def revoke_token(token_id: int) -> None:
    """Revoke an API token by its id (`GET /v1/tokens` lists them)."""
    with _db().session() as session:
        token = session.get(ApiToken, token_id)
        tenant = session.get(Tenant, token.tenant_id) if token else None
        if token is None or tenant is None:
            raise ModstreamError(f"no token {token_id}")
        service.revoke_token(session, token, tenant.name, "cli", service.CLI)
    console.print(f"token {token_id} revoked")


@admin_app.command("create-invite")
def create_invite(
    tenant: Annotated[str, typer.Option()],
    role: Annotated[str, typer.Option(help="admin, moderator, reviewer or member.")] = "member",
    uses: Annotated[int, typer.Option(min=1, help="How many accounts it may create.")] = 1,
    days: Annotated[int | None, typer.Option(help="Expires after DAYS; never if unset.")] = 7,
) -> None:
    """Create an invitation code and print it (once)."""
    expires = datetime.now(UTC) + timedelta(days=days) if days else None
    with _db().session() as session:
        try:
            found = service.tenant_by_name(session, tenant)
            _, code = service.create_invite(
                session, found, role=role, max_uses=uses, expires_at=expires, actor="cli",
                ctx=service.CLI,
            )  # fmt: skip
        except Refused as exc:
            raise _refused(exc) from exc
    console.print("[bold]the invitation code, shown once[/]:")
    print(code)


@admin_app.command("set-tenant")
def set_tenant(
    name: str,
    privacy: Annotated[bool | None, typer.Option("--privacy/--no-privacy")] = None,
    per_minute: Annotated[int | None, typer.Option(min=0, help="Quota; 0: default.")] = None,
    per_day: Annotated[int | None, typer.Option(min=0, help="Quota; 0: default.")] = None,
) -> None:
    """Change a tenant's privacy mode or quotas."""
    with _db().session() as session:
        try:
            tenant = service.tenant_by_name(session, name)
        except Refused as exc:
            raise _refused(exc) from exc
        if privacy is not None:
            tenant.privacy_mode = privacy
        if per_minute is not None:
            tenant.quota_per_minute = per_minute or None
        if per_day is not None:
            tenant.quota_per_day = per_day or None
        detail = service.audit_json(
            privacy_mode=tenant.privacy_mode, quota_per_minute=tenant.quota_per_minute,
            quota_per_day=tenant.quota_per_day,
        )  # fmt: skip
        service.audit(session, service.CLI, name, "cli", "tenant.update", detail=detail)
    console.print(f"tenant {name!r}: {detail}")


def dev_bootstrap(
    write: Annotated[Path, typer.Option(help="Write the token here (mode 0600).")],
) -> None:
    """Development only: make sure tenant `demo` exists and write a fresh ingest+read token."""
    settings = get_settings()
    if settings.env != "development":
        raise ConfigError("dev-bootstrap runs in development only (MODSTREAM_ENV=development)")
    with _db().session() as session:
        tenant = session.scalar(select(Tenant).where(Tenant.name == DEV_TENANT))
        if tenant is None:
            tenant = service.create_tenant(session, DEV_TENANT)
        for old in session.scalars(
            select(ApiToken).where(
                ApiToken.tenant_id == tenant.id,
                ApiToken.name == DEV_TOKEN_NAME,
                ApiToken.revoked_at.is_(None),
            )
        ):
            service.revoke_token(session, old, DEV_TENANT, "cli", service.CLI)
        _, secret = service.create_token(
            session, settings.accounts, tenant, name=DEV_TOKEN_NAME,
            scopes=frozenset({"ingest", "read", "moderate", "admin"}), user_id=None,
            expires_at=None, actor="cli", ctx=service.CLI,
        )  # fmt: skip
    write.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(write, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(secret + "\n")
    os.chmod(write, 0o600)
    print(f"wrote a development token for tenant {DEV_TENANT!r} to {write}", file=sys.stderr)


admin_app.command("dev-bootstrap", hidden=True)(dev_bootstrap)
