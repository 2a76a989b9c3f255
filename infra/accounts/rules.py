"""Each tenant's rule set in force, as its admins saved it through the API.

The accounts store is the one source of truth: stream workers read the highest version of each
tenant's rules here every `MODSTREAM_POLICY_REFRESH` seconds, and compile only what changed.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from infra.accounts.models import Tenant, TenantRules
from infra.accounts.store import AccountsDB
from infra.errors import AccountsError


def tenant_rules(db: AccountsDB) -> dict[str, tuple[int, str]]:
    """Each tenant's rule set in force by tenant name: (version, source). Raises
    `AccountsError`."""
    latest = (
        select(TenantRules.tenant_id, func.max(TenantRules.version).label("version"))
        .group_by(TenantRules.tenant_id)
        .subquery()
    )
    query = (
        select(Tenant.name, TenantRules.version, TenantRules.source)
        .join(TenantRules, TenantRules.tenant_id == Tenant.id)
        .join(
            latest,
            (latest.c.tenant_id == TenantRules.tenant_id)
            & (latest.c.version == TenantRules.version),
        )
    )
    try:
        with db.engine.connect() as conn:
            rows = conn.execute(query).all()
    except SQLAlchemyError as exc:
        raise AccountsError(f"cannot read tenant rules: {type(exc).__name__}") from exc
    return {name: (version, source) for name, version, source in rows}
