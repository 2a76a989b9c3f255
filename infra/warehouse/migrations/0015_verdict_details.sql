-- A verdict in full (`GET /v1/verdicts/{event_id}`, the console's item page) as one key range of
-- one narrow copy, where it took three statements: a point of `verdicts_by_event` (twenty column
-- files), the text's point of `events` with the reviewers' decision from `moderation_actions`,
-- and the reuses' lookup. Each statement of embedded ClickHouse costs 3-7 ms of CPU whatever it
-- reads (docs/performance.md); this copy makes the whole read one statement of one column.
--
-- One row per part of an item, keyed (tenant, event_id, part, ref):
--   verdict    the verdict as JSON (its columns by name; Float32 values as the Float64 they are)
--   text       the event's text (not of activity events, which are never judged)
--   reused_by  ref: an event whose verdict reused this one's scores (a candidate: readers check
--              that its current verdict still says so, as with `verdict_reuses`)
--   action     ref: a reviewer's action id; body: its effect
-- `version` is what the source tables replace by (judged_at, received_at, decided_at): readers
-- take the newest row of each (part, ref), so they need no FINAL. Copies only, rebuilt from
-- `verdicts`, `events` and `moderation_actions` (re-running is safe: a second copy of a row is
-- the same row).
DROP VIEW IF EXISTS verdict_details_verdicts_mv;
DROP VIEW IF EXISTS verdict_details_texts_mv;
DROP VIEW IF EXISTS verdict_details_reuses_mv;
DROP VIEW IF EXISTS verdict_details_actions_mv;

CREATE TABLE IF NOT EXISTS verdict_details
(
    tenant    LowCardinality(String),
    event_id  String,
    part      LowCardinality(String),
    ref       String,
    version   DateTime64(3, 'UTC'),
    body      String
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (tenant, event_id, part, ref)
SETTINGS index_granularity = 256;

CREATE MATERIALIZED VIEW IF NOT EXISTS verdict_details_verdicts_mv TO verdict_details AS
SELECT tenant, event_id, 'verdict' AS part, '' AS ref, judged_at AS version,
    formatRowNoNewline('JSONEachRow', event_id, tenant, source, kind, item_id, author,
        occurred_at, judged_at, decision, toFloat64(toxic) AS toxic,
        CAST(scores, 'Map(String, Float64)') AS scores, lang, spans, model_version,
        policy_version, duplicate_of, toFloat64(latency_ms) AS latency_ms, rewrite, context,
        rules) AS body
FROM verdicts;

CREATE MATERIALIZED VIEW IF NOT EXISTS verdict_details_texts_mv TO verdict_details AS
SELECT tenant, event_id, 'text' AS part, '' AS ref, received_at AS version, text AS body
FROM events WHERE kind != 'activity';

CREATE MATERIALIZED VIEW IF NOT EXISTS verdict_details_reuses_mv TO verdict_details AS
SELECT tenant, assumeNotNull(duplicate_of) AS event_id, 'reused_by' AS part, event_id AS ref,
    judged_at AS version, '' AS body
FROM verdicts WHERE duplicate_of != '';

CREATE MATERIALIZED VIEW IF NOT EXISTS verdict_details_actions_mv TO verdict_details AS
SELECT tenant, event_id, 'action' AS part, action_id AS ref, decided_at AS version,
    toString(effect) AS body
FROM moderation_actions;

INSERT INTO verdict_details
SELECT tenant, event_id, 'verdict', '', judged_at,
    formatRowNoNewline('JSONEachRow', event_id, tenant, source, kind, item_id, author,
        occurred_at, judged_at, decision, toFloat64(toxic) AS toxic,
        CAST(scores, 'Map(String, Float64)') AS scores, lang, spans, model_version,
        policy_version, duplicate_of, toFloat64(latency_ms) AS latency_ms, rewrite, context,
        rules)
FROM verdicts;

INSERT INTO verdict_details
SELECT tenant, event_id, 'text', '', received_at, text FROM events WHERE kind != 'activity';

INSERT INTO verdict_details
SELECT tenant, assumeNotNull(duplicate_of), 'reused_by', event_id, judged_at, '' FROM verdicts
WHERE duplicate_of != '';

INSERT INTO verdict_details
SELECT tenant, event_id, 'action', action_id, decided_at, toString(effect)
FROM moderation_actions;
