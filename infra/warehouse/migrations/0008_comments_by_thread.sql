-- The comments of one post (api/read/threads.py): one key range of this table, instead of a scan
-- of every event of the tenant since the post, filtered on the payload's `thread_id`.
-- Rebuilt from `events`, so re-running it is safe (a ReplacingMergeTree, read with FINAL).
CREATE TABLE IF NOT EXISTS comments_by_thread
(
    tenant       LowCardinality(String),
    thread_id    String,
    occurred_at  DateTime64(3, 'UTC'),
    event_id     String
)
ENGINE = ReplacingMergeTree
ORDER BY (tenant, thread_id, occurred_at, event_id)
SETTINGS index_granularity = 1024;

DROP VIEW IF EXISTS comments_by_thread_mv;

CREATE MATERIALIZED VIEW IF NOT EXISTS comments_by_thread_mv TO comments_by_thread AS
SELECT tenant, JSONExtractString(payload, 'thread_id') AS thread_id, occurred_at, event_id
FROM events
WHERE kind = 'post' AND JSONExtractString(payload, 'thread_id') != '';

INSERT INTO comments_by_thread
SELECT tenant, JSONExtractString(payload, 'thread_id') AS thread_id, occurred_at, event_id
FROM events
WHERE kind = 'post' AND JSONExtractString(payload, 'thread_id') != '';
