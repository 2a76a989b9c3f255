"""What accounts do: tenants, users, logins, registration, invitation codes, API tokens, who is
calling, usage and quotas, tenant policies, and the audit log. Plain functions over a SQLAlchemy
`Session`, one module per concern, used by the routes and by `modstream admin`.

Refusals are the domain errors of `infra.errors` (`NotFound`, `Forbidden`, `RateLimited`, …);
the API gives them their HTTP status at its boundary (`api/errors.py`). A refusal raised inside
`AccountsDB.session()` rolls the transaction back, which is what registration wants (an invite
use is undone with the rest); where a refusal must leave a trace (a failed login counts), the
function returns it instead of raising.
"""

from api.accounts.service.audit import audit, audit_json, entries
from api.accounts.service.credentials import resolve
from api.accounts.service.invites import (
    consume_invite,
    create_invite,
    deactivate_invite,
    invites_of,
    owned_invite,
)
from api.accounts.service.logins import LoginResult, login, sign_out
from api.accounts.service.policies import document_of, drop_policy, set_policy, stored_policy
from api.accounts.service.principal import CLI, Context, Principal
from api.accounts.service.registration import register
from api.accounts.service.tenants import (
    TENANT_PATTERN,
    create_tenant,
    set_privacy,
    tenant_by_name,
    tenant_of,
)
from api.accounts.service.tokens import create_token, owned_token, revoke_token, tokens_of
from api.accounts.service.usage import quota_of, usage_of, visible_subjects
from api.accounts.service.users import (
    EMAIL_PATTERN,
    MIN_PASSWORD,
    check_credentials,
    check_role,
    create_user,
    users_of,
)

__all__ = [
    "CLI",
    "EMAIL_PATTERN",
    "MIN_PASSWORD",
    "TENANT_PATTERN",
    "Context",
    "LoginResult",
    "Principal",
    "audit",
    "audit_json",
    "check_credentials",
    "check_role",
    "consume_invite",
    "create_invite",
    "create_tenant",
    "create_token",
    "create_user",
    "deactivate_invite",
    "document_of",
    "drop_policy",
    "entries",
    "invites_of",
    "login",
    "owned_invite",
    "owned_token",
    "quota_of",
    "register",
    "resolve",
    "revoke_token",
    "set_policy",
    "set_privacy",
    "sign_out",
    "stored_policy",
    "tenant_by_name",
    "tenant_of",
    "tokens_of",
    "usage_of",
    "users_of",
    "visible_subjects",
]
