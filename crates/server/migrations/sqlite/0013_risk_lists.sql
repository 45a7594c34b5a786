-- Allow and block lists per brand. `value` is what a verification is looked up by: the keyed
-- hash of a number, the customer's pseudonym, the keyed reference of a device id, a normalised
-- CIDR range or an E.164 prefix; `label` is what people see (a masked number, never the number).
CREATE TABLE risk_lists (
    id TEXT PRIMARY KEY,
    brand TEXT NOT NULL,
    list TEXT NOT NULL,
    kind TEXT NOT NULL,
    value TEXT NOT NULL,
    label TEXT NOT NULL,
    reason TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT
);
CREATE INDEX risk_lists_lookup ON risk_lists (brand, value);
