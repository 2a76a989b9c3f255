"""Who is calling and from where: what every other accounts function is handed."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the tenant they act for (decided by `credentials.resolve`, nowhere
    else), their scopes, and the user and/or token behind the request."""

    tenant: str
    tenant_id: int
    scopes: frozenset[str]
    user_id: int | None = None
    email: str | None = None
    role: str | None = None
    token_id: int | None = None

    @property
    def actor(self) -> str:
        return f"token:{self.token_id}" if self.token_id is not None else f"user:{self.email}"

    @property
    def subject(self) -> str:
        return f"token:{self.token_id}" if self.token_id is not None else f"user:{self.user_id}"

    @property
    def queue_limited(self) -> bool:
        """A reviewer limited to granted queues (`review` without `moderate`): it reads items
        only in those queues, and nothing tenant-wide (api/review/grants.py)."""
        return "review" in self.scopes and "moderate" not in self.scopes

    @property
    def is_session(self) -> bool:
        """Signed in with a password (a login JWT), not an API token."""
        return self.token_id is None


@dataclass(frozen=True, slots=True)
class Context:
    """Where an action came from, for the audit log."""

    request_id: str | None = None
    client: str | None = None


CLI = Context(request_id=None, client="cli")
