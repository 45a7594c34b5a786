-- Outgoing webhooks. The brands' endpoints (from the configuration) and the event types each
-- receives; a trigger on the event log writes one delivery per subscribed endpoint in the very
-- transaction that appends the event: nothing committed is lost, nothing rolled back is sent.
CREATE TABLE webhook_endpoints (
    brand TEXT NOT NULL,
    name TEXT NOT NULL,
    url TEXT NOT NULL,
    description TEXT,
    enabled INTEGER NOT NULL,
    -- Why it was disabled while deliveries failed (`410 Gone`, …); configured off: NULL.
    disabled_reason TEXT,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (brand, name)
);

-- `type` is an event type or `*`; rows only for enabled endpoints.
CREATE TABLE webhook_subscriptions (
    brand TEXT NOT NULL,
    type TEXT NOT NULL,
    endpoint TEXT NOT NULL,
    PRIMARY KEY (brand, type, endpoint)
);

CREATE TABLE webhook_deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    brand TEXT NOT NULL,
    endpoint TEXT NOT NULL,
    event_id INTEGER NOT NULL,
    -- pending, delivered, failed (retries spent), gone (the endpoint answered 410)
    status TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    next_at INTEGER NOT NULL,
    lease_until INTEGER NOT NULL DEFAULT 0,
    lease_token TEXT,
    last_status INTEGER,
    last_answer TEXT,
    last_latency_ms INTEGER,
    created_at INTEGER NOT NULL,
    settled_at INTEGER
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_by_endpoint ON webhook_deliveries (brand, endpoint, id);

CREATE TRIGGER events_to_webhooks AFTER INSERT ON events
BEGIN
    INSERT INTO webhook_deliveries (brand, endpoint, event_id, next_at, created_at)
    SELECT s.brand, s.endpoint, NEW.id, NEW.at, NEW.at FROM webhook_subscriptions s
    WHERE s.brand = NEW.brand AND (s.type = NEW.type OR s.type = '*');
END;
