"""The composer assist service (`modstream assist`): score, spans, decision, rewrite and
thread-context advice for a draft, fast enough to answer as the user types; and the judge of
synchronous moderation (`/moderate`, `POST /v1/moderate`: see `streams/moderate.py`).

It runs the fast tier (loaded once, long drafts judged by windows) in its own process, because
`api/` may not import `streams/`: the API authenticates and validates `POST /v1/assist` and
forwards the request with the caller's tenant. The service listens on loopback only and answers
only requests that carry the shared secret (`X-Assist-Secret`, `MODSTREAM_ASSIST_SECRET`);
outside development it refuses to start with the default secret.

Cost per draft: one fast-tier call (two texts when the draft leans on its context), plus the
offline rewriter's one or two calls for a draft the tenant's policy would not approve.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from fastapi import FastAPI, Header, HTTPException
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from infra.errors import ConfigError, Conflict, Refused
from infra.settings import (
    DEV_ASSIST_SECRET,
    MIN_SECRET_CHARS,
    AssistSettings,
    LongTextSettings,
    RewriteSettings,
    TextSettings,
)
from schemas.assist import SECRET_HEADER, AssistQuery, AssistResponse
from schemas.moderate import ModerateAnswer, ModerateQuery
from schemas.records import Decision
from streams.moderate import Moderator
from streams.policy import LivePolicies, Policies
from streams.text.classifier import Classifier
from streams.text.context import ContextJudge
from streams.text.linear import LinearTextClassifier
from streams.text.longtext import LongTextClassifier, LongTextOptions
from streams.text.rewrite import ChatEndpoint, ChatRewriter, OfflineRewriter, RewriteRequest

__all__ = ["Assistant", "create_app", "serve"]

log = logging.getLogger(__name__)

ADVICE_CONTEXT = "Read with the message it answers, this reply repeats or backs a hostile remark."
ADVICE_REWRITE = "This may come across as hostile; a gentler wording is suggested."
ADVICE_HIGHLIGHT = "This may come across as hostile; consider rephrasing the highlighted words."
ADVICE_REVIEW = "This may come across as hostile; consider rephrasing it."


@dataclass
class Assistant:
    """The judging behind the service, callable without HTTP."""

    classifier: Classifier
    policies: Policies
    context: ContextJudge
    offline: OfflineRewriter
    chat: ChatRewriter | None = None

    @classmethod
    def from_settings(
        cls,
        models: Path,
        policies: Policies,
        text: TextSettings,
        longtext: LongTextSettings,
        rewrite: RewriteSettings,
    ) -> Assistant:
        """The fast tier from `models`, with long texts, thread context and rewrites as set."""
        fast = LinearTextClassifier.load(models)
        classifier = LongTextClassifier(fast, LongTextOptions.from_settings(longtext))
        endpoint = ChatEndpoint.from_settings(rewrite)
        offline = OfflineRewriter(classifier)
        return cls(
            classifier,
            policies,
            ContextJudge(classifier, max_items=text.context_max_items),
            offline,
            None if endpoint is None else ChatRewriter(classifier, endpoint, offline),
        )

    def answer(self, query: AssistQuery) -> AssistResponse:
        started = time.perf_counter()
        judged = self.context.score(query.text, query.lang, query.context)
        s = judged.scores
        policy = self.policies.for_tenant(query.tenant)
        decision = policy.decide(s.toxic, s.labels, s.lang)
        rewrite = None
        if decision is not Decision.APPROVE and query.rewrite != "off" and query.text.strip():
            rewriter = self.chat if query.rewrite == "best" and self.chat else self.offline
            rewrite = rewriter.rewrite([RewriteRequest(query.text, s, policy)])[0]
        advice = None
        if judged.effect is not None and judged.effect.raised:
            advice = ADVICE_CONTEXT
        elif rewrite is not None and rewrite.text is not None:
            advice = ADVICE_REWRITE
        elif decision is not Decision.APPROVE:
            advice = ADVICE_HIGHLIGHT if s.spans else ADVICE_REVIEW
        return AssistResponse(
            toxic=s.toxic,
            labels=s.labels,
            decision=decision,
            lang=s.lang,
            spans=s.spans,
            rewrite=None if rewrite is None else rewrite.record(),
            context=judged.effect,
            advice=advice,
            model_version=self.classifier.version,
            policy_version=policy.version,
            elapsed_ms=round((time.perf_counter() - started) * 1000, 3),
        )

    def close(self) -> None:
        if self.chat is not None:
            self.chat.close()


def check_secret(settings: AssistSettings, env: str) -> str:
    """The shared secret; outside development (`env`) the default or a short one is refused."""
    secret = settings.secret.get_secret_value()
    if env != "development" and (secret == DEV_ASSIST_SECRET or len(secret) < MIN_SECRET_CHARS):
        raise ConfigError(
            f"MODSTREAM_ASSIST_SECRET must be set outside development, with at least "
            f"{MIN_SECRET_CHARS} characters (the API and `modstream assist` share it)"
        )
    return secret


def create_app(
    assistant: Assistant,
    secret: str,
    *,
    refresh: float | None = None,
    moderator: Moderator | None = None,
) -> FastAPI:
    """The service's HTTP face. With `refresh`, live tenant policies are re-read that often;
    with `moderator`, it also judges items synchronously (`/moderate`, `streams/moderate.py`)."""
    expected = secret.encode()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        task = None
        policies = assistant.policies
        if refresh and isinstance(policies, LivePolicies):
            task = asyncio.create_task(_refresh(policies, refresh), name="policy-refresh")
        try:
            yield
        finally:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            assistant.close()

    app = FastAPI(
        title="Modstream assist (internal)", lifespan=lifespan, docs_url=None, redoc_url=None
    )

    @app.post("/assist", response_model=AssistResponse)
    async def assist(
        query: AssistQuery,
        secret: Annotated[str | None, Header(alias=SECRET_HEADER)] = None,
    ) -> AssistResponse:
        if secret is None or not hmac.compare_digest(secret.encode(), expected):
            raise HTTPException(401, "a valid X-Assist-Secret header is required")
        return await run_in_threadpool(assistant.answer, query)

    if moderator is not None:

        @app.post("/moderate", response_model=ModerateAnswer)
        async def moderate(
            query: ModerateQuery,
            secret: Annotated[str | None, Header(alias=SECRET_HEADER)] = None,
        ) -> ModerateAnswer | JSONResponse:
            if secret is None or not hmac.compare_digest(secret.encode(), expected):
                raise HTTPException(401, "a valid X-Assist-Secret header is required")
            try:
                return await run_in_threadpool(moderator.judge, query)
            except Refused as exc:
                status = 409 if isinstance(exc, Conflict) else 422
                return JSONResponse({"code": exc.code, "message": str(exc)}, status_code=status)

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok", "model_version": assistant.classifier.version}

    return app


async def _refresh(policies: LivePolicies, every: float) -> None:
    while True:
        await asyncio.sleep(every)
        await asyncio.to_thread(policies.refresh)


def serve(
    settings: AssistSettings,
    assistant: Assistant,
    secret: str,
    *,
    refresh: float,
    moderator: Moderator | None = None,
) -> None:
    """Serve `assistant` (and `moderator`) on the loopback address from settings, re-reading
    live tenant policies every `refresh` seconds."""
    import uvicorn

    app = create_app(assistant, secret, refresh=refresh, moderator=moderator)
    log.info("assist service on %s:%d", settings.host, settings.port)
    uvicorn.run(
        app,
        host=settings.host,  # loopback only: AssistSettings refuses anything else
        port=settings.port,
        log_config=None,
        access_log=False,
    )
