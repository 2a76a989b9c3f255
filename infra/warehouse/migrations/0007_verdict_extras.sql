-- What a verdict says beyond its scores, kept as JSON for `GET /v1/verdicts/{event_id}`: the
-- rewrite suggestion (empty for a tenant in privacy mode: it is words of the text) and the thread
-- context's effect. Only `verdicts` has them: pages and rollups do not read them.
ALTER TABLE verdicts ADD COLUMN IF NOT EXISTS rewrite String DEFAULT '';
ALTER TABLE verdicts ADD COLUMN IF NOT EXISTS context String DEFAULT '';
