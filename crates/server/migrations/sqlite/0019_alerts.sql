-- Alerts (docs/alerts.md). The counters of the last weeks per minute, for the rules' rolling
-- windows (only the dimensions the rules read; older rows are pruned by the evaluator).
CREATE TABLE rollups_minutely (
    brand TEXT NOT NULL,
    minute INTEGER NOT NULL,
    dimension TEXT NOT NULL,
    value TEXT NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (brand, minute, dimension, value)
);

-- One open alert per brand, rule and key; its figures as JSON; who acknowledged and resolved it
-- (resolved_by NULL: by itself, when the condition had been normal for a while).
CREATE TABLE alerts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    brand TEXT NOT NULL,
    rule TEXT NOT NULL,
    key TEXT NOT NULL,
    severity TEXT NOT NULL,
    status TEXT NOT NULL,
    raised_at INTEGER NOT NULL,
    last_firing_at INTEGER NOT NULL,
    figures TEXT NOT NULL,
    orders TEXT NOT NULL,
    acknowledged_at INTEGER,
    acknowledged_by TEXT,
    acknowledge_note TEXT,
    resolved_at INTEGER,
    resolved_by TEXT,
    resolve_note TEXT
);
CREATE UNIQUE INDEX alerts_one_open ON alerts (brand, rule, key) WHERE status <> 'resolved';
CREATE INDEX alerts_by_brand ON alerts (brand, raised_at);

-- Work that one instance at a time does (the alert evaluator): who holds it until when, and how
-- far it got.
CREATE TABLE job_leases (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    until INTEGER NOT NULL,
    done_until INTEGER
);

-- Count the event log again, into the minute counters too (and the new dimensions).
DELETE FROM rollups;
DELETE FROM rollups_daily;
UPDATE rollup_state SET last_event_id = 0 WHERE id = 1;
