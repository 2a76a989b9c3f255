-- Media: verdicts (one per judged image or video), the hashes they carry, and bank entries.
-- ReplacingMergeTrees keyed by event (or bank entry), read with FINAL: replays count once.

CREATE TABLE IF NOT EXISTS media_verdicts
(
    tenant          LowCardinality(String),
    event_id        String,
    source          LowCardinality(String),
    item_id         String,
    author          String,
    occurred_at     DateTime64(3, 'UTC'),
    judged_at       DateTime64(3, 'UTC'),
    media_type      LowCardinality(String),
    url             String,
    decision        LowCardinality(String),
    reason          LowCardinality(String),
    detail          Nullable(String),
    content_type    LowCardinality(Nullable(String)),
    size_bytes      Nullable(UInt64),
    width           Nullable(UInt32),
    height          Nullable(UInt32),
    duration_s      Nullable(Float32),
    hashes          Array(Tuple(hash_type LowCardinality(String), value String, at_s Nullable(Float32))),
    matches         String CODEC(ZSTD(3)),
    matched_events  Array(String),
    scores          Map(LowCardinality(String), Float32),
    model_version   LowCardinality(Nullable(String)),
    policy_version  LowCardinality(String),
    duplicate_of    Nullable(String),
    latency_ms      Float32,
    INDEX idx_event event_id TYPE bloom_filter GRANULARITY 4,
    INDEX idx_duplicate_of duplicate_of TYPE bloom_filter GRANULARITY 4,
    INDEX idx_matched matched_events TYPE bloom_filter GRANULARITY 4
)
ENGINE = ReplacingMergeTree(judged_at)
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (tenant, occurred_at, event_id);

-- Every stored hash, by value: "which items carry this hash" is one key range.
CREATE TABLE IF NOT EXISTS media_hashes
(
    tenant     LowCardinality(String),
    hash_type  LowCardinality(String),
    value      String,
    event_id   String,
    at_s       Nullable(Float32),
    judged_at  DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(judged_at)
ORDER BY (tenant, hash_type, value, event_id);

CREATE MATERIALIZED VIEW IF NOT EXISTS media_hashes_mv TO media_hashes AS
SELECT tenant, h.hash_type AS hash_type, h.value AS value, event_id, h.at_s AS at_s, judged_at
FROM media_verdicts ARRAY JOIN hashes AS h;

-- Bank entries as last published (import, quarantine, re-activation, removal).
CREATE TABLE IF NOT EXISTS bank_entries
(
    tenant      LowCardinality(String),
    bank        LowCardinality(String),
    entry_id    String,
    hash_type   LowCardinality(String),
    value       String,
    label       String,
    source      String,
    decision    LowCardinality(String),
    status      LowCardinality(String),
    note        Nullable(String),
    updated_at  DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(updated_at)
ORDER BY (tenant, entry_id);
