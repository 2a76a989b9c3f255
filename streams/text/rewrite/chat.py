"""The chat rewriter: any OpenAI-compatible `POST {url}/chat/completions` endpoint, its answer
verified like the offline rewriter's, which it falls back to (see the package docstring)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx
from pydantic import SecretStr

from infra.errors import ConfigError
from infra.settings import RewriteSettings
from streams.text.classifier import Classifier
from streams.text.rewrite.base import Rewrite, Rewriter, RewriteRequest, acceptable
from streams.text.rewrite.offline import OfflineRewriter

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ChatEndpoint:
    url: str  # base URL; requests go to {url}/chat/completions
    key: SecretStr | None = None
    model: str = "gpt-4o-mini"
    timeout: float = 5.0

    @classmethod
    def from_settings(cls, settings: RewriteSettings) -> ChatEndpoint | None:
        if not settings.url:
            return None
        return cls(settings.url.rstrip("/"), settings.key, settings.model, settings.timeout)


SYSTEM_PROMPT = (
    "You rewrite social-media posts so that they are no longer toxic: no insults, profanity, "
    "slurs, threats or harassment. Keep the author's meaning, point of view, language and tone "
    "where that is possible, and change as little as you can. Reply with the rewritten post "
    "only, without quotes or comments."
)


class _ChatFailed(Exception):
    """The endpoint gave no usable answer; the message is the reason, safe to show."""


class ChatRewriter(Rewriter):
    """Asks an OpenAI-compatible chat endpoint; verifies and falls back (module docstring)."""

    def __init__(
        self,
        classifier: Classifier,
        endpoint: ChatEndpoint,
        fallback: Rewriter | None = None,
        *,
        concurrency: int = 4,
    ) -> None:
        if not endpoint.url.startswith(("http://", "https://")):
            raise ConfigError(f"the rewrite endpoint must be an http(s) URL, got {endpoint.url!r}")
        self.classifier = classifier
        self.endpoint = endpoint
        self.fallback = fallback or OfflineRewriter(classifier)
        self.concurrency = max(1, concurrency)
        headers = {"Content-Type": "application/json"}
        if endpoint.key is not None:
            headers["Authorization"] = f"Bearer {endpoint.key.get_secret_value()}"
        self._client = httpx.Client(
            headers=headers, timeout=endpoint.timeout, follow_redirects=False
        )

    def close(self) -> None:
        self._client.close()

    def rewrite(self, requests: Sequence[RewriteRequest]) -> list[Rewrite]:
        if not requests:
            return []
        with ThreadPoolExecutor(min(self.concurrency, len(requests))) as pool:
            answers = list(pool.map(self._ask, requests))
        good = [i for i, a in enumerate(answers) if isinstance(a, str)]
        scores = self.classifier.classify(
            [str(answers[i]) for i in good], [requests[i].scores.lang for i in good]
        )
        out: list[Rewrite | None] = [None] * len(requests)
        notes: dict[int, str] = {
            i: a.args[0] for i, a in enumerate(answers) if isinstance(a, _ChatFailed)
        }
        for i, s in zip(good, scores, strict=True):
            if acceptable(s, requests[i].policy):
                out[i] = Rewrite(str(answers[i]), s.toxic, "llm")
            else:
                notes[i] = f"the chat endpoint's answer was still judged toxic ({s.toxic:.2f})"
        todo = sorted(notes)
        for i in todo:
            log.warning("rewrite: %s; using the offline rewriter", notes[i])
        for i, fb in zip(todo, self.fallback.rewrite([requests[i] for i in todo]), strict=True):
            reason = notes[i] + ("" if fb.note is None else f"; offline: {fb.note}")
            out[i] = Rewrite(fb.text, fb.toxic, fb.source, reason)
        return [a for a in out if a is not None]

    def _ask(self, req: RewriteRequest) -> str | _ChatFailed:
        spans = ", ".join(f'"{req.text[a:b]}"' for a, b in req.scores.spans[:20]) or "(none marked)"
        body: dict[str, Any] = {
            "model": self.endpoint.model,
            "temperature": 0.2,
            "max_tokens": min(4096, len(req.text) // 2 + 128),
            "messages": [
                {"role": "system", "content": SYSTEM_PROMPT},
                {
                    "role": "user",
                    "content": f"Language: {req.scores.lang}\nToxic parts: {spans}\n"
                    f"Post:\n{req.text}",
                },
            ],
        }
        url = f"{self.endpoint.url}/chat/completions"
        try:
            response = self._client.post(url, json=body)
        except httpx.TimeoutException:
            return _ChatFailed(f"the chat endpoint timed out after {self.endpoint.timeout:g}s")
        except httpx.HTTPError as exc:
            return _ChatFailed(f"the chat endpoint is unreachable ({type(exc).__name__})")
        if response.status_code != 200:
            return _ChatFailed(f"the chat endpoint answered HTTP {response.status_code}")
        try:
            content = response.json()["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError):
            return _ChatFailed("the chat endpoint's answer is not a chat completion")
        if not isinstance(content, str):
            return _ChatFailed("the chat endpoint's answer is not a chat completion")
        text = content.strip().strip("\"'`“”").strip()
        if not text:
            return _ChatFailed("the chat endpoint answered an empty text")
        if len(text) > 2 * len(req.text) + 200:
            return _ChatFailed("the chat endpoint's answer is far longer than the post")
        return text
