-- An order's trace finds the events of its verifications through events_verification; only the
-- events that belong to no verification (identity failures, order outcomes) need an index by
-- order. Every other event (several per verification) no longer writes to it.
DROP INDEX events_order;
CREATE INDEX events_order_without_verification ON events (brand, order_id) WHERE verification_id IS NULL;
