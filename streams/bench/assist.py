"""`modstream bench assist`: latency of `POST /v1/assist` for 280-character drafts, through the
API and straight to the assist service, with both running as they do under `modstream up`.

A temporary data folder, an embedded broker (unless one is configured), `modstream serve` and
`modstream assist` as child processes, a tenant and a read token made with `modstream admin`;
then sequential keep-alive requests (one composer typing), timed at the client. Drafts are
held-out benign texts (never trained on) joined and cut to 280 characters; a share of them get a
held-out toxic text instead of their tail (those also cost a rewrite). `GET /v1/me` is timed too:
the API's own floor (authentication and request accounting) under the same client.
Target: p95 <= 50 ms.
"""

from __future__ import annotations

import os
import random
import secrets
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Annotated, Any

import httpx
import numpy as np
import typer
from rich.progress import Progress

from infra.broker import EmbeddedBroker
from infra.errors import ModstreamError
from infra.processes import free_port
from infra.progress import task_bar
from infra.report import Column, Figures, emit, figures_console, number
from infra.settings import get_settings
from infra.supervisor import Service, Supervisor, modstream_argv
from schemas.assist import SECRET_HEADER

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


def _wait(
    url: str, proc: subprocess.Popen[bytes], what: str, log: Path | None, timeout: float = 180
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ModstreamError(f"{what} exited with code {proc.returncode} (its output: {log})")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise ModstreamError(f"{what} did not become ready within {timeout:.0f}s")


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
    with tempfile.TemporaryDirectory(prefix="modstream-bench-assist-") as tmp:
        folder = Path(tmp)
        broker = None
        bootstrap = settings.kafka_bootstrap
        if not bootstrap:
            broker = EmbeddedBroker(folder / "broker", durable=settings.broker.durable).start()
            bootstrap = broker.bootstrap
        api_port, assist_port = free_port(), free_port()
        secret = secrets.token_urlsafe(32)
        env = {
            "MODSTREAM_KAFKA_BOOTSTRAP": bootstrap,
            "MODSTREAM_DATA_DIR": str(folder),
            "MODSTREAM_MODEL_DIR": str(settings.models_path),
            "MODSTREAM_API_PORT": str(api_port),
            "MODSTREAM_ASSIST_PORT": str(assist_port),
            "MODSTREAM_ASSIST_SECRET": secret,
            "MODSTREAM_LOG_LEVEL": "WARNING",
        }
        supervisor = Supervisor(env)
        try:
            # Their output goes to logs: stdout carries only the figures (or the JSON).
            logs = settings.data_dir
            api = supervisor.spawn(
                Service("api", modstream_argv("serve"), log=logs / "bench-assist-api.log")
            )
            assist = supervisor.spawn(
                Service("assist", modstream_argv("assist"), log=logs / "bench-assist-service.log")
            )
            with console.status("starting the API and the assist service"):
                for child, port, what in (
                    (assist, assist_port, "the assist service"), (api, api_port, "the API")
                ):  # fmt: skip
                    _wait(f"http://127.0.0.1:{port}/health", child.proc, what, child.service.log)

            def admin(*args: str) -> str:
                done = subprocess.run(  # noqa: S603 - our own command, no shell
                    modstream_argv("admin", *args), env=os.environ | env, check=True,
                    capture_output=True, text=True,
                )  # fmt: skip
                return done.stdout

            admin("create-tenant", "bench")
            token = admin("create-token", "--tenant", "bench", "--scopes", "read").split()[-1]
            results = []
            headers = {"Authorization": f"Bearer {token}"}
            direct = {SECRET_HEADER: secret}
            with task_bar(console, enabled=console.is_terminal) as bar:
                with httpx.Client(base_url=f"http://127.0.0.1:{api_port}", headers=headers) as c:
                    results.append(("through the API", *_time(c, "/v1/assist", bodies, bar)))
                    floor = _floor(c, requests, bar)
                with httpx.Client(base_url=f"http://127.0.0.1:{assist_port}", headers=direct) as c:
                    queries = [b | {"tenant": "bench"} for b in bodies]
                    results.append(("assist service alone", *_time(c, "/assist", queries, bar)))
        finally:
            supervisor.stop_all()
            if broker:
                broker.stop()
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
