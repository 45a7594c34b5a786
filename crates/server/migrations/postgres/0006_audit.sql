-- Who looked at personal data in the admin area, and what; written by the server only (no page
-- edits it). An order's trace reads its events by order id.
CREATE TABLE admin_audit (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at BIGINT NOT NULL,
    username TEXT NOT NULL,
    role TEXT NOT NULL,
    action TEXT NOT NULL,
    brand TEXT,
    subject TEXT NOT NULL
);
CREATE INDEX admin_audit_at ON admin_audit (at);
CREATE INDEX events_order ON events (brand, order_id);
