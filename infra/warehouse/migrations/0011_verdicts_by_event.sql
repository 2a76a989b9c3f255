-- A verdict by id (`GET /v1/verdicts/{event_id}`, what synchronous callers, the console's item
-- page and webhook consumers read first): one point of a copy ordered by event id, instead of a
-- lookup in `verdict_times` followed by a point of `verdicts`, whose 8,192-row granules hold a
-- month's items and every column. Not partitioned: an id is one key point in each part, not one
-- per month. A verdict stored twice is two rows of the same key; reads use FINAL (newest
-- `judged_at` wins), as everywhere. Copies only, rebuilt from `verdicts` (re-running is safe).
DROP VIEW IF EXISTS verdicts_by_event_mv;

CREATE TABLE IF NOT EXISTS verdicts_by_event AS verdicts
ENGINE = ReplacingMergeTree(judged_at)
ORDER BY (tenant, event_id)
SETTINGS index_granularity = 256;

-- `AS verdicts` copied its skip indexes; lookups here are by the primary key.
ALTER TABLE verdicts_by_event DROP INDEX IF EXISTS idx_event;
ALTER TABLE verdicts_by_event DROP INDEX IF EXISTS idx_author;
ALTER TABLE verdicts_by_event DROP INDEX IF EXISTS idx_duplicate_of;

CREATE MATERIALIZED VIEW IF NOT EXISTS verdicts_by_event_mv TO verdicts_by_event AS
SELECT * FROM verdicts;

INSERT INTO verdicts_by_event SELECT * FROM verdicts;

-- "Which events reused this one's scores": one key range, where a bloom-filter search of
-- `verdicts.duplicate_of` opened every part. A candidate list only: a re-judged item may no
-- longer reuse, so readers keep the candidates whose current verdict (FINAL) still says so.
DROP VIEW IF EXISTS verdict_reuses_mv;

CREATE TABLE IF NOT EXISTS verdict_reuses
(
    tenant        LowCardinality(String),
    duplicate_of  String,
    occurred_at   DateTime64(3, 'UTC'),
    event_id      String
)
ENGINE = ReplacingMergeTree
ORDER BY (tenant, duplicate_of, occurred_at, event_id)
SETTINGS index_granularity = 1024;

CREATE MATERIALIZED VIEW IF NOT EXISTS verdict_reuses_mv TO verdict_reuses AS
SELECT tenant, assumeNotNull(duplicate_of) AS duplicate_of, occurred_at, event_id FROM verdicts
WHERE duplicate_of IS NOT NULL;

INSERT INTO verdict_reuses
SELECT tenant, assumeNotNull(duplicate_of), occurred_at, event_id FROM verdicts
WHERE duplicate_of IS NOT NULL;

-- Superseded by `verdicts_by_event` (it was read only to find a verdict's `occurred_at`).
DROP VIEW IF EXISTS verdict_times_mv;
DROP TABLE IF EXISTS verdict_times;
