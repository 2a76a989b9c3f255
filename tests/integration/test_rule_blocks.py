"""A live rule's `block_author` carried out by the strikes worker on the real broker: the author
is blocked at once (the author API and the gate of new events see it), a shadow rule's blocks
nobody, and a verdict delivered again publishes no second block or strike."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from infra.settings import Settings
from schemas.records import FiredRule, RuleAction, RulesOutcome, Verdict
from schemas.topics import AUTHOR_BLOCKS, AUTHOR_STRIKES
from tests.support.events import post_event
from tests.support.polling import wait_for
from tests.support.stack import Worker
from tests.support.verdicts import publish, read_topic, verdict


def _verdict(author: str, toxic: float, *, live: bool) -> Verdict:
    """A verdict of tenant `demo` on which a rule fired `block_author`, live or in shadow."""
    base = verdict("demo", 0, author=author, toxic=toxic, source="chat", kind="chat_message")
    fired = [FiredRule(rule="ban_words", version="9c1f0a7b2e",
                       actions=[RuleAction(kind="block_author")])]  # fmt: skip
    rules = RulesOutcome(
        ruleset_version=1, policy_decision=base.decision,
        fired=fired if live else [], shadow=[] if live else fired,
    )  # fmt: skip
    return base.model_copy(update={"event_id": f"{author}-{uuid.uuid4().hex[:6]}", "rules": rules})


def _report(api: TestClient, author: str) -> dict[str, Any]:
    response = api.get(f"/v1/authors/{author}/strikes")
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def _records(bootstrap: str, topic: str, author: str) -> list[dict[str, Any]]:
    return [r for r in read_topic(bootstrap, topic) if r["author"] == author]


def test_a_live_block_author_blocks_once_and_a_shadow_one_does_not(
    api: TestClient, settings: Settings, model_dir: Path, tmp_path: Path
) -> None:
    bootstrap = settings.kafka_bootstrap or ""
    strikes = Worker(settings, model_dir, tmp_path / "strikes.log", command="strikes").start()
    blocked, spared = (f"{name}-{uuid.uuid4().hex[:8]}" for name in ("ruled", "shadowed"))
    try:
        # An approved item whose live rule says block_author; a rejected one whose shadow rule
        # would have (rejected, so that its strike shows the worker read it).
        live, shadow = _verdict(blocked, 0.1, live=True), _verdict(spared, 0.95, live=False)
        asyncio.run(publish(bootstrap, [shadow, live]))
        wait_for(
            lambda: not api.get(f"/v1/authors/{blocked}/can-chat").json()["can_chat"], 120,
            what="the block the rule asked for",
        )  # fmt: skip
        report = _report(api, blocked)
        assert report["blocked"]
        assert report["strikes"] == 0  # approved: blocked by the rule, not by strikes
        assert report["block"]["actor"] == "strikes"
        assert report["block"]["reason"] == "rule 'ban_words' (version 9c1f0a7b2e): block_author"
        # The author's next event is refused before it is published.
        refused = api.post("/v1/events", json=post_event(f"{blocked}-next", "hi", author=blocked))
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "author_blocked"

        # The shadow rule's author: counted (one strike), not blocked.
        wait_for(lambda: _report(api, spared)["strikes"] == 1, 60, what="the shadow's strike")
        assert api.get(f"/v1/authors/{spared}/can-chat").json()["can_chat"]
        assert not _report(api, spared)["blocked"]

        # The live verdict delivered again, then a rejected item of the same author (the same
        # key, so the same partition, read after it): once that one's strike is in, the
        # redelivery has been read, and it published nothing.
        marker = _verdict(blocked, 0.95, live=False)
        asyncio.run(publish(bootstrap, [live, marker]))
        wait_for(lambda: _report(api, blocked)["strikes"] == 1, 60, what="the marker's strike")
        blocks = _records(bootstrap, AUTHOR_BLOCKS.name, blocked)
        assert [(b["action"], b["change_id"]) for b in blocks] == [
            ("block", f"block:demo:{blocked}:{live.event_id}")
        ]
        struck = _records(bootstrap, AUTHOR_STRIKES.name, blocked)
        assert [s["verdict_event_id"] for s in struck] == [marker.event_id]
        assert _records(bootstrap, AUTHOR_BLOCKS.name, spared) == []
    finally:
        strikes.stop()
