"""`modstream deadletters list|show|replay`: dead letters from the command line.

Two ways in:
- **As the operator** (the default): straight to the warehouse and the broker of the settings,
  across tenants (`--tenant T` for one, `--unowned` for dead letters with no tenant, which no
  tenant can see through the API). Replays are recorded and audited with the actor `cli`. The
  embedded warehouse (chdb) opens in one process at a time: while `modstream up` or `serve`
  runs, go through the API instead, or stop it.
- **Through the API** (`--api URL`, token from `MODSTREAM_TOKEN` or `--token-file`): the
  token's tenant only, exactly as `GET /v1/deadletters` and `POST /v1/deadletters/replay`.

The two ways in are in `api/deadletters_backends.py`; here are the commands and their output.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar

import httpx
import typer
from pydantic import BaseModel, ValidationError
from rich.console import Console
from rich.table import Table

from api.deadletters_backends import ApiBackend, Backend, DirectBackend
from api.read import deadletters
from api.read.deadletters import (
    DeadLetterFilter,
    DeadLetterPage,
    DeadLetterQuery,
    Scope,
)
from api.replay import ReplayReport, ReplayRequest
from infra.accounts import AccountsDB
from infra.errors import ModstreamError, WarehouseError
from infra.settings import get_settings
from infra.warehouse import connect, migrate
from schemas.records import DeadLetterReason

deadletters_app = typer.Typer(
    help="Dead letters: list, show, and replay them after a fix (see docs/deadletters.md).",
    no_args_is_help=True,
)
T = TypeVar("T")
err = Console(stderr=True, soft_wrap=True)
out = Console(soft_wrap=True)


def open_backend(
    api: str | None, token_file: Path | None, tenant: str | None, unowned: bool
) -> Backend:
    """The API's (with `api`) or the operator's way in."""
    if api:
        if tenant or unowned:
            raise typer.BadParameter("--tenant and --unowned are for the operator (without --api)")
        token = os.environ.get("MODSTREAM_TOKEN") or (
            token_file.read_text().strip() if token_file else ""
        )
        if not token:
            raise typer.BadParameter("with --api: set MODSTREAM_TOKEN or pass --token-file")
        headers = {"Authorization": f"Bearer {token}"}
        return ApiBackend(httpx.Client(base_url=api, timeout=60), headers)
    try:
        scope = Scope.operator_view(tenant, unowned=unowned)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    settings = get_settings()
    try:
        warehouse = connect(settings.warehouse_url)
    except WarehouseError as exc:
        hint = ""
        if settings.warehouse_url.startswith("chdb:"):
            hint = (
                "; the embedded warehouse opens in one process at a time: while the API runs, "
                "go through it (--api http://127.0.0.1:8000, token in MODSTREAM_TOKEN or "
                "--token-file), or stop it"
            )
        raise ModstreamError(f"{exc}{hint}") from exc
    migrate(warehouse)  # the replays table, if this warehouse has not met the API yet
    accounts = AccountsDB(settings.accounts_db_url)
    accounts.create_schema()  # idempotent: privacy modes and the audit log live there
    return DirectBackend(warehouse, settings.kafka_bootstrap, accounts, scope, owned=True)


def _when(value: str | None, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise typer.BadParameter(f"{name}: an ISO 8601 time, e.g. 2026-11-21T09:00Z") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _print_json(model: BaseModel) -> None:
    print(json.dumps(model.model_dump(mode="json"), indent=2, ensure_ascii=False))


def _run(backend: Backend, action: Callable[[], T]) -> T:
    try:
        return action()
    except ModstreamError as exc:
        err.print(f"[red]error:[/] {exc}", markup=True, highlight=False)
        raise typer.Exit(1) from exc
    finally:
        backend.close()


Api = Annotated[
    str | None,
    typer.Option(
        help="Go through the API at this URL, as the tenant of the token (MODSTREAM_TOKEN or "
        "--token-file). Without it: straight to the warehouse and broker, as the operator."
    ),
]
TokenFile = Annotated[Path | None, typer.Option(help="With --api: a file holding the token.")]
TenantOpt = Annotated[str | None, typer.Option(help="Operator: only this tenant's.")]
Unowned = Annotated[
    bool, typer.Option(help="Operator: only dead letters with no tenant (no tenant sees these).")
]
Reasons = Annotated[list[DeadLetterReason] | None, typer.Option("--reason", help="Any of these.")]
Topic = Annotated[str | None, typer.Option(help="The source topic, e.g. events.text.")]
EventId = Annotated[str | None, typer.Option(help="The event's id.")]
Since = Annotated[str | None, typer.Option(help="Failed at or after (ISO 8601; UTC if no zone).")]
Until = Annotated[str | None, typer.Option(help="Failed before (ISO 8601).")]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _filter(
    reason: list[DeadLetterReason] | None,
    topic: str | None,
    event_id: str | None,
    since: str | None,
    until: str | None,
) -> dict[str, Any]:
    return {
        "reason": reason or [],
        "topic": topic,
        "event_id": event_id,
        "since": _when(since, "--since"),
        "until": _when(until, "--until"),
    }


def _model(model: type[Any], **fields: Any) -> Any:
    try:
        return model(**fields)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc']))}: {e['msg']}"
            for e in exc.errors(include_url=False, include_input=False)
        )
        raise typer.BadParameter(problems) from exc


@deadletters_app.command("list")
def list_command(
    reason: Reasons = None,
    topic: Topic = None,
    event_id: EventId = None,
    since: Since = None,
    until: Until = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
    cursor: Annotated[str | None, typer.Option(help="`next` of the previous page.")] = None,
    tenant: TenantOpt = None,
    unowned: Unowned = False,
    api: Api = None,
    token_file: TokenFile = None,
    as_json: AsJson = False,
) -> None:
    """List dead letters, newest first."""
    query = _model(
        DeadLetterQuery, **_filter(reason, topic, event_id, since, until), limit=limit,
        cursor=cursor,
    )  # fmt: skip
    backend = open_backend(api, token_file, tenant, unowned)
    page: DeadLetterPage = _run(backend, lambda: backend.list(query))
    if as_json:
        _print_json(page)
        return
    table = Table("id", "failed at", "reason", "tenant", "event id", "raw", "replays")
    for d in page.data:
        table.add_row(
            d.id, d.failed_at.isoformat(timespec="seconds"), d.reason.value, d.tenant or "—",
            d.event_id or "—", f"{d.raw_state}, {d.raw_size} B", str(len(d.replays)),
        )  # fmt: skip
    out.print(table)
    err.print(f"{page.count} dead letter(s)" + (f"; next page: --cursor {page.next}" if page.next
                                               else ""))  # fmt: skip


@deadletters_app.command("show")
def show_command(
    dead_letter_id: Annotated[str, typer.Argument(help="topic:partition:offset")],
    tenant: TenantOpt = None,
    api: Api = None,
    token_file: TokenFile = None,
) -> None:
    """One dead letter in full (JSON), with its replays."""
    try:
        deadletters.parse_id(dead_letter_id)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    backend = open_backend(api, token_file, tenant, False)
    _print_json(_run(backend, lambda: backend.get(dead_letter_id)))


@deadletters_app.command("replay")
def replay_command(
    ids: Annotated[
        list[str] | None, typer.Argument(help="Dead letter ids (topic:partition:offset).")
    ] = None,
    reason: Reasons = None,
    topic: Topic = None,
    event_id: EventId = None,
    since: Since = None,
    until: Until = None,
    every: Annotated[
        bool, typer.Option("--all", help="Without ids or filters: every dead letter.")
    ] = False,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="With a filter: at most.")] = 1000,
    force: Annotated[bool, typer.Option(help="Replay again what was replayed before.")] = False,
    dry_run: Annotated[bool, typer.Option(help="Check and report; publish nothing.")] = False,
    tenant: TenantOpt = None,
    unowned: Unowned = False,
    api: Api = None,
    token_file: TokenFile = None,
    as_json: AsJson = False,
) -> None:
    """Replay dead letters after a fix: their records, published again to their topic.

    Ids (all or nothing), or a filter (e.g. --reason processing_error --since 2026-11-21).

    What was replayed before is reported, and replayed again only with --force."""
    fields = _filter(reason, topic, event_id, since, until)
    filtered = any(v for v in fields.values())
    if ids and (filtered or every):
        raise typer.BadParameter("ids, or a filter: not both")
    if not ids and not filtered and not every:
        raise typer.BadParameter("give ids, a filter (e.g. --reason processing_error), or --all")
    selection = {"ids": ids} if ids else {"filter": _model(DeadLetterFilter, **fields)}
    request = _model(
        ReplayRequest,
        **selection,
        force=force,
        dry_run=dry_run,
        limit=limit,
    )
    backend = open_backend(api, token_file, tenant, unowned)
    report: ReplayReport = _run(backend, lambda: backend.replay(request))
    if as_json:
        _print_json(report)
        return
    verb = "would replay" if report.dry_run else "replayed"
    for r in report.replayed:
        out.print(f"{verb} {r.id} (event {r.event_id}, key {r.key})" + (
            f" → {r.to}" if r.to else ""), highlight=False)  # fmt: skip
    for a in report.already_replayed:
        last = a.replays[-1]
        out.print(
            f"already replayed {a.id} (event {a.event_id}) at "
            f"{last.replayed_at.isoformat(timespec='seconds')} by {last.actor} → {last.to}; "
            "--force replays it again",
            highlight=False,
        )
    for refusal in report.refused:
        out.print(f"refused {refusal.message} ({refusal.code})", highlight=False)
    summary = (
        f"{len(report.replayed)} {verb}, {len(report.already_replayed)} already replayed, "
        f"{len(report.refused)} refused"
    )
    if report.incomplete:
        summary += f", {report.incomplete} not stored whole (not replayable)"
    if report.more:
        summary += "; more match: run it again"
    err.print(summary, highlight=False)
