"""The facts a rule reads about one item: from its verdict so far and its event.

The fields read straight off the verdict are always given (one dict display costs less than
choosing); those that take work, the first link and the content digest, only when the tenant's
rule set reads them (`RuleSet.reads`): a set that never looks at links does not pay for finding
them.
"""

from __future__ import annotations

import re
from hashlib import blake2b

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


def item_facts(reads: frozenset[str], verdict: Verdict, event: TextEvent) -> Facts:
    """Every field but the author's history, which the engine reads from its counters."""
    v, text = verdict, event.text
    facts: Facts = {
        "toxic": v.toxic, "decision": v.decision.value, "lang": v.lang, "source": v.source,
        "kind": v.kind.value, "author": v.author, "item_id": v.item_id, "text": text,
        "spans": float(len(v.spans)), "duplicate": v.duplicate_of is not None,
        "context.items": float(v.context.items) if v.context else 0.0, "scores": v.scores,
    }  # fmt: skip
    if "url" in reads:
        facts["url"] = first_url(text)
    if "content_hash" in reads:
        facts["content_hash"] = content_hash(text)
    return facts
