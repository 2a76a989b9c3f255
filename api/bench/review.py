"""`modstream bench review`: a queue of N open items in a fresh accounts store (SQLite, the default
store), then the latency of reading pages of it in priority order and of claims by concurrent
reviewers, and a check that no item was claimed twice.

It times the queue operations the routes run (`api/review/items.py`, `api/review/claims.py`),
each in its own session and transaction as a request runs them, without HTTP in front.
"""

from __future__ import annotations

import random
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from sqlalchemy import insert

from api.review import claims, items, queues
from api.review.queues import Facts
from infra.accounts import AccountsDB
from infra.accounts.review import ReviewItem
from infra.report import Column, Figures, emit, figures_console, number

TENANT = "bench"
START = datetime(2026, 1, 1, tzinfo=UTC)


def _fill(db: AccountsDB, count: int, chunk: int = 50_000) -> float:
    """`count` open items of one queue, spread over 30 days; returns the seconds it took."""
    rng = random.Random(7)
    started = time.perf_counter()
    with db.engine.begin() as conn:
        for first in range(0, count, chunk):
            rows = []
            for n in range(first, min(first + chunk, count)):
                at = START + timedelta(seconds=rng.uniform(0, 30 * 86_400))
                facts = Facts(
                    labels=frozenset(), lang="en", source="comments", kind="post",
                    report_categories=frozenset(), toxic=rng.random(),
                    author_strikes=rng.choice((0, 0, 0, 1, 2, 5)), reports=rng.choice((0, 0, 1, 3)),
                )  # fmt: skip
                rows.append({
                    "tenant": TENANT, "queue": queues.DEFAULT, "state": "open",
                    "rank": queues.rank(at, facts), "event_id": f"ev-{n}", "origin_key": "item",
                    "origin": "verdict", "item_id": str(n), "author": f"user-{n % 20_000}",
                    "source": "comments", "kind": "post", "toxic": facts.toxic,
                    "author_strikes": facts.author_strikes, "reports": facts.reports,
                    "occurred_at": at, "enqueued_at": at,
                })  # fmt: skip
            conn.execute(insert(ReviewItem), rows)
    return time.perf_counter() - started


def _pages(db: AccountsDB, pages: int, size: int) -> list[float]:
    """Follow `next` from the top of the queue, timing each page."""
    took, cursor = [], None
    for _ in range(pages):
        started = time.perf_counter()
        with db.session() as session:
            _, cursor = items.page(session, TENANT, queues.DEFAULT, size, cursor)
        took.append((time.perf_counter() - started) * 1000)
    return took


def _claims(db: AccountsDB, reviewers: int, each: int) -> tuple[list[float], list[str]]:
    """`reviewers` threads claiming `each` items; every claim's time and what it won."""
    took: list[float] = []
    won: list[str] = []
    lock = threading.Lock()
    now = datetime.now(UTC)

    def review(name: str) -> None:
        for _ in range(each):
            started = time.perf_counter()
            with db.session() as session:
                item = claims.claim_next(session, TENANT, queues.DEFAULT, name, 600, now)
                event = item.event_id if item else ""
            ms = (time.perf_counter() - started) * 1000
            with lock:
                took.append(ms)
                won.append(event)

    threads = [threading.Thread(target=review, args=(f"user:r{i}",)) for i in range(reviewers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return took, won


def bench_review(
    count: Annotated[int, typer.Option("--items", help="Open items in the queue.")] = 1_000_000,
    reviewers: Annotated[int, typer.Option(help="Concurrent reviewers claiming.")] = 20,
    claims: Annotated[int, typer.Option(help="Claims per reviewer.")] = 100,
    pages: Annotated[int, typer.Option(help="Pages read, following `next`.")] = 500,
    page_size: Annotated[int, typer.Option(help="Items per page.")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Review queues: page reads in priority order and concurrent claims over N queued items."""
    out = figures_console(stderr=as_json)
    with tempfile.TemporaryDirectory(prefix="modstream-bench-review-") as folder:
        db = AccountsDB(f"sqlite:///{Path(folder) / 'accounts.db'}")
        db.create_schema()
        out.print(f"filling a queue with {count:,} items …")
        filled = _fill(db, count)
        page_ms = _pages(db, pages, page_size)
        alone_ms, alone = _claims(db, 1, claims)
        claim_ms, won = _claims(db, reviewers, claims)
        won += alone
        db.close()
    claimed = [w for w in won if w]
    ms = number(2)
    figures = Figures(
        f"Review queue of {count:,} items (SQLite accounts store)",
        [
            Column("operation"),
            Column("n", number()),
            Column("p50 ms", ms),
            Column("p95 ms", ms),
            Column("p99 ms", ms),
            Column("max ms", ms),
        ],
    )
    for name, took in (
        (f"next page ({page_size} items)", page_ms),
        ("claim (one reviewer)", alone_ms),
        (f"claim ({reviewers} reviewers at once)", claim_ms),
    ):
        p50, p95, p99 = np.percentile(took, [50, 95, 99])
        figures.add(name, len(took), p50, p95, p99, max(took))
    twice = len(claimed) - len(set(claimed))
    figures.facts = {"items": count, "fill_s": filled, "claimed": len(claimed), "twice": twice}
    figures.notes.append(
        f"filled in {filled:.1f} s; {len(claimed):,} claims won, {twice} items claimed twice"
    )
    emit([figures], as_json=as_json, console=out)
    if twice:
        raise typer.Exit(1)
