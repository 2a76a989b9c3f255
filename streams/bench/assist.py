"""`modstream bench assist`: latency of `POST /v1/assist` for 280-character drafts, through the API
and straight to the assist service, with both running as they do under `modstream up`.

The API and the assist service as `modstream up` runs them (`streams.bench.served`), with a read
token; then sequential keep-alive requests (one composer typing), timed at the client. Drafts
are held-out benign texts (never trained on) joined and cut to 280 characters; a share of them
get a held-out toxic text instead of their tail (those also cost a rewrite). `GET /v1/me` is
timed too: the API's own floor (authentication and request accounting) under the same client.
Target: p95 <= 50 ms.
"""

from __future__ import annotations

import random
import time
from typing import Annotated, Any

import httpx
import numpy as np
import typer
from rich.progress import Progress

from infra.errors import ModstreamError
from infra.progress import task_bar
from infra.report import Column, Figures, emit, figures_console, number
from infra.settings import get_settings
from schemas.assist import SECRET_HEADER
from streams.bench.served import served

bench_assist_app = typer.Typer(no_args_is_help=True)
console = figures_console(stderr=True)  # progress and status; the figures go to stdout

DRAFT_CHARS = 280


def drafts(
    benign: list[str], toxic: list[str], n: int, share: float, rng: random.Random
) -> list[str]:
    """`n` drafts of at most 280 characters (cut at a word) from held-out benign texts; a `share`
    of them end with a held-out toxic text."""
    out = []
    for _ in range(n):
        tail = rng.choice(toxic) if rng.random() < share else ""
        text = ""
        while len(text) < DRAFT_CHARS:
            text = f"{text} {rng.choice(benign)}".strip()
        room = DRAFT_CHARS - len(tail) - 1
        head = text[:room].rsplit(" ", 1)[0] if room > 0 else ""
        out.append(f"{head} {tail}".strip()[:DRAFT_CHARS])
    return out


def _time(
    client: httpx.Client,
    path: str,
    bodies: list[dict[str, Any]],
    bar: Progress,
    warmup: int = 20,
) -> tuple[np.ndarray, list[dict[str, Any]]]:
    times, answers = [], []
    task = bar.add_task(path, total=len(bodies))
    for i, body in enumerate(bodies):
        bar.advance(task)
        started = time.perf_counter()
        response = client.post(path, json=body)
        elapsed = (time.perf_counter() - started) * 1000
        if response.status_code != 200:
            raise ModstreamError(f"{path}: HTTP {response.status_code} {response.text[:200]}")
        if i >= warmup:
            times.append(elapsed)
            answers.append(response.json())
    return np.array(times), answers


@bench_assist_app.command("assist")
def bench_assist(
    requests: Annotated[int, typer.Option(help="Timed requests per target.")] = 500,
    context: Annotated[bool, typer.Option(help="Send the previous draft as context.")] = True,
    toxic_share: Annotated[float, typer.Option(help="Drafts with a toxic passage.")] = 0.1,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """p50/p95/p99 of `POST /v1/assist` for 280-character drafts (target p95 <= 50 ms)."""
    from streams.training.dataset import load_dir, split

    settings = get_settings()
    _, held = split(load_dir(settings.training_data))
    rng = random.Random(7)
    benign = [r.text for r in held if r.toxic == 0]
    toxic = [r.text for r in held if r.toxic == 1 and len(r.text) <= 200]
    texts = drafts(benign, toxic, requests + 20, toxic_share, rng)
    bodies = [
        {"text": t} | ({"context": [texts[i - 1]]} if context and i else {})
        for i, t in enumerate(texts)
    ]
    results = []
    console.print("starting the API and the assist service…")
    with served(settings, "bench-assist", scopes="read") as stack:
        headers = {"Authorization": f"Bearer {stack.token}"}
        direct = {SECRET_HEADER: stack.assist_secret}
        with task_bar(console, enabled=console.is_terminal) as bar:
            with httpx.Client(base_url=stack.api, headers=headers) as c:
                results.append(("through the API", *_time(c, "/v1/assist", bodies, bar)))
                floor = _floor(c, requests, bar)
            with httpx.Client(base_url=stack.assist, headers=direct) as c:
                queries = [b | {"tenant": "bench"} for b in bodies]
                results.append(("assist service alone", *_time(c, "/assist", queries, bar)))
    emit([figures(results, requests, floor)], as_json=as_json)


def _floor(client: httpx.Client, n: int, bar: Progress) -> np.ndarray:
    """`GET /v1/me`: authentication and request accounting, no judging."""
    times = []
    task = bar.add_task("/v1/me", total=n + 20)
    for i in range(n + 20):
        bar.advance(task)
        started = time.perf_counter()
        client.get("/v1/me").raise_for_status()
        if i >= 20:
            times.append((time.perf_counter() - started) * 1000)
    return np.array(times)


TARGET_P95_MS = 50.0


def figures(
    results: list[tuple[str, np.ndarray, list[dict[str, Any]]]], n: int, floor: np.ndarray
) -> Figures:
    """One row per target and draft group (all, not approved), then the API's floor; the p95
    through the API against the target as a note (and `target_met` in JSON)."""
    ms = number(1)
    table = Figures(
        f"bench assist: {n} sequential 280-character drafts (ms, at the client)",
        [Column("target"), Column("drafts"), Column("requests", number()),
         Column("p50", ms, key="p50_ms"), Column("p95", ms, key="p95_ms"),
         Column("p99", ms, key="p99_ms"), Column("max", ms, key="max_ms"),
         Column("service p95", ms, key="service_p95_ms")],
    )  # fmt: skip
    for name, times, answers in results:
        flagged = np.array([a["decision"] != "approve" for a in answers])
        inside = np.array([a["elapsed_ms"] for a in answers])
        for label, mask in (("all", np.ones_like(flagged)), ("not approved", flagged)):
            if not mask.any():
                continue
            t = times[mask]
            p50, p95, p99 = np.percentile(t, [50, 95, 99])
            table.add(
                name, label, int(mask.sum()), p50, p95, p99, t.max(),
                np.percentile(inside[mask], 95),
            )  # fmt: skip
    p50, p95, p99 = np.percentile(floor, [50, 95, 99])
    table.add("GET /v1/me (API floor)", "", len(floor), p50, p95, p99, floor.max(), float("nan"))
    p95 = float(np.percentile(results[0][1], 95))
    met = p95 <= TARGET_P95_MS
    table.facts |= {"target_p95_ms": TARGET_P95_MS, "api_p95_ms": p95, "target_met": met}
    table.notes.append(
        f"Target p95 <= {TARGET_P95_MS:.0f} ms through the API: "
        f"{'met' if met else 'missed'} ({p95:.1f} ms)."
    )
    return table
