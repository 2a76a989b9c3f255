from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from schemas import CATALOGUE, Kind, parse_event, topic_for_kind
from schemas.events import MAX_TEXT_CHARS, ActivityEvent, ChatMessageEvent, PostEvent
from tests.support.events import as_json, post_event


def test_a_post_parses_and_knows_its_item_author_and_key() -> None:
    event = parse_event(as_json(post_event("e1", "hello", external_id="p-9", author="ann")))
    assert isinstance(event, PostEvent)
    assert event.item_id == "p-9"
    assert event.author == "ann"
    assert event.partition_key == "demo:ann"
    assert event.text == "hello"


def test_a_chat_message_and_activity_parse_by_kind() -> None:
    now = datetime.now(UTC).isoformat()
    chat = parse_event(
        json.dumps(
            {
                "event_id": "c1", "tenant": "t", "source": "chat", "kind": "chat_message",
                "occurred_at": now,
                "payload": {"message_id": "m1", "sender": "bo", "receiver": "al", "text": "hi"},
            }
        )
    )  # fmt: skip
    assert isinstance(chat, ChatMessageEvent)
    assert (chat.item_id, chat.author) == ("m1", "bo")
    activity = parse_event(
        json.dumps(
            {
                "event_id": "a1", "tenant": "t", "source": "composer", "kind": "activity",
                "occurred_at": now,
                "payload": {"user": "al", "session_id": "s1", "action": "popup_opened"},
            }
        )
    )  # fmt: skip
    assert isinstance(activity, ActivityEvent)
    assert activity.partition_key == "t:s1"  # a composer session stays in one partition


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"occurred_at": "2026-01-01T00:00:00"}, "occurred_at"),  # no time zone
        ({"tenant": "has space"}, "tenant"),
        ({"kind": "poem"}, "kind"),
        ({"payload": {"author": "a", "text": "t"}}, "external_id"),
        ({"surprise": 1}, "surprise"),
        ({"schema_version": 2}, "schema_version"),
    ],
)
def test_invalid_envelopes_are_refused_naming_the_field(
    change: dict[str, object], field: str
) -> None:
    event = post_event("e1", "hello") | change
    with pytest.raises(ValidationError) as info:
        parse_event(json.dumps(event))
    assert field in str(info.value)


def test_text_over_the_limit_is_refused() -> None:
    with pytest.raises(ValidationError, match="at most"):
        parse_event(as_json(post_event("e1", "x" * (MAX_TEXT_CHARS + 1))))


def test_the_catalogue_names_each_topic_once_and_routes_every_kind() -> None:
    names = [t.name for t in CATALOGUE]
    assert len(names) == len(set(names))
    for kind in Kind:
        assert topic_for_kind(kind) in CATALOGUE
    assert topic_for_kind(Kind.POST) is topic_for_kind(Kind.CHAT_MESSAGE)


def test_schemas_export_writes_json_schema_for_every_record(tmp_path: Path) -> None:
    from infra.cli import app

    result = CliRunner().invoke(app, ["schemas", "export", str(tmp_path)])
    assert result.exit_code == 0, result.output
    files = {p.name for p in tmp_path.iterdir()}
    assert files == {
        "event.schema.json", "verdict.schema.json", "dead_letter.schema.json", "topics.json",
        "media_verdict.schema.json", "bank_entry.schema.json", "strike.schema.json",
        "block_change.schema.json", "composer_activity.schema.json",
        "assist_request.schema.json", "assist_response.schema.json", "shadow_record.schema.json",
        "moderation_action.schema.json", "notice.schema.json",
        "dsa_statement_of_reasons.schema.json", "dsa_statements_batch.schema.json",
    }  # fmt: skip
    composer = json.loads((tmp_path / "composer_activity.schema.json").read_text())
    actions = composer["$defs"]["ComposerAction"]["enum"]
    assert {"composer_opened", "submit_blocked", "post_published", "warning_shown"} <= set(actions)
    assert "`submit_blocked`: safe mode" in composer["properties"]["action"]["description"]
    event_schema = json.loads((tmp_path / "event.schema.json").read_text())
    assert event_schema["discriminator"]["propertyName"] == "kind"
    verdict_schema = json.loads((tmp_path / "verdict.schema.json").read_text())
    assert {"event_id", "decision", "scores", "spans"} <= set(verdict_schema["properties"])
    # Rules are an optional part of the verdict: a producer written before them stays valid.
    assert "rules" in verdict_schema["properties"]
    assert "rules" not in verdict_schema["required"]
    assert "FiredRule" in verdict_schema["$defs"]
    shadow = json.loads((tmp_path / "shadow_record.schema.json").read_text())
    assert {"rule", "live_decision", "shadow_decision"} <= set(shadow["required"])
    topics = json.loads((tmp_path / "topics.json").read_text())
    assert {t["name"] for t in topics} == {t.name for t in CATALOGUE}
