-- A verdict in full (`GET /v1/verdicts/{event_id}`) shows the judged text. Read from `events`,
-- that was one point of its key (tenant, occurred_at, event_id): one 8,192-row granule of every
-- column it reads, decompressed for one row. This narrow copy ordered by event id makes it one
-- 256-row granule of four columns, which the verdict's own read (`verdicts_by_event`) fetches in
-- the same query. Replays are rows of the same key (reads use FINAL: newest `received_at`
-- wins, as in `events`). A copy only, rebuilt from `events` (re-running is safe).
DROP VIEW IF EXISTS texts_by_event_mv;

CREATE TABLE IF NOT EXISTS texts_by_event
(
    tenant       LowCardinality(String),
    event_id     String,
    received_at  DateTime64(3, 'UTC'),
    text         String
)
ENGINE = ReplacingMergeTree(received_at)
ORDER BY (tenant, event_id)
SETTINGS index_granularity = 256;

CREATE MATERIALIZED VIEW IF NOT EXISTS texts_by_event_mv TO texts_by_event AS
SELECT tenant, event_id, received_at, text FROM events
WHERE kind != 'activity';

INSERT INTO texts_by_event
SELECT tenant, event_id, received_at, text FROM events
WHERE kind != 'activity';
