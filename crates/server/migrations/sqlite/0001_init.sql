CREATE TABLE brands (
    slug TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    config TEXT NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    brand TEXT NOT NULL REFERENCES brands (slug),
    key_hash BLOB NOT NULL UNIQUE,
    prefix TEXT NOT NULL,
    label TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
);

CREATE TABLE verifications (
    id TEXT PRIMARY KEY,
    brand TEXT NOT NULL REFERENCES brands (slug),
    order_id TEXT NOT NULL,
    customer_ref TEXT NOT NULL,
    phone_enc BLOB,
    phone_hash BLOB NOT NULL,
    phone_hint TEXT NOT NULL,
    phone_region TEXT,
    number_type TEXT NOT NULL,
    amount_minor INTEGER NOT NULL,
    currency TEXT NOT NULL,
    order_digest TEXT NOT NULL,
    order_summary TEXT NOT NULL,
    shipping_country TEXT,
    locale TEXT NOT NULL,
    return_url TEXT,
    client_ip TEXT,
    status TEXT NOT NULL,
    code_hash BLOB NOT NULL,
    attempts INTEGER NOT NULL,
    max_attempts INTEGER NOT NULL,
    resends INTEGER NOT NULL,
    max_resends INTEGER NOT NULL,
    resend_cooldown_seconds INTEGER NOT NULL,
    code_ttl_seconds INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    last_sent_at INTEGER NOT NULL,
    risk_decision TEXT NOT NULL,
    risk_score INTEGER NOT NULL,
    risk_reasons TEXT NOT NULL,
    hosted_token TEXT NOT NULL UNIQUE,
    cancel_reason TEXT,
    idempotency_key TEXT,
    request_hash BLOB,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    version INTEGER NOT NULL
);
CREATE UNIQUE INDEX verifications_idempotency ON verifications (brand, idempotency_key);
CREATE INDEX verifications_pending_expiry ON verifications (status, expires_at);
CREATE INDEX verifications_order ON verifications (brand, order_id);
CREATE INDEX verifications_phone ON verifications (brand, phone_hash, created_at);
CREATE INDEX verifications_customer ON verifications (brand, customer_ref, status, created_at);

CREATE TABLE events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    brand TEXT NOT NULL,
    verification_id TEXT,
    order_id TEXT,
    type TEXT NOT NULL,
    at INTEGER NOT NULL,
    attrs TEXT NOT NULL
);
CREATE INDEX events_brand_at ON events (brand, at);
CREATE INDEX events_verification ON events (verification_id);

CREATE TABLE sms_messages (
    id TEXT PRIMARY KEY,
    verification_id TEXT NOT NULL REFERENCES verifications (id),
    brand TEXT NOT NULL,
    order_id TEXT NOT NULL,
    to_enc BLOB,
    body_enc BLOB,
    status TEXT NOT NULL,
    provider TEXT,
    provider_message_id TEXT,
    attempts INTEGER NOT NULL,
    not_after INTEGER NOT NULL,
    next_attempt_at INTEGER NOT NULL,
    lease_until INTEGER,
    lease_token TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX sms_messages_due ON sms_messages (status, next_attempt_at);

CREATE TABLE dev_outbox (
    id TEXT PRIMARY KEY,
    brand TEXT NOT NULL,
    verification_id TEXT,
    to_number TEXT NOT NULL,
    text TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX dev_outbox_verification ON dev_outbox (verification_id);

CREATE TABLE signing_keys (
    kid TEXT PRIMARY KEY,
    private_key_enc BLOB NOT NULL,
    public_key BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    retired_at INTEGER
);

CREATE TABLE order_outcomes (
    brand TEXT NOT NULL,
    order_id TEXT NOT NULL,
    outcome TEXT NOT NULL,
    amount_lost_minor INTEGER,
    currency TEXT,
    reported_at INTEGER NOT NULL,
    PRIMARY KEY (brand, order_id)
);
