-- The event log in monthly partitions (by `at`, calendar months in UTC): old months are archived
-- and dropped whole once past the event-log horizon, and each month's indexes stay a month's size.
-- Events of a month without its partition yet land in events_default; the maintenance job
-- prepares the coming months ahead and moves such events when it creates their month. This
-- migration copies the event log once: on a large log, run `orderguard migrate` in a quiet hour.

-- Creates the partition of the month `p_at` falls in, if missing, moving that month's events out
-- of events_default; returns its name. Instances may call it at once: the lock makes them queue.
CREATE FUNCTION events_month_partition(p_at BIGINT) RETURNS TEXT LANGUAGE plpgsql AS $$
DECLARE
    month_start TIMESTAMP := date_trunc('month', to_timestamp(p_at / 1000.0) AT TIME ZONE 'UTC');
    from_ms BIGINT := (EXTRACT(EPOCH FROM month_start) * 1000)::BIGINT;
    to_ms BIGINT := (EXTRACT(EPOCH FROM month_start + INTERVAL '1 month') * 1000)::BIGINT;
    partition TEXT := 'events_' || to_char(month_start, 'YYYY_MM');
BEGIN
    PERFORM pg_advisory_xact_lock(7405322);
    IF to_regclass(partition) IS NOT NULL THEN
        RETURN partition;
    END IF;
    EXECUTE format('CREATE TABLE %I (LIKE events INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', partition);
    EXECUTE format(
        'WITH moved AS (DELETE FROM events_default WHERE at >= %s AND at < %s RETURNING *) INSERT INTO %I SELECT * FROM moved',
        from_ms, to_ms, partition);
    EXECUTE format('ALTER TABLE events ATTACH PARTITION %I FOR VALUES FROM (%s) TO (%s)', partition, from_ms, to_ms);
    RETURN partition;
END
$$;

ALTER TABLE events RENAME TO events_unpartitioned;
ALTER INDEX events_pkey RENAME TO events_unpartitioned_pkey;

CREATE TABLE events (
    id BIGINT GENERATED ALWAYS AS IDENTITY,
    brand TEXT NOT NULL,
    verification_id TEXT,
    order_id TEXT,
    type TEXT NOT NULL,
    at BIGINT NOT NULL,
    attrs TEXT NOT NULL,
    PRIMARY KEY (id, at)
) PARTITION BY RANGE (at);
CREATE TABLE events_default PARTITION OF events DEFAULT;

-- A partition for every month with events, and for this month and the next.
SELECT events_month_partition(month)
FROM (SELECT DISTINCT (EXTRACT(EPOCH FROM date_trunc('month', to_timestamp(at / 1000.0) AT TIME ZONE 'UTC')) * 1000)::BIGINT AS month
      FROM events_unpartitioned
      UNION SELECT (EXTRACT(EPOCH FROM now()) * 1000)::BIGINT
      UNION SELECT (EXTRACT(EPOCH FROM now() + INTERVAL '1 month') * 1000)::BIGINT) AS months;

INSERT INTO events (id, brand, verification_id, order_id, type, at, attrs) OVERRIDING SYSTEM VALUE
SELECT id, brand, verification_id, order_id, type, at, attrs FROM events_unpartitioned;
SELECT setval(pg_get_serial_sequence('events', 'id'), COALESCE((SELECT MAX(id) FROM events_unpartitioned), 0) + 1, false);
DROP TABLE events_unpartitioned;

CREATE INDEX events_verification ON events (verification_id);
CREATE INDEX events_brand_id ON events (brand, id);
CREATE INDEX events_order_without_verification ON events (brand, order_id) WHERE verification_id IS NULL;
CREATE INDEX events_brand_type_at ON events (brand, type, at);
CREATE TRIGGER events_to_webhooks AFTER INSERT ON events FOR EACH ROW EXECUTE FUNCTION events_to_webhooks();
