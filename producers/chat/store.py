"""The gateway's message store: the accounts store's `chat_messages` table (SQLite by default,
PostgreSQL by URL), so a message waits for an offline receiver across gateway restarts and
needs no new service. Plain functions over a session; the gateway calls them off the loop."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select, update

from infra.accounts import AccountsDB
from infra.accounts.models import ChatMessageRow, Tenant, User


@dataclass(frozen=True, slots=True)
class Held:
    event_id: str
    sender: str
    receiver: str
    text: str
    sent_at: datetime
    outcome: str | None
    verdict: str | None


def _held(row: ChatMessageRow) -> Held:
    return Held(
        row.event_id, row.sender, row.receiver, row.text, row.sent_at, row.outcome, row.verdict
    )


class MessageStore:
    def __init__(self, accounts: AccountsDB) -> None:
        self.accounts = accounts

    def user_exists(self, tenant: str, email: str) -> bool:
        with self.accounts.session() as session:
            found = session.scalar(
                select(User.id)
                .join(Tenant, Tenant.id == User.tenant_id)
                .where(Tenant.name == tenant, User.email == email, User.active.is_(True))
            )
            return found is not None

    def user_of(self, user_id: int, tenant: str) -> str | None:
        """The email of an active user of `tenant`, or None."""
        with self.accounts.session() as session:
            user = session.get(User, user_id)
            if user is None or not user.active:
                return None
            owner = session.get(Tenant, user.tenant_id)
            return user.email if owner is not None and owner.name == tenant else None

    def add(self, tenant: str, event_id: str, sender: str, receiver: str, text: str) -> None:
        with self.accounts.session() as session:
            session.add(
                ChatMessageRow(
                    tenant=tenant, event_id=event_id, sender=sender, receiver=receiver, text=text
                )
            )

    def judged(self, tenant: str, event_id: str, outcome: str, verdict: str) -> Held | None:
        """Record the verdict of a message still being judged (None if unknown or done: a
        repeated verdict). Withheld messages are done at once and lose their text."""
        with self.accounts.session() as session:
            row = session.scalar(
                select(ChatMessageRow).where(
                    ChatMessageRow.tenant == tenant,
                    ChatMessageRow.event_id == event_id,
                    ChatMessageRow.status == "judging",
                )
            )
            if row is None:
                return None
            held = _held(row)
            row.outcome, row.verdict = outcome, verdict
            row.status = "ready"
            if outcome == "withheld":
                row.status, row.text = "done", ""
            return Held(held.event_id, held.sender, held.receiver, held.text, held.sent_at,
                        outcome, verdict)  # fmt: skip

    def delivered(self, tenant: str, event_ids: list[str]) -> None:
        with self.accounts.session() as session:
            session.execute(
                update(ChatMessageRow)
                .where(ChatMessageRow.tenant == tenant, ChatMessageRow.event_id.in_(event_ids))
                .values(status="done", text="", delivered_at=datetime.now(UTC))
            )

    def waiting_for(self, tenant: str, receiver: str) -> list[Held]:
        """Judged messages the receiver has not been given yet, oldest first."""
        with self.accounts.session() as session:
            rows = session.scalars(
                select(ChatMessageRow)
                .where(
                    ChatMessageRow.tenant == tenant,
                    ChatMessageRow.receiver == receiver,
                    ChatMessageRow.status == "ready",
                )
                .order_by(ChatMessageRow.id)
            )
            return [_held(r) for r in rows]

    def mark_read(self, tenant: str, receiver: str, event_id: str) -> str | None:
        """Record a read receipt; the sender to tell, or None if it is not the reader's."""
        with self.accounts.session() as session:
            row = session.scalar(
                select(ChatMessageRow).where(
                    ChatMessageRow.tenant == tenant,
                    ChatMessageRow.event_id == event_id,
                    ChatMessageRow.receiver == receiver,
                )
            )
            if row is None or row.outcome == "withheld":
                return None
            row.read_at = row.read_at or datetime.now(UTC)
            return row.sender
