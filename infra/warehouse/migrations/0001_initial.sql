-- Events as received, verdicts, and dead letters. ReplacingMergeTree keyed by the event makes
-- every insert idempotent: a replay or a crash-and-retry keeps one row per event (read with FINAL).

CREATE TABLE IF NOT EXISTS events
(
    tenant       LowCardinality(String),
    event_id     String,
    source       LowCardinality(String),
    kind         LowCardinality(String),
    item_id      String,
    author       String,
    occurred_at  DateTime64(3, 'UTC'),
    received_at  DateTime64(3, 'UTC'),
    lang         LowCardinality(String),
    text         String,
    payload      String CODEC(ZSTD(3)),
    INDEX idx_item item_id TYPE bloom_filter GRANULARITY 4
)
ENGINE = ReplacingMergeTree(received_at)
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (tenant, occurred_at, event_id);

CREATE TABLE IF NOT EXISTS verdicts
(
    tenant          LowCardinality(String),
    event_id        String,
    source          LowCardinality(String),
    kind            LowCardinality(String),
    item_id         String,
    author          String,
    occurred_at     DateTime64(3, 'UTC'),
    judged_at       DateTime64(3, 'UTC'),
    decision        LowCardinality(String),
    toxic           Float32,
    scores          Map(LowCardinality(String), Float32),
    lang            LowCardinality(String),
    spans           Array(Tuple(UInt32, UInt32)),
    model_version   LowCardinality(String),
    policy_version  LowCardinality(String),
    duplicate_of    Nullable(String),
    latency_ms      Float32,
    INDEX idx_event event_id TYPE bloom_filter GRANULARITY 4,
    INDEX idx_author author TYPE bloom_filter GRANULARITY 4
)
ENGINE = ReplacingMergeTree(judged_at)
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (tenant, occurred_at, event_id);

CREATE TABLE IF NOT EXISTS dead_letters
(
    topic      LowCardinality(String),
    partition  UInt32,
    offset     UInt64,
    reason     LowCardinality(String),
    detail     String,
    raw        String CODEC(ZSTD(3)),
    raw_size   UInt32,
    tenant     Nullable(String),
    event_id   Nullable(String),
    failed_at  DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(failed_at)
PARTITION BY toYYYYMM(failed_at)
ORDER BY (topic, partition, offset);
