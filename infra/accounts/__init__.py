"""The accounts store (tables and engine) and the privacy-mode registry the sink reads."""

from infra.accounts.models import ROLES, SCOPES
from infra.accounts.privacy import PrivacyRegistry, sha256_hex
from infra.accounts.review import ReviewItem  # registers the review tables with the schema
from infra.accounts.store import AccountsDB

__all__ = ["ROLES", "SCOPES", "AccountsDB", "PrivacyRegistry", "ReviewItem", "sha256_hex"]
