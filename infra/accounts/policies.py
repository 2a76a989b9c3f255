"""Each tenant's own decision policy, as tenant admins set it through the API.

The accounts store is the one source of truth: stream workers read every tenant's document here
(by `MODSTREAM_ACCOUNTS_URL`) every `MODSTREAM_POLICY_REFRESH` seconds and lay it over the
operator's policy file, so a change made through the API applies without a restart.
"""

from __future__ import annotations

import logging

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from infra.accounts.models import Tenant, TenantPolicy
from infra.accounts.store import AccountsDB
from infra.errors import AccountsError
from schemas.policy import PolicyDocument

log = logging.getLogger(__name__)


def tenant_policies(db: AccountsDB) -> dict[str, PolicyDocument]:
    """Every tenant's own policy by tenant name; raises `AccountsError`."""
    query = select(Tenant.name, TenantPolicy.document).join(
        TenantPolicy, TenantPolicy.tenant_id == Tenant.id
    )
    try:
        with db.engine.connect() as conn:
            rows = conn.execute(query).all()
    except SQLAlchemyError as exc:
        raise AccountsError(f"cannot read tenant policies: {type(exc).__name__}") from exc
    found: dict[str, PolicyDocument] = {}
    for name, document in rows:
        try:
            found[name] = PolicyDocument.model_validate_json(document)
        except ValidationError as exc:  # written by an older version, or by hand
            log.error("tenant %s: stored policy ignored: %s", name, exc)
    return found
