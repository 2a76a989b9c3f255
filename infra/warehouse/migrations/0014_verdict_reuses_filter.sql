-- `verdict_reuses` was meant to hold the verdicts that reused another's scores (one in a
-- thousand in the bench's warehouse) but held every verdict: its view's filter,
-- `duplicate_of IS NOT NULL`, named the column the SELECT had just aliased
-- (`assumeNotNull(duplicate_of) AS duplicate_of`), which is never null. Readers were right
-- (they look up one `duplicate_of`), but each lookup searched a copy of every verdict. The view
-- now filters on the empty string, which both readings of the name agree on (`assumeNotNull`
-- makes a null empty), and the copy is rebuilt from `verdicts`.
DROP VIEW IF EXISTS verdict_reuses_mv;

TRUNCATE TABLE IF EXISTS verdict_reuses;

CREATE MATERIALIZED VIEW IF NOT EXISTS verdict_reuses_mv TO verdict_reuses AS
SELECT tenant, assumeNotNull(duplicate_of) AS duplicate_of, occurred_at, event_id FROM verdicts
WHERE duplicate_of != '';

INSERT INTO verdict_reuses
SELECT tenant, assumeNotNull(duplicate_of), occurred_at, event_id FROM verdicts
WHERE duplicate_of != '';
