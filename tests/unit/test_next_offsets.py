"""What a consumer commits after a batch: the partitions the batch came from, each at the
offset after its last record, and no other."""

from __future__ import annotations

from aiokafka import ConsumerRecord, TopicPartition

from infra.kafka import next_offsets


def record(topic: str, partition: int, offset: int) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord(
        topic=topic, partition=partition, offset=offset, timestamp=0, timestamp_type=0,
        key=None, value=b"", checksum=None, serialized_key_size=0, serialized_value_size=0,
        headers=(),
    )  # fmt: skip


def test_each_partition_of_the_batch_is_committed_after_its_last_record() -> None:
    batch = [
        record("verdicts.text", 2, 40), record("events.judged", 0, 7),
        record("verdicts.text", 2, 41), record("verdicts.text", 1, 3),
    ]  # fmt: skip
    assert next_offsets(batch) == {
        TopicPartition("verdicts.text", 2): 42,
        TopicPartition("events.judged", 0): 8,
        TopicPartition("verdicts.text", 1): 4,
    }


def test_an_empty_batch_commits_nothing() -> None:
    assert next_offsets([]) == {}
