-- Admin area: users (Argon2id password hashes), their sessions (only a hash of the cookie's token
-- is kept) and recent failed logins (for throttling).
CREATE TABLE admin_users (
    id TEXT PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL,
    brand TEXT,
    created_at BIGINT NOT NULL,
    disabled_at BIGINT
);

CREATE TABLE admin_sessions (
    token_hash BYTEA PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES admin_users (id),
    csrf_token TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);

CREATE TABLE admin_login_failures (
    username TEXT NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX admin_login_failures_username_at ON admin_login_failures (username, at);
