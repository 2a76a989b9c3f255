-- Read models for the API. Replays insert duplicates, so nothing here counts rows at insert time:
-- a copy keyed by event is a ReplacingMergeTree read with FINAL, and rollups are recomputed from
-- FINAL reads of the hours and authors that an insert marked dirty (`api/rollups.py`).

-- Duplicate matches: "which events reused this one's scores" without a full scan.
ALTER TABLE verdicts ADD INDEX IF NOT EXISTS idx_duplicate_of duplicate_of TYPE bloom_filter GRANULARITY 4;
ALTER TABLE verdicts MATERIALIZE INDEX idx_duplicate_of;

-- Verdicts ordered by author, a full copy: an author's items (their stats, their page of results)
-- are one primary-key range. The bloom index on `verdicts` still reads a granule block per item.
CREATE TABLE IF NOT EXISTS verdicts_by_author AS verdicts
ENGINE = ReplacingMergeTree(judged_at)
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (tenant, author, occurred_at, event_id);

CREATE MATERIALIZED VIEW IF NOT EXISTS verdicts_by_author_mv TO verdicts_by_author AS
SELECT * FROM verdicts;

INSERT INTO verdicts_by_author SELECT * FROM verdicts;

-- Dirty marks: every insert into `verdicts` marks its (tenant, hour) and (tenant, author). The
-- refresher recomputes what is marked and then writes the same version with done = 1, which FINAL
-- hides; a newer mark (a higher version) wins over the done row, so nothing is ever skipped.
CREATE TABLE IF NOT EXISTS rollup_dirty_hours
(
    tenant   LowCardinality(String),
    hour     DateTime('UTC'),
    version  DateTime64(6, 'UTC'),
    done     UInt8
)
ENGINE = ReplacingMergeTree(version, done)
ORDER BY (tenant, hour);

CREATE MATERIALIZED VIEW IF NOT EXISTS rollup_dirty_hours_mv TO rollup_dirty_hours AS
SELECT DISTINCT tenant, toStartOfHour(occurred_at) AS hour, now64(6) AS version, toUInt8(0) AS done
FROM verdicts;

CREATE TABLE IF NOT EXISTS rollup_dirty_authors
(
    tenant   LowCardinality(String),
    author   String,
    version  DateTime64(6, 'UTC'),
    done     UInt8
)
ENGINE = ReplacingMergeTree(version, done)
ORDER BY (tenant, author);

CREATE MATERIALIZED VIEW IF NOT EXISTS rollup_dirty_authors_mv TO rollup_dirty_authors AS
SELECT DISTINCT tenant, author, now64(6) AS version, toUInt8(0) AS done
FROM verdicts;

INSERT INTO rollup_dirty_hours
SELECT DISTINCT tenant, toStartOfHour(occurred_at), now64(6), 0 FROM verdicts;

INSERT INTO rollup_dirty_authors
SELECT DISTINCT tenant, author, now64(6), 0 FROM verdicts;

-- Per hour and dimension: items, harmful items (toxic >= 0.5), items per label (score >= 0.5),
-- and a latency histogram (bucket = floor(4 * log2(1 + ms)), so percentiles are within ~19%).
CREATE TABLE IF NOT EXISTS rollup_hourly
(
    tenant        LowCardinality(String),
    hour          DateTime('UTC'),
    decision      LowCardinality(String),
    source        LowCardinality(String),
    kind          LowCardinality(String),
    lang          LowCardinality(String),
    items         UInt64,
    harmful       UInt64,
    labels        Map(LowCardinality(String), UInt64),
    latency_hist  Map(UInt8, UInt64),
    refreshed_at  DateTime64(6, 'UTC')
)
ENGINE = ReplacingMergeTree(refreshed_at)
ORDER BY (tenant, hour, decision, source, kind, lang);

CREATE TABLE IF NOT EXISTS rollup_authors
(
    tenant        LowCardinality(String),
    author        String,
    items         UInt64,
    approve       UInt64,
    review        UInt64,
    reject        UInt64,
    harmful       UInt64,
    labels        Map(LowCardinality(String), UInt64),
    langs         Map(LowCardinality(String), UInt64),
    first_seen    DateTime64(3, 'UTC'),
    last_seen     DateTime64(3, 'UTC'),
    refreshed_at  DateTime64(6, 'UTC')
)
ENGINE = ReplacingMergeTree(refreshed_at)
ORDER BY (tenant, author);
