"""The chat gateway's message store in batches, against a real SQLite accounts store: the verdict
path's bulk writes keep the per-message rules, grouped sends share a commit, and reviewers'
decisions withhold, retract and restore messages by what their receivers were given."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from infra.accounts import AccountsDB
from infra.accounts.models import RevokedLogin, Tenant, User
from infra.errors import AccountsError
from producers.chat.store import GroupCommit, Judgement, Message, MessageStore, Owed, Ruling


@pytest.fixture
def store(tmp_path: Path) -> MessageStore:
    accounts = AccountsDB(f"sqlite:///{tmp_path / 'accounts.db'}")
    accounts.create_schema()
    return MessageStore(accounts)


def test_judged_many_keeps_the_rules_of_one_at_a_time(store: MessageStore) -> None:
    store.add_many([
        Message("t", "m1", "ann", "bob", "hello bob"),
        Message("t", "m2", "ann", "bob", "you idiot"),
        Message("u", "m1", "cat", "dan", "another tenant's m1"),
    ])  # fmt: skip
    held = store.judged_many([
        Judgement("t", "m2", "withheld", "{}"),
        Judgement("t", "m1", "delivered", "{}"),
        Judgement("t", "m1", "delivered", "{}"),  # a repeated verdict in the same batch
        Judgement("t", "unknown", "delivered", "{}"),
    ])  # fmt: skip
    assert [h.event_id if h else None for h in held] == ["m2", "m1", None, None]
    assert held[0] is not None
    assert (held[0].text, held[0].outcome) == ("you idiot", "withheld")  # what the sender learns
    assert store.judged("t", "m1", "delivered", "{}") is None  # done: judged once
    # Withheld messages are done (their text kept for an appeal); delivered ones wait for their
    # receiver.
    assert [h.event_id for h in store.waiting_for("t", "bob")] == ["m1"]
    assert store.judged("u", "m1", "masked", "{}") is not None  # the other tenant's is its own
    store.delivered_many([("t", "m1"), ("u", "m1")])
    assert store.waiting_for("t", "bob") == []
    assert store.waiting_for("u", "dan") == []


async def test_group_commit_writes_concurrent_items_together(store: MessageStore) -> None:
    calls: list[int] = []

    def write(messages: list[Message]) -> None:
        calls.append(len(messages))
        store.add_many(messages)

    group: GroupCommit[Message] = GroupCommit(write)
    await asyncio.gather(*(group.submit(Message("t", f"g{i}", "a", "b", "hi")) for i in range(20)))
    assert sum(calls) == 20
    assert len(calls) < 20  # items that came while a commit ran went in the next one together
    assert store.judged("t", "g19", "delivered", "{}") is not None


async def test_group_commit_hands_a_failure_to_every_waiting_submitter(
    store: MessageStore,
) -> None:
    group: GroupCommit[Message] = GroupCommit(store.add_many)
    await group.submit(Message("t", "dup", "a", "b", "hi"))
    results = await asyncio.gather(
        group.submit(Message("t", "dup", "a", "b", "again")),  # violates (tenant, event_id)
        return_exceptions=True,
    )
    assert isinstance(results[0], AccountsError)
    await group.submit(Message("t", "after", "a", "b", "the group goes on"))
    assert store.judged("t", "after", "delivered", "{}") is not None


def _judged(store: MessageStore, event_id: str, outcome: str, *, given: bool) -> None:
    store.add_many([Message("t", event_id, "ann", "bob", f"text of {event_id}")])
    store.judged("t", event_id, outcome, "{}")
    if given:
        store.delivered_many([("t", event_id)])


BOB_ONLINE = frozenset({("t", "bob")})


def test_reviewers_decisions_withhold_retract_and_restore(store: MessageStore) -> None:
    _judged(store, "given", "delivered", given=True)
    _judged(store, "waiting", "masked", given=False)
    _judged(store, "waiting2", "delivered", given=False)
    _judged(store, "withheld", "withheld", given=False)
    store.add_many([Message("t", "judging", "ann", "bob", "not judged yet")])

    def rule(removed: bool, *ids: str, online: frozenset[tuple[str, str]] = BOB_ONLINE) -> Any:
        changes = store.ruled_many([Ruling("t", e, removed, "insult") for e in ids], online)
        return [(c.event_id, c.sender_status, c.receiver_event, c.waiting) for c in changes]

    # Removed: the given one is retracted now; the waiting one is withheld, never given.
    assert rule(True, "given", "waiting2", "withheld", "unknown") == [
        ("given", "removed", "retract", False), ("waiting2", "removed", None, False),
    ]  # fmt: skip
    assert [h.event_id for h in store.waiting_for("t", "bob")] == ["waiting"]
    # Approved: a masked one waiting is given as written; the retracted one is restored; the
    # ones withheld before they were given kept their text, and wait for their receiver again.
    assert rule(False, "waiting", "given", "waiting2", "withheld") == [
        ("waiting", "restored", None, True), ("given", "restored", "restore", False),
        ("waiting2", "restored", None, True), ("withheld", "restored", None, True),
    ]  # fmt: skip
    waiting = {h.event_id: h for h in store.waiting_for("t", "bob")}
    assert {e: (h.outcome, h.text) for e, h in waiting.items()} == {
        e: ("delivered", f"text of {e}") for e in ("waiting", "waiting2", "withheld")
    }
    store.delivered_many([("t", "waiting2"), ("t", "withheld")])

    # The receiver offline: what they were given is retracted when they connect, once, with the
    # reviewer's reason.
    assert rule(True, "given", online=frozenset()) == [("given", "removed", None, False)]
    assert store.owed_to("t", "bob") == [Owed("given", "retract", "insult")]
    assert store.owed_to("t", "bob") == []
    # Restored while offline, then removed again before they came back: nothing is owed.
    assert rule(False, "given", online=frozenset()) == [("given", "restored", None, False)]
    assert rule(True, "given", online=frozenset()) == [("given", "removed", None, False)]
    assert store.owed_to("t", "bob") == []

    # A decision that comes before the verdict (the topics are read side by side) wins.
    assert rule(True, "judging") == [("judging", "removed", None, False)]
    held = store.judged("t", "judging", "delivered", "{}")
    assert held is not None
    assert held.outcome == "withheld"


def test_the_text_of_a_message_never_given_is_erased_after_its_appeal_window(
    store: MessageStore,
) -> None:
    _judged(store, "old", "withheld", given=False)
    _judged(store, "given", "delivered", given=True)
    now = datetime.now(UTC)
    assert store.erase_expired(now) == 0  # within the window: kept for an appeal
    assert store.erase_expired(now + store.keep + timedelta(seconds=1)) == 1
    # An overturn after the window cannot give it any more: the sender is told it was cleared.
    [change] = store.ruled_many([Ruling("t", "old", removed=False)], BOB_ONLINE)
    assert (change.sender_status, change.waiting) == ("cleared", False)
    assert store.waiting_for("t", "bob") == []


def test_a_signed_out_login_opens_no_chat_connection(store: MessageStore) -> None:
    with store.accounts.session() as session:
        tenant = Tenant(name="chat-t")
        session.add(tenant)
        session.flush()
        user = User(tenant_id=tenant.id, email="c@example.com", password_hash="x", role="member")
        session.add(user)
        session.flush()
        ident = user.id
    assert store.user_of(ident, "chat-t", "live-jti") == "c@example.com"
    with store.accounts.session() as session:
        session.add(RevokedLogin(jti="gone-jti", expires_at=datetime.now(UTC) + timedelta(hours=1)))
    assert store.user_of(ident, "chat-t", "gone-jti") is None
    assert store.user_of(ident, "chat-t", "live-jti") == "c@example.com"
