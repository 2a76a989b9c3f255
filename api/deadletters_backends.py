"""The two ways in of `modstream deadletters`: through the HTTP API as a token's tenant
(`ApiBackend`), or straight to the warehouse and the broker as the operator (`DirectBackend`).
Both answer the same models and refuse the same way, so the commands print either alike."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

import httpx

from api import replay
from api.accounts import service
from api.read import deadletters
from api.read.deadletters import DeadLetterItem, DeadLetterPage, DeadLetterQuery, Scope
from api.replay import ReplayReport, ReplayRequest
from infra.accounts import AccountsDB, PrivacyRegistry
from infra.errors import ModstreamError, Refused
from infra.kafka import Publisher
from infra.warehouse import Warehouse

T = TypeVar("T")


class Refusal(ModstreamError):
    """The API (or the same checks, run here) refused: the message and one line per detail."""


class Backend(Protocol):
    def list(self, query: DeadLetterQuery) -> DeadLetterPage: ...
    def get(self, dead_letter_id: str) -> DeadLetterItem: ...
    def replay(self, request: ReplayRequest) -> ReplayReport: ...
    def close(self) -> None: ...


def _refused(code: str, message: str, details: Any) -> Refusal:
    """One line for the refusal, one per dead letter refused (with the reason's code)."""
    items = details if isinstance(details, list) else []
    lines = [f"{message} ({code})"]
    for d in items:
        if isinstance(d, dict) and {"message", "code"} <= d.keys():
            if len(items) == 1 and d["message"] == message:  # one id: its reason, once
                lines = [f"{message} ({d['code']})"]
            else:
                lines.append(f"  {d['message']} ({d['code']})")
        elif len(items) > 1:
            lines.append(f"  {d}")
    return Refusal("\n".join(lines))


class ApiBackend:
    """Through the HTTP API, as the token's tenant."""

    def __init__(self, client: httpx.Client, headers: dict[str, str] | None = None) -> None:
        self.client = client
        self.headers = headers or {}

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self.client.request(method, path, headers=self.headers, **kwargs)
        except httpx.HTTPError as exc:
            raise ModstreamError(f"cannot reach the API: {exc}") from exc
        if response.is_success:
            return response.json()
        try:
            error = response.json()["error"]
        except (ValueError, KeyError, TypeError):
            raise ModstreamError(f"the API answered {response.status_code}") from None
        raise _refused(error.get("code", "?"), error.get("message", ""), error.get("details"))

    def list(self, query: DeadLetterQuery) -> DeadLetterPage:
        params = query.model_dump(mode="json", exclude_none=True, exclude_defaults=True)
        return DeadLetterPage.model_validate(self._call("GET", "/v1/deadletters", params=params))

    def get(self, dead_letter_id: str) -> DeadLetterItem:
        return DeadLetterItem.model_validate(self._call("GET", f"/v1/deadletters/{dead_letter_id}"))

    def replay(self, request: ReplayRequest) -> ReplayReport:
        body = request.model_dump(mode="json", exclude_none=True)
        return ReplayReport.model_validate(self._call("POST", "/v1/deadletters/replay", json=body))

    def close(self) -> None:
        self.client.close()


class DirectBackend:
    """Straight to the warehouse and the broker, as the operator (actor `cli`)."""

    def __init__(
        self,
        warehouse: Warehouse,
        bootstrap: str | None,
        accounts: AccountsDB,
        scope: Scope,
        *,
        owned: bool = False,
    ) -> None:
        self.warehouse, self.bootstrap, self.accounts, self.scope = (
            warehouse, bootstrap, accounts, scope,
        )  # fmt: skip
        self.privacy = PrivacyRegistry(accounts, ttl=0)
        self._owned = owned

    def _private(self) -> deadletters.IsPrivate:
        self.privacy.refresh(force=True)
        return self.privacy.is_private

    def list(self, query: DeadLetterQuery) -> DeadLetterPage:
        return _unless_refused(deadletters.page, self.warehouse, self.scope, query, self._private())

    def get(self, dead_letter_id: str) -> DeadLetterItem:
        item = deadletters.get(self.warehouse, self.scope, dead_letter_id, self._private())
        if item is None:
            raise Refusal(f"no dead letter {dead_letter_id!r} (not_found)")
        return item

    def replay(self, request: ReplayRequest) -> ReplayReport:
        async def run() -> tuple[replay.Outcome, ReplayReport]:
            if request.dry_run:  # checks only: no broker needed
                return await replay.run(self.warehouse, _NoBroker(), self.scope, request,
                                        actor="cli")  # fmt: skip
            if not self.bootstrap:
                raise ModstreamError(
                    "replaying needs the broker: set MODSTREAM_KAFKA_BOOTSTRAP (embedded, "
                    "`modstream broker` starts it and prints the address)"
                )
            async with Publisher(self.bootstrap) as publisher:
                return await replay.run(self.warehouse, publisher, self.scope, request, actor="cli")

        try:
            outcome, report = asyncio.run(run())
        except Refused as exc:
            raise _refused(exc.code, exc.message, exc.details) from exc
        replay.audit(self.accounts, service.CLI, "cli", outcome, force=request.force)
        return report

    def close(self) -> None:
        if self._owned:
            self.warehouse.close()
            self.accounts.close()


class _NoBroker:
    async def publish_many(self, topic: str, records: Any) -> list[tuple[int, int]]:
        raise ModstreamError("a dry run publishes nothing")  # pragma: no cover - never called


def _unless_refused(fn: Callable[..., T], *args: Any) -> T:
    try:
        return fn(*args)
    except Refused as exc:
        raise _refused(exc.code, exc.message, exc.details) from exc
