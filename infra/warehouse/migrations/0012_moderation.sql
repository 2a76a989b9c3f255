-- Human moderation (api/review): copies of `moderation.actions` and `moderation.notices`, and
-- strikes that reviewers take back. ReplacingMergeTrees keyed by the record's own id (read FINAL).
-- `moderation_actions` is ordered by item, so an item's effective state (its latest action with
-- an effect) is one primary-key point.

CREATE TABLE IF NOT EXISTS moderation_actions
(
    tenant         LowCardinality(String),
    action_id      String,
    event_id       String,
    item_id        String,
    author         String,
    source         LowCardinality(String),
    kind           LowCardinality(String),
    occurred_at    DateTime64(3, 'UTC'),
    action         LowCardinality(String),
    effect         LowCardinality(String),
    reason         LowCardinality(String),
    dsa_category   LowCardinality(String),
    labels         Array(String),
    note           String,
    reviewer       String,
    decided_at     DateTime64(3, 'UTC'),
    origin         LowCardinality(String),
    reports        UInt32,
    model_decision LowCardinality(String),
    appeal_of      Nullable(String),
    enqueued_at    DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree
ORDER BY (tenant, event_id, decided_at, action_id);

CREATE TABLE IF NOT EXISTS moderation_notices
(
    tenant              LowCardinality(String),
    notice_id           String,
    action_id           String,
    event_id            String,
    author              String,
    recipient           LowCardinality(String),
    recipient_id        String,
    action              LowCardinality(String),
    reason              LowCardinality(String),
    reason_title        String,
    dsa_category        LowCardinality(String),
    ground              LowCardinality(String),
    automated_detection Bool,
    statement           String,
    appeal_until        Nullable(DateTime64(3, 'UTC')),
    created_at          DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree
ORDER BY (tenant, created_at, notice_id);

ALTER TABLE strikes ADD COLUMN IF NOT EXISTS revoked Bool DEFAULT false;
