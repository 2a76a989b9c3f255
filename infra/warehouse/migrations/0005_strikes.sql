-- Strikes and blocks (streams/strikes.py): copies of `authors.strikes` and `authors.blocks`.
-- ReplacingMergeTrees keyed by the record's own stable id: a replay keeps one row (read FINAL).

CREATE TABLE IF NOT EXISTS strikes
(
    tenant           LowCardinality(String),
    author           String,
    strike_id        String,
    verdict_event_id String,
    source           LowCardinality(String),
    occurred_at      DateTime64(3, 'UTC'),
    strikes          UInt32,
    strike_limit     UInt32,
    window_s         UInt32
)
ENGINE = ReplacingMergeTree
ORDER BY (tenant, author, occurred_at, strike_id);

CREATE TABLE IF NOT EXISTS author_blocks
(
    tenant     LowCardinality(String),
    author     String,
    change_id  String,
    action     LowCardinality(String),
    at         DateTime64(3, 'UTC'),
    actor      String,
    strikes    UInt32,
    reason     String
)
ENGINE = ReplacingMergeTree
ORDER BY (tenant, author, at, change_id);
