-- The rollups count items by their effective state: a reviewer's decision over the model's
-- (`api/rollups.py` joins an hour's or an author's few decisions onto its verdicts when it
-- recomputes them). So a decision marks its item's hour and author dirty, as a verdict does.

CREATE MATERIALIZED VIEW IF NOT EXISTS rollup_dirty_hours_actions_mv TO rollup_dirty_hours AS
SELECT DISTINCT tenant, toStartOfHour(occurred_at) AS hour, now64(6) AS version, toUInt8(0) AS done
FROM moderation_actions;

CREATE MATERIALIZED VIEW IF NOT EXISTS rollup_dirty_authors_actions_mv TO rollup_dirty_authors AS
SELECT DISTINCT tenant, author, now64(6) AS version, toUInt8(0) AS done
FROM moderation_actions;

INSERT INTO rollup_dirty_hours
SELECT DISTINCT tenant, toStartOfHour(occurred_at), now64(6), 0 FROM moderation_actions;

INSERT INTO rollup_dirty_authors
SELECT DISTINCT tenant, author, now64(6), 0 FROM moderation_actions;
