"""A client from another ecosystem against the embedded broker and a running worker:
confluent-kafka (librdkafka, the C client that most non-JVM Kafka clients wrap) produces text
events and malformed records, and reads back the worker's verdicts and dead letters. What was
checked, and what does not work, is written down in docs/clients.md."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from aiokafka.partitioner import murmur2
from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer

from infra.settings import Settings
from schemas.events import PostEvent
from schemas.records import DeadLetter, DeadLetterReason, Decision, Verdict
from schemas.topics import DEAD_LETTERS, EVENTS_TEXT, VERDICTS_TEXT
from tests.support.events import as_json, post_event
from tests.support.stack import Worker

# librdkafka's default partitioner (consistent_random, CRC32) puts a key on another partition than
# the Java client and aiokafka (murmur2) do; murmur2_random is the Java client's, so a key lands
# where the project's own producers put it (per-author order, strikes).
PRODUCER_CONFIG: dict[str, str | int | bool] = {
    "acks": "all",
    "partitioner": "murmur2_random",
    "enable.idempotence": False,  # it works here too (docs/clients.md), but is not needed
    "linger.ms": 5,
}
# A group join on the embedded broker waits about half the session timeout.
CONSUMER_CONFIG: dict[str, str | int | bool] = {
    "auto.offset.reset": "earliest",
    "session.timeout.ms": 10_000,
    "heartbeat.interval.ms": 1_000,
    "enable.auto.commit": False,
}
TIMEOUT = 180.0  # the first test of a session waits for the worker to load and join its group


@dataclass(frozen=True, slots=True)
class Delivered:
    topic: str
    partition: int
    offset: int


def produce(bootstrap: str, records: list[tuple[bytes, bytes | None]]) -> list[Delivered]:
    """Produce (key, value) records to events.text with confluent-kafka; where each landed, in
    order. Fails on any delivery error or on a record not delivered."""
    producer = Producer({"bootstrap.servers": bootstrap, **PRODUCER_CONFIG})
    reports: dict[int, Delivered] = {}
    errors: list[str] = []

    def on_delivery(n: int) -> Callable[[KafkaError | None, Message], None]:
        def report(err: KafkaError | None, msg: Message) -> None:
            if err is not None:
                errors.append(f"record {n}: {err}")
                return
            topic, partition, offset = msg.topic(), msg.partition(), msg.offset()
            assert topic is not None
            assert partition is not None
            assert offset is not None
            reports[n] = Delivered(topic, partition, offset)

        return report

    for n, (key, value) in enumerate(records):
        producer.produce(EVENTS_TEXT.name, value=value, key=key, on_delivery=on_delivery(n))
    left = producer.flush(30)
    assert left == 0, f"{left} records not delivered after 30 s"
    assert not errors, errors
    assert sorted(reports) == list(range(len(records)))
    return [reports[n] for n in range(len(records))]


def consume(
    bootstrap: str, topics: list[str], done: Callable[[list[Message]], bool]
) -> list[Message]:
    """Every record of `topics` (from the beginning, in a new consumer group) until `done` says
    enough, then a further second's worth, so that a duplicate would be seen too."""
    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": f"other-clients-{uuid.uuid4().hex}"}
        | CONSUMER_CONFIG
    )
    consumer.subscribe(topics)
    seen: list[Message] = []

    def poll(seconds: float) -> None:
        for msg in consumer.consume(num_messages=500, timeout=seconds):
            err = msg.error()
            if err is not None:
                raise KafkaException(err)
            seen.append(msg)

    try:
        deadline = time.monotonic() + TIMEOUT
        while not done(seen):
            if time.monotonic() > deadline:
                pytest.fail(f"timed out after {TIMEOUT:.0f}s reading {topics}")
            poll(0.5)
        settle = time.monotonic() + 1.0
        while time.monotonic() < settle:
            poll(0.2)
    finally:
        consumer.close()
    return seen


def aiokafka_partition(key: bytes, partitions: int) -> int:
    """The partition aiokafka's (and the Java client's) default partitioner picks for `key`."""
    return int(murmur2(key) & 0x7FFFFFFF) % partitions


def verdicts_of(messages: list[Message], event_ids: set[str]) -> dict[str, list[Message]]:
    found: dict[str, list[Message]] = {}
    for msg in messages:
        if msg.topic() == VERDICTS_TEXT.name:
            event_id = json.loads(msg.value() or b"{}").get("event_id")
            if event_id in event_ids:
                found.setdefault(event_id, []).append(msg)
    return found


