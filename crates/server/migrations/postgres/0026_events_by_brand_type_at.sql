-- The orders behind a dashboard figure are the events of a few types of one brand in a span of
-- days: without an index by type and time, a week's read every event of the brand (2-3 s at ten
-- million events). Events are appended in time order, so this index grows at its end.
CREATE INDEX IF NOT EXISTS events_brand_type_at ON events (brand, type, at);
-- (IF NOT EXISTS: on a large PostgreSQL log, docs/operations.md has the operator build it first
-- with CREATE INDEX CONCURRENTLY, which does not hold writes back while it builds.)
