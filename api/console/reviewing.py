"""Who may use the review pages: the `moderate` scope on every queue, or the `review` scope (the
`reviewer` role's) on the queues a tenant admin granted, exactly as the review routes decide
(`api.review.grants.access`). The pages pass this access to the route functions, so a decision
outside the grants is refused there, not only hidden here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends

from api.console.web import Caller, CallerDep, NotAllowed
from api.review import grants
from api.review.grants import Access
from infra.errors import Forbidden


@dataclass(frozen=True, slots=True)
class ReviewCaller(Caller):
    """A signed-in caller with the queues it may review (`None`: all of them)."""

    granted: Access

    @property
    def access(self) -> Access:
        return self.granted

    @property
    def moderates(self) -> bool:
        """Holds `moderate`: every queue, and what only moderators do (unblocking an author)."""
        return self.granted.queues is None


def reviewer(caller: CallerDep) -> ReviewCaller:
    with caller.state.accounts.session() as session:
        try:
            access = grants.access(session, caller.principal)
        except Forbidden as exc:
            raise NotAllowed(
                "The review pages need the moderator or admin role, or the reviewer role with "
                "queues granted by a tenant admin."
            ) from exc
    return ReviewCaller(caller.principal, caller.state, caller.csrf, caller.ctx, access)


ReviewerDep = Annotated[ReviewCaller, Depends(reviewer)]
