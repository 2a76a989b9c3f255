"""`modstream bench moderate`: latency of synchronous moderation at a steady rate from several
clients: `POST /v1/moderate`, and beside it the Perspective- and OpenAI-compatible routes.

The API and the assist service as `modstream up` runs them (`streams.bench.served`), with an
`ingest` token; then, per route, `--clients` keep-alive clients together sending `--rate`
requests per second (each client on its own fixed schedule, so a slow answer does not slow the
offered load), timed at the client from send to answer. The routes take turns (`--rounds`), so
a stack that slows over a run slows every route alike. Texts are held-out benign texts joined
and cut to 280 characters, a share ending with a held-out toxic text (those also get a rewrite).
Every request is judged by the cascade and published (event and verdict acknowledged by the
broker) before it is answered. Targets: `/v1/moderate` p95 <= 60 ms and p99 <= 120 ms; the
compatible routes within 10 ms of it.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from typing import Annotated, Any

import httpx
import numpy as np
import typer

from infra.errors import ModstreamError
from infra.report import Column, Figures, emit, number
from infra.settings import get_settings
from streams.bench.assist import drafts
from streams.bench.served import served

bench_moderate_app = typer.Typer(no_args_is_help=True)

P95_TARGET_MS, P99_TARGET_MS, COMPAT_SLACK_MS = 60.0, 120.0, 10.0

Body = Callable[[str], tuple[str, dict[str, Any]]]
"""A text → (path, JSON body) for one route; the token goes in the header or the query."""


def _routes(token: str) -> list[tuple[str, Body]]:
    return [
        ("POST /v1/moderate", lambda t: ("/v1/moderate", {"text": t})),
        (
            "POST /v1alpha1/comments:analyze",
            lambda t: (
                f"/v1alpha1/comments:analyze?key={token}",
                {"comment": {"text": t}, "requestedAttributes": {"TOXICITY": {}, "INSULT": {}}},
            ),
        ),
        ("POST /v1/moderations", lambda t: ("/v1/moderations", {"input": t})),
    ]


async def _client(
    client: httpx.AsyncClient, jobs: list[tuple[float, str, dict[str, Any]]], start: float
) -> tuple[list[float], int, list[str]]:
    """Send each job at its time; (latencies in ms, late starts, errors)."""
    times, late, errors = [], 0, []
    for at, path, body in jobs:
        wait = start + at - time.perf_counter()
        if wait > 0:
            await asyncio.sleep(wait)
        elif wait < -0.005:
            late += 1
        sent = time.perf_counter()
        response = await client.post(path, json=body)
        times.append((time.perf_counter() - sent) * 1000)
        if response.status_code != 200:
            errors.append(f"HTTP {response.status_code} {response.text[:120]}")
    return times, late, errors


async def _run_route(
    base: str, token: str, body: Body, texts: list[str], rate: float, clients: int
) -> tuple[np.ndarray, int, list[str]]:
    """All `texts` at `rate` per second over `clients` connections (request i on client
    i mod clients, at i / rate seconds)."""
    jobs: list[list[tuple[float, str, dict[str, Any]]]] = [[] for _ in range(clients)]
    for i, text in enumerate(texts):
        path, payload = body(text)
        jobs[i % clients].append((i / rate, path, payload))
    headers = {"Authorization": f"Bearer {token}"}
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    pool = [
        httpx.AsyncClient(base_url=base, headers=headers, timeout=30, limits=limits)
        for _ in range(clients)
    ]
    try:
        for c in pool:  # connect first, so the timed requests find their connection open
            (await c.get("/health")).raise_for_status()
        start = time.perf_counter() + 0.1
        done = await asyncio.gather(
            *[_client(c, j, start) for c, j in zip(pool, jobs, strict=True)]
        )
    finally:
        for c in pool:
            await c.aclose()
    times = np.array([t for d in done for t in d[0]])
    return times, sum(d[1] for d in done), [e for d in done for e in d[2]]


@bench_moderate_app.command("moderate")
def bench_moderate(
    requests: Annotated[int, typer.Option(help="Timed requests per route.")] = 1000,
    rate: Annotated[float, typer.Option(help="Requests per second, all clients together.")] = 50,
    clients: Annotated[int, typer.Option(help="Concurrent clients (connections).")] = 8,
    toxic_share: Annotated[float, typer.Option(help="Texts with a toxic passage.")] = 0.1,
    warmup: Annotated[int, typer.Option(help="Untimed requests first, per route.")] = 50,
    rounds: Annotated[
        int,
        typer.Option(
            min=1,
            help="Each route's requests in this many turns, the routes alternating, so what "
            "slows the stack over a run (its object store grows) falls on every route alike.",
        ),
    ] = 4,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON document on stdout.")] = False,
) -> None:
    """p50/p95/p99 of synchronous moderation per route at a steady rate (targets: /v1/moderate
    p95 <= 60 ms, p99 <= 120 ms; the compatible routes within 10 ms)."""
    from streams.training.dataset import load_dir, split

    settings = get_settings()
    _, held = split(load_dir(settings.training_data))
    rng = random.Random(11)
    benign = [r.text for r in held if r.toxic == 0]
    toxic = [r.text for r in held if r.toxic == 1 and len(r.text) <= 200]
    with served(settings, "bench-moderate", scopes="ingest") as stack:
        routes = _routes(stack.token)
        timed: dict[str, list[str]] = {}
        for name, body in routes:
            texts = drafts(benign, toxic, warmup + requests, toxic_share, rng)
            asyncio.run(_run_route(stack.api, stack.token, body, texts[:warmup], rate, clients))
            timed[name] = texts[warmup:]
        runs: dict[str, list[tuple[np.ndarray, int]]] = {name: [] for name, _ in routes}
        for turn in range(rounds):
            for name, body in routes:
                chunk = timed[name][turn * requests // rounds : (turn + 1) * requests // rounds]
                times, late, errors = asyncio.run(
                    _run_route(stack.api, stack.token, body, chunk, rate, clients)
                )
                if errors:
                    raise ModstreamError(f"{name}: {len(errors)} failed, e.g. {errors[0]}")
                runs[name].append((times, late))
    results = [
        (name, np.concatenate([t for t, _ in done]), sum(n for _, n in done))
        for name, done in runs.items()
    ]
    emit([_figures(results, requests, rate, clients)], as_json=as_json)


def _figures(
    results: list[tuple[str, np.ndarray, int]], n: int, rate: float, clients: int
) -> Figures:
    ms = number(1)
    figures = Figures(
        f"bench moderate: {n} requests per route, 280-character texts, {rate:g}/s from "
        f"{clients} clients (ms, at the client)",
        [Column("route"), Column("requests", number()), Column("p50", ms), Column("p95", ms),
         Column("p99", ms), Column("max", ms), Column("late starts", number())],
    )  # fmt: skip
    for name, times, late in results:
        p50, p95, p99 = np.percentile(times, [50, 95, 99])
        figures.add(name, len(times), p50, p95, p99, float(times.max()), late)
    moderate = results[0][1]
    p95, p99 = np.percentile(moderate, [95, 99])
    met = p95 <= P95_TARGET_MS and p99 <= P99_TARGET_MS
    figures.notes.append(
        f"Target /v1/moderate p95 <= {P95_TARGET_MS:g} ms and p99 <= {P99_TARGET_MS:g} ms: "
        f"{'met' if met else 'missed'} ({p95:.1f} / {p99:.1f} ms)."
    )
    for name, times, _ in results[1:]:
        gap = float(np.percentile(times, 95) - p95)
        verdict = "within" if gap <= COMPAT_SLACK_MS else "beyond"
        figures.notes.append(
            f"{name}: p95 {gap:+.1f} ms from /v1/moderate ({verdict} {COMPAT_SLACK_MS:g} ms)."
        )
    figures.facts |= {"rate": rate, "clients": clients, "moderate_target_met": met}
    return figures
