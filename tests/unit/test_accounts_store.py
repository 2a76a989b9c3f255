"""The accounts store's engine: columns a later version adds reach an existing store, and SQLite's
write-ahead log is checkpointed by a thread of its own, not by a commit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from infra.accounts import AccountsDB
from infra.accounts.store import CHECKPOINTS, Checkpoints
from producers.chat.store import Judgement, Message, MessageStore


def test_new_nullable_columns_are_added_to_an_existing_store(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    old = AccountsDB(url)
    old.create_schema()
    with old.engine.begin() as connection:  # a store written before these columns existed
        connection.exec_driver_sql("DROP INDEX ix_chat_messages_kept_until")
        connection.exec_driver_sql("ALTER TABLE chat_messages DROP COLUMN kept_until")
        connection.exec_driver_sql("ALTER TABLE chat_messages DROP COLUMN reason")
    old.close()
    accounts = AccountsDB(url)
    accounts.create_schema()
    store = MessageStore(accounts)
    store.add_many([Message("t", "m", "ann", "bob", "you idiot")])
    store.judged_many([Judgement("t", "m", "withheld", "{}")])
    assert store.erase_expired(datetime.now(UTC) + store.keep + timedelta(seconds=1)) == 1


def test_write_ahead_logs_are_checkpointed_off_the_request_path(tmp_path: Path) -> None:
    accounts = AccountsDB(f"sqlite:///{tmp_path / 'wal.db'}")
    CHECKPOINTS.remove(accounts.engine)  # this test runs the checkpoints itself
    accounts.create_schema()
    store = MessageStore(accounts)
    database = tmp_path / "wal.db"
    before = database.stat().st_size
    store.add_many([Message("t", f"m{i}", "ann", "bob", "x" * 1_000) for i in range(6_000)])
    assert database.stat().st_size == before  # a commit no longer copies the log in itself
    checkpoints = Checkpoints(every=3_600)
    checkpoints.add(accounts.engine)
    checkpoints.run_once()
    assert database.stat().st_size > before + 1_000_000
    accounts.close()
