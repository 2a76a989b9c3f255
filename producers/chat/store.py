"""The gateway's message store: the accounts store's `chat_messages` table (SQLite by default,
PostgreSQL by URL), so a message waits for an offline receiver across gateway restarts and
needs no new service. Plain functions over a session; the gateway calls them off the loop.

Writes come in batches: a commit costs a sync to disk (~4 ms on SQLite here), so one
transaction per message capped the gateway below 100 messages/s (`modstream bench chat`). The
verdict path writes a consumer batch at once; sends are grouped by `GroupCommit`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import groupby
from typing import Any, Generic, TypeVar

from sqlalchemy import select, update

from infra.accounts import AccountsDB
from infra.accounts.models import ChatMessageRow, RevokedLogin, Tenant, User
from infra.accounts.review import TenantReason


@dataclass(frozen=True, slots=True)
class Held:
    event_id: str
    sender: str
    receiver: str
    text: str
    sent_at: datetime
    outcome: str | None
    verdict: str | None


@dataclass(frozen=True, slots=True)
class Message:
    tenant: str
    event_id: str
    sender: str
    receiver: str
    text: str


@dataclass(frozen=True, slots=True)
class Judgement:
    tenant: str
    event_id: str
    outcome: str
    verdict: str


@dataclass(frozen=True, slots=True)
class Ruling:
    """A reviewer's decision on a message (`moderation.actions`): removed (with the reason's
    code), or visible again."""

    tenant: str
    event_id: str
    removed: bool
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Change:
    """What a ruling changed: the sender is told `sender_status`; the receiver, if online, is
    sent `receiver_event` now (an offline receiver gets it on connecting: `owed_to`). A
    message never given that is now to be given waits for its receiver again (`waiting`): the
    gateway gives it at once to a receiver online, as on connecting."""

    tenant: str
    event_id: str
    sender: str
    receiver: str
    sender_status: str
    receiver_event: str | None = None
    waiting: bool = False


@dataclass(frozen=True, slots=True)
class Owed:
    """A retraction or restoration owed to a receiver who was offline."""

    event_id: str
    event: str
    reason: str | None


RETRACT, RESTORE = "retract", "restore"
"""Statuses of a message whose retraction or restoration is owed to an offline receiver."""
_SHOWN = ("delivered", "masked", "flagged")


def _held(row: ChatMessageRow) -> Held:
    return Held(
        row.event_id, row.sender, row.receiver, row.text, row.sent_at, row.outcome, row.verdict
    )


class MessageStore:
    def __init__(self, accounts: AccountsDB, keep: timedelta = timedelta(days=183)) -> None:
        """`keep`: how long the text of a message not given is kept for an appeal (the review
        settings' appeal window)."""
        self.accounts = accounts
        self.keep = keep

    def user_exists(self, tenant: str, email: str) -> bool:
        with self.accounts.session() as session:
            found = session.scalar(
                select(User.id)
                .join(Tenant, Tenant.id == User.tenant_id)
                .where(Tenant.name == tenant, User.email == email, User.active.is_(True))
            )
            return found is not None

    def user_of(self, user_id: int, tenant: str, jti: str | None = None) -> str | None:
        """The email of an active user of `tenant`, or None; None too when `jti`, the login
        token's id, was signed out (the API's revoked logins)."""
        with self.accounts.session() as session:
            if jti is not None and session.get(RevokedLogin, jti) is not None:
                return None
            user = session.get(User, user_id)
            if user is None or not user.active:
                return None
            owner = session.get(Tenant, user.tenant_id)
            return user.email if owner is not None and owner.name == tenant else None

    def add(self, tenant: str, event_id: str, sender: str, receiver: str, text: str) -> None:
        self.add_many([Message(tenant, event_id, sender, receiver, text)])

    def add_many(self, messages: list[Message]) -> None:
        with self.accounts.session() as session:
            session.add_all(
                ChatMessageRow(
                    tenant=m.tenant, event_id=m.event_id, sender=m.sender, receiver=m.receiver,
                    text=m.text,
                )
                for m in messages
            )  # fmt: skip

    def judged(self, tenant: str, event_id: str, outcome: str, verdict: str) -> Held | None:
        """Record the verdict of a message still being judged (None if unknown or done: a
        repeated verdict). Withheld messages are done at once; their text is kept for the
        appeal window (`erase_expired`)."""
        return self.judged_many([Judgement(tenant, event_id, outcome, verdict)])[0]

    def judged_many(self, judgements: list[Judgement]) -> list[Held | None]:
        """`judged` for many, in one transaction (one read and one bulk update per tenant, not
        an ORM round trip per message); the results in the same order."""
        held: dict[tuple[str, str], Any] = {}
        updates: list[dict[str, Any]] = []
        found: list[Held | None] = []
        kept_until = datetime.now(UTC) + self.keep
        with self.accounts.session() as session:
            keys = sorted({(j.tenant, j.event_id) for j in judgements})
            for tenant, group in groupby(keys, key=lambda k: k[0]):
                rows = session.execute(
                    select(
                        ChatMessageRow.id, ChatMessageRow.event_id, ChatMessageRow.sender,
                        ChatMessageRow.receiver, ChatMessageRow.text, ChatMessageRow.sent_at,
                        ChatMessageRow.outcome,
                    ).where(
                        ChatMessageRow.tenant == tenant,
                        ChatMessageRow.event_id.in_([e for _, e in group]),
                        ChatMessageRow.status == "judging",
                    )
                )  # fmt: skip
                held.update(((tenant, r.event_id), r) for r in rows)
            for j in judgements:
                row = held.pop((j.tenant, j.event_id), None)  # a repeat in the batch: done
                if row is None:
                    found.append(None)
                    continue
                # A reviewer decided before the verdict came (the topics are read side by side).
                outcome = {"removed": "withheld", "approved": "delivered"}.get(
                    row.outcome or "", j.outcome
                )
                withheld = outcome == "withheld"
                updates.append({
                    "id": row.id, "outcome": outcome, "verdict": j.verdict,
                    "status": "done" if withheld else "ready",
                    "kept_until": kept_until if withheld else None,
                })  # fmt: skip
                found.append(Held(row.event_id, row.sender, row.receiver, row.text, row.sent_at,
                                  outcome, j.verdict))  # fmt: skip
            if updates:
                session.execute(update(ChatMessageRow), updates)
        return found

    def delivered(self, tenant: str, event_ids: list[str]) -> None:
        self.delivered_many([(tenant, e) for e in event_ids])

    def delivered_many(self, keys: Iterable[tuple[str, str]]) -> None:
        """Mark (tenant, event id) delivered and erase their text, in one transaction."""
        now = datetime.now(UTC)
        with self.accounts.session() as session:
            for tenant, group in groupby(sorted(keys), key=lambda k: k[0]):
                session.execute(
                    update(ChatMessageRow)
                    .where(
                        ChatMessageRow.tenant == tenant,
                        ChatMessageRow.event_id.in_([e for _, e in group]),
                    )
                    .values(status="done", text="", delivered_at=now)
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

    def ruled_many(self, rulings: list[Ruling], online: frozenset[tuple[str, str]]) -> list[Change]:
        """Apply reviewers' decisions to the messages they concern, in one transaction; what
        changed, for the gateway to tell. A removal withholds a message still waiting for its
        receiver, and retracts one already given; a decision making it visible again gives a
        message never given (withheld or removed) and restores what was retracted. Only once
        its appeal window has passed has a message never given lost its text: then its sender
        is told it was cleared (`cleared`), so it may be sent again."""
        changes: list[Change] = []
        kept_until = datetime.now(UTC) + self.keep
        with self.accounts.session() as session:
            for ruling in rulings:
                row = session.scalar(
                    select(ChatMessageRow).where(
                        ChatMessageRow.tenant == ruling.tenant,
                        ChatMessageRow.event_id == ruling.event_id,
                    )
                )
                if row is None:
                    continue  # not a message of this gateway
                online_now = (ruling.tenant, row.receiver) in online
                if ruling.removed:
                    change = _remove(row, online_now, ruling.reason, kept_until)
                else:
                    change = _restore(row, online_now)
                if change is not None:
                    changes.append(
                        Change(ruling.tenant, row.event_id, row.sender, row.receiver, *change)
                    )
        return changes

    def reason_title(self, tenant: str, code: str) -> str | None:
        """The title of a reason the tenant added to the default taxonomy, if it has it."""
        with self.accounts.session() as session:
            return session.scalar(
                select(TenantReason.title).where(
                    TenantReason.tenant == tenant, TenantReason.code == code
                )
            )

    def erase_expired(self, now: datetime | None = None) -> int:
        """Erase the texts of messages never given whose appeal window has passed; how many."""
        with self.accounts.session() as session:
            result = session.execute(
                update(ChatMessageRow)
                .where(ChatMessageRow.kept_until < (now or datetime.now(UTC)))
                .values(text="", kept_until=None)
            )
            return int(getattr(result, "rowcount", 0) or 0)

    def owed_to(self, tenant: str, receiver: str) -> list[Owed]:
        """Retractions and restorations owed to a receiver who was offline, oldest first,
        marked settled (the receiver is connecting now)."""
        with self.accounts.session() as session:
            rows = list(
                session.scalars(
                    select(ChatMessageRow)
                    .where(
                        ChatMessageRow.tenant == tenant,
                        ChatMessageRow.receiver == receiver,
                        ChatMessageRow.status.in_([RETRACT, RESTORE]),
                    )
                    .order_by(ChatMessageRow.id)
                )
            )
            owed = [Owed(r.event_id, r.status, r.reason) for r in rows]
            for row in rows:
                row.status = "done"
            return owed

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


def _remove(
    row: ChatMessageRow, online: bool, reason: str, kept_until: datetime
) -> tuple[str, str | None, bool] | None:
    """A removal: (sender status, receiver event now, False: it does not wait for its receiver
    any more), or None if nothing changes."""
    if row.status == "judging":  # the verdict is still to come: it will be withheld
        row.outcome = "removed"
        return "removed", None, False
    if row.outcome in ("withheld", "removed"):
        return None  # never shown, or taken back already
    restore_owed = row.status == RESTORE
    given = row.delivered_at is not None and row.status in ("done", RESTORE)
    row.outcome, row.reason = "removed", reason
    if not given:  # still waiting for its receiver: kept, never given, unless overturned
        row.status, row.kept_until = "done", kept_until
        return "removed", None, False
    row.text = ""  # the receiver has it: a restoration only shows it again
    if restore_owed:  # its restoration never reached the receiver: nothing owed
        row.status = "done"
        return "removed", None, False
    row.status = "done" if online else RETRACT
    return "removed", RETRACT if online else None, False


def _restore(row: ChatMessageRow, online: bool) -> tuple[str, str | None, bool] | None:
    """A decision making the message visible: (sender status, receiver event now, whether it
    now waits for its receiver), or None if nothing changes."""
    if row.status == "judging":  # the verdict is still to come: given as written
        row.outcome = "approved"
        return None
    if row.status == "ready":  # waiting for its receiver: given as written, unmasked
        if row.outcome in ("masked", "flagged"):
            row.outcome = "delivered"
            return "restored", None, True
        return None
    if row.status == RETRACT:  # the retraction never reached the receiver
        row.status, row.outcome = "done", "delivered"
        return "restored", None, False
    if row.outcome == "removed" and row.delivered_at is not None:
        row.outcome = "delivered"
        row.status = "done" if online else RESTORE
        return "restored", RESTORE if online else None, False
    if row.outcome in ("withheld", "removed"):  # never given
        if not row.text:  # its appeal window passed
            return "cleared", None, False
        row.status, row.outcome, row.kept_until = "ready", "delivered", None
        return "restored", None, True
    return None


T = TypeVar("T")


class GroupCommit(Generic[T]):
    """Writes items submitted concurrently in one call of `write` (off the loop): while one
    transaction commits, the next items gather, so the commit rate no longer caps throughput.
    `submit` returns once its items are written, or raises what the write raised."""

    def __init__(self, write: Callable[[list[T]], None]) -> None:
        self._write = write
        self._queue: list[tuple[tuple[T, ...], asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def submit(self, *items: T) -> None:
        if not items:
            return
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.append((items, done))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._drain())
        await done

    async def _drain(self) -> None:
        while self._queue:
            batch, self._queue = self._queue, []
            try:
                await asyncio.to_thread(self._write, [i for items, _ in batch for i in items])
            except Exception as exc:  # handed to every waiting submitter
                for _, done in batch:
                    if not done.done():
                        done.set_exception(exc)
            else:
                for _, done in batch:
                    if not done.done():
                        done.set_result(None)
