"""Users: credentials checked before the slow hash, accounts created within a tenant."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.accounts import security
from infra.accounts.models import Tenant, User
from infra.errors import Conflict, InvalidInput

EMAIL_PATTERN = r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$"
MIN_PASSWORD = 12


def check_credentials(email: str, password: str) -> str:
    """The normalised email; refuses malformed emails and short passwords."""
    email = email.strip().lower()
    if len(email) > 254 or not re.match(EMAIL_PATTERN, email):
        raise InvalidInput("invalid_email", "not an email address")
    if len(password) < MIN_PASSWORD:
        raise InvalidInput("weak_password", f"a password has at least {MIN_PASSWORD} characters")
    return email


def check_role(role: str) -> None:
    if role not in security.ROLE_SCOPES:
        raise InvalidInput("invalid_role", f"role is one of {', '.join(security.ROLE_SCOPES)}")


def create_user(
    session: Session, tenant: Tenant, email: str, password_hash: str, role: str
) -> User:
    check_role(role)
    if session.scalar(select(User.id).where(User.email == email)) is not None:
        raise Conflict("email_taken", "an account with this email exists")
    user = User(tenant_id=tenant.id, email=email, password_hash=password_hash, role=role)
    session.add(user)
    session.flush()
    return user


def users_of(session: Session, tenant_id: int) -> list[User]:
    return list(session.scalars(select(User).where(User.tenant_id == tenant_id).order_by(User.id)))
