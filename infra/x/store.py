"""Connected X accounts and pending authorizations, in the accounts store (`x_accounts`,
`x_auth_states`; SQLite or PostgreSQL). Blocking calls over `AccountsDB` sessions: from async
code, run them in a thread. Tokens and verifiers arrive here already encrypted."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, or_, select, update

from infra.accounts import AccountsDB
from infra.accounts.models import XAccount, XAuthState
from infra.x.client import XUser

ACTIVE = "active"
REAUTHORIZE = "reauthorize"


@dataclass(frozen=True, slots=True)
class PendingAuth:
    tenant: str
    verifier: str
    actor: str
    expired: bool


@dataclass(frozen=True, slots=True)
class EncryptedTokens:
    access: str
    refresh: str | None
    expires_at: datetime
    scopes: str


class XAccounts:
    def __init__(self, accounts: AccountsDB) -> None:
        self.accounts = accounts

    # --- pending authorizations -----------------------------------------------------------

    def add_state(
        self, state_hash: str, tenant: str, verifier: str, actor: str, ttl: float
    ) -> None:
        now = datetime.now(UTC)
        with self.accounts.session() as session:
            session.execute(delete(XAuthState).where(XAuthState.expires_at < now))
            session.add(
                XAuthState(
                    state_hash=state_hash,
                    tenant=tenant,
                    verifier=verifier,
                    actor=actor,
                    expires_at=now + timedelta(seconds=ttl),
                )
            )

    def take_state(self, state_hash: str) -> PendingAuth | None:
        """The pending authorization, deleted in the same transaction: a state works once,
        even when two callbacks race (only one DELETE removes the row)."""
        with self.accounts.session() as session:
            row = session.get(XAuthState, state_hash)
            if row is None:
                return None
            pending = PendingAuth(
                row.tenant, row.verifier, row.actor, row.expires_at <= datetime.now(UTC)
            )
            taken = session.execute(delete(XAuthState).where(XAuthState.state_hash == state_hash))
            return pending if taken.rowcount == 1 else None  # type: ignore[attr-defined]

    # --- accounts -------------------------------------------------------------------------

    def connect(
        self, tenant: str, user: XUser, tokens: EncryptedTokens, actor: str
    ) -> tuple[XAccount, bool]:
        """Store a connected account; connecting one again replaces its tokens and keeps its
        checkpoint. Returns (account, whether it is new)."""
        with self.accounts.session() as session:
            account = session.scalar(
                select(XAccount).where(XAccount.tenant == tenant, XAccount.x_user_id == user.id)
            )
            created = account is None
            if account is None:
                account = XAccount(tenant=tenant, x_user_id=user.id, token_version=0)
                session.add(account)
            else:
                account.token_version += 1
            account.username = user.username
            account.access_token, account.refresh_token = tokens.access, tokens.refresh
            account.expires_at, account.scopes = tokens.expires_at, tokens.scopes
            account.status, account.connected_by = ACTIVE, actor
            account.connected_at = datetime.now(UTC)
            account.failures, account.last_error, account.next_poll_at = 0, None, None
            session.flush()
            return account, created

    def of_tenant(self, tenant: str) -> list[XAccount]:
        with self.accounts.session() as session:
            query = select(XAccount).where(XAccount.tenant == tenant).order_by(XAccount.id)
            return list(session.scalars(query))

    def get(self, account_id: int, tenant: str | None = None) -> XAccount | None:
        """The account; with `tenant`, only if it is that tenant's."""
        with self.accounts.session() as session:
            account = session.get(XAccount, account_id)
        if account is None or (tenant is not None and account.tenant != tenant):
            return None
        return account

    def remove(self, account_id: int, tenant: str) -> XAccount | None:
        with self.accounts.session() as session:
            account = session.get(XAccount, account_id)
            if account is None or account.tenant != tenant:
                return None
            session.delete(account)
            return account

    def due(self, now: datetime) -> list[int]:
        """Active accounts neither backing off after errors nor waiting for a rate limit."""
        with self.accounts.session() as session:
            query = select(XAccount.id).where(
                XAccount.status == ACTIVE,
                or_(XAccount.next_poll_at.is_(None), XAccount.next_poll_at <= now),
                or_(XAccount.rate_limited_until.is_(None), XAccount.rate_limited_until <= now),
            )
            return list(session.scalars(query.order_by(XAccount.id)))

    # --- what a poll changes --------------------------------------------------------------

    def replace_tokens(self, account_id: int, version: int, tokens: EncryptedTokens) -> bool:
        """Store refreshed tokens if nobody else did since `version` was read (compare and
        set): False means another process refreshed first, and its tokens are the live ones."""
        with self.accounts.session() as session:
            changed = session.execute(
                update(XAccount)
                .where(XAccount.id == account_id, XAccount.token_version == version)
                .values(
                    access_token=tokens.access,
                    refresh_token=tokens.refresh,
                    expires_at=tokens.expires_at,
                    scopes=tokens.scopes,
                    token_version=version + 1,
                )
            )
            return changed.rowcount == 1  # type: ignore[attr-defined,no-any-return]

    def advance(self, account_id: int, newest_id: int | None, published: int) -> None:
        """After the broker acknowledged a poll's posts: move the checkpoint forward (never
        back, whoever else polled meanwhile) and clear the error state."""
        now = datetime.now(UTC)
        with self.accounts.session() as session:
            if newest_id is not None:
                session.execute(
                    update(XAccount)
                    .where(
                        XAccount.id == account_id,
                        or_(XAccount.since_id.is_(None), XAccount.since_id < newest_id),
                    )
                    .values(since_id=newest_id)
                )
            session.execute(
                update(XAccount)
                .where(XAccount.id == account_id)
                .values(
                    published=XAccount.published + published,
                    last_poll_at=now,
                    last_error=None,
                    failures=0,
                    next_poll_at=None,
                    rate_limited_until=None,
                )
            )

    def failed(self, account_id: int, error: str, retry_at: datetime) -> None:
        """A poll failed (X or the broker): count it and back off until `retry_at`."""
        with self.accounts.session() as session:
            session.execute(
                update(XAccount)
                .where(XAccount.id == account_id)
                .values(
                    last_poll_at=datetime.now(UTC),
                    last_error=error[:1000],
                    failures=XAccount.failures + 1,
                    next_poll_at=retry_at,
                )
            )

    def rate_limited(self, account_id: int, until: datetime) -> None:
        with self.accounts.session() as session:
            session.execute(
                update(XAccount)
                .where(XAccount.id == account_id)
                .values(
                    last_poll_at=datetime.now(UTC),
                    last_error=f"rate limited by X until {until:%Y-%m-%d %H:%M:%S}Z",
                    rate_limited_until=until,
                )
            )

    def reauthorize(self, account_id: int, error: str) -> None:
        with self.accounts.session() as session:
            session.execute(
                update(XAccount)
                .where(XAccount.id == account_id)
                .values(status=REAUTHORIZE, last_error=error[:1000], last_poll_at=datetime.now(UTC))
            )
