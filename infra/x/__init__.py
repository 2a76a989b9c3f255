"""The adapter to X (Twitter): API v2 client with OAuth 2.0 PKCE and rate limits, token
encryption at rest, the connected-accounts store, and one poll of an account (shared by the
poller in `producers/x` and the API's preview)."""

from infra.x.cipher import TokenCipher
from infra.x.client import XClient
from infra.x.errors import XAuthError, XError, XRateLimited
from infra.x.poll import PollResult, XPoll
from infra.x.store import XAccounts

__all__ = [
    "PollResult",
    "TokenCipher",
    "XAccounts",
    "XAuthError",
    "XClient",
    "XError",
    "XPoll",
    "XRateLimited",
]
