-- Delivery reports (SMPP receipts, HTTP status callbacks) are matched by the provider's message id;
-- the latency runs from the hand-off to the report.
-- The destination's region (DE, GB, …) picks the route and labels the metrics.
ALTER TABLE sms_messages ADD COLUMN country TEXT NOT NULL DEFAULT 'ZZ';
ALTER TABLE sms_messages ADD COLUMN submitted_at BIGINT;
ALTER TABLE sms_messages ADD COLUMN delivery TEXT;
ALTER TABLE sms_messages ADD COLUMN delivery_at BIGINT;
CREATE INDEX sms_messages_provider_message ON sms_messages (provider, provider_message_id);
