"""A tweet as a `post` event: source `x`, author = the X author id, the event id stable per
tenant and tweet (`x-<tweet id>`, the warehouse keys on tenant + event id), so a tweet published
twice (a retry, a replay, a preview racing the poller) is still one item downstream.

Context comes from the referenced tweets X included: the tweet replied to (the parent, first)
and a quoted tweet. A retweet's own text is X's truncated "RT @…" copy, so the retweeted
tweet's full text is judged instead (still as the retweeter's post)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime

from pydantic import ValidationError

from infra.errors import InvalidEvent
from infra.x.client import Tweet
from schemas.events import Post, PostEvent
from schemas.records import DeadLetterReason

SOURCE = "x"
_ISO_639_1 = re.compile(r"^[a-z]{2}$")  # X also says und, qme, zxx, …: not languages


def event_id_of(tweet_id: str) -> str:
    return f"{SOURCE}-{tweet_id}"


def full_text(tweet: Tweet) -> str:
    return tweet.note_tweet.text if tweet.note_tweet else tweet.text


def post_event(
    tenant: str, tweet: Tweet, included: Mapping[str, Tweet], *, now: datetime | None = None
) -> PostEvent:
    """Raises `InvalidEvent` for a tweet that cannot be a post (no author, say)."""
    text = full_text(tweet)
    parent_id: str | None = None
    parent: list[str] = []
    quoted: list[str] = []
    for ref in tweet.referenced_tweets:
        other = included.get(ref.id)
        if ref.type == "replied_to":
            parent_id = ref.id
            parent = [full_text(other)] if other else []
        elif ref.type == "quoted" and other:
            quoted = [full_text(other)]
        elif ref.type == "retweeted":
            parent_id = parent_id or ref.id
            text = full_text(other) if other else text
    if not tweet.author_id:
        raise InvalidEvent(DeadLetterReason.SCHEMA_VIOLATION, f"tweet {tweet.id} has no author")
    lang = tweet.lang if tweet.lang and _ISO_639_1.match(tweet.lang) else None
    try:
        return PostEvent(
            event_id=event_id_of(tweet.id),
            tenant=tenant,
            source=SOURCE,
            occurred_at=tweet.created_at or now or datetime.now(UTC),
            payload=Post(
                external_id=tweet.id,
                author=tweet.author_id,
                text=text,
                lang=lang,
                parent_id=parent_id,
                thread_id=tweet.conversation_id,
                context=parent + quoted,
            ),
        )
    except ValidationError as exc:
        raise InvalidEvent(
            DeadLetterReason.SCHEMA_VIOLATION, f"tweet {tweet.id}: {exc.errors()[0]['msg']}"
        ) from exc
