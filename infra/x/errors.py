"""Errors of the X adapter, in the project's one hierarchy (`infra/errors.py`):

    ModstreamError
    └── XError              X unreachable, or an answer that is not what the API documents
        ├── XAuthError      X refused the account's tokens (revoked, or the refresh token is
        │                   spent): the operator must connect the account again
        └── XRateLimited    a rate limit whose reset is further away than the caller may wait;
                            carries `retry_at` (epoch seconds)

httpx errors are translated into these in `infra/x/client.py`, with `raise … from exc`.
"""

from __future__ import annotations

from infra.errors import ModstreamError


class XError(ModstreamError):
    pass


class XAuthError(XError):
    pass


class XRateLimited(XError):
    def __init__(self, endpoint: str, retry_at: float) -> None:
        super().__init__(f"rate limited on {endpoint} until {retry_at:.0f}")
        self.endpoint = endpoint
        self.retry_at = retry_at
