"""The accounts store's tables (SQLAlchemy 2, typed ORM): tenants, users, API tokens, invitation
codes, usage counters and the audit log.

They live in infra because processes below the API read facts from them (the warehouse sink:
which tenants are in privacy mode; the stream workers: each tenant's decision policy); everything
that decides who may do what is in `api/accounts/`. Secrets are never stored: passwords as
Argon2id hashes, API tokens and invitation codes as SHA-256 digests (they are long random strings,
so a fast hash suffices).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

ROLES = ("admin", "moderator", "reviewer", "member")
SCOPES = ("ingest", "read", "moderate", "review", "admin", "private")


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (SQLite keeps no time zone: it is put back here)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the accounts store")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    pass


class Tenant(Base):
    __tablename__ = "tenants"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    privacy_mode: Mapped[bool] = mapped_column(Boolean, default=False)
    quota_per_minute: Mapped[int | None] = mapped_column(Integer, default=None)
    quota_per_day: Mapped[int | None] = mapped_column(Integer, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    hint: Mapped[str] = mapped_column(String(32), doc="prefix + first 4 characters, for lists")
    scopes: Mapped[str] = mapped_column(String(100), doc="space-separated")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)

    @property
    def scope_set(self) -> frozenset[str]:
        return frozenset(self.scopes.split())


class Invite(Base):
    __tablename__ = "invites"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    hint: Mapped[str] = mapped_column(String(32))
    role: Mapped[str] = mapped_column(String(16))
    max_uses: Mapped[int] = mapped_column(Integer, default=1)
    uses: Mapped[int] = mapped_column(Integer, default=0)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class UsageCounter(Base):
    """Requests per subject (`user:ID`, `token:ID`, `tenant:NAME`) per period (`total`,
    `d:YYYY-MM-DD`, `m:YYYY-MM`, `min:YYYY-MM-DDTHH:MM`), incremented by upsert."""

    __tablename__ = "usage"
    __table_args__ = (UniqueConstraint("subject", "period"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant: Mapped[str] = mapped_column(String(64), index=True)
    subject: Mapped[str] = mapped_column(String(80))
    period: Mapped[str] = mapped_column(String(24))
    count: Mapped[int] = mapped_column(Integer, default=0)


class AuditEntry(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    tenant: Mapped[str | None] = mapped_column(String(64), index=True, default=None)
    actor: Mapped[str] = mapped_column(String(300), doc="user:EMAIL, token:ID or cli")
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str | None] = mapped_column(String(300), default=None)
    outcome: Mapped[str] = mapped_column(String(16), default="ok")
    request_id: Mapped[str | None] = mapped_column(String(64), default=None)
    client: Mapped[str | None] = mapped_column(String(64), default=None)
    detail: Mapped[str | None] = mapped_column(Text, default=None, doc="JSON")


class TenantPolicy(Base):
    """A tenant's own decision policy, set by its admins through the API: a
    `schemas.policy.PolicyDocument` as JSON, read by the stream workers (`accounts/policies.py`)."""

    __tablename__ = "tenant_policies"

    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    document: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(300))


class TenantRules(Base):
    """One version of a tenant's rule set (docs/rules.md), as its admins saved it. Versions are
    never changed: the highest is in force, and a rollback saves an older text as a new version.
    Stream workers read the highest of each tenant (`accounts/rules.py`)."""

    __tablename__ = "tenant_rules"
    __table_args__ = (UniqueConstraint("tenant_id", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(Text)
    note: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(300))


class RevokedLogin(Base):
    """A login token signed out before its expiry, by its `jti`: refused from then on. Kept only
    until the token would have expired anyway (`api/accounts/service/logins.py` prunes)."""

    __tablename__ = "revoked_logins"

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class Lock(Base):
    """A row to update first in a transaction that must not run concurrently with another of
    its kind (registration: the user limit and invite uses), on SQLite and PostgreSQL alike."""

    __tablename__ = "locks"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    n: Mapped[int] = mapped_column(Integer, default=0)


class ChatMessageRow(Base):
    """A chat message held by the gateway (producers/chat) from sending until delivery: the
    receiver may be offline, and the verdict comes later. The text is erased once delivered
    (`text` empty): the store keeps only what is still owed to someone. A message not given
    (withheld, or removed before delivery) keeps its text until `kept_until`, the end of its
    appeal window, so that an approval or an overturn can still give it."""

    __tablename__ = "chat_messages"
    __table_args__ = (UniqueConstraint("tenant", "event_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant: Mapped[str] = mapped_column(String(64))
    event_id: Mapped[str] = mapped_column(String(256))
    sender: Mapped[str] = mapped_column(String(256))
    receiver: Mapped[str] = mapped_column(String(256), index=True)
    text: Mapped[str] = mapped_column(Text)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    status: Mapped[str] = mapped_column(
        String(16),
        default="judging",
        doc="judging, ready (judged, receiver offline), done; retract or restore (a reviewer's "
        "decision owed to an offline receiver who was given the message)",
    )
    outcome: Mapped[str | None] = mapped_column(
        String(16),
        default=None,
        doc="delivered, masked, flagged, withheld; removed (by a reviewer); approved (by a "
        "reviewer before the verdict came)",
    )
    verdict: Mapped[str | None] = mapped_column(Text, default=None, doc="JSON, for delivery")
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    kept_until: Mapped[datetime | None] = mapped_column(
        UTCDateTime, default=None, index=True, doc="when the text of a message not given is erased"
    )
    reason: Mapped[str | None] = mapped_column(
        String(64), default=None, doc="the reviewer's reason, for a retraction owed"
    )


class XAccount(Base):
    """An X account connected by a tenant (infra/x): whose home timeline the poller reads. The
    OAuth tokens are stored encrypted (Fernet, `MODSTREAM_X_TOKEN_KEY`), never in clear;
    `token_version` lets the poller and the API refresh without losing a rotated token."""

    __tablename__ = "x_accounts"
    __table_args__ = (UniqueConstraint("tenant", "x_user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant: Mapped[str] = mapped_column(String(64), index=True)
    x_user_id: Mapped[str] = mapped_column(String(32))
    username: Mapped[str] = mapped_column(String(64))
    access_token: Mapped[str] = mapped_column(Text, doc="encrypted")
    refresh_token: Mapped[str | None] = mapped_column(Text, default=None, doc="encrypted")
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    scopes: Mapped[str] = mapped_column(String(200), doc="space-separated, as X granted")
    token_version: Mapped[int] = mapped_column(Integer, default=0)
    since_id: Mapped[int | None] = mapped_column(
        BigInteger, default=None, doc="the newest tweet id published: the next poll's since_id"
    )
    status: Mapped[str] = mapped_column(
        String(16), default="active", doc="active, or reauthorize (X refused its tokens)"
    )
    connected_by: Mapped[str] = mapped_column(String(300))
    connected_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_poll_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    failures: Mapped[int] = mapped_column(Integer, default=0, doc="failed polls in a row")
    next_poll_at: Mapped[datetime | None] = mapped_column(
        UTCDateTime, default=None, doc="the poller waits until then after errors (back-off)"
    )
    rate_limited_until: Mapped[datetime | None] = mapped_column(
        UTCDateTime, default=None, doc="X's rate limit is spent until then: nobody asks X"
    )
    published: Mapped[int] = mapped_column(Integer, default=0, doc="posts published in total")


class XAuthState(Base):
    """A pending X authorization (OAuth 2.0 PKCE): the `state` sent to X (stored as SHA-256),
    the code verifier (encrypted), and who asked for which tenant. Used once, then deleted."""

    __tablename__ = "x_auth_states"

    state_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(64))
    verifier: Mapped[str] = mapped_column(Text, doc="encrypted")
    actor: Mapped[str] = mapped_column(String(300))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
