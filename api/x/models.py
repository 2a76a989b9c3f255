"""What the X routes answer: connected accounts, a started connection, a preview's summary, and
the examples the OpenAPI document shows."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from api.rollups import HARMFUL
from infra.accounts.models import XAccount

MAX_PREVIEW_WAIT = 30.0


class ConnectStarted(BaseModel):
    authorization_url: str = Field(description="Open it in a browser and approve at X.")
    expires_at: datetime = Field(description="The authorization must finish before this.")


class XAccountPublic(BaseModel):
    id: int
    x_user_id: str
    username: str
    status: str = Field(description="`active`, or `reauthorize`: X refused its tokens.")
    scopes: list[str]
    connected_by: str
    connected_at: datetime
    token_expires_at: datetime
    since_id: str | None = Field(description="The newest tweet published (the checkpoint).")
    published: int = Field(description="Posts published from this account in total.")
    last_poll_at: datetime | None
    last_error: str | None
    next_poll_at: datetime | None = Field(description="Backing off after errors until then.")
    rate_limited_until: datetime | None = Field(description="X's rate limit is spent until then.")

    @classmethod
    def of(cls, account: XAccount) -> XAccountPublic:
        return cls(
            id=account.id,
            x_user_id=account.x_user_id,
            username=account.username,
            status=account.status,
            scopes=sorted(account.scopes.split()),
            connected_by=account.connected_by,
            connected_at=account.connected_at,
            token_expires_at=account.expires_at,
            since_id=str(account.since_id) if account.since_id is not None else None,
            published=account.published,
            last_poll_at=account.last_poll_at,
            last_error=account.last_error,
            next_poll_at=account.next_poll_at,
            rate_limited_until=account.rate_limited_until,
        )


class XAccountsPublic(BaseModel):
    data: list[XAccountPublic]
    count: int


class PreviewRequest(BaseModel):
    wait: float = Field(
        default=10.0, ge=0, le=MAX_PREVIEW_WAIT, description="Seconds to wait for verdicts."
    )


class LabelCount(BaseModel):
    label: str
    items: int = Field(description=f"Judged items scoring at least {HARMFUL} on the label.")


class PreviewSummary(BaseModel):
    account_id: int
    fetched: int = Field(description="Tweets X returned since the checkpoint.")
    new: int = Field(description="Of those, published now as posts (not seen before).")
    pages: int
    truncated: bool = Field(description="More pages than MODSTREAM_X_MAX_PAGES: older skipped.")
    judged: int = Field(description="New posts whose verdict arrived within `wait`.")
    pending: int = Field(description="New posts still being judged when `wait` ran out.")
    decisions: dict[str, int]
    top_labels: list[LabelCount]
    event_ids: list[str] = Field(description="Look them up at /v1/verdicts/{event_id}.")


EXAMPLE_ACCOUNT: dict[str, Any] = {
    "id": 1,
    "x_user_id": "1849000000000000001",
    "username": "acme_moderation",
    "status": "active",
    "scopes": ["follows.read", "offline.access", "tweet.read", "users.read"],
    "connected_by": "user:admin@acme.example",
    "connected_at": "2026-11-21T09:30:00Z",
    "token_expires_at": "2026-11-21T11:30:00Z",
    "since_id": "1850000000000004711",
    "published": 412,
    "last_poll_at": "2026-11-21T10:41:00Z",
    "last_error": None,
    "next_poll_at": None,
    "rate_limited_until": None,
}
EXAMPLE_SUMMARY: dict[str, Any] = {
    "account_id": 1,
    "fetched": 3,
    "new": 3,
    "pages": 1,
    "truncated": False,
    "judged": 3,
    "pending": 0,
    "decisions": {"approve": 2, "reject": 1},
    "top_labels": [{"label": "toxic", "items": 1}, {"label": "insult", "items": 1}],
    "event_ids": ["x-1850000000000004712", "x-1850000000000004790", "x-1850000000000004801"],
}
EXAMPLE_CONNECT: dict[str, Any] = {
    "authorization_url": "https://x.com/i/oauth2/authorize?response_type=code&client_id="
    "…&redirect_uri=…%2Fv1%2Fx%2Fcallback&scope=tweet.read+users.read+follows.read+"
    "offline.access&state=…&code_challenge=…&code_challenge_method=S256",
    "expires_at": "2026-11-21T09:40:00Z",
}
