-- Webhook endpoints created in the admin area or from the command line (`source` = 'stored'),
-- next to those of the configuration file: their event types and their secrets (sealed with the
-- deployment's key) are kept here. `failing_since`: the first failed attempt since the last
-- delivered one, so that an endpoint failing for too long is disabled.
ALTER TABLE webhook_endpoints ADD COLUMN source TEXT NOT NULL DEFAULT 'config';
ALTER TABLE webhook_endpoints ADD COLUMN events TEXT NOT NULL DEFAULT '*';
ALTER TABLE webhook_endpoints ADD COLUMN secrets_enc BLOB;
ALTER TABLE webhook_endpoints ADD COLUMN created_by TEXT;
ALTER TABLE webhook_endpoints ADD COLUMN failing_since INTEGER;

-- A test event goes to the one endpoint it was asked for (the service writes that delivery).
DROP TRIGGER events_to_webhooks;
CREATE TRIGGER events_to_webhooks AFTER INSERT ON events WHEN NEW.type <> 'webhook.test'
BEGIN
    INSERT INTO webhook_deliveries (brand, endpoint, event_id, next_at, created_at)
    SELECT s.brand, s.endpoint, NEW.id, NEW.at, NEW.at FROM webhook_subscriptions s
    WHERE s.brand = NEW.brand AND (s.type = NEW.type OR s.type = '*');
END;

-- The worker claims endpoint by endpoint: the due deliveries of one, and those it has in flight.
CREATE INDEX webhook_deliveries_endpoint_due ON webhook_deliveries (brand, endpoint, next_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_endpoint_leased ON webhook_deliveries (brand, endpoint, lease_until) WHERE status = 'pending';
