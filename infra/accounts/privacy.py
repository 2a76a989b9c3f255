"""Which tenants are in privacy mode, for the warehouse sink (and anything else below the API).

The accounts store is the one source of truth: the sink reads it by URL
(`MODSTREAM_ACCOUNTS_URL`), so privacy holds whatever wrote the event: the HTTP ingest, or a
producer writing straight to Kafka. The set is cached for `MODSTREAM_PRIVACY_REFRESH` seconds;
in embedded mode the API also invalidates it the moment a tenant's mode changes.

What privacy mode keeps (docs/security.md, "Privacy mode", says the same):
- `events`: every column but the text; `text` is empty, `content_sha256` holds the SHA-256 of
  the text, and `payload` has neither `text` nor the thread `context` (earlier texts).
- `verdicts`: the verdict (scores, spans as character offsets, decision, versions) but not its
  rewrite suggestion, which is words of the text.
- `dead_letters`: reason and position; `raw` is `sha256:<hex>` of the raw record and `detail`
  only the reason (a validation message could quote the input).
A record whose tenant cannot be told (unparseable and unkeyed) is treated as private.
"""

from __future__ import annotations

import hashlib
import threading
import time

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from infra.accounts.models import Tenant
from infra.accounts.store import AccountsDB
from infra.errors import AccountsError


def sha256_hex(data: str | bytes) -> str:
    return hashlib.sha256(data.encode() if isinstance(data, str) else data).hexdigest()


class PrivacyRegistry:
    def __init__(self, db: AccountsDB, ttl: float = 2.0) -> None:
        self.db = db
        self.ttl = ttl
        self._private: frozenset[str] = frozenset()
        self._loaded_at = float("-inf")
        self._lock = threading.Lock()

    @property
    def fresh(self) -> bool:
        """Loaded within the TTL: `refresh()` would not read the store."""
        return time.monotonic() - self._loaded_at < self.ttl

    def refresh(self, *, force: bool = False) -> None:
        """Reload the set if it is older than the TTL (or `force`); raises `AccountsError`."""
        if not force and self.fresh:
            return
        with self._lock:
            try:
                with self.db.engine.connect() as conn:
                    names = conn.execute(
                        select(Tenant.name).where(Tenant.privacy_mode.is_(True))
                    ).scalars()
                    self._private = frozenset(names)
            except SQLAlchemyError as exc:
                raise AccountsError(f"cannot read privacy modes: {type(exc).__name__}") from exc
            self._loaded_at = time.monotonic()

    def invalidate(self) -> None:
        self._loaded_at = float("-inf")

    def is_private(self, tenant: str | None) -> bool:
        return tenant is None or tenant in self._private