def test_confluent_kafka_produces_events_and_reads_one_verdict_for_each(
    worker: Worker, settings: Settings
) -> None:
    bootstrap = settings.kafka_bootstrap or ""
    run = uuid.uuid4().hex[:8]
    toxic = post_event(f"{run}-toxic", "You are a pathetic idiot, shut up you stupid loser")
    kind = post_event(f"{run}-kind", "Thank you for the thoughtful reply and the sources")
    others = [
        post_event(f"{run}-{n}", f"message number {n} about the weather", author=f"user-{n % 3}")
        for n in range(6)
    ]
    events = [toxic, kind, *others]
    keys = [PostEvent.model_validate(e).partition_key.encode() for e in events]  # tenant:author

    delivered = produce(bootstrap, [(k, as_json(e)) for k, e in zip(keys, events, strict=True)])
    for key, where in zip(keys, delivered, strict=True):
        assert where.topic == EVENTS_TEXT.name
        assert where.partition == aiokafka_partition(key, EVENTS_TEXT.partitions)

    ids = {e["event_id"] for e in events}
    messages = consume(
        bootstrap, [VERDICTS_TEXT.name], lambda seen: verdicts_of(seen, ids).keys() >= ids
    )
    found = verdicts_of(messages, ids)
    assert {event_id: len(v) for event_id, v in found.items()} == dict.fromkeys(ids, 1)

    verdicts: dict[str, Verdict] = {}
    for event in events:
        msg = found[event["event_id"]][0]
        verdict = Verdict.model_validate_json(msg.value() or b"")  # the public contract
        payload: dict[str, Any] = event["payload"]
        assert msg.key() == f"{event['tenant']}:{payload['author']}".encode()
        assert verdict.event_id == event["event_id"]
        assert (verdict.tenant, verdict.source, verdict.kind) == ("demo", "comments", "post")
        assert verdict.item_id == payload["external_id"]
        assert verdict.author == payload["author"]
        assert verdict.decision in set(Decision)
        assert verdict.model_version
        assert verdict.policy_version
        verdicts[event["event_id"]] = verdict
    t, k = verdicts[toxic["event_id"]], verdicts[kind["event_id"]]
    assert t.toxic > k.toxic
    assert t.decision in {Decision.REVIEW, Decision.REJECT}
    assert k.decision == Decision.APPROVE


def test_confluent_kafka_malformed_records_become_dead_letters(
    worker: Worker, settings: Settings
) -> None:
    bootstrap = settings.kafka_bootstrap or ""
    run = uuid.uuid4().hex[:8]
    key = f"demo:{run}-author".encode()
    wrong_shape = {"event_id": f"{run}-shape", "tenant": "demo", "kind": "post", "payload": {}}
    media = post_event(f"{run}-media", "unused") | {
        "kind": "media",
        "payload": {
            "external_id": f"{run}-media",
            "owner": f"{run}-author",
            "url": "http://127.0.0.1:9/cat.png",
            "media_type": "image",
        },
    }
    after = post_event(f"{run}-after", "A perfectly normal comment about the weather")
    cases: list[tuple[bytes | None, DeadLetterReason, str | None]] = [
        (b"{this is not json " + run.encode(), DeadLetterReason.INVALID_JSON, None),
        (json.dumps(wrong_shape).encode(), DeadLetterReason.SCHEMA_VIOLATION, f"{run}-shape"),
        (b"", DeadLetterReason.INVALID_JSON, None),  # an empty value
        (None, DeadLetterReason.INVALID_JSON, None),  # a null value (a tombstone)
        (as_json(media), DeadLetterReason.WRONG_TOPIC, f"{run}-media"),
    ]
    delivered = produce(bootstrap, [(key, v) for v, _, _ in cases] + [(key, as_json(after))])
    bad = {(d.partition, d.offset): case for d, case in zip(delivered, cases, strict=False)}
    assert len(bad) == len(cases)

    def dead_letters(seen: list[Message]) -> dict[tuple[int, int], list[DeadLetter]]:
        found: dict[tuple[int, int], list[DeadLetter]] = {}
        for msg in seen:
            if msg.topic() != DEAD_LETTERS.name:
                continue
            letter = DeadLetter.model_validate_json(msg.value() or b"")
            assert msg.key() == letter.topic.encode()  # keyed by source topic
            where = (letter.partition, letter.offset)
            if letter.topic == EVENTS_TEXT.name and where in bad:
                found.setdefault(where, []).append(letter)
        return found

    messages = consume(
        bootstrap,
        [DEAD_LETTERS.name, VERDICTS_TEXT.name],
        lambda seen: (
            dead_letters(seen).keys() >= bad.keys()
            and after["event_id"] in verdicts_of(seen, {after["event_id"]})
        ),
    )
    found = dead_letters(messages)
    assert {where: len(letters) for where, letters in found.items()} == dict.fromkeys(bad, 1)
    for where, (value, reason, event_id) in bad.items():
        letter = found[where][0]
        assert letter.reason == reason, (value, letter.detail)
        assert letter.event_id == event_id
        assert letter.tenant == "demo"
        assert letter.raw_size == len(value or b"")
        assert letter.raw == (value or b"").decode()
        if reason is DeadLetterReason.SCHEMA_VIOLATION:  # says which fields are missing
            assert "occurred_at" in letter.detail
            assert "source" in letter.detail
    # The worker carried on: the valid event after them has exactly one verdict.
    assert len(verdicts_of(messages, {after["event_id"]})[after["event_id"]]) == 1
