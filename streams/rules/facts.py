"""The facts a rule reads about one item: from its verdict so far and its event.

Only the fields a tenant's rule set reads are computed (`RuleSet.reads`): a set that never
looks at links does not pay for finding them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from hashlib import blake2b
from typing import Any

from infra.rules.compile import Facts
from schemas.events import ChatMessageEvent, PostEvent
from schemas.records import Verdict

TextEvent = PostEvent | ChatMessageEvent

_URL = re.compile(r"(?:https?://|www\.)[^\s<>\"']{1,2000}", re.IGNORECASE)


def first_url(text: str) -> str:
    found = _URL.search(text)
    return found.group(0).rstrip(".,;:!?)").casefold() if found else ""


def content_hash(text: str) -> str:
    """The same for texts that differ only in case and spacing."""
    return blake2b(" ".join(text.casefold().split()).encode(), digest_size=16).hexdigest()


Getter = Callable[[Verdict, TextEvent], Any]

GETTERS: dict[str, Getter] = {
    "toxic": lambda v, _e: v.toxic,
    "decision": lambda v, _e: v.decision.value,
    "lang": lambda v, _e: v.lang,
    "source": lambda v, _e: v.source,
    "kind": lambda v, _e: v.kind.value,
    "author": lambda v, _e: v.author,
    "item_id": lambda v, _e: v.item_id,
    "text": lambda _v, e: e.text,
    "url": lambda _v, e: first_url(e.text),
    "content_hash": lambda _v, e: content_hash(e.text),
    "spans": lambda v, _e: float(len(v.spans)),
    "duplicate": lambda v, _e: v.duplicate_of is not None,
    "context.items": lambda v, _e: float(v.context.items) if v.context else 0.0,
    "scores": lambda v, _e: v.scores,
}
"""Every field but the author's history, which the engine reads from its counters."""


@lru_cache(maxsize=256)  # by the rule set's `reads` (a frozenset keeps its hash)
def _getters(reads: frozenset[str]) -> tuple[tuple[str, Getter], ...]:
    return tuple((path, GETTERS[path]) for path in sorted(reads) if path in GETTERS)


def item_facts(reads: frozenset[str], verdict: Verdict, event: TextEvent) -> Facts:
    return {path: get(verdict, event) for path, get in _getters(reads)}
