"""The accounts store's engine: SQLite under the data dir by default, PostgreSQL (or any database
SQLAlchemy speaks) by URL. The schema is created with `create_all` (idempotent) at start-up;
indexes and nullable columns a later version adds to an existing table are added then too."""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from infra.accounts.models import Base, Lock
from infra.errors import AccountsError

log = logging.getLogger(__name__)


class AccountsDB:
    """The engine and a session factory. Sessions commit on success, roll back on error, and
    translate database errors into `AccountsError`."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    def create_schema(self) -> None:
        try:
            Base.metadata.create_all(self.engine)
            # `create_all` makes a table's columns and indexes only with the table: add those
            # a later version introduced to a table that existed already.
            self._add_new_columns()
            for table in Base.metadata.sorted_tables:
                for index in table.indexes:
                    index.create(self.engine, checkfirst=True)
            with self.session() as session:
                if session.get(Lock, "registration") is None:
                    session.add(Lock(name="registration", n=0))
        except SQLAlchemyError as exc:
            raise AccountsError(f"cannot create the accounts schema: {exc}") from exc

    def _add_new_columns(self) -> None:
        """`create_all` leaves existing tables as they are: add the columns a later version
        introduced. Only nullable columns without a default are ever added this way, so rows
        written before read as NULL and nothing needs rewriting."""
        existing = inspect(self.engine)
        for table in Base.metadata.sorted_tables:
            have = {c["name"] for c in existing.get_columns(table.name)}
            for column in table.columns:
                if column.name in have:
                    continue
                if not column.nullable or column.server_default is not None:
                    raise AccountsError(
                        f"accounts store: {table.name}.{column.name} cannot be added to an "
                        "existing table (not nullable)"
                    )
                kind = column.type.compile(dialect=self.engine.dialect)
                try:
                    with self.engine.begin() as connection:
                        connection.execute(
                            text(f'ALTER TABLE {table.name} ADD COLUMN "{column.name}" {kind}')
                        )
                except SQLAlchemyError:
                    # Another process starting at the same moment may have added it first.
                    added = inspect(self.engine).get_columns(table.name)
                    if column.name not in {c["name"] for c in added}:
                        raise

    @contextmanager
    def session(self) -> Iterator[Session]:
        session = self._sessions()
        try:
            yield session
            session.commit()
        except SQLAlchemyError as exc:
            session.rollback()
            raise AccountsError(f"accounts store: {type(exc).__name__}") from exc
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def close(self) -> None:
        CHECKPOINTS.remove(self.engine)
        self.engine.dispose()


def make_engine(url: str) -> Engine:
    if not url.startswith("sqlite"):
        return create_engine(url, pool_pre_ping=True)
    path = url.split("///", 1)[1] if "///" in url else ""
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _pragmas(connection: Any, _record: Any) -> None:
        cursor = connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")  # readers do not wait for the writer
        # With WAL, NORMAL syncs at checkpoints instead of each commit: safe when a process
        # crashes; only a power cut or an OS crash can lose the last commits.
        cursor.execute("PRAGMA synchronous=NORMAL")
        # The checkpoint thread below copies the log into the database; a commit does so itself
        # only past this many pages, if that thread falls behind.
        cursor.execute(f"PRAGMA wal_autocheckpoint={BACKSTOP_PAGES}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    if path and path != ":memory:":
        CHECKPOINTS.add(engine)
    return engine


BACKSTOP_PAGES = 16_000
"""Log pages (4 KiB each) past which a commit checkpoints itself, as SQLite does at 1,000."""


class Checkpoints:
    """Checkpoints SQLite's write-ahead logs off the request path, one thread per process.

    By default the commit that takes the log past 1,000 pages copies it into the database and
    syncs it: 100-270 ms on this kind of disk, which every write waiting behind that commit
    waits too (20 reviewers claiming at once: p95 18 ms with it, 6-9 ms without). Here a
    daemon thread runs a passive checkpoint of every file-backed store each second; a passive
    checkpoint never blocks a writer or a reader.
    """

    def __init__(self, every: float = 1.0) -> None:
        self.every = every
        self._engines: weakref.WeakSet[Engine] = weakref.WeakSet()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def add(self, engine: Engine) -> None:
        with self._lock:
            self._engines.add(engine)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="sqlite-checkpoints", daemon=True
                )
                self._thread.start()

    def remove(self, engine: Engine) -> None:
        with self._lock:
            self._engines.discard(engine)

    def run_once(self) -> None:
        with self._lock:
            engines = list(self._engines)
        for engine in engines:
            try:
                with engine.connect() as connection:
                    connection.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")
            except SQLAlchemyError as exc:  # its file gone, say: stop trying it
                log.warning("no more checkpoints of %s: %s", engine.url, exc)
                self.remove(engine)

    def _run(self) -> None:
        while True:
            time.sleep(self.every)
            self.run_once()


CHECKPOINTS = Checkpoints()
