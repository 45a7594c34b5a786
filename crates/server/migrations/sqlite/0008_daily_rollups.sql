-- The same counters per day: a dashboard period of months reads a few thousand daily rows (and the
-- hours of its partial first and last day) instead of hundreds of thousands of hourly ones.
CREATE TABLE rollups_daily (
    brand TEXT NOT NULL,
    day INTEGER NOT NULL,
    dimension TEXT NOT NULL,
    value TEXT NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (brand, day, dimension, value)
);

-- Count the whole event log again, into both tables.
DELETE FROM rollups;
UPDATE rollup_state SET last_event_id = 0 WHERE id = 1;
