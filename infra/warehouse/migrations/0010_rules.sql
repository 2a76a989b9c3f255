-- Rules (docs/rules.md): what a tenant's rules did to each verdict (JSON, empty when it has none),
-- and the copy of `rules.shadow`: one row per shadow rule that fired, keyed by (event, rule), so
-- a replay keeps one row (read FINAL). The shadow-against-live comparison groups these rows.
ALTER TABLE verdicts ADD COLUMN IF NOT EXISTS rules String DEFAULT '';

CREATE TABLE IF NOT EXISTS rule_shadow
(
    tenant           LowCardinality(String),
    event_id         String,
    author           String,
    rule             String,
    version          LowCardinality(String),
    ruleset_version  UInt32,
    actions          String,
    live_decision    LowCardinality(String),
    shadow_decision  LowCardinality(String),
    judged_at        DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(judged_at)
PARTITION BY toYYYYMM(judged_at)
ORDER BY (tenant, rule, event_id);
