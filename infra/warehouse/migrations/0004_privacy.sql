-- Privacy mode: the SHA-256 of an event's text (for every tenant; for a tenant in privacy mode
-- it is all that is kept of the text: `text` stays empty).
ALTER TABLE events ADD COLUMN IF NOT EXISTS content_sha256 String DEFAULT '';
