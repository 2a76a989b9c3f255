"""Connecting an X account with OAuth 2.0 PKCE, and disconnecting it.

The state (single use, ten minutes, stored as a SHA-256) is what binds X's callback, which
carries no bearer credential, to the tenant and the admin who started the connection.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from starlette.concurrency import run_in_threadpool

from api.accounts import service
from api.accounts.service import Context
from infra.accounts import AccountsDB
from infra.accounts.models import XAccount
from infra.errors import Conflict, NotFound, Rejected, UpstreamFailed
from infra.settings import Settings
from infra.x import TokenCipher, XAccounts, XAuthError, XClient, XError
from infra.x.oauth import authorization_url, new_state, new_verifier, state_hash
from infra.x.poll import encrypt_tokens

STATE_TTL = 600.0
"""Seconds an operator has to approve at X."""


def configured(settings: Settings) -> None:
    if not settings.x.client_id:
        raise Conflict(
            "x_not_configured",
            "X ingestion is not configured on this server (MODSTREAM_X_CLIENT_ID)",
        )


def audit(
    accounts: AccountsDB, ctx: Context, tenant: str, actor: str, action: str, target: str,
    *, outcome: str = "ok", detail: str | None = None,
) -> None:  # fmt: skip
    """One audit entry in a transaction of its own (X's answers come between)."""
    with accounts.session() as session:
        service.audit(
            session, ctx, tenant, actor, action, target=target, outcome=outcome, detail=detail
        )


def start(
    accounts: AccountsDB, settings: Settings, tenant: str, actor: str
) -> tuple[str, datetime]:
    """X's authorization URL for a new connection, and when it stops being valid."""
    configured(settings)
    cipher = TokenCipher.from_settings(settings.x, settings.development_secret)
    verifier, oauth_state = new_verifier(), new_state()
    XAccounts(accounts).add_state(
        state_hash(oauth_state), tenant, cipher.encrypt(verifier), actor, STATE_TTL
    )
    expires_at = datetime.now(UTC) + timedelta(seconds=STATE_TTL)
    url = authorization_url(settings.x, settings.x_callback_url, oauth_state, verifier)
    return url, expires_at


async def finish(
    accounts: AccountsDB,
    settings: Settings,
    ctx: Context,
    oauth_state: str,
    code: str | None,
    error: str | None,
) -> XAccount:
    """X's callback: check the state (used up either way), exchange the code with the PKCE
    verifier, read the X user and store the account with its tokens encrypted."""
    store = XAccounts(accounts)
    pending = await run_in_threadpool(store.take_state, state_hash(oauth_state))
    if pending is None:
        raise Rejected("invalid_state", "unknown or already used state: connect again")
    if pending.expired:
        raise Rejected("state_expired", "the authorization took too long: connect again")
    if error:
        await run_in_threadpool(
            audit, accounts, ctx, pending.tenant, pending.actor, "x.connect", "x:?",
            outcome="refused", detail=service.audit_json(error=error),
        )  # fmt: skip
        raise Rejected("x_authorization_denied", f"X did not authorize: {error}")
    if not code:
        raise Rejected("missing_code", "X sent neither a code nor an error")
    configured(settings)
    cipher = TokenCipher.from_settings(settings.x, settings.development_secret)
    try:
        async with XClient(settings.x) as client:
            verifier = cipher.decrypt(pending.verifier)
            tokens = await client.exchange_code(code, verifier, settings.x_callback_url)
            user = await client.me(tokens.access_token)
    except XAuthError as exc:
        raise Rejected("x_code_refused", str(exc)) from exc
    except XError as exc:
        raise UpstreamFailed("x_unavailable", f"X did not answer as expected: {exc}") from exc
    account, created = await run_in_threadpool(
        store.connect, pending.tenant, user, encrypt_tokens(cipher, tokens), pending.actor
    )
    await run_in_threadpool(
        audit, accounts, ctx, pending.tenant, pending.actor, "x.connect", f"x:{user.id}",
        detail=service.audit_json(username=user.username, account_id=account.id, new=created),
    )  # fmt: skip
    return account


async def disconnect(
    accounts: AccountsDB, settings: Settings, account_id: int, tenant: str, actor: str,
    ctx: Context,
) -> None:  # fmt: skip
    """Delete the account and its tokens here, and ask X to revoke them (best effort)."""
    account = await run_in_threadpool(XAccounts(accounts).remove, account_id, tenant)
    if account is None:
        raise NotFound("not_found", f"no X account {account_id}")
    revoked = settings.x.client_id is not None and await _revoke(settings, account)
    await run_in_threadpool(
        audit, accounts, ctx, tenant, actor, "x.disconnect", f"x:{account.x_user_id}",
        detail=service.audit_json(username=account.username, revoked_at_x=revoked),
    )  # fmt: skip


async def _revoke(settings: Settings, account: XAccount) -> bool:
    """Best effort: revoke the refresh token (which ends the grant) and the access token."""
    try:
        cipher = TokenCipher.from_settings(settings.x, settings.development_secret)
        async with XClient(settings.x) as client:
            if account.refresh_token:
                await client.revoke(cipher.decrypt(account.refresh_token), "refresh_token")
            await client.revoke(cipher.decrypt(account.access_token), "access_token")
    except XError:
        return False
    return True
