-- Replays of dead letters (api/replay.py): one row each time a dead letter's raw record was
-- published again to its topic, with who did it and where it landed. A dead letter is
-- `topic:partition:offset` of its source record, as in `dead_letters`. A second replay of the
-- same dead letter is refused unless forced, so this is also the record of what was replayed.
CREATE TABLE IF NOT EXISTS dead_letter_replays
(
    topic         LowCardinality(String),
    partition     UInt32,
    offset        UInt64,
    tenant        Nullable(String),
    event_id      String,
    replayed_at   DateTime64(3, 'UTC'),
    actor         String,
    forced        Bool,
    to_topic      LowCardinality(String),
    to_partition  UInt32,
    to_offset     UInt64
)
ENGINE = ReplacingMergeTree
ORDER BY (topic, partition, offset, replayed_at);
