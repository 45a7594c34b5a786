-- A second factor for every admin user (docs/admin.md): a TOTP secret (encrypted) and the last
-- time step a code was accepted for (a code is good once), and single-use recovery codes (hashed).
ALTER TABLE admin_users ADD COLUMN totp_secret_enc BLOB;
ALTER TABLE admin_users ADD COLUMN totp_last_step INTEGER;

CREATE TABLE admin_recovery_codes (
    user_id TEXT NOT NULL REFERENCES admin_users (id),
    code_hash BLOB NOT NULL,
    used_at INTEGER,
    PRIMARY KEY (user_id, code_hash)
);

-- A sign-in between the password and the second factor. `user_id` is NULL when the password was
-- wrong but the user is locked: the code is asked for all the same, so that a locked account does
-- not tell whether a guessed password was right. `enrol_secret_enc`: a TOTP secret offered to a
-- user without one, until a code confirms it.
CREATE TABLE admin_sign_ins (
    token_hash BLOB PRIMARY KEY,
    user_id TEXT REFERENCES admin_users (id),
    counted_as TEXT NOT NULL,
    client TEXT NOT NULL,
    enrol_secret_enc BLOB,
    attempts INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
