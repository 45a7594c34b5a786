CREATE TABLE brands (
    slug TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    config TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    brand TEXT NOT NULL REFERENCES brands (slug),
    key_hash BYTEA NOT NULL UNIQUE,
    prefix TEXT NOT NULL,
    label TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);

CREATE TABLE verifications (
    id TEXT PRIMARY KEY,
    brand TEXT NOT NULL REFERENCES brands (slug),
    order_id TEXT NOT NULL,
    customer_ref TEXT NOT NULL,
    phone_enc BYTEA,
    phone_hash BYTEA NOT NULL,
    phone_hint TEXT NOT NULL,
    phone_region TEXT,
    number_type TEXT NOT NULL,
    amount_minor BIGINT NOT NULL,
    currency TEXT NOT NULL,
    order_digest TEXT NOT NULL,
    order_summary TEXT NOT NULL,
    shipping_country TEXT,
    locale TEXT NOT NULL,
    return_url TEXT,
    client_ip TEXT,
    status TEXT NOT NULL,
    code_hash BYTEA NOT NULL,
    attempts BIGINT NOT NULL,
    max_attempts BIGINT NOT NULL,
    resends BIGINT NOT NULL,
    max_resends BIGINT NOT NULL,
    resend_cooldown_seconds BIGINT NOT NULL,
    code_ttl_seconds BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    last_sent_at BIGINT NOT NULL,
    risk_decision TEXT NOT NULL,
    risk_score BIGINT NOT NULL,
    risk_reasons TEXT NOT NULL,
    hosted_token TEXT NOT NULL UNIQUE,
    cancel_reason TEXT,
    idempotency_key TEXT,
    request_hash BYTEA,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    version BIGINT NOT NULL
);
CREATE UNIQUE INDEX verifications_idempotency ON verifications (brand, idempotency_key);
CREATE INDEX verifications_pending_expiry ON verifications (status, expires_at);
CREATE INDEX verifications_order ON verifications (brand, order_id);
CREATE INDEX verifications_phone ON verifications (brand, phone_hash, created_at);
CREATE INDEX verifications_customer ON verifications (brand, customer_ref, status, created_at);

CREATE TABLE events (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    brand TEXT NOT NULL,
    verification_id TEXT,
    order_id TEXT,
    type TEXT NOT NULL,
    at BIGINT NOT NULL,
    attrs TEXT NOT NULL
);
CREATE INDEX events_brand_at ON events (brand, at);
CREATE INDEX events_verification ON events (verification_id);

CREATE TABLE sms_messages (
    id TEXT PRIMARY KEY,
    verification_id TEXT NOT NULL REFERENCES verifications (id),
    brand TEXT NOT NULL,
    order_id TEXT NOT NULL,
    to_enc BYTEA,
    body_enc BYTEA,
    status TEXT NOT NULL,
    provider TEXT,
    provider_message_id TEXT,
    attempts BIGINT NOT NULL,
    not_after BIGINT NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    lease_until BIGINT,
    lease_token TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX sms_messages_due ON sms_messages (status, next_attempt_at);

CREATE TABLE dev_outbox (
    id TEXT PRIMARY KEY,
    brand TEXT NOT NULL,
    verification_id TEXT,
    to_number TEXT NOT NULL,
    text TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX dev_outbox_verification ON dev_outbox (verification_id);

CREATE TABLE signing_keys (
    kid TEXT PRIMARY KEY,
    private_key_enc BYTEA NOT NULL,
    public_key BYTEA NOT NULL,
    created_at BIGINT NOT NULL,
    retired_at BIGINT
);

CREATE TABLE order_outcomes (
    brand TEXT NOT NULL,
    order_id TEXT NOT NULL,
    outcome TEXT NOT NULL,
    amount_lost_minor BIGINT,
    currency TEXT,
    reported_at BIGINT NOT NULL,
    PRIMARY KEY (brand, order_id)
);
