"""Who may review which queues.

The `moderate` scope reviews every queue of the tenant. The `review` scope (the `reviewer`
role's, or a token's) reviews only the queues an admin granted: to the token itself
(`token:<id>`) or to a user (`user:<email>`, which covers the tokens that user owns). With no
grant, such a caller may review nothing; outside its grants it gets a 403 naming them. It reads
items (a verdict, a thread, a review entry) only in its queues (`check_item`), and nothing across
the tenant (`api.deps.check_tenant_read`).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from api.accounts.service import Principal
from infra.accounts.models import ApiToken, User
from infra.accounts.review import ReviewGrant, ReviewItem
from infra.errors import Forbidden, InvalidInput, NotFound


@dataclass(frozen=True, slots=True)
class Access:
    """A caller of the review routes, and the queues it may work in (`None`: all of them)."""

    principal: Principal
    queues: frozenset[str] | None

    @property
    def tenant(self) -> str:
        return self.principal.tenant

    @property
    def actor(self) -> str:
        return self.principal.actor

    @property
    def private(self) -> bool:
        """May read private content (chat messages) in queue entries."""
        return "private" in self.principal.scopes

    def may(self, queue: str) -> bool:
        return self.queues is None or queue in self.queues

    def check(self, queue: str) -> None:
        if self.may(queue):
            return
        granted = ", ".join(sorted(self.queues or ())) or "none yet"
        raise Forbidden(
            "queue_not_granted",
            f"queue {queue!r} is not granted to {self.actor} (granted: {granted}); a tenant "
            f"admin grants queues with PUT /v1/review/grants/{self.actor}",
        )


def identities(principal: Principal) -> list[str]:
    """The reviewer names whose grants apply to the caller: itself, and a token's owner."""
    names = [principal.actor]
    if principal.token_id is not None and principal.email:
        names.append(f"user:{principal.email}")
    return names


def access(session: Session, principal: Principal) -> Access:
    if "moderate" in principal.scopes:
        return Access(principal, None)
    if "review" not in principal.scopes:
        raise Forbidden(
            "insufficient_scope", "this needs the 'moderate' scope, or 'review' with granted queues"
        )
    found = session.scalars(
        select(ReviewGrant.queue).where(
            ReviewGrant.tenant == principal.tenant,
            ReviewGrant.reviewer.in_(identities(principal)),
        )
    )
    return Access(principal, frozenset(found))


def check_item(session: Session, principal: Principal, event_id: str) -> None:
    """For a reviewer limited to granted queues: the item (by event id) must be in one of them,
    open or decided, as itself or as an appeal (403 `item_not_granted` otherwise). Anyone else
    reads every item of the tenant. One index range (`tenant, event_id`) of the entries."""
    if not principal.queue_limited:
        return
    granted = access(session, principal)
    queues = session.scalars(
        select(ReviewItem.queue).where(
            ReviewItem.tenant == principal.tenant, ReviewItem.event_id == event_id
        )
    )
    if any(granted.may(q) for q in queues):
        return
    mine = ", ".join(sorted(granted.queues or ())) or "none yet"
    raise Forbidden(
        "item_not_granted",
        f"{event_id!r} is in no review queue granted to {principal.actor} (granted: {mine}): a "
        "reviewer reads only the items of its queues",
    )


def normalised(reviewer: str) -> str:
    """Emails are stored lower-cased; so are the user names of grants."""
    return reviewer.lower() if reviewer.startswith("user:") else reviewer


def check_reviewer(session: Session, tenant_id: int, reviewer: str) -> None:
    """A grant names a user or a token of the tenant (404 otherwise, as for another tenant's)."""
    kind, _, ident = reviewer.partition(":")
    if kind == "user":
        found = session.scalar(
            select(User.id).where(User.email == ident, User.tenant_id == tenant_id)
        )
    elif kind == "token" and ident.isdigit() and len(ident) < 19:
        found = session.scalar(
            select(ApiToken.id).where(ApiToken.id == int(ident), ApiToken.tenant_id == tenant_id)
        )
    else:
        raise InvalidInput("invalid_reviewer", "a reviewer is user:<email> or token:<id>")
    if found is None:
        raise NotFound("not_found", f"no {kind} {ident!r} in this tenant")


def all_grants(session: Session, tenant: str) -> dict[str, list[str]]:
    out: defaultdict[str, list[str]] = defaultdict(list)
    rows = session.execute(
        select(ReviewGrant.reviewer, ReviewGrant.queue)
        .where(ReviewGrant.tenant == tenant)
        .order_by(ReviewGrant.reviewer, ReviewGrant.queue)
    )
    for reviewer, queue in rows:
        out[reviewer].append(queue)
    return dict(out)


def put(
    session: Session, *, tenant: str, reviewer: str, queues: list[str], by: str, now: datetime
) -> list[str]:
    """Replace the reviewer's grants with `queues`; returns them, sorted."""
    drop(session, tenant, reviewer)
    wanted = sorted(set(queues))
    session.add_all(
        ReviewGrant(tenant=tenant, reviewer=reviewer, queue=q, granted_by=by, granted_at=now)
        for q in wanted
    )
    return wanted


def drop(session: Session, tenant: str, reviewer: str) -> int:
    gone = session.execute(
        delete(ReviewGrant).where(ReviewGrant.tenant == tenant, ReviewGrant.reviewer == reviewer)
    )
    return int(gone.rowcount)  # type: ignore[attr-defined]
