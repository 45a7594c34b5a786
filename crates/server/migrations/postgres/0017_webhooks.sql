-- Outgoing webhooks. The brands' endpoints (from the configuration) and the event types each
-- receives; a trigger on the event log writes one delivery per subscribed endpoint in the very
-- transaction that appends the event: nothing committed is lost, nothing rolled back is sent.
CREATE TABLE webhook_endpoints (
    brand TEXT NOT NULL,
    name TEXT NOT NULL,
    url TEXT NOT NULL,
    description TEXT,
    enabled BIGINT NOT NULL,
    -- Why it was disabled while deliveries failed (`410 Gone`, …); configured off: NULL.
    disabled_reason TEXT,
    updated_at BIGINT NOT NULL,
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
    id BIGSERIAL PRIMARY KEY,
    brand TEXT NOT NULL,
    endpoint TEXT NOT NULL,
    event_id BIGINT NOT NULL,
    -- pending, delivered, failed (retries spent), gone (the endpoint answered 410)
    status TEXT NOT NULL DEFAULT 'pending',
    attempts BIGINT NOT NULL DEFAULT 0,
    next_at BIGINT NOT NULL,
    lease_until BIGINT NOT NULL DEFAULT 0,
    lease_token TEXT,
    last_status BIGINT,
    last_answer TEXT,
    last_latency_ms BIGINT,
    created_at BIGINT NOT NULL,
    settled_at BIGINT
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_by_endpoint ON webhook_deliveries (brand, endpoint, id);

CREATE FUNCTION events_to_webhooks() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO webhook_deliveries (brand, endpoint, event_id, next_at, created_at)
    SELECT s.brand, s.endpoint, NEW.id, NEW.at, NEW.at FROM webhook_subscriptions s
    WHERE s.brand = NEW.brand AND (s.type = NEW.type OR s.type = '*');
    RETURN NULL;
END
$$;
CREATE TRIGGER events_to_webhooks AFTER INSERT ON events FOR EACH ROW EXECUTE FUNCTION events_to_webhooks();
